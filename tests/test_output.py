"""Tests for tmvacompat.output: the written file reopens with uproot, holds the expected keys, branches and
histograms, and mirrors the structure (and, fed with TMVA's own outputs, the contents) of real TMVA files."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

uproot = pytest.importorskip("uproot")

from tmvacompat.errors import InputDataError, TMVACompatError  # noqa: E402
from tmvacompat.evaluation import ClassificationResult, MulticlassResult  # noqa: E402
from tmvacompat.output import EventSample, MethodResult, write_output  # noqa: E402

MATHSCORE = VECTORS / "danchepkwony_rootPractice" / "MathScoreResults.root"
MULTICLASS = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"TMVA test vector {path} not available (expected ../shared/vectors beside the checkout)")


def _keys(f, prefix: str = "") -> set[str]:
    return {k.split(";")[0] for k in f.keys(recursive=True) if k.startswith(prefix)}


def _branches(tree) -> list[tuple]:
    """Each branch's name, title, reading interpretation and leaves (class, name, title, length, offset)."""
    out = []
    for b in tree.branches:
        leaves = [
            (
                leaf.classname,
                leaf.member("fName"),
                leaf.member("fTitle"),
                leaf.member("fLen"),
                # uproot writes a string leaf's fLenType as 0 where ROOT writes 1; ROOT reads both
                leaf.member("fLenType") if leaf.classname != "TLeafC" else None,
                leaf.member("fOffset"),
                leaf.member("fIsUnsigned"),
            )
            for leaf in b.member("fLeaves")
        ]
        out.append((b.name, b.title, str(b.interpretation), leaves))
    return out


@pytest.fixture(scope="module")
def ROOT():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the PyPI ROOT package warns that it is an alpha release
        mod = pytest.importorskip("ROOT", reason="real ROOT (PyROOT) is needed to read what we write")
    mod.gROOT.SetBatch(True)
    return mod


def _classification_sample(rng, n):
    cls = (rng.random(n) < 0.4).astype(np.int32)  # 0 = Signal, 1 = Background
    x1 = rng.normal(np.where(cls == 0, 1.0, -1.0), 1.0)
    x2 = rng.normal(0.0, 1.0, n)
    w = rng.uniform(0.5, 1.5, n)
    sample = EventSample(
        cls,
        w,
        {"var1+var2": x1 + x2, "var3": x2},
        spectators={"spec1": 2 * x1},
        titles={"var3": "Variable 3"},
    )
    mva = 1 / (1 + np.exp(-2 * x1))
    return sample, mva


@pytest.fixture(scope="module")
def classification_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    train, mva_train = _classification_sample(rng, 400)
    test, mva_test = _classification_sample(rng, 300)
    methods = [
        MethodResult(
            "DL",
            "DL_CPU",
            "Classification",
            mva_test,
            mva_train,
            weight_file="w/DL.xml",
            training_path="/here",
            training_history={"trainingError": [0.7, 0.5, 0.4]},
        ),
        MethodResult("DL", "DL_A", "Classification", -mva_test, -mva_train),
    ]
    path = tmp_path_factory.mktemp("out") / "TMVA.root"
    res = write_output(path, "dataset", ["Signal", "Background"], train, test, methods)
    return path, res, train, test, mva_train, mva_test


def test_classification_tree_branches_and_values(classification_file):
    path, _, train, test, mva_train, mva_test = classification_file
    f = uproot.open(path)
    for name, sample, mva in (("TestTree", test, mva_test), ("TrainTree", train, mva_train)):
        t = f[f"dataset/{name}"]
        assert t.title == name
        assert t.keys() == [
            "classID",
            "className",
            "var1_P_var2",
            "var3",
            "spec1",
            "weight",
            "DL_A",
            "DL_CPU",
        ]
        assert t["classID"].interpretation.from_dtype == np.dtype(">i4")
        assert t["className"].typename == "char*"
        for b in ["var1_P_var2", "var3", "spec1", "weight", "DL_A", "DL_CPU"]:
            assert t[b].typename == "float"
        a = t.arrays(library="np")
        np.testing.assert_array_equal(a["classID"], sample.class_ids)
        assert list(a["className"]) == [("Signal", "Background")[c] for c in sample.class_ids]
        np.testing.assert_array_equal(a["var1_P_var2"], sample.variables["var1+var2"].astype(np.float32))
        np.testing.assert_array_equal(a["weight"], sample.weights.astype(np.float32))
        np.testing.assert_array_equal(a["DL_CPU"], mva.astype(np.float32))


