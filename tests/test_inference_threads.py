"""Large inputs are split over threads in chunk-aligned row blocks: the same bits as one call."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from tmvacompat.engine import inference
from tmvacompat.engine.blas import single_threaded_blas
from tmvacompat.engine.inference import PARALLEL_MIN_ROWS, DensePredictor, row_blocks
from tmvacompat.engine.network import Network
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile.dense_eval import WeightFileEvaluator


def test_row_blocks_are_chunk_aligned_and_cover_every_row():
    for n, chunk, t in ((10_000, 512, 2), (512, 512, 4), (513, 512, 4), (100_000, 300, 7), (5, 512, 3)):
        blocks = row_blocks(n, chunk, t)
        assert blocks[0][0] == 0 and blocks[-1][1] == n and len(blocks) <= t
        assert all(a % chunk == 0 and b > a for a, b in blocks)
        assert all(blocks[i][1] == blocks[i + 1][0] for i in range(len(blocks) - 1))
    assert len(row_blocks(100_000, 512, 3)) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_predictions_are_the_same_bits(monkeypatch, dtype):
    net = Network.build(
        [DenseSpec(32, "TANH"), DenseSpec(16, "SIGMOID"), DenseSpec(3, "LINEAR")], (7,), dtype=dtype
    )
    rng = np.random.default_rng(2)
    for la in net.layers:
        for p in la.params.values():
            p[...] = rng.normal(size=p.shape)
    X = rng.normal(size=(3 * PARALLEL_MIN_ROWS + 123, 7)).astype(dtype)
    pred = DensePredictor(net, chunk=256)
    monkeypatch.setattr(inference, "threads", lambda: 1)
    one = pred(X)
    monkeypatch.setattr(inference, "threads", lambda: 3)
    three = pred(X)
    np.testing.assert_array_equal(three, one)
    np.testing.assert_allclose(one, net.predict(X), rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_split_inference_leaves_blas_alone(monkeypatch):
    # the inference kernel calls no BLAS, so its thread blocks do not set BLAS limits
    from tmvacompat.engine import blas

    def no_blas_limit():
        raise AssertionError("inference blocks set a BLAS thread limit")

    monkeypatch.setattr(blas, "single_threaded_blas", no_blas_limit)
    monkeypatch.setattr(inference, "threads", lambda: 2)
    net = Network.build([DenseSpec(16, "TANH"), DenseSpec(1, "LINEAR")], (3,))
    X = np.random.default_rng(0).normal(size=(2 * PARALLEL_MIN_ROWS, 3)).astype(np.float32)
    np.testing.assert_allclose(DensePredictor(net)(X), net.predict(X), atol=1e-5)


def test_split_evaluation_counts_nan_rows_in_every_block(monkeypatch):
    rng = np.random.default_rng(1)
    layers = [(rng.normal(size=(8, 4)), rng.normal(size=8), 3), (rng.normal(size=(1, 8)), np.zeros(1), 0)]
    ev = WeightFileEvaluator(layers, np.float32, output_function="S", chunk=128)
    x = rng.normal(size=(2 * PARALLEL_MIN_ROWS, 4)).astype(np.float32)
    bad = [3, PARALLEL_MIN_ROWS + 7, 2 * PARALLEL_MIN_ROWS - 1]
    x[bad, 1] = np.nan
    monkeypatch.setattr(inference, "threads", lambda: 1)
    out1, n1 = ev.evaluate(x)
    monkeypatch.setattr(inference, "threads", lambda: 4)
    out4, n4 = ev.evaluate(x)
    assert n1 == n4 == 3
    assert np.isnan(out4[bad, 0]).all() and np.isfinite(np.delete(out4, bad, axis=0)).all()
    np.testing.assert_array_equal(out4, out1)


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_single_threaded_blas_holds_while_any_thread_is_inside_and_is_restored_by_the_last_one():
    from tmvacompat.engine.blas import _get_controller

    _get_controller()  # loads SciPy's BLAS, so both libraries are seen before and after
    before = _blas_threads()
    seen = {}

    def other(key, go, done):
        with single_threaded_blas():
            go.set()
            done.wait(5)
            seen[key] = _blas_threads()

    # another thread enters and leaves inside this thread's block
    go, done = threading.Event(), threading.Event()
    t = threading.Thread(target=other, args=("nested", go, done))
    with single_threaded_blas():
        t.start()
        go.wait(5)
        done.set()
        t.join(5)
        assert all(n == 1 for n in _blas_threads())  # the other one left, this one is still inside
    assert _blas_threads() == before
    # this thread leaves first: the limit holds while the other one is still inside
    go, done = threading.Event(), threading.Event()
    t = threading.Thread(target=other, args=("overlap", go, done))
    with single_threaded_blas():
        t.start()
        go.wait(5)
    assert all(n == 1 for n in _blas_threads())
    done.set()
    t.join(5)
    assert all(n == 1 for n in seen["nested"] + seen["overlap"])
    # OpenBLAS takes a restore only from the thread that set the limit: put this process back for the other
    # tests (the engine itself never leaves from another thread last)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(before), user_api="blas")
    assert _blas_threads() == before


def test_blas_threads_limits_every_blas_to_the_task_share_and_restores(monkeypatch):
    """A fold task owning one core must not run a BLAS pool sized for the machine next to the other
    workers' folds: inside ``blas_threads(1)`` every loaded BLAS has one thread, afterwards what it had; a
    CrossValidation task given ``threads`` trains inside that limit."""
    from tmvacompat import crossvalidation
    from tmvacompat.engine.blas import _get_controller, blas_threads

    _get_controller()
    before = _blas_threads()
    with blas_threads(1):
        assert _blas_threads() and all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before

    seen = []
    real = crossvalidation._train_fold

    def probe(payload, ds=None, folds=None):  # the task re-enters _train_fold inside its limits
        if payload.get("threads"):
            return real(payload, ds, folds)
        seen.append(_blas_threads())
        return {}

    monkeypatch.setattr(crossvalidation, "_train_fold", probe)
    probe({"threads": 1})
    assert seen == [[1] * len(before)]
    assert _blas_threads() == before
