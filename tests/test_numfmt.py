"""Bulk number printing in weight files: byte-identical to numpy's per-value Dragon4 and to ``%`` formats.

The reference is the per-value formatting the writer used before (kept here): every float32 and float64 bit
pattern class is compared - random patterns, subnormals, signed zeros, infinities and NaNs, every binary
exponent with its extreme mantissas, powers of two and ten, values that need 9 (float32) or 17 (float64)
significant digits.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.weightfile.numfmt import shortest_float32, shortest_float64
from tmvacompat.weightfile.xmlwrite import fmt_values


def reference_fmt_values(arr, precision: str, sep: str, tmva_format: str = "%.6e") -> str:
    """The reference: per-value formatting (numpy's Dragon4 / Python's ``%``), one call per value."""
    flat = np.ascontiguousarray(arr).ravel()
    if precision == "tmva":
        return "".join((tmva_format % float(v)) + sep for v in flat)
    dt = flat.dtype if flat.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return "".join(
        np.format_float_scientific(dt.type(v), unique=True, trim="-", exp_digits=2) + sep for v in flat
    )


def _edge_bits(exp_bits: int, mant_bits: int) -> np.ndarray:
    """Every exponent with its smallest, largest, middle and near-boundary mantissas, and small patterns."""
    top = (1 << mant_bits) - 1
    mants = [0, 1, 2, 3, 4, 5, 9, 10, top, top - 1, top - 2, 1 << (mant_bits - 1), (1 << (mant_bits - 1)) - 1]
    out = [(e << mant_bits) | m for e in range(1 << exp_bits) for m in mants]
    out += list(range(5000))  # the smallest subnormals
    return np.array(out, np.uint64)


def _check(values: np.ndarray, sep: str = "  ") -> None:
    """The compiled printer and ``fmt_values`` (which keeps per-value calls for small arrays) both give
    the reference bytes."""
    want = reference_fmt_values(values, "lossless", sep)
    flat = np.ascontiguousarray(values).ravel()
    if flat.dtype == np.float32:
        compiled = shortest_float32(flat, sep)
    else:
        compiled = shortest_float64(flat.astype(np.float64), sep)
    for got in (compiled, fmt_values(values, "lossless", sep)):
        if got != want:
            g, w = got.split(sep) if sep else [got], want.split(sep) if sep else [want]
            bad = next((i for i in range(min(len(g), len(w))) if g[i] != w[i]), 0)
            pytest.fail(f"value {flat[bad]!r}: got {g[bad]!r}, numpy gives {w[bad]!r}")


def test_float32_random_and_edge_bit_patterns():
    rng = np.random.default_rng(20261207)
    bits = np.concatenate(
        [rng.integers(0, 1 << 32, 200_000, dtype=np.uint64), _edge_bits(8, 23), _edge_bits(8, 23) | (1 << 31)]
    ).astype(np.uint32)
    _check(bits.view(np.float32))
    typical = (rng.normal(size=50_000) * 0.1).astype(np.float32)  # trained weights
    _check(
        np.concatenate(
            [typical, np.float32(2.0) ** np.arange(-149, 128), np.float32(10.0) ** np.arange(-45, 39)]
        )
    )


def test_float64_random_and_edge_bit_patterns():
    rng = np.random.default_rng(7)
    bits = np.concatenate(
        [
            rng.integers(0, 1 << 64, 200_000, dtype=np.uint64),
            _edge_bits(11, 52),
            _edge_bits(11, 52) | np.uint64(1 << 63),
        ]
    )
    _check(bits.view(np.float64))
    values = np.concatenate(
        [
            2.0 ** np.arange(-1074, 1024),
            10.0 ** np.arange(-323, 309),
            rng.integers(1, 1 << 53, 20_000).astype(np.float64),  # exact integers up to 16 digits
            (rng.normal(size=20_000) * 0.1).astype(np.float32).astype(np.float64),
            [0.1, 1 / 3, 2 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 9007199254740993.0],
        ]
    )
    _check(values, " ")


@settings(max_examples=400, deadline=None)
@given(st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 64) - 1))
def test_any_bit_pattern_matches_numpy(b32, b64):
    _check(np.array([b32], np.uint32).view(np.float32))
    _check(np.array([b64], np.uint64).view(np.float64))


def test_other_dtypes_shapes_and_separators():
    _check(np.arange(-5, 7, dtype=np.int64).reshape(3, 4))
    _check(np.array([0.5, -1.25, 65504.0], np.float16))
    _check(np.zeros((0, 3), np.float32))
    _check(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3) / 7))
    _check(np.array([1.5, np.inf, -np.inf, np.nan, -np.nan, -0.0], np.float32), "")
    _check(np.array([1.5, np.inf, -np.inf, np.nan, -np.nan, -0.0]), "\t")
    assert shortest_float32(np.array([-0.0, 1e-45], np.float32), ",") == "-0e+00,1e-45,"
    assert shortest_float64(np.array([123.0, 1e16]), ",") == "1.23e+02,1e+16,"


@pytest.mark.parametrize("fmt", ["%.6e", "%.15e", "%.16e", "%.8e"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_tmva_precision_matches_per_value_percent_formatting(fmt, dtype):
    rng = np.random.default_rng(3)
    scale = 10.0 ** rng.integers(-30, 30, (40, 30)) if dtype != np.int32 else 1e6
    values = (rng.normal(size=(40, 30)) * scale).astype(dtype)
    values.ravel()[:3] = [0, -0.0, 1] if dtype != np.int32 else [0, -1, 1]
    for sep in ("  ", " ", "%"):
        assert fmt_values(values, "tmva", sep, fmt) == reference_fmt_values(values, "tmva", sep, fmt)
