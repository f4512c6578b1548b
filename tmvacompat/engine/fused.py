"""The fast path for plain dense stacks: one Numba call trains a whole epoch (or a group of batches).

The kernel :func:`fused_batches` does, for every batch: gather the shuffled rows, forward through every
dense layer (``np.dot`` into preallocated buffers, bias, activation with the vectorisable float32 tanh),
dropout on layer inputs, loss and its gradient, backward, and the optimizer step of
:func:`tmvacompat.engine.optimizers.update_params`.

Everything the kernel touches lives in a few flat arrays (parameters, gradients, the two optimizer states,
one workspace) addressed through offset tables, so the kernel has at most two compiled signatures per float
type whatever the depth of the network (no typed lists: those compile their own helpers in every new
process and made the warm start slow): a lean one for the TMVA tutorial networks (tanh/relu/identity, Adam,
cross entropy or MSE), which compiles in about half the time, and a full one with every activation,
optimizer and loss, compiled only when a network needs it (cold start: compile time grows with all the
code Numba links into a kernel, callees included). :class:`FusedDenseTrainer` copies the Network's Dense
parameters and the :class:`~tmvacompat.engine.optimizers.Optimizer`'s state in before each call and back
out after it, so
the generic layer path and this path are interchangeable at every call boundary and give the same numbers
(the same matrix products -- OpenBLAS, or :mod:`tmvacompat.engine.gemm` for the gradients of batches up to
64 events, chosen by the same rule, :func:`~tmvacompat.engine.gemm.use_gemm` -- loss kernels and update
kernel in the same order: bitwise equal, except that width-1 layers -- a classifier's output -- use small
loops instead of three BLAS calls whose fixed cost dominates at small batches, which changes the rounding
of those sums). Dropout
draws the same uniforms from the same kind of generator, in the same order, as :meth:`Network.forward`
(batch by batch, layer by layer), so with the same seed the masks agree too.

Use :func:`can_fuse` to ask whether a network qualifies (every layer a Dense on a flat input, a plain
stack); the trainer in :mod:`tmvacompat.engine.trainer` picks this path by itself. :class:`DensePredictor`
is the matching one-call inference.

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(4, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> can_fuse(net, "R")
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.engine.activations import (
    COMMON_ACTIVATIONS,
    act_backward_from_output,
    act_forward,
)
from tmvacompat.engine.activations import (
    act_backward_common as _act_backward_common,
)
from tmvacompat.engine.activations import (
    act_forward_common as _act_forward_common,
)
from tmvacompat.engine.gemm import GEMM_MAX_BATCH, gemm_nn, gemm_tn, use_gemm
from tmvacompat.engine.losses import _bce_kernel, _mse_kernel, _softmax_ce_kernel  # shared: paths agree
from tmvacompat.engine.optimizers import ADAM, HP_ALPHA, Optimizer, adam_update, update_params
from tmvacompat.errors import TrainingError

#: loss kind -> fused-kernel code
LOSS_CODES: dict[str, int] = {"C": 0, "R": 1, "S": 2}
#: activations and optimizers of the lean kernel variant (others compile the full dispatch, on first use):
#: the TMVA tutorial networks (MethodDL's default optimizer is ADAM)
COMMON_OPTIMIZERS = frozenset((ADAM,))
#: losses of the lean kernel variant (C, R)
COMMON_LOSSES = frozenset((0, 1))
#: uniforms drawn per dropout group at most (bounds the memory of the batch-group path)
MAX_GROUP_UNIFORMS = 1 << 22

# columns of the per-layer offset table ``lay`` (int64, one row per layer)
L_M, L_K, L_CODE, L_W, L_B, L_Z, L_A, L_DZ, L_DX, L_IN, L_S, L_U, L_COLS = range(13)


@njit(cache=True, error_model="numpy", inline="always")  # one call site: no own compile
def _dropout(src, u, keep, dst, scale):
    """Network's inverted dropout: scale = 1/keep where u < keep else 0; dst = src * scale."""
    sf = src.reshape(src.size)
    df = dst.reshape(dst.size)
    cf = scale.reshape(scale.size)
    inv = 1 / keep
    zero = inv - inv
    for i in range(sf.size):
        s = inv if u[i] < keep else zero
        cf[i] = s
        df[i] = sf[i] * s


