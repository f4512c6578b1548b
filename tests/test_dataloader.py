"""DataLoader and DataSet: real ROOT files against direct uproot reads; TMVA's splitting and weighting."""

from __future__ import annotations

import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import VECTORS

from tmvacompat.data.dataset import DataSet, internal_name
from tmvacompat.data.loader import DataLoader, DataLoaderWarning, _mix_order
from tmvacompat.errors import InputDataError, OptionError


def vec(*parts: str) -> str:
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test vectors not found at {path} (expected ../shared/vectors beside the checkout)")
    return str(path)


def read(path: str, tree: str, branches: list[str]) -> dict[str, np.ndarray]:
    return uproot.open(path)[tree].arrays(branches, library="np")


# --------------------------------------------------------------------------------------------- real files


def tutorial_loader(path: str, options: str) -> DataLoader:
    loader = DataLoader("dataset")
    loader.AddVariable("myvar1 := var1+var2", "F")
    loader.AddVariable("myvar2 := var1-var2", "Expression 2", "", "F")
    loader.AddVariable("var3", "Variable 3", "units", "F")
    loader.AddVariable("var4", "Variable 4", "units", "F")
    loader.AddSpectator("spec1 := var1*2", "Spectator 1", "units", "F")
    loader.AddSpectator("spec2 := var1*3", "Spectator 2", "units", "F")
    loader.AddSignalTree(f"{path}:TreeS", 1.0)
    loader.AddBackgroundTree(f"{path}:TreeB", 1.0)
    loader.SetBackgroundWeightExpression("weight")
    loader.PrepareTrainingAndTestTree("", "", options)
    return loader


def tutorial_truth(path: str) -> dict[int, np.ndarray]:
    """Per class: rows [myvar1, myvar2, var3, var4, spec1, spec2, weight] computed directly from uproot."""
    out = {}
    for ci, tree in enumerate(["TreeS", "TreeB"]):
        a = read(path, tree, ["var1", "var2", "var3", "var4"] + (["weight"] if tree == "TreeB" else []))
        v1, v2 = a["var1"].astype(np.float64), a["var2"].astype(np.float64)
        w = a.get("weight", np.ones(len(v1)))
        out[ci] = np.column_stack([v1 + v2, v1 - v2, a["var3"], a["var4"], v1 * 2, v1 * 3, w]).astype(
            np.float32
        )
    return out


def test_tmva_classification_tutorial_booking():
    path = vec("danchepkwony_rootPractice", "tmva_class_example.root")
    ds = tutorial_loader(
        path, "nTrain_Signal=1000:nTrain_Background=1000:SplitMode=Random:NormMode=NumEvents:!V"
    ).GetDataSet()
    truth = tutorial_truth(path)
    assert ds.class_names == ("Signal", "Background") and ds.analysis_type == "Classification"
    assert np.bincount(ds.train.class_ids).tolist() == [1000, 1000]
    assert np.bincount(ds.test.class_ids).tolist() == [5000, 5000]  # nTest=0: all remaining events
    assert ds.train.X.dtype == np.float32 and ds.train.X.shape == (2000, 4)
    assert ds.train.spectators.shape == (2000, 2)
    for sample in (ds.train, ds.test):
        rows = np.column_stack([sample.X, sample.spectators, sample.original_weights]).astype(np.float32)
        for ci in (0, 1):
            sel = sample.class_ids == ci
            np.testing.assert_array_equal(rows[sel], truth[ci][sample.entry[sel]])
    # train and test are disjoint and cover every entry of every tree
    for ci in (0, 1):
        entries = np.concatenate(
            [ds.train.entry[ds.train.class_ids == ci], ds.test.entry[ds.test.class_ids == ci]]
        )
        assert sorted(entries.tolist()) == list(range(6000))
    # NormMode=NumEvents: training weights of each class sum to its number of training events
    for ci in (0, 1):
        assert ds.train.sum_of_weights(ci) == pytest.approx(1000.0, rel=1e-9)
        w0 = ds.train.original_weights[ds.train.class_ids == ci]
        np.testing.assert_allclose(
            ds.train.weights[ds.train.class_ids == ci], w0 * 1000.0 / w0.sum(), rtol=1e-12
        )
    np.testing.assert_array_equal(ds.test.weights, ds.test.original_weights)  # test weights never rescaled
    # metadata as in the real weight file written by ROOT 6.24 for this booking
    v = ds.variables
    assert [(x.expression, x.label, x.title, x.unit, x.internal, x.type) for x in v] == [
        ("var1+var2", "myvar1", "myvar1", "", "myvar1", "F"),
        ("var1-var2", "myvar2", "Expression 2", "", "myvar2", "F"),
        ("var3", "var3", "Variable 3", "units", "var3", "F"),
        ("var4", "var4", "Variable 4", "units", "var4", "F"),
    ]
    assert [(s.expression, s.label, s.title) for s in ds.spectators] == [
        ("var1*2", "spec1", "Spectator 1"),
        ("var1*3", "spec2", "Spectator 2"),
    ]
    # ranges are over the training sample (as TMVA's CalcMinMax), within the all-events range
    for j, info in enumerate(v):
        assert info.min == float(ds.train.X[:, j].min()) and info.max == float(ds.train.X[:, j].max())
    # MixMode=SameAsSplitMode=Random: classes are shuffled together
    assert 0 < np.sum(np.diff(ds.train.class_ids) != 0) > 100


