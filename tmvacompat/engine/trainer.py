"""TMVA's minibatch training loop (MethodDL ``TrainDeepNet``) over an engine network.

Per training phase (:class:`tmvacompat.specs.TrainingPhase`), in order:

1. Phase 1 starts from the network's current (initialised) weights, later phases from the best weights so
   far. Optimizer state and the step counter start at zero; DropConfig of the phase is set.
2. The starting validation error is the mean batch loss over ``floor(nVal / B)`` validation batches (no
   dropout) plus the regularisation term (if Regularization is L1/L2).
3. Epochs e = 1, 2, ...: shuffle the training events (seeded), run ``floor(nTrain / B)`` batches (the rest
   is skipped that epoch): forward with dropout, loss, backward, optimizer step (t incremented before every
   batch step). Every ``TestRepetitions`` epochs: validation error = mean validation batch loss + reg term;
   if lower than the best, the weights are saved and the convergence counter reset, otherwise it grows by
   TestRepetitions. Training stops when the counter exceeds ``ConvergenceSteps`` or e >= ``MaxEpochs`` --
   both only checked on validation epochs, as in TMVA.
4. After the last phase the network holds the best-validation weights.

The training error of an epoch is the mean of the batch losses of its training passes (dropout on, no
regularisation inside) plus the regularisation term; it is logged, it does not drive convergence.

Plain dense stacks with a C/R/S loss take the fused path (:mod:`tmvacompat.engine.fused`: one Numba call per
epoch); other networks use the layers' forward/backward. Both give the same numbers.

Deviations from TMVA (documented, deliberate): random numbers come from numpy's PCG64, not TRandom3 (same
seed, same data, same thread count -> bitwise identical weights, but not TMVA's); the validation error
counts the regularisation term once (as ROOT 6.18/6.20 do; the newer MethodDL the spec follows passes
"include regularisation" to the per-batch loss and then adds the term again, counting it twice); if no
validation improves in phase 1 the initial weights are kept (TMVA's saved net would be left unset); an
``seed=None`` run is not reproducible (TMVA's RandomSeed=0) -- map TMVA's 0 to None in the method layer.

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.engine.init import initialize
    >>> from tmvacompat.specs import DenseSpec, TrainingPhase
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    >>> net = Network.build([DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> initialize(net, "XAVIERUNIFORM", seed=1)
    >>> hist = train(net, X[:300], Y[:300], None, X[300:], Y[300:], None, loss="C",
    ...              phases=[TrainingPhase(learning_rate=0.05, max_epochs=5, batch_size=20,
    ...                                    test_repetitions=1)], seed=3)
    >>> len(hist.records)
    5
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from tmvacompat.engine.blas import single_threaded_blas
from tmvacompat.engine.fused import LOSS_CODES, DensePredictor, FusedDenseTrainer, can_fuse
from tmvacompat.engine.optimizers import network_regularization_term, optimizer_for_phase, regularization_code
from tmvacompat.engine.parallel import threads
from tmvacompat.errors import InputDataError, TrainingError
from tmvacompat.specs import TrainingPhase

#: validation events per forward call (a multiple of the batch size is used)
VALIDATION_CHUNK = 4096

EpochCallback = Callable[[int, float, "float | None", float], Any]


@dataclass
class EpochRecord:
    """One epoch: training error (+ reg), validation error (+ reg) on validation epochs else None."""

    phase: int
    epoch: int
    train_loss: float
    val_loss: float | None
    elapsed: float
    convergence_count: int
    improved: bool
    val_seconds: float = 0.0  # time spent computing the validation error of this epoch


@dataclass
class PhaseResult:
    """Summary of one phase. ``best_epoch`` 0 means no epoch beat the starting weights."""

    phase: int
    epochs: int
    initial_val_loss: float
    best_val_loss: float
    best_epoch: int
    stop_reason: str  # "converged", "max_epochs", "callback"
    path: str  # "fused" or "generic"
    seconds: float
    steps: int


@dataclass
class TrainingHistory:
    """What :func:`train` returns: every epoch, every phase, where the kept weights come from, timings."""

    records: list[EpochRecord] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    best_phase: int = 1
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    seconds: float = 0.0
    events_per_second: float = 0.0

    def train_losses(self, phase: int | None = None) -> np.ndarray:
        """Training errors per epoch (of one phase, or all)."""
        return np.array([r.train_loss for r in self.records if phase is None or r.phase == phase])

    def val_losses(self, phase: int | None = None) -> np.ndarray:
        """Validation errors of validation epochs (of one phase, or all)."""
        return np.array(
            [
                r.val_loss
                for r in self.records
                if r.val_loss is not None and (phase is None or r.phase == phase)
            ]
        )


def _snapshot(net: Any) -> np.ndarray:
    return net.P.copy()


def _restore(net: Any, snap: np.ndarray) -> None:
    net.P[...] = snap  # in place: the layers' parameters are views of P


def _loss_functions(kind: str):
    """(value(out, y, w) -> float, value_and_grad(out, y, w, g) -> float) for loss kind C / R / S."""
    from tmvacompat.engine.losses import get_loss

    value, _, value_and_grad = get_loss(kind)
    return value, (lambda out, y, w, g: value_and_grad(out, y, w, out=g)[0])


def _prepare(net: Any, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, what: str):
    dt = np.dtype(net.dtype)
    X = np.asarray(X)
    size = prod(net.input_shape)
    if X.ndim < 2 or X.size != X.shape[0] * size:
        shape = ", ".join(map(str, net.input_shape))
        raise InputDataError(
            f"{what} inputs have shape {X.shape}; expected (events, {size}) or (events, {shape})",
            token=str(X.shape),
            where=what,
        )
    n = X.shape[0]
    Xc = np.ascontiguousarray(X, dtype=dt).reshape(n, size)
    nout = prod(net.output_shape)
    Y = np.asarray(Y)
    if Y.size != n * nout:
        raise InputDataError(
            f"{what} targets have shape {Y.shape}; expected ({n}, {nout}) to match "
            f"{n} events and {nout} network outputs",
            token=str(Y.shape),
            where=what,
        )
    Yc = np.ascontiguousarray(Y, dtype=dt).reshape(n, nout)
    wc = np.ones(n, dt) if w is None else np.ascontiguousarray(w, dtype=dt).reshape(-1)
    if wc.size != n:
        raise InputDataError(
            f"{what} weights have {wc.size} entries for {n} events", token=str(wc.size), where=what
        )
    for name, arr in (("inputs", Xc), ("targets", Yc), ("weights", wc)):
        if not np.all(np.isfinite(arr)):
            bad = int(np.argwhere(~np.isfinite(arr.reshape(n, -1)))[0, 0])
            raise InputDataError(
                f"{what} {name} contain NaN or inf (first at event {bad})", token=f"event {bad}", where=what
            )
    return Xc, Yc, wc


def _with_single_threaded_blas(fn: Callable[[], float]) -> Callable[[], float]:
    def call() -> float:
        with single_threaded_blas():
            return fn()

    return call


class _Validator:
    """Mean validation batch loss over floor(nVal / B) batches, evaluated in larger chunks.

    A chunk of k batches has loss = mean of its k batch losses (the normalisation of every loss is per batch
    size), so chunking changes only the rounding.
    """

    def __init__(
        self, net: Any, X: np.ndarray, Y: np.ndarray, w: np.ndarray, B: int, value, fused: bool = False
    ) -> None:
        self.net, self.X, self.Y, self.w, self.B, self.value = net, X, Y, w, B, value
        self.nb = X.shape[0] // B
        self.k = max(1, VALIDATION_CHUNK // B)
        self.predictor = DensePredictor(net) if fused else None

    def __call__(self) -> float:
        B = self.B
        if self.predictor is not None:  # one call; the loss of nb equal batches is the mean of their losses
            self.predictor.refresh()
            n = self.nb * B
            return self.value(self.predictor(self.X[:n]), self.Y[:n], self.w[:n])
        total = 0.0
        for b0 in range(0, self.nb, self.k):
            b1 = min(self.nb, b0 + self.k)
            s, e = b0 * B, b1 * B
            out = self.net.forward(self.X[s:e], training=False)
            total += self.value(out.reshape(e - s, -1), self.Y[s:e], self.w[s:e]) * (b1 - b0)
        return total / self.nb


def train(
    net: Any,
    X_train: Any,
    Y_train: np.ndarray | None,
    w_train: np.ndarray | None,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    w_val: np.ndarray | None,
    loss: str = "C",
    phases: Sequence[TrainingPhase] = (TrainingPhase(),),
    seed: int | None = None,
    callback: EpochCallback | None = None,
    fused: bool | None = None,
    monitor: Any = None,
) -> TrainingHistory:
    """Train ``net`` in place with TMVA's loop; the network ends with the best-validation weights.

    Args:
        net: an engine :class:`~tmvacompat.engine.network.Network` (already initialised).
        X_train, Y_train, w_train: training inputs ``(n, ...)``, targets ``(n, n_outputs)`` (or ``(n,)``),
            event weights ``(n,)`` or None for ones; for out-of-core training ``X_train`` is a block source
            (``blocks(rng)``, ``sample()``, ``n_events``) and the other two None. Likewise the validation set.
        loss: ``"C"`` sigmoid cross entropy, ``"R"`` mean squared error, ``"S"`` softmax cross entropy.
        phases: the TrainingStrategy phases, run in order.
        seed: fixes shuffling and dropout (same seed, data and thread count -> bitwise same weights); None
            is not reproducible.
        callback: called after every epoch as ``callback(epoch, train_loss, val_loss, elapsed_seconds)``
            (``val_loss`` None on non-validation epochs; ``epoch`` counts within the phase). Returning True
            stops training (the best weights are still restored).
        fused: force (True) or forbid (False) the fused dense path; None picks it when possible.
        monitor: optional observer with any of ``phase_start(phase_index, n_phases, phase, initial_val_loss,
            events_per_epoch)``, ``epoch_end(record)`` (an :class:`EpochRecord`, after ``callback``'s
            bookkeeping) and ``phase_end(result)`` (a :class:`PhaseResult`); it only watches.

    Returns:
        A :class:`TrainingHistory`.

    Raises:
        InputDataError: shapes that do not match the network, NaN/inf inputs, targets or weights.
        TrainingError: fewer events than a batch, or a non-finite loss (the message names phase, epoch and
            batch; the best weights so far are restored in ``net`` and the exception carries ``phase``,
            ``epoch``, ``batch``, ``best_params`` and ``history``).

    Example: see the module docstring.
    """
    if loss not in LOSS_CODES:
        raise TrainingError(f"unsupported loss kind {loss!r}", token=str(loss), expected=list(LOSS_CODES))
    if not phases:
        raise TrainingError("no training phase given", token="phases")
    source = X_train if hasattr(X_train, "blocks") else None
    if source is not None:  # streamed: a small block gives shapes and dtypes (and the kernels' compile)
        Xs, Ys, ws = source.sample()
        X, Y, w = _prepare(net, Xs, Ys, ws, "training set")
    else:
        X, Y, w = _prepare(net, X_train, np.asarray(Y_train), w_train, "training set")
    Xv, Yv, wv = _prepare(net, X_val, Y_val, w_val, "validation set")
    n_train, n_val = (int(source.n_events) if source is not None else X.shape[0]), Xv.shape[0]
    value_fn, grad_fn = _loss_functions(loss)
    history = TrainingHistory()
    t_start = time.perf_counter()
    best = _snapshot(net)
    best_phase, best_epoch = 1, 0
    events = 0

    for p, phase in enumerate(phases, start=1):
        B = int(phase.batch_size)
        if B <= 0:
            raise TrainingError(f"phase {p}: BatchSize must be positive, got {B}", token=str(B))
        if n_train < B or n_val < B:
            raise TrainingError(
                f"phase {p}: {n_train} training and {n_val} validation events; each set needs at least "
                f"BatchSize={B} events",
                token=f"BatchSize={B}",
                expected=[f"BatchSize <= {min(n_train, n_val)}"],
            )
        test_rep = max(1, int(phase.test_repetitions))
        reg = regularization_code(phase.regularization)
        wd = float(phase.weight_decay)
        if p > 1:
            _restore(net, best)
        net.set_dropout(list(phase.drop_config))
        keep = [1.0 - d for d in phase.drop_config]
        entropy: Any = np.random.SeedSequence().entropy  # an int when no entropy is given
        root = int(seed) if seed is not None else int(entropy)
        shuffle_rng = np.random.default_rng([root, p])
        drop_seed = int(np.random.SeedSequence([root, p, 1]).generate_state(1, np.uint64)[0])
        net.set_rng(drop_seed)  # the generic path draws from the network's generator,
        drop_rng = np.random.default_rng(drop_seed)  # the fused path from an identical one
        opt = optimizer_for_phase(net, phase)
        use_fused = can_fuse(net, loss, opt) if fused is None else bool(fused)
        if use_fused and not can_fuse(net, loss, opt):
            raise TrainingError(
                "fused=True but the network is not a plain dense stack with a C/R/S loss", token="fused"
            )
        runner = FusedDenseTrainer(net, opt, loss, B, keep) if use_fused else None
        if runner is not None:
            runner.prepare(X, Y, w)  # before the validator: overlaps the two compiles on a cold start
        nb = n_train // B
        validate: Callable[[], float] = _Validator(net, Xv, Yv, wv, B, value_fn, fused=runner is not None)
        # layers that split the batch over the engine's threads (CONV, CONVT, MAXPOOL) and the sharded fused
        # kernel run BLAS on one thread; any multi-threaded BLAS call between them (the dense layers, the
        # validation) would leave BLAS's threads spinning on the other cores, against ours
        splits = any(getattr(la, "uses_blocks", False) for la in net.layers)
        blocks = runner is None and threads() > 1 and splits
        if (runner is not None and runner.shards > 1) or blocks:
            validate = _with_single_threaded_blas(validate)

        def reg_term(reg: int = reg, wd: float = wd) -> float:
            return network_regularization_term(net, reg, wd) if reg else 0.0

        min_val = validate() + reg_term()
        if not np.isfinite(min_val):
            raise TrainingError(
                f"phase {p}: validation loss of the starting weights is {min_val}", token=str(min_val)
            )
        init_val = min_val
        if monitor is not None and hasattr(monitor, "phase_start"):
            monitor.phase_start(p, len(phases), phase, float(init_val), nb * B)
        phase_best_epoch, count, e = 0, 0, 0
        stop_reason = "max_epochs"
        t_phase = time.perf_counter()
        bufs = None
        if runner is None:
            bufs = (np.empty((B, X.shape[1]), X.dtype), np.empty((B, Y.shape[1]), Y.dtype),
                    np.empty(B, w.dtype), np.empty((B, Y.shape[1]), Y.dtype))  # fmt: skip

        def run(X, Y, w, perm, nb, runner=runner, B=B, opt=opt, blocks=blocks, drop_rng=drop_rng, bufs=bufs):
            if runner is not None:
                return runner.run(X, Y, w, perm, 0, nb, drop_rng)
            xb, yb, wb, gb = bufs
            total, bad, bad_loss = 0.0, -1, 0.0
            with single_threaded_blas() if blocks else nullcontext():
                for b in range(nb):
                    idx = perm[b * B : (b + 1) * B]
                    np.take(X, idx, axis=0, out=xb)
                    np.take(Y, idx, axis=0, out=yb)
                    np.take(w, idx, out=wb)
                    out = net.forward(xb, training=True)
                    out2 = out.reshape(B, -1)
                    lb = grad_fn(out2, yb, wb, gb)
                    if not np.isfinite(lb):
                        bad, bad_loss = b, lb
                        break
                    total += lb
                    net.backward(gb, need_input_grad=False)
                    opt.step()
            return total, bad, bad_loss

        while True:
            e += 1
            if source is None:
                perm = shuffle_rng.permutation(n_train)
                total, bad, bad_loss = run(X, Y, w, perm, nb)
            else:  # one buffer at a time, shuffled within; the rest of a buffer's last batch is skipped
                total, bad, bad_loss, done = 0.0, -1, 0.0, 0
                for Xb, Yb, wb_ in source.blocks(shuffle_rng):
                    Xb, Yb, wb_ = _prepare(net, Xb, Yb, wb_, "training set")
                    nbb = Xb.shape[0] // B
                    if nbb == 0:
                        continue
                    part, bad, bad_loss = run(Xb, Yb, wb_, shuffle_rng.permutation(Xb.shape[0]), nbb)
                    if bad >= 0:
                        bad += done
                        break
                    total += part
                    done += nbb
                nb = max(done, 1)
            if bad >= 0:
                _restore(net, best)
                err = TrainingError(
                    f"loss became {bad_loss} in phase {p}, epoch {e}, batch {bad + 1} of {nb}; the best "
                    f"weights so far (phase {best_phase}, epoch {best_epoch}) were restored. Lower the "
                    "LearningRate, check the input normalisation, or use a smaller WeightDecay",
                    token=f"epoch {e} batch {bad + 1}",
                    where=f"training phase {p}",
                )
                vars(err).update(
                    phase=p, epoch=e, batch=bad + 1, best_params=net.get_params(), history=history
                )
                raise err
            events += nb * B
            rterm = reg_term()
            train_loss = total / nb + rterm
            val_loss: float | None = None
            improved = False
            converged = False
            val_seconds = 0.0
            if e % test_rep == 0:
                t_val = time.perf_counter()
                val_loss = validate() + rterm
                val_seconds = time.perf_counter() - t_val
                if not np.isfinite(val_loss):
                    _restore(net, best)
                    err = TrainingError(
                        f"validation loss became {val_loss} in phase {p}, epoch {e}; the "
                        "best weights so far were restored",
                        token=f"epoch {e}",
                        where=f"training phase {p}",
                    )
                    vars(err).update(
                        phase=p, epoch=e, batch=None, best_params=net.get_params(), history=history
                    )
                    raise err
                if val_loss < min_val:
                    count = 0
                    best = _snapshot(net)
                    min_val = val_loss
                    improved = True
                    phase_best_epoch = e
                    best_phase, best_epoch = p, e
                else:
                    count += test_rep
                    if min_val <= 0.0:
                        min_val = val_loss
                converged = count > phase.convergence_steps or e >= phase.max_epochs
                if converged and count > phase.convergence_steps:
                    stop_reason = "converged"
            elapsed = time.perf_counter() - t_start
            record = EpochRecord(p, e, train_loss, val_loss, elapsed, count, improved, val_seconds)
            history.records.append(record)
            stop = callback is not None and callback(e, train_loss, val_loss, elapsed) is True
            if monitor is not None and hasattr(monitor, "epoch_end"):
                monitor.epoch_end(record)
            if stop:
                stop_reason = "callback"
                break
            if converged:
                break
        result = PhaseResult(
            phase=p,
            epochs=e,
            initial_val_loss=init_val,
            best_val_loss=min_val,
            best_epoch=phase_best_epoch,
            stop_reason=stop_reason,
            path="fused" if runner is not None else "generic",
            seconds=time.perf_counter() - t_phase,
            steps=opt.t,
        )
        history.phases.append(result)
        if monitor is not None and hasattr(monitor, "phase_end"):
            monitor.phase_end(result)
        if stop_reason == "callback":
            break

    _restore(net, best)
    history.best_phase, history.best_epoch = best_phase, best_epoch
    history.best_val_loss = min(ph.best_val_loss for ph in history.phases)
    history.seconds = time.perf_counter() - t_start
    history.events_per_second = events / history.seconds if history.seconds > 0 else 0.0
    return history


__all__ = ["train", "TrainingHistory", "EpochRecord", "PhaseResult", "EpochCallback"]
