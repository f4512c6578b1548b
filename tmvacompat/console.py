"""The Factory's console output in TMVA's layout, and the progress bars.

Formatting is done by pure functions that take numbers and return text, so each table can be tested on its
own: the dataset summary of ``DataSetFactory`` (events per class and sample, the sums of weights after
``NormMode``), the variable table of ``TransformationHandler::CalcStats`` (mean, RMS, min, max), the
correlation matrices of ``DataSetInfo::PrintCorrelationMatrix`` (``Tools::FormattedOutput``), the network
description and the epoch table of ``MethodDL`` (``TDeepNet::Print``, ``MethodDL::TrainDeepNet``), and the
separation/significance table of ``Factory::EvaluateAllMethods``. Every line carries TMVA's ``MsgLogger``
prefix: the source name padded to 25 characters on a message's first line, blanks on the others.

:class:`Console` prints them (nothing with ``Silent``) and draws progress bars with ``tqdm`` (only on a
terminal; a closed bar leaves no characters behind). :class:`EpochTable` is the observer the Factory hands
to MethodDL's training loop.

Example:
    >>> print(log_block("DataSetFactory", ["[dataset] : Number of events in input trees", "next line"]))
    DataSetFactory           : [dataset] : Number of events in input trees
                             : next line
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

__all__ = [
    "SOURCE_WIDTH",
    "log_block",
    "DatasetSummary",
    "summarize_dataset",
    "format_dataset_summary",
    "variable_stats",
    "format_variable_table",
    "correlation_matrix",
    "format_correlation_matrix",
    "format_network",
    "format_phase_header",
    "format_epoch_row",
    "format_stop_reason",
    "format_ranking",
    "format_separation_table",
    "Console",
    "EpochTable",
]

#: TMVA's MsgLogger pads the source name to this width (``MsgLogger::fgMaxSourceSize``)
SOURCE_WIDTH = 25
_HLINE_EVAL = "-" * 115


def log_block(source: str, lines: Sequence[str]) -> str:
    """Lines with TMVA's MsgLogger prefix: ``source`` (cut to 25 characters with ``...``) on the first, blanks
    on the rest; an empty ``source`` gives blanks throughout.

    >>> log_block("", ["a"])
    '                         : a'
    """
    name = source if len(source) <= SOURCE_WIDTH else source[: SOURCE_WIDTH - 3] + "..."
    out = []
    for i, line in enumerate(lines):
        out.append(f"{name if i == 0 else '':<{SOURCE_WIDTH}}: {line}")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- data summary
@dataclass(frozen=True)
class DatasetSummary:
    """The numbers ``DataSetFactory`` reports for one dataset.

    Per class (in class order): the trees read with their entries, the class cut, the events with data
    before and after the cut (counts and sums of weights), the training and test event counts and the sums
    of their weights (training ones after ``NormMode``).
    """

    name: str
    classes: tuple[str, ...]
    trees: tuple[tuple[tuple[str, int], ...], ...]
    cuts: tuple[str, ...]
    n_before: tuple[int, ...]
    w_before: tuple[float, ...]
    n_after: tuple[int, ...]
    w_after: tuple[float, ...]
    n_train: tuple[int, ...]
    n_test: tuple[int, ...]
    w_train: tuple[float, ...]
    w_test: tuple[float, ...]
    norm_mode: str


def summarize_dataset(ds: Any, read_stats: Sequence[Any] = ()) -> DatasetSummary:
    """A :class:`DatasetSummary` from a :class:`~tmvacompat.data.dataset.DataSet` and the loader's
    ``read_stats`` (counts before/after the cuts; without them, the events of the samples stand in).

    >>> from tmvacompat.data.dataset import DataSet
    >>> ds = DataSet.from_arrays(np.array([[0.0], [1.0], [2.0]]), [0, 1, 1], np.array([[1.0]]), [0])
    >>> summarize_dataset(ds).n_train
    (1, 2)
    """
    names = tuple(ds.class_names)
    stats = {s.name: s for s in read_stats}

    def per_class(sample: Any, what: str) -> tuple:
        ids = np.asarray(sample.class_ids)
        if what == "n":
            return tuple(int(np.count_nonzero(ids == c)) for c in range(len(names)))
        w = np.asarray(sample.weights, np.float64)
        return tuple(float(np.sum(w[ids == c])) for c in range(len(names)))

    n_train, n_test = per_class(ds.train, "n"), per_class(ds.test, "n")
    w_train, w_test = per_class(ds.train, "w"), per_class(ds.test, "w")
    orig = [per_class(ds.train, "n")[c] + n_test[c] for c in range(len(names))]
    return DatasetSummary(
        name=str(ds.name),
        classes=names,
        trees=tuple(tuple(stats[c].trees) if c in stats else () for c in names),
        cuts=tuple(stats[c].cut if c in stats else "" for c in names),
        n_before=tuple(int(stats[c].n_before) if c in stats else orig[i] for i, c in enumerate(names)),
        w_before=tuple(float(stats[c].w_before) if c in stats else math.nan for c in names),
        n_after=tuple(int(stats[c].n_after) if c in stats else orig[i] for i, c in enumerate(names)),
        w_after=tuple(float(stats[c].w_after) if c in stats else math.nan for c in names),
        n_train=n_train,
        n_test=n_test,
        w_train=w_train,
        w_test=w_test,
        norm_mode=str(dict(getattr(ds, "split_options", None) or {}).get("NormMode", "")),
    )


def _g(x: float) -> str:
    """C++ ``ostream << double`` (6 significant digits, %g)."""
    return f"{x:g}"


def format_dataset_summary(s: DatasetSummary, verbose: bool = False) -> str:
    """What TMVA prints while it builds a dataset: the classes and trees added, ``Number of events in input
    trees`` (with the cut efficiencies when there are cuts), the ``NormMode`` note and ``Number of training
    and testing events``; ``verbose`` adds the sums of weights (TMVA's debug lines, training weights after
    the renormalisation).
    """
    out: list[str] = []
    for cname, trees in zip(s.classes, s.trees, strict=True):
        out.append(log_block("DataSetInfo", [f'[{s.name}] : Added class "{cname}"']))
        for tree, entries in trees:
            out.append(log_block("", [f"Add Tree {tree} of type {cname} with {entries} events"]))
    maxl = max((len(c) for c in s.classes), default=0)
    pre = f"Dataset[{s.name}] : "
    lines = [f"[{s.name}] : Number of events in input trees"]
    if verbose:
        for i, c in enumerate(s.classes):
            lines.append(
                f"    {c:<{maxl}}      -- number of events       : {s.n_before[i]:>5}  / sum of weights: "
                f"{_g(s.w_before[i]):>5}"
            )
    if any(s.cuts):
        for i, c in enumerate(s.classes):
            eff = s.w_after[i] / s.w_before[i] if s.w_before[i] else math.nan
            lines += [
                f'{pre}    {c:<{maxl}} requirement: "{s.cuts[i]}"',
                f"{pre}    {c:<{maxl}}      -- number of events passed: {s.n_after[i]:>5}  / sum of weights: "
                f"{_g(s.w_after[i]):>5}",
                f"{pre}    {c:<{maxl}}      -- efficiency             : {_g(eff):>6}",
            ]
    norm = s.norm_mode.upper()
    if norm == "NONE":
        lines.append(f"{pre}No weight renormalisation applied: use original global and event weights")
    elif norm == "EQUALNUMEVENTS":
        lines += [
            f'{pre}Weight renormalisation mode: "EqualNumEvents": renormalises all event classes ...',
            f"{pre} such that the effective (weighted) number of events in each class is the same ",
            f"{pre} (and equals the number of events (entries) given for class=0 )",
            f"{pre}... i.e. such that Sum[i=1..N_j]{{w_i}} = N_classA, j=classA, classB, ...",
            f"{pre}... (note that N_j is the sum of TRAINING events",
            f"{pre} ..... Testing events are not renormalised nor included in the renormalisation factor!)",
        ]
    elif verbose:
        lines.append('\tWeight renormalisation mode: "NumEvents": renormalises all event classes ')
    lines += [
        "Number of training and testing events",
        "-" * 75,
    ]
    for i, c in enumerate(s.classes):
        lines.append(f"{c:<{maxl}} -- training events            : {s.n_train[i]}")
        if verbose:
            lines.append(f"\t(sum of weights: {_g(s.w_train[i])})")
        lines.append(f"{c:<{maxl}} -- testing events             : {s.n_test[i]}")
        if verbose:
            lines.append(f"\t(sum of weights: {_g(s.w_test[i])})")
        lines.append(f"{c:<{maxl}} -- training and testing events: {s.n_train[i] + s.n_test[i]}")
        if verbose:
            lines.append(f"\t(sum of weights: {_g(s.w_train[i] + s.w_test[i])})")
    lines.append("")
    out.append(log_block("DataSetFactory", lines))
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- variables
def variable_stats(
    X: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean and RMS, min and max of each column, as ``TransformationHandler::CalcStats`` computes
    them (RMS = sqrt(<x^2> - <x>^2) with the event weights; a negative or NaN variance gives 0).

    >>> [a.tolist() for a in variable_stats(np.array([[1.0], [3.0]]), np.ones(2))]
    [[2.0], [1.0], [1.0], [3.0]]
    """
    x = np.asarray(X, np.float64).reshape(len(X), -1)
    w = np.asarray(weights, np.float64)
    sw = float(np.sum(w))
    if len(x) == 0 or sw == 0.0:
        nan = np.full(x.shape[1], np.nan)
        return nan, nan, nan, nan
    mean = (w @ x) / sw
    with np.errstate(invalid="ignore"):
        var = (w @ (x * x)) / sw - mean * mean
    rms = np.sqrt(np.where(var > 0, var, 0.0))
    return mean, rms, x.min(axis=0), x.max(axis=0)