def test_split_is_reproducible_with_the_seed():
    path = vec("danchepkwony_rootPractice", "tmva_class_example.root")
    opts = "nTrain_Signal=300:nTrain_Background=300:nTest_Signal=300:nTest_Background=300:!V"
    a = tutorial_loader(path, opts).GetDataSet()
    b = tutorial_loader(path, opts).GetDataSet()
    c = tutorial_loader(path, opts + ":SplitSeed=7").GetDataSet()
    np.testing.assert_array_equal(a.train.X, b.train.X)
    assert not np.array_equal(a.train.entry, c.train.entry)
    # default NormMode=EqualNumEvents: every class sums to the number of training events of class 0
    assert a.train.sum_of_weights(0) == pytest.approx(300) and a.train.sum_of_weights(1) == pytest.approx(300)


def multiclass_tutorial(options: str) -> DataSet:
    """TMVAMulticlass.C's booking (ROOT's tutorials/tmva): var1..var4, one tree per class."""
    path = vec("nasufsonmez_multiclass", "tmva_multiclass_example.root")
    loader = DataLoader("dataset")
    loader.AddVariable("var1", "F")
    loader.AddVariable("var2", "Variable 2", "", "F")
    loader.AddVariable("var3", "Variable 3", "units", "F")
    loader.AddVariable("var4", "Variable 4", "units", "F")
    for tree, cname in (("TreeS", "Signal"), ("TreeB0", "bg0"), ("TreeB1", "bg1"), ("TreeB2", "bg2")):
        loader.AddTree(f"{path}:{tree}", cname)
    loader.PrepareTrainingAndTestTree("", options)
    return loader.GetDataSet()


def test_random_split_reproduces_tmva_multiclass_tutorial_event_by_event():
    # TMVA 6.33 on macOS (libc++) wrote TrainTree/TestTree in its DataSet's order
    out = vec("nasufsonmez_multiclass", "TMVAMulticlass.root")
    opts = "SplitMode=Random:NormMode=NumEvents:!V"
    ds = multiclass_tutorial(opts + ":SplitStdLib=libc++")
    for sample, tree in ((ds.train, "TrainTree"), (ds.test, "TestTree")):
        t = read(out, f"dataset/{tree}", ["classID", "var1", "var2", "var3", "var4"])
        np.testing.assert_array_equal(sample.class_ids, t["classID"])
        np.testing.assert_array_equal(sample.X, np.column_stack([t[f"var{i}"] for i in range(1, 5)]))
    # the same seed through libstdc++'s std::shuffle (ROOT built with GCC) is another split
    gnu = multiclass_tutorial(opts)
    assert np.mean(gnu.train.class_ids == ds.train.class_ids) < 0.5


def test_random_split_reproduces_tmva_regression_tutorial_event_by_event():
    src = vec("nasufsonmez_regression", "tmva_reg_example.root")
    out = vec("nasufsonmez_regression", "TMVAReg.root")
    loader = DataLoader("datasetreg")
    loader.AddVariable("var1", "Variable 1", "units", "F")
    loader.AddVariable("var2", "Variable 2", "units", "F")
    loader.AddSpectator("spec1:=var1*2", "Spectator 1", "units", "F")
    loader.AddSpectator("spec2:=var1*3", "Spectator 2", "units", "F")
    loader.AddTarget("fvalue")
    loader.AddRegressionTree(f"{src}:TreeR", 1.0)
    loader.SetWeightExpression("var1", "Regression")
    opts = "nTrain_Regression=1000:nTest_Regression=0:SplitMode=Random:NormMode=NumEvents:!V"
    loader.PrepareTrainingAndTestTree("", opts + ":SplitStdLib=libc++")
    ds = loader.GetDataSet()
    for sample, tree in ((ds.train, "TrainTree"), (ds.test, "TestTree")):
        t = read(out, f"datasetreg/{tree}", ["var1", "var2", "fvalue", "spec1", "weight"])
        np.testing.assert_array_equal(sample.X, np.column_stack([t["var1"], t["var2"]]))
        np.testing.assert_array_equal(sample.targets[:, 0], t["fvalue"])
        np.testing.assert_array_equal(sample.spectators[:, 0], t["spec1"])
        # training weights renormalised (NumEvents), stored as float32
        np.testing.assert_allclose(sample.weights, t["weight"], rtol=2e-7)


