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

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import DataSet, Sample
from tmvacompat.data.loader import DataLoader
from tmvacompat.data.transforms import TransformChain
from tmvacompat.errors import OptionError, TMVACompatError
from tmvacompat.evaluation import format_classification, format_multiclass, format_regression
from tmvacompat.methods.ae import MethodAE
from tmvacompat.methods.base import MethodBase
from tmvacompat.methods.declarations import FACTORY_OPTIONS
from tmvacompat.methods.dl import MethodDL, MethodDNN
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

    # ------------------------------------------------------------------ helpers
    def _log(self, text: str) -> None:
        if not self.silent:
            print(text, file=sys.stdout, flush=True)

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
        kind = cls.method_type if booked == cls.method_type else f"{booked}, trained as {cls.method_type}"
        self._log(f"Factory: Booked method: {title} ({kind}) on dataset {loader.name}")
        return method

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
        for b in self._booked:
            ds = b.loader.GetDataSet()
            m = b.method
            self._log(
                f"Factory: Train method: {m.title} for {m.decide_analysis_type(ds)} "
                f"({len(ds.train)} training, {len(ds.test)} test events)"
            )
            if not self.silent and bool(self.options.DrawProgressBar):
                m.callback = _progress(m.title)
            t0 = time.perf_counter()
            b.error, b.test_values, b.train_values, b.result = None, None, None, None
            b.train_proba = b.test_proba = b.test_rarity = None
            try:
                m.train(ds, weight_file=None if bool(self.options.ModelPersistence) else "")
            except TMVACompatError as err:
                # one method's failure does not cost the others their results
                b.error = err
                if m.callback is not None and sys.stdout.isatty():
                    self._log("")
                self._log(f"Factory: {m.title} could not be trained: {err}")
                warnings.warn(
                    f"method {m.title!r} could not be trained and is left out of the evaluation and the "
                    f"output file: {err}",
                    TMVACompatWarning,
                    stacklevel=2,
                )
                continue
            if m.callback is not None and sys.stdout.isatty():
                self._log("")
            # TMVA's DL records both errors on validation epochs only, at the epoch number of the phase
            records = [r for r in getattr(m.history, "records", []) if r.val_loss is not None]
            b.history = {
                "trainingError": [r.train_loss for r in records],
                "valError": [r.val_loss for r in records],
                **m.history_terms(),
            }
            b.history_steps = [r.epoch for r in records]
            where = f", weights in {m.weight_file}" if bool(self.options.ModelPersistence) else ""
            early = f" (stopped early: {m.training_error.message})" if m.training_error is not None else ""
            self._log(f"Factory: {m.title} trained in {time.perf_counter() - t0:.2f} s{where}{early}")
        if all(b.error is not None for b in self._booked):
            raise self._booked[0].error  # type: ignore[misc]

    def TestAllMethods(self) -> None:
        """Evaluate every trained method on its training and test samples (the TrainTree/TestTree values)."""
        for b in self._trained():
            ds = b.loader.GetDataSet()
            b.train_values = b.method.evaluate(ds.train.X)
            b.test_values = b.method.evaluate(ds.test.X)
            b.train_branches = b.method.output_branches(ds.train.X)
            b.test_branches = b.method.output_branches(ds.test.X)
            model = b.method.model
            if model is not None and model.mva_pdfs is not None and model.analysis_type == "Classification":
                # MethodBase::AddOutput: the prob_<title> results, and the test rarities for its histograms
                b.train_proba = _tmva_proba(model, b.train_values)
                b.test_proba = _tmva_proba(model, b.test_values)
                b.test_rarity = model.rarity(b.test_values)

    def _trained(self) -> list[_Booked]:
        """The booked methods whose training did not fail."""
        return [b for b in self._booked if b.error is None]

    def EvaluateAllMethods(self) -> dict[str, Any]:
        """Compute TMVA's figures of merit, print them, and write the output file; returns the results."""
        if any(b.test_values is None for b in self._trained()):
            self.TestAllMethods()
        out: dict[str, Any] = {}
        loaders: dict[str, DataLoader] = {}
        for b in self._trained():
            loaders.setdefault(b.loader.name, b.loader)
        for name, loader in loaders.items():
            ds = loader.GetDataSet()
            booked = [b for b in self._trained() if b.loader.name == name]
            results = write_output(
                self.output_file if len(loaders) == 1 else _per_dataset(self.output_file, name),
                name,
                list(ds.class_names) if booked[0].method.analysis_type != "Regression" else ["Regression"],
                _event_sample(ds, ds.train),
                _event_sample(ds, ds.test),
                [
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
                ],
                transformations=str(self.options.Transformations),
                variable_infos=list(ds.variables),
                target_infos=list(ds.targets),
            )
            for b in booked:
                b.result = results[b.method.title]
                self.results[(name, b.method.title)] = b.result
                out[b.method.title] = b.result
            self._log(_format(name, booked))
        if self.output_file:
            self._log(f"Factory: output written to {self.output_file}")
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


def _per_dataset(path: str | None, name: str) -> str | None:
    if path is None:
        return None
    root, ext = os.path.splitext(path)
    return f"{root}_{name}{ext}"


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


def _progress(title: str):
    """Per-epoch progress: one self-overwriting line on a terminal, a line every 10 epochs in a log."""
    start = time.perf_counter()
    tty = sys.stdout.isatty()

    def callback(epoch: int, train_loss: float, val_loss: float | None, elapsed: float) -> None:
        val = "" if val_loss is None else f"  validation {val_loss:.5f}"
        now = time.perf_counter() - start
        line = f"{title}: epoch {epoch:5d}  training {train_loss:.5f}{val}  [{now:6.1f} s]"
        if tty:
            sys.stdout.write("\r" + line)
        elif epoch == 1 or epoch % 10 == 0:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return callback
