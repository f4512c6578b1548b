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
from contextlib import AbstractContextManager
from typing import Any

_lock = threading.Lock()
_controller: Any = None


def _get_controller() -> Any:
    global _controller
    with _lock:
        if _controller is None:
            import scipy.linalg.cython_blas  # noqa: F401 - load the BLAS Numba calls before looking for it
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()  # scans the loaded libraries once (a few ms)
        return _controller


def single_threaded_blas() -> AbstractContextManager[Any]:
    """A context manager that limits every loaded BLAS library to one thread (restored on exit)."""
    return _get_controller().limit(limits=1, user_api="blas")


__all__ = ["single_threaded_blas"]
