"""Activation functions with their exact derivatives, as Numba kernels.

Codes are TMVA's ``EActivationFunction`` values (:data:`tmvacompat.specs.ACTIVATION_CODES`):
0 identity, 1 relu, 2 sigmoid, 3 tanh, 4 symmetric relu ``|x|``, 5 softsign ``x/(1+|x|)``,
6 gauss ``exp(-x^2)``, 7 fast tanh (computed exactly like tanh here; TMVA's CPU backend uses
``vdt::fast_tanh`` for it in VDT builds and plain ``tanh`` otherwise, ``Cpu/ActivationFunctions.hxx`` --
the two agree to about float32 rounding).

Derivatives follow TMVA's CPU backend (``Cpu/ActivationFunctions.hxx``) and are taken at the
*pre-activation* ``z``: relu' = 0 for z < 0 else 1 (so 1 at z = 0), symmrelu' = -1 for z < 0 else 1.

For float32 the tanh is a rational approximation accurate to float32 rounding (a few ulp) that Numba can
vectorise; ``np.tanh`` inside a Numba loop calls libm per element, which is about 40x slower. The
exponential in sigmoid and gauss is likewise a vectorisable float32 ``exp`` (:func:`fast_exp`, within 1
ulp on [-87, 88]). float64 uses the exact ``np.tanh`` and ``np.exp``.

The kernels :func:`act_forward` and :func:`act_backward` are ``@njit`` functions taking C-contiguous
arrays of any dimension (1-D and 2-D are what the engine uses), so other Numba kernels (the fused dense
path) can call them directly.

Example:
    >>> import numpy as np
    >>> z = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    >>> out = np.empty_like(z)
    >>> act_forward(1, z, out)
    >>> out
    array([0., 0., 2.], dtype=float32)
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from tmvacompat.engine.views import flat
from tmvacompat.errors import LayoutError
from tmvacompat.specs import ACTIVATION_CODES

IDENTITY, RELU, SIGMOID, TANH, SYMMRELU, SOFTSIGN, GAUSS, FTANH = range(8)

# Coefficients of a 13/6 odd/even rational minimax fit of tanh on [-7.9, 7.9] (the approximation used
# by the Eigen library for float32); beyond the clamp tanh rounds to +-1 in float32.
_CLAMP = np.float32(7.90531110763549805)
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
_TINY = np.float32(0.0004)


def _fma32(a, b, c):
    """Python stand-in for the float32 fused multiply-add (through float64; exact up to a rare double
    rounding)."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


