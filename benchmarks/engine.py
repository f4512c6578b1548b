"""Engine benchmark: tmvacompat's Numba engine against PyTorch (CPU), numpy and onnxruntime, same run.

Prints markdown tables (same machine, same thread count, same float type; medians of several runs):

* training events/s of the TMVA tutorial network (20 -> 3 x 128 tanh -> 1, Adam, cross entropy) at batch
  sizes 32, 128, 1024, one and two threads, with the fraction of the measured GEMM rate it reaches
  (a training step costs about 6 x weights FLOPs per event);
* a small CNN (1x16x16 -> conv 8 3x3 relu -> maxpool 2 -> dense 64 relu -> 1; one and two threads) and a
  dense autoencoder (20 -> 64 -> 8 -> 64 -> 20, MSE);
* inference events/s on 1M events and the one-event latency;
* Numba compile time: a cold process (empty cache) and a warm one (cache filled), in subprocesses.

Usage::

    python benchmarks/engine.py            # everything (a few minutes)
    python benchmarks/engine.py --quick    # fewer repeats and events
    python benchmarks/engine.py --training-only   # the tutorial network's training table alone

PyTorch and onnxruntime are optional (their columns are skipped when missing); threadpoolctl is needed for
thread control. ``scipy.linalg`` is imported first so that the OpenBLAS Numba's ``np.dot`` uses (SciPy's)
is registered with threadpoolctl before limits are set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import scipy.linalg  # noqa: F401  (before any thread limit is set: Numba's np.dot uses SciPy's OpenBLAS)
from numba import njit
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tmvacompat.engine.inference import DensePredictor  # noqa: E402
from tmvacompat.engine.init import initialize  # noqa: E402
from tmvacompat.engine.network import Network  # noqa: E402
from tmvacompat.engine.trainer import train  # noqa: E402
from tmvacompat.specs import (  # noqa: E402
    ConvSpec,
    DenseSpec,
    MaxPoolSpec,
    ReshapeSpec,
    TrainingPhase,
)

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
# JAX (XLA on the CPU) pinned to one thread the way the other contenders are limited: XLA reads its flags
# when jax is first imported, so they are set here, before any import of jax.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
).strip()
try:
    import jax
    import jax.numpy as jnp
    import optax
except ImportError:  # pragma: no cover
    jax = None
try:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # pragma: no cover
    ort = None

DT = np.float32
LR = 1e-3


# ------------------------------------------------------------------------------------------ helpers
class Threads:
    """Limit every thread pool (BLAS via threadpoolctl, Numba, PyTorch) to n threads."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self):
        self._lim = threadpool_limits(self.n)
        self._lim.__enter__()
        numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        if torch is not None:
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        self._lim.__exit__(*exc)


def interleaved(fns: dict, repeats: int, threads: int = 1) -> dict:
    """Median seconds per call of every function, measured in interleaved rounds (fair under load drift).

    With several threads each function runs its repeats in a block instead, after a pause: the thread pools
    of OpenBLAS, libgomp (Numba's and PyTorch's) keep spinning for a while after each call, so alternating
    between libraries would time each one against the previous one's spinning threads.
    """
    for fn in fns.values():
        fn()  # warm-up (compilation, allocation)
    times: dict = {k: [] for k in fns}
    if threads > 1:
        for k, fn in fns.items():
            time.sleep(0.3)
            fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        return {k: statistics.median(v) for k, v in times.items()}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, allocation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
        flags = next((ln for ln in out.splitlines() if ln.startswith("Flags:")), "")
        simd = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
    except OSError:
        simd = "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} logical CPUs, {simd}; load average at start {load:.1f}"


@njit(cache=True, error_model="numpy")
def _gemm(a, b, c, reps):
    for _ in range(reps):
        np.dot(a, b, c)


