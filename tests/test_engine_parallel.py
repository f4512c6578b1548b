"""run_blocks: every block run once, results in block order, errors and concurrent callers handled."""

from __future__ import annotations

import contextlib
import threading

import pytest

from tmvacompat.engine.parallel import row_blocks, run_blocks


def test_every_block_runs_once_on_its_own_thread_and_results_keep_block_order():
    seen: list[tuple[int, int, int, int]] = []
    lock = threading.Lock()

    def run(a, b, k):
        with lock:
            seen.append((a, b, k, threading.get_ident()))
        return sum(range(a, b))

    blocks = row_blocks(1000, 7, 3)
    for _ in range(3):  # the workers are reused
        seen.clear()
        assert run_blocks(blocks, run) == [sum(range(a, b)) for a, b in blocks]
        assert sorted(s[:3] for s in seen) == [(a, b, k) for k, (a, b) in enumerate(blocks)]
        assert len({s[3] for s in seen}) == len(blocks)  # one thread per block
    assert run_blocks([(0, 5)], lambda a, b, k: (a, b, k)) == [(0, 5, 0)]


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_an_error_in_any_block_reaches_the_caller_and_leaves_the_workers_usable(failing):
    def run(a, b, k):
        if k == failing:
            raise ValueError(f"block {k}")
        return k

    with pytest.raises(ValueError, match=f"block {failing}"):
        run_blocks([(0, 1), (1, 2), (2, 3)], run)
    assert run_blocks([(0, 1), (1, 2), (2, 3)], lambda a, b, k: k) == [0, 1, 2]


def test_callers_on_several_threads_and_nested_calls_get_their_own_results():
    out: dict[int, list] = {}

    def caller(i):
        inner = lambda a, b, k: run_blocks([(0, 1), (1, 2)], lambda c, d, j: (i, k, j))  # noqa: E731
        out[i] = [run_blocks([(0, 1), (1, 2)], inner) for _ in range(20)]

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert out[i] == [[[(i, 0, 0), (i, 0, 1)], [(i, 1, 0), (i, 1, 1)]]] * 20


def test_blas_is_limited_only_for_blocks_that_ask_for_it(monkeypatch):
    # inference blocks call no BLAS: they skip threadpoolctl (its first scan takes ~0.3 s, each limit ~40 us)
    from tmvacompat.engine import blas

    entered = []

    def spy():
        entered.append(1)
        return contextlib.nullcontext()

    monkeypatch.setattr(blas, "single_threaded_blas", spy)
    blocks = [(0, 1), (1, 2)]
    assert run_blocks(blocks, lambda a, b, k: k, limit_blas=False) == [0, 1]
    assert entered == []
    assert run_blocks(blocks, lambda a, b, k: k) == [0, 1]
    assert entered == [1]