@njit(cache=True, error_model="numpy", inline="always")  # one call site: no own compile
def _matvec_rows(a, w, z):
    """z[:, 0] = a @ w for a width-1 layer (no BLAS call: its fixed cost dominates at small batches)."""
    k = w.size
    k4 = k - k % 4
    zero = w[0] - w[0]
    for i in range(a.shape[0]):
        s0, s1, s2, s3 = zero, zero, zero, zero  # four chains hide the FMA latency
        for c in range(0, k4, 4):
            s0 += a[i, c] * w[c]
            s1 += a[i, c + 1] * w[c + 1]
            s2 += a[i, c + 2] * w[c + 2]
            s3 += a[i, c + 3] * w[c + 3]
        for c in range(k4, k):
            s0 += a[i, c] * w[c]
        z[i, 0] = (s0 + s1) + (s2 + s3)


@njit(cache=True, error_model="numpy", inline="always")  # one call site: no own compile
def _rank1_grad(dz, a, g):
    """g = dz[:, 0] @ a (the weight gradient of a width-1 layer)."""
    for c in range(g.size):
        g[c] = 0
    for i in range(a.shape[0]):
        d = dz[i, 0]
        for c in range(g.size):
            g[c] += d * a[i, c]


@njit(cache=True, error_model="numpy", inline="always")  # one call site: no own compile
def _outer(dz, w, dx):
    """dx = dz[:, 0] outer w (the input gradient of a width-1 layer)."""
    for i in range(dx.shape[0]):
        d = dz[i, 0]
        for c in range(w.size):
            dx[i, c] = d * w[c]


@njit(cache=True, error_model="numpy")
def _view(buf, off, rows, cols):
    """A (rows, cols) view of flat ``buf`` at ``off``; a real call, not inlined: inlining the slice+reshape
    at every use made the training kernel's IR several times larger (seconds of compile time)."""
    return buf[off:off + rows * cols].reshape(rows, cols)


