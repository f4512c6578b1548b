"""Inference benchmark: tmvacompat's one-call dense inference against onnxruntime, numpy and PyTorch, and the
Reader's per-event latency on real TMVA weight files.

```
python benchmarks/inference.py           # 1M events, ~2 minutes
python benchmarks/inference.py --quick   # 200k events, fewer repeats
```

Network 20 -> 3 x 128 tanh -> 1, float32, one thread (BLAS limited with threadpoolctl, onnxruntime and
PyTorch set to one intra-op thread), inputs fed in chunks. Throughputs are medians of interleaved rounds
(ours, numpy, torch, onnxruntime, ours, ...) so load drift hits all alike; latencies are medians over 5
loops of 2000 calls. The generic ``Network.predict`` is measured beside the fused kernel. Reader rows
compare ``Reader.EvaluateMVA`` / ``EvaluateMulticlass`` on bound
buffers with the fast path and with the generic path (the model's fast evaluator disabled).
torch and onnxruntime are optional (their columns are skipped when missing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg  # noqa: F401 - load SciPy's OpenBLAS (Numba's np.dot) before limiting threads

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tmvacompat.engine.inference import DensePredictor  # noqa: E402
from tmvacompat.engine.init import initialize  # noqa: E402
from tmvacompat.engine.network import Network  # noqa: E402
from tmvacompat.reader import Reader  # noqa: E402
from tmvacompat.specs import DenseSpec  # noqa: E402
from tmvacompat.weightfile import load_weights  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import Threads, interleaved, numpy_predict, onnx_session, ort, torch  # noqa: E402  (shared helpers)

DT = np.float32
#: rows per onnxruntime run() call
ORT_CHUNKS = (1024, 4096, 16384)
VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
READER_FILES = [
    VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml",
    VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml",
]


def latency(fns: dict, calls: int = 2000, loops: int = 5) -> dict:
    """Median microseconds per call, loops interleaved across the functions."""
    for fn in fns.values():
        fn()
    per: dict = {k: [] for k in fns}
    for _ in range(loops):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            per[k].append((time.perf_counter() - t0) / calls * 1e6)
    return {k: statistics.median(v) for k, v in per.items()}


def inference(n_events: int, repeats: int) -> dict:
    rng = np.random.default_rng(5)
    net = Network.build([DenseSpec(128, "TANH")] * 3 + [DenseSpec(1, "LINEAR")], (20,), dtype=DT)
    initialize(net, "XAVIER", seed=2)
    X = rng.standard_normal((n_events, 20), dtype=DT)
    out = np.empty((n_events, 1), DT)
    pred = DensePredictor(net)
    ref = numpy_predict(net, X[:2000])
    assert np.allclose(pred(X[:2000]), ref, atol=1e-5)
    fns = {"ours": lambda: pred(X, out), "numpy": lambda: numpy_predict(net, X)}
    x1 = X[:1].copy()
    o1 = np.empty((1, 1), DT)
    lat = {"ours": lambda: pred(x1, o1), "numpy": lambda: numpy_predict(net, x1)}
    fns["Network.predict"] = lambda: net.predict(X, 4096)
    lat["Network.predict"] = lambda: net.predict(x1)
    if torch is not None:
        torch.set_num_threads(1)
        layers = []
        for la in net.layers:
            lin = torch.nn.Linear(la.fan_in, la.width)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(la.params["Weights"]))
                lin.bias.copy_(torch.from_numpy(la.params["Biases"][:, 0]))
            layers.append(lin)
            if la.activation == 3:
                layers.append(torch.nn.Tanh())
        tmodel = torch.nn.Sequential(*layers).eval()
        Xt, xt1 = torch.from_numpy(X), torch.from_numpy(x1)

        def tpred():
            with torch.inference_mode():
                for s in range(0, n_events, 4096):
                    tmodel(Xt[s : s + 4096])

        def t1():
            with torch.inference_mode():
                tmodel(xt1)

        fns["torch"], lat["torch"] = tpred, t1
    if ort is not None:
        sess, oname = onnx_session(net, 1)
        assert np.allclose(sess.run([oname], {"x": X[:2000]})[0], ref, atol=1e-4)
        # onnxruntime's throughput depends on the rows per run() call: 16k rows per call is the reference
        # protocol; the smaller chunks keep its intermediate tensors in cache and are faster here
        for c in ORT_CHUNKS:
            fns[f"onnxruntime {c // 1024}k"] = lambda c=c: [sess.run([oname], {"x": X[s:s + c]})
                                                            for s in range(0, n_events, c)]  # fmt: skip
        lat["onnxruntime"] = lambda: sess.run([oname], {"x": x1})
    rates = {k: n_events / t for k, t in interleaved(fns, repeats).items()}
    ort_rates = {k: v for k, v in rates.items() if k.startswith("onnxruntime")}
    if ort_rates:
        rates["onnxruntime best"] = max(ort_rates.values())
    return {"rates": rates, "latency": latency(lat)}


def reader_latency() -> list[tuple[str, float, float]]:
    rows = []
    for path in READER_FILES:
        if not path.is_file():
            print(f"(skipping Reader rows: {path} not found)")
            continue
        model = load_weights(path)
        bufs = [np.array([0.1 * (j + 1)], np.float32) for j in range(len(model.variables))]
        readers = {}
        for name in ("fast", "generic"):
            r = Reader("Silent")
            for v, b in zip(model.variables, bufs, strict=True):
                r.AddVariable(v.expression, b)
            for s in model.spectators:
                r.AddSpectator(s.expression, np.zeros(1, np.float32))
            m = load_weights(path)
            if name == "generic":
                m._build_dense_evaluator = lambda: None  # the layer-by-layer engine path
            r.BookMVA("m", m)
            readers[name] = r
        fn = "EvaluateMulticlass" if model.analysis_type == "Multiclass" else "EvaluateMVA"
        a = getattr(readers["fast"], fn)
        b = getattr(readers["generic"], fn)
        assert np.allclose(a("m"), b("m"), atol=1e-6)
        res = latency({"fast": lambda a=a: a("m"), "generic": lambda b=b: b("m")})
        rows.append((f"{path.parent.name}/{path.name} ({fn})", res["fast"], res["generic"]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_events, repeats = (200_000, 5) if args.quick else (1_000_000, 7)
    load0 = os.getloadavg()[0]
    with Threads(1):  # BLAS, Numba (which also splits large inputs) and PyTorch
        res = inference(n_events, repeats)
        rrows = reader_latency()
    load1 = os.getloadavg()[0]
    print(f"load average {load0:.2f} at the start, {load1:.2f} at the end; {os.cpu_count()} CPUs; 1 thread")
    print(f"\nInference, 20 -> 3 x 128 tanh -> 1, float32, {n_events:,} events (events/s)\n")
    names = list(res["rates"])
    r = res["rates"]
    print("| " + " | ".join(names) + " | ours/onnxruntime 16k | ours/onnxruntime best |")
    print("|" + "---|" * (len(names) + 2))
    rel = [f"{r['ours'] / r[k]:.2f}x" if k in r else "-" for k in ("onnxruntime 16k", "onnxruntime best")]
    print("| " + " | ".join(f"{r[k] / 1e6:.3f}M" for k in names) + f" | {rel[0]} | {rel[1]} |")
    print("\nOne event per call (microseconds)\n")
    names = list(res["latency"])
    print("| " + " | ".join(names) + " |")
    print("|" + "---|" * len(names))
    print("| " + " | ".join(f"{res['latency'][k]:.1f}" for k in names) + " |")
    if rrows:
        print("\nReader, one event per call on bound buffers (microseconds)\n")
        print("| weight file | fast path | generic path |")
        print("|---|---|---|")
        for name, f, g in rrows:
            print(f"| {name} | {f:.1f} | {g:.1f} |")


if __name__ == "__main__":
    main()
