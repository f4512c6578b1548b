"""Compile the engine's dense kernels into Numba's on-disk cache ahead of a first real run.

A process that trains or evaluates a network compiles the kernels it needs on its first use (seconds)
and caches them; later processes load them. :func:`precompile` does that work on purpose, for example in
a container build or a CI step, so a first training starts as fast as a later one. It only compiles: it
trains a tiny network on a few events of zeros and evaluates it, and changes nothing else.

Example:
    >>> import numpy as np
    >>> done = precompile(dtypes=(np.float32,), batch_sizes=(8,))
    >>> done
    ['float32: training at batch 8, inference, inference with an input step']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tmvacompat.engine.fused import shard_count
from tmvacompat.engine.gemm import GEMM_MAX_BATCH
from tmvacompat.engine.inference import DenseEvaluator, DensePredictor
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train
from tmvacompat.specs import DenseSpec, TrainingPhase


def default_batch_sizes(threads: int | None = None) -> tuple[int, ...]:
    """One batch size per kernel a dense training can use: the engine's own gradient products (small
    batches), BLAS's (larger), and where batches split over ``threads`` the sharded kernel.

    >>> default_batch_sizes(threads=1)
    (32, 128)
    """
    sizes = [min(32, GEMM_MAX_BATCH), GEMM_MAX_BATCH * 2]
    big = 1024
    if shard_count(big, threads) > 1:
        sizes.append(big)
    return tuple(sizes)


def precompile(dtypes: Sequence[Any] = (np.float32,), batch_sizes: Sequence[int] | None = None) -> list[str]:
    """Compile (or load from the cache) the fused dense training kernels for ``batch_sizes`` (default
    :func:`default_batch_sizes`), the inference kernel, and its path with an affine input step and a final
    activation (what weight files use), for each float type in ``dtypes``; returns what was done, one line
    per float type."""
    done = []
    for dt in dtypes:
        dt = np.dtype(dt)
        sizes = tuple(default_batch_sizes() if batch_sizes is None else batch_sizes)
        net = Network.build([DenseSpec(2, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=dt)
        for B in sizes:
            n = 2 * int(B)
            X = np.zeros((n, 2), np.float32)
            Y = np.zeros((n, 1), np.float32)
            phase = TrainingPhase(batch_size=int(B), max_epochs=1, test_repetitions=1)
            train(net, X, Y, None, X[:B], Y[:B], None, loss="C", phases=[phase], seed=1)
        DensePredictor(net)(np.zeros((3, 2), dt))
        dense: list[Any] = list(net.layers)
        layers = [(la.params["Weights"], la.params["Biases"], la.activation) for la in dense]
        # a weight file's network: an affine input step in float32 and a final sigmoid
        zero, one = np.zeros(2, np.float32), np.ones(2, np.float32)
        ev = DenseEvaluator(layers, dt, affine=(zero, one, -one), affine_float32=True, final="sigmoid")
        ev.evaluate(np.zeros((3, 2), np.float32))
        ev.workspace()[2]()
        sizes_text = ", ".join(str(b) for b in sizes)
        done.append(f"{dt.name}: training at batch {sizes_text}, inference, inference with an input step")
    return done


__all__ = ["precompile", "default_batch_sizes"]
