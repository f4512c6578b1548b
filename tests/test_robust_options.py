"""Option values whose range is known are refused at booking; layer size formulas get
the size check a width written out gets once N is known; deep formulas are refused, not a RecursionError."""

from __future__ import annotations

import pytest

from tmvacompat._formula import MAX_DEPTH, MAX_SIZE, eval_size_formula
from tmvacompat.data.prepare_options import PREPARE_OPTIONS
from tmvacompat.errors import LayoutError, OptionError
from tmvacompat.layout import parse_layout
from tmvacompat.methods.declarations import DL_OPTIONS
from tmvacompat.options import parse_training_strategy


@pytest.mark.parametrize(
    ("options", "text", "name"),
    [
        (DL_OPTIONS, "RandomSeed=-1", "RandomSeed"),
        (DL_OPTIONS, "RandomSeed=4294967296", "RandomSeed"),
        (DL_OPTIONS, "ValidationSize=1e400", "ValidationSize"),
        (DL_OPTIONS, "ValidationSize=nan", "ValidationSize"),
        (DL_OPTIONS, "ValidationSize=3000000000", "ValidationSize"),
        (PREPARE_OPTIONS, "SplitSeed=4294967296", "SplitSeed"),
        (PREPARE_OPTIONS, "SplitSeed=-1", "SplitSeed"),
        (PREPARE_OPTIONS, "nTrain_Signal=-3", "nTrain_Signal"),
        (PREPARE_OPTIONS, "nTest_bg0=99999999999", "nTest_bg0"),
        (PREPARE_OPTIONS, "TrainTestSplit_Signal=1.5", "TrainTestSplit_Signal"),
        (PREPARE_OPTIONS, "TrainTestSplit_Signal=-0.1", "TrainTestSplit_Signal"),
    ],
)
def test_out_of_range_values_are_refused_at_booking_naming_the_option(options, text, name):
    with pytest.raises(OptionError) as err:
        options.parse(text)
    assert name in str(err.value)
    assert err.value.position == text.index("=") + 1


@pytest.mark.parametrize(
    ("options", "text", "value"),
    [
        (DL_OPTIONS, "RandomSeed=4294967295", 4294967295),
        (DL_OPTIONS, "RandomSeed=0", 0),
        (PREPARE_OPTIONS, "SplitSeed=4294967295", 4294967295),
        (PREPARE_OPTIONS, "TrainTestSplit_Signal=1", 1.0),
    ],
)
def test_range_limits_themselves_are_accepted(options, text, value):
    key = text.split("=")[0]
    assert options.parse(text)[key] == value


def test_training_strategy_integers_must_fit_tmvas_int():
    with pytest.raises(OptionError, match="BatchSize"):
        parse_training_strategy("BatchSize=3000000000")
    assert parse_training_strategy("BatchSize=2147483647")[0]["BatchSize"] == 2147483647


def test_a_formula_width_gets_the_literal_size_check_once_n_is_known():
    spec = parse_layout("DENSE|N*1000000000|TANH,DENSE|1|LINEAR")[0]  # 1e9 at N=1: a legal width
    assert spec.resolved_width(1) == MAX_SIZE
    with pytest.raises(LayoutError, match="4000000000 for N=4"):
        spec.resolved_width(4)
    with pytest.raises(LayoutError, match="too large"):
        parse_layout("DENSE|1000000001|TANH")  # the literal check it mirrors
    with pytest.raises(LayoutError, match="negative"):
        eval_size_formula("N-10", 4)
    assert eval_size_formula("N-10", 14) == 4


@pytest.mark.parametrize("text", ["(" * 400 + "1" + ")" * 400, "-" * 400 + "1", "+-" * 300 + "N"])
def test_deep_formulas_are_refused_with_a_layout_error(text):
    with pytest.raises(LayoutError, match="nesting deeper"):
        eval_size_formula(text, 4)
    with pytest.raises(LayoutError):
        parse_layout(f"DENSE|{text}|TANH")
    nested = "(" * (MAX_DEPTH - 1) + "N" + ")" * (MAX_DEPTH - 1)
    assert eval_size_formula(nested, 7) == 7


@pytest.mark.parametrize("text", ["1e300*1e300", "N*1e400", "9" * 400])
def test_overflowing_formulas_are_layout_errors(text):
    with pytest.raises(LayoutError):
        eval_size_formula(text, 3)


@pytest.mark.parametrize(
    "text",
    [
        "CreateMVAPdfs:NbinsMVAPdf=-5",
        "CreateMVAPdfs:NbinsMVAPdf=2000000000",
        "CreateMVAPdfs:MaxNSmoothMVAPdfBkg=100000000",
        "CreateMVAPdfs:NAvEvtPerBinMVAPdf=0",
    ],
)
def test_mva_pdf_counts_are_checked_when_the_method_is_booked(text):
    from tmvacompat.methods.dl import MethodDL

    with pytest.raises(OptionError, match="MVAPdf"):
        MethodDL("DL", f"!H:!V:Layout=TANH|4,LINEAR:{text}")
    assert MethodDL("DL", "!H:!V:Layout=TANH|4,LINEAR:CreateMVAPdfs:NAvEvtPerBinMVAPdf=0:NbinsMVAPdf=40")
