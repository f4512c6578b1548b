"""TMVA's ``MethodCrossValidation`` weight file: the combined model of a k-fold CrossValidation.

TMVA's ``CrossValidation::Evaluate`` writes one weight file per fold,
``<dir>/<JobName>_<Title>_fold<k>.weights.xml`` (an ordinary method file, title ``<Title>_fold<k>``), and a
combined file ``<dir>/<JobName>_<Title>.weights.xml`` with ``Method="CrossValidation::<Title>"`` whose
``<Weights>`` element holds only the attributes ``JobName``, ``SplitExpr``, ``NumFolds``,
``EncapsulatedMethodName``, ``EncapsulatedMethodTypeName`` and ``OutputEnsembling``
(``MethodCrossValidation::AddWeightsXMLTo``). Reading it loads the fold files from the combined file's
folder (``GetWeightFileNameForFold``).

Applying it (``MethodCrossValidation::GetMvaValue``): with ``OutputEnsembling=None`` each event goes to the
fold given by the split expression evaluated on its spectators (``CvSplitKFoldsExpr::Eval``: ``[name]`` is a
spectator found by internal name, label or expression, ``NumFolds``/``numFolds`` the number of folds, the
value rounded with ``lround`` and refused outside ``0..NumFolds-1``); with ``Avg`` the folds' outputs are
averaged. A random split (empty ``SplitExpr``) cannot be reproduced per event outside the job that made
it: TMVA's Reader has no fold for such an event, and neither does this one (use ``Avg`` or a SplitExpr).

Example:
    >>> cv = load_weights("dataset/weights/TMVACrossValidation_DNN.weights.xml")   # doctest: +SKIP
    >>> cv.num_folds, cv.evaluate({"var1": [0.1], "var2": [0.3], "eventID": [7]})  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.atomicfile import atomic_path
from tmvacompat.errors import InputDataError, WeightFileError
from tmvacompat.weightfile.model import Model, VariableInfo, inputs_from_data
from tmvacompat.weightfile.xmlwrite import _emit, _Node, _variable_attrs

__all__ = [
    "CrossValidationModel",
    "fold_weight_file",
    "split_expression_folds",
    "cv_model_from_element",
    "WEIGHTS_ATTRIBUTES",
]

#: the attributes of ``<Weights>`` in MethodCrossValidation's file, in TMVA's order
WEIGHTS_ATTRIBUTES = (
    "JobName",
    "SplitExpr",
    "NumFolds",
    "EncapsulatedMethodName",
    "EncapsulatedMethodTypeName",
    "OutputEnsembling",
)
_BRACKET = re.compile(r"\[([A-Za-z_][A-Za-z0-9_.]*)\]")


def fold_weight_file(directory: str, job_name: str, title: str, fold: int) -> str:
    """``<directory>/<job>_<title>_fold<fold+1>.weights.xml`` (``GetWeightFileNameForFold``; ``fold`` from 0).

    >>> fold_weight_file("dataset/weights", "CV", "DNN", 0)
    'dataset/weights/CV_DNN_fold1.weights.xml'
    """
    return f"{directory}/{job_name}_{title}_fold{int(fold) + 1}.weights.xml"


def split_expression_folds(
    expression: str, spectators: Sequence[VariableInfo], values: np.ndarray, num_folds: int
) -> np.ndarray:
    """The fold of every event from TMVA's split expression over its spectator ``values`` (n, nspec).

    >>> specs = [VariableInfo.of("eventID")]
    >>> split_expression_folds("int([eventID])%int([NumFolds])", specs, np.array([[0.], [4.], [5.]]), 3)
    array([0, 1, 2])
    """
    from tmvacompat.data.expressions import evaluate, parse

    names: dict[str, str] = {}

    def column(match: re.Match) -> str:
        name = match.group(1)
        key = f"__cv{len(names)}"
        names.setdefault(name, key)
        return names[name]

    text = _BRACKET.sub(column, expression)
    try:
        parse(text)
    except Exception as err:
        raise InputDataError(
            f'Split expression "{expression}" is not a valid TFormula: {err}',
            token=expression,
            expected=["int([eventID])%int([NumFolds])"],
        ) from None
    values = np.asarray(values, np.float64).reshape(len(values), -1) if len(spectators) else values
    n = len(values)
    fields: dict[str, Any] = {"__n__": np.zeros(n)}
    for name, key in names.items():
        if name in ("NumFolds", "numFolds"):
            fields[key] = np.full(n, float(num_folds))
            continue
        found = [i for i, s in enumerate(spectators) if name in (s.internal, s.label, s.expression)]
        if not found:
            raise InputDataError(
                f'Spectator "{name}" not found: the split expression {expression!r} may use the spectators '
                f"{[s.label for s in spectators]} and NumFolds",
                token=name,
                expected=[s.label for s in spectators] or ["a spectator booked with AddSpectator"],
            )
        fields[key] = values[:, found[0]].astype(np.float64)
    folds_d = np.broadcast_to(np.asarray(evaluate(text, fields), np.float64), (n,))
    if np.any(~np.isfinite(folds_d)) or np.any(folds_d < 0):
        raise InputDataError(
            f"Output of splitExpr {expression!r} must be non-negative (got {folds_d[~(folds_d >= 0)][0]})",
            token=expression,
        )
    folds = np.floor(folds_d + 0.5).astype(np.int64)  # std::lround of a non-negative value
    if np.any(folds >= num_folds):
        raise InputDataError(
            f"Output of splitExpr {expression!r} should be an integer between 0 and NumFolds-1 = "
            f"{num_folds - 1} inclusive (got {int(folds.max())})",
            token=expression,
        )
    return folds


@dataclass
class CrossValidationModel:
    """The combined CrossValidation model: the fold models and how an event picks its fold.

    It answers like a :class:`~tmvacompat.weightfile.Model` (``evaluate``, ``input_matrix``,
    ``evaluate_matrix``); its input matrix holds the variables followed by the spectators, which the split
    expression reads.
    """

    title: str
    job_name: str
    split_expr: str
    num_folds: int
    method_name: str
    method_type: str
    output_ensembling: str
    folds: list[Model]
    variables: list[VariableInfo]
    spectators: list[VariableInfo]
    classes: list[str]
    analysis_type: str = "Classification"
    general_info: list[tuple[str, str]] = field(default_factory=list)
    options: list[tuple[str, bool, str]] = field(default_factory=list)
    path: str | None = None
    method: str = "CrossValidation"
    targets: list[VariableInfo] = field(default_factory=list)
    mva_pdfs: Any = None
    transforms: Any = None

    @property
    def needs_spectators(self) -> bool:
        return True

    @property
    def n_outputs(self) -> int:
        return self.folds[0].n_outputs

    def event_row_outputs(self, buffers: Any) -> None:
        """No one-event fast path: the Reader builds the row (variables, then spectators)."""
        return None

    def option(self, name: str, default: str | None = None) -> str | None:
        for n, _, text in self.options:
            if n == name:
                return text
        return default

    # ------------------------------------------------------------------ evaluation
    def input_matrix(self, data: Any) -> np.ndarray:
        """(n, nvar + nspec) float32: the variables, then the spectators (for the split expression)."""
        where = self.path or self.title
        width = len(self.variables) + len(self.spectators)
        if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == width and self.spectators:
            return np.asarray(data, np.float32)
        x = inputs_from_data(data, self.variables, where=where)
        if not self.spectators:
            return x
        if isinstance(data, np.ndarray) and data.ndim == 2 and data.shape[1] == x.shape[1]:
            raise InputDataError(
                f"{self.title!r} is a CrossValidation model: its split expression needs the spectators "
                f"{[s.label for s in self.spectators]}; pass fields by name or the columns variables then "
                f"spectators",
                token="spectators",
                where=where,
            )
        s = inputs_from_data(data, self.spectators, where=where)
        return np.concatenate([x, s], axis=1)

    def event_folds(self, spectator_values: np.ndarray) -> np.ndarray:
        """The fold each event is given to (OutputEnsembling=None)."""
        if not self.split_expr:
            raise InputDataError(
                f"{self.title!r} was trained with a random fold split (empty SplitExpr): which fold did not "
                f"see an event is known only inside the CrossValidation job; TMVA's Reader cannot apply it "
                f"per event either. Use OutputEnsembling=Avg or a SplitExpr such as "
                f"int([eventID])%int([NumFolds])",
                token="SplitExpr",
                where=self.path,
            )
        return split_expression_folds(self.split_expr, self.spectators, spectator_values, self.num_folds)

    def evaluate_matrix(self, x: np.ndarray, folds: np.ndarray | None = None) -> np.ndarray:
        """Outputs for an input matrix from :meth:`input_matrix`; ``folds`` overrides the fold per event
        (what the CrossValidation job uses for a random split)."""
        x = np.asarray(x, np.float32)
        nvar = len(self.variables)
        xv = np.ascontiguousarray(x[:, :nvar])
        if self.output_ensembling.lower() == "avg":
            total = None
            for m in self.folds:
                v = np.asarray(m.evaluate_matrix(xv), np.float64)
                total = v if total is None else total + v
            return total / len(self.folds)
        if folds is None:
            folds = self.event_folds(x[:, nvar:])
        folds = np.asarray(folds, np.int64)
        out = None
        for k in range(self.num_folds):
            idx = np.flatnonzero(folds == k)
            if not len(idx):
                continue
            v = np.asarray(self.folds[k].evaluate_matrix(xv[idx]))
            if out is None:
                out = np.empty((len(x), *v.shape[1:]), v.dtype)
            out[idx] = v
        if out is None:
            return np.asarray(self.folds[0].evaluate_matrix(xv[:0]))
        return out

    def evaluate(self, data: Any, folds: np.ndarray | None = None) -> np.ndarray:
        """TMVA's MethodCrossValidation response for every event of ``data`` (fields by name)."""
        return self.evaluate_matrix(self.input_matrix(data), folds)

    # ------------------------------------------------------------------ XML
    def to_xml(self) -> str:
        """The combined weight file's text (MethodBase's header elements, then ``<Weights .../>``)."""
        root = _Node("MethodSetup", [("Method", f"CrossValidation::{self.title}")])
        gi = root.add("GeneralInfo")
        for name, value in self.general_info:
            gi.add("Info", [("name", name), ("value", value)])
        opts = root.add("Options")
        for name, modified, text in self.options:
            opts.add("Option", [("name", name), ("modified", "Yes" if modified else "No")], text=text)
        vs = root.add("Variables", [("NVar", str(len(self.variables)))])
        for i, v in enumerate(self.variables):
            vs.add("Variable", _variable_attrs("VarIndex", i, v, "lossless"))
        sp = root.add("Spectators", [("NSpec", str(len(self.spectators)))])
        for i, v in enumerate(self.spectators):
            sp.add("Spectator", _variable_attrs("SpecIndex", i, v, "lossless"))
        cl = root.add("Classes", [("NClass", str(len(self.classes)))])
        for i, c in enumerate(self.classes):
            cl.add("Class", [("Name", c), ("Index", str(i))])
        root.add("Transformations", [("NTransformations", "0")])
        root.add("MVAPdfs")
        values = {
            "JobName": self.job_name,
            "SplitExpr": self.split_expr,
            "NumFolds": str(self.num_folds),
            "EncapsulatedMethodName": self.method_name,
            "EncapsulatedMethodTypeName": self.method_type,
            "OutputEnsembling": self.output_ensembling,
        }
        root.add("Weights", [(k, values[k]) for k in WEIGHTS_ATTRIBUTES])
        out = ['<?xml version="1.0"?>']
        _emit(root, 0, out)
        return "\n".join(out) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write the combined file atomically (the fold files are written by whoever trained the folds)."""
        text = self.to_xml()
        with atomic_path(path, error=WeightFileError, what="weight file") as tmp:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)


def _general_and_options(root: Any) -> tuple[list[tuple[str, str]], list[tuple[str, bool, str]]]:
    gi = root.find("GeneralInfo")
    general = (
        [(c.get("name", ""), c.get("value", "")) for c in gi if c.tag == "Info"] if gi is not None else []
    )
    op = root.find("Options")
    options = (
        [(c.get("name", ""), c.get("modified", "No") == "Yes", c.text or "") for c in op if c.tag == "Option"]
        if op is not None
        else []
    )
    return general, options


def cv_model_from_element(
    root: Any, path: str = "<memory>", fold_texts: Sequence[bytes | str] | None = None
) -> CrossValidationModel:
    """A :class:`CrossValidationModel` from a parsed ``CrossValidation::`` ``<MethodSetup>``; the fold files
    are read from the file's folder, or taken from ``fold_texts`` (their XML, fold 1 first)."""
    from tmvacompat.weightfile.xmlread import _attr, _child, _int, _variables, load_weights, model_from_bytes

    where = f"{path}: MethodSetup"
    title = _attr(root, "Method", where).split("::", 1)[1]
    w = _child(root, "Weights", where)
    ww = f"{where}/Weights"
    job = _attr(w, "JobName", ww)
    nfold = _int(w, "NumFolds", ww, lo=1)
    name = _attr(w, "EncapsulatedMethodName", ww)
    mtype = _attr(w, "EncapsulatedMethodTypeName", ww)
    ens = _attr(w, "OutputEnsembling", ww, default="None")
    if ens not in ("None", "Avg"):
        raise WeightFileError(
            f"OutputEnsembling={ens!r} is unknown", where=ww, token=ens, expected=["None", "Avg"]
        )
    variables = _variables(root.find("Variables"), "Variable", "NVar", "VarIndex", f"{where}/Variables")
    spectators = _variables(root.find("Spectators"), "Spectator", "NSpec", "SpecIndex", f"{where}/Spectators")
    cl = root.find("Classes")
    classes = [c.get("Name", "") for c in cl if c.tag == "Class"] if cl is not None else []
    folds: list[Model] = []
    if fold_texts is not None:
        if len(fold_texts) != nfold:
            raise WeightFileError(
                f"{len(fold_texts)} fold files given for NumFolds={nfold}", where=ww, token="NumFolds"
            )
        for k, text in enumerate(fold_texts):
            data = text.encode() if isinstance(text, str) else text
            folds.append(model_from_bytes(data, fold_weight_file("<memory>", job, name, k)))
    else:
        folder = os.path.dirname(path) or "."
        for k in range(nfold):
            fold_path = fold_weight_file(folder, job, name, k)
            if not os.path.exists(fold_path):
                raise WeightFileError(
                    f"the fold weight file {fold_path!r} of CrossValidation::{title} does not exist (TMVA "
                    f"reads "
                    f"the {nfold} fold files from the combined file's folder)",
                    where=path,
                    token=os.path.basename(fold_path),
                )
            folds.append(load_weights(fold_path))
    general, options = _general_and_options(root)
    return CrossValidationModel(
        title=title,
        job_name=job,
        split_expr=_attr(w, "SplitExpr", ww, default=""),
        num_folds=nfold,
        method_name=name,
        method_type=mtype,
        output_ensembling=ens,
        folds=folds,
        variables=variables,
        spectators=spectators,
        classes=classes,
        analysis_type=folds[0].analysis_type,
        general_info=general,
        options=options,
        path=path,
    )
