"""TMVAGui's plots, drawn with matplotlib in mplhep's ROOT style from the Factory's output file.

Each ``plot_*`` function reads the objects TMVA's GUI macros read (``tmva/tmvagui/src/*.cxx``) from a file
written by :class:`tmvacompat.Factory` (or by TMVA itself) and returns ``{image name: Figure}``, named as the
macros name their images (``mva_<title>``, ``overtrain_<title>``, ``rejBvsS``, ``mvaeffs_<title>``, ...):

* :func:`plot_input_variables` (``variables.cxx``): the ``InputVariables_<T>`` histograms, a curve per class.
* :func:`plot_correlations` (``correlations.cxx``): the ``CorrelationMatrix*`` matrices in percent.
* :func:`plot_mva` (``mvas.cxx``): test-sample MVA output for signal and background; with
  ``overtraining=True`` the training sample overlaid as points and the Kolmogorov-Smirnov probabilities
  (:func:`overtraining_ks`, ROOT's ``TH1::KolmogorovTest``, option ``"X"`` as the macro uses it).
  Multiclass: one figure per method and output class, one curve per true class.
* :func:`plot_efficiencies` (``efficiencies.cxx``): background rejection versus signal efficiency of every
  method; multiclass: one figure per class (1 vs rest, the ``rejBvsS_<class>`` graphs).
* :func:`plot_mvaeffs` (``mvaeffs.cxx``): signal and background efficiency, purity, efficiency*purity and
  the significance versus the cut, with the optimal cut (:func:`optimal_cut`) for given event numbers.
* :func:`plot_training_history`: the ``TrainingHistory_<title>_<key>`` curves (training and validation
  error; a KL term, when recorded, on its own axis).
* :func:`plot_deviations` (``deviations.cxx``): regression output minus target versus each variable.
* :func:`plot_confusion_matrix`: multiclass, the weighted fraction of each true class assigned to each
  class (largest output), test and training samples, from the TestTree/TrainTree.

:func:`plot_all` writes all of them as PNG and PDF (``tmvacompat gui TMVA.root -o plots/``).
matplotlib and mplhep are imported only when a plot is made (``pip install 'tmvacompat[plot]'``).

Example:
    >>> from tmvacompat import plot                                         # doctest: +SKIP
    >>> figures = plot.plot_mva("TMVA.root", overtraining=True)             # doctest: +SKIP
    >>> figures["overtrain_DNN_CPU"].savefig("overtrain.png")               # doctest: +SKIP
    >>> plot.plot_all("TMVA.root", "plots")                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from tmvacompat.errors import InputDataError, InputFileNotFoundError, InputNotFoundError, TMVACompatError

__all__ = [
    "style",
    "Hist1D",
    "read_hist",
    "kolmogorov_prob",
    "kolmogorov_test",
    "overtraining_ks",
    "optimal_cut",
    "roc_figure",
    "plot_input_variables",
    "plot_correlations",
    "plot_mva",
    "plot_efficiencies",
    "plot_mvaeffs",
    "plot_training_history",
    "plot_deviations",
    "plot_confusion_matrix",
    "plot_all",
]

# TMVAGlob::SetSignalAndBackgroundStyle
SIGNAL_FILL, SIGNAL_LINE = "#7d99d1", "#0000ee"
BACKGROUND_LINE = "#ff0000"
_CLASS_COLORS = ("#0000ee", "#ff0000", "#00aa00", "#ff9900", "#9900cc", "#00cccc", "#996633", "#666666")
_TOYS = 1000  # TH1::KolmogorovTest option "X": number of pseudo-experiments


# --------------------------------------------------------------------------------------------------
# matplotlib, lazily
# --------------------------------------------------------------------------------------------------
def _matplotlib():
    try:
        import matplotlib
        import matplotlib.figure
        import mplhep
    except ImportError as err:
        raise TMVACompatError(
            f"plots need matplotlib and mplhep ({err.name} is not installed)",
            token=err.name or "matplotlib",
            expected=["pip install 'tmvacompat[plot]'"],
        ) from err
    return matplotlib, mplhep


@contextmanager
def style():
    """mplhep's ROOT style (as the plots here are drawn), for saving a returned figure with its fonts.

    >>> with style():                                   # doctest: +SKIP
    ...     factory.GetROCCurve(loader).savefig("roc.pdf")
    """
    matplotlib, mplhep = _matplotlib()
    style = dict(mplhep.style.ROOT)
    style.update({"figure.figsize": (8.0, 6.2), "font.size": 15, "legend.fontsize": 12})
    with matplotlib.rc_context(style):
        yield


def _figure(width: float = 8.0, height: float = 6.2):
    """A Figure on the non-interactive Agg canvas (no pyplot state)."""
    import matplotlib.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = matplotlib.figure.Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _latex(text: str) -> str:
    """ROOT's TLatex sub/superscripts (``x_{reg}``, ``dN^{ }``) as matplotlib mathtext."""
    text = re.sub(r"([_^])\{\s*\}", "", str(text).replace("$", "\\$"))

    def math(m: re.Match) -> str:
        return "$" + m.group(1) + "{\\rm " + m.group(2).replace(" ", "~") + "}$"

    return re.sub(r"([_^])\{([^{}]*)\}", math, text)


def _class_color(i: int, names: Sequence[str]) -> str:
    if list(names)[:2] == ["Signal", "Background"] or (len(names) == 2 and "Signal" in names):
        return SIGNAL_LINE if names[i] == "Signal" else BACKGROUND_LINE
    return _CLASS_COLORS[i % len(_CLASS_COLORS)]


def _draw_class_hist(ax, h: Hist1D, cname: str, color: str, label: str, density: bool = True) -> None:
    vals = h.density() if density else h.contents
    if cname == "Signal":
        ax.stairs(vals, h.edges, fill=True, color=SIGNAL_FILL, alpha=0.6)
        ax.stairs(vals, h.edges, color=SIGNAL_LINE, linewidth=2, label=label)
    elif cname == "Background":
        ax.stairs(vals, h.edges, fill=True, facecolor="none", edgecolor=BACKGROUND_LINE, hatch="///",
                  linewidth=0)  # fmt: skip
        ax.stairs(vals, h.edges, color=BACKGROUND_LINE, linewidth=2, label=label)
    else:
        ax.stairs(vals, h.edges, color=color, linewidth=2, label=label)


