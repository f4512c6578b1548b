"""Evaluation metrics computed the way TMVA's Factory computes and prints them.

Everything here works on plain numpy arrays (MVA outputs, class ids, event weights, targets) and is an
exact, deterministic function of its inputs. The numbers follow TMVA (ROOT 6.2x/6.3x):

* ``roc_curve`` / ``roc_integral`` / ``eff_s_at_eff_b``: ``TMVA::ROCCurve`` (unbinned, weighted; what the
  Factory prints as "ROC-integ" and what the multiclass tables use).
* ``classifier_histograms`` / ``ClassifierHistograms``: ``MethodBase::TestClassification``, ``GetEfficiency``
  and ``GetTrainingEfficiency`` (binned: 40-bin output histograms, 10000-bin cumulative efficiency
  histograms, a 100-bin background-efficiency-vs-signal-efficiency curve found with a Brent root finder on
  linear splines). These give the "Signal efficiency at bkg eff. 0.01 / 0.10 / 0.30" overtraining table.
* ``separation`` (``Tools::GetSeparation`` on histograms), ``significance`` (``MethodBase::GetSignificance``),
  ``kolmogorov_test`` (ROOT ``TH1::KolmogorovTest`` as used by ``MethodBase::GetKSTrainingVsTest``).
* ``regression_metrics``: ``MethodBase::TestRegression`` (bias, |dev|, RMS, 2-sigma truncated versions,
  mutual information from ``Tools::GetMutualInformation``, correlation).
* ``multiclass_metrics``: the 1-vs-rest ROC table and the 1-vs-1 confusion matrices printed by
  ``Factory::EvaluateAllMethods`` (``ResultsMulticlass::GetConfusionMatrix``), plus a plain argmax accuracy.
* ``format_classification`` / ``format_regression`` / ``format_multiclass``: the Factory's printout.

Example:
    >>> import numpy as np
    >>> from tmvacompat.evaluation import roc_integral
    >>> roc_integral(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.875
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tmvacompat.errors import InputDataError

__all__ = [
    "roc_curve",
    "roc_integral",
    "roc_auc_exact",
    "eff_s_at_eff_b",
    "Histogram",
    "fill_histogram",
    "norm_hist",
    "ClassifierHistograms",
    "TrainingEfficiency",
    "classifier_histograms",
    "training_efficiency",
    "separation",
    "significance",
    "kolmogorov_test",
    "ks_2samp_weighted",
    "ClassificationResult",
    "classification_metrics",
    "RegressionResult",
    "regression_metrics",
    "mutual_information",
    "MulticlassResult",
    "multiclass_metrics",
    "confusion_matrix_eff",
    "format_classification",
    "format_regression",
    "format_multiclass",
    "tmva_internal_name",
]

# TMVA configuration defaults (MethodBase / Config): output histogram bins, high-resolution efficiency
# bins, bins of the effBvsS / rejBvsS curves.
NBINS_MVA_OUTPUT = 40
NBINS_HIGH = 10000
NBINS_ROC = 100
_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------------------
def _vector(x, name: str, n: int | None = None, dtype=np.float64) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputDataError(f"{name} must be a 1-D array, got shape {arr.shape}", token=name)
    if n is not None and arr.shape[0] != n:
        raise InputDataError(
            f"{name} has {arr.shape[0]} entries but the MVA values have {n}",
            token=name,
            expected=[f"{n} entries"],
        )
    if dtype is bool:
        return arr.astype(bool)
    out = arr.astype(dtype)
    if np.issubdtype(out.dtype, np.floating) and not np.all(np.isfinite(out)):
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise InputDataError(
            f"{name} contains a non-finite value at index {bad}", token=name, expected=["finite numbers"]
        )
    return out


def _values_weights(values, weights, name: str = "values") -> tuple[np.ndarray, np.ndarray]:
    # TMVA stores MVA values and event weights as Float_t; we round to float32 the same way.
    v = _vector(values, name).astype(np.float32).astype(np.float64)
    if v.size == 0:
        raise InputDataError(f"{name} is empty: no events to evaluate", token=name)
    if weights is None:
        w = np.ones_like(v)
    else:
        w = _vector(weights, "weights", v.size).astype(np.float32).astype(np.float64)
    return v, w


def _split_sb(values, is_signal, weights):
    v, w = _values_weights(values, weights)
    s = _vector(is_signal, "is_signal", v.size, dtype=bool)
    if not s.any() or s.all():
        raise InputDataError(
            "need both signal and background events to evaluate a classifier "
            f"(got {int(s.sum())} signal, {int((~s).sum())} background)",
            token="is_signal",
        )
    return v, s, w


# --------------------------------------------------------------------------------------------------
# TMVA::ROCCurve (unbinned)
# --------------------------------------------------------------------------------------------------
def roc_curve(values, is_signal, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """TMVA's ROC curve points: (signal efficiency, background rejection), weighted.

    Mirrors ``ROCCurve::ComputeSensitivity`` / ``ComputeSpecificity``: events sorted by MVA value
    (ascending; ties keep input order), point 0 is (1, 0), point i+1 is (fraction of signal weight at
    sorted position >= i, fraction of background weight at position <= i), the last point is (0, 1).
    ``len = n_events + 2``. This is the TGraph TMVA stores as ``..._rejBvsS_<class>`` in multiclass mode.

    >>> effs, rejb = roc_curve([0.2, 0.9], [False, True])
    >>> effs.tolist(), rejb.tolist()
    ([1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0])
    """
    v, w = _values_weights(values, weights)
    s = _vector(is_signal, "is_signal", v.size, dtype=bool)
    order = np.argsort(v, kind="stable")
    ws = np.where(s[order], w[order], 0.0)
    wb = np.where(s[order], 0.0, w[order])
    tp = np.cumsum(ws[::-1])[::-1]  # signal weight at sorted position >= i
    tn = np.cumsum(wb)  # background weight at sorted position <= i
    tot_s = tp[0] if tp.size else 0.0
    tot_b = tn[-1] if tn.size else 0.0
    tiny = np.finfo(np.float64).tiny
    sens = tp / tot_s if tot_s > tiny else np.zeros_like(tp)
    spec = tn / tot_b if tot_b > tiny else np.zeros_like(tn)
    return np.concatenate([[1.0], sens, [0.0]]), np.concatenate([[0.0], spec, [1.0]])


def roc_integral(values, is_signal, weights=None) -> float:
    """ROC integral as TMVA's Factory prints it ("ROC-integ"): ``ROCCurve::GetROCIntegral``.

    Trapezoidal area under background rejection vs signal efficiency over the points of
    :func:`roc_curve`. Differs from the exact rank AUC (:func:`roc_auc_exact`) by at most
    ``max_w_s * max_w_b / (W_s * W_b)`` per adjacent signal/background pair (O(1/N)).

    >>> roc_integral([0.1, 0.2, 0.3, 0.4], [False, False, True, True])
    1.0
    """
    v, s, w = _split_sb(values, is_signal, weights)
    sens, spec = roc_curve(v, s, w)
    return float(np.sum(0.5 * (sens[:-1] - sens[1:]) * (spec[:-1] + spec[1:])))


def roc_auc_exact(values, is_signal, weights=None) -> float:
    """Exact weighted AUC = P(signal value > background value) + 1/2 P(tie) (Mann-Whitney).

    Not TMVA's number (see :func:`roc_integral`) but its continuum limit; useful as a reference.

    >>> roc_auc_exact([0.1, 0.5, 0.5, 0.9], [False, True, False, True])
    0.875
    """
    v, s, w = _split_sb(values, is_signal, weights)
    uniq, inv = np.unique(v, return_inverse=True)
    ws = np.bincount(inv, weights=np.where(s, w, 0.0), minlength=uniq.size)
    wb = np.bincount(inv, weights=np.where(s, 0.0, w), minlength=uniq.size)
    below_b = np.cumsum(wb) - wb
    return float(np.sum(ws * (below_b + 0.5 * wb)) / (ws.sum() * wb.sum()))


def _tspline1(xn: np.ndarray, yn: np.ndarray, x):
    """``TMVA::TSpline1::Eval``: linear interpolation between graph points, linear extrapolation."""
    xn = np.asarray(xn, np.float64)
    yn = np.asarray(yn, np.float64)
    xa = np.asarray(x, np.float64)
    n = xn.size
    ibin = np.clip(np.searchsorted(xn, xa, side="right") - 1, 0, n - 1)
    forward = ((xa > xn[ibin]) & (ibin != n - 1)) | (ibin == 0)
    nxt = np.where(forward, ibin + 1, ibin - 1)
    dx = xn[ibin] - xn[nxt]
    dy = yn[ibin] - yn[nxt]
    # TMVA divides by dx even when two nodes coincide (NaN); we take the flat value there instead.
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(dx != 0.0, dy / np.where(dx != 0.0, dx, 1.0), 0.0)
    out = yn[ibin] + (xa - xn[ibin]) * slope
    return float(out) if np.ndim(out) == 0 else out


def eff_s_at_eff_b(values, is_signal, eff_b: float, weights=None) -> float:
    """Signal efficiency at a background efficiency: ``ROCCurve::GetEffSForEffB``.

    Linear interpolation (TSpline1) of the unbinned ROC points, as used by the Factory's multiclass
    tables and confusion matrices.

    >>> eff_s_at_eff_b([0.1, 0.2, 0.3, 0.4], [False, False, True, True], 0.5)
    1.0
    """
    if not 0.0 <= float(eff_b) <= 1.0:
        raise InputDataError(
            f"background efficiency {eff_b} is outside [0, 1]",
            token=str(eff_b),
            expected=["a value in [0, 1]"],
        )
    v, s, w = _split_sb(values, is_signal, weights)
    sens, spec = roc_curve(v, s, w)
    effb = (1.0 - spec)[::-1]
    effs = sens[::-1]
    return float(_tspline1(effb, effs, float(eff_b)))


# --------------------------------------------------------------------------------------------------
# ROOT-style 1-D histograms
# --------------------------------------------------------------------------------------------------
@dataclass
class Histogram:
    """A fixed-binning 1-D histogram in ROOT's layout (``values``/``sumw2`` include under/overflow).

    ``values[0]`` is the underflow, ``values[1:-1]`` the ``nbins`` in-range bins, ``values[-1]`` the
    overflow. ``entries`` is ROOT's ``fEntries``.
    """

    name: str
    title: str
    nbins: int
    xmin: float
    xmax: float
    values: np.ndarray
    sumw2: np.ndarray
    entries: float = 0.0
    float32: bool = False  # TH1F (True) or TH1D (False)
    # ROOT's fTsumw, fTsumw2, fTsumwx, fTsumwx2 (in-range fills only; zero for SetBinContent histograms)
    stats: np.ndarray = field(default_factory=lambda: np.zeros(4))

    @property
    def edges(self) -> np.ndarray:
        """Bin edges (``nbins + 1``)."""
        return np.linspace(self.xmin, self.xmax, self.nbins + 1)

    @property
    def centers(self) -> np.ndarray:
        """Bin centres as ROOT's ``GetBinCenter`` computes them."""
        width = (self.xmax - self.xmin) / self.nbins
        return self.xmin + (np.arange(self.nbins) + 0.5) * width

    @property
    def contents(self) -> np.ndarray:
        """In-range bin contents (``nbins``)."""
        return self.values[1:-1]

    def sum_of_weights(self) -> float:
        """ROOT's ``GetSumOfWeights``: the in-range contents summed."""
        return float(np.sum(self.contents))


