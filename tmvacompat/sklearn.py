"""scikit-learn faces of MethodDL and MethodAE: DLClassifier, DLRegressor and AutoEncoder.

The DL estimators book tmvacompat's own :class:`~tmvacompat.methods.dl.MethodDL` with a TMVA option string and
train it on a :meth:`DataSet.from_arrays <tmvacompat.data.dataset.DataSet.from_arrays>` built from ``X``,
``y`` and ``sample_weight``, so a fit is exactly a MethodDL training: TMVA's losses, output functions,
VarTransform, validation split, convergence test and weight files.

Options come either as one TMVA option string (``options="Layout=TANH|64,LINEAR:VarTransform=N:..."``) or
as keyword parameters, which override the same option of the string:

=========================  ==========================================================================
keyword                    TMVA option
=========================  ==========================================================================
``layout``                 ``Layout``
``input_layout``           ``InputLayout``
``var_transform``          ``VarTransform``
``error_strategy``         ``ErrorStrategy``
``weight_initialization``  ``WeightInitialization``
``random_seed``            ``RandomSeed`` (0: not reproducible, as in TMVA)
``validation_size``        ``ValidationSize`` (``"20%"``, a fraction ``0.2`` or an event count ``100``)
``learning_rate``,         ``TrainingStrategy`` keys ``LearningRate``, ``Momentum``, ``BatchSize``,
``momentum``,              ``MaxEpochs``, ``ConvergenceSteps``, ``TestRepetitions``, ``WeightDecay``,
``batch_size``,            ``Regularization``, ``Optimizer``, ``DropConfig``; set in every phase of the
``max_epochs``,            strategy
``convergence_steps``,
``test_repetitions``,
``weight_decay``,
``regularization``,
``optimizer``,
``drop_config``
=========================  ==========================================================================

``None`` keeps the option string's value (else TMVA's default). Two parameters describe the data set rather
than the method, as ``PrepareTrainingAndTestTree`` would: ``split_seed`` (TMVA's ``SplitSeed``, 100) mixes
the rows with TMVA's generator (``std::shuffle`` driven by ``TRandom3(SplitSeed)``, as ``MixMode=Random``
mixes the training sample) before the last ``ValidationSize`` of them are held out for validation; ``None``
keeps the given row order. ``norm_mode`` is TMVA's ``NormMode`` applied to ``sample_weight``: ``"None"``
(the default here: weights as given), ``"NumEvents"`` or ``"EqualNumEvents"`` (the DataLoader's default).

Classes (:class:`DLClassifier`): with two classes TMVA's ``Signal`` is ``classes_[1]``, so
``predict_proba(X)[:, 1]`` is TMVA's ``EvaluateMVA`` value; more classes train a ``Multiclass`` network
whose class names are ``str(c)`` for ``c`` in ``classes_``. ``decision_function`` gives the network's raw
output (the logit before TMVA's sigmoid or softmax); :meth:`DLClassifier.mva_values` gives TMVA's value
itself (float32, bit for bit what the Reader returns).

scikit-learn's ``check_estimator`` (1.9) passes with a fixed ``random_seed`` and a ``batch_size`` that fits
its 10-row data sets, except one check, which tests a property a mini-batch network does not have:

* ``check_sample_weight_equivalence_on_dense_data``: integer weights are not the same as repeated rows,
  since TMVA's loss is the weighted mean over mini-batches drawn from the rows: repeated rows change the
  batches, the validation split and the Normalize ranges (as repeated events would in TMVA).

:class:`AutoEncoder` books :class:`~tmvacompat.methods.ae.MethodAE` the same way on ``X`` alone (its keywords
are listed in its documentation) and is a transformer: ``transform`` encodes, ``inverse_transform`` decodes,
``predict`` reconstructs, ``score_samples`` is minus the anomaly score. It passes the same checks with the
same exception.

The checks with pandas inputs are skipped by scikit-learn itself when pandas is not installed. A
``random_seed`` of 0 (TMVA's default) trains differently every time, and the estimator's tags say so.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = np.where(X[:, 0] + X[:, 1] > 0, "sig", "bkg")
    >>> clf = DLClassifier(layout="TANH|8,LINEAR", var_transform="N", learning_rate=0.05, batch_size=20,
    ...                    max_epochs=10, random_seed=1).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict(X[:3]).tolist(), bool(clf.score(X, y) > 0.95)
    (['bkg', 'sig'], ['sig', 'sig', 'bkg'], True)
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tmvacompat.data.dataset import DataSet, VariableInfo, internal_name
from tmvacompat.data.expressions import parse, split_label
from tmvacompat.data.tmvarandom import RandomGenerator, permutation
from tmvacompat.data.transforms import TransformChain
from tmvacompat.errors import InputDataError, OptionError, TMVACompatError
from tmvacompat.methods.ae import MethodAE
from tmvacompat.methods.declarations import AE_OPTIONS, DL_OPTIONS
from tmvacompat.methods.dl import MethodDL
from tmvacompat.options import format_training_strategy, parse_training_strategy, training_phases
from tmvacompat.weightfile import AEModel, Model

try:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        ClassNamePrefixFeaturesOutMixin,
        RegressorMixin,
        TransformerMixin,
    )
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

    _MISSING: str | None = None
except ImportError as _err:  # the optional extra: the estimators say what to install when they are made
    _MISSING = (
        f"tmvacompat's scikit-learn estimators need scikit-learn >= 1.6 ({_err}); install it with "
        "pip install 'tmvacompat[sklearn]' (or pip install scikit-learn)"
    )

    class BaseEstimator:  # type: ignore[no-redef]
        pass

    class ClassifierMixin:  # type: ignore[no-redef]
        pass

    class RegressorMixin:  # type: ignore[no-redef]
        pass

    class TransformerMixin:  # type: ignore[no-redef]
        pass

    class ClassNamePrefixFeaturesOutMixin:  # type: ignore[no-redef]
        pass


__all__ = ["DLClassifier", "DLRegressor", "AutoEncoder"]

#: keyword parameter -> MethodDL option
_OPTION_KEYWORDS = {
    "layout": "Layout",
    "input_layout": "InputLayout",
    "var_transform": "VarTransform",
    "error_strategy": "ErrorStrategy",
    "weight_initialization": "WeightInitialization",
    "random_seed": "RandomSeed",
    "validation_size": "ValidationSize",
}
#: keyword parameter -> (TrainingStrategy key, TrainingPhase field)
_STRATEGY_KEYWORDS = {
    "learning_rate": ("LearningRate", "learning_rate"),
    "momentum": ("Momentum", "momentum"),
    "batch_size": ("BatchSize", "batch_size"),
    "max_epochs": ("MaxEpochs", "max_epochs"),
    "convergence_steps": ("ConvergenceSteps", "convergence_steps"),
    "test_repetitions": ("TestRepetitions", "test_repetitions"),
    "weight_decay": ("WeightDecay", "weight_decay"),
    "regularization": ("Regularization", "regularization"),
    "optimizer": ("Optimizer", "optimizer"),
    "drop_config": ("DropConfig", "drop_config"),
}
#: keyword parameter -> MethodAE option (the strategy keywords are shared)
_AE_OPTION_KEYWORDS = {
    "layout": "Layout",
    "input_layout": "InputLayout",
    "var_transform": "VarTransform",
    "weight_initialization": "WeightInitialization",
    "random_seed": "RandomSeed",
    "validation_size": "ValidationSize",
    "variational": "Variational",
    "kl_weight": "KLWeight",
    "kl_annealing_epochs": "KLAnnealingEpochs",
    "anomaly_score": "AnomalyScore",
}
_INT_KEYWORDS = (
    "random_seed", "batch_size", "max_epochs", "convergence_steps", "test_repetitions", "kl_annealing_epochs",
)  # fmt: skip
_BOOL_KEYWORDS = ("variational",)
_NORM_MODES = ("None", "NumEvents", "EqualNumEvents")


def _option_text(keyword: str, value: Any) -> str:
    """The text of a keyword parameter's value in an option string (checked for its kind)."""
    if keyword in _BOOL_KEYWORDS:
        if isinstance(value, bool | np.bool_):
            return "True" if value else "False"
        if isinstance(value, str):
            return value
        raise OptionError(
            f"{keyword}={value!r} is not a bool", token=f"{keyword}={value!r}", expected=["True", "False"]
        )
    if keyword in _INT_KEYWORDS:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral | str):
            raise OptionError(
                f"{keyword}={value!r} is not an integer", token=f"{keyword}={value!r}", expected=["an int"]
            )
        return str(value)
    if keyword == "drop_config" and not isinstance(value, str):
        try:
            return "+".join(repr(float(p)) for p in value)
        except (TypeError, ValueError):
            raise OptionError(
                f"drop_config={value!r} is not a list of drop probabilities",
                token=f"drop_config={value!r}",
                expected=["(0.0, 0.5)", "'0.0+0.5'"],
            ) from None
    if isinstance(value, bool):
        raise OptionError(f"{keyword}={value!r}: a bool is not a value here", token=f"{keyword}={value!r}")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        return value
    raise OptionError(
        f"{keyword}={value!r} is not a number or a string", token=f"{keyword}={value!r}", expected=["str"]
    )