# --------------------------------------------------------------------------------------------------
# reading the output file
# --------------------------------------------------------------------------------------------------
@dataclass
class Hist1D:
    """A 1-D histogram as ROOT holds it: ``values``/``variances`` include the under- and overflow bins."""

    name: str
    title: str
    edges: np.ndarray
    values: np.ndarray
    variances: np.ndarray
    xlabel: str = ""
    ylabel: str = ""

    @property
    def contents(self) -> np.ndarray:
        """The in-range bin contents."""
        return self.values[1:-1]

    @property
    def centers(self) -> np.ndarray:
        """The bin centres."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def density(self) -> np.ndarray:
        """``TMVAGlob::NormalizeHist``: contents / (sum of in-range weights * bin width)."""
        total = float(self.contents.sum())
        dx = (self.edges[-1] - self.edges[0]) / (len(self.edges) - 1)
        return self.contents / (total * dx) if total != 0 else self.contents.copy()


def read_hist(obj: Any) -> Hist1D:
    """A :class:`Hist1D` from an uproot TH1 (ROOT's errors: sqrt(sumw2), or sqrt(|content|) without it).

    >>> import numpy as np, uproot, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "h.root")
    >>> with uproot.recreate(p) as f:
    ...     f["h"] = (np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    >>> read_hist(uproot.open(p)["h"]).contents.tolist()
    [1.0, 3.0]
    """
    return Hist1D(
        name=str(obj.member("fName")),
        title=str(obj.member("fTitle")),
        edges=np.asarray(obj.axis().edges(), np.float64),
        values=np.asarray(obj.values(flow=True), np.float64),
        variances=np.asarray(obj.variances(flow=True), np.float64),
        xlabel=str(obj.axis().member("fTitle")),
        ylabel=str(obj.member("fYaxis").member("fTitle")),
    )


class _Output:
    """The Factory's output file and its datasets and methods, as TMVAGlob finds them."""

    def __init__(self, source: Any) -> None:
        import uproot

        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not os.path.exists(path):
                raise InputFileNotFoundError(f"output file {path!r} does not exist", token=path)
            try:
                self.file = uproot.open(path)
            except Exception as err:  # uproot raises many kinds for a file that is not ROOT
                first = " ".join(str(err).split())[:160]
                raise InputDataError(
                    f"{path!r} is not a ROOT file uproot can read ({type(err).__name__}: {first})", token=path
                ) from err
            self.path = path
        else:
            self.file, self.path = source, str(getattr(source, "file_path", "<file>"))

    def datasets(self) -> list[str]:
        """The top-level directories holding a TestTree or Method_ folders (TMVA's dataset folders)."""
        out = []
        for key, cls in self.file.classnames(recursive=False).items():
            name = key.split(";")[0]
            if cls.startswith("TDirectory") and name not in out:
                sub = {k.split(";")[0] for k in self.file[name].keys(recursive=False)}
                if "TestTree" in sub or any(s.startswith("Method_") for s in sub):
                    out.append(name)
        return out

    def dataset(self, name: str | None) -> str:
        found = self.datasets()
        if name is None:
            if not found:
                raise InputDataError(
                    f"{self.path!r} holds no TMVA dataset folder (a directory with TestTree or Method_*)",
                    token=self.path,
                )
            return found[0]
        if name not in found:
            raise InputNotFoundError(
                f"dataset {name!r} is not in {self.path!r}", token=name, expected=found or ["(none)"]
            )
        return name

    def methods(self, ds: str) -> list[tuple[str, str]]:
        """``(method type, title)`` of every ``Method_<type>/<title>`` folder, in file order."""
        out = []
        for key, cls in self.file[ds].classnames(recursive=False).items():
            name = key.split(";")[0]
            if name.startswith("Method_") and cls.startswith("TDirectory"):
                for sub, scls in self.file[f"{ds}/{name}"].classnames(recursive=False).items():
                    title = sub.split(";")[0]
                    if scls.startswith("TDirectory") and (name[7:], title) not in out:
                        out.append((name[7:], title))
        return out

    def keys(self, folder: str) -> list[str]:
        seen: list[str] = []
        for k in self.file[folder].keys(recursive=False):
            k = k.split(";")[0]
            if k not in seen:
                seen.append(k)
        return seen

    def get(self, path: str) -> Any | None:
        try:
            return self.file[path]
        except Exception:  # uproot's KeyInFileError and friends: the object is simply absent
            return None

    def hist(self, path: str) -> Hist1D | None:
        obj = self.get(path)
        return None if obj is None else read_hist(obj)

    def class_names(self, ds: str) -> list[str]:
        tree = self.get(f"{ds}/TestTree")
        if tree is None:
            return []
        a = tree.arrays(["classID", "className"], library="np")
        names: dict[int, str] = {}
        for cid, cname in zip(a["classID"], a["className"], strict=True):
            names.setdefault(int(cid), str(cname))
        return [names[i] for i in sorted(names)]


def _open(source: Any) -> _Output:
    return source if isinstance(source, _Output) else _Output(source)


# --------------------------------------------------------------------------------------------------
# ROOT's Kolmogorov-Smirnov test (TH1::KolmogorovTest, TMath::KolmogorovProb)
# --------------------------------------------------------------------------------------------------
def kolmogorov_prob(z: float) -> float:
    """``TMath::KolmogorovProb``: the Kolmogorov survival function in ROOT's piecewise approximation.

    >>> f"{kolmogorov_prob(1.0):.6f}"
    '0.270000'
    """
    u = abs(z)
    if u < 0.2:
        return 1.0
    if u < 0.755:
        v = 1.0 / (u * u)
        c1 = -(math.pi**2) / 8.0
        return 1.0 - 2.50662827 * (math.exp(c1 * v) + math.exp(9 * c1 * v) + math.exp(25 * c1 * v)) / u
    if u < 6.8116:
        r = [0.0, 0.0, 0.0, 0.0]
        maxj = max(1, int(np.rint(3.0 / u)))
        for j in range(maxj):
            r[j] = math.exp(-2.0 * (j + 1) ** 2 * u * u)
        return 2.0 * (r[0] - r[1] + r[2] - r[3])
    return 0.0


def _ks_distance(c1: np.ndarray, c2: np.ndarray) -> float:
    r1 = np.cumsum(c1 * (1.0 / c1.sum()))
    r2 = np.cumsum(c2 * (1.0 / c2.sum()))
    return float(np.max(np.abs(r1 - r2))) if r1.size else 0.0


def kolmogorov_test(h1: Hist1D, h2: Hist1D, option: str = "", rng: Any = None) -> float:
    """ROOT's ``TH1::KolmogorovTest(h2, option)``: the probability that both histograms come from one
    distribution (effective entries ``sum^2 / sum(err^2)``, ``z = D sqrt(n1 n2 / (n1 + n2))``).

    Options as ROOT's: ``U``/``O`` include the under/overflow bin, ``N`` combines the normalisation,
    ``M`` returns the maximum distance D, ``X`` (what TMVA's ``mvas.cxx`` uses) the fraction of
    pseudo-experiments (``X=<n>``, default 1000) whose distance exceeds D, both pseudo-histograms drawn from
    the histogram with more effective entries (``rng``: a numpy Generator or seed; ROOT uses gRandom).

    >>> e = np.linspace(0, 1, 3)
    >>> h = Hist1D("a", "", e, np.array([0, 10.0, 20, 0]), np.array([0, 10.0, 20, 0]))
    >>> kolmogorov_test(h, h)
    1.0
    """
    opt = option.upper()
    if len(h1.edges) != len(h2.edges):
        raise InputDataError(
            f"Kolmogorov test: {h1.name!r} has {len(h1.edges) - 1} bins, {h2.name!r} {len(h2.edges) - 1}",
            token=h2.name,
        )
    if abs(h1.edges[0] - h2.edges[0]) > 1e-5 or abs(h1.edges[-1] - h2.edges[-1]) > 1e-5:
        raise InputDataError(f"Kolmogorov test: {h1.name!r} and {h2.name!r} have different binning",
                             token=h2.name)  # fmt: skip
    n = len(h1.edges) - 1
    lo = 0 if "U" in opt else 1
    hi = n + 1 if "O" in opt else n
    c1, c2 = h1.values[lo : hi + 1], h2.values[lo : hi + 1]
    sum1, sum2 = float(c1.sum()), float(c2.sum())
    for h, s in ((h1, sum1), (h2, sum2)):
        if s == 0:
            raise InputDataError(f"Kolmogorov test: histogram {h.name!r} has zero integral", token=h.name)
    w1, w2 = float(h1.variances[lo : hi + 1].sum()), float(h2.variances[lo : hi + 1].sum())
    afunc1, afunc2 = not w1 > 0, not w2 > 0
    if afunc1 and afunc2:
        raise InputDataError(
            f"Kolmogorov test: {h1.name!r} and {h2.name!r} both have zero errors", token=h1.name
        )
    esum1 = sum1 * sum1 / w1 if not afunc1 else 0.0
    esum2 = sum2 * sum2 / w2 if not afunc2 else 0.0
    dfmax = _ks_distance(c1, c2)
    if afunc1:
        z = dfmax * math.sqrt(esum2)
    elif afunc2:
        z = dfmax * math.sqrt(esum1)
    else:
        z = dfmax * math.sqrt(esum1 * esum2 / (esum1 + esum2))
    prob = kolmogorov_prob(z)
    if "N" in opt and not (afunc1 or afunc2):
        from scipy.special import chdtrc

        d12 = esum1 - esum2
        prob2 = float(chdtrc(1, d12 * d12 / (esum1 + esum2)))
        prob = prob * prob2 * (1 - math.log(prob * prob2)) if prob > 0 and prob2 > 0 else 0.0
    if "M" in opt:
        return dfmax
    if "X" in opt:
        m = re.search(r"X=(\d+)", opt)
        toys = int(m.group(1)) if m and int(m.group(1)) > 0 else _TOYS
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        parent = c1 if (afunc1 or (esum1 > esum2 and not afunc2)) else c2
        p = np.clip(parent, 0.0, None)
        p = p / p.sum()
        above = 0
        for _ in range(toys):
            t1 = c1 if afunc1 else gen.multinomial(int(esum1), p).astype(np.float64)
            t2 = c2 if afunc2 else gen.multinomial(int(esum2), p).astype(np.float64)
            if t1.sum() > 0 and t2.sum() > 0 and _ks_distance(t1, t2) > dfmax:
                above += 1
        return above / toys
    return prob


def overtraining_ks(
    source: Any, title: str, dataset: str | None = None, option: str = "X", rng: Any = 0
) -> tuple[float, float]:
    """``mvas.cxx``'s overtraining check: (signal, background) KS probability of the test-sample MVA output
    (``MVA_<title>_S/_B``) against the training sample (``MVA_<title>_Train_S/_B``).

    >>> overtraining_ks("TMVA.root", "DNN_CPU", option="")    # doctest: +SKIP
    (0.41, 0.77)
    """
    out = _open(source)
    ds = out.dataset(dataset)
    folder = _method_folder(out, ds, title)
    hs = [out.hist(f"{folder}/MVA_{title}{s}") for s in ("_S", "_B", "_Train_S", "_Train_B")]
    if any(h is None for h in hs):
        raise InputNotFoundError(
            f"method {title!r} has no MVA_{title}_S/_B and _Train_S/_B histograms (not a classifier?)",
            token=title,
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return (
        kolmogorov_test(hs[0], hs[2], option, gen),  # type: ignore[arg-type]
        kolmogorov_test(hs[1], hs[3], option, gen),  # type: ignore[arg-type]
    )


def _method_folder(out: _Output, ds: str, title: str) -> str:
    methods = out.methods(ds)
    for mtype, t in methods:
        if t == title:
            return f"{ds}/Method_{mtype}/{t}"
    raise InputNotFoundError(
        f"no method {title!r} in dataset {ds!r}", token=title, expected=[t for _, t in methods] or ["(none)"]
    )


# --------------------------------------------------------------------------------------------------
# input variables, correlations
# --------------------------------------------------------------------------------------------------
def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    return math.ceil(n / cols), cols


def plot_input_variables(source: Any, dataset: str | None = None, per_figure: int = 9) -> dict[str, Any]:
    """``variables.cxx``: every ``InputVariables_<T>`` folder, one panel per variable (and target), each
    class normalised to unit area. Images ``variables_<t>_c<k>`` (``<t>``: ``<T>`` lower-cased,
    ``gauss_deco``).

    >>> figs = plot_input_variables("TMVA.root")   # doctest: +SKIP
    >>> sorted(figs)                               # doctest: +SKIP
    ['variables_id_c1']
    """
    out = _open(source)
    ds = out.dataset(dataset)
    classes = out.class_names(ds)
    figs: dict[str, Any] = {}
    with style():
        for folder in [k for k in out.keys(ds) if k.startswith("InputVariables_")]:
            suffix = folder[len("InputVariables_") :]
            tag = suffix.lower()
            hists = [k for k in out.keys(f"{ds}/{folder}") if "__" in k]
            # one panel per variable: the part of the name before "__<class>"
            variables: list[str] = []
            for k in hists:
                v = k.split("__")[0]
                if v not in variables:
                    variables.append(v)
            for page in range(0, len(variables), per_figure):
                chunk = variables[page : page + per_figure]
                rows, cols = _grid(len(chunk))
                fig = _figure(4.6 * cols, 3.8 * rows)
                for i, var in enumerate(chunk):
                    ax = fig.add_subplot(rows, cols, i + 1)
                    drawn = 0
                    for c, cname in enumerate(classes or ["Regression"]):
                        h = next(
                            (out.hist(f"{ds}/{folder}/{k}") for k in hists
                             if k in (f"{var}__{cname}_{suffix}", f"{var}__{cname}_target_{suffix}")),
                            None,
                        )  # fmt: skip
                        if h is None:
                            continue
                        label = cname if len(classes) > 1 else None
                        _draw_class_hist(ax, h, cname, _class_color(c, classes), label)  # type: ignore[arg-type]
                        ax.set_xlabel(_latex(h.xlabel or var), fontsize=12)
                        ax.set_title(h.title or var, fontsize=13)
                        drawn += 1
                    ax.set_ylabel("(1/N) dN/dx", fontsize=12)
                    ax.tick_params(labelsize=10)
                    ax.set_ylim(bottom=0)
                    if drawn > 1:
                        ax.legend(fontsize=9, loc="upper right")
                fig.suptitle(f"Input variables ({suffix}-transformed), training sample", fontsize=15)
                fig.tight_layout()
                figs[f"variables_{tag.lower()}_c{page // per_figure + 1}"] = fig
    return figs


def plot_correlations(source: Any, dataset: str | None = None) -> dict[str, Any]:
    """``correlations.cxx``: each ``CorrelationMatrix*`` (linear correlation coefficients in %, training
    sample) with its numbers written in the cells. Images named after the matrices.

    >>> sorted(plot_correlations("TMVA.root"))     # doctest: +SKIP
    ['CorrelationMatrixB', 'CorrelationMatrixS']
    """
    out = _open(source)
    ds = out.dataset(dataset)
    figs: dict[str, Any] = {}
    with style():
        for key in [k for k in out.keys(ds) if k.startswith("CorrelationMatrix")]:
            h = out.get(f"{ds}/{key}")
            vals = np.asarray(h.values(flow=False), np.float64)  # [x, y]
            labels = [str(x) for x in (h.axis(0).labels() or [])] or [str(i) for i in range(vals.shape[0])]
            k = vals.shape[0]
            fig = _figure(1.2 + 0.75 * max(k, 6), 0.8 + 0.7 * max(k, 6))
            ax = fig.add_subplot(1, 1, 1)
            mesh = ax.pcolormesh(
                np.arange(k + 1), np.arange(k + 1), vals.T, cmap="RdBu_r", vmin=-100, vmax=100
            )
            for i in range(k):
                for j in range(k):
                    color = "white" if abs(vals[i, j]) > 60 else "black"
                    text = f"{vals[i, j] + 0.0:.0f}"  # Int_t(100 rho): no "-0"
                    ax.text(i + 0.5, j + 0.5, text, ha="center", va="center", fontsize=11, color=color)
            ax.set_xticks(np.arange(k) + 0.5, labels, rotation=45, ha="right", fontsize=11)
            ax.set_yticks(np.arange(k) + 0.5, labels, fontsize=11)
            ax.tick_params(which="minor", length=0)
            ax.set_title(str(h.member("fTitle")) + " (in %)", fontsize=14)
            fig.colorbar(mesh, ax=ax, label="linear correlation coefficient [%]")
            fig.tight_layout()
            figs[key] = fig
    return figs


# --------------------------------------------------------------------------------------------------
# MVA output (mvas.cxx)
# --------------------------------------------------------------------------------------------------
def _mva_range(sig: Hist1D, bkg: Hist1D) -> tuple[float, float]:
    """``mvas.cxx``'s frame: mean -/+ 10 RMS of either class, clipped to the histogram range."""

    def mean_rms(h: Hist1D) -> tuple[float, float]:
        w = h.contents
        s = w.sum()
        if s <= 0:
            return 0.5 * (h.edges[0] + h.edges[-1]), 0.0
        m = float((w * h.centers).sum() / s)
        return m, math.sqrt(max(float((w * h.centers**2).sum() / s) - m * m, 0.0))

    (ms, rs), (mb, rb) = mean_rms(sig), mean_rms(bkg)
    lo = max(min(ms - 10 * rs, mb - 10 * rb), sig.edges[0])
    hi = min(max(ms + 10 * rs, mb + 10 * rb), sig.edges[-1])
    return (lo, hi) if hi > lo else (sig.edges[0], sig.edges[-1])


def _train_points(ax, h: Hist1D, color: str, label: str) -> None:
    dens = h.density()
    total = float(h.contents.sum())
    dx = (h.edges[-1] - h.edges[0]) / (len(h.edges) - 1)
    err = np.sqrt(np.clip(h.variances[1:-1], 0, None)) / (total * dx) if total else np.zeros_like(dens)
    ax.errorbar(h.centers, dens, yerr=err, fmt="o", markersize=4, color=color, label=label, linewidth=1)


def plot_mva(
    source: Any, dataset: str | None = None, overtraining: bool = True, ks_option: str = "X", rng: Any = 0
) -> dict[str, Any]:
    """``mvas.cxx``: each classifier's test-sample output for signal and background (images ``mva_<title>``)
    and, with ``overtraining``, the training sample overlaid with the KS probabilities
    (``overtrain_<title>``). Multiclass methods give ``mva_<title>_<class>`` per output class, one curve
    per true class (test), with the training sample as points when ``overtraining``.

    >>> figs = plot_mva("TMVA.root")                # doctest: +SKIP
    >>> sorted(figs)                                # doctest: +SKIP
    ['mva_DNN_CPU', 'overtrain_DNN_CPU']
    """
    out = _open(source)
    ds = out.dataset(dataset)
    classes = out.class_names(ds)
    figs: dict[str, Any] = {}
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    with style():
        for mtype, title in out.methods(ds):
            folder = f"{ds}/Method_{mtype}/{title}"
            sig, bkg = out.hist(f"{folder}/MVA_{title}_S"), out.hist(f"{folder}/MVA_{title}_B")
            if sig is not None and bkg is not None:
                figs[f"mva_{title}"] = _mva_figure(title, sig, bkg, None, None, None)
                if overtraining:
                    tsig = out.hist(f"{folder}/MVA_{title}_Train_S")
                    tbkg = out.hist(f"{folder}/MVA_{title}_Train_B")
                    if tsig is not None and tbkg is not None:
                        ks = (
                            kolmogorov_test(sig, tsig, ks_option, gen),
                            kolmogorov_test(bkg, tbkg, ks_option, gen),
                        )
                        figs[f"overtrain_{title}"] = _mva_figure(title, sig, bkg, tsig, tbkg, ks)
                continue
            figs.update(_multiclass_mva(out, folder, title, classes, overtraining))
    return figs


def _mva_figure(title, sig, bkg, tsig, tbkg, ks):
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    compare = tsig is not None
    _draw_class_hist(ax, sig, "Signal", SIGNAL_LINE, "Signal" + (" (test sample)" if compare else ""))
    _draw_class_hist(
        ax, bkg, "Background", BACKGROUND_LINE, "Background" + (" (test sample)" if compare else "")
    )
    ymax = max(sig.density().max(initial=0), bkg.density().max(initial=0))
    if compare:
        _train_points(ax, tsig, SIGNAL_LINE, "Signal (training sample)")
        _train_points(ax, tbkg, BACKGROUND_LINE, "Background (training sample)")
        ymax = max(ymax, tsig.density().max(initial=0), tbkg.density().max(initial=0))
        ax.text(0.02, 0.80, f"Kolmogorov-Smirnov test: signal (background) probability = {ks[0]:5.3g} "
                f"({ks[1]:5.3g})", transform=ax.transAxes, fontsize=10)  # fmt: skip
        ax.set_title(f"TMVA overtraining check for classifier: {title}", fontsize=14)
    else:
        ax.set_title(f"TMVA response for classifier: {title}", fontsize=14)
    ax.set_xlim(*_mva_range(sig, bkg))
    ax.set_ylim(0, ymax * (1.45 if compare else 1.25) if ymax > 0 else 1)
    ax.set_xlabel(f"{title} response")
    ax.set_ylabel("(1/N) dN / dx")
    ax.legend(loc="upper left", ncol=2 if compare else 1, fontsize=10)
    tot_s, tot_b = float(sig.contents.sum()) or 1.0, float(bkg.contents.sum()) or 1.0
    flows = (100 * sig.values[0] / tot_s, 100 * bkg.values[0] / tot_b)
    flows += (100 * sig.values[-1] / tot_s, 100 * bkg.values[-1] / tot_b)
    text = "U/O-flow (S,B): ({:.1f}, {:.1f})% / ({:.1f}, {:.1f})%".format(*flows)
    ax.text(1.01, 0.02, text, rotation=90, transform=ax.transAxes, fontsize=8, va="bottom")
    fig.tight_layout()
    return fig


def _multiclass_mva(out: _Output, folder: str, title: str, classes: Sequence[str], overtraining: bool):
    figs = {}
    for out_cls in classes:
        tests = [(t, out.hist(f"{folder}/MVA_{title}_Test_{out_cls}_prob_for_{t}")) for t in classes]
        if any(h is None for _, h in tests):
            continue
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        ymax = 0.0
        for i, (true_cls, h) in enumerate(tests):
            color = _CLASS_COLORS[i % len(_CLASS_COLORS)]
            ax.stairs(h.density(), h.edges, color=color, linewidth=2, label=f"{true_cls} (test)")
            ymax = max(ymax, float(h.density().max(initial=0)))
            tr = (
                out.hist(f"{folder}/MVA_{title}_Train_{out_cls}_prob_for_{true_cls}")
                if overtraining
                else None
            )
            if tr is not None:
                _train_points(ax, tr, color, f"{true_cls} (training)")
        ax.set_yscale("log")
        ax.set_ylim(max(ymax, 1.0) * 1e-4, max(ymax, 1.0) * 30)
        ax.set_title(f"TMVA response for classifier: {title}, output {out_cls}", fontsize=14)
        ax.set_xlabel(f"{title} response for class {out_cls}")
        ax.set_ylabel("(1/N) dN / dx")
        ax.legend(loc="upper center", ncol=2, fontsize=10)
        fig.tight_layout()
        figs[f"mva_{title}_{out_cls}"] = fig
    return figs


# --------------------------------------------------------------------------------------------------
# ROC curves (efficiencies.cxx, Factory::GetROCCurve)
# --------------------------------------------------------------------------------------------------
def roc_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    title: str = "Background rejection versus Signal efficiency",
    aucs: Mapping[str, float] | None = None,
):
    """One figure with a ROC curve (signal efficiency, background rejection) per method; the legend
    lists the methods by decreasing area (``efficiencies.cxx`` orders them so), with the area if given.

    >>> fig = roc_figure({"A": (np.array([0.0, 1.0]), np.array([1.0, 0.0]))})   # doctest: +SKIP
    """
    with style():
        fig = _figure(7.5, 6.5)
        ax = fig.add_subplot(1, 1, 1)
        area = {k: (aucs or {}).get(k, float(-np.trapezoid(y, x)) if len(x) > 1 else 0.0)
                for k, (x, y) in curves.items()}  # fmt: skip
        for i, name in enumerate(sorted(curves, key=lambda k: -abs(area[k]))):
            x, y = curves[name]
            label = f"{name} ({area[name]:.3f})" if aucs is not None else name
            ax.plot(x, y, color=_CLASS_COLORS[i % len(_CLASS_COLORS)], linewidth=2, label=label)
        ax.plot([0, 1], [1, 0], color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Signal efficiency")
        ax.set_ylabel("Background rejection")
        ax.set_title(title, fontsize=14)
        ax.grid(True, alpha=0.3)
        ax.legend(title="MVA Method:", loc="lower left", fontsize=11)
        fig.tight_layout()
    return fig


def _hist_area(h: Hist1D) -> float:
    return float(h.contents.sum() * (h.edges[-1] - h.edges[0]) / (len(h.edges) - 1))


def plot_efficiencies(source: Any, dataset: str | None = None) -> dict[str, Any]:
    """``efficiencies.cxx``: every classifier's ``MVA_<title>_rejBvsS`` (test sample) in one figure,
    image ``rejBvsS``; multiclass methods give ``rejBvsS_<class>`` from their 1-vs-rest test graphs.

    >>> plot_efficiencies("TMVA.root")["rejBvsS"].axes[0].get_title()      # doctest: +SKIP
    'Background rejection versus Signal efficiency'
    """
    out = _open(source)
    ds = out.dataset(dataset)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    aucs: dict[str, float] = {}
    multi: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for mtype, title in out.methods(ds):
        folder = f"{ds}/Method_{mtype}/{title}"
        h = out.hist(f"{folder}/MVA_{title}_rejBvsS")
        if h is not None:
            curves[title] = (h.centers, h.contents)
            aucs[title] = _hist_area(h)
            continue
        for cname in out.class_names(ds):
            g = out.get(f"{folder}/MVA_{title}_Test_rejBvsS_{cname}")
            if g is not None:
                x, y = np.asarray(g.member("fX")), np.asarray(g.member("fY"))
                multi.setdefault(cname, {})[title] = (x, y)
    figs: dict[str, Any] = {}
    if curves:
        figs["rejBvsS"] = roc_figure(curves, aucs=aucs)
    for cname, c in multi.items():
        area = {k: float(-np.trapezoid(y, x)) for k, (x, y) in c.items()}
        figs[f"rejBvsS_{cname}"] = roc_figure(
            c, f"Background rejection versus signal efficiency ({cname} vs rest)", aucs=area
        )
    return figs


# --------------------------------------------------------------------------------------------------
# cut efficiencies and optimal cut (mvaeffs.cxx)
# --------------------------------------------------------------------------------------------------
_FORMULA = re.compile(r"^[SB0-9.+\-*/() ]*(sqrt|log|[SB0-9.+\-*/() ])*$")


def _significance_function(formula: str | Callable) -> Callable:
    if callable(formula):
        return formula
    text = str(formula).replace(" ", "")
    if not text or not _FORMULA.match(text) or re.search(r"[A-Za-z]{2,}", text.replace("sqrt", "")
                                                              .replace("log", "")):  # fmt: skip
        raise InputDataError(
            f"significance formula {formula!r} is not a formula in S and B",
            token=str(formula),
            expected=["S/sqrt(S+B)", "S/sqrt(B)", "S/B"],
        )
    code = compile(text, "<formula>", "eval")

    def f(S, B):  # noqa: N803 (TMVA's names)
        with np.errstate(divide="ignore", invalid="ignore"):
            return eval(code, {"__builtins__": {}}, {"S": S, "B": B, "sqrt": np.sqrt, "log": np.log})

    return f


@dataclass
class OptimalCut:
    """The cut that maximises the significance (``mvaeffs.cxx``'s table line)."""

    method: str
    cut: float
    significance: float
    significance_error: float  # only for S/sqrt(B), else 0
    n_signal: float
    n_background: float
    eff_signal: float
    eff_background: float


def _mvaeffs_curves(effs: Hist1D, effb: Hist1D, n_signal: float, n_background: float, f: Callable):
    es = effs.contents.astype(np.float32).astype(np.float64)
    eb = effb.contents.astype(np.float32).astype(np.float64)
    S = (es * np.float32(n_signal)).astype(np.float32).astype(np.float64)  # noqa: N806 (Float_t S, B)
    B = (eb * np.float32(n_background)).astype(np.float32).astype(np.float64)  # noqa: N806
    with np.errstate(divide="ignore", invalid="ignore"):
        purity = np.where(S + B == 0, 0.0, S / (S + B))
        sig = np.asarray(f(S, B), np.float64) * np.ones_like(S)
    sig = np.where(np.isfinite(sig), sig, -np.inf)
    return es, eb, purity, sig, S, B


def optimal_cut(
    source: Any,
    title: str,
    dataset: str | None = None,
    n_signal: float = 1000,
    n_background: float = 1000,
    formula: str | Callable = "S/sqrt(S+B)",
) -> OptimalCut:
    """``mvaeffs.cxx``'s optimal cut: the bin of ``MVA_<title>_effS``/``_effB`` where
    ``formula(S = effS * n_signal, B = effB * n_background)`` is largest (first such bin), its centre
    as the cut.

    >>> optimal_cut("TMVA.root", "DNN_CPU", n_signal=100, n_background=1000).cut   # doctest: +SKIP
    0.83
    """
    out = _open(source)
    ds = out.dataset(dataset)
    folder = _method_folder(out, ds, title)
    effs, effb = out.hist(f"{folder}/MVA_{title}_effS"), out.hist(f"{folder}/MVA_{title}_effB")
    if effs is None or effb is None:
        raise InputNotFoundError(f"method {title!r} has no MVA_{title}_effS/_effB histograms", token=title)
    return _optimal(title, effs, effb, n_signal, n_background, formula)


def _optimal(title, effs, effb, n_signal, n_background, formula) -> OptimalCut:
    f = _significance_function(formula)
    es, eb, _, sig, S, B = _mvaeffs_curves(effs, effb, n_signal, n_background, f)  # noqa: N806
    i = int(np.argmax(sig))
    err = 0.0
    if not callable(formula) and str(formula).replace(" ", "") == "S/sqrt(B)" and S[i] > 0 and B[i] > 0:
        err = float(sig[i] * math.sqrt(1.0 / S[i] + 1.0 / (2.0 * B[i])))
    return OptimalCut(title, float(effs.centers[i]), float(sig[i]), err, float(S[i]), float(B[i]),
                      float(es[i]), float(eb[i]))  # fmt: skip


def plot_mvaeffs(
    source: Any,
    dataset: str | None = None,
    n_signal: float = 1000,
    n_background: float = 1000,
    formula: str | Callable = "S/sqrt(S+B)",
) -> dict[str, Any]:
    """``mvaeffs.cxx``: per classifier (``mvaeffs_<title>``) the signal and background efficiencies,
    purity, efficiency*purity and the significance (scaled to its maximum, right axis in its units)
    versus the cut, for ``n_signal`` and ``n_background`` expected events, with the optimal cut.

    >>> plot_mvaeffs("TMVA.root", n_signal=100, n_background=10000)   # doctest: +SKIP
    """
    out = _open(source)
    ds = out.dataset(dataset)
    f = _significance_function(formula)
    name = formula if isinstance(formula, str) else getattr(formula, "__name__", "significance")
    figs: dict[str, Any] = {}
    with style():
        for mtype, title in out.methods(ds):
            folder = f"{ds}/Method_{mtype}/{title}"
            effs, effb = out.hist(f"{folder}/MVA_{title}_effS"), out.hist(f"{folder}/MVA_{title}_effB")
            if effs is None or effb is None:
                continue
            es, eb, purity, sig, _, _ = _mvaeffs_curves(effs, effb, n_signal, n_background, f)
            best = _optimal(title, effs, effb, n_signal, n_background, formula)
            smax = best.significance if best.significance > 0 else 1.0
            x = effs.centers
            fig = _figure(8.0, 6.8)
            ax = fig.add_subplot(1, 1, 1)
            ax.plot(x, es, color=SIGNAL_LINE, linewidth=3, label="Signal efficiency")
            ax.plot(x, eb, color=BACKGROUND_LINE, linewidth=3, label="Background efficiency")
            ax.plot(x, purity, color=SIGNAL_LINE, linewidth=2, linestyle="--", label="Signal purity")
            ax.plot(x, es * purity, color=SIGNAL_LINE, linewidth=2, linestyle=":",
                    label="Signal efficiency*purity")  # fmt: skip
            ax.plot(x, np.where(np.isfinite(sig), sig, 0.0) / smax, color="#00aa00", linewidth=3, label=name)
            ax.axhline(1.0, color="black", linewidth=1)
            ax.axvline(best.cut, color="#00aa00", linewidth=1, linestyle="-.")
            ax.set_ylim(0, 1.1)
            ax.set_xlim(effs.edges[0], effs.edges[-1])
            ax.set_xlabel(f"Cut value applied on {title} output")
            ax.set_ylabel("Efficiency (Purity)")
            ax.grid(True, alpha=0.3)
            right = ax.twinx()
            right.set_ylim(0, 1.1 * smax)
            right.set_ylabel("Significance", color="#00aa00")
            right.tick_params(axis="y", colors="#00aa00")
            ax.set_title("Cut efficiencies and optimal cut value", fontsize=14)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=9)
            err = f" +- {best.significance_error:4.2f}" if best.significance_error > 0 else ""
            ax.text(0.03, 0.20, f"For {n_signal:.0f} signal and {n_background:.0f} background events the\n"
                    f"maximum {name} is {best.significance:5.2f}{err} when cutting at {best.cut:5.3f}",
                    transform=ax.transAxes, fontsize=10,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})  # fmt: skip
            fig.tight_layout()
            figs[f"mvaeffs_{title}"] = fig
    return figs


