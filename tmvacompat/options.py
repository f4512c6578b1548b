"""TMVA option strings: the ``Key=Value:!Flag:Flag`` grammar, typed declarations, and ``TrainingStrategy``.

Three layers:

* :func:`parse_options` splits a booking string into ``{key: value}`` (no declarations needed);
* :class:`Option` / :class:`OptionSet` declare what a method (or the Factory, or the DataLoader) accepts and
  turn a string into a frozen, typed :class:`OptionValues`, following TMVA's ``Configurable`` rules
  (names case-insensitive, predefined values compared case-insensitively and stored canonically, ...);
* :func:`parse_training_strategy` / :func:`training_phases` / :func:`format_training_strategy` handle
  MethodDL's nested ``TrainingStrategy=LearningRate=1e-3,BatchSize=100|...`` grammar.

What TMVA accepts is accepted, read as TMVA reads it (``Configurable::ParseOptions``, ``Option<T>``'s
``std::stringstream`` reads, MethodDL's ``ParseKeyValueString`` with ``TString::Atoi``/``Atof``); where that
reading loses what the user plainly meant (``Optimizer=Adam``, ``1e3`` for an integer, a missing comma that
glues two TrainingStrategy keys), tmvacompat does what was meant and a :class:`TMVACompatWarning` says what
TMVA would have done. What TMVA refuses (an unknown option, a bad boolean, blanks around a name) is refused
with TMVA's reason.

Example:
    >>> from tmvacompat.options import Option, OptionSet
    >>> decls = OptionSet("DL", [Option("BatchSize", int, 30), Option("H", bool, False)])
    >>> vals = decls.parse("!H:batchsize=100")
    >>> vals.BatchSize, vals.H, vals.modified("BatchSize")
    (100, False, True)
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tmvacompat.errors import OptionError, TMVACompatError, closest
from tmvacompat.specs import TrainingPhase


class TMVACompatWarning(UserWarning):
    """tmvacompat accepted something TMVA itself would read differently (or refuse); the message says what
    TMVA would have done."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside tmvacompat."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _warn(message: str) -> None:
    warnings.warn(message, TMVACompatWarning, stacklevel=_user_stacklevel())


# --------------------------------------------------------------------------------------------------------
# Scalar value parsing shared by the option and the TrainingStrategy grammars.

_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INT_PREFIX = re.compile(r"\s*[+-]?\d+")
_FLOAT_PREFIX = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE = ("1", "true", "ktrue", "t")
_FALSE = ("0", "false", "kfalse", "f")
_TYPE_NAMES = {bool: "a boolean (True/False)", int: "an integer", float: "a number", str: "a string"}
_INT_MAX = 2**31 - 1


def _parse_bool(text: str) -> bool | None:
    """Option<bool>'s spellings (lower-cased): 1/true/ktrue/t and 0/false/kfalse/f; anything else None."""
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


def _parse_int(text: str) -> int | None:
    s = text.strip()
    try:
        return int(s) if _INT_RE.match(s) else None
    except ValueError:  # more digits than Python converts
        return None


def _parse_float(text: str) -> float | None:
    s = text.strip()
    if not _FLOAT_RE.match(s):
        return None
    value = float(s)
    return value if math.isfinite(value) else None


def _tmva_int(text: str) -> int | None:
    """What ``std::stringstream >> int`` and ``atoi`` give: the leading integer, trailing text ignored
    (``8000.7`` -> 8000, ``1e3`` -> 1, ``20DropConfig=...`` -> 20); None when no digit leads."""
    m = _INT_PREFIX.match(text)
    if m is None:
        return None
    value = int(m.group())
    return max(-_INT_MAX - 1, min(_INT_MAX, value))


def read_int(text: str, where: str, position: int | None = None) -> int:
    """An integer option value read as TMVA reads it, or as meant where TMVA's reading loses the meaning.

    TMVA reads integers with ``std::stringstream >> int`` (``Option<int>``) or ``TString::Atoi``
    (TrainingStrategy): the leading digits, the rest ignored. ``8000.0`` (what ``0.8*N`` gives in Python)
    is 8000 as in TMVA, silently; ``1e3`` is 1000 with a warning (TMVA reads 1); ``8000.7`` and ``30abc``
    are read as TMVA reads them (8000, 30) with a warning.

    >>> read_int("8000.0", "nTrain_Signal")
    8000

    Raises:
        OptionError: no number at all (TMVA would silently read 0).
    """
    s = text.strip()
    exact = _parse_int(s)
    if exact is not None:
        return exact
    tmva = _tmva_int(s)
    value = _parse_float(s)
    if value is not None and value == int(value) and abs(value) <= _INT_MAX:
        if int(value) != tmva:
            _warn(
                f"{where}: {text!r} read as {int(value)}; TMVA reads integers up to the first non-digit and "
                f"would take {tmva or 0}"
            )
        return int(value)
    if tmva is None:
        raise OptionError(
            f"{where}: value {text!r} is not an integer (TMVA would silently read 0)",
            token=text,
            position=position,
            expected=["an integer such as 30"],
        )
    rest = s[len(_INT_PREFIX.match(s).group()) :]
    what = "is not a whole number" if value is not None else f"has {rest!r} after the number"
    _warn(f"{where}: {text!r} {what}; read as {tmva}, as TMVA does (it stops at the first non-digit)")
    return tmva


def read_float(text: str, where: str, position: int | None = None) -> float:
    """A number read as TMVA reads it (``std::stringstream >> double`` / ``TString::Atof``): the leading
    number; trailing text is ignored with a warning.

    >>> read_float("1e-3", "LearningRate")
    0.001

    Raises:
        OptionError: no leading number, or not finite (TMVA would read 0 or propagate inf/nan).
    """
    s = text.strip()
    exact = _parse_float(s)
    if exact is not None:
        return exact
    m = _FLOAT_PREFIX.match(s)
    value = float(m.group()) if m else None
    if value is None or not math.isfinite(value):
        raise OptionError(
            f"{where}: value {text!r} is not a finite number (TMVA would silently read 0 or inf/nan)",
            token=text,
            position=position,
            expected=["a number such as 0.5 or 1e-3"],
        )
    _warn(
        f"{where}: {text!r} has {s[m.end() :]!r} after the number; read as {value!r}, as TMVA does "
        f"(it stops at the first character that is not part of a number)"
    )
    return value