def _rational_tanh_f32(x):
    """Python reference of the float32 rational tanh (used by tests; slow), in the kernel's order."""
    x = np.float32(x)
    if abs(x) < _TINY:
        return x
    xc = min(max(x, -_CLAMP), _CLAMP)
    x2 = np.float32(xc * xc)
    x4 = np.float32(x2 * x2)
    x8 = np.float32(x4 * x4)
    f0 = _fma32(_fma32(_A7, x2, _A5), x4, _fma32(_A3, x2, _A1))
    f1 = _fma32(_A13, x4, _fma32(_A11, x2, _A9))
    p = np.float32(_fma32(f1, x8, f0) * xc)
    q = _fma32(_fma32(_B6, x2, _B4), x4, _fma32(_B2, x2, _B0))
    return np.float32(p / q)


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (LLVM's ``llvm.fma``: the FMA instruction where the CPU has one).

    Explicit, so the result does not depend on whether LLVM vectorises or contracts a loop: every kernel
    that calls it gets the same bits.
    """
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, signature, args):
        ty = args[0].type
        name = "llvm.fma.f32" if ty == ir.FloatType() else "llvm.fma.f64"
        fnty = ir.FunctionType(ty, [ty, ty, ty])
        fn = builder.module.globals.get(name) or ir.Function(builder.module, fnty, name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


def _overload_float32(public, impl32, impl64) -> None:
    """Give ``public`` (a Python function) Numba implementations: ``impl32`` for float32 scalars, ``impl64``
    (the exact numpy function) for other floats."""

    @overload(public, jit_options={"error_model": "numpy"})
    def _ol(x):
        if isinstance(x, types.Float):
            return impl32 if x.bitwidth == 32 else impl64
        return None


def fast_tanh(x):  # pragma: no cover - replaced by the Numba overload inside jitted code
    """tanh of a scalar: rational approximation for float32, exact ``np.tanh`` for float64 (Numba only)."""
    return np.tanh(x)


def _tanh32(x):
    # branch-free (select) form so the loop vectorises; tiny |x| returns x exactly. Estrin's scheme with
    # fused multiply-adds: a short dependency chain, where Horner's scheme waits on latency
    xc = min(max(x, -_CLAMP), _CLAMP)
    x2 = xc * xc
    x4 = x2 * x2
    x8 = x4 * x4
    f0 = fma(fma(_A7, x2, _A5), x4, fma(_A3, x2, _A1))
    f1 = fma(_A13, x4, fma(_A11, x2, _A9))
    p = fma(f1, x8, f0) * xc
    q = fma(fma(_B6, x2, _B4), x4, fma(_B2, x2, _B0))
    r = p / q
    return x if abs(x) < _TINY else r


def _tanh64(x):
    return np.tanh(x)


_overload_float32(fast_tanh, _tanh32, _tanh64)


# float32 exp (Cephes' expf): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact n ln2), a
# degree-5 polynomial for e^r, and 2^n built in the exponent bits. Inputs clamp to [-87.3, 88]: the result
# stays a normal float (e^-87.3 = 1.2e-38 instead of a subnormal or 0; e^88 = 1.7e38 instead of up to 3.4e38
# or inf), which changes a sigmoid or gauss by less than 1e-37.
_EXP_LO = np.float32(-87.3365478515625)
_EXP_HI = np.float32(88.0)
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_E0 = np.float32(1.9875691500e-4)
_E1 = np.float32(1.3981999507e-3)
_E2 = np.float32(8.3334519073e-3)
_E3 = np.float32(4.1665795894e-2)
_E4 = np.float32(1.6666665459e-1)
_E5 = np.float32(5.0000001201e-1)


@intrinsic
def _f32_from_bits(typingctx, i):
    """The float32 whose bit pattern is the low 32 bits of the integer ``i`` (LLVM ``trunc`` + ``bitcast``;
    Numba widens int32 arithmetic to int64)."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if v.type.width != 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


def _exp_f32(x):
    """Python reference of the float32 exp (used by tests; slow), in the kernel's order."""
    x = np.float32(x)
    if x != x:
        return x
    xc = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(_fma32(xc, _LOG2E, np.float32(0.5)))
    r = _fma32(n, -_LN2_LO, _fma32(n, -_LN2_HI, xc))
    p = _fma32(_fma32(_fma32(_fma32(_fma32(_E0, r, _E1), r, _E2), r, _E3), r, _E4), r, _E5)
    y = np.float32(_fma32(p, np.float32(r * r), r) + np.float32(1))
    return np.float32(y * np.frombuffer(np.int32((int(n) + 127) << 23).tobytes(), np.float32)[0])


def fast_exp(x):  # pragma: no cover - replaced by the Numba overload inside jitted code
    """exp of a scalar: the vectorisable float32 version above for float32, ``np.exp`` for float64."""
    return np.exp(x)


def _exp32(x):
    xc = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(fma(xc, _LOG2E, np.float32(0.5)))
    r = fma(n, -_LN2_LO, fma(n, -_LN2_HI, xc))
    p = fma(fma(fma(fma(fma(_E0, r, _E1), r, _E2), r, _E3), r, _E4), r, _E5)
    y = fma(p, r * r, r) + np.float32(1)
    e = y * _f32_from_bits((np.int32(n) + 127) << 23)  # int32: AVX2 converts floats to int32 only
    return e if x == x else x  # a select: NaN stays NaN, the loop still vectorises


def _exp64(x):
    return np.exp(x)


_overload_float32(fast_exp, _exp32, _exp64)


@njit(cache=True, error_model="numpy")
def _forward_1d(code, z, out):
    n = z.size
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    if code == RELU:
        for i in range(n):
            out[i] = zero if z[i] < zero else z[i]
    elif code == SIGMOID:
        for i in range(n):
            out[i] = one / (one + fast_exp(-z[i]))
    elif code == TANH or code == FTANH:
        for i in range(n):
            out[i] = fast_tanh(z[i])
    elif code == SYMMRELU:
        for i in range(n):
            out[i] = abs(z[i])
    elif code == SOFTSIGN:
        for i in range(n):
            out[i] = z[i] / (one + abs(z[i]))
    elif code == GAUSS:
        for i in range(n):
            out[i] = fast_exp(-z[i] * z[i])
    else:
        for i in range(n):
            out[i] = z[i]


@njit(cache=True, error_model="numpy")
def _backward_1d(code, z, dy, out):
    n = z.size
    one = z.dtype.type(1)
    zero = z.dtype.type(0)
    two = z.dtype.type(2)
    if code == RELU:
        for i in range(n):
            out[i] = zero if z[i] < zero else dy[i]
    elif code == SIGMOID:
        for i in range(n):
            s = one / (one + fast_exp(-z[i]))
            out[i] = s * (one - s) * dy[i]
    elif code == TANH or code == FTANH:
        for i in range(n):
            t = fast_tanh(z[i])
            out[i] = (one - t * t) * dy[i]
    elif code == SYMMRELU:
        for i in range(n):
            out[i] = -dy[i] if z[i] < zero else dy[i]
    elif code == SOFTSIGN:
        for i in range(n):
            d = one + abs(z[i])
            out[i] = dy[i] / (d * d)
    elif code == GAUSS:
        for i in range(n):
            out[i] = -two * z[i] * fast_exp(-z[i] * z[i]) * dy[i]
    else:
        for i in range(n):
            out[i] = dy[i]


@njit(cache=True, error_model="numpy")
def act_forward(code, z, out):
    """``out = act(z)`` elementwise (C-contiguous arrays of equal size, any ndim; ``out`` may be ``z``).

    The loop over elements is specialised per code so each branch vectorises.
    """
    _forward_1d(code, flat(z), flat(out))


@njit(cache=True, error_model="numpy")
def act_backward(code, z, dy, out):
    """``out = act'(z) * dy`` elementwise, ``z`` the pre-activation (``out`` may be ``dy``).

    Derivatives as TMVA's CPU backend: relu' = 0 for z < 0 else 1, symmrelu' = -1 for z < 0 else 1.
    """
    _backward_1d(code, flat(z), flat(dy), flat(out))


@njit(cache=True, error_model="numpy")
def act_backward_from_output(code, z, y, dy, out):
    """Like :func:`act_backward` but reuses the forward output ``y`` where that is cheaper (tanh, sigmoid).

    Gives the same values as :func:`act_backward` up to rounding.
    """
    if code == TANH or code == FTANH or code == SIGMOID:
        yf = flat(y)
        df = flat(dy)
        of = flat(out)
        one = yf.dtype.type(1)
        if code == SIGMOID:
            for i in range(yf.size):
                of[i] = yf[i] * (one - yf[i]) * df[i]
        else:
            for i in range(yf.size):
                of[i] = (one - yf[i] * yf[i]) * df[i]
    else:
        _backward_1d(code, flat(z), flat(dy), flat(out))


def activation_code(activation: str | int) -> int:
    """TMVA activation keyword (``"TANH"``) or code (3) -> code; LayoutError for unknown names.

    >>> activation_code("RELU")
    1
    """
    if isinstance(activation, (int, np.integer)):
        if 0 <= int(activation) <= 7:
            return int(activation)
        raise LayoutError(
            f"activation code {int(activation)} out of range",
            token=str(activation),
            expected=[f"{v} ({k})" for k, v in ACTIVATION_CODES.items()],
        )
    key = str(activation).strip().upper()
    if key in ACTIVATION_CODES:
        return ACTIVATION_CODES[key]
    from tmvacompat.errors import closest

    raise LayoutError(
        f"unknown activation {activation!r}",
        token=str(activation),
        expected=closest(key, ACTIVATION_CODES) or list(ACTIVATION_CODES),
    )


def apply_activation(code: int, z: np.ndarray) -> np.ndarray:
    """``act(z)`` as a new array (convenience wrapper around :func:`act_forward`).

    >>> apply_activation(4, np.array([-2.0, 3.0]))
    array([2., 3.])
    """
    z = np.ascontiguousarray(z)
    out = np.empty_like(z)
    act_forward(int(code), z, out)
    return out


def activation_derivative(code: int, z: np.ndarray) -> np.ndarray:
    """``act'(z)`` as a new array.

    >>> activation_derivative(1, np.array([-1.0, 0.0, 1.0]))
    array([0., 1., 1.])
    """
    z = np.ascontiguousarray(z)
    out = np.empty_like(z)
    act_backward(int(code), z, np.ones_like(z), out)
    return out


__all__ = [
    "IDENTITY",
    "RELU",
    "SIGMOID",
    "TANH",
    "SYMMRELU",
    "SOFTSIGN",
    "GAUSS",
    "FTANH",
    "act_forward",
    "act_backward",
    "act_backward_from_output",
    "activation_code",
    "apply_activation",
    "activation_derivative",
    "fast_tanh",
]
