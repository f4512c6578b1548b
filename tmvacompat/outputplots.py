"""The plots TMVA's Factory writes for the TMVA GUI macros (``variables.cxx``, ``correlationscatters.cxx``,
``deviations.cxx``, ``regression_averagedevs.cxx``, the training-history plot).

What is built here, as ``{path inside the dataset directory: uproot-writable object}``:

* ``InputVariables_<T>/`` for every ``;``-separated entry of the Factory's ``Transformations`` option
  (``TransformationHandler::PlotVariables`` after ``CalcTransformations`` on the training events):
  ``<var>__<class>_<T>`` (TH1F per variable and class; targets as ``<tgt>__<class>_target_<T>`` with one
  target) and ``CorrelationPlots/scat_<j>_vs_<i>_<class>_<T>`` (TH2F, 300 x 300 bins on the all-class
  min..max) and ``prof_<j>_vs_<i>_<class>_<T>`` (TProfile, 40 bins). ``<T>`` joins the short names of the
  chain: ``Id``, ``Norm``, ``Deco``, ``PCA``, ``Gauss``, ``Uniform`` (``G,D`` -> ``Gauss_Deco``).
* per method (``MethodBase::WriteEvaluationHistosToFile``): the same plots without the ``_<T>`` suffix, on the
  test events after the method's own VarTransform; axis titles carry ``(<T>)``.
* per regression method (``ResultsRegression::CreateDeviationHistograms``): ``MVA_<title>{test,train}_reg_
  var<i>_rtgt<t>``, ``..._reg_tgt<j>_rtgt<t>`` (TH2F 50 x 50, deviation vs variable/target),
  ``..._Quadr_Deviation_target_<t>_`` and ``..._Quadr_Dev_best90perc_target_<t>_`` (TH1F, 500 bins).
* ``TrainingHistory_<title>_<key>`` binned as ``TrainingHistory::SaveHistory`` does: one bin per recorded
  step, centred on the step numbers.

Binning of a 1-D variable plot (``Config``: 40 bins, 8 RMS): ``[max(min, mean - 8 rms), min(max, mean + 8
rms)]`` over all classes (weighted mean and RMS of the transformed training events), widened by one bin
width on the right; integer (``'I'``) variables get one bin per integer between ``Nint(min)`` and
``Nint(max + 1)``. Histograms are filled like ROOT (float32 values and weights; ``Sumw2`` only when a weight
differs from 1). Scatter and profile plots are skipped above 20 variables + targets, as in TMVA.

Example:
    >>> import numpy as np
    >>> from tmvacompat.data.dataset import VariableInfo
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)).astype(np.float32)
    >>> infos = [VariableInfo("a", "a", "A", "GeV", "a"), VariableInfo("b", "b", "B", "", "b")]
    >>> objs = variable_plots(x, None, np.arange(200) % 2, np.ones(200), ["Signal", "Background"], infos)
    >>> sorted(objs)[:3]
    ['CorrelationPlots/prof_b_vs_a_Background', 'CorrelationPlots/prof_b_vs_a_Signal', \
'CorrelationPlots/scat_b_vs_a_Background']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tmvacompat.data.dataset import VariableInfo
from tmvacompat.data.transforms import (
    DecorrelateTransform,
    GaussTransform,
    IdentityTransform,
    NormalizeTransform,
    PCATransform,
    TransformChain,
)
from tmvacompat.errors import InputDataError, OptionError
from tmvacompat.evaluation import Histogram, fill_histogram

__all__ = [
    "NBINS_1D",
    "NBINS_2D",
    "TIMES_RMS",
    "MAX_VARIABLES_FOR_SCATTER",
    "th1",
    "th2_correlation",
    "transform_name",
    "variable_plots",
    "input_variable_plots",
    "method_variable_plots",
    "regression_deviation_plots",
    "training_history_plots",
    "histogram_quantile",
]

# TMVA::Config defaults (fVariablePlotting)
NBINS_1D = 40
NBINS_2D = 300
TIMES_RMS = 8.0
MAX_VARIABLES_FOR_SCATTER = 20
# ResultsRegression binning
_NBINS_DEV = 50
_NBINS_QUADR = 500

_SHORT_NAMES = {
    IdentityTransform: "Id",
    NormalizeTransform: "Norm",
    DecorrelateTransform: "Deco",
    PCATransform: "PCA",
}


# --------------------------------------------------------------------------------------------------
# uproot object builders
# --------------------------------------------------------------------------------------------------
def th1(h: Histogram, xtitle: str = "", ytitle: str = ""):
    """A TH1F/TH1D (``h.float32``) for uproot; ``fSumw2`` is written only when ``h.sumw2`` is non-zero.

    >>> from tmvacompat.evaluation import fill_histogram
    >>> th1(fill_histogram("h", [0.5], None, 2, 0.0, 1.0), "x").member("fXaxis").member("fTitle")
    'x'
    """
    import uproot

    dtype = ">f4" if h.float32 else ">f8"
    data = np.asarray(h.values, dtype=np.float64).astype(dtype)
    has_w2 = bool(np.any(h.sumw2))
    return uproot.writing.identify.to_TH1x(
        fName=h.name,
        fTitle=h.title,
        data=data,
        fEntries=float(h.entries),
        fTsumw=float(h.stats[0]),
        fTsumw2=float(h.stats[1]),
        fTsumwx=float(h.stats[2]),
        fTsumwx2=float(h.stats[3]),
        fSumw2=np.asarray(h.sumw2, np.float64) if has_w2 else np.array([], np.float64),
        fXaxis=uproot.writing.identify.to_TAxis("xaxis", xtitle, h.nbins, h.xmin, h.xmax),
        fYaxis=uproot.writing.identify.to_TAxis("yaxis", ytitle, 1, 0.0, 1.0),
    )


def _labels(labels: Sequence[str]):
    from uproot.writing import identify

    objs = []
    for i, label in enumerate(labels):
        o = identify.to_TObjString(label)
        o._bases[0]._members["@fUniqueID"] = i + 1  # ROOT keeps the bin number of an axis label here
        objs.append(o)
    return identify.to_THashList(objs)


def th2_correlation(name: str, title: str, corr: np.ndarray, labels: Sequence[str]):
    """TMVA's correlation-matrix TH2F: ``Int_t(100 * rho)`` per cell, axis labels = variable titles.

    >>> th2_correlation("C", "Correlation Matrix", np.eye(2), ["a", "b"]).member("fEntries")
    4.0
    """
    import uproot

    k = corr.shape[0]
    data = np.zeros((k + 2, k + 2), np.float32)
    data[1:-1, 1:-1] = np.trunc(100.0 * corr)  # TMVA stores Int_t(100 * rho)
    ax = uproot.writing.identify.to_TAxis
    return uproot.writing.identify.to_TH2x(
        fName=name,
        fTitle=title,
        data=data.T.ravel().astype(">f4"),
        fEntries=float(k * k),
        fTsumw=0.0,
        fTsumw2=0.0,
        fTsumwx=0.0,
        fTsumwx2=0.0,
        fTsumwy=0.0,
        fTsumwy2=0.0,
        fTsumwxy=0.0,
        fSumw2=np.array([], np.float64),
        fXaxis=ax("xaxis", "", k, 0.0, float(k), fLabels=_labels(labels)),
        fYaxis=ax("yaxis", "", k, 0.0, float(k), fLabels=_labels(labels)),
    )


def _bins(x: np.ndarray, nbins: int, lo: float, hi: float) -> np.ndarray:
    """``TAxis::FindFixBin``: 0 underflow, 1..nbins, nbins + 1 overflow (x == hi is overflow)."""
    idx = np.full(x.shape, nbins + 1, np.int64)
    idx[x < lo] = 0
    inside = (x >= lo) & (x < hi)
    idx[inside] = 1 + (nbins * (x[inside] - lo) / (hi - lo)).astype(np.int64)
    return np.clip(idx, 0, nbins + 1)


def _unit_weights(w: np.ndarray) -> bool:
    # ROOT switches on Sumw2 at the first fill whose weight is not 1
    return bool(np.all(w == 1.0))


def _th2f(name, title, x, y, w, nx, xlo, xhi, ny, ylo, yhi, xtitle, ytitle):
    """A TH2F filled like ``TH2::Fill(x, y, w)``."""
    import uproot

    bx, by = _bins(x, nx, xlo, xhi), _bins(y, ny, ylo, yhi)
    cell = by * (nx + 2) + bx
    size = (nx + 2) * (ny + 2)
    vals = np.bincount(cell, weights=w, minlength=size)
    inside = (bx >= 1) & (bx <= nx) & (by >= 1) & (by <= ny)
    xi, yi, wi = x[inside], y[inside], w[inside]
    sumw2 = np.array([], np.float64) if _unit_weights(w) else np.bincount(cell, weights=w * w, minlength=size)
    ax = uproot.writing.identify.to_TAxis
    return uproot.writing.identify.to_TH2x(
        fName=name,
        fTitle=title,
        data=vals.astype(">f4"),
        fEntries=float(x.size),
        fTsumw=float(wi.sum()),
        fTsumw2=float((wi * wi).sum()),
        fTsumwx=float((wi * xi).sum()),
        fTsumwx2=float((wi * xi * xi).sum()),
        fTsumwy=float((wi * yi).sum()),
        fTsumwy2=float((wi * yi * yi).sum()),
        fTsumwxy=float((wi * xi * yi).sum()),
        fSumw2=sumw2,
        fXaxis=ax("xaxis", xtitle, nx, float(xlo), float(xhi)),
        fYaxis=ax("yaxis", ytitle, ny, float(ylo), float(yhi)),
    )


def _tprofile(name, title, x, y, w, nbins, lo, hi, xtitle, ytitle):
    """A TProfile (error option "") filled like ``TProfile::Fill(x, y, w)``."""
    import uproot

    b = _bins(x, nbins, lo, hi)
    n = nbins + 2
    inside = (b >= 1) & (b <= nbins)
    xi, yi, wi = x[inside], y[inside], w[inside]
    bin_sumw2 = np.array([], np.float64) if _unit_weights(w) else np.bincount(b, weights=w * w, minlength=n)
    ax = uproot.writing.identify.to_TAxis
    return uproot.writing.identify.to_TProfile(
        fName=name,
        fTitle=title,
        data=np.bincount(b, weights=w * y, minlength=n).astype(">f8"),
        fEntries=float(x.size),
        fTsumw=float(wi.sum()),
        fTsumw2=float((wi * wi).sum()),
        fTsumwx=float((wi * xi).sum()),
        fTsumwx2=float((wi * xi * xi).sum()),
        fTsumwy=float((wi * yi).sum()),
        fTsumwy2=float((wi * yi * yi).sum()),
        fSumw2=np.bincount(b, weights=w * y * y, minlength=n),
        fBinEntries=np.bincount(b, weights=w, minlength=n),
        fBinSumw2=bin_sumw2,
        fXaxis=ax("xaxis", xtitle, nbins, float(lo), float(hi)),
        fYaxis=ax("yaxis", ytitle, 1, 0.0, 1.0),
    )


def _th1f(name, title, x, w, nbins, lo, hi, xtitle, ytitle):
    h = fill_histogram(name, x, w, nbins, lo, hi, title=title, float32=True)
    if _unit_weights(w):
        h.sumw2 = np.zeros_like(h.sumw2)
    return th1(h, xtitle, ytitle)


# --------------------------------------------------------------------------------------------------
# titles
# --------------------------------------------------------------------------------------------------
def transform_name(chain: TransformChain | None) -> str:
    """``TransformationHandler::GetName``: the short names joined by ``_`` (``Id`` for none).

    >>> transform_name(None), transform_name(TransformChain())
    ('Id', 'Id')
    """
    if chain is None or not chain.transforms:
        return "Id"
    names = []
    for t in chain.transforms:
        if isinstance(t, GaussTransform):
            names.append("Uniform" if t.flat else "Gauss")
        else:
            names.append(next((s for c, s in _SHORT_NAMES.items() if isinstance(t, c)), type(t).__name__))
    return "_".join(names)


def _axis_suffix(chain: TransformChain | None) -> str:
    """``GetVariableAxisTitle``: `` (<name>)`` unless there is no transformation or a single identity."""
    if chain is None or not chain.transforms:
        return ""
    if len(chain.transforms) == 1 and isinstance(chain.transforms[0], IdentityTransform):
        return ""
    return f" ({transform_name(chain)})"


def _with_unit(title: str, unit: str) -> str:  # Tools::GetXTitleWithUnit
    return f"{title}  [{unit}]" if unit else title


# --------------------------------------------------------------------------------------------------
# TransformationHandler::PlotVariables
# --------------------------------------------------------------------------------------------------
@dataclass
class _Stat:
    mean: float
    rms: float
    lo: float
    hi: float


def _stats(v: np.ndarray, w: np.ndarray) -> _Stat:
    """``TransformationHandler::CalcStats`` over all classes (weighted mean and RMS, min, max)."""
    sw = float(w.sum())
    mean = float((v * w).sum() / sw) if sw else 0.0
    var = float((v * v * w).sum() / sw) - mean * mean if sw else 0.0
    rms = float(np.sqrt(var)) if var > 0 else 0.0  # AddStats sets a non-positive or NaN RMS to 0
    return _Stat(mean, rms, float(v.min()), float(v.max()))


def _range_1d(info: VariableInfo, s: _Stat) -> tuple[int, float, float]:
    if info.type == "I":
        lo, hi = int(np.rint(s.lo)), int(np.rint(s.hi + 1))  # TMath::Nint rounds half to even
        return max(hi - lo, 1), float(lo), float(hi)
    lo = max(s.lo, s.mean - TIMES_RMS * s.rms)
    hi = min(s.hi, s.mean + TIMES_RMS * s.rms)
    if lo >= hi:
        hi = lo * 1.1
    if lo >= hi:
        hi = lo + 1
    hi += (hi - lo) / NBINS_1D  # room for the entries equal to the maximum
    return NBINS_1D, lo, hi


def variable_plots(
    x: np.ndarray,
    targets: np.ndarray | None,
    class_ids: np.ndarray,
    weights: np.ndarray,
    class_names: Sequence[str],
    variables: Sequence[VariableInfo],
    target_infos: Sequence[VariableInfo] = (),
    suffix: str = "",
    axis_suffix: str = "",
) -> dict[str, object]:
    """The plots of ``TransformationHandler::PlotVariables`` for already transformed events.

    Args:
        x: (n, nvar) transformed variables; ``targets``: (n, ntgt) or None.
        class_ids, weights: per event; ``class_names``: ``["Regression"]`` for a regression.
        variables, target_infos: TMVA's variable infos (internal name, title, unit, type).
        suffix: ``_<T>`` appended to names and titles (the Factory's folders; ``""`` for a method's).
        axis_suffix: `` (<T>)`` appended to axis titles (see :func:`transform_name`).

    Returns ``{name: object}`` with the scatter/profile plots under ``CorrelationPlots/``.
    """
    x = np.asarray(x, np.float32).astype(np.float64)
    n = x.shape[0]
    t = (
        np.zeros((n, 0))
        if targets is None
        else np.asarray(targets, np.float32).reshape(n, -1).astype(np.float64)
    )
    cid = np.asarray(class_ids).astype(np.int64)
    w = np.asarray(weights, np.float32).astype(np.float64)
    if n == 0:
        raise InputDataError("no events to plot the input variables of", token="events")
    infos = list(variables) + list(target_infos)
    cols = np.concatenate([x, t], axis=1)
    if cols.shape[1] != len(infos):
        raise InputDataError(
            f"{cols.shape[1]} columns for {len(infos)} variable/target infos", token="variables"
        )
    nvar, ntgt = x.shape[1], t.shape[1]
    stats = [_stats(cols[:, k], w) for k in range(cols.shape[1])]
    objs: dict[str, object] = {}
    sel = [cid == c for c in range(len(class_names))]
    for k, info in enumerate(infos):
        is_tgt = k >= nvar
        unit = info.unit
        nb, lo, hi = _range_1d(info, stats[k])
        bin_width = (hi - lo) / nb
        xtitle = _with_unit(info.title + axis_suffix, unit)
        ytitle = f"dN_{{ }}/^{{ }}{bin_width:.3g} {unit}"
        for c, cname in enumerate(class_names):
            cls = cname + ("_target" if ntgt == 1 and is_tgt else "")
            name = f"{info.internal}__{cls}{suffix}"
            m = sel[c]
            objs[name] = _th1f(name, info.title, cols[m, k], w[m], nb, lo, hi, xtitle, ytitle)
    if nvar + ntgt > MAX_VARIABLES_FOR_SCATTER:
        return objs
    # pairs (i, j > i) among the variables and among the targets; TMVA writes no variable-target pair
    pairs = [(i, j) for i in range(nvar) for j in range(i + 1, nvar)]
    pairs += [(nvar + i, nvar + j) for i in range(ntgt) for j in range(i + 1, ntgt)]
    for i, j in pairs:
        a, b = infos[i], infos[j]
        xt, yt = _with_unit(a.title + axis_suffix, a.unit), _with_unit(b.title + axis_suffix, b.unit)
        for c, cname in enumerate(class_names):
            m = sel[c]
            tail = f"{cname}{suffix}"
            scat = f"scat_{b.internal}_vs_{a.internal}_{tail}"
            objs[f"CorrelationPlots/{scat}"] = _th2f(
                scat, f"{b.title} versus {a.title} ({cname}){suffix}", cols[m, i], cols[m, j], w[m],
                NBINS_2D, stats[i].lo, stats[i].hi, NBINS_2D, stats[j].lo, stats[j].hi, xt, yt,
            )  # fmt: skip
            prof = f"prof_{b.internal}_vs_{a.internal}_{tail}"
            objs[f"CorrelationPlots/{prof}"] = _tprofile(
                prof, f"profile {b.title} versus {a.title} ({cname}){suffix}", cols[m, i], cols[m, j], w[m],
                NBINS_1D, stats[i].lo, stats[i].hi, xt, yt,
            )  # fmt: skip
    return objs


def _split_transformations(text: str) -> list[str]:
    return [s.strip() for s in str(text).split(";") if s.strip()]


def input_variable_plots(
    transformations: str,
    x: np.ndarray,
    targets: np.ndarray | None,
    class_ids: np.ndarray,
    weights: np.ndarray,
    class_names: Sequence[str],
    variables: Sequence[VariableInfo],
    target_infos: Sequence[VariableInfo] = (),
) -> dict[str, object]:
    """The Factory's ``InputVariables_<T>`` folders (``Factory::WriteDataInformation``).

    Each ``;``-separated entry of ``transformations`` (``"I;D;P;G,D"``) is a chain fitted on the training
    events given here (TMVA's ``CalcTransformations``); its plots go to ``InputVariables_<T>/`` (a repeated
    folder name gets ``_0``, ``_1``... as TMVA does).

    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(100, 2))
    >>> infos = [VariableInfo("a", "a", "a", "", "a"), VariableInfo("b", "b", "b", "", "b")]
    >>> sorted(k for k in input_variable_plots("I;N", x, None, np.zeros(100), np.ones(100),
    ...        ["Regression"], infos) if "/Corr" not in k)
    ['InputVariables_Id/a__Regression_Id', 'InputVariables_Id/b__Regression_Id', \
'InputVariables_Norm/a__Regression_Norm', 'InputVariables_Norm/b__Regression_Norm']
    """
    objs: dict[str, object] = {}
    used: set[str] = set()
    x = np.asarray(x, np.float32)
    tg = None if targets is None or np.asarray(targets).size == 0 else np.asarray(targets, np.float32)
    for item in _split_transformations(transformations):
        try:
            chain = TransformChain.fit(
                x,
                class_ids,
                targets=tg,
                weights=weights,
                n_classes=len(class_names),
                items=item,
                variables=[(v.label, v.expression) for v in variables],
                target_names=[(v.label, v.expression) for v in target_infos] if tg is not None else None,
                class_names=list(class_names),
            )
        except OptionError as err:
            raise OptionError(
                f"Factory option Transformations={transformations!r}: {err.message}",
                token=item,
                expected=err.expected,
            ) from err
        except InputDataError as err:
            # TMVA plots whatever a degenerate fit gives; a diagnostic folder must not stop the job
            warnings.warn(f"InputVariables for Transformations entry {item!r} not written: {err.message}",
                          stacklevel=2)  # fmt: skip
            continue
        name = transform_name(chain)
        folder = f"InputVariables_{name}"
        unique, counter = folder, 0
        while unique in used:
            unique, counter = f"{folder}_{counter}", counter + 1
        used.add(unique)
        xt = chain.forward(x)
        tt = chain.forward_targets(tg) if tg is not None else None
        plots = variable_plots(
            xt, tt, class_ids, weights, class_names, variables, target_infos if tg is not None else (),
            suffix=f"_{name}", axis_suffix=_axis_suffix(chain),
        )  # fmt: skip
        objs.update({f"{unique}/{k}": v for k, v in plots.items()})
    return objs


def method_variable_plots(
    chain: TransformChain | None,
    x: np.ndarray,
    targets: np.ndarray | None,
    class_ids: np.ndarray,
    weights: np.ndarray,
    class_names: Sequence[str],
    variables: Sequence[VariableInfo],
    target_infos: Sequence[VariableInfo] = (),
) -> dict[str, object]:
    """A method's ``<var>__<class>``, ``CorrelationPlots/`` plots of its test events after its VarTransform.

    >>> x = np.random.default_rng(2).normal(size=(50, 1))
    >>> list(method_variable_plots(None, x, None, np.zeros(50), np.ones(50), ["Regression"],
    ...      [VariableInfo("a", "a", "a", "", "a")]))
    ['a__Regression']
    """
    x32 = np.asarray(x, np.float32)
    tg = None if targets is None or np.asarray(targets).size == 0 else np.asarray(targets, np.float32)
    if chain is not None and chain.n_variables not in (0, x32.shape[1]):
        warnings.warn(f"method variable plots not written: the VarTransform chain has {chain.n_variables} "
                      f"variables, the sample {x32.shape[1]}", stacklevel=2)  # fmt: skip
        return {}
    if chain is not None and chain.transforms:
        x32 = chain.forward(x32)
        if tg is not None and len(chain.targets) == tg.shape[1]:
            tg = chain.forward_targets(tg)
    return variable_plots(
        x32, tg, class_ids, weights, class_names, variables, target_infos if tg is not None else (),
        suffix="", axis_suffix=_axis_suffix(chain),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# ResultsRegression::CreateDeviationHistograms
# --------------------------------------------------------------------------------------------------
def _binary_search(array: np.ndarray, value: float) -> int:
    """``TMath::BinarySearch``: bisection that stops at the first element equal to ``value`` it meets
    (not necessarily the last of a run of equal elements), else the index of the last element below."""
    below, above = 0, array.size + 1
    while above - below > 1:
        middle = (above + below) // 2
        if value == array[middle - 1]:
            below = middle
            break
        if value < array[middle - 1]:
            above = middle
        else:
            below = middle
    return below - 1


def histogram_quantile(h: Histogram, prob: float) -> float:
    """ROOT's ``TH1::GetQuantiles`` for one probability (cumulative contents, linear within a bin).

    >>> histogram_quantile(fill_histogram("h", [0.5, 1.5, 2.5, 3.5], None, 4, 0.0, 4.0), 0.5)
    2.0
    """
    c = np.asarray(h.contents, np.float64)
    total = c.sum()
    if total == 0:
        return float(h.xmin)
    integral = np.concatenate([[0.0], np.cumsum(c)]) / total
    nb = h.nbins
    ib = _binary_search(integral[:nb], prob)
    while ib < nb - 1 and integral[ib + 1] == prob:  # several empty bins
        if integral[ib + 2] == prob:
            ib += 1
        else:
            break
    width = (h.xmax - h.xmin) / nb
    q = h.xmin + ib * width  # GetBinLowEdge(ib + 1)
    dint = integral[ib + 1] - integral[ib]
    if dint > 0:
        q += width * (prob - integral[ib]) / dint
    return float(q)


def _f32(v: float) -> float:
    return float(np.float32(v))


def _dev_range(lo: float, hi: float) -> tuple[float, float]:
    # Float_t arithmetic of DeviationAsAFunctionOf
    eps = np.float32(abs(np.float32(hi) - np.float32(lo)) / np.float32(_NBINS_DEV - 1))
    return _f32(np.float32(lo) - 1.01 * float(eps)), _f32(np.float32(hi) + 1.01 * float(eps))


def regression_deviation_plots(
    title: str,
    tag: str,
    values: np.ndarray,
    x: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    variables: Sequence[VariableInfo],
    target_infos: Sequence[VariableInfo],
    train_x: np.ndarray | None = None,
    train_targets: np.ndarray | None = None,
) -> dict[str, object]:
    """``MVA_<title><tag>_reg_var<i>_rtgt<t>``, ``_reg_tgt<j>_rtgt<t>``, ``_Quadr_Deviation_target_<t>_``
    and ``_Quadr_Dev_best90perc_target_<t>_`` for ``tag`` ``"test"`` or ``"train"``.

    ``values`` are the regression outputs (n, ntgt) in target units; ``x``/``targets`` the untransformed
    events. The x range of a deviation plot covers the sample and the training sample (TMVA starts from
    the variable's training range, ``VariableInfo::GetMin/GetMax``).

    >>> x = np.linspace(0, 1, 20)[:, None]
    >>> sorted(regression_deviation_plots("M", "test", x[:, 0] + 0.1, x, x[:, 0], np.ones(20),
    ...        [VariableInfo("a", "a", "A", "", "a")], [VariableInfo("y", "y", "Y", "", "y")]))[:2]
    ['MVA_Mtest_Quadr_Dev_best90perc_target_0_', 'MVA_Mtest_Quadr_Deviation_target_0_']
    """
    n = np.asarray(targets).shape[0]
    t = np.asarray(targets, np.float32).reshape(n, -1)
    v = np.asarray(values, np.float32).reshape(n, -1)
    xs = np.asarray(x, np.float32).reshape(n, -1)
    w = np.asarray(weights, np.float32).astype(np.float64)
    tx = xs if train_x is None else np.asarray(train_x, np.float32).reshape(-1, xs.shape[1])
    tt = t if train_targets is None else np.asarray(train_targets, np.float32).reshape(-1, t.shape[1])
    prefix = f"MVA_{title}{tag}"
    objs: dict[str, object] = {}
    if n == 0:
        return objs
    ones = np.ones(n)
    for itgt, tinfo in enumerate(target_infos):
        diff = (v[:, itgt] - t[:, itgt]).astype(np.float32)
        ylo, yhi = _dev_range(float(diff.min()), float(diff.max()))
        ytitle = f"{tinfo.title}_{{regression}} - {tinfo.title}_{{true}}"
        d64 = diff.astype(np.float64)
        columns = [(f"var{i}", xs[:, i], tx[:, i], vi.title) for i, vi in enumerate(variables)]
        columns += [(f"tgt{j}", t[:, j], tt[:, j], ti.title) for j, ti in enumerate(target_infos)]
        for key, col, train_col, xtitle in columns:
            lo = min(float(col.min()), float(train_col.min()) if train_col.size else np.inf)
            hi = max(float(col.max()), float(train_col.max()) if train_col.size else -np.inf)
            xlo, xhi = _dev_range(lo, hi)
            name = f"{prefix}_reg_{key}_rtgt{itgt}"
            objs[name] = _th2f(
                name, name, col.astype(np.float64), d64, ones, _NBINS_DEV, xlo, xhi, _NBINS_DEV, ylo, yhi,
                xtitle, ytitle,
            )  # fmt: skip
        sq = (diff * diff).astype(np.float32)
        name = f"{prefix}_Quadr_Deviation_target_{itgt}_"
        xmax = _f32(max(float(sq.max()), 0.0) * 1.1)
        h = fill_histogram(name, sq.astype(np.float64), w, _NBINS_QUADR, 0.0, xmax, float32=True)
        if _unit_weights(w):
            h.sumw2 = np.zeros_like(h.sumw2)
        objs[name] = th1(h, "Quadratic Deviation", "Weighted Entries")
        q90 = histogram_quantile(h, 0.9)
        name = f"{prefix}_Quadr_Dev_best90perc_target_{itgt}_"
        keep = sq.astype(np.float64) <= q90
        hi = _f32(_f32(q90) * 1.1)
        h2 = fill_histogram(name, sq[keep].astype(np.float64), w[keep], _NBINS_QUADR, 0.0, hi, float32=True)
        if _unit_weights(w[keep]):
            h2.sumw2 = np.zeros_like(h2.sumw2)
        objs[name] = th1(h2, "Quadratic Deviation", "Weighted Entries")
    # TMVA orders the variable plots before the target plots; keys are unique either way
    return objs


# --------------------------------------------------------------------------------------------------
# TrainingHistory::SaveHistory
# --------------------------------------------------------------------------------------------------
def training_history_plots(
    title: str, history: Mapping[str, Sequence[float]], steps: Sequence[float] | None = None
) -> dict[str, object]:
    """One TH1D per monitored quantity: ``n`` bins on ``[s0 - d/2, s_last + d/2]`` with
    ``d = (s_last - s0)/(n - 1)``, where ``s`` are the recorded steps (TMVA's DL: the epoch of each
    validation, every ``TestRepetitions`` epochs); contents = the values, no entries counted.

    ``steps`` default to 1..n. A single record gets a bin of width 1 (TMVA would divide by zero).

    >>> objs = training_history_plots("DL", {"valError": [0.5, 0.4]}, steps=[5, 10])
    >>> h = objs["TrainingHistory_DL_valError"]
    >>> h.member("fXaxis").member("fXmin"), h.member("fXaxis").member("fXmax")
    (2.5, 12.5)
    """
    objs: dict[str, object] = {}
    for key, hist in history.items():
        vals = np.asarray(hist, np.float64)
        nb = vals.size
        if nb == 0:
            continue
        s = np.arange(1, nb + 1, dtype=np.float64) if steps is None else np.asarray(steps, np.float64)
        if s.size != nb:
            raise InputDataError(
                f"training history {key!r} of {title!r} has {nb} values but {s.size} steps",
                where=title,
                token=key,
            )
        d = (s[-1] - s[0]) / (nb - 1) if nb > 1 else 1.0
        name = f"TrainingHistory_{title}_{key}"
        h = Histogram(
            name, name, nb, float(s[0] - 0.5 * d), float(s[-1] + 0.5 * d),
            np.concatenate([[0.0], vals, [0.0]]), np.zeros(nb + 2), entries=0.0,
        )  # fmt: skip
        objs[name] = th1(h)
    return objs
