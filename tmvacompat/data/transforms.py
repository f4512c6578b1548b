"""TMVA's variable transformations: Normalize (N), Decorrelate (D), PCA (P), Gauss (G), Uniform (U), Identity.

The VarTransform option (``"N"``, ``"D,G"``, ``"N(var1,var2)_Signal"``) is parsed by
:func:`parse_var_transform`; a :class:`TransformChain` fits the items in order (each on the data already
transformed by the previous ones, as ``TransformationHandler::CalcTransformations`` does) and applies them
with TMVA's arithmetic: inputs are float32 (TMVA events store ``Float_t``), Normalize works in float32,
Decorrelate and PCA in double, Gauss/Uniform evaluate TMVA's ``PDF`` (a linear spline over the cumulative
histogram, resampled into 10000 bins and interpolated linearly between bin centres).

Parameters are kept per class plus one "all classes" entry when there is more than one class; the class
index ``-1`` (or any index out of range) selects the last stored entry, as TMVA's Reader does.

Example:
    >>> import numpy as np
    >>> x = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]], np.float32)
    >>> chain = TransformChain.fit(x, class_ids=[0, 1, 1], n_classes=2, items="N")
    >>> chain.forward(x)
    array([[-1., -1.],
           [ 0.,  0.],
           [ 1.,  1.]], dtype=float32)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.data.pdf import PDF, bin_center, get_val_one, smooth_array
from tmvacompat.data.symeigen import covariance_matrices, principal_components, sqrt_inverse_matrix
from tmvacompat.errors import InputDataError, OptionError, closest

# ---------------------------------------------------------------------------------------------------------
# VarTransform grammar (VariableTransform.cxx, CreateVariableTransforms)
# ---------------------------------------------------------------------------------------------------------

#: accepted spellings -> canonical transformation name
TRANSFORM_ALIASES: dict[str, str] = {
    "I": "Identity", "Ident": "Identity", "Identity": "Identity",
    "D": "Decorrelate", "Deco": "Decorrelate", "Decorrelate": "Decorrelate",
    "P": "PCA", "PCA": "PCA",
    "U": "Uniform", "Uniform": "Uniform",
    "G": "Gauss", "Gauss": "Gauss",
    "N": "Normalize", "Norm": "Normalize", "Normalise": "Normalize", "Normalize": "Normalize",
}  # fmt: skip

_DEFAULT_SELECTION: dict[str, tuple[str, ...]] = {
    "Identity": ("_V_",),
    "Decorrelate": ("_V_",),
    "PCA": ("_V_",),
    "Gauss": ("_V_",),
    "Uniform": ("_V_", "_T_"),
    "Normalize": ("_V_", "_T_"),
}


@dataclass(frozen=True)
class TransformItem:
    """One item of a VarTransform string.

    Attributes:
        name: canonical name ("Identity", "Decorrelate", "PCA", "Uniform", "Gauss", "Normalize").
        selection: the selected inputs: TMVA keywords ``_V_``, ``_T_``, ``_V<i>_``, ``_T<i>_`` or labels.
        explicit_selection: whether the selection was written in parentheses.
        class_name: the reference class (``N_Signal``), None for ``_AllClasses`` (the default).
        token: the item as written; position: its character offset in the option string.
    """

    name: str
    selection: tuple[str, ...]
    explicit_selection: bool = False
    class_name: str | None = None
    token: str = ""
    position: int = 0


def parse_var_transform(text: str | None) -> list[TransformItem]:
    """Parse TMVA's VarTransform option into items, in application order.

    Items are separated by ``,`` or ``+`` outside parentheses; each is ``NAME[(selection)][_CLASS]``.

    >>> [(i.name, i.selection, i.class_name) for i in parse_var_transform("N(var1,var2)_Signal,G")]
    [('Normalize', ('var1', 'var2'), 'Signal'), ('Gauss', ('_V_',), None)]
    >>> parse_var_transform("None")
    []
    """
    if text is None:
        return []
    if not isinstance(text, str):
        raise OptionError(f"VarTransform must be a string, got {type(text).__name__}", token=repr(text))
    if text.strip() in ("None", ""):
        return []
    # split at top-level ',' / '+'
    pieces: list[tuple[str, int]] = []
    depth, start = 0, 0
    for pos, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise OptionError("unbalanced ')' in VarTransform", token=text, position=pos,
                                  expected=["NAME[(var1,var2)][_Class]"])  # fmt: skip
        elif ch in ",+" and depth == 0:
            pieces.append((text[start:pos], start))
            start = pos + 1
    if depth != 0:
        raise OptionError("unclosed '(' in VarTransform", token=text, position=text.rfind("("),
                          expected=["NAME[(var1,var2)][_Class]"])  # fmt: skip
    pieces.append((text[start:], start))

    items: list[TransformItem] = []
    for raw, pos in pieces:
        lead = len(raw) - len(raw.lstrip())
        tdef = raw.strip()
        pos += lead
        if not tdef:  # TMVA's ParseFormatLine skips empty entries
            continue
        selection: tuple[str, ...] = ()
        explicit = False
        if "(" in tdef:
            p0 = tdef.index("(")
            p1 = tdef.index(")", p0)
            selection = tuple(s.strip() for s in tdef[p0 + 1 : p1].split(",") if s.strip())
            explicit = bool(selection)
            tdef = tdef[:p0] + tdef[p1 + 1 :]
        parts = [p for p in tdef.split("_") if p]
        if not parts:
            raise OptionError("empty transformation name in VarTransform", token=raw, position=pos,
                              expected=sorted(TRANSFORM_ALIASES))  # fmt: skip
        name = parts[0]
        if name not in TRANSFORM_ALIASES:
            hint = closest(name, TRANSFORM_ALIASES)
            raise OptionError(
                f"unknown variable transformation {name!r} in VarTransform {text!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                token=name,
                position=pos,
                expected=list(TRANSFORM_ALIASES) + ["None"],
            )
        canon = TRANSFORM_ALIASES[name]
        cls_name = "_".join(parts[1:]) or None
        if cls_name == "AllClasses":
            cls_name = None
        if not selection:
            selection = _DEFAULT_SELECTION[canon]
        items.append(TransformItem(canon, selection, explicit, cls_name, raw.strip(), pos))
    return items


# ---------------------------------------------------------------------------------------------------------
# inputs of a transformation
# ---------------------------------------------------------------------------------------------------------

VARIABLE, TARGET = "Variable", "Target"


@dataclass(frozen=True)
class InputRef:
    """One selected input of a transformation (an ``<Input>``/``<Output>`` of the XML ``<Selection>``)."""

    kind: str  # "Variable" or "Target"
    index: int  # index among the variables (or targets)
    label: str
    expression: str


def _names(items: Sequence[Any] | None, prefix: str, n: int) -> list[tuple[str, str]]:
    """(label, expression) pairs from strings, pairs, or objects with label/expression attributes."""
    if items is None:
        return [(f"{prefix}{i}", f"{prefix}{i}") for i in range(n)]
    out: list[tuple[str, str]] = []
    for it in items:
        if isinstance(it, str):
            out.append((it, it))
        elif isinstance(it, tuple | list) and len(it) == 2:
            out.append((str(it[0]), str(it[1])))
        elif hasattr(it, "expression"):
            expr = str(it.expression)
            out.append((str(getattr(it, "label", "") or expr), expr))
        else:
            raise InputDataError(f"cannot take a variable name from {it!r}",
                                 expected=["'name'", "('label', 'expression')", "VariableInfo"])  # fmt: skip
    return out


def _resolve_selection(
    item: TransformItem, variables: list[tuple[str, str]], targets: list[tuple[str, str]]
) -> list[InputRef]:
    """TMVA's VariableTransformBase::SelectInput (sorted: variables by index, then targets)."""
    vsel: set[int] = set()
    tsel: set[int] = set()
    for tok in item.selection:
        if tok.startswith("_") and tok.endswith("_") and len(tok) >= 3:
            key = tok[1:-1]
            kind, num = key[:1], key[1:]
            if kind in ("V", "T"):
                pool, sel = (variables, vsel) if kind == "V" else (targets, tsel)
                if num == "":
                    sel.update(range(len(pool)))
                    continue
                if not num.isdigit() or int(num) >= len(pool):
                    raise OptionError(
                        f"transformation {item.token!r} selects {tok!r}, but there are only {len(pool)} "
                        f"{'variables' if kind == 'V' else 'targets'}",
                        token=tok,
                        position=item.position,
                        expected=[f"_{kind}{i}_" for i in range(len(pool))],
                    )
                sel.add(int(num))
                continue
            raise OptionError(
                f"selection keyword {tok!r} in {item.token!r} is not supported",
                token=tok,
                position=item.position,
                expected=["_V_", "_T_", "_V<i>_", "_T<i>_", "a label"],
            )
        hit = False
        for i, (lab, _expr) in enumerate(variables):
            if lab == tok:
                vsel.add(i)
                hit = True
                break
        for i, (lab, _expr) in enumerate(targets):
            if lab == tok:
                tsel.add(i)
                hit = True
                break
        if not hit:
            labels = [v[0] for v in variables] + [t[0] for t in targets]
            raise OptionError(
                f"transformation {item.token!r} selects {tok!r}: neither a variable nor a target label",
                token=tok,
                position=item.position,
                expected=closest(tok, labels) or labels,
            )
    refs = [InputRef(VARIABLE, i, *variables[i]) for i in sorted(vsel)]
    refs += [InputRef(TARGET, i, *targets[i]) for i in sorted(tsel)]
    return refs


