"""Batch normalisation (TMVA ``BNORM|momentum|epsilon``) with TMVA's running statistics and weight layout.

Parameters are named and shaped as TMVA's ``<BatchNormLayer>`` weight-file children, each ``(1, normDim)``:
``Training-mu`` and ``Training-variance`` (running statistics: state, saved and loaded but never trained,
their gradients stay zero) and ``Gamma``, ``Beta`` (trained; see :attr:`BatchNorm.trainable`).

What TMVA does (``TBatchNormLayer`` in ``BatchNormLayer.h``, ``TCpu::BatchNormLayerForward*`` in
``Cpu/Propagation.hxx``, ``TDeepNet::AddBatchNormLayer`` in ``DeepNet.h``), mirrored here:

* Normalisation axis: after a CONV or MAXPOOL layer one statistic per channel, over batch, rows and
  columns (normDim = depth); otherwise (dense input, the network input, a reshape, a sequence) one
  statistic per element of the event (normDim = depth * height * width).
* Training: ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` with the batch mean and the *biased*
  batch variance (divided by n).
* Running statistics, updated on every training forward: on the first batch after a reset they are set
  to the batch values, later ``r = d * r + (1 - d) * batch`` with ``d = momentum`` if ``momentum >= 0``,
  else ``d = k / (k + 1)`` for the k-th batch since the reset (a cumulative average; TMVA's default
  momentum is -1). Note the direction: TMVA's momentum weighs the *old* value (PyTorch's the new one).
  The variance fed in is ``var * n / (n - 1 + eps)`` (an unbiased estimate with eps in the denominator).
* An inference forward resets the batch counter (as TMVA does), so the next training batch restarts the
  average; :meth:`BatchNorm.reset_training` does the same explicitly.
* Inference: ``y = gamma * (x - Training-mu) / sqrt(Training-variance + eps) + beta``.
* Initial values: gamma 1, beta 0, running mean 0, running variance 1.

Per-channel statistics are those of TMVA's cuDNN path (and of PyTorch's BatchNorm2d). TMVA's CPU kernel, as
read, takes each "channel" as a contiguous block of batch*height*width values of its channel-fastest
buffer, which is not a channel; that apparent quirk is not reproduced.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import BatchNormSpec
    >>> bn = BatchNorm.from_spec(BatchNormSpec(), (2,), dtype=np.float64, nvar=2, n_outputs=1)
    >>> y = bn.forward(np.array([[1.0, 2.0], [3.0, 6.0]]), training=True)
    >>> np.round(y, 4)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.params["Training-mu"]
    array([[2., 4.]])
"""

from __future__ import annotations

from math import prod

import numpy as np

from tmvacompat.engine.base import Layer
from tmvacompat.errors import LayoutError, TrainingError
from tmvacompat.kinds import KINDS


def _check_input(layer: Layer, x: np.ndarray) -> np.ndarray:
    """``x`` as an array of the layer's dtype with shape (batch, *input_shape); LayoutError otherwise."""
    x = np.asarray(x)
    size = prod(layer.input_shape)
    if (
        x.ndim < 1
        or x.shape[0] < 1
        or x.size != x.shape[0] * size
        or (x.ndim > 1 and x.shape[1:] != layer.input_shape and x.shape[1:] != (size,))
    ):
        raise LayoutError(
            f"{layer.kind} layer expects a batch of events of shape {layer.input_shape}, got shape {x.shape}",
            token=layer.kind,
        )
    if x.dtype != layer.dtype:
        x = x.astype(layer.dtype)
    return x.reshape((x.shape[0],) + layer.input_shape)