@pytest.mark.parametrize("codec", ["zlib", "lz4", "zstd", "lzma"])
def test_four_compressions_load_identically(codec):
    path = vec("root_written", f"class_{codec}.root")
    loader = DataLoader(chunk_entries=1000)
    for name in ("var1", "var2", "fixed3[1]", "njets"):
        loader.AddVariable(name)
    loader.AddSpectator("Max$(jet_pt)")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.SetWeightExpression("weight")
    loader.PrepareTrainingAndTestTree("isgood", "SplitMode=Block:NormMode=None")
    ds = loader.GetDataSet()
    for ci, tree in enumerate(["TreeS", "TreeB"]):
        arrs = uproot.open(path)[tree].arrays(
            ["var1", "var2", "fixed3", "njets", "isgood", "weight", "jet_pt"]
        )
        good = np.asarray(arrs["isgood"])
        expect = np.column_stack(
            [
                np.asarray(arrs["var1"]),
                np.asarray(arrs["var2"]),
                np.asarray(arrs["fixed3"])[:, 1],
                np.asarray(arrs["njets"]),
            ]
        ).astype(np.float32)[good]
        # nTrain=nTest=0: allAvailable/2 each (integer division: TMVA drops the last event of an odd count)
        n = len(expect) // 2 * 2
        expect = expect[:n]
        got = np.concatenate([ds.train.X[ds.train.class_ids == ci], ds.test.X[ds.test.class_ids == ci]])
        np.testing.assert_array_equal(got, expect)  # Block: first half train, second half test, in order
        assert (ds.train.class_ids == ci).sum() == n // 2
        maxpt = ak.fill_none(ak.max(arrs["jet_pt"], axis=1), 0)[good][:n]
        spec = np.concatenate(
            [ds.train.spectators[ds.train.class_ids == ci, 0], ds.test.spectators[ds.test.class_ids == ci, 0]]
        )
        np.testing.assert_array_equal(spec, np.asarray(maxpt, dtype=np.float32))
        w = np.concatenate(
            [ds.train.weights[ds.train.class_ids == ci], ds.test.weights[ds.test.class_ids == ci]]
        )
        np.testing.assert_array_equal(w, np.asarray(arrs["weight"], dtype=np.float32)[good][:n])
    assert ds.train.class_ids[: (ds.train.class_ids == 0).sum()].max() == 0  # MixMode=Block: class 0 first


def test_multiclass_tutorial_matches_tmva_train_and_test_trees():
    path = vec("nasufsonmez_multiclass", "tmva_multiclass_example.root")
    out = vec("nasufsonmez_multiclass", "TMVAMulticlass.root")
    loader = DataLoader("dataset")
    for v in ("var1", "var2", "var3", "var4"):
        loader.AddVariable(v, "F")
    for tree, cls in (("TreeS", "Signal"), ("TreeB0", "bg0"), ("TreeB1", "bg1"), ("TreeB2", "bg2")):
        loader.AddTree(f"{path}:{tree}", cls)
    loader.PrepareTrainingAndTestTree("", "SplitMode=Random:NormMode=NumEvents:!V")
    ds = loader.GetDataSet()
    assert ds.analysis_type == "Multiclass" and ds.class_names == ("Signal", "bg0", "bg1", "bg2")
    tmva = {
        s: uproot.open(out)[f"dataset/{s}"].arrays(
            ["classID", "var1", "var2", "var3", "var4", "weight"], library="np"
        )
        for s in ("TrainTree", "TestTree")
    }
    # same numbers of events per class as TMVA's TrainTree/TestTree, same weights (NumEvents, unit weights)
    assert np.bincount(ds.train.class_ids).tolist() == np.bincount(tmva["TrainTree"]["classID"]).tolist()
    assert np.bincount(ds.test.class_ids).tolist() == np.bincount(tmva["TestTree"]["classID"]).tolist()
    np.testing.assert_allclose(ds.train.weights, 1.0)
    # the union of train and test is, class by class, exactly the set of events TMVA used
    for ci in range(4):
        ours = np.concatenate([ds.train.X[ds.train.class_ids == ci], ds.test.X[ds.test.class_ids == ci]])
        theirs = np.concatenate(
            [
                np.column_stack([t[f"var{k}"] for k in range(1, 5)])[t["classID"] == ci]
                for t in (tmva["TrainTree"], tmva["TestTree"])
            ]
        ).astype(np.float32)
        np.testing.assert_array_equal(np.sort(ours, axis=0), np.sort(theirs, axis=0))


