"""Graph nodes (tmvacompat's extension): ``ADD|a|b|...`` and ``CONCAT|a|b|...``.

A layer labelled ``@a`` (``INPUT`` is the network input) can be read again further on: ADD sums the previous
layer's output and the labelled outputs (all of one shape, leading axes of length 1 aside), CONCAT joins
them, each flattened, in that order. No parameters; the elements ``AddLayer`` / ``ConcatLayer`` carry the
labels in ``Sources`` (joined by ``|``) and TMVA::Reader refuses them.

Example:
    >>> ADD.output_shape(AddSpec(("h",)), (4,), [(4,)])
    (4,)
    >>> CONCAT.output_shape(ConcatSpec(("h",)), (4,), [(2, 3)])
    (10,)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import Kind, Shape, XmlAttr, XmlElement, as_triple, size_of


@dataclass(frozen=True)
class AddSpec:
    """``ADD|a|b|...``: the previous layer's output plus the outputs of the layers labelled a, b, ...

    Graph edges for residual networks. A layer is labelled by suffixing ``@label`` to its token
    (``DENSE|64|RELU@h1``); ``INPUT`` names the network input. Shapes must match.
    """

    sources: tuple[str, ...] = ()
    name: str | None = None
    kind: ClassVar[str] = "ADD"


@dataclass(frozen=True)
class ConcatSpec:
    """``CONCAT|a|b|...``: the previous layer's output concatenated (flattened) with the labelled outputs."""

    sources: tuple[str, ...] = ()
    name: str | None = None
    kind: ClassVar[str] = "CONCAT"


def add_output_shape(spec: AddSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """The previous layer's shape; every source must have it (up to leading axes of length 1)."""
    for label, shape in zip(spec.sources, sources, strict=False):
        if as_triple(shape) != as_triple(in_shape):
            raise LayoutError(
                f"ADD: input shapes differ: the previous layer's output {tuple(in_shape)} and {label!r}'s "
                f"{tuple(shape)}",
                token=label,
                expected=[str(tuple(in_shape))],
            )
    return tuple(in_shape)


def concat_output_shape(spec: ConcatSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(values,)``: the previous layer's values and every source's."""
    return (size_of(in_shape) + sum(size_of(s) for s in sources),)


def add_to_onnx(g: Any, spec: AddSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``Add`` of the previous layer's output and each source (reshaped to its shape)."""
    y, shape = xs[0]
    for other, oshape in xs[1:]:
        y = g.op("Add", [y, other if oshape == shape else g.reshape(other, shape)], "sum")
    return y


def concat_to_onnx(
    g: Any, spec: ConcatSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]
) -> str:
    """``Concat`` of the flattened inputs along the value axis."""
    parts = [t if len(s) == 1 else g.reshape(t, (size_of(s),)) for t, s in xs]
    return g.op("Concat", parts, "concat", axis=1)


_SOURCES = (XmlAttr("Sources", "sources", "labels"),)

ADD = Kind(
    keyword="ADD",
    spec=AddSpec,
    output_shape=add_output_shape,
    xml=XmlElement("AddLayer", _SOURCES),
    engine="tmvacompat.engine.shape:Add",
    onnx=add_to_onnx,
    tmva=False,
)
CONCAT = Kind(
    keyword="CONCAT",
    spec=ConcatSpec,
    output_shape=concat_output_shape,
    xml=XmlElement("ConcatLayer", _SOURCES),
    engine="tmvacompat.engine.shape:Concat",
    onnx=concat_to_onnx,
    tmva=False,
)