def _variable(name: Any, lo: float, hi: float, what: str) -> VariableInfo:
    """A booked variable or target from ``"expr"`` or ``"label := expr"`` (as DataLoader.AddVariable)."""
    if not isinstance(name, str) or not name.strip():
        raise InputDataError(f"{what} name {name!r} is not a non-empty string", token=repr(name))
    label, expr = split_label(name.replace(" ", ""))
    if not expr:
        raise InputDataError(f"{what} {name!r} has an empty expression after ':='", token=name)
    parse(expr)
    label = label or expr
    return VariableInfo(expr, label, label, "", internal_name(label), "F", float(lo), float(hi))


def _renamed(model: Model, variables: Sequence[str] | None, targets: Sequence[str] | None) -> Model:
    """A copy of ``model`` whose variables (and regression targets) carry new names; ranges and
    transformation parameters are kept."""
    new = copy.deepcopy(model)
    pools: dict[str, list[VariableInfo]] = {"Variable": new.variables, "Target": new.targets}
    for kind, names, what in (("Variable", variables, "variable"), ("Target", targets, "target")):
        if names is None:
            continue
        old = pools[kind]
        names = list(names) if not isinstance(names, str) else [names]
        if len(names) != len(old):
            raise InputDataError(
                f"{len(names)} {what} names for a model with {len(old)} {what}s",
                token=repr(names),
                expected=[f"{len(old)} names"],
            )
        infos = [_variable(n, v.min, v.max, what) for n, v in zip(names, old, strict=True)]
        labels = [v.label for v in infos]
        if len(set(labels)) != len(labels):
            raise InputDataError(f"{what} names are not unique: {labels}", token=repr(names))
        pools[kind] = infos
    new.variables, new.targets = pools["Variable"], pools["Target"]
    chain = new.transforms
    if chain is not None:

        def ref(r: Any) -> Any:
            info = pools[r.kind][r.index]
            return dataclasses.replace(r, label=info.label, expression=info.expression)

        for t in chain.transforms:
            t.inputs = [ref(r) for r in t.inputs]
            t.outputs = [ref(r) for r in t.outputs]
        new.transforms = TransformChain(
            chain.transforms,
            [(v.label, v.expression) for v in new.variables],
            [(v.label, v.expression) for v in new.targets],
        )
    _forget_caches(new)
    return new


