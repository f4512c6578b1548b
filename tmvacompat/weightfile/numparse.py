"""Bulk reading of a weight-file matrix: whitespace-separated decimal numbers to float64, as ``float()`` does.

A matrix element holds tens of thousands of numbers; ``np.array(text.split(), np.float64)`` converts them
one Python string at a time. :func:`parse_values` reads plain decimal tokens (``[+-]digits[.digits][e[+-]
digits]``) in one compiled loop and computes each exactly when Clinger's fast path applies: at most 15
significant digits (the integer is exact in a double) and a decimal exponent within 22 (the power of ten is
exact), so one IEEE multiplication or division gives the correctly rounded value - what ``float()`` gives.
The short numbers of float32 weight files (at most 9 digits) always qualify. Every other token (more
digits, huge exponents, ``inf``/``nan``, anything unusual) goes through ``float()`` itself, so the result is
that of ``np.array(text.split(), np.float64)`` for every input.

Example:
    >>> parse_values("1e-01  -2.5e-07\\n 3 ", 3)
    array([ 1.0e-01, -2.5e-07,  3.0e+00])
"""

from __future__ import annotations

import numpy as np
from numba import njit

_POW10 = np.array([10.0**k for k in range(23)])  # every one exact in a double


@njit(cache=True, inline="always")
def _is_space(c):
    # str.split()'s ASCII whitespace: \t \n \v \f \r, the separators \x1c-\x1f, and the space
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


@njit(cache=True)
def _parse(buf, out, starts, ends, slots, pow10):
    """Fill ``out`` from the tokens of ``buf``; returns (number of tokens, number of tokens left for
    ``float()``): their byte ranges are in ``starts``/``ends``, their places in ``out`` in ``slots``."""
    n = buf.shape[0]
    i = 0
    count = 0
    slow = 0
    cap = out.shape[0]
    while True:
        while i < n and _is_space(buf[i]):
            i += 1
        if i >= n:
            break
        start = i
        while i < n and not _is_space(buf[i]):
            i += 1
        end = i
        if count >= cap:
            count += 1
            continue
        # [+-] digits [. digits] [(e|E) [+-] digits]
        j = start
        neg = False
        if buf[j] == 43 or buf[j] == 45:
            neg = buf[j] == 45
            j += 1
        mant = 0
        sig = 0  # significant digits kept in mant
        scale = 0  # decimal exponent correction from the digits' position
        nd = 0  # digits seen
        ok = True
        dot = False  # past the '.': each digit lowers the decimal exponent
        while j < end:
            c = buf[j]
            if 48 <= c <= 57:
                d = c - 48
                nd += 1
                if mant != 0 or d != 0:
                    if sig < 18:
                        mant = mant * 10 + d
                        sig += 1
                    else:
                        ok = False
                if dot:
                    scale -= 1
            elif c == 46 and not dot:  # '.'
                dot = True
            else:
                break
            j += 1
        if nd == 0:
            ok = False
        exp = 0
        if ok and j < end and (buf[j] == 101 or buf[j] == 69):  # e / E
            j += 1
            eneg = False
            if j < end and (buf[j] == 43 or buf[j] == 45):
                eneg = buf[j] == 45
                j += 1
            ne = 0
            while j < end and 48 <= buf[j] <= 57:
                if exp < 100000:
                    exp = exp * 10 + (buf[j] - 48)
                ne += 1
                j += 1
            if ne == 0:
                ok = False
            if eneg:
                exp = -exp
        if j != end:
            ok = False
        e10 = exp + scale
        if ok and sig <= 15 and -22 <= e10 <= 22:
            v = float(mant)
            v = v * pow10[e10] if e10 >= 0 else v / pow10[-e10]
            out[count] = -v if neg else v
        elif ok and mant == 0:
            out[count] = -0.0 if neg else 0.0
        else:
            starts[slow] = start
            ends[slow] = end
            slots[slow] = count
            slow += 1
        count += 1
    return count, slow


def parse_values(text: str, n: int) -> np.ndarray | None:
    """The ``n`` numbers of ``text`` as float64, or None when ``text`` does not hold exactly ``n``
    whitespace-separated tokens or is not ASCII (the caller then reports what is wrong).

    Raises:
        ValueError: a token ``float()`` cannot read (as ``np.array(tokens, np.float64)`` would).
    """
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    buf = np.frombuffer(data, np.uint8)
    out = np.empty(n, np.float64)
    starts, ends, slots = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    count, slow = _parse(buf, out, starts, ends, slots, _POW10)
    if count != n:
        return None
    for s in range(slow):
        out[slots[s]] = float(data[starts[s] : ends[s]].decode("ascii"))
    return out


__all__ = ["parse_values"]