def _float_text(value: float) -> str:
    """A float as TMVA's ``Option<Double_t>`` writes it (``std::scientific``, 6 digits: ``2.000000e-02``)."""
    return f"{value:e}"


# --------------------------------------------------------------------------------------------------------
# The generic grammar.


@dataclass(frozen=True)
class _Token:
    key: str
    value: str | bool
    key_pos: int | None = None
    value_pos: int | None = None
    bare: bool = False  # written as ``Flag`` or ``!Flag`` (no ``=``)
    raw: str = ""  # the piece as written (blanks kept), for TMVA's own error text
    padded: bool = False  # blanks around the name (TMVA cannot match the name then)


def _split_top(text: str, sep: str, what: str = "option string") -> list[tuple[str, int]]:
    """Split ``text`` at ``sep`` outside ``{...}``; pieces with their start positions (whitespace kept)."""
    pieces: list[tuple[str, int]] = []
    depth = 0
    open_pos: list[int] = []
    start = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
            open_pos.append(i)
        elif ch == "}":
            if depth == 0:
                raise OptionError(
                    f"unbalanced '}}' in {what} {text!r}: no '{{' opens it", token="}", position=i
                )
            depth -= 1
            open_pos.pop()
        elif ch == sep and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
    if depth:
        raise OptionError(
            f"unbalanced '{{' in {what} {text!r}: it is never closed by '}}'",
            token="{",
            position=open_pos[-1],
        )
    pieces.append((text[start:], start))
    return pieces


def _strip_with_pos(piece: str, pos: int) -> tuple[str, int]:
    stripped = piece.lstrip()
    return stripped.rstrip(), pos + (len(piece) - len(stripped))


def _tokenize(text: str) -> list[_Token]:
    if not isinstance(text, str):
        raise OptionError(f"an option string must be a str, not {type(text).__name__}")
    tokens = []
    for piece, pos in _split_top(text, ":"):
        body = piece.lstrip("~")  # blanks before a '~' stay, and TMVA cannot match them either
        tok, tpos = _strip_with_pos(piece, pos)
        if tok.startswith("~"):  # TMVA's own "already parsed" marker, which ParseOptions strips
            stripped = tok.lstrip("~")
            tok, tpos = _strip_with_pos(stripped, tpos + len(tok) - len(stripped))
        if not tok:
            continue  # "::" or a trailing ':' (TMVA splits them into empty pieces that set nothing)
        eq = tok.find("=")
        if eq < 0:
            neg = tok.startswith("!")
            name, npos = _strip_with_pos(tok[1:], tpos + 1) if neg else (tok, tpos)
            if not name:
                raise OptionError(
                    "'!' must be followed by the name of a boolean option", token=tok, position=tpos
                )
            if not _NAME_RE.match(name):
                raise OptionError(
                    f"malformed option {tok!r}: expected Name=Value, Flag or !Flag", token=tok, position=tpos
                )
            padded = body != tok or (neg and tok[1:] != name)
            tokens.append(_Token(name, not neg, npos, None, True, piece, padded))
            continue
        key, kpos = _strip_with_pos(tok[:eq], tpos)
        value, vpos = _strip_with_pos(tok[eq + 1 :], tpos + eq + 1)
        if not key:
            raise OptionError(f"option {tok!r} has no name before '='", token=tok, position=tpos)
        if key.startswith("!"):
            raise OptionError(
                f"'!' negates a boolean flag and cannot be used with a value: {tok!r}",
                token=key,
                position=kpos,
            )
        if not _NAME_RE.match(key):
            raise OptionError(f"malformed option name {key!r}", token=key, position=kpos)
        padded = not body.startswith(key) or tok[:eq] != key
        tokens.append(_Token(key, value, kpos, vpos if value else None, False, piece, padded))
    return tokens


_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]+-]*\Z")


def options_from_kwargs(text: str = "", **kwargs: Any) -> str:
    """The option string PyROOT builds from keyword arguments (``BookMethod(..., V=False, Layout="...")``).

    As ROOT's TMVA pythonization does: a bool gives ``Name`` or ``!Name``, anything else ``Name=str(value)``
    (so ``nTrain_Signal=0.8*5000`` becomes ``nTrain_Signal=4000.0`` and ``VarTransform=None`` becomes
    ``VarTransform=None``), joined by ``:`` and appended to ``text``.

    >>> options_from_kwargs("!H", V=False, nTrain_Signal=0.8 * 5000, VarTransform=None)
    '!H:!V:nTrain_Signal=4000.0:VarTransform=None'
    """
    if not isinstance(text, str):
        text = str(text)  # a TString-like object
    pieces = [text] if text else []
    for key, value in kwargs.items():
        pieces.append((key if value else f"!{key}") if isinstance(value, bool) else f"{key}={value}")
    return ":".join(pieces)


