"""Layer-size formulas such as ``(N+100)*2``: integer arithmetic in one variable ``N`` (or ``n``).

TMVA evaluates these with ROOT's TFormula and truncates the result to an int. Here a tiny recursive-descent
parser accepts only numbers, ``N``/``n``, ``+ - * /``, unary minus and parentheses, so nothing a user writes
is ever handed to ``eval``.

Example:
    >>> eval_size_formula("(N+100)*2", 4)
    208
"""

from __future__ import annotations

import re

from tmvacompat.errors import LayoutError

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
                    f"unexpected character {ch!r} in layer size formula {text!r}",
                    token=ch,
                    position=m.start(3),
                    expected=["digits", "N", "+", "-", "*", "/", "(", ")"],
                )
            out.append(("op", ch, m.start(3)))
    return out


def is_size_formula(text: str) -> bool:
    """True if ``text`` is a valid size formula (a plain number counts)."""
    try:
        eval_size_formula(text, 1)
    except LayoutError:
        return False
    return True


def eval_size_formula(text: str, nvar: int) -> int:
    """Evaluate ``text`` with ``N = nvar`` and truncate to int, as TMVA does.

    Raises:
        LayoutError: the formula is malformed (names the character and its position).
    """
    toks = _tokens(text)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def fail(msg: str, tok=None):
        where = tok[2] if tok else len(text)
        raise LayoutError(
            f"{msg} in layer size formula {text!r}", token=tok[1] if tok else text, position=where
        )

    def expr() -> float:
        nonlocal pos
        val = term()
        while (t := peek()) and t[1] in "+-" and t[0] == "op":
            pos += 1
            rhs = term()
            val = val + rhs if t[1] == "+" else val - rhs
        return val

    def term() -> float:
        nonlocal pos
        val = factor()
        while (t := peek()) and t[1] in "*/" and t[0] == "op":
            pos += 1
            rhs = factor()
            if t[1] == "*":
                val = val * rhs
            else:
                if rhs == 0:
                    fail("division by zero", t)
                val = val / rhs
        return val

    def factor() -> float:
        nonlocal pos
        t = peek()
        if t is None:
            fail("unexpected end")
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
    return int(value)