def _bin_index(x: np.ndarray, nbins: int, xmin: float, xmax: float) -> np.ndarray:
    """ROOT ``TAxis::FindFixBin``: 0 underflow, 1..nbins, nbins+1 overflow (x == xmax is overflow)."""
    idx = np.empty(x.shape, dtype=np.int64)
    under = x < xmin
    over = x >= xmax
    inside = ~(under | over)
    idx[under] = 0
    idx[over] = nbins + 1
    idx[inside] = 1 + (nbins * (x[inside] - xmin) / (xmax - xmin)).astype(np.int64)
    return np.clip(idx, 0, nbins + 1)


def fill_histogram(
    name: str,
    values,
    weights,
    nbins: int,
    xmin: float,
    xmax: float,
    *,
    title: str | None = None,
    float32: bool = False,
) -> Histogram:
    """Fill a histogram the way ``TH1::Fill(x, w)`` does (with ``Sumw2``).

    >>> h = fill_histogram("h", [0.1, 0.5, 1.0], None, 2, 0.0, 1.0)
    >>> h.values.tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    x = np.asarray(values, np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)
    idx = _bin_index(x, nbins, xmin, xmax)
    vals = np.bincount(idx, weights=w, minlength=nbins + 2)
    w2 = np.bincount(idx, weights=w * w, minlength=nbins + 2)
    m = (idx >= 1) & (idx <= nbins)
    xi, wi = x[m], w[m]
    stats = np.array([wi.sum(), (wi * wi).sum(), (wi * xi).sum(), (wi * xi * xi).sum()])
    return Histogram(
        name,
        name if title is None else title,
        nbins,
        float(xmin),
        float(xmax),
        vals,
        w2,
        entries=float(x.size),
        float32=float32,
        stats=stats,
    )


def norm_hist(h: Histogram, norm: float = 1.0) -> float:
    """``Tools::NormHist``: scale so that (sum of in-range contents) x bin width = ``norm``.

    Returns the scale denominator (sum of weights x bin width), as TMVA does.
    """
    sw = h.sum_of_weights()
    if sw == 0:
        return 1.0
    w = sw * (h.xmax - h.xmin) / h.nbins
    if w > 0:
        f = norm / w
        h.values = h.values * f
        h.sumw2 = h.sumw2 * f * f
        h.stats = h.stats * np.array([f, f * f, f, f])
    return w


def _set_hist(
    name: str, title: str, contents: np.ndarray, xmin: float, xmax: float, entries: float
) -> Histogram:
    n = contents.size
    vals = np.concatenate([[0.0], contents.astype(np.float64), [0.0]])
    return Histogram(name, title, n, float(xmin), float(xmax), vals, np.zeros(n + 2), entries=entries)


# --------------------------------------------------------------------------------------------------
# MethodBase::TestClassification / GetEfficiency / GetTrainingEfficiency (binned)
# --------------------------------------------------------------------------------------------------
def _weighted_mean_rms(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = w.sum()
    if sw == 0:
        return 0.0, 0.0
    mean = float(np.sum(w * x) / sw)
    return mean, float(math.sqrt(abs(np.sum(w * x * x) / sw - mean * mean)))


def _cumulative_eff(
    values: np.ndarray, weights: np.ndarray, nbins: int, xmin: float, xmax: float, positive: bool
) -> np.ndarray:
    """The ``_effS``/``_effB`` histogram contents: weight passing a cut at each bin, scaled to max 1."""
    maxbin = np.trunc((values - xmin) / (xmax - xmin) * nbins).astype(np.int64) + 1
    if positive:  # event counts in bins 1..maxbin; dropped if maxbin > nbins
        keep = maxbin <= nbins
        mb = np.clip(maxbin[keep], 1, nbins)
        cnt = np.bincount(mb, weights=weights[keep], minlength=nbins + 1)[1:]
        contents = np.cumsum(cnt[::-1])[::-1]
    else:  # event counts in bins maxbin+1..nbins; dropped if maxbin < 1
        keep = maxbin >= 1
        mb = np.clip(maxbin[keep], 1, nbins)
        cnt = np.bincount(mb, weights=weights[keep], minlength=nbins + 1)[1:]
        contents = np.concatenate([[0.0], np.cumsum(cnt)[:-1]])
    top = contents.max() if contents.size else 0.0
    return contents / max(_EPS, top)


def _brent_root(
    func, lo: float, hi: float, target: float, max_iter: int = 100, abs_tol: float = 0.0
) -> float:
    """``TMVA::RootFinder::Root`` (Brent's method as in CERNLIB RZERO); returns 1 if no sign change."""
    a, b = lo, hi
    fa = func(a) - target
    fb = func(b) - target
    if fa * fb > 0:
        return 1.0  # TMVA warns and returns 1 in this case
    ac_equal = False
    fc = fb
    c = d = e = 0.0
    for _ in range(max_iter + 1):
        if (fb < 0 and fc < 0) or (fb > 0 and fc > 0):
            ac_equal = True
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            ac_equal = True
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 0.5 * 2.2204460492503131e-16 * abs(b)
        m = 0.5 * (c - b)
        if fb == 0 or abs(m) <= tol or abs(fb) < abs_tol:
            return b
        if abs(e) < tol or abs(fa) <= abs(fb):
            d = e = m
        else:
            s = fb / fa
            if ac_equal:
                p = 2 * m * s
                q = 1 - s
            else:
                q = fa / fc
                r = fb / fc
                p = s * (2 * m * q * (q - r) - (b - a) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            min1 = 3 * m * q - abs(tol * q)
            min2 = abs(e * q)
            if 2 * p < min(min1, min2):
                e = d
                d = p / q
            else:
                d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if m > 0 else -tol)
        fb = func(b) - target
    return b


class _Spline:
    """Scalar-fast TSpline1 over a fixed graph (used inside the root finder)."""

    def __init__(self, xn: np.ndarray, yn: np.ndarray) -> None:
        self.x = [float(v) for v in xn]
        self.y = [float(v) for v in yn]
        self.n = len(self.x)

    def __call__(self, x: float) -> float:
        xs, ys, n = self.x, self.y, self.n
        i = min(max(bisect.bisect_right(xs, x) - 1, 0), n - 1)
        j = i + 1 if ((x > xs[i] and i != n - 1) or i == 0) else i - 1
        dx = xs[i] - xs[j]
        return ys[i] if dx == 0 else ys[i] + (x - xs[i]) * (ys[i] - ys[j]) / dx


def _scan_eff_s(spl_effb_vs_s: _Spline, eff_b_ref: float) -> float:
    """The 1000-step scan of ``GetEfficiency``: signal efficiency where effB crosses ``eff_b_ref``."""
    ref = float(np.float32(eff_b_ref))
    effs = effs_prev = effb_prev = 0.0
    for i in range(1, 1001):
        effs = (i - 0.5) / 1000.0
        effb = spl_effb_vs_s(effs)
        if (effb - ref) * (effb_prev - ref) <= 0:
            break
        effs_prev, effb_prev = effs, effb
    return 0.5 * (effs + effs_prev)


@dataclass
class ClassifierHistograms:
    """What ``MethodBase::TestClassification`` + ``GetEfficiency`` build for one method (test sample).

    Histogram names follow TMVA with ``MVA_<title>`` as prefix; all are ready to be written to the output
    file (see :mod:`tmvacompat.output`).
    """

    title: str
    xmin: float  # fXmin
    xmax: float  # fXmax (the histograms end at xmax + 1e-5)
    positive: bool  # cut orientation: signal mean above background mean
    mean_s: float
    mean_b: float
    rms_s: float
    rms_b: float
    sum_w_s: float
    mva_s: Histogram
    mva_b: Histogram
    mva_s_high: Histogram
    mva_b_high: Histogram
    eff_s: Histogram
    eff_b: Histogram
    eff_b_vs_s: Histogram
    rej_b_vs_s: Histogram
    inv_b_eff_vs_s_eff: Histogram
    cuts: np.ndarray = field(repr=False)  # cut value found for each effBvsS bin centre

    def histograms(self) -> list[Histogram]:
        """The test histograms in the order TMVA writes them."""
        return [
            self.mva_s,
            self.mva_b,
            self.mva_s_high,
            self.mva_b_high,
            self.eff_s,
            self.eff_b,
            self.eff_b_vs_s,
            self.rej_b_vs_s,
            self.inv_b_eff_vs_s_eff,
        ]

    def efficiency(self, eff_b: float | None) -> float:
        """``GetEfficiency("Efficiency:<eff_b>")``; ``None`` gives the area ``GetEfficiency("")``."""
        spl = _Spline(self.eff_b_vs_s.centers, self.eff_b_vs_s.contents)
        if eff_b is None:
            return float(np.mean([1.0 - spl((i - 0.5) / 1000.0) for i in range(1, 1001)]))
        return _scan_eff_s(spl, eff_b)

    def efficiency_error(self, eff_b: float) -> float:
        """TMVA's binomial error on :meth:`efficiency`: sqrt(eff (1 - eff) / sum of signal weights)."""
        e = self.efficiency(eff_b)
        return math.sqrt(e * (1.0 - e) / self.sum_w_s) if self.sum_w_s > 0 else 0.0


def classifier_histograms(
    values,
    is_signal,
    weights=None,
    *,
    title: str = "MVA",
    nbins: int = NBINS_MVA_OUTPUT,
    nbins_high: int = NBINS_HIGH,
    nbins_roc: int = NBINS_ROC,
) -> ClassifierHistograms:
    """Build TMVA's binned classifier evaluation on the test sample.

    Histogram range: [max(min(mS - 10 rmsS, mB - 10 rmsB), min value), min(max(mS + 10 rmsS,
    mB + 10 rmsB), max value) + 1e-5] (weighted means/RMS), as ``TestClassification``.

    >>> rng = np.random.default_rng(1)
    >>> v = np.concatenate([rng.normal(1, 1, 500), rng.normal(-1, 1, 500)])
    >>> h = classifier_histograms(v, np.arange(1000) < 500, title="DL")
    >>> h.mva_s.name, round(h.efficiency(0.10), 2)
    ('MVA_DL_S', 0.78)
    """
    v, s, w = _split_sb(values, is_signal, weights)
    mean_s, rms_s = _weighted_mean_rms(v[s], w[s])
    mean_b, rms_b = _weighted_mean_rms(v[~s], w[~s])
    nrms = 10.0
    xmin = max(min(mean_s - nrms * rms_s, mean_b - nrms * rms_b), float(v.min()))
    xmax = min(max(mean_s + nrms * rms_s, mean_b + nrms * rms_b), float(v.max()))
    if xmax <= xmin:  # all outputs identical: give the histograms a non-empty range
        xmax = xmin + 1e-5
    positive = mean_s > mean_b
    sxmax = xmax + 0.00001
    pre = f"MVA_{title}"
    mva_s = fill_histogram(pre + "_S", v[s], w[s], nbins, xmin, sxmax)
    mva_b = fill_histogram(pre + "_B", v[~s], w[~s], nbins, xmin, sxmax)
    hs = fill_histogram(pre + "_S_high", v[s], w[s], nbins_high, xmin, sxmax)
    hb = fill_histogram(pre + "_B_high", v[~s], w[~s], nbins_high, xmin, sxmax)
    for h in (mva_s, mva_b, hs, hb):
        norm_hist(h)
    eff_s_c = _cumulative_eff(v[s], w[s], nbins_high, xmin, sxmax, positive)
    eff_b_c = _cumulative_eff(v[~s], w[~s], nbins_high, xmin, sxmax, positive)
    eff_s = _set_hist(pre + "_effS", pre + " (signal)", eff_s_c, xmin, sxmax, 0.0)
    eff_b = _set_hist(pre + "_effB", pre + " (background)", eff_b_c, xmin, sxmax, 0.0)

    cuts, eff_bvss = _eff_b_vs_s(eff_s, eff_b, xmin, xmax, positive, nbins_roc)
    inv = np.where(eff_bvss > _EPS, 1.0 / np.where(eff_bvss > _EPS, eff_bvss, 1.0), 0.0)
    return ClassifierHistograms(
        title=title,
        xmin=xmin,
        xmax=xmax,
        positive=positive,
        mean_s=mean_s,
        mean_b=mean_b,
        rms_s=rms_s,
        rms_b=rms_b,
        sum_w_s=float(w[s].sum()),
        mva_s=mva_s,
        mva_b=mva_b,
        mva_s_high=hs,
        mva_b_high=hb,
        eff_s=eff_s,
        eff_b=eff_b,
        eff_b_vs_s=_set_hist(pre + "_effBvsS", pre, eff_bvss, 0.0, 1.0, float(nbins_roc)),
        rej_b_vs_s=_set_hist(pre + "_rejBvsS", pre, 1.0 - eff_bvss, 0.0, 1.0, float(nbins_roc)),
        inv_b_eff_vs_s_eff=_set_hist(
            pre + "_invBeffvsSeff", pre, inv, 0.0, 1.0, float(np.count_nonzero(eff_bvss > _EPS))
        ),
        cuts=cuts,
    )


def proba_rarity_histograms(
    title: str, proba, rarity, is_signal, weights=None, *, nbins: int = NBINS_MVA_OUTPUT
) -> list[Histogram]:
    """``MVA_<title>_Proba_S/B`` and ``MVA_<title>_Rarity_S/B``: the test events' signal probabilities and
    rarities in ``nbins`` bins on [0, 1], normalised (``TestClassification`` with CreateMVAPdfs).

    >>> hs = proba_rarity_histograms("DL", [0.2, 0.9], [0.1, 0.95], [False, True])
    >>> [h.name for h in hs]
    ['MVA_DL_Proba_S', 'MVA_DL_Proba_B', 'MVA_DL_Rarity_S', 'MVA_DL_Rarity_B']
    """
    p, s, w = _split_sb(proba, is_signal, weights)
    r = np.asarray(rarity, np.float64)
    pre = f"MVA_{title}"
    out = [
        fill_histogram(pre + "_Proba_S", p[s], w[s], nbins, 0.0, 1.0),
        fill_histogram(pre + "_Proba_B", p[~s], w[~s], nbins, 0.0, 1.0),
        fill_histogram(pre + "_Rarity_S", r[s], w[s], nbins, 0.0, 1.0),
        fill_histogram(pre + "_Rarity_B", r[~s], w[~s], nbins, 0.0, 1.0),
    ]
    for h in out:
        norm_hist(h)
    return out


def _root_function(eff_s: Histogram, xmin: float, xmax: float, positive: bool):
    spl = _Spline(eff_s.centers, eff_s.contents)

    def value_for_root(cut: float) -> float:  # MethodBase::GetValueForRoot
        if cut - xmin < 1.0e-5:
            return 1.0 if positive else 0.0
        if xmax - cut < 1.0e-5:
            return 0.0 if positive else 1.0
        return spl(cut)

    return value_for_root


def _eff_b_vs_s(
    eff_s: Histogram, eff_b: Histogram, xmin: float, xmax: float, positive: bool, nbins_roc: int
) -> tuple[np.ndarray, np.ndarray]:
    f = _root_function(eff_s, xmin, xmax, positive)
    spl_b = _Spline(eff_b.centers, eff_b.contents)
    centers = (np.arange(nbins_roc) + 0.5) / nbins_roc
    cuts = np.array([_brent_root(f, xmin, xmax, float(c)) for c in centers])
    return cuts, np.array([spl_b(float(c)) for c in cuts])


@dataclass
class TrainingEfficiency:
    """What ``MethodBase::GetTrainingEfficiency`` builds from the training sample."""

    train_s: Histogram
    train_b: Histogram
    training_eff_s: Histogram
    training_eff_b: Histogram
    training_eff_b_vs_s: Histogram
    training_rej_b_vs_s: Histogram

    def histograms(self) -> list[Histogram]:
        """The training histograms in the order TMVA writes them."""
        return [
            self.train_s,
            self.train_b,
            self.training_eff_s,
            self.training_eff_b,
            self.training_eff_b_vs_s,
            self.training_rej_b_vs_s,
        ]

    def efficiency(self, eff_b: float) -> float:
        """``GetTrainingEfficiency("Efficiency:<eff_b>")``."""
        spl = _Spline(self.training_eff_b_vs_s.centers, self.training_eff_b_vs_s.contents)
        return _scan_eff_s(spl, eff_b)


def training_efficiency(
    test: ClassifierHistograms,
    values,
    is_signal,
    weights=None,
    *,
    nbins: int = NBINS_MVA_OUTPUT,
    nbins_high: int = NBINS_HIGH,
) -> TrainingEfficiency:
    """TMVA's training-sample efficiencies (the "from training sample" overtraining numbers).

    Uses the test sample's histogram range and cut orientation. As in TMVA, the cut for each signal
    efficiency is found on the *test* signal efficiency curve (``GetValueForRoot`` reads the test spline),
    and the training background efficiency is read at that cut.
    """
    v, s, w = _split_sb(values, is_signal, weights)
    pre = f"MVA_{test.title}"
    sxmax = test.xmax + 0.00001
    tr_s = fill_histogram(pre + "_Train_S", v[s], w[s], nbins, test.xmin, sxmax)
    tr_b = fill_histogram(pre + "_Train_B", v[~s], w[~s], nbins, test.xmin, sxmax)
    norm_hist(tr_s)
    norm_hist(tr_b)
    lo, hi = test.mva_s_high.xmin, test.mva_s_high.xmax
    es = _cumulative_eff(v[s], w[s], nbins_high, lo, hi, test.positive)
    eb = _cumulative_eff(v[~s], w[~s], nbins_high, lo, hi, test.positive)
    h_es = _set_hist(pre + "_trainingEffS", pre + " (signal)", es, lo, hi, 0.0)
    h_eb = _set_hist(pre + "_trainingEffB", pre + " (background)", eb, lo, hi, 0.0)
    spl_b = _Spline(h_eb.centers, h_eb.contents)
    effb = np.array([spl_b(float(c)) for c in test.cuts])
    n = test.eff_b_vs_s.nbins
    return TrainingEfficiency(
        tr_s,
        tr_b,
        h_es,
        h_eb,
        _set_hist(pre + "_trainingEffBvsS", pre, effb, 0.0, 1.0, float(n)),
        _set_hist(pre + "_trainingRejBvsS", pre, 1.0 - effb, 0.0, 1.0, float(n)),
    )


def separation(hist_s: Histogram, hist_b: Histogram) -> float:
    """``Tools::GetSeparation(TH1*, TH1*)``: <S^2> = 1/2 sum (s - b)^2 / (s + b) x bin width.

    s and b are the histograms normalised to unit area. 0 for identical shapes, 1 for disjoint ones.
    (TMVA's ``MethodBase::GetSeparation()`` integrates spline PDFs of the same histograms instead.)
    """
    if hist_s.nbins != hist_b.nbins or hist_s.xmin != hist_b.xmin or hist_s.xmax != hist_b.xmax:
        raise InputDataError(
            "separation needs signal and background histograms with the same binning",
            token=f"{hist_s.name}/{hist_b.name}",
        )
    width = (hist_s.xmax - hist_s.xmin) / hist_s.nbins
    ns = hist_s.sum_of_weights() * width
    nb = hist_b.sum_of_weights() * width
    if ns <= 0 or nb <= 0:
        return 0.0
    s = hist_s.contents / ns
    b = hist_b.contents / nb
    tot = s + b
    m = tot > 0
    return float(0.5 * width * np.sum((s[m] - b[m]) ** 2 / tot[m]))


def significance(values, is_signal, weights=None) -> float:
    """``MethodBase::GetSignificance``: |<S> - <B>| / sqrt(RMS_S^2 + RMS_B^2) (weighted).

    >>> round(significance([1.0, 3.0, -1.0, -3.0], [True, True, False, False]), 4)
    2.8284
    """
    v, s, w = _split_sb(values, is_signal, weights)
    ms, rs = _weighted_mean_rms(v[s], w[s])
    mb, rb = _weighted_mean_rms(v[~s], w[~s])
    rms = math.sqrt(rs * rs + rb * rb)
    return abs(ms - mb) / rms if rms > 0 else 0.0


def _kolmogorov_prob(z: float) -> float:
    """Kolmogorov distribution survival function Q(z) = 2 sum_k>=1 (-1)^(k-1) exp(-2 k^2 z^2).

    Evaluated to double precision (ROOT's ``TMath::KolmogorovProb`` truncates the series to 4 terms, which
    differs by less than 1e-5); for small z the equivalent Jacobi-theta form converges faster.
    """
    if z <= 0.0:
        return 1.0
    if z < 1.0:
        c = math.pi**2 / (8.0 * z * z)
        s = sum(math.exp(-((2 * k - 1) ** 2) * c) for k in range(1, 20))
        return max(0.0, min(1.0, 1.0 - math.sqrt(2.0 * math.pi) / z * s))
    s = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * z * z) for k in range(1, 40))
    return max(0.0, min(1.0, 2.0 * s))


