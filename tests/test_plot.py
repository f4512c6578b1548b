"""TMVAGui's plots from the Factory's output file, Factory.GetROCCurve and ``tmvacompat gui``.

Truths: the TestTree the Factory wrote (efficiencies, the optimal cut, the confusion matrix, counted with
numpy), ROOT's ``TH1::KolmogorovTest``/``TMath::KolmogorovProb`` where PyROOT is installed, scipy's
Kolmogorov distribution, scikit-learn's ROC area, and real TMVA output files in ../shared/vectors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) is not installed")
pytest.importorskip("mplhep", reason="mplhep (the plot extra) is not installed")
uproot = pytest.importorskip("uproot")

from tmvacompat import DataLoader, Factory, Types, plot  # noqa: E402
from tmvacompat.cli import main  # noqa: E402
from tmvacompat.errors import InputDataError, TMVACompatError  # noqa: E402

OPTS = (
    "!H:!V:VarTransform=N:RandomSeed=1:Layout=TANH|8,LINEAR:"
    "TrainingStrategy=LearningRate=1e-2,BatchSize=50,MaxEpochs=6,TestRepetitions=2,ConvergenceSteps=20"
)


def _write(path, trees):
    with uproot.recreate(path) as f:
        for name, data in trees.items():
            f[name] = data


def _gauss(rng, n, shift, k=3):
    return {f"x{i}": (rng.normal(shift, 1.0, n) + 0.3 * i).astype(np.float32) for i in range(k)}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Three small Factory runs: classification (two methods), multiclass, regression."""
    import os

    d = tmp_path_factory.mktemp("plotjobs")
    here = os.getcwd()
    os.chdir(d)
    rng = np.random.default_rng(1)
    try:
        _write("cls_in.root", {"S": _gauss(rng, 500, 0.6), "B": _gauss(rng, 500, -0.4)})
        fc = Factory("Job", "cls.root", "!V:Silent:!DrawProgressBar:AnalysisType=Classification")
        lc = DataLoader("dataset")
        for i in range(3):
            lc.AddVariable(f"x{i}", f"Var {i}", "GeV" if i == 0 else "", "F")
        lc.AddSignalTree("cls_in.root:S")
        lc.AddBackgroundTree("cls_in.root:B")
        lc.PrepareTrainingAndTestTree("", "", "nTrain_Signal=250:nTrain_Background=250:SplitMode=Random")
        fc.BookMethod(lc, Types.kDL, "DNN_A", OPTS)
        fc.BookMethod(lc, Types.kDL, "DNN_B", OPTS.replace("TANH|8", "RELU|4"))
        fc.TrainAllMethods(), fc.TestAllMethods(), fc.EvaluateAllMethods()

        _write("mc_in.root", {f"T{c}": _gauss(rng, 300, 0.8 * c - 1) for c in range(3)})
        fm = Factory("JobMC", "mc.root", "!V:Silent:!DrawProgressBar:AnalysisType=Multiclass")
        lm = DataLoader("dataset")
        for i in range(3):
            lm.AddVariable(f"x{i}", "F")
        for c, name in enumerate(["Signal", "bg0", "bg1"]):
            lm.AddTree(f"mc_in.root:T{c}", name)
        lm.PrepareTrainingAndTestTree("", "SplitMode=Random:NormMode=NumEvents")
        fm.BookMethod(lm, Types.kDL, "DL_CPU", OPTS.replace("LINEAR", "DENSE|3|LINEAR"))
        fm.TrainAllMethods(), fm.TestAllMethods(), fm.EvaluateAllMethods()

        x1, x2 = rng.uniform(0, 5, 800).astype(np.float32), rng.uniform(0, 5, 800).astype(np.float32)
        fv = (np.sin(x1) * x2 + rng.normal(0, 0.1, 800)).astype(np.float32)
        _write("reg_in.root", {"R": {"var1": x1, "var2": x2, "fvalue": fv}})
        fr = Factory("JobR", "reg.root", "!V:Silent:!DrawProgressBar:AnalysisType=Regression")
        lr = DataLoader("datasetreg")
        lr.AddVariable("var1", "F")
        lr.AddVariable("var2", "F")
        lr.AddTarget("fvalue")
        lr.AddRegressionTree("reg_in.root:R")
        lr.PrepareTrainingAndTestTree("", "nTrain_Regression=400:SplitMode=Random")
        fr.BookMethod(lr, Types.kDL, "DNN_CPU", OPTS)
        fr.TrainAllMethods(), fr.TestAllMethods(), fr.EvaluateAllMethods()
    finally:
        os.chdir(here)
    return {"dir": d, "cls": (fc, lc), "mc": (fm, lm), "reg": (fr, lr)}


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def _legend(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg is not None else []


# --------------------------------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------------------------------
def test_classification_plots_written_with_their_artists(jobs, tmp_path):
    path = jobs["dir"] / "cls.root"
    written = plot.plot_all(path, tmp_path / "plots", formats=("png",))
    names = sorted({Path(p).stem for p in written})
    assert names == sorted(
        ["variables_id_c1", "CorrelationMatrixS", "CorrelationMatrixB", "mva_DNN_A", "overtrain_DNN_A",
         "mva_DNN_B", "overtrain_DNN_B", "rejBvsS", "mvaeffs_DNN_A", "mvaeffs_DNN_B", "TrainingHistory"]
    )  # fmt: skip
    for p in written:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
        assert Path(p).stat().st_size > 5000, p

    over = plot.plot_mva(path)["overtrain_DNN_A"]
    ax = over.axes[0]
    assert ax.get_title() == "TMVA overtraining check for classifier: DNN_A"
    assert _legend(ax) == [
        "Signal (test sample)", "Background (test sample)", "Signal (training sample)",
        "Background (training sample)",
    ]  # fmt: skip
    assert any(
        t.startswith("Kolmogorov-Smirnov test: signal (background) probability = ") for t in _texts(over)
    )
    assert ax.get_xlabel() == "DNN_A response"

    roc = plot.plot_efficiencies(path)["rejBvsS"].axes[0]
    assert sorted(t.split(" ")[0] for t in _legend(roc)) == ["DNN_A", "DNN_B"]
    assert len(roc.lines) == 3  # two methods and the diagonal

    variables = plot.plot_input_variables(path)["variables_id_c1"]
    assert [a.get_title() for a in variables.axes] == ["Var 0", "Var 1", "Var 2"]
    assert variables.axes[0].get_xlabel() == "Var 0  [GeV]"
    assert _legend(variables.axes[0]) == ["Signal", "Background"]

    corr = plot.plot_correlations(path)["CorrelationMatrixS"].axes[0]
    assert corr.get_title() == "Correlation Matrix (signal) (in %)"
    assert len(corr.texts) == 9 and corr.texts[0].get_text() == "100"

    history = plot.plot_training_history(path)["TrainingHistory"].axes[0]
    assert len(history.lines) == 4  # training and validation error of two methods
    assert history.get_xlabel() == "Epoch"
    steps = history.lines[0].get_xdata()
    assert list(steps) == [2.0, 4.0, 6.0]  # the validation epochs (TestRepetitions=2)


def test_mvaeffs_and_optimal_cut_against_the_test_tree(jobs):
    path = jobs["dir"] / "cls.root"
    ns, nb = 200.0, 5000.0
    best = plot.optimal_cut(path, "DNN_A", n_signal=ns, n_background=nb)
    t = uproot.open(path)["dataset/TestTree"].arrays(["classID", "weight", "DNN_A"], library="np")
    sig, w, v = t["classID"] == 0, t["weight"].astype(np.float64), t["DNN_A"].astype(np.float64)
    eff_s = w[sig & (v > best.cut)].sum() / w[sig].sum()
    eff_b = w[~sig & (v > best.cut)].sum() / w[~sig].sum()
    # the 10000-bin efficiency histograms are cumulative counts: at most a few events off at a bin centre
    assert best.eff_signal == pytest.approx(eff_s, abs=3 / sig.sum())
    assert best.eff_background == pytest.approx(eff_b, abs=3 / (~sig).sum())
    assert best.significance == pytest.approx(
        ns * best.eff_signal / math.sqrt(ns * best.eff_signal + nb * best.eff_background), rel=1e-5
    )
    # no cut on the test events does better (up to the binning)
    cuts = np.unique(v)
    s = np.array([w[sig & (v > c)].sum() for c in cuts]) / w[sig].sum() * ns
    b = np.array([w[~sig & (v > c)].sum() for c in cuts]) / w[~sig].sum() * nb
    with np.errstate(invalid="ignore", divide="ignore"):
        best_scan = np.nanmax(s / np.sqrt(s + b))
    assert best.significance == pytest.approx(best_scan, rel=0.02)

    fig = plot.plot_mvaeffs(path, n_signal=ns, n_background=nb)["mvaeffs_DNN_A"]
    ax = fig.axes[0]
    assert _legend(ax) == [
        "Signal efficiency", "Background efficiency", "Signal purity", "Signal efficiency*purity",
        "S/sqrt(S+B)",
    ]  # fmt: skip
    assert any(f"cutting at {best.cut:5.3f}" in t for t in _texts(fig))
    assert fig.axes[1].get_ylabel() == "Significance"
    # S/sqrt(B) carries mvaeffs.cxx's error estimate
    err = plot.optimal_cut(path, "DNN_A", n_signal=ns, n_background=nb, formula="S/sqrt(B)")
    assert err.significance_error == pytest.approx(
        err.significance * math.sqrt(1 / err.n_signal + 1 / (2 * err.n_background)), rel=1e-9
    )
    with pytest.raises(InputDataError, match="formula"):
        plot.optimal_cut(path, "DNN_A", formula="__import__('os')")


def test_get_roc_curve_figure_has_every_method(jobs):
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed")
    roc_auc_score = metrics.roc_auc_score

    factory, loader = jobs["cls"]
    fig = factory.GetROCCurve(loader)
    ax = fig.axes[0]
    assert ax.get_title() == "ROC Curve"
    labels = _legend(ax)
    assert sorted(lb.split(" ")[0] for lb in labels) == ["DNN_A", "DNN_B"]
    assert len(ax.lines) == 3
    ds = loader.GetDataSet()
    for lb in labels:
        title, area = lb.split(" ")
        assert float(area.strip("()")) == pytest.approx(factory.GetROCIntegral(loader, title), abs=1e-3)
        b = next(b for b in factory._booked if b.method.title == title)
        auc = roc_auc_score(ds.test.class_ids == 0, b.test_values, sample_weight=ds.test.weights)
        assert float(area.strip("()")) == pytest.approx(auc, abs=5e-3)

    fm, lm = jobs["mc"]
    mfig = fm.GetROCCurve(lm, iClass=2)
    assert mfig.axes[0].get_title() == "ROC Curve for class 2"
    with pytest.raises(TMVACompatError, match="iClass=7"):
        fm.GetROCCurve(lm, iClass=7)
    fr, lr = jobs["reg"]
    with pytest.raises(TMVACompatError, match="regression"):
        fr.GetROCCurve(lr)
    with pytest.raises(TMVACompatError, match="no trained method"):
        factory.GetROCCurve("nosuchdataset")


# --------------------------------------------------------------------------------------------------
# multiclass, regression
# --------------------------------------------------------------------------------------------------
def test_multiclass_plots_and_confusion_matrix(jobs):
    path = jobs["dir"] / "mc.root"
    rocs = plot.plot_efficiencies(path)
    assert sorted(rocs) == ["rejBvsS_Signal", "rejBvsS_bg0", "rejBvsS_bg1"]
    assert _legend(rocs["rejBvsS_bg0"].axes[0])[0].startswith("DL_CPU (")
    mvas = plot.plot_mva(path)
    assert sorted(mvas) == ["mva_DL_CPU_Signal", "mva_DL_CPU_bg0", "mva_DL_CPU_bg1"]
    assert len(_legend(mvas["mva_DL_CPU_bg1"].axes[0])) == 6  # three classes, test and training

    fig = plot.plot_confusion_matrix(path)["confusion_DL_CPU"]
    test_ax = fig.axes[0]
    assert test_ax.get_title() == "test sample"
    shown = np.array([float(t.get_text()) for t in test_ax.texts]).reshape(3, 3)
    t = uproot.open(path)["dataset/TestTree"].arrays(["classID", "weight", "DL_CPU"], library="np")
    out = np.column_stack([t["DL_CPU"][n] for n in ("Signal", "bg0", "bg1")])
    truth = np.zeros((3, 3))
    for c, a, w in zip(t["classID"], out.argmax(axis=1), t["weight"], strict=True):
        truth[c, a] += w
    truth /= truth.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(shown, truth, atol=0.0051)


def test_regression_deviation_plots(jobs):
    path = jobs["dir"] / "reg.root"
    figs = plot.plot_deviations(path)
    assert sorted(figs) == ["deviation_DNN_CPU_target_0_test"]
    fig = figs["deviation_DNN_CPU_target_0_test"]
    assert [a.get_xlabel() for a in fig.axes] == ["var1", "var2", "fvalue"]
    assert "regression" in fig.axes[0].get_ylabel()
    assert "train" in "".join(plot.plot_deviations(path, sample="train"))
    with pytest.raises(InputDataError, match="sample"):
        plot.plot_deviations(path, sample="validation")


@pytest.mark.skipif(not VECTORS.is_dir(), reason=f"TMVA test vectors not found at {VECTORS}")
def test_real_tmva_output_files(tmp_path):
    mc = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root"
    figs = plot.plot_input_variables(mc)
    assert sorted(figs) == [
        "variables_deco_c1",
        "variables_gauss_deco_c1",
        "variables_id_c1",
        "variables_pca_c1",
    ]
    assert len(_legend(figs["variables_id_c1"].axes[0])) == 4
    rocs = plot.plot_efficiencies(mc)
    assert sorted(t.split(" ")[0] for t in _legend(rocs["rejBvsS_Signal"].axes[0])) == [
        "BDTG", "DL_CPU", "MLP", "PDEFoam"
    ]  # fmt: skip
    reg = VECTORS / "nasufsonmez_regression" / "TMVAReg.root"
    assert "deviation_DNN_CPU_target_0_test" in plot.plot_deviations(reg)


# --------------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov: ROOT's algorithm
# --------------------------------------------------------------------------------------------------
def test_kolmogorov_prob_against_scipy():
    from scipy.stats import kstwobign

    for z in np.linspace(0.21, 3.0, 60):
        assert plot.kolmogorov_prob(z) == pytest.approx(kstwobign.sf(z), abs=5e-5)
    assert plot.kolmogorov_prob(0.1) == 1.0 and plot.kolmogorov_prob(7.0) == 0.0


def _hist(values, variances, lo=0.0, hi=1.0, name="h"):
    n = len(values) - 2
    return plot.Hist1D(
        name, "", np.linspace(lo, hi, n + 1), np.asarray(values, float), np.asarray(variances, float)
    )


def test_kolmogorov_test_unweighted_matches_scipy_distance():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 400), rng.normal(0.2, 1, 300)
    edges = np.linspace(-5, 5, 201)
    # the binned distance is scipy's unbinned one on the events moved to their bin centres
    centres = 0.5 * (edges[1:] + edges[:-1])
    a, b = centres[np.digitize(a, edges) - 1], centres[np.digitize(b, edges) - 1]
    ca = np.histogram(a, edges)[0].astype(float)
    cb = np.histogram(b, edges)[0].astype(float)
    ha = _hist(np.r_[0, ca, 0], np.r_[0, ca, 0], -5, 5)
    hb = _hist(np.r_[0, cb, 0], np.r_[0, cb, 0], -5, 5)
    d = plot.kolmogorov_test(ha, hb, "M")
    assert d == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    z = d * math.sqrt(400 * 300 / 700)
    assert plot.kolmogorov_test(ha, hb) == pytest.approx(plot.kolmogorov_prob(z), rel=1e-12)


