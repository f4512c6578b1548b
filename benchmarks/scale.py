"""Beyond one machine's memory and one process: streamed training, dask application, CrossValidation.

    python benchmarks/scale.py                      # the full size: 10M events x 20 variables, 10 files
    python benchmarks/scale.py --events 2000000     # a smaller sample (same layout)
    python benchmarks/scale.py --skip cv            # leave a part out (generate, stream, memory, apply, cv)

The inputs are generated once with uproot (ZSTD) into ``--data`` (default /tmp/tmvacompat_scale): each file
holds the TTrees ``TreeS`` (mean +0.3) and ``TreeB`` (mean -0.3), Gaussian float32 branches ``v0..v19`` with
a correlated pair, baskets of 100k entries. Every training and the in-memory reference run in a child
process of its own, so its peak RSS (``ru_maxrss``) is its own. Network: 20 -> TANH|64 -> TANH|64 -> 1,
Adam, BatchSize=256, 2 epochs.

Reported:
* streamed (``Streaming=True:BufferEvents=N``) and in-memory training: wall time of reading + training, the
  trainer's events/s (training batches only) and the peak RSS;
* application over all files: plain ``Model.evaluate`` looping over the files in this process (on every
  core and on one), ``apply`` of the friend trees serially, and ``tmvacompat.dask.write_friends`` (friend
  trees) and ``tmvacompat.dask.evaluate`` (responses returned to the client) on LocalClusters of one
  worker with every core, one worker with one core, and two workers with one core each;
* CrossValidation (3 folds, on the first 2 files, ``--cv-epochs`` epochs) serially and with 2 dask workers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NET = (
    "!H:!V:VarTransform=N:Layout=TANH|64,TANH|64,LINEAR:RandomSeed=1:"
    "TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,BatchSize=256,MaxEpochs=2,TestRepetitions=1,ConvergenceSteps=100"
)
#: entries per basket of the generated trees (100k float32 values: 400 kB before compression)
BASKET = 100_000


def generate(folder: str, events: int, files: int, nvar: int) -> list[str]:
    import uproot

    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"sample_{k:02d}.root") for k in range(files)]
    stamp = os.path.join(folder, "stamp.json")
    want = {"events": events, "files": files, "nvar": nvar, "format": "TTree", "basket": BASKET}
    if os.path.exists(stamp) and json.load(open(stamp)) == want and all(map(os.path.exists, paths)):
        return paths
    rng = np.random.default_rng(1)
    per_tree = events // files // 2
    for path in paths:
        with uproot.recreate(path, compression=uproot.ZSTD(1)) as f:
            for tree, shift in (("TreeS", 0.3), ("TreeB", -0.3)):
                x = rng.normal(shift, 1.0, size=(per_tree, nvar)).astype(np.float32)
                x[:, 1] += 0.5 * x[:, 0]
                # a TTree as ROOT writes it (uproot's f[name] = {...} would write an RNTuple), one basket
                # per branch for every BASKET entries
                f.mktree(tree, {f"v{j}": np.float32 for j in range(nvar)})
                for a in range(0, per_tree, BASKET):
                    f[tree].extend({f"v{j}": np.ascontiguousarray(x[a : a + BASKET, j]) for j in range(nvar)})
    json.dump(want, open(stamp, "w"))
    return paths


def _loader(paths: list[str], nvar: int, prep: str):
    from tmvacompat import DataLoader

    loader = DataLoader("dataset")
    for j in range(nvar):
        loader.AddVariable(f"v{j}", "F")
    loader.AddSignalTree([f"{p}:TreeS" for p in paths])
    loader.AddBackgroundTree([f"{p}:TreeB" for p in paths])
    loader.PrepareTrainingAndTestTree("", prep)
    return loader


def child_train(args: argparse.Namespace) -> None:
    """One training in this process; prints a JSON line with the timings and the peak RSS."""
    from tmvacompat.methods.dl import MethodDL

    paths = json.loads(args.paths)
    prep = "SplitMode=Random:NormMode=NumEvents:!V"
    if args.child == "stream":
        prep += f":Streaming=True:BufferEvents={args.buffer}"
    t0 = time.perf_counter()
    ds = _loader(paths, args.nvar, prep).GetDataSet()
    m = MethodDL("DNN", NET, job_name="Scale")
    t1 = time.perf_counter()
    m.train(ds, weight_file=args.weights or "")
    t2 = time.perf_counter()
    n_train = int(getattr(ds, "n_train", 0) or len(ds.train))
    print(json.dumps({
        "kind": args.child, "read_s": t1 - t0, "train_s": t2 - t1, "total_s": t2 - t0,
        "trainer_events_per_s": m.history.events_per_second, "n_train": n_train,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))  # fmt: skip


def run_child(kind: str, args: argparse.Namespace, paths: list[str], weights: str = "") -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--paths", json.dumps(paths), "--nvar", str(args.nvar),
           "--buffer", str(args.buffer), "--weights", weights]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=ROOT_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_apply(weights: str, paths: list[str], scratch: str, rounds: int) -> dict:
    """Medians over ``rounds`` interleaved rounds (plain loops, serial apply, the clusters), so that a
    shared machine's drift hits every contender alike. One cluster at a time is alive (the idle workers and
    schedulers of the others would take CPU from the timed one): each round starts it, warms it up (each
    worker loads its kernels and reads a file), times it and closes it; only the timed calls count.

    Clusters: ``1w`` one worker with every core (``local_cluster(1)``: its engine runs Numba's threads on
    all of them), ``1w1c`` one worker with one core (one Numba thread, one BLAS thread), ``2w`` two
    workers with one core each. The plain loop runs with Numba's threads on every core (``plain``) and on
    one (``plain_1c``); reading decompresses on one thread in all of them."""
    import numba
    from distributed import Client

    from tmvacompat.apply import apply_to_tree
    from tmvacompat.dask import evaluate, local_cluster, write_friends
    from tmvacompat.weightfile import load_weights

    model = load_weights(weights)
    model.evaluate(f"{paths[0]}:TreeS")  # compile / load the kernel once
    inputs = [f"{p}:TreeS" for p in paths]
    configs = {"1w": (1, None), "1w1c": (1, 1), "2w": (2, None)}
    all_threads = numba.get_num_threads()
    times: dict[str, list[float]] = {}

    def timed(key: str, fn) -> None:
        t0 = time.perf_counter()
        fn()
        times.setdefault(key, []).append(time.perf_counter() - t0)

    def plain(threads: int) -> None:
        numba.set_num_threads(threads)
        try:
            res["entries"] = sum(len(model.evaluate(p)) for p in inputs)
        finally:
            numba.set_num_threads(all_threads)

    def serial() -> None:
        for p in paths:
            out = os.path.join(scratch, "serial_" + os.path.basename(p))
            apply_to_tree(model, f"{p}:TreeS", out, progress=False)

    res: dict = {}
    for _ in range(rounds):
        timed("plain_evaluate_s", lambda: plain(all_threads))
        timed("plain_evaluate_1c_s", lambda: plain(1))
        timed("serial_apply_s", serial)
        for key, (workers, threads) in configs.items():
            cluster = local_cluster(workers, threads=threads)
            client = Client(cluster)
            try:
                write_friends(model, inputs[:workers], os.path.join(scratch, f"warm_{key}"), client=client)
                client.compute(evaluate(model, inputs[:workers])).result()
                timed(
                    f"friends_{key}_s",
                    lambda c=client, k=key: write_friends(model, inputs, os.path.join(scratch, k), client=c),
                )
                # the responses only (no friend tree written): what the plain loop does, on the workers
                timed(f"evaluate_{key}_s", lambda c=client: c.compute(evaluate(model, inputs)).result())
            finally:
                client.close()
                cluster.close()
    res.update({k: float(np.median(v)) for k, v in times.items()})
    for what in ("friends", "evaluate"):
        res[f"{what}_2w_vs_1w1c"] = res[f"{what}_1w1c_s"] / res[f"{what}_2w_s"]
        res[f"{what}_2w_vs_1w"] = res[f"{what}_1w_s"] / res[f"{what}_2w_s"]
    res["evaluate_1w1c_vs_plain_1c"] = res["evaluate_1w1c_s"] / res["plain_evaluate_1c_s"]
    res["evaluate_1w_vs_plain"] = res["evaluate_1w_s"] / res["plain_evaluate_s"]
    res["runs"] = {k: [round(x, 3) for x in v] for k, v in times.items()}
    return res


def bench_cv(paths: list[str], nvar: int, scratch: str, rounds: int, epochs: int) -> dict:
    """CrossValidation serially and on a LocalCluster of 2 workers (started inside the timing, as a user's
    Evaluate() starts it), ``epochs`` epochs per fold, interleaved over ``rounds``; medians."""
    from tmvacompat.crossvalidation import CrossValidation
    from tmvacompat.data.dataset import DataSet
    from tmvacompat.methods.dl import MethodDL

    rng = np.random.default_rng(0)  # load this process's training kernels before the serial timing
    x = rng.normal(size=(2000, nvar)).astype(np.float32)
    warm = DataSet.from_arrays(x, (x[:, 0] > 0).astype(int), x, (x[:, 0] > 0).astype(int))
    MethodDL("warm", NET.replace("MaxEpochs=2", "MaxEpochs=1")).train(warm, weight_file="")
    out: dict = {}
    times: dict[str, list[float]] = {}
    old = os.getcwd()
    os.chdir(scratch)
    try:
        loader = _loader(paths, nvar, "nTest_Signal=1:nTest_Background=1:SplitMode=Block:!V")
        out["cv_events"] = len(loader.GetDataSet().train)
        for _ in range(rounds):
            for workers in (1, 2):
                cv = CrossValidation("CV", loader, None, f"!V:Silent:NumFolds=3:Workers={workers}")
                cv.BookMethod("DL", "DNN", NET.replace("MaxEpochs=2", f"MaxEpochs={epochs}"))
                t0 = time.perf_counter()
                cv.Evaluate()
                times.setdefault(f"cv_{epochs}ep_{workers}_workers_s", []).append(time.perf_counter() - t0)
                out[f"cv_{epochs}ep_{workers}_workers_roc"] = cv.GetResults()[0].GetROCAverage()
    finally:
        os.chdir(old)
    out.update({k: float(np.median(v)) for k, v in times.items()})
    out["runs"] = {k: [round(x, 3) for x in v] for k, v in times.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--nvar", type=int, default=20)
    ap.add_argument("--buffer", type=int, default=500_000, help="BufferEvents of the streamed training")
    ap.add_argument("--data", default="/tmp/tmvacompat_scale")
    ap.add_argument("--skip", default="", help="comma-separated: stream, memory, apply, cv")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the apply and cv timings")
    ap.add_argument("--cv-epochs", default="1,5", help="MaxEpochs of the CV runs, comma-separated")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--paths", default="[]", help=argparse.SUPPRESS)
    ap.add_argument("--weights", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_train(args)
        return
    skip = set(filter(None, args.skip.split(",")))
    t0 = time.perf_counter()
    folder = os.path.join(args.data, f"{args.events}x{args.nvar}x{args.files}")
    paths = generate(folder, args.events, args.files, args.nvar)
    results: dict = {"events": args.events, "files": args.files, "nvar": args.nvar, "buffer": args.buffer,
                     "generate_s": time.perf_counter() - t0}  # fmt: skip
    scratch = os.path.join(args.data, "scratch")
    os.makedirs(scratch, exist_ok=True)
    weights = os.path.join(scratch, "Scale_DNN.weights.xml")
    if "stream" not in skip:
        results["stream"] = run_child("stream", args, paths, weights)
        print(json.dumps(results["stream"]), flush=True)
    if "memory" not in skip:
        results["memory"] = run_child("memory", args, paths)
        print(json.dumps(results["memory"]), flush=True)
    if "apply" not in skip and os.path.exists(weights):
        results["apply"] = bench_apply(weights, paths, scratch, args.rounds)
        print(json.dumps(results["apply"]), flush=True)
    if "cv" not in skip:
        for ep in (int(e) for e in args.cv_epochs.split(",")):
            results[f"cv_{ep}"] = bench_cv(paths[:2], args.nvar, scratch, args.rounds, ep)
            print(json.dumps(results[f"cv_{ep}"]), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
