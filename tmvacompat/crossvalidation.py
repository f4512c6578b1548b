"""TMVA's ``CrossValidation``: k-fold training and the combined ``MethodCrossValidation`` weight file.

As ``TMVA::CrossValidation`` (CrossValidation.cxx, CvSplit.cxx, MethodCrossValidation.cxx):

* the DataLoader's *training* events are split into ``NumFolds`` folds (its test sample is ignored, as in
  TMVA: book ``nTest_<class>=1``-style splits to keep almost every event). ``SplitExpr`` (a TFormula over
  spectators, ``[name]`` syntax, ``NumFolds`` reserved) puts each event in the fold it names
  (``SplitType=Deterministic``); without it the fold numbers ``0, 1, ..., K-1, 0, 1, ...`` are shuffled
  with ``std::shuffle`` and ``RandomGenerator<TRandom3>(SplitSeed)`` (``Random``), per class after a shuffle
  of the class's events for ``RandomStratified``. ``SplitSeed`` (default 100, CvSplitKFolds's) is a
  tmvacompat option: TMVA fixes it at 100;
* fold ``k`` (1-based) trains the booked method, titled ``<Title>_fold<k>``, on the other folds' events (in
  fold order) and is tested on its own; its weight file is
  ``<dataset>/weights/<Job>_<Title>_fold<k>.weights.xml``, and with ``FoldFileOutput`` its Factory output
  goes to ``<dir of outputFile>/<Title>_fold<k>.root``;
* the combined file ``<dataset>/weights/<Job>_<Title>.weights.xml`` (``Method="CrossValidation::<Title>"``)
  names the folds; the output file's TrainTree and TestTree hold every training event with the output of
  the fold that did not train on it (``OutputEnsembling=None``) or the folds' average (``Avg``);
* :meth:`CrossValidation.GetResults` gives per-fold ROC integrals, their average and standard deviation
  (TMVA's ``CrossValidationResult``), and ``Print()`` TMVA's table.

Folds train in parallel on dask workers (``pip install 'tmvacompat[dask]'``): the extension option
``Workers`` (0 = a ``LocalCluster`` with one process per free core when at least three are free, 1 = serial)
or an existing ``dask.distributed.Client`` passed as ``client=``. The training sample and the folds' event
lists are scattered to each worker once; a task carries its fold number and the method's option string,
trains with its share of the worker's cores (Numba's threads and the BLAS pool alike) and returns the
weight file text. TMVA's ``NumWorkerProcs`` is accepted and means the same as ``Workers``.

Example:
    >>> cv = CrossValidation("TMVACrossValidation", loader, "TMVACV.root",     # doctest: +SKIP
    ...                      "!V:NumFolds=3:SplitExpr=int([eventID])%int([NumFolds])")
    >>> cv.BookMethod(Types.kDL, "DNN", "Layout=TANH|16,LINEAR")                # doctest: +SKIP
    >>> cv.Evaluate(); cv.GetResults()[0].GetROCAverage()                       # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import DataSet, Sample
from tmvacompat.data.loader import DataLoader
from tmvacompat.data.tmvarandom import STDLIBS, RandomGenerator, shuffle
from tmvacompat.errors import OptionError, TMVACompatError
from tmvacompat.options import Option, OptionSet, options_from_kwargs
from tmvacompat.weightfile import model_from_bytes
from tmvacompat.weightfile.crossvalidation import (
    CrossValidationModel,
    fold_weight_file,
    split_expression_folds,
)

__all__ = ["CrossValidation", "CrossValidationResult", "CV_OPTIONS", "fold_assignment"]

#: CrossValidation::InitOptions, plus tmvacompat's SplitSeed, SplitStdLib and Workers
CV_OPTIONS = OptionSet(
    "CrossValidation",
    [
        Option("Silent", bool, False, help="Batch mode: no output"),
        Option("V", bool, False, help="Verbose flag"),
        Option("VerboseLevel", str, "Info", allowed=("Debug", "Verbose", "Info")),
        Option("Transformations", str, "", help="Transformations of the output file's variable plots"),
        Option("DrawProgressBar", bool, False),
        Option("Correlations", bool, False),
        Option("ROC", bool, True),
        Option("Color", bool, False),
        Option("AnalysisType", str, "Auto", allowed=("Classification", "Regression", "Multiclass", "Auto")),
        Option("SplitType", str, "Random", allowed=("Deterministic", "Random", "RandomStratified")),
        Option("SplitExpr", str, "", help="The expression used to assign events to folds"),
        Option("NumFolds", int, 2, help="Number of folds to generate"),
        Option("NumWorkerProcs", int, 1, help="TMVA's worker processes (1: see Workers)"),
        Option("FoldFileOutput", bool, False, help="An output file per fold"),
        Option("OutputEnsembling", str, "None", allowed=("None", "Avg")),
        Option("SplitSeed", int, 100, help="tmvacompat: seed of the random fold split (TMVA: 100)"),
        Option("SplitStdLib", str, STDLIBS[0], allowed=STDLIBS, help="tmvacompat: whose std::shuffle"),
        Option("Workers", int, 0, help="tmvacompat: dask workers for the folds (0: auto, 1: serial)"),
    ],
)


def _fold_mapping(n: int, folds: int, seed: int, stdlib: str) -> np.ndarray:
    """``CvSplitKFolds::GetEventIndexToFoldMapping``: ``i % folds`` shuffled."""
    mapping = (np.arange(n) % folds).astype(np.int64)
    shuffle(mapping, RandomGenerator(int(seed)), stdlib)
    return mapping


def fold_assignment(
    sample: Sample,
    spectators: Any,
    folds: int,
    split_expr: str = "",
    stratified: bool = False,
    seed: int = 100,
    stdlib: str = STDLIBS[0],
) -> list[np.ndarray]:
    """``CvSplitKFolds::SplitSets``: the event indices of every fold, in the order TMVA fills them.

    >>> from tmvacompat.data.dataset import VariableInfo
    >>> s = Sample(np.zeros((4, 1)), np.zeros((4, 0)), np.arange(4.0)[:, None], np.ones(4), np.ones(4),
    ...            np.zeros(4, int))
    >>> [f.tolist() for f in fold_assignment(s, [VariableInfo.of("id")], 2, "int([id])%int([NumFolds])")]
    [[0, 2], [1, 3]]
    """
    n = len(sample)
    if split_expr:
        which = split_expression_folds(split_expr, list(spectators), sample.spectators, folds)
        return [np.flatnonzero(which == k) for k in range(folds)]
    if not stratified:
        which = _fold_mapping(n, folds, seed, stdlib)
        return [np.flatnonzero(which == k) for k in range(folds)]
    out: list[list[np.ndarray]] = [[] for _ in range(folds)]
    for c in np.unique(sample.class_ids):
        members = np.flatnonzero(sample.class_ids == c)
        shuffle(members, RandomGenerator(int(seed)), stdlib)
        which = _fold_mapping(len(members), folds, seed, stdlib)
        for k in range(folds):
            out[k].append(members[which == k])
    return [np.concatenate(parts) if parts else np.zeros(0, np.int64) for parts in out]


@dataclass
class CrossValidationResult:
    """TMVA's ``CrossValidationResult``: per fold (0-based) the ROC integral and the test-sample figures."""

    title: str
    rocs: dict[int, float] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)

    def GetROCValues(self) -> dict[int, float]:  # noqa: N802 - TMVA's API
        return dict(self.rocs)

    def GetROCAverage(self) -> float:  # noqa: N802
        """The mean ROC integral over the folds."""
        return float(np.float32(sum(self.rocs.values()) / len(self.rocs)))

    def GetROCStandardDeviation(self) -> float:  # noqa: N802
        """The unbiased standard deviation of the folds' ROC integrals."""
        if len(self.rocs) < 2:
            return 0.0
        v = np.array(list(self.rocs.values()))
        return float(np.sqrt(np.sum((v - self.GetROCAverage()) ** 2) / (len(v) - 1.0)))

    def format(self) -> str:
        """TMVA's ``CrossValidationResult::Print`` text."""
        lines = ["<HEADER> CrossValidation            :  ==== Results ===="]
        for k, roc in self.rocs.items():
            lines.append(f"                         : Fold  {k} ROC-Int : {roc:.4f}")
        lines.append("                         : ------------------------")
        lines.append(f"                         : Average ROC-Int : {self.GetROCAverage():.4f}")
        lines.append(f"                         : Std-Dev ROC-Int : {self.GetROCStandardDeviation():.4f}")
        return "\n".join(lines)

    def Print(self) -> None:  # noqa: N802
        print(self.format())