def _forget_caches(model: Model | AEModel) -> None:
    """Drop what a model derived from its names (an AE's halves, a DL model's evaluators)."""
    if isinstance(model, AEModel):
        model._halves.clear()
    else:
        model.invalidate()


class _DLBase(BaseEstimator):
    """What both estimators share: option handling, the training call, export."""

    _analysis_types: tuple[str, ...] = ()
    _option_set = DL_OPTIONS
    _option_keywords = _OPTION_KEYWORDS
    _method_class: Any = MethodDL

    def __init__(
        self,
        options: str = "",
        *,
        layout: str | None = None,
        input_layout: str | None = None,
        var_transform: str | None = None,
        error_strategy: str | None = None,
        weight_initialization: str | None = None,
        random_seed: int | None = None,
        validation_size: str | float | int | None = None,
        learning_rate: float | None = None,
        momentum: float | None = None,
        batch_size: int | None = None,
        max_epochs: int | None = None,
        convergence_steps: int | None = None,
        test_repetitions: int | None = None,
        weight_decay: float | None = None,
        regularization: str | None = None,
        optimizer: str | None = None,
        drop_config: str | Sequence[float] | None = None,
        split_seed: int | None = 100,
        norm_mode: str = "None",
    ) -> None:
        if _MISSING is not None:
            raise ImportError(_MISSING)
        self.options = options
        self.layout = layout
        self.input_layout = input_layout
        self.var_transform = var_transform
        self.error_strategy = error_strategy
        self.weight_initialization = weight_initialization
        self.random_seed = random_seed
        self.validation_size = validation_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.convergence_steps = convergence_steps
        self.test_repetitions = test_repetitions
        self.weight_decay = weight_decay
        self.regularization = regularization
        self.optimizer = optimizer
        self.drop_config = drop_config
        self.split_seed = split_seed
        self.norm_mode = norm_mode

    # ------------------------------------------------------------------ options
    def tmva_options(self) -> str:
        """The MethodDL (MethodAE) option string this estimator books: ``options`` with the keywords applied.

        >>> DLClassifier("!H:Layout=TANH|4,LINEAR", random_seed=3, batch_size=10).tmva_options()
        ... # doctest: +ELLIPSIS
        '!H:Layout=TANH|4,LINEAR:RandomSeed=3:TrainingStrategy=LearningRate=0.001,...,BatchSize=10,...'

        Raises:
            OptionError: an unknown or malformed option, or a keyword value of the wrong kind.
        """
        if not isinstance(self.options, str):
            raise OptionError(
                f"options must be a TMVA option string, not {type(self.options).__name__}",
                token=repr(self.options),
                expected=["'Layout=TANH|64,LINEAR:VarTransform=N'"],
            )
        values = self._option_set.parse(self.options)
        updates = {
            name: _option_text(kw, getattr(self, kw))
            for kw, name in self._option_keywords.items()
            if getattr(self, kw) is not None
        }
        if updates:
            values = values.with_updates(**updates)
        given = {kw: keys for kw, keys in _STRATEGY_KEYWORDS.items() if getattr(self, kw) is not None}
        if given:
            text = ",".join(f"{key}={_option_text(kw, getattr(self, kw))}" for kw, (key, _) in given.items())
            parsed = parse_training_strategy(text)[0]
            override = training_phases(text)[0]
            phases = []
            for phase in training_phases(str(values.TrainingStrategy)):
                changes = {attr: parsed[key] for key, attr in given.values()}
                if "optimizer" in given and override.optimizer != phase.optimizer:
                    changes["optimizer_params"] = dict(override.optimizer_params)
                phases.append(dataclasses.replace(phase, **changes))
            values = values.with_updates(TrainingStrategy=format_training_strategy(phases))
        return values.option_string()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            with warnings.catch_warnings():  # fit() warns about the options; tags are asked for often
                warnings.simplefilter("ignore")
                seed = int(self._option_set.parse(self.tmva_options()).RandomSeed)
        except (TMVACompatError, TypeError):
            seed = 1
        tags.non_deterministic = seed == 0
        return tags

    # ------------------------------------------------------------------ training
    def _check_X(self, X: Any, reset: bool) -> np.ndarray:
        try:
            return validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        except ValueError as err:
            raise InputDataError(f"{type(self).__name__}: {err}") from err

    def _check_Xy(self, X: Any, y: Any, multi_output: bool) -> tuple[np.ndarray, np.ndarray]:
        try:
            return validate_data(
                self,
                X,
                y,
                dtype=[np.float32, np.float64],
                multi_output=multi_output,
                y_numeric=multi_output,
                ensure_min_samples=2,
            )
        except ValueError as err:
            raise InputDataError(f"{type(self).__name__}: {err}") from err

    def _variable_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            try:
                return [_variable(str(n), 0, 0, "variable").expression for n in names]
            except TMVACompatError:
                pass  # column names that are not expressions: TMVA-style numbered names instead
        return [f"var{i + 1}" for i in range(self.n_features_in_)]

    def _weights(
        self, sample_weight: Any, X: np.ndarray, class_ids: np.ndarray, n_classes: int
    ) -> np.ndarray:
        """Event weights after ``norm_mode`` (TMVA's NormMode over the training sample)."""
        try:
            w = _check_sample_weight(sample_weight, X, dtype=np.float64)
        except ValueError as err:
            raise InputDataError(f"{type(self).__name__}: sample_weight: {err}") from err
        mode = next((m for m in _NORM_MODES if m.lower() == str(self.norm_mode).lower()), None)
        if mode is None:
            raise OptionError(
                f"norm_mode={self.norm_mode!r} is not one of TMVA's NormMode values",
                token=str(self.norm_mode),
                expected=list(_NORM_MODES),
            )
        if mode == "None":
            return w
        w = w.copy()
        counts = np.bincount(class_ids, minlength=n_classes)
        for c in range(n_classes):
            mask = class_ids == c
            total = float(np.sum(w[mask]))
            if total == 0.0:
                raise InputDataError(
                    f"the events of class {c} have a sum of weights of 0; norm_mode={mode} cannot "
                    "renormalise them",
                    token="sample_weight",
                )
            target = counts[c] if mode == "NumEvents" else counts[0]
            w[mask] *= float(np.float32(target)) / total
        return w

    def _train(self, X: np.ndarray, labels: np.ndarray, w: np.ndarray, atype: str, **dataset_kw: Any) -> None:
        """Mix the rows, build the DataSet, train MethodDL and keep its Model."""
        options = self.tmva_options()
        if self.split_seed is not None:
            seed = int(_option_text("split_seed", self.split_seed))
            order = permutation(len(X), RandomGenerator(seed))
            X, labels, w = X[order], labels[order], w[order]
        dataset = DataSet.from_arrays(X, labels, w_train=w, variables=self._variable_names(), **dataset_kw)
        method = self._method_class(type(self).__name__, options, analysis_type=atype)
        self.model_ = method.train(dataset, weight_file="")
        self.history_ = method.history
        self.n_iter_ = len(method.history.records) if method.history is not None else 0
        self.tmva_options_ = options

    # ------------------------------------------------------------------ application
    def mva_values(self, X: Any) -> np.ndarray:
        """TMVA's response, as ``TMVA::Reader`` gives it for the written weight file (float32): the
        classifier value (``EvaluateMVA``), the class probabilities (``EvaluateMulticlass``) or the
        regression targets (``EvaluateRegression``).

        >>> clf.mva_values(X[:2])   # doctest: +SKIP
        array([0.0312, 0.9688], dtype=float32)
        """
        check_is_fitted(self)
        return self.model_.evaluate(self._check_X(X, reset=False))

    def _raw(self, X: Any) -> np.ndarray:
        """The network's outputs before TMVA's output function, (n, nout) float64: the model evaluated with
        an identity output function (the same arithmetic as :meth:`mva_values`, row by row)."""
        check_is_fitted(self)
        x = self._check_X(X, reset=False)
        logits = copy.copy(self.model_)  # shares the parameters; its evaluation caches are its own
        logits.network = dataclasses.replace(self.model_.network, output_function="I")
        raw = logits.evaluate(x)
        return np.asarray(raw, dtype=np.float64).reshape(x.shape[0], -1)

    def to_tmva_xml(
        self,
        path: str | os.PathLike,
        variables: Sequence[str] | None = None,
        *,
        title: str | None = None,
        precision: str = "lossless",
        **names: Sequence[str],
    ) -> Model:
        """Write the trained network as a TMVA weight file that ``TMVA::Reader`` (C++ or PyROOT),
        :func:`tmvacompat.load_weights` and :class:`tmvacompat.Reader` read back with the same outputs.

        Args:
            path: the file to write (``dataset/weights/TMVAClassification_DNN.weights.xml``); its folder is
                created if needed.
            variables: the variable expressions in column order (``"pt"``, ``"myvar := var1+var2"``), which
                a Reader must book with ``AddVariable`` in this order; default the names seen in ``fit``
                (a DataFrame's columns) or ``var1``, ``var2``, ...
            title: the method title (``Method="DL::<title>"``); default the estimator's class name.
            precision: ``"lossless"`` (shortest exact text) or ``"tmva"`` (TMVA's number formats).
            targets: (:class:`DLRegressor`) the target names, default ``target1``, ``target2``, ...

        Returns:
            the written :class:`~tmvacompat.weightfile.Model`.

        >>> clf.to_tmva_xml("dataset/weights/TMVAClassification_DNN.weights.xml", ["var1", "var2"])
        ... # doctest: +SKIP
        """
        check_is_fitted(self)
        unknown = set(names) - ({"targets"} if "Regression" in self._analysis_types else set())
        if unknown:
            raise OptionError(
                f"to_tmva_xml got an unexpected argument {sorted(unknown)[0]!r}",
                token=sorted(unknown)[0],
                expected=["variables", "title", "precision"],
            )
        model = self.model_
        targets = names.get("targets")
        if variables is not None or targets is not None:
            model = _renamed(model, variables, targets)
        if title is not None:
            if not isinstance(title, str) or not title or any(c in title for c in "/\\:"):
                raise OptionError(
                    f"invalid method title {title!r}",
                    token=repr(title),
                    expected=["a non-empty name without '/', '\\' or ':'"],
                )
            model = copy.deepcopy(model) if model is self.model_ else model
            model.title = title
            _forget_caches(model)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)  # as TMVA creates <dataset>/weights/
        model.save(path, precision=precision)
        return model