def kolmogorov_test(h1: Histogram, h2: Histogram) -> tuple[float, float]:
    """ROOT ``TH1::KolmogorovTest`` (default options) on two histograms: (probability, max distance).

    Effective entries ``sum^2 / sum(w^2)`` per histogram (normalisation-independent), z = D sqrt(n1 n2 /
    (n1 + n2)), probability = Kolmogorov Q(z). This is TMVA's train-vs-test overtraining check
    (``MethodBase::GetKSTrainingVsTest`` on MVA_S vs MVA_Train_S and MVA_B vs MVA_Train_B).
    """
    if h1.nbins != h2.nbins or not np.isclose(h1.xmin, h2.xmin) or not np.isclose(h1.xmax, h2.xmax):
        raise InputDataError(
            "Kolmogorov test needs histograms with the same binning", token=f"{h1.name}/{h2.name}"
        )
    c1, c2 = h1.contents, h2.contents
    s1, s2 = c1.sum(), c2.sum()
    if s1 <= 0 or s2 <= 0:
        raise InputDataError("Kolmogorov test on an empty histogram", token=h1.name if s1 <= 0 else h2.name)
    w1, w2 = h1.sumw2[1:-1].sum(), h2.sumw2[1:-1].sum()
    e1 = s1 * s1 / w1 if w1 > 0 else h1.entries
    e2 = s2 * s2 / w2 if w2 > 0 else h2.entries
    dmax = float(np.max(np.abs(np.cumsum(c1) / s1 - np.cumsum(c2) / s2)))
    z = dmax * math.sqrt(e1 * e2 / (e1 + e2))
    return _kolmogorov_prob(z), dmax


