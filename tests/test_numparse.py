"""Bulk reading of matrix text: the same float64 bits as ``np.array(text.split(), np.float64)`` (``float()``
token by token) for what the writer produces, TMVA's own formats and unusual tokens."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.weightfile.numfmt import shortest_float32, shortest_float64
from tmvacompat.weightfile.numparse import parse_values
from tmvacompat.weightfile.xmlread import model_from_bytes
from tmvacompat.weightfile.xmlwrite import model_to_xml


def reference(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.float64)


def _same(text: str) -> None:
    want = reference(text)
    got = parse_values(text, len(want))
    assert got is not None
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))  # bits: signed zeros, NaNs


def test_written_numbers_and_tmva_formats_read_as_float_reads_them():
    rng = np.random.default_rng(11)
    bits32 = rng.integers(0, 0x7F800000, 100_000, dtype=np.uint64).astype(np.uint32)
    v32 = np.concatenate([bits32.view(np.float32), -(rng.normal(size=20_000) * 0.1).astype(np.float32)])
    _same(shortest_float32(v32, "  "))
    v64 = np.concatenate(
        [
            rng.integers(0, 0x7FF0000000000000, 50_000, dtype=np.uint64).view(np.float64),
            rng.normal(size=20_000),
        ]
    )
    _same(shortest_float64(v64, " "))
    for fmt in ("%.6e", "%.8e", "%.15e", "%.16e", "%.9g", "%.3f", "%d"):
        vals = v32[:3000].astype(np.float64) if fmt != "%d" else rng.integers(-(10**18), 10**18, 3000)
        _same(" ".join(fmt % v for v in vals.tolist()))


def test_unusual_tokens_and_whitespace():
    text = (
        "0 -0 +0.0 -0e+00 0e999 1e-400 1e400 -1e400 inf -inf nan -nan Infinity 1_0 +.5 5. 007 "
        "1E+3 1e+022 1e-022 1e23 1e-23 123456789012345 1234567890123456 12345678901234567890123 "
        "0.000000000000000000000000001 9007199254740993 4.9406564584124654e-324 2.2250738585072011e-308 "
        "1.7976931348623157e308 1.7976931348623159e308"
    )
    _same(text)
    _same("\t1\n2\r3\x0b4\x0c5\x1c6\x1d7\x1e8\x1f9   ")

    _same("")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.from_regex(r"[+-]?[0-9]{0,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?", fullmatch=True), max_size=8
    )
)
def test_any_decimal_token(tokens):
    tokens = [t for t in tokens if any(c.isdigit() for c in t.split("e")[0].split("E")[0])]
    _same(" ".join(tokens))


def test_wrong_count_non_ascii_and_bad_tokens_are_left_to_the_caller():
    assert parse_values("1 2 3", 2) is None
    assert parse_values("1 2", 3) is None
    assert parse_values("1\u00a02", 2) is None  # a no-break space: str.split() splits there, bytes do not
    with pytest.raises(ValueError):
        parse_values("1 2x 3", 3)
    with pytest.raises(ValueError):
        parse_values("1 0x10", 2)
    for bad in ("1.2.3", ".", "..5", "1..", "-.", "+"):  # one '.' at most, at least one digit: as float()
        with pytest.raises(ValueError):
            float(bad)
        with pytest.raises(ValueError):
            parse_values(f"1 {bad} 2", 3)


def test_large_and_small_matrices_load_to_the_written_values():
    """A network whose matrices lie on both sides of BULK_MIN_VALUES reads back bit for bit (float32)."""
    from tmvacompat.specs import DenseSpec
    from tmvacompat.weightfile import Model

    rng = np.random.default_rng(5)
    widths = [30, 100, 3]  # 3000 + 300 weights, 100 + 3 biases
    params = [
        {
            "Weights": (rng.normal(size=(o, i)) * 0.1).astype(np.float32),
            "Biases": (rng.normal(size=(o, 1)) * 0.1).astype(np.float32),
        }
        for i, o in zip(widths, widths[1:], strict=False)
    ]
    model = Model.from_parts(
        title="t",
        variables=[f"v{i}" for i in range(30)],
        layers=[DenseSpec(100, "TANH"), DenseSpec(3, "LINEAR")],
        params=params,
        analysis_type="Multiclass",
        classes=["a", "b", "c"],
    )
    back = model_from_bytes(model_to_xml(model).encode())
    for p, q in zip(params, back.network.params, strict=True):
        for name in ("Weights", "Biases"):
            assert q[name].dtype == np.float32
            np.testing.assert_array_equal(q[name].view(np.int32), p[name].view(np.int32))
