"""A weight file's plain dense network evaluated with TMVA's application semantics on the engine's one-call
kernel (:class:`tmvacompat.engine.inference.DenseEvaluator`).

The engine knows an affine input step, dense layers and a final activation; what TMVA means by them is
decided here:

* TMVA's Normalize transformation ``(x - min) * (2 / (max - min)) - 1`` in float32
  (:class:`~tmvacompat.data.transforms.NormalizeTransform`) is the engine's affine step with offset ``min``,
  scale ``2 / (max - min)`` and shift ``-1`` in float32 arithmetic (adding -1 is subtracting 1: the same
  bits), see :func:`normalize_affine`;
* the output function (TMVA's ``EOutputFunction``: 'I' identity, 'S' sigmoid, 'M' softmax) is the engine's
  final activation (:data:`OUTPUT_ACTIVATIONS`);
* an event with a NaN input gets NaN outputs, and is counted, so that the model can give TMVA's -999 (a
  classifier) or NaN with a warning (regression, multiclass); :func:`mark_nan_rows` does that after the
  kernel, in one pass over the inputs. Rows are independent in the kernel, so a NaN row changes no other.

Example:
    >>> import numpy as np
    >>> ev = WeightFileEvaluator([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, output_function="S")
    >>> out, nbad = ev.evaluate(np.array([[0, 0], [np.nan, 1]], np.float32))
    >>> out[:, 0].tolist(), nbad
    ([0.5, nan], 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.engine.inference import CHUNK, DenseEvaluator
from tmvacompat.errors import InputDataError, WeightFileError

#: TMVA's output function character -> the engine's final activation
OUTPUT_ACTIVATIONS: dict[str, str | None] = {"I": None, "S": "sigmoid", "M": "softmax"}


def normalize_affine(offset: Any, scale2: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The engine's affine step (offset, scale, shift) of a Normalize transformation given by its float32
    offsets (the minima) and doubled scales (``2 / (max - min)``, as ``NormalizeTransform`` computes them).

    >>> [v.tolist() for v in normalize_affine([0.0, 1.0], [2.0, 0.5])]
    [[0.0, 1.0], [2.0, 0.5], [-1.0, -1.0]]
    """
    off = np.asarray(offset, np.float32).reshape(-1)
    scale = np.asarray(scale2, np.float32).reshape(-1)
    return off, scale, np.full(off.size, -1, np.float32)


@njit(cache=True, error_model="numpy", nogil=True)
def mark_nan_rows(x, out):
    """Set every output row of ``out`` whose input row of ``x`` holds a NaN to NaN; return how many."""
    n, nin = x.shape
    m = out.shape[1]
    nbad = 0
    for i in range(n):
        bad = False
        for j in range(nin):
            if np.isnan(x[i, j]):
                bad = True
        if bad:
            nbad += 1
            for c in range(m):
                out[i, c] = np.nan
    return nbad


class WeightFileEvaluator:
    """A weight file's dense layers with its Normalize transformation (or none), its output function and
    TMVA's NaN handling, on the engine's kernel (thread safe: the engine keeps its scratch per thread).

    ``layers``: (weights (m, k), biases, engine activation code) per layer; ``normalize``: the float32
    (offset, doubled scale) per input, or None; ``check_nan``: mark and count NaN rows (off when the caller
    already replaced them).

    >>> ev = WeightFileEvaluator([(np.eye(2), np.zeros(2), 0)], np.float32, output_function="M")
    >>> ev.evaluate(np.zeros((1, 2), np.float32))[0].tolist()
    [[0.5, 0.5]]
    """

    def __init__(
        self,
        layers: list[tuple[np.ndarray, np.ndarray, int]],
        dtype: Any,
        *,
        output_function: str = "I",
        normalize: tuple[np.ndarray, np.ndarray] | None = None,
        check_nan: bool = True,
        chunk: int = CHUNK,
    ) -> None:
        if output_function not in OUTPUT_ACTIVATIONS:
            raise WeightFileError(f"unknown output function {output_function!r}", token=output_function,
                                  expected=list(OUTPUT_ACTIVATIONS))  # fmt: skip
        affine = None if normalize is None else normalize_affine(*normalize)
        self.engine = DenseEvaluator(layers, dtype, affine=affine, affine_float32=True,
                                     final=OUTPUT_ACTIVATIONS[output_function], chunk=chunk)  # fmt: skip
        self.dtype = self.engine.dtype
        self.nin = self.engine.nin
        self.nout = self.engine.nout
        self.check_nan = bool(check_nan)
        self._float32 = self.dtype == np.float32  # decided once, not per event

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """(outputs (n, nout) in the network dtype, number of NaN rows, their outputs NaN) for a float32
        (n, nin) matrix."""
        x = np.ascontiguousarray(x, dtype=self.dtype)  # float64 nets: the same float32 values
        out = self.engine.evaluate(x)
        return out, (mark_nan_rows(x, out) if self.check_nan else 0)

    def evaluate_buffers(self, buffers: Sequence[Any]) -> tuple[np.ndarray, int]:
        """One event read from one-element buffers (TMVA's bound variables, converted to float32); returns
        this thread's (1, nout) output row (valid until this thread's next call; NaN outputs for a NaN
        input) and the number of NaN rows (0 or 1)."""
        row, out, run = self.engine.workspace()
        r = row[0]
        if len(buffers) != self.nin:
            raise InputDataError(f"{len(buffers)} buffers for {self.nin} variables", token="buffers")
        if self._float32:
            for j, b in enumerate(buffers):
                r[j] = b[0]  # assignment rounds to float32
        else:
            for j, b in enumerate(buffers):
                r[j] = np.float32(b[0])  # Float_t first, then the float64 net
        run()
        return out, (mark_nan_rows(row, out) if self.check_nan else 0)


__all__ = ["OUTPUT_ACTIVATIONS", "WeightFileEvaluator", "mark_nan_rows", "normalize_affine"]
