"""TMVA's Factory: book methods on DataLoaders, train, test, evaluate, write the output file.

The calls and their order are TMVA's, so a ``TMVAClassification.C`` macro translates line by line:

Example:
    >>> from tmvacompat import DataLoader, Factory, Types            # doctest: +SKIP
    >>> factory = Factory("TMVAClassification", "TMVA.root", "!V:!Silent:AnalysisType=Classification")
    >>> loader = DataLoader("dataset")                                # doctest: +SKIP
    >>> loader.AddVariable("myvar1 := var1+var2", "F")                # doctest: +SKIP
    >>> loader.AddSignalTree("tmva_class_example.root:TreeS")         # doctest: +SKIP
    >>> loader.AddBackgroundTree("tmva_class_example.root:TreeB")     # doctest: +SKIP
    >>> loader.PrepareTrainingAndTestTree("", "", "nTrain_Signal=1000")  # doctest: +SKIP
    >>> factory.BookMethod(loader, Types.kDL, "DNN_CPU", "!H:V:Layout=TANH|128,LINEAR")  # doctest: +SKIP
    >>> factory.TrainAllMethods(); factory.TestAllMethods(); factory.EvaluateAllMethods()  # doctest: +SKIP
    >>> factory.GetROCIntegral(loader, "DNN_CPU")                     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.console import (
    Console,
    EpochTable,
    correlation_matrix,
    format_correlation_matrix,
    format_dataset_summary,
    format_network,
    format_ranking,
    format_separation_table,
    format_variable_table,
    log_block,
    summarize_dataset,
    variable_stats,
)
from tmvacompat.data.dataset import DataSet, Sample
from tmvacompat.data.loader import DataLoader
from tmvacompat.data.transforms import TransformChain
from tmvacompat.errors import OptionError, TMVACompatError
from tmvacompat.evaluation import format_classification, format_multiclass, format_regression
from tmvacompat.methods.ae import MethodAE
from tmvacompat.methods.base import MethodBase
from tmvacompat.methods.declarations import FACTORY_OPTIONS
from tmvacompat.methods.dl import _LOSS, MethodDL, MethodDNN
from tmvacompat.options import TMVACompatWarning, options_from_kwargs
from tmvacompat.output import EventSample, MethodResult, write_output


class Types:
    """TMVA's method type enumeration (``TMVA::Types::kDL``); the values are the method names.

    ``kDL``, ``kDNN`` (the old MethodDNN, trained as MethodDL) and ``kAE`` (MethodAE) can be booked; the
    other names exist so that a macro booking them gets a clear refusal from ``BookMethod`` rather than an
    AttributeError.
    """

    kDL = "DL"
    kDNN = "DNN"
    kAE = "AE"
    kCuts = "Cuts"
    kLikelihood = "Likelihood"
    kPDERS = "PDERS"
    kHMatrix = "HMatrix"
    kFisher = "Fisher"
    kKNN = "KNN"
    kCFMlpANN = "CFMlpANN"
    kTMlpANN = "TMlpANN"
    kBDT = "BDT"
    kDT = "DT"
    kRuleFit = "RuleFit"
    kSVM = "SVM"
    kMLP = "MLP"
    kBayesClassifier = "BayesClassifier"
    kFDA = "FDA"
    kBoost = "Boost"
    kPDEFoam = "PDEFoam"
    kLD = "LD"
    kPlugins = "Plugins"
    kCategory = "Category"
    kPyRandomForest = "PyRandomForest"
    kPyAdaBoost = "PyAdaBoost"
    kPyGTB = "PyGTB"
    kPyKeras = "PyKeras"
    kPyTorch = "PyTorch"
    kC50 = "C50"
    kRSNNS = "RSNNS"
    kRSVM = "RSVM"
    kRXGB = "RXGB"
    kCrossValidation = "CrossValidation"


METHODS: dict[str, type[MethodBase]] = {"DL": MethodDL, "DNN": MethodDNN, "AE": MethodAE}

_ANALYSIS_LABEL = {"Multiclass": "Multiclass classification"}
#: events per Model.evaluate call while a progress bar is shown (a multiple of the engine's 4096 blocks)
_APPLY_CHUNK = 65536
#: above this many variables the per-class correlation matrices are not printed
_MAX_CORRELATION_COLUMNS = 32


@dataclass
class _Booked:
    loader: DataLoader
    method: MethodBase
    train_values: np.ndarray | None = None
    test_values: np.ndarray | None = None
    result: Any = None
    history: dict[str, list[float]] = field(default_factory=dict)
    error: TMVACompatError | None = None  # why training failed (the method is left out of the evaluation)
    train_proba: np.ndarray | None = None  # with CreateMVAPdfs: GetProba(mva, 0.5) per event
    test_proba: np.ndarray | None = None
    test_rarity: np.ndarray | None = None
    history_steps: list[int] = field(default_factory=list)
    train_branches: dict[str, Any] = field(default_factory=dict)  # method-specific extra tree branches
    test_branches: dict[str, Any] = field(default_factory=dict)


class Factory:
    """TMVA's Factory.

    Args:
        job_name: the job name (prefix of the weight files, ``<job>_<title>.weights.xml``).
        output_file: path of the ROOT file the Factory writes (TrainTree, TestTree, histograms); None
            writes none (the metrics are still computed and printed). With methods booked on several
            DataLoaders, each dataset goes to its own file ``<stem>_<dataset>.root`` (TMVA puts all
            datasets into one file).
        options: ``V``, ``Silent``, ``Color``, ``DrawProgressBar``, ``Transformations``,
            ``AnalysisType=Classification|Regression|Multiclass|Auto``, ``ModelPersistence``, ...
    """

    def __init__(
        self, job_name: str, output_file: str | os.PathLike | None = None, options: str = "", **kwargs: Any
    ) -> None:
        self.job_name = job_name
        self.output_file = None if output_file is None else os.fspath(output_file)
        # keyword options as ROOT's Python tutorials pass them: Factory(..., V=False, AnalysisType="...")
        self.options = FACTORY_OPTIONS.parse(options_from_kwargs(options, **kwargs))
        self.silent = bool(self.options.Silent)
        self.analysis_type = str(self.options.AnalysisType)
        self._booked: list[_Booked] = []
        self.results: dict[tuple[str, str], Any] = {}
        #: where the Factory prints (TMVA's layout; nothing with Silent; progress bars on a terminal)
        self.console = Console(
            silent=self.silent,
            verbose=bool(self.options.V),
            progress=bool(self.options.DrawProgressBar),
            color=bool(self.options.Color),
        )
        self._summarized: dict[str, int] = {}  # dataset name -> id of the DataSet whose summary was printed

    # ------------------------------------------------------------------ helpers
    def _log(self, text: str) -> None:
        self.console.print(text)

    @staticmethod
    def _loader_name(loader: DataLoader | str) -> str:
        return loader if isinstance(loader, str) else loader.name

    def _find(self, loader: DataLoader | str, title: str) -> _Booked:
        name = self._loader_name(loader)
        for b in self._booked:
            if b.loader.name == name and b.method.title == title:
                return b
        booked = [f"{b.loader.name}/{b.method.title}" for b in self._booked]
        raise OptionError(
            f"no method {title!r} booked on dataset {name!r}",
            token=title,
            expected=booked or ["(none booked)"],
        )

    # ------------------------------------------------------------------ booking
    def BookMethod(
        self, loader: DataLoader, method_type: str, title: str, options: str = "", **kwargs: Any
    ) -> MethodBase:
        """Book a method (``Types.kDL``/``"DL"``, or ``Types.kDNN``) with a TMVA option string; returns it.

        Keyword arguments are turned into options as PyROOT does (``V=False`` -> ``!V``, ``BatchSize=100``
        -> ``BatchSize=100``) and appended to ``options``.

        >>> factory.BookMethod(loader, Types.kDL, "DNN", "!H", V=False)  # doctest: +SKIP
        """
        options = options_from_kwargs(options, **kwargs)
        key = str(method_type).strip()
        key = key[1:] if key.startswith("k") and key[1:].upper() in METHODS else key
        cls = next((c for k, c in METHODS.items() if k.upper() == key.upper()), None)
        if cls is None:
            raise OptionError(
                f"method type {method_type!r} is not available in tmvacompat", token=str(method_type),
                expected=[f"Types.k{k}" for k in METHODS],
            )  # fmt: skip
        if any(b.loader.name == loader.name and b.method.title == title for b in self._booked):
            raise OptionError(f"method {title!r} is already booked on dataset {loader.name!r}", token=title)
        atype = None if self.analysis_type == "Auto" else self.analysis_type
        method = cls(title, options, job_name=self.job_name, dataset_name=loader.name, analysis_type=atype)
        self._booked.append(_Booked(loader, method))
        booked = getattr(cls, "booked_as", cls.method_type)
        kind = "" if booked == cls.method_type else f" ({booked}, trained as {cls.method_type})"
        self._log(log_block("Factory", [f"Booking method: {title}{kind}", ""]))
        if isinstance(method, MethodDL):
            self._describe_network(loader, method)
        return method

    def _describe_network(self, loader: DataLoader, method: MethodDL) -> None:
        """MethodDL's network printout, once the loader knows the variables and classes (else nothing:
        training reports what is wrong)."""
        nvar = len(loader.variables)
        atype = method.analysis_type or loader.analysis_type
        if atype == "Auto":
            atype = loader.analysis_type
        nout = {"Classification": 1, "Regression": len(loader.targets), "Multiclass": len(loader.class_names)}
        if nvar == 0 or atype not in nout or nout[atype] == 0 or self.console.silent:
            return
        try:
            net = method.build_network(nvar, nout[atype], atype)
        except TMVACompatError:
            return
        specs = net.specs or [None] * len(net.layers)
        layers = [
            (la.kind, la.input_shape, la.output_shape, la.n_params, getattr(spec, "activation", ""))
            for la, spec in zip(net.layers, specs, strict=True)
        ]
        loss = _LOSS[atype].get(str(method.options.ErrorStrategy).upper(), "?")
        self._log(format_network(method.title, net.input_shape, layers, method.phases[0].batch_size, loss))

    def _dataset(self, loader: DataLoader) -> DataSet:
        """The loader's DataSet (read with a progress bar); its summary is printed the first time."""
        previous = loader.progress
        bar: Any = None

        def progress(where: str, done: int, total: int) -> None:
            nonlocal bar
            if done == 0 or bar is None:
                if bar is not None:
                    bar.close()
                bar = self.console.bar(total, f"Reading {where}")
            bar.update_to(done)
            if previous is not None:
                previous(where, done, total)

        if self.console.bars_enabled():
            loader.progress = progress
        try:
            ds = loader.GetDataSet()
        finally:
            loader.progress = previous
            if bar is not None:
                bar.close()
        if self._summarized.get(ds.name) != id(ds):
            self._summarized[ds.name] = id(ds)
            self._print_dataset(ds, loader)
        return ds

    def _print_dataset(self, ds: DataSet, loader: DataLoader) -> None:
        if self.console.silent:
            return
        opts = dict(ds.split_options)
        verbose = self.console.verbose or bool(opts.get("V", False))
        self._log(
            format_dataset_summary(summarize_dataset(_summary_view(ds), loader.read_stats), verbose=verbose)
        )
        names = [v.internal for v in ds.variables]
        X, cls, w, targets = _printed_sample(ds)
        # DataSetFactory prints the input correlations per class unless !Correlations (its default is on)
        if opts.get("Correlations", True) and opts.get("CalcCorrelations", True):
            if len(names) <= _MAX_CORRELATION_COLUMNS:
                for ci, cname in enumerate(ds.class_names):
                    sel = cls == ci
                    corr = correlation_matrix(X[sel], w[sel])
                    self._log(format_correlation_matrix(cname, names, corr))
            else:
                self._log(
                    log_block(
                        "DataSetInfo",
                        [
                            f"Correlation matrices of the {len(names)} variables not printed (more than "
                            f"{_MAX_CORRELATION_COLUMNS} columns); TMVAGui's CorrelationMatrix shows them"
                        ],
                    )  # fmt: skip
                )
        self._log(log_block("DataSetFactory", [f"[{ds.name}] :  ", ""]))
        self._log(
            log_block("Factory", [f'[{ds.name}] : Create Transformation "I" with events from all classes.'])
        )
        self._variable_table("TFHandler_Factory", ds, X, targets, w)

    def _variable_table(
        self, source: str, ds: DataSet, X: np.ndarray, targets: np.ndarray | None, weights: np.ndarray
    ) -> None:
        labels = [v.label if v.array_index is None else v.internal for v in ds.variables]
        cols = [np.asarray(X, np.float64).reshape(len(X), -1)]
        if targets is not None and ds.n_targets and ds.analysis_type == "Regression":
            labels += [t.label for t in ds.targets]
            cols.append(np.asarray(targets, np.float64).reshape(len(X), -1))
        stats = variable_stats(np.concatenate(cols, axis=1), weights)
        self._log(format_variable_table(source, labels, *stats))

    def GetMethod(self, loader: DataLoader | str, title: str) -> MethodBase:
        """The booked method ``title`` on the dataset ``loader`` (a DataLoader or its name)."""
        return self._find(loader, title).method

    # ------------------------------------------------------------------ train / test / evaluate
    def TrainAllMethods(self) -> None:
        """Train every booked method and write its weight file (``ModelPersistence``)."""
        if not self._booked:
            raise TMVACompatError(
                "no method booked: call BookMethod before TrainAllMethods", token="BookMethod"
            )
        self._log(log_block("Factory", ["Train all methods"]))
        for b in self._booked:
            ds = self._dataset(b.loader)
            m = b.method
            atype = m.decide_analysis_type(ds)
            self._log(
                log_block("Factory", [f"Train method: {m.title} for {_ANALYSIS_LABEL.get(atype, atype)}", ""])
            )
            table = None
            if isinstance(m, MethodDL):
                table = EpochTable(self.console, m.title, verbose=m.verbose or self.console.verbose)
                m.monitor = table
            t0 = time.perf_counter()
            b.error, b.test_values, b.train_values, b.result = None, None, None, None
            b.train_proba = b.test_proba = b.test_rarity = None
            try:
                m.train(ds, weight_file=None if bool(self.options.ModelPersistence) else "")
            except TMVACompatError as err:
                # one method's failure does not cost the others their results
                b.error = err
                if table is not None:
                    table.abort(err.message)
                self._log(log_block("Factory", [f"{m.title} could not be trained: {err}"]))
                warnings.warn(
                    f"method {m.title!r} could not be trained and is left out of the evaluation and the "
                    f"output file: {err}",
                    TMVACompatWarning,
                    stacklevel=2,
                )
                continue
            finally:
                if table is not None:
                    m.monitor = None
            if table is not None and m.training_error is not None:
                table.abort(m.training_error.message)
            # TMVA's DL records both errors on validation epochs only, at the epoch number of the phase
            records = [r for r in getattr(m.history, "records", []) if r.val_loss is not None]
            b.history = {
                "trainingError": [r.train_loss for r in records],
                "valError": [r.val_loss for r in records],
                **m.history_terms(),
            }
            b.history_steps = [r.epoch for r in records]
            self._report_training(m, ds, time.perf_counter() - t0)
        ranked = [b.method.title for b in self._trained() if b.method.analysis_type != "Regression"]
        if ranked:
            self._log(format_ranking(ranked))
        if all(b.error is not None for b in self._booked):
            raise self._booked[0].error  # type: ignore[misc]

    def _report_training(self, m: MethodBase, ds: DataSet, seconds: float) -> None:
        if self.console.silent:
            return
        chain = _method_transforms(m)
        if len(chain) and not chain.is_identity:
            X, _, w, _ = _printed_sample(ds)
            self._variable_table(f"TFHandler_{m.title}", ds, chain.forward(X), None, w)
        n_train = ds.n_train if getattr(ds, "is_stream", False) else len(ds.train)
        lines = [f"Elapsed time for training with {n_train} events: {seconds:.3g} sec"]
        if m.training_error is not None:
            lines.append(f"Training stopped early: {m.training_error.message}; the best weights are kept")
        if bool(self.options.ModelPersistence):
            lines.append(f"Creating xml weight file: {m.weight_file}")
        self._log(log_block("", lines))
        self._log(log_block("Factory", ["Training finished", ""]))

    def TestAllMethods(self) -> None:
        """Evaluate every trained method on its training and test samples (the TrainTree/TestTree values)."""
        self._log(log_block("Factory", ["Test all methods"]))
        for b in self._trained():
            ds = self._dataset(b.loader)
            atype = str(b.method.analysis_type)
            self._log(
                log_block(
                    "Factory",
                    [
                        f"Test method: {b.method.title} for {_ANALYSIS_LABEL.get(atype, atype)} performance",
                        "",
                    ],
                )
            )
            if getattr(ds, "is_stream", False):  # chunk by chunk from the scratch files
                b.train_values, b.train_branches = self._apply_stream(b.method, ds, "training")
                b.test_values, b.test_branches = self._apply_stream(b.method, ds, "testing")
            else:
                b.train_values = self._apply(b.method, ds.train.X, "training", ds.name)
                b.test_values = self._apply(b.method, ds.test.X, "testing", ds.name)
                b.train_branches = b.method.output_branches(ds.train.X)
                b.test_branches = b.method.output_branches(ds.test.X)
            model = b.method.model
            if model is not None and model.mva_pdfs is not None and model.analysis_type == "Classification":
                # MethodBase::AddOutput: the prob_<title> results, and the test rarities for its histograms
                b.train_proba = _tmva_proba(model, b.train_values)
                b.test_proba = _tmva_proba(model, b.test_values)
                b.test_rarity = model.rarity(b.test_values)

    def _apply(self, method: MethodBase, X: np.ndarray, which: str, dataset: str) -> np.ndarray:
        """The method's outputs on one sample, with TMVA's lines and a progress bar on a terminal."""
        n = len(X)
        head = f"[{dataset}] : Evaluation of {method.title} on {which} sample ({n} events)"
        self._log(log_block(method.title, [head]))
        t0 = time.perf_counter()
        bar = self.console.bar(n, f"{method.title} {which}") if n > _APPLY_CHUNK else None
        if bar is None or not self.console.bars_enabled():
            values = method.evaluate(X)
        else:
            # chunks of whole 4096-event blocks: the engine gives the same bits as one call
            parts = []
            for start in range(0, n, _APPLY_CHUNK):
                parts.append(method.evaluate(X[start : start + _APPLY_CHUNK]))
                bar.update_to(min(start + _APPLY_CHUNK, n))
            values = np.concatenate(parts, axis=0)
        if bar is not None:
            bar.close()
        self._log(
            log_block("", [f"Elapsed time for evaluation of {n} events: {time.perf_counter() - t0:.3g} sec"])
        )
        return values

    def _apply_stream(self, method: MethodBase, ds: Any, which: str) -> tuple[np.ndarray, dict[str, Any]]:
        """A streaming dataset's sample evaluated chunk by chunk (whole multiples of the engine's
        4096-event blocks, at least ``BufferEvents``-sized): the outputs and extra branches, never the whole
        sample's variables in memory."""
        n = ds.n_train if which == "training" else ds.n_test
        head = f"[{ds.name}] : Evaluation of {method.title} on {which} sample ({n} events)"
        self._log(log_block(method.title, [head]))
        t0 = time.perf_counter()
        step = -(-max(ds.buffer_events, 1) // _APPLY_CHUNK) * _APPLY_CHUNK
        bar = self.console.bar(n, f"{method.title} {which}") if n > _APPLY_CHUNK else None
        values: list[np.ndarray] = []
        extra: dict[str, tuple[list[str], list[np.ndarray]]] = {}
        done = 0
        for chunk in ds.iter_sample("train" if which == "training" else "test", step):
            values.append(np.asarray(method.evaluate(chunk.X)))
            for name, (leaves, vals) in method.output_branches(chunk.X).items():
                extra.setdefault(name, (list(leaves), []))[1].append(np.asarray(vals))
            done += len(chunk)
            if bar is not None:
                bar.update_to(done)
        if bar is not None:
            bar.close()
        self._log(
            log_block("", [f"Elapsed time for evaluation of {n} events: {time.perf_counter() - t0:.3g} sec"])
        )
        out = (
            np.concatenate(values, axis=0)
            if values
            else np.asarray(method.evaluate(np.zeros((0, ds.n_variables), np.float32)))
        )
        return out, {k: (leaves, np.concatenate(v, axis=0)) for k, (leaves, v) in extra.items()}

    def _trained(self) -> list[_Booked]:
        """The booked methods whose training did not fail."""
        return [b for b in self._booked if b.error is None]

    def EvaluateAllMethods(self) -> dict[str, Any]:
        """Compute TMVA's figures of merit, print them, and write the output file; returns the results."""
        if any(b.test_values is None for b in self._trained()):
            self.TestAllMethods()
        self._log(log_block("Factory", ["Evaluate all methods"]))
        out: dict[str, Any] = {}
        loaders: dict[str, DataLoader] = {}
        for b in self._trained():
            loaders.setdefault(b.loader.name, b.loader)
        for name, loader in loaders.items():
            ds = loader.GetDataSet()
            booked = [b for b in self._trained() if b.loader.name == name]
            methods = [
                MethodResult(
                    b.method.method_type,
                    b.method.title,
                    str(b.method.analysis_type),
                    b.test_values,
                    b.train_values,
                    weight_file=b.method.weight_file,
                    training_path=os.getcwd(),
                    training_history=b.history,
                    history_steps=b.history_steps or None,
                    transforms=_method_transforms(b.method),
                    test_proba=b.test_proba,
                    train_proba=b.train_proba,
                    test_rarity=b.test_rarity,
                    train_branches=b.train_branches,
                    test_branches=b.test_branches,
                )
                for b in booked
            ]
            classes = (
                list(ds.class_names) if booked[0].method.analysis_type != "Regression" else ["Regression"]
            )
            path = self.output_file if len(loaders) == 1 else _per_dataset(self.output_file, name)
            if getattr(ds, "is_stream", False):
                results = _write_streamed_output(path, ds, classes, methods)
            else:
                results = write_output(
                    path,
                    name,
                    classes,
                    _event_sample(ds, ds.train),
                    _event_sample(ds, ds.test),
                    methods,
                    transformations=str(self.options.Transformations),
                    variable_infos=list(ds.variables),
                    target_infos=list(ds.targets),
                )
            for b in booked:
                b.result = results[b.method.title]
                self.results[(name, b.method.title)] = b.result
                out[b.method.title] = b.result
            tables = _format(name, booked)
            cls_results = [
                b.result
                for b in booked
                if b.method.analysis_type == "Classification" and b.result is not None
            ]
            if cls_results:
                tables += "\n" + format_separation_table(name, cls_results)
            self._log(log_block("", tables.split("\n")))
        if self.output_file:
            self._log(log_block("Factory", [f"Output file {self.output_file} written"]))
        return out

    def GetROCIntegral(self, loader: DataLoader | str, title: str, iClass: int = 0) -> float:
        """ROC integral of a classifier on the test sample (multiclass: class ``iClass`` vs the rest)."""
        b = self._find(loader, title)
        if b.error is not None:
            raise TMVACompatError(
                f"method {title!r} has no ROC integral: its training failed ({b.error})", token=title
            )
        if b.result is None:
            self.EvaluateAllMethods()
        r = b.result
        if r is None:
            raise TMVACompatError(
                f"method {title!r} has no ROC integral: its dataset has no Signal and Background classes",
                token=title,
            )
        if hasattr(r, "roc_integral"):
            return float(r.roc_integral)
        if hasattr(r, "roc_test"):
            return float(r.roc_test[iClass])
        raise TMVACompatError(f"method {title!r} is a regression: it has no ROC integral", token=title)

    def GetROCCurve(self, loader: DataLoader | str, iClass: int = 0) -> Any:
        """A matplotlib Figure with the test-sample ROC curve of every method trained on ``loader`` (TMVA
        returns a TCanvas); multiclass methods show class ``iClass`` against the rest. Needs matplotlib
        and mplhep (``pip install 'tmvacompat[plot]'``).

        >>> factory.GetROCCurve(loader).savefig("roc.png")   # doctest: +SKIP
        """
        from tmvacompat.evaluation import roc_curve, roc_integral
        from tmvacompat.plot import roc_figure

        name = self._loader_name(loader)
        booked = [b for b in self._trained() if b.loader.name == name]
        if not booked:
            raise OptionError(
                f"no trained method on dataset {name!r}",
                token=name,
                expected=sorted({b.loader.name for b in self._trained()}) or ["(none trained)"],
            )
        if any(b.test_values is None for b in booked):
            self.TestAllMethods()
        curves, areas = {}, {}
        for b in booked:
            points = _roc_inputs(b, iClass)
            if points is not None:
                curves[b.method.title] = roc_curve(*points)
                areas[b.method.title] = roc_integral(*points)
        if not curves:
            raise TMVACompatError(f"dataset {name!r} has only regression methods: no ROC curve", token=name)
        multi = any(b.method.analysis_type == "Multiclass" for b in booked)
        title = f"ROC Curve for class {iClass}" if multi else "ROC Curve"
        return roc_figure(curves, title, aucs=areas)


def _per_dataset(path: str | None, name: str) -> str | None:
    if path is None:
        return None
    root, ext = os.path.splitext(path)
    return f"{root}_{name}{ext}"


def _roc_inputs(b: _Booked, iClass: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(values, is_signal, weights) of a method's test sample for its ROC curve; None for a regression."""
    ds = b.loader.GetDataSet()
    if getattr(ds, "is_stream", False):  # a streaming dataset's test labels, without its variables
        class_ids, weights, _ = ds.labels("test")
    else:
        class_ids, weights = ds.test.class_ids, ds.test.weights
    kind = b.method.analysis_type
    if kind == "Classification":
        names = list(ds.class_names)
        sig = names.index("Signal") if "Signal" in names else 0
        return np.asarray(b.test_values), np.asarray(class_ids) == sig, np.asarray(weights)
    if kind == "Multiclass":
        values = np.asarray(b.test_values)
        if not 0 <= iClass < values.shape[1]:
            raise OptionError(
                f"iClass={iClass} is not a class of dataset {b.loader.name!r}",
                token=str(iClass),
                expected=[f"0..{values.shape[1] - 1}"],
            )
        return values[:, iClass], np.asarray(class_ids) == iClass, np.asarray(weights)
    return None


def _by_label(infos, values: np.ndarray) -> dict[str, np.ndarray]:
    """Columns keyed by label; the elements of an AddVariablesArray variable, which share one label, become
    one (n, size) block (TMVA's ``vars[64]/F`` branch)."""
    cols: dict[str, Any] = {}
    for i, v in enumerate(infos):
        if v.array_index is None:
            cols[v.label] = values[:, i]
        else:
            cols.setdefault(v.label, []).append(i)
    return {k: values[:, c] if isinstance(c, list) else c for k, c in cols.items()}


def _event_sample(ds: DataSet, s: Sample) -> EventSample:
    return EventSample(
        s.class_ids,
        s.weights,
        _by_label(ds.variables, s.X),
        _by_label(ds.spectators, s.spectators),
        _by_label(ds.targets, s.targets),
        titles={v.label: v.title or v.label for v in ds.variables},
    )


def _summary_view(ds: Any) -> Any:
    """What the dataset summary reads: for a streaming dataset its class ids and weights only."""
    if not getattr(ds, "is_stream", False):
        return ds
    from types import SimpleNamespace

    samples = {}
    for which in ("train", "test"):
        cls, w, _ = ds.labels(which)
        samples[which] = SimpleNamespace(class_ids=cls, weights=w)
    return SimpleNamespace(
        name=ds.name, class_names=ds.class_names, split_options=ds.split_options, **samples
    )


def _printed_sample(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, class ids, weights, targets) the Factory's correlation and variable tables are computed on: the
    training sample, or for a streaming dataset its transformation subsample (``BufferEvents`` events)."""
    if getattr(ds, "is_stream", False):
        X, cls, w, targets = ds.transform_sample()
        return X, cls, w, targets
    return ds.train.X, ds.train.class_ids, ds.train.weights, ds.train.targets


def _write_streamed_output(path: str | None, ds: Any, classes: list[str], methods: list[MethodResult]) -> Any:
    """EvaluateAllMethods on a streaming dataset: the figures of merit from the outputs, class ids,
    weights and targets (no variables in memory), the TrainTree/TestTree written chunk by chunk from the
    scratch files. The correlation matrices and the variable plots, which need every event's variables at
    once, are not written."""
    light = {}
    for which in ("train", "test"):
        cls, w, tgt = ds.labels(which)
        light[which] = EventSample(cls, w, {}, {}, _by_label(ds.targets, tgt))
    step = max(int(ds.buffer_events), 1)

    def chunks(tree: str) -> Any:
        which = "train" if tree == "TrainTree" else "test"
        start = 0
        for s in ds.iter_sample(which, step):
            stop = start + len(s)
            part = [_method_slice(m, tree, start, stop) for m in methods]
            start = stop
            yield _event_sample(ds, s), part
        if start == 0:  # no event: an empty chunk still gives the tree its branches
            nv, nt, ns = len(ds.variables), len(ds.targets), len(ds.spectators)
            f32 = np.float32
            none = Sample(np.zeros((0, nv), f32), np.zeros((0, nt), f32), np.zeros((0, ns), f32), np.zeros(0),
                          np.zeros(0), np.zeros(0, np.int32))  # fmt: skip
            yield _event_sample(ds, none), [_method_slice(m, tree, 0, 0) for m in methods]

    bare = [dataclasses.replace(m, transforms=None) for m in methods]
    return write_output(path, ds.name, classes, light["train"], light["test"], bare,
                        variable_infos=[], target_infos=list(ds.targets), tree_chunks=chunks)  # fmt: skip


def _method_slice(m: MethodResult, tree: str, start: int, stop: int) -> MethodResult:
    """``m`` with the values (and extra branches, probabilities) of the events ``start:stop`` of a tree."""
    test = tree == "TestTree"

    def cut(a: Any) -> Any:
        return None if a is None else np.asarray(a)[start:stop]

    branches = m.test_branches if test else m.train_branches
    sliced = {k: (leaves, np.asarray(v)[start:stop]) for k, (leaves, v) in branches.items()}
    values = cut(m.test_values if test else m.train_values)
    proba = cut(m.test_proba if test else m.train_proba)
    return dataclasses.replace(
        m,
        test_values=values if test else m.test_values,
        train_values=m.train_values if test else values,
        test_proba=proba if test else m.test_proba,
        train_proba=m.train_proba if test else proba,
        test_branches=sliced if test else m.test_branches,
        train_branches=m.train_branches if test else sliced,
    )


def _tmva_proba(model, values: np.ndarray) -> np.ndarray:
    """``(Float_t)GetProba(mva, 0.5)`` per event as AddClassifierOutputProb stores it: the loop stops at the
    first negative probability (no PDF support), leaving that event and the rest at 0."""
    p = np.asarray(model.proba(values, 0.5), np.float32)
    bad = np.flatnonzero(p < 0)
    if bad.size:
        p[bad[0] :] = 0.0
    return p


def _method_transforms(method: MethodBase) -> TransformChain:
    """The method's fitted VarTransform chain (empty for ``VarTransform=None``), for its variable plots."""
    chain = getattr(method.model, "transforms", None)
    return chain if isinstance(chain, TransformChain) else TransformChain()


def _format(name: str, booked: list[_Booked]) -> str:
    kinds = {b.method.analysis_type for b in booked}
    parts = []
    if "Classification" in kinds:
        parts.append(
            format_classification(
                name,
                [
                    b.result
                    for b in booked
                    if b.method.analysis_type == "Classification" and b.result is not None
                ],
            )
        )
    if "Multiclass" in kinds:
        parts.append(
            format_multiclass(name, [b.result for b in booked if b.method.analysis_type == "Multiclass"])
        )
    reg = [b for b in booked if b.method.analysis_type == "Regression"]
    if reg:
        parts.append(
            format_regression(
                name,
                [b.result["test"][0] for b in reg],
                [b.result["train"][0] for b in reg],
                [b.method.title for b in reg],
            )
        )
    return "\n".join(parts)
