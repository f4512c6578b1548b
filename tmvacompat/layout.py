"""TMVA ``Layout``, ``InputLayout`` and ``BatchLayout`` strings <-> layer specs (:mod:`tmvacompat.specs`).

Grammar (MethodDL's ``CreateDeepNet`` / ``Parse*Layer``, plus tmvacompat's extensions):

* layers are separated by ``,``, fields inside a layer by ``|`` (empty pieces are skipped, as TMVA does);
* ``DENSE|width|act`` (field order free, keyword optional: ``TANH|128``, ``128|TANH``, ``LINEAR``; default
  activation TANH; width an integer or a formula in ``N`` kept as a string; missing width = 0 = outputs);
* ``CONV|depth|fh|fw|sr|sc|ph|pw[|act]`` and ``CONVT|...`` (same fields, transposed; our extension);
* ``MAXPOOL|fh|fw|sr|sc``; ``RESHAPE|d|h|w`` or ``RESHAPE|FLAT``; ``BNORM[|momentum[|epsilon]]``;
* ``RNN|LSTM|GRU`` ``|state|input|time[|rememberState[|returnSequence[|resetGateAfter (GRU)]]]``, flags 0/1;
* ``PADDING2D|top|bottom|left|right`` (the GSoC padding layer);
* graph form (our extension): any layer may end with ``@label``; ``ADD|a|b`` adds the labelled outputs (or
  ``INPUT``) to the previous layer's output, ``CONCAT|a|b`` concatenates them;
* ``Encoder={...}Decoder={...}`` (MethodAE) gives an :class:`~tmvacompat.specs.AutoencoderLayout`.

Keywords and activations are matched case-insensitively (TMVA is case-sensitive: a warning says what TMVA
would have done). Every error names the bad token and its character position in the whole string.

Example:
    >>> text = "CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|LINEAR"
    >>> specs = parse_layout(text)
    >>> [s.kind for s in specs]
    ['CONV', 'MAXPOOL', 'RESHAPE', 'DENSE', 'DENSE']
    >>> format_layout(specs) == text
    True
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

from tmvacompat._formula import MAX_SIZE, eval_size_formula
from tmvacompat.errors import LayoutError, closest
from tmvacompat.kinds import KINDS
from tmvacompat.kinds.base import Kind, LayoutField
from tmvacompat.options import TMVACompatWarning, _user_stacklevel
from tmvacompat.specs import (
    ACTIVATION_CODES,
    AddSpec,
    AutoencoderLayout,
    BatchLayout,
    BatchNormSpec,
    ConcatSpec,
    DenseSpec,
    InputLayout,
    LayerSpec,
    ReshapeSpec,
)

ACTIVATIONS: tuple[str, ...] = tuple(ACTIVATION_CODES)
#: The built-in layer keywords (TMVA's, plus CONVT, PADDING2D, ADD, CONCAT); the parser knows every kind in
#: :data:`tmvacompat.kinds.KINDS`, registered later or not.
KEYWORDS: tuple[str, ...] = tuple(KINDS)
#: The built-in layer keywords real TMVA (MethodDL) understands.
TMVA_KEYWORDS: tuple[str, ...] = tuple(k for k, kind in KINDS.items() if kind.tmva)
_LABEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
INPUT_LABEL = "INPUT"
_MAX_SIZE = MAX_SIZE  # a sanity bound on any size field (no layer has a billion units)


def _warn(message: str) -> None:
    warnings.warn(message, TMVACompatWarning, stacklevel=_user_stacklevel())


def _split(text: str, sep: str, offset: int) -> list[tuple[str, int]]:
    """Non-empty, stripped pieces of ``text`` split at ``sep``, with absolute positions."""
    out = []
    start = 0
    for i in range(len(text) + 1):
        if i == len(text) or text[i] == sep:
            piece = text[start:i]
            stripped = piece.lstrip()
            if stripped.strip():
                out.append((stripped.rstrip(), offset + start + len(piece) - len(stripped)))
            start = i + 1
    return out


class _Layer:
    """One layer token being parsed: its fields with positions, for precise error messages."""

    def __init__(self, text: str, pos: int, whole: str) -> None:
        self.text, self.pos, self.whole = text, pos, whole

    def error(
        self, message: str, token: str, position: int, expected: Sequence[str] | None = None
    ) -> LayoutError:
        return LayoutError(
            f"{message} in layer {self.text!r} of layout", token=token, position=position, expected=expected
        )

    def int_field(self, tok: str, pos: int, what: str, minimum: int = 1) -> int:
        if not _INT_RE.match(tok) or len(tok) > 18:
            raise self.error(
                f"{what} must be an integer, not {tok!r}", tok, pos, [f"an integer >= {minimum}"]
            )
        value = int(tok)
        if value > _MAX_SIZE:
            raise self.error(f"{what} {value} is too large", tok, pos, [f"an integer <= {_MAX_SIZE}"])
        if value < minimum:
            kind = "negative" if value < 0 else "too small"
            raise self.error(
                f"{what} {value} is {kind} (must be >= {minimum})", tok, pos, [f"an integer >= {minimum}"]
            )
        return value

    def activation(self, tok: str, pos: int, kind: str) -> str:
        canon = tok.upper()
        if canon not in ACTIVATION_CODES:
            raise self.error(
                f"unknown activation {tok!r}", tok, pos, closest(tok, ACTIVATIONS) or ACTIVATIONS
            )
        if canon != tok:
            _warn(
                f"activation {tok!r} at character {pos} read as {canon}; TMVA matches activations "
                f"case-sensitively and would not recognise it (it would fall back to TANH or misparse)"
            )
        if kind in ("CONV", "CONVT") and canon == "FTANH":
            _warn(
                f"CONV with FTANH at character {pos}: TMVA's CONV parser does not know FTANH and would "
                f"silently "
                f"use TANH; tmvacompat uses FTANH as written"
            )
        return canon


def _keyword(tok: str, pos: int) -> str | None:
    canon = tok.upper()
    if canon not in KINDS:
        return None
    if canon != tok:
        _warn(
            f"layer keyword {tok!r} at character {pos} read as {canon}; TMVA matches layer types "
            f"case-sensitively and would not recognise {tok!r} (it would try to read the layer as DENSE)"
        )
    return canon


def _eval_width(tok: str) -> int:
    """Check a size formula: evaluated at N=1, or at N=97 if N=1 divides by zero (``10/(N-1)``).

    Only the syntax and the nesting depth are checked here; the range is checked once ``N`` is known
    (:meth:`DenseSpec.resolved_width`).
    """
    try:
        return eval_size_formula(tok, 1, bounded=False)
    except LayoutError as err:
        if "division by zero" not in err.message:
            raise
        return eval_size_formula(tok, 97, bounded=False)


def _parse_dense(layer: _Layer, fields: list[tuple[str, int]], name: str | None) -> DenseSpec:
    width: int | str | None = None
    act: str | None = None
    for tok, pos in fields:
        if tok.upper() in ACTIVATION_CODES:
            if act is not None:
                raise layer.error(
                    f"two activations in one DENSE layer ({act} and {tok})",
                    tok,
                    pos,
                    ["one width and one activation"],
                )
            act = layer.activation(tok, pos, "DENSE")
            continue
        size = _dense_width(layer, tok, pos)
        if width is not None:
            raise layer.error(
                f"two widths in one DENSE layer ({width} and {tok})",
                tok,
                pos,
                ["one width and one activation"],
            )
        width = size
    return DenseSpec(width=0 if width is None else width, activation=act or "TANH", name=name)


def _dense_width(layer: _Layer, tok: str, pos: int) -> int | str:
    """A DENSE width: a plain integer, or a size formula in N kept verbatim."""
    if _INT_RE.match(tok) and len(tok) <= 18:
        width = int(tok)
        if not 0 <= width <= _MAX_SIZE:
            what = "negative" if width < 0 else "too large"
            raise layer.error(f"layer width {width} is {what}", tok, pos, [f"an integer in [0, {_MAX_SIZE}]"])
        return width
    if "n" not in tok.lower() and _FLOAT_RE.match(tok):
        value = float(tok)
        if 0 <= value <= _MAX_SIZE:
            if value != int(value):
                _warn(
                    f"layer width {tok!r} at character {pos} read as {int(value)}; TMVA evaluates it with "
                    f"TFormula and truncates it to an integer as well"
                )
            return int(value)
    if "n" not in tok.lower() and re.search(r"[.eE]", tok):
        raise layer.error(
            f"layer width {tok!r} is not an integer", tok, pos, ["an integer >= 0, or a formula in N"]
        )
    try:
        value = _eval_width(tok)
    except LayoutError as err:
        if re.fullmatch(r"[A-Za-z_]\w*", tok):
            raise layer.error(
                f"{tok!r} is neither a layer type, an activation nor a layer size",
                tok,
                pos,
                closest(tok, (*KINDS, *ACTIVATIONS)) or [*KINDS, *ACTIVATIONS],
            ) from None
        epos = pos + err.position if err.position is not None else pos
        raise layer.error(f"bad layer size formula {tok!r}: {err.message}", err.token or tok, epos) from None
    if not 0 <= value <= _MAX_SIZE and ("n" not in tok.lower() or value > _MAX_SIZE):
        what = "negative" if value < 0 else "too large"
        raise layer.error(f"layer width {tok} is {what}", tok, pos, [f"an integer in [0, {_MAX_SIZE}]"])
    return tok


def _parse_flags(layer: _Layer, fields: list[tuple[str, int]], names: Sequence[str]) -> list[bool]:
    out = []
    for (tok, pos), what in zip(fields, names, strict=False):
        if tok not in ("0", "1"):
            raise layer.error(f"{what} must be 0 or 1, not {tok!r}", tok, pos, ["0", "1"])
        out.append(tok == "1")
    return out


def _synopsis(declared: Sequence[LayoutField]) -> str:
    return "".join(f"[|{f.token}]" if f.optional else f"|{f.token}" for f in declared).lstrip("|")


def _parse_declared(
    layer: _Layer,
    kind: Kind,
    declared: Sequence[LayoutField],
    fields: list[tuple[str, int]],
    name: str | None,
) -> LayerSpec:
    """A token of a kind that declares its fields (:attr:`~tmvacompat.kinds.base.Kind.layout`)."""
    required = sum(not f.optional for f in declared)
    early = (  # a value of an optional slot written where a number belongs: numbers are missing
        required <= len(fields) < len(declared)
        and fields[-1][0].upper() in ACTIVATION_CODES
        and declared[len(fields) - 1].codec != "activation"
    )
    if not required <= len(fields) <= len(declared) or early:
        tok, pos = fields[-1] if fields else (layer.text, layer.pos)
        raise layer.error(
            f"{kind.keyword} needs {_synopsis(declared)}, got {len(fields)} field(s)",
            tok,
            pos,
            [kind.layout_example],
        )
    values: dict[str, Any] = {}
    for (tok, pos), f in zip(fields, declared, strict=False):
        if f.codec == "activation":
            values[f.field] = layer.activation(tok, pos, kind.keyword)
        elif f.codec == "flag":
            values[f.field] = _parse_flags(layer, [(tok, pos)], [f.what])[0]
        else:
            values[f.field] = layer.int_field(tok, pos, f.what, f.lo)
    return kind.spec(**values, name=name)


def _parse_fields(
    layer: _Layer, kind: str, fields: list[tuple[str, int]], name: str | None, defined: dict[str, int]
) -> LayerSpec:
    def count_error(expected: str, example: str) -> LayoutError:
        tok, pos = fields[-1] if fields else (layer.text, layer.pos)
        return layer.error(f"{kind} needs {expected}, got {len(fields)} field(s)", tok, pos, [example])

    declared = KINDS[kind].layout
    if declared is not None:
        return _parse_declared(layer, KINDS[kind], declared, fields, name)
    if kind == "DENSE":
        return _parse_dense(layer, fields, name)
    if kind == "RESHAPE":
        flat = [f for f in fields if f[0].upper() == "FLAT"]
        dims = [f for f in fields if f[0].upper() != "FLAT"]
        for tok, pos in flat:
            if tok != "FLAT":
                _warn(
                    f"RESHAPE token {tok!r} at character {pos} read as FLAT; TMVA only knows 'FLAT' and "
                    f"would "
                    f"not flatten"
                )
        if len(flat) > 1:
            raise layer.error("FLAT given twice", flat[1][0], flat[1][1])
        if flat:
            if len(dims) > 3:
                raise count_error("FLAT and at most 3 dimensions", "RESHAPE|FLAT")
            values = [layer.int_field(t, p, "dimension", 0) for t, p in dims] + [0] * (3 - len(dims))
            return ReshapeSpec(*values, flatten=True, name=name)
        if len(dims) != 3:
            raise count_error("3 dimensions (depth|height|width) or FLAT", "RESHAPE|1|8|8")
        what = ("depth", "height", "width")
        return ReshapeSpec(
            *[layer.int_field(t, p, w) for (t, p), w in zip(dims, what, strict=True)], name=name
        )
    if kind == "BNORM":
        if len(fields) > 2:
            raise count_error("at most 2 numbers (momentum|epsilon)", "BNORM|0.99|1e-4")
        vals: list[float] = []
        for (tok, pos), what in zip(fields, ("momentum", "epsilon"), strict=False):
            v = float(tok) if _FLOAT_RE.match(tok) else math.nan
            if not math.isfinite(v):
                raise layer.error(
                    f"BNORM {what} must be a number, not {tok!r}", tok, pos, ["e.g. BNORM|0.99|1e-4"]
                )
            if what == "momentum" and not (v == -1.0 or 0.0 <= v < 1.0):
                # momentum 1 would never update the running averages; the engine refuses it at build time
                raise layer.error(
                    f"BNORM momentum {v} must be in [0, 1) or -1 (cumulative average)",
                    tok,
                    pos,
                    ["-1", "a value in [0, 1)"],
                )
            if what == "epsilon" and v <= 0:
                raise layer.error(f"BNORM epsilon {v} must be positive", tok, pos)
            vals.append(v)
        return BatchNormSpec(*vals, name=name)
    # ADD / CONCAT
    if not fields:
        raise count_error("at least one label (or INPUT) to combine with the previous layer", f"{kind}|h1")
    sources = []
    for tok, pos in fields:
        src = INPUT_LABEL if tok.upper() == INPUT_LABEL else tok
        if src != INPUT_LABEL and src not in defined:
            if not _LABEL_RE.match(src):
                raise layer.error(f"{src!r} is not a label", src, pos, sorted(defined) + [INPUT_LABEL])
            later = re.search(r"@\s*" + re.escape(src) + r"\s*(?:,|\}|$)", layer.whole[pos:])
            if later:
                raise layer.error(
                    f"{kind} refers to label {src!r}, which is defined only later",
                    src,
                    pos,
                    sorted(defined) + [INPUT_LABEL],
                )
            raise layer.error(
                f"{kind} refers to unknown label {src!r}", src, pos, sorted(defined) + [INPUT_LABEL]
            )
        sources.append(src)
    return (AddSpec if kind == "ADD" else ConcatSpec)(tuple(sources), name=name)


def _parse_layers(text: str, offset: int, whole: str, defined: dict[str, int]) -> list[LayerSpec]:
    specs: list[LayerSpec] = []
    for layer_text, lpos in _split(text, ",", offset):
        name = None
        body, bpos = layer_text, lpos
        at = layer_text.rfind("@")
        if at >= 0:
            name = layer_text[at + 1 :].strip()
            npos = lpos + at + 1 + (len(layer_text[at + 1 :]) - len(layer_text[at + 1 :].lstrip()))
            body = layer_text[:at]
            if not _LABEL_RE.match(name):
                raise LayoutError(
                    f"bad label {name!r} in layer {layer_text!r} (labels are identifiers)",
                    token=name or "@",
                    position=npos if name else lpos + at,
                    expected=["e.g. DENSE|64|RELU@h1"],
                )
            if name.upper() == INPUT_LABEL:
                raise LayoutError(
                    f"label {name!r} is reserved for the network input", token=name, position=npos
                )
            if name in defined:
                raise LayoutError(
                    f"label {name!r} is defined twice (first at character {defined[name]})",
                    token=name,
                    position=npos,
                )
        layer = _Layer(layer_text, lpos, whole)
        fields = _split(body, "|", bpos)
        if not fields:
            raise layer.error("empty layer (only a label)", layer_text, lpos)
        kind = _keyword(*fields[0])
        if kind is None:
            spec = _parse_dense(layer, fields, name)  # keyword-less legacy DENSE: TANH|128, 128|TANH, LINEAR
        else:
            spec = _parse_fields(layer, kind, fields[1:], name, defined)
        if name is not None:
            defined[name] = npos
        specs.append(spec)
    return specs


_AE_RE = re.compile(r"\s*(Encoder)\s*=\s*\{([^{}]*)\}\s*(Decoder)\s*=\s*\{([^{}]*)\}\s*\Z", re.IGNORECASE)


def parse_ae_layout(text: str) -> AutoencoderLayout:
    """MethodAE's ``Encoder={layers}Decoder={layers}`` (the intended brace semantics; see the report on
    TMVA's substring bug). Labels are shared: decoder layers may refer to encoder labels.

    >>> ae = parse_ae_layout("Encoder={DENSE|16|RELU,DENSE|4|LINEAR}Decoder={DENSE|16|RELU,DENSE|0|LINEAR}")
    >>> len(ae.encoder), len(ae.decoder)
    (2, 2)
    """
    if not isinstance(text, str):
        raise LayoutError(f"a layout must be a str, not {type(text).__name__}")
    m = _AE_RE.match(text)
    if m is None:
        _ae_error(text)
    for g in (1, 3):
        word = m.group(g)
        if word not in ("Encoder", "Decoder"):
            _warn(
                f"{word!r} at character {m.start(g)} read as {word.capitalize()}; TMVA's MethodAE only "
                f"recognises 'Encoder=' exactly"
            )
    defined: dict[str, int] = {}
    enc = _parse_layers(m.group(2), m.start(2), text, defined)
    dec = _parse_layers(m.group(4), m.start(4), text, defined)
    for part, g in ((enc, 2), (dec, 4)):
        if not part:
            which = "Encoder" if g == 2 else "Decoder"
            raise LayoutError(
                f"{which} block has no layers",
                token="{}",
                position=m.start(g) - 1,
                expected=[f"{which}={{DENSE|8|TANH}}"],
            )
    return AutoencoderLayout(tuple(enc), tuple(dec))


def _ae_error(text: str) -> None:
    """Locate what is wrong in a malformed ``Encoder={...}Decoder={...}`` string and raise."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            if depth:
                raise LayoutError("nested '{' in autoencoder layout", token="{", position=i)
            depth = 1
        elif ch == "}":
            if not depth:
                raise LayoutError("unbalanced '}' in autoencoder layout", token="}", position=i)
            depth = 0
    if depth:
        raise LayoutError(
            "unbalanced '{' in autoencoder layout: never closed", token="{", position=text.rfind("{")
        )
    rx = re.compile(r"\s*Encoder\s*=\s*\{[^{}]*\}\s*", re.IGNORECASE)
    m = rx.match(text)
    if m is None:
        stripped = text.lstrip()
        pos = len(text) - len(stripped)
        raise LayoutError(
            "autoencoder layout must start with Encoder={...}",
            token=stripped[:20],
            position=pos,
            expected=["Encoder={DENSE|8|TANH}Decoder={DENSE|0|LINEAR}"],
        )
    rest = text[m.end() :]
    pos = m.end()
    token = rest.strip()[:20] or "<end>"
    raise LayoutError(
        "expected Decoder={...} after the encoder block (and nothing after it)",
        token=token,
        position=pos + (len(rest) - len(rest.lstrip())),
        expected=["Encoder={DENSE|8|TANH}Decoder={DENSE|0|LINEAR}"],
    )


