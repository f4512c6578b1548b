"""TMVA's ``DataLoader`` over ROOT files, read with uproot: booking, trees, cuts, weights, splitting.

The API follows ``TMVA::DataLoader`` (method names and overloads), and the data preparation follows
``TMVA::DataSetFactory`` (``BuildEventVector``, ``MixEvents``, ``RenormEvents``, ``CalcMinMax``):

* classes are numbered in the order their first tree is added (``Signal`` 0, ``Background`` 1 as usual);
  events are read class by class, tree by tree (a chain's files in order), entry by entry;
* an event's weight is ``float32(tree weight) * weight expression`` rounded to float32; the cut passes when
  its value is >= 0.5; an entry for which an indexed variable has no data (``jet_pt[2]`` with two jets) makes
  no event, as TTreeFormula's ``GetNdata() == 0`` does in TMVA;
* NaN or +-inf in a variable, target, spectator or weight of an event that passes the cut, or in the cut
  itself, stops with :class:`~tmvacompat.errors.InputDataError` (TMVA: ``kFATAL`` "How am I supposed to
  train a NaN or +-inf?!"); NaN/inf only in events removed by the cut give a warning, as in TMVA;
* ``nTrain_<class>``/``nTest_<class>`` (0 = split the rest: half each when both are 0, all remaining
  otherwise), ``TrainTestSplit_<class>``, ``SplitMode`` Random/Alternate/Block, ``MixMode`` (default
  SameAsSplitMode), ``SplitSeed`` (default 100), ``NormMode`` None/NumEvents/EqualNumEvents (default
  EqualNumEvents; only *training* weights are rescaled);
* the random split and mixing draw from ``TMVA::RandomGenerator<TRandom3>(SplitSeed)`` through
  ``std::shuffle`` in MixEvents' order (:mod:`tmvacompat.data.tmvarandom`), so the same seed selects the
  same events in the same order as TMVA; ``std::shuffle`` differs between C++ libraries, and the extension
  key ``SplitStdLib`` says which to follow: ``libstdc++`` (default: ROOT built with GCC, as on Linux) or
  ``libc++`` (ROOT on macOS). ``SplitSeed=0`` seeds from the operating system: not reproducible;
* variable ranges (``min``/``max`` in the weight file) are taken over the training sample.

Data are read column-wise, only the branches the expressions need, in chunks of ``chunk_entries`` entries
with the cuts applied per chunk, so memory grows with the selected events only.

Example:
    >>> loader = DataLoader("dataset")                                        # doctest: +SKIP
    >>> loader.AddVariable("myvar1 := var1+var2", "F")                        # doctest: +SKIP
    >>> loader.AddVariable("var3", "Variable 3", "units", "F")                # doctest: +SKIP
    >>> loader.AddSignalTree("tmva_class_example.root:TreeS")                 # doctest: +SKIP
    >>> loader.AddBackgroundTree("tmva_class_example.root:TreeB")             # doctest: +SKIP
    >>> loader.SetBackgroundWeightExpression("weight")                        # doctest: +SKIP
    >>> loader.PrepareTrainingAndTestTree("", "nTrain_Signal=1000:!V")      # doctest: +SKIP
    >>> ds = loader.GetDataSet(); ds.train.X.shape                            # doctest: +SKIP
    (2000, 2)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import FLT_MAX, ClassInfo, DataSet, Sample, VariableInfo, internal_name
from tmvacompat.data.expressions import evaluate_masked, parse, split_label
from tmvacompat.data.rootread import array_block, iterate, stack_columns
from tmvacompat.data.tmvarandom import STDLIBS, RandomGenerator, permutation, shuffle
from tmvacompat.errors import (
    InputDataError,
    InputFileNotFoundError,
    InputNotFoundError,
    OptionError,
    closest,
)
from tmvacompat.options import options_from_kwargs

__all__ = ["DataLoader", "DataLoaderWarning", "ClassReadStats", "prepare_options"]

_FLT_MIN = float(np.finfo(np.float32).tiny)


class DataLoaderWarning(UserWarning):
    """Something TMVA would only warn about (NaN in events removed by the cut, no test events, ...)."""


def _warn(msg: str) -> None:
    warnings.warn(msg, DataLoaderWarning, stacklevel=3)


# ------------------------------------------------------------------------------------------- options


def prepare_options(class_names: Sequence[str]) -> Any:
    """The declared options of ``PrepareTrainingAndTestTree`` for these classes (TMVA's
    ``DataSetFactory::InitOptions``), as a :class:`tmvacompat.options.OptionSet`.

    The class-independent options come from :data:`tmvacompat.data.prepare_options.PREPARE`; as in TMVA,
    ``nTrain_<class>``, ``nTest_<class>`` and ``TrainTestSplit_<class>`` are declared for the classes that
    exist, so a misspelt class name is refused with a suggestion.

    >>> prepare_options(["Signal", "Background"]).parse("nTrain_Signal=10:SplitMode=block").SplitMode
    'Block'
    """
    from tmvacompat.options import Option, OptionSet

    try:
        from tmvacompat.data.prepare_options import PREPARE

        common = [o for o in PREPARE if not o.name.startswith(("nTrain_", "nTest_", "TrainTestSplit_"))]
    except ImportError:  # the declarations module is optional for the data layer
        common = [
            Option("SplitMode", str, "Random", allowed=("Random", "Alternate", "Block")),
            Option(
                "MixMode", str, "SameAsSplitMode", allowed=("SameAsSplitMode", "Random", "Alternate", "Block")
            ),
            Option("SplitSeed", int, 100, minimum=0, maximum=2**32 - 1),
            Option("SplitStdLib", str, STDLIBS[0], allowed=STDLIBS),
            Option("NormMode", str, "EqualNumEvents", allowed=("None", "NumEvents", "EqualNumEvents")),
            Option("ScaleWithPreselEff", bool, False),
            Option("V", bool, False),
            Option("VerboseLevel", str, "Info", allowed=("Debug", "Verbose", "Info")),
            Option("Correlations", bool, True),
            Option("CalcCorrelations", bool, True),
        ]
    per_class = []
    for c in class_names:
        per_class.append(
            Option(f"nTrain_{c}", int, 0, f"Number of training events of class {c} (0 = all)", minimum=0)
        )
        per_class.append(
            Option(f"nTest_{c}", int, 0, f"Number of test events of class {c} (0 = all)", minimum=0)
        )
        per_class.append(
            Option(
                f"TrainTestSplit_{c}",
                float,
                0.0,
                f"Train/test split of class {c} (0 = off)",
                minimum=0.0,
                maximum=1.0,
                note="TMVA aborts unless it is in (0, 1] or 0 (off)",
            )
        )
    first = ("SplitMode", "MixMode", "SplitSeed", "SplitStdLib", "NormMode", "ScaleWithPreselEff")
    head = [o for o in common if o.name in first]
    tail = [o for o in common if o not in head]
    return OptionSet("PrepareTrainingAndTestTree", head + per_class + tail)


# ------------------------------------------------------------------------------------------- inputs


@dataclass
class _TreeInput:
    path: str  # file path (for messages)
    tree_name: str
    class_name: str
    weight: float
    cut: str
    tree_type: str  # "train", "test" or "" (either)
    tree: Any = None  # an uproot TTree given by the user (else opened from path)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.tree_name}"


def _split_spec(spec: str) -> tuple[str, str]:
    # "file.root:tree" (uproot's convention); the tree part may hold directories ("file.root:dir/tree")
    idx = spec.rfind(":")
    if idx <= 0 or spec[idx + 1 :] == "":
        raise InputDataError(
            f"tree {spec!r} must be given as 'file.root:treename' (or an uproot TTree)",
            token=spec,
            expected=["file.root:TreeS"],
        )
    if os.name == "nt" and idx == 1:  # a drive letter, no tree part
        raise InputDataError(f"tree {spec!r} must be given as 'file.root:treename'", token=spec)
    return spec[:idx], spec[idx + 1 :]


def _open_tree(path: str, tree_name: str) -> Any:
    import uproot

    if not os.path.exists(path):
        near = []
        folder = os.path.dirname(path) or "."
        if os.path.isdir(folder):
            near = closest(os.path.basename(path), [f for f in os.listdir(folder) if f.endswith(".root")])
        raise InputFileNotFoundError(f"input file {path!r} does not exist", token=path, expected=near or None)
    try:
        # no array cache: every branch is read once per chunk, and uproot's default keeps up to 100 MB of
        # arrays per open file (ten files of a chain held 500 MB more at the end of a streamed first pass)
        f = uproot.open(path, array_cache=None)
    except Exception as err:  # uproot raises many kinds for a file that is not ROOT
        raise InputDataError(f"cannot open {path!r} as a ROOT file: {err}", token=path) from None
    try:
        obj = f[tree_name]
    except Exception:
        trees = sorted(
            {
                k.split(";")[0]
                for k, cls in f.classnames().items()
                if cls in ("TTree", "TNtuple", "ROOT::RNTuple")
            }
        )
        raise InputNotFoundError(
            f"file {path!r} has no tree {tree_name!r}; its trees: {', '.join(trees) or 'none'}",
            token=tree_name,
            where=path,
            expected=closest(tree_name, trees) or trees,
        ) from None
    if not hasattr(obj, "num_entries"):
        raise InputDataError(f"{path}:{tree_name} is a {type(obj).__name__}, not a TTree", token=tree_name)
    return obj


def open_tree(spec: str) -> Any:
    """The uproot TTree of ``"file.root:tree"``; a missing file (:class:`InputFileNotFoundError`, also a
    ``FileNotFoundError``), a missing tree (:class:`InputNotFoundError`, also a ``KeyError``) or a malformed
    spec (:class:`InputDataError`) raises an error naming the file and the trees that do exist.

    >>> open_tree("missing.root:TreeS")
    Traceback (most recent call last):
    ...
    tmvacompat.errors.InputFileNotFoundError: input file 'missing.root' does not exist
    """
    return _open_tree(*_split_spec(spec))


def _branch_map(tree: Any) -> dict[str, str]:
    """Names an expression may use -> the branch key to read (full path and leaf name)."""
    out: dict[str, str] = {}
    for key in tree.keys(recursive=True):
        out.setdefault(key, key)
        out.setdefault(key.split("/")[-1], key)
    return out


def _combine_cuts(a: str, b: str) -> str:
    """TCut's ``a && b``: '' is neutral."""
    a, b = a.strip(), b.strip()
    if not a:
        return b
    if not b:
        return a
    return f"({a})&&({b})"


