"""Calls by address between Numba kernels (tmvacompat.engine.fnptr): a kernel compiles without its callee,
calls it correctly once resolved, gets its exceptions, and a call that does not match the declared
signature is a typing error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit, types
from numba.core.errors import TypingError

from tmvacompat.engine.fnptr import FunctionPointer, native_call, pointer

A1 = types.Array(types.float64, 1, "C")
SIG = types.float64(types.float64, A1, A1)
_call = native_call(lambda argtypes: SIG, "call_axpy")


@njit(cache=False)
def _axpy(a, x, y):
    for i in range(x.size):
        y[i] += a * x[i]
    return y.sum()


@njit(cache=False)
def _checked(a, x, y):
    if a < 0:
        raise ValueError("negative factor")
    return a


@njit(cache=False)
def _twice(addr, a, x, y):
    return _call(addr, (a, x, y)) + _call(addr, (a, x, y))


def test_caller_compiles_without_the_callee_and_calls_it():
    p = FunctionPointer(_axpy, SIG)
    # the caller's types come from the declared signature alone: nothing of the callee is compiled for it
    _twice.compile((types.int64, types.float64, A1, A1))
    assert not p.resolved and not _axpy.overloads
    x = np.arange(4.0)
    y = np.zeros(4)
    got = _twice(p.resolve(), 2.0, x, y)
    # y = 2x after the first call (sum 12), 4x after the second (sum 24)
    np.testing.assert_array_equal(y, 4 * x)
    assert got == 12.0 + 24.0
    assert p.resolved


def test_exception_in_the_callee_reaches_the_caller():
    p = pointer(_checked, SIG)
    with pytest.raises(ValueError, match="negative factor"):
        _twice(p.resolve(), -1.0, np.zeros(2), np.zeros(2))
    assert _twice(p.resolve(), 1.5, np.zeros(2), np.zeros(2)) == 3.0


def test_argument_that_does_not_convert_is_named():
    @njit(cache=False)
    def wrong(addr, x):
        return _call(addr, (1.0, x, x))

    with pytest.raises(TypingError, match=r"call_axpy: argument 1 is array\(float32"):
        wrong(pointer(_axpy, SIG).resolve(), np.zeros(2, np.float32))


def test_pointer_is_shared_per_dispatcher_and_signature():
    assert pointer(_axpy, SIG) is pointer(_axpy, SIG)
    other = types.float64(types.float64, A1, types.Array(types.float64, 1, "A"))
    assert pointer(_axpy, SIG) is not pointer(_axpy, other)


def test_wrong_return_type_is_named():
    p = FunctionPointer(_axpy, types.float32(types.float64, A1, A1))
    with pytest.raises(TypeError, match="_axpy returns float64 .* not float32"):
        p.resolve()


def test_imprecise_signature_rejected():
    with pytest.raises(TypeError, match="precise"):
        FunctionPointer(_axpy, types.float64(types.float64, types.Array(types.undefined, 1, "C"), A1))