def test_classification_histograms(classification_file):
    path, res, _, test, _, mva_test = classification_file
    f = uproot.open(path)
    d = "dataset/Method_DL/DL_CPU/"
    expected = {
        "TrainingPath",
        "WeightFileName",
        "TrainingHistory_DL_CPU_trainingError",
        *(
            f"MVA_DL_CPU_{s}"
            for s in [
                "S",
                "B",
                "S_high",
                "B_high",
                "effS",
                "effB",
                "effBvsS",
                "rejBvsS",
                "invBeffvsSeff",
                "Train_S",
                "Train_B",
                "trainingEffS",
                "trainingEffB",
                "trainingEffBvsS",
                "trainingRejBvsS",
            ]
        ),
    }
    assert _keys(f[d[:-1]]) == expected
    assert str(f[d + "TrainingPath"]) == "/here" and str(f[d + "WeightFileName"]) == "w/DL.xml"
    np.testing.assert_allclose(f[d + "TrainingHistory_DL_CPU_trainingError"].values(), [0.7, 0.5, 0.4])
    assert f[d + "TrainingHistory_DL_CPU_trainingError"].axis().edges().tolist() == [0.5, 1.5, 2.5, 3.5]

    # MVA_S: unit area; times the weighted signal count it is the weighted histogram of the outputs
    sig = test.class_ids == 0
    w = test.weights.astype(np.float32).astype(np.float64)
    v = mva_test.astype(np.float32).astype(np.float64)
    for suffix, sel in (("S", sig), ("B", ~sig)):
        h = f[d + f"MVA_DL_CPU_{suffix}"]
        assert h.classname == "TH1D"
        edges = h.axis().edges()
        assert len(edges) == 41
        assert edges[0] == v.min() and edges[-1] == pytest.approx(v.max() + 1e-5)
        assert h.values().sum() * (edges[1] - edges[0]) == pytest.approx(1.0)
        counts = np.histogram(v[sel], bins=edges, weights=w[sel])[0]
        assert counts.sum() == pytest.approx(w[sel].sum())
        np.testing.assert_allclose(h.values() * w[sel].sum() * (edges[1] - edges[0]), counts, rtol=1e-9)
        assert h.member("fEntries") == sel.sum()
    eff = f[d + "MVA_DL_CPU_effS"].values()
    assert eff[0] == pytest.approx(1.0) and np.all(np.diff(eff) <= 1e-12)  # cumulative, positive orientation
    rej = f[d + "MVA_DL_CPU_rejBvsS"]
    assert rej.axis().edges().tolist() == pytest.approx(np.linspace(0, 1, 101).tolist())
    assert rej.member("fXaxis").member("fTitle") == "Signal eff"
    np.testing.assert_allclose(rej.values(), res["DL_CPU"].test_hists.rej_b_vs_s.contents)
    assert isinstance(res["DL_CPU"], ClassificationResult)


def test_correlation_matrices_written(classification_file):
    path, _, train, _, _, _ = classification_file
    f = uproot.open(path)
    assert {"dataset/CorrelationMatrixS", "dataset/CorrelationMatrixB"} <= _keys(f)
    h = f["dataset/CorrelationMatrixS"]
    assert h.member("fTitle") == "Correlation Matrix (signal)"
    assert h.axis(0).labels() == ["var1+var2", "Variable 3"]
    sel = train.class_ids == 0
    x = np.vstack([train.variables["var1+var2"][sel], train.variables["var3"][sel]]).astype(np.float32)
    rho = np.corrcoef(x.astype(np.float64), rowvar=True)  # unweighted reference: close, not identical
    assert abs(h.values()[0, 1] - 100 * rho[0, 1]) < 3
    assert h.values()[0, 0] == 100


