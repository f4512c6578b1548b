"""The package's errors also derive from the builtin a user's handler would name (issue: FileNotFoundError,
KeyError, MemoryError), and keep the package's base class and message."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import uproot

from tmvacompat import (
    DataLoader,
    InputDataError,
    SizeLimitError,
    TMVACompatError,
    WeightFileError,
    load_weights,
)
from tmvacompat.errors import InputNotFoundError
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile import Model


def _file(path) -> str:
    with uproot.recreate(path) as f:
        f["T"] = {"a": np.arange(10, dtype=np.float32), "b": np.ones(10, np.float32)}
    return str(path)


def _loader(spec: str, var: str = "a") -> DataLoader:
    loader = DataLoader("ds")
    loader.AddVariable(var, "F")
    loader.AddSignalTree(spec)
    loader.AddBackgroundTree(spec)
    return loader


def test_missing_input_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        _loader(f"{tmp_path}/missing.root:T").GetDataSet()
    assert isinstance(info.value, InputDataError) and "missing.root" in str(info.value)


def test_missing_tree_and_branch_are_key_errors(tmp_path):
    path = _file(tmp_path / "in.root")
    with pytest.raises(KeyError) as info:
        _loader(f"{path}:Tree").GetDataSet()
    assert isinstance(info.value, InputDataError)
    assert str(info.value).startswith("in.root") is False and "has no tree 'Tree'" in str(info.value)
    with pytest.raises(KeyError) as info:
        _loader(f"{path}:T", "c").GetDataSet()
    assert "branch 'c'" in str(info.value) and not str(info.value).startswith("'")
    m = Model.from_parts(
        title="t", variables=["a", "zz"], layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.ones((1, 2), np.float32), "Biases": np.zeros((1, 1), np.float32)}],
    )  # fmt: skip
    with uproot.open(path) as f, pytest.raises(KeyError, match="zz"):
        m.evaluate(f["T"])
    with pytest.raises(KeyError, match="zz"):
        m.evaluate({"a": np.zeros(3)})


def test_missing_weight_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_weights(tmp_path / "nope.weights.xml")
    assert isinstance(info.value, WeightFileError) and "nope.weights.xml" in str(info.value)


def test_errors_pickle_and_keep_their_message():
    for err in (
        InputNotFoundError("no branch 'x'", token="x", where="f.root:T"),
        SizeLimitError("too big", token="DENSE|1e12"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and isinstance(back, TMVACompatError)
    assert isinstance(SizeLimitError("x"), MemoryError)