# --------------------------------------------------------------------------------------------------
# training history, regression deviations, multiclass confusion matrix
# --------------------------------------------------------------------------------------------------
def plot_training_history(source: Any, dataset: str | None = None) -> dict[str, Any]:
    """Every ``TrainingHistory_<title>_<key>`` in one figure (image ``TrainingHistory``): one colour per
    method, solid for the training error, dashed for the validation error; a key naming a KL term
    (an autoencoder's) is drawn dotted on a right-hand axis.

    >>> plot_training_history("TMVA.root")["TrainingHistory"].axes[0].get_xlabel()  # doctest: +SKIP
    'Epoch'
    """
    out = _open(source)
    ds = out.dataset(dataset)
    found = []
    for mtype, title in out.methods(ds):
        folder = f"{ds}/Method_{mtype}/{title}"
        prefix = f"TrainingHistory_{title}_"
        for k in out.keys(folder):
            if k.startswith(prefix):
                found.append((title, k[len(prefix) :], out.hist(f"{folder}/{k}")))
    if not found:
        return {}
    figs: dict[str, Any] = {}
    with style():
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        right = None
        titles = list(dict.fromkeys(t for t, _, _ in found))
        styles = {"trainingError": "-", "valError": "--"}
        for title, key, h in found:
            color = _CLASS_COLORS[titles.index(title) % len(_CLASS_COLORS)]
            label = f"{title}: {key}"
            if "kl" in key.lower():
                right = right or ax.twinx()
                right.plot(h.centers, h.contents, color=color, linestyle=":", marker=".", label=label)
                right.set_ylabel("KL divergence")
            else:
                ax.plot(h.centers, h.contents, color=color, linestyle=styles.get(key, "-."), marker="o",
                        markersize=3, label=label)  # fmt: skip
        if all(np.all(h.contents > 0) for _, k, h in found if "kl" not in k.lower()):
            ax.set_yscale("log")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Error")
        ax.set_title("Training history", fontsize=14)
        handles, labels = ax.get_legend_handles_labels()
        if right is not None:
            h2, l2 = right.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, fontsize=10, loc="upper right")
        fig.tight_layout()
        figs["TrainingHistory"] = fig
    return figs


