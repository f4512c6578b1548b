"""Write the Factory's output ROOT file (like ``TMVA::Factory``'s ``TMVAOutput.root``) with uproot.

The layout mirrors what a real TMVA run writes (checked against ROOT 6.24 and 6.33 files)::

    <dataset>/TrainTree, <dataset>/TestTree             classID/I, className/C, variables, targets, spectators
                                                         (/F; an array variable: vars[64]/F), weight/F, one
                                                         branch per method named after its title:
                                                         classification <Title>/F; multiclass a leaf list
                                                         <class>/F:<class>/F:...; regression a leaf list
                                                         <target>/F:... (one target: <target>/F)
    <dataset>/CorrelationMatrix{S,B | <class> | }        TH2F, Int_t(100 x weighted correlation) on the
                                                         training events, axis labels = variable titles
                                                         (S/B: Signal/Background, per class: multiclass,
                                                         no suffix: regression)
    <dataset>/InputVariables_<T>/...                     one folder per Transformations= entry (see
                                                         tmvacompat.outputplots)
    <dataset>/Method_<Type>/<Title>/TrainingPath         TObjString
    <dataset>/Method_<Type>/<Title>/WeightFileName       TObjString
    <dataset>/Method_<Type>/<Title>/TrainingHistory_<Title>_<key>   TH1D per monitored quantity
    <dataset>/Method_<Type>/<Title>/<var>__<class>, CorrelationPlots/   the method's test events after its
                                                         VarTransform (when MethodResult.transforms is set)
    regression:     MVA_<T>{test,train}_reg_var<i>_rtgt<t>, _reg_tgt<j>_rtgt<t> (TH2F),
                    _Quadr_Deviation_target_<t>_, _Quadr_Dev_best90perc_target_<t>_ (TH1F)
    classification: MVA_<T>_S/_B (40 bins, unit area), _S_high/_B_high (10000 bins), _effS/_effB,
                    _effBvsS, _rejBvsS, _invBeffvsSeff (100 bins on [0, 1]), _Train_S/_Train_B,
                    _trainingEffS/_trainingEffB, _trainingEffBvsS, _trainingRejBvsS   (all TH1D)
    multiclass:     MVA_<T>_{Test,Train}_<class j>_prob_for_<class i> (TH1F, 40 bins on [-0.0002, 1.0002],
                    unit area), MVA_<T>_{Test,Train}_rejBvsS_<class> and
                    MVA_<T>_{Test,Train}_1v1rejBvsS_<i>_vs_<j> (TGraph: signal eff vs background rejection)

Differences from a ROOT-written file (uproot's writer limits and scope):

* The trees' branches are TMVA's, leaf lists included (written by :mod:`tmvacompat.leaflist`); the
  basket sizes differ: one basket per branch per tree (TMVA's ROOT flushes every 32000 bytes).
* Spectators given as (n, size) arrays are written as fixed-size array branches like array variables
  (TMVA has no array spectators).
* Not written: method-specific monitoring objects (e.g. MLP ``estimatorHist*``) and the second key cycle
  TMVA leaves for the multiclass training histograms. An ``InputVariables`` folder whose transformation
  cannot be fitted (e.g. ``G,D`` over a two-valued variable: singular covariance) is skipped with a
  warning, where TMVA plots meaningless ranges.

Example:
    >>> import numpy as np, tempfile, os
    >>> from tmvacompat.output import EventSample, MethodResult, write_output
    >>> rng = np.random.default_rng(0)
    >>> def sample(n):
    ...     cls = np.arange(n) % 2
    ...     return EventSample(cls, np.ones(n), {"x": rng.normal(cls, 1.0)})
    >>> train, test = sample(200), sample(200)
    >>> m = MethodResult("DL", "DL_CPU", "Classification", test.variables["x"], train.variables["x"])
    >>> path = os.path.join(tempfile.mkdtemp(), "TMVA.root")
    >>> res = write_output(path, "dataset", ["Signal", "Background"], train, test, [m])
    >>> import uproot
    >>> uproot.open(path)["dataset/TestTree"].keys()
    ['classID', 'className', 'x', 'weight', 'DL_CPU']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.atomicfile import atomic_path
from tmvacompat.data.dataset import VariableInfo
from tmvacompat.errors import InputDataError
from tmvacompat.evaluation import (
    ClassificationResult,
    MulticlassResult,
    RegressionResult,
    classification_metrics,
    fill_histogram,
    multiclass_metrics,
    norm_hist,
    proba_rarity_histograms,
    regression_metrics,
    tmva_internal_name,
)
from tmvacompat.leaflist import Leaf, LeafList
from tmvacompat.leaflist import mktree as leaflist_mktree
from tmvacompat.outputplots import (
    input_variable_plots,
    method_variable_plots,
    regression_deviation_plots,
    th1,
    th2_correlation,
    training_history_plots,
)

__all__ = ["EventSample", "MethodResult", "write_output", "ANALYSIS_TYPES"]

ANALYSIS_TYPES = ("Classification", "Regression", "Multiclass")

# TMVA's axis titles for the efficiency curves (MethodBase::GetEfficiency)
_AXIS_TITLES = {
    "_effBvsS": ("Signal eff", "Backgr eff"),
    "_rejBvsS": ("Signal eff", "Backgr rejection (1-eff)"),
    "_invBeffvsSeff": ("Signal eff", "Inverse backgr. eff (1/eff)"),
}
# ResultsMulticlass::CreateMulticlassHistos: Float_t range 0 - 0.0002 .. 1 + 0.0002
_MC_XMIN = float(np.float32(0.0 - 0.0002))
_MC_XMAX = float(np.float32(1.0 + 0.0002))


@dataclass
class EventSample:
    """The events of TMVA's TrainTree or TestTree.

    ``variables``, ``spectators`` and ``targets`` map TMVA labels (e.g. ``"var1+var2"`` or ``"myvar1"``)
    to per-event arrays; branch names are TMVA's internal names of the labels (``var1_P_var2``).
    A variable booked with ``AddVariablesArray(label, size)`` (or a spectator) may be one (n, size) array.
    """

    class_ids: np.ndarray
    weights: np.ndarray
    variables: Mapping[str, np.ndarray]
    spectators: Mapping[str, np.ndarray] = field(default_factory=dict)
    targets: Mapping[str, np.ndarray] = field(default_factory=dict)
    titles: Mapping[str, str] = field(default_factory=dict)  # variable label -> title (axis labels)

    @property
    def n(self) -> int:
        """Number of events."""
        return int(np.asarray(self.class_ids).shape[0])


@dataclass
class MethodResult:
    """One booked method's outputs on the training and test events.

    ``test_values``/``train_values``: (n,) MVA values for Classification, (n, n_classes) class
    probabilities for Multiclass, (n, n_targets) (or (n,)) regression outputs for Regression.
    ``training_history`` maps a monitored quantity (TMVA's DL writes ``trainingError``, ``valError``) to its
    recorded values; each becomes ``TrainingHistory_<Title>_<key>``, a TH1D with one bin per record centred
    on ``history_steps`` (the epochs of the records; default 1..n).
    ``transforms``: the method's fitted VarTransform chain (a ``TransformChain``, empty for none); when
    given, the method's ``<var>__<class>`` and ``CorrelationPlots/`` plots of its test events are written.
    """

    method_type: str
    title: str
    analysis: str
    test_values: np.ndarray
    train_values: np.ndarray
    weight_file: str = ""
    training_path: str = ""
    training_history: Mapping[str, Sequence[float]] = field(default_factory=dict)
    history_steps: Sequence[float] | None = None
    transforms: Any = None
    #: with CreateMVAPdfs: ``GetProba(mva, 0.5)`` per event (the ``prob_<title>`` branches) and, on the test
    #: events, ``GetRarity(mva)`` (the ``MVA_<title>_Proba_S/B`` and ``_Rarity_S/B`` histograms)
    test_proba: np.ndarray | None = None
    train_proba: np.ndarray | None = None
    test_rarity: np.ndarray | None = None
    #: method-specific extra branches (MethodAE: ``<Title>_Reco``, the reconstruction, one leaf per
    #: variable): name -> (leaf names, (n, nleaves) values), for the TrainTree and the TestTree
    train_branches: Mapping[str, tuple[Sequence[str], np.ndarray]] = field(default_factory=dict)
    test_branches: Mapping[str, tuple[Sequence[str], np.ndarray]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def _check_sample(sample: EventSample, which: str, n_classes: int) -> None:
    n = sample.n
    if np.asarray(sample.class_ids).ndim != 1:
        raise InputDataError(f"{which}: class_ids must be 1-D", where=which, token="class_ids")
    ids = np.asarray(sample.class_ids)
    if n and (ids.min() < 0 or ids.max() >= n_classes):
        raise InputDataError(
            f"{which}: class id {int(ids.max())} has no class name ({n_classes} names given)",
            where=which,
            token="class_ids",
            expected=[f"0..{n_classes - 1}"],
        )
    if np.asarray(sample.weights).shape != (n,):
        raise InputDataError(
            f"{which}: weights have shape {np.asarray(sample.weights).shape}, expected ({n},)",
            where=which,
            token="weights",
        )
    for kind in ("variables", "spectators", "targets"):
        for label, arr in getattr(sample, kind).items():
            shape = np.asarray(arr).shape
            # an AddVariablesArray variable is one (n, size) array, written as a fixed-size array branch
            ok = shape == (n,) or (kind != "targets" and len(shape) == 2 and shape[0] == n and shape[1] >= 1)
            if not ok:
                want = f"({n},)" if kind == "targets" else f"({n},) or ({n}, size)"
                raise InputDataError(
                    f"{which}: {kind[:-1]} {label!r} has shape {shape}, expected {want}",
                    where=which,
                    token=label,
                )


def _check_method(m: MethodResult, train: EventSample, test: EventSample, n_classes: int) -> None:
    if m.analysis not in ANALYSIS_TYPES:
        raise InputDataError(
            f"method {m.title!r}: unknown analysis type {m.analysis!r}",
            token=m.analysis,
            expected=list(ANALYSIS_TYPES),
        )
    for which, vals, sample in (("test", m.test_values, test), ("train", m.train_values, train)):
        v = np.asarray(vals)
        if m.analysis == "Classification":
            want: tuple[int, ...] = (sample.n,)
        elif m.analysis == "Multiclass":
            want = (sample.n, n_classes)
        else:
            nt = max(len(sample.targets), 1)
            want = (sample.n, nt) if v.ndim == 2 else (sample.n,)
        if v.shape != want:
            raise InputDataError(
                f"method {m.title!r}: {which} values have shape {v.shape}, expected {want}",
                where=m.title,
                token=f"{which}_values",
                expected=[str(want)],
            )


# --------------------------------------------------------------------------------------------------
# uproot object builders
# --------------------------------------------------------------------------------------------------
def _weighted_corr(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = w.sum()
    mean = (w[:, None] * x).sum(axis=0) / sw
    xc = x - mean
    cov = (w[:, None] * xc).T @ xc / sw
    d = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(d, d) > 1e-20, cov / np.outer(d, d), 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def _graph(x: np.ndarray, y: np.ndarray, title: str):
    import uproot

    graph = uproot.as_TGraph({"x": np.asarray(x, np.float64), "y": np.asarray(y, np.float64)}, title=title)
    for base in graph._bases:  # as_TGraph appends ";;" (empty axis titles); keep TMVA's plain title
        if "fTitle" in base._members:
            base._members["fTitle"] = title
    return graph


# --------------------------------------------------------------------------------------------------
# per-analysis objects
# --------------------------------------------------------------------------------------------------
def _two_classes(names: Sequence[str], train: EventSample, test: EventSample) -> bool:
    """Whether a classifier output can be evaluated: two classes, both in the test and training events."""
    if len(names) != 2:
        return False
    return all(len(np.unique(np.asarray(s.class_ids))) == 2 for s in (train, test))


def _signal_class(class_names: Sequence[str]) -> int:
    return list(class_names).index("Signal") if "Signal" in class_names else 0


def _classification_objects(m: MethodResult, train: EventSample, test: EventSample, sig: int):
    res = classification_metrics(
        m.title,
        m.test_values,
        np.asarray(test.class_ids) == sig,
        m.train_values,
        np.asarray(train.class_ids) == sig,
        test.weights,
        train.weights,
    )
    hists = res.test_hists.histograms() + res.train_hists.histograms()
    if m.test_proba is not None and m.test_rarity is not None:  # stored after MVA_S/B, as TMVA does
        extra = proba_rarity_histograms(
            m.title, m.test_proba, m.test_rarity, np.asarray(test.class_ids) == sig, test.weights
        )
        hists = hists[:2] + extra + hists[2:]
    objs = {}
    for h in hists:
        titles = next((t for suffix, t in _AXIS_TITLES.items() if h.name.endswith(suffix)), ("", ""))
        objs[h.name] = th1(h, *titles)
    return res, objs


def _multiclass_objects(m: MethodResult, train: EventSample, test: EventSample, names: Sequence[str]):
    res = multiclass_metrics(
        m.title,
        m.test_values,
        test.class_ids,
        m.train_values,
        train.class_ids,
        names,
        test.weights,
        train.weights,
    )
    objs: dict[str, object] = {}
    for tag, vals, sample in (("Test", m.test_values, test), ("Train", m.train_values, train)):
        v = np.asarray(vals, np.float32).astype(np.float64)
        cls = np.asarray(sample.class_ids)
        w = np.asarray(sample.weights, np.float32).astype(np.float64)
        prefix = f"MVA_{m.title}_{tag}"
        for i, ci in enumerate(names):  # true class i
            for j, cj in enumerate(names):  # output column j
                sel = cls == i
                h = fill_histogram(
                    f"{prefix}_{cj}_prob_for_{ci}", v[sel, j], w[sel], 40, _MC_XMIN, _MC_XMAX, float32=True
                )
                norm_hist(h)
                objs[h.name] = th1(h)
        for i, ci in enumerate(names):
            if (tag.lower(), i, -1) in res.roc_curves:
                sens, spec = res.roc_curves[(tag.lower(), i, -1)]
                objs[f"{prefix}_rejBvsS_{ci}"] = _graph(sens, spec, f"{prefix}_{ci}")
        for i, ci in enumerate(names):
            for j, cj in enumerate(names):
                if (tag.lower(), i, j) in res.roc_curves:
                    sens, spec = res.roc_curves[(tag.lower(), i, j)]
                    objs[f"{prefix}_1v1rejBvsS_{ci}_vs_{cj}"] = _graph(sens, spec, f"{prefix}_{ci}_vs_{cj}")
    return res, objs


def _regression_result(m: MethodResult, train: EventSample, test: EventSample):
    names = list(test.targets) or ["target"]
    out = {}
    for tag, vals, sample in (("test", m.test_values, test), ("train", m.train_values, train)):
        if not sample.targets:
            raise InputDataError(
                f"method {m.title!r} is a regression but the {tag} sample has no targets",
                where=m.title,
                token="targets",
            )
        t = np.column_stack([np.asarray(sample.targets[k], np.float64) for k in sample.targets])
        out[tag] = regression_metrics(np.asarray(vals).reshape(t.shape), t, sample.weights, names)
    return out


# --------------------------------------------------------------------------------------------------
# trees
# --------------------------------------------------------------------------------------------------
def _tree_columns(
    sample: EventSample, class_names: Sequence[str], methods: Sequence[MethodResult], which: str
) -> dict[str, np.ndarray]:
    """The branches of TMVA's TrainTree/TestTree (DataSet::GetTree), in TMVA's order.

    Values are float32 columns, (n, size) float32 arrays for array variables (branch ``vars[size]/F``) and
    structured float32 arrays for the methods' leaf-list branches (multiclass: one leaf per class name;
    regression: one leaf per target internal name).
    """
    cols: dict[str, np.ndarray] = {
        "classID": np.asarray(sample.class_ids, np.int32),
        # TMVA copies the class name into a char[40]
        "className": np.array([class_names[c][:39] for c in np.asarray(sample.class_ids)], dtype=object),
    }

    def add(name: str, arr) -> None:
        if name in cols:
            raise InputDataError(f"two branches would both be named {name!r} in the {which} tree", token=name)
        cols[name] = np.asarray(arr, np.float32)

    def add_leaflist(title: str, leaves: Sequence[str], values: np.ndarray) -> None:
        if len(set(leaves)) != len(leaves):
            dup = next(x for x in leaves if list(leaves).count(x) > 1)
            raise InputDataError(
                f"method {title!r}: two leaves of its output branch would be named {dup!r}", token=dup
            )
        try:
            LeafList([Leaf(x) for x in leaves])
        except InputDataError as err:
            raise InputDataError(
                f"method {title!r}: its output branch cannot have a leaf named {err.token!r}",
                token=err.token,
                expected=err.expected,
            ) from err
        rec = np.empty(len(values), [(x, np.float32) for x in leaves])
        for j, x in enumerate(leaves):
            rec[x] = values[:, j]
        if title in cols:
            raise InputDataError(
                f"two branches would both be named {title!r} in the {which} tree", token=title
            )
        cols[title] = rec

    for kind in ("variables", "targets", "spectators"):
        for label, arr in getattr(sample, kind).items():
            add(tmva_internal_name(label), arr)
    add("weight", sample.weights)
    target_names = [tmva_internal_name(t) for t in sample.targets] or ["target"]
    # the results map (std::map<TString>): each method's values and, with CreateMVAPdfs, prob_<title>
    results = [(m.title, m) for m in methods]
    results += [(f"prob_{m.title}", m) for m in methods if _proba(m, which) is not None]
    extra = {}
    for m in methods:
        for name, (leaves, values) in (m.test_branches if which == "TestTree" else m.train_branches).items():
            extra[name] = (list(leaves), np.asarray(values).reshape(sample.n, len(leaves)))
            results.append((name, m))
    for name, m in sorted(results, key=lambda r: r[0].encode()):
        if name in extra:
            add_leaflist(name, *extra[name])
            continue
        if name != m.title:
            add(name, _proba(m, which))
            continue
        vals = np.asarray(m.test_values if which == "TestTree" else m.train_values)
        if m.analysis == "Classification":
            add(m.title, vals)
        elif m.analysis == "Multiclass":
            add_leaflist(m.title, list(class_names), vals)
        else:
            vals2 = vals.reshape(len(vals), -1)
            add_leaflist(m.title, target_names[: vals2.shape[1]], vals2)
    return cols


def _proba(m: MethodResult, which: str) -> np.ndarray | None:
    """The method's signal probabilities (``GetProba(mva, 0.5)``) on the tree's events, if it has MVA PDFs."""
    return m.test_proba if which == "TestTree" else m.train_proba


def _write_tree(f, path: str, cols: dict[str, np.ndarray] | Iterable[dict[str, np.ndarray]]) -> None:
    """Write a tree from its columns, or from chunks of columns (one basket per branch and chunk)."""
    tree = None
    for chunk in [cols] if isinstance(cols, dict) else cols:
        if tree is None:
            types: dict[str, object] = {}
            for k, v in chunk.items():
                if v.dtype == object:
                    types[k] = "string"
                elif v.dtype.names is not None:
                    types[k] = LeafList.from_dtype(v.dtype)
                elif v.ndim == 2:
                    types[k] = np.dtype((v.dtype, (v.shape[1],)))
                else:
                    types[k] = v.dtype
            tree = leaflist_mktree(f, path, types, title=path.rsplit("/", 1)[-1])
        if len(chunk["classID"]):
            tree.extend({k: (v.astype(str) if v.dtype == object else v) for k, v in chunk.items()})


# --------------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------------
def write_output(
    path: str | os.PathLike | None,
    dataset_name: str,
    class_names: Sequence[str],
    train: EventSample,
    test: EventSample,
    methods: Sequence[MethodResult],
    *,
    transformations: str | None = None,
    variable_infos: Sequence[VariableInfo] | None = None,
    target_infos: Sequence[VariableInfo] | None = None,
    tree_chunks: Callable[[str], Iterable[tuple[EventSample, Sequence[MethodResult]]]] | None = None,
) -> dict[str, ClassificationResult | MulticlassResult | dict[str, list[RegressionResult]]]:
    """Evaluate ``methods`` and write TMVA's output file to ``path`` (atomically: temp file + rename).

    With ``path=None`` the methods are only evaluated (no file is written).

    Keyword arguments (the TMVA GUI's variable plots, see :mod:`tmvacompat.outputplots`):
        transformations: the Factory's ``Transformations`` option (TMVA's default ``"I"``); one
            ``InputVariables_<T>`` folder per ``;``-separated entry, fitted on ``train``. None writes none.
        variable_infos, target_infos: TMVA's variable/target infos (title, unit, type, internal name), in
            the order of ``train.variables``/``train.targets``; default: from the labels and ``titles``.
        tree_chunks: for samples too large for memory: called with ``"TrainTree"`` and ``"TestTree"``, it
            yields (events, methods with those events' values) chunks, from which the trees are written
            chunk by chunk (at least one chunk, possibly empty). ``train``/``test`` then need only the
            class ids, weights and targets (the figures of merit); with no variables in ``train`` the
            correlation matrices and the variable plots, which need every event's variables, are left out.

    Returns the evaluation results keyed by method title (what the Factory prints):
    :class:`~tmvacompat.evaluation.ClassificationResult`, :class:`~tmvacompat.evaluation.MulticlassResult`,
    or ``{"test": [...], "train": [...]}`` lists of :class:`~tmvacompat.evaluation.RegressionResult`.
    Raises :class:`~tmvacompat.errors.InputDataError` for inconsistent inputs and
    :class:`~tmvacompat.errors.TMVACompatError` when the file cannot be written.
    """
    names = list(class_names)
    if not names:
        raise InputDataError("at least one class name is needed", token="class_names")
    if not dataset_name or "/" in dataset_name:
        raise InputDataError(
            f"invalid dataset name {dataset_name!r}",
            token=dataset_name,
            expected=["a non-empty name without '/'"],
        )
    _check_sample(train, "TrainTree", len(names))
    _check_sample(test, "TestTree", len(names))
    titles = [m.title for m in methods]
    if len(set(titles)) != len(titles):
        dup = next(t for t in titles if titles.count(t) > 1)
        raise InputDataError(f"method title {dup!r} is booked twice", token=dup)
    for m in methods:
        _check_method(m, train, test, len(names))
    vinfos = _infos(train, "variables", variable_infos)
    tinfos = _infos(train, "targets", target_infos)

    results: dict[str, object] = {}
    objects: dict[str, object] = {}
    sig = _signal_class(names)
    for m in methods:
        base = f"{dataset_name}/Method_{m.method_type}/{m.title}"
        objects[f"{base}/TrainingPath"] = m.training_path or os.getcwd()
        default_wf = f"{dataset_name}/weights/TMVA_{m.title}.weights.xml"
        objects[f"{base}/WeightFileName"] = m.weight_file or default_wf
        try:
            hist_objs = training_history_plots(m.title, m.training_history, m.history_steps)
            if m.analysis == "Classification" and not _two_classes(names, train, test):
                res, objs = None, {}  # an anomaly score on background alone: trees and history only
            elif m.analysis == "Classification":
                res, objs = _classification_objects(m, train, test, sig)
            elif m.analysis == "Multiclass":
                res, objs = _multiclass_objects(m, train, test, names)
            else:
                res, objs = (
                    _regression_result(m, train, test),
                    _regression_objects(m, train, test, vinfos, tinfos) if train.variables else {},
                )
            if m.transforms is not None and test.n and test.variables:
                objs.update(_method_plots(m, test, names, vinfos, tinfos))
        except InputDataError as err:  # say which method's outputs were bad
            if err.where:
                raise
            raise InputDataError(
                err.message, token=err.token, expected=err.expected, where=f"method {m.title!r}"
            ) from err
        results[m.title] = res
        objects.update({f"{base}/{k}": v for k, v in hist_objs.items()})
        objects.update({f"{base}/{k}": v for k, v in objs.items()})

    # correlation matrices of the input variables (training sample), named as Factory::WriteDataInformation
    if train.variables and train.n:
        x = np.column_stack([np.asarray(v, np.float32) for v in train.variables.values()]).astype(np.float64)
        w = np.asarray(train.weights, np.float32).astype(np.float64)
        labels = [vi.title for vi in vinfos]
        for c, cname in enumerate(names):
            sel = np.asarray(train.class_ids) == c
            if sel.sum() < 2:
                continue
            key, title = _correlation_name(cname, names, methods)
            objects[f"{dataset_name}/{key}"] = th2_correlation(
                key, title, _weighted_corr(x[sel], w[sel]), labels
            )

    if transformations is not None and train.variables and train.n:
        objects.update(
            {
                f"{dataset_name}/{k}": v
                for k, v in input_variable_plots(
                    transformations,
                    _matrix(train.variables),
                    _matrix(train.targets) if train.targets else None,
                    train.class_ids,
                    train.weights,
                    names,
                    vinfos,
                    tinfos,
                ).items()
            }
        )

    if path is None:
        return results  # type: ignore[return-value]
    trees: dict[str, Any]
    if tree_chunks is None:
        trees = {
            f"{dataset_name}/TestTree": _tree_columns(test, names, methods, "TestTree"),
            f"{dataset_name}/TrainTree": _tree_columns(train, names, methods, "TrainTree"),
        }
    else:

        def columns(which: str) -> Iterable[dict[str, np.ndarray]]:
            for sample, chunk_methods in tree_chunks(which):
                yield _tree_columns(sample, names, chunk_methods, which)

        trees = {f"{dataset_name}/{which}": columns(which) for which in ("TestTree", "TrainTree")}
    _write_atomic(os.fspath(path), objects, trees)
    return results  # type: ignore[return-value]


def _matrix(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([np.asarray(v, np.float32) for v in columns.values()])


def _infos(sample: EventSample, kind: str, given: Sequence[VariableInfo] | None) -> list[VariableInfo]:
    """One info per column of the sample's ``kind`` (an (n, size) array variable gives ``size`` of them,
    titled ``[i]`` as DataSetInfo::AddVariablesArray titles its elements)."""
    columns: list[tuple[str, int | None]] = []
    for lb, arr in getattr(sample, kind).items():
        a = np.asarray(arr)
        columns += [(lb, None)] if a.ndim == 1 else [(lb, i) for i in range(a.shape[1])]
    labels = [lb for lb, _ in columns]
    if given is None:
        return [
            VariableInfo(lb, lb, sample.titles.get(lb, lb), "", tmva_internal_name(lb), "F")
            if i is None
            else VariableInfo(lb, lb, f"[{i}]", "", f"{tmva_internal_name(lb)}[{i}]", "F", array_index=i)
            for lb, i in columns
        ]
    infos = list(given)
    if [vi.label for vi in infos] != labels:
        raise InputDataError(
            f"{kind[:-1]} infos {[vi.label for vi in infos]} do not match the sample's {kind} {labels}",
            token=f"{kind[:-1]}_infos",
            expected=[str(labels)],
        )
    return infos


def _correlation_name(cname: str, names: Sequence[str], methods: Sequence[MethodResult]) -> tuple[str, str]:
    """TMVA: per class for multiclass, else ``S``/``B`` for Signal/Background and none-suffixed for
    the regression class."""
    multiclass = any(m.analysis == "Multiclass" for m in methods)
    if not multiclass and list(names) == ["Regression"]:
        return "CorrelationMatrix", "Correlation Matrix"
    if not multiclass and list(names) == ["Signal", "Background"]:
        return f"CorrelationMatrix{cname[0]}", f"Correlation Matrix ({cname.lower()})"
    return f"CorrelationMatrix{cname}", f"Correlation Matrix ({cname})"


def _method_plots(
    m: MethodResult, test: EventSample, names: Sequence[str], vinfos: Sequence[VariableInfo],
    tinfos: Sequence[VariableInfo],
) -> dict[str, object]:  # fmt: skip
    reg = m.analysis == "Regression" and bool(test.targets)
    return method_variable_plots(
        m.transforms,
        _matrix(test.variables),
        _matrix(test.targets) if reg else None,
        test.class_ids,
        test.weights,
        names,
        vinfos,
        tinfos if reg else (),
    )


def _regression_objects(
    m: MethodResult, train: EventSample, test: EventSample, vinfos: Sequence[VariableInfo],
    tinfos: Sequence[VariableInfo],
) -> dict[str, object]:  # fmt: skip
    objs: dict[str, object] = {}
    tx, tt = _matrix(train.variables), _matrix(train.targets)
    for tag, vals, sample in (("test", m.test_values, test), ("train", m.train_values, train)):
        objs.update(
            regression_deviation_plots(
                m.title,
                tag,
                np.asarray(vals),
                _matrix(sample.variables),
                _matrix(sample.targets),
                sample.weights,
                vinfos,
                tinfos,
                train_x=tx,
                train_targets=tt,
            )  # fmt: skip
        )
    return objs


def _write_atomic(path: str, objects: dict[str, object], trees: dict[str, Any]) -> None:
    import uproot

    with atomic_path(path, what="output file") as tmp:
        with uproot.recreate(tmp) as f:
            for key, obj in objects.items():
                f[key] = obj
            for key, cols in trees.items():
                _write_tree(f, key, cols)