@dataclass
class _CvBooked:
    method_type: str
    title: str
    options: str


def fold_dataset(ds: DataSet, train_idx: np.ndarray, test_idx: np.ndarray) -> DataSet:
    """The DataSet of one fold: training events ``train_idx`` and test events ``test_idx`` of ``ds``'s
    training sample, the variable ranges over the fold's training events."""
    train = ds.train.take(train_idx)
    test = ds.train.take(test_idx)
    return DataSet(
        ds.name,
        train,
        test,
        _ranged(ds.variables, train.X),
        ds.classes,
        _ranged(ds.targets, train.targets),
        _ranged(ds.spectators, train.spectators),
        ds.analysis_type,
        ds.sources,
        dict(ds.split_options),
    )


def fold_indices(folds: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, test) event indices of fold ``k``: the other folds' events one fold after the other, as
    TMVA recombines them, and fold ``k``'s own.

    >>> [a.tolist() for a in fold_indices([np.array([2, 0]), np.array([1]), np.array([3])], 1)]
    [[2, 0, 3], [1]]
    """
    return np.concatenate([f for j, f in enumerate(folds) if j != k]), folds[k]


def _train_fold(
    payload: dict[str, Any], ds: DataSet | None = None, folds: Sequence[np.ndarray] | None = None
) -> dict[str, Any]:
    """One fold (run here or on a dask worker, which holds ``ds`` and ``folds`` once for all folds): build
    the DataSet of fold ``payload["fold"]``, train, return the weight file text and the outputs."""
    from tmvacompat.factory import METHODS

    if ds is not None and folds is not None:
        payload = dict(payload, dataset_obj=fold_dataset(ds, *fold_indices(folds, payload["fold"])))
    threads = payload.get("threads")
    if threads:  # this task's share of the worker's cores (see CrossValidation._plan_threads)
        import numba

        from tmvacompat.engine.blas import blas_threads

        before = numba.get_num_threads()
        n = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(n)
        try:
            # BLAS too: the other workers' folds run meanwhile, and BLAS pools sized for the whole machine
            # in every worker spin for the same cores
            with blas_threads(n):
                return _train_fold(dict(payload, threads=None))
        finally:
            numba.set_num_threads(before)
    t0 = time.perf_counter()
    cls = METHODS[payload["method_type"]]
    method = cls(
        payload["title"],
        payload["options"],
        job_name=payload["job"],
        dataset_name=payload["dataset"],
        analysis_type=payload["analysis_type"],
    )
    ds: DataSet = payload["dataset_obj"]
    method.train(ds, weight_file="")
    model = method.model
    return {
        "xml": model.to_xml(),
        "test_values": np.asarray(model.evaluate_matrix(ds.test.X)),
        "train_values": np.asarray(model.evaluate_matrix(ds.train.X)),
        "seconds": time.perf_counter() - t0,
    }


def _ranged(infos: tuple, arr: np.ndarray) -> tuple:
    out = []
    for j, info in enumerate(infos):
        col = arr[:, j]
        out.append(info.with_range(float(col.min()), float(col.max())) if len(col) else info)
    return tuple(out)


class CrossValidation:
    """TMVA's CrossValidation envelope (see the module docstring for the options and files).

    Args:
        jobName: the job name (weight file prefix).
        loader: the DataLoader whose training events are folded.
        outputFile: the combined output ROOT file (TrainTree/TestTree with every event), or None.
        options: TMVA's option string; keyword options as PyROOT passes them are appended.
        client: an existing ``dask.distributed.Client`` for the folds (else see ``Workers``).
    """

    def __init__(
        self,
        jobName: str,  # noqa: N803 - TMVA's argument names
        loader: DataLoader,
        outputFile: str | os.PathLike | None = None,  # noqa: N803
        options: str = "",
        *,
        client: Any = None,
        **kwargs: Any,
    ) -> None:
        if (
            isinstance(outputFile, str)
            and not outputFile.endswith(".root")
            and _looks_like_options(outputFile)
        ):
            options, outputFile = outputFile, None  # TMVA's CrossValidation(jobName, loader, options)
        self.job_name = str(jobName)
        self.loader = loader
        self.output_file = None if outputFile is None else os.fspath(outputFile)
        self.options = CV_OPTIONS.parse(options_from_kwargs(options, **kwargs))
        o = self.options
        if int(o.NumFolds) < 2:
            raise OptionError(
                f"NumFolds={o.NumFolds}: cross-validation needs at least 2 folds",
                token=f"NumFolds={o.NumFolds}",
                expected=["NumFolds=2", "NumFolds=5"],
            )
        if str(o.SplitType) == "Deterministic" and not str(o.SplitExpr):
            raise OptionError(
                "SplitType=Deterministic needs a SplitExpr over spectators",
                token="SplitType=Deterministic",
                expected=["SplitExpr=int([eventID])%int([NumFolds])"],
            )
        if bool(o.FoldFileOutput) and self.output_file is None:
            raise OptionError(
                "FoldFileOutput needs an output file (TMVA: 'No output file given, cannot generate per fold "
                "output.')",
                token="FoldFileOutput",
            )
        self.client = client
        self._methods: list[_CvBooked] = []
        self._results: list[CrossValidationResult] = []
        self.models: dict[str, CrossValidationModel] = {}
        #: per method title: the fold each training event went to, in the DataSet's training order
        self.event_folds: dict[str, np.ndarray] = {}
        self.output_values: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ booking
    def BookMethod(self, *args: Any, **kwargs: Any) -> None:  # noqa: N802
        """``BookMethod(Types.kDL, "DNN", "options")`` (TMVA's Envelope form), also with the DataLoader first
        as with the Factory."""
        a = list(args)
        if a and isinstance(a[0], DataLoader):
            a = a[1:]
        if len(a) < 2:
            raise OptionError(
                "BookMethod(method_type, title, options)",
                token=repr(args),
                expected=['(Types.kDL, "DNN", "")'],
            )
        from tmvacompat.factory import METHODS

        mtype = str(a[0]).strip()
        mtype = mtype[1:] if mtype.startswith("k") and mtype[1:].upper() in METHODS else mtype
        key = next((k for k in METHODS if k.upper() == mtype.upper()), None)
        if key is None:
            raise OptionError(
                f"method type {a[0]!r} is not available in tmvacompat", token=str(a[0]),
                expected=[f"Types.k{k}" for k in METHODS],
            )  # fmt: skip
        title = str(a[1])
        opts = options_from_kwargs(str(a[2]) if len(a) > 2 else "", **kwargs)
        if any(m.title == title for m in self._methods):
            raise OptionError(f"method {title!r} is already booked", token=title)
        METHODS[key](title, opts)  # the options are checked now, as TMVA's booking does
        self._methods.append(_CvBooked(key, title, opts))

    # ------------------------------------------------------------------ evaluation
    def _analysis_type(self, ds: DataSet) -> str:
        a = str(self.options.AnalysisType)
        return ds.analysis_type if a == "Auto" else a

    def _executor(self, n_tasks: int) -> tuple[Any, Any]:
        """(client, cluster to close) for the folds, or (None, None) to run them here."""
        if self.client is not None:
            return self.client, None
        workers = int(self.options.Workers) or (
            int(self.options.NumWorkerProcs) if int(self.options.NumWorkerProcs) != 1 else 0
        )
        if workers == 1:
            return None, None
        free = _cores()
        if workers == 0 and free < _AUTO_MIN_CORES:
            # serial training already runs on every core (Numba threads); on two cores parallel folds were
            # never ahead in measurements (benchmarks/README.md): they gain only the engine's imperfect
            # thread scaling and pay a cluster start and one kernel load per worker
            return None, None
        n = min(n_tasks, workers if workers > 1 else free)
        if n < 2:
            return None, None
        try:
            from distributed import Client

            from tmvacompat.dask import local_cluster
        except ImportError:
            if workers > 1:
                raise TMVACompatError(
                    f"Workers={workers} needs dask.distributed: pip install 'tmvacompat[dask]'",
                    token="Workers",
                ) from None
            return None, None
        cluster = local_cluster(n, threads=free)
        return Client(cluster), cluster

    @staticmethod
    def _plan_threads(n_tasks: int, workers: int, cores: int) -> list[int]:
        """Numba threads per fold task on a LocalCluster of ``workers`` one-task processes on ``cores``
        cores: ``cores // workers`` for the full rounds, and the cores shared among the tasks of a last,
        partial round (3 folds on 2 workers: the third fold trains on both cores instead of leaving one
        idle). Decided by the task's position, not by timing, so a given Workers setting gives the same
        fold weights every run (the engine's batch sharding depends on its thread count).

        >>> CrossValidation._plan_threads(3, 2, 2), CrossValidation._plan_threads(4, 2, 4)
        ([1, 1, 2], [2, 2, 2, 2])
        """
        full = (n_tasks // workers) * workers
        tail = n_tasks - full
        return [max(1, cores // workers) if i < full else max(1, cores // tail) for i in range(n_tasks)]

    def Evaluate(self) -> None:  # noqa: N802
        """Train every fold of every booked method, write the fold and combined weight files, evaluate
        every training event with the fold that did not see it, and write the output file."""
        if not self._methods:
            raise TMVACompatError("No method booked for cross-validation", token="BookMethod")
        o = self.options
        ds = self.loader.GetDataSet()
        atype = self._analysis_type(ds)
        k_folds = int(o.NumFolds)
        stdlib = str(o.SplitStdLib)
        folds = fold_assignment(
            ds.train,
            ds.spectators,
            k_folds,
            str(o.SplitExpr),
            str(o.SplitType) == "RandomStratified",
            int(o.SplitSeed),
            stdlib,
        )
        empty = [k + 1 for k, f in enumerate(folds) if not len(f)]
        if empty:
            raise TMVACompatError(f"folds {empty} of {k_folds} receive no event", token="NumFolds")
        which = np.empty(len(ds.train), np.int64)
        for k, f in enumerate(folds):
            which[f] = k
        weights_dir = os.path.join(ds.name, "weights")
        os.makedirs(weights_dir, exist_ok=True)
        tasks = []
        for m in self._methods:
            for k in range(k_folds):
                tasks.append(
                    {
                        "method_type": m.method_type,
                        "title": f"{m.title}_fold{k + 1}",
                        "options": m.options,
                        "job": self.job_name,
                        "dataset": ds.name,
                        "analysis_type": atype,
                        "fold": k,
                    }
                )
        client, cluster = self._executor(len(tasks))
        try:
            if client is None:
                outputs = [_train_fold(t, ds, folds) for t in tasks]
            else:
                # the training sample and the folds' event lists go to each worker once (a list of futures,
                # one per fold, which the tasks receive as the arrays); a task carries only its fold number
                shared = client.scatter(ds, broadcast=True)
                shared_folds = client.scatter(list(folds), broadcast=True)
                if cluster is not None:  # our LocalCluster: the cores shared out per task, in order
                    plan = self._plan_threads(len(tasks), len(cluster.workers), _cores())
                    tasks = [dict(t, threads=k) for t, k in zip(tasks, plan, strict=True)]
                futures = [
                    client.submit(_train_fold, t, shared, shared_folds, pure=False, priority=len(tasks) - i)
                    for i, t in enumerate(tasks)
                ]
                outputs = client.gather(futures)
        finally:
            if cluster is not None:
                client.close()
                cluster.close()
        self._results = []
        for mi, m in enumerate(self._methods):
            result = CrossValidationResult(m.title)
            fold_models = []
            for k in range(k_folds):
                out = outputs[mi * k_folds + k]
                path = fold_weight_file(weights_dir, self.job_name, m.title, k)
                with open(path, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(out["xml"])
                model = model_from_bytes(out["xml"].encode(), path)
                fold_models.append(model)
                result.seconds[k] = float(out["seconds"])
                if atype in ("Classification", "Multiclass"):
                    result.rocs[k] = self._roc(ds, ds.train.take(folds[k]), out["test_values"], atype)
                if bool(o.FoldFileOutput):
                    fold_ds = fold_dataset(ds, *fold_indices(folds, k))
                    self._write_fold_output(fold_ds, m, k, out, path, atype)
            cv_model = self._combined(ds, m, fold_models, atype)
            cv_model.save(os.path.join(weights_dir, f"{self.job_name}_{m.title}.weights.xml"))
            cv_model.path = os.path.join(weights_dir, f"{self.job_name}_{m.title}.weights.xml")
            self.models[m.title] = cv_model
            self.event_folds[m.title] = which
            self.output_values[m.title] = cv_model.evaluate_matrix(
                np.concatenate([ds.train.X, ds.train.spectators], axis=1), folds=which
            )
            self._results.append(result)
        self._write_output(ds, atype)
        if not bool(o.Silent):
            for r in self._results:
                r.Print()

    @staticmethod
    def _roc(ds: DataSet, test: Sample, values: np.ndarray, atype: str) -> float:
        from tmvacompat.evaluation import roc_integral

        names = list(ds.class_names)
        if atype == "Multiclass":
            return roc_integral(np.asarray(values)[:, 0], test.class_ids == 0, test.weights)
        sig = names.index("Signal") if "Signal" in names else 0
        return roc_integral(values, test.class_ids == sig, test.weights)

    def _combined(self, ds: DataSet, m: _CvBooked, fold_models: list, atype: str) -> CrossValidationModel:
        o = self.options
        first = fold_models[0]
        info = [(k, v) for k, v in first.general_info]
        options = [
            ("SplitExpr", True, str(o.SplitExpr)),
            ("NumFolds", True, str(int(o.NumFolds))),
            ("EncapsulatedMethodName", True, m.title),
            ("EncapsulatedMethodTypeName", True, m.method_type),
            ("OutputEnsembling", True, str(o.OutputEnsembling)),
            ("V", False, "False"),
            ("VerbosityLevel", False, "Default"),
            ("VarTransform", False, "None"),
            ("H", False, "False"),
            ("CreateMVAPdfs", False, "False"),
            ("IgnoreNegWeightsInTraining", False, "False"),
        ]
        return CrossValidationModel(
            title=m.title,
            job_name=self.job_name,
            split_expr=str(o.SplitExpr),
            num_folds=int(o.NumFolds),
            method_name=m.title,
            method_type=m.method_type,
            output_ensembling=str(o.OutputEnsembling),
            folds=fold_models,
            variables=list(first.variables),
            spectators=list(first.spectators),
            classes=list(first.classes),
            analysis_type=atype,
            general_info=info,
            options=options,
        )

    def _write_fold_output(
        self, fds: DataSet, m: _CvBooked, k: int, out: dict, path: str, atype: str
    ) -> None:
        from tmvacompat.factory import _event_sample
        from tmvacompat.output import MethodResult, write_output

        fold_title = f"{m.title}_fold{k + 1}"
        target = os.path.join(os.path.dirname(os.path.abspath(self.output_file or ".")), f"{fold_title}.root")
        classes = list(fds.class_names) if atype != "Regression" else ["Regression"]
        write_output(
            target,
            fds.name,
            classes,
            _event_sample(fds, fds.train),
            _event_sample(fds, fds.test),
            [
                MethodResult(
                    m.method_type,
                    fold_title,
                    atype,
                    out["test_values"],
                    out["train_values"],
                    weight_file=path,
                )
            ],
        )

    def _write_output(self, ds: DataSet, atype: str) -> None:
        if self.output_file is None:
            return
        from tmvacompat.factory import _event_sample
        from tmvacompat.output import MethodResult, write_output

        everything = _event_sample(ds, ds.train)  # RecombineKFoldDataSet: training = testing = all events
        classes = list(ds.class_names) if atype != "Regression" else ["Regression"]
        results = [
            MethodResult(
                "CrossValidation",
                m.title,
                atype,
                self.output_values[m.title],
                self.output_values[m.title],
                weight_file=self.models[m.title].path or "",
            )
            for m in self._methods
        ]
        write_output(self.output_file, ds.name, classes, everything, everything, results)

    def GetResults(self) -> list[CrossValidationResult]:  # noqa: N802
        """One :class:`CrossValidationResult` per booked method (after :meth:`Evaluate`)."""
        if not self._results:
            raise TMVACompatError(
                "No cross-validation results available: call Evaluate() first", token="Evaluate"
            )
        return list(self._results)

    def GetNumFolds(self) -> int:  # noqa: N802
        return int(self.options.NumFolds)


#: Workers=0 starts a LocalCluster for the folds only with at least this many free cores
_AUTO_MIN_CORES = 3


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _looks_like_options(text: str) -> bool:
    return "=" in text or ":" in text or text.startswith("!")