def parse_layout(text: str) -> list[LayerSpec] | AutoencoderLayout:
    """Layer specs from a ``Layout`` string (an :class:`AutoencoderLayout` if it starts with ``Encoder=``).

    >>> parse_layout("TANH|128,LINEAR")
    [DenseSpec(width=128, activation='TANH', name=None), DenseSpec(width=0, activation='LINEAR', name=None)]

    Raises:
        LayoutError: the bad token and its character position (wrong field count, non-integer field,
            negative size, unknown activation/word, bad or unknown label, unbalanced braces).
    """
    if not isinstance(text, str):
        raise LayoutError(f"a layout must be a str, not {type(text).__name__}")
    if re.match(r"\s*encoder\s*=", text, re.IGNORECASE):
        return parse_ae_layout(text)
    for i, ch in enumerate(text):
        if ch in "{}":
            raise LayoutError(
                f"unexpected {ch!r} in layout (braces only appear in Encoder={{...}}Decoder={{...}})",
                token=ch,
                position=i,
            )
    specs = _parse_layers(text, 0, text, {})
    if not specs:
        raise LayoutError(
            "empty layout: no layers", token=text, position=0, expected=["e.g. DENSE|64|TANH,DENSE|1|LINEAR"]
        )
    return specs


# --------------------------------------------------------------------------------------------------------
# Formatting.