def format_variable_table(
    source: str,
    labels: Sequence[str],
    mean: Sequence[float],
    rms: Sequence[float],
    vmin: Sequence[float],
    vmax: Sequence[float],
) -> str:
    """TMVA's variable table (``TransformationHandler::CalcStats``): one row per variable (then target) with
    mean, RMS and range in ``%#11.5g``; ``source`` is TMVA's logger name (``TFHandler_Factory``,
    ``TFHandler_<method title>``).

    >>> print(format_variable_table("TFHandler_Factory", ["x"], [0.5], [1.0], [-2.0], [3.0]))
    TFHandler_Factory        : Variable        Mean        RMS   [        Min        Max ]
                             : -----------------------------------------------------------
                             :        x:    0.50000     1.0000   [    -2.0000     3.0000 ]
                             : -----------------------------------------------------------
    """
    maxl = max([8, *(len(v) for v in labels)])
    maxv = maxl + 2
    clen = maxl + 4 * maxv + 11
    head = (
        f"{'Variable':>{maxl}}  {'Mean':>{maxv}} {'RMS':>{maxv}}   {'[        Min ':>{maxv}}  "
        f"{'    Max ]':>{maxv}}"
    )
    rows = [head, "-" * clen]
    for i, label in enumerate(labels):
        rows.append(
            f"{label:>{maxl}}:{f'{mean[i]:#11.5g}':>{maxv}}{f'{rms[i]:#11.5g}':>{maxv}}   ["
            f"{f'{vmin[i]:#11.5g}':>{maxv}}{f'{vmax[i]:#11.5g}':>{maxv}} ]"
        )
    rows.append("-" * clen)
    return log_block(source, rows)