def _root_hist(ROOT, h: plot.Hist1D, name: str):
    r = ROOT.TH1D(name, name, len(h.edges) - 1, float(h.edges[0]), float(h.edges[-1]))
    r.Sumw2()
    for i, (v, e2) in enumerate(zip(h.values, h.variances, strict=True)):
        r.SetBinContent(i, float(v))
        r.SetBinError(i, math.sqrt(e2))
    return r


def test_kolmogorov_test_against_root(jobs):
    ROOT = pytest.importorskip("ROOT", reason="real ROOT (PyROOT) is not installed")
    for z in np.linspace(0.0, 7.0, 141):
        assert plot.kolmogorov_prob(z) == pytest.approx(ROOT.TMath.KolmogorovProb(z), abs=1e-12)
    path = jobs["dir"] / "cls.root"
    f = uproot.open(path)
    folder = "dataset/Method_DL/DNN_A/MVA_DNN_A"
    pairs = [(f"{folder}_S", f"{folder}_Train_S"), (f"{folder}_B", f"{folder}_Train_B")]
    rng = np.random.default_rng(5)
    w1 = rng.uniform(0.5, 2.0, 42)
    pairs_h = [(plot.read_hist(f[a]), plot.read_hist(f[b])) for a, b in pairs]
    weighted = _hist(rng.poisson(20, 42) * w1, rng.poisson(20, 42) * w1**2, name="w1")
    weighted2 = _hist(rng.poisson(25, 42).astype(float), rng.poisson(25, 42).astype(float), name="w2")
    pairs_h.append((weighted, weighted2))
    for k, (h1, h2) in enumerate(pairs_h):
        r1, r2 = _root_hist(ROOT, h1, f"a{k}"), _root_hist(ROOT, h2, f"b{k}")
        for opt in ("", "M", "N", "U", "O", "UO"):
            assert plot.kolmogorov_test(h1, h2, opt) == pytest.approx(
                r1.KolmogorovTest(r2, opt), abs=1e-12
            ), opt
        # option X (what mvas.cxx uses) is a toy count: ours and ROOT's agree within their spread
        ours = plot.kolmogorov_test(h1, h2, "X=4000", rng=1)
        ROOT.gRandom.SetSeed(1)
        theirs = r1.KolmogorovTest(r2, "X=4000")
        p = max(0.5 * (ours + theirs), 1e-3)
        assert abs(ours - theirs) < 4 * math.sqrt(2 * p * (1 - p) / 4000) + 0.01, (ours, theirs)
    # mvas.cxx's figures come from these histograms
    ks = plot.overtraining_ks(path, "DNN_A", option="")
    assert ks[0] == pytest.approx(_root_hist(ROOT, *pairs_h[0][:1], "s").KolmogorovTest(
        _root_hist(ROOT, pairs_h[0][1], "t"), ""), abs=1e-12)  # fmt: skip