def gemm_call(n: int = 1024, reps: int = 4):
    """A function doing ``reps`` n^3 float32 GEMMs through Numba's np.dot (SciPy's OpenBLAS); its FLOPs."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=DT), rng.random((n, n), dtype=DT)
    c = np.empty((n, n), DT)
    return (lambda: _gemm(a, b, c, reps)), 2 * n**3 * reps


def gemm_rate(threads: int, n: int = 1024, reps: int = 4) -> float:
    """GFLOP/s of an n^3 float32 GEMM through Numba's np.dot (SciPy's OpenBLAS), median of 3."""
    fn, flops = gemm_call(n, reps)
    with Threads(threads):
        t = median_time(fn, 3)
    return flops / t / 1e9


def tutorial_specs(nin: int = 20):
    return [DenseSpec(128, "TANH"), DenseSpec(128, "TANH"), DenseSpec(128, "TANH"), DenseSpec(1, "LINEAR")]


def n_weights(net) -> int:
    return sum(p.size for layer in net.layers for p in layer.params.values())


# ------------------------------------------------------------------------------------------ ours
def ours_train(specs, input_shape, X, Y, loss, B):
    """(epoch function, info dict with the path taken) for tmvacompat's trainer (one epoch per call)."""
    net = Network.build(specs, input_shape, n_outputs=Y.shape[1], dtype=DT)
    initialize(net, "XAVIER", seed=1)
    phase = TrainingPhase(learning_rate=LR, batch_size=B, max_epochs=1, test_repetitions=1, optimizer="ADAM")
    Xv, Yv = X[:B], Y[:B]  # validation of one batch: negligible next to the epoch
    info = {}

    def run():
        h = train(net, X, Y, None, Xv, Yv, None, loss=loss, phases=[phase], seed=3)
        info["path"] = h.phases[0].path

    run()
    info["net"] = net
    return run, info


# ------------------------------------------------------------------------------------------ numpy reference
def numpy_train_dense(widths, acts, X, Y, B, loss):
    """A straightforward numpy MLP with Adam (float32), the 'numpy' baseline."""
    rng = np.random.default_rng(1)
    shapes = list(zip(widths[1:], widths, strict=False))
    Ws = [(rng.standard_normal((o, i)) * np.sqrt(2 / (i + o))).astype(DT) for o, i in shapes]
    bs = [np.zeros(o, DT) for o in widths[1:]]
    params = Ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = DT(0.9), DT(0.999), DT(1e-7)
    state = {"t": 0}
    n = X.shape[0]

    def epoch():
        perm = rng.permutation(n)
        for k in range(n // B):
            idx = perm[k * B : (k + 1) * B]
            a = [X[idx]]
            for W, b, act in zip(Ws, bs, acts, strict=True):
                z = a[-1] @ W.T + b
                a.append(np.tanh(z) if act == "tanh" else z)
            out, y = a[-1], Y[idx]
            if loss == "C":
                g = (1 / (1 + np.exp(-out)) - y) / DT(out.size)
            else:
                g = DT(2) * (out - y) / DT(out.size)
            gW, gb = [None] * len(Ws), [None] * len(Ws)
            for li in range(len(Ws) - 1, -1, -1):
                if acts[li] == "tanh":
                    g = g * (DT(1) - a[li + 1] * a[li + 1])
                gW[li] = g.T @ a[li]
                gb[li] = g.sum(axis=0)
                if li:
                    g = g @ Ws[li]
            state["t"] += 1
            t = state["t"]
            alpha = DT(LR * np.sqrt(1 - 0.999**t) / (1 - 0.9**t))
            for p, gp, mm, vv in zip(params, gW + gb, m, v, strict=True):
                mm *= b1
                mm += (1 - b1) * gp
                vv *= b2
                vv += (1 - b2) * gp * gp
                p -= alpha * mm / (np.sqrt(vv) + eps)

    return epoch


# ------------------------------------------------------------------------------------------ torch
def torch_mlp(widths, acts):
    layers = []
    for i, o, act in zip(widths, widths[1:], acts, strict=False):
        layers.append(torch.nn.Linear(i, o))
        if act == "tanh":
            layers.append(torch.nn.Tanh())
        elif act == "relu":
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 7 * 7, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )


def torch_train(model, X, Y, B, loss, fused_adam=False):
    torch.manual_seed(0)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    wt = torch.ones(X.shape[0], 1)
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7, fused=fused_adam or None)
    lossf = (
        torch.nn.BCEWithLogitsLoss(reduction="none") if loss == "C" else torch.nn.MSELoss(reduction="none")
    )
    n = X.shape[0]
    g = torch.Generator().manual_seed(0)

    def epoch():
        perm = torch.randperm(n, generator=g)
        for k in range(n // B):
            idx = perm[k * B : (k + 1) * B]
            xb, yb, wb = Xt[idx], Yt[idx], wt[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            lv = (lossf(out, yb) * wb).mean()
            lv.backward()
            opt.step()

    return epoch


# ------------------------------------------------------------------------------------------ JAX
def pin_threads(cpus: set[int]) -> dict[int, set[int]]:
    """Hold every thread of this process to ``cpus`` (Linux); returns each thread's previous CPU set."""
    held = {}
    for name in os.listdir("/proc/self/task"):
        tid = int(name)
        try:
            held[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
        except OSError:
            pass  # the thread has ended
    return held


def jax_train(widths, acts, X, Y, B, loss):
    """One epoch per call of the same MLP in JAX: ``jax.jit`` over the whole epoch (the shuffled gather and a
    ``lax.scan`` over the batches), Adam from optax (``eps=1e-7`` as TMVA's), Xavier-normal weights, float32.
    Returns (epoch function, CPU seconds / wall seconds of the last call)."""
    rng = np.random.default_rng(1)
    params = [
        (
            jnp.asarray((rng.standard_normal((i, o)) * np.sqrt(2 / (i + o))).astype(DT)),
            jnp.zeros(o, DT),
        )
        for i, o in zip(widths, widths[1:], strict=False)
    ]
    opt = optax.adam(LR, eps=1e-7)
    n = X.shape[0]
    nb = n // B
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def forward(p, x):
        for (W, b), act in zip(p, acts, strict=True):
            x = x @ W + b
            if act == "tanh":
                x = jnp.tanh(x)
        return x

    def batch_loss(p, x, y):
        out = forward(p, x)
        per = optax.sigmoid_binary_cross_entropy(out, y) if loss == "C" else (out - y) ** 2
        return per.mean()

    def step(carry, batch):
        p, s = carry
        g = jax.grad(batch_loss)(p, *batch)
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), None

    @jax.jit
    def epoch(p, s, perm):
        xb = Xj[perm].reshape(nb, B, X.shape[1])
        yb = Yj[perm].reshape(nb, B, Y.shape[1])
        (p, s), _ = jax.lax.scan(step, (p, s), (xb, yb))
        return p, s

    state = {"p": params, "s": opt.init(params), "cpu_per_wall": float("nan")}

    def run():
        perm = jnp.asarray(rng.permutation(n)[: nb * B])
        # XLA's flags alone still let its runtime use a second core at large batches: every thread of the
        # process is held to one CPU for the epoch (the others are limited by their own thread counts)
        held = pin_threads({min(os.sched_getaffinity(0))})
        try:
            c0, w0 = time.process_time(), time.perf_counter()
            state["p"], state["s"] = epoch(state["p"], state["s"], perm)
            jax.block_until_ready(state["p"])
            state["cpu_per_wall"] = (time.process_time() - c0) / (time.perf_counter() - w0)
        finally:
            for tid, cpus in held.items():
                try:
                    os.sched_setaffinity(tid, cpus)
                except OSError:
                    pass  # the thread has ended

    return run, state


# ------------------------------------------------------------------------------------------ inference
def onnx_session(net, threads):
    nodes, inits = [], []
    cur = "x"
    for i, layer in enumerate(net.layers):
        W = numpy_helper.from_array(layer.params["Weights"], f"W{i}")
        b = numpy_helper.from_array(layer.params["Biases"][:, 0].copy(), f"b{i}")
        inits += [W, b]
        nodes.append(helper.make_node("Gemm", [cur, f"W{i}", f"b{i}"], [f"z{i}"], transB=1))
        cur = f"z{i}"
        if layer.activation == 3:
            nodes.append(helper.make_node("Tanh", [cur], [f"a{i}"]))
            cur = f"a{i}"
    nin, nout = net.layers[0].fan_in, net.layers[-1].width
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, nin])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [None, nout])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess, cur


def numpy_predict(net, X, chunk=2048):
    out = np.empty((X.shape[0], net.layers[-1].width), DT)
    for s in range(0, X.shape[0], chunk):
        a = X[s : s + chunk]
        for layer in net.layers:
            a = a @ layer.params["Weights"].T + layer.params["Biases"][:, 0]
            if layer.activation == 3:
                a = np.tanh(a)
        out[s : s + chunk] = a
    return out