@njit(cache=True, error_model="numpy")
def fused_batches(X, Y, wts, perm, b0, b1, U, drop_stride, P, G, S1, S2, ws, lay, keep, n_weights, B,
                  loss_code, opt_code, hpW, hpB, t0, lr, beta1, beta2, full, small):
    """Train batches ``b0 .. b1-1`` of the permutation ``perm`` with batch size ``B``.

    ``P``/``G``/``S1``/``S2``: flat parameters, gradients and optimizer states, all weight matrices first
    (``n_weights`` elements), then all biases; ``ws``: flat workspace; ``lay``: per-layer sizes and offsets
    (columns ``L_*``); ``U``: dropout uniforms of these batches, ``drop_stride`` per batch, layer l's at
    ``lay[l, L_U]`` within a batch; ``keep``: keep probability of each layer's input.
    ``full``: None for the lean variant (activations in :data:`COMMON_ACTIVATIONS`, optimizer in
    :data:`COMMON_OPTIMIZERS`, loss in :data:`COMMON_LOSSES`), else any array: the variant with every
    activation, optimizer and loss. The ``full is None`` tests are resolved when Numba compiles, so the lean
    variant never compiles the rest.
    Returns (sum of batch losses, -1, new step t), or (the non-finite loss, its batch index, t) when a
    batch loss is NaN/inf; that batch is not back-propagated or applied.
    """
    L = lay.shape[0]
    nin = X.shape[1]
    nout = Y.shape[1]
    xin = _view(ws, B - B, B, nin)  # not a literal 0: that would compile a second _view
    yb = _view(ws, B * nin, B, nout)
    gout = _view(ws, B * (nin + nout), B, nout)
    wb = ws[B * (nin + 2 * nout):B * (nin + 2 * nout + 1)]
    t = t0
    total = 0.0
    nP = P.size
    want_grad = B > 0  # a bool, not Literal[bool]: the loss kernels keep the signature the validation uses
    for b in range(b0, b1):
        base = b * B
        for r in range(B):
            idx = perm[base + r]
            for c in range(nin):
                xin[r, c] = X[idx, c]
            for c in range(nout):
                yb[r, c] = Y[idx, c]
            wb[r] = wts[idx]
        # forward
        for l in range(L):
            m = lay[l, L_M]
            k = lay[l, L_K]
            code = lay[l, L_CODE]
            if l == 0:
                src = xin
            else:
                src = _view(ws, lay[l - 1, L_A], B, k)
            if keep[l] < 1:
                ain = _view(ws, lay[l, L_IN], B, k)
                off = (b - b0) * drop_stride + lay[l, L_U]
                _dropout(src, U[off:off + B * k], keep[l], ain, _view(ws, lay[l, L_S], B, k))
            else:
                ain = src
            W = _view(P, lay[l, L_W], m, k)
            z = _view(ws, lay[l, L_Z], B, m)
            if m == 1:
                _matvec_rows(ain, P[lay[l, L_W]:lay[l, L_W] + k], z)
            else:
                np.dot(ain, W.T, z)
            ob = lay[l, L_B]
            for i in range(B):
                for j in range(m):
                    z[i, j] += P[ob + j]
            if code != 0:
                if full is None:
                    _act_forward_common(code, z, _view(ws, lay[l, L_A], B, m))
                else:
                    act_forward(code, z, _view(ws, lay[l, L_A], B, m))
        out = _view(ws, lay[L - 1, L_A], B, nout)
        if loss_code == 0:  # the loss kernels directly (a dispatch function would be one more compile)
            lb = _bce_kernel(out, yb, wb, gout, want_grad)
        elif loss_code == 1 or full is None:
            lb = _mse_kernel(out, yb, wb, gout, want_grad)
        else:
            lb = _softmax_ce_kernel(out, yb, wb, gout, want_grad)
        if not np.isfinite(lb):
            return lb, b, t
        total += lb
        # backward
        dy = gout
        for l in range(L - 1, -1, -1):
            m = lay[l, L_M]
            k = lay[l, L_K]
            code = lay[l, L_CODE]
            z = _view(ws, lay[l, L_Z], B, m)
            dz = _view(ws, lay[l, L_DZ], B, m)
            if full is None:
                _act_backward_common(code, z, _view(ws, lay[l, L_A], B, m), dy, dz)
            else:
                act_backward_from_output(code, z, _view(ws, lay[l, L_A], B, m), dy, dz)
            if keep[l] < 1:
                a_off = lay[l, L_IN]
            elif l == 0:
                a_off = B - B  # xin
            else:
                a_off = lay[l - 1, L_A]
            ain = _view(ws, a_off, B, k)
            if m == 1:
                _rank1_grad(dz, ain, G[lay[l, L_W]:lay[l, L_W] + k])
            elif small is not None and use_gemm(P, B, k):  # no OpenBLAS fixed cost (as the generic Dense)
                gemm_tn(m, k, B, ws, lay[l, L_DZ], m, ws, a_off, k, G, lay[l, L_W], k)
            else:
                np.dot(dz.T, ain, _view(G, lay[l, L_W], m, k))
            ob = lay[l, L_B]
            for j in range(m):
                G[ob + j] = 0
            for i in range(B):
                for j in range(m):
                    G[ob + j] += dz[i, j]
            if l > 0:
                dx = _view(ws, lay[l, L_DX], B, k)
                if m == 1:
                    _outer(dz, P[lay[l, L_W]:lay[l, L_W] + k], dx)
                elif small is not None and use_gemm(P, B, k):
                    gemm_nn(B, k, m, ws, lay[l, L_DZ], m, P, lay[l, L_W], k, ws, lay[l, L_DX], k)
                else:
                    np.dot(dz, _view(P, lay[l, L_W], m, k), dx)
                if keep[l] < 1:
                    sc = _view(ws, lay[l, L_S], B, k)
                    for i in range(B):
                        for j in range(k):
                            dx[i, j] = dx[i, j] * sc[i, j]
                dy = dx
        # optimizer step: all weight matrices in one call, all biases in another
        t += 1
        if opt_code == ADAM:
            alpha = lr * math.sqrt(1.0 - math.pow(beta2, float(t))) / (1.0 - math.pow(beta1, float(t)))
            hpW[HP_ALPHA] = alpha
            hpB[HP_ALPHA] = alpha
        for seg in range(2):  # one call site: the update kernel is linked in (and optimised) once
            lo = 0 if seg == 0 else n_weights
            hi = n_weights if seg == 0 else nP
            hp = hpW if seg == 0 else hpB
            if opt_code == ADAM or full is None:
                adam_update(P[lo:hi], G[lo:hi], S1[lo:hi], S2[lo:hi], hp)
            else:
                update_params(opt_code, P[lo:hi], G[lo:hi], S1[lo:hi], S2[lo:hi], hp)
    return total, -1, t


