"""Shape layers without parameters: ``RESHAPE`` / ``RESHAPE|FLAT`` and the graph nodes ``ADD`` and ``CONCAT``.

``ADD`` and ``CONCAT`` take several inputs: the :class:`~tmvacompat.engine.network.Network` calls their
``forward_multi([previous, *labelled])`` and ``backward_multi(dy)`` (one gradient per input, same order).

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import ReshapeSpec
    >>> Reshape.from_spec(ReshapeSpec(flatten=True), (2, 3, 4)).output_shape
    (24,)
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np

from tmvacompat.engine.base import Layer
from tmvacompat.engine.dense import Workspaces, check_batch
from tmvacompat.errors import LayoutError
from tmvacompat.kinds.merge import ADD, CONCAT, AddSpec, ConcatSpec
from tmvacompat.kinds.reshape import KIND as RESHAPE
from tmvacompat.kinds.reshape import ReshapeSpec


class Reshape(Layer):
    """``RESHAPE|depth|height|width`` (same number of values per event) or ``RESHAPE|FLAT``; C order."""

    kind = "RESHAPE"

    def __init__(self, input_shape, spec: ReshapeSpec, dtype=np.float32) -> None:
        super().__init__(input_shape, RESHAPE.output_shape(spec, input_shape, ()), dtype)
        self._n = 0

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1) -> Reshape:
        """Build from a :class:`~tmvacompat.specs.ReshapeSpec` (``flatten`` -> one axis)."""
        return cls(tuple(input_shape), spec, dtype=dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x = check_batch(self, x)
        self._n = x.shape[0]
        return x.reshape((self._n, *self.output_shape))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return np.asarray(dy).reshape((self._n, *self.input_shape))


class _Merge(Layer):
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise LayoutError(f"{self.kind} needs several inputs; use forward_multi", token=self.kind)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise LayoutError(f"{self.kind} has several inputs; use backward_multi", token=self.kind)


class Add(_Merge):
    """``ADD|a|b``: elementwise sum of the previous output and the labelled outputs (one shape, up to
    leading axes of length 1: :func:`tmvacompat.kinds.merge.add_output_shape`)."""

    kind = "ADD"

    def __init__(
        self, source_shapes: Sequence[tuple[int, ...]], dtype=np.float32, labels: Sequence[str] = ()
    ) -> None:
        shapes = [tuple(s) for s in source_shapes]
        names = tuple(labels) or tuple(f"input {k}" for k in range(1, len(shapes)))
        out = ADD.output_shape(AddSpec(names), shapes[0], shapes[1:])
        super().__init__(shapes[0], out, dtype)
        self.source_shapes = shapes
        self._ws = Workspaces()
        self._n = 0

    @classmethod
    def from_spec(
        cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1, source_shapes=None
    ) -> Add:
        """Build from an :class:`~tmvacompat.specs.AddSpec`; ``source_shapes`` = [previous, *labelled]."""
        return cls(source_shapes or [tuple(input_shape)], dtype=dtype, labels=spec.sources)

    def forward_multi(self, xs: Sequence[np.ndarray], training: bool = False) -> np.ndarray:
        n = xs[0].shape[0]
        y = self._ws.get(n, lambda m: {"y": np.empty((m, *self.output_shape), self.dtype)})["y"]
        np.copyto(y, xs[0].reshape(y.shape))
        for x in xs[1:]:
            y += x.reshape(y.shape)
        self._n = n
        return y

    def backward_multi(self, dy: np.ndarray) -> list[np.ndarray]:
        dy = np.asarray(dy).reshape((self._n, *self.output_shape))
        return [dy.reshape((self._n, *shape)) for shape in self.source_shapes]


class Concat(_Merge):
    """``CONCAT|a|b``: the previous output and the labelled outputs, each flattened, joined in that order."""

    kind = "CONCAT"

    def __init__(self, source_shapes: Sequence[tuple[int, ...]], dtype=np.float32) -> None:
        shapes = [tuple(s) for s in source_shapes]
        self.sizes = [prod(s) for s in shapes]
        super().__init__(shapes[0], CONCAT.output_shape(ConcatSpec(), shapes[0], shapes[1:]), dtype)
        self.source_shapes = shapes
        self._ws = Workspaces()
        self._n = 0

    @classmethod
    def from_spec(
        cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1, source_shapes=None
    ) -> Concat:
        """Build from a :class:`~tmvacompat.specs.ConcatSpec`; ``source_shapes`` = [previous, *labelled]."""
        return cls(source_shapes or [tuple(input_shape)], dtype=dtype)

    def forward_multi(self, xs: Sequence[np.ndarray], training: bool = False) -> np.ndarray:
        n = xs[0].shape[0]
        y = self._ws.get(n, lambda m: {"y": np.empty((m, *self.output_shape), self.dtype)})["y"]
        start = 0
        for x, size in zip(xs, self.sizes, strict=False):
            y[:, start : start + size] = x.reshape(n, size)
            start += size
        self._n = n
        return y

    def backward_multi(self, dy: np.ndarray) -> list[np.ndarray]:
        dy = np.asarray(dy).reshape((self._n, *self.output_shape))
        out, start = [], 0
        for shape, size in zip(self.source_shapes, self.sizes, strict=False):
            out.append(dy[:, start : start + size].reshape((self._n, *shape)))
            start += size
        return out


__all__ = ["Reshape", "Add", "Concat"]