def _as_column(x: Any) -> Any:
    """A chunk column as numpy when its type is rectangular, else left as an awkward array.

    The type decides, not the values: a jagged branch whose lists happen to have equal lengths in one
    chunk stays jagged.
    """
    import awkward as ak

    t = str(ak.type(x))
    if "var" in t or "?" in t or "string" in t:
        return x
    try:
        return ak.to_numpy(x)
    except (ValueError, TypeError):
        return x


# ------------------------------------------------------------------------------------------- the loader


@dataclass(frozen=True)
class ClassReadStats:
    """What reading the trees of one class gave (TMVA's ``DataSetFactory`` event counts per class).

    ``trees`` holds (tree name, entries) per tree read; ``n_before``/``w_before`` count the entries with
    data for every variable, before the class cut (weighted: the sum of their weights, NaN weights left
    out); ``n_after``/``w_after`` the events that passed the cut.
    """

    name: str
    cut: str
    trees: tuple[tuple[str, int], ...]
    n_before: int
    w_before: float
    n_after: int
    w_after: float


@dataclass
class _ClassEvents:
    X: list[np.ndarray] = field(default_factory=list)
    T: list[np.ndarray] = field(default_factory=list)
    S: list[np.ndarray] = field(default_factory=list)
    W: list[np.ndarray] = field(default_factory=list)
    entry: list[np.ndarray] = field(default_factory=list)
    source: list[np.ndarray] = field(default_factory=list)
    ttype: list[np.ndarray] = field(default_factory=list)  # 0 train, 1 test, 2 undefined
    n_before: int = 0
    w_before: float = 0.0
    n_after: int = 0
    w_after: float = 0.0
    trees: list[tuple[str, int]] = field(default_factory=list)