def parse_options(text: str) -> dict[str, str | bool]:
    """Split a TMVA option string into ``{key: value}`` in input order.

    ``Key=Value`` gives the value string (whitespace around it removed; it may contain ``|``, ``,``, ``=``
    and ``{...}`` blocks, inside which ``:`` does not split), ``Flag`` gives True and ``!Flag`` False. A key
    repeated (case-insensitively, as TMVA matches names) keeps the last value, with a warning.

    >>> parse_options("!H:V:Layout=Encoder={DENSE|8|TANH}Decoder={DENSE|0|LINEAR}:BatchSize=30")
    {'H': False, 'V': True, 'Layout': 'Encoder={DENSE|8|TANH}Decoder={DENSE|0|LINEAR}', 'BatchSize': '30'}

    Raises:
        OptionError: unbalanced braces or a malformed token (with its character position).
    """
    out: dict[str, str | bool] = {}
    lower: dict[str, str] = {}
    for tok in _tokenize(text):
        previous = lower.get(tok.key.lower())
        if previous is not None:
            _warn(
                f"option {tok.key!r} is given more than once; the last value ({tok.value!r}) wins, as in "
                f"TMVA "
                f"(which also warns 'Value for option ... was previously set')"
            )
            del out[previous]
        out[tok.key] = tok.value
        lower[tok.key.lower()] = tok.key
    return out


# --------------------------------------------------------------------------------------------------------
# Declarations.


@dataclass(frozen=True)
class Option:
    """One declared option: name (canonical spelling), type (bool, int, float or str), default.

    ``allowed`` lists TMVA's predefined values (str options; matched case-insensitively, stored in the
    spelling given here). ``check`` validates a parsed value (e.g. parses a Layout) and may raise a
    :class:`~tmvacompat.errors.TMVACompatError` whose position is relative to the value; it returns None or
    the value to store. A ``name`` containing ``*`` is a pattern (``nTrain_*``) for :class:`OptionSet`'s
    ``patterns``.

    >>> opt = Option("ErrorStrategy", str, "CROSSENTROPY", allowed=("CROSSENTROPY", "SUMOFSQUARES"))
    >>> opt.convert("sumofsquares")
    'SUMOFSQUARES'
    """

    name: str
    type: type
    default: Any
    help: str = ""
    allowed: tuple[str, ...] | None = None
    check: Callable[[Any], Any] | None = field(default=None, compare=False)
    note: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type not in (bool, int, float, str):
            raise TypeError(f"option {self.name}: type must be bool, int, float or str, not {self.type!r}")
        if self.allowed is not None:
            object.__setattr__(self, "allowed", tuple(self.allowed))
            if self.type is not str:
                raise TypeError(f"option {self.name}: predefined values need a str option")

    def convert(self, value: Any, *, position: int | None = None, method: str | None = None) -> Any:
        """The typed value of ``value`` (a string from an option string, or a Python value).

        Numbers are checked against ``[minimum, maximum]``; an int option without bounds must fit the C++
        ``int`` TMVA stores it in.

        Raises:
            OptionError: wrong type, a value outside ``allowed`` or outside the range (naming option, value,
                what is expected).
        """
        result = self._convert(value, position=position, method=method)
        if self.type not in (int, float):
            return result
        lo, hi = self.minimum, self.maximum
        if self.type is int:
            lo = -_INT_MAX - 1 if lo is None else lo
            hi = _INT_MAX if hi is None else hi
        if (lo is not None and result < lo) or (hi is not None and result > hi):
            where = f"option {self.name}" + (f" of {method}" if method else "")
            lo_t = "" if lo is None else f"{lo:g}" if self.type is float else str(lo)
            hi_t = "" if hi is None else f"{hi:g}" if self.type is float else str(hi)
            rng = (
                f"[{lo_t}, {hi_t}]"
                if lo is not None and hi is not None
                else (f">= {lo_t}" if lo is not None else f"<= {hi_t}")
            )
            why = f"; {self.note}" if self.note else ""
            raise OptionError(
                f"{where}: value {result!r} is out of range{why}",
                token=str(value),
                position=position,
                expected=[f"a number in {rng}" if rng.startswith("[") else f"a number {rng}"],
            )
        return result

    def _convert(self, value: Any, *, position: int | None = None, method: str | None = None) -> Any:
        where = f"option {self.name}" + (f" of {method}" if method else "")
        shown = value if isinstance(value, str) else repr(value)
        if self.type is bool:
            result = (
                value if isinstance(value, bool) else _parse_bool(value) if isinstance(value, str) else None
            )
            if result is None:
                raise OptionError(
                    f"{where}: value {shown!r} can not be interpreted as boolean (TMVA aborts likewise)",
                    token=str(value),
                    position=position,
                    expected=["True", "False", "T", "F", "1", "0", "kTRUE", "kFALSE"],
                )
            return result
        if self.type is int:
            if isinstance(value, bool):
                result = None
            elif isinstance(value, int):
                result = value
            elif isinstance(value, float) and math.isfinite(value) and value == int(value):
                result = int(value)
            elif isinstance(value, str):
                return read_int(value, where, position)
            else:
                result = None
            if result is None:
                raise OptionError(
                    f"{where}: value {shown!r} is not an integer",
                    token=str(value),
                    position=position,
                    expected=["an integer such as 30"],
                )
            return result
        if self.type is float:
            if isinstance(value, bool):
                result = None
            elif isinstance(value, (int, float)):
                try:
                    result = float(value) if math.isfinite(value) else None
                except OverflowError:
                    result = None
            elif isinstance(value, str):
                return read_float(value, where, position)
            else:
                result = None
            if result is None:
                raise OptionError(
                    f"{where}: value {shown!r} is not a finite number",
                    token=str(value),
                    position=position,
                    expected=["a number such as 0.5 or 1e-3"],
                )
            return result
        # str
        if not isinstance(value, str):
            raise OptionError(f"{where}: value {shown} is not a string", token=str(value), position=position)
        text = value.strip()
        if self.allowed is not None:
            # Option<TString>::IsPreDefinedVal compares the first blank-delimited word, case-insensitively
            first = text.split()[0] if text.split() else ""
            for cand in self.allowed:
                if cand.lower() == first.lower():
                    if first != text:
                        _warn(
                            f"{where}: {text!r} read as {cand}; TMVA reads only the first word of a string "
                            f"option and ignores {text[len(first) :].strip()!r}"
                        )
                    return cand
            raise OptionError(
                f"{where}: {text!r} is not one of its predefined values (TMVA would abort with "
                f"'does not have predefined value')",
                token=text,
                position=position,
                expected=list(self.allowed),
            )
        if any(ch.isspace() for ch in text):
            _warn(
                f"{where}: the value {text!r} contains blanks; TMVA reads string options only up to the "
                f"first blank and would take {text.split()[0]!r}; tmvacompat keeps the whole value"
            )
        return text

    def text(self, value: Any) -> str:
        """``value`` as TMVA writes it in a weight file's ``<Option>`` element."""
        if self.type is bool:
            return "True" if value else "False"
        if self.type is float:
            return _float_text(float(value))
        return str(value)


