"""The engine's direct array views against numpy's reshape of the same slice."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.runtime import _nrt_python, rtsys

from tmvacompat.engine.views import array_at, data_address, flat, view2d


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


@njit(cache=True)
def _at_sum_and_scale(addr, n, like, factor):
    a = array_at(addr, n, like)
    s = a.dtype.type(0)
    for i in range(a.size):
        s += a[i]
        a[i] *= factor
    return s, a.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_array_at_reads_and_writes_the_memory_at_the_address(dtype):
    buf = np.arange(12).astype(dtype)
    like = np.zeros(1, dtype)
    s, n = _at_sum_and_scale(buf.ctypes.data + 3 * buf.itemsize, 5, like, 2)
    assert (s, n) == (3 + 4 + 5 + 6 + 7, 5)
    expect = np.r_[np.arange(3), 2 * np.arange(3, 8), np.arange(8, 12)].astype(dtype)
    np.testing.assert_array_equal(buf, expect)


@njit(cache=True)
def _no_at(addr, n, like, factor):
    return like[0], n


def test_array_at_owns_nothing():
    # the same allocations as a function of the same arguments without it (unboxing ``like`` makes one
    # memory info per call): no memory info, no copy of its own
    _nrt_python.memsys_enable_stats()
    buf = np.ones(50, np.float32)
    counts = []
    for fn in (_no_at, _at_sum_and_scale, _no_at):
        fn(buf.ctypes.data, 50, buf, np.float32(1))
        before = rtsys.get_allocation_stats()
        for _ in range(100):
            fn(buf.ctypes.data, 50, buf, np.float32(1))
        after = rtsys.get_allocation_stats()
        counts.append((after.mi_alloc - before.mi_alloc, after.alloc - before.alloc))
    assert counts[0] == counts[1] == counts[2]
