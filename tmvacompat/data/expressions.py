"""TTreeFormula-style expressions, evaluated column-wise with numpy (never with Python ``eval``).

TMVA books variables, spectators, targets, cuts and weights as ROOT ``TTreeFormula`` strings such as
``var1+var2``, ``TMath::Abs(x)>0.5 && njets>=2`` or ``Max$(jet_pt)``. This module parses such a string
once (a tokenizer and a precedence-climbing parser building a small AST) and evaluates it on a mapping
of per-event arrays:

* numbers, branch names (``a.b`` dotted leaf names too), ``+ - * / % ** ^`` (``^`` is power, as in ROOT),
  comparisons, ``&& || !`` (and ``and or not``), ``c ? a : b``, unary ``-``/``+``;
* indexing of fixed-size (2-D numpy) and jagged (awkward) arrays with constant indices: ``fixed3[1]``,
  ``jet_pt[0]``;
* functions ``abs fabs sqrt exp log log10 pow sin cos tan asin acos atan atan2 sinh cosh tanh min max floor
  ceil`` and their ``TMath::`` forms (``TMath::Abs``, ``TMath::Power``, ``TMath::Pi()``, ...);
* reductions over the elements of one entry: ``Length$ Sum$ Max$ Min$`` (``MaxIf$``/``MinIf$``/``Alt$``
  too). As in TTreeFormula, ``Max$``/``Min$`` of an empty entry are 0.

Arithmetic is done in float64, as TTreeFormula does (booleans and integers become 0/1 and exact floats).
An index past the end of an entry's array gives TTreeFormula "no data" for that entry: TMVA then makes no
event of it. :func:`evaluate_masked` returns that validity mask; :func:`evaluate` fills such entries with
NaN.

Example:
    >>> import numpy as np
    >>> evaluate("TMath::Abs(a-b) > 1 ? a : -b", {"a": np.array([3.0, 0.5]), "b": np.array([1.0, 1.0])})
    array([ 3., -1.])
    >>> sorted(branches("myvar := var1+var2"))
    ['var1', 'var2']
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tmvacompat.data.rootread import array_block
from tmvacompat.errors import InputDataError, closest

__all__ = [
    "Expression",
    "parse",
    "evaluate",
    "evaluate_masked",
    "branches",
    "canonical",
    "split_label",
]

# --------------------------------------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]*)*\$?)
  | (?P<op>\*\*|&&|\|\||==|!=|<=|>=|[-+*/%^<>!?:(),\[\]])
    """,
    re.VERBOSE,
)

_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # "num", "name", "op", "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise InputDataError(
                f"syntax error in expression {text!r}: unexpected character {text[pos]!r}",
                token=text[pos],
                position=pos,
            )
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            tok = m.group(kind)
            if kind == "name" and tok in _WORD_OPS:
                kind, tok = "op", _WORD_OPS[tok]
            toks.append(_Tok(kind, tok, pos))
        pos = m.end()
    toks.append(_Tok("end", "", n))
    return toks


# --------------------------------------------------------------------------------------------- AST
# Nodes are tuples: ("num", value) | ("name", name, pos) | ("index", node, idx, pos)
# | ("call", fname, args, pos) | ("un", op, node) | ("bin", op, lhs, rhs) | ("cond", c, a, b)

