"""Array views for the engine's kernels: a 2-D block of a flat buffer, and all of an array as 1-D.

Both are plain slices and reshapes of C-contiguous arrays (so the result is C-contiguous too and shares
the memory owner); they exist to name what the offset tables of the kernels mean.

Example:
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def corner(buf):
    ...     return view2d(buf, 2, 2, 3)[1, 0]
    >>> corner(np.arange(10.0))
    5.0
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy")
def view2d(buf, off, rows, cols):
    """A (rows, cols) C-contiguous view of the 1-D C-contiguous ``buf`` from element ``off``."""
    return buf[off : off + rows * cols].reshape((rows, cols))


@njit(cache=True, error_model="numpy")
def flat(arr):
    """All elements of the C-contiguous ``arr`` as a 1-D view."""
    return arr.reshape(arr.size)


__all__ = ["view2d", "flat"]
