"""MethodBase: what every booked method shares (TMVA's ``MethodBase``).

A method owns its declared options (validated once, at booking), the variable transformation fitted on
the training sample (``VarTransform``), the trained model (a :class:`~tmvacompat.weightfile.Model`, the same
object a weight file is read into) and the evaluation faces TMVA users know: ``GetMvaValue``,
``GetRegressionValues``, ``GetMultiClassValues``. Because evaluation always goes through the ``Model``,
what the Factory writes into its TestTree is, by construction, what the weight file gives when read back.

Subclasses implement :meth:`MethodBase._train_model` (turn a prepared, transformed training sample into a
``Model``).

Example:
    >>> from tmvacompat.methods.dl import MethodDL      # doctest: +SKIP
    >>> m = MethodDL("DNN", "!H:!V:Layout=TANH|16,LINEAR:TrainingStrategy=MaxEpochs=5")  # doctest: +SKIP
    >>> m.train(dataset); m.GetMvaValues(X)             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from tmvacompat.data.dataset import DataSet
from tmvacompat.data.pdf import PDF, PDFSettings, build_mva_pdfs, mva_pdf_settings
from tmvacompat.data.transforms import TransformChain
from tmvacompat.errors import OptionError, TMVACompatError
from tmvacompat.methods.declarations import MVAPDF
from tmvacompat.methods.engine_options import tmva_option_errors
from tmvacompat.options import OptionSet, OptionValues
from tmvacompat.weightfile import Model, load_weights

ANALYSIS_TYPES = ("Classification", "Regression", "Multiclass")
_MVAPDF_NAMES = frozenset(o.name.lower() for o in MVAPDF)


class MethodBase:
    """Base of the booked methods.

    Args:
        title: the method title (``DNN_CPU``); names the weight file and the output branches.
        options: TMVA option string (``"!H:V:VarTransform=N:..."``).
        job_name: the Factory's job name (weight file ``<job>_<title>.weights.xml``).
        dataset_name: the DataLoader's name (weights go to ``<dataset_name>/weights/``).
        analysis_type: ``Classification``, ``Regression`` or ``Multiclass``; None decides at training.
    """

    method_type: ClassVar[str] = "Base"
    option_set: ClassVar[OptionSet]

    def __init__(
        self,
        title: str,
        options: str = "",
        *,
        job_name: str = "TMVAClassification",
        dataset_name: str = "dataset",
        analysis_type: str | None = None,
    ) -> None:
        if not title or any(c in title for c in "/\\:"):
            raise OptionError(
                f"invalid method title {title!r}",
                token=title,
                expected=["a non-empty name without '/', '\\' or ':'"],
            )
        self.title = title
        self.job_name = job_name
        self.dataset_name = dataset_name
        self.analysis_type = analysis_type
        self.options: OptionValues = self.option_set.parse(options)
        self.mva_pdf_settings = self._mva_pdf_settings()
        self.model: Model | None = None
        self.training_time = 0.0
        self.history: Any = None
        #: the error that ended the last training early, when the best weights before it were kept
        self.training_error: TMVACompatError | None = None
        self.callback: Callable[..., Any] | None = None
        self.verbose = bool(self.options.get("V", False))

    # ------------------------------------------------------------------ training
    @property
    def weight_file(self) -> str:
        """``<dataset>/weights/<job>_<title>.weights.xml`` (TMVA's default location)."""
        return os.path.join(self.dataset_name, "weights", f"{self.job_name}_{self.title}.weights.xml")

    def decide_analysis_type(self, dataset: DataSet) -> str:
        """The analysis type as booked, else from the data (targets: Regression, >2 classes: Multiclass)."""
        if self.analysis_type is None or self.analysis_type == "Auto":
            return dataset.analysis_type
        if self.analysis_type not in ANALYSIS_TYPES:
            raise OptionError(
                f"unknown analysis type {self.analysis_type!r}",
                token=str(self.analysis_type),
                expected=[*ANALYSIS_TYPES, "Auto"],
            )
        return self.analysis_type

    def train(self, dataset: DataSet, weight_file: str | None = None) -> Model:
        """Fit VarTransform, train, assemble the Model and write the weight file (atomically).

        Args:
            dataset: the prepared data (``DataLoader.GetDataSet()`` or ``DataSet.from_arrays``).
            weight_file: where to write; default :attr:`weight_file`; ``""`` writes nothing.
        """
        atype = self.decide_analysis_type(dataset)
        self._check_analysis_type(atype, dataset)
        self.analysis_type = atype
        if getattr(dataset, "is_stream", False):
            return self._train_stream(dataset, atype, weight_file)
        dataset.check_variables_vary()
        train = dataset.train
        X, class_ids, w = train.X, train.class_ids, train.weights
        if self.options.get("IgnoreNegWeightsInTraining", False) and (w < 0).any():
            # TMVA keeps the events; Event::GetWeight() gives them weight 0 while training (transformations,
            # the validation split and the loss all see them)
            train = dataclasses.replace(train, weights=np.where(w < 0, np.zeros_like(w), w))
            w = train.weights
        t0 = time.perf_counter()
        with_targets = atype == "Regression" and self._transforms_targets
        chain = TransformChain.fit(
            X,
            class_ids,
            targets=train.targets if with_targets else None,
            weights=w,
            n_classes=dataset.n_classes,
            items=str(self.options.get("VarTransform", "None")),
            variables=[(v.label, v.expression) for v in dataset.variables],
            target_names=[(t.label, t.expression) for t in dataset.targets] if with_targets else None,
            class_names=list(dataset.class_names),
        )
        with tmva_option_errors(self.title):  # the engine's refusals named by TMVA's option keys
            self.model = self._train_model(dataset, train, chain, atype)
        return self._finish_training(dataset, atype, t0, weight_file)

    def validation_events(self, n_train: int) -> int:
        """How many of ``n_train`` training events the method sets aside for validation (streamed
        training needs to know before it splits the stream)."""
        return 0

    def _train_stream(self, dataset: Any, atype: str, weight_file: str | None) -> Model:
        """Training on a :class:`~tmvacompat.data.streaming.StreamingDataSet`: the transformations are
        fitted on its subsample (a leading Normalize on the exact ranges), the network on the stream."""
        from tmvacompat.data.streaming import finish_stream, patch_normalize

        finish_stream(dataset, self.validation_events(dataset.n_train))
        X, class_ids, w, T = dataset.transform_sample()
        if self.options.get("IgnoreNegWeightsInTraining", False):
            w = np.where(w < 0, 0.0, w)
        t0 = time.perf_counter()
        chain = TransformChain.fit(
            X,
            class_ids,
            targets=T if atype == "Regression" else None,
            weights=w,
            n_classes=dataset.n_classes,
            items=str(self.options.get("VarTransform", "None")),
            variables=[(v.label, v.expression) for v in dataset.variables],
            target_names=[(t.label, t.expression) for t in dataset.targets]
            if atype == "Regression"
            else None,
            class_names=list(dataset.class_names),
        )
        patch_normalize(chain, dataset)
        with tmva_option_errors(self.title):
            self.model = self._train_model(dataset, None, chain, atype)
        return self._finish_training(dataset, atype, t0, weight_file)

    def _finish_training(self, dataset: Any, atype: str, t0: float, weight_file: str | None) -> Model:
        self.training_time = time.perf_counter() - t0
        if atype == "Classification" and self.mva_pdf_settings is not None:
            self.model.mva_pdfs = self.create_mva_pdfs(dataset)
        self.model.general_info = [
            (k, f"{self.training_time:.8e}" if k == "TrainingTime" else v) for k, v in self.model.general_info
        ]
        path = self.weight_file if weight_file is None else weight_file
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.model.save(path)
        return self.model

    #: whether VarTransform covers the regression targets (MethodAE's transformation is of its inputs only)
    _transforms_targets: ClassVar[bool] = True

    def _check_analysis_type(self, atype: str, dataset: DataSet) -> None:
        """Refuse an analysis type the dataset cannot serve (2 classes, targets)."""
        if atype == "Classification" and dataset.n_classes != 2:
            raise OptionError(
                f"method {self.title!r}: Classification needs exactly 2 classes, the dataset has "
                f"{dataset.n_classes} ({', '.join(dataset.class_names)})",
                token="AnalysisType",
                expected=["Multiclass"],
            )
        if atype == "Regression" and dataset.n_targets == 0:
            raise OptionError(
                f"method {self.title!r}: Regression needs targets (DataLoader.AddTarget)",
                token="AnalysisType",
            )

    def history_terms(self) -> dict[str, list[float]]:
        """Per validation epoch monitored quantities beyond TMVA's ``trainingError``/``valError`` (the
        output file's ``TrainingHistory_<Title>_<key>``); none by default."""
        return {}

    def output_branches(self, data: Any) -> dict[str, tuple[list[str], np.ndarray]]:
        """Extra TrainTree/TestTree branches for the events ``data``: name -> (leaf names, (n, nleaves)
        values); none by default."""
        return {}

    # ------------------------------------------------------------------ CreateMVAPdfs
    def _mva_pdf_settings(self) -> tuple[PDFSettings, PDFSettings] | None:
        """The (signal, background) PDF settings when CreateMVAPdfs is set (checked at booking)."""
        o = self.options
        given = {n: v for n, v in o.items() if n.lower() in _MVAPDF_NAMES and o.modified(n)}
        if not self.options.get("CreateMVAPdfs", False):
            if given:
                raise OptionError(
                    f"option {next(iter(given))} of method {self.title!r} is a PDF option, read only with "
                    "CreateMVAPdfs (TMVA would abort: 'The following options were specified, but could not "
                    "be interpreted')",
                    token=next(iter(given)),
                    expected=["CreateMVAPdfs"],
                )
            return None
        return mva_pdf_settings(given)

    def create_mva_pdfs(self, dataset: DataSet) -> tuple[PDF, PDF]:
        """MethodBase::CreateMVAPdfs: the signal and background PDFs of this method's output on the whole
        training sample (weights as in training: negative ones count 0 with IgnoreNegWeightsInTraining).

        >>> sig, bkg = method.create_mva_pdfs(dataset)   # doctest: +SKIP
        """
        model = self._need_model()
        train = dataset.train
        values = model.evaluate(train.X)
        weights = np.asarray(train.weights, np.float64)
        if self.options.get("IgnoreNegWeightsInTraining", False):
            weights = np.where(weights < 0, 0.0, weights)
        names = list(dataset.class_names)
        signal = names.index("Signal") if "Signal" in names else 0
        sig, bkg = self.mva_pdf_settings or mva_pdf_settings({})
        return build_mva_pdfs(values, weights, np.asarray(train.class_ids) == signal, self.title,
                              model.method, sig, bkg)  # fmt: skip

    def xml_options(self) -> list[tuple[str, bool, str]]:
        """(name, modified, text) for the weight file's ``<Options>``, as TMVA writes them (``V`` turns the
        unmodified ``VerbosityLevel`` into ``Verbose``)."""
        o = self.options
        out = []
        for name, _ in o.items():
            if name.lower() in _MVAPDF_NAMES:  # the PDFs' options, not the method's
                continue
            text = o.as_text(name)
            if name == "VerbosityLevel" and bool(o.get("V", False)) and not o.modified(name):
                text = "Verbose"
            out.append((name, o.modified(name), text))
        return out

    def _train_model(self, dataset: DataSet, train: Any, chain: TransformChain, atype: str) -> Model:
        raise NotImplementedError  # each method trains its own kind of model

    # ------------------------------------------------------------------ application
    def read_weights(self, path: str) -> Model:
        """Load a weight file into this method (TMVA's ``ReadWeightsFromXML``)."""
        self.model = load_weights(path)
        self.analysis_type = self.model.analysis_type
        return self.model

    def _need_model(self) -> Model:
        if self.model is None:
            raise TMVACompatError(
                f"method {self.title!r} has no trained weights: call train() (Factory.TrainAllMethods) or "
                f"read_weights(path) first",
                token=self.title,
            )
        return self.model

    def _values(self, data: Any, want: str) -> np.ndarray:
        model = self._need_model()
        if model.analysis_type != want:
            raise TMVACompatError(
                f"method {self.title!r} was trained for {model.analysis_type}, not {want}",
                token=want,
                expected=[model.analysis_type],
            )
        return model.evaluate(data)

    def GetMvaValues(self, data: Any) -> np.ndarray:
        """Classifier outputs for a batch (2-D array in variable order, or a mapping/awkward/uproot tree).

        >>> method.GetMvaValues(X_test)  # doctest: +SKIP
        """
        return self._values(data, "Classification")

    def GetMvaValue(self, event: Any) -> float:
        """Classifier output of one event (a 1-D array of the variables in booking order)."""
        x = np.asarray(event, dtype=np.float32).reshape(1, -1)
        return float(self._values(x, "Classification")[0])

    def GetRegressionValues(self, data: Any) -> np.ndarray:
        """Regression outputs in target units: (n,) for one target, (n, ntargets) for several; one event
        (1-D input) gives a list of floats as in TMVA."""
        arr = np.asarray(data) if not hasattr(data, "keys") else None
        single = arr is not None and arr.ndim == 1
        out = self._values(arr.reshape(1, -1) if single else data, "Regression")
        return np.atleast_1d(out[0]) if single else out

    def GetMultiClassValues(self, data: Any) -> np.ndarray:
        """Class probabilities (softmax): (n, nclasses); one event (1-D input) gives (nclasses,)."""
        arr = np.asarray(data) if not hasattr(data, "keys") else None
        single = arr is not None and arr.ndim == 1
        out = self._values(arr.reshape(1, -1) if single else data, "Multiclass")
        return out[0] if single else out

    def evaluate(self, data: Any) -> np.ndarray:
        """Outputs for the trained analysis type (what the Factory writes to TestTree)."""
        return self._need_model().evaluate(data)
