"""Training of a variational autoencoder: two engine networks (encoder, decoder) joined by the sampling step.

The loss of a batch of m events with weights w_i is ``L = R + beta * KL``:

* ``R`` the engine's weighted mean squared error between the decoder output and the (transformed) inputs,
  ``(1/(m n)) sum_ij w_i (x_ij - y_ij)^2``;
* ``KL = (1/m) sum_i w_i (-1/2) sum_j (1 + s_ij - mu_ij^2 - e^{s_ij})`` of the encoder's mean ``mu`` and
  log-variance ``s`` heads (the last encoder layer: mean rows first, then log-variance rows);
* the decoder reads ``z = mu + exp(s/2) * eps``, eps ~ N(0, 1) drawn per event and epoch;
* ``beta`` rises linearly from 0 to ``KLWeight`` over ``KLAnnealingEpochs`` epochs (counted from the first
  phase; 0: ``KLWeight`` from the start).

The loop is MethodDL's (:mod:`tmvacompat.engine.trainer`): phases in order, each starting from the best
weights so far with a fresh optimizer; every ``TestRepetitions`` epochs the validation loss (at z = mu,
deterministic, with the full ``KLWeight``) decides on the best weights and on convergence. Only the
networks' public forward/backward, the optimizers, the losses and the KL/reparameterisation kernels are used.

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.engine.init import initialize
    >>> from tmvacompat.specs import DenseSpec, TrainingPhase
    >>> enc = Network.build([DenseSpec(8, "TANH"), DenseSpec(2, "LINEAR")], (2,), dtype=np.float64)
    >>> dec = Network.build([DenseSpec(8, "TANH"), DenseSpec(2, "LINEAR")], (1,), dtype=np.float64)
    >>> initialize(enc, "XAVIER", 1); initialize(dec, "XAVIER", 2)
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> h = train_vae(enc, dec, 1, X[:150], None, X[150:], None,
    ...               [TrainingPhase(max_epochs=3, batch_size=10, test_repetitions=1)], seed=1)
    >>> len(h.records), sorted(h.terms)
    (3, ['kl', 'reconstruction', 'valKL', 'valReconstruction'])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.engine.losses import (
    kl_divergence_and_grad,
    mse,
    mse_and_grad,
    reparameterize,
    reparameterize_backward,
)
from tmvacompat.engine.optimizers import network_regularization_term, optimizer_for_phase
from tmvacompat.engine.trainer import EpochRecord, PhaseResult, TrainingHistory
from tmvacompat.errors import InputDataError, TrainingError


@dataclass
class VAEHistory(TrainingHistory):
    """:class:`TrainingHistory` plus, per record, the loss terms: ``reconstruction``, ``kl`` (training
    means over the epoch's batches) and ``valReconstruction``, ``valKL`` (None on non-validation epochs)."""

    terms: dict[str, list[float | None]] = field(
        default_factory=lambda: {"reconstruction": [], "kl": [], "valReconstruction": [], "valKL": []}
    )


def vae_loss_and_grads(
    enc: Any,
    dec: Any,
    k: int,
    x: np.ndarray,
    w: np.ndarray | None,
    eps: np.ndarray | None,
    kl_weight: float,
    training: bool = True,
    backward: bool = True,
) -> tuple[float, float, float]:
    """One batch: (loss, reconstruction, KL); with ``backward`` the layers' ``grads`` hold dLoss/dparams.

    ``eps`` (m, k) is the sampling noise; None decodes the mean (z = mu).

    >>> # see the module example for the networks
    """
    m = x.shape[0]
    h = enc.forward(x, training=training).reshape(m, 2 * k)
    mu = np.ascontiguousarray(h[:, :k])
    s = np.ascontiguousarray(h[:, k:])
    z = mu if eps is None else reparameterize(mu, s, eps)
    y = dec.forward(z, training=training).reshape(m, -1)
    xt = x.reshape(m, -1)
    if not backward:
        rec = mse(y, xt, w)
        kl = kl_divergence_and_grad(mu, s, w)[0]
        return rec + kl_weight * kl, rec, kl
    rec, gy = mse_and_grad(y, xt, w)
    kl, dkmu, dks = kl_divergence_and_grad(mu, s, w)
    dz = dec.backward(gy, need_input_grad=True).reshape(m, k)
    if eps is None:
        dmu, ds = dz.copy(), np.zeros_like(dz)
    else:
        dmu, ds = reparameterize_backward(s, eps, dz)
    dh = np.empty((m, 2 * k), h.dtype)
    dh[:, :k] = dmu + kl_weight * dkmu
    dh[:, k:] = ds + kl_weight * dks
    enc.backward(dh, need_input_grad=False)
    return rec + kl_weight * kl, rec, kl


def _snapshot(nets) -> list:
    return [[{n: v.copy() for n, v in layer.params.items()} for layer in net.layers] for net in nets]


def _restore(nets, snap) -> None:
    for net, saved in zip(nets, snap, strict=True):
        for layer, p in zip(net.layers, saved, strict=True):
            for n, v in p.items():
                layer.params[n][...] = v


def _validate(enc, dec, k, X, w, B, kl_weight) -> tuple[float, float, float]:
    n = (X.shape[0] // B) * B
    _, rec, kl = vae_loss_and_grads(enc, dec, k, X[:n], w[:n], None, kl_weight, False, False)
    return rec + kl_weight * kl, rec, kl


def train_vae(
    enc: Any,
    dec: Any,
    k: int,
    X: np.ndarray,
    w: np.ndarray | None,
    Xv: np.ndarray,
    wv: np.ndarray | None,
    phases: Sequence[Any],
    seed: int | None = None,
    kl_weight: float = 1.0,
    annealing_epochs: int = 0,
    callback: Callable[..., Any] | None = None,
) -> VAEHistory:
    """Train ``enc`` (output 2k: mean, log-variance) and ``dec`` (input k) in place on ``X`` (targets = X).

    Returns a :class:`VAEHistory`; the networks end with the best-validation weights. Raises TrainingError
    for too few events or a non-finite loss (best weights restored, ``history`` attached).
    """
    dt = np.dtype(enc.dtype)
    X = np.ascontiguousarray(X, dtype=dt).reshape(X.shape[0], -1)
    Xv = np.ascontiguousarray(Xv, dtype=dt).reshape(Xv.shape[0], -1)
    w = np.ones(len(X), dt) if w is None else np.ascontiguousarray(w, dtype=dt)
    wv = np.ones(len(Xv), dt) if wv is None else np.ascontiguousarray(wv, dtype=dt)
    for name, arr in (("training inputs", X), ("validation inputs", Xv), ("weights", w), ("weights", wv)):
        if not np.all(np.isfinite(arr)):
            raise InputDataError(f"{name} contain NaN or inf", token=name)
    nets = (enc, dec)
    layers = list(enc.layers) + list(dec.layers)
    history = VAEHistory()
    t_start = time.perf_counter()
    best = _snapshot(nets)
    best_phase, best_epoch, events, epoch_total = 1, 0, 0, 0
    n_enc = len(enc.layers)
    for p, phase in enumerate(phases, start=1):
        B = int(phase.batch_size)
        if len(X) < B or len(Xv) < B:
            raise TrainingError(
                f"phase {p}: {len(X)} training and {len(Xv)} validation events; each set needs at least "
                f"BatchSize={B} events",
                token=f"BatchSize={B}",
                expected=[f"BatchSize <= {min(len(X), len(Xv))}"],
            )
        if p > 1:
            _restore(nets, best)
        drop = list(phase.drop_config)
        enc.set_dropout(drop[:n_enc])
        dec.set_dropout(drop[n_enc:])
        root = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)
        shuffle_rng = np.random.default_rng([root, p])
        noise_rng = np.random.default_rng([root, p, 2])
        enc.set_rng(np.random.SeedSequence([root, p, 1]))
        dec.set_rng(np.random.SeedSequence([root, p, 3]))
        opt = optimizer_for_phase(layers, phase)
        reg, wd = phase.regularization, float(phase.weight_decay)

        def reg_term(reg=reg, wd=wd) -> float:
            return network_regularization_term(layers, reg, wd) if wd else 0.0

        test_rep = max(1, int(phase.test_repetitions))
        min_val = _validate(enc, dec, k, Xv, wv, B, kl_weight)[0] + reg_term()
        init_val = min_val
        count, e, phase_best = 0, 0, 0
        stop = "max_epochs"
        t_phase = time.perf_counter()
        nb = len(X) // B
        while True:
            e += 1
            epoch_total += 1
            beta = (
                kl_weight if annealing_epochs <= 0 else kl_weight * min(1.0, epoch_total / annealing_epochs)
            )
            perm = shuffle_rng.permutation(len(X))
            tot = rtot = ktot = 0.0
            for b in range(nb):
                idx = perm[b * B : (b + 1) * B]
                eps = noise_rng.standard_normal((B, k)).astype(dt)
                loss, rec, kl = vae_loss_and_grads(enc, dec, k, X[idx], w[idx], eps, beta)
                if not np.isfinite(loss):
                    _restore(nets, best)
                    err = TrainingError(
                        f"loss became {loss} in phase {p}, epoch {e}, batch {b + 1} of {nb}; the best "
                        "weights so far were restored. Lower the LearningRate or the KLWeight",
                        token=f"epoch {e} batch {b + 1}",
                        where=f"training phase {p}",
                    )
                    err.phase, err.epoch, err.batch, err.history = p, e, b + 1, history
                    raise err
                opt.step()
                tot, rtot, ktot = tot + loss, rtot + rec, ktot + kl
            events += nb * B
            rterm = reg_term()
            train_loss = tot / nb + rterm
            val_loss = vrec = vkl = None
            improved = converged = False
            if e % test_rep == 0:
                val_loss, vrec, vkl = _validate(enc, dec, k, Xv, wv, B, kl_weight)
                val_loss += rterm
                if not np.isfinite(val_loss):
                    _restore(nets, best)
                    err = TrainingError(
                        f"validation loss became {val_loss} in phase {p}, epoch {e}",
                        token=f"epoch {e}",
                        where=f"training phase {p}",
                    )
                    err.phase, err.epoch, err.batch, err.history = p, e, None, history
                    raise err
                if val_loss < min_val:
                    count, min_val, improved, phase_best = 0, val_loss, True, e
                    best = _snapshot(nets)
                    best_phase, best_epoch = p, e
                else:
                    count += test_rep
                converged = count > phase.convergence_steps or e >= phase.max_epochs
                if converged and count > phase.convergence_steps:
                    stop = "converged"
            elapsed = time.perf_counter() - t_start
            history.records.append(EpochRecord(p, e, train_loss, val_loss, elapsed, count, improved))
            for key, v in (
                ("reconstruction", rtot / nb),
                ("kl", ktot / nb),
                ("valReconstruction", vrec),
                ("valKL", vkl),
            ):
                history.terms[key].append(v)
            if callback is not None and callback(e, train_loss, val_loss, elapsed) is True:
                stop = "callback"
                break
            if converged:
                break
        history.phases.append(
            PhaseResult(
                p, e, init_val, min_val, phase_best, stop, "vae", time.perf_counter() - t_phase, opt.t
            )
        )
        if stop == "callback":
            break
    _restore(nets, best)
    history.best_phase, history.best_epoch = best_phase, best_epoch
    history.best_val_loss = min(ph.best_val_loss for ph in history.phases)
    history.seconds = time.perf_counter() - t_start
    history.events_per_second = events / history.seconds if history.seconds > 0 else 0.0
    return history


__all__ = ["train_vae", "vae_loss_and_grads", "VAEHistory"]