def _num(v: float) -> str:
    return repr(float(v))


def _check_act(act: Any) -> str:
    if act not in ACTIVATION_CODES:
        raise LayoutError(f"unknown activation {act!r}", token=str(act), expected=list(ACTIVATIONS))
    return act


def format_layer(spec: LayerSpec) -> str:
    """One layer token (without its label).

    >>> format_layer(DenseSpec(width="(N+100)*2", activation="SOFTSIGN"))
    'DENSE|(N+100)*2|SOFTSIGN'
    """
    kind = KINDS.get(getattr(spec, "kind", None))  # type: ignore[arg-type]
    if kind is not None and kind.layout is not None and isinstance(spec, kind.spec):
        parts = [kind.keyword]
        for f in kind.layout:
            v = getattr(spec, f.field)
            parts.append(_check_act(v) if f.codec == "activation" else str(int(v)))
        return "|".join(parts)
    if isinstance(spec, DenseSpec):
        return f"DENSE|{spec.width}|{_check_act(spec.activation)}"
    if isinstance(spec, ReshapeSpec):
        dims = f"{spec.depth}|{spec.height}|{spec.width}"
        if spec.flatten:
            return (
                "RESHAPE|FLAT"
                if (spec.depth, spec.height, spec.width) == (0, 0, 0)
                else f"RESHAPE|{dims}|FLAT"
            )
        return f"RESHAPE|{dims}"
    if isinstance(spec, BatchNormSpec):
        if spec.momentum == -1.0 and spec.epsilon == 1e-4:
            return "BNORM"
        return f"BNORM|{_num(spec.momentum)}|{_num(spec.epsilon)}"
    if isinstance(spec, (AddSpec, ConcatSpec)):
        return "|".join([spec.kind, *spec.sources])
    raise LayoutError(f"not a layer spec: {spec!r}", token=type(spec).__name__, expected=list(KINDS))


