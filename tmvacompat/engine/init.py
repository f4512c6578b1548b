"""Weight initialisation schemes of TMVA's deep-learning engine.

TMVA (``DNN/Architectures/Cpu/Initialization.cxx``) initialises every weight matrix W of m rows (fan-out)
and n columns (fan-in) with one of six schemes, keyed by ``EInitialization`` characters:

========================  ====  =========================================================================
keyword                   code  rule
========================  ====  =========================================================================
``GAUSS``                 G     N(0, sigma), sigma = sqrt(2 / n)
``UNIFORM``               U     U(-r, r), r = sqrt(2 / n)
``IDENTITY``              I     every entry 1 (TMVA's quirk: not an identity matrix)
``ZERO``                  Z     every entry 0
``XAVIER``                X     Glorot normal, sigma = sqrt(2 / (n + m)), with TMVA's truncation quirk
``XAVIERUNIFORM``         F     Glorot uniform, U(-r, r), r = sqrt(6 / (n + m))
========================  ====  =========================================================================

TMVA's XAVIER quirk: for each entry one value is drawn; if it lies beyond two sigma the entry is *skipped*
(keeps its current value, zero for a fresh layer), otherwise the entry receives a second, fresh and
untruncated draw. About 4.55 % of the entries therefore stay zero and the standard deviation of the
matrix is ``sigma * sqrt(0.9545)``.

Biases are zero-initialised (current MethodDL behaviour). Parameters that are neither regularised weight
matrices nor ``Biases`` (batch-norm gamma/beta, running statistics) keep what their layer set up.

Randomness comes from a :class:`numpy.random.Generator` seeded with the given seed, so results are
deterministic for a seed but **not** bit-identical to ROOT's ``TRandom3`` draws (TMVA's exact sequence
would need MT19937 plus ROOT's Gaussian algorithm; it is not reproduced).

Example:
    >>> import numpy as np
    >>> w = init_matrix((128, 20), "XAVIERUNIFORM", np.random.default_rng(1))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 148))
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tmvacompat.errors import EngineConfigError, closest

#: keyword -> TMVA EInitialization character
INIT_CODES: dict[str, str] = {
    "GAUSS": "G",
    "UNIFORM": "U",
    "IDENTITY": "I",
    "ZERO": "Z",
    "XAVIER": "X",
    "XAVIERUNIFORM": "F",
}
_BY_CODE = {v: k for k, v in INIT_CODES.items()}


def init_method(method: str) -> str:
    """Normalise a scheme name (keyword, case-insensitive, or TMVA code character) to its keyword.

    >>> init_method("x"), init_method("XavierUniform")
    ('XAVIER', 'XAVIERUNIFORM')
    """
    key = str(method).strip().upper()
    if key in INIT_CODES:
        return key
    if len(key) == 1 and key in _BY_CODE:
        return _BY_CODE[key]
    raise EngineConfigError(
        f"unknown weight initialisation {method!r}",
        parameter="initialization",
        value=method,
        expected=closest(key, INIT_CODES) or list(INIT_CODES),
    )


def _as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def init_matrix(
    shape: tuple[int, ...],
    method: str,
    rng: np.random.Generator,
    dtype: Any = np.float32,
    current: np.ndarray | None = None,
) -> np.ndarray:
    """A new weight matrix of ``shape`` (rows = fan-out, remaining axes = fan-in) drawn with ``method``.

    ``current`` is what the matrix holds now; only XAVIER uses it (entries whose first draw falls beyond two
    sigma keep their current value). Without it they are zero.

    >>> w = init_matrix((3, 2), "IDENTITY", np.random.default_rng(0))
    >>> w.tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    method = init_method(method)
    shape = tuple(int(s) for s in shape)
    m = shape[0] if shape else 1
    n = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if method == "ZERO":
        out = np.zeros(shape)
    elif method == "IDENTITY":
        out = np.ones(shape)
    elif method == "GAUSS":
        out = rng.standard_normal(shape) * np.sqrt(2.0 / n)
    elif method == "UNIFORM":
        r = np.sqrt(2.0 / n)
        out = rng.uniform(-r, r, shape)
    elif method == "XAVIERUNIFORM":
        r = np.sqrt(6.0 / (n + m))
        out = rng.uniform(-r, r, shape)
    else:  # XAVIER with TMVA's truncation quirk
        sigma = np.sqrt(2.0 / (n + m))
        first = rng.standard_normal(shape)
        second = rng.standard_normal(shape) * sigma
        keep = np.zeros(shape) if current is None else np.asarray(current, dtype=np.float64).reshape(shape)
        out = np.where(np.abs(first) > 2.0, keep, second)
    return out.astype(dtype, copy=False)


def initialize(
    net_or_layers: Any,
    method: str = "XAVIER",
    seed: int | np.random.Generator | None = None,
) -> None:
    """Initialise the parameters of a network (anything with ``.layers``) or an iterable of layers in place.

    Every name in a layer's ``regularized`` (its weight matrices) is drawn with ``method``; ``Biases`` are set
    to zero; other parameters are left alone. Arrays are written in place, so views held elsewhere (the
    fused trainer) stay valid. Layers are visited in order and matrices in ``regularized`` order, so a seed
    fixes the result.

    >>> from tmvacompat.engine.base import Layer
    >>> layer = Layer((2,), (3,), dtype=np.float64)
    >>> layer.regularized = ("Weights",)
    >>> layer.params = {"Weights": np.zeros((3, 2)), "Biases": np.ones((3, 1))}
    >>> initialize([layer], "ZERO", seed=1)
    >>> float(layer.params["Biases"].sum())
    0.0
    """
    method = init_method(method)
    rng = _as_generator(seed)
    layers: Iterable[Any] = getattr(net_or_layers, "layers", net_or_layers)
    for layer in layers:
        params = layer.params
        for name in layer.regularized:
            p = params[name]
            p[...] = init_matrix(p.shape, method, rng, p.dtype, current=p)
        for name, p in params.items():  # Biases, and the recurrent layers' InputBiases, ForgetBiases, ...
            if name.endswith("Biases") and name not in layer.regularized:
                p[...] = 0


__all__ = ["INIT_CODES", "init_method", "init_matrix", "initialize"]