def can_fuse(net: Any, loss: str = "C", optimizer: Any = None) -> bool:
    """Whether the fused path can train ``net``: a plain stack of Dense layers on a flat input, a loss in
    ``C``/``R``/``S``, float32/float64, and (if given) an optimizer whose slots are exactly the layers'
    Weights/Biases with one dtype.

    >>> can_fuse(object(), "C")
    False
    """
    from tmvacompat.engine.dense import Dense

    layers = getattr(net, "layers", None)
    if not layers or not getattr(net, "is_stack", False) or loss not in LOSS_CODES:
        return False
    if len(getattr(net, "input_shape", ())) != 1:
        return False
    if any(type(layer) is not Dense for layer in layers):
        return False
    if any(set(layer.params) != {"Weights", "Biases"} for layer in layers):
        return False
    if np.dtype(net.dtype) not in (np.float32, np.float64):
        return False
    if optimizer is not None:
        names = [(s.layer, s.name) for s in optimizer.slots]
        want = [(i, n) for i in range(len(layers)) for n in ("Weights", "Biases")]
        if sorted(names) != sorted(want) or len(optimizer.dtypes) != 1:
            return False
    return True


def _layout(layers: list[Any]) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int, int]:
    """Offsets of every Weights and Biases block in the flat parameter array: weights first, then biases."""
    w_off, b_off = [], []
    pos = 0
    for la in layers:
        w_off.append((pos, la.params["Weights"].size))
        pos += la.params["Weights"].size
    n_weights = pos
    for la in layers:
        b_off.append((pos, la.params["Biases"].size))
        pos += la.params["Biases"].size
    return w_off, b_off, n_weights, pos