def test_regression_tree():
    path = vec("root_written", "regression.root")
    loader = DataLoader("dataset")
    loader.AddVariable("var1", "Variable 1", "units", "F")
    loader.AddVariable("var2", "Variable 2", "units", "F")
    loader.AddTarget("fvalue")
    loader.AddRegressionTree(f"{path}:TreeR", 1.0)
    loader.PrepareTrainingAndTestTree(
        "", "nTrain_Regression=1000:nTest_Regression=500:SplitMode=Block:NormMode=NumEvents"
    )
    ds = loader.GetDataSet()
    assert ds.analysis_type == "Regression" and ds.class_names == ("Regression",)
    a = read(path, "TreeR", ["var1", "var2", "fvalue"])
    np.testing.assert_array_equal(ds.train.X, np.column_stack([a["var1"], a["var2"]])[:1000])
    np.testing.assert_array_equal(ds.train.targets[:, 0], a["fvalue"][:1000])
    # Block with nTrain and nTest both set: TMVA first assigns max(nTrain, 0) + NFree/2 events to training,
    # NFree = 5000 - 1000 - 500, and the rest to testing, then keeps the first nTrain / nTest of each
    np.testing.assert_array_equal(ds.test.targets[:, 0], a["fvalue"][2750:3250])
    assert ds.targets[0].expression == "fvalue" and ds.targets[0].max == float(a["fvalue"][:1000].max())