def _inference_row(th, n_events, repeats, net, X, pred, tmodel, ref):
    res = {"threads": th}
    out = np.empty((n_events, 1), DT)
    fns = {
        "ours": lambda: pred(X, out),
        "ours (Network.predict)": lambda: net.predict(X, 4096),
        "numpy": lambda: numpy_predict(net, X),
    }
    x1 = X[:1].copy()
    o1 = np.empty((1, 1), DT)
    lat = {
        "ours": lambda: pred(x1, o1),
        "ours (Network.predict)": lambda: net.predict(x1),
        "numpy": lambda: numpy_predict(net, x1),
    }
    if tmodel is not None:
        Xt = torch.from_numpy(X)
        xt1 = torch.from_numpy(x1)

        def tpred():
            with torch.inference_mode():
                for s in range(0, n_events, 4096):
                    tmodel(Xt[s : s + 4096])

        def t1():
            with torch.inference_mode():
                tmodel(xt1)

        fns["torch"] = tpred
        lat["torch"] = t1
    if ort is not None:
        sess, oname = onnx_session(net, th)
        assert np.allclose(sess.run([oname], {"x": X[:1000]})[0], ref, atol=1e-4)
        fns["onnxruntime"] = lambda: [
            sess.run([oname], {"x": X[s : s + 4096]}) for s in range(0, n_events, 4096)
        ]
        lat["onnxruntime"] = lambda: sess.run([oname], {"x": x1})
    for k, t in interleaved(fns, repeats).items():
        res[k] = n_events / t
    for name, fn in lat.items():  # one event per call: median over 5 loops of 2000 calls
        fn()
        per_call = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(2000):
                fn()
            per_call.append((time.perf_counter() - t0) / 2000)
        res[f"latency {name}"] = statistics.median(per_call) * 1e6
    return res


def inference_table(n_events, repeats, threads_list):
    rng = np.random.default_rng(5)
    net = Network.build(tutorial_specs(), (20,), dtype=DT)
    initialize(net, "XAVIER", seed=2)
    X = rng.standard_normal((n_events, 20), dtype=DT)
    pred = DensePredictor(net)
    ref = numpy_predict(net, X[:1000])
    assert np.allclose(pred(X[:1000]), ref, atol=1e-4)
    rows = []
    tmodel = None
    if torch is not None:
        tmodel = torch_mlp([20, 128, 128, 128, 1], ["tanh", "tanh", "tanh", None])
        with torch.no_grad():
            for k, layer in enumerate([m for m in tmodel if isinstance(m, torch.nn.Linear)]):
                layer.weight.copy_(torch.from_numpy(net.layers[k].params["Weights"]))
                layer.bias.copy_(torch.from_numpy(net.layers[k].params["Biases"][:, 0]))
    for th in threads_list:
        with Threads(th):
            rows.append(_inference_row(th, n_events, repeats, net, X, pred, tmodel, ref))
    return rows


# ------------------------------------------------------------------------------------------ compile time
COMPILE_SCRIPT = r"""
import time, json
t0 = time.perf_counter()
import numpy as np
from tmvacompat.engine.network import Network
from tmvacompat.engine.init import initialize
from tmvacompat.engine.trainer import train
from tmvacompat.engine.inference import DensePredictor
from tmvacompat.specs import DenseSpec, TrainingPhase
t1 = time.perf_counter()
net = Network.build([DenseSpec(128, "TANH")] * 3 + [DenseSpec(1, "LINEAR")], (20,))
initialize(net, "XAVIER", seed=1)
B = int(__import__("sys").argv[1])
X = np.random.default_rng(0).standard_normal((max(256, 2 * B), 20), dtype=np.float32)
Y = (X[:, :1] > 0).astype(np.float32)
train(net, X, Y, None, X, Y, None, loss="C", phases=[TrainingPhase(batch_size=B, max_epochs=1,
      test_repetitions=1)], seed=1)
DensePredictor(net)(X)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_train_and_predict": t2 - t1}))
"""


def compile_times():
    """First-run and cached-run times in fresh processes: batch 32 (the serial kernel), and batch 1024 on
    every thread, which compiles the sharded kernel instead when there are two threads or more."""
    res = {}
    for B in (32, 1024):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
            for label in ("cold (empty cache)", "warm (cache filled)"):
                t0 = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", COMPILE_SCRIPT, str(B)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                total = time.perf_counter() - t0
                d = json.loads(out.strip().splitlines()[-1])
                d["process"] = total
                res[f"batch {B}, {label}"] = d
    return res