def ks_2samp_weighted(a, b, weights_a=None, weights_b=None) -> tuple[float, float]:
    """Unbinned two-sample KS test with event weights: (statistic D, asymptotic p-value).

    D = max |F_a - F_b| over the weighted empirical CDFs; p = Q(D sqrt(n_a n_b / (n_a + n_b))) with
    Kish effective sizes n = (sum w)^2 / sum w^2. With unit weights D equals scipy's ``ks_2samp``.
    """
    xa, wa = _values_weights(a, weights_a, "a")
    xb, wb = _values_weights(b, weights_b, "b")
    allx = np.concatenate([xa, xb])
    grid = np.unique(allx)
    ia = np.searchsorted(grid, xa)
    ib = np.searchsorted(grid, xb)
    ca = np.cumsum(np.bincount(ia, weights=wa, minlength=grid.size)) / wa.sum()
    cb = np.cumsum(np.bincount(ib, weights=wb, minlength=grid.size)) / wb.sum()
    d = float(np.max(np.abs(ca - cb)))
    na = wa.sum() ** 2 / np.sum(wa * wa)
    nb = wb.sum() ** 2 / np.sum(wb * wb)
    return d, _kolmogorov_prob(d * math.sqrt(na * nb / (na + nb)))


# --------------------------------------------------------------------------------------------------
# Classification summary (what EvaluateAllMethods computes per method)
# --------------------------------------------------------------------------------------------------
@dataclass
class ClassificationResult:
    """All numbers the Factory computes for one binary classifier."""

    method: str
    roc_integral: float  # ROCCurve on the test sample, printed as ROC-integ
    roc_integral_train: float
    eff_area: float  # GetEfficiency("") (the ranking key)
    eff_test: dict[float, float]  # {0.01: effS, 0.10: ..., 0.30: ...} from the test sample
    eff_err: dict[float, float]
    eff_train: dict[float, float]  # same, training sample (overtraining check)
    separation: float
    significance: float
    ks_signal: float  # KS probability test vs train, signal
    ks_background: float
    test_hists: ClassifierHistograms = field(repr=False)
    train_hists: TrainingEfficiency = field(repr=False)


