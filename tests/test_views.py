"""The engine's direct array views against numpy's reshape of the same slice."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.runtime import _nrt_python, rtsys

from tmvacompat.engine.views import data_address, flat, view2d


@njit(cache=True)
def _take(buf, off, rows, cols):
    return view2d(buf, off, rows, cols)


@njit(cache=True)
def _flat(a):
    return flat(a)


@njit(cache=True)
def _write(buf, off, rows, cols, value):
    v = view2d(buf, off, rows, cols)
    for i in range(rows):
        for j in range(cols):
            v[i, j] = value * (i * cols + j)
    f = flat(v)
    f[0] += 1


@njit(cache=True)
def _churn(buf, n):
    s = 0.0
    for i in range(n):
        s += flat(view2d(buf, i % 5, 2, 3))[i % 6]
    return s


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize(("off", "rows", "cols"), [(0, 1, 1), (3, 2, 5), (7, 4, 1), (0, 3, 4), (12, 0, 3)])
def test_view2d_is_the_reshaped_slice(dtype, off, rows, cols):
    buf = np.arange(24, dtype=dtype)
    v = _take(buf, off, rows, cols)
    ref = buf[off : off + rows * cols].reshape(rows, cols)
    assert v.shape == ref.shape and v.strides == ref.strides and v.dtype == buf.dtype
    assert v.flags.c_contiguous
    np.testing.assert_array_equal(v, ref)
    if v.size:
        assert np.shares_memory(v, buf)


@pytest.mark.parametrize("shape", [(6,), (2, 3), (2, 3, 4), (1, 1, 5), (0, 4)])
def test_flat_is_the_reshaped_array(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    f = _flat(a)
    assert f.shape == (a.size,) and f.strides == (8,)
    np.testing.assert_array_equal(f, a.reshape(a.size))


def test_writes_through_views_reach_the_buffer():
    buf = np.zeros(20, np.float32)
    _write(buf, 5, 3, 4, np.float32(2))
    expect = np.zeros(20, np.float32)
    expect[5:17] = 2 * np.arange(12, dtype=np.float32)
    expect[5] += 1
    np.testing.assert_array_equal(buf, expect)


def test_views_keep_the_buffer_alive_and_leak_nothing():
    _nrt_python.memsys_enable_stats()  # NUMBA_NRT_STATS=1 at import does the same
    before = rtsys.get_allocation_stats()
    buf = np.arange(30, dtype=np.float64)
    assert _churn(buf, 10_000) == sum(buf[i % 5 : i % 5 + 6][i % 6] for i in range(10_000))
    v = _take(np.arange(10.0) * 2, 2, 2, 2)  # the only reference to the buffer is the view's
    np.testing.assert_array_equal(v, [[4.0, 6.0], [8.0, 10.0]])
    del v
    after = rtsys.get_allocation_stats()
    assert after.alloc - before.alloc == after.free - before.free
    assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free
    assert after.mi_alloc > before.mi_alloc  # the stats did count: the doubled buffer was Numba's to free


def test_non_contiguous_inputs_are_rejected_at_compile_time():
    from numba.core.errors import TypingError

    with pytest.raises(TypingError):
        _flat(np.zeros((4, 4))[:, ::2])
    with pytest.raises(TypingError):
        _take(np.zeros((4, 4)), 0, 2, 2)


@njit(cache=True)
def _address(a):
    return data_address(a)


def test_data_address_is_numpys():
    buf = np.arange(10.0)
    for a in (buf, buf[3:], buf[::2], buf.reshape(2, 5)[1:]):
        assert _address(a) == a.ctypes.data
