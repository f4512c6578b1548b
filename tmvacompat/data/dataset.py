"""The prepared data of one DataLoader: training and test samples as numpy arrays, plus TMVA's metadata.

A :class:`DataSet` is what TMVA's ``DataSetFactory`` builds from the booked trees: per sample (``train``,
``test``) the input variables ``X`` (float32, booking order), regression ``targets``, ``spectators``, the
event ``weights`` (after ``NormMode``; TMVA renormalises *training* weights only), the ``original_weights``
(tree weight x weight expression, as float32 like TMVA's), and ``class_ids`` (classes numbered in the order
their first tree was added: ``Signal`` = 0, ``Background`` = 1 in the usual two-class case). Metadata
mirrors what a weight file's ``<Variables>``, ``<Spectators>``, ``<Targets>`` and ``<Classes>`` hold.

Everything is plain numpy; no uproot object is kept.

Example:
    >>> import numpy as np
    >>> ds = DataSet.from_arrays(np.zeros((4, 2), np.float32) + [[0, 1]], np.array([0, 1, 0, 1]),
    ...                          np.ones((2, 2), np.float32), np.array([0, 1]), variables=["x", "y"])
    >>> ds.train.X.shape, ds.class_names, ds.variables[1].expression, ds.analysis_type
    ((4, 2), ('Signal', 'Background'), 'y', 'Classification')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tmvacompat.errors import InputDataError

__all__ = ["VariableInfo", "ClassInfo", "Sample", "DataSet", "internal_name", "FLT_MAX"]

#: TMVA's "range not set" marker: VariableInfo min/max start at +FLT_MAX / -FLT_MAX.
FLT_MAX = float(np.finfo(np.float32).max)
_FLT_MIN = float(np.finfo(np.float32).tiny)  # the smallest normal float, as the DataLoader compares

# Tools::ReplaceRegularExpressions: every character of fRegexp becomes the replacement, then the rest are
# spelled out in this order (so '$', '&', '%', '=', '<', '>', '(', ')' and ' ' already became '_').
_REGEXP_CHARS = "$!%^&()'<>?= "
_SPELLED = (
    ("::", "_"),
    ("$", "_S_"),
    ("&", "_A_"),
    ("%", "_MOD_"),
    ("|", "_O_"),
    ("*", "_T_"),
    ("/", "_D_"),
    ("+", "_P_"),
    ("-", "_M_"),
    (" ", "_"),
    ("[", "_"),
    ("]", "_"),
    ("=", "_E_"),
    (">", "_GT_"),
    ("<", "_LT_"),
    ("(", "_"),
    (")", "_"),
)


def internal_name(label: str, replacement: str = "_") -> str:
    """TMVA's internal variable name (``Tools::ReplaceRegularExpressions(label, "_")``).

    >>> internal_name("var1+var2"), internal_name("TMath::Abs(x)*2")
    ('var1_P_var2', 'TMath_Abs_x__T_2')
    """
    for ch in _REGEXP_CHARS:
        label = label.replace(ch, replacement)
    for old, new in _SPELLED:
        label = label.replace(old, replacement if old == "::" else new)
    return label


@dataclass(frozen=True)
class VariableInfo:
    """One booked variable, spectator or target, with the attributes TMVA writes to the weight file.

    ``expression`` is blank-free (TMVA removes blanks when booking); ``label`` is the part before ``:=``
    (else the expression); ``title`` defaults to the label; ``internal`` is :func:`internal_name` of the
    label (``name[i]`` for elements of ``AddVariablesArray``); ``min``/``max`` are the range over the
    training sample (what TMVA's CalcMinMax stores), +/-FLT_MAX before the data is read; ``array_index``
    is the element of an ``AddVariablesArray`` variable (None otherwise).
    """

    expression: str
    label: str = ""
    title: str = ""
    unit: str = ""
    internal: str = ""
    type: str = "F"
    min: float = FLT_MAX
    max: float = -FLT_MAX
    array_index: int | None = None

    @property
    def formula(self) -> str:
        """The expression that gives this variable's value per entry: ``vars[3]`` for an element of
        ``AddVariablesArray`` (TMVA's weight files write ``Expression="vars"`` with ``Internal="vars[3]"``),
        else the expression."""
        if self.array_index is not None:
            return f"{self.expression}[{self.array_index}]"
        head, inner = self.internal[: len(self.expression) + 1], self.internal[len(self.expression) + 1 : -1]
        if head == self.expression + "[" and self.internal.endswith("]") and inner.isdigit():
            return self.internal
        return self.expression

    @classmethod
    def of(cls, item: VariableInfo | str) -> VariableInfo:
        """A VariableInfo from an expression string (label and title = expression, TMVA's internal name).

        >>> VariableInfo.of("var1+var2").internal
        'var1_P_var2'
        """
        if isinstance(item, VariableInfo):
            return item
        expr = str(item)
        return cls(expr, expr, expr, "", internal_name(expr), "F", 0.0, 0.0)

    def with_range(self, lo: float, hi: float) -> VariableInfo:
        return replace(self, min=float(lo), max=float(hi))


@dataclass(frozen=True)
class ClassInfo:
    """A class: name, TMVA index, its cut (TCut string, '' for none) and weight expression ('' for none)."""

    name: str
    index: int
    cut: str = ""
    weight_expression: str = ""


@dataclass(frozen=True, eq=False)
class Sample:
    """One sample (training or test) in TMVA's event order.

    ``source`` indexes :attr:`DataSet.sources` (``"file.root:tree"``) and ``entry`` is the entry number in
    that tree, so every event can be traced back to its input.
    """

    X: np.ndarray
    targets: np.ndarray
    spectators: np.ndarray
    weights: np.ndarray
    original_weights: np.ndarray
    class_ids: np.ndarray
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    entry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_events(self) -> int:
        return len(self)

    def of_class(self, index: int) -> Sample:
        """The events of class ``index``, in order."""
        return self.take(np.flatnonzero(self.class_ids == index))

    def take(self, idx: np.ndarray) -> Sample:
        """A new sample with the events ``idx`` (an index array), in that order."""
        return Sample(
            self.X[idx],
            self.targets[idx],
            self.spectators[idx],
            self.weights[idx],
            self.original_weights[idx],
            self.class_ids[idx],
            self.source[idx] if len(self.source) == len(self) else self.source,
            self.entry[idx] if len(self.entry) == len(self) else self.entry,
        )

    def sum_of_weights(self, index: int | None = None) -> float:
        """Sum of (renormalised) weights, of one class or all."""
        w = self.weights if index is None else self.weights[self.class_ids == index]
        return float(np.sum(w, dtype=np.float64))


class DataSetMeta:
    """What a prepared dataset says about itself from its ``variables``, ``targets`` and ``classes``
    (shared by :class:`DataSet` and the streaming DataLoader's dataset)."""

    variables: tuple[VariableInfo, ...]
    targets: tuple[VariableInfo, ...]
    classes: tuple[ClassInfo, ...]

    @property
    def n_variables(self) -> int:
        return len(self.variables)

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    @property
    def signal_class(self) -> int | None:
        """Index of the class named ``Signal`` (TMVA's GetSignalClassIndex), None if there is none."""
        for c in self.classes:
            if c.name == "Signal":
                return c.index
        return None


@dataclass(frozen=True, eq=False)
class DataSet(DataSetMeta):
    """The result of ``DataLoader.PrepareTrainingAndTestTree``: train and test samples plus metadata.

    ``analysis_type`` is the hint TMVA derives from the booking: ``"Regression"`` when targets were
    added, ``"Multiclass"`` with more than two classes, else ``"Classification"``.
    """

    name: str
    train: Sample
    test: Sample
    variables: tuple[VariableInfo, ...]
    classes: tuple[ClassInfo, ...]
    targets: tuple[VariableInfo, ...] = ()
    spectators: tuple[VariableInfo, ...] = ()
    analysis_type: str = "Classification"
    sources: tuple[str, ...] = ()
    split_options: dict[str, Any] = field(default_factory=dict)

    @property
    def variable_expressions(self) -> tuple[str, ...]:
        return tuple(v.expression for v in self.variables)

    def class_index(self, name: str) -> int:
        for c in self.classes:
            if c.name == name:
                return c.index
        raise InputDataError(
            f"dataset {self.name!r} has no class {name!r}", token=name, expected=list(self.class_names)
        )

    def check_variables_vary(self) -> None:
        """Refuse a variable that is constant in the training sample, as TMVA's DataSetFactory does (the
        DataLoader refuses it while loading; a DataSet built from arrays is checked when a method trains).

        >>> import numpy as np
        >>> ds = DataSet.from_arrays(np.array([[1.0, 2.0], [1.0, 3.0]]), [0, 1], variables=["a", "b"])
        >>> try:
        ...     ds.check_variables_vary()
        ... except ValueError as err:
        ...     print(err.token)
        a

        Raises:
            InputDataError: names the first constant variable and its value.
        """
        X = self.train.X
        if len(X) < 2:
            return
        with np.errstate(invalid="ignore"):
            lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        for info, a, b in zip(self.variables, lo, hi, strict=False):
            if np.isfinite(a) and abs(float(b) - float(a)) <= _FLT_MIN:
                raise InputDataError(
                    f"variable {info.label!r} is constant ({float(a)}) in the training sample; TMVA stops "
                    f"here: please remove the variable",
                    token=info.label,
                )

    def sample(self, which: str) -> Sample:
        """``"train"``/``"Training"`` or ``"test"``/``"Testing"``."""
        w = which.lower()
        if w.startswith("train"):
            return self.train
        if w.startswith("test"):
            return self.test
        raise InputDataError(f"unknown sample {which!r}", token=which, expected=["train", "test"])

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        *,
        variables: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        w_train: np.ndarray | None = None,
        w_test: np.ndarray | None = None,
        targets: Sequence[str] | None = None,
        name: str = "dataset",
    ) -> DataSet:
        """A DataSet from numpy arrays (no ROOT file), for tests and the Python-style API.

        Classification/multiclass: ``y`` holds class indices. Regression: pass ``targets`` (names) and ``y``
        of shape (n, ntargets) or (n,). Weights default to 1 and are not renormalised. Variable ranges are
        computed over the training sample, as TMVA does.
        """
        X_train = np.asarray(X_train, dtype=np.float32)
        if X_train.ndim != 2:
            raise InputDataError(f"X_train must be 2-D (events, variables), got shape {X_train.shape}")
        nvar = X_train.shape[1]
        if X_test is None:
            X_test = np.zeros((0, nvar), np.float32)
            y_test = np.zeros((0,) if targets is None else (0, len(targets)))
        X_test = np.asarray(X_test, dtype=np.float32).reshape(-1, nvar)
        names = list(variables) if variables is not None else [f"var{i + 1}" for i in range(nvar)]
        if len(names) != nvar:
            raise InputDataError(f"{len(names)} variable names for {nvar} columns", expected=[str(nvar)])

        def build(X: np.ndarray, y: Any, w: Any) -> tuple[Sample, int]:
            n = X.shape[0]
            yy = np.asarray(y)
            if len(yy) != n:
                raise InputDataError(f"{n} events but {len(yy)} labels/targets")
            if targets is None:
                ids = yy.astype(np.int32).reshape(n)
                tg = np.zeros((n, 0), np.float32)
            else:
                ids = np.zeros(n, np.int32)
                tg = yy.astype(np.float32).reshape(n, len(targets))
            ww = np.ones(n) if w is None else np.asarray(w, dtype=np.float64).reshape(n)
            s = Sample(
                X,
                tg,
                np.zeros((n, 0), np.float32),
                ww,
                ww.copy(),
                ids,
                np.zeros(n, np.int32),
                np.arange(n, dtype=np.int64),
            )
            return s, (int(ids.max()) + 1 if n and targets is None else 0)

        train, nc1 = build(X_train, y_train, w_train)
        test, nc2 = build(X_test, y_test, w_test)
        if targets is not None:
            cnames = ["Regression"]
        elif class_names is not None:
            cnames = list(class_names)
        else:
            ncls = max(nc1, nc2, 2)
            cnames = ["Signal", "Background"] if ncls == 2 else [f"class{i}" for i in range(ncls)]
        lo = X_train.min(axis=0) if len(X_train) else np.full(nvar, FLT_MAX)
        hi = X_train.max(axis=0) if len(X_train) else np.full(nvar, -FLT_MAX)
        vinfos = tuple(
            VariableInfo(n, n, n, "", internal_name(n), "F", float(lo[i]), float(hi[i]))
            for i, n in enumerate(names)
        )
        tinfos: tuple[VariableInfo, ...] = ()
        if targets is not None:
            tl = train.targets.min(axis=0) if len(train) else np.full(len(targets), FLT_MAX)
            th = train.targets.max(axis=0) if len(train) else np.full(len(targets), -FLT_MAX)
            tinfos = tuple(
                VariableInfo(t, t, t, "", internal_name(t), "F", float(tl[i]), float(th[i]))
                for i, t in enumerate(targets)
            )
        if targets is not None:
            atype = "Regression"
        else:
            atype = "Multiclass" if len(cnames) > 2 else "Classification"
        return cls(
            name,
            train,
            test,
            vinfos,
            tuple(ClassInfo(c, i) for i, c in enumerate(cnames)),
            tinfos,
            (),
            atype,
            ("<arrays>",),
        )