def plot_deviations(source: Any, dataset: str | None = None, sample: str = "test") -> dict[str, Any]:
    """``deviations.cxx``: per regression method and target (``deviation_<title>_target_<t>_<sample>``)
    the output minus the true target versus each input variable and the target (the
    ``MVA_<title><sample>_reg_var<i>_rtgt<t>``/``_reg_tgt<j>_rtgt<t>`` 2-D histograms), with the mean
    deviation per column as points.

    >>> sorted(plot_deviations("TMVAReg.root"))    # doctest: +SKIP
    ['deviation_DNN_CPU_target_0_test']
    """
    if sample not in ("test", "train"):
        raise InputDataError(f"sample {sample!r} is neither 'test' nor 'train'", token=sample,
                             expected=["test", "train"])  # fmt: skip
    out = _open(source)
    ds = out.dataset(dataset)
    figs: dict[str, Any] = {}
    with style():
        for mtype, title in out.methods(ds):
            folder = f"{ds}/Method_{mtype}/{title}"
            pat = re.compile(rf"^MVA_{re.escape(title)}{sample}_reg_(var|tgt)(\d+)_rtgt(\d+)$")
            by_target: dict[int, list[tuple[str, Any]]] = {}
            for k in out.keys(folder):
                m = pat.match(k)
                if m:
                    by_target.setdefault(int(m.group(3)), []).append((k, out.get(f"{folder}/{k}")))
            for t, hs in sorted(by_target.items()):
                hs.sort(key=lambda kv: (kv[0].split("_reg_")[1][:3] == "tgt", kv[0]))
                rows, cols = _grid(len(hs))
                fig = _figure(5.2 * cols, 4.4 * rows)
                for i, (_, h) in enumerate(hs):
                    ax = fig.add_subplot(rows, cols, i + 1)
                    vals, xe, ye = h.to_numpy(flow=False)
                    ax.pcolormesh(xe, ye, np.where(vals.T > 0, vals.T, np.nan), cmap="viridis")
                    colsum = vals.sum(axis=1)
                    yc = 0.5 * (ye[1:] + ye[:-1])
                    with np.errstate(invalid="ignore", divide="ignore"):
                        mean = (vals * yc).sum(axis=1) / colsum
                    xc = 0.5 * (xe[1:] + xe[:-1])
                    ax.plot(xc[colsum > 0], mean[colsum > 0], "o", color="red", markersize=3,
                            label="mean deviation")  # fmt: skip
                    ax.axhline(0.0, color="black", linewidth=1)
                    ax.set_xlabel(_latex(h.axis(0).member("fTitle")), fontsize=12)
                    ax.set_ylabel(_latex(h.axis(1).member("fTitle")), fontsize=11)
                    ax.tick_params(labelsize=10)
                    if i == 0:
                        ax.legend(fontsize=9, loc="upper right")
                fig.suptitle(
                    f"Output deviation for method: {title} ({sample} sample, target {t})", fontsize=15
                )
                fig.tight_layout()
                figs[f"deviation_{title}_target_{t}_{sample}"] = fig
    return figs


