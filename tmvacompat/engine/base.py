"""The layer interface every engine layer implements.

A layer is a small object holding its configuration, its parameters (named and shaped exactly as TMVA's
weight files store them, so a weight file maps 1:1 onto ``params``), the matching gradients, and a
forward/backward pair over a batch. Nothing here knows about option strings or XML.

Shapes are *per event*: a dense activation is ``(n,)``, an image ``(depth, height, width)``, a sequence
``(time, features)``; a batch adds a leading axis.

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.base import Layer
    >>> class Scale(Layer):
    ...     kind = "SCALE"
    ...     def forward(self, x, training=False):
    ...         return 2 * x
    ...     def backward(self, dy):
    ...         return 2 * dy
    >>> Scale((3,), (3,)).forward(np.ones((1, 3)))
    array([[2., 2., 2.]])
"""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class of engine layers.

    Attributes:
        kind: TMVA's keyword for the layer ("DENSE", "CONV", ...).
        input_shape: per-event input shape.
        output_shape: per-event output shape.
        params: parameter arrays by TMVA weight-file name ("Weights", "Biases", "Gamma", ...).
        grads: gradient arrays, same keys and shapes as ``params``; filled by :meth:`backward`.
        regularized: the names in ``params`` that L1/L2 regularisation and weight decay apply to
            (TMVA: weight matrices, never biases).
    """

    kind: str = "LAYER"
    regularized: tuple[str, ...] = ()

    def __init__(self, input_shape: tuple[int, ...], output_shape: tuple[int, ...], dtype=np.float32) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = tuple(int(s) for s in output_shape)
        self.dtype = np.dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Output for a batch ``x`` of shape ``(batch, *input_shape)``; caches what backward needs."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Given dLoss/dOutput of the last forward batch, fill ``grads`` and return dLoss/dInput."""
        raise NotImplementedError

    def zero_grads(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    @property
    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_shape} -> {self.output_shape})"
