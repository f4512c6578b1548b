"""TMVA's optimizers (SGD with momentum, Adam, Adagrad, RMSprop, Adadelta) and L1/L2 regularisation.

Update rules, applied to every weight and bias matrix (TMVA ``DNN/{SGD,Adam,Adagrad,RMSProp,Adadelta}.h``);
g is the gradient including the regularisation term, eta the learning rate, t the global step:

* SGD:      ``V = mu V + g;  theta -= eta V``                                     (mu = Momentum)
* Adam:     ``M = b1 M + (1-b1) g;  V = b2 V + (1-b2) g^2;
  alpha = eta sqrt(1-b2^t) / (1-b1^t);  theta -= alpha M / (sqrt(V) + eps)``
* Adagrad:  ``V += g^2;  theta -= eta g / sqrt(V + eps)``
* RMSprop:  ``V = rho V + (1-rho) g^2;  U = mu U + eta g / sqrt(V + eps);  theta -= U``  (mu = Momentum)
* Adadelta: ``V = rho V + (1-rho) g^2;  D = sqrt(A + eps) g / sqrt(V + eps);  theta -= eta D;
  A = rho A + (1-rho) D^2``

Hyper-parameter defaults are MethodDL's (``ADAM_beta1`` 0.9, ``ADAM_beta2`` 0.999, ``ADAM_eps`` 1e-7,
``RMSPROP_rho`` 0.9, ``RMSPROP_eps`` 1e-7, ``ADAGRAD_eps`` 1e-8, ``ADADELTA_rho`` 0.95, ``ADADELTA_eps``
1e-8). The step counter t is incremented before every batch step and all state starts at zero, so a new
:class:`Optimizer` is made per training phase.

Regularisation (TMVA ``Cpu/Regularization.cxx``; ``WeightDecay`` is its strength and, in MethodDL, nothing
else: there is no separate decoupled weight decay) adds to the gradient of regularised matrices only
(weights, never biases): L1 ``+ wd * sign(W)`` with sign(0) = +1 as in TMVA, L2 ``+ 2 wd W``. The reported
term is ``wd * sum(|W|)`` or ``wd * sum(W^2)`` (:func:`regularization_term`).

The element-wise update is one vectorisable Numba kernel per optimizer (:data:`UPDATE_KERNELS`), also
called by the fused dense trainer so both paths give identical numbers.

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.base import Layer
    >>> layer = Layer((1,), (1,), dtype=np.float64)
    >>> layer.params = {"Weights": np.array([[1.0]]), "Biases": np.array([[0.0]])}
    >>> layer.grads = {"Weights": np.array([[0.5]]), "Biases": np.array([[1.0]])}
    >>> layer.regularized = ("Weights",)
    >>> opt = Optimizer([layer], "SGD", learning_rate=0.1, momentum=0.0)
    >>> opt.step()
    >>> layer.params["Weights"].item(), layer.params["Biases"].item()
    (0.95, -0.1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.errors import EngineConfigError, TrainingError, closest

SGD, ADAM, ADAGRAD, RMSPROP, ADADELTA = range(5)
#: TMVA ``EOptimizer`` values
OPTIMIZER_CODES: dict[str, int] = {
    "SGD": SGD,
    "ADAM": ADAM,
    "ADAGRAD": ADAGRAD,
    "RMSPROP": RMSPROP,
    "ADADELTA": ADADELTA,
}
#: regularisation keyword -> code (TMVA ``ERegularization`` '0', '1', '2')
REGULARIZATION_CODES: dict[str, int] = {"NONE": 0, "L1": 1, "L2": 2}
#: MethodDL's default per-optimizer hyper-parameters (TrainingStrategy keys ``<OPT>_<name>``)
DEFAULT_OPTIMIZER_PARAMS: dict[str, dict[str, float]] = {
    "SGD": {},
    "ADAM": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "ADAGRAD": {"eps": 1e-8},
    "RMSPROP": {"rho": 0.9, "eps": 1e-7},
    "ADADELTA": {"rho": 0.95, "eps": 1e-8},
}

# Layout of the small hyper-parameter array handed to the kernel (in the parameters' dtype, so no
# float64 promotion happens inside float32 loops).
HP_LR, HP_MOM, HP_R1, HP_R2, HP_EPS, HP_ALPHA, HP_C1, HP_C2, HP_ONE, HP_SIZE = range(10)


@njit(cache=True, error_model="numpy", inline="always")
def _hyper(hp):
    one = hp[HP_ONE]
    return (
        hp[HP_LR],
        hp[HP_MOM],
        hp[HP_R1],
        hp[HP_R2],
        hp[HP_EPS],
        hp[HP_ALPHA],
        hp[HP_C1],
        hp[HP_C2],
        one,
        one - hp[HP_R1],
        one - hp[HP_R2],
    )


# One kernel per optimizer, so a process compiles only the optimizers it uses (the fused dense trainer
# and Optimizer.step call them directly; UPDATE_KERNELS maps a code to its kernel).
@njit(cache=True, error_model="numpy")
def sgd_update(theta, g, s1, s2, hp):
    """SGD with momentum on 1-D contiguous arrays (see :data:`UPDATE_KERNELS`)."""
    lr, mom, r1, r2, eps, alpha, c1, c2, one, q1, q2 = _hyper(hp)
    for i in range(theta.size):
        w = theta[i]
        gi = g[i] + c1 * (-one if w < 0 else one) + c2 * w
        v = mom * s1[i] + gi
        s1[i] = v
        theta[i] = w - lr * v


@njit(cache=True, error_model="numpy")
def adam_update(theta, g, s1, s2, hp):
    """Adam (``hp[HP_ALPHA]`` is this step's bias-corrected rate) on 1-D contiguous arrays."""
    lr, mom, r1, r2, eps, alpha, c1, c2, one, q1, q2 = _hyper(hp)
    for i in range(theta.size):
        w = theta[i]
        gi = g[i] + c1 * (-one if w < 0 else one) + c2 * w
        m = r1 * s1[i] + q1 * gi
        v = r2 * s2[i] + q2 * (gi * gi)
        s1[i] = m
        s2[i] = v
        theta[i] = w - alpha * ((one / (np.sqrt(v) + eps)) * m)


@njit(cache=True, error_model="numpy")
def adagrad_update(theta, g, s1, s2, hp):
    """Adagrad on 1-D contiguous arrays."""
    lr, mom, r1, r2, eps, alpha, c1, c2, one, q1, q2 = _hyper(hp)
    for i in range(theta.size):
        w = theta[i]
        gi = g[i] + c1 * (-one if w < 0 else one) + c2 * w
        v = s1[i] + gi * gi
        s1[i] = v
        theta[i] = w - lr * ((one / np.sqrt(v + eps)) * gi)


@njit(cache=True, error_model="numpy")
def rmsprop_update(theta, g, s1, s2, hp):
    """RMSprop with momentum on 1-D contiguous arrays."""
    lr, mom, r1, r2, eps, alpha, c1, c2, one, q1, q2 = _hyper(hp)
    for i in range(theta.size):
        w = theta[i]
        gi = g[i] + c1 * (-one if w < 0 else one) + c2 * w
        v = r1 * s1[i] + q1 * (gi * gi)
        s1[i] = v
        u = mom * s2[i] + lr * ((one / np.sqrt(v + eps)) * gi)
        s2[i] = u
        theta[i] = w - u


@njit(cache=True, error_model="numpy")
def adadelta_update(theta, g, s1, s2, hp):
    """Adadelta on 1-D contiguous arrays."""
    lr, mom, r1, r2, eps, alpha, c1, c2, one, q1, q2 = _hyper(hp)
    for i in range(theta.size):
        w = theta[i]
        gi = g[i] + c1 * (-one if w < 0 else one) + c2 * w
        v = r1 * s1[i] + q1 * (gi * gi)
        s1[i] = v
        d = ((one / np.sqrt(v + eps)) * gi) * np.sqrt(s2[i] + eps)
        theta[i] = w - lr * d
        s2[i] = r1 * s2[i] + q1 * (d * d)


#: optimizer code -> its update kernel ``kernel(theta, g, s1, s2, hp)``: one step on 1-D contiguous arrays
#: (``theta`` updated in place, state ``s1``/``s2``). ``hp`` holds, in theta's dtype: learning rate,
#: momentum, beta1/rho, beta2, eps, Adam's alpha for this step, the L1 coefficient (wd or 0), the L2
#: coefficient (2 wd or 0) and 1. The operation order follows TMVA's matrix calls (reciprocal, then
#: products) so float64 results agree to rounding.
UPDATE_KERNELS = (sgd_update, adam_update, adagrad_update, rmsprop_update, adadelta_update)


def optimizer_code(name: str | int) -> int:
    """Optimizer keyword (``"ADAM"``) or TMVA code -> code. Unknown names raise EngineConfigError.

    TMVA itself silently turns unknown names into ADAM; the option layer decides whether to mirror that.

    >>> optimizer_code("rmsprop")
    3
    """
    if isinstance(name, (int, np.integer)) and 0 <= int(name) <= 4:
        return int(name)
    key = str(name).strip().upper()
    if key in OPTIMIZER_CODES:
        return OPTIMIZER_CODES[key]
    raise EngineConfigError(
        f"unknown optimizer {name!r}",
        parameter="optimizer",
        value=name,
        expected=closest(key, OPTIMIZER_CODES) or list(OPTIMIZER_CODES),
    )


def regularization_code(name: str | int | None) -> int:
    """``"NONE"``/``"L1"``/``"L2"`` (or 0/1/2, or None) -> 0/1/2.

    >>> regularization_code("L2")
    2
    """
    if name is None:
        return 0
    if isinstance(name, (int, np.integer)) and 0 <= int(name) <= 2:
        return int(name)
    key = str(name).strip().upper()
    if key in REGULARIZATION_CODES:
        return REGULARIZATION_CODES[key]
    raise EngineConfigError(
        f"unknown regularization {name!r}",
        parameter="regularization",
        value=name,
        expected=list(REGULARIZATION_CODES),
    )


def resolve_optimizer_params(name: str, params: Mapping[str, float] | None = None) -> dict[str, float]:
    """The optimizer's hyper-parameters: MethodDL defaults overridden by ``params``.

    Keys may be bare (``beta1``) or TrainingStrategy-style (``ADAM_beta1``), any case; keys of other
    optimizers are ignored, unknown keys of this optimizer raise OptionError.

    >>> resolve_optimizer_params("ADAM", {"ADAM_beta1": 0.8})
    {'beta1': 0.8, 'beta2': 0.999, 'eps': 1e-07}
    """
    opt = str(name).strip().upper()
    out = dict(DEFAULT_OPTIMIZER_PARAMS[opt])
    for key, value in (params or {}).items():
        k = str(key).strip()
        prefix, sep, rest = k.partition("_")
        if sep:
            if prefix.upper() != opt:
                if prefix.upper() in OPTIMIZER_CODES:
                    continue
                rest = k
            k = rest
        kl = k.lower()
        if kl not in out:
            raise EngineConfigError(
                f"unknown {opt} parameter {key!r}",
                parameter="optimizer_params",
                value=key,
                expected=[f"{opt}_{p}" for p in out] or ["(none)"],
            )
        out[kl] = float(value)
    return out


@dataclass
class Slot:
    """One parameter array with its gradient and optimizer state (all the same shape)."""

    layer: int
    name: str
    param: np.ndarray
    grad: np.ndarray
    state1: np.ndarray
    state2: np.ndarray
    regularized: bool


def _layers_of(net_or_layers: Any) -> list[Any]:
    return list(getattr(net_or_layers, "layers", net_or_layers))


class Optimizer:
    """A TMVA optimizer over every parameter of a network (anything with ``.layers``) or a list of layers.

    Args:
        net_or_layers: the network or its layers; each layer's ``params``/``grads``/``regularized`` are used
            (and ``trainable``, if a layer has it, limits which parameters are updated).
        kind: ``SGD``, ``ADAM``, ``ADAGRAD``, ``RMSPROP`` or ``ADADELTA``.
        learning_rate: eta.
        momentum: used by SGD and RMSPROP only (as in TMVA).
        regularization: ``NONE``, ``L1`` or ``L2``.
        weight_decay: the regularisation strength.
        params: optimizer hyper-parameters (see :func:`resolve_optimizer_params`).

    :meth:`step` increments ``t`` and updates every parameter from the layer's current gradient. On a
    :class:`~tmvacompat.engine.network.Network` the state lives in two flat arrays ``S1`` / ``S2`` laid
    out as the network's ``P[:n_trainable]``, and a step is one kernel call on the regularised range and
    one on the rest; on a list of layers, one call per parameter array (``S1`` / ``S2`` then follow the
    order of :attr:`slots`).

    >>> from tmvacompat.engine.base import Layer
    >>> layer = Layer((1,), (1,), dtype=np.float64)
    >>> layer.params = {"Weights": np.array([[2.0]])}
    >>> layer.grads = {"Weights": np.array([[0.0]])}
    >>> layer.regularized = ("Weights",)
    >>> opt = Optimizer([layer], "SGD", learning_rate=0.25, regularization="L2", weight_decay=0.5)
    >>> opt.step(); layer.params["Weights"].item()   # 2 - 0.25 * (2 * 0.5 * 2)
    1.5
    """

    def __init__(
        self,
        net_or_layers: Any,
        kind: str | int = "ADAM",
        learning_rate: float = 1e-3,
        momentum: float = 0.0,
        regularization: str | int | None = "NONE",
        weight_decay: float = 0.0,
        params: Mapping[str, float] | None = None,
    ) -> None:
        self.code = optimizer_code(kind)
        self.kind = next(k for k, v in OPTIMIZER_CODES.items() if v == self.code)
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.reg_code = regularization_code(regularization)
        self.weight_decay = float(weight_decay)
        self.hyper = resolve_optimizer_params(self.kind, params)
        self.t = 0
        #: the network whose flat ``P[:n_trainable]`` the states mirror, or None (a list of layers)
        self.net = net_or_layers if hasattr(net_or_layers, "table") else None
        found: list[tuple[int, str, np.ndarray, np.ndarray, bool]] = []
        for li, layer in enumerate(_layers_of(net_or_layers)):
            trainable = getattr(layer, "trainable", None)
            for name, p in layer.params.items():
                if name not in layer.grads or (trainable is not None and name not in trainable):
                    continue  # not trained (e.g. batch-norm running statistics)
                g = layer.grads[name]
                if not (p.flags.c_contiguous and g.flags.c_contiguous) or p.shape != g.shape:
                    raise TrainingError(
                        f"layer {li} parameter {name!r}: param and grad must be C-contiguous "
                        "and of the same shape",
                        token=name,
                    )
                found.append((li, name, p, g, name in layer.regularized))
        dtypes = sorted({p.dtype.str for _, _, p, _, _ in found})
        self.dtypes = dtypes
        dt = np.dtype(dtypes[0]) if len(dtypes) == 1 else np.dtype(np.float64)
        if self.net is not None:
            offsets = [self.net.entry(li, name).offset for li, name, *_ in found]
            size = self.net.n_trainable
        else:
            offsets = list(np.cumsum([0] + [p.size for _, _, p, _, _ in found])[:-1])
            size = sum(p.size for _, _, p, _, _ in found)
        self.S1 = np.zeros(size, dt)
        self.S2 = np.zeros(size, dt)
        self.slots: list[Slot] = []
        for (li, name, p, g, reg), off in zip(found, offsets, strict=True):
            s1 = self.S1[off : off + p.size] if len(dtypes) == 1 else np.zeros_like(p).reshape(-1)
            s2 = self.S2[off : off + p.size] if len(dtypes) == 1 else np.zeros_like(p).reshape(-1)
            self.slots.append(Slot(li, name, p, g, s1.reshape(p.shape), s2.reshape(p.shape), reg))
        self._hp: dict[tuple[str, bool], np.ndarray] = {}
        for s in self.slots:
            key = (s.param.dtype.str, s.regularized)
            if key not in self._hp:
                self._hp[key] = self.hyper_array(s.param.dtype, s.regularized)
        # what one step updates: (parameters, gradients, state 1, state 2, hyper-parameters), flat
        self._ranges: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        if self.net is not None:
            P, G, nr, nt = self.net.P, self.net.G, self.net.n_regularized, self.net.n_trainable
            for lo, hi, reg in ((0, nr, True), (nr, nt, False)):
                if hi > lo:
                    hp = self.hyper_array(P.dtype, reg)
                    self._ranges.append((P[lo:hi], G[lo:hi], self.S1[lo:hi], self.S2[lo:hi], hp))
        else:
            for s in self.slots:
                hp = self._hp[(s.param.dtype.str, s.regularized)]
                flat = tuple(a.reshape(-1) for a in (s.param, s.grad, s.state1, s.state2))
                self._ranges.append((*flat, hp))  # type: ignore[arg-type]

    def hyper_array(self, dtype: Any, regularized: bool) -> np.ndarray:
        """The kernel's hyper-parameter array (see :data:`UPDATE_KERNELS`) for this optimizer."""
        hp = np.zeros(HP_SIZE, dtype=dtype)
        hp[HP_LR] = self.learning_rate
        hp[HP_MOM] = self.momentum
        if self.code == ADAM:
            hp[HP_R1] = self.hyper["beta1"]
            hp[HP_R2] = self.hyper["beta2"]
        elif self.code in (RMSPROP, ADADELTA):
            hp[HP_R1] = self.hyper["rho"]
        hp[HP_EPS] = self.hyper.get("eps", 0.0)
        if regularized and self.weight_decay != 0.0:
            if self.reg_code == 1:
                hp[HP_C1] = self.weight_decay
            elif self.reg_code == 2:
                hp[HP_C2] = 2.0 * self.weight_decay
        hp[HP_ONE] = 1
        return hp

    def adam_alpha(self, t: int) -> float:
        """Adam's bias-corrected step size at global step ``t`` (>= 1)."""
        b1, b2 = self.hyper["beta1"], self.hyper["beta2"]
        return self.learning_rate * math.sqrt(1.0 - math.pow(b2, t)) / (1.0 - math.pow(b1, t))

    def step(self) -> None:
        """Increment the global step and update every parameter from its gradient."""
        self.t += 1
        kernel = UPDATE_KERNELS[self.code]  # only this optimizer's kernel gets compiled
        alpha = self.adam_alpha(self.t) if self.code == ADAM else 0.0
        for theta, g, s1, s2, hp in self._ranges:
            hp[HP_ALPHA] = alpha
            kernel(theta, g, s1, s2, hp)

    def reset(self) -> None:
        """Zero all state and the step counter (a new TMVA phase)."""
        self.t = 0
        self.S1.fill(0)
        self.S2.fill(0)
        for s in self.slots:
            s.state1.fill(0)
            s.state2.fill(0)

    def regularization_term(self) -> float:
        """``wd * sum(|W|)`` (L1) or ``wd * sum(W^2)`` (L2) over regularised matrices; 0 for NONE."""
        return regularization_term(self.slots_params(), self.reg_code, self.weight_decay)

    def slots_params(self) -> list[np.ndarray]:
        return [s.param for s in self.slots if s.regularized]


def regularization_term(
    weights: Iterable[np.ndarray], regularization: str | int | None, weight_decay: float
) -> float:
    """TMVA's reported regularisation term over the given weight matrices (float64 accumulation).

    >>> regularization_term([np.array([[1.0, -2.0]])], "L2", 0.1)
    0.5
    """
    code = regularization_code(regularization)
    if code == 0 or weight_decay == 0.0:
        return 0.0
    total = 0.0
    for w in weights:
        w64 = np.asarray(w, dtype=np.float64)
        total += float(np.abs(w64).sum()) if code == 1 else float(np.dot(w64.ravel(), w64.ravel()))
    return float(weight_decay) * total


def network_regularization_term(
    net_or_layers: Any, regularization: str | int | None, weight_decay: float
) -> float:
    """:func:`regularization_term` over every layer's ``regularized`` parameters.

    >>> network_regularization_term([], "L1", 1.0)
    0.0
    """
    weights = [layer.params[n] for layer in _layers_of(net_or_layers) for n in layer.regularized]
    return regularization_term(weights, regularization, weight_decay)


def optimizer_for_phase(net_or_layers: Any, phase: Any) -> Optimizer:
    """The optimizer a :class:`tmvacompat.specs.TrainingPhase` asks for, with fresh state.

    >>> from tmvacompat.specs import TrainingPhase
    >>> optimizer_for_phase([], TrainingPhase(optimizer="SGD")).kind
    'SGD'
    """
    return Optimizer(
        net_or_layers,
        kind=phase.optimizer,
        learning_rate=phase.learning_rate,
        momentum=phase.momentum,
        regularization=phase.regularization,
        weight_decay=phase.weight_decay,
        params=phase.optimizer_params,
    )


__all__ = [
    "SGD",
    "ADAM",
    "ADAGRAD",
    "RMSPROP",
    "ADADELTA",
    "OPTIMIZER_CODES",
    "REGULARIZATION_CODES",
    "DEFAULT_OPTIMIZER_PARAMS",
    "Optimizer",
    "Slot",
    "UPDATE_KERNELS",
    "sgd_update",
    "adam_update",
    "adagrad_update",
    "rmsprop_update",
    "adadelta_update",
    "optimizer_code",
    "regularization_code",
    "resolve_optimizer_params",
    "regularization_term",
    "network_regularization_term",
    "optimizer_for_phase",
]