# binary operators: precedence, right-associative?
_BINARY: dict[str, tuple[int, bool]] = {
    "||": (1, False),
    "&&": (2, False),
    "==": (3, False),
    "!=": (3, False),
    "<": (4, False),
    "<=": (4, False),
    ">": (4, False),
    ">=": (4, False),
    "+": (5, False),
    "-": (5, False),
    "*": (6, False),
    "/": (6, False),
    "%": (6, False),
    "**": (8, True),
    "^": (8, True),
}
_UNARY_PREC = 7  # binds looser than power: -x**2 == -(x**2)
#: TTreeFormula's special variables usable as names (the caller supplies them in ``fields``).
_SPECIAL_NAMES = ("Entry$",)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, what: str, expected: list[str] | None = None) -> None:
        shown = tok.text if tok.kind != "end" else "end of expression"
        raise InputDataError(
            f"syntax error in expression {self.text!r}: {what} {shown!r}",
            token=shown,
            position=tok.pos,
            expected=expected,
        )

    def expect(self, op: str) -> _Tok:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            self.fail(tok, f"expected {op!r} but found", [op])
        return tok

    def parse(self) -> tuple:
        if self.peek().kind == "end":
            raise InputDataError(f"empty expression {self.text!r}", token=self.text, position=0)
        node = self.ternary()
        tok = self.peek()
        if tok.kind != "end":
            self.fail(tok, "unexpected")
        return node

    def ternary(self) -> tuple:
        cond = self.binary(1)
        tok = self.peek()
        if tok.kind == "op" and tok.text == "?":
            self.take()
            a = self.ternary()
            self.expect(":")
            b = self.ternary()
            return ("cond", cond, a, b)
        return cond

    def binary(self, min_prec: int) -> tuple:
        lhs = self.unary()
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in _BINARY:
                return lhs
            prec, right = _BINARY[tok.text]
            if prec < min_prec:
                return lhs
            self.take()
            rhs = self.binary(prec if right else prec + 1)
            lhs = ("bin", "**" if tok.text == "^" else tok.text, lhs, rhs)

    def unary(self) -> tuple:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            self.take()
            operand = self.binary(_UNARY_PREC)
            return ("un", tok.text, operand) if tok.text != "+" else operand
        return self.postfix()

    def postfix(self) -> tuple:
        node = self.primary()
        while self.peek().kind == "op" and self.peek().text == "[":
            open_tok = self.take()
            idx_tok = self.take()
            if idx_tok.kind != "num" or not idx_tok.text.isdigit():
                self.fail(idx_tok, "array index must be a non-negative integer constant, found", ["0", "1"])
            self.expect("]")
            node = ("index", node, int(idx_tok.text), open_tok.pos)
        return node

    def primary(self) -> tuple:
        tok = self.take()
        if tok.kind == "num":
            return ("num", float(tok.text))
        if tok.kind == "name":
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == "(":
                self.take()
                args: list[tuple] = []
                if not (self.peek().kind == "op" and self.peek().text == ")"):
                    args.append(self.ternary())
                    while self.peek().kind == "op" and self.peek().text == ",":
                        self.take()
                        args.append(self.ternary())
                self.expect(")")
                return ("call", tok.text, tuple(args), tok.pos)
            if (tok.text.endswith("$") and tok.text not in _SPECIAL_NAMES) or "::" in tok.text:
                self.fail(tok, "a function must be called with '(...)':")
            return ("name", tok.text, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            node = self.ternary()
            self.expect(")")
            return node
        self.fail(tok, "unexpected")
        raise AssertionError  # unreachable


# --------------------------------------------------------------------------------------------- functions


_F1: dict[str, Callable[[Any], Any]] = {
    "abs": np.abs,
    "fabs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "floor": np.floor,
    "int": np.trunc,  # the C++ cast TFormula accepts (CrossValidation's SplitExpr uses it)
    "ceil": np.ceil,
    "TMath::Abs": np.abs,
    "TMath::Sqrt": np.sqrt,
    "TMath::Exp": np.exp,
    "TMath::Log": np.log,
    "TMath::Log10": np.log10,
    "TMath::Sin": np.sin,
    "TMath::Cos": np.cos,
    "TMath::Tan": np.tan,
    "TMath::ASin": np.arcsin,
    "TMath::ACos": np.arccos,
    "TMath::ATan": np.arctan,
    "TMath::SinH": np.sinh,
    "TMath::CosH": np.cosh,
    "TMath::TanH": np.tanh,
    "TMath::Floor": np.floor,
    "TMath::Ceil": np.ceil,
    "TMath::Sq": np.square,
}
_F2: dict[str, Callable[[Any, Any], Any]] = {
    "pow": np.power,
    "atan2": np.arctan2,
    "min": np.minimum,
    "max": np.maximum,
    "fmod": np.fmod,
    "TMath::Power": np.power,
    "TMath::ATan2": np.arctan2,
    "TMath::Min": np.minimum,
    "TMath::Max": np.maximum,
}
_F0: dict[str, float] = {
    "TMath::Pi": math.pi,
    "TMath::TwoPi": 2 * math.pi,
    "TMath::PiOver2": math.pi / 2,
    "TMath::E": math.e,
    "TMath::Sqrt2": math.sqrt(2.0),
}
_REDUCTIONS = ("Length$", "Sum$", "Max$", "Min$")
_REDUCTIONS_IF = ("MaxIf$", "MinIf$")
_FUNCTIONS = sorted([*_F1, *_F2, *_F0, *_REDUCTIONS, *_REDUCTIONS_IF, "Alt$"])


def _arity(name: str) -> int | None:
    if name in _F1 or name in _REDUCTIONS:
        return 1
    if name in _F2 or name in _REDUCTIONS_IF or name == "Alt$":
        return 2
    if name in _F0:
        return 0
    return None


def _check_calls(node: tuple, text: str) -> None:
    kind = node[0]
    if kind == "call":
        _, fname, args, pos = node
        n = _arity(fname)
        if n is None:
            raise InputDataError(
                f"unknown function {fname!r} in expression {text!r}",
                token=fname,
                position=pos,
                expected=closest(fname, _FUNCTIONS) or _FUNCTIONS,
            )
        if len(args) != n:
            raise InputDataError(
                f"function {fname!r} takes {n} argument{'s' if n != 1 else ''}, got {len(args)} "
                f"in expression {text!r}",
                token=fname,
                position=pos,
            )
        for a in args:
            _check_calls(a, text)
    elif kind in ("un",):
        _check_calls(node[2], text)
    elif kind == "bin":
        _check_calls(node[2], text)
        _check_calls(node[3], text)
    elif kind == "cond":
        for a in node[1:]:
            _check_calls(a, text)
    elif kind == "index":
        _check_calls(node[1], text)


# --------------------------------------------------------------------------------------------- public API


def split_label(text: str) -> tuple[str | None, str]:
    """Split TMVA's ``"label := expression"`` form; returns ``(label or None, expression)``.

    >>> split_label("myvar1 := var1+var2")
    ('myvar1', 'var1+var2')
    >>> split_label("var3")
    (None, 'var3')
    """
    if ":=" in text:
        label, expr = text.split(":=", 1)
        return label.strip(), expr.strip()
    return None, text.strip()


def canonical(expression: str) -> str:
    """TMVA compares expressions textually with blanks removed: ``canonical("var1 + var2") == "var1+var2"``.

    >>> canonical(" var1 + var2 ")
    'var1+var2'
    """
    return "".join(expression.split())


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its AST and the branch names it reads."""

    text: str
    ast: tuple
    names: frozenset[str]

    def evaluate(self, fields: Mapping[str, Any], *, where: str | None = None) -> np.ndarray:
        """Values per entry (float64); entries without data (index out of range) are NaN."""
        values, valid = self.evaluate_masked(fields, where=where)
        if not valid.all():
            values = values.copy()
            values[~valid] = np.nan
        return values

    def evaluate_masked(
        self, fields: Mapping[str, Any], *, where: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values per entry (float64) and a boolean mask of the entries that have data."""
        ev = _Evaluator(self.text, fields, where)
        with np.errstate(all="ignore"):
            try:
                value, valid = ev.eval(self.ast)
            except InputDataError:
                raise
            except (ValueError, TypeError, IndexError) as err:
                # e.g. two jagged branches whose lists differ in length, combined element by element
                raise InputDataError(
                    f"cannot evaluate expression {self.text!r} on these branches: {err}".split("\n")[0],
                    token=self.text,
                    where=where,
                ) from None
            if _is_array_valued(value):
                bad = sorted(_bare_array_names(self.ast, ev.cache)) or sorted(self.names)
                name = bad[0] if bad else self.text
                raise InputDataError(
                    f"expression {self.text!r} has several values per entry: branch {name!r} is an array "
                    f"(jagged or fixed-size) used as a scalar; use an element such as {name}[0] or a "
                    f"reduction such as Max$({name}), Sum$({name}) or Length$({name})",
                    token=name,
                    where=where,
                )
            n = ev.n
            if n is None and fields:  # a constant: one value per entry of the given fields
                n = len(next(iter(fields.values())))
            try:
                if _is_text(value):  # never decoded: awkward can hang on strings that are not valid UTF-8
                    raise ValueError("strings")
                out = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)) if n is not None else None
                if out is None:  # a constant expression and no fields to size it
                    out = np.asarray(value, dtype=np.float64).reshape(-1)
                out = np.array(out, dtype=np.float64)
            except (ValueError, TypeError) as err:  # strings (or other objects) where numbers are needed
                names = sorted(self.names) or [self.text]
                shown = ", ".join(repr(x) for x in names)
                raise InputDataError(
                    f"expression {self.text!r} does not give numbers: branch {shown} holds strings or other "
                    f"non-numeric values ({str(err).splitlines()[0] if str(err) else type(err).__name__})",
                    token=names[0],
                    where=where,
                ) from None
            valid_arr = np.broadcast_to(np.asarray(valid, dtype=bool), out.shape).copy()
        return out, valid_arr


