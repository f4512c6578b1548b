"""Blocks of a batch on Python threads: how the engine uses several cores outside its fused kernels.

The inference kernel and the convolution kernels release the GIL, so a batch split into blocks of rows
(events) runs on several Python threads at once: the first block on the calling thread, the others on a
small shared pool. Meanwhile every BLAS library is limited to one thread
(:func:`~tmvacompat.engine.blas.single_threaded_blas`): each block's products are whole products on one
core, and OpenBLAS's own pool does not compete with ours. The thread count is Numba's
(``numba.get_num_threads()``, ``NUMBA_NUM_THREADS``), as for the fused trainer's shards. The split depends
only on the batch size and the thread count, so a given thread count gives the same bits every run.

Example:
    >>> run_blocks([(0, 3), (3, 5)], lambda a, b, k: (k, b - a))
    [(0, 3), (1, 2)]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


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


def run_blocks(blocks: Sequence[tuple[int, int]], run: Callable[[int, int, int], T]) -> list[T]:
    """``run(start, stop, k)`` for every block ``k`` of ``blocks``, block 0 on this thread and the others on
    the pool's threads, BLAS on one thread meanwhile; the results in block order. One block runs here
    directly (BLAS untouched)."""
    global _pool, _pool_size
    if len(blocks) == 1:
        return [run(blocks[0][0], blocks[0][1], 0)]
    from tmvacompat.engine.blas import single_threaded_blas

    with _pool_lock:
        if _pool is None or _pool_size < len(blocks) - 1:  # grown when Numba's thread count grew
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool_size = len(blocks) - 1
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="tmvacompat-blocks")
        pool = _pool
    with single_threaded_blas():
        futures = [pool.submit(run, a, b, k) for k, (a, b) in enumerate(blocks) if k > 0]
        first = run(blocks[0][0], blocks[0][1], 0)
        return [first] + [f.result() for f in futures]


__all__ = ["row_blocks", "run_blocks", "threads"]
