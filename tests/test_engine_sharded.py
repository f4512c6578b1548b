"""The fused dense kernel with batches split over threads (data parallelism): same training as one thread.

The independent truth is the whole-batch kernel (itself checked against the generic layer path and finite
differences elsewhere): sharding only regroups the batch sums, so in float64 the two agree to rounding.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from tmvacompat.engine.fused import SHARD_MIN_ROWS, FusedDenseTrainer, _update_chunks, shard_count
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.optimizers import Optimizer
from tmvacompat.engine.trainer import train
from tmvacompat.specs import DenseSpec, TrainingPhase

TUTORIAL = [DenseSpec(16, "TANH"), DenseSpec(16, "TANH"), DenseSpec(1, "LINEAR")]
MIXED = [DenseSpec(12, "RELU"), DenseSpec(10, "SIGMOID"), DenseSpec(0, "LINEAR")]


def _net(specs, nin, nout, seed=1):
    net = Network.build(specs, (nin,), n_outputs=nout, dtype=np.float64)
    initialize(net, "XAVIERUNIFORM", seed=seed)
    return net


def _data(n, nin, nout, loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, nin))
    if loss == "C":
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    elif loss == "S":
        Y = np.eye(nout)[rng.integers(0, nout, n)]
    else:
        Y = np.tanh(X[:, :nout]) + 0.1 * rng.normal(size=(n, nout))
    w = rng.uniform(0.5, 1.5, n)
    w[::7] *= -1  # negative event weights go through the shards like any other
    return X, np.ascontiguousarray(Y), w


def _trainer(specs, nin, nout, loss, B, threads, opt="ADAM", keep=None):
    net = _net(specs, nin, nout)
    o = Optimizer(net, opt, learning_rate=0.01, momentum=0.5, regularization="L2", weight_decay=1e-3)
    return FusedDenseTrainer(net, o, loss, B, keep=keep, threads=threads)


def _params(ft):
    return np.concatenate([p.ravel() for la in ft.net.layers for p in la.params.values()])


def test_shard_count_rule():
    assert shard_count(2 * SHARD_MIN_ROWS - 1, 2) == 1
    assert shard_count(2 * SHARD_MIN_ROWS, 2) == 2
    assert shard_count(8 * SHARD_MIN_ROWS, 8) == 8
    assert shard_count(8 * SHARD_MIN_ROWS - 1, 8) == 7
    assert shard_count(10_000, 1) == 1
    assert shard_count(2 * SHARD_MIN_ROWS, None) >= 1


def test_update_chunks_cover_every_parameter_once_and_keep_weights_and_biases_apart():
    for n_weights, n_par, shards in ((35_456, 35_841, 2), (10, 13, 4), (100_000, 100_500, 3)):
        ch = _update_chunks(n_weights, n_par, shards)
        assert ch[0, 0] == 0 and ch[-1, 1] == n_par
        assert np.all(ch[1:, 0] == ch[:-1, 1]) and np.all(ch[:, 1] > ch[:, 0])
        assert not np.any((ch[:, 0] < n_weights) & (ch[:, 1] > n_weights))


@pytest.mark.parametrize("B, threads", [(256, 2), (400, 3)])
def test_sharded_equals_whole_batch_lean(B, threads):
    X, Y, w = _data(4 * B, 5, 1, "C")
    perm = np.random.default_rng(3).permutation(len(X))
    runs = []
    for th in (1, threads):
        ft = _trainer(TUTORIAL, 5, 1, "C", B, th)
        assert ft.shards == (1 if th == 1 else shard_count(B, threads))
        total, bad, _ = ft.run(X, Y, w, perm, 0, 4)
        assert bad == -1 and ft.opt.t == 4
        runs.append((_params(ft), total, ft.net.G.copy(), ft.opt.slots[0].state2.copy()))
    (p1, l1, g1, v1), (p2, l2, g2, v2) = runs
    assert runs[1][0] is not None and np.max(np.abs(p1 - p2)) < 1e-12
    assert l2 == pytest.approx(l1, rel=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-9, atol=1e-14)  # the last batch's summed gradient
    np.testing.assert_allclose(v2, v1, rtol=1e-9, atol=1e-20)


@pytest.mark.parametrize("loss, nout", [("R", 2), ("S", 3)])
def test_sharded_equals_whole_batch_full_variant_with_dropout_and_uneven_shards(loss, nout):
    B = 3 * SHARD_MIN_ROWS + 5  # three shards of unequal size (gradient shares are not powers of two)
    X, Y, w = _data(3 * B, 6, nout, loss)
    perm = np.arange(len(X))[::-1].copy()
    runs = []
    for th in (1, 3):
        ft = _trainer(MIXED, 6, nout, loss, B, th, opt="SGD", keep=[0.8, 0.9, 1.0])
        total, bad, _ = ft.run(X, Y, w, perm, 0, 3, np.random.default_rng(11))
        assert bad == -1
        runs.append((_params(ft), total))
    assert np.max(np.abs(runs[0][0] - runs[1][0])) < 1e-12
    assert runs[1][1] == pytest.approx(runs[0][1], rel=1e-12)


def test_sharded_bits_do_not_depend_on_the_thread_count():
    B = 2 * SHARD_MIN_ROWS
    X, Y, w = _data(3 * B, 5, 1, "C")
    perm = np.arange(len(X))
    before = numba.get_num_threads()
    out = []
    try:
        for nt in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(nt)
            ft = _trainer(TUTORIAL, 5, 1, "C", B, threads=2)
            ft.run(X, Y, w, perm, 0, 3)
            out.append(_params(ft))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(out[0], out[1])


def test_sharded_stops_at_a_non_finite_batch_without_applying_it():
    B = 2 * SHARD_MIN_ROWS
    X, Y, w = _data(4 * B, 5, 1, "R")
    X[2 * B + B - 3, 1] = np.nan  # in the second shard of batch 2
    perm = np.arange(len(X))
    ft = _trainer(TUTORIAL, 5, 1, "R", B, threads=2)
    _, bad, loss = ft.run(X, Y, w, perm, 0, 4)
    assert bad == 2 and not np.isfinite(loss) and ft.opt.t == 2
    ref = _trainer(TUTORIAL, 5, 1, "R", B, threads=2)
    ref.run(X, Y, w, perm, 0, 2)
    np.testing.assert_array_equal(_params(ft), _params(ref))


def test_trainer_takes_the_sharded_path_and_learns():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (4 * 256, 2))
    Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    before = numba.get_num_threads()
    results = []
    try:
        for nt in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(nt)
            net = _net([DenseSpec(16, "TANH"), DenseSpec(1, "LINEAR")], 2, 1)
            hist = train(
                net,
                X,
                Y,
                None,
                X[:256],
                Y[:256],
                None,
                loss="C",
                seed=3,
                phases=[
                    TrainingPhase(
                        learning_rate=0.05,
                        batch_size=256,
                        max_epochs=30,
                        test_repetitions=1,
                        convergence_steps=100,
                    )
                ],
            )
            assert hist.phases[0].path == "fused"
            results.append((hist.train_losses(), net.layers[0].params["Weights"].copy()))
    finally:
        numba.set_num_threads(before)
    losses = results[0][0]
    assert losses[-1] < 0.75 * losses[0]
    for other_losses, other_w in results[1:]:  # two threads: two shards, the same training to rounding
        np.testing.assert_allclose(other_losses, losses, rtol=1e-9)
        np.testing.assert_allclose(other_w, results[0][1], rtol=1e-9, atol=1e-12)


def test_two_sharded_trainings_from_two_threads_match_each_alone():
    import threading

    B = 2 * SHARD_MIN_ROWS
    X, Y, w = _data(3 * B, 5, 1, "C")
    perm = np.arange(len(X))
    alone = _trainer(TUTORIAL, 5, 1, "C", B, threads=2)
    for _ in range(3):
        alone.run(X, Y, w, perm, 0, 1)
    pair = [_trainer(TUTORIAL, 5, 1, "C", B, threads=2) for _ in range(2)]
    errors = []

    def go(ft):
        try:
            for _ in range(3):
                ft.run(X, Y, w, perm, 0, 1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(ft,)) for ft in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for ft in pair:
        np.testing.assert_array_equal(_params(ft), _params(alone))


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_thread_count_is_a_clear_error(bad):
    from tmvacompat.errors import TrainingError

    with pytest.raises(TrainingError, match="threads must be a whole number >= 1"):
        _trainer(TUTORIAL, 5, 1, "C", 256, threads=bad)


def test_a_fresh_process_whose_first_blas_calls_are_in_the_shards_does_not_hang(tmp_path):
    # Numba looks each BLAS routine up on its first call, taking the GIL; a kernel that held it while a
    # worker thread made the process's first call would wait forever. Here the shards' products are the
    # first BLAS calls of a fresh process (kernels from the on-disk cache when the tests ran before).
    import subprocess
    import sys

    code = """
import numpy as np
from tmvacompat.engine.fused import FusedDenseTrainer
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.optimizers import Optimizer
from tmvacompat.specs import DenseSpec
net = Network.build([DenseSpec(16, "TANH"), DenseSpec(1, "LINEAR")], (8,))
initialize(net, "XAVIER", seed=1)
ft = FusedDenseTrainer(net, Optimizer(net, "ADAM"), "C", 256, threads=2)
assert ft.shards == 2
X = np.random.default_rng(0).standard_normal((512, 8), dtype=np.float32)
Y = (X[:, :1] > 0).astype(np.float32)
w = np.ones(512, np.float32)
ft.prepare(X, Y, w)
total, bad, _ = ft.run(X, Y, w, np.arange(512, dtype=np.int64), 0, 2)
assert bad == -1 and np.isfinite(total)
print("ok")
"""
    env = {**__import__("os").environ, "NUMBA_NUM_THREADS": "2"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                       cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
