"""The cold-start helper process (tmvacompat.engine.warmup): it starts only when it can help, it shares
the compiling with this process, and a process whose kernels came partly from the helper's cache gives the
same bits as one that compiled them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tmvacompat.engine import warmup
from tmvacompat.engine.inference import DensePredictor, dense_infer
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.specs import DenseSpec, TrainingPhase

ROOT = Path(__file__).resolve().parents[1]

# the same training in a fresh process (empty Numba cache) and here
SCRIPT = r"""
import json, sys
import numpy as np
from tmvacompat.engine import warmup
from tmvacompat.engine.inference import DensePredictor
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train
from tmvacompat.specs import DenseSpec, TrainingPhase

def run():
    net = Network.build([DenseSpec(16, "TANH"), DenseSpec(16, "TANH"), DenseSpec(1, "LINEAR")], (5,))
    initialize(net, "XAVIER", seed=3)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 5), dtype=np.float32)
    Y = (X[:, :1] * X[:, 1:2] > 0).astype(np.float32)
    train(net, X[:300], Y[:300], None, X[300:], Y[300:], None, loss="C",
          phases=[TrainingPhase(batch_size=20, max_epochs=3, test_repetitions=1)], seed=5)
    return DensePredictor(net)(X)

if __name__ == "__main__":
    out = run()
    for h in warmup._helpers.values():  # it may still be compiling the inference parts for weight files
        h.wait_for({"end"})
    helpers = {f"{k[0]}/{k[1]}": p.returncode for k, p in warmup._helpers.items()}
    done = sorted(r for h in warmup._helpers.values() for r in h.reported)
    parts = {k: v for h in warmup._helpers.values() for k, v in h.inference_items.items()}
    print(json.dumps({"out": out.ravel().tolist(), "helpers": helpers, "helper_done": done, "parts": parts}))