class DataLoader:
    """TMVA's DataLoader: book variables, spectators and targets, add trees, prepare train/test samples.

    ``chunk_entries`` is the number of entries read at once per tree (cuts are applied per chunk);
    ``threads`` > 1 decompresses a TTree's baskets in that many threads (about 1.6x faster on ZLIB with 2).

    >>> loader = DataLoader("dataset")
    >>> loader.AddVariable("myvar1 := var1 + var2", "F")
    >>> loader.AddVariable("var3", "Variable 3", "units", "F")
    >>> [(v.expression, v.label, v.title, v.unit, v.internal) for v in loader.variables]
    [('var1+var2', 'myvar1', 'myvar1', '', 'myvar1'), ('var3', 'var3', 'Variable 3', 'units', 'var3')]
    """

    def __init__(self, name: str = "dataset", *, chunk_entries: int = 1_000_000, threads: int = 1) -> None:
        if chunk_entries < 1:
            raise InputDataError(f"chunk_entries must be >= 1, got {chunk_entries}", token=str(chunk_entries))
        self.name = name
        self.chunk_entries = int(chunk_entries)
        self.threads = max(int(threads), 1)
        self._variables: list[VariableInfo] = []
        self._spectators: list[VariableInfo] = []
        self._targets: list[VariableInfo] = []
        self._inputs: list[_TreeInput] = []
        self._classes: list[str] = []
        self._explicit: dict[str, bool] = {}
        self._cuts: dict[str, str] = {}
        self._weights: dict[str, str] = {}
        self._split_options: str | None = None
        self._options: Any = None
        self._analysis_type: str | None = None
        self._dataset: DataSet | None = None
        #: called as ``progress(where, entries_read, entries_in_tree)`` while the trees are read (the
        #: Factory's progress bar); the loader itself prints nothing
        self.progress: Callable[[str, int, int], Any] | None = None
        #: per class, what the last read of the trees gave (empty before :meth:`GetDataSet`)
        self.read_stats: tuple[ClassReadStats, ...] = ()
        #: where ``Streaming=True`` writes its scratch files (None: the system's temporary folder)
        self.scratch_dir: str | None = None

    # ---------------------------------------------------------------------------------- booking
    @property
    def variables(self) -> tuple[VariableInfo, ...]:
        return tuple(self._variables)

    @property
    def spectators(self) -> tuple[VariableInfo, ...]:
        return tuple(self._spectators)

    @property
    def targets(self) -> tuple[VariableInfo, ...]:
        return tuple(self._targets)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    @staticmethod
    def _info(expression: str, title: str, unit: str, vtype: str, what: str) -> VariableInfo:
        if not isinstance(expression, str) or not expression.strip():
            raise InputDataError(f"{what}: the expression must be a non-empty string", token=repr(expression))
        if not isinstance(vtype, str) or len(vtype) != 1:
            raise InputDataError(
                f"{what} {expression!r}: type must be one character such as 'F' or 'I', got {vtype!r}",
                token=str(vtype),
                expected=["F", "I", "D"],
            )
        text = expression.replace(" ", "")  # DataSetInfo removes blanks before splitting off the label
        label, expr = split_label(text)
        if not expr:
            raise InputDataError(
                f"{what} {expression!r} has an empty expression after ':='", token=expression
            )
        parse(expr)  # syntax errors now, not when the data is read
        label = label if label else expr
        return VariableInfo(expr, label, title or label, unit, internal_name(label), vtype)

    def _booked(self) -> None:
        if self._dataset is not None:
            self._dataset = None  # booking changed: rebuild on demand

    def AddVariable(
        self,
        expression: str,
        *args: Any,
        title: str = "",
        unit: str = "",
        type: str = "F",
        min: float = 0.0,
        max: float = 0.0,
    ) -> None:
        """Book an input variable. TMVA's overloads:

        ``AddVariable("myvar1 := var1+var2", "F")``, ``AddVariable("var3", "Variable 3", "units", "F")``,
        ``AddVariable(expr, type, min, max)``, ``AddVariable(expr, title, unit, type, min, max)``.
        ``min``/``max`` are accepted for compatibility; TMVA recomputes the ranges from the data.
        """
        title, unit, type = self._overload(expression, args, title, unit, type)
        self._variables.append(self._info(expression, title, unit, type, "variable"))
        self._booked()

    @staticmethod
    def _overload(expression: str, args: tuple, title: str, unit: str, vtype: str) -> tuple[str, str, str]:
        if not args:
            return title, unit, vtype
        first = args[0]
        if isinstance(first, str) and len(first) == 1 and (len(args) == 1 or not isinstance(args[1], str)):
            return title, unit, first  # (type[, min, max])
        strs = [a for a in args if isinstance(a, str)]
        if len(strs) >= 1:
            title = strs[0]
        if len(strs) >= 2:
            unit = strs[1]
        if len(strs) >= 3:
            vtype = strs[2]
        if len(strs) > 3 or any(not isinstance(a, (str, int, float)) for a in args):
            raise InputDataError(
                f"AddVariable({expression!r}, ...): unexpected arguments {args!r}",
                token=repr(args),
                expected=["(expr, type)", "(expr, title, unit, type)", "(expr, title, unit, type, min, max)"],
            )
        return title, unit, vtype

    def AddVariablesArray(
        self, expression: str, size: int, type: str = "F", min: float = 0.0, max: float = 0.0
    ) -> None:
        """Book ``size`` variables from a fixed-size array branch: elements 0..size-1 of ``expression``.

        As in TMVA, every element keeps the array's expression and label; titles are ``[i]`` and
        internal names ``<label>[i]``.
        """
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise InputDataError(
                f"AddVariablesArray({expression!r}, {size!r}): size must be a positive int", token=str(size)
            )
        base = self._info(expression, "", "", type, "variables array")
        for i in range(int(size)):
            self._variables.append(
                VariableInfo(
                    base.expression,
                    base.label,
                    f"[{i}]",
                    "",
                    f"{base.internal}[{i}]",
                    base.type,
                    array_index=i,
                )
            )
        self._booked()

    def AddSpectator(
        self, expression: str, title: str = "", unit: str = "", min: float | str = 0.0, max: float = 0.0
    ) -> None:
        """Book a spectator (carried along, not trained on): ``AddSpectator("spec1 := var1*2", "Spectator 1",
        "units", "F")``. TMVA's 4th and 5th arguments are a range that TMVA itself does not use for
        spectators (its tutorial passes the type char 'F' there); they are accepted and ignored."""
        self._spectators.append(self._info(expression, title, unit, "F", "spectator"))
        self._booked()

    def AddTarget(
        self, expression: str, title: str = "", unit: str = "", min: float = 0.0, max: float = 0.0
    ) -> None:
        """Book a regression target (switches the analysis type to Regression, as TMVA does)."""
        self._targets.append(self._info(expression, title, unit, "F", "target"))
        if self._analysis_type is None:
            self._analysis_type = "Regression"
        self._booked()

    # ---------------------------------------------------------------------------------- trees
    def AddTree(
        self, tree: Any, class_name: str, weight: float = 1.0, cut: str = "", treetype: str | None = None
    ) -> None:
        """Add a tree (or a chain: a list of trees/files) of class ``class_name``.

        ``tree`` is ``"file.root:tree"``, ``("file.root", "tree")``, an uproot TTree, or a list of these.
        ``cut`` preselects this tree's entries; ``treetype`` is ``"Training"``, ``"Test"`` or None (both).
        """
        if not isinstance(class_name, str) or not class_name:
            raise InputDataError("AddTree: class_name must be a non-empty string", token=repr(class_name))
        ttype = self._tree_type(treetype)
        parts = list(tree) if isinstance(tree, list) else [tree]
        if not parts:
            raise InputDataError(f"AddTree: empty list of trees for class {class_name!r}", token=class_name)
        if cut:
            parse(cut)
        parts = _expand_globs(parts)
        new: list[_TreeInput] = []
        total = 0
        for part in parts:
            if isinstance(part, tuple) and len(part) == 2:
                path, name = str(part[0]), str(part[1])
                obj = _open_tree(path, name)
            elif isinstance(part, (str, os.PathLike)):
                path, name = _split_spec(os.fspath(part))
                obj = _open_tree(path, name)
            elif hasattr(part, "num_entries") and hasattr(part, "iterate"):
                obj = part
                path = getattr(getattr(part, "file", None), "file_path", "<tree>")
                name = (
                    str(getattr(part, "object_path", getattr(part, "name", "tree"))).lstrip("/").split(";")[0]
                )
            else:
                raise InputDataError(
                    f"AddTree: cannot use {part!r} as a tree; give 'file.root:tree', (file, tree) or an "
                    f"uproot "
                    f"TTree",
                    token=repr(part),
                )
            total += int(obj.num_entries)
            keep = obj if not isinstance(part, (str, os.PathLike, tuple)) else None
            new.append(_TreeInput(path, name, class_name, float(weight), cut or "", ttype, keep))
        if total == 0:
            raise InputDataError(
                f"encountered an empty tree or chain of class {class_name!r} "
                f"({', '.join(t.where for t in new)})",
                token=class_name,
            )
        explicit = ttype != ""
        if class_name in self._explicit and self._explicit[class_name] != explicit:
            first = next(t for t in self._inputs if t.class_name == class_name)
            raise InputDataError(
                f"tree {new[0].where} of class {class_name!r}: either all trees of a class have a tree type "
                f"(Training/Test) or none; the first one ({first.where}) "
                f"{'has' if self._explicit[class_name] else 'has not'}",
                token=new[0].where,
            )
        self._explicit.setdefault(class_name, explicit)
        if class_name not in self._classes:
            self._classes.append(class_name)
        if self._analysis_type is None and len(self._classes) > 2:
            self._analysis_type = "Multiclass"
        self._inputs.extend(new)
        self._booked()

    @staticmethod
    def _tree_type(treetype: str | None) -> str:
        if treetype is None:
            return ""
        t = str(treetype).lower()
        if t in ("", "kmaxtreetype"):
            return ""
        if "train" in t and "test" in t:
            return ""
        if "train" in t:
            return "train"
        if "test" in t:
            return "test"
        raise InputDataError(
            f"cannot interpret tree type {treetype!r}",
            token=str(treetype),
            expected=["Training", "Test", "Training and Testing"],
        )

    def AddSignalTree(self, tree: Any, weight: float = 1.0, treetype: str | None = None) -> None:
        """``AddTree(tree, "Signal", weight, "", treetype)``."""
        self.AddTree(tree, "Signal", weight, "", treetype)

    def AddBackgroundTree(self, tree: Any, weight: float = 1.0, treetype: str | None = None) -> None:
        """``AddTree(tree, "Background", weight, "", treetype)``."""
        self.AddTree(tree, "Background", weight, "", treetype)

    def AddRegressionTree(self, tree: Any, weight: float = 1.0, treetype: str | None = None) -> None:
        """``AddTree(tree, "Regression", weight, "", treetype)``: the one class of a regression."""
        self.AddTree(tree, "Regression", weight, "", treetype)

    def SetInputTrees(
        self, signal: Any, background: Any, signal_weight: float = 1.0, background_weight: float = 1.0
    ) -> None:
        self.AddSignalTree(signal, signal_weight)
        self.AddBackgroundTree(background, background_weight)

    # ---------------------------------------------------------------------------------- weights and cuts
    def SetWeightExpression(self, expression: str, class_name: str = "") -> None:
        """Per-event weight expression of a class ('' = Signal and Background)."""
        if expression:
            parse(expression)
        if class_name == "":
            self._weights["Signal"] = expression
            self._weights["Background"] = expression
        else:
            self._weights[class_name] = expression
        self._booked()

    def SetSignalWeightExpression(self, expression: str) -> None:
        self.SetWeightExpression(expression, "Signal")

    def SetBackgroundWeightExpression(self, expression: str) -> None:
        self.SetWeightExpression(expression, "Background")

    def AddCut(self, cut: str, class_name: str = "") -> None:
        """AND ``cut`` to a class's cut ('' = every class added so far)."""
        cut = str(cut or "")
        if cut:
            parse(cut)
        for c in self._classes if class_name == "" else [class_name]:
            self._cuts[c] = _combine_cuts(self._cuts.get(c, ""), cut)
        self._booked()

    def SetCut(self, cut: str, class_name: str = "") -> None:
        """Replace a class's cut ('' = every class added so far)."""
        cut = str(cut or "")
        if cut:
            parse(cut)
        for c in self._classes if class_name == "" else [class_name]:
            self._cuts[c] = cut
        self._booked()

    # ---------------------------------------------------------------------------------- prepare
    def PrepareTrainingAndTestTree(self, *args: Any, options: str | None = None, **kwargs: Any) -> None:
        """Set cuts and split options. TMVA's forms:

        ``(cut, "nTrain_Signal=1000:...")`` one cut for all classes; ``(cut_s, cut_b, options)``;
        ``(cut, NsigTrain, NbkgTrain, NsigTest, NbkgTest[, options])``; ``(cut, Ntrain, Ntest)``; and, as
        ROOT's Python tutorials write it, options as keyword arguments:
        ``(cut, nTrain_Signal=4000, SplitMode="Random", V=False)``.

        Raises:
            OptionError: unknown option (with the closest names) or a bad value.
        """
        a = list(args)
        if options is not None:
            a.append(options)
        if kwargs:
            if len(a) >= 2 and isinstance(a[-1], str) and _looks_like_options(a[-1]):
                a[-1] = options_from_kwargs(a[-1], **kwargs)
            else:
                a.append(options_from_kwargs("", **kwargs))
        if len(a) == 1 and isinstance(a[0], str):
            cut, opts = "", a[0]
            self.AddCut(cut)
        elif len(a) == 2 and all(isinstance(x, str) for x in a):
            self.AddCut(a[0])
            opts = a[1]
        elif len(a) == 3 and all(isinstance(x, str) for x in a):
            self.AddCut(a[0], "Signal")
            self.AddCut(a[1], "Background")
            opts = a[2]
        elif len(a) == 3 and isinstance(a[1], int) and isinstance(a[2], int):
            self.AddCut(a[0])
            opts = (
                f"nTrain_Signal={a[1]}:nTrain_Background={a[1]}:nTest_Signal={a[2]}:"
                f"nTest_Background={a[2]}:SplitMode=Random:!V"
            )
        elif len(a) in (5, 6) and all(isinstance(x, int) for x in a[1:5]):
            self.AddCut(a[0])
            opts = (
                f"nTrain_Signal={a[1]}:nTrain_Background={a[2]}:nTest_Signal={a[3]}:"
                f"nTest_Background={a[4]}" + (f":{a[5]}" if len(a) == 6 and a[5] else "")
            )
        else:
            raise InputDataError(
                f"PrepareTrainingAndTestTree{tuple(args)!r}: unsupported arguments",
                token=repr(args),
                expected=[
                    "(cut, options)",
                    "(cut_s, cut_b, options)",
                    "(cut, NsigTrain, NbkgTrain, NsigTest, NbkgTest, options)",
                ],
            )
        if not self._classes:
            raise InputDataError(
                "PrepareTrainingAndTestTree: no tree was added (AddSignalTree/AddTree first)"
            )
        self._options = prepare_options(self._classes).parse(opts)
        self._split_options = opts
        self._dataset = None

    # ---------------------------------------------------------------------------------- building
    @property
    def analysis_type(self) -> str:
        if self._targets:
            return "Regression"
        return self._analysis_type or ("Multiclass" if len(self._classes) > 2 else "Classification")

    @property
    def dataset(self) -> DataSet:
        return self.GetDataSet()

    def GetDataSet(self) -> DataSet:
        """Read the trees and build the :class:`DataSet` (once; cached until the booking changes).

        With ``Streaming=True`` and fewer ``BufferEvents`` than the trees' entries, a
        :class:`~tmvacompat.data.streaming.StreamingDataSet` (events on scratch files, streamed in training).
        """
        if self._dataset is None:
            self._dataset = self._stream() if self.streaming else None
            if self._dataset is None:
                self._dataset = self._build()
        return self._dataset

    @property
    def streaming(self) -> bool:
        """Whether ``Streaming=True`` was given to PrepareTrainingAndTestTree."""
        return self._options is not None and bool(self._options.get("Streaming", False))

    def _stream(self) -> Any:
        """A StreamingDataSet, or None when BufferEvents holds every entry (then read in memory)."""
        from tmvacompat.data.streaming import build_stream

        buffer = int(self._options.get("BufferEvents", 1_000_000))
        if buffer < 1:
            raise OptionError(f"BufferEvents must be >= 1, got {buffer}", token=f"BufferEvents={buffer}")
        entries = 0
        for tin in self._inputs:
            tree = tin.tree if tin.tree is not None else _open_tree(tin.path, tin.tree_name)
            entries += int(tree.num_entries)
        if buffer >= entries:
            return None
        if not self._variables:
            raise InputDataError(f"dataset {self.name!r}: no input variable booked (AddVariable first)")
        return build_stream(self, self.scratch_dir)

    def _build(self) -> DataSet:
        if not self._variables:
            raise InputDataError(f"dataset {self.name!r}: no input variable booked (AddVariable first)")
        if not self._classes:
            raise InputDataError(f"dataset {self.name!r}: no tree added (AddSignalTree/AddTree first)")
        if self._options is None:
            self._options = prepare_options(self._classes).parse("")
            self._split_options = ""
        stray = [c for c, v in self._cuts.items() if v and c not in self._classes]
        stray += [
            c
            for c, v in self._weights.items()
            if v and c not in self._classes and c not in ("Signal", "Background")
        ]
        for c in stray:
            raise InputDataError(
                f"a cut or weight expression was set for class {c!r}, which has no tree",
                token=c,
                expected=self._classes,
            )
        sources: list[str] = []
        per_class: list[_ClassEvents] = []
        for ci, cname in enumerate(self._classes):
            ev = _ClassEvents()
            for tin in (t for t in self._inputs if t.class_name == cname):
                sources.append(tin.where)
                self._read_tree(tin, len(sources) - 1, ci, ev)
            per_class.append(ev)
        self.read_stats = tuple(
            ClassReadStats(
                cname,
                self._cuts.get(cname, ""),
                tuple(ev.trees),
                ev.n_before,
                ev.w_before,
                ev.n_after,
                ev.w_after,
            )
            for cname, ev in zip(self._classes, per_class, strict=True)
        )
        return self._assemble(per_class, sources)

    def _read_tree(self, tin: _TreeInput, src: int, ci: int, ev: _ClassEvents) -> None:
        cname = tin.class_name
        tree = tin.tree if tin.tree is not None else _open_tree(tin.path, tin.tree_name)
        bmap = _branch_map(tree)
        cut = self._cuts.get(cname, "")
        wexpr = self._weights.get(cname, "")
        var_formulas = self._variable_groups()
        exprs = [g[0] for g in var_formulas] + [t.expression for t in self._targets]
        exprs += [s.expression for s in self._spectators] + [e for e in (cut, tin.cut, wexpr) if e]
        needed: set[str] = set()
        for e in exprs:
            needed |= set(parse(e).names)
        use_entry = "Entry$" in needed  # TTreeFormula's entry number: supplied here, not read
        needed.discard("Entry$")
        missing = sorted(n for n in needed if n not in bmap)
        if missing:
            name = missing[0]
            users = [e for e in exprs if name in parse(e).names]
            raise InputNotFoundError(
                f"branch {name!r} (used in {users[0]!r}) is not in tree {tin.tree_name!r} "
                f"of file {tin.path!r}",
                token=name,
                where=tin.where,
                expected=closest(name, list(bmap)) or sorted(bmap)[:30],
            )
        keys = sorted({bmap[n] for n in needed})
        total = int(tree.num_entries)
        ev.trees.append((tin.tree_name, total))
        if self.progress is not None:
            self.progress(tin.where, 0, total)
        extra: dict[str, Any] = {}
        if not keys:  # only constants: still need the number of entries
            chunks = self._const_chunks(int(tree.num_entries))
        else:
            if self.threads > 1 and hasattr(tree, "branches"):  # TTrees: decompress baskets in parallel
                import uproot

                extra["decompression_executor"] = uproot.ThreadPoolExecutor(max_workers=self.threads)
            chunks = iterate(tree, keys, tin.where, self.chunk_entries, **extra)
        try:
            self._read_chunks(tin, src, ci, ev, chunks, keys, needed, bmap, use_entry, total)
        finally:
            if extra:
                extra["decompression_executor"].shutdown()

    def _read_chunks(
        self,
        tin: _TreeInput,
        src: int,
        ci: int,
        ev: _ClassEvents,
        chunks: Any,
        keys: list[str],
        needed: set[str],
        bmap: dict[str, str],
        use_entry: bool,
        total: int = 0,
    ) -> None:
        cname = tin.class_name
        cut = self._cuts.get(cname, "")
        wexpr = self._weights.get(cname, "")
        var_formulas = self._variable_groups()
        ttype = {"train": 0, "test": 1, "": 2}[tin.tree_type]
        nvar = len(self._variables)
        tw32 = np.float32(tin.weight)
        for chunk, report in chunks:
            start = int(report.tree_entry_start) if report is not None else chunk[1]
            if keys:
                fields = {n: _as_column(chunk[bmap[n]]) for n in needed}
                n = len(chunk)
            else:
                fields, n = {}, chunk[0]
            entries = np.arange(start, start + n, dtype=np.int64)
            if use_entry:
                fields["Entry$"] = entries
            # entries kept by the tree's own preselection (TMVA copies the tree with this cut)
            keep = np.ones(n, bool)
            if tin.cut:
                v, ok = (
                    evaluate_masked(tin.cut, fields, where=tin.where) if fields else self._const(tin.cut, n)
                )
                keep = ok & (v != 0)
            # variables: entries without data make no event (TTreeFormula GetNdata() == 0)
            X = np.empty((n, nvar), np.float32)
            has = keep.copy()
            for expr, cols in var_formulas:
                vals, ok = self._eval_var(expr, cols, fields, n, tin)
                X[:, cols] = vals
                has &= ok
            cutv = np.ones(n)
            if cut:
                v, ok = evaluate_masked(cut, fields, where=tin.where) if fields else self._const(cut, n)
                cutv = np.where(ok, v, 0.0)
                bad = has & ~np.isfinite(cutv)
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise InputDataError(
                        f"cut {cut!r} of class {cname!r} is {cutv[i]} at entry {entries[i]} of {tin.where}; "
                        f'TMVA refuses NaN/inf ("How am I supposed to train a NaN or +-inf?!")',
                        token=cut,
                        where=tin.where,
                    )
            T = self._eval_block(self._targets, fields, n, tin)
            S = self._eval_block(self._spectators, fields, n, tin)
            if wexpr:
                v, ok = evaluate_masked(wexpr, fields, where=tin.where) if fields else self._const(wexpr, n)
                with np.errstate(all="ignore"):
                    W = (np.float64(tw32) * np.where(ok, v, 0.0)).astype(np.float32)
            else:
                W = np.full(n, tw32, np.float32)
            passed = has & (cutv >= 0.5)
            # NaN / inf: fatal in events that pass the cut, a warning in events the cut removes
            blocks = [
                ("variable", self._variables, X),
                ("target", self._targets, T),
                ("spectator", self._spectators, S),
            ]
            for what, infos, arr in blocks:
                if arr.shape[1] == 0:
                    continue
                finite = np.isfinite(arr)
                bad_rows = ~finite.all(axis=1)
                if (bad_rows & passed).any():
                    i = int(np.flatnonzero(bad_rows & passed)[0])
                    j = int(np.flatnonzero(~finite[i])[0])
                    info = infos[j]
                    raise InputDataError(
                        f"{what} {info.label!r} ({info.formula!r}) is {arr[i, j]} at entry {entries[i]} of "
                        f'{tin.where}; TMVA refuses NaN/inf inputs ("How am I supposed to train a NaN or '
                        f'+-inf?!"); remove such entries with a cut',
                        token=info.formula,
                        where=tin.where,
                    )
                if (bad_rows & has & ~passed).any():
                    _warn(
                        f"{tin.where}: {int((bad_rows & has & ~passed).sum())} entries with NaN/inf "
                        f"in a {what} "
                        f"were removed by the cut (TMVA warns and continues)"
                    )
            if wexpr:
                badw = ~np.isfinite(W) & passed
                if badw.any():
                    i = int(np.flatnonzero(badw)[0])
                    raise InputDataError(
                        f"weight {wexpr!r} is {W[i]} at entry {entries[i]} of {tin.where}; "
                        f"TMVA refuses NaN/inf",
                        token=wexpr,
                        where=tin.where,
                    )
            ev.n_before += int(has.sum())
            wb = W[has]
            ev.w_before += float(np.sum(wb[~np.isnan(wb)], dtype=np.float64))
            sel = np.flatnonzero(passed)
            ev.n_after += len(sel)
            ev.w_after += float(np.sum(W[sel], dtype=np.float64))
            if len(sel):
                ev.X.append(X[sel])
                ev.T.append(T[sel])
                ev.S.append(S[sel])
                ev.W.append(W[sel])
                ev.entry.append(entries[sel])
                ev.source.append(np.full(len(sel), src, np.int32))
                ev.ttype.append(np.full(len(sel), ttype, np.int8))
            if self.progress is not None:
                self.progress(tin.where, min(start + n, total) if total else start + n, total)

    def _const_chunks(self, n_entries: int) -> Any:
        for start in range(0, n_entries, self.chunk_entries):
            n = min(self.chunk_entries, n_entries - start)
            yield (n, start), None

    @staticmethod
    def _const(expr: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        # an expression without branches (e.g. a cut "1"): evaluate on a dummy column of length n
        return evaluate_masked(expr, {"__n__": np.zeros(n)})

    def _variable_groups(self) -> list[tuple[str, list[int]]]:
        """Variables grouped by formula: an AddVariablesArray block is read once as an (n, size) array."""
        groups: list[tuple[str, list[int]]] = []
        for j, v in enumerate(self._variables):
            if (
                v.array_index is not None
                and groups
                and groups[-1][0] == v.expression
                and self._variables[groups[-1][1][-1]].array_index == v.array_index - 1
            ):
                groups[-1][1].append(j)
            else:
                groups.append((v.expression, [j]))
        return groups

    def _eval_var(
        self, expr: str, cols: list[int], fields: dict[str, Any], n: int, tin: _TreeInput
    ) -> tuple[np.ndarray, np.ndarray]:
        first = self._variables[cols[0]]
        if first.array_index is None:
            v, ok = evaluate_masked(expr, fields, where=tin.where) if fields else self._const(expr, n)
            with np.errstate(all="ignore"):
                return v.astype(np.float32).reshape(n, 1), ok
        lo, hi = first.array_index, first.array_index + len(cols)
        if expr in fields and isinstance(fields[expr], np.ndarray) and fields[expr].ndim == 2:
            arr = fields[expr]
            if arr.shape[1] < hi:
                raise InputDataError(
                    f"array variable {expr!r} was booked with size {hi} but branch {expr!r} of {tin.where} "
                    f"holds {arr.shape[1]} values per entry",
                    token=expr,
                    where=tin.where,
                    expected=[str(arr.shape[1])],
                )
            with np.errstate(all="ignore"):
                return arr[:, lo:hi].astype(np.float32), np.ones(n, bool)
        if expr in fields:  # a jagged branch (std::vector): one pass over its flat content
            block = array_block(fields[expr], lo, hi)
            if block is not None:
                return block
        out = np.empty((n, len(cols)), np.float32)
        ok_all = np.ones(n, bool)
        inner = expr if parse(expr).ast[0] == "name" else f"({expr})"
        for k, i in enumerate(range(lo, hi)):
            v, ok = evaluate_masked(f"{inner}[{i}]", fields, where=tin.where)
            with np.errstate(all="ignore"):
                out[:, k] = v.astype(np.float32)
            ok_all &= ok
        return out, ok_all

    def _eval_block(
        self, infos: list[VariableInfo], fields: dict[str, Any], n: int, tin: _TreeInput
    ) -> np.ndarray:
        cols = []
        for info in infos:
            v, ok = (
                evaluate_masked(info.expression, fields, where=tin.where)
                if fields
                else self._const(info.expression, n)
            )
            with np.errstate(all="ignore"):
                cols.append(np.where(ok, v, 0.0).astype(np.float32))
        return stack_columns(cols, n)

    # ---------------------------------------------------------------------------------- splitting
    def _assemble(self, per_class: list[_ClassEvents], sources: list[str]) -> DataSet:
        o = self._options
        split = o.SplitMode.upper()
        mix = o.MixMode.upper()
        mix = split if mix == "SAMEASSPLITMODE" else mix
        norm = o.NormMode.upper()
        # MixEvents: one TMVA::RandomGenerator<TRandom3>(SplitSeed) for every shuffle, in TMVA's order
        stdlib = str(o.get("SplitStdLib", STDLIBS[0]))
        rng = RandomGenerator(int(o.SplitSeed))

        for ci, ev in enumerate(per_class):
            cname = self._classes[ci]
            if not ev.X:
                cut = self._cuts.get(cname, "")
                raise InputDataError(
                    f"class {cname!r} has no events"
                    + (f" after the cut {cut!r}" if cut else "")
                    + f" ({', '.join(t.where for t in self._inputs if t.class_name == cname)})",
                    token=cname,
                )
        # one array per quantity for all classes (class by class); each class is a view (a slice) of it
        every = {
            key: np.concatenate([part for ev in per_class for part in getattr(ev, attr)], axis=0)
            for key, attr in (
                ("X", "X"),
                ("T", "T"),
                ("S", "S"),
                ("W", "W"),
                ("entry", "entry"),
                ("source", "source"),
                ("ttype", "ttype"),
            )
        }
        for ev in per_class:  # the chunks are no longer needed
            for attr in ("X", "T", "S", "W", "entry", "source", "ttype"):
                getattr(ev, attr).clear()
        sizes = [int(ev.n_after) for ev in per_class]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        cls_arrays = []
        for ci, cname in enumerate(self._classes):
            arrs = {k: v[offsets[ci] : offsets[ci + 1]] for k, v in every.items()}
            if not np.any(arrs["W"] != 0):
                raise InputDataError(
                    f"all {len(arrs['W'])} events of class {cname!r} have weight 0 (weight expression "
                    f"{self._weights.get(cname, '') or '<none>'!r}, tree weight(s) "
                    f"{sorted({t.weight for t in self._inputs if t.class_name == cname})}); a class without "
                    f"weight cannot be trained",
                    token=cname,
                )
            cls_arrays.append(arrs)

        # RANDOM: shuffle each class's events not yet assigned to training or testing
        undefined = [np.flatnonzero(a["ttype"] == 2) for a in cls_arrays]
        if "RANDOM" in split:
            for u in undefined:
                shuffle(u, rng, stdlib)

        train_idx: list[np.ndarray] = []
        test_idx: list[np.ndarray] = []
        for ci, a in enumerate(cls_arrays):
            cname = self._classes[ci]
            tr = np.flatnonzero(a["ttype"] == 0)
            te = np.flatnonzero(a["ttype"] == 1)
            un = undefined[ci]
            r, s, u = len(tr), len(te), len(un)
            ev = per_class[ci]
            req_train, req_test, use_train, use_test = split_counts(
                o, cname, r, s, u, ev.n_before, ev.n_after
            )
            allav = r + s + u
            if split == "ALTERNATE":
                is_train = alternate_to_training(u, r, req_train)
                tr = np.concatenate([tr, un[is_train]])
                te = np.concatenate([te, un[~is_train]])
            else:
                if u < use_train - r or u < use_test - s or u < use_train + use_test - r - s:
                    raise InputDataError(
                        f"class {cname!r}: more events requested than available after cuts "
                        f"(training {req_train}, testing {req_test}, available {allav})",
                        token=f"nTrain_{cname}",
                        expected=[f"nTrain+nTest <= {allav}"],
                    )
                n1 = max(use_train - r, 0)
                tr = np.concatenate([tr, un[:n1]])
                if use_test > s:
                    te = np.concatenate([te, un[n1 : n1 + use_test - s]])
            if "RANDOM" in split:
                tr = _random_trim(tr, req_train, rng, stdlib)
                te = _random_trim(te, req_test, rng, stdlib)
            else:
                tr, te = tr[:req_train], te[:req_test]
            if len(tr) < req_train or len(te) < req_test:
                # TMVA delivers fewer events here (Random) or warns and misbehaves (Block/Alternate)
                raise InputDataError(
                    f"class {cname!r}: more events requested than available after cuts: nTrain_{cname} = "
                    f"{req_train} and nTest_{cname} = {req_test}, but only {len(tr)} training and {len(te)} "
                    f"test events can be given ({allav} events in all)",
                    token=f"nTrain_{cname}",
                    expected=[f"nTrain_{cname} + nTest_{cname} <= {allav}"],
                )
            train_idx.append(tr)
            test_idx.append(te)

        # NormMode: rescale TRAINING weights per class (testing weights are left as they are)
        factors = np.ones(len(cls_arrays))
        if norm != "NONE":
            sums = [
                float(np.sum(a["W"][tr].astype(np.float64)))
                for a, tr in zip(cls_arrays, train_idx, strict=True)
            ]
            ref = float(np.float32(len(train_idx[0])))
            for ci, sw in enumerate(sums):
                if sw == 0.0:
                    raise InputDataError(
                        f"the training events of class {self._classes[ci]!r} have a sum of weights of 0; "
                        f"NormMode={o.NormMode} cannot renormalise them",
                        token=self._classes[ci],
                    )
                n = float(np.float32(len(train_idx[ci]))) if norm == "NUMEVENTS" else ref
                factors[ci] = n / sw

        def gather(idx_list: list[np.ndarray], scale: bool) -> dict[str, np.ndarray]:
            # indices into the all-classes arrays, in TMVA's mixed order; one row gather per quantity
            glob = np.concatenate([offsets[ci] + idx for ci, idx in enumerate(idx_list)]).astype(np.int64)
            cls = np.concatenate([np.full(len(idx), ci, np.int32) for ci, idx in enumerate(idx_list)])
            order = _mix_order([len(i) for i in idx_list], mix, rng, stdlib)
            glob, cls = glob[order], cls[order]
            out = {k: np.take(every[k], glob, axis=0) for k in ("X", "T", "S", "entry", "source")}
            out["W0"] = np.take(every["W"], glob).astype(np.float64)
            out["W"] = out["W0"] * factors[cls] if scale else out["W0"].copy()
            out["cls"] = cls
            return out

        train = gather(train_idx, True)
        test = gather(test_idx, False)
        if len(train["W"]) == 0:
            raise InputDataError(f"dataset {self.name!r} has no training events")
        if len(test["W"]) == 0:
            _warn(f"dataset {self.name!r} has no test events (TMVA: 'guess that will cause problems later')")

        variables = self._ranged(self._variables, train["X"], "variable")
        targets = self._ranged(self._targets, train["T"], "target")
        spectators = self._ranged(self._spectators, train["S"], None)
        classes = tuple(
            ClassInfo(c, i, self._cuts.get(c, ""), self._weights.get(c, ""))
            for i, c in enumerate(self._classes)
        )

        def sample(d: dict[str, np.ndarray]) -> Sample:
            return Sample(d["X"], d["T"], d["S"], d["W"], d["W0"], d["cls"], d["source"], d["entry"])

        return DataSet(
            self.name,
            sample(train),
            sample(test),
            variables,
            classes,
            targets,
            spectators,
            self.analysis_type,
            tuple(sources),
            dict(o.items()),
        )

    @staticmethod
    def _ranged(infos: list[VariableInfo], arr: np.ndarray, what: str | None) -> tuple[VariableInfo, ...]:
        out = []
        for j, info in enumerate(infos):
            col = arr[:, j]
            lo, hi = (float(col.min()), float(col.max())) if len(col) else (FLT_MAX, -FLT_MAX)
            if what is not None and len(col) and abs(hi - lo) <= _FLT_MIN:
                raise InputDataError(
                    f"{what} {info.label!r} ({info.formula!r}) is constant ({lo}) in the training sample; "
                    f"TMVA stops here: please remove the {what}",
                    token=info.formula,
                )
            out.append(info.with_range(lo, hi))
        return tuple(out)

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.name!r}: {len(self._variables)} variables, classes {self._classes}, "
            f"{len(self._inputs)} trees)"
        )


