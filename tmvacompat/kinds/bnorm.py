"""``BNORM|momentum|epsilon``: batch normalisation (TMVA's BatchNormLayer.h).

Four 1 x normDim matrices, ``Training-mu``, ``Training-variance``, ``Gamma``, ``Beta``. normDim is the
number of channels when the layer normalises per channel (TMVA does so right after a layer whose
:attr:`~tmvacompat.kinds.base.Kind.channels_out` is set: CONV, MAXPOOL) and the number of values per event
otherwise; a weight file may carry either. The output has the input's shape.

Example:
    >>> spec = BatchNormSpec()
    >>> KIND.param_shapes(spec, (4, 3, 3))["Gamma"], KIND.param_shapes(spec, (6,))["Gamma"]
    ((1, 4), (1, 6))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.kinds.base import Kind, MatrixShapes, Shape, XmlAttr, XmlElement, as_triple, size_of

MATRICES = ("Training-mu", "Training-variance", "Gamma", "Beta")


@dataclass(frozen=True)
class BatchNormSpec:
    """``BNORM|momentum|epsilon``; TMVA's defaults momentum -1 (cumulative average), epsilon 1e-4."""

    momentum: float = -1.0
    epsilon: float = 1e-4
    name: str | None = None
    kind: ClassVar[str] = "BNORM"


def output_shape(spec: BatchNormSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """The input's shape."""
    return tuple(in_shape)


def param_shapes(spec: BatchNormSpec, in_shape: Shape) -> MatrixShapes:
    """(1, channels) for an image of several channels, (1, values) otherwise."""
    d = as_triple(in_shape)[0]
    norm = d if d > 1 else size_of(in_shape)
    return {name: (1, norm) for name in MATRICES}


def _accepts(name: str, want: tuple[int, int], got: tuple[int, ...], in_shape: Shape) -> bool:
    return len(got) == 2 and got[0] == 1 and got[1] in (as_triple(in_shape)[0], size_of(in_shape))


def to_onnx(g: Any, spec: BatchNormSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``BatchNormalization`` with the running statistics; per channel (axis 1) for an image with a
    statistic per channel, else on the flattened event (one statistic per value)."""
    x, shape = xs[0]
    consts = [
        g.const(n.lower().replace("-", "_"), p[n].reshape(-1))
        for n in ("Gamma", "Beta", "Training-mu", "Training-variance")
    ]
    flat = not layer.per_channel and len(shape) != 1
    if flat:
        x = g.reshape(x, (size_of(shape),))
    y = g.op("BatchNormalization", [x, *consts], "bnorm", epsilon=float(layer.epsilon))
    return g.reshape(y, shape) if flat else y


KIND = Kind(
    keyword="BNORM",
    spec=BatchNormSpec,
    output_shape=output_shape,
    param_shapes=param_shapes,
    accepts=_accepts,
    xml=XmlElement(
        "BatchNormLayer",
        (
            XmlAttr("Momentum", "momentum", "float", default=-1.0),
            XmlAttr("Epsilon", "epsilon", "float", default=1e-4),
        ),
        MATRICES,
    ),
    engine="tmvacompat.engine.bnorm:BatchNorm",
    onnx=to_onnx,
)
