"""``CONV`` (TMVA's 2-D convolution) and ``CONVT`` (its transpose, tmvacompat's extension).

``CONV``: ``Weights`` (depth, in_depth*fh*fw) with columns ordered (channel, filter row, filter column),
``Biases`` (depth, 1); output (in - filter + 2 pad) / stride + 1 per axis, which TMVA requires to be exact
(ConvLayer.h). ``CONVT``: ``Weights`` (in_depth, depth*fh*fw), ``Biases`` (depth, 1); output
(in - 1) * stride - 2 pad + filter per axis (the adjoint of a CONV with the same geometry). Only
tmvacompat writes ``ConvTransposeLayer`` elements; it reads any matrix of the right size for its weights.

Example:
    >>> spec = ConvSpec(4, 3, 3, 1, 1, 1, 1, "RELU")
    >>> CONV.output_shape(spec, (2, 8, 8), ()), CONV.param_shapes(spec, (2, 8, 8))
    ((4, 8, 8), {'Weights': (4, 18), 'Biases': (4, 1)})
    >>> CONVT.output_shape(ConvTransposeSpec(1, 2, 2, 2, 2), (4, 4, 4), ())
    (1, 8, 8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any, ClassVar

from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import (
    Kind,
    LayoutField,
    MatrixShapes,
    Shape,
    XmlAttr,
    XmlElement,
    conv_output_size,
    image_shape,
    onnx_image_input,
)


@dataclass(frozen=True)
class ConvSpec:
    """``CONV|depth|filterH|filterW|strideRows|strideCols|padH|padW|act`` (TMVA's 2-D convolution)."""

    depth: int
    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    padding_height: int = 0
    padding_width: int = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "CONV"


@dataclass(frozen=True)
class ConvTransposeSpec:
    """``CONVT|depth|filterH|filterW|strideRows|strideCols|padH|padW|act``: transposed 2-D convolution.

    Output size per axis: (in - 1) * stride - 2 * pad + filter (the adjoint of :class:`ConvSpec`).
    Not a TMVA layer; tmvacompat's own extension.
    """

    depth: int
    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    padding_height: int = 0
    padding_width: int = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "CONVT"


def conv_output_shape(spec: ConvSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(depth, OH, OW)`` with (in - filter + 2 pad) / stride + 1 exact per axis."""
    _, H, W = image_shape(in_shape, "CONV")
    if spec.depth <= 0:
        raise LayoutError(f"CONV depth must be positive, got {spec.depth}", token=str(spec.depth))
    oh = conv_output_size(H, spec.filter_height, spec.padding_height, spec.stride_rows, axis="height")
    ow = conv_output_size(W, spec.filter_width, spec.padding_width, spec.stride_cols, axis="width")
    return (spec.depth, oh, ow)


def convt_output_shape(spec: ConvTransposeSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(depth, OH, OW)`` with (in - 1) * stride - 2 pad + filter per axis, at least 1."""
    _, H, W = image_shape(in_shape, "CONVT")
    sizes = (spec.depth, spec.filter_height, spec.filter_width, spec.stride_rows, spec.stride_cols)
    if min(sizes) <= 0:
        raise LayoutError("CONVT depth, filter sizes and strides must be positive", token="CONVT")
    oh = (H - 1) * spec.stride_rows - 2 * spec.padding_height + spec.filter_height
    ow = (W - 1) * spec.stride_cols - 2 * spec.padding_width + spec.filter_width
    if oh <= 0 or ow <= 0 or spec.padding_height < 0 or spec.padding_width < 0:
        raise LayoutError(
            f"CONVT: input {H}x{W}, filter {spec.filter_height}x{spec.filter_width}, "
            f"stride {spec.stride_rows}x{spec.stride_cols}, "
            f"padding {spec.padding_height}x{spec.padding_width} gives an empty output {oh}x{ow}",
            token="CONVT",
            expected=["(in-1)*stride - 2*pad + filter >= 1"],
        )
    return (spec.depth, oh, ow)


def conv_param_shapes(spec: ConvSpec, in_shape: Shape) -> MatrixShapes:
    """``Weights`` (depth, in_depth*fh*fw), ``Biases`` (depth, 1)."""
    c = image_shape(in_shape, "CONV")[0]
    return {
        "Weights": (spec.depth, c * spec.filter_height * spec.filter_width),
        "Biases": (spec.depth, 1),
    }


def convt_param_shapes(spec: ConvTransposeSpec, in_shape: Shape) -> MatrixShapes:
    """``Weights`` (in_depth, depth*fh*fw) (PyTorch's ``conv_transpose2d`` weight flattened),
    ``Biases`` (depth, 1)."""
    c = image_shape(in_shape, "CONVT")[0]
    return {
        "Weights": (c, spec.depth * spec.filter_height * spec.filter_width),
        "Biases": (spec.depth, 1),
    }


def _convt_accepts(name: str, want: tuple[int, int], got: tuple[int, ...], in_shape: Shape) -> bool:
    # any (rows, cols) split of the right number of values: the engine reshapes the weights to its own
    return len(got) == 2 and prod(got) == prod(want)


def conv_event_values(spec: ConvSpec, in_shape: Shape, out_shape: Shape) -> int:
    """The output plus the unrolled (im2col) input: one column of C*fh*fw values per output position."""
    c = image_shape(in_shape, "CONV")[0]
    return prod(out_shape) + out_shape[1] * out_shape[2] * c * spec.filter_height * spec.filter_width


def convt_event_values(spec: ConvTransposeSpec, in_shape: Shape, out_shape: Shape) -> int:
    """The output plus the columns scattered back: depth*fh*fw values per input position."""
    _, H, W = image_shape(in_shape, "CONVT")
    return prod(out_shape) + H * W * spec.depth * spec.filter_height * spec.filter_width


def conv_to_onnx(g: Any, spec: Any, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``Conv`` / ``ConvTranspose`` with the bias, then the activation. CONV's ``Weights`` (depth,
    C*fh*fw), columns (channel, row, col), are ONNX's (M, C, kH, kW); CONVT's (C, depth*fh*fw) its (C, M,
    kH, kW)."""
    x, image = onnx_image_input(g, layer, xs)
    kernel = [spec.filter_height, spec.filter_width]
    if spec.kind == "CONV":
        w = p["Weights"].reshape(spec.depth, image[0], *kernel)
    else:
        w = p["Weights"].reshape(image[0], spec.depth, *kernel)
    op = "Conv" if spec.kind == "CONV" else "ConvTranspose"
    ph, pw = spec.padding_height, spec.padding_width
    strides = [spec.stride_rows, spec.stride_cols]
    attrs = {"kernel_shape": kernel, "strides": strides, "pads": [ph, pw, ph, pw]}
    y = g.op(op, [x, g.const("W", w), g.const("b", p["Biases"][:, 0])], op.lower(), **attrs)
    return g.activation(y, spec.activation)


_ATTRS = (
    XmlAttr("Depth", "depth", lo=1),
    XmlAttr("FilterHeight", "filter_height", lo=1),
    XmlAttr("FilterWidth", "filter_width", lo=1),
    XmlAttr("StrideRows", "stride_rows", lo=1),
    XmlAttr("StrideCols", "stride_cols", lo=1),
    XmlAttr("PaddingHeight", "padding_height"),
    XmlAttr("PaddingWidth", "padding_width"),
    XmlAttr("ActivationFunction", "activation", "activation"),
)

_LAYOUT = (
    LayoutField("depth", "depth", "depth"),
    LayoutField("filter_height", "filterH", "filter height"),
    LayoutField("filter_width", "filterW", "filter width"),
    LayoutField("stride_rows", "strideRows", "stride rows"),
    LayoutField("stride_cols", "strideCols", "stride cols"),
    LayoutField("padding_height", "padH", "padding height", lo=0),
    LayoutField("padding_width", "padW", "padding width", lo=0),
    LayoutField("activation", "act", "activation", "activation", optional=True),
)

CONV = Kind(
    keyword="CONV",
    spec=ConvSpec,
    output_shape=conv_output_shape,
    param_shapes=conv_param_shapes,
    event_values=conv_event_values,
    xml=XmlElement("ConvLayer", _ATTRS, ("Weights", "Biases")),
    engine="tmvacompat.engine.conv:Conv2D",
    onnx=conv_to_onnx,
    channels_out=True,
    layout=_LAYOUT,
    layout_example="CONV|10|3|3|1|1|1|1|RELU",
)
CONVT = Kind(
    keyword="CONVT",
    spec=ConvTransposeSpec,
    output_shape=convt_output_shape,
    param_shapes=convt_param_shapes,
    accepts=_convt_accepts,
    event_values=convt_event_values,
    xml=XmlElement("ConvTransposeLayer", _ATTRS, ("Weights", "Biases")),
    engine="tmvacompat.engine.conv:ConvTranspose2D",
    onnx=conv_to_onnx,
    tmva=False,
    channels_out=True,
    layout=_LAYOUT,
    layout_example="CONVT|10|3|3|1|1|1|1|RELU",
)
