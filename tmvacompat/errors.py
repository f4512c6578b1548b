"""One exception family for the whole package.

Every error a user can provoke with bad input is a :class:`TMVACompatError`. Each subclass is also a
builtin ``ValueError`` so generic handlers keep working (a missing file is also a ``FileNotFoundError``, a
missing tree or branch a ``KeyError``, a refused size a ``MemoryError``), and carries structured fields
saying *what* was wrong, *where* it was, and *what would have been right*.

Example:
    >>> from tmvacompat.errors import OptionError
    >>> try:
    ...     raise OptionError("unknown option 'BatchSze'", token="BatchSze", position=12,
    ...                       expected=["BatchSize"])
    ... except ValueError as err:
    ...     print(err)
    unknown option 'BatchSze' (at character 12: 'BatchSze'); expected one of: BatchSize
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates nearest to ``name`` (case-insensitive), best first.

    >>> closest("BatchSze", ["BatchSize", "MaxEpochs", "Momentum"])
    ['BatchSize']
    """
    cands = list(dict.fromkeys(candidates))
    lower = {c.lower(): c for c in cands}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    return [lower[h] for h in hits]


class TMVACompatError(ValueError):
    """Base class of every error raised for bad input.

    Attributes:
        token: the offending piece of input (an option, a layer token, an element, a branch), if any.
        position: character position of ``token`` in the string it came from, if known.
        expected: what would have been accepted (allowed values, closest names), if known.
        where: the file / tree / element / method the problem belongs to, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        token: str | None = None,
        position: int | None = None,
        expected: Sequence[str] | None = None,
        where: str | None = None,
    ) -> None:
        self.message = message
        self.token = token
        self.position = position
        self.expected = list(expected) if expected is not None else None
        self.where = where
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if where := self.where:
            text = f"{where}: {text}"
        if self.position is not None:
            text += f" (at character {self.position}: {self.token!r})"
        elif self.token is not None and repr(self.token) not in text:
            text += f" (token {self.token!r})"
        if self.expected:
            shown = ", ".join(self.expected[:40])
            more = "" if len(self.expected) <= 40 else f", ... ({len(self.expected)} in all)"
            text += f"; expected one of: {shown}{more}"
        return text

    def __str__(self) -> str:  # KeyError, a base of some subclasses, would show repr(message)
        return self._render()

    def __reduce__(self):  # keep pickling (multiprocessing) working with keyword-only fields
        return (
            _rebuild,
            (type(self), self.message, self.token, self.position, self.expected, self.where),
        )


def _rebuild(cls, message, token, position, expected, where):
    return cls(message, token=token, position=position, expected=expected, where=where)


class OptionError(TMVACompatError):
    """A TMVA option string or one of its values is wrong (unknown key, bad value, wrong type)."""


class LayoutError(TMVACompatError):
    """A Layout / InputLayout / BatchLayout string, or a network built from it, is wrong."""


class WeightFileError(TMVACompatError):
    """A TMVA weight file cannot be read or written (malformed XML, unsupported method, missing element)."""


class ONNXExportError(WeightFileError):
    """The model (or a part of it) has no ONNX form, or the onnx package is missing."""


class InputDataError(TMVACompatError):
    """Input data is wrong: missing file, tree or branch, jagged branch used as scalar, NaN inputs, ..."""


class TrainingError(TMVACompatError):
    """Training could not go on (NaN/inf loss, too few events for a batch)."""


class EngineConfigError(TMVACompatError):
    """The network engine was given a setting it does not have: an unknown optimizer, loss, regularization
    or initialisation, an unknown hyper-parameter, a value out of range.

    The engine knows its own parameters only, not TMVA's option names; the methods layer, which turns TMVA
    options into engine calls, re-raises it as an :class:`OptionError` naming the TMVA key.

    Attributes (besides :class:`TMVACompatError`'s):
        parameter: the engine parameter that was wrong (``"optimizer"``, ``"loss"``, ``"drop_probs"``, ...).
        value: the value it was given.
        index: the position of the value in a sequence parameter (``drop_probs``), else None.

    >>> err = EngineConfigError("unknown optimizer 'ADAMM'", parameter="optimizer", value="ADAMM",
    ...                         expected=["ADAM"])
    >>> err.parameter, err.value, str(err)
    ('optimizer', 'ADAMM', "unknown optimizer 'ADAMM'; expected one of: ADAM")
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        value: object = None,
        index: int | None = None,
        expected: Sequence[str] | None = None,
        token: str | None = None,
    ) -> None:
        self.parameter = parameter
        self.value = value
        self.index = index
        super().__init__(message, token=str(value) if token is None and value is not None else token,
                         expected=expected)  # fmt: skip

    def __reduce__(self):
        return (
            _rebuild_engine,
            (self.message, self.parameter, self.value, self.index, self.expected, self.token),
        )


def _rebuild_engine(message, parameter, value, index, expected, token):
    return EngineConfigError(
        message, parameter=parameter, value=value, index=index, expected=expected, token=token
    )


class InputFileNotFoundError(InputDataError, FileNotFoundError):
    """An input ROOT file does not exist (also a builtin ``FileNotFoundError``)."""


class InputNotFoundError(InputDataError, KeyError):
    """A tree, branch or field is not in the input (also a builtin ``KeyError``)."""


class WeightFileNotFoundError(WeightFileError, FileNotFoundError):
    """A weight file does not exist (also a builtin ``FileNotFoundError``)."""


class SizeLimitError(TMVACompatError, MemoryError):
    """A declared size (a layer, a table, an index) would need more memory than tmvacompat allows itself
    (also a builtin ``MemoryError``); the limit is checked before anything is allocated."""


__all__ = [
    "TMVACompatError",
    "OptionError",
    "LayoutError",
    "WeightFileError",
    "ONNXExportError",
    "InputDataError",
    "TrainingError",
    "EngineConfigError",
    "InputFileNotFoundError",
    "InputNotFoundError",
    "WeightFileNotFoundError",
    "SizeLimitError",
    "closest",
]
