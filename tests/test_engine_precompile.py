"""precompile() fills Numba's cache so that a later process's first training and predictions compile
nothing (Numba's own per-dispatcher cache statistics are the truth)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_RUN = r"""
import json
import numpy as np
from tmvacompat.engine.fused import fused_batches
from tmvacompat.engine.inference import DenseEvaluator, DensePredictor, dense_infer
from tmvacompat.engine.network import Network
from tmvacompat.engine.init import initialize
from tmvacompat.engine.trainer import train
from tmvacompat.specs import DenseSpec, TrainingPhase
net = Network.build([DenseSpec(5, "RELU"), DenseSpec(1, "LINEAR")], (3,))
initialize(net, "XAVIER", seed=1)
X = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
Y = (X[:, :1] > 0).astype(np.float32)
train(net, X, Y, None, X, Y, None, loss="C", phases=[TrainingPhase(batch_size=8, max_epochs=2,
      test_repetitions=1)], seed=1)
DensePredictor(net)(X)
layers = [(la.params["Weights"], la.params["Biases"], la.activation) for la in net.layers]
one = np.ones(3, np.float32)
ev = DenseEvaluator(layers, np.float32, affine=(0 * one, one, -one), affine_float32=True, final="sigmoid")
ev.evaluate(X)
ev.workspace()[2]()
print(json.dumps({f.__name__: sum(f.stats.cache_misses.values()) for f in (fused_batches, dense_infer)}))
"""


def _run(code: str, cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_a_first_run_after_precompile_compiles_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    pre = "from tmvacompat.engine.precompile import precompile; print(precompile(batch_sizes=(8,)))"
    assert "float32: training at batch 8" in _run(pre, cache)
    assert json.loads(_run(FIRST_RUN, cache)) == {"fused_batches": 0, "dense_infer": 0}