def _is_text(value: Any) -> bool:
    """True for an awkward array of strings or bytes."""
    if not type(value).__module__.startswith("awkward"):
        return False
    import awkward as ak

    text = str(ak.type(value))
    return "string" in text or "bytes" in text


@functools.lru_cache(maxsize=1024)
def parse(expression: str) -> Expression:
    """Parse ``expression`` (a TTreeFormula string) into an :class:`Expression`.

    Raises:
        InputDataError: syntax error (names the token and its position) or unknown function.

    >>> sorted(parse("Max$(jet_pt) > 20 && fixed3[1] < a.b").names)
    ['a.b', 'fixed3', 'jet_pt']
    """
    if not isinstance(expression, str):
        raise InputDataError(
            f"an expression must be a string, got {type(expression).__name__}", token=repr(expression)
        )
    ast = _Parser(expression).parse()
    _check_calls(ast, expression)
    names: set[str] = set()
    _collect(ast, names)
    return Expression(expression, ast, frozenset(names))


def _collect(node: tuple, out: set[str]) -> None:
    kind = node[0]
    if kind == "name":
        out.add(node[1])
    elif kind == "index":
        _collect(node[1], out)
    elif kind == "call":
        for a in node[2]:
            _collect(a, out)
    elif kind == "un":
        _collect(node[2], out)
    elif kind == "bin":
        _collect(node[2], out)
        _collect(node[3], out)
    elif kind == "cond":
        for a in node[1:]:
            _collect(a, out)