class DLClassifier(ClassifierMixin, _DLBase):
    """TMVA's MethodDL as a scikit-learn classifier (two classes: ``Classification``; more: ``Multiclass``).

    Parameters are described in the module documentation (:mod:`tmvacompat.sklearn`); ``options`` is a
    MethodDL option string, the keywords override its options.

    Attributes:
        classes_: the class labels, sorted; with two classes ``classes_[1]`` is TMVA's ``Signal``.
        model_: the trained :class:`~tmvacompat.weightfile.Model` (what the weight file holds).
        history_: the training history (epochs, losses, stop reason per phase).
        n_iter_: the number of epochs trained, over all phases.
        tmva_options_: the option string MethodDL was booked with.
        n_features_in_, feature_names_in_: as in scikit-learn.

    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(300, 3)); y = (X[:, 0] > 0).astype(int)
    >>> clf = DLClassifier("Layout=TANH|6,LINEAR:VarTransform=N", learning_rate=0.05, batch_size=20,
    ...                    max_epochs=20, random_seed=2).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    _analysis_types = ("Classification", "Multiclass")

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DLClassifier:
        """Train MethodDL on ``X`` (n, nvar) and class labels ``y`` (n,), weighted by ``sample_weight``.

        Raises:
            InputDataError: bad arrays (NaN, wrong shapes), fewer than 2 classes, weights that do not fit.
            OptionError / LayoutError: a bad option or layout (named, with what would be right).
            TrainingError: training could not start or went to NaN before any improvement.
        """
        X, y = self._check_Xy(X, y, multi_output=False)
        try:
            check_classification_targets(y)
        except ValueError as err:
            raise InputDataError(f"DLClassifier: {err}") from err
        classes, ids = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputDataError(
                f"DLClassifier needs at least 2 classes in y, got 1 class ({classes[0]!r})",
                token=repr(classes[0]),
                expected=["labels of 2 or more classes"],
            )
        self.classes_ = classes
        if len(classes) == 2:
            class_ids = (1 - ids).astype(np.int32)  # TMVA's Signal (index 0) is classes_[1]
            names: list[str] = ["Signal", "Background"]
            atype = "Classification"
        else:
            class_ids = ids.astype(np.int32)
            names = [str(c) for c in classes]
            if len(set(names)) != len(names):
                raise InputDataError(f"class labels {classes.tolist()} do not give distinct class names")
            atype = "Multiclass"
        w = self._weights(sample_weight, X, class_ids, len(classes))
        for c, name in enumerate(classes):
            if not np.any(w[ids == c] != 0):
                raise InputDataError(
                    f"DLClassifier: every event of class {name!r} has weight 0; a class without weight "
                    "cannot be trained (TMVA's DataLoader refuses it too)",
                    token="sample_weight",
                )
        self._train(X, class_ids, w, atype, class_names=names)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The network's raw output: (n,) logits of ``classes_[1]`` for two classes (> 0 predicts it),
        (n, nclasses) outputs before the softmax for more."""
        raw = self._raw(X)
        return raw[:, 0] if len(self.classes_) == 2 else raw

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, nclasses) in ``classes_`` order: TMVA's classifier value for
        ``classes_[1]`` (and 1 minus it), or TMVA's softmax over the classes."""
        values = np.asarray(self.mva_values(X), dtype=np.float64)
        if len(self.classes_) == 2:
            return np.column_stack([1.0 - values, values])
        return values

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row."""
        raw = self._raw(X)
        index = (raw[:, 0] > 0).astype(np.intp) if len(self.classes_) == 2 else np.argmax(raw, axis=1)
        return self.classes_[index]


class DLRegressor(RegressorMixin, _DLBase):
    """TMVA's MethodDL as a scikit-learn regressor (``Regression``; ``y`` of shape (n,) or (n, ntargets)).

    Parameters are described in the module documentation (:mod:`tmvacompat.sklearn`). As in TMVA, the loss is
    always the mean squared error, and ``VarTransform=N`` also normalises the targets.

    Attributes:
        model_, history_, n_iter_, tmva_options_, n_features_in_, feature_names_in_: as for
            :class:`DLClassifier`.

    >>> import numpy as np
    >>> X = np.random.default_rng(1).uniform(-1, 1, size=(400, 2)); y = X[:, 0] - 0.5 * X[:, 1]
    >>> reg = DLRegressor("Layout=LINEAR:VarTransform=N", learning_rate=0.02, batch_size=20,
    ...                   max_epochs=30, random_seed=2).fit(X, y)
    >>> bool(reg.score(X, y) > 0.99), reg.predict(X[:2]).shape
    (True, (2,))
    """

    _analysis_types = ("Regression",)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DLRegressor:
        """Train MethodDL on ``X`` (n, nvar) and targets ``y`` (n,) or (n, ntargets).

        Raises:
            InputDataError: bad arrays (NaN, wrong shapes) or weights.
            OptionError / LayoutError / TrainingError: as for :meth:`DLClassifier.fit`.
        """
        X, y = self._check_Xy(X, y, multi_output=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_2d = y.ndim == 2
        targets = y.reshape(len(y), -1)
        w = self._weights(sample_weight, X, np.zeros(len(X), np.intp), 1)
        names = [f"target{i + 1}" for i in range(targets.shape[1])]
        self._train(X, targets, w, "Regression", targets=names)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The regression values in target units: (n,), or (n, ntargets) when ``y`` was 2-D in ``fit``."""
        values = np.asarray(self.mva_values(X), dtype=np.float64)
        return values.reshape(len(values), -1) if self._y_2d else values


class AutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _DLBase):
    """TMVA's MethodAE (``Types.kAE``) as a scikit-learn transformer and novelty scorer.

    ``fit(X)`` trains MethodAE (the input is the target); ``transform`` encodes to the latent coordinates
    (the mean for a VAE), ``inverse_transform`` decodes them, ``predict`` gives the reconstruction in the
    original variable space, ``score_samples`` minus the anomaly score (what MethodAE's GetMvaValue returns;
    higher is more normal, as for scikit-learn's outlier detectors) and ``decision_function``
    ``score_samples - offset_``, negative for the ``contamination`` fraction of the training rows that
    reconstruct worst. ``score(X)`` is the mean of ``score_samples``.

    Parameters: ``options`` is a MethodAE option string; the keywords override its options: ``layout``
    (``"Encoder={...}Decoder={...}"``), ``input_layout``, ``var_transform``, ``weight_initialization``,
    ``random_seed``, ``validation_size``, ``variational`` (``Variational``), ``kl_weight`` (``KLWeight``),
    ``kl_annealing_epochs`` (``KLAnnealingEpochs``), ``anomaly_score`` (``"MSE"`` or ``"ELBO"``), the
    TrainingStrategy keywords of :class:`DLClassifier`, ``split_seed`` and ``norm_mode`` as there, and
    ``contamination`` in (0, 0.5].

    Attributes:
        model_: the trained :class:`~tmvacompat.weightfile.AEModel` (``model_.encoder``/``model_.decoder``
            are MethodDL models); offset_: the ``decision_function`` threshold on ``score_samples``;
        history_, n_iter_, tmva_options_, n_features_in_, feature_names_in_: as for :class:`DLClassifier`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2)) @ rng.normal(size=(2, 4))
    >>> layout = "Encoder={DENSE|16|TANH,DENSE|2|LINEAR}Decoder={DENSE|16|TANH,DENSE|0|LINEAR}"
    >>> ae = AutoEncoder(layout=layout, var_transform="N", learning_rate=3e-3, optimizer="ADAM",
    ...                  batch_size=32, max_epochs=20, random_seed=1).fit(X)
    >>> ae.transform(X[:3]).shape, ae.predict(X[:3]).shape, ae.inverse_transform(ae.transform(X[:3])).shape
    ((3, 2), (3, 4), (3, 4))
    >>> off = X * [1, -1, 1, -1]                # rows off the plane the training rows lie in
    >>> bool(ae.score(off) < 10 * ae.score(X)), float(np.mean(ae.decision_function(X) < 0))
    (True, 0.1)
    """

    _option_set = AE_OPTIONS
    _option_keywords = _AE_OPTION_KEYWORDS
    _method_class = MethodAE

    def __init__(
        self,
        options: str = "",
        *,
        layout: str | None = None,
        input_layout: str | None = None,
        var_transform: str | None = None,
        weight_initialization: str | None = None,
        random_seed: int | None = None,
        validation_size: str | float | int | None = None,
        variational: bool | None = None,
        kl_weight: float | None = None,
        kl_annealing_epochs: int | None = None,
        anomaly_score: str | None = None,
        learning_rate: float | None = None,
        momentum: float | None = None,
        batch_size: int | None = None,
        max_epochs: int | None = None,
        convergence_steps: int | None = None,
        test_repetitions: int | None = None,
        weight_decay: float | None = None,
        regularization: str | None = None,
        optimizer: str | None = None,
        drop_config: str | Sequence[float] | None = None,
        split_seed: int | None = 100,
        norm_mode: str = "None",
        contamination: float = 0.1,
    ) -> None:
        if _MISSING is not None:
            raise ImportError(_MISSING)
        self.options = options
        self.layout = layout
        self.input_layout = input_layout
        self.var_transform = var_transform
        self.weight_initialization = weight_initialization
        self.random_seed = random_seed
        self.validation_size = validation_size
        self.variational = variational
        self.kl_weight = kl_weight
        self.kl_annealing_epochs = kl_annealing_epochs
        self.anomaly_score = anomaly_score
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.convergence_steps = convergence_steps
        self.test_repetitions = test_repetitions
        self.weight_decay = weight_decay
        self.regularization = regularization
        self.optimizer = optimizer
        self.drop_config = drop_config
        self.split_seed = split_seed
        self.norm_mode = norm_mode
        self.contamination = contamination

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> AutoEncoder:
        """Train MethodAE on ``X`` (n, nvar), weighted by ``sample_weight``; ``y`` is ignored (it is there
        for Pipeline, which passes it on).

        Raises:
            InputDataError: bad arrays (NaN, wrong shapes, fewer than 2 rows) or weights.
            OptionError / LayoutError / TrainingError: as for :meth:`DLClassifier.fit`, and a
                ``contamination`` outside (0, 0.5].
        """
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0.0 < float(c) <= 0.5:
            raise OptionError(
                f"contamination={c!r} is not a fraction in (0, 0.5]",
                token=f"contamination={c!r}",
                expected=["0.1"],
            )
        try:
            X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
        except ValueError as err:
            raise InputDataError(f"AutoEncoder: {err}") from err
        ids = np.zeros(len(X), np.int32)
        w = self._weights(sample_weight, X, ids, 1)
        self._train(X, ids, w, "Classification", class_names=["Background"])
        self.offset_ = float(np.percentile(self.score_samples(X), 100.0 * float(c)))
        return self

    @property
    def _n_features_out(self) -> int:
        return self.model_.latent_size

    def transform(self, X: Any) -> np.ndarray:
        """The latent coordinates (n, k) (``AEModel.encode``: the mean for a VAE), as float64."""
        check_is_fitted(self)
        return self.model_.encode(self._check_X(X, reset=False)).astype(np.float64)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """The reconstructed variables (n, nvar) for latent coordinates (n, k) (``AEModel.decode``)."""
        check_is_fitted(self)
        try:
            z = check_array(X, dtype=[np.float32, np.float64])
        except ValueError as err:
            raise InputDataError(f"AutoEncoder.inverse_transform: {err}") from err
        return self.model_.decode(z).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The reconstruction (n, nvar) in the original variable space (``AEModel.reconstruct``)."""
        check_is_fitted(self)
        return self.model_.reconstruct(self._check_X(X, reset=False)).astype(np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the anomaly score (n,): higher is more normal (``-AEModel.anomaly_score``)."""
        check_is_fitted(self)
        return -np.asarray(self.model_.anomaly_score(self._check_X(X, reset=False)), np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for rows that reconstruct worse than the
        ``contamination`` quantile of the training rows."""
        return self.score_samples(X) - self.offset_

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """The (weighted) mean of :meth:`score_samples`: minus the mean anomaly score; ``y`` is ignored."""
        values = self.score_samples(X)
        return float(np.average(values, weights=sample_weight))


if _MISSING is not None:
    # Without scikit-learn the examples cannot run: keep them out of doctest collection.
    for _documented in (DLClassifier, DLRegressor, AutoEncoder, _DLBase.tmva_options):
        _documented.__doc__ = None
    __doc__ = None
