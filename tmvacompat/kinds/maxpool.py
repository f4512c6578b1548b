"""``MAXPOOL|filterH|filterW|strideRows|strideCols``: window maxima, no padding, no parameters.

Output (in - filter) / stride + 1 per axis, exact (TMVA's MaxPoolLayer.h ``calculateDimension``). The GSoC
fork's reader names the window ``FrameHeight`` / ``FrameWidth``; both spellings are read.

Example:
    >>> KIND.output_shape(MaxPoolSpec(2, 2, 2, 2), (3, 8, 8), ())
    (3, 4, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.kinds.base import (
    Kind,
    LayoutField,
    Shape,
    XmlAttr,
    XmlElement,
    conv_output_size,
    image_shape,
    onnx_image_input,
)


@dataclass(frozen=True)
class MaxPoolSpec:
    """``MAXPOOL|filterH|filterW|strideRows|strideCols`` (no padding)."""

    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    name: str | None = None
    kind: ClassVar[str] = "MAXPOOL"


def output_shape(spec: MaxPoolSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(depth, OH, OW)``, (in - filter) / stride + 1 exact per axis."""
    c, h, w = image_shape(in_shape, "MAXPOOL")
    oh = conv_output_size(h, spec.filter_height, 0, spec.stride_rows, what="MAXPOOL", axis="height")
    ow = conv_output_size(w, spec.filter_width, 0, spec.stride_cols, what="MAXPOOL", axis="width")
    return (c, oh, ow)


def to_onnx(g: Any, spec: MaxPoolSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``MaxPool`` without padding."""
    x, _ = onnx_image_input(g, layer, xs)
    kernel = [spec.filter_height, spec.filter_width]
    return g.op("MaxPool", [x], "pooled", kernel_shape=kernel, strides=[spec.stride_rows, spec.stride_cols])


KIND = Kind(
    keyword="MAXPOOL",
    spec=MaxPoolSpec,
    output_shape=output_shape,
    xml=XmlElement(
        "MaxPoolLayer",
        (
            XmlAttr("FilterHeight", "filter_height", lo=1, aliases=("FrameHeight",)),
            XmlAttr("FilterWidth", "filter_width", lo=1, aliases=("FrameWidth",)),
            XmlAttr("StrideRows", "stride_rows", lo=1),
            XmlAttr("StrideCols", "stride_cols", lo=1),
        ),
    ),
    engine="tmvacompat.engine.conv:MaxPool2D",
    onnx=to_onnx,
    channels_out=True,
    layout=(
        LayoutField("filter_height", "filterH", "filter height"),
        LayoutField("filter_width", "filterW", "filter width"),
        LayoutField("stride_rows", "strideRows", "stride rows"),
        LayoutField("stride_cols", "strideCols", "stride cols"),
    ),
    layout_example="MAXPOOL|2|2|1|1",
)