def branches(expression: str) -> set[str]:
    """The branch (leaf) names ``expression`` reads; a ``label :=`` prefix is ignored, and so are
    TTreeFormula's special variables (``Entry$``), which are not branches.

    >>> sorted(branches("myvar1 := var1+TMath::Abs(var2)*fixed3[1]"))
    ['fixed3', 'var1', 'var2']
    """
    return set(parse(split_label(expression)[1]).names) - set(_SPECIAL_NAMES)


def evaluate(expression: str, fields: Mapping[str, Any], *, where: str | None = None) -> np.ndarray:
    """Evaluate ``expression`` on ``fields`` (name -> per-entry array), one float64 value per entry.

    ``fields`` values may be 1-D numpy arrays (scalars per entry), N-D numpy arrays (fixed-size arrays)
    or awkward arrays (jagged). Entries for which an index is out of range are NaN (see
    :func:`evaluate_masked`). ``where`` (e.g. ``"file.root:TreeS"``) is put in error messages.

    Raises:
        InputDataError: syntax error, unknown branch or function (with the closest names), array branch
            used as a scalar, fields of different lengths.

    >>> import numpy as np
    >>> evaluate("pow(x, 2) + Sum$(f)", {"x": np.array([1.0, 2.0]), "f": np.ones((2, 3))})
    array([4., 7.])
    """
    return parse(split_label(expression)[1]).evaluate(fields, where=where)


