"""The objects TMVA's GUI macros open: InputVariables_<T> folders, per-method variable plots, regression
deviation histograms, training-history binning, the regression correlation matrix.

Truth: the output files real TMVA wrote (../shared/vectors). Their TrainTree/TestTree hold the very events
and method outputs TMVA plotted, so feeding those trees back through ``write_output`` must reproduce TMVA's
histograms: names, classes, titles, axis titles, binning *and* contents. Plus numpy for the filling, closed
forms for the quantile and the history binning, and real ROOT reading what we write.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import uproot
from conftest import VECTORS, needs_vectors

from tmvacompat.data.dataset import VariableInfo
from tmvacompat.data.transforms import TransformChain
from tmvacompat.evaluation import fill_histogram
from tmvacompat.output import EventSample, MethodResult, write_output
from tmvacompat.outputplots import histogram_quantile, training_history_plots, variable_plots

SKIP_CLASSES = {"TDirectory", "TObjString", "TTree", "TGraph"}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _classes(f, prefix: str) -> dict[str, str]:
    return {k.split(";")[0]: c for k, c in f.classnames().items() if k.startswith(prefix)}


def _infos_from_real(real, folder: str, labels, cls: str, suffix: str) -> list[VariableInfo]:
    """Title and unit of each variable as TMVA wrote them (the booking of the real job)."""
    out = []
    for lb in labels:
        h = real[f"{folder}/{lb}__{cls}{suffix}"]
        xt = h.member("fXaxis").member("fTitle")
        unit = xt.split("  [", 1)[1][:-1] if "  [" in xt else ""
        out.append(VariableInfo(lb, lb, h.member("fTitle"), unit, lb, "F"))
    return out


def _sample(tree, variables, targets=()):
    a = tree.arrays(library="np")
    return EventSample(
        a["classID"], a["weight"], {v: a[v] for v in variables}, targets={t: a[t] for t in targets}
    ), a


def _axes(h):
    return [
        (h.member(ax).member("fTitle"), h.member(ax).member("fNbins"), h.member(ax).member("fXmin"),
         h.member(ax).member("fXmax"))
        for ax in ("fXaxis", "fYaxis")
    ]  # fmt: skip


def _compare(real, mine, prefix: str, *, ranges=True, contents=True, skip=(), rtol=1e-6):
    """Same object paths and classes under ``prefix``; same titles, axis titles, bin counts. ``ranges``:
    True the same axis ranges (and, with ``contents``, bin contents, entries, Sumw2 presence), False the
    same bin widths, None not compared (other events). Returns the number of histograms compared."""
    rc, mc = _classes(real, prefix), _classes(mine, prefix)
    assert rc, prefix
    assert set(rc) == set(mc), (sorted(set(rc) - set(mc))[:5], sorted(set(mc) - set(rc))[:5])
    checked = 0
    for k, cls in rc.items():
        assert mc[k] == cls, k
        if cls in SKIP_CLASSES or any(s in k for s in skip):
            continue
        r, m = real[k], mine[k]
        assert m.member("fTitle") == r.member("fTitle"), k
        ra, ma = _axes(r), _axes(m)
        if ranges is None:  # the y title quotes the bin width
            ra, ma = ([(re.sub(r"\}[-+.0-9e]+ ", "} ", a[0]), *a[1:]) for a in ax] for ax in (ra, ma))
        assert [a[:2] for a in ma] == [a[:2] for a in ra], k
        if ranges is None:
            pass
        elif ranges:
            np.testing.assert_allclose(
                [a[2:] for a in ma], [a[2:] for a in ra], rtol=rtol, atol=1e-9, err_msg=k
            )
        else:  # same bin width
            np.testing.assert_allclose(
                [a[3] - a[2] for a in ma], [a[3] - a[2] for a in ra], rtol=1e-4, err_msg=k
            )
        if contents and ranges is True:
            rv, mv = r.values(flow=True), m.values(flow=True)
            np.testing.assert_allclose(mv, rv, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(rv).max()), err_msg=k)
            assert m.member("fEntries") == r.member("fEntries"), k
            assert m.member("fTsumw") == pytest.approx(r.member("fTsumw"), rel=1e-5), k
            assert len(m.member("fSumw2")) == len(r.member("fSumw2")), k
        checked += 1
    return checked


# --------------------------------------------------------------------------------------------------
# the three real output files, reproduced from their own trees
# --------------------------------------------------------------------------------------------------
@needs_vectors
def test_regression_file_reproduced(tmp_path):
    real = uproot.open(VECTORS / "nasufsonmez_regression" / "TMVAReg.root")
    d, V = "datasetreg", ["var1", "var2"]
    vinf = _infos_from_real(real, f"{d}/InputVariables_Id", V, "Regression", "_Id")
    tinf = [VariableInfo("fvalue", "fvalue", "fvalue", "", "fvalue", "F")]
    train, a_tr = _sample(real[f"{d}/TrainTree"], V, ["fvalue"])
    test, a_te = _sample(real[f"{d}/TestTree"], V, ["fvalue"])
    # the booked DNN_CPU used VarTransform=G, fitted on the training events
    chain = TransformChain.fit(
        np.column_stack([a_tr[v] for v in V]), a_tr["classID"], targets=a_tr["fvalue"][:, None],
        weights=a_tr["weight"], n_classes=1, items="G", variables=V, target_names=["fvalue"],
        class_names=["Regression"],
    )  # fmt: skip
    epochs = real[f"{d}/Method_DL/DNN_CPU/TrainingHistory_DNN_CPU_valError"].member("fXaxis").member("fNbins")
    hist = {"trainingError": np.linspace(2, 1, epochs), "valError": np.linspace(3, 1, epochs)}
    methods = [
        MethodResult("DL", "DNN_CPU", "Regression", a_te["DNN_CPU"], a_tr["DNN_CPU"], transforms=chain,
                     training_history=hist),
        MethodResult("LD", "LD", "Regression", a_te["LD"], a_tr["LD"], transforms=TransformChain()),
    ]  # fmt: skip
    out = tmp_path / "TMVAReg.root"
    write_output(out, d, ["Regression"], train, test, methods, transformations="I",
                 variable_infos=vinf, target_infos=tinf)  # fmt: skip
    mine = uproot.open(out)
    assert _compare(real, mine, f"{d}/InputVariables_Id") == 5
    assert _compare(real, mine, f"{d}/CorrelationMatrix", contents=False) == 1
    # this file's ROOT 6.33 TH1::SmoothArray always interpolated flat segments towards the right (ROOT 6.40
    # and older ones pick the flatter side, as tmvacompat does): the Gauss transform fitted here moves a few
    # events between bins and a range by ~1e-5
    assert (
        _compare(real, mine, f"{d}/Method_DL/DNN_CPU", skip=("TrainingHistory",), rtol=1e-4, contents=False)
        == 15
    )
    assert _compare(real, mine, f"{d}/Method_LD/LD", skip=("TrainingHistory",)) == 15
    assert _compare(real, mine, f"{d}/Method_DL/DNN_CPU/TrainingHistory", contents=False) == 2
    h = mine[f"{d}/Method_DL/DNN_CPU/TrainingHistory_DNN_CPU_valError"]
    np.testing.assert_allclose(h.values(), hist["valError"])


@needs_vectors
def test_multiclass_file_reproduced(tmp_path):
    real = uproot.open(VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root")
    d, V, C = "dataset", ["var1", "var2", "var3", "var4"], ["Signal", "bg0", "bg1", "bg2"]
    vinf = _infos_from_real(real, f"{d}/InputVariables_Id", V, "Signal", "_Id")
    train, a_tr = _sample(real[f"{d}/TrainTree"], V)
    test, a_te = _sample(real[f"{d}/TestTree"], V)
    chain = TransformChain.fit(np.column_stack([a_tr[v] for v in V]), a_tr["classID"], weights=a_tr["weight"],
                               n_classes=4, items="N", variables=V, class_names=C)  # fmt: skip
    t_te, t_tr = real[f"{d}/TestTree"]["DL_CPU"].array(), real[f"{d}/TrainTree"]["DL_CPU"].array()
    vals_te = np.column_stack([np.asarray(t_te[c]) for c in C])
    vals_tr = np.column_stack([np.asarray(t_tr[c]) for c in C])
    m = MethodResult("DL", "DL_CPU", "Multiclass", vals_te, vals_tr, transforms=chain)
    out = tmp_path / "TMVAMulticlass.root"
    write_output(out, d, C, train, test, [m], transformations="I;D;P;G,D", variable_infos=vinf)
    mine = uproot.open(out)
    # PCA included: the principal axes carry ROOT's TMatrixDSymEigen signs
    for folder in ("Id", "Deco", "PCA", "Gauss_Deco"):
        assert _compare(real, mine, f"{d}/InputVariables_{folder}") == 64
    assert _compare(real, mine, f"{d}/CorrelationMatrix", contents=False) == 4
    n = _compare(real, mine, f"{d}/Method_DL/DL_CPU/var") + _compare(real, mine, f"{d}/Method_DL/DL_CPU/Corr")
    assert n == 16 + 48


@needs_vectors
def test_classification_file_reproduced(tmp_path):
    real = uproot.open(VECTORS / "danchepkwony_rootPractice" / "MathScoreResults.root")
    d, V, C = (
        "dataset",
        ["studytime", "failures", "health", "absences", "school", "G1"],
        ["Signal", "Background"],
    )
    vinf = _infos_from_real(real, f"{d}/InputVariables_Id", V, "Signal", "_Id")
    train, a_tr = _sample(real[f"{d}/TrainTree"], V)
    test, a_te = _sample(real[f"{d}/TestTree"], V)
    assert set(np.unique(a_tr["weight"])) != {1.0}  # background weights differ from 1: Sumw2 per histogram
    chain = TransformChain.fit(np.column_stack([a_tr[v] for v in V]), a_tr["classID"], weights=a_tr["weight"],
                               n_classes=2, items="N", variables=V, class_names=C)  # fmt: skip
    m = MethodResult("MLP", "MLPBNN", "Classification", a_te["MLPBNN"], a_tr["MLPBNN"], transforms=chain)
    out = tmp_path / "MathScoreResults.root"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_output(out, d, C, train, test, [m], transformations="I;D;P;G,D", variable_infos=vinf)
    # the binary 'school' variable makes G,D degenerate: TMVA plots nonsense ranges (-1.9e7), we skip it
    assert any("'G,D' not written" in str(w.message) for w in caught)
    mine = uproot.open(out)
    for folder in ("Id", "Deco", "PCA"):
        assert _compare(real, mine, f"{d}/InputVariables_{folder}") == 72
    assert _compare(real, mine, f"{d}/CorrelationMatrix", contents=False) == 2
    base = f"{d}/Method_MLP/MLPBNN/"
    n = sum(_compare(real, mine, base + v) for v in V) + _compare(real, mine, base + "CorrelationPlots")
    assert n == 12 + 60


# --------------------------------------------------------------------------------------------------
# independent computations
# --------------------------------------------------------------------------------------------------
def test_histograms_against_numpy():
    rng = np.random.default_rng(5)
    n = 3000
    cls = (np.arange(n) % 2).astype(np.int32)
    x = np.column_stack([rng.normal(cls, 1.0), rng.exponential(1.0, n)]).astype(np.float32)
    x[0, 0] = 50.0  # an outlier beyond mean + 8 RMS: the range is clipped there
    w = rng.uniform(0.5, 1.5, n).astype(np.float32)
    infos = [VariableInfo("a", "a", "A", "GeV", "a"), VariableInfo("b", "b", "B", "", "b")]
    objs = variable_plots(x, None, cls, w, ["Signal", "Background"], infos, suffix="_Id")
    xs, w64 = x.astype(np.float64), w.astype(np.float64)
    mean = np.sum(w64 * xs[:, 0]) / w64.sum()
    rms = np.sqrt(np.sum(w64 * xs[:, 0] ** 2) / w64.sum() - mean**2)
    lo, hi = max(xs[:, 0].min(), mean - 8 * rms), min(xs[:, 0].max(), mean + 8 * rms)
    hi += (hi - lo) / 40
    h = objs["a__Signal_Id"]
    assert h.member("fXaxis").member("fXmin") == pytest.approx(lo, rel=1e-12)
    assert h.member("fXaxis").member("fXmax") == pytest.approx(hi, rel=1e-12)
    assert h.member("fXaxis").member("fTitle") == "A  [GeV]"
    assert h.member("fYaxis").member("fTitle") == f"dN_{{ }}/^{{ }}{(hi - lo) / 40:.3g} GeV"
    sel = cls == 0
    counts = np.histogram(xs[sel, 0], bins=np.linspace(lo, hi, 41), weights=w64[sel])[0]
    np.testing.assert_allclose(h.values(), counts, rtol=1e-6)  # TH1F: float32 contents
    assert h.member("fEntries") == sel.sum()

    s = objs["CorrelationPlots/scat_b_vs_a_Background_Id"]
    assert s.member("fTitle") == "B versus A (Background)_Id"
    ex = np.linspace(xs[:, 0].min(), xs[:, 0].max(), 301)
    ey = np.linspace(xs[:, 1].min(), xs[:, 1].max(), 301)
    m = cls == 1
    c2 = np.histogram2d(xs[m, 0], xs[m, 1], bins=(ex, ey), weights=w64[m])[0]
    inner = s.values()  # without flow; numpy puts x == max in the last bin, ROOT in the overflow
    not_max = (xs[m, 0] < ex[-1]) & (xs[m, 1] < ey[-1])
    c2b = np.histogram2d(xs[m, 0][not_max], xs[m, 1][not_max], bins=(ex, ey), weights=w64[m][not_max])[0]
    np.testing.assert_allclose(inner, c2b, rtol=1e-6)
    assert abs(c2.sum() - c2b.sum()) > 0 or not_max.all()

    p = objs["CorrelationPlots/prof_b_vs_a_Background_Id"]
    edges = np.linspace(xs[:, 0].min(), xs[:, 0].max(), 41)
    num = np.histogram(xs[m, 0], bins=edges, weights=w64[m] * xs[m, 1])[0]
    den = np.histogram(xs[m, 0], bins=edges, weights=w64[m])[0]
    keep = (den > 0) & ~np.isclose(edges[1:], xs[m, 0].max())  # the max sits in ROOT's overflow
    np.testing.assert_allclose(p.values()[keep], (num / np.where(den > 0, den, 1))[keep], rtol=1e-6)


def test_integer_variable_binning():
    x = np.array([[0.0], [1.0], [3.0], [4.0]], np.float32)
    info = [VariableInfo("n", "n", "n", "", "n", "I")]
    h = variable_plots(x, None, np.zeros(4), np.ones(4), ["Regression"], info)["n__Regression"]
    # one bin per integer from Nint(min) to Nint(max + 1)
    assert (h.member("fXaxis").member("fNbins"), h.member("fXaxis").member("fXmin"),
            h.member("fXaxis").member("fXmax")) == (5, 0.0, 5.0)  # fmt: skip
    np.testing.assert_array_equal(h.values(), [1, 1, 0, 1, 1])
    assert len(h.member("fSumw2")) == 0  # unit weights: ROOT keeps no Sumw2


def test_quantile_closed_form_and_root():
    # uniform contents: the quantile is linear in the probability
    h = fill_histogram("h", np.arange(100) + 0.5, None, 100, 0.0, 100.0)
    assert histogram_quantile(h, 0.9) == pytest.approx(90.0)
    assert histogram_quantile(h, 0.25) == pytest.approx(25.0)
    # empty bins between two filled ones: TMath::BinarySearch stops at the first equal element (bin 5),
    # then GetQuantiles walks right while the next two cumulative values still equal p -> low edge of bin 9
    h = fill_histogram("h", [0.5, 9.5], None, 10, 0.0, 10.0)
    assert histogram_quantile(h, 0.5) == pytest.approx(8.0)

    ROOT = pytest.importorskip("ROOT", reason="real ROOT (PyROOT) is not installed")
    rng = np.random.default_rng(4)
    for k, (x, w) in enumerate(
        [
            (rng.exponential(1.0, 500) ** 2, rng.uniform(0.5, 1.5, 500)),
            (np.array([0.5, 9.5, 9.7]), np.ones(3)),
            (rng.integers(0, 5, 50) + 0.5, np.ones(50)),
        ]
    ):
        hi = float(np.float32(x.max() * 1.1))
        ours = fill_histogram("q", x, w, 500 if k == 0 else 10, 0.0, hi, float32=True)
        rh = ROOT.TH1F(f"q{k}", "", ours.nbins, 0.0, hi)
        for xi, wi in zip(x, w, strict=True):
            rh.Fill(float(xi), float(wi))
        for p in (0.1, 0.5, 0.9):
            q, prob = np.zeros(1), np.array([p])
            rh.GetQuantiles(1, q, prob)
            assert histogram_quantile(ours, p) == pytest.approx(q[0], rel=1e-6, abs=1e-9), (k, p)


def test_training_history_binning_follows_the_recorded_steps():
    # TestRepetitions=5: validations at epochs 5, 10, 15 -> bins centred there, width 5
    h = training_history_plots("DL", {"valError": [0.3, 0.2, 0.1]}, steps=[5, 10, 15])[
        "TrainingHistory_DL_valError"
    ]
    assert h.axis().edges().tolist() == [2.5, 7.5, 12.5, 17.5]
    np.testing.assert_allclose(h.values(), [0.3, 0.2, 0.1])
    assert h.member("fEntries") == 0
    with pytest.raises(Exception, match="3 values but 2 steps"):
        training_history_plots("DL", {"valError": [0.3, 0.2, 0.1]}, steps=[5, 10])


def test_regression_deviation_histograms_closed_form(tmp_path):
    rng = np.random.default_rng(2)

    def sample(n):
        x = rng.uniform(0, 5, (n, 2))
        return EventSample(np.zeros(n, np.int32), np.ones(n), {"var1": x[:, 0], "var2": x[:, 1]},
                           targets={"fvalue": np.sin(x[:, 0]) * x[:, 1]})  # fmt: skip

    train, test = sample(400), sample(300)
    dev = np.linspace(-1, 1, test.n)
    pred = test.targets["fvalue"] + dev
    m = MethodResult("DL", "DL_CPU", "Regression", pred, train.targets["fvalue"] + np.linspace(0, 1, train.n))
    out = tmp_path / "reg.root"
    write_output(out, "dataset", ["Regression"], train, test, [m], transformations="I")
    f = uproot.open(out)
    d = "dataset/Method_DL/DL_CPU/"
    assert "dataset/CorrelationMatrix" in _classes(f, "dataset/Corr")
    assert f["dataset/CorrelationMatrix"].title == "Correlation Matrix"
    q = f[d + "MVA_DL_CPUtest_Quadr_Deviation_target_0_"]
    d32 = (pred.astype(np.float32) - test.targets["fvalue"].astype(np.float32)).astype(np.float32)
    sq = (d32 * d32).astype(np.float32)
    assert q.member("fXaxis").member("fXmax") == pytest.approx(float(sq.max()) * 1.1, rel=1e-6)
    assert q.values().sum() == test.n
    best = f[d + "MVA_DL_CPUtest_Quadr_Dev_best90perc_target_0_"]
    assert best.member("fEntries") == pytest.approx(0.9 * test.n, abs=0.01 * test.n)
    h2 = f[d + "MVA_DL_CPUtest_reg_var0_rtgt0"]
    assert h2.member("fYaxis").member("fTitle") == "fvalue_{regression} - fvalue_{true}"
    assert h2.values().sum() == test.n  # the range is widened by a bin on both sides: nothing overflows
    # x range: the variable's range over this sample and the training sample, widened by 1.01 (range/49)
    both = np.concatenate([train.variables["var1"], test.variables["var1"]]).astype(np.float32)
    eps = (float(both.max()) - float(both.min())) / 49
    ax = h2.member("fXaxis")
    assert ax.member("fXmin") == pytest.approx(float(both.min()) - 1.01 * eps, rel=1e-5)
    assert ax.member("fXmax") == pytest.approx(float(both.max()) + 1.01 * eps, rel=1e-5)
    ay = h2.member("fYaxis")
    assert ay.member("fXmin") == pytest.approx(-1 - 1.01 * 2 / 49, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# the Factory writes them, and ROOT reads them
# --------------------------------------------------------------------------------------------------
@needs_vectors
def test_factory_regression_job_has_tmva_layout_and_root_reads_it(tmp_path, monkeypatch):
    from tmvacompat import DataLoader, Factory, Types

    monkeypatch.chdir(tmp_path)
    real = uproot.open(VECTORS / "nasufsonmez_regression" / "TMVAReg.root")
    factory = Factory("TMVARegression", "TMVAReg.root", "!V:Silent:!DrawProgressBar:AnalysisType=Regression")
    loader = DataLoader("datasetreg")
    loader.AddVariable("var1", "Variable 1", "units", "F")
    loader.AddVariable("var2", "Variable 2", "units", "F")
    loader.AddTarget("fvalue")
    loader.AddRegressionTree(f"{VECTORS / 'nasufsonmez_regression' / 'tmva_reg_example.root'}:TreeR", 1.0)
    loader.SetWeightExpression("var1", "Regression")
    loader.PrepareTrainingAndTestTree("", "nTrain_Regression=400:nTest_Regression=300:SplitMode=Random:!V")
    factory.BookMethod(
        loader, Types.kDL, "DNN_CPU",
        "!H:!V:VarTransform=G:ErrorStrategy=SUMOFSQUARES:Layout=TANH|8,LINEAR:RandomSeed=1:"
        "TrainingStrategy=LearningRate=1e-3,BatchSize=50,MaxEpochs=4,TestRepetitions=2,ConvergenceSteps=10",
    )  # fmt: skip
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()

    mine = uproot.open(tmp_path / "TMVAReg.root")
    d = "datasetreg"
    for prefix in (f"{d}/InputVariables_Id", f"{d}/CorrelationMatrix", f"{d}/Method_DL/DNN_CPU"):
        assert _compare(real, mine, prefix, ranges=None, contents=False, skip=("TrainingHistory",))
    # validations at epochs 2 and 4
    h = mine[f"{d}/Method_DL/DNN_CPU/TrainingHistory_DNN_CPU_valError"]
    assert h.axis().edges().tolist() == [1.0, 3.0, 5.0]
    # the training sample's var1 histogram is numpy's weighted histogram of the TrainTree
    a = mine[f"{d}/TrainTree"].arrays(["var1", "weight"], library="np")
    hv = mine[f"{d}/InputVariables_Id/var1__Regression_Id"]
    counts = np.histogram(a["var1"], hv.axis().edges(), weights=a["weight"])[0]
    np.testing.assert_allclose(hv.values(), counts, rtol=1e-5)

    ROOT = pytest.importorskip("ROOT", reason="real ROOT (PyROOT) is not installed")
    rf = ROOT.TFile.Open(str(tmp_path / "TMVAReg.root"))
    try:
        for path, cls in [
            (f"{d}/InputVariables_Id/var1__Regression_Id", "TH1F"),
            (f"{d}/InputVariables_Id/CorrelationPlots/scat_var2_vs_var1_Regression_Id", "TH2F"),
            (f"{d}/InputVariables_Id/CorrelationPlots/prof_var2_vs_var1_Regression_Id", "TProfile"),
            (f"{d}/Method_DL/DNN_CPU/fvalue__Regression_target", "TH1F"),
            (f"{d}/Method_DL/DNN_CPU/CorrelationPlots/prof_var2_vs_var1_Regression", "TProfile"),
            (f"{d}/Method_DL/DNN_CPU/MVA_DNN_CPUtest_reg_var1_rtgt0", "TH2F"),
            (f"{d}/Method_DL/DNN_CPU/MVA_DNN_CPUtrain_Quadr_Dev_best90perc_target_0_", "TH1F"),
            (f"{d}/Method_DL/DNN_CPU/TrainingHistory_DNN_CPU_trainingError", "TH1D"),
            (f"{d}/CorrelationMatrix", "TH2F"),
        ]:
            obj = rf.Get(path)
            assert obj and obj.ClassName() == cls, path
            ours = mine[path]
            assert obj.GetEntries() == ours.member("fEntries"), path
            assert obj.GetTitle() == ours.member("fTitle"), path
            assert obj.GetSumOfWeights() == pytest.approx(float(np.sum(ours.values())), rel=1e-5), path
        prof = rf.Get(f"{d}/InputVariables_Id/CorrelationPlots/prof_var2_vs_var1_Regression_Id")
        np.testing.assert_allclose(
            [prof.GetBinContent(i) for i in range(1, 41)],
            mine[f"{d}/InputVariables_Id/CorrelationPlots/prof_var2_vs_var1_Regression_Id"].values(),
            rtol=1e-9,
        )
    finally:
        rf.Close()
