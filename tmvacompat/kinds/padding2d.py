"""``PADDING2D|top|bottom|left|right``: zeros around every channel (the GSoC fork's TPaddingLayer2D).

No parameters; the element is ``PaddingLayer2D`` with ``LeftPad``, ``RightPad``, ``TopPad``, ``BottomPad``
(tmvadnn/root ``CNN/PaddingLayer.h``).

Example:
    >>> KIND.output_shape(Padding2DSpec(1, 0, 2, 1), (2, 3, 4), ())
    (2, 4, 7)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import Kind, LayoutField, Shape, XmlAttr, XmlElement, image_shape, onnx_image_input


@dataclass(frozen=True)
class Padding2DSpec:
    """``PADDING2D|top|bottom|left|right``: zero padding of every channel (GSoC TPaddingLayer2D)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0
    name: str | None = None
    kind: ClassVar[str] = "PADDING2D"


def output_shape(spec: Padding2DSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(depth, top + height + bottom, left + width + right)``."""
    c, h, w = image_shape(in_shape, "PADDING2D")
    pads = (spec.top, spec.bottom, spec.left, spec.right)
    if min(pads) < 0:
        raise LayoutError(f"PADDING2D sizes must be >= 0, got {pads}", token="PADDING2D")
    return (c, h + spec.top + spec.bottom, w + spec.left + spec.right)


def to_onnx(g: Any, spec: Padding2DSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``Pad`` with zeros (begin and end pads of the batch, channel, row and column axes)."""
    x, _ = onnx_image_input(g, layer, xs)
    pads = [0, 0, spec.top, spec.left, 0, 0, spec.bottom, spec.right]
    return g.op("Pad", [x, g.const("pads", pads, "int64")], "padded", mode="constant")


KIND = Kind(
    keyword="PADDING2D",
    spec=Padding2DSpec,
    output_shape=output_shape,
    xml=XmlElement(
        "PaddingLayer2D",
        (
            XmlAttr("LeftPad", "left"),
            XmlAttr("RightPad", "right"),
            XmlAttr("TopPad", "top"),
            XmlAttr("BottomPad", "bottom"),
        ),
    ),
    engine="tmvacompat.engine.conv:Padding2D",
    onnx=to_onnx,
    tmva=False,
    layout=(
        LayoutField("top", "top", "top padding", lo=0),
        LayoutField("bottom", "bottom", "bottom padding", lo=0),
        LayoutField("left", "left", "left padding", lo=0),
        LayoutField("right", "right", "right padding", lo=0),
    ),
    layout_example="PADDING2D|1|1|1|1",
)
