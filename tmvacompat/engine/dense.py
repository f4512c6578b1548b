"""Fully connected layer (TMVA ``DENSE``) and the per-batch-size workspace helper the layers share.

``y = act(x W^T + b)`` with ``Weights`` of shape (width, fan_in) and ``Biases`` of shape (width, 1), exactly
TMVA's weight-file matrices. An input with more than one axis per event (an image, a sequence) is
flattened in C order first, as TMVA does for a dense layer after a convolution.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import DenseSpec
    >>> layer = Dense.from_spec(DenseSpec(2, "LINEAR"), (3,), dtype=np.float64)
    >>> layer.params["Weights"][:] = 1.0
    >>> layer.forward(np.ones((1, 3)))
    array([[3., 3.]])
"""

from __future__ import annotations

from collections import OrderedDict
from math import prod

import numpy as np
from numba import njit

from tmvacompat.engine.activations import IDENTITY, act_backward, act_forward, activation_code
from tmvacompat.engine.base import Layer
from tmvacompat.engine.gemm import gemm_nn, gemm_tn, use_gemm
from tmvacompat.errors import LayoutError

#: how many batch sizes a layer keeps preallocated buffers for (training batch, last predict chunk, ...)
MAX_CACHED_BATCH_SIZES = 4


class Workspaces:
    """Buffers keyed on batch size, least recently used dropped beyond :data:`MAX_CACHED_BATCH_SIZES`.

    ``get(batch, factory)`` returns the cached dict for ``batch`` or builds it with ``factory(batch)``.

    >>> ws = Workspaces()
    >>> ws.get(8, lambda n: {"y": np.zeros(n)})["y"].shape
    (8,)
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

    def get(self, batch: int, factory) -> dict[str, np.ndarray]:
        ws = self._cache.get(batch)
        if ws is None:
            ws = factory(batch)
            self._cache[batch] = ws
            while len(self._cache) > MAX_CACHED_BATCH_SIZES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(batch)
        return ws

    def clear(self) -> None:
        self._cache.clear()


def check_batch(layer: Layer, x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous array of the layer's dtype with shape (batch, *input_shape).

    Accepts (batch, prod(input_shape)) too. LayoutError naming the layer if the per-event size is wrong.
    """
    x = np.asarray(x)
    size = prod(layer.input_shape)
    if (
        x.ndim == 0
        or x.size != x.shape[0] * size
        or (x.ndim > 1 and x.shape[1:] != layer.input_shape and x.shape[1:] != (size,))
    ):
        raise LayoutError(
            f"{layer.kind} layer expects events of shape {layer.input_shape}, got a batch of shape {x.shape}",
            token=layer.kind,
        )
    if x.dtype != layer.dtype or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=layer.dtype)
    return x.reshape((x.shape[0],) + layer.input_shape)


@njit(cache=True, error_model="numpy")
def dense_forward_kernel(x, W, b, z, y, code):
    """z = x W^T + b; y = act(z) (y may be z for the identity). x (n, k), W (m, k), b (m, 1), z/y (n, m)."""
    np.dot(x, W.T, z)
    n, m = z.shape
    for i in range(n):
        for j in range(m):
            z[i, j] += b[j, 0]
    if code != IDENTITY:
        act_forward(code, z, y)


@njit(cache=True, error_model="numpy")
def dense_backward_kernel(x, W, z, dy, dz, gW, gb, dx, code, need_dx):
    """dz = act'(z) dy; gW = dz^T x; gb = column sums of dz; dx = dz W (if need_dx). Overwrites grads."""
    act_backward(code, z, dy, dz)
    n, m = dz.shape
    k = gW.shape[1]
    small = m > 1 and use_gemm(W, n, k)  # the fused trainer's choice too: both paths give the same bits
    o = n - n  # offsets as a variable, not a literal: a literal would compile another signature
    if small:
        gemm_tn(m, k, n, dz.reshape(dz.size), o, m, x.reshape(x.size), o, k, gW.reshape(gW.size), o, k)
    else:
        np.dot(dz.T, x, gW)
    for j in range(m):
        gb[j, 0] = 0
    for i in range(n):
        for j in range(m):
            gb[j, 0] += dz[i, j]
    if need_dx:
        if small:
            gemm_nn(n, k, m, dz.reshape(dz.size), o, m, W.reshape(W.size), o, k, dx.reshape(dx.size), o, k)
        else:
            np.dot(dz, W, dx)


class Dense(Layer):
    """TMVA's dense layer: ``Weights`` (width, fan_in), ``Biases`` (width, 1), an activation code."""

    kind = "DENSE"
    regularized = ("Weights",)

    def __init__(
        self, input_shape: tuple[int, ...], width: int, activation: str | int = "TANH", dtype=np.float32
    ) -> None:
        if width <= 0:
            raise LayoutError(f"DENSE layer width must be positive, got {width}", token=str(width))
        super().__init__(input_shape, (int(width),), dtype)
        self.fan_in = prod(self.input_shape)
        self.width = int(width)
        self.activation = activation_code(activation)
        self.params = {
            "Weights": np.zeros((self.width, self.fan_in), dtype=self.dtype),
            "Biases": np.zeros((self.width, 1), dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.need_input_grad = True
        self._ws = Workspaces()
        self._x: np.ndarray | None = None
        self._cur: dict[str, np.ndarray] | None = None

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1) -> Dense:
        """Build from a :class:`~tmvacompat.specs.DenseSpec`; the width formula is resolved with ``nvar``."""
        nv = prod(input_shape) if nvar is None else nvar
        return cls(tuple(input_shape), spec.resolved_width(nv, n_outputs), spec.activation, dtype=dtype)

    def _alloc(self, n: int) -> dict[str, np.ndarray]:
        z = np.empty((n, self.width), dtype=self.dtype)
        y = z if self.activation == IDENTITY else np.empty_like(z)
        return {"z": z, "y": y, "dz": np.empty_like(z), "dx": np.empty((n, self.fan_in), dtype=self.dtype)}

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x = check_batch(self, x)
        n = x.shape[0]
        x2 = x.reshape(n, self.fan_in)
        ws = self._ws.get(n, self._alloc)
        dense_forward_kernel(
            x2, self.params["Weights"], self.params["Biases"], ws["z"], ws["y"], self.activation
        )
        self._x, self._cur = x2, ws
        return ws["y"]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cur is None or self._x is None:
            raise LayoutError("DENSE backward called before forward", token=self.kind)
        ws = self._cur
        n = self._x.shape[0]
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(n, self.width)
        dense_backward_kernel(
            self._x,
            self.params["Weights"],
            ws["z"],
            dy,
            ws["dz"],
            self.grads["Weights"],
            self.grads["Biases"],
            ws["dx"],
            self.activation,
            self.need_input_grad,
        )
        return ws["dx"].reshape((n,) + self.input_shape)


__all__ = [
    "Dense",
    "Workspaces",
    "check_batch",
    "dense_forward_kernel",
    "dense_backward_kernel",
    "MAX_CACHED_BATCH_SIZES",
]