def test_variables_array_over_a_chain_of_two_files():
    p0, p1 = vec("root_written", "images_part0.root"), vec("root_written", "images_part1.root")
    loader = DataLoader("dataset", chunk_entries=300)
    loader.AddVariablesArray("vars", 64)
    loader.AddSignalTree([f"{p0}:sig_tree", f"{p1}:sig_tree"])
    loader.AddBackgroundTree([f"{p0}:bkg_tree", (p1, "bkg_tree")])
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:MixMode=Alternate:NormMode=None")
    ds = loader.GetDataSet()
    assert ds.train.X.shape == (1000, 64) and ds.test.X.shape == (1000, 64)
    assert [v.internal for v in ds.variables[:2]] == ["vars[0]", "vars[1]"]
    assert {v.expression for v in ds.variables} == {"vars"} and ds.variables[5].title == "[5]"
    sig = np.concatenate([read(p, "sig_tree", ["vars"])["vars"] for p in (p0, p1)])
    bkg = np.concatenate([read(p, "bkg_tree", ["vars"])["vars"] for p in (p0, p1)])
    # MixMode=Alternate with equal class sizes: S, B, S, B, ...
    assert ds.train.class_ids[:6].tolist() == [0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(ds.train.X[ds.train.class_ids == 0], sig[:500])
    np.testing.assert_array_equal(ds.test.X[ds.test.class_ids == 1], bkg[500:])
    assert ds.sources[0].endswith("images_part0.root:sig_tree") and set(ds.test.source.tolist()) == {1, 3}


def test_jagged_fixed_int_and_bool_branches():
    path = vec("root_written", "class_zlib.root")
    loader = DataLoader()
    loader.AddVariable("jet_pt")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block")
    with pytest.raises(InputDataError) as info:
        loader.GetDataSet()
    assert (
        info.value.token == "jet_pt" and "jet_pt[0]" in str(info.value) and "Max$(jet_pt)" in str(info.value)
    )

    loader = DataLoader()
    loader.AddVariable("lead := jet_pt[0]")
    loader.AddVariable("Max$(jet_pt)")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree("njets >= 2 && isgood", "SplitMode=Block:NormMode=None")
    ds = loader.GetDataSet()
    a = uproot.open(path)["TreeS"].arrays(["jet_pt", "njets", "isgood"])
    sel = (np.asarray(a["njets"]) >= 2) & np.asarray(a["isgood"]) & (np.asarray(ak.num(a["jet_pt"])) > 0)
    lead = np.asarray(ak.fill_none(ak.firsts(a["jet_pt"]), 0), dtype=np.float32)[sel]
    maxpt = np.asarray(ak.fill_none(ak.max(a["jet_pt"], axis=1), 0), dtype=np.float32)[sel]
    got = np.concatenate([ds.train.X[ds.train.class_ids == 0], ds.test.X[ds.test.class_ids == 0]])
    n = len(lead) // 2 * 2  # half and half; an odd last event is dropped, as in TMVA
    np.testing.assert_array_equal(got[:, 0], lead[:n])
    np.testing.assert_array_equal(got[:, 1], maxpt[:n])
    assert ds.classes[0].cut == "njets>=2&&isgood" or "njets" in ds.classes[0].cut


def test_entries_without_data_for_an_index_make_no_event(tmp_path):
    path = tmp_path / "jag.root"
    with uproot.recreate(path) as f:
        write_tree(f, "S", {"j": ak.Array([[1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0]]), "x": np.arange(4.0)})
        write_tree(f, "B", {"j": ak.Array([[1.0], [2.0], [3.0], [4.0]]), "x": np.arange(4.0) + 10})
    loader = DataLoader()
    loader.AddVariable("j[1]")
    loader.AddVariable("x")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
    # background has no second element anywhere: class empty -> error naming the class
    with pytest.raises(InputDataError, match="Background"):
        loader.GetDataSet()
    loader = DataLoader()
    loader.AddVariable("Alt$(j[1], -1)")
    loader.AddVariable("x")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
    ds = loader.GetDataSet()
    np.testing.assert_array_equal(ds.train.X[ds.train.class_ids == 0], [[2.0, 0.0], [-1.0, 1.0]])


# --------------------------------------------------------------------------------------------- errors


def write_tree(f, name: str, data: dict) -> None:
    """A TTree (uproot's dict assignment would write an RNTuple)."""
    types = {
        k: ("var * float64" if isinstance(v, ak.Array) else np.asarray(v).dtype) for k, v in data.items()
    }
    tree = f.mktree(name, types)
    tree.extend(data)


def simple_file(path: Path, n_s: int = 10, n_b: int = 6, nan_at: int | None = None, w_b=None) -> str:
    x = np.arange(n_s, dtype=np.float32)
    if nan_at is not None:
        x[nan_at] = np.nan
    with uproot.recreate(path) as f:
        write_tree(
            f, "TreeS", {"x": x, "y": np.arange(n_s, dtype=np.float32) * 2, "w": np.linspace(0.5, 1.5, n_s)}
        )
        write_tree(
            f,
            "TreeB",
            {
                "x": np.arange(n_b, dtype=np.float32) + 100,
                "y": np.arange(n_b, dtype=np.float32),
                "w": np.asarray(w_b if w_b is not None else np.linspace(1.0, 2.0, n_b)),
            },
        )
    return str(path)


def make(
    path: str, options: str, cut: str = "", weight: str = "w", chunk: int = 1_000_000, threads: int = 1
) -> DataLoader:
    loader = DataLoader(chunk_entries=chunk, threads=threads)
    loader.AddVariable("x")
    loader.AddVariable("y")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    if weight:
        loader.SetWeightExpression(weight)
    loader.PrepareTrainingAndTestTree(cut, options)
    return loader


def test_missing_file_tree_branch(tmp_path):
    path = simple_file(tmp_path / "s.root")
    loader = DataLoader()
    with pytest.raises(InputDataError, match="does not exist") as info:
        loader.AddSignalTree(str(tmp_path / "nofile.root") + ":TreeS")
    assert "nofile.root" in str(info.value)
    with pytest.raises(InputDataError) as info:
        loader.AddSignalTree(f"{path}:TreeX")
    assert "TreeX" in str(info.value) and "TreeB, TreeS" in str(info.value)
    loader = DataLoader()
    loader.AddVariable("xx + y")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    with pytest.raises(InputDataError) as info:
        loader.GetDataSet()
    err = info.value
    assert err.token == "xx" and "TreeS" in str(err) and "s.root" in str(err) and err.expected[0] == "x"


def test_nan_input_is_refused_with_variable_tree_and_entry(tmp_path):
    path = simple_file(tmp_path / "n.root", nan_at=3)
    with pytest.raises(InputDataError) as info:
        make(path, "SplitMode=Block").GetDataSet()
    msg = str(info.value)
    assert "'x'" in msg and "entry 3" in msg and "TreeS" in msg
    # removed by the cut: TMVA only warns
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = make(path, "SplitMode=Block:NormMode=None", cut="y != 6").GetDataSet()
    assert any(issubclass(r.category, DataLoaderWarning) for r in rec)
    # 9 signal events left: 4 + 4 (allAvailable/2 each, the odd one dropped as TMVA does), background 3 + 3
    assert np.isfinite(ds.train.X).all() and len(ds.train) + len(ds.test) == 8 + 6


def test_empty_class_after_cut_and_zero_weights(tmp_path):
    path = simple_file(tmp_path / "e.root", w_b=np.zeros(6))
    with pytest.raises(InputDataError, match="Signal") as info:
        make(path, "SplitMode=Block", cut="x > 50 && x < 100").GetDataSet()
    assert "x > 50" in str(info.value)
    with pytest.raises(InputDataError, match="weight 0") as info:
        make(path, "SplitMode=Block").GetDataSet()
    assert info.value.token == "Background"


def test_too_few_events_and_bad_options(tmp_path):
    path = simple_file(tmp_path / "t.root")
    with pytest.raises(InputDataError, match="more events requested") as info:
        make(path, "nTrain_Signal=20:SplitMode=Block").GetDataSet()
    assert info.value.token == "nTrain_Signal"
    with pytest.raises(InputDataError, match="more events requested"):
        make(path, "nTrain_Signal=8:nTest_Signal=5:SplitMode=Random").GetDataSet()
    with pytest.raises(OptionError) as oinfo:
        make(path, "nTrain_Signl=3")
    assert "nTrain_Signal" in oinfo.value.expected
    with pytest.raises(OptionError):
        make(path, "SplitMode=Shuffle")


# --------------------------------------------------------------------------------------------- split rules


def test_block_split_and_block_mix_closed_form(tmp_path):
    path = simple_file(tmp_path / "b.root")
    ds = make(path, "nTrain_Signal=4:nTest_Signal=3:SplitMode=Block:NormMode=None").GetDataSet()
    # Signal (TMVA's case A): NFree = 10 - 4 - 3 = 3, the first 4 + NFree/2 = 5 events are set aside for
    # training and the rest for testing, then each is cut to its first nTrain / nTest events.
    # Background (0/0): half and half. MixMode=Block: the classes one after the other.
    np.testing.assert_array_equal(ds.train.X[:, 0], [0, 1, 2, 3, 100, 101, 102])
    np.testing.assert_array_equal(ds.test.X[:, 0], [5, 6, 7, 103, 104, 105])
    assert ds.train.class_ids.tolist() == [0, 0, 0, 0, 1, 1, 1]


def test_alternate_split_and_mix_closed_form(tmp_path):
    path = simple_file(tmp_path / "a.root")
    ds = make(path, "nTrain_Signal=3:SplitMode=Alternate:NormMode=None").GetDataSet()
    # Signal: one to training, one to testing while training needs events, then the rest to testing
    # Background (0/0): 3/3 alternating; MixMode=Alternate interleaves the classes
    np.testing.assert_array_equal(ds.train.X[:, 0], [0, 100, 2, 102, 4, 104])
    np.testing.assert_array_equal(ds.test.X[:, 0], [1, 101, 3, 103, 5, 105, 6, 7, 8, 9])


def test_mix_alternate_matches_a_literal_port_of_tmva_insertion():
    # TMVA inserts class c's k-th event cls+1 places after the previous one while room remains
    def reference(sizes):
        vec = list(range(sizes[0]))
        start = sizes[0]
        for cls in range(1, len(sizes)):
            target = -1
            new = list(range(start, start + sizes[cls]))
            start += sizes[cls]
            for k, e in enumerate(new):
                if len(vec) - target < cls + 1:
                    vec.extend(new[k:])
                    break
                target += cls + 1
                vec.insert(target, e)
        return vec

    for sizes in ([3, 2], [1, 3], [5, 5, 5], [2, 7, 1], [6, 1, 4, 3], [0, 3], [4, 0, 2]):
        assert _mix_order(sizes, "ALTERNATE", None).tolist() == reference(sizes), sizes


# TMVA's DataSetFactory::MixEvents for trees without a train/test type, transcribed with the real TRandom3
# and the real std::shuffle: every undefined vector shuffled (class by class), each class split by the
# requested numbers, training then test vector trimmed by shuffled indices, then both vectors shuffled.
_MIX_CPP = r"""
#include "TRandom3.h"
#include <algorithm>
#include <vector>
struct TmvacompatMixRG {
   using result_type = UInt_t;
   TRandom3 fR;
   explicit TmvacompatMixRG(UInt_t s) { fR.SetSeed(s); }
   static constexpr UInt_t min() { return 0; }
   static constexpr UInt_t max() { return kMaxUInt; }
   UInt_t operator()() { return fR.Integer(max()); }
};
void tmvacompat_trim(std::vector<long> &v, long requested, TmvacompatMixRG &g) {
   long size = v.size();
   if (size <= requested) return;
   std::vector<long> idx(size);
   for (long i = 0; i < size; ++i) idx[i] = i;
   std::shuffle(idx.begin(), idx.end(), g);
   for (long k = 0; k < size - requested; ++k) v[idx[k]] = -1;
   v.erase(std::remove(v.begin(), v.end(), -1L), v.end());
}
std::vector<long> tmvacompat_mix(UInt_t seed, std::vector<long> sizes, std::vector<long> nTrain,
                                 std::vector<long> nTest) {
   TmvacompatMixRG g(seed);
   size_t nc = sizes.size();
   std::vector<std::vector<long>> und(nc), tr(nc), te(nc);
   for (size_t c = 0; c < nc; ++c)
      for (long i = 0; i < sizes[c]; ++i) und[c].push_back(long(c) * 1000000 + i);
   for (size_t c = 0; c < nc; ++c)
      if (!und[c].empty()) std::shuffle(und[c].begin(), und[c].end(), g);
   for (size_t c = 0; c < nc; ++c) {
      long u = und[c].size(), R = nTrain[c], S = nTest[c], useTr, useTe;
      if (R == 0 && S == 0) { useTr = useTe = u / 2; R = useTr; S = useTe; }
      else if (S == 0) { useTr = R; useTe = u - R; S = useTe; }
      else if (R == 0) { useTe = S; useTr = u - S; R = useTr; }
      else { useTr = R + std::max(u - R - S, 0L) / 2; useTe = u - useTr; }
      tr[c].assign(und[c].begin(), und[c].begin() + useTr);
      te[c].assign(und[c].begin() + useTr, und[c].begin() + useTr + useTe);
      tmvacompat_trim(tr[c], R, g);
      tmvacompat_trim(te[c], S, g);
   }
   std::vector<long> train, test;
   for (size_t c = 0; c < nc; ++c) {
      train.insert(train.end(), tr[c].begin(), tr[c].end());
      test.insert(test.end(), te[c].begin(), te[c].end());
   }
   std::shuffle(train.begin(), train.end(), g);
   std::shuffle(test.begin(), test.end(), g);
   train.push_back(-2);
   train.insert(train.end(), test.begin(), test.end());
   return train;
}
bool tmvacompat_mix_uses_libstdcxx() {
#ifdef __GLIBCXX__
   return true;
#else
   return false;
#endif
}
"""


@pytest.mark.parametrize(
    "n_s, n_b, requests",
    [
        (50, 37, (10, 12, 7, 9)),  # both requested, fewer than available: random trimming of both
        (41, 30, (0, 0, 0, 0)),  # half each
        (40, 33, (15, 0, 0, 11)),  # one of the two requested
        (25, 20, (25, 0, 0, 20)),  # everything in one sample, nothing in the other
    ],
)
def test_random_split_and_trimming_match_tmva_with_real_std_shuffle(tmp_path, n_s, n_b, requests):
    ROOT = pytest.importorskip("ROOT", reason="PyROOT (the `root` package) is not installed")
    if not hasattr(ROOT, "tmvacompat_mix"):
        ROOT.gInterpreter.Declare(_MIX_CPP)
    if not ROOT.tmvacompat_mix_uses_libstdcxx():
        pytest.skip("ROOT's interpreter does not use libstdc++")
    path = simple_file(tmp_path / "m.root", n_s=n_s, n_b=n_b)
    rs, ss, rb, sb = requests
    opts = (
        f"nTrain_Signal={rs}:nTest_Signal={ss}:nTrain_Background={rb}:nTest_Background={sb}"
        ":SplitMode=Random:NormMode=None:SplitSeed=4242"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataLoaderWarning)  # an empty test sample is only a warning
        ds = make(path, opts).GetDataSet()
    ref = np.asarray(list(ROOT.tmvacompat_mix(4242, [n_s, n_b], [rs, rb], [ss, sb])))
    cut = int(np.flatnonzero(ref == -2)[0])
    for sample, codes in ((ds.train, ref[:cut]), (ds.test, ref[cut + 1 :])):
        np.testing.assert_array_equal(sample.class_ids.astype(np.int64) * 1000000 + sample.entry, codes)


def test_random_split_properties(tmp_path):
    path = simple_file(tmp_path / "r.root")
    ds = make(
        path, "nTrain_Signal=4:nTest_Signal=3:SplitMode=Random:MixMode=Block:NormMode=None"
    ).GetDataSet()
    tr = ds.train.X[ds.train.class_ids == 0, 0]
    te = ds.test.X[ds.test.class_ids == 0, 0]
    assert len(tr) == 4 and len(te) == 3 and not set(tr) & set(te) and set(tr) | set(te) <= set(range(10))
    np.testing.assert_array_equal(
        ds.train.X[:, 1],
        ds.train.X[:, 0] * np.where(ds.train.class_ids == 0, 2, 1)
        - np.where(ds.train.class_ids == 1, 100, 0),
    )


@pytest.mark.parametrize("norm", ["None", "NumEvents", "EqualNumEvents"])
def test_norm_modes_closed_form(tmp_path, norm):
    path = simple_file(tmp_path / "w.root")
    ds = make(path, f"nTrain_Signal=6:nTrain_Background=2:SplitMode=Block:NormMode={norm}").GetDataSet()
    ws = np.linspace(0.5, 1.5, 10).astype(np.float32).astype(np.float64)
    wb = np.linspace(1.0, 2.0, 6).astype(np.float32).astype(np.float64)
    tr_s, tr_b = ws[:6], wb[:2]
    factor = {
        "None": (1.0, 1.0),
        "NumEvents": (6 / tr_s.sum(), 2 / tr_b.sum()),
        "EqualNumEvents": (6 / tr_s.sum(), 6 / tr_b.sum()),
    }[norm]
    np.testing.assert_allclose(
        ds.train.weights, np.concatenate([tr_s * factor[0], tr_b * factor[1]]), rtol=1e-12
    )
    np.testing.assert_array_equal(ds.train.original_weights, np.concatenate([tr_s, tr_b]))
    np.testing.assert_array_equal(ds.test.weights, np.concatenate([ws[6:], wb[2:]]))


def test_tree_weight_and_treetype(tmp_path):
    path = simple_file(tmp_path / "tt.root")
    loader = DataLoader()
    loader.AddVariable("x")
    loader.AddTree(f"{path}:TreeS", "Signal", 2.0, "", "Training")
    loader.AddTree(f"{path}:TreeS", "Signal", 0.5, "x < 3", "Test")
    loader.AddTree(f"{path}:TreeB", "Background", 1.0)
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
    ds = loader.GetDataSet()
    s_tr, s_te = ds.train.of_class(0), ds.test.of_class(0)
    np.testing.assert_array_equal(s_tr.X[:, 0], np.arange(10))
    np.testing.assert_array_equal(s_te.X[:, 0], [0, 1, 2])
    np.testing.assert_array_equal(s_tr.weights, 2.0)
    np.testing.assert_array_equal(s_te.weights, 0.5)
    with pytest.raises(InputDataError, match="tree type"):
        loader.AddTree(f"{path}:TreeS", "Signal", 1.0)  # the first Signal tree had an explicit type


def test_chunked_reading_equals_one_shot(tmp_path):
    path = simple_file(tmp_path / "c.root", n_s=23, n_b=17)
    opts = "nTrain_Signal=7:nTest_Signal=5:SplitMode=Random:NormMode=EqualNumEvents"
    one = make(path, opts, cut="x != 4 && y != 4").GetDataSet()
    tiny = make(path, opts, cut="x != 4 && y != 4", chunk=3, threads=2).GetDataSet()
    for a, b in ((one.train, tiny.train), (one.test, tiny.test)):
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.entry, b.entry)


