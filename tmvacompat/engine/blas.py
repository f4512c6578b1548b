"""The BLAS thread pool: limit it to one thread while Numba's threads each run their own matrix products.

Numba's ``np.dot`` calls the OpenBLAS that SciPy ships (through ``scipy.linalg.cython_blas``). When several
Numba threads call it at once while OpenBLAS has threads of its own, every call tries to share its work
with OpenBLAS's pool as well: the two pools fight over the cores. :func:`single_threaded_blas` limits every
BLAS library loaded in the process to one thread for the duration of a ``with`` block, and restores the
previous limits afterwards. It uses ``threadpoolctl`` (the library scikit-learn uses for this), which knows
how each BLAS build (OpenBLAS, MKL, BLIS) is told its thread count.

Example:
    >>> with single_threaded_blas():
    ...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_controller: Any = None
_depth = 0  # blocks currently inside single_threaded_blas (from any thread)
_limiter: Any = None


def _get_controller() -> Any:
    global _controller
    if _controller is None:
        import scipy.linalg.cython_blas  # noqa: F401 - load the BLAS Numba calls before looking for it
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()  # scans the loaded libraries once (a few ms)
    return _controller


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS library to one thread inside the block.

    The limit is process-wide, so blocks entered from several threads share it: the first one in sets it,
    the last one out restores the previous thread counts. (SciPy's OpenBLAS 0.3.30 was seen to ignore a
    restore from a thread other than the one that set the limit; in the engine the setting thread is also
    the last one out, because the other threads only run inside its block.)
    """
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _get_controller().limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit every loaded BLAS library to ``n`` threads inside the block (a task that owns ``n`` of the
    cores: its products must not start a pool sized for the whole machine next to other processes').

    >>> with blas_threads(1):
    ...     pass
    """
    limiter = _get_controller().limit(limits=max(1, int(n)), user_api="blas")
    try:
        yield
    finally:
        limiter.restore_original_limits()


__all__ = ["blas_threads", "single_threaded_blas"]