def test_structure_mirrors_real_classification_file(tmp_path):
    """Feed TMVA's own MLPBNN outputs through write_output: every MVA_* histogram equals the real one."""
    _need(MATHSCORE)
    real = uproot.open(MATHSCORE)
    variables = ["studytime", "failures", "health", "absences", "school", "G1"]

    def sample(tree):
        a = real[f"dataset/{tree}"].arrays(library="np")
        return EventSample(a["classID"], a["weight"], {v: a[v] for v in variables}), a["MLPBNN"]

    train, v_train = sample("TrainTree")
    test, v_test = sample("TestTree")
    path = tmp_path / "out.root"
    write_output(
        path,
        "dataset",
        ["Signal", "Background"],
        train,
        test,
        [MethodResult("MLP", "MLPBNN", "Classification", v_test, v_train)],
    )
    mine = uproot.open(path)
    d = "dataset/Method_MLP/MLPBNN"
    real_mva = {k for k in _keys(real[d]) if k.startswith("MVA_")}
    assert {k for k in _keys(mine[d]) if k.startswith("MVA_")} == real_mva
    for k in real_mva:
        r, m = real[f"{d}/{k}"], mine[f"{d}/{k}"]
        assert m.classname == r.classname, k
        np.testing.assert_allclose(m.axis().edges(), r.axis().edges(), rtol=0, atol=1e-15, err_msg=k)
        np.testing.assert_allclose(m.values(), r.values(), rtol=0, atol=1e-12, err_msg=k)
        assert m.member("fEntries") == r.member("fEntries"), k
        assert m.member("fTitle") == r.member("fTitle"), k
    for c in "SB":
        np.testing.assert_array_equal(
            mine[f"dataset/CorrelationMatrix{c}"].values(), real[f"dataset/CorrelationMatrix{c}"].values()
        )
    assert mine["dataset/TestTree"].keys() == real["dataset/TestTree"].keys()


@pytest.fixture(scope="module")
def multiclass_written(tmp_path_factory):
    _need(MULTICLASS)
    real = uproot.open(MULTICLASS)
    names = ["Signal", "bg0", "bg1", "bg2"]
    titles = {"var2": "Variable 2", "var3": "Variable 3", "var4": "Variable 4"}

    def sample(tree):
        t = real[f"dataset/{tree}"]
        a = t.arrays(["classID", "weight", "var1", "var2", "var3", "var4"], library="np")
        dl = t["DL_CPU"].array(library="np")
        ev = EventSample(
            a["classID"], a["weight"], {v: a[v] for v in ["var1", "var2", "var3", "var4"]}, titles=titles
        )
        return ev, np.column_stack([dl[c] for c in names])

    train, v_train = sample("TrainTree")
    test, v_test = sample("TestTree")
    path = tmp_path_factory.mktemp("mc") / "TMVAMulticlass.root"
    hist = {"trainingError": np.linspace(1, 0.5, 20), "valError": np.linspace(1.1, 0.6, 20)}
    res = write_output(
        path,
        "dataset",
        names,
        train,
        test,
        [MethodResult("DL", "DL_CPU", "Multiclass", v_test, v_train, training_history=hist)],
    )
    return real, uproot.open(path), res, names, test, v_test