"""


def _run_fresh(tmp_path: Path, switch: str) -> dict:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    env[warmup.ENV_SWITCH] = switch
    res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _work_dirs() -> set:
    return set(Path(tempfile.gettempdir()).glob("tmvacompat-compile-*"))


def test_cold_process_uses_the_helper_and_gets_the_same_bits(tmp_path):
    before = _work_dirs()
    fresh = _run_fresh(tmp_path, "1")
    deadline = time.monotonic() + 30  # the helper may still be exiting
    while _work_dirs() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _work_dirs() - before, "the helper left its work directory behind"
    # a helper (keyed by the lean float32 inference kernel) ran, finished successfully and compiled some
    # of the functions itself
    assert fresh["helpers"] == {"float32/True": 0}
    assert fresh["helper_done"], "the helper compiled nothing"
    # after the training's functions it compiled the inference parts a weight file's network needs
    assert {"inputs", "finish"} <= set(fresh["parts"])
    assert {fresh["parts"]["inputs"], fresh["parts"]["finish"]} <= set(fresh["helper_done"])
    # and the kernel it cached is what this process compiled for itself: identical outputs
    ns: dict = {}
    exec(compile(SCRIPT.replace('if __name__ == "__main__":', "if False:"), "job", "exec"), ns)
    here = ns["run"]()
    np.testing.assert_array_equal(np.asarray(fresh["out"], np.float32), here.ravel())
    # a second cold-less process finds everything cached: no helper
    again = _run_fresh(tmp_path, "1")
    assert again["helpers"] == {}
    np.testing.assert_array_equal(np.asarray(again["out"], np.float32), here.ravel())


def test_no_helper_when_switched_off_or_cached():
    assert warmup.compile_together([], np.float32, True, enabled=False) is False
    net = Network.build([DenseSpec(4, "TANH"), DenseSpec(1, "LINEAR")], (3,))
    DensePredictor(net)(np.zeros((2, 3), np.float32))  # compiled (or loaded) in this process
    assert warmup.types_cached(*warmup.inference_task(np.float32))
    # nothing left to compile: no helper
    assert warmup.compile_together([], np.float32, True, enabled=True) is False
    warmup.wait_inference_compile(np.float32, True)  # nothing to wait for: returns at once


def test_types_cached_is_false_for_a_new_signature():
    # int16 inputs: a signature nobody compiles
    args = (np.zeros((1, 2), np.int16), np.zeros((1, 2), np.float32), np.zeros(10, np.int64))
    assert warmup.types_cached(dense_infer, tuple(dense_infer.typeof_pyval(a) for a in args)) is False


def test_switched_off_compiles_here(monkeypatch):
    from numba import njit, types

    @njit(cache=False)
    def third(x):
        return x / 3

    def no_helper(*args):
        raise AssertionError("a helper was started although switched off")

    monkeypatch.setenv(warmup.ENV_SWITCH, "0")
    monkeypatch.setattr(warmup, "_start_helper", no_helper)
    monkeypatch.setattr(warmup, "types_cached", lambda d, a: False)  # as on a cold start
    assert warmup.compile_together([(third, (types.float64,))], np.float64, False) is False
    assert (types.float64,) in third.overloads  # compiled in this process


def test_claims_are_exclusive(tmp_path):
    assert warmup._claim(str(tmp_path), 3) is True
    assert warmup._claim(str(tmp_path), 3) is False  # the other process's
    assert warmup._claim(str(tmp_path / "gone"), 4) is False  # the helper is through and cleaned up


def test_prepare_changes_nothing():
    # prepare() runs the training kernel on zero batches: no parameter, optimizer state or step changes
    from tmvacompat.engine.fused import FusedDenseTrainer
    from tmvacompat.engine.optimizers import optimizer_for_phase

    net = Network.build([DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")], (3,))
    initialize(net, "XAVIER", seed=1)
    X = np.random.default_rng(0).standard_normal((60, 3), dtype=np.float32)
    Y = (X[:, :1] > 0).astype(np.float32)
    runner = FusedDenseTrainer(net, optimizer_for_phase(net, TrainingPhase(batch_size=10)), "C", 10)
    before = [p.copy() for la in net.layers for p in la.params.values()]
    runner.prepare(X, Y, np.ones(60, np.float32))
    after = [p for la in net.layers for p in la.params.values()]
    assert all(np.array_equal(u, v) for u, v in zip(before, after, strict=True))
    assert runner.opt.t == 0
    # and training afterwards is what it is without prepare()
    twin = Network.build([DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")], (3,))
    initialize(twin, "XAVIER", seed=1)
    w = np.ones(60, np.float32)
    perm = np.arange(60)
    runner.run(X, Y, w, perm, 0, 6)
    FusedDenseTrainer(twin, optimizer_for_phase(twin, TrainingPhase(batch_size=10)), "C", 10).run(
        X, Y, w, perm, 0, 6)
    for la, lb in zip(net.layers, twin.layers, strict=True):
        for k in la.params:
            np.testing.assert_array_equal(la.params[k], lb.params[k])


def test_helper_entry_skips_claimed_tasks_reports_the_rest_and_cleans_up(tmp_path, capsys):
    import pickle

    from numba import types

    workdir = tmp_path / "work"
    workdir.mkdir()
    a1 = types.Array(types.float32, 1, "C")
    task = ("tmvacompat.engine.gemm", "use_gemm", (a1, types.int64, types.int64))
    with open(workdir / "spec.pkl", "wb") as f:
        pickle.dump({"tasks": [task, task, ("tmvacompat.engine.gemm", "no_such_kernel", ())]}, f)
    assert warmup._claim(str(workdir), 0)  # the main process has task 0
    warmup._main(str(workdir))
    assert capsys.readouterr().out.split("\n")[:2] == ["done 1", "failed 2"]
    assert not workdir.exists()  # removed by the helper itself: the main process may be gone


def test_no_temporary_directory_means_no_helper(monkeypatch):
    from numba import njit, types

    @njit(cache=False)
    def half(x):
        return x / 2

    @njit(cache=False)
    def quarter(x):
        return x / 4

    def no_tmp(*args, **kwargs):
        raise PermissionError("read-only /tmp")

    monkeypatch.setattr(warmup.tempfile, "mkdtemp", no_tmp)
    monkeypatch.setattr(warmup, "types_cached", lambda d, a: False)  # as on a cold start
    monkeypatch.setenv(warmup.ENV_SWITCH, "1")
    tasks = [(half, (types.float64,)), (quarter, (types.float64,))]
    assert warmup.compile_together(tasks, np.float16, False) is False  # float16: no helper key in use
    assert (types.float64,) in half.overloads and (types.float64,) in quarter.overloads
