"""TTreeFormula-style expressions: operators and functions against numpy closed forms, errors, fuzzing."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.data.expressions import branches, canonical, evaluate, evaluate_masked, parse, split_label
from tmvacompat.errors import InputDataError

RNG = np.random.default_rng(7)
A = RNG.uniform(0.1, 3.0, 50)
B = RNG.uniform(-2.0, 2.0, 50)
C = RNG.integers(0, 4, 50).astype(np.int32)
FIX = RNG.normal(size=(50, 3)).astype(np.float32)
FIELDS = {"a": A, "b": B, "c": C, "ev.px": B * 2, "fixed3": FIX, "flag": C > 1}

CASES = [
    ("a+b", A + B),
    ("a-b", A - B),
    ("a*b", A * B),
    ("a/b", A / B),
    ("a**b", A**B),
    ("a^2", A**2),
    ("a%2", np.fmod(A, 2)),
    ("-a", -A),
    ("+a", A),
    ("a<b", (A < B) * 1.0),
    ("a<=b", (A <= B) * 1.0),
    ("a>b", (A > B) * 1.0),
    ("a>=b", (A >= B) * 1.0),
    ("c==2", (C == 2) * 1.0),
    ("c!=2", (C != 2) * 1.0),
    ("a>1 && b>0", ((A > 1) & (B > 0)) * 1.0),
    ("a>1 || b>0", ((A > 1) | (B > 0)) * 1.0),
    ("!(a>1)", (~(A > 1)) * 1.0),
    ("a>1 and not (b>0)", ((A > 1) & ~(B > 0)) * 1.0),
    ("!b>0", ((B == 0) > 0) * 1.0),  # C precedence: (!b) > 0
    ("a>1 or b>0", ((A > 1) | (B > 0)) * 1.0),
    ("b>0 ? a : -a", np.where(B > 0, A, -A)),
    ("abs(b)", np.abs(B)),
    ("fabs(b)", np.abs(B)),
    ("sqrt(a)", np.sqrt(A)),
    ("exp(b)", np.exp(B)),
    ("log(a)", np.log(A)),
    ("log10(a)", np.log10(A)),
    ("pow(a, b)", A**B),
    ("sin(b)", np.sin(B)),
    ("cos(b)", np.cos(B)),
    ("tan(b)", np.tan(B)),
    ("atan2(b, a)", np.arctan2(B, A)),
    ("min(a, b)", np.minimum(A, B)),
    ("max(a, b)", np.maximum(A, B)),
    ("TMath::Abs(b)", np.abs(B)),
    ("TMath::Sqrt(a)", np.sqrt(A)),
    ("TMath::Exp(b)", np.exp(B)),
    ("TMath::Log(a)", np.log(A)),
    ("TMath::Power(a, 3)", A**3),
    ("TMath::Min(a, b)", np.minimum(A, B)),
    ("TMath::Max(a, b)", np.maximum(A, B)),
    ("TMath::Cos(b)*TMath::Pi()", np.cos(B) * math.pi),
    ("TMath::Sin(b)", np.sin(B)),
    ("TMath::ATan2(a, b)", np.arctan2(A, B)),
    ("ev.px", B * 2),
    ("fixed3[1]", FIX[:, 1].astype(np.float64)),
    ("fixed3[0]+fixed3[2]", FIX[:, 0].astype(np.float64) + FIX[:, 2]),
    ("Sum$(fixed3)", FIX.astype(np.float64).sum(axis=1)),
    ("Max$(fixed3)", FIX.max(axis=1).astype(np.float64)),
    ("Min$(fixed3)", FIX.min(axis=1).astype(np.float64)),
    ("Length$(fixed3)", np.full(50, 3.0)),
    ("flag", (C > 1) * 1.0),
    ("c/2", C / 2.0),  # TTreeFormula divides in double, also for integers
    ("1.5e1", np.full(50, 15.0)),
    (".5*a", 0.5 * A),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_operator_and_function_closed_form(expr, expected):
    got = evaluate(expr, FIELDS)
    assert got.dtype == np.float64 and got.shape == (50,)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("-a**2", -(A**2)),  # power binds tighter than unary minus
        ("2^3^2", np.full(50, 512.0)),  # right-associative
        ("a+b*c", A + B * C),
        ("(a+b)*c", (A + B) * C),
        ("a-b-c", (A - B) - C),
        ("a/b/2", (A / B) / 2),
        ("a>1 || b>0 && c>2", ((A > 1) | ((B > 0) & (C > 2))) * 1.0),  # && before ||
        ("a+1 > b*2", ((A + 1) > (B * 2)) * 1.0),
        ("c>2 ? 1 : c>1 ? 2 : 3", np.where(C > 2, 1.0, np.where(C > 1, 2.0, 3.0))),
        ("2^-1", np.full(50, 0.5)),
    ],
)
def test_precedence(expr, expected):
    np.testing.assert_allclose(evaluate(expr, FIELDS), expected, rtol=1e-12)


JAG = ak.Array([[3.0, 1.0, 2.0], [], [5.5], [0.5, 7.0]])


def _loop(f, default=0.0):
    return np.array([f(list(x)) if len(x) else default for x in JAG.tolist()])


def test_jagged_reductions_against_python_loops():
    fields = {"jet_pt": JAG, "n": np.arange(4)}
    np.testing.assert_allclose(evaluate("Length$(jet_pt)", fields), [3, 0, 1, 2])
    np.testing.assert_allclose(evaluate("Sum$(jet_pt)", fields), _loop(sum))
    np.testing.assert_allclose(evaluate("Max$(jet_pt)", fields), _loop(max))  # empty entry -> 0
    np.testing.assert_allclose(evaluate("Min$(jet_pt)", fields), _loop(min))
    np.testing.assert_allclose(evaluate("Sum$(jet_pt>2)", fields), _loop(lambda x: sum(v > 2 for v in x)))
    np.testing.assert_allclose(evaluate("Sum$(jet_pt*2)+n", fields), _loop(sum) * 2 + np.arange(4))
    np.testing.assert_allclose(
        evaluate("MaxIf$(jet_pt, jet_pt<4)", fields), _loop(lambda x: max([v for v in x if v < 4], default=0))
    )


def test_jagged_index_no_data_mask_and_alt():
    fields = {"jet_pt": JAG}
    v, ok = evaluate_masked("jet_pt[1]", fields)
    assert ok.tolist() == [True, False, False, True]
    np.testing.assert_allclose(v[ok], [1.0, 7.0])
    assert np.isnan(evaluate("jet_pt[1]", fields)[1])
    np.testing.assert_allclose(evaluate("Alt$(jet_pt[1], -1)", fields), [1.0, -1.0, -1.0, 7.0])
    # a numpy object array (uproot library="np") works the same
    obj = np.empty(4, dtype=object)
    for i, x in enumerate(JAG.tolist()):
        obj[i] = np.array(x, dtype=np.float32)
    np.testing.assert_allclose(evaluate("Max$(jet_pt)", {"jet_pt": obj}), _loop(max))


def test_branches_canonical_and_label():
    assert branches("myvar1 := var1+TMath::Abs(var2)") == {"var1", "var2"}
    assert branches("Max$(jet_pt) > 20 && fixed3[1] < ev.px") == {"jet_pt", "fixed3", "ev.px"}
    assert branches("TMath::Pi()*2") == set()
    assert canonical(" var1 +  var2 ") == "var1+var2"
    assert split_label("spec1 := var1*2") == ("spec1", "var1*2")
    assert split_label("var1") == (None, "var1")
    assert parse("a+b") is parse("a+b")  # parsed once, cached


@pytest.mark.parametrize(
    ("expr", "token", "position"),
    [
        ("a +", "end of expression", 3),
        ("a + * b", "*", 4),
        ("(a+b", "end of expression", 4),
        ("a b", "b", 2),
        ("a # b", "#", 2),
        ("fixed3[x]", "x", 7),
        ("", "", 0),
    ],
)
def test_syntax_error_names_token_and_position(expr, token, position):
    with pytest.raises(InputDataError) as info:
        evaluate(expr, FIELDS)
    assert info.value.position == position
    assert info.value.token == token


def test_unknown_branch_names_it_expression_and_closest():
    with pytest.raises(InputDataError) as info:
        evaluate("fixd3[0] + a", FIELDS)
    err = info.value
    assert err.token == "fixd3" and "fixd3[0] + a" in str(err)
    assert err.expected[0] == "fixed3"


def test_unknown_function_and_arity():
    with pytest.raises(InputDataError) as info:
        evaluate("TMath::Abss(a)", FIELDS)
    assert info.value.expected[0] == "TMath::Abs"
    with pytest.raises(InputDataError, match="takes 2 arguments"):
        evaluate("pow(a)", FIELDS)


@pytest.mark.parametrize("expr", ["jet_pt", "jet_pt > 20", "n + jet_pt", "jet_pt[0] * jet_pt"])
def test_jagged_used_as_scalar_is_refused_with_a_hint(expr):
    with pytest.raises(InputDataError) as info:
        evaluate(expr, {"jet_pt": JAG, "n": np.arange(4)})
    msg = str(info.value)
    assert info.value.token == "jet_pt"
    assert "jet_pt[0]" in msg and "Max$(jet_pt)" in msg


def test_fixed_array_as_scalar_index_errors():
    with pytest.raises(InputDataError, match="fixed3"):
        evaluate("fixed3 * 2", FIELDS)
    with pytest.raises(InputDataError, match="out of range") as info:
        evaluate("fixed3[3]", FIELDS)
    assert info.value.expected == ["0", "1", "2"]
    with pytest.raises(InputDataError, match="not an array"):
        evaluate("a[0]", FIELDS)


def test_length_mismatch_is_refused():
    with pytest.raises(InputDataError, match="entries"):
        evaluate("a+b", {"a": np.ones(3), "b": np.ones(4)})


_ALPHABET = st.sampled_from(
    list("ab01.()[]+-*/%^<>=!&|?:, $#\"'\\")
    + [
        "a",
        "b",
        "fixed3",
        "jet",
        "TMath::",
        "Sum$",
        "sqrt",
        " ",
        "&&",
        "||",
        "**",
        "e5",
        "1e400",
        "not ",
        "and ",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=14).map("".join))
def test_fuzz_only_input_data_errors(text):
    fields = {"a": A[:5], "b": B[:5], "fixed3": FIX[:5], "jet": JAG[[0, 1, 2, 3, 0]]}
    try:
        out = evaluate(text, fields)
    except InputDataError:
        return
    assert out.shape == (5,)


_LEAF = st.one_of(st.sampled_from(["a", "b"]), st.integers(0, 9).map(str))
_EXPR = st.recursive(
    _LEAF,
    lambda sub: st.tuples(sub, st.sampled_from(["+", "-", "*", "<", "&&", "||"]), sub).map(
        lambda t: f"({t[0]}{t[1]}{t[2]})"
    ),
    max_leaves=8,
)


def _reference(text: str, a: float, b: float) -> float:
    """An independent scalar evaluator: Python's ``ast`` on the fully parenthesised text (&& -> &, || -> |,
    which is safe because every binary operation is bracketed), with TTreeFormula's 0/1 logic."""
    import ast

    ops = {
        ast.Add: lambda x, y: x + y,
        ast.Sub: lambda x, y: x - y,
        ast.Mult: lambda x, y: x * y,
        ast.BitAnd: lambda x, y: float(bool(x) and bool(y)),
        ast.BitOr: lambda x, y: float(bool(x) or bool(y)),
    }

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp):
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Compare):
            return float(walk(node.left) < walk(node.comparators[0]))
        if isinstance(node, ast.Name):
            return {"a": a, "b": b}[node.id]
        if isinstance(node, ast.Constant):
            return float(node.value)
        raise AssertionError(ast.dump(node))

    return walk(ast.parse(text.replace("&&", "&").replace("||", "|"), mode="eval"))


@settings(max_examples=200, deadline=None)
@given(_EXPR)
def test_random_parenthesised_expressions_match_a_second_evaluator(text):
    got = evaluate(text, {"a": A[:6], "b": B[:6]})
    for i in range(6):
        assert got[i] == pytest.approx(_reference(text, float(A[i]), float(B[i])), rel=1e-12, abs=1e-12)


def test_incompatible_jagged_branches_give_input_data_error():
    fields = {"a": ak.Array([[1.0], [2.0, 3.0]]), "b": ak.Array([[1.0, 2.0], [3.0]])}
    with pytest.raises(InputDataError, match="Sum"):
        evaluate("Sum$(a+b)", fields)
    with pytest.raises(InputDataError, match="cannot be read as numbers"):
        evaluate("s", {"s": np.array(["x", "y"])})
    # same-length lists combine element by element inside a reduction
    np.testing.assert_allclose(evaluate("Sum$(a*a)", {"a": fields["a"]}), [1.0, 13.0])
