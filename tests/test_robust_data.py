"""A TrainTestSplit fraction that rounds to no training event is refused (TMVA would
silently split half and half), the fraction is applied in TMVA's Float_t arithmetic, and a constant variable
is named the same way on the DataLoader path and the ``DataSet.from_arrays`` path."""

from __future__ import annotations

import numpy as np
import pytest

uproot = pytest.importorskip("uproot", reason="uproot writes the small input files")

from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.data.loader import DataLoader  # noqa: E402
from tmvacompat.errors import InputDataError, OptionError  # noqa: E402
from tmvacompat.methods.dl import MethodDL  # noqa: E402


def _file(path, n_s: int, n_b: int) -> str:
    with uproot.recreate(path) as f:
        for name, n, off in (("TreeS", n_s, 0.0), ("TreeB", n_b, 100.0)):
            tree = f.mktree(name, {"x": np.float32, "y": np.float32})
            tree.extend({"x": np.arange(n, dtype=np.float32) + off, "y": np.arange(n, dtype=np.float32) * 2})
    return str(path)


def _loader(path: str, options: str, variables=("x", "y")) -> DataLoader:
    loader = DataLoader()
    for v in variables:
        loader.AddVariable(v)
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree("", options)
    return loader


def test_a_split_fraction_giving_no_training_event_is_refused(tmp_path):
    path = _file(tmp_path / "s.root", 100, 100)
    with pytest.raises(OptionError) as err:
        _loader(path, "TrainTestSplit_Signal=1e-7:SplitMode=Block").GetDataSet()
    msg = str(err.value)
    assert "TrainTestSplit_Signal" in msg and "0 training events" in msg and "100 events" in msg
    # one event's worth is enough
    ds = _loader(path, "TrainTestSplit_Signal=0.01:SplitMode=Block:NormMode=None").GetDataSet()
    assert int((ds.train.class_ids == 0).sum()) == 1


def test_the_split_fraction_is_multiplied_in_float_as_tmva_does(tmp_path):
    # DataSetFactory::MixEvents: Int_t(Float_t fraction * Int_t count). In double 0.29 * 100 is
    # 28.999999999999996 (28 events); in float 0.29f * 100 rounds to 29.0 (29 events).
    assert int(0.29 * 100) == 28 and int(np.float32(0.29) * np.float32(100)) == 29
    path = _file(tmp_path / "f.root", 100, 100)
    ds = _loader(path, "TrainTestSplit_Signal=0.29:SplitMode=Block:NormMode=None").GetDataSet()
    assert int((ds.train.class_ids == 0).sum()) == 29
    assert int((ds.test.class_ids == 0).sum()) == 71


def test_a_constant_variable_is_named_on_both_paths(tmp_path):
    path = tmp_path / "c.root"
    with uproot.recreate(path) as f:
        for name in ("TreeS", "TreeB"):
            tree = f.mktree(name, {"x": np.float32, "c": np.float32})
            tree.extend({"x": np.arange(20, dtype=np.float32), "c": np.full(20, 2.0, np.float32)})
    with pytest.raises(InputDataError) as err:
        _loader(str(path), "SplitMode=Block", variables=("x", "c")).GetDataSet()
    assert "'c'" in str(err.value) and "constant" in str(err.value)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    x[:, 1] = 2.0
    y = np.arange(40) % 2
    ds = DataSet.from_arrays(x, y, x[:10], y[:10], variables=["a", "b", "c"])
    method = MethodDL("DL", "!H:!V:VarTransform=N:RandomSeed=1:Layout=TANH|4,LINEAR:"
                      "TrainingStrategy=MaxEpochs=1,BatchSize=8")  # fmt: skip
    with pytest.raises(InputDataError) as err:
        method.train(ds)
    assert "'b'" in str(err.value) and "constant" in str(err.value) and "NaN" not in str(err.value)
    assert err.value.token == "b"
