"""``RESHAPE|depth|height|width`` or ``RESHAPE|FLAT``: the same values per event in another shape.

No parameters; C order. The element is ``ReshapeLayer`` with ``Depth``, ``Height``, ``Width`` and
``Flattening`` (1 for FLAT, where the three dimensions are written as 0).

Example:
    >>> KIND.output_shape(ReshapeSpec(flatten=True), (2, 3, 4), ())
    (24,)
    >>> KIND.output_shape(ReshapeSpec(1, 4, 6), (24,), ())
    (1, 4, 6)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import Kind, Shape, XmlAttr, XmlElement, size_of


@dataclass(frozen=True)
class ReshapeSpec:
    """``RESHAPE|depth|height|width`` or ``RESHAPE|FLAT`` (flatten: dims stay 0)."""

    depth: int = 0
    height: int = 0
    width: int = 0
    flatten: bool = False
    name: str | None = None
    kind: ClassVar[str] = "RESHAPE"


def output_shape(spec: ReshapeSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(values,)`` for FLAT, else ``(depth, height, width)``, which must hold the input's values."""
    n = size_of(in_shape)
    if spec.flatten:
        return (n,)
    out = (spec.depth, spec.height, spec.width)
    if size_of(out) != n or min(out) <= 0:
        raise LayoutError(
            f"RESHAPE to {out} ({size_of(out)} values) does not fit the input {tuple(in_shape)} ({n} values)",
            token="RESHAPE",
            expected=[f"depth*height*width = {n}"],
        )
    return out


def to_onnx(g: Any, spec: ReshapeSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``Reshape`` to the layer's output shape (the batch axis kept)."""
    return g.reshape(xs[0][0], tuple(layer.output_shape))


KIND = Kind(
    keyword="RESHAPE",
    spec=ReshapeSpec,
    output_shape=output_shape,
    xml=XmlElement(
        "ReshapeLayer",
        (
            XmlAttr("Depth", "depth"),
            XmlAttr("Height", "height"),
            XmlAttr("Width", "width"),
            XmlAttr("Flattening", "flatten", "bool", default=0),
        ),
    ),
    engine="tmvacompat.engine.shape:Reshape",
    onnx=to_onnx,
)
