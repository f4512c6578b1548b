"""End-to-end training speed: MethodDL (and Factory + DataLoader on a ROOT file) against a PyTorch loop.

What is timed is the whole ``MethodDL.train`` call: VarTransform fit and application, label/weight
preparation, the validation split, every epoch (shuffle, batches, optimizer steps), the validation pass of
every epoch, best-weight snapshots and the Model assembly (no weight file is written). The network is the
TMVA tutorial's, 20 -> 3 x 128 tanh -> 1, Adam, CROSSENTROPY, a fixed number of epochs (``MaxEpochs=E``,
``ConvergenceSteps`` large, ``TestRepetitions=1``). Events/s = training events x epochs / wall time.

The PyTorch loop does the same work on the same data: Normalize transform, 80/20 split, per epoch a shuffled
pass of Adam steps with weighted BCE-with-logits, a validation pass over the whole validation set and a copy
of the weights when the validation loss improves. "bare" is tmvacompat's fused kernel alone
(:class:`tmvacompat.engine.fused.FusedDenseTrainer` on prepared arrays, same batches, no validation): the
ratio e2e/bare is what the method layer costs.

Once per run the same training goes through ``Factory`` + ``DataLoader`` reading a ROOT file written with
uproot's ``mktree``: ``Factory.TrainAllMethods`` (transformation, split, epochs, validation, best weights,
the weight file written with ``ModelPersistence``) is timed in interleaved rounds with the bare kernel, the
PyTorch loop above and a bare PyTorch loop (no transform, no validation: ``engine.py``'s) on the same
events, batch and epochs. Its "ratio of ratios" = (Factory / PyTorch loop) / (bare kernel / bare PyTorch):
how much of the kernel's lead over PyTorch survives end to end (issue 20 asks for at least 0.9).

Usage::

    python benchmarks/end_to_end.py            # 1 and 2 threads, batch 32 / 128 / 1024, then the Factory
    python benchmarks/end_to_end.py --quick    # 1 thread, fewer events and repeats
    python benchmarks/end_to_end.py --factory-only   # the Factory comparison alone (64k events, 3 epochs)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import Threads, fmt, interleaved, machine, torch, torch_mlp, torch_train  # noqa: E402

from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.engine.fused import FusedDenseTrainer  # noqa: E402
from tmvacompat.engine.init import initialize  # noqa: E402
from tmvacompat.engine.network import Network  # noqa: E402
from tmvacompat.engine.optimizers import Optimizer  # noqa: E402
from tmvacompat.methods.dl import MethodDL  # noqa: E402
from tmvacompat.specs import DenseSpec  # noqa: E402

NVAR = 20
LR = 1e-3


def options(B: int, epochs: int) -> str:
    return (
        "!H:!V:VarTransform=N:RandomSeed=1:WeightInitialization=XAVIER:ErrorStrategy=CROSSENTROPY:"
        "ValidationSize=20%:Layout=TANH|128,TANH|128,TANH|128,LINEAR:"
        f"TrainingStrategy=LearningRate={LR},Optimizer=ADAM,BatchSize={B},MaxEpochs={epochs},"
        "ConvergenceSteps=100000,TestRepetitions=1"
    )


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X float32 (n, 20), class id (0 signal, 1 background), weights): shifted correlated Gaussians."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    A = rng.normal(size=(NVAR, NVAR)) / np.sqrt(NVAR)
    X = rng.normal(size=(n, NVAR)) @ A + np.where(y[:, None] == 0, 0.4, -0.4)
    X[:, 0] += 0.5 * (X[:, 1] ** 2 - 1) * np.where(y == 0, 1, -1)
    w = rng.uniform(0.5, 1.5, n)
    return X.astype(np.float32), y, w.astype(np.float32)


# ------------------------------------------------------------------------------------------ ours
def ours_method(ds: DataSet, B: int, epochs: int):
    def run() -> None:
        m = MethodDL("DNN", options(B, epochs))
        m.train(ds, weight_file="")
        assert m.history.phases[0].path == "fused" and m.history.phases[0].epochs == epochs

    return run


def ours_bare(X: np.ndarray, y: np.ndarray, w: np.ndarray, B: int, epochs: int):
    """The fused kernel alone on the already-normalised training part (the same batches as the method)."""
    n_fit = X.shape[0] - X.shape[0] // 5
    lo, hi = X.min(0), X.max(0)
    Xn = np.ascontiguousarray(((X - lo) * (2 / (hi - lo)) - 1)[:n_fit], np.float32)
    Y = (y[:n_fit] == 0).astype(np.float32).reshape(-1, 1)
    wf = np.ascontiguousarray(w[:n_fit])
    rng = np.random.default_rng(0)

    def run() -> None:
        net = Network.build([DenseSpec(128, "TANH")] * 3 + [DenseSpec(1, "LINEAR")], (NVAR,))
        initialize(net, "XAVIER", seed=1)
        opt = Optimizer(net, "ADAM", LR)
        ft = FusedDenseTrainer(net, opt, "C", B)
        for _ in range(epochs):
            ft.run(Xn, Y, wf, rng.permutation(n_fit), 0, n_fit // B)

    return run


# ------------------------------------------------------------------------------------------ torch
def torch_e2e(X: np.ndarray, y: np.ndarray, w: np.ndarray, B: int, epochs: int):
    """TMVA's loop written in PyTorch: normalise, split, epochs of Adam steps + a validation pass each."""

    def run() -> None:
        torch.manual_seed(0)
        lo, hi = X.min(0), X.max(0)
        Xn = torch.from_numpy(((X - lo) * (2 / (hi - lo)) - 1).astype(np.float32))
        Y = torch.from_numpy((y == 0).astype(np.float32).reshape(-1, 1))
        W = torch.from_numpy(w.reshape(-1, 1))
        n_fit = X.shape[0] - X.shape[0] // 5
        Xt, Yt, Wt = Xn[:n_fit], Y[:n_fit], W[:n_fit]
        Xv, Yv, Wv = Xn[n_fit:], Y[n_fit:], W[n_fit:]
        model = torch_mlp([NVAR, 128, 128, 128, 1], ["tanh", "tanh", "tanh", "linear"])
        for mod in model:
            if isinstance(mod, torch.nn.Linear):
                torch.nn.init.xavier_normal_(mod.weight)
                torch.nn.init.zeros_(mod.bias)
        opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
        lossf = torch.nn.BCEWithLogitsLoss(reduction="none")
        g = torch.Generator().manual_seed(0)
        best, best_state = float("inf"), None
        for _ in range(epochs):
            perm = torch.randperm(n_fit, generator=g)
            for k in range(n_fit // B):
                idx = perm[k * B : (k + 1) * B]
                opt.zero_grad(set_to_none=True)
                lv = (lossf(model(Xt[idx]), Yt[idx]) * Wt[idx]).mean()
                lv.backward()
                opt.step()
            with torch.no_grad():
                val = float((lossf(model(Xv), Yv) * Wv).mean())
            if val < best:
                best = val
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(best_state)

    return run


# ------------------------------------------------------------------------------------------ Factory
def write_root(path: str, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    import uproot

    with uproot.recreate(path) as f:
        for name, sel in (("TreeS", y == 0), ("TreeB", y == 1)):
            data = {f"var{i + 1}": X[sel, i] for i in range(NVAR)}
            data["weight"] = w[sel]
            f.mktree(name, {k: v.dtype for k, v in data.items()})
            f[name].extend(data)


@contextlib.contextmanager
def _cwd(path: str):
    """Work in ``path`` (the Factory writes ``dataset/weights`` relative to the working directory)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def factory_run(
    path: str, n_sig: int, n_bkg: int, B: int, epochs: int, out_dir: str = "."
) -> tuple[float, float]:
    """Seconds of ``Factory.TrainAllMethods`` and of the whole run (reading the ROOT file, preparing the
    dataset, training); the weight file goes to ``out_dir``/dataset/weights."""
    from tmvacompat.data.loader import DataLoader
    from tmvacompat.factory import Factory, Types

    t_start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), _cwd(out_dir):
        factory = Factory("E2E", None, "!V:Silent:!DrawProgressBar:AnalysisType=Classification")
        loader = DataLoader("dataset")
        for i in range(NVAR):
            loader.AddVariable(f"var{i + 1}", "F")
        loader.AddSignalTree(f"{path}:TreeS", 1.0)
        loader.AddBackgroundTree(f"{path}:TreeB", 1.0)
        loader.SetWeightExpression("weight")
        loader.PrepareTrainingAndTestTree(
            "",
            "",
            f"nTrain_Signal={n_sig}:nTrain_Background={n_bkg}:nTest_Signal=100:nTest_Background=100:"
            "SplitMode=Block:NormMode=None:!V",
        )
        factory.BookMethod(loader, Types.kDL, "DNN", options(B, epochs))
        loader.GetDataSet()
        t0 = time.perf_counter()
        factory.TrainAllMethods()
        t1 = time.perf_counter()
        assert os.path.getsize(os.path.join("dataset", "weights", "E2E_DNN.weights.xml")) > 0
        return t1 - t0, t1 - t_start


def torch_bare(X: np.ndarray, y: np.ndarray, B: int, epochs: int):
    """engine.py's PyTorch loop on the already-normalised training part: epochs of Adam steps only."""
    n_fit = X.shape[0] - X.shape[0] // 5
    lo, hi = X.min(0), X.max(0)
    Xn = np.ascontiguousarray(((X - lo) * (2 / (hi - lo)) - 1)[:n_fit], np.float32)
    Y = (y[:n_fit] == 0).astype(np.float32).reshape(-1, 1)
    model = torch_mlp([NVAR, 128, 128, 128, 1], ["tanh", "tanh", "tanh", "linear"])
    epoch = torch_train(model, Xn, Y, B, "C")

    def run() -> None:
        for _ in range(epochs):
            epoch()

    return run


@contextlib.contextmanager
def per_value_writer():
    """The weight-file writer as it was: numpy's ``format_float_scientific`` once per value."""
    from weightfile_io import per_value

    from tmvacompat.weightfile import xmlwrite

    bulk = xmlwrite.fmt_values
    xmlwrite.fmt_values = per_value
    try:
        yield
    finally:
        xmlwrite.fmt_values = bulk


def factory_comparison(n: int, B: int, E: int, repeats: int, compare_writer: bool = False) -> None:
    """Factory.TrainAllMethods against the bare kernel, the PyTorch loop and bare PyTorch, one thread,
    interleaved rounds; prints the table and the ratio of ratios. ``compare_writer`` adds a Factory run
    with the former per-value number formatting to every round."""
    X, y, w = make_data(n)
    n_sig, n_bkg = int((y == 0).sum()) - 100, int((y == 1).sum()) - 100  # 100 + 100 test events
    n_ev = n_sig + n_bkg  # the Factory's training events (80 % fitted, 20 % validation)
    nf = n_ev - n_ev // 5
    Xt, yt, wt = X[:n_ev], y[:n_ev], w[:n_ev]  # same number of events for the other contenders
    with Threads(1), tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "e2e_input.root")
        write_root(path, X, y, w)
        fns = {"bare": ours_bare(Xt, yt, wt, B, E)}
        if torch is not None:
            fns["torch"] = torch_e2e(Xt, yt, wt, B, E)
            fns["torch bare"] = torch_bare(Xt, yt, B, E)
        times: dict[str, list[float]] = {k: [] for k in [*fns, "factory", "factory+read"]}
        factory_run(path, n_sig, n_bkg, B, E, tmp)  # warm-up (compilation)
        for fn in fns.values():
            fn()
        if compare_writer:
            times["factory, per-value writer"] = []
        for _ in range(repeats):
            train_s, whole_s = factory_run(path, n_sig, n_bkg, B, E, tmp)
            times["factory"].append(train_s)
            times["factory+read"].append(whole_s)
            if compare_writer:
                with per_value_writer():
                    times["factory, per-value writer"].append(factory_run(path, n_sig, n_bkg, B, E, tmp)[0])
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    rate = {k: nf * E / statistics.median(v) for k, v in times.items()}
    print(
        f"\n## Factory end to end: {n_ev} training events ({nf} fitted), batch {B}, {E} epochs, 1 thread\n\n"
        f"Medians of {repeats} interleaved rounds; events/s = {nf} x {E} / wall time.\n"
    )
    print("| what is timed | events/s | vs PyTorch |")
    print("|---|---|---|")
    tor, torb = rate.get("torch"), rate.get("torch bare")
    rows = [
        ("Factory.TrainAllMethods (weight file written)", rate["factory"], tor, "PyTorch loop"),
        ("DataLoader read + prepare + TrainAllMethods", rate["factory+read"], tor, "PyTorch loop"),
        ("bare kernel (FusedDenseTrainer)", rate["bare"], torb, "bare PyTorch"),
    ]
    if compare_writer:
        rows.insert(
            1,
            (
                "TrainAllMethods, per-value number formatting",
                rate["factory, per-value writer"],
                tor,
                "PyTorch loop",
            ),
        )
    if tor is not None:
        rows += [
            ("PyTorch loop (transform, split, validation)", tor, None, ""),
            ("bare PyTorch", torb, None, ""),
        ]
    for label, r, ref, ref_name in rows:
        vs = f"{r / ref:.2f}x {ref_name}" if ref else "-"
        print(f"| {label} | {fmt(r)} | {vs} |")
    print(f"\nTrainAllMethods / bare kernel: {rate['factory'] / rate['bare']:.2f}")
    if tor is not None and torb is not None:
        for key, label in (("factory", "TrainAllMethods"), ("factory, per-value writer", "per-value writer")):
            if key in rate:
                ror = (rate[key] / tor) / (rate["bare"] / torb)
                print(f"Ratio of ratios ({label} vs PyTorch loop) / (bare kernel vs bare PyTorch): {ror:.2f}")


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 thread, fewer events and repeats")
    ap.add_argument("--events", type=int, default=None, help="training events (80%% train, 20%% validate)")
    ap.add_argument("--factory-only", action="store_true", help="only the Factory comparison")
    ap.add_argument(
        "--compare-writer",
        action="store_true",
        help="add a Factory run with the former per-value number formatting to every round",
    )
    ap.add_argument(
        "--factory-events", type=int, default=64000, help="events in the Factory comparison (default 64000)"
    )
    args = ap.parse_args()
    if args.factory_only:
        print(f"# tmvacompat Factory end-to-end benchmark\n\nMachine: {machine()}")
        factory_comparison(args.factory_events, 128, 3, 3 if args.quick else 5, args.compare_writer)
        return
    n = args.events or (20000 if args.quick else 40000)
    repeats = 3 if args.quick else 5
    threads = [1] if args.quick else [1, 2]
    epochs = {32: 2, 128: 4, 1024: 6} if args.quick else {32: 3, 128: 6, 1024: 10}
    X, y, w = make_data(n + 1000)
    Xtr, ytr, wtr = X[:n], y[:n], w[:n]
    ds = DataSet.from_arrays(
        Xtr, ytr, X[n:], y[n:], w_train=wtr, w_test=w[n:], class_names=["Signal", "Background"]
    )
    n_fit = n - n // 5
    print(f"# tmvacompat end-to-end training benchmark\n\nMachine: {machine()}\n")
    print(
        f"{n} training events ({n_fit} train, {n - n_fit} validate), 20 -> 3 x 128 tanh -> 1, Adam, "
        f"CROSSENTROPY, float32; medians of {repeats} interleaved runs; events/s = {n_fit} x epochs / "
        "wall time of the whole train call\n"
    )
    print(
        "| threads | batch | epochs | ours MethodDL.train | ours bare kernel | e2e/bare | torch loop "
        "| ours/torch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for th in threads:
        with Threads(th):
            for B, E in epochs.items():
                fns = {"e2e": ours_method(ds, B, E), "bare": ours_bare(Xtr, ytr, wtr, B, E)}
                if torch is not None:
                    fns["torch"] = torch_e2e(Xtr, ytr, wtr, B, E)
                rate = {k: n_fit * E / t for k, t in interleaved(fns, repeats, th).items()}
                tr = rate.get("torch")
                vs = "-" if tr is None else f"{rate['e2e'] / tr:.2f}x"
                print(
                    f"| {th} | {B} | {E} | {fmt(rate['e2e'])} | {fmt(rate['bare'])} | "
                    f"{rate['e2e'] / rate['bare']:.2f} | {fmt(tr)} | {vs} |",
                    flush=True,
                )
    factory_comparison(args.factory_events, 128, 3, repeats, args.compare_writer)


if __name__ == "__main__":
    main()