def format_layout(specs: Sequence[LayerSpec] | AutoencoderLayout) -> str:
    """The canonical ``Layout`` string; ``parse_layout(format_layout(x)) == x``.

    >>> format_layout([DenseSpec(64, "RELU", name="h1"), DenseSpec(64, "RELU"), AddSpec(("h1",))])
    'DENSE|64|RELU@h1,DENSE|64|RELU,ADD|h1'
    """
    if isinstance(specs, AutoencoderLayout):
        return f"Encoder={{{format_layout(specs.encoder)}}}Decoder={{{format_layout(specs.decoder)}}}"
    return ",".join(format_layer(s) + (f"@{s.name}" if s.name else "") for s in specs)


# --------------------------------------------------------------------------------------------------------
# InputLayout / BatchLayout.


def _dims(text: str, what: str, counts: Sequence[int]) -> list[int]:
    if not isinstance(text, str):
        raise LayoutError(f"{what} must be a str, not {type(text).__name__}")
    fields = _split(text, "|", 0)
    if len(fields) not in counts:
        tok, pos = fields[-1] if fields else (text, 0)
        forms = " or ".join({1: "W", 2: "T|W", 3: "depth|height|width"}[c] for c in counts)
        raise LayoutError(
            f"{what} {text!r} needs {forms}, got {len(fields)} field(s)",
            token=tok,
            position=pos,
            expected=["e.g. 1|8|8"],
        )
    out = []
    for tok, pos in fields:
        if not _INT_RE.match(tok) or len(tok) > 18:
            raise LayoutError(
                f"{what} dimension {tok!r} is not an integer",
                token=tok,
                position=pos,
                expected=["an integer >= 0"],
            )
        v = int(tok)
        if v < 0:
            raise LayoutError(
                f"{what} dimension {v} is negative", token=tok, position=pos, expected=["an integer >= 0"]
            )
        out.append(v)
    if 0 in out and any(out):
        tok, pos = fields[out.index(0)]
        raise LayoutError(
            f"{what} {text!r} mixes zero and non-zero dimensions (all zero means 'derived')",
            token=tok,
            position=pos,
            expected=["all dimensions > 0, or 0|0|0"],
        )
    return out


