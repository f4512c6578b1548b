"""Blocks of a batch on Python threads: how the engine uses several cores outside its fused kernels.

The inference kernel and the convolution kernels release the GIL, so a batch split into blocks of rows
(events) runs on several Python threads at once: the first block on the calling thread, the others on the
engine's worker threads (started on first use, one per extra block). For blocks that call BLAS (the
convolutions' products) every BLAS library is limited to one thread meanwhile
(:func:`~tmvacompat.engine.blas.single_threaded_blas`): each block's products are whole products on one
core, and OpenBLAS's own pool does not compete with ours. The thread count is Numba's
(``numba.get_num_threads()``, ``NUMBA_NUM_THREADS``), as for the fused trainer's shards. The split depends
only on the batch size and the thread count, so a given thread count gives the same bits every run.

Example:
    >>> run_blocks([(0, 3), (3, 5)], lambda a, b, k: (k, b - a))
    [(0, 3), (1, 2)]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TypeVar

T = TypeVar("T")


def threads() -> int:
    """The engine's thread count: Numba's."""
    import numba

    return int(numba.get_num_threads())


def row_blocks(n: int, chunk: int, threads: int) -> list[tuple[int, int]]:
    """Split ``n`` rows into at most ``threads`` blocks whose starts are multiples of ``chunk`` (a kernel
    that works in chunks then meets the same chunks in every block as in one call).

    >>> row_blocks(10_000, 512, 2)
    [(0, 5120), (5120, 10000)]
    """
    n_chunks = -(-n // chunk)
    t = max(1, min(threads, n_chunks))
    edges = [min(n, (n_chunks * i // t) * chunk) for i in range(t + 1)]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


class _Worker:
    """A thread that runs one task at a time, handed over with two locks (cheaper per task than a
    ThreadPoolExecutor's submit and result; a CNN step hands over several blocks)."""

    def __init__(self) -> None:
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._task: tuple[Callable[..., object], tuple] | None = None
        self._result: tuple[object, BaseException | None] = (None, None)
        self._busy = False
        threading.Thread(target=self._loop, name="tmvacompat-block", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            fn, args = self._task  # type: ignore[misc]
            try:
                self._result = (fn(*args), None)
            except BaseException as exc:  # handed to the caller by wait()
                self._result = (None, exc)
            self._done.release()

    def submit(self, fn: Callable[..., object], *args: object) -> None:
        if self._busy:  # the last caller never collected (interrupted): let that task finish first
            self._done.acquire()
        self._task, self._busy = (fn, args), True
        self._go.release()

    def wait(self) -> object:
        self._done.acquire()
        self._busy = False
        value, exc = self._result
        if exc is not None:
            raise exc
        return value


_workers: list[_Worker] = []
_workers_lock = threading.Lock()  # one run_blocks at a time uses the workers


def _reset_after_fork() -> None:
    global _workers, _workers_lock
    _workers, _workers_lock = [], threading.Lock()  # the threads did not survive the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run_blocks(
    blocks: Sequence[tuple[int, int]], run: Callable[[int, int, int], T], *, limit_blas: bool = True
) -> list[T]:
    """``run(start, stop, k)`` for every block ``k`` of ``blocks``, block 0 on this thread and the others on
    the engine's worker threads, BLAS on one thread meanwhile (``limit_blas=False`` for blocks that call no
    BLAS: setting and restoring the limit has a cost per call, and threadpoolctl's first scan of the loaded
    libraries a larger one); the results in block order. One block runs
    here directly (BLAS untouched). The workers serve one call at a time: a call made meanwhile (from
    another thread, or from inside a block) runs its blocks one after another on its own thread, which
    cannot deadlock and leaves the cores to the calls already running."""
    if len(blocks) == 1:
        return [run(blocks[0][0], blocks[0][1], 0)]
    from tmvacompat.engine.blas import single_threaded_blas

    with single_threaded_blas() if limit_blas else nullcontext():
        if not _workers_lock.acquire(blocking=False):
            return [run(a, b, k) for k, (a, b) in enumerate(blocks)]
        try:
            while len(_workers) < len(blocks) - 1:
                _workers.append(_Worker())
            mine = _workers[: len(blocks) - 1]
            for w, k in zip(mine, range(1, len(blocks)), strict=True):
                w.submit(run, blocks[k][0], blocks[k][1], k)
            try:
                first = run(blocks[0][0], blocks[0][1], 0)
            finally:  # collect every block even when ours failed: none is left running
                rest: list[object] = []
                errors: list[BaseException] = []
                for w in mine:
                    try:
                        rest.append(w.wait())
                    except BaseException as exc:
                        errors.append(exc)
            if errors:
                raise errors[0]
            return [first, *rest]  # type: ignore[list-item]
        finally:
            _workers_lock.release()


__all__ = ["row_blocks", "run_blocks", "threads"]
