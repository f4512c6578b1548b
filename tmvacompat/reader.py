"""``TMVA::Reader`` for Python: book weight files and evaluate them, event by event or in batches.

The per-event API is the one C++ and PyROOT code uses: bind one-element buffers with
:meth:`Reader.AddVariable`, fill them, call :meth:`Reader.EvaluateMVA`. The same three evaluate methods also
take a batch (a 2-D array with one column per variable, or a mapping / awkward array / uproot TTree whose
fields provide the variable expressions) and return arrays.

As in TMVA, the variables and the spectators must be booked in the file's order with the file's
expressions (blanks aside; for ``"myvar1 := var1+var2"`` the part after ``:=`` is compared, as
TMVAClassificationApplication.C books them); a mismatch names both lists. A Reader with no variables booked
at all adopts each file's own variables (batch use only).

Evaluation keeps no shared mutable state: each call builds its own input row, and each thread evaluates
with its own engine buffers, so one Reader may be used from several threads.

Example:
    >>> import numpy as np
    >>> from tmvacompat.reader import Reader
    >>> reader = Reader("!Color:Silent")
    >>> v1, v2 = np.zeros(1, np.float32), np.zeros(1, np.float32)
    >>> reader.AddVariable("var1", v1); reader.AddVariable("var2", v2)            # doctest: +SKIP
    >>> reader.BookMVA("DL", "dataset/weights/TMVAClassification_DL.weights.xml")  # doctest: +SKIP
    >>> v1[0], v2[0] = 0.3, -1.2
    >>> reader.EvaluateMVA("DL")                                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from tmvacompat.data.expressions import canonical, split_label
from tmvacompat.errors import InputDataError, OptionError, WeightFileError, closest
from tmvacompat.methods.declarations import READER_OPTIONS
from tmvacompat.weightfile.model import NAN_RESPONSE, Model
from tmvacompat.weightfile.xmlread import load_weights

#: TMVA's "no value given" default of GetProba / GetRarity's mvaVal
MVA_VAL_DEFAULT = -9999999.0


@dataclass
class _Booked:
    model: Model
    buffers: tuple  # one per variable, in file order (None when the Reader adopted the file's variables)
    nvar: int


class Reader:
    """TMVA's Reader: ``AddVariable``, ``AddSpectator``, ``BookMVA``, ``EvaluateMVA``,
    ``EvaluateRegression``, ``EvaluateMulticlass``, ``GetProba``, ``GetRarity``.

    >>> Reader("!Color:!Silent").options
    {'Color': False, 'Silent': False}
    """

    def __init__(self, options: str = "", verbose: bool | None = None) -> None:
        vals = READER_OPTIONS.parse(options)
        self.options: dict[str, bool] = {n: bool(v) for n, v in vals.items() if vals.modified(n)}
        if verbose is not None:
            self.options["V"] = bool(verbose)
        self._variables: list[tuple[str, Any]] = []
        self._spectators: list[tuple[str, Any]] = []
        self._booked: dict[str, _Booked] = {}

    # ------------------------------------------------------------------ booking
    def AddVariable(self, expression: str, buffer=None) -> None:  # noqa: N802 - TMVA's API
        """Declare the next input variable and the one-element buffer it is read from (numpy array or
        ``array.array('f')``; may be None for batch-only use)."""
        self._check_buffer(expression, buffer)
        if self._booked:
            raise OptionError("AddVariable must come before BookMVA (as in TMVA)", token=str(expression))
        self._variables.append((str(expression), buffer))

    def AddSpectator(self, expression: str, buffer=None) -> None:  # noqa: N802
        """Declare a spectator (not used by the response; as in TMVA its expression must match the file's)."""
        self._check_buffer(expression, buffer)
        if self._booked:
            raise OptionError("AddSpectator must come before BookMVA (as in TMVA)", token=str(expression))
        self._spectators.append((str(expression), buffer))

    @staticmethod
    def _check_buffer(expression, buffer) -> None:
        if buffer is None:
            return
        try:
            len(buffer)
            float(buffer[0])
        except (TypeError, IndexError, ValueError):
            raise InputDataError(
                f"buffer for {expression!r} must be a one-element array (numpy array or array.array('f'))",
                token=str(expression),
            ) from None

    def BookMVA(self, title: str, path: str | os.PathLike | Model) -> Model:  # noqa: N802
        """Read a weight file (or take a loaded :class:`Model`) and register it under ``title``.

        Raises:
            WeightFileError: unreadable / unsupported file, or variables / spectators that do not match the
                ones booked with AddVariable / AddSpectator (both lists are named).
        """
        model = path if isinstance(path, Model) else load_weights(path)
        if getattr(model, "method", "") == "AE":  # an AE:: document: TMVA's Reader has no MethodAE
            raise WeightFileError(
                f"{model.path or title}: {model.method}::{model.title} is a MethodAE file, which TMVA's "
                "Reader cannot book; book its halves (load_weights(...).encoder / .decoder, DL models) or "
                "use "
                "load_weights(...).anomaly_score / reconstruct",
                token=model.method,
                expected=["DL", "DNN"],
            )
        where = model.path or str(title)
        file_vars = [v.expression for v in model.variables]
        if self._variables:
            # TMVA compares the expression part of "label := expression" (MethodBase::ReadVariablesFromXML)
            _match(
                "variables",
                [e for e, _ in self._variables],
                file_vars,
                where,
                "AddVariable",
            )
            _match(
                "spectators",
                [e for e, _ in self._spectators],
                [v.expression for v in model.spectators],
                where,
                "AddSpectator",
            )
            buffers = tuple(b for _, b in self._variables)
        else:
            buffers = (None,) * len(file_vars)
        nvar = len(file_vars)
        if getattr(model, "needs_spectators", False):
            # MethodCrossValidation picks each event's fold from its spectators: their buffers are inputs too
            nspec = len(model.spectators)
            buffers += tuple(b for _, b in self._spectators) if self._variables else (None,) * nspec
            nvar += nspec
        self._booked[str(title)] = _Booked(model, buffers, nvar)
        return model

    def _get(self, title: str) -> _Booked:
        try:
            return self._booked[str(title)]
        except KeyError:
            names = list(self._booked)
            raise OptionError(
                f"no method booked under {title!r}",
                token=str(title),
                expected=closest(str(title), names) or names,
            ) from None

    # ------------------------------------------------------------------ evaluation
    def _event_row(self, booked: _Booked, title: str) -> np.ndarray:
        x = np.empty((1, booked.nvar), dtype=np.float32)
        try:
            for j, buf in enumerate(booked.buffers):
                x[0, j] = buf[0]
        except TypeError:
            raise InputDataError(
                f"{title!r}: per-event evaluation needs buffers bound with AddVariable; pass a batch instead",
                token=str(title),
            ) from None
        return x

    def _batch(self, booked: _Booked, data) -> np.ndarray:
        sources = isinstance(data, (list, tuple)) and any(isinstance(d, (str, os.PathLike)) for d in data)
        if isinstance(data, np.ndarray) or (isinstance(data, (list, tuple)) and not sources):
            arr = np.asarray(data)
            if arr.ndim == 1 and arr.shape[0] == booked.nvar:
                arr = arr[None, :]
            return booked.model.input_matrix(arr)
        return booked.model.input_matrix(data)

    def _evaluate(self, title: str, data, kinds: tuple[str, ...], fn: str):
        booked = self._get(title)
        model = booked.model
        if model.analysis_type not in kinds:
            right = {
                "Classification": "EvaluateMVA",
                "Regression": "EvaluateRegression",
                "Multiclass": "EvaluateMulticlass",
            }[model.analysis_type]
            raise OptionError(
                f"{title!r} is a {model.analysis_type} model: use {right}, not {fn}",
                token=fn,
                expected=[right],
            )
        single = data is None
        x = self._event_row(booked, title) if single else self._batch(booked, data)
        return model.evaluate_matrix(x), single

    def _fast_event(self, title, kind: str):
        """The one-event fast path for a plain dense model (see :meth:`Model.event_row_outputs`): its output
        row and NaN flag, or None (then the generic path runs, with all its checks and messages)."""
        booked = self._booked.get(title) if type(title) is str else None
        if booked is None or booked.model.analysis_type != kind:
            return None
        return booked.model.event_row_outputs(booked.buffers)

    def EvaluateMVA(self, title: str, data=None, aux: float = 0.0):  # noqa: N802
        """Classifier response: a float for the bound buffers, or an (n,) array for a batch.

        An event with a NaN input gives -999, as in TMVA.
        """
        if data is None:
            fast = self._fast_event(title, "Classification")
            if fast is not None:
                v = fast[0][0, 0]
                return NAN_RESPONSE if v != v else float(v)
        out, single = self._evaluate(title, data, ("Classification",), "EvaluateMVA")
        return float(out[0]) if single else out

    def EvaluateRegression(self, title: str, data=None):  # noqa: N802
        """Regression targets (inverse-transformed): an (ntargets,) array per event, or (n,) / (n, nt).

        As in TMVA, an event with a NaN input is not mapped to -999: its values are NaN (with a warning).
        """
        if data is None:
            fast = self._fast_event(title, "Regression")
            if fast is not None:
                out, nbad = fast
                res = self._booked[title].model.finish_outputs(out, np.ones(1, bool) if nbad else None)
                return np.atleast_1d(res[0]).astype(np.float32)
        out, single = self._evaluate(title, data, ("Regression",), "EvaluateRegression")
        if single:
            return np.atleast_1d(out[0]).astype(np.float32)
        return out

    def EvaluateMulticlass(self, title: str, data=None):  # noqa: N802
        """Class probabilities (softmax): an (nclasses,) array per event, or (n, nclasses) for a batch.

        As in TMVA, an event with a NaN input is not mapped to -999: its values are NaN (with a warning).
        """
        if data is None:
            fast = self._fast_event(title, "Multiclass")
            if fast is not None:
                out, nbad = fast
                if nbad:
                    return self._booked[title].model.finish_outputs(out, np.ones(1, bool))[0]
                return out[0].astype(np.float32, copy=True)  # the row is this thread's scratch
        out, single = self._evaluate(title, data, ("Multiclass",), "EvaluateMulticlass")
        return out[0].copy() if single else out

    # ------------------------------------------------------------------ probability and rarity
    def _mva_for(self, title: str, mva_val):
        """The classifier outputs GetProba / GetRarity work on: ``mva_val`` (a number or an array), or, at
        TMVA's default -9999999, the response to the bound buffers (None for an event with a NaN input)."""
        booked = self._get(title)
        if booked.model.analysis_type != "Classification":
            raise OptionError(
                f"{title!r} is a {booked.model.analysis_type} model: probability and rarity need a "
                "classifier",
                token=str(title),
            )
        if np.ndim(mva_val) == 0 and float(mva_val) == MVA_VAL_DEFAULT:
            x = self._event_row(booked, title)
            if np.isnan(x).any():
                return None
            return booked.model.evaluate_matrix(x)[:1]
        return np.asarray(mva_val, np.float64)

    def GetProba(self, title: str, ap_sig: float = 0.5, mvaVal=MVA_VAL_DEFAULT):  # noqa: N802, N803
        """TMVA's ``Reader::GetProba``: the signal probability of a classifier output from the method's
        signal and background PDFs (``CreateMVAPdfs``), ``p_S ap / (p_S ap + p_B (1 - ap))`` with the a-priori
        signal fraction ``ap_sig``; -1 where that denominator is not positive.

        Without ``mvaVal`` the response to the bound buffers is used (an event with a NaN input gives -999,
        as in TMVA); ``mvaVal`` may also be an array of outputs (returns an array).

        Raises:
            WeightFileError: the weight file holds no MVA PDFs (TMVA warns and returns -1).

        >>> reader.GetProba("DL", 0.5, 0.8)  # doctest: +SKIP
        """
        mva = self._mva_for(title, mvaVal)
        model = self._get(title).model
        if mva is None:
            model.proba(np.zeros(1))  # no PDFs -> the same error as for a valid event
            return NAN_RESPONSE
        out = model.proba(mva, float(ap_sig))
        return float(out[0]) if np.ndim(mvaVal) == 0 else out.reshape(np.shape(mvaVal))

    def GetRarity(self, title: str, mvaVal=MVA_VAL_DEFAULT):  # noqa: N802, N803
        """TMVA's ``Reader::GetRarity``: the background PDF integrated from its lower edge up to the
        classifier output (TMVA's bin sum: 0 below the PDF's range, about 1 at its upper edge, growing
        past it with the last bin's density, and the whole first bin for outputs inside it).

        Without ``mvaVal`` the response to the bound buffers is used (NaN input: -999).

        Raises:
            WeightFileError: the weight file holds no MVA PDFs (TMVA warns and returns 0).

        >>> reader.GetRarity("DL", 0.8)  # doctest: +SKIP
        """
        mva = self._mva_for(title, mvaVal)
        model = self._get(title).model
        if mva is None:
            model.rarity(np.zeros(1))
            return NAN_RESPONSE
        out = model.rarity(mva)
        return float(out[0]) if np.ndim(mvaVal) == 0 else out.reshape(np.shape(mvaVal))

    # snake_case aliases for Python code
    add_variable = AddVariable
    add_spectator = AddSpectator
    book_mva = BookMVA
    evaluate_mva = EvaluateMVA
    evaluate_regression = EvaluateRegression
    evaluate_multiclass = EvaluateMulticlass
    get_proba = GetProba
    get_rarity = GetRarity

    def __contains__(self, title: str) -> bool:
        return str(title) in self._booked

    def __getitem__(self, title: str) -> Model:
        return self._get(title).model


def _expression(declared: str) -> str:
    """The expression TMVA compares: blanks removed, the label of ``label := expression`` dropped."""
    return split_label(canonical(declared))[1]


def _match(kind: str, declared: list[str], in_file: list[str], where: str, call: str) -> None:
    """Refuse a Reader whose variables (or spectators) differ from the weight file's, as TMVA does: the
    same count, and in each position the same expression."""
    mine = [_expression(e) for e in declared]
    theirs = [canonical(e) for e in in_file]
    if len(mine) != len(theirs):
        raise WeightFileError(
            f"the Reader declares {len(declared)} {kind} {declared} but the weight file has {len(in_file)} "
            f"{in_file}; declare them with {call} in the file's order (TMVA requires the same count)",
            where=where,
            token=kind.capitalize(),
            expected=in_file,
        )
    for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if a != b:
            raise WeightFileError(
                f"the Reader's {kind} {declared} do not match the weight file's {in_file}: "
                f"{kind[:-1]} #{k} is {a!r} in the Reader but {b!r} in the file (TMVA compares the "
                "expressions, after any 'label :=', in the file's order)",
                where=where,
                token=declared[k],
                expected=in_file,
            )


__all__ = ["Reader", "NAN_RESPONSE"]