def _pattern_regex(name: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in name.lower().split("*")]
    return re.compile("(.+)".join(parts) + r"\Z")


class OptionSet:
    """The options one TMVA configurable (a method, the Factory, the DataLoader) declares, in order.

    ``patterns`` declares families of keys such as ``nTrain_<class>`` (``Option("nTrain_*", int, 0)``):
    a key that matches no declared name but matches a pattern is accepted with the pattern's type.

    >>> s = OptionSet("Factory", [Option("V", bool, False), Option("AnalysisType", str, "Auto",
    ...               allowed=("Classification", "Regression", "Multiclass", "Auto"))])
    >>> s.parse("!V:AnalysisType=classification").AnalysisType
    'Classification'
    """

    def __init__(self, method: str, options: Iterable[Option], patterns: Iterable[Option] = ()) -> None:
        self.method = method
        self.options: tuple[Option, ...] = tuple(options)
        self.patterns: tuple[Option, ...] = tuple(patterns)
        self._by_lower: dict[str, Option] = {}
        for opt in self.options:
            if opt.name.lower() in self._by_lower:
                raise ValueError(f"{method}: option {opt.name!r} declared twice")
            self._by_lower[opt.name.lower()] = opt
        self._pattern_res = [(_pattern_regex(p.name), p) for p in self.patterns]

    # -- declarations ------------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [o.name for o in self.options]

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.lookup(name) is not None

    def __getitem__(self, name: str) -> Option:
        opt = self.lookup(name)
        if opt is None:
            raise self._unknown(name, None)
        return opt

    def lookup(self, name: str) -> Option | None:
        """The declaration for ``name`` (case-insensitive; pattern keys give their pattern), or None."""
        opt = self._by_lower.get(name.lower())
        if opt is not None:
            return opt
        for rx, pat in self._pattern_res:
            if rx.match(name.lower()):
                return pat
        return None

    def merged(self, other: OptionSet | Iterable[Option], method: str | None = None) -> OptionSet:
        """A new set: these options, then ``other``'s (an option of the same name in ``other`` replaces
        this one in place)."""
        others = list(other.options if isinstance(other, OptionSet) else other)
        pats = list(self.patterns) + (list(other.patterns) if isinstance(other, OptionSet) else [])
        replace = {o.name.lower(): o for o in others}
        mine = [replace.pop(o.name.lower(), o) for o in self.options]
        rest = [o for o in others if o.name.lower() in replace]
        return OptionSet(method or self.method, mine + rest, pats)

    def __repr__(self) -> str:
        return f"OptionSet({self.method!r}, {self.names})"

    def _unknown(self, key: str, position: int | None) -> OptionError:
        suggestions = closest(key, self.names + [p.name for p in self.patterns])
        hint = f"; did you mean {' or '.join(suggestions)}?" if suggestions else ""
        ts_key = _TS_LOWER.get(key.lower())
        if ts_key and "trainingstrategy" in self._by_lower:
            hint = f"; {ts_key} is a TrainingStrategy key: write TrainingStrategy=...,{ts_key}=...,..."
        return OptionError(
            f"unknown option {key!r} for {self.method}{hint} (TMVA would abort: 'The following options were "
            f"specified, but could not be interpreted')",
            token=key,
            position=position,
            expected=suggestions or self.names,
        )

    # -- parsing -----------------------------------------------------------------------------------------
    def defaults(self) -> OptionValues:
        """Every option at its default, none modified."""
        return OptionValues(self, {o.name: o.default for o in self.options}, frozenset(), {})

    def parse(self, text: str | Mapping[str, Any], *, modified: Iterable[str] | None = None) -> OptionValues:
        """Typed values from an option string (or a ``{key: value}`` mapping such as :func:`parse_options`
        returns or a weight file's ``<Options>`` holds).

        ``modified`` (mappings only) names the options to flag as set by the user (a weight file's
        ``modified="Yes"``); by default every key given counts as modified.

        Raises:
            OptionError: unknown key (with closest names), wrong type, value outside the allowed set,
                negated non-boolean; with the token and its position when ``text`` is a string.
            LayoutError: a declared check (Layout, InputLayout, ...) refused the value.
        """
        if isinstance(text, str):
            tokens = _tokenize(text)
        elif isinstance(text, Mapping):
            tokens = [_Token(str(k), v, None, None, isinstance(v, bool)) for k, v in text.items()]
        else:
            raise OptionError(
                f"{self.method}: options must be a string or a mapping, not {type(text).__name__}"
            )
        values = {o.name: o.default for o in self.options}
        extra: dict[str, Option] = {}
        mod: dict[str, None] = {}
        for tok in tokens:
            name, value = self._assign(tok, extra)
            if name in mod:
                _warn(
                    f"{self.method}: option {name} is set more than once; the last value wins "
                    f"(TMVA warns 'Value for option {name} was previously set' and does the same)"
                )
            values[name] = value
            mod[name] = None
        if modified is not None and not isinstance(text, str):
            flagged = set()
            for m in modified:
                opt = self.lookup(m)
                if opt is None:
                    raise self._unknown(m, None)
                flagged.add(m if "*" in opt.name else opt.name)
            mod = {k: None for k in mod if k in flagged}
        return OptionValues(self, values, frozenset(mod), extra)

    def _uninterpreted(self, tok: _Token, why: str) -> OptionError:
        return OptionError(
            f"{self.method}: {why}; TMVA would abort: 'The following options were specified, but could not "
            f"be interpreted: {tok.raw.strip(':')!r}'",
            token=tok.key,
            position=tok.key_pos,
            expected=[tok.key],
        )

    def _assign(self, tok: _Token, extra: dict[str, Option]) -> tuple[str, Any]:
        opt = self.lookup(tok.key)
        if opt is not None and tok.padded:
            # Configurable::ParseOptions lower-cases the name but keeps its blanks, so no option matches
            raise self._uninterpreted(tok, f"option name {tok.raw!r} has blanks around {tok.key!r}")
        if opt is None and "[" in tok.key:
            base = tok.key[: tok.key.index("[")]
            if self.lookup(base) is not None:
                raise OptionError(
                    f"option {self.lookup(base).name} of {self.method} is not an array, but an index was "
                    f"given in {tok.key!r} (TMVA aborts likewise)",
                    token=tok.key,
                    position=tok.key_pos,
                    expected=[self.lookup(base).name],
                )
        if opt is None:
            if tok.bare:
                # TMVA's "loose" option checking: a bare predefined value sets the option that owns it
                # (ParseOptions has already dropped a leading '!' by then, so '!CPU' sets it too).
                for cand in self.options:
                    if cand.allowed and any(a.lower() == tok.key.lower() for a in cand.allowed):
                        if tok.value is False:
                            _warn(
                                f"{self.method}: '!{tok.key}' sets {cand.name}={tok.key}: TMVA drops the '!' "
                                f"before matching a predefined value"
                            )
                        return cand.name, cand.convert(tok.key, position=tok.key_pos, method=self.method)
            raise self._unknown(tok.key, tok.key_pos)
        name = tok.key if "*" in opt.name else opt.name
        if "*" in opt.name:
            extra[name] = opt
        if tok.bare and opt.type is not bool and isinstance(tok.value, bool):
            what = "negated" if tok.value is False else "given without a value"
            raise OptionError(
                f"option {opt.name} of {self.method} is not a boolean and cannot be {what}; "
                f"write {opt.name}=<value>",
                token=tok.key,
                position=tok.key_pos,
            )
        pos = tok.value_pos if tok.value_pos is not None else tok.key_pos
        if isinstance(tok.value, str) and tok.value == "" and opt.type is not str:
            if opt.type is bool:
                raise OptionError(
                    f"option {opt.name} of {self.method} has an empty value, which can not be interpreted "
                    f"as boolean (TMVA aborts likewise)",
                    token=tok.key,
                    position=tok.key_pos,
                    expected=["True", "False"],
                )
            # std::stringstream >> number on an empty string leaves the variable as it was
            _warn(f"option {opt.name} of {self.method} has an empty value; it keeps its default, as in TMVA")
            return name, opt.default
        if opt.type is bool and tok.raw and not tok.bare:
            raw_value = tok.raw.split("=", 1)[1]
            if raw_value != tok.value:
                raise OptionError(
                    f"option {opt.name} of {self.method}: value {raw_value!r} has blanks and can not be "
                    f"interpreted as boolean (TMVA aborts likewise)",
                    token=raw_value,
                    position=pos,
                    expected=[tok.value],
                )
        named = replace(opt, name=name) if "*" in opt.name else opt  # messages name the key given
        value = named.convert(tok.value, position=pos, method=self.method)
        if opt.check is not None:
            try:
                checked = opt.check(value)
            except TMVACompatError as err:
                raise _shifted(err, opt.name, self.method, tok.value_pos) from None
            if checked is not None:
                value = checked
        return name, value