def classification_metrics(
    method: str,
    test_values,
    test_is_signal,
    train_values,
    train_is_signal,
    test_weights=None,
    train_weights=None,
    eff_levels: Sequence[float] = (0.01, 0.10, 0.30),
) -> ClassificationResult:
    """Evaluate one binary classifier like ``Factory::EvaluateAllMethods``.

    >>> rng = np.random.default_rng(0)
    >>> def sample(n):
    ...     y = np.arange(n) < n // 2
    ...     return np.where(y, rng.normal(1, 1, n), rng.normal(-1, 1, n)), y
    >>> (vt, yt), (vr, yr) = sample(2000), sample(2000)
    >>> r = classification_metrics("DL", vt, yt, vr, yr)
    >>> round(r.roc_integral, 2)
    0.91
    """
    th = classifier_histograms(test_values, test_is_signal, test_weights, title=method)
    tr = training_efficiency(th, train_values, train_is_signal, train_weights)
    ks_s = kolmogorov_test(th.mva_s, tr.train_s)[0]
    ks_b = kolmogorov_test(th.mva_b, tr.train_b)[0]
    return ClassificationResult(
        method=method,
        roc_integral=roc_integral(test_values, test_is_signal, test_weights),
        roc_integral_train=roc_integral(train_values, train_is_signal, train_weights),
        eff_area=th.efficiency(None),
        eff_test={e: th.efficiency(e) for e in eff_levels},
        eff_err={e: th.efficiency_error(e) for e in eff_levels},
        eff_train={e: tr.efficiency(e) for e in eff_levels},
        separation=separation(th.mva_s, th.mva_b),
        significance=significance(test_values, test_is_signal, test_weights),
        ks_signal=ks_s,
        ks_background=ks_b,
        test_hists=th,
        train_hists=tr,
    )