def test_multiclass_key_set_mirrors_real_file(multiclass_written):
    real, mine, res, names, _, _ = multiclass_written
    d = "dataset/Method_DL/DL_CPU"
    real_keys = _keys(real[d])
    mine_keys = _keys(mine[d])
    # everything we write has a counterpart of the same name in the real file ...
    assert mine_keys <= real_keys
    # ... and we write all of TMVA's evaluation objects (only the input-variable plots are left out)
    left_out = real_keys - mine_keys
    assert all(re.fullmatch(r"(CorrelationPlots(/.*)?|var\d__\w+)", k) for k in left_out), left_out
    for k in mine_keys:
        assert mine[f"{d}/{k}"].classname == real[f"{d}/{k}"].classname, k
    top_real = {
        k
        for k in _keys(real["dataset"])
        if "/" not in k and not k.startswith(("Method_B", "Method_M", "Method_P", "InputVar"))
    }
    assert _keys(mine["dataset"]) >= top_real - {"Method_DL"} | {"TestTree", "TrainTree"}
    assert isinstance(res["DL_CPU"], MulticlassResult)


def test_multiclass_contents_equal_real_file(multiclass_written):
    real, mine, _, names, _, _ = multiclass_written
    d = "dataset/Method_DL/DL_CPU"
    for k in _keys(mine[d]):
        if "prob_for" in k:
            r, m = real[f"{d}/{k}"], mine[f"{d}/{k}"]
            np.testing.assert_array_equal(m.values(), r.values(), err_msg=k)
            np.testing.assert_array_equal(m.axis().edges(), r.axis().edges(), err_msg=k)
            assert m.member("fEntries") == r.member("fEntries")
        elif "Test_" in k and "rejBvsS" in k:  # the test sample has no tied outputs: graphs identical
            (x1, y1), (x2, y2) = mine[f"{d}/{k}"].values(), real[f"{d}/{k}"].values()
            np.testing.assert_array_equal(x1, x2, err_msg=k)
            np.testing.assert_array_equal(y1, y2, err_msg=k)
            assert mine[f"{d}/{k}"].member("fTitle") == real[f"{d}/{k}"].member("fTitle")
    for c in names:
        r = real[f"dataset/CorrelationMatrix{c}"]
        m = mine[f"dataset/CorrelationMatrix{c}"]
        np.testing.assert_array_equal(m.values(), r.values())
        assert m.axis(0).labels() == r.axis(0).labels()
        assert m.member("fTitle") == r.member("fTitle")


def test_multiclass_tree_and_histogram_sums(multiclass_written):
    real, mine, _, names, test, v_test = multiclass_written
    for tree in ("TestTree", "TrainTree"):
        t, r = mine[f"dataset/{tree}"], real[f"dataset/{tree}"]
        assert t.keys() == ["classID", "className", "var1", "var2", "var3", "var4", "weight", "DL_CPU"]
        # the same branches as TMVA's (its other methods left out), DL_CPU a leaf list with one leaf per class
        assert _branches(t) == [b for b in _branches(r) if b[0] in t.keys()]
        assert t["DL_CPU"].title == "Signal/F:bg0/F:bg1/F:bg2/F"
        mine_dl, real_dl = t["DL_CPU"].array(library="np"), r["DL_CPU"].array(library="np")
        assert mine_dl.dtype.names == tuple(names)
        np.testing.assert_array_equal(mine_dl, real_dl)
        np.testing.assert_array_equal(t["className"].array(library="np"), r["className"].array(library="np"))
    h = mine["dataset/Method_DL/DL_CPU/MVA_DL_CPU_Test_bg1_prob_for_Signal"]
    sel = test.class_ids == 0
    edges = h.axis().edges()
    counts = np.histogram(v_test[sel, 2].astype(np.float32), bins=edges, weights=test.weights[sel])[0]
    np.testing.assert_allclose(h.values() * counts.sum() * (edges[1] - edges[0]), counts, rtol=1e-6)
    g = mine["dataset/Method_DL/DL_CPU/MVA_DL_CPU_Test_rejBvsS_bg0"]
    assert g.member("fNpoints") == test.n + 2
    th = mine["dataset/Method_DL/DL_CPU/TrainingHistory_DL_CPU_valError"]
    np.testing.assert_allclose(th.values(), np.linspace(1.1, 0.6, 20))