def _shifted(err: TMVACompatError, name: str, method: str, offset: int | None) -> TMVACompatError:
    """``err`` re-raised for option ``name``: position moved from the value into the whole option string."""
    pos = err.position + offset if (err.position is not None and offset is not None) else None
    return type(err)(
        f"option {name} of {method}: {err.message}",
        token=err.token,
        position=pos,
        expected=err.expected,
        where=err.where,
    )


class OptionValues:
    """Frozen, typed option values of one :class:`OptionSet` (attribute and item access, case-insensitive).

    >>> vals = OptionSet("X", [Option("BatchSize", int, 30)]).parse("BatchSize=5")
    >>> vals.BatchSize, vals["batchsize"], vals.as_text("BatchSize"), vals.with_updates(BatchSize=7).BatchSize
    (5, 5, '5', 7)
    """

    __slots__ = ("_set", "_values", "_modified", "_extra")

    def __init__(
        self, options: OptionSet, values: dict[str, Any], modified: frozenset[str], extra: dict[str, Option]
    ) -> None:
        object.__setattr__(self, "_set", options)
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_modified", frozenset(modified))
        object.__setattr__(self, "_extra", dict(extra))

    def _key(self, name: str) -> str:
        if name in self._values:
            return name
        low = name.lower()
        for k in self._values:
            if k.lower() == low:
                return k
        raise self._set._unknown(name, None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[self._key(name)]
        except OptionError as err:
            raise AttributeError(str(err)) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[self._key(name)]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("OptionValues are frozen; use with_updates(...)")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k in self._values)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    @property
    def option_set(self) -> OptionSet:
        return self._set

    def modified(self, name: str) -> bool:
        """True if the user set ``name`` (TMVA's ``modified="Yes"``)."""
        return self._key(name) in self._modified

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` in declaration order, then pattern keys (``nTrain_Signal``) in input order."""
        return list(self._values.items())

    def declaration(self, name: str) -> Option:
        key = self._key(name)
        return self._extra.get(key) or self._set[key]

    def as_text(self, name: str) -> str:
        """The value as TMVA writes it in ``<Option>``: True/False, 2.000000e-02, strings as is."""
        return self.declaration(name).text(self[name])

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def option_string(self, only_modified: bool = True) -> str:
        """A ``Name=Value:...`` string that parses back to the same values."""
        return ":".join(
            (k if v else f"!{k}")
            if isinstance(v, bool)
            else f"{k}={repr(v) if isinstance(v, float) else self.as_text(k)}"
            for k, v in self._values.items()
            if not only_modified or k in self._modified
        )

    def with_updates(self, **updates: Any) -> OptionValues:
        """A new frozen object with ``updates`` applied (validated like parsed values; marked modified)."""
        values = dict(self._values)
        extra = dict(self._extra)
        mod = set(self._modified)
        for key, value in updates.items():
            name, typed = self._set._assign(_Token(key, value), extra)
            for k in list(values):
                if k.lower() == name.lower() and k != name:
                    del values[k]
                    mod.discard(k)
            values[name] = typed
            mod.add(name)
        return OptionValues(self._set, values, frozenset(mod), extra)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OptionValues):
            return NotImplemented
        return self._values == other._values and self._modified == other._modified

    def __reduce__(self):  # the frozen __setattr__ would break default pickling (multiprocessing)
        return (OptionValues, (self._set, self._values, self._modified, self._extra))

    def __hash__(self) -> int:
        return hash((tuple(self._values), self._modified))

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"OptionValues[{self._set.method}]({body})"


# --------------------------------------------------------------------------------------------------------
# TrainingStrategy.

_TS_INT = ("ConvergenceSteps", "BatchSize", "MaxEpochs", "TestRepetitions", "Repetitions", "DropRepetitions")
_TS_FLOAT = ("LearningRate", "Momentum", "WeightDecay")
#: TMVA's per-key fallback when a key is missing from a phase ([DL-mod] ``fetchValueTmp`` defaults).
TS_DEFAULTS: dict[str, Any] = {
    "LearningRate": 1e-5,
    "Momentum": 0.3,
    "Repetitions": 1,
    "ConvergenceSteps": 100,
    "MaxEpochs": 2000,
    "BatchSize": 30,
    "TestRepetitions": 7,
    "WeightDecay": 0.0,
    "Regularization": "NONE",
    "DropConfig": (),
    "Optimizer": "ADAM",
    "Multithreading": True,
}
OPTIMIZERS = ("SGD", "ADAM", "ADAGRAD", "RMSPROP", "ADADELTA")
REGULARIZATIONS = ("NONE", "L1", "L2")
#: Optimizer parameters ``<OPT>_<param>`` and their defaults ([DL-mod] ``ProcessOptions``).
OPTIMIZER_PARAMS: dict[str, dict[str, float]] = {
    "SGD": {},
    "ADAM": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "ADAGRAD": {"eps": 1e-8},
    "RMSPROP": {"rho": 0.9, "eps": 1e-7},
    "ADADELTA": {"rho": 0.95, "eps": 1e-8},
}
_OPT_KEYS = [f"{o}_{p}" for o, ps in OPTIMIZER_PARAMS.items() for p in ps]
TS_KEYS: tuple[str, ...] = tuple(TS_DEFAULTS) + ("DropRepetitions", "Renormalize") + tuple(_OPT_KEYS)
_TS_LOWER = {k.lower(): k for k in TS_KEYS}
_TS_MIN = {"BatchSize": 1, "MaxEpochs": 1, "TestRepetitions": 1}


#: Keys MethodDL reads that the old MethodDNN does not (it always trains with SGD and momentum, until
#: convergence): honoured when a DNN booking gives them, with a warning.
DNN_MISSING_KEYS: tuple[str, ...] = ("MaxEpochs", "Optimizer", *_OPT_KEYS)


def _ts_value(key: str, raw: str, pos: int) -> Any:
    where = f"TrainingStrategy key {key}"

    def bad(what: str, expected: Sequence[str]) -> OptionError:
        return OptionError(
            f"{where}: {raw!r} is not {what}",
            token=raw,
            position=pos,
            expected=list(expected),
        )

    if key in _TS_INT:
        value = read_int(raw, where, pos)
        lo = _TS_MIN.get(key, 0)
        if value < lo:
            raise bad(f"allowed (must be >= {lo})", [f"an integer >= {lo}"])
        if value > _INT_MAX:  # TMVA reads it with TString::Atoi into an int
            raise bad(f"allowed (must be <= {_INT_MAX})", [f"an integer in [{lo}, {_INT_MAX}]"])
        return value
    if key in _TS_FLOAT or key in _OPT_KEYS:
        value = read_float(raw, where, pos)
        if value < 0:
            raise bad("allowed (must be >= 0)", ["a number >= 0"])
        return value
    if key == "DropConfig":
        probs = []
        for piece, ppos in _split_plain(raw, "+", pos):
            p, ppos = _strip_with_pos(piece, ppos)
            if not p:
                continue  # TString::Tokenize skips empty pieces
            v = read_float(p, "TrainingStrategy key DropConfig", ppos)
            if not 0.0 <= v < 1.0:
                raise OptionError(
                    f"TrainingStrategy key DropConfig: {p!r} is not a drop probability in [0, 1)",
                    token=p,
                    position=ppos,
                    expected=["'+'-separated probabilities such as 0.0+0.5+0.5"],
                )
            probs.append(v)
        return tuple(probs)
    if key == "Multithreading":
        tmva = raw.startswith("T")  # MethodDL: true iff the value begins with an upper-case T
        meant = _parse_bool(raw)
        value = tmva if meant is None else meant
        if value != tmva:
            _warn(f"TrainingStrategy Multithreading={raw}: read as {value}; TMVA would read {tmva} (unused)")
        return value
    if key == "Optimizer":
        canon = raw.upper()
        if canon not in OPTIMIZERS:
            _warn(
                f"TrainingStrategy Optimizer={raw} is not an optimizer TMVA knows; TMVA silently uses ADAM, "
                f"and so does tmvacompat (known: {', '.join(OPTIMIZERS)})"
            )
            return "ADAM"
        if raw != canon:
            effect = "harmless here, since ADAM is also its fallback" if canon == "ADAM" else f"not {canon}"
            _warn(
                f"TrainingStrategy Optimizer={raw} read as {canon}; TMVA compares optimizer names "
                f"case-sensitively and would silently use its default ADAM ({effect}). Write {canon}."
            )
        return canon
    if key == "Regularization":
        canon = raw.upper()
        if canon not in REGULARIZATIONS:
            _warn(
                f"TrainingStrategy Regularization={raw} is not known; TMVA silently trains without "
                f"regularization, and so does tmvacompat (known: {', '.join(REGULARIZATIONS)})"
            )
            return "NONE"
        if canon != "NONE" and raw != canon:
            _warn(
                f"TrainingStrategy Regularization={raw} read as {canon}; TMVA compares case-sensitively and "
                f"would silently train WITHOUT regularization. Write {canon}."
            )
        return canon
    return raw  # Repetitions-like keys TMVA accepts and ignores (DropRepetitions, Renormalize)


def _split_plain(text: str, sep: str, offset: int) -> list[tuple[str, int]]:
    out = []
    start = 0
    for i, ch in enumerate(text):
        if ch == sep:
            out.append((text[start:i], offset + start))
            start = i + 1
    out.append((text[start:], offset + start))
    return out


def _unglue(key: str, raw: str, vpos: int) -> list[tuple[str, str, int]]:
    """Split ``20DropConfig=0.0+0.5`` (a missing comma) into this key's value and the glued items."""
    items = []
    while "=" in raw:
        eq = raw.index("=")
        head = raw[:eq].lower()
        glued = max((k for k in TS_KEYS if head.endswith(k.lower())), key=len, default=None)
        if glued is None:
            break
        cut = eq - len(glued)
        items.append((key, raw[:cut], vpos))
        _warn(
            f"TrainingStrategy: a comma is missing before {glued} in '{key}={raw}'; read as "
            f"{key}={raw[:cut]} "
            f"and {raw[cut:]}. TMVA splits an item at its first '=' only, so it reads {key} from "
            f"{raw!r} and never sees {glued}, which keeps its default there"
        )
        key, raw, vpos = glued, raw[eq + 1 :], vpos + eq + 1
    items.append((key, raw, vpos))
    return items


def parse_training_strategy(text: str, method: str = "DL") -> list[dict[str, Any]]:
    """MethodDL's ``TrainingStrategy``: one dict per ``|``-separated phase, keyed by canonical key names.

    Every dict holds every key of TMVA's table with its per-phase fallback default, plus the chosen
    optimizer's parameters (``ADAM_beta1``, ...), plus ``DropRepetitions`` / ``Renormalize`` when given
    (TMVA accepts and ignores those). Keys are case-insensitive; ``DropConfig`` is a tuple of floats.

    Read as MethodDL's ``ParseKeyValueString`` reads it (blanks removed, empty pieces skipped, an item split
    at its first ``=``, the first of two equal keys kept, numbers by ``Atoi``/``Atof``); what TMVA silently
    ignores or misreads is warned about: unknown keys and items without ``=`` are ignored, a missing comma
    (``MaxEpochs=20DropConfig=0.0+0.5``) is read as the two items meant, an empty value keeps the default.

    ``method="DNN"`` reads the old MethodDNN's strategy: same keys and fallbacks, but it trains with SGD
    (momentum ``Momentum``); ``MaxEpochs`` and ``Optimizer``, which MethodDNN ignores, are honoured with a
    warning.

    >>> phase, = parse_training_strategy("LearningRate=1e-3,BatchSize=100,Optimizer=SGD")
    >>> phase["LearningRate"], phase["BatchSize"], phase["Optimizer"], phase["TestRepetitions"]
    (0.001, 100, 'SGD', 7)

    Raises:
        OptionError: a value with no number where one is needed, or out of range (BatchSize 0, a drop
            probability of 1, a negative rate), or no phase at all.
    """
    if not isinstance(text, str):
        raise OptionError(f"TrainingStrategy must be a str, not {type(text).__name__}")
    if method not in ("DL", "DNN"):
        raise OptionError(f"TrainingStrategy of method {method!r}", token=method, expected=["DL", "DNN"])
    phases: list[dict[str, Any]] = []
    for block, bpos in _split_plain(text, "|", 0):
        if not block.strip():
            continue  # TString::Tokenize skips empty blocks
        given: dict[str, tuple[str, int]] = {}
        for item, ipos in _split_plain(block, ",", bpos):
            item, ipos = _strip_with_pos(item, ipos)
            item = item.replace(" ", "")  # ParseKeyValueString removes every blank first
            if not item:
                continue
            eq = item.find("=")
            if eq <= 0:
                _warn(
                    f"TrainingStrategy item {item!r} is not KEY=VALUE; ignored, as TMVA ignores it "
                    f"(at character {ipos})"
                )
                continue
            for key, raw, vpos in _unglue(item[:eq], item[eq + 1 :], ipos + eq + 1):
                canon = _TS_LOWER.get(key.lower())
                if canon is None:
                    sugg = closest(key, TS_KEYS)
                    hint = f"; did you mean {' or '.join(sugg)}?" if sugg else ""
                    _warn(
                        f"unknown TrainingStrategy key {key!r} (at character {ipos}) ignored, as TMVA "
                        f"ignores "
                        f"it{hint}"
                    )
                    continue
                if not raw:
                    _warn(
                        f"TrainingStrategy key {canon} has an empty value; it keeps its default, as in TMVA"
                    )
                    continue
                if canon in given:
                    _warn(
                        f"TrainingStrategy key {canon} is given twice in one phase; the first value "
                        f"({given[canon][0]}) is kept, as TMVA does (it stores keys in a map with insert)"
                    )
                    continue
                if method == "DNN" and canon in DNN_MISSING_KEYS:
                    _warn(
                        f"TrainingStrategy key {canon}={raw}: the old MethodDNN ignores it (it trains with "
                        f"SGD "
                        f"until convergence); tmvacompat honours it"
                    )
                given[canon] = (raw, vpos)
        phase = dict(TS_DEFAULTS)
        if method == "DNN":
            phase["Optimizer"] = "SGD"
        typed = {k: _ts_value(k, raw, pos) for k, (raw, pos) in given.items()}
        phase.update({k: v for k, v in typed.items() if k in TS_DEFAULTS})
        opt = phase["Optimizer"]
        for k, default in OPTIMIZER_PARAMS[opt].items():
            phase[f"{opt}_{k}"] = typed.get(f"{opt}_{k}", default)
        for k in typed:
            if k in _OPT_KEYS and not k.startswith(opt + "_"):
                _warn(
                    f"TrainingStrategy key {k} has no effect: this phase's optimizer is {opt} "
                    f"(TMVA ignores it)"
                )
        for k in ("DropRepetitions", "Renormalize"):
            if k in typed:
                phase[k] = typed[k]
        phases.append(phase)
    if not phases:
        raise OptionError(
            "TrainingStrategy has no phase (TMVA needs at least one)",
            token=text,
            position=0,
            expected=["e.g. LearningRate=1e-3,BatchSize=100,MaxEpochs=20"],
        )
    return phases


def _phase_from_dict(d: Mapping[str, Any]) -> TrainingPhase:
    opt = d["Optimizer"]
    return TrainingPhase(
        learning_rate=float(d["LearningRate"]),
        momentum=float(d["Momentum"]),
        repetitions=int(d["Repetitions"]),
        convergence_steps=int(d["ConvergenceSteps"]),
        max_epochs=int(d["MaxEpochs"]),
        batch_size=int(d["BatchSize"]),
        test_repetitions=int(d["TestRepetitions"]),
        weight_decay=float(d["WeightDecay"]),
        regularization=d["Regularization"],
        drop_config=tuple(float(p) for p in d["DropConfig"]),
        optimizer=opt,
        multithreading=bool(d["Multithreading"]),
        optimizer_params={p: float(d.get(f"{opt}_{p}", v)) for p, v in OPTIMIZER_PARAMS[opt].items()},
    )


def training_phases(text: str, method: str = "DL") -> list[TrainingPhase]:
    """``TrainingStrategy`` as typed :class:`~tmvacompat.specs.TrainingPhase` objects (optimizer parameters
    in ``optimizer_params`` without the prefix, with TMVA's defaults).

    >>> training_phases("Optimizer=RMSPROP,RMSPROP_rho=0.8")[0].optimizer_params
    {'rho': 0.8, 'eps': 1e-07}
    """
    return [_phase_from_dict(d) for d in parse_training_strategy(text, method)]


def _num(value: float) -> str:
    return repr(float(value))


def format_training_strategy(phases: Iterable[TrainingPhase | Mapping[str, Any]]) -> str:
    """The canonical ``TrainingStrategy`` string; ``training_phases(format_training_strategy(p)) == p``.

    >>> format_training_strategy([TrainingPhase(learning_rate=1e-3, batch_size=100)])
    'LearningRate=0.001,Momentum=0.3,ConvergenceSteps=100,MaxEpochs=2000,BatchSize=100,TestRepetitions=7,\
WeightDecay=0.0,Regularization=NONE,Optimizer=ADAM'
    """
    blocks = []
    for ph in phases:
        if isinstance(ph, Mapping):
            ph = _phase_from_dict({**TS_DEFAULTS, **ph})
        if ph.optimizer not in OPTIMIZERS:
            raise OptionError(
                f"unknown optimizer {ph.optimizer!r}", token=ph.optimizer, expected=list(OPTIMIZERS)
            )
        if ph.regularization not in REGULARIZATIONS:
            raise OptionError(
                f"unknown regularization {ph.regularization!r}",
                token=ph.regularization,
                expected=list(REGULARIZATIONS),
            )
        items = [f"LearningRate={_num(ph.learning_rate)}", f"Momentum={_num(ph.momentum)}"]
        if ph.repetitions != 1:
            items.append(f"Repetitions={int(ph.repetitions)}")
        items += [
            f"ConvergenceSteps={int(ph.convergence_steps)}",
            f"MaxEpochs={int(ph.max_epochs)}",
            f"BatchSize={int(ph.batch_size)}",
            f"TestRepetitions={int(ph.test_repetitions)}",
            f"WeightDecay={_num(ph.weight_decay)}",
            f"Regularization={ph.regularization}",
        ]
        if ph.drop_config:
            items.append("DropConfig=" + "+".join(_num(p) for p in ph.drop_config))
        items.append(f"Optimizer={ph.optimizer}")
        if not ph.multithreading:
            items.append("Multithreading=False")
        defaults = OPTIMIZER_PARAMS[ph.optimizer]
        for p, v in ph.optimizer_params.items():
            if p not in defaults:
                raise OptionError(
                    f"optimizer {ph.optimizer} has no parameter {p!r}", token=p, expected=list(defaults)
                )
            if float(v) != defaults[p]:
                items.append(f"{ph.optimizer}_{p}={_num(v)}")
        blocks.append(",".join(items))
    if not blocks:
        raise OptionError("a TrainingStrategy needs at least one phase")
    return "|".join(blocks)


__all__ = [
    "TMVACompatWarning",
    "Option",
    "OptionSet",
    "OptionValues",
    "parse_options",
    "options_from_kwargs",
    "read_int",
    "read_float",
    "parse_training_strategy",
    "training_phases",
    "format_training_strategy",
    "TS_DEFAULTS",
    "TS_KEYS",
    "DNN_MISSING_KEYS",
    "OPTIMIZERS",
    "OPTIMIZER_PARAMS",
    "REGULARIZATIONS",
]