def test_internal_names_and_from_arrays():
    assert internal_name("var1+var2") == "var1_P_var2"
    assert internal_name("Sum$(jet_pt)") == "Sum__jet_pt_"
    assert internal_name("a/b*c-d") == "a_D_b_T_c_M_d"
    ds = DataSet.from_arrays(np.eye(3), [0, 1, 2], variables=["a", "b", "c"])
    assert ds.analysis_type == "Multiclass" and ds.n_classes == 3 and ds.variables[2].max == 1.0


def test_rntuple_and_uproot_tree_objects_as_input(tmp_path):
    path = tmp_path / "rn.root"
    with uproot.recreate(path) as f:  # uproot's dict assignment writes an RNTuple
        f["S"] = {"x": np.arange(6, dtype=np.float32), "w": np.full(6, 2.0)}
    tree_path = simple_file(tmp_path / "tt.root")
    loader = DataLoader()
    loader.AddVariable("x")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(uproot.open(tree_path)["TreeB"])  # an uproot TTree object
    loader.SetSignalWeightExpression("w")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
    ds = loader.GetDataSet()
    np.testing.assert_array_equal(ds.train.X[:, 0], [0, 1, 2, 100, 101, 102])
    np.testing.assert_array_equal(ds.train.weights[:3], 2.0)
    assert ds.sources[1].endswith("tt.root:TreeB")


