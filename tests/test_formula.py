from __future__ import annotations

import pytest

from tmvacompat._formula import eval_size_formula, is_size_formula
from tmvacompat.errors import LayoutError, OptionError, TMVACompatError, closest


@pytest.mark.parametrize(
    ("text", "nvar", "expected"),
    [("(N+100)*2", 4, 208), ("N+5", 3, 8), ("n*2", 7, 14), ("128", 9, 128), ("N/3", 10, 3), ("-N+20", 4, 16)],
)
def test_size_formula_matches_closed_form(text, nvar, expected):
    assert eval_size_formula(text, nvar) == expected


@pytest.mark.parametrize(
    ("text", "bad", "pos"), [("N+x", "x", 2), ("(N+1", None, 4), ("N//2", "/", 2), ("", "", 0)]
)
def test_size_formula_errors_name_token_and_position(text, bad, pos):
    with pytest.raises(LayoutError) as err:
        eval_size_formula(text, 3)
    assert err.value.position == pos
    if bad:
        assert repr(bad) in str(err.value)
    assert not is_size_formula(text)


def test_errors_are_value_errors_with_structured_fields():
    err = OptionError("unknown option 'BatchSze'", token="BatchSze", position=4, expected=["BatchSize"])
    assert isinstance(err, ValueError) and isinstance(err, TMVACompatError)
    assert "character 4" in str(err) and "BatchSize" in str(err)
    assert closest("batchsze", ["BatchSize", "MaxEpochs"]) == ["BatchSize"]
    import pickle

    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.expected == ["BatchSize"]
