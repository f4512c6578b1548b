"""Compile the weight-file layer's kernels into Numba's on-disk cache ahead of a first real run.

The engine's kernels are compiled by :func:`tmvacompat.engine.precompile.precompile`; this does the same
for the weight-file side: the bulk number printing and parsing of the ``<Weights>`` matrices and the NaN
handling of the Reader's evaluation. ``tmvacompat precompile`` runs both.

Example:
    >>> precompile()
    ['weight files: number printing (float32, float64), number parsing, NaN rows']
"""

from __future__ import annotations

import numpy as np

from tmvacompat.weightfile.dense_eval import mark_nan_rows
from tmvacompat.weightfile.numfmt import BULK_MIN_VALUES, shortest_float32, shortest_float64
from tmvacompat.weightfile.numparse import parse_values


def precompile() -> list[str]:
    """Compile (or load from the cache) the weight-file kernels; returns what was done, one line."""
    shortest_float32(np.zeros(BULK_MIN_VALUES, np.float32), " ")
    shortest_float64(np.zeros(BULK_MIN_VALUES, np.float64), " ")
    parse_values("1.5 -2e-3", 2)
    x = np.array([[np.nan, 0.0], [1.0, 2.0]], np.float32)
    for dt in (np.float32, np.float64):
        mark_nan_rows(x, np.zeros((2, 1), dt))
    return ["weight files: number printing (float32, float64), number parsing, NaN rows"]


__all__ = ["precompile"]
