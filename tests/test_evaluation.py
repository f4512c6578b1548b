"""Tests for tmvacompat.evaluation against independent truths.

Truths used: real TMVA output files (histograms and ROC graphs TMVA wrote), brute-force pairwise sums,
scipy (ks_2samp, Kolmogorov distribution, entropy), numpy closed forms and hand-worked examples.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import scipy.stats
from conftest import VECTORS

from tmvacompat.errors import InputDataError, TMVACompatError
from tmvacompat.evaluation import (
    ClassificationResult,
    RegressionResult,
    classification_metrics,
    classifier_histograms,
    confusion_matrix_eff,
    eff_s_at_eff_b,
    fill_histogram,
    format_classification,
    format_multiclass,
    format_regression,
    kolmogorov_test,
    ks_2samp_weighted,
    multiclass_metrics,
    mutual_information,
    norm_hist,
    regression_metrics,
    roc_auc_exact,
    roc_curve,
    roc_integral,
    separation,
    significance,
    tmva_internal_name,
    training_efficiency,
)

MATHSCORE = VECTORS / "danchepkwony_rootPractice" / "MathScoreResults.root"
MULTICLASS = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"TMVA test vector {path} not available (expected ../shared/vectors beside the checkout)")


def _sample(rng, n, sep=1.0, weighted=True):
    y = rng.random(n) < 0.5
    v = np.where(y, rng.normal(sep, 1.0, n), rng.normal(-sep, 1.0, n)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n).astype(np.float32) if weighted else np.ones(n, np.float32)
    return v, y, w


# ---------------------------------------------------------------------------------------------- ROC
def _tmva_auc_bruteforce(v, s, w):
    """TMVA's ROCCurve integral written out pairwise (distinct values): every signal event collects the
    background weight below it, plus half of the background event directly above it in sorted order."""
    v = np.asarray(v, np.float64)
    order = np.argsort(v)
    ws_tot = w[s].sum()
    wb_tot = w[~s].sum()
    total = 0.0
    for pos, j in enumerate(order):
        if not s[j]:
            continue
        below = sum(w[k] for k in range(len(v)) if not s[k] and v[k] < v[j])
        nxt = order[pos + 1] if pos + 1 < len(order) else None
        half = 0.5 * w[nxt] if nxt is not None and not s[nxt] else 0.0
        total += w[j] * (below + half)
    return total / (ws_tot * wb_tot)


def _exact_auc_bruteforce(v, s, w):
    num = 0.0
    for i in np.flatnonzero(s):
        for j in np.flatnonzero(~s):
            num += w[i] * w[j] * (1.0 if v[i] > v[j] else 0.5 if v[i] == v[j] else 0.0)
    return num / (w[s].sum() * w[~s].sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_integral_matches_pairwise_form_of_tmva_rule(seed):
    rng = np.random.default_rng(seed)
    v, s, w = _sample(rng, 60)
    w64 = w.astype(np.float64)
    assert roc_integral(v, s, w) == pytest.approx(_tmva_auc_bruteforce(v, s, w64), abs=1e-12)
    assert roc_auc_exact(v, s, w) == pytest.approx(_exact_auc_bruteforce(v, s, w64), abs=1e-12)


def test_roc_auc_exact_ties_count_half():
    v = np.array([0.5, 0.5, 0.5, 0.5])
    s = np.array([True, True, False, False])
    assert roc_auc_exact(v, s) == 0.5
    assert roc_auc_exact(v, s) == pytest.approx(_exact_auc_bruteforce(v, s, np.ones(4)))


def test_roc_integral_hand_example():
    # sorted: 0.1B 0.35S 0.4B 0.8S -> S(0.35) gets 1 bkg below + half of the 0.4 bkg above it; S(0.8) gets 2
    assert roc_integral([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx((1.5 + 2) / 4)


def test_roc_integral_converges_to_gaussian_closed_form():
    rng = np.random.default_rng(5)
    v, s, _ = _sample(rng, 40000, sep=0.5, weighted=False)
    # AUC of N(0.5,1) vs N(-0.5,1) is Phi(1/sqrt(2))
    assert roc_integral(v, s) == pytest.approx(scipy.stats.norm.cdf(1 / math.sqrt(2)), abs=0.01)


def test_roc_curve_hand_example_and_shape():
    effs, rejb = roc_curve([0.1, 0.3, 0.4, 0.5], [False, False, True, True])
    assert effs.tolist() == [1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    assert rejb.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_roc_curve_equals_tmva_graphs_in_real_file():
    _need(MULTICLASS)
    uproot = pytest.importorskip("uproot")
    f = uproot.open(MULTICLASS)
    names = ["Signal", "bg0", "bg1", "bg2"]
    tree = f["dataset/TestTree"]
    a = tree.arrays(["classID", "weight"], library="np")
    dl = tree["DL_CPU"].array(library="np")
    for i, c in enumerate(names):
        x, y = f[f"dataset/Method_DL/DL_CPU/MVA_DL_CPU_Test_rejBvsS_{c}"].values()
        effs, rejb = roc_curve(dl[c], a["classID"] == i, a["weight"])
        np.testing.assert_array_equal(effs, x)
        np.testing.assert_array_equal(rejb, y)


def test_eff_s_at_eff_b_hand_example():
    # B: .1 .3 .5 .7, S: .4 .6 .8 .9. ROC nodes (effB, effS): (0, .5) (.25, .75) (.5, 1) ...
    v = [0.1, 0.3, 0.5, 0.7, 0.4, 0.6, 0.8, 0.9]
    s = [False] * 4 + [True] * 4
    assert eff_s_at_eff_b(v, s, 0.10) == pytest.approx(0.5 + 0.1 * (0.25 / 0.25))
    assert eff_s_at_eff_b(v, s, 0.30) == pytest.approx(0.75 + 0.05 * (0.25 / 0.25))
    assert eff_s_at_eff_b(v, s, 0.25) == pytest.approx(0.75)
    with pytest.raises(InputDataError):
        eff_s_at_eff_b(v, s, 1.5)


def test_eff_s_at_eff_b_gaussian_closed_form():
    rng = np.random.default_rng(3)
    v, s, _ = _sample(rng, 40000, sep=1.0, weighted=False)
    for eb in (0.01, 0.1, 0.3):
        cut = -1.0 + scipy.stats.norm.isf(eb)
        assert eff_s_at_eff_b(v, s, eb) == pytest.approx(scipy.stats.norm.sf(cut - 1.0), abs=0.02)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InputDataError, match="both signal and background"):
        roc_integral([1.0, 2.0], [True, True])
    with pytest.raises(InputDataError, match="weights has 1 entries"):
        roc_integral([1.0, 2.0], [True, False], [1.0])
    with pytest.raises(InputDataError, match="non-finite"):
        roc_integral([1.0, np.nan], [True, False])
    with pytest.raises(TMVACompatError, match="empty"):
        roc_curve([], [])


# ------------------------------------------------------------------------------ binned efficiencies
def test_classifier_histograms_reproduce_real_tmva_file():
    """Every efficiency histogram TMVA wrote for MLPBNN is reproduced from the TestTree/TrainTree outputs."""
    _need(MATHSCORE)
    uproot = pytest.importorskip("uproot")
    f = uproot.open(MATHSCORE)
    te = f["dataset/TestTree"].arrays(library="np")
    tr = f["dataset/TrainTree"].arrays(library="np")
    h = classifier_histograms(te["MLPBNN"], te["classID"] == 0, te["weight"], title="MLPBNN")
    t = training_efficiency(h, tr["MLPBNN"], tr["classID"] == 0, tr["weight"])
    d = "dataset/Method_MLP/MLPBNN/"
    ref_axis = f[d + "MVA_MLPBNN_S"].member("fXaxis")
    assert h.mva_s.xmin == ref_axis.member("fXmin")
    assert h.mva_s.xmax == pytest.approx(ref_axis.member("fXmax"), abs=1e-15)
    for mine in h.histograms() + t.histograms():
        ref = f[d + mine.name]
        assert mine.nbins == ref.member("fXaxis").member("fNbins"), mine.name
        np.testing.assert_allclose(mine.contents, ref.values(), rtol=0, atol=1e-12, err_msg=mine.name)
        assert mine.entries == ref.member("fEntries"), mine.name


def test_efficiency_scan_against_linear_inverse():
    # with the effBvsS curve known, effS at effB is where the piecewise-linear curve crosses effB,
    # within TMVA's 1/1000 scan step
    rng = np.random.default_rng(11)
    v, s, w = _sample(rng, 4000)
    h = classifier_histograms(v, s, w, title="T")
    x = h.eff_b_vs_s.centers
    y = h.eff_b_vs_s.contents
    for eb in (0.01, 0.10, 0.30):
        k = np.flatnonzero(y >= eb)[0]
        cross = x[k - 1] + (eb - y[k - 1]) * (x[k] - x[k - 1]) / (y[k] - y[k - 1])
        assert h.efficiency(eb) == pytest.approx(cross, abs=1.5e-3)
    # the area is the mean background rejection over signal efficiency
    assert h.efficiency(None) == pytest.approx(np.mean(1 - y), abs=0.01)
    # and it agrees with the unbinned ROC integral
    assert h.efficiency(None) == pytest.approx(roc_integral(v, s, w), abs=0.01)


def test_classification_metrics_train_equals_test_when_same_sample():
    rng = np.random.default_rng(2)
    v, s, w = _sample(rng, 3000)
    r = classification_metrics("DL", v, s, v, s, w, w)
    for e in (0.01, 0.1, 0.3):
        assert r.eff_train[e] == pytest.approx(r.eff_test[e], abs=1e-12)
    assert r.ks_signal == pytest.approx(1.0) and r.ks_background == pytest.approx(1.0)
    assert r.roc_integral == r.roc_integral_train


def test_fill_histogram_matches_root_edges_and_norm():
    h = fill_histogram("h", [0.0, 0.25, 0.5, 1.0, -1.0, 0.999], [1, 2, 3, 4, 5, 6], 4, 0.0, 1.0)
    # x == xmax goes to overflow, x < xmin to underflow
    assert h.values.tolist() == [5.0, 1.0, 2.0, 3.0, 6.0, 4.0]
    assert h.sumw2.tolist() == [25.0, 1.0, 4.0, 9.0, 36.0, 16.0]
    norm_hist(h)
    assert np.sum(h.contents) * 0.25 == pytest.approx(1.0)


def test_separation_closed_forms():
    a = fill_histogram("a", [0.1, 0.1, 0.3], None, 4, 0.0, 1.0)
    b = fill_histogram("b", [0.6, 0.9], None, 4, 0.0, 1.0)
    assert separation(a, b) == pytest.approx(1.0)  # disjoint
    assert separation(a, a) == pytest.approx(0.0)
    rng = np.random.default_rng(4)
    x1, x2 = rng.random(500), rng.random(700) ** 2
    h1 = fill_histogram("1", x1, None, 10, 0.0, 1.0)
    h2 = fill_histogram("2", x2, None, 10, 0.0, 1.0)
    p = np.histogram(x1, 10, (0, 1))[0] / 500
    q = np.histogram(x2, 10, (0, 1))[0] / 700
    assert separation(h1, h2) == pytest.approx(0.5 * np.sum((p - q) ** 2 / (p + q)))


def test_significance_closed_form():
    rng = np.random.default_rng(6)
    v, s, w = _sample(rng, 500)
    ws, wb = w[s].astype(float), w[~s].astype(float)
    vs, vb = v[s].astype(float), v[~s].astype(float)
    ms, mb = np.average(vs, weights=ws), np.average(vb, weights=wb)
    rs = math.sqrt(np.average((vs - ms) ** 2, weights=ws))
    rb = math.sqrt(np.average((vb - mb) ** 2, weights=wb))
    assert significance(v, s, w) == pytest.approx(abs(ms - mb) / math.hypot(rs, rb), rel=1e-9)


# ------------------------------------------------------------------------------------------------- KS
def test_ks_unweighted_equals_scipy():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 300), rng.normal(0.2, 1.1, 250)
    d, p = ks_2samp_weighted(a.astype(np.float32), b.astype(np.float32))
    a32, b32 = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    ref = scipy.stats.ks_2samp(a32, b32)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(scipy.stats.kstwobign.sf(d * math.sqrt(300 * 250 / 550)), rel=1e-9)


def test_ks_integer_weights_equal_replication():
    rng = np.random.default_rng(8)
    a, b = rng.normal(0, 1, 50), rng.normal(0.3, 1, 40)
    wa = rng.integers(1, 4, 50)
    d, _ = ks_2samp_weighted(a, b, wa, None)
    # the float32 samples (what the statistic sees) handed to SciPy as float64: SciPy 1.18 computes the
    # statistic of float32 inputs in float32
    ref = scipy.stats.ks_2samp(
        np.repeat(a.astype(np.float32).astype(np.float64), wa), b.astype(np.float32).astype(np.float64)
    )
    assert d == pytest.approx(ref.statistic, abs=1e-12)


def test_kolmogorov_test_binned_matches_unbinned_on_integer_data():
    rng = np.random.default_rng(9)
    a = rng.integers(0, 10, 400).astype(float)
    b = rng.integers(0, 12, 300).astype(float)
    ha = fill_histogram("a", a, None, 14, -0.5, 13.5)
    hb = fill_histogram("b", b, None, 14, -0.5, 13.5)
    norm_hist(ha)  # normalisation must not matter (effective entries use sum^2 / sum w^2)
    prob, dmax = kolmogorov_test(ha, hb)
    ref = scipy.stats.ks_2samp(a, b)
    assert dmax == pytest.approx(ref.statistic, abs=1e-12)
    assert prob == pytest.approx(scipy.special.kolmogorov(dmax * math.sqrt(400 * 300 / 700)), rel=1e-9)


# ------------------------------------------------------------------------------------------ regression
def test_regression_metrics_closed_forms():
    rng = np.random.default_rng(10)
    t = rng.uniform(0, 5, 2000)
    p = t + rng.normal(0.05, 0.1, 2000)
    p[:20] += 3.0  # outliers that the truncation removes
    w = rng.uniform(0.5, 2.0, 2000)
    r = regression_metrics(p, t, w, ["fvalue"])[0]
    t32, p32, w32 = (x.astype(np.float32).astype(float) for x in (t, p, w))
    d = (p32.astype(np.float32) - t32.astype(np.float32)).astype(float)
    bias = np.average(d, weights=w32)
    rms = math.sqrt(np.average((d - bias) ** 2, weights=w32))
    assert r.bias == pytest.approx(bias, rel=1e-9)
    assert r.dev == pytest.approx(np.average(np.abs(d), weights=w32), rel=1e-9)
    assert r.rms == pytest.approx(rms, rel=1e-9)
    keep = (d >= bias - 2 * rms) & (d <= bias + 2 * rms)
    assert r.n_truncated == keep.sum() < 2000
    bt = np.average(d[keep], weights=w32[keep])
    assert r.bias_t == pytest.approx(bt, rel=1e-9)
    assert r.rms_t == pytest.approx(math.sqrt(np.average((d[keep] - bt) ** 2, weights=w32[keep])), rel=1e-9)
    cov = np.cov(np.vstack([t32, p32]), aweights=w32)
    assert r.correlation == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), rel=1e-6)
    assert r.target == "fvalue"


def test_regression_multi_target_shapes_and_errors():
    p = np.arange(12.0).reshape(6, 2)
    res = regression_metrics(p, p + np.array([1.0, -2.0]))
    assert [round(x.bias, 9) for x in res] == [-1.0, 2.0]
    assert all(x.rms == 0 for x in res)
    with pytest.raises(InputDataError, match="same shape"):
        regression_metrics(p, p[:, :1])


def _mi_entropy_form(x, y, w, lo, hi, nx=150, ny=100):
    """MI = H(X) + H(Y) - H(X, Y) on the rebinned (75 x 50) histogram, via scipy.stats.entropy."""
    m = (x >= lo) & (x < hi) & (y >= lo) & (y < hi)
    h, _, _ = np.histogram2d(
        x[m], y[m], bins=[np.linspace(lo, hi, nx + 1), np.linspace(lo, hi, ny + 1)], weights=w[m]
    )
    h = h.reshape(nx // 2, 2, ny // 2, 2).sum(axis=(1, 3)).ravel()
    hx = h.reshape(nx // 2, ny // 2)
    ent = scipy.stats.entropy
    return ent(hx.sum(axis=1)) + ent(hx.sum(axis=0)) - ent(h)


def test_mutual_information_second_implementation():
    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, 5000)
    y = x + rng.normal(0, 0.3, 5000)
    w = rng.uniform(0.5, 1.5, 5000)
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    assert mutual_information(x, y, w) == pytest.approx(_mi_entropy_form(x, y, w, lo, hi), rel=1e-9)
    # independent variables: close to zero (positive finite-sample bias only)
    z = rng.normal(0, 1, 5000)
    assert 0 <= mutual_information(x, z) < 0.35 * mutual_information(x, y)


# ------------------------------------------------------------------------------------------ multiclass
def _toy_multiclass(rng, n, k=3):
    c = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), c] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return p, c


def test_multiclass_metrics_against_direct_computations():
    rng = np.random.default_rng(13)
    p, c = _toy_multiclass(rng, 600)
    w = rng.uniform(0.5, 1.5, 600)
    names = ["Signal", "bg0", "bg1"]
    r = multiclass_metrics("DL", p, c, p, c, names, w, w)
    for i in range(3):
        assert r.roc_test[i] == pytest.approx(
            _tmva_auc_bruteforce(p[:, i].astype(np.float32), c == i, w.astype(np.float32).astype(float)),
            abs=1e-9,
        )
    # argmax accuracy and confusion by an explicit loop
    w32 = w.astype(np.float32).astype(float)
    cm = np.zeros((3, 3))
    for ev in range(600):
        cm[c[ev], int(np.argmax(p[ev].astype(np.float32)))] += w32[ev]
    np.testing.assert_allclose(r.argmax_confusion_test, cm)
    assert r.accuracy_test == pytest.approx(np.trace(cm) / cm.sum())
    # 1-vs-1 matrix: row i signal, column j background, output column i; diagonal NaN
    m = r.confusion_test[0.10]
    assert np.isnan(np.diag(m)).all()
    sel = (c == 0) | (c == 2)
    assert m[0, 2] == pytest.approx(eff_s_at_eff_b(p[sel, 0], c[sel] == 0, 0.10, w[sel]))
    assert m[2, 0] == pytest.approx(eff_s_at_eff_b(p[sel, 2], c[sel] == 2, 0.10, w[sel]))
    np.testing.assert_array_equal(confusion_matrix_eff(p, c, 0.10, w), m)


def test_multiclass_bad_shapes():
    with pytest.raises(InputDataError, match="columns"):
        multiclass_metrics(
            "DL", np.ones((4, 2)), [0, 1, 0, 1], np.ones((4, 2)), [0, 1, 0, 1], ["a", "b", "c"]
        )
    with pytest.raises(InputDataError, match="out of range"):
        confusion_matrix_eff(np.ones((3, 2)), [0, 1, 2], 0.1)


# ------------------------------------------------------------------------------------------ printouts
# C printf-style %-formatting is the independent truth for TMVA's Form(...) calls, hence the noqa: UP031.
def test_format_classification_matches_printf():
    r1 = ClassificationResult(
        "DL_CPU",
        0.9123,
        0.92,
        0.91,
        {0.01: 0.2, 0.1: 0.61234, 0.3: 0.9},
        {},
        {0.01: 0.21, 0.1: 0.6, 0.3: 0.91},
        0.5,
        1.0,
        0.5,
        0.5,
        None,
        None,
    )
    r2 = ClassificationResult(
        "BDT",
        0.95,
        0.96,
        0.95,
        {0.01: 0.3, 0.1: 0.7, 0.3: 0.95},
        {},
        {0.01: 0.3, 0.1: 0.7, 0.3: 0.95},
        0.6,
        1.1,
        0.5,
        0.5,
        None,
        None,
    )
    lines = format_classification("dataset", [r1, r2]).splitlines()
    assert lines[2] == "DataSet       MVA                       "
    assert lines[3] == "Name:         Method:          ROC-integ"
    assert lines[4] == "%-13s %-15s: %#1.3f" % ("dataset", "BDT", 0.95)  # noqa: UP031  (ranked by area)
    assert lines[5] == "%-13s %-15s: %#1.3f" % ("dataset", "DL_CPU", 0.9123)  # noqa: UP031
    fmt = "%-20s %-15s: %#1.3f (%#1.3f)       %#1.3f (%#1.3f)      %#1.3f (%#1.3f)"
    assert lines[-2] == fmt % ("dataset", "DL_CPU", 0.2, 0.21, 0.61234, 0.6, 0.9, 0.91)


def test_format_regression_and_multiclass_rows():
    r = RegressionResult("t", 0.0123, -0.001, 0.1, 0.08, 0.12345, 0.1, 1.5, 1.4, 0.99, 90)
    text = format_regression("dataset", [r], [r], ["DL"])
    fmt = "%-20s %-15s:%#9.3g%#9.3g%#9.3g%#9.3g  |  %#5.3f  %#5.3f"
    assert fmt % ("dataset", "DL", 0.0123, -0.001, 0.12345, 0.1, 1.5, 1.4) in text.splitlines()
    rng = np.random.default_rng(1)
    p, c = _toy_multiclass(rng, 200, 2)
    res = multiclass_metrics("DL", p, c, p, c, ["Signal", "bg0"])
    lines = format_multiclass("dataset", [res]).splitlines()
    row = [ln for ln in lines if ln.startswith(" " * 15 + "Signal")][0]
    cell = "%5.3f (%5.3f)" % (res.roc_test[0], res.roc_train[0])  # noqa: UP031
    assert row.startswith("%-15s%-15s%-15s" % ("", "Signal", cell))  # noqa: UP031
    assert "=== Showing confusion matrix for method : DL             " in lines


def test_tmva_internal_name_rules():
    assert tmva_internal_name("var1+var2") == "var1_P_var2"
    assert tmva_internal_name("var1-var2") == "var1_M_var2"
    assert tmva_internal_name("var1*3") == "var1_T_3"
    assert tmva_internal_name("x/y") == "x_D_y"
    assert tmva_internal_name("sqrt(x)") == "sqrt_x_"
    assert tmva_internal_name("jet_pt[0]") == "jet_pt_0_"
    assert tmva_internal_name("myvar1") == "myvar1"


def test_kolmogorov_distribution_against_scipy():
    from tmvacompat.evaluation import _kolmogorov_prob

    for z in [0.0, 0.05, 0.2, 0.5, 0.8, 0.99, 1.0, 1.3, 2.0, 3.5, 7.0]:
        assert _kolmogorov_prob(z) == pytest.approx(float(scipy.special.kolmogorov(z)), abs=1e-14)


def test_negative_cut_orientation_mirrors_positive():
    # signal below background: TMVA counts events below the cut; flipping the sign must give (up to the
    # histogram edge shift) the same efficiencies
    rng = np.random.default_rng(21)
    v, s, w = _sample(rng, 5000)
    pos = classifier_histograms(v, s, w, title="P")
    neg = classifier_histograms(-v, s, w, title="N")
    assert pos.positive and not neg.positive
    for eb in (0.01, 0.10, 0.30):
        assert neg.efficiency(eb) == pytest.approx(pos.efficiency(eb), abs=0.01)
    np.testing.assert_allclose(neg.eff_b_vs_s.contents, pos.eff_b_vs_s.contents, atol=0.01)