def test_regression_output(tmp_path):
    rng = np.random.default_rng(3)

    def sample(n):
        x = rng.uniform(0, 5, (n, 2))
        y = np.sin(x[:, 0]) * x[:, 1]
        return EventSample(
            np.zeros(n, np.int32), np.ones(n), {"var1": x[:, 0], "var2": x[:, 1]}, targets={"fvalue": y}
        ), y + rng.normal(0, 0.1, n)

    train, p_train = sample(300)
    test, p_test = sample(200)
    path = tmp_path / "reg.root"
    res = write_output(
        path,
        "dataset",
        ["Regression"],
        train,
        test,
        [MethodResult("DL", "DL_CPU", "Regression", p_test, p_train)],
    )
    t = uproot.open(path)["dataset/TestTree"]
    assert t.keys() == ["classID", "className", "var1", "var2", "fvalue", "weight", "DL_CPU"]
    # one target: a one-leaf leaf list named after the target (uproot reads it as a plain column)
    assert t["DL_CPU"].title == "fvalue/F"
    assert [leaf.member("fName") for leaf in t["DL_CPU"].member("fLeaves")] == ["fvalue"]
    np.testing.assert_array_equal(t["DL_CPU"].array(library="np"), p_test.astype(np.float32))
    r = res["DL_CPU"]["test"][0]
    assert r.rms == pytest.approx(
        np.std((p_test.astype(np.float32) - test.targets["fvalue"].astype(np.float32)).astype(np.float64)),
        rel=1e-6,
    )


REGRESSION = VECTORS / "nasufsonmez_regression" / "TMVAReg.root"
IMAGES = VECTORS / "root_written" / "images_part0.root"


def test_regression_trees_equal_real_tmva_file(tmp_path):
    """TMVAReg.root's inputs and five methods' outputs through write_output give TMVA's trees."""
    _need(REGRESSION)
    real = uproot.open(REGRESSION)
    titles = ["BDTG", "DNN_CPU", "KNN", "LD", "PDEFoam"]

    def sample(tree):
        a = real[f"datasetreg/{tree}"].arrays(library="np")
        ev = EventSample(
            a["classID"],
            a["weight"],
            {"var1": a["var1"], "var2": a["var2"]},
            {"spec1": a["spec1"], "spec2": a["spec2"]},
            {"fvalue": a["fvalue"]},
        )
        return ev, a

    (train, a_train), (test, a_test) = sample("TrainTree"), sample("TestTree")
    methods = [MethodResult("X", k, "Regression", a_test[k], a_train[k]) for k in titles[::-1]]
    write_output(tmp_path / "reg.root", "datasetreg", ["Regression"], train, test, methods)
    mine = uproot.open(tmp_path / "reg.root")
    for tree in ("TestTree", "TrainTree"):
        t, r = mine[f"datasetreg/{tree}"], real[f"datasetreg/{tree}"]
        assert _branches(t) == _branches(r)
        for k, v in r.arrays(library="np").items():
            np.testing.assert_array_equal(t[k].array(library="np"), v, err_msg=k)


def test_two_targets_make_a_two_leaf_list(tmp_path):
    rng = np.random.default_rng(8)

    def sample(n):
        x = rng.normal(size=n)
        return EventSample(
            np.zeros(n, np.int32), np.ones(n), {"x": x}, targets={"t1": 2 * x, "t1+t2": x**2}
        ), np.column_stack([2 * x, x**2]) + 0.1

    (train, p_train), (test, p_test) = sample(50), sample(40)
    methods = [MethodResult("DL", "DL_CPU", "Regression", p_test, p_train)]
    write_output(tmp_path / "r2.root", "dataset", ["Regression"], train, test, methods)
    t = uproot.open(tmp_path / "r2.root")["dataset/TestTree"]
    assert t["DL_CPU"].title == "t1/F:t1_P_t2/F"  # TMVA names the leaves with the targets' internal names
    out = t["DL_CPU"].array(library="np")
    np.testing.assert_array_equal(out["t1"], p_test[:, 0].astype(np.float32))
    np.testing.assert_array_equal(out["t1_P_t2"], p_test[:, 1].astype(np.float32))