def correlation_matrix(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted linear correlation matrix of ``DataSetFactory::CalcCorrelationMatrix`` (covariance from
    weighted sums; a pair with a zero variance gets 0; the diagonal is 1).

    >>> correlation_matrix(np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0]]), np.ones(3)).round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    x = np.asarray(X, np.float64).reshape(len(X), -1)
    w = np.asarray(weights, np.float64)
    sw = float(np.sum(w))
    n = x.shape[1]
    if len(x) == 0 or sw == 0.0:
        return np.eye(n)
    mean = (w @ x) / sw
    cov = (x * w[:, None]).T @ x / sw - np.outer(mean, mean)
    d = np.outer(np.diag(cov), np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(d > 0, cov / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def format_correlation_matrix(class_name: str, names: Sequence[str], matrix: np.ndarray) -> str:
    """``DataSetInfo::PrintCorrelationMatrix``: ``Correlation matrix (<class>):`` and the matrix in
    ``%+1.3f``, columns at least 7 characters wide (``Tools::FormattedOutput``).

    >>> print(format_correlation_matrix("Signal", ["a", "b"], np.array([[1.0, 0.25], [0.25, 1.0]])))
    DataSetInfo              : Correlation matrix (Signal):
                             : ------------------------
                             :                a       b
                             :       a:  +1.000  +0.250
                             :       b:  +0.250  +1.000
                             : ------------------------
    """
    lengths = [max(len(v), 7) for v in names]
    maxl = max([7, *lengths])
    clen = maxl + 1 + sum(n + 1 for n in lengths)
    rows = ["-" * clen, " " * (maxl + 1) + "".join(f"{v:>{lengths[i] + 1}}" for i, v in enumerate(names))]
    for i, v in enumerate(names):
        cells = "".join(f"{f'{matrix[i, j]:+1.3f}':>{lengths[j] + 1}}" for j in range(len(names)))
        rows.append(f"{v:>{maxl}}:{cells}")
    rows.append("-" * clen)
    return log_block("DataSetInfo", [f"Correlation matrix ({class_name}):", *rows])


# ----------------------------------------------------------------------------------------- MethodDL
_ACTIVATION_NAMES = {
    "LINEAR": "Identity",
    "IDENTITY": "Identity",
    "RELU": "Relu",
    "SIGMOID": "Sigmoid",
    "TANH": "Tanh",
    "SYMMRELU": "SymmRelu",
    "SOFTSIGN": "SoftSign",
    "GAUSS": "Gauss",
    "FTANH": "FastTanh",
}


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def format_network(
    title: str,
    input_shape: Sequence[int],
    layers: Sequence[tuple[str, Sequence[int], Sequence[int], int, str]],
    batch_size: int,
    loss: str,
) -> str:
    """The network MethodDL trains: TMVA's ``TDeepNet::Print`` header line (depth, input, batch size, loss
    character), then one row per layer (kind, per-event input and output shapes, trainable parameters,
    activation) and the total.

    ``layers`` holds ``(kind, input_shape, output_shape, n_params, activation)`` per layer.

    >>> print(format_network("DL", (4,), [("DENSE", (4,), (8,), 40, "TANH")], 32, "C"))  # doctest: +ELLIPSIS
    DL                       : *****   Deep Learning Network *****
                             : DEEP NEURAL NETWORK:   Depth = 1  Input = ( 1, 1, 4 )  Batch size = 32  Loss...
    ...
    """
    d, h, w = (1, 1, *input_shape) if len(input_shape) == 1 else (1, *input_shape)[-3:]
    rows = [
        "*****   Deep Learning Network *****",
        f"DEEP NEURAL NETWORK:   Depth = {len(layers)}  Input = ( {d}, {h}, {w} )  Batch size = {batch_size}"
        f"  Loss function = {loss}",
    ]
    table = [("Layer", "Type", "Input", "Output", "Parameters", "Activation")]
    for i, (kind, ins, outs, n, act) in enumerate(layers):
        name = _ACTIVATION_NAMES.get(str(act).upper(), str(act).capitalize()) if act else ""
        table.append((str(i), kind, _shape(ins), _shape(outs), str(n), name))
    widths = [max(len(r[c]) for r in table) for c in range(6)]
    for r in table:
        rows.append(
            f"  {r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}} -> {r[3]:<{widths[3]}}  "
            f"{r[4]:>{widths[4]}}  {r[5]}".rstrip()
        )
    rows.append(f"  Total number of parameters: {sum(int(layer[3]) for layer in layers)}")
    return log_block(title, rows)


_REG_CHAR = {"NONE": "0", "L1": "1", "L2": "2"}


def format_phase_header(
    p: int, n_phases: int, optimizer: str, learning_rate: float, regularization: str, initial_error: float
) -> str:
    """MethodDL's phase header and the epoch table's column titles.

    >>> print(format_phase_header(1, 1, "ADAM", 0.01, "NONE", 0.6931).splitlines()[0])
    Training phase 1 of 1:  Optimizer ADAM Learning rate = 0.01 regularization 0 minimum error = 0.6931
    """
    sep = "-" * 62
    return "\n".join(
        [
            f"Training phase {p} of {n_phases}:  Optimizer {optimizer} Learning rate = {_g(learning_rate)} "
            f"regularization {_REG_CHAR.get(str(regularization).upper(), '0')} "
            f"minimum error = {_g(initial_error)}",
            sep,
            f"{'Epoch':>10} | {'Train Err.':>12}{'Val. Err.':>12}{'t(s)/epoch':>12}{'t(s)/Loss':>12}"
            f"{'nEvents/s':>12}{'Conv. Steps':>12}",
            sep,
        ]
    )


def format_epoch_row(
    epoch: int,
    train_error: float,
    val_error: float,
    seconds_per_epoch: float,
    loss_seconds: float,
    events_per_second: float,
    convergence_count: int,
) -> str:
    """One row of MethodDL's epoch table (C++ ``setw(12)`` of doubles: 6 significant digits).

    >>> format_epoch_row(3, 0.5, 0.52, 0.125, 0.01, 16000.0, 0)
    '         3 |          0.5        0.52       0.125        0.01       16000           0'
    """
    return (
        f"{epoch:>10} | {_g(train_error):>12}{_g(val_error):>12}{_g(seconds_per_epoch):>12}"
        f"{_g(loss_seconds):>12}{_g(events_per_second):>12}{convergence_count:>12}"
    )


def format_stop_reason(
    p: int,
    epoch: int,
    reason: str,
    convergence_count: int,
    convergence_steps: int,
    max_epochs: int,
    best_epoch: int,
) -> str:
    """Why a phase ended (TMVA stops when the convergence counter exceeds ConvergenceSteps or the epoch
    reaches MaxEpochs, both checked on validation epochs).

    >>> print(format_stop_reason(1, 40, "max_epochs", 0, 20, 40, 38))
    Phase 1 stopped at epoch 40: reached MaxEpochs=40; best epoch 38
    """
    if reason == "converged":
        why = (
            f"converged (no better validation error for {convergence_count} epochs > "
            f"ConvergenceSteps={convergence_steps})"
        )
    elif reason == "max_epochs":
        why = f"reached MaxEpochs={max_epochs}"
    elif reason == "callback":
        why = "the epoch callback asked to stop"
    else:
        why = reason
    best = f"best epoch {best_epoch}" if best_epoch else "no epoch beat the starting weights"
    return f"Phase {p} stopped at epoch {epoch}: {why}; {best}"


def format_ranking(titles: Sequence[str]) -> str:
    """``Factory::TrainAllMethods``' ranking block for methods without a ranking (MethodDL's
    ``CreateRanking`` returns none).

    >>> print(format_ranking(["DNN"]))
                             : Ranking input variables (method specific)...
                             : No variable ranking supplied by classifier: DNN
    """
    lines = ["Ranking input variables (method specific)..."]
    lines += [f"No variable ranking supplied by classifier: {t}" for t in titles]
    return log_block("", lines)


def format_separation_table(dataset: str, results: Sequence[Any]) -> str:
    """Signal efficiencies with their errors, the efficiency area, the ROC integral, separation and
    significance per classifier, in the layout ``Factory::EvaluateAllMethods`` defines for them
    (``%#1.3f(%02i)`` with the error in units of 1e-3), ranked by the area like TMVA's tables.

    ``results`` are :class:`tmvacompat.evaluation.ClassificationResult`.
    """
    lines = [
        "Signal efficiency, separation and significance on the test sample (ranked by the area)",
        _HLINE_EVAL,
        "DataSet              MVA              Signal efficiency at bkg eff.(error):                "
        "| Sepa-    Signifi- ",
        "Name:                Method:          @B=0.01    @B=0.10    @B=0.30    ROC-integ    ROCCurve"
        "| ration:  cance:   ",
        _HLINE_EVAL,
    ]
    for r in sorted(results, key=lambda r: -r.eff_area):
        e, err = r.eff_test, r.eff_err

        def cell(level: float, e=e, err=err) -> str:
            u = err.get(level, 0.0)
            return f"{e[level]:#1.3f}({int(1000 * u) if math.isfinite(u) else 0:02d})"

        lines.append(
            f"{dataset:<20} {r.method:<15}: {cell(0.01)}  {cell(0.10)}  {cell(0.30)}    {r.eff_area:#1.3f}"
            f"       {r.roc_integral:#1.3f} | {r.separation:#1.3f}    {r.significance:#1.3f}"
        )
    lines += [_HLINE_EVAL, ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- printing
def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:  # no bars without tqdm; the text output is unchanged
        return None
    return tqdm


class _NoBar:
    def update_to(self, n: int, **postfix: Any) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    def __init__(self, console: Console, bar: Any) -> None:
        self._console, self._bar = console, bar

    def update_to(self, n: int, **postfix: Any) -> None:
        """Move the bar to ``n`` done (optionally with ``key=value`` shown after it)."""
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(max(0, int(n) - int(self._bar.n)))

    def close(self) -> None:
        """Remove the bar, leaving the line empty."""
        if self._console._bar is self:
            self._console._bar = None
        self._bar.close()


class Console:
    """Where the Factory's output goes: standard output (looked up at each call), nothing when ``silent``.

    Progress bars (``tqdm``) are drawn only with ``progress``, not ``silent``, on a terminal; while one is
    shown, printed lines go above it. ``color`` prints the source names of message headers in bold on a
    terminal (TMVA's ``Color`` option).

    >>> Console(silent=True).print("nothing")
    """

    def __init__(
        self,
        *,
        silent: bool = False,
        verbose: bool = False,
        progress: bool = True,
        color: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.silent = bool(silent)
        self.verbose = bool(verbose)
        self.progress = bool(progress)
        self.color = bool(color)
        self._stream = stream
        self._bar: _Bar | None = None

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def print(self, text: str = "") -> None:
        """Print ``text`` (several lines allowed) unless silent."""
        if self.silent:
            return
        if self.color and self._tty():
            text = "\n".join(
                f"\033[1m{ln[:SOURCE_WIDTH]}\033[0m{ln[SOURCE_WIDTH:]}" if ln[:SOURCE_WIDTH].strip() else ln
                for ln in text.split("\n")
            )
        if self._bar is not None:
            _tqdm().write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def bars_enabled(self) -> bool:
        """Whether :meth:`bar` draws: progress wanted, not silent, a terminal, and tqdm installed."""
        return self.progress and not self.silent and self._tty() and _tqdm() is not None

    def bar(self, total: int | None, desc: str, unit: str = "evt") -> _Bar | _NoBar:
        """A progress bar for ``total`` items (``update_to``/``close``); a no-op object when bars are off."""
        if not self.bars_enabled():
            return _NoBar()
        if self._bar is not None:
            self._bar.close()
        tqdm = _tqdm()
        bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit == "evt" and (total or 0) >= 100_000,
            leave=False,
            file=self.stream,
            dynamic_ncols=True,
        )
        self._bar = _Bar(self, bar)
        return self._bar


class EpochTable:
    """MethodDL's training printout, fed by the engine's training loop (the ``monitor`` of
    :func:`tmvacompat.engine.trainer.train`).

    Per phase: TMVA's header, then a row per validation epoch (``verbose``, with TMVA's "Minimum Test error
    found" lines) or only the last one; always the reason the phase ended. A progress bar over the epochs
    (up to MaxEpochs) runs while a phase trains.
    """

    def __init__(self, console: Console, title: str, verbose: bool = False) -> None:
        self.console = console
        self.title = title
        self.verbose = bool(verbose)
        self._phase: Any = None
        self._p = 0
        self._events = 0
        self._clock = 0.0
        self._last_epoch = 0
        self._pending: list[str] = []
        self._best = 0
        self._record: Any = None
        self._bar: Any = _NoBar()

    def _write(self, lines: Sequence[str]) -> None:
        self.console.print(log_block("", lines))

    def start(self, n_train: int, n_validation: int) -> None:
        """MethodDL's ``Using N events for training and M for testing``."""
        self._write([f"Using {n_train} events for training and {n_validation} for testing"])

    def phase_start(
        self, p: int, n_phases: int, phase: Any, initial_val_loss: float, events_per_epoch: int
    ) -> None:
        self._phase, self._p, self._events = phase, p, int(events_per_epoch)
        self._last_epoch, self._best, self._pending, self._record = 0, 0, [], None
        header = format_phase_header(
            p,
            n_phases,
            str(phase.optimizer),
            float(phase.learning_rate),
            str(phase.regularization),
            initial_val_loss,
        )
        self._write(header.split("\n"))
        self._bar = self.console.bar(int(phase.max_epochs), f"{self.title} phase {p}", unit="epoch")
        self._clock = time.perf_counter()

    def epoch_end(self, record: Any) -> None:
        self._record = record
        postfix = {"train": f"{record.train_loss:.4g}"}
        if record.val_loss is not None:
            postfix["val"] = f"{record.val_loss:.4g}"
        self._bar.update_to(record.epoch, **postfix)
        if record.val_loss is None:
            return
        now = time.perf_counter()
        spent, self._clock = now - self._clock, now
        epochs = max(1, record.epoch - self._last_epoch)
        self._last_epoch = record.epoch
        train_time = spent - record.val_seconds
        rate = self._events * epochs / train_time if train_time > 0 else 0.0
        row = format_epoch_row(
            record.epoch,
            record.train_loss,
            record.val_loss,
            spent / epochs,
            record.val_seconds,
            rate,
            record.convergence_count,
        )
        lines = (
            [f"{record.epoch:>10} Minimum Test error found - save the configuration "]
            if record.improved
            else []
        )
        if record.improved:
            self._best = record.epoch
        if self.verbose:
            self._write([*lines, row])
        else:
            self._pending = [row]

    def phase_end(self, result: Any) -> None:
        self._bar.close()
        ph, rec = self._phase, self._record
        count = rec.convergence_count if rec is not None else 0
        text = format_stop_reason(
            result.phase,
            result.epochs,
            str(result.stop_reason),
            count,
            int(ph.convergence_steps),
            int(ph.max_epochs),
            int(result.best_epoch),
        )
        self._write([*self._pending, "", text])
        self._pending = []

    def abort(self, message: str) -> None:
        """Training ended with an error: the last row not yet shown, then the error."""
        self._bar.close()
        if self._p == 0:  # no phase started: the Factory's error message says it all
            return
        epoch = self._record.epoch if self._record is not None else 0
        self._write([*self._pending, "", f"Phase {self._p} stopped at epoch {epoch}: {message}"])
        self._pending = []
