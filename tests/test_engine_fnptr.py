"""Function pointers between Numba kernels (tmvacompat.engine.fnptr): a kernel that takes one compiles
without its callee, calls it correctly once resolved, and a wrong declared signature is a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit, typeof, types

from tmvacompat.engine.fnptr import FunctionPointer, pointer

A1 = types.Array(types.float64, 1, "C")


@njit(cache=False)
def _axpy(a, x, y):
    for i in range(x.size):
        y[i] += a * x[i]
    return y.sum()


@njit(cache=False)
def _twice(f, a, x, y):
    return f(a, x, y) + f(a, x, y)


def test_caller_compiles_without_the_callee_and_calls_it():
    p = FunctionPointer(_axpy, types.float64(types.float64, A1, A1))
    # the caller's types come from the signature alone: nothing of the callee is compiled for it
    _twice.compile((typeof(p), types.float64, A1, A1))
    assert not p.resolved and not _axpy.overloads
    x = np.arange(4.0)
    y = np.zeros(4)
    got = _twice(p, 2.0, x, y)
    # y = 2x after the first call (sum 12), 4x after the second (sum 24)
    np.testing.assert_array_equal(y, 4 * x)
    assert got == 12.0 + 24.0
    assert p.resolved


def test_pointer_is_shared_per_dispatcher_and_signature():
    sig = types.float64(types.float64, A1, A1)
    assert pointer(_axpy, sig) is pointer(_axpy, sig)
    assert pointer(_axpy, sig) is not pointer(_axpy, types.float64(types.float64, A1, types.Array(
        types.float64, 1, "A")))


def test_wrong_return_type_is_named():
    p = FunctionPointer(_axpy, types.float32(types.float64, A1, A1))
    with pytest.raises(TypeError, match="_axpy returns float64 .* not float32"):
        p.resolve()


def test_imprecise_signature_rejected():
    with pytest.raises(TypeError, match="precise"):
        FunctionPointer(_axpy, types.float64(types.float64, types.Array(types.undefined, 1, "C"), A1))