def test_entry_number_in_a_cut(tmp_path):
    path = simple_file(tmp_path / "en.root")
    ds = make(path, "SplitMode=Block:NormMode=None", cut="Entry$ % 2 == 0").GetDataSet()
    # even entries: signal 0,2,4,6,8 -> 2 + 2 (odd one dropped); background 100,102,104 -> 1 + 1
    np.testing.assert_array_equal(ds.train.X[:, 0], [0, 2, 100])
    np.testing.assert_array_equal(ds.test.X[:, 0], [4, 6, 102])


def test_scale_with_presel_eff(tmp_path):
    path = simple_file(tmp_path / "p.root")
    loader = DataLoader()
    loader.AddVariable("x")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    opts = "nTrain_Signal=4:nTest_Signal=2:SplitMode=Block:NormMode=None:ScaleWithPreselEff"
    loader.PrepareTrainingAndTestTree("x < 5", "", opts)
    ds = loader.GetDataSet()
    # the cut keeps 5 of 10 signal entries: requested numbers scaled by 0.5 -> 2 training, 1 test
    assert (ds.train.class_ids == 0).sum() == 2 and (ds.test.class_ids == 0).sum() == 1
    assert ds.classes[0].cut == "x < 5" and ds.classes[1].cut == ""


def test_stack_columns_equals_column_assignment_across_blocks():
    """The blocked column stacking gives what assigning each column down the matrix gives: float32
    rounding of doubles, integers and booleans, NaN, a constant, and row counts around the block size."""
    from tmvacompat.data.rootread import STACK_ROWS, stack_columns

    rng = np.random.default_rng(7)
    for n in (0, 1, STACK_ROWS - 1, STACK_ROWS, 2 * STACK_ROWS + 5):
        cols = [
            rng.normal(size=n),  # float64, rounded to float32
            rng.integers(-5, 5, n),
            rng.random(n) > 0.5,
            np.where(rng.random(n) > 0.9, np.nan, rng.normal(size=n)).astype(np.float32),
            np.float64(1.0 / 3.0),  # a constant expression's single value
        ]
        ref = np.empty((n, len(cols)), np.float32)
        for j, c in enumerate(cols):
            ref[:, j] = c
        got = stack_columns(cols, n)
        assert got.dtype == np.float32 and got.shape == (n, len(cols)) and got.flags.c_contiguous
        np.testing.assert_array_equal(got, ref)