class FusedDenseTrainer:
    """Flat buffers and offsets for :func:`fused_batches`: one network, optimizer, batch size and dropout.

    Args:
        net: a network for which :func:`can_fuse` is true.
        optimizer: the :class:`Optimizer` of the phase (its state is copied in and out, its ``t`` advanced).
        loss: ``C``, ``R`` or ``S``.
        batch_size: events per batch.
        keep: keep probability of each layer's input (1 - DropConfig entry; 1 = no dropout).

    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(3, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> ft = FusedDenseTrainer(net, Optimizer(net, "SGD", 0.1), "R", batch_size=4)
    >>> X = np.ones((8, 2)); Y = np.zeros((8, 1)); w = np.ones(8)
    >>> loss_sum, bad, _ = ft.run(X, Y, w, np.arange(8), 0, 2)
    >>> bad
    -1
    """

    def __init__(self, net: Any, optimizer: Optimizer, loss: str, batch_size: int,
                 keep: list[float] | None = None) -> None:
        if not can_fuse(net, loss, optimizer):
            raise TrainingError(
                "network/optimizer/loss not supported by the fused dense path (it needs a plain stack of "
                "DENSE layers, loss C/R/S and one float type)",
                token=str(loss),
            )
        self.net = net
        self.opt = optimizer
        self.loss_code = LOSS_CODES[loss]
        self.B = B = int(batch_size)
        dt = self.dtype = np.dtype(net.dtype)
        layers = self.layers = list(net.layers)
        L = len(layers)
        self.keep = np.ones(L, dtype=dt)
        for i, k in enumerate((keep or [])[:L]):
            self.keep[i] = k
        self.w_off, self.b_off, self.n_weights, n_par = _layout(layers)
        self.P = np.empty(n_par, dt)
        self.G = np.zeros(n_par, dt)
        self.S1 = np.empty(n_par, dt)
        self.S2 = np.empty(n_par, dt)
        slot = {(s.layer, s.name): s for s in optimizer.slots}
        self._slots = [(slot[(i, "Weights")], self.w_off[i]) for i in range(L)]
        self._slots += [(slot[(i, "Biases")], self.b_off[i]) for i in range(L)]
        nin, nout = layers[0].fan_in, layers[-1].width
        lay = np.zeros((L, L_COLS), dtype=np.int64)
        pos = B * (nin + 2 * nout + 1)  # xin, yb, gout, wb
        u_pos = 0
        for i, la in enumerate(layers):
            m, k = la.width, la.fan_in
            lay[i, L_M], lay[i, L_K], lay[i, L_CODE] = m, k, la.activation
            lay[i, L_W], lay[i, L_B] = self.w_off[i][0], self.b_off[i][0]
            lay[i, L_Z] = pos
            pos += B * m
            if la.activation == 0:
                lay[i, L_A] = lay[i, L_Z]
            else:
                lay[i, L_A] = pos
                pos += B * m
            lay[i, L_DZ] = pos
            pos += B * m
            if i > 0:
                lay[i, L_DX] = pos
                pos += B * k
            if self.keep[i] < 1:
                lay[i, L_IN] = pos
                pos += B * k
                lay[i, L_S] = pos
                pos += B * k
                lay[i, L_U] = u_pos
                u_pos += B * k
        self.drop_stride = u_pos
        self.lay = lay
        self.ws = np.zeros(pos, dt)
        self.hpW = optimizer.hyper_array(dt, True)
        self.hpB = optimizer.hyper_array(dt, False)
        self._no_u = np.zeros(1, dt)
        lean = (optimizer.code in COMMON_OPTIMIZERS and self.loss_code in COMMON_LOSSES
                and all(a.activation in COMMON_ACTIVATIONS for a in layers))
        self._full = None if lean else np.zeros(1, np.int64)
        # batches small enough for engine/gemm.py get their own compiled variant: larger batches never
        # compile the SIMD product (a second or more of a cold start)
        self._small = np.zeros(1, np.int64) if B <= GEMM_MAX_BATCH else None
        h = optimizer.hyper
        self._beta1 = float(h.get("beta1", 0.0))
        self._beta2 = float(h.get("beta2", 0.0))

    # views into the workspace, for tests and debugging
    def buffer(self, layer: int, what: str) -> np.ndarray:
        """A (B, n) view of a layer's workspace: ``"z"``, ``"a"`` (activation), ``"in"`` (dropped input),
        ``"scale"`` (dropout scale), ``"dz"``, ``"dx"``."""
        col = {"z": L_Z, "a": L_A, "in": L_IN, "scale": L_S, "dz": L_DZ, "dx": L_DX}[what]
        n = self.lay[layer, L_K] if what in ("in", "scale", "dx") else self.lay[layer, L_M]
        off = int(self.lay[layer, col])
        return self.ws[off:off + self.B * n].reshape(self.B, n)

    def _copy_in(self) -> None:
        for s, (off, n) in self._slots:
            self.P[off:off + n] = s.param.reshape(-1)
            self.S1[off:off + n] = s.state1.reshape(-1)
            self.S2[off:off + n] = s.state2.reshape(-1)

    def _copy_out(self) -> None:
        for s, (off, n) in self._slots:
            s.param.reshape(-1)[...] = self.P[off:off + n]
            s.grad.reshape(-1)[...] = self.G[off:off + n]
            s.state1.reshape(-1)[...] = self.S1[off:off + n]
            s.state2.reshape(-1)[...] = self.S2[off:off + n]

    def group_size(self, n_batches: int) -> int:
        """Batches per kernel call: all without dropout, else bounded by :data:`MAX_GROUP_UNIFORMS`."""
        if self.drop_stride == 0:
            return max(1, n_batches)
        return max(1, min(n_batches, MAX_GROUP_UNIFORMS // self.drop_stride))

    def _kernel_args(self, X, Y, w, perm, b0, b1, U) -> tuple:
        return (
            X, Y, w, perm, b0, b1, U, self.drop_stride, self.P, self.G, self.S1, self.S2, self.ws, self.lay,
            self.keep, self.n_weights, self.B, self.loss_code, self.opt.code, self.hpW, self.hpB, self.opt.t,
            self.opt.learning_rate, self._beta1, self._beta2, self._full, self._small,
        )  # fmt: skip

    def prepare(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray) -> None:
        """Compile the training kernel for these arrays' types now (a call on zero batches: no effect).

        On a cold start (neither kernel cached) it first starts the helper process of
        :mod:`tmvacompat.engine.warmup` that compiles the inference kernel meanwhile.
        """
        from tmvacompat.engine.warmup import start_inference_compile

        args = self._kernel_args(X[:0], Y[:0], w[:0], np.zeros(0, np.int64), 0, 0, self._no_u)
        lean = is_lean([a.activation for a in self.layers])  # the inference kernel's variant for this net
        start_inference_compile(self.dtype, lean, training_args=args, training_kernel=fused_batches,
                                with_gemm=self._small is not None)
        fused_batches(*args)

    def run(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray, perm: np.ndarray, b0: int, b1: int,
            rng: np.random.Generator | None = None) -> tuple[float, int, float]:
        """Train batches ``b0 .. b1-1`` of ``perm``.

        ``X``/``Y``/``w`` must be C-contiguous in the network dtype (``Y`` 2-D, ``w`` 1-D), ``perm`` int64.
        ``rng`` supplies dropout uniforms (required if any keep < 1). Advances the optimizer's ``t``.

        Returns (sum of the batch losses, -1, 0.0), or (sum before the bad batch, its index, its loss) when a
        batch loss is not finite (training stops there).
        """
        perm = np.ascontiguousarray(perm, dtype=np.int64)
        total = 0.0
        g = self.group_size(b1 - b0)
        start = b0
        self._copy_in()
        try:
            while start < b1:
                stop = min(b1, start + g)
                if self.drop_stride:
                    if rng is None:
                        raise TrainingError("dropout needs a random generator", token="rng")
                    U = rng.random((stop - start) * self.drop_stride, dtype=self.dtype.type)
                else:
                    U = self._no_u
                s, bad, t = fused_batches(*self._kernel_args(X, Y, w, perm, start, stop, U))
                self.opt.t = int(t)
                if bad >= 0:
                    return total, int(bad), float(s)
                total += s
                start = stop
        finally:
            self._copy_out()
        return total, -1, 0.0


# DensePredictor moved to tmvacompat.engine.inference (one call: transformation, layers, output function);
# re-exported here for existing imports.
from tmvacompat.engine.inference import DensePredictor, is_lean  # noqa: E402, I001


__all__ = ["LOSS_CODES", "COMMON_ACTIVATIONS", "COMMON_OPTIMIZERS", "COMMON_LOSSES", "can_fuse",
           "FusedDenseTrainer", "fused_batches", "DensePredictor"]