# --------------------------------------------------------------------------------------------------
# Regression: MethodBase::TestRegression
# --------------------------------------------------------------------------------------------------
def mutual_information(
    x,
    y,
    weights=None,
    *,
    nbins_x: int = 150,
    nbins_y: int = 100,
    lo: float | None = None,
    hi: float | None = None,
    rebin: int = 2,
) -> float:
    """``Tools::GetMutualInformation`` on TMVA's regression histogram.

    Binning (as ``TestRegression``): a 150 (x = regression output) x 100 (y = target) histogram over the
    common range [min(x, y), max(x, y)) on both axes (a value equal to the maximum is overflow and left
    out, as in ROOT), rebinned by 2 in x and y (75 x 50). MI = sum p_xy ln(p_xy / (p_x p_y)) in nats,
    probabilities relative to the in-range total. Returns -1 when nothing is in range (TMVA's value).
    """
    xv = np.asarray(x, np.float64)
    yv = np.asarray(y, np.float64)
    w = np.ones_like(xv) if weights is None else np.asarray(weights, np.float64)
    if lo is None:
        lo = float(min(xv.min(), yv.min()))
    if hi is None:
        hi = float(max(xv.max(), yv.max()))
    if not hi > lo:
        return -1.0
    ix = _bin_index(xv, nbins_x, lo, hi)
    iy = _bin_index(yv, nbins_y, lo, hi)
    m = (ix >= 1) & (ix <= nbins_x) & (iy >= 1) & (iy <= nbins_y)
    h = np.zeros((nbins_x, nbins_y))
    np.add.at(h, (ix[m] - 1, iy[m] - 1), w[m])
    total = h.sum()
    if total == 0:
        return -1.0
    h = h.reshape(nbins_x // rebin, rebin, nbins_y // rebin, rebin).sum(axis=(1, 3))
    p = h / total
    px = p.sum(axis=1, keepdims=True)
    py = p.sum(axis=0, keepdims=True)
    ok = (p > 0) & (px > 0) & (py > 0)
    return float(np.sum(p[ok] * np.log(p[ok] / (px @ py)[ok])))


@dataclass
class RegressionResult:
    """``TestRegression`` numbers for one target (``_t``: events within 2 sigma of the mean deviation)."""

    target: str
    bias: float  # weighted mean of (output - target)
    bias_t: float
    dev: float  # weighted mean of |output - target|
    dev_t: float
    rms: float  # weighted RMS of (output - target) around the bias
    rms_t: float
    mutual_info: float
    mutual_info_t: float
    correlation: float  # weighted Pearson correlation of output and target
    n_truncated: int  # events kept for the truncated quantities


def regression_metrics(
    predictions, targets, weights=None, target_names: Sequence[str] | None = None
) -> list[RegressionResult]:
    """Per-target regression metrics as ``MethodBase::TestRegression`` computes them.

    ``predictions`` and ``targets`` are (n,) or (n, n_targets). TMVA itself evaluates only target 0;
    here every target is treated the same way. TMVA's correlation accumulates the cross term without
    weights (a TMVA quirk); here it is fully weighted (identical for unit weights).

    >>> r = regression_metrics([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])[0]
    >>> round(r.bias, 6), round(r.dev, 6)
    (0.0, 0.333333)
    """
    p = np.asarray(predictions, np.float64)
    t = np.asarray(targets, np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if t.ndim == 1:
        t = t[:, None]
    if p.shape != t.shape or p.ndim != 2:
        raise InputDataError(
            f"predictions {p.shape} and targets {t.shape} must have the same shape",
            token="predictions",
            expected=[str(t.shape)],
        )
    if p.shape[0] == 0:
        raise InputDataError("no events to evaluate the regression on", token="predictions")
    names = list(target_names) if target_names is not None else [f"target{i}" for i in range(p.shape[1])]
    if len(names) != p.shape[1]:
        raise InputDataError(f"{len(names)} target names for {p.shape[1]} targets", token="target_names")
    out = []
    for k, name in enumerate(names):
        r, w = _values_weights(p[:, k], weights, "predictions")
        tt = _vector(t[:, k], "targets").astype(np.float32).astype(np.float64)
        d = (r.astype(np.float32) - tt.astype(np.float32)).astype(np.float64)  # Float_t d = r - t
        sw = w.sum()
        if sw <= 0:
            raise InputDataError("the sum of event weights is not positive", token="weights")
        bias = float(np.sum(w * d) / sw)
        dev = float(np.sum(w * np.abs(d)) / sw)
        rms = math.sqrt(max(float(np.sum(w * d * d) / sw) - bias * bias, 0.0))
        m1, m2 = np.sum(w * tt) / sw, np.sum(w * r) / sw
        var1 = np.sum(w * tt * tt) / sw - m1 * m1
        var2 = np.sum(w * r * r) / sw - m2 * m2
        cov = np.sum(w * tt * r) / sw - m1 * m2
        corr = float(cov / math.sqrt(var1 * var2)) if var1 > 0 and var2 > 0 else 0.0
        keep = (d >= bias - 2 * rms) & (d <= bias + 2 * rms)
        swt = w[keep].sum()
        bias_t = float(np.sum(w[keep] * d[keep]) / swt) if swt > 0 else 0.0
        dev_t = float(np.sum(w[keep] * np.abs(d[keep])) / swt) if swt > 0 else 0.0
        ms_t = float(np.sum(w[keep] * d[keep] ** 2) / swt) if swt > 0 else 0.0
        rms_t = math.sqrt(max(ms_t - bias_t**2, 0.0))
        lo = float(min(tt.min(), r.min()))
        hi = float(max(tt.max(), r.max()))
        mi = mutual_information(r, tt, w, lo=lo, hi=hi)
        mi_t = mutual_information(r[keep], tt[keep], w[keep], lo=lo, hi=hi)
        out.append(
            RegressionResult(name, bias, bias_t, dev, dev_t, rms, rms_t, mi, mi_t, corr, int(keep.sum()))
        )
    return out


# --------------------------------------------------------------------------------------------------
# Multiclass
# --------------------------------------------------------------------------------------------------
@dataclass
class MulticlassResult:
    """The multiclass numbers of ``Factory::EvaluateAllMethods`` for one method."""

    method: str
    class_names: list[str]
    roc_test: list[float]  # 1-vs-rest ROC integral per class
    roc_train: list[float]
    eff_test: dict[float, list[float]]  # 1-vs-rest signal efficiency at effB, per class
    eff_train: dict[float, list[float]]
    confusion_test: dict[float, np.ndarray]  # 1-vs-1 effS at effB: row = signal, column = background
    confusion_train: dict[float, np.ndarray]
    accuracy_test: float  # weighted argmax accuracy
    accuracy_train: float
    argmax_confusion_test: np.ndarray  # weighted counts, row = true class, column = argmax class
    argmax_confusion_train: np.ndarray
    roc_curves: dict = field(default_factory=dict, repr=False)  # (sample, i, j | -1) -> (effS, rejB)


def _check_multiclass(values, classes, weights, n_classes: int | None):
    v = np.asarray(values, np.float64)
    if v.ndim != 2:
        raise InputDataError(
            f"multiclass values must be (n_events, n_classes), got shape {v.shape}", token="values"
        )
    if n_classes is not None and v.shape[1] != n_classes:
        raise InputDataError(
            f"values have {v.shape[1]} columns but there are {n_classes} classes",
            token="values",
            expected=[f"{n_classes} columns"],
        )
    c = _vector(classes, "class_ids", v.shape[0], dtype=np.int64)
    if c.size and (c.min() < 0 or c.max() >= v.shape[1]):
        raise InputDataError(
            f"class id {int(c.max() if c.max() >= v.shape[1] else c.min())} out of range 0..{v.shape[1] - 1}",
            token="class_ids",
        )
    w = np.ones(v.shape[0]) if weights is None else _vector(weights, "weights", v.shape[0])
    return v.astype(np.float32).astype(np.float64), c, w.astype(np.float32).astype(np.float64)


def _curve_metrics(v: np.ndarray, s: np.ndarray, w: np.ndarray, levels: Sequence[float]):
    """ROC points, ROC integral and effS at each effB level from one sort; NaNs if a side is empty."""
    if not s.any() or s.all():
        return None, float("nan"), {e: float("nan") for e in levels}
    sens, spec = roc_curve(v, s, w)
    auc = float(np.sum(0.5 * (sens[:-1] - sens[1:]) * (spec[:-1] + spec[1:])))
    effb, effs = (1.0 - spec)[::-1], sens[::-1]
    return (sens, spec), auc, {e: float(_tspline1(effb, effs, float(e))) for e in levels}


def confusion_matrix_eff(values, classes, eff_b: float, weights=None) -> np.ndarray:
    """``ResultsMulticlass::GetConfusionMatrix``: entry (i, j) is the signal efficiency of class i
    against class j alone (output column i), at background efficiency ``eff_b``; diagonal is NaN.

    >>> v = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    >>> confusion_matrix_eff(v, [0, 1, 0, 1], 0.1).tolist()
    [[nan, 1.0], [1.0, nan]]
    """
    v, c, w = _check_multiclass(values, classes, weights, None)
    k = v.shape[1]
    mat = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j:
                m = (c == i) | (c == j)
                mat[i, j] = _curve_metrics(v[m, i], c[m] == i, w[m], [eff_b])[2][eff_b]
    return mat


def multiclass_metrics(
    method: str,
    test_values,
    test_classes,
    train_values,
    train_classes,
    class_names: Sequence[str],
    test_weights=None,
    train_weights=None,
    eff_levels: Sequence[float] = (0.01, 0.10, 0.30),
) -> MulticlassResult:
    """Evaluate a multiclass method like ``Factory::EvaluateAllMethods``.

    Classes without events (or without any other class to compare with) get NaN entries.
    ``roc_curves`` keeps the ROC points per ("test"/"train", i, j) with j = -1 for 1-vs-rest.

    >>> v = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    >>> r = multiclass_metrics("DL", v, [0, 1, 0, 1], v, [0, 1, 0, 1], ["Signal", "bg0"])
    >>> r.roc_test, r.accuracy_test
    ([1.0, 1.0], 1.0)
    """
    names = list(class_names)
    k = len(names)
    out: dict[str, object] = {}
    curves: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}
    for tag, vals, cls, wts in (
        ("test", test_values, test_classes, test_weights),
        ("train", train_values, train_classes, train_weights),
    ):
        v, c, w = _check_multiclass(vals, cls, wts, k)
        rocs, effs = [], {e: [] for e in eff_levels}
        for i in range(k):
            curve, auc, eff = _curve_metrics(v[:, i], c == i, w, eff_levels)
            if curve is not None:
                curves[(tag, i, -1)] = curve
            rocs.append(auc)
            for e in eff_levels:
                effs[e].append(eff[e])
        conf = {e: np.full((k, k), np.nan) for e in eff_levels}
        for i in range(k):
            for j in range(k):
                if i == j:
                    continue
                m = (c == i) | (c == j)
                curve, _, eff = _curve_metrics(v[m, i], c[m] == i, w[m], eff_levels)
                if curve is not None:
                    curves[(tag, i, j)] = curve
                for e in eff_levels:
                    conf[e][i, j] = eff[e]
        out[f"roc_{tag}"] = rocs
        out[f"eff_{tag}"] = effs
        out[f"confusion_{tag}"] = conf
        pred = np.argmax(v, axis=1)
        cm = np.zeros((k, k))
        np.add.at(cm, (c, pred), w)
        out[f"argmax_confusion_{tag}"] = cm
        out[f"accuracy_{tag}"] = float(np.trace(cm) / cm.sum()) if cm.sum() > 0 else 0.0
    return MulticlassResult(method=method, class_names=names, roc_curves=curves, **out)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Printouts (Factory::EvaluateAllMethods)
# --------------------------------------------------------------------------------------------------
_HLINE_CLS = "-" * 115
_HLINE_REG = "-" * 98
_HLINE_MC = "-" * 103


def format_classification(dataset: str, results: Sequence[ClassificationResult]) -> str:
    """The binary-classification tables of ``Factory::EvaluateAllMethods`` (ranked by the area).

    >>> r = ClassificationResult("DL", 0.9, 0.91, 0.9, {0.01: 0.2, 0.1: 0.6, 0.3: 0.9}, {},
    ...     {0.01: 0.21, 0.1: 0.61, 0.3: 0.91}, 0.5, 1.2, 0.5, 0.5, None, None)
    >>> print(format_classification("dataset", [r]).splitlines()[4])
    dataset       DL             : 0.900
    """
    ranked = sorted(results, key=lambda r: -r.eff_area)
    lines = [
        "Evaluation results ranked by best signal efficiency and purity (area)",
        _HLINE_CLS,
        "DataSet       MVA                       ",
        "Name:         Method:          ROC-integ",
    ]
    for r in ranked:
        lines.append(f"{dataset:<13} {r.method:<15}: {r.roc_integral:#1.3f}")
    lines += [
        _HLINE_CLS,
        "",
        "Testing efficiency compared to training efficiency (overtraining check)",
        _HLINE_CLS,
        "DataSet              MVA              Signal efficiency: from test sample (from training sample) ",
        "Name:                Method:          @B=0.01             @B=0.10            @B=0.30   ",
        _HLINE_CLS,
    ]
    for r in ranked:
        e, t = r.eff_test, r.eff_train
        lines.append(
            f"{dataset:<20} {r.method:<15}: {e[0.01]:#1.3f} ({t[0.01]:#1.3f})       "
            f"{e[0.10]:#1.3f} ({t[0.10]:#1.3f})      {e[0.30]:#1.3f} ({t[0.30]:#1.3f})"
        )
    lines += [_HLINE_CLS, ""]
    return "\n".join(lines)


def _reg_row(dataset: str, method: str, r: RegressionResult) -> str:
    return (
        f"{dataset:<20} {method:<15}:{r.bias:#9.3g}{r.bias_t:#9.3g}{r.rms:#9.3g}{r.rms_t:#9.3g}"
        f"  |  {r.mutual_info:#5.3f}  {r.mutual_info_t:#5.3f}"
    )


def format_regression(
    dataset: str, test: Sequence[RegressionResult], train: Sequence[RegressionResult], methods: Sequence[str]
) -> str:
    """The regression tables of ``Factory::EvaluateAllMethods``.

    One row per method (target 0 as in TMVA; pass the results of the target to show), ranked by the
    test mean |deviation| as TMVA sorts them. TMVA leaves the header of the test table commented out;
    we print it in both tables.

    >>> r = RegressionResult("t", 0.01, 0.0, 0.1, 0.08, 0.12, 0.1, 1.5, 1.4, 0.99, 90)
    >>> print(format_regression("dataset", [r], [r], ["DL"]).splitlines()[9])
    dataset              DL             :   0.0100     0.00    0.120    0.100  |  1.500  1.400
    """
    order = sorted(range(len(methods)), key=lambda i: test[i].dev)
    header = "DataSet Name:         MVA Method:        <Bias>   <Bias_T>    RMS    RMS_T  |  MutInf MutInf_T"
    lines = [
        "",
        "Evaluation results ranked by smallest RMS on test sample:",
        '("Bias" quotes the mean deviation of the regression from true target.',
        ' "MutInf" is the "Mutual Information" between regression and target.',
        ' Indicated by "_T" are the corresponding "truncated" quantities ob-',
        " tained when removing events deviating more than 2sigma from average.)",
        _HLINE_REG,
        header,
        _HLINE_REG,
    ]
    lines += [_reg_row(dataset, methods[i], test[i]) for i in order]
    lines += [
        _HLINE_REG,
        "",
        "Evaluation results ranked by smallest RMS on training sample:",
        "(overtraining check)",
        _HLINE_REG,
        header,
        _HLINE_REG,
    ]
    lines += [_reg_row(dataset, methods[i], train[i]) for i in order]
    lines += [_HLINE_REG, ""]
    return "\n".join(lines)


def _row15(*cells: str) -> str:
    return "".join(f"{c:<15}" for c in cells)


def format_multiclass(dataset: str, results: Sequence[MulticlassResult]) -> str:
    """The multiclass tables of ``Factory::EvaluateAllMethods``: 1-vs-rest metrics per class, then the
    1-vs-1 confusion matrices at background efficiency 0.01, 0.10, 0.30 (plus our argmax accuracy).

    >>> v = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    >>> r = multiclass_metrics("DL", v, [0, 1, 0, 1], v, [0, 1, 0, 1], ["Signal", "bg0"])
    >>> print(format_multiclass("dataset", [r]).splitlines()[14].rstrip())
                   Signal         1.000 (1.000)  1.000 (1.000)  1.000 (1.000)  1.000 (1.000)
    """
    lines = [
        "",
        "1-vs-rest performance metrics per class",
        _HLINE_MC,
        "",
        "Considers the listed class as signal and the other classes",
        "as background, reporting the resulting binary performance.",
        "A score of 0.820 (0.850) means 0.820 was acheived on the",
        "test set and 0.850 on the training set.",
        "",
        _row15("Dataset", "MVA Method", "ROC AUC", "Sig eff@B=0.01", "Sig eff@B=0.10", "Sig eff@B=0.30"),
        _row15("Name:", "/ Class:", "test  (train)", "test  (train)", "test  (train)", "test  (train)"),
    ]
    for r in results:
        lines += ["", _row15(dataset, r.method), "------------------------------"]
        for i, cname in enumerate(r.class_names):
            cells = [f"{r.roc_test[i]:5.3f} ({r.roc_train[i]:5.3f})"]
            cells += [f"{r.eff_test[e][i]:5.3f} ({r.eff_train[e][i]:5.3f})" for e in (0.01, 0.10, 0.30)]
            lines.append(_row15("", cname, *cells))
    lines += [
        "",
        _HLINE_MC,
        "",
        "",
        "Confusion matrices for all methods",
        _HLINE_MC,
        "",
        "Does a binary comparison between the two classes given by a ",
        "particular row-column combination. In each case, the class ",
        "given by the row is considered signal while the class given ",
        "by the column index is considered background.",
        "",
    ]
    for r in results:
        lines.append(f"=== Showing confusion matrix for method : {r.method:<15}")
        for e, label in ((0.01, "0.01"), (0.10, "0.10"), (0.30, "0.30")):
            lines += [
                f"(Signal Efficiency for Background Efficiency {label}%)",
                "---------------------------------------------------",
            ]
            lines += _matrix_lines(r.confusion_train[e], r.confusion_test[e], r.class_names)
            lines.append("")
        lines.append(f"Argmax accuracy: {r.accuracy_test:5.3f} ({r.accuracy_train:5.3f})")
    lines += [_HLINE_MC, ""]
    return "\n".join(lines)


def _matrix_lines(train: np.ndarray, test: np.ndarray, names: Sequence[str]) -> list[str]:
    blank = f" {' ':<14}"
    rows = [
        blank + "".join(f" {n:<14}" for n in names),
        blank + "".join(f" {' test (train)':<14}" for _ in names),
    ]
    for i, n in enumerate(names):
        row = f" {n:<14}"
        for j in range(len(names)):
            cell = "-" if i == j else f"{test[i, j]:<5.3f} ({train[i, j]:<5.3f})"
            row += f" {cell:<14}"
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------------------------------
def tmva_internal_name(label: str) -> str:
    """TMVA's internal (branch) name for a variable label: ``Tools::ReplaceRegularExpressions(label, "_")``.

    >>> tmva_internal_name("var1+var2"), tmva_internal_name("abs(x)*2"), tmva_internal_name("a::b")
    ('var1_P_var2', 'abs_x__T_2', 'a_b')
    """
    from tmvacompat.data.dataset import internal_name

    return internal_name(label)