class BatchNorm(Layer):
    """TMVA's batch-normalisation layer.

    Args:
        input_shape: per-event input shape; the output has the same shape.
        momentum: TMVA momentum (weight of the old running value); negative = cumulative average.
        epsilon: added to the variance before the square root.
        per_channel: normalise per channel (axis 1 of ``(depth, height, width)`` events) instead of per
            element. TMVA does so after CONV and MAXPOOL layers; see :meth:`from_spec`.
        dtype: ``np.float32`` or ``np.float64``.

    Attributes:
        trainable: the parameter names an optimizer may update (``Gamma``, ``Beta``); the running
            statistics are in ``params`` (so weight files carry them) but must not be optimised.
        n_trained_batches: training batches since the last reset (TMVA's ``fTrainedBatches``).

    >>> bn = BatchNorm((3, 2, 2), per_channel=True, dtype=np.float64)
    >>> bn.params["Gamma"].shape
    (1, 3)
    """

    kind = "BNORM"
    trainable: tuple[str, ...] = ("Gamma", "Beta")
    regularized: tuple[str, ...] = ()  # TMVA adds no regularisation gradient for gamma/beta

    def __init__(
        self,
        input_shape: tuple[int, ...],
        *,
        momentum: float = -1.0,
        epsilon: float = 1e-4,
        per_channel: bool = False,
        dtype=np.float32,
    ) -> None:
        super().__init__(input_shape, input_shape, dtype)
        if not self.input_shape or any(s <= 0 for s in self.input_shape):
            raise LayoutError(f"BNORM needs a positive input shape, got {self.input_shape}", token="BNORM")
        if per_channel and len(self.input_shape) != 3:
            raise LayoutError(
                f"per-channel BNORM needs (depth, height, width) events, got shape {self.input_shape}",
                token="BNORM",
                expected=["per-element normalisation (per_channel=False)"],
            )
        if not np.isfinite(epsilon) or epsilon < 0:
            raise LayoutError(f"BNORM epsilon must be >= 0, got {epsilon}", token=str(epsilon))
        if not np.isfinite(momentum) or momentum >= 1:
            raise LayoutError(
                f"BNORM momentum must be < 1 (negative = cumulative average), got {momentum}",
                token=str(momentum),
                expected=["-1", "a value in [0, 1)"],
            )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.per_channel = bool(per_channel)
        self.norm_dim = self.input_shape[0] if per_channel else prod(self.input_shape)
        d = self.norm_dim
        self.params = {
            "Training-mu": np.zeros((1, d), dtype=self.dtype),
            "Training-variance": np.ones((1, d), dtype=self.dtype),
            "Gamma": np.ones((1, d), dtype=self.dtype),
            "Beta": np.zeros((1, d), dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.n_trained_batches = 0
        self._cache: tuple | None = None

    @classmethod
    def from_spec(
        cls,
        spec,
        input_shape: tuple[int, ...],
        *,
        dtype=np.float32,
        nvar: int | None = None,
        n_outputs: int | None = None,
        prev_kind: str | None = None,
        per_channel: bool | None = None,
        **_ignored,
    ) -> BatchNorm:
        """Build from a :class:`~tmvacompat.specs.BatchNormSpec`.

        The normalisation axis follows TMVA when ``prev_kind`` (the kind of the layer before, None for the
        network input) is given: per channel after CONV / MAXPOOL, per element otherwise. Without it, events
        of rank 3 (images) are normalised per channel and others per element; ``per_channel`` overrides both.

        >>> from tmvacompat.specs import BatchNormSpec
        >>> BatchNorm.from_spec(BatchNormSpec(), (4, 3, 3), prev_kind="RESHAPE").norm_dim
        36
        >>> BatchNorm.from_spec(BatchNormSpec(), (4, 3, 3), prev_kind="CONV").norm_dim
        4
        """
        shape = tuple(int(s) for s in input_shape)
        if per_channel is None:
            if prev_kind is not None:
                # TMVA (DeepNet.h) after conv and max-pool layers; CONVT, tmvacompat's own conv-like layer,
                # the same way: the kinds flagged channels_out
                prev = KINDS.get(prev_kind.upper())
                per_channel = prev is not None and prev.channels_out and len(shape) == 3
            else:
                per_channel = len(shape) == 3
        return cls(shape, momentum=spec.momentum, epsilon=spec.epsilon, per_channel=per_channel, dtype=dtype)

    # ------------------------------------------------------------------ helpers
    def _axes(self, ndim: int) -> tuple[int, ...]:
        return (0, 2, 3) if self.per_channel else (0,)

    def _row(self, v: np.ndarray) -> np.ndarray:
        """A (1, normDim) statistic shaped to broadcast against a (batch, *input_shape) array."""
        if self.per_channel:
            return v.reshape(1, -1, 1, 1)
        return v.reshape((1,) + self.input_shape)

    def reset_training(self) -> None:
        """Restart the running-average counter (TMVA's ``ResetTraining``)."""
        self.n_trained_batches = 0

    # ------------------------------------------------------------------ forward / backward
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Normalise a batch; in training mode also update ``Training-mu`` / ``Training-variance``."""
        x = _check_input(self, x)
        gamma = self._row(self.params["Gamma"])
        beta = self._row(self.params["Beta"])
        eps = self.epsilon
        if not training:
            mu = self._row(self.params["Training-mu"])
            var = self._row(self.params["Training-variance"])
            ivar = (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(self.dtype)
            xhat = (x - mu) * ivar
            self._cache = ("eval", xhat, ivar)
            self.n_trained_batches = 0  # as TMVA: inference restarts the running average
            return gamma * xhat + beta

        axes = self._axes(x.ndim)
        n = x.size // self.norm_dim
        # statistics accumulated in double precision, as TMVA does
        mean64 = x.mean(axis=axes, dtype=np.float64, keepdims=True)
        xmu = x - mean64.astype(self.dtype)
        var64 = np.mean(np.square(xmu, dtype=np.float64), axis=axes, keepdims=True)
        ivar = (1.0 / np.sqrt(var64 + eps)).astype(self.dtype)
        xhat = xmu * ivar
        self._cache = ("train", xhat, ivar, xmu, var64.astype(self.dtype), n)

        mean_flat = mean64.reshape(1, -1)
        var_est = var64.reshape(1, -1) * n / ((n - 1) + eps)
        mu_run = self.params["Training-mu"]
        var_run = self.params["Training-variance"]
        if self.n_trained_batches == 0:
            mu_run[...] = mean_flat
            var_run[...] = var_est
        else:
            k = self.n_trained_batches
            decay = self.momentum if self.momentum >= 0 else k / (k + 1.0)
            mu_run[...] = decay * mu_run.astype(np.float64) + (1.0 - decay) * mean_flat
            var_run[...] = decay * var_run.astype(np.float64) + (1.0 - decay) * var_est
        self.n_trained_batches += 1
        return gamma * xhat + beta

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Fill ``grads['Gamma']``, ``grads['Beta']`` and return dLoss/dInput for the last forward batch.

        After a training forward this is the gradient through the batch statistics; after an inference
        forward, through the fixed running statistics. The running statistics' gradients stay zero.
        """
        if self._cache is None:
            raise TrainingError("BNORM backward called before forward", token="BNORM")
        xhat = self._cache[1]
        dy = np.asarray(dy, dtype=self.dtype).reshape(xhat.shape)
        axes = self._axes(dy.ndim)
        gamma = self._row(self.params["Gamma"])
        self.grads["Beta"][...] = dy.sum(axis=axes, dtype=np.float64).reshape(1, -1)
        self.grads["Gamma"][...] = (dy * xhat).sum(axis=axes, dtype=np.float64).reshape(1, -1)
        self.grads["Training-mu"].fill(0)
        self.grads["Training-variance"].fill(0)
        if self._cache[0] == "eval":
            return dy * (gamma * self._cache[2])
        _, xhat, ivar, xmu, var, n = self._cache
        sum_dy = dy.sum(axis=axes, keepdims=True)
        sum_dy_xmu = (dy * xmu).sum(axis=axes, keepdims=True)
        # TMVA's closed form: dx = gamma*ivar/n * (n*dy - sum(dy) - xmu * sum(dy*xmu) / (var + eps))
        return (gamma * ivar / n) * (n * dy - sum_dy - xmu * (sum_dy_xmu / (var + self.epsilon)))

    def __repr__(self) -> str:
        axis = "channel" if self.per_channel else "element"
        return (
            f"BatchNorm({self.input_shape}, per {axis}, normDim={self.norm_dim}, "
            f"momentum={self.momentum}, epsilon={self.epsilon})"
        )


__all__ = ["BatchNorm"]
