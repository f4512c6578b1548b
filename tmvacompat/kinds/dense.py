"""``DENSE|width|activation``: a fully connected layer, y = act(x W^T + b).

``Weights`` (width, fan_in) and ``Biases`` (width, 1), as TMVA's DenseLayer.h stores them; the output is a
vector of ``width`` values whatever the input's shape (the input is flattened).

Example:
    >>> KIND.output_shape(DenseSpec(4, "RELU"), (2, 3), ())
    (4,)
    >>> KIND.param_shapes(DenseSpec(4, "RELU"), (2, 3))
    {'Weights': (4, 6), 'Biases': (4, 1)}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import Kind, MatrixShapes, Shape, XmlAttr, XmlElement, size_of


@dataclass(frozen=True)
class DenseSpec:
    """``DENSE|width|activation``: y = act(x W^T + b), W of shape (width, fan_in).

    ``width`` is an int, or a formula string in ``N`` (number of input variables) such as ``"(N+100)*2"``;
    width 0 means "the number of outputs the analysis needs" (1, NClasses or NTargets).
    """

    width: int | str = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "DENSE"

    def resolved_width(self, nvar: int, noutputs: int = 1) -> int:
        """The width as a number, given the number of input variables and of outputs."""
        if isinstance(self.width, int):
            w = self.width
        else:
            from tmvacompat._formula import eval_size_formula  # pure arithmetic, no package deps

            w = eval_size_formula(self.width, nvar)
        return noutputs if w == 0 else w


def _width(spec: DenseSpec) -> int:
    if not isinstance(spec.width, int) or spec.width <= 0:
        raise LayoutError(
            f"DENSE width {spec.width!r} must be a resolved positive integer (use DenseSpec.resolved_width)",
            token=str(spec.width),
        )
    return spec.width


def output_shape(spec: DenseSpec, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(width,)``; the width must be resolved (an int > 0)."""
    return (_width(spec),)


def param_shapes(spec: DenseSpec, in_shape: Shape) -> MatrixShapes:
    """``Weights`` (width, inputs), ``Biases`` (width, 1)."""
    width = _width(spec)
    return {"Weights": (width, size_of(in_shape)), "Biases": (width, 1)}


def to_onnx(g: Any, spec: DenseSpec, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """``Gemm`` on the flattened input (``Weights`` transposed by the operator), then the activation."""
    x, shape = xs[0]
    if len(shape) != 1:
        x = g.reshape(x, (size_of(shape),))
    y = g.op("Gemm", [x, g.const("W", p["Weights"]), g.const("b", p["Biases"][:, 0])], transB=1)
    return g.activation(y, spec.activation)


KIND = Kind(
    keyword="DENSE",
    spec=DenseSpec,
    output_shape=output_shape,
    param_shapes=param_shapes,
    xml=XmlElement(
        "DenseLayer",
        (XmlAttr("Width", "width", lo=1), XmlAttr("ActivationFunction", "activation", "activation")),
        ("Weights", "Biases"),
    ),
    engine="tmvacompat.engine.dense:Dense",
    onnx=to_onnx,
)
