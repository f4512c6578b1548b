"""Layer-size formulas such as ``(N+100)*2``: integer arithmetic in one variable ``N`` (or ``n``).

TMVA evaluates these with ROOT's TFormula and truncates the result to an int. Here a tiny recursive-descent
parser accepts only numbers, ``N``/``n``, ``+ - * /``, unary minus and parentheses, so nothing a user writes
is ever handed to ``eval``. Nesting is bounded (:data:`MAX_DEPTH` parentheses or signs), and so is the result
(a layer size in ``[0, MAX_SIZE]``, the bound a width written out as a number gets).

Example:
    >>> eval_size_formula("(N+100)*2", 4)
    208
"""

from __future__ import annotations

import re

from tmvacompat.errors import LayoutError

#: The largest layer size a formula may give (the same bound a literal width gets).
MAX_SIZE = 10**9
#: The deepest nesting of parentheses and unary signs accepted.
MAX_DEPTH = 64
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|([Nn])|(.))")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(1):
            out.append(("num", m.group(1), m.start(1)))
        elif m.group(2):
            out.append(("var", m.group(2), m.start(2)))
        elif m.group(3):
            ch = m.group(3)
            if ch not in "+-*/()":
                raise LayoutError(
                    f"unexpected character {ch!r} in layer size formula {_short(text)}",
                    token=ch,
                    position=m.start(3),
                    expected=["digits", "N", "+", "-", "*", "/", "(", ")"],
                )
            out.append(("op", ch, m.start(3)))
    return out


def _short(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut in the middle when long."""
    return repr(text) if len(text) <= limit else repr(text[: limit // 2] + " ... " + text[-limit // 2 :])


def is_size_formula(text: str) -> bool:
    """True if ``text`` is a valid size formula (a plain number counts)."""
    try:
        eval_size_formula(text, 1)
    except LayoutError:
        return False
    return True


def eval_size_formula(text: str, nvar: int, *, bounded: bool = True) -> int:
    """Evaluate ``text`` with ``N = nvar`` and truncate to int, as TMVA does.

    ``bounded=False`` skips the final range check (a syntax check before ``N`` is known).

    Raises:
        LayoutError: the formula is malformed (names the character and its position), nested deeper than
            :data:`MAX_DEPTH`, or gives a size outside ``[0, MAX_SIZE]`` for this ``N``.
    """
    toks = _tokens(text)
    pos = 0
    depth = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def fail(msg: str, tok=None):
        where = tok[2] if tok else len(text)
        raise LayoutError(
            f"{msg} in layer size formula {_short(text)}",
            token=tok[1] if tok else _short(text, 40),
            position=where,
        )

    def expr() -> float:
        nonlocal pos
        val = term()
        while (t := peek()) and t[1] in "+-" and t[0] == "op":
            pos += 1
            rhs = term()
            val = checked(val + rhs if t[1] == "+" else val - rhs, t)
        return val

    def term() -> float:
        nonlocal pos
        val = factor()
        while (t := peek()) and t[1] in "*/" and t[0] == "op":
            pos += 1
            rhs = factor()
            if t[1] == "*":
                val = checked(val * rhs, t)
            else:
                if rhs == 0:
                    fail("division by zero", t)
                val = checked(val / rhs, t)
        return val

    def factor() -> float:
        nonlocal pos, depth
        t = peek()
        if t is None:
            fail("unexpected end")
        depth += 1
        try:
            return checked(primary(t), t)
        finally:
            depth -= 1

    def checked(val: float, t) -> float:
        if not abs(val) <= MAX_SIZE * MAX_SIZE:  # also catches inf and nan
            fail("intermediate value too large", t)
        return val

    def primary(t) -> float:
        nonlocal pos
        if depth > MAX_DEPTH:
            fail(f"nesting deeper than {MAX_DEPTH} levels", t)
        if t[0] == "op" and t[1] == "-":
            pos += 1
            return -factor()
        if t[0] == "op" and t[1] == "+":
            pos += 1
            return factor()
        if t[0] == "num":
            pos += 1
            return float(t[1])
        if t[0] == "var":
            pos += 1
            return float(nvar)
        if t[1] == "(":
            pos += 1
            val = expr()
            t2 = peek()
            if t2 is None or t2[1] != ")":
                fail("missing ')'", t2)
            pos += 1
            return val
        fail(f"unexpected {t[1]!r}", t)
        raise AssertionError  # unreachable

    if not toks:
        raise LayoutError(f"empty layer size formula {text!r}", token=text, position=0)
    value = expr()
    if pos != len(toks):
        fail(f"unexpected {toks[pos][1]!r}", toks[pos])
    size = int(value)
    if bounded and not 0 <= size <= MAX_SIZE:
        what = "negative" if size < 0 else "too large"
        raise LayoutError(
            f"layer size formula {_short(text)} gives {size} for N={nvar}, which is {what}",
            token=_short(text, 40),
            position=0,
            expected=[f"a size in [0, {MAX_SIZE}]"],
        )
    return size