def test_kolmogorov_test_refuses_bad_input():
    h = _hist([0, 1, 2, 0], [0, 1, 2, 0])
    with pytest.raises(InputDataError, match="bins"):
        plot.kolmogorov_test(h, _hist([0, 1, 2, 3, 0], [0, 1, 2, 3, 0]))
    with pytest.raises(InputDataError, match="zero integral"):
        plot.kolmogorov_test(h, _hist([0, 0, 0, 0], [0, 0, 0, 0]))
    with pytest.raises(InputDataError, match="zero errors"):
        plot.kolmogorov_test(_hist([0, 1, 2, 0], [0, 0, 0, 0]), _hist([0, 2, 1, 0], [0, 0, 0, 0]))


# --------------------------------------------------------------------------------------------------
# tmvacompat gui
# --------------------------------------------------------------------------------------------------
def test_gui_command_writes_everything(jobs, tmp_path, capsys):
    out = tmp_path / "plots"
    assert main(["gui", str(jobs["dir"] / "reg.root"), "-o", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert "deviation_DNN_CPU_target_0_test.pdf" in files and "deviation_DNN_CPU_target_0_test.png" in files
    assert "CorrelationMatrix.png" in files and "TrainingHistory.pdf" in files
    for name in files:
        head = (out / name).read_bytes()[:5]
        assert head == (b"%PDF-" if name.endswith(".pdf") else b"\x89PNG\r"), name
        assert (out / name).stat().st_size > 5000, name
    assert f"{len(files)} files written" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["gui", "missing.root"], "does not exist"),
        (["gui", "{cls}", "--format", "gif"], "image format 'gif'"),
        (["gui", "{cls}", "--dataset", "nope"], "dataset 'nope'"),
        (["gui", "{notroot}"], "not a ROOT file"),
    ],
)
def test_gui_command_bad_input_exits_2_with_one_line(jobs, tmp_path, capsys, args, message):
    notroot = tmp_path / "x.root"
    notroot.write_text("not a ROOT file")
    args = [a.format(cls=jobs["dir"] / "cls.root", notroot=notroot) for a in args]
    assert main([*args, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tmvacompat: error:") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