# ------------------------------------------------------------------------------------------ main
def fmt(x, unit=""):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M{unit}"
    if x >= 1e3:
        return f"{x / 1e3:.0f}k{unit}"
    return f"{x:.1f}{unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and events")
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--training-only", action="store_true", help="only the tutorial network's training table")
    args = ap.parse_args()
    repeats = 3 if args.quick else 5
    print(f"# tmvacompat engine benchmark\n\nMachine: {machine()}")
    versions = f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
    versions += f", torch {torch.__version__}" if torch else ""
    versions += f", onnxruntime {ort.__version__}" if ort else ""
    versions += f", jax {jax.__version__} (optax {optax.__version__})" if jax else ""
    print(versions + "; float32 everywhere.\n")

    rates = {th: gemm_rate(th) for th in (1, 2)}
    print(
        f"GEMM (1024^3 float32, Numba np.dot -> SciPy OpenBLAS): {rates[1]:.1f} GFLOP/s on 1 thread, "
        f"{rates[2]:.1f} on 2.\n"
    )

    rng = np.random.default_rng(0)
    # --------------------------------------------------------------- tutorial network training
    print("## Training: 20 -> 3 x 128 tanh -> 1, Adam, cross entropy (events/s)\n")
    print(
        "| threads | batch | ours | path | torch | torch fused Adam | jax | numpy | ours/torch "
        "| ours/torch fused | ours/jax | ours/numpy | GEMM GFLOP/s (same rounds) | % of GEMM rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    jax_load = []
    widths, acts = [20, 128, 128, 128, 1], ["tanh", "tanh", "tanh", None]
    for th, B in ((1, 32), (1, 128), (1, 1024), (2, 128), (2, 1024)):
        n = (8192 if args.quick else 32768) if B < 1024 else (32768 if args.quick else 131072)
        X = rng.standard_normal((n, 20), dtype=DT)
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(DT)
        with Threads(th):
            run, info = ours_train(tutorial_specs(), (20,), X, Y, "C", B)
            fns = {"ours": run, "numpy": numpy_train_dense(widths, acts, X, Y, B, "C")}
            if torch:
                fns["torch"] = torch_train(torch_mlp(widths, acts), X, Y, B, "C")
                fns["torchf"] = torch_train(torch_mlp(widths, acts), X, Y, B, "C", True)
            if jax and th == 1:  # XLA's thread count is fixed at import (one thread)
                fns["jax"], jstate = jax_train(widths, acts, X, Y, B, "C")
            # the GEMM rate in the same rounds: the machine's speed drifts within a run
            fns["gemm"], gemm_flops = gemm_call()
            times = interleaved(fns, repeats, th)
            gemm_now = gemm_flops / times.pop("gemm") / 1e9
            ev = {k: (n // B) * B / t for k, t in times.items()}
        ours, npy, tor, torf, jx, path, net = (
            ev["ours"],
            ev["numpy"],
            ev.get("torch"),
            ev.get("torchf"),
            ev.get("jax"),
            info["path"],
            info["net"],
        )
        if jx:
            jax_load.append(jstate["cpu_per_wall"])
        eff = ours * 6 * n_weights(net) / (gemm_now * 1e9) * 100
        rel = f"{ours / tor:.2f}x" if tor else "-"
        relf = f"{ours / torf:.2f}x" if torf else "-"
        relj = f"{ours / jx:.2f}x" if jx else "-"
        print(
            f"| {th} | {B} | {fmt(ours)} | {path} | {fmt(tor)} | {fmt(torf)} | {fmt(jx)} | {fmt(npy)} | "
            f"{rel} | {relf} | {relj} | {ours / npy:.2f}x | {gemm_now:.1f} | {eff:.0f}% |",
            flush=True,
        )
    print(
        "\nours/torch is against a plain PyTorch loop with the default Adam, the baseline of the engine's "
        "speed targets (46k / 112k / 214k events/s where they were set); ours/torch fused against "
        "`Adam(fused=True)`, PyTorch's faster variant; ours/jax against `jax.jit` over a whole epoch "
        "(`lax.scan` over the batches, optax Adam), on one core (every thread of the process pinned to one "
        "CPU during its epochs, and XLA_FLAGS "
        "`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`). % of GEMM rate = events/s "
        "x 6 x weights / the GEMM rate measured in the same interleaved rounds (1024^3, same thread count)."
    )
    if jax_load:
        print(
            f"JAX process CPU time / wall time during its epochs: {min(jax_load):.2f}-{max(jax_load):.2f} "
            "(1.0 = one core busy)."
        )
    print()
    if args.training_only:
        return

    # --------------------------------------------------------------- CNN and autoencoder
    print("## Other networks, 1 thread (events/s)\n")
    print("| network | batch | ours | path | torch | ours/torch |")
    print("|---|---|---|---|---|---|")
    n = 4096 if args.quick else 16384
    Xi = rng.standard_normal((n, 256), dtype=DT)
    Yi = (Xi[:, :128].mean(axis=1, keepdims=True) > 0).astype(DT)
    cnn = [
        ConvSpec(8, 3, 3, 1, 1, 0, 0, "RELU"),
        MaxPoolSpec(2, 2, 2, 2),
        ReshapeSpec(flatten=True),
        DenseSpec(64, "RELU"),
        DenseSpec(1, "LINEAR"),
    ]

    def cnn_rates(B: int, threads: int) -> tuple[float, float | None, str]:
        """(ours, PyTorch or None, our path) events/s of the small CNN at batch ``B``, interleaved."""
        run, info = ours_train(cnn, (1, 16, 16), Xi, Yi, "C", B)
        fns = {"ours": run}
        if torch:
            fns["torch"] = torch_train(torch_cnn(), Xi.reshape(n, 1, 16, 16), Yi, B, "C")
        ev = {k: (n // B) * B / t for k, t in interleaved(fns, max(2, repeats // 2), threads).items()}
        return ev["ours"], ev.get("torch"), info["path"]

    with Threads(1):
        for B in (32, 128):
            ours, tor, path = cnn_rates(B, 1)
            rel = f"{ours / tor:.2f}x" if tor else "-"
            print(
                f"| CNN 1x16x16: conv 8 3x3 relu, maxpool 2, dense 64 relu, 1 | {B} | {fmt(ours)} | "
                f"{path} | {fmt(tor)} | {rel} |"
            )
        Xa = rng.standard_normal((4 * n, 20), dtype=DT)
        ae = [DenseSpec(64, "TANH"), DenseSpec(8, "TANH"), DenseSpec(64, "TANH"), DenseSpec(20, "LINEAR")]
        for B in (32, 256):
            run, info = ours_train(ae, (20,), Xa, Xa, "R", B)
            fns = {"ours": run}
            if torch:
                tae = torch_mlp([20, 64, 8, 64, 20], ["tanh", "tanh", "tanh", None])
                fns["torch"] = torch_train(tae, Xa, Xa, B, "R")
            ev = {k: (4 * n // B) * B / t for k, t in interleaved(fns, repeats).items()}
            ours, tor, path = ev["ours"], ev.get("torch"), info["path"]
            rel = f"{ours / tor:.2f}x" if tor else "-"
            print(
                f"| autoencoder 20-64-8-64-20 tanh, MSE | {B} | {fmt(ours)} | {path} | {fmt(tor)} | {rel} |"
            )
    print()
    print("## Small CNN, 2 threads (events/s; conv and pooling split each batch over the threads)\n")
    print("| batch | ours | torch | ours/torch |")
    print("|---|---|---|---|")
    with Threads(2):
        for B in (128, 512):
            ours, tor, _ = cnn_rates(B, 2)
            print(f"| {B} | {fmt(ours)} | {fmt(tor)} | {f'{ours / tor:.2f}x' if tor else '-'} |")
    print()

    # --------------------------------------------------------------- inference
    n_inf = 200_000 if args.quick else 1_000_000
    print(f"## Inference, 20 -> 3 x 128 tanh -> 1, {n_inf:,} events (events/s) and one event per call (us)\n")
    rows = inference_table(n_inf, max(3, repeats // 2 + 1), (1, 2))
    names = [k for k in rows[0] if k != "threads" and not k.startswith("latency")]
    print("| threads | " + " | ".join(names) + " | ours/onnxruntime |")
    print("|---|" + "---|" * (len(names) + 1))
    for r in rows:
        rel = f"{r['ours'] / r['onnxruntime']:.2f}x" if "onnxruntime" in r else "-"
        print(f"| {r['threads']} | " + " | ".join(fmt(r[k]) for k in names) + f" | {rel} |")
    lat = [k for k in rows[0] if k.startswith("latency")]
    print("\n| threads | " + " | ".join(k.replace("latency ", "") + " (us)" for k in lat) + " |")
    print("|---|" + "---|" * len(lat))
    for r in rows:
        print(f"| {r['threads']} | " + " | ".join(f"{r[k]:.1f}" for k in lat) + " |")
    print()

    # --------------------------------------------------------------- compile
    if not args.skip_compile:
        print("## Start-up (subprocess: import + first training epoch + first prediction, seconds)\n")
        print("| cache | import | first train + predict | whole process |")
        print("|---|---|---|---|")
        for label, d in compile_times().items():
            first = d["first_train_and_predict"]
            print(f"| {label} | {d['import']:.2f} | {first:.2f} | {d['process']:.2f} |")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