def _confusion(tree: Any, title: str, n_classes: int) -> np.ndarray:
    a = tree.arrays(["classID", "weight", title], library="np")
    vals = a[title]
    v = np.column_stack([vals[n] for n in vals.dtype.names]) if vals.dtype.names else np.asarray(vals)
    cm = np.zeros((n_classes, n_classes))
    np.add.at(cm, (a["classID"].astype(int), np.argmax(v, axis=1)), a["weight"].astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))


def plot_confusion_matrix(source: Any, dataset: str | None = None) -> dict[str, Any]:
    """Multiclass methods (``confusion_<title>``): for each true class (row), the weighted fraction of its
    events whose largest output is each class (column), test and training samples side by side.

    >>> plot_confusion_matrix("TMVAMulticlass.root")["confusion_DL_CPU"]  # doctest: +SKIP
    """
    out = _open(source)
    ds = out.dataset(dataset)
    classes = out.class_names(ds)
    figs: dict[str, Any] = {}
    test, train = out.get(f"{ds}/TestTree"), out.get(f"{ds}/TrainTree")
    if test is None or len(classes) < 2:
        return figs
    with style():
        for mtype, title in out.methods(ds):
            if out.get(f"{ds}/Method_{mtype}/{title}/MVA_{title}_Test_rejBvsS_{classes[0]}") is None:
                continue  # not a multiclass method
            if title not in test.keys():
                continue
            k = len(classes)
            fig = _figure(2.0 + 2 * (1.0 * max(k, 3) + 0.5), 1.2 + 1.0 * max(k, 3))
            for p, (name, tree) in enumerate((("test", test), ("training", train))):
                ax = fig.add_subplot(1, 2, p + 1)
                if tree is None:
                    continue
                cm = _confusion(tree, title, k)
                ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
                for i in range(k):
                    for j in range(k):
                        ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=11,
                                color="white" if cm[i, j] > 0.6 else "black")  # fmt: skip
                ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=11)
                ax.set_yticks(range(k), classes, fontsize=11)
                ax.tick_params(which="minor", length=0)
                ax.set_xlabel("assigned class (largest output)", fontsize=12)
                ax.set_ylabel("true class", fontsize=12)
                ax.set_title(f"{name} sample", fontsize=13)
            fig.suptitle(f"Confusion matrix for classifier: {title}", fontsize=15)
            fig.tight_layout()
            figs[f"confusion_{title}"] = fig
    return figs