@pytest.fixture(scope="module")
def array_variable_file(tmp_path_factory):
    rng = np.random.default_rng(9)

    def sample(n):
        cls = np.arange(n) % 2
        img = rng.normal(size=(n, 64)) + cls[:, None]
        return EventSample(cls, np.ones(n), {"vars": img, "x": img[:, 0]}), img.mean(axis=1)

    (train, m_train), (test, m_test) = sample(120), sample(80)
    path = tmp_path_factory.mktemp("arr") / "img.root"
    methods = [MethodResult("DL", "CNN", "Classification", m_test, m_train)]
    write_output(path, "dataset", ["Signal", "Background"], train, test, methods)
    return path, test, m_test


def test_array_variable_is_a_fixed_size_array_branch(array_variable_file):
    """AddVariablesArray("vars", 64): one vars[64]/F branch (DataSet::GetTree), as ROOT writes float[64]."""
    path, test, _ = array_variable_file
    t = uproot.open(path)["dataset/TestTree"]
    assert t.keys() == ["classID", "className", "vars", "x", "weight", "CNN"]
    np.testing.assert_array_equal(t["vars"].array(library="np"), test.variables["vars"].astype(np.float32))
    _need(IMAGES)
    by_root = uproot.open(IMAGES)["sig_tree"]
    assert _branches(t)[2] == _branches(by_root)[[b[0] for b in _branches(by_root)].index("vars")]


def test_sample_shapes_are_checked(tmp_path):
    rng = np.random.default_rng(10)
    train, mva_train = _classification_sample(rng, 30)
    test, mva_test = _classification_sample(rng, 30)
    m = MethodResult("DL", "DL_CPU", "Classification", mva_test, mva_train)
    names = ["Signal", "Background"]
    bad = EventSample(test.class_ids, test.weights, {"v": np.zeros((30, 0))})
    with pytest.raises(
        InputDataError, match=r"variable 'v' has shape \(30, 0\), expected \(30,\) or \(30, size\)"
    ):
        write_output(tmp_path / "x.root", "dataset", names, train, bad, [m])
    bad = EventSample(test.class_ids, test.weights, test.variables, targets={"t": np.zeros((30, 2))})
    with pytest.raises(InputDataError, match=r"target 't' has shape \(30, 2\), expected \(30,\)"):
        write_output(tmp_path / "x.root", "dataset", names, train, bad, [m])
    mc = MethodResult("DL", "M", "Multiclass", np.zeros((30, 2)), np.zeros((30, 2)))
    with pytest.raises(InputDataError, match="method 'M': its output branch cannot have a leaf named 'a:b'"):
        write_output(tmp_path / "x.root", "dataset", ["a:b", "c"], train, test, [mc])
    assert list(tmp_path.iterdir()) == []


def test_real_root_reads_the_output_trees(multiclass_written, array_variable_file, ROOT):
    real, mine, _, names, test, v_test = multiclass_written
    f = ROOT.TFile.Open(mine.file_path)
    assert f and not f.IsZombie()
    t = f.Get("dataset/TestTree")
    assert t.GetEntries() == test.n
    assert t.GetBranch("DL_CPU").GetTitle() == "Signal/F:bg0/F:bg1/F:bg2/F"
    assert t.Draw("DL_CPU.bg1", "", "goff") == test.n
    np.testing.assert_array_equal(
        np.frombuffer(t.GetV1(), np.float64, test.n), v_test[:, 2].astype(np.float32)
    )
    t.GetEntry(17)
    assert [t.GetLeaf("DL_CPU", c).GetValue() for c in names] == v_test[17].astype(np.float32).tolist()
    assert t.GetLeaf("classID").GetValue() == test.class_ids[17]
    df = ROOT.RDataFrame(t)
    np.testing.assert_array_equal(np.asarray(df.Take["float"]("DL_CPU.Signal").GetValue()), v_test[:, 0])
    np.testing.assert_array_equal(np.asarray(df.Take["float"]("var3").GetValue()), test.variables["var3"])
    f.Close()

    path, atest, m_test = array_variable_file
    f = ROOT.TFile.Open(str(path))
    t = f.Get("dataset/TestTree")
    assert t.GetBranch("vars").GetTitle() == "vars[64]/F"
    assert t.Draw("vars[63]", "", "goff") == atest.n
    np.testing.assert_array_equal(
        np.frombuffer(t.GetV1(), np.float64, atest.n), atest.variables["vars"][:, 63].astype(np.float32)
    )
    assert t.Draw("CNN", "", "goff") == atest.n
    np.testing.assert_array_equal(np.frombuffer(t.GetV1(), np.float64, atest.n), m_test.astype(np.float32))
    f.Close()