def evaluate_masked(
    expression: str, fields: Mapping[str, Any], *, where: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`evaluate`, also returning the mask of entries that have data (TTreeFormula GetNdata>0).

    >>> import numpy as np, awkward as ak
    >>> evaluate_masked("j[1]", {"j": ak.Array([[1.0, 2.0], [3.0]])})
    (array([2., 0.]), array([ True, False]))
    """
    return parse(split_label(expression)[1]).evaluate_masked(fields, where=where)


# --------------------------------------------------------------------------------------------- evaluation


def _is_awkward(x: Any) -> bool:
    return type(x).__module__.startswith("awkward")


def _is_array_valued(x: Any) -> bool:
    if _is_awkward(x):
        return x.ndim > 1
    return isinstance(x, np.ndarray) and x.ndim > 1


def _to_float(x: Any) -> Any:
    if _is_awkward(x):
        import awkward as ak

        if _is_text(x):
            return x  # refused by evaluate_masked without being decoded (invalid UTF-8 hangs awkward)
        # the type decides (not the values): a jagged array whose lists happen to be equal stays jagged
        if "var" not in str(ak.type(x)):
            try:
                return np.asarray(ak.to_numpy(x), dtype=np.float64)
            except (ValueError, TypeError):
                pass
        return ak.values_astype(x, np.float64)
    if isinstance(x, np.ndarray) and x.dtype == object:  # uproot library="np" jagged: one array per entry
        import awkward as ak

        return _to_float(ak.Array([np.asarray(e) for e in x]))
    return np.asarray(x, dtype=np.float64)


def _truth(x: Any) -> Any:
    return x != 0


class _Evaluator:
    def __init__(self, text: str, fields: Mapping[str, Any], where: str | None) -> None:
        self.text = text
        self.fields = fields
        self.where = where
        self.n: int | None = None
        self.cache: dict[str, Any] = {}

    def fail(self, msg: str, token: str, pos: int | None = None, expected: list[str] | None = None) -> None:
        raise InputDataError(msg, token=token, position=pos, expected=expected, where=self.where)

    def lookup(self, name: str, pos: int) -> Any:
        if name in self.cache:
            return self.cache[name]
        if name not in self.fields:
            avail = [str(k) for k in self.fields]
            self.fail(
                f"unknown branch {name!r} in expression {self.text!r}",
                name,
                pos,
                closest(name, avail) or sorted(avail)[:20],
            )
        try:
            value = _to_float(self.fields[name])
        except (ValueError, TypeError) as err:
            self.fail(f"branch {name!r} cannot be read as numbers ({err})", name, pos)
        length = len(value)
        if self.n is None:
            self.n = length
        elif self.n != length:
            self.fail(
                f"branch {name!r} has {length} entries but other branches in {self.text!r} have {self.n}",
                name,
                pos,
            )
        self.cache[name] = value
        return value

    def eval(self, node: tuple) -> tuple[Any, Any]:
        """Returns (value, valid) where valid is True or a boolean per-entry array."""
        kind = node[0]
        if kind == "num":
            return node[1], True
        if kind == "name":
            return self.lookup(node[1], node[2]), True
        if kind == "index":
            return self.index(node)
        if kind == "un":
            value, valid = self.eval(node[2])
            if node[1] == "-":
                return -value, valid
            return (~_truth(value)) * 1.0, valid
        if kind == "bin":
            return self.binary(node)
        if kind == "cond":
            c, vc = self.eval(node[1])
            a, va = self.eval(node[2])
            b, vb = self.eval(node[3])
            if _is_awkward(c) or _is_awkward(a) or _is_awkward(b):
                import awkward as ak

                return ak.where(_truth(c), a, b), _and(vc, _and(va, vb))
            t = _truth(c)
            chosen = True if (va is True and vb is True) else np.where(t, va, vb)
            return np.where(t, a, b), _and(vc, chosen)
        if kind == "call":
            return self.call(node)
        raise AssertionError(kind)

    def binary(self, node: tuple) -> tuple[Any, Any]:
        op = node[1]
        a, va = self.eval(node[2])
        b, vb = self.eval(node[3])
        valid = _and(va, vb)
        if op == "+":
            return a + b, valid
        if op == "-":
            return a - b, valid
        if op == "*":
            return a * b, valid
        if op == "/":
            return a / b, valid
        if op == "%":
            return np.fmod(a, b), valid
        if op == "**":
            return np.power(a, b), valid
        if op == "&&":
            return (_truth(a) & _truth(b)) * 1.0, valid
        if op == "||":
            return (_truth(a) | _truth(b)) * 1.0, valid
        cmp = {
            "==": np.equal,
            "!=": np.not_equal,
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
        }[op]
        return cmp(a, b) * 1.0, valid

    def index(self, node: tuple) -> tuple[Any, Any]:
        _, inner, idx, pos = node
        value, valid = self.eval(inner)
        label = inner[1] if inner[0] == "name" else self.text
        if not _is_array_valued(value):
            self.fail(
                f"{label!r} in expression {self.text!r} is not an array and cannot be indexed",
                label,
                pos,
            )
        if _is_awkward(value):
            import awkward as ak

            block = array_block(value, idx, idx + 1, np.float64)
            if block is not None:  # one pass over the flat content, whatever the list lengths
                return np.where(block[1], block[0][:, 0], 0.0), _and(valid, block[1])
            counts = np.asarray(ak.num(value, axis=1))
            has = counts > idx
            padded = ak.fill_none(ak.pad_none(value, idx + 1, axis=1), 0.0)
            out = padded[:, idx]
            try:
                out = np.asarray(ak.to_numpy(out), dtype=np.float64)
            except (ValueError, TypeError):
                pass
            return out, _and(valid, has)
        if idx >= value.shape[1]:
            self.fail(
                f"index {idx} out of range for {label!r} of fixed size {value.shape[1]} "
                f"in expression {self.text!r}",
                label,
                pos,
                [str(i) for i in range(value.shape[1])],
            )
        return value[:, idx], valid

    def call(self, node: tuple) -> tuple[Any, Any]:
        _, fname, args, pos = node
        if fname in _F0:
            return _F0[fname], True
        if fname == "Alt$":
            a, va = self.eval(args[0])
            b, vb = self.eval(args[1])
            if _is_array_valued(a) or _is_array_valued(b):
                self.fail(f"Alt$ needs scalar arguments in expression {self.text!r}", fname, pos)
            return np.where(va, a, b), vb
        if fname in _REDUCTIONS or fname in _REDUCTIONS_IF:
            value, valid = self.eval(args[0])
            cond = None
            if fname in _REDUCTIONS_IF:
                cond, vcond = self.eval(args[1])
                valid = _and(valid, vcond)
            return _reduce(fname, value, cond), valid
        vals = [self.eval(a) for a in args]
        valid: Any = True
        for _, v in vals:
            valid = _and(valid, v)
        if fname in _F1:
            return _F1[fname](vals[0][0]), valid
        return _F2[fname](vals[0][0], vals[1][0]), valid


def _bare_array_names(node: tuple, values: Mapping[str, Any]) -> set[str]:
    """Array branches used as scalars: not indexed and not inside a reduction."""
    kind = node[0]
    if kind == "name":
        v = values.get(node[1])
        return {node[1]} if v is not None and _is_array_valued(v) else set()
    if kind == "index":
        return set() if node[1][0] == "name" else _bare_array_names(node[1], values)
    if kind == "call":
        if node[1] in _REDUCTIONS or node[1] in _REDUCTIONS_IF:
            return set()
        children = node[2]
    elif kind == "un":
        children = (node[2],)
    elif kind == "bin":
        children = node[2:]
    elif kind == "cond":
        children = node[1:]
    else:
        return set()
    out: set[str] = set()
    for c in children:
        out |= _bare_array_names(c, values)
    return out


def _and(a: Any, b: Any) -> Any:
    if a is True:
        return b
    if b is True:
        return a
    return np.logical_and(a, b)


def _reduce(fname: str, value: Any, cond: Any) -> Any:
    """Length$/Sum$/Max$/Min$ (and MaxIf$/MinIf$) over all elements of each entry; empty -> 0."""
    if not _is_array_valued(value) and (cond is None or not _is_array_valued(cond)):
        # one element per entry
        if fname == "Length$":
            return np.ones_like(np.asarray(value, dtype=np.float64))
        if cond is not None:
            return np.where(_truth(cond), value, 0.0)
        return value
    if _is_awkward(value) or _is_awkward(cond):
        import awkward as ak

        if cond is not None and not _is_array_valued(value):
            value = cond * 0.0 + value  # one value per element of the condition
        if cond is not None:
            value = value[_truth(cond)] if _is_array_valued(value) else value
        while value.ndim > 2:
            value = ak.flatten(value, axis=-1)
        if fname == "Length$":
            out = ak.num(value, axis=1)
        elif fname == "Sum$":
            out = ak.sum(value, axis=1)
        elif fname in ("Max$", "MaxIf$"):
            out = ak.fill_none(ak.max(value, axis=1), 0.0)
        else:
            out = ak.fill_none(ak.min(value, axis=1), 0.0)
        return np.asarray(ak.to_numpy(out), dtype=np.float64)
    if cond is not None:
        nrow = len(value) if _is_array_valued(value) else len(cond)
        value = np.asarray(value, dtype=np.float64).reshape(nrow, -1)
        cond = np.asarray(cond).reshape(nrow, -1)
        value, cond = np.broadcast_arrays(value, cond)
    flat = np.asarray(value, dtype=np.float64).reshape(len(value), -1)
    if fname == "Length$":
        return np.full(len(flat), float(flat.shape[1]))
    if cond is not None:
        mask = np.broadcast_to(_truth(np.asarray(cond)).reshape(len(flat), -1), flat.shape)
        fill = -np.inf if fname == "MaxIf$" else np.inf
        red = np.max if fname == "MaxIf$" else np.min
        out = red(np.where(mask, flat, fill), axis=1) if flat.shape[1] else np.zeros(len(flat))
        return np.where(np.isinf(out) & ~mask.any(axis=1), 0.0, out)
    if flat.shape[1] == 0:
        return np.zeros(len(flat))
    if fname == "Sum$":
        return flat.sum(axis=1)
    if fname == "Max$":
        return flat.max(axis=1)
    return flat.min(axis=1)
