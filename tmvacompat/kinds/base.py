"""What every layer kind declares (the :class:`Kind` record, its :class:`XmlElement`) and shared shape rules.

A layer kind is one TMVA keyword (``DENSE``, ``CONV``, ...). Its module in :mod:`tmvacompat.kinds` holds
everything about it that is not a numerical kernel: the spec dataclass, the parameter shapes, the output
shape (the one rule the engine, the weight-file reader and the model all use), how it is written as a weight
file element, its Layout fields, and which engine class computes it. The kinds import only
:mod:`tmvacompat.errors` (and :mod:`tmvacompat._formula`, plain arithmetic), so every layer of the package,
the engine included, may use them, as it may use :mod:`tmvacompat.specs`.

Shapes are per event and in the engine's form: ``(n,)`` for a vector, ``(time, features)`` for a sequence,
``(depth, height, width)`` for an image. Weight files track ``(depth, height, width)`` triples instead
(TMVA's convention); :func:`as_triple` converts, and every rule here gives the same answer, up to
:func:`as_triple`, for a shape and its triple.

Example:
    >>> conv_output_size(16, 3, 1, 1)
    16
    >>> as_triple((5,)), as_triple((4, 3)), image_shape((8, 8), "MAXPOOL")
    ((1, 1, 5), (1, 4, 3), (1, 8, 8))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from tmvacompat.errors import LayoutError

Shape = tuple[int, ...]
MatrixShapes = dict[str, tuple[int, int]]
#: a kind's ONNX form: ``(g, spec, layer, params, inputs) -> output tensor name``. ``g`` is the exporter's
#: graph builder (``g.op(op_type, inputs, hint, n_out=1, **attrs)``, ``g.const(hint, value, dtype)``,
#: ``g.reshape(x, event_shape)``, ``g.activation(x, keyword)``, ``g.where`` for messages), ``layer`` the
#: engine layer built from ``spec``, ``params`` its matrices as float32 by weight-file name, ``inputs``
#: (tensor, engine event shape) pairs, the previous layer's first (ADD / CONCAT have more). Tensors are
#: (batch, *event shape).
OnnxForm = Callable[[Any, Any, Any, dict[str, Any], list[tuple[str, Shape]]], str]

#: TMVA activation keywords and their ``ActivationFunction`` codes in weight files (DNN/Functions.h).
ACTIVATION_CODES: dict[str, int] = {
    "LINEAR": 0,
    "RELU": 1,
    "SIGMOID": 2,
    "TANH": 3,
    "SYMMRELU": 4,
    "SOFTSIGN": 5,
    "GAUSS": 6,
    "FTANH": 7,
}
ACTIVATION_NAMES: dict[int, str] = {v: k for k, v in ACTIVATION_CODES.items()}

#: How an attribute's text maps to a spec field: ``int`` (an integer, at least ``lo``), ``bool`` (0/1
#: written as an integer), ``float``, ``activation`` (TMVA's ActivationFunction code), ``labels`` (layer
#: labels joined by ``|``, at least one).
CODECS = ("int", "bool", "float", "activation", "labels")


@dataclass(frozen=True)
class XmlAttr:
    """One attribute of a layer element: TMVA's name, the spec field it carries, how to read it.

    ``default`` is the value taken when the attribute is absent (None: it must be present); ``aliases`` are
    other names a reader accepts (the GSoC fork's); ``write_only`` attributes are written for TMVA but never
    read back (LSTM's ``CellSize``, always the state size).
    """

    name: str
    field: str
    codec: str = "int"
    lo: int = 0
    default: Any = None
    aliases: tuple[str, ...] = ()
    write_only: bool = False

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"XmlAttr {self.name}: codec {self.codec!r} is not one of {CODECS}")

    def value(self, spec: Any) -> object:
        """The attribute's value for ``spec`` as written: an int, a float or a string."""
        v = getattr(spec, self.field)
        if self.codec == "activation":
            return ACTIVATION_CODES[v]
        if self.codec == "labels":
            return "|".join(v)
        if self.codec == "float":
            return float(v)
        return int(v)


@dataclass(frozen=True)
class XmlElement:
    """A kind's weight-file element: its name, attributes in TMVA's write order (an optional ``Name``
    attribute, a graph label, follows them) and matrix children in write order. Whether TMVA::Reader can
    read it is the kind's ``tmva`` flag."""

    element: str
    attrs: tuple[XmlAttr, ...] = ()
    matrices: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayoutField:
    """One ``|``-separated field of a kind's ``Layout`` token, in order: the spec field it fills, its name in
    the grammar synopsis and in messages, and how it is read: ``int`` (at least ``lo``), ``flag`` (0 or 1)
    or ``activation`` (a TMVA activation keyword). ``optional`` fields may be left out from the end (the
    spec's default applies); they are always written."""

    field: str
    token: str
    what: str
    codec: str = "int"
    lo: int = 1
    optional: bool = False


def _exact(name: str, want: tuple[int, int], got: tuple[int, ...], in_shape: Shape) -> bool:
    return tuple(got) == tuple(want)


def _output_only(spec: Any, in_shape: Shape, out_shape: Shape) -> int:
    return prod(out_shape)


def _no_params(spec: Any, in_shape: Shape) -> MatrixShapes:
    return {}


@dataclass(frozen=True)
class Kind:
    """Everything about one layer keyword that is not a numerical kernel.

    Attributes:
        keyword: TMVA's keyword (the spec's ``kind``).
        spec: the spec dataclass.
        output_shape: ``(spec, in_shape, sources) -> out_shape``; ``sources`` are the shapes of the labelled
            layers an ADD / CONCAT reads (empty for other kinds). Raises LayoutError naming the kind when the
            layer does not fit its input.
        xml: the weight-file element.
        engine: ``"module:Class"`` of the engine layer (``from_spec(spec, input_shape, *, dtype, nvar,
            n_outputs)``), imported on first use.
        param_shapes: ``(spec, in_shape) -> {matrix name: (rows, cols)}`` in write order (TMVA's choice where
            several are legal, see ``accepts``).
        accepts: ``(name, want, got, in_shape) -> bool``, whether a matrix of shape ``got`` is legal where
            ``param_shapes`` says ``want`` (exact equality unless the kind allows more).
        event_values: ``(spec, in_shape, out_shape) -> int``, the values one event needs in this layer
            (output plus scratch), for the memory budget.
        tmva: whether real TMVA (MethodDL, TMVA::Reader) knows the keyword and its element; layouts and
            files with other kinds are flagged as tmvacompat-only
            (:func:`~tmvacompat.layout.extension_layers`).
        channels_out: whether a BNORM right after this layer normalises per channel (TMVA's DeepNet.h).
        layout: the fields of its ``Layout`` token after the keyword, which :mod:`tmvacompat.layout` parses
            and writes; None for the kinds whose grammar is irregular (DENSE's free order and width
            formulas, RESHAPE's FLAT, BNORM's optional numbers, ADD / CONCAT's labels), which the layout
            module parses by hand.
        layout_example: a valid token, shown when a token has the wrong number of fields.
        onnx: its ONNX form (:data:`OnnxForm`), or None when it has none (the exporter then refuses a
            network holding it, naming the kind).
    """

    keyword: str
    spec: type
    output_shape: Callable[[Any, Shape, Sequence[Shape]], Shape]
    xml: XmlElement
    engine: str
    param_shapes: Callable[[Any, Shape], MatrixShapes] = _no_params
    accepts: Callable[[str, tuple[int, int], tuple[int, ...], Shape], bool] = _exact
    event_values: Callable[[Any, Shape, Shape], int] = _output_only
    tmva: bool = True
    channels_out: bool = False
    layout: tuple[LayoutField, ...] | None = None
    layout_example: str = ""
    onnx: OnnxForm | None = None


# ------------------------------------------------------------------------------------- shape rules
def as_triple(shape: Sequence[int]) -> tuple[int, int, int]:
    """A per-event shape as TMVA's ``(depth, height, width)`` (leading ones added)."""
    s = tuple(int(v) for v in shape)
    if len(s) > 3:
        raise LayoutError(f"event shape {s} has more than 3 axes", token=str(s), expected=["(d, h, w)"])
    return (1,) * (3 - len(s)) + s  # type: ignore[return-value]


def image_shape(input_shape: Sequence[int], what: str) -> tuple[int, int, int]:
    """``(depth, height, width)`` of an image input; a 2-D input is one channel."""
    s = tuple(int(v) for v in input_shape)
    if len(s) == 3:
        return s  # type: ignore[return-value]
    if len(s) == 2:
        return (1, *s)  # type: ignore[return-value]
    raise LayoutError(
        f"{what} needs images (depth, height, width) as input, got event shape {s}",
        token=what,
        expected=["(depth, height, width)"],
    )


def conv_output_size(
    size: int, filt: int, pad: int, stride: int, *, what: str = "CONV", axis: str = "height"
) -> int:
    """(size - filt + 2 pad) / stride + 1, which TMVA requires to be an exact, positive integer
    (``calculateDimension`` in TMVA's ConvLayer.h / MaxPoolLayer.h)."""
    if filt <= 0 or stride <= 0 or pad < 0:
        raise LayoutError(
            f"{what}: filter {axis} {filt}, stride {stride} and padding {pad} must be positive "
            "(padding >= 0)",
            token=what,
        )
    span = size - filt + 2 * pad
    if span < 0 or span % stride:
        raise LayoutError(
            f"{what}: input {axis} {size} with filter {filt}, padding {pad}, stride {stride} gives "
            f"(in - filter + 2*pad)/stride + 1 = ({size} - {filt} + {2 * pad})/{stride} + 1, "
            "not an integer >= 1",
            token=what,
            expected=[f"(in - filter + 2*pad) divisible by {stride} and >= 0"],
        )
    return span // stride + 1


def onnx_image_input(g: Any, layer: Any, xs: list[tuple[str, Shape]]) -> tuple[str, tuple[int, int, int]]:
    """For an :data:`OnnxForm` of an image layer: its input tensor as (batch, depth, height, width)."""
    x, shape = xs[0]
    image = tuple(layer.image_in)
    return (x if tuple(shape) == image else g.reshape(x, image)), image  # type: ignore[return-value]


def size_of(shape: Sequence[int]) -> int:
    """The number of values of a per-event shape."""
    return int(prod(shape))


__all__ = [
    "ACTIVATION_CODES",
    "ACTIVATION_NAMES",
    "Kind",
    "LayoutField",
    "OnnxForm",
    "XmlAttr",
    "XmlElement",
    "as_triple",
    "conv_output_size",
    "image_shape",
    "onnx_image_input",
    "size_of",
]