# --------------------------------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------------------------------
_ALL = (
    plot_input_variables,
    plot_correlations,
    plot_mva,
    plot_efficiencies,
    plot_mvaeffs,
    plot_training_history,
    plot_deviations,
    plot_confusion_matrix,
)


def plot_all(
    source: str | os.PathLike,
    outdir: str | os.PathLike,
    formats: Iterable[str] = ("png", "pdf"),
    dataset: str | None = None,
    n_signal: float = 1000,
    n_background: float = 1000,
) -> list[str]:
    """Write every plot of every dataset (or of ``dataset``) to ``outdir`` as ``<image>.<format>``
    (``outdir/<dataset>/`` when the file holds several datasets); returns the paths written.

    >>> plot_all("TMVA.root", "plots")      # doctest: +SKIP
    ['plots/variables_id_c1.png', 'plots/variables_id_c1.pdf', ...]
    """
    fmts = [f.lower().lstrip(".") for f in formats]
    bad = [f for f in fmts if f not in ("png", "pdf", "svg", "eps")]
    if bad or not fmts:
        raise InputDataError(f"image format {bad[0] if bad else ''!r} is not supported", token=",".join(fmts),
                             expected=["png", "pdf", "svg", "eps"])  # fmt: skip
    out = _open(source)
    names = [out.dataset(dataset)] if dataset is not None else out.datasets()
    if not names:
        out.dataset(None)  # raises the no-dataset error
    written: list[str] = []
    for ds in names:
        target = os.path.join(os.fspath(outdir), ds) if len(names) > 1 else os.fspath(outdir)
        os.makedirs(target, exist_ok=True)
        for fn in _ALL:
            kwargs = {"n_signal": n_signal, "n_background": n_background} if fn is plot_mvaeffs else {}
            with style():
                for name, fig in fn(out, ds, **kwargs).items():
                    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)
                    for ext in fmts:
                        path = os.path.join(target, f"{safe}.{ext}")
                        fig.savefig(path, dpi=100)
                        written.append(path)
    return written
