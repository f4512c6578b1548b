"""Recurrent layers (TMVA ``RNN``, ``LSTM``, ``GRU``) with TMVA's equations and weight-file layout.

An event is a sequence of ``time_steps`` rows of ``input_size`` values: TMVA's ``InputLayout=T|W`` maps input
variable ``t * W + k`` to time step t, feature k, so an event of any shape holding T*W values in C order is
accepted. The output is the last hidden state, shape ``(state_size,)``, or with ``return_sequence`` every
state, ``(time_steps, state_size)``.

Equations (TMVA ``RNN/RNNLayer.h``, ``RNN/LSTMLayer.h``, ``RNN/GRULayer.h``; every product is
``x W^T`` / ``h U^T`` with W of shape (state, input) and U of shape (state, state), biases (state, 1))::

    RNN   h_t = tanh(x W^T + h U^T + b)
    LSTM  i = sig(x Wi^T + h Ui^T + bi)   f = sig(x Wf^T + h Uf^T + bf)
          g = tanh(x Wc^T + h Uc^T + bc)  o = sig(x Wo^T + h Uo^T + bo)
          c_t = f * c + i * g             h_t = o * tanh(c_t)
    GRU   r = sig(x Wr^T + h Ur^T + br)   z = sig(x Wz^T + h Uz^T + bz)
          c = tanh(x Wc^T + (r * h) Uc^T + bc)        (resetGateAfter = 0, the default)
          c = tanh(x Wc^T + r * (h Uc^T) + bc)        (resetGateAfter = 1, cuDNN's variant)
          h_t = z * h + (1 - z) * c

The initial state is zero, or with ``remember_state`` the last state of the previous forward call (when the
batch size is the same; see :meth:`RecurrentLayer.reset_state`). Backward is full back-propagation through
time over the sequence; a remembered initial state is treated as a constant.

**Weight-file names.** Current ROOT (since the cuDNN-capable rewrite of the LSTM/GRU layers) stores the
matrices as ``GetWeightsAt(0..)`` of a list ordered [all input weights, then all state weights], but writes
them under names that assume the older interleaved order. So the XML *name* of an LSTM/GRU matrix is not
its role; :data:`LSTM_PARAM_ROLES` and :data:`GRU_PARAM_ROLES` give the true role and the shape of every
name. Parameters here are keyed by the XML names with the XML shapes, so a weight file maps 1:1.
For the RNN the names are their roles: ``InputWeights`` W, ``StateWeights`` U, ``Biases`` b.

Mapping to PyTorch (the proof of the gate order, see ``tests/test_engine_recurrent.py``): ``nn.RNN``
``weight_ih_l0 = W``, ``weight_hh_l0 = U``, ``bias_ih_l0 = b``, ``bias_hh_l0 = 0``; ``nn.LSTM`` stacks rows in
the order i, f, g(candidate), o: ``weight_ih_l0 = [Wi; Wf; Wc; Wo]``, ``weight_hh_l0 = [Ui; Uf; Uc; Uo]``,
``bias_ih_l0 = [bi; bf; bc; bo]``, ``bias_hh_l0 = 0``; ``nn.GRU`` (which is the resetGateAfter variant) stacks
r, z, n: ``weight_ih_l0 = [Wr; Wz; Wc]``, ``weight_hh_l0 = [Ur; Uz; Uc]``, ``bias_ih_l0 = [br; bz; bc]``,
``bias_hh_l0 = 0``.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import LSTMSpec
    >>> lstm = LSTM.from_spec(LSTMSpec(3, 2, 4), (4, 2), dtype=np.float64, nvar=8, n_outputs=1)
    >>> lstm.params["InputStateWeights"].shape   # holds Wf: (state, input)
    (3, 2)
    >>> lstm.forward(np.zeros((5, 4, 2))).shape
    (5, 3)
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tmvacompat.engine.activations import fast_tanh
from tmvacompat.engine.base import Layer
from tmvacompat.engine.views import flat
from tmvacompat.errors import LayoutError, TrainingError
from tmvacompat.kinds import KINDS

#: LSTM: XML name -> (role, shape kind); "in" = (state, input), "state" = (state, state), "bias" = (state, 1).
#: Roles: W* input weights, U* state weights, b* biases of the gates i(nput), f(orget), c(andidate), o(utput).
LSTM_PARAM_ROLES: dict[str, tuple[str, str]] = {
    "InputWeights": ("Wi", "in"),
    "InputStateWeights": ("Wf", "in"),
    "InputBiases": ("bi", "bias"),
    "ForgetWeights": ("Wc", "in"),
    "ForgetStateWeights": ("Wo", "in"),
    "ForgetBiases": ("bf", "bias"),
    "CandidateWeights": ("Ui", "state"),
    "CandidateStateWeights": ("Uf", "state"),
    "CandidateBiases": ("bc", "bias"),
    "OuputWeights": ("Uc", "state"),  # sic, TMVA's spelling
    "OutputStateWeights": ("Uo", "state"),
    "OutputBiases": ("bo", "bias"),
}

#: GRU: XML name -> (role, shape kind); gates r(eset), z (update), c(andidate). See LSTM_PARAM_ROLES.
GRU_PARAM_ROLES: dict[str, tuple[str, str]] = {
    "ResetWeights": ("Wr", "in"),
    "ResetStateWeights": ("Wz", "in"),
    "ResetBiases": ("br", "bias"),
    "UpdateWeights": ("Wc", "in"),
    "UpdateStateWeights": ("Ur", "state"),
    "UpdateBiases": ("bz", "bias"),
    "CandidateWeights": ("Uz", "state"),
    "CandidateStateWeights": ("Uc", "state"),
    "CandidateBiases": ("bc", "bias"),
}

#: RNN: XML name -> (role, shape kind)
RNN_PARAM_ROLES: dict[str, tuple[str, str]] = {
    "InputWeights": ("W", "in"),
    "StateWeights": ("U", "state"),
    "Biases": ("b", "bias"),
}


# Element-wise kernels of one time step. Every array is 2-D C-contiguous of the layer dtype and ``one`` is a
# scalar of that dtype, so each kernel has one compiled signature per dtype. tanh is the engine's
# vectorisable float32 tanh (exact np.tanh for float64); sigmoid(a) = 0.5 + 0.5 tanh(a / 2).


@njit(cache=True, error_model="numpy")
def _tanh_inplace(a, one):
    af = flat(a)
    for k in range(af.size):
        af[k] = fast_tanh(af[k])


@njit(cache=True, error_model="numpy")
def _sigmoid_inplace(a, one):
    half = one / (one + one)
    af = flat(a)
    for k in range(af.size):
        af[k] = half + half * fast_tanh(half * af[k])


@njit(cache=True, error_model="numpy")
def _lstm_cell_forward(g, cprev, c, h, tc, one):
    """g: (B, 4S) pre-activations i, f, c, o -> activated in place; c, h, tc = tanh(c): (B, S) outputs."""
    half = one / (one + one)
    B, S = c.shape
    n4 = 4 * S
    gf = flat(g)
    # transcendental passes touch one array each, so they vectorise
    for b in range(B):
        row = gf[b * n4 : (b + 1) * n4]
        for k in range(n4):
            v = row[k]
            row[k] = fast_tanh(v if 2 * S <= k < 3 * S else half * v)
    for b in range(B):
        for s in range(S):
            i = half + half * g[b, s]
            f = half + half * g[b, S + s]
            g[b, s] = i
            g[b, S + s] = f
            g[b, 3 * S + s] = half + half * g[b, 3 * S + s]
            c[b, s] = f * cprev[b, s] + i * g[b, 2 * S + s]
    cf = flat(c)
    tf = flat(tc)
    for k in range(cf.size):
        tf[k] = fast_tanh(cf[k])
    for b in range(B):
        for s in range(S):
            h[b, s] = g[b, 3 * S + s] * tc[b, s]


@njit(cache=True, error_model="numpy")
def _lstm_cell_backward(g, cprev, tc, dh, dc, da, one):
    """Pre-activation gradients ``da`` (B, 4S) of one step; ``dc`` (cell gradient) updated in place."""
    S = dc.shape[1]
    for b in range(dc.shape[0]):
        for s in range(S):
            i = g[b, s]
            f = g[b, S + s]
            cand = g[b, 2 * S + s]
            o = g[b, 3 * S + s]
            t = tc[b, s]
            dhv = dh[b, s]
            dcv = dc[b, s] + dhv * o * (one - t * t)
            da[b, s] = dcv * cand * i * (one - i)
            da[b, S + s] = dcv * cprev[b, s] * f * (one - f)
            da[b, 2 * S + s] = dcv * i * (one - cand * cand)
            da[b, 3 * S + s] = dhv * t * o * (one - o)
            dc[b, s] = dcv * f


@njit(cache=True, error_model="numpy")
def _gru_cell_output(cand, rz, h, hn, one):
    """cand (B, S) pre-activation -> tanh in place; hn = z * h + (1 - z) * cand with z = rz[:, S:]."""
    cf = flat(cand)
    for k in range(cf.size):
        cf[k] = fast_tanh(cf[k])
    S = cand.shape[1]
    for b in range(cand.shape[0]):
        for s in range(S):
            cv = cand[b, s]
            hn[b, s] = cv + rz[b, S + s] * (h[b, s] - cv)


@njit(cache=True, error_model="numpy")
def _gru_cell_backward(dh, rz, cand, hp, hu, da, dacr, dhn, after, one):
    """Element-wise GRU step backward: da[:, S:] (z and candidate pre-activations), dhn = dh * z; with
    ``after`` also da[:, :S] (reset pre-activation, from hu = h_prev Uc^T) and dacr = da_c * r."""
    S = dh.shape[1]
    for b in range(dh.shape[0]):
        for s in range(S):
            r = rz[b, s]
            z = rz[b, S + s]
            c = cand[b, s]
            d = dh[b, s]
            dac = d * (one - z) * (one - c * c)
            da[b, 2 * S + s] = dac
            da[b, S + s] = d * (hp[b, s] - c) * z * (one - z)
            dhn[b, s] = d * z
            if after:
                da[b, s] = dac * hu[b, s] * r * (one - r)
                dacr[b, s] = dac * r


@njit(cache=True, error_model="numpy")
def _gru_reset_backward(dq, rz, hp, da, dhn, one):
    """GRU (reset before the product) reset pre-activation gradient from dq = da_c Uc; dhn += dq * r."""
    S = dq.shape[1]
    for b in range(dq.shape[0]):
        for s in range(S):
            r = rz[b, s]
            da[b, s] = dq[b, s] * hp[b, s] * r * (one - r)
            dhn[b, s] += dq[b, s] * r


class RecurrentLayer(Layer):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (not used directly).

    Subclasses define ``PARAM_ROLES`` (XML name -> role, shape kind) and ``GATES`` (gate letters in the order
    the input and state weights are stacked), and the ``_forward_seq`` / ``_backward_seq`` pair.
    """

    kind = "RECURRENT"
    PARAM_ROLES: dict[str, tuple[str, str]] = {}
    GATES: str = ""

    def __init__(
        self,
        state_size: int,
        input_size: int,
        time_steps: int,
        *,
        remember_state: bool = False,
        return_sequence: bool = False,
        input_shape: tuple[int, ...] | None = None,
        dtype=np.float32,
    ) -> None:
        for what, v in (("state size", state_size), ("input size", input_size), ("time steps", time_steps)):
            if int(v) != v or v <= 0:
                raise LayoutError(f"{self.kind} {what} must be a positive integer, got {v!r}", token=str(v))
        self.state_size, self.input_size, self.time_steps = int(state_size), int(input_size), int(time_steps)
        T, S = self.time_steps, self.state_size
        shape = (T, self.input_size) if input_shape is None else tuple(int(s) for s in input_shape)
        kind = KINDS[self.kind]
        spec = kind.spec(S, self.input_size, T, return_sequence=bool(return_sequence))
        super().__init__(shape, kind.output_shape(spec, shape, ()), dtype)
        self.remember_state = bool(remember_state)
        self.return_sequence = bool(return_sequence)
        self.params = {}
        for name, (_role, skind) in self.PARAM_ROLES.items():
            cols = {"in": self.input_size, "state": S, "bias": 1}[skind]
            self.params[name] = np.zeros((S, cols), dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.regularized = tuple(n for n, (_r, k) in self.PARAM_ROLES.items() if k != "bias")
        self.trainable = tuple(self.params)
        self._role_name = {role: name for name, (role, _k) in self.PARAM_ROLES.items()}
        self._state: tuple[np.ndarray, ...] | None = None
        self._cache: dict | None = None

    @classmethod
    def from_spec(
        cls,
        spec,
        input_shape: tuple[int, ...],
        *,
        dtype=np.float32,
        nvar: int | None = None,
        n_outputs: int | None = None,
        **_ignored,
    ) -> RecurrentLayer:
        """Build from an :class:`~tmvacompat.specs.RNNSpec` / ``LSTMSpec`` / ``GRUSpec``."""
        kwargs = {}
        if hasattr(spec, "reset_gate_after") and cls is GRU:
            kwargs["reset_gate_after"] = spec.reset_gate_after
        return cls(
            spec.state_size,
            spec.input_size,
            spec.time_steps,
            remember_state=spec.remember_state,
            return_sequence=spec.return_sequence,
            input_shape=tuple(input_shape),
            dtype=dtype,
            **kwargs,
        )

    # ------------------------------------------------------------------ parameters by role
    def role(self, role: str) -> np.ndarray:
        """The parameter playing ``role`` ("Wf", "Uc", "bz", ...), a view of ``params``.

        >>> from tmvacompat.specs import GRUSpec
        >>> g = GRU.from_spec(GRUSpec(2, 3, 4), (4, 3))
        >>> g.role("Uz") is g.params["CandidateWeights"]
        True
        """
        return self.params[self._role_name[role]]

    def _stacked(self, prefix: str, store: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([store[self._role_name[prefix + g]] for g in self.GATES], axis=0)

    def _unstack_into(self, prefix: str, store: dict[str, np.ndarray], stacked: np.ndarray) -> None:
        S = self.state_size
        for j, g in enumerate(self.GATES):
            store[self._role_name[prefix + g]][...] = stacked[j * S : (j + 1) * S]

    def reset_state(self) -> None:
        """Forget a remembered state: the next forward starts from zeros."""
        self._state = None

    def init_params(self, seed: int | np.random.Generator | None = None) -> None:
        """Glorot-uniform weight matrices, zero biases (the Network's initialiser normally does this)."""
        rng = np.random.default_rng(seed)
        for name, (_r, skind) in self.PARAM_ROLES.items():
            p = self.params[name]
            if skind == "bias":
                p[...] = 0
            else:
                lim = np.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                p[...] = rng.uniform(-lim, lim, p.shape)

    # ------------------------------------------------------------------ forward / backward
    def _initial_state(self, batch: int) -> tuple[np.ndarray, ...]:
        n = 2 if self.kind == "LSTM" else 1
        if self.remember_state and self._state is not None and self._state[0].shape[0] == batch:
            return self._state
        return tuple(np.zeros((batch, self.state_size), dtype=self.dtype) for _ in range(n))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the sequence; returns (batch, state) or, with return_sequence, (batch, time, state)."""
        x = np.asarray(x)
        T, I = self.time_steps, self.input_size
        if x.ndim < 1 or x.shape[0] < 1 or x.size != x.shape[0] * T * I:
            raise LayoutError(
                f"{self.kind} layer expects a batch of events of shape {self.input_shape} "
                f"({T} time steps x {I} inputs), got shape {x.shape}",
                token=self.kind,
            )
        # time-major (T, B, I) internally, so every per-step slice is contiguous
        xs = np.asarray(x, dtype=self.dtype).reshape(x.shape[0], T, I)
        xs = np.ascontiguousarray(xs.transpose(1, 0, 2))
        state0 = self._initial_state(xs.shape[1])
        hs, cache = self._forward_seq(xs, state0)
        self._state = cache["final"]
        self._cache = cache
        cache["x"] = xs
        cache["state0"] = state0
        cache["in_shape"] = x.shape
        return hs.transpose(1, 0, 2).copy() if self.return_sequence else hs[-1].copy()

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Back-propagate through time: fill every parameter gradient, return dLoss/dInput."""
        if self._cache is None:
            raise TrainingError(f"{self.kind} backward called before forward", token=self.kind)
        c = self._cache
        T, B, _ = c["x"].shape
        S = self.state_size
        dy = np.asarray(dy, dtype=self.dtype)
        dh_seq = np.zeros((T, B, S), dtype=self.dtype)
        if self.return_sequence:
            dh_seq[...] = dy.reshape(B, T, S).transpose(1, 0, 2)
        else:
            dh_seq[-1] = dy.reshape(B, S)
        dx = self._backward_seq(dh_seq, c)  # (T, B, I)
        return np.ascontiguousarray(dx.transpose(1, 0, 2)).reshape(c["in_shape"])

    def _forward_seq(self, xs, state0):  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward_seq(self, dh_seq, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(state={self.state_size}, input={self.input_size}, "
            f"time={self.time_steps}, remember={int(self.remember_state)}, "
            f"sequence={int(self.return_sequence)})"
        )


class RNN(RecurrentLayer):
    """TMVA ``RNN|stateSize|inputSize|timeSteps|rememberState|returnSequence``: h = tanh(x W^T + h U^T + b).

    Parameters: ``InputWeights`` (state, input), ``StateWeights`` (state, state), ``Biases`` (state, 1).

    >>> rnn = RNN(2, 1, 3, dtype=np.float64)
    >>> rnn.params["InputWeights"][:] = 1.0
    >>> np.round(rnn.forward(np.ones((1, 3, 1))), 4)
    array([[0.7616, 0.7616]])
    """

    kind = "RNN"
    PARAM_ROLES = RNN_PARAM_ROLES
    GATES = ""

    def _forward_seq(self, xs, state0):
        W, U = self.params["InputWeights"], self.params["StateWeights"]
        b = self.params["Biases"][:, 0]
        T, B, I = xs.shape
        S = self.state_size
        one = self.dtype.type(1)
        hs = (xs.reshape(T * B, I) @ W.T + b).reshape(T, B, S)  # input projections, then states in place
        UT = np.ascontiguousarray(U.T)
        h = state0[0]
        for t in range(T):
            a = hs[t]
            a += h @ UT
            _tanh_inplace(a, one)
            h = a
        return hs, {"hs": hs, "final": (h,)}

    def _backward_seq(self, dh_seq, c):
        W, U = self.params["InputWeights"], self.params["StateWeights"]
        xs, hs, h0 = c["x"], c["hs"], c["state0"][0]
        T, B, S = hs.shape
        da_all = dh_seq  # overwritten step by step with the pre-activation gradients
        dh = np.zeros((B, S), dtype=self.dtype)
        for t in range(T - 1, -1, -1):
            da = da_all[t]
            da += dh
            da *= 1 - hs[t] * hs[t]
            dh = da @ U
        hprev = np.concatenate([h0[None], hs[:-1]], axis=0).reshape(T * B, S)
        da2 = da_all.reshape(T * B, S)
        self.grads["InputWeights"][...] = da2.T @ xs.reshape(T * B, -1)
        self.grads["StateWeights"][...] = da2.T @ hprev
        self.grads["Biases"][...] = da2.sum(axis=0)[:, None]
        return (da2 @ W).reshape(T, B, -1)


class LSTM(RecurrentLayer):
    """TMVA ``LSTM|stateSize|inputSize|timeSteps|rememberState|returnSequence``.

    Gates i, f, o use the sigmoid, the candidate and the cell output tanh. Parameter names and shapes are
    TMVA's weight-file ones; their roles are in :data:`LSTM_PARAM_ROLES` (use :meth:`role` to get e.g. the
    forget gate's input weights ``role("Wf")``).

    >>> lstm = LSTM(2, 3, 4, dtype=np.float64)
    >>> sorted({p.shape for p in lstm.params.values()})
    [(2, 1), (2, 2), (2, 3)]
    """

    kind = "LSTM"
    PARAM_ROLES = LSTM_PARAM_ROLES
    GATES = "ifco"

    def _forward_seq(self, xs, state0):
        S = self.state_size
        one = self.dtype.type(1)
        W = self._stacked("W", self.params)  # (4S, I) rows i, f, c, o
        UT = np.ascontiguousarray(self._stacked("U", self.params).T)  # (S, 4S)
        b = self._stacked("b", self.params)[:, 0]
        T, B, I = xs.shape
        gates = (xs.reshape(T * B, I) @ W.T + b).reshape(T, B, 4 * S)  # pre-activations, then activated
        cs = np.empty((T, B, S), dtype=self.dtype)
        tcs = np.empty((T, B, S), dtype=self.dtype)  # tanh(c_t), reused by backward
        hs = np.empty((T, B, S), dtype=self.dtype)
        h, cell = state0
        for t in range(T):
            g = gates[t]
            g += h @ UT
            _lstm_cell_forward(g, cell, cs[t], hs[t], tcs[t], one)
            h, cell = hs[t], cs[t]
        return hs, {"hs": hs, "cs": cs, "tcs": tcs, "gates": gates, "final": (h, cell), "W": W, "UT": UT}

    def _backward_seq(self, dh_seq, c):
        S = self.state_size
        one = self.dtype.type(1)
        xs, hs, cs, tcs, gates, W, UT = c["x"], c["hs"], c["cs"], c["tcs"], c["gates"], c["W"], c["UT"]
        h0, c0 = c["state0"]
        T, B, _ = hs.shape
        da_all = np.empty((T, B, 4 * S), dtype=self.dtype)
        dh = dh_seq[T - 1]
        dc = np.zeros((B, S), dtype=self.dtype)
        for t in range(T - 1, -1, -1):
            _lstm_cell_backward(gates[t], cs[t - 1] if t > 0 else c0, tcs[t], dh, dc, da_all[t], one)
            if t > 0:
                dh = dh_seq[t - 1]
                dh += da_all[t] @ UT.T
        hprev = np.concatenate([h0[None], hs[:-1]], axis=0).reshape(T * B, S)
        da2 = da_all.reshape(T * B, 4 * S)
        self._unstack_into("W", self.grads, da2.T @ xs.reshape(T * B, -1))
        self._unstack_into("U", self.grads, da2.T @ hprev)
        self._unstack_into("b", self.grads, da2.sum(axis=0)[:, None])
        return (da2 @ W).reshape(T, B, -1)


class GRU(RecurrentLayer):
    """TMVA ``GRU|stateSize|inputSize|timeSteps|rememberState|returnSequence|resetGateAfter``.

    ``h = z * h_prev + (1 - z) * c``; with ``reset_gate_after`` the reset gate multiplies ``h U^T`` instead of
    ``h`` (cuDNN's and PyTorch's form, TMVA forces it on cuDNN). Roles in :data:`GRU_PARAM_ROLES`.

    >>> gru = GRU(2, 3, 4, reset_gate_after=True, dtype=np.float64)
    >>> gru.role("Wz") is gru.params["ResetStateWeights"]
    True
    """

    kind = "GRU"
    PARAM_ROLES = GRU_PARAM_ROLES
    GATES = "rzc"

    def __init__(
        self, state_size: int, input_size: int, time_steps: int, *, reset_gate_after: bool = False, **kwargs
    ) -> None:
        super().__init__(state_size, input_size, time_steps, **kwargs)
        self.reset_gate_after = bool(reset_gate_after)

    def _forward_seq(self, xs, state0):
        S = self.state_size
        one = self.dtype.type(1)
        W = self._stacked("W", self.params)  # (3S, I) rows r, z, c
        U = self._stacked("U", self.params)  # (3S, S)
        b = self._stacked("b", self.params)[:, 0]
        UrzT, UcT = np.ascontiguousarray(U[: 2 * S].T), np.ascontiguousarray(U[2 * S :].T)
        T, B, I = xs.shape
        xp = xs.reshape(T * B, I) @ W.T + b
        rzs = np.ascontiguousarray(xp[:, : 2 * S]).reshape(T, B, 2 * S)  # pre-activations, then r, z
        cands = np.ascontiguousarray(xp[:, 2 * S :]).reshape(T, B, S)  # pre-activation, then candidate
        hu = np.empty((T, B, S), dtype=self.dtype)  # h_prev Uc^T (reset after) or r * h_prev (before)
        hs = np.empty((T, B, S), dtype=self.dtype)
        h = state0[0]
        for t in range(T):
            rz, cand = rzs[t], cands[t]
            rz += h @ UrzT
            _sigmoid_inplace(rz, one)
            if self.reset_gate_after:
                np.matmul(h, UcT, out=hu[t])
                cand += rz[:, :S] * hu[t]
            else:
                np.multiply(rz[:, :S], h, out=hu[t])
                cand += hu[t] @ UcT
            _gru_cell_output(cand, rz, h, hs[t], one)
            h = hs[t]
        return hs, {"hs": hs, "rzs": rzs, "cands": cands, "hu": hu, "final": (h,), "W": W, "U": U}

    def _backward_seq(self, dh_seq, c):
        S = self.state_size
        xs, hs, rzs, cands, hu, W, U = c["x"], c["hs"], c["rzs"], c["cands"], c["hu"], c["W"], c["U"]
        h0 = c["state0"][0]
        Urz, Uc = U[: 2 * S], U[2 * S :]
        T, B, _ = hs.shape
        hprev = np.concatenate([h0[None], hs[:-1]], axis=0)
        da_all = np.empty((T, B, 3 * S), dtype=self.dtype)  # pre-activation gradients r, z, c
        dUc = np.zeros((S, S), dtype=self.dtype)
        dh = np.zeros((B, S), dtype=self.dtype)
        dacr = np.empty((B, S), dtype=self.dtype)
        one = self.dtype.type(1)
        after = self.reset_gate_after
        for t in range(T - 1, -1, -1):
            dh += dh_seq[t]
            hp, da = hprev[t], da_all[t]
            dh_new = np.empty((B, S), dtype=self.dtype)
            _gru_cell_backward(dh, rzs[t], cands[t], hp, hu[t], da, dacr, dh_new, after, one)
            if after:
                dUc += dacr.T @ hp
                dh_new += dacr @ Uc
            else:
                dac = da[:, 2 * S :]
                dq = dac @ Uc
                dUc += dac.T @ hu[t]  # hu = r * h_prev
                _gru_reset_backward(dq, rzs[t], hp, da, dh_new, one)
            dh_new += da[:, : 2 * S] @ Urz
            dh = dh_new
        da2 = da_all.reshape(T * B, 3 * S)
        self._unstack_into("W", self.grads, da2.T @ xs.reshape(T * B, -1))
        dU = np.concatenate([da2[:, : 2 * S].T @ hprev.reshape(T * B, S), dUc], axis=0)
        self._unstack_into("U", self.grads, dU)
        self._unstack_into("b", self.grads, da2.sum(axis=0)[:, None])
        return (da2 @ W).reshape(T, B, -1)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", resetGateAfter={int(self.reset_gate_after)})"


__all__ = ["RNN", "LSTM", "GRU", "RecurrentLayer", "LSTM_PARAM_ROLES", "GRU_PARAM_ROLES", "RNN_PARAM_ROLES"]