def parse_input_layout(text: str) -> InputLayout:
    """``InputLayout``: ``depth|height|width``, ``T|W`` (-> depth T, height 1, width W, as TMVA's
    ``[B, T, 1, W]``) or ``W`` (-> 1, 1, W). ``0|0|0`` means one row of all variables.

    >>> parse_input_layout("10|4"), parse_input_layout("256")
    (InputLayout(depth=10, height=1, width=4), InputLayout(depth=1, height=1, width=256))
    """
    dims = _dims(text, "InputLayout", (1, 2, 3))
    if len(dims) == 3:
        return InputLayout(*dims)
    if 0 in dims:
        raise LayoutError(
            f"InputLayout {text!r}: only the 3-field form 0|0|0 may be zero",
            token=text,
            position=0,
            expected=["0|0|0", "positive dimensions"],
        )
    return InputLayout(dims[0], 1, dims[1]) if len(dims) == 2 else InputLayout(1, 1, dims[0])


def parse_batch_layout(text: str) -> BatchLayout:
    """``BatchLayout=depth|height|width`` (``0|0|0``: derived from the first phase's batch size).

    >>> parse_batch_layout("100|1|256")
    BatchLayout(depth=100, height=1, width=256)
    """
    return BatchLayout(*_dims(text, "BatchLayout", (3,)))