# ---------------------------------------------------------------------------------------------------------
# transformations
# ---------------------------------------------------------------------------------------------------------


def _class_masks(class_ids: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """Event masks per stored parameter set: one per class, plus all events when >1 class."""
    if n_classes <= 1:
        return [np.ones(class_ids.shape[0], bool)]
    return [class_ids == c for c in range(n_classes)] + [np.ones(class_ids.shape[0], bool)]


@njit(cache=True, error_model="numpy")
def _class_ranges(values, class_ids, n_classes, mins, maxs):
    """Per-column minimum and maximum of ``values`` into ``mins`` / ``maxs`` (pre-filled with +-FLT_MAX):
    row ``c`` over the events of class ``c < n_classes``, the last row over all events; one pass instead of a
    masked copy per class. A NaN makes its column's minimum and maximum NaN, as numpy's ``min`` does."""
    n, m = values.shape
    last = mins.shape[0] - 1
    for i in range(n):
        c = class_ids[i]
        for r in (c, last) if 0 <= c < n_classes else (last, last):
            mn = mins[r]
            mx = maxs[r]
            for j in range(m):
                v = values[i, j]
                if v != v:
                    mn[j] = v
                    mx[j] = v
                elif mn[j] == mn[j]:  # not NaN yet
                    if v < mn[j]:
                        mn[j] = v
                    if v > mx[j]:
                        mx[j] = v


class VariableTransform:
    """Base of the transformations; ``inputs``/``outputs`` are the XML selection (TMVA's fGet/fPut).

    ``ref_class`` is the class whose parameters are used when the chain applies this transformation
    (-1 = all classes; TMVA's ``_Signal`` suffix; always -1 after reading a weight file).
    """

    xml_name = ""
    invertible = True

    def __init__(self, inputs: Sequence[InputRef], outputs: Sequence[InputRef] | None = None,
                 ref_class: int = -1) -> None:  # fmt: skip
        self.inputs = list(inputs)
        self.outputs = list(outputs) if outputs is not None else list(self.inputs)
        self.ref_class = ref_class

    @property
    def n_sets(self) -> int:
        """Number of stored parameter sets (classes, plus the all-classes entry)."""
        return 1

    def pick(self, cls: int) -> int:
        """The parameter set TMVA uses for class index ``cls`` (out of range -> the last one)."""
        n = self.n_sets
        return n - 1 if cls < 0 or cls >= n else cls

    def fit(self, values: np.ndarray, class_ids: np.ndarray, weights: np.ndarray, n_classes: int) -> None:
        raise NotImplementedError

    def apply(self, values: np.ndarray, cls: int, positions: np.ndarray) -> np.ndarray:
        """Transform ``values`` (n, len(positions)) float32; ``positions`` index ``inputs``."""
        raise NotImplementedError

    def apply_inverse(self, values: np.ndarray, cls: int, positions: np.ndarray) -> np.ndarray:
        raise OptionError(
            f"the {self.xml_name} transformation has no inverse (TMVA: fatal), so it cannot be applied to "
            "regression targets; leave the targets out of its selection",
            token=self.xml_name,
            expected=["Normalize", "Gauss", "Uniform", "PCA"],
        )

    def params(self) -> dict[str, Any]:
        """The parameters as arrays (for comparisons and tests)."""
        return {}

    def __repr__(self) -> str:
        labels = ",".join(r.label for r in self.inputs)
        return f"{type(self).__name__}({labels}; sets={self.n_sets}, ref_class={self.ref_class})"


class IdentityTransform(VariableTransform):
    """``I``: no change (TMVA writes nothing to the weight file for it, but counts it)."""

    xml_name = "Identity"

    def fit(self, values, class_ids, weights, n_classes) -> None:
        return None

    def apply(self, values, cls, positions):
        return values

    def apply_inverse(self, values, cls, positions):
        return values


class NormalizeTransform(VariableTransform):
    """``N``: ``x' = (x - min) * (1/(max - min)) * 2 - 1`` in float32, per class (+ all classes).

    >>> t = NormalizeTransform([InputRef("Variable", 0, "x", "x")], mins=[[0.0]], maxs=[[4.0]])
    >>> t.apply(np.array([[1.0]], np.float32), -1, np.array([0]))
    array([[-0.5]], dtype=float32)
    """

    xml_name = "Normalize"

    def __init__(self, inputs, outputs=None, ref_class=-1, mins=None, maxs=None) -> None:
        super().__init__(inputs, outputs, ref_class)
        n = len(self.inputs)
        self.mins = (
            np.zeros((1, n), np.float32) if mins is None else np.asarray(mins, np.float32).reshape(-1, n)
        )
        self.maxs = (
            np.zeros((1, n), np.float32) if maxs is None else np.asarray(maxs, np.float32).reshape(-1, n)
        )
        self._cache: dict[tuple[int, bytes], tuple[np.ndarray, np.ndarray]] = {}

    @property
    def n_sets(self) -> int:
        return self.mins.shape[0]

    def fit(self, values, class_ids, weights, n_classes) -> None:
        if values.shape[0] <= 1:
            raise InputDataError(f"not enough events ({values.shape[0]}) to compute the normalisation")
        n_sets = 1 if n_classes <= 1 else n_classes + 1  # per class, then all events (_class_masks)
        flt_max = np.finfo(np.float32).max
        mins = np.full((n_sets, values.shape[1]), flt_max, np.float32)
        maxs = np.full((n_sets, values.shape[1]), -flt_max, np.float32)
        cid = np.ascontiguousarray(class_ids, np.int64).reshape(-1)
        _class_ranges(
            np.ascontiguousarray(values, np.float32), cid, n_classes if n_sets > 1 else 0, mins, maxs
        )
        self.mins, self.maxs = mins, maxs
        self._cache.clear()

    def _offset_scale(self, k: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (k, positions.tobytes())
        hit = self._cache.get(key)
        if hit is None:
            with np.errstate(divide="ignore", over="ignore"):
                # Float_t scale = 1.0/(max-min): float difference, double division, rounded to float
                scale = (1.0 / (self.maxs[k] - self.mins[k]).astype(np.float64)).astype(np.float32)
            # (v - min) * scale * 2 == (v - min) * (2 * scale) exactly in binary floating point
            hit = (self.mins[k][positions].copy(), scale[positions] * np.float32(2))
            self._cache[key] = hit
        return hit

    def apply(self, values, cls, positions):
        off, scale2 = self._offset_scale(self.pick(cls), positions)
        out = np.subtract(values, off, dtype=np.float32)
        out *= scale2
        out -= np.float32(1)
        return out

    def apply_inverse(self, values, cls, positions):
        off, scale2 = self._offset_scale(self.pick(cls), positions)
        return off + (values + np.float32(1)) / scale2

    def params(self):
        return {"mins": self.mins, "maxs": self.maxs}


class DecorrelateTransform(VariableTransform):
    """``D``: ``x' = M x`` with ``M = C^(-1/2)`` (double precision) per class (+ all classes); no inverse."""

    xml_name = "Decorrelation"
    invertible = False

    def __init__(self, inputs, outputs=None, ref_class=-1, matrices=None) -> None:
        super().__init__(inputs, outputs, ref_class)
        n = len(self.inputs)
        self.matrices = (
            np.eye(n)[None] if matrices is None else np.asarray(matrices, np.float64).reshape(-1, n, n)
        )

    @property
    def n_sets(self) -> int:
        return self.matrices.shape[0]

    def fit(self, values, class_ids, weights, n_classes) -> None:
        if any(r.kind != VARIABLE for r in self.inputs):
            raise OptionError("the Decorrelate transformation cannot take targets (TMVA: fatal)",
                              token="D", expected=["_V_", "variable labels"])  # fmt: skip
        if len(self.inputs) > 200:
            raise OptionError("TMVA does not compute the decorrelation for more than 200 variables",
                              token="D", expected=["at most 200 variables"])  # fmt: skip
        counts = [int(m.sum()) for m in _class_masks(class_ids, n_classes)]
        for k, count in enumerate(counts):
            if count == 0:
                raise InputDataError(f"no training events in class {k}: cannot compute its covariance matrix")
        mats = []
        for k, cov in enumerate(covariance_matrices(values, weights, class_ids, n_classes)):
            try:
                mats.append(sqrt_inverse_matrix(cov))
            except InputDataError as err:
                which = "all classes" if k == n_classes else f"class index {k}"
                msg = f"Decorrelation of {which}: {err.message}"
                raise InputDataError(msg, expected=err.expected) from None
        self.matrices = np.stack(mats)

    def apply(self, values, cls, positions):
        m = self.matrices[self.pick(cls)]
        if len(positions) != m.shape[0]:
            raise OptionError("the Decorrelate transformation mixes variables and targets (TMVA: fatal)",
                              token="D", expected=["variables only"])  # fmt: skip
        return (values.astype(np.float64) @ m.T).astype(np.float32)

    def params(self):
        return {"matrices": self.matrices}


class PCATransform(VariableTransform):
    """``P``: principal components ``p_i = sum_j (x_j - mean_j) E[j, i]`` (double), per class (+ all).

    The fit is TMVA's ``VariablePCATransform::CalculatePrincipalComponents``: one ROOT ``TPrincipal``
    (no normalisation) per class plus one for all classes when there are several, fed the unweighted
    training events in order; means and eigenvectors (with ROOT's signs) come from
    :func:`~tmvacompat.data.symeigen.principal_components`, a port of ``TPrincipal``/``TMatrixDSymEigen``.

    >>> x = np.array([[0, 0], [2, 2], [1, 0], [1, 2]], np.float32)
    >>> chain = TransformChain.fit(x, items="P")
    >>> chain.transforms[0].means
    array([[1., 1.]])
    >>> np.round(chain.forward(x), 6)
    array([[-1.376382,  0.32492 ],
           [ 1.376382, -0.32492 ],
           [-0.850651, -0.525731],
           [ 0.850651,  0.525731]], dtype=float32)
    """

    xml_name = "PCA"

    def __init__(self, inputs, outputs=None, ref_class=-1, means=None, eigenvectors=None) -> None:
        super().__init__(inputs, outputs, ref_class)
        n = len(self.inputs)
        self.means = np.zeros((1, n)) if means is None else np.asarray(means, np.float64).reshape(-1, n)
        self.eigenvectors = (np.eye(n)[None] if eigenvectors is None
                             else np.asarray(eigenvectors, np.float64).reshape(-1, n, n))  # fmt: skip

    @property
    def n_sets(self) -> int:
        return self.means.shape[0]

    def fit(self, values, class_ids, weights, n_classes) -> None:
        if any(r.kind != VARIABLE for r in self.inputs):
            # TPrincipal is sized by the number of selected *variables*: with targets TMVA fails
            raise OptionError("the PCA transformation takes variables only (TMVA: variables and targets "
                              "cannot be mixed, and TPrincipal is sized by the number of variables)",
                              token="P", expected=["_V_", "variable labels"])  # fmt: skip
        if len(self.inputs) <= 1:
            raise OptionError(f"PCA needs at least 2 inputs, got {len(self.inputs)} (TMVA: fatal)",
                              token="P", expected=["two or more variables"])  # fmt: skip
        if len(self.inputs) > 200:
            raise OptionError("TMVA does not compute the PCA for more than 200 variables",
                              token="P", expected=["at most 200 variables"])  # fmt: skip
        means, vecs = [], []
        for k, m in enumerate(_class_masks(class_ids, n_classes)):
            if not m.any():
                raise InputDataError(
                    f"no training events in class {k}: cannot compute its principal components"
                )
            try:
                mean, _, vec = principal_components(values[m].astype(np.float64))
            except InputDataError as err:
                raise InputDataError(f"PCA of class index {k}: {err.message}",
                                     expected=err.expected) from None  # fmt: skip
            means.append(mean)
            vecs.append(vec)
        self.means, self.eigenvectors = np.stack(means), np.stack(vecs)

    def apply(self, values, cls, positions):
        k = self.pick(cls)
        if len(positions) != self.means.shape[1]:
            raise OptionError("the PCA transformation mixes variables and targets (TMVA: fatal)",
                              token="P", expected=["variables only"])  # fmt: skip
        # X2P: p_i = sum over j in order of (double(x_j) - mean_j) * E(j, i), rounded to float at the end
        x = values.astype(np.float64)
        mean, e = self.means[k], self.eigenvectors[k]
        out = np.zeros(x.shape)
        for j in range(x.shape[1]):
            out += (x[:, j] - mean[j])[:, None] * e[j]
        return out.astype(np.float32)

    def apply_inverse(self, values, cls, positions):
        # TMVA's P2X, including its quirks: the class fallback is 0 or 2, and every mean is added to each x_i
        n_cls = self.n_sets - 1 if self.n_sets > 1 else 1
        k = cls if 0 <= cls <= n_cls else (0 if self.n_sets == 1 else 2)
        e, mu = self.eigenvectors[k], self.means[k]
        p = values.astype(np.float64)
        out = np.zeros(p.shape)
        for j in range(p.shape[1]):
            out += p[:, j][:, None] * e[:, j] + mu[j]
        return out.astype(np.float32)

    def params(self):
        return {"means": self.means, "eigenvectors": self.eigenvectors}


# ---------------------------------------------------------------------------------------------------------
# Gauss / Uniform: TMVA::PDF evaluation kernels
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _erfinv(a):
    """Inverse error function to double precision (Giles' approximation + Newton steps)."""
    if a == 0.0:
        return 0.0
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    y = p * a
    if abs(a) <= 0.5:
        for _ in range(3):
            y = y - (math.erf(y) - a) / (1.1283791670955126 * math.exp(-y * y))
        return y
    # tail: Newton on erfc, as 1 - |a| is exact there and erfc keeps its relative precision
    s = 1.0 if a > 0 else -1.0
    y = abs(y)
    r = 1.0 - abs(a)
    for _ in range(3):
        y = y + (math.erfc(y) - r) / (1.1283791670955126 * math.exp(-y * y))
    return s * y


@njit(cache=True, error_model="numpy")
def _gauss_forward(x, fixed, nb, xmin, xmax, edges, content, use_hist, gauss, out):
    """PDF::GetVal + VariableGaussTransform::Transform of one column (``content`` with under/overflow)."""
    for i in range(x.shape[0]):
        r = get_val_one(x[i], fixed, nb, xmin, xmax, edges, content, use_hist)
        hi = 1.0 - 10e-10
        lo = 0.0 + 10e-10
        r = r if r <= hi else hi
        r = r if r >= lo else lo
        if gauss:
            arg = 2.0 * r - 1.0
            arg = min(0.99999999, arg)
            arg = max(-0.99999999, arg)
            out[i] = 1.414213562 * _erfinv(arg)
        else:
            out[i] = r


@njit(cache=True, error_model="numpy")
def _gauss_inverse(y, fixed, nb, xmin, xmax, edges, content, gauss, out):
    """VariableGaussTransform::InverseTransform via PDF::GetValInverse (monotonic binary search)."""
    for i in range(y.shape[0]):
        v = y[i]
        if gauss:
            v = (math.erf(v / 1.414213562) + 1.0) / 2.0
        higher, lower = nb, 0
        lowv, highv = 0.0, 0.0
        b = higher // 2
        while b > lower and b < higher:
            c = content[b]
            if v < c:
                higher = b
                highv = c
            elif v >= c:
                lower = b
                lowv = c
            else:  # NaN
                break
            b = lower + (higher - lower) // 2
        xl = bin_center(lower, fixed, nb, xmin, xmax, edges)
        xh = bin_center(higher, fixed, nb, xmin, xmax, edges)
        length = highv - lowv
        frac = lowv
        if length > 1.0e-10:
            frac = (v - lowv) / length
        out[i] = xl + (xh - xl) * frac


@njit(cache=True, error_model="numpy")
def _gauss_binning(vals, wts, sum_per_bin, out):
    """Bin edges of VariableGaussTransform::GetCumulativeDist (float32 arithmetic); returns their count."""
    eps = np.float32(1.0e-4)
    v = vals[0]
    last = v
    out[0] = v - eps
    out[1] = v
    k = 2
    s = np.float32(0.0)
    for i in range(vals.shape[0]):
        s = s + wts[i]
        if s >= sum_per_bin:
            v = vals[i]
            if v > last:
                out[k] = v
                k += 1
                s = np.float32(0.0)
                last = v
    if s != 0:
        out[k] = vals[vals.shape[0] - 1]
        k += 1
    return k


_smooth_array = smooth_array


def _binary_search_bins(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """TAxis::FindBin over variable edges, vectorised (0 underflow, len(edges) overflow)."""
    idx = np.searchsorted(edges, x, side="left")
    eq = (idx < edges.shape[0]) & (edges[np.minimum(idx, edges.shape[0] - 1)] == x)
    b = np.where(eq, idx + 1, idx)
    b = np.where(x < edges[0], 0, b)
    return np.where(~(x < edges[-1]), edges.shape[0], b)


class CumulativePDF(PDF):
    """A TMVA ``PDF`` over a cumulative histogram (VariableGaussTransform: one per variable and class).

    The shared :class:`~tmvacompat.data.pdf.PDF` without normalisation, with float (TH1F) contents;
    VariableGaussTransform writes ``InterpolMethod=1`` (Spline1).
    """

    def __init__(self, contents, edges=None, *, xmin: float | None = None, xmax: float | None = None,
                 interpol: int = 1, name: str = "", hist_name: str = "", min_nsmooth: int = 0,
                 max_nsmooth: int = 0, kde_type: int = 0, kde_iter: int = 1, kde_border: int = 1,
                 kde_finefactor: float = 0.0) -> None:  # fmt: skip
        super().__init__(contents, edges, xmin=xmin, xmax=xmax, interpol=interpol, min_nsmooth=min_nsmooth,
                         max_nsmooth=max_nsmooth, normalize=False, float_storage=True, name=name,
                         hist_name=hist_name, kde_type=kde_type, kde_iter=kde_iter, kde_border=kde_border,
                         kde_finefactor=kde_finefactor, content_dtype=np.float32)  # fmt: skip

    def cumulant_to_output(self, x: np.ndarray, gauss: bool) -> np.ndarray:
        """VariableGaussTransform::Transform for one column (float64 in, float32 out)."""
        fixed, nb, xmin, xmax, edges, content = self.table()
        out = np.empty(x.shape[0], np.float32)
        _gauss_forward(np.ascontiguousarray(x, np.float64), fixed, nb, xmin, xmax, edges, content,
                       self.interpol == 0, gauss, out)  # fmt: skip
        return out

    def inverse(self, y: np.ndarray, gauss: bool) -> np.ndarray:
        """VariableGaussTransform::InverseTransform for one column."""
        fixed, nb, xmin, xmax, edges, content = self.table()
        out = np.empty(y.shape[0], np.float32)
        _gauss_inverse(np.ascontiguousarray(y, np.float64), fixed, nb, xmin, xmax, edges, content, gauss, out)
        return out


def _fit_cumulative(vals: np.ndarray, wts: np.ndarray, sum_w: np.float32, min_w: np.float32,
                    ivar: int, icls: int) -> CumulativePDF:  # fmt: skip
    """One cumulative PDF as VariableGaussTransform::GetCumulativeDist builds it."""
    order = np.argsort(vals, kind="stable")  # std::list::sort is stable
    sv, sw = vals[order], wts[order]
    sum_per_bin = max(np.float32(min_w * np.float32(10)), np.float32(sum_w / np.float32(2000)))
    buf = np.empty(sv.shape[0] + 3, np.float32)
    k = _gauss_binning(sv, sw, np.float32(sum_per_bin), buf)
    edges = buf[:k].astype(np.float64)
    nb = k - 1
    counts = np.zeros(nb + 2, np.float32)
    np.add.at(counts, _binary_search_bins(edges, vals.astype(np.float64)), wts)  # TH1F::Fill, event order
    inner = counts[1 : nb + 1].astype(np.float64)
    if nb >= 3:
        smooth_array(inner, 1)
        inner = inner.astype(np.float32).astype(np.float64)
    pos = np.where(inner > 0, inner, 0.0)
    total = np.cumsum(pos)[-1]
    cum = (np.cumsum(pos) / total).astype(np.float32)
    return CumulativePDF(cum, edges, interpol=1, name=f"GaussTransform var{ivar} cls{icls}",
                         hist_name=f"Cumulative_Var{ivar}_cls{icls}_original")  # fmt: skip


class GaussTransform(VariableTransform):
    """``G`` (Gaussianisation) and ``U`` (``flat=True``: uniformisation), per input and class (+ all).

    Each input is mapped through its cumulative distribution (clamped to [1e-9, 1-1e-9]); Gauss then
    applies ``sqrt(2) * erfinv(2c - 1)`` with the argument clamped to +-0.99999999.
    """

    xml_name = "Gauss"

    def __init__(self, inputs, outputs=None, ref_class=-1, flat: bool = False,
                 pdfs: list[list[CumulativePDF]] | None = None) -> None:  # fmt: skip
        super().__init__(inputs, outputs, ref_class)
        self.flat = bool(flat)
        self.pdfs = pdfs or []

    @property
    def n_sets(self) -> int:
        return len(self.pdfs[0]) if self.pdfs else 1

    def fit(self, values, class_ids, weights, n_classes) -> None:
        masks = _class_masks(class_ids, n_classes)
        w32 = np.asarray(weights, np.float32)
        sums, mins = [], []
        for k, m in enumerate(masks):
            if not m.any():
                raise InputDataError(
                    f"no training events in class index {k}: cannot build its cumulative PDF"
                )
            sums.append(np.cumsum(w32[m], dtype=np.float32)[-1])
            mins.append(w32[m].min())
        if len(masks) > 1:
            mins[-1] = min(np.float32(10e10), *mins[:-1])
        self.pdfs = [
            [
                _fit_cumulative(values[m, j], w32[m], sums[k], np.float32(mins[k]), j, k)
                for k, m in enumerate(masks)
            ]
            for j in range(values.shape[1])
        ]

    def apply(self, values, cls, positions):
        k = self.pick(cls)
        out = np.empty(values.shape, np.float32)
        for c, p in enumerate(positions):
            out[:, c] = self.pdfs[p][k].cumulant_to_output(values[:, c], not self.flat)
        return out

    def apply_inverse(self, values, cls, positions):
        k = self.pick(cls)
        out = np.empty(values.shape, np.float32)
        for c, p in enumerate(positions):
            out[:, c] = self.pdfs[p][k].inverse(values[:, c], not self.flat)
        return out

    def params(self):
        return {
            "flat": self.flat,
            "contents": [[p.contents for p in per] for per in self.pdfs],
            "edges": [[p.edges for p in per] for per in self.pdfs],
        }


_CLASSES = {
    "Identity": IdentityTransform,
    "Normalize": NormalizeTransform,
    "Decorrelate": DecorrelateTransform,
    "PCA": PCATransform,
    "Gauss": GaussTransform,
    "Uniform": GaussTransform,
}


# ---------------------------------------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _normalize_rows(x, off, scale2, out):
    """NormalizeTransform.apply in one pass: the same float32 operations, in the same order."""
    one = np.float32(1)
    n, m = x.shape
    for i in range(n):
        xi = x[i]
        oi = out[i]
        for j in range(m):
            oi[j] = (xi[j] - off[j]) * scale2[j] - one


def _float32(x, what: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"{what} must be numeric, got {type(x).__name__} ({exc})",
                             expected=["a float array"]) from None  # fmt: skip


class TransformChain:
    """An ordered list of fitted transformations over a dataset's variables and targets.

    ``variables``/``targets`` are (label, expression) pairs; each transformation's ``inputs`` refer to them
    by index. Apply with :meth:`forward` (variables), :meth:`forward_targets` and :meth:`inverse_targets`.

    >>> chain = TransformChain()
    >>> chain.is_identity, len(chain)
    (True, 0)
    """

    def __init__(self, transforms: Sequence[VariableTransform] = (), variables: Sequence[Any] = (),
                 targets: Sequence[Any] = ()) -> None:  # fmt: skip
        self.transforms = list(transforms)
        self.variables = _names(list(variables), "var", 0)
        self.targets = _names(list(targets), "target", 0)
        self._plan()

    def _plan(self) -> None:
        # per kind: (transform, positions in its inputs, columns in x, whether it covers all columns in order)
        self._vplan: list[tuple[VariableTransform, np.ndarray, np.ndarray, bool]] = []
        self._tplan: list[tuple[VariableTransform, np.ndarray, np.ndarray, bool]] = []
        for t in self.transforms:
            if isinstance(t, IdentityTransform):
                continue
            for kind, plan, n in ((VARIABLE, self._vplan, len(self.variables)),
                                  (TARGET, self._tplan, len(self.targets))):  # fmt: skip
                pos = np.array([i for i, r in enumerate(t.inputs) if r.kind == kind], np.intp)
                if pos.size:
                    cols = np.array([t.inputs[i].index for i in pos], np.intp)
                    full = cols.size == n and bool(np.all(cols == np.arange(n)))
                    plan.append((t, pos, cols, full))

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        return f"TransformChain({self.transforms!r})"

    @property
    def is_identity(self) -> bool:
        """True when no transformation changes anything (none, or only Identity)."""
        return all(isinstance(t, IdentityTransform) for t in self.transforms)

    @property
    def n_variables(self) -> int:
        return len(self.variables)

    @staticmethod
    def _as_matrix(x, n: int, what: str) -> tuple[np.ndarray, bool]:
        a = _float32(x, what)
        single = a.ndim == 1
        if single:
            a = a[None, :]
        if a.ndim != 2 or (n and a.shape[1] != n):
            raise InputDataError(f"{what} must have shape (n, {n}) or ({n},), got {np.shape(x)}",
                                 expected=[f"(n, {n})"])  # fmt: skip
        return np.array(a, dtype=np.float32, copy=True), single

    def _run(self, plan, x, n, what, cls, inverse=False):
        a = x if isinstance(x, np.ndarray) and x.dtype == np.float32 else _float32(x, what)
        single = a.ndim == 1
        if single:
            a = a.reshape(1, -1)
        if a.ndim != 2 or (n and a.shape[1] != n):  # n == 0: a chain that does not know its inputs
            raise InputDataError(f"{what} must have shape (n, {n}) or ({n},), got {np.shape(x)}",
                                 expected=[f"(n, {n})"])  # fmt: skip
        owned = False
        for t, pos, cols, full in reversed(plan) if inverse else plan:
            c = t.ref_class if cls is None else cls
            if full:  # the transformation returns a new array
                a = t.apply_inverse(a, c, pos) if inverse else t.apply(a, c, pos)
                owned = True
                continue
            if not owned:
                a, owned = a.copy(), True
            sub = a[:, cols]
            a[:, cols] = t.apply_inverse(sub, c, pos) if inverse else t.apply(sub, c, pos)
        if not owned:
            a = a.copy()
        return a[0] if single else a

    def forward(self, x, cls: int | None = None) -> np.ndarray:
        """Transform variables (n, nvar) or one event (nvar,) to float32.

        ``cls=None`` uses each transformation's reference class (-1 = all classes, the Reader's choice);
        an integer forces that class index (out of range -> the all-classes entry).
        """
        plan = self._vplan
        if (
            len(plan) == 1
            and type(x) is np.ndarray
            and x.dtype == np.float32
            and x.ndim == 2
            and x.shape[1] == self.n_variables
            and plan[0][3]
            and type(plan[0][0]) is NormalizeTransform
        ):
            # fast path for TMVA's usual VarTransform=N: identical float32 operations, less overhead
            t, pos = plan[0][0], plan[0][1]
            off, scale2 = t._offset_scale(t.pick(t.ref_class if cls is None else cls), pos)
            if x.flags.c_contiguous:  # one pass; also cheaper than three ufunc calls for a single row
                out = np.empty_like(x)
                _normalize_rows(x, off, scale2, out)
                return out
            out = np.subtract(x, off, dtype=np.float32)
            out *= scale2
            out -= np.float32(1)
            return out
        return self._run(self._vplan, x, self.n_variables, "variables", cls)

    def forward_targets(self, t, cls: int | None = None) -> np.ndarray:
        """Transform regression targets (n, ntgt) as training does (transformations that select targets)."""
        return self._run(self._tplan, t, len(self.targets), "targets", cls)

    def inverse_targets(self, t, cls: int | None = None, compose: bool = False) -> np.ndarray:
        """Map regression outputs back to target units.

        TMVA (``TransformationHandler::InverseTransform``) hands the *original* outputs to every
        transformation that selects targets, walking the chain backwards, so only the first such
        transformation's inverse survives; that is the default here, which equals the exact inverse when a
        single transformation touches the targets (e.g. ``N``). ``compose=True`` applies all inverses in
        reverse order instead. Raises OptionError when the inverse does not exist (Decorrelate).
        """
        if compose or len(self._tplan) <= 1:
            return self._run(self._tplan, t, len(self.targets), "targets", cls, inverse=True)
        return self._run(self._tplan[:1], t, len(self.targets), "targets", cls, inverse=True)

    @classmethod
    def fit(cls, x, class_ids=None, targets=None, weights=None, n_classes: int | None = None,
            items: str | Sequence[TransformItem] = "None", variables: Sequence[Any] | None = None,
            target_names: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
            ) -> TransformChain:  # fmt: skip
        """Build and fit a chain on training data, TMVA style.

        Args:
            x: (n, nvar) input variables (converted to float32).
            class_ids: (n,) class index per event (default all 0).
            targets: (n, ntgt) regression targets, or None.
            weights: (n,) event weights (default 1).
            n_classes: number of classes (default max(class_ids)+1; 1 for regression).
            items: a VarTransform string or parsed items.
            variables, target_names: labels (or (label, expression) pairs) used by selections and the XML.
            class_names: names for ``_CLASS`` suffixes (default "Signal", "Background" for 2 classes).

        >>> x = np.random.default_rng(1).normal(size=(500, 2)).astype(np.float32)
        >>> TransformChain.fit(x, items="D,N").forward(x).shape
        (500, 2)
        """
        xs, _ = cls._as_matrix(x, 0, "x")
        n = xs.shape[0]
        if n == 0:
            raise InputDataError("cannot fit variable transformations on zero events")
        cid = np.zeros(n, np.int64) if class_ids is None else np.asarray(class_ids).astype(np.int64).ravel()
        if cid.shape[0] != n:
            raise InputDataError(f"class_ids has {cid.shape[0]} entries for {n} events")
        if n_classes is None:
            n_classes = len(class_names) if class_names else int(cid.max()) + 1
        if cid.min() < 0 or cid.max() >= max(n_classes, 1):
            raise InputDataError(f"class_ids must lie in [0, {n_classes - 1}]",
                                 expected=[str(i) for i in range(n_classes)])  # fmt: skip
        w = np.ones(n, np.float32) if weights is None else np.asarray(weights, np.float32).ravel()
        if w.shape[0] != n:
            raise InputDataError(f"weights has {w.shape[0]} entries for {n} events")
        if targets is None:
            ts = np.zeros((n, 0), np.float32)
        else:
            ts, _ = cls._as_matrix(np.asarray(targets, np.float32).reshape(n, -1), 0, "targets")
        vnames = _names(variables, "var", xs.shape[1])
        tnames = _names(target_names, "target", ts.shape[1])
        if len(vnames) != xs.shape[1] or len(tnames) != ts.shape[1]:
            raise InputDataError(f"{len(vnames)} variable names for {xs.shape[1]} columns, "
                                 f"{len(tnames)} target names for {ts.shape[1]} columns")  # fmt: skip
        if class_names is None:
            class_names = (
                ["Signal", "Background"] if n_classes == 2 else [f"class{i}" for i in range(n_classes)]
            )
        parsed = parse_var_transform(items) if isinstance(items, str) else list(items)
        chain = cls([], vnames, tnames)
        for item in parsed:
            ref = -1
            if item.class_name is not None:
                if item.class_name not in class_names:
                    raise OptionError(
                        f"class {item.class_name!r} of transformation {item.token!r} is not known",
                        token=item.class_name,
                        position=item.position,
                        expected=list(class_names),
                    )
                ref = list(class_names).index(item.class_name)
            refs = _resolve_selection(item, vnames, tnames)
            if item.name == "Identity":
                if item.explicit_selection:
                    raise OptionError(
                        "the Identity transformation does not allow a variable selection "
                        "(TMVA: fatal); write just 'I'",
                        token=item.token,
                        position=item.position,
                    )
                chain.transforms.append(IdentityTransform(refs, ref_class=ref))
                continue
            if not refs:
                raise OptionError(f"transformation {item.token!r} selects no input", token=item.token,
                                  position=item.position, expected=["_V_", "_T_", "labels"])  # fmt: skip
            kw = {"flat": True} if item.name == "Uniform" else {}
            t = _CLASSES[item.name](refs, ref_class=ref, **kw)
            # every variable in order (the usual case): one copy instead of a column-by-column one
            whole = [(r.kind, r.index) for r in refs] == [(VARIABLE, j) for j in range(xs.shape[1])]
            if whole:
                vals = xs.copy()
            else:
                cols = [xs[:, r.index] if r.kind == VARIABLE else ts[:, r.index] for r in refs]
                vals = np.column_stack(cols)
            vals = vals.astype(np.float32, copy=False)
            t.fit(vals, cid, w, n_classes)
            if isinstance(t, NormalizeTransform):
                k = t.pick(ref)
                flat = [r.label for j, r in enumerate(refs) if t.maxs[k, j] == t.mins[k, j]]
                if flat:
                    warnings.warn(f"Normalize: {flat} have max == min in the training data; TMVA's "
                                  "(x - min)/(max - min) gives NaN/inf for them", stacklevel=2)  # fmt: skip
            # transform the training data for the next item (reference class, like CalcTransformations)
            allpos = np.arange(len(refs))
            with np.errstate(invalid="ignore", over="ignore"):  # degenerate ranges were warned about
                newv = t.apply(vals, ref, allpos)
            if whole:
                xs[...] = newv
            else:
                for j, r in enumerate(refs):
                    (xs if r.kind == VARIABLE else ts)[:, r.index] = newv[:, j]
            chain.transforms.append(t)
        chain._plan()
        return chain