def _expand_globs(parts: list[Any]) -> list[Any]:
    """TChain::Add's wildcards: ``"data_*.root:tree"`` becomes the matching files, sorted; a pattern that
    matches nothing is an error naming it."""
    import glob

    out: list[Any] = []
    for part in parts:
        if isinstance(part, (str, os.PathLike)):
            path, name = _split_spec(os.fspath(part))
            if glob.has_magic(path):
                found = sorted(glob.glob(path))
                if not found:
                    raise InputFileNotFoundError(f"no file matches {path!r} (tree {part!r})", token=path)
                out.extend(f"{p}:{name}" for p in found)
                continue
        out.append(part)
    return out


def alternate_to_training(u: int, r: int, req_train: int) -> np.ndarray:
    """SplitMode=Alternate: which of a class's ``u`` undefined events (in reading order) go to training,
    given ``r`` events already assigned to training and ``req_train`` requested. One to training (while it
    still needs events), one to testing, in turn; after that every event goes to testing.

    >>> alternate_to_training(7, 0, 2).astype(int).tolist()
    [1, 0, 1, 0, 0, 0, 0]
    """
    k = np.arange(u)
    n_tr_from_u = max(min(req_train - r, (u + 1) // 2), 0)
    return (k < 2 * n_tr_from_u) & (k % 2 == 0)


def split_counts(
    o: Any, cname: str, r: int, s: int, u: int, n_before: int = 0, n_after: int = 0
) -> tuple[int, int, int, int]:
    """TMVA's event counts of one class (``DataSetFactory::MixEvents``): from the options ``o``, the class's
    events already assigned to training (``r``) and testing (``s``) and the undefined ones (``u``), the
    requested ``(req_train, req_test)`` and the numbers ``(use_train, use_test)`` to take; ``n_before`` /
    ``n_after`` are the class's events before and after the cuts (``ScaleWithPreselEff``)."""
    scale = 1.0
    if o.ScaleWithPreselEff:
        scale = float(np.float32(n_after) / np.float32(n_before)) if n_before else 1.0
    req_train = int(o[f"nTrain_{cname}"])
    req_test = int(o[f"nTest_{cname}"])
    # TMVA keeps the fraction in a Float_t and multiplies in float: 0.29 * 100 gives 29, not 28
    tts = np.float32(o[f"TrainTestSplit_{cname}"])
    if 0.0 < tts < 1.0:
        req_train, req_test = int(tts * np.float32(r + s + u)), 0
        if req_train == 0:
            # TMVA would fall back to its balanced half/half split without a word
            raise OptionError(
                f"TrainTestSplit_{cname}={float(o[f'TrainTestSplit_{cname}'])!r} of the {r + s + u} "
                f"events of class {cname!r} gives 0 training events (TMVA would then silently "
                f"split the class half and half); give a fraction of at least 1/{r + s + u}, "
                f"or nTrain_{cname}",
                token=f"TrainTestSplit_{cname}",
                expected=[f"a fraction in [{1 / max(1, r + s + u):.3g}, 1]"],
            )
    elif tts != 0.0 and tts != 1.0:
        raise OptionError(
            f"TrainTestSplit_{cname} must be in (0, 1], got {tts}",
            token=f"TrainTestSplit_{cname}",
            expected=["a number in (0, 1]"],
        )
    req_train, req_test = int(req_train * scale), int(req_test * scale)
    if req_train < 0 or req_test < 0:
        raise OptionError(f"nTrain_{cname}/nTest_{cname} must not be negative", token=f"nTrain_{cname}")
    allav = r + s + u
    if req_train == 0 and req_test == 0:
        if u >= abs(r - s):
            use_train = use_test = allav // 2
        else:
            use_train, use_test = r, s
            if r < s:
                use_train += u
            else:
                use_test += u
        req_train, req_test = use_train, use_test
    elif req_test == 0:
        use_train = max(req_train, r)
        if allav < use_train:
            raise InputDataError(
                f"more events requested for training of class {cname!r} (nTrain_{cname}={req_train}) "
                f"than available after cuts ({allav})",
                token=f"nTrain_{cname}",
                expected=[f"at most {allav}"],
            )
        use_test = allav - use_train
        req_test = use_test
    elif req_train == 0:
        use_test = max(req_test, s)
        if allav < use_test:
            raise InputDataError(
                f"more events requested for testing of class {cname!r} (nTest_{cname}={req_test}) "
                f"than available after cuts ({allav})",
                token=f"nTest_{cname}",
                expected=[f"at most {allav}"],
            )
        use_train = allav - use_test
        req_train = use_train
    else:
        need_tr = max(req_train - r, 0)
        need_te = max(req_test - s, 0)
        nfree = max(u - need_tr - need_te, 0)
        use_train = max(req_train, r) + nfree // 2
        use_test = allav - use_train
    return req_train, req_test, use_train, use_test


def _looks_like_options(text: str) -> bool:
    """An option string rather than a cut: ``Key=value`` pieces or ``!Flag`` (a cut has ``==``, not ``=``)."""
    stripped = text.replace("==", "").replace("!=", "").replace(">=", "").replace("<=", "")
    return "=" in stripped or text.lstrip().startswith("!")


def _random_trim(idx: np.ndarray, requested: int, rng: RandomGenerator, stdlib: str) -> np.ndarray:
    """TMVA's random removal: shuffle positions, drop the first (size - requested), keep the order."""
    size = len(idx)
    if size <= requested:
        return idx
    drop = permutation(size, rng, stdlib)[: size - requested]
    keep = np.ones(size, bool)
    keep[drop] = False
    return idx[keep]


def _mix_order(
    sizes: list[int], mix: str, rng: RandomGenerator | None, stdlib: str = STDLIBS[0]
) -> np.ndarray:
    """Positions of the class-concatenated events in TMVA's mixed order (MixMode)."""
    total = int(sum(sizes))
    if mix == "ALTERNATE" and len(sizes) > 1:
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        vec = np.arange(offsets[0], offsets[1])
        for cls in range(1, len(sizes)):
            new = np.arange(offsets[cls], offsets[cls + 1])
            length = len(vec)
            # k-th event goes to position (k+1)*(cls+1)-1 while length >= (k+1)*cls; the rest is appended
            m = min(len(new), length // cls)
            out = np.empty(length + len(new), np.int64)
            pos = (np.arange(m) + 1) * (cls + 1) - 1
            mask = np.zeros(length + m, bool)
            mask[pos] = True
            mid = np.empty(length + m, np.int64)
            mid[mask] = new[:m]
            mid[~mask] = vec
            out[: length + m] = mid
            out[length + m :] = new[m:]
            vec = out
        return vec
    if mix == "RANDOM" and rng is not None:
        return permutation(total, rng, stdlib)  # the mixed vector's k-th event is the order[k]-th one
    return np.arange(total)