def test_errors_and_atomic_write(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    train, mva_train = _classification_sample(rng, 50)
    test, mva_test = _classification_sample(rng, 40)
    m = MethodResult("DL", "DL_CPU", "Classification", mva_test, mva_train)
    names = ["Signal", "Background"]
    with pytest.raises(TMVACompatError, match="does not exist"):
        write_output(tmp_path / "missing" / "x.root", "dataset", names, train, test, [m])
    with pytest.raises(InputDataError, match="test values have shape"):
        write_output(
            tmp_path / "x.root",
            "dataset",
            names,
            train,
            test,
            [MethodResult("DL", "DL_CPU", "Classification", mva_test[:-1], mva_train)],
        )
    with pytest.raises(InputDataError, match="unknown analysis type"):
        write_output(
            tmp_path / "x.root",
            "dataset",
            names,
            train,
            test,
            [MethodResult("DL", "DL_CPU", "Classifcation", mva_test, mva_train)],
        )
    with pytest.raises(InputDataError, match="booked twice"):
        write_output(tmp_path / "x.root", "dataset", names, train, test, [m, m])
    with pytest.raises(InputDataError, match="no class name"):
        write_output(tmp_path / "x.root", "dataset", ["Signal"], train, test, [m])

    # a failure while writing leaves an existing file untouched and no temporary file behind
    target = tmp_path / "keep.root"
    target.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(uproot, "recreate", boom)
    with pytest.raises(TMVACompatError, match="No space left"):
        write_output(target, "dataset", names, train, test, [m])
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.root"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unwritable_directory(tmp_path):
    rng = np.random.default_rng(2)
    train, mva_train = _classification_sample(rng, 30)
    test, mva_test = _classification_sample(rng, 30)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(TMVACompatError, match="cannot write"):
            write_output(
                ro / "x.root",
                "dataset",
                ["Signal", "Background"],
                train,
                test,
                [MethodResult("DL", "DL_CPU", "Classification", mva_test, mva_train)],
            )
    finally:
        ro.chmod(stat.S_IRWXU)


def test_path_none_only_evaluates(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    train, mva_train = _classification_sample(rng, 60)
    test, mva_test = _classification_sample(rng, 60)
    monkeypatch.chdir(tmp_path)
    res = write_output(
        None,
        "dataset",
        ["Signal", "Background"],
        train,
        test,
        [MethodResult("DL", "DL_CPU", "Classification", mva_test, mva_train)],
    )
    assert list(tmp_path.iterdir()) == []
    from tmvacompat.evaluation import roc_integral

    assert res["DL_CPU"].roc_integral == roc_integral(mva_test, test.class_ids == 0, test.weights)


def test_bad_method_outputs_name_the_method(tmp_path):
    rng = np.random.default_rng(5)
    train, mva_train = _classification_sample(rng, 40)
    test, mva_test = _classification_sample(rng, 40)
    mva_test = mva_test.copy()
    mva_test[3] = np.nan
    with pytest.raises(
        InputDataError, match=r"method 'DL_CPU': values contains a non-finite value at index 3"
    ):
        write_output(
            tmp_path / "x.root",
            "dataset",
            ["Signal", "Background"],
            train,
            test,
            [MethodResult("DL", "DL_CPU", "Classification", mva_test, mva_train)],
        )
    assert list(tmp_path.iterdir()) == []