def format_input_layout(layout: InputLayout) -> str:
    """``depth|height|width``. >>> format_input_layout(InputLayout(1, 8, 8)) gives ``'1|8|8'``."""
    return f"{layout.depth}|{layout.height}|{layout.width}"


def format_batch_layout(layout: BatchLayout) -> str:
    """``depth|height|width``."""
    return f"{layout.depth}|{layout.height}|{layout.width}"


def extension_layers(specs: Sequence[LayerSpec] | AutoencoderLayout) -> list[str]:
    """Descriptions of the layers real TMVA's MethodDL could not build (empty: TMVA-compatible).

    >>> extension_layers([DenseSpec(8, "RELU", name="h"), AddSpec(("h",)), DenseSpec(1, "LINEAR")])
    ['layer 0: label @h', 'layer 1: ADD']
    """
    if isinstance(specs, AutoencoderLayout):
        specs = list(specs.encoder) + list(specs.decoder)
    out = []
    for i, s in enumerate(specs):
        if not KINDS[s.kind].tmva:
            out.append(f"layer {i}: {s.kind}")
        elif s.name:
            out.append(f"layer {i}: label @{s.name}")
    return out


def check_batch_layout(
    batch: tuple[int, int, int], input_shape: tuple[int, int, int] | None, batch_size: int, phase: int = 1
) -> None:
    """MethodDL's checks of ``BatchLayout`` against a phase's ``BatchSize`` (and the input layout, when
    known), with TMVA's messages (``MethodDL::TrainDeepNet``, which stops training there).

    ``batch`` is (depth, height, width) as given or derived; ``input_shape`` (depth, height, width) or None.

    >>> check_batch_layout((1, 100, 256), (1, 1, 256), 100)

    Raises:
        LayoutError: batch depth > 1 but not the batch size; batch depth 1 and batch height not the batch
            size; the input layout's size differs from the batch layout's.
    """
    bd, bh, bw = batch
    where = f"TrainingStrategy phase {phase} (BatchSize={batch_size}) and BatchLayout={bd}|{bh}|{bw}"
    if bd != batch_size and bd > 1:
        raise LayoutError(
            f"{where}: Given batch depth of {bd} (specified in BatchLayout) should be equal to given batch "
            f"size {batch_size} (TMVA stops training)",
            token=f"{bd}|{bh}|{bw}",
            expected=[f"{batch_size}|{bh}|{bw}", "0|0|0 (derived from the BatchSize)"],
        )
    if bd == 1 and batch_size > 1 and batch_size != bh:
        raise LayoutError(
            f"{where}: Given batch height of {bh} (specified in BatchLayout) should be equal to given batch "
            f"size {batch_size} (TMVA stops training)",
            token=f"{bd}|{bh}|{bw}",
            expected=[f"1|{batch_size}|{bw}", "0|0|0 (derived from the BatchSize)"],
        )
    if input_shape is None:
        return
    n_in = input_shape[0] * input_shape[1] * input_shape[2]
    bad = bd == batch_size and n_in != bh * bw
    bad |= bh == batch_size and bd == 1 and n_in != bw
    if bad:
        d, h, w = input_shape
        raise LayoutError(
            f"{where}: Given input layout {d} x {h} x {w} is not compatible with batch layout "
            f"{bd} x {bh} x {bw} (TMVA stops training)",
            token=f"{bd}|{bh}|{bw}",
            expected=[f"1|{batch_size}|{n_in}", f"{batch_size}|{d}|{h * w}"],
        )


def check_layout(text: str) -> None:
    """Option check for MethodDL's ``Layout``: a plain layer list (not an autoencoder layout)."""
    result = parse_layout(text)
    if isinstance(result, AutoencoderLayout):
        m = re.search("encoder", text, re.IGNORECASE)
        raise LayoutError(
            "Encoder={...}Decoder={...} layouts belong to MethodAE, not MethodDL",
            token="Encoder",
            position=m.start() if m else 0,
        )


__all__ = [
    "ACTIVATIONS",
    "KEYWORDS",
    "TMVA_KEYWORDS",
    "INPUT_LABEL",
    "extension_layers",
    "parse_layout",
    "parse_ae_layout",
    "format_layout",
    "format_layer",
    "parse_input_layout",
    "parse_batch_layout",
    "format_input_layout",
    "format_batch_layout",
    "check_layout",
    "check_batch_layout",
]
