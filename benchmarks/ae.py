"""End-to-end training speed of MethodAE (autoencoder and VAE) against the same training loop in PyTorch.

Timed: the whole ``MethodAE.train`` call (VarTransform fit and application, the validation split, every
epoch's shuffled Adam steps, a validation pass per epoch, best-weight snapshots, the model assembly; no
weight file). The network is the engine benchmark's autoencoder, 20 -> 64 tanh -> 8 -> 64 tanh -> 20, on 20
correlated Gaussian variables; the VAE has mean and log-variance heads of 8 and the KL term (KLWeight=1).
The PyTorch loop does the same work on the same data: Normalize, 80/20 split, per epoch a shuffled pass of
Adam steps on the weighted MSE (+ KL for the VAE, with the sampling step), a validation pass, a copy of the
weights when the validation loss improves. Events/s = training events x epochs / wall time; one thread.

Usage::

    python benchmarks/ae.py            # batch 32 and 256
    python benchmarks/ae.py --quick    # fewer events and repeats
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import Threads, fmt, interleaved, machine, torch  # noqa: E402

from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.methods.ae import MethodAE  # noqa: E402

NVAR, LATENT, HIDDEN, LR = 20, 8, 64, 1e-3


def data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(NVAR, NVAR)) / np.sqrt(NVAR)
    return (rng.normal(size=(n, LATENT)) @ rng.normal(size=(LATENT, NVAR)) + 0.1 * rng.normal(size=(n, NVAR))
            ) @ mix  # fmt: skip


def options(B: int, epochs: int, variational: bool) -> str:
    return (
        f"!H:!V:VarTransform=N:RandomSeed=1:ValidationSize=20%:Variational={variational}:"
        f"Layout=Encoder={{DENSE|{HIDDEN}|TANH,DENSE|{LATENT}|LINEAR}}"
        f"Decoder={{DENSE|{HIDDEN}|TANH,DENSE|0|LINEAR}}:"
        f"TrainingStrategy=LearningRate={LR},Optimizer=ADAM,BatchSize={B},MaxEpochs={epochs},"
        "ConvergenceSteps=1000,TestRepetitions=1"
    )


def ours(x: np.ndarray, B: int, epochs: int, variational: bool):
    ds = DataSet.from_arrays(x, np.zeros(len(x), int))
    opts = options(B, epochs, variational)
    return lambda: MethodAE("AE", opts).train(ds, weight_file="")


def torch_loop(x: np.ndarray, B: int, epochs: int, variational: bool):
    nn = torch.nn
    lo, hi = x.min(axis=0), x.max(axis=0)
    xn = (2 * (x - lo) / (hi - lo) - 1).astype(np.float32)
    n_fit = len(x) - len(x) // 5
    X, Xv = torch.from_numpy(xn[:n_fit]), torch.from_numpy(xn[n_fit:])
    w, wv = torch.ones(len(X)), torch.ones(len(Xv))
    k2 = 2 * LATENT if variational else LATENT

    def run():
        torch.manual_seed(1)
        enc = nn.Sequential(nn.Linear(NVAR, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, k2))
        dec = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, NVAR))
        params = list(enc.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, lr=LR, eps=1e-7)

        def loss_of(xb, wb, sample):
            h = enc(xb)
            if not variational:
                return ((dec(h) - xb) ** 2 * wb[:, None]).mean()
            mu, s = h[:, :LATENT], h[:, LATENT:]
            z = mu + torch.exp(s / 2) * torch.randn_like(mu) if sample else mu
            rec = ((dec(z) - xb) ** 2 * wb[:, None]).mean()
            kl = (wb * -0.5 * (1 + s - mu**2 - torch.exp(s)).sum(dim=1)).mean()
            return rec + kl

        best, best_state = float("inf"), None
        nb = len(X) // B
        for _ in range(epochs):
            perm = torch.randperm(len(X))
            for b in range(nb):
                idx = perm[b * B : (b + 1) * B]
                opt.zero_grad()
                loss = loss_of(X[idx], w[idx], True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                v = float(loss_of(Xv, wv, False))
            if v < best:
                best, best_state = v, (copy.deepcopy(enc.state_dict()), copy.deepcopy(dec.state_dict()))
        return best_state

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, epochs, repeats = (10_000, 3, 3) if args.quick else (25_000, 5, 5)
    x = data(n)
    n_fit = n - n // 5
    print(machine())
    print(
        f"\n{n_fit} training events x {epochs} epochs, one thread, float32, events/s (median of {repeats})\n"
    )
    print("| network | batch | ours | torch | ours/torch |")
    print("|---|---|---|---|---|")
    with Threads(1):
        for variational in (False, True):
            for B in (32, 256):
                fns = {"ours": ours(x, B, epochs, variational)}
                if torch is not None:
                    fns["torch"] = torch_loop(x, B, epochs, variational)
                t = interleaved(fns, repeats)
                rate = {k: n_fit * epochs / v for k, v in t.items()}
                tor = rate.get("torch")
                ratio = f"{rate['ours'] / tor:.2f}x" if tor else "-"
                name = "VAE 20-64-(8+8)-64-20" if variational else "AE 20-64-8-64-20"
                print(f"| {name} | {B} | {fmt(rate['ours'])} | {fmt(tor) if tor else '-'} | {ratio} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
