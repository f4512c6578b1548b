"""Bulk shortest round-trip printing of float32 and float64 arrays in the weight files' scientific form.

``np.format_float_scientific(v, unique=True, trim="-", exp_digits=2)`` (numpy's Dragon4) gives, for a finite
``v``, the shortest decimal that reads back to ``v``, the one nearest ``v`` when several are that short,
written as ``d[.ddd]e±XX``. Called once per value it costs microseconds in Python; a weight file holds tens
of thousands of values. :func:`shortest_float32` and :func:`shortest_float64` produce the same bytes for a
whole array in one compiled loop with Ulf Adams' Ryu method (PLDI 2018): the decimal interval of numbers
that round to ``v`` is scaled by a power of five held to 64 (float32) or 125 (float64) bits (tables below,
computed exactly with Python integers), digits are removed while both interval ends still differ, and the
last removed digit decides rounding. Interval ends count as inside when the mantissa is even (round-half-even
reading), as in Dragon4. Both are checked against numpy value by value in ``tests/test_numfmt.py``.

Example:
    >>> import numpy as np
    >>> shortest_float32(np.array([0.1, -2.5e-7, 0.0, 3.4028235e38], np.float32), "  ")
    '1e-01  -2.5e-07  0e+00  3.4028235e+38  '
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: from this many values on, weight-file matrices are printed (xmlwrite) and read (xmlread) by the compiled
#: loops; smaller ones keep the per-value calls, which cost less than a first use of Numba (about half a
#: second) in a process that has not started it yet
BULK_MIN_VALUES = 2048

# 2^POW5_INV_BITS / 5^q and 5^i / 2^k held as 59- and 61-bit integers: enough bits that every float32's
# interval ends are scaled exactly to the digit (Adams 2018); products with a 26-bit mantissa fit int64.
_POW5_INV_BITS = 59
_POW5_BITS = 61


def _pow5bits(e: int) -> int:
    """ceil(log2(5^e)) for e >= 1, 1 for e = 0 (the bit length used to scale the tables)."""
    return ((e * 1217359) >> 19) + 1


def _tables() -> tuple[np.ndarray, np.ndarray]:
    inv = [(1 << (_pow5bits(q) - 1 + _POW5_INV_BITS)) // 5**q + 1 for q in range(31)]
    pos = []
    for i in range(47):
        shift = _pow5bits(i) - _POW5_BITS
        pos.append(5**i >> shift if shift >= 0 else 5**i << -shift)
    return np.array(inv, np.int64), np.array(pos, np.int64)


_POW5_INV, _POW5 = _tables()


@njit(cache=True, inline="always")
def _mul_shift(m, factor, shift):
    # floor(m * factor / 2^shift) exactly, without a 128-bit product: m < 2^27 and factor < 2^62
    lo = factor & 0xFFFFFFFF
    hi = factor >> 32
    return (((m * lo) >> 32) + m * hi) >> (shift - 32)


@njit(cache=True, inline="always")
def _pow5_factor(v):
    n = 0
    while v % 5 == 0:
        v //= 5
        n += 1
    return n


@njit(cache=True)
def _shortest_digits(bits, pow5_inv, pow5):
    """(digits, exponent) with digits * 10^exponent the shortest nearest decimal of a finite non-zero
    float32 whose bit pattern (sign cleared) is ``bits``."""
    mant = bits & 0x7FFFFF
    expo = bits >> 23
    if expo == 0:
        e2 = 1 - 127 - 23 - 2
        m2 = mant
    else:
        e2 = expo - 127 - 23 - 2
        m2 = mant | 0x800000
    accept_bounds = (m2 & 1) == 0
    mv = 4 * m2
    mp = mv + 2
    # the lower neighbour is half as far away when v is a power of two above the smallest normal
    mm = mv - 1 - (1 if (mant != 0 or expo <= 1) else 0)
    vm_zeros = False
    vr_zeros = False
    last = 0
    if e2 >= 0:
        q = (e2 * 78913) >> 18  # floor(log10(2^e2))
        e10 = q
        k = _POW5_INV_BITS + ((q * 1217359) >> 19) + 1 - 1
        i = -e2 + q + k
        f = pow5_inv[q]
        vr = _mul_shift(mv, f, i)
        vp = _mul_shift(mp, f, i)
        vm = _mul_shift(mm, f, i)
        if q != 0 and (vp - 1) // 10 <= vm // 10:
            q1 = q - 1
            ll = _POW5_INV_BITS + ((q1 * 1217359) >> 19) + 1 - 1
            last = _mul_shift(mv, pow5_inv[q1], -e2 + q1 + ll) % 10
        if q <= 9:
            if mv % 5 == 0:
                vr_zeros = _pow5_factor(mv) >= q
            elif accept_bounds:
                vm_zeros = _pow5_factor(mm) >= q
            elif _pow5_factor(mp) >= q:
                vp -= 1
    else:
        q = (-e2 * 732923) >> 20  # floor(log10(5^-e2))
        e10 = q + e2
        i = -e2 - q
        k = ((i * 1217359) >> 19) + 1 - _POW5_BITS
        j = q - k
        f = pow5[i]
        vr = _mul_shift(mv, f, j)
        vp = _mul_shift(mp, f, j)
        vm = _mul_shift(mm, f, j)
        if q != 0 and (vp - 1) // 10 <= vm // 10:
            j1 = q - 1 - (((i + 1) * 1217359 >> 19) + 1 - _POW5_BITS)
            last = _mul_shift(mv, pow5[i + 1], j1) % 10
        if q <= 1:
            vr_zeros = True
            if accept_bounds:
                vm_zeros = mm == mv - 2
            else:
                vp -= 1
        elif q < 31:
            vr_zeros = (mv & ((1 << (q - 1)) - 1)) == 0
    removed = 0
    if vm_zeros or vr_zeros:
        while vp // 10 > vm // 10:
            vm_zeros = vm_zeros and vm % 10 == 0
            vr_zeros = vr_zeros and last == 0
            last = vr % 10
            vr //= 10
            vp //= 10
            vm //= 10
            removed += 1
        if vm_zeros:
            while vm % 10 == 0:
                vr_zeros = vr_zeros and last == 0
                last = vr % 10
                vr //= 10
                vp //= 10
                vm //= 10
                removed += 1
        if vr_zeros and last == 5 and vr % 2 == 0:
            last = 4  # exactly half way: round to even
        up = (vr == vm and (not accept_bounds or not vm_zeros)) or last >= 5
    else:
        while vp // 10 > vm // 10:
            last = vr % 10
            vr //= 10
            vp //= 10
            vm //= 10
            removed += 1
        up = vr == vm or last >= 5
    return vr + (1 if up else 0), e10 + removed


# float64: the tables hold 125-bit integers as (low 64 bits, high bits) pairs of uint64 (Ryu's d2s); a
# 55-bit mantissa times one of them is assembled from 32-bit partial products.
_D_POW5_INV_BITS = 125
_D_POW5_BITS = 125
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S64 = 64


def _tables64() -> tuple[np.ndarray, np.ndarray]:
    def split(v: int) -> tuple[int, int]:
        return v & 0xFFFFFFFFFFFFFFFF, v >> 64

    inv = [split((1 << (_pow5bits(q) - 1 + _D_POW5_INV_BITS)) // 5**q + 1) for q in range(292)]
    pos = []
    for i in range(326):
        shift = _pow5bits(i) - _D_POW5_BITS
        pos.append(split(5**i >> shift if shift >= 0 else 5**i << -shift))
    return np.array(inv, np.uint64), np.array(pos, np.uint64)


_D_POW5_INV, _D_POW5 = _tables64()


@njit(cache=True, inline="always")
def _umul128(a, b):
    """(high, low) 64-bit halves of the product of two uint64."""
    a_lo = a & _M32
    a_hi = a >> _S32
    b_lo = b & _M32
    b_hi = b >> _S32
    b00 = a_lo * b_lo
    mid1 = a_hi * b_lo + (b00 >> _S32)
    mid2 = a_lo * b_hi + (mid1 & _M32)
    high = a_hi * b_hi + (mid1 >> _S32) + (mid2 >> _S32)
    low = (mid2 << _S32) | (b00 & _M32)
    return high, low


@njit(cache=True, inline="always")
def _mul_shift64(m, lo, hi, shift):
    """(m * (hi * 2^64 + lo)) >> shift for 64 < shift < 128, as int64 (the result is below 2^62)."""
    high1, low1 = _umul128(m, hi)
    high0, _ = _umul128(m, lo)
    s = high0 + low1
    if s < high0:
        high1 += np.uint64(1)
    d = np.uint64(shift - _S64)
    return np.int64((high1 << (np.uint64(64) - d)) | (s >> d))


@njit(cache=True, inline="always")
def _pow5_factor64(v):
    n = 0
    while v % 5 == 0:
        v //= 5
        n += 1
    return n


@njit(cache=True)
def _shortest_digits64(bits, pow5_inv, pow5):
    """:func:`_shortest_digits` for a finite non-zero float64 bit pattern (sign cleared, as int64)."""
    mant = bits & 0xFFFFFFFFFFFFF
    expo = bits >> 52
    if expo == 0:
        e2 = 1 - 1023 - 52 - 2
        m2 = mant
    else:
        e2 = expo - 1023 - 52 - 2
        m2 = mant | (1 << 52)
    accept_bounds = (m2 & 1) == 0
    mv = 4 * m2
    mm_shift = 1 if (mant != 0 or expo <= 1) else 0
    mp = mv + 2
    mm = mv - 1 - mm_shift
    vm_zeros = False
    vr_zeros = False
    if e2 >= 0:
        # one digit more than needed (q - 1) so that the loop below always sees the last removed digit
        q = ((e2 * 78913) >> 18) - (1 if e2 > 3 else 0)
        e10 = q
        k = _D_POW5_INV_BITS + ((q * 1217359) >> 19) + 1 - 1
        i = -e2 + q + k
        lo = pow5_inv[q, 0]
        hi = pow5_inv[q, 1]
        vr = _mul_shift64(np.uint64(mv), lo, hi, i)
        vp = _mul_shift64(np.uint64(mp), lo, hi, i)
        vm = _mul_shift64(np.uint64(mm), lo, hi, i)
        if q <= 21:
            if mv % 5 == 0:
                vr_zeros = _pow5_factor64(mv) >= q
            elif accept_bounds:
                vm_zeros = _pow5_factor64(mm) >= q
            elif _pow5_factor64(mp) >= q:
                vp -= 1
    else:
        q = ((-e2 * 732923) >> 20) - (1 if -e2 > 1 else 0)
        e10 = q + e2
        i = -e2 - q
        k = ((i * 1217359) >> 19) + 1 - _D_POW5_BITS
        j = q - k
        lo = pow5[i, 0]
        hi = pow5[i, 1]
        vr = _mul_shift64(np.uint64(mv), lo, hi, j)
        vp = _mul_shift64(np.uint64(mp), lo, hi, j)
        vm = _mul_shift64(np.uint64(mm), lo, hi, j)
        if q <= 1:
            vr_zeros = True
            if accept_bounds:
                vm_zeros = mm_shift == 1
            else:
                vp -= 1
        elif q < 63:
            vr_zeros = (mv & ((1 << q) - 1)) == 0
    removed = 0
    last = 0
    if vm_zeros or vr_zeros:
        while vp // 10 > vm // 10:
            vm_zeros = vm_zeros and vm % 10 == 0
            vr_zeros = vr_zeros and last == 0
            last = vr % 10
            vr //= 10
            vp //= 10
            vm //= 10
            removed += 1
        if vm_zeros:
            while vm % 10 == 0:
                vr_zeros = vr_zeros and last == 0
                last = vr % 10
                vr //= 10
                vp //= 10
                vm //= 10
                removed += 1
        if vr_zeros and last == 5 and vr % 2 == 0:
            last = 4
        up = (vr == vm and (not accept_bounds or not vm_zeros)) or last >= 5
    else:
        while vp // 10 > vm // 10:
            last = vr % 10
            vr //= 10
            vp //= 10
            vm //= 10
            removed += 1
        up = vr == vm or last >= 5
    return vr + (1 if up else 0), e10 + removed


@njit(cache=True, inline="always")
def _put(out, pos, text):
    for c in text:
        out[pos] = c
        pos += 1
    return pos


@njit(cache=True, inline="always")
def _put_number(out, pos, digits, e10, buf):
    """``d[.ddd]e±XX`` for digits * 10^e10 at ``out[pos:]``; returns the next position."""
    nd = 0
    while True:
        buf[nd] = 48 + digits % 10
        digits //= 10
        nd += 1
        if digits == 0:
            break
    out[pos] = buf[nd - 1]
    pos += 1
    if nd > 1:
        out[pos] = 46  # '.'
        pos += 1
        for t in range(nd - 2, -1, -1):
            out[pos] = buf[t]
            pos += 1
    e = e10 + nd - 1
    out[pos] = 101  # 'e'
    out[pos + 1] = 45 if e < 0 else 43
    pos += 2
    if e < 0:
        e = -e
    if e >= 100:
        out[pos] = 48 + e // 100
        pos += 1
    out[pos] = 48 + (e // 10) % 10
    out[pos + 1] = 48 + e % 10
    return pos + 2


@njit(cache=True, inline="always")
def _put_special(out, pos, is_inf):
    if is_inf:
        out[pos] = 105  # inf
        out[pos + 1] = 110
        out[pos + 2] = 102
    else:
        out[pos] = 110  # nan
        out[pos + 1] = 97
        out[pos + 2] = 110
    return pos + 3


@njit(cache=True)
def _format_f32(bits, sep, out, pow5_inv, pow5):
    """Write every value of ``bits`` (float32 bit patterns as int64) followed by ``sep`` into ``out``;
    returns the number of bytes written."""
    buf = np.empty(20, np.uint8)
    pos = 0
    for n in range(bits.shape[0]):
        b = bits[n]
        if b & 0x80000000:
            if (b & 0x7FFFFFFF) <= 0x7F800000:  # numpy writes NaN without its sign
                out[pos] = 45  # '-'
                pos += 1
            b &= 0x7FFFFFFF
        if b >= 0x7F800000:
            pos = _put_special(out, pos, b == 0x7F800000)
        elif b == 0:
            pos = _put_number(out, pos, 0, 0, buf)
        else:
            digits, e10 = _shortest_digits(b, pow5_inv, pow5)
            pos = _put_number(out, pos, digits, e10, buf)
        pos = _put(out, pos, sep)
    return pos


@njit(cache=True)
def _format_f64(bits, sep, out, pow5_inv, pow5):
    """:func:`_format_f32` for float64 bit patterns (as int64)."""
    buf = np.empty(20, np.uint8)
    pos = 0
    inf = 0x7FF0000000000000
    for n in range(bits.shape[0]):
        b = bits[n]
        if b < 0:
            b &= 0x7FFFFFFFFFFFFFFF
            if b <= inf:
                out[pos] = 45  # '-'
                pos += 1
        if b >= inf:
            pos = _put_special(out, pos, b == inf)
        elif b == 0:
            pos = _put_number(out, pos, 0, 0, buf)
        else:
            digits, e10 = _shortest_digits64(b, pow5_inv, pow5)
            pos = _put_number(out, pos, digits, e10, buf)
        pos = _put(out, pos, sep)
    return pos


def shortest_float32(values: np.ndarray, sep: str) -> str:
    """Every value of the float32 array ``values`` (row-major) in shortest round-trip scientific form, each
    followed by ``sep``: byte for byte what ``np.format_float_scientific(v, unique=True, trim="-",
    exp_digits=2) + sep`` gives value by value."""
    flat = np.ascontiguousarray(values, dtype=np.float32).ravel()
    sep_b = np.frombuffer(sep.encode("utf-8"), np.uint8)
    out = np.empty(flat.size * (15 + sep_b.size), np.uint8)
    n = _format_f32(flat.view(np.uint32).astype(np.int64), sep_b, out, _POW5_INV, _POW5)
    return out[:n].tobytes().decode("utf-8")


def shortest_float64(values: np.ndarray, sep: str) -> str:
    """:func:`shortest_float32` for float64 values (up to 17 significant digits, 3-digit exponents).

    Example:
        >>> shortest_float64(np.array([1 / 3, 5e-324, -1e300]), " ")
        '3.333333333333333e-01 5e-324 -1e+300 '
    """
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    sep_b = np.frombuffer(sep.encode("utf-8"), np.uint8)
    out = np.empty(flat.size * (24 + sep_b.size), np.uint8)
    n = _format_f64(flat.view(np.int64), sep_b, out, _D_POW5_INV, _D_POW5)
    return out[:n].tobytes().decode("utf-8")


__all__ = ["shortest_float32", "shortest_float64", "BULK_MIN_VALUES"]
