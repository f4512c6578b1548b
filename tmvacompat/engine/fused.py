"""The fast path for plain dense stacks: one Numba call trains a whole epoch (or a group of batches).

The kernel :func:`fused_batches` does, for every batch: gather the shuffled rows, forward through every
dense layer (``np.dot`` into preallocated buffers, bias, activation with the vectorisable float32 tanh),
dropout on layer inputs, loss and its gradient, backward (all in :func:`_batch_step`), and the optimizer
step of :mod:`tmvacompat.engine.optimizers`.

Everything the kernel touches lives in a few flat arrays, passed as small named tuples (:class:`Batches`,
:class:`Flat`, :class:`Plan`, :class:`Step`): the network's own parameters and gradients (``Network.P`` /
``Network.G``, of which the layers' ``params`` and ``grads`` are views), the optimizer's two states (laid
out like ``P``) and one workspace, addressed through a per-layer offset table. So the kernel compiles once
per float type and training array layout whatever the depth of the network, one compiled kernel serves
every activation, loss and optimizer (small integer codes), and nothing is copied between the generic
layer path and this one: both read and write the same arrays and give the same numbers (the same matrix
products -- OpenBLAS, or :mod:`tmvacompat.engine.gemm` for the gradients of batches up to 64 events,
chosen by the same rule, :func:`~tmvacompat.engine.gemm.use_gemm` -- loss kernels and update kernel in the
same order: bitwise equal, except that width-1 layers -- a classifier's output -- use small loops instead
of three BLAS calls whose fixed cost dominates at small batches, which changes the rounding of those sums).
Dropout draws the same uniforms from the same kind of generator, in the same order, as
:meth:`Network.forward` (batch by batch, layer by layer), so with the same seed the masks agree too.

On several threads, batches of at least ``2 *`` :data:`SHARD_MIN_ROWS` events go to
:func:`fused_batches_sharded` instead: each batch is split into one shard of rows per thread (at most), every
shard runs the same per-batch step on its own thread with its own workspace and gradient buffer, the shard
gradients are summed in a fixed order and the optimizer step runs over parameter ranges in parallel. The
shard count depends on the batch size and the thread count (:func:`shard_count`), so results are bitwise
reproducible for a given thread count and differ from one thread's only by the grouping of the batch sums.

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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange

from tmvacompat.engine.activations import (
    FTANH,
    IDENTITY,
    SIGMOID,
    TANH,
    act_backward_from_output,
    act_forward,
)
from tmvacompat.engine.blas import single_threaded_blas
from tmvacompat.engine.gemm import GEMM_MAX_BATCH, gemm_nn, gemm_tn, use_gemm
from tmvacompat.engine.losses import _bce_kernel, _mse_kernel, _softmax_ce_kernel  # shared: paths agree
from tmvacompat.engine.optimizers import (
    ADADELTA,
    ADAGRAD,
    ADAM,
    HP_ALPHA,
    RMSPROP,
    Optimizer,
    adadelta_update,
    adagrad_update,
    adam_update,
    rmsprop_update,
    sgd_update,
)
from tmvacompat.engine.views import flat, view2d
from tmvacompat.errors import TrainingError

#: loss kind -> fused-kernel code
LOSS_CODES: dict[str, int] = {"C": 0, "R": 1, "S": 2}
#: fused-kernel loss code -> its loss kernel (the ones the generic path uses: the two paths agree)
LOSS_KERNELS = (_bce_kernel, _mse_kernel, _softmax_ce_kernel)
#: uniforms drawn per dropout group at most (bounds the memory of the batch-group path)
MAX_GROUP_UNIFORMS = 1 << 22

#: activations whose backward kernels (both ``F_BWD`` choices) read only the layer's output, not ``z``
_BACKWARD_FROM_OUTPUT = frozenset((TANH, FTANH, SIGMOID))

# columns of the per-layer offset table ``lay`` (int64, one row per layer)
L_M, L_K, L_CODE, L_W, L_B, L_Z, L_A, L_DZ, L_DX, L_IN, L_S, L_U, L_COLS = range(13)


@njit(cache=True, error_model="numpy")
def _loss(code, out, y, w, grad, want_grad):
    """The loss kernel of ``code`` (:data:`LOSS_CODES`) on a batch's outputs: the weighted loss, and its
    gradient into ``grad`` when ``want_grad``."""
    if code == 0:
        return _bce_kernel(out, y, w, grad, want_grad)
    if code == 1:
        return _mse_kernel(out, y, w, grad, want_grad)
    return _softmax_ce_kernel(out, y, w, grad, want_grad)


@njit(cache=True, error_model="numpy")
def _update(code, theta, g, s1, s2, hp):
    """The optimizer ``code``'s update kernel (:mod:`tmvacompat.engine.optimizers`) on one range."""
    if code == ADAM:
        adam_update(theta, g, s1, s2, hp)
    elif code == ADAGRAD:
        adagrad_update(theta, g, s1, s2, hp)
    elif code == RMSPROP:
        rmsprop_update(theta, g, s1, s2, hp)
    elif code == ADADELTA:
        adadelta_update(theta, g, s1, s2, hp)
    else:
        sgd_update(theta, g, s1, s2, hp)


@njit(cache=True, error_model="numpy", inline="always")  # into the step's forward pass
def _add_bias(z, P, ob):
    """``z += b`` row by row (``b = P[ob:ob+m]``), the float operations of the engine's Dense layer."""
    rows, m = z.shape
    # a view: indices from range() are known non-negative. Indexing P[ob + j] instead makes Numba check each
    # index for wrap-around, which keeps the loop scalar
    b = P[ob : ob + m]
    for i in range(rows):
        zi = z[i]
        for j in range(m):
            zi[j] += b[j]


@njit(cache=True, error_model="numpy")
def _dropout(backward, src, u, keep, dst, scale):
    """Network's inverted dropout. Forward: scale = 1/keep where u < keep else 0; dst = src * scale.
    ``backward``: dst = src * scale (the gradient through the mask; ``u`` and ``keep`` unused).
    """
    sf = flat(src)
    df = flat(dst)
    cf = flat(scale)
    if backward:
        for i in range(sf.size):
            df[i] = sf[i] * cf[i]
        return
    inv = 1 / keep
    zero = inv - inv
    for i in range(sf.size):
        s = inv if u[i] < keep else zero
        cf[i] = s
        df[i] = sf[i] * s


@njit(cache=True, error_model="numpy", inline="always")  # one call site: no own compile
def _sum_rows(dz, g):
    """``g = dz.sum(axis=0)``, adding the rows in order (the bias gradient). ``g`` is a slice, so the loop
    indices are known non-negative: indexing ``G[ob + j]`` instead made Numba check each index for
    wrap-around, which kept the loop scalar."""
    for j in range(g.size):
        g[j] = 0
    for i in range(dz.shape[0]):
        di = dz[i]
        for j in range(g.size):
            g[j] += di[j]


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


class Batches(NamedTuple):
    """The training arrays of a kernel call and how its batches are taken from them."""

    X: np.ndarray  #: inputs (events, nin), C-contiguous, network dtype
    Y: np.ndarray  #: targets (events, nout)
    w: np.ndarray  #: event weights (events,)
    perm: np.ndarray  #: int64 event order; batch b is ``perm[b * B:(b + 1) * B]``
    U: np.ndarray  #: dropout uniforms of the call's batches, ``drop_stride`` per batch
    drop_stride: int
    B: int  #: batch size


class Flat(NamedTuple):
    """The network's flat parameters and gradients and the optimizer's states (same layout: every weight
    matrix, then every bias)."""

    P: np.ndarray
    G: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    n_weights: int  #: ``P[:n_weights]`` are the weights (regularised), the rest the biases


class Plan(NamedTuple):
    """What one batch step does: the per-layer table ``lay`` (sizes, activation, parameter and workspace
    offsets; columns ``L_*``), the keep probability of each layer's input, the loss, and whether batches
    are small enough for :mod:`tmvacompat.engine.gemm`'s gradient products."""

    lay: np.ndarray
    keep: np.ndarray
    loss_code: int
    small: bool


class Step(NamedTuple):
    """The optimizer: its code, hyper-parameter arrays for weights and biases, and what Adam's
    bias-corrected rate needs."""

    code: int
    hpW: np.ndarray
    hpB: np.ndarray
    lr: float
    beta1: float
    beta2: float


class Shards(NamedTuple):
    """The sharded kernel's extras: gradients of shards 1.. (shard 0 writes the network's ``G``), one
    workspace per shard (laid out for ``R`` rows), the parallel update ranges and a loss per shard."""

    GX: np.ndarray
    WS: np.ndarray
    R: int
    chunks: np.ndarray
    lbuf: np.ndarray


@njit(cache=True, error_model="numpy")
def _batch_step(data, base, nb, R, r0, ubase, P, G, ws, plan, gscale):
    """Forward, loss and backward of the ``nb`` events ``data.perm[base:base + nb]``: gradients into ``G``.

    ``ws``: a workspace laid out by ``plan.lay`` for ``R >= nb`` rows; ``r0``: the first row of these
    events within their batch and ``ubase`` that batch's offset in ``data.U`` (dropout uniforms are drawn
    per whole batch, so a shard of a batch takes its rows' share). Where ``plan.small`` and
    :func:`~tmvacompat.engine.gemm.use_gemm` agree, :func:`~tmvacompat.engine.gemm.gemm_tn` / ``gemm_nn``
    compute the gradient products instead of BLAS. ``gscale``: factor on the loss gradient (a shard's
    share of the batch, ``nb / B``; 1 for a whole batch). Returns the loss of these events; when it is not
    finite, nothing is back-propagated.
    """
    X, Y, wts, perm, U = data.X, data.Y, data.w, data.perm, data.U
    lay, keep, small = plan.lay, plan.keep, plan.small
    L = lay.shape[0]
    nin = X.shape[1]
    nout = Y.shape[1]
    xin = view2d(ws, 0, nb, nin)
    yb = view2d(ws, R * nin, nb, nout)
    gout = view2d(ws, R * (nin + nout), nb, nout)
    wb = ws[R * (nin + 2 * nout) : R * (nin + 2 * nout) + nb]
    want_grad = nb > 0
    for r in range(nb):
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
            src = view2d(ws, lay[l - 1, L_A], nb, k)
        if keep[l] < 1:
            ain = view2d(ws, lay[l, L_IN], nb, k)
            off = ubase + lay[l, L_U] + r0 * k
            mask = view2d(ws, lay[l, L_S], nb, k)
            _dropout(0, src, U[off : off + nb * k], keep[l], ain, mask)
        else:
            ain = src
        W = view2d(P, lay[l, L_W], m, k)
        z = view2d(ws, lay[l, L_Z], nb, m)
        if m == 1:
            _matvec_rows(ain, P[lay[l, L_W] : lay[l, L_W] + k], z)
        else:
            np.dot(ain, W.T, z)
        _add_bias(z, P, lay[l, L_B])
        if code != 0:
            act_forward(code, z, view2d(ws, lay[l, L_A], nb, m))
    out = view2d(ws, lay[L - 1, L_A], nb, nout)
    lb = _loss(plan.loss_code, out, yb, wb, gout, want_grad)
    if not np.isfinite(lb):
        return lb
    if gscale != 1.0:
        gs = gout.dtype.type(gscale)
        for i in range(nb):
            for j in range(nout):
                gout[i, j] *= gs
    # backward
    dy = gout
    for l in range(L - 1, -1, -1):
        m = lay[l, L_M]
        k = lay[l, L_K]
        code = lay[l, L_CODE]
        z = view2d(ws, lay[l, L_Z], nb, m)
        dz = view2d(ws, lay[l, L_DZ], nb, m)
        act_backward_from_output(code, z, view2d(ws, lay[l, L_A], nb, m), dy, dz)
        if keep[l] < 1:
            a_off = lay[l, L_IN]
        elif l == 0:
            a_off = 0  # xin
        else:
            a_off = lay[l - 1, L_A]
        ain = view2d(ws, a_off, nb, k)
        if m == 1:
            _rank1_grad(dz, ain, G[lay[l, L_W] : lay[l, L_W] + k])
        elif small and use_gemm(P, nb, k):  # no OpenBLAS fixed cost (as the generic Dense)
            gemm_tn(m, k, nb, ws, lay[l, L_DZ], m, ws, a_off, k, G, lay[l, L_W], k)
        else:
            np.dot(dz.T, ain, view2d(G, lay[l, L_W], m, k))
        _sum_rows(dz, G[lay[l, L_B] : lay[l, L_B] + m])
        if l > 0:
            dx = view2d(ws, lay[l, L_DX], nb, k)
            if m == 1:
                _outer(dz, P[lay[l, L_W] : lay[l, L_W] + k], dx)
            elif small and use_gemm(P, nb, k):
                gemm_nn(nb, k, m, ws, lay[l, L_DZ], m, P, lay[l, L_W], k, ws, lay[l, L_DX], k)
            else:
                np.dot(dz, view2d(P, lay[l, L_W], m, k), dx)
            if keep[l] < 1:
                _dropout(1, dx, U[:0], keep[l], dx, view2d(ws, lay[l, L_S], nb, k))
            dy = dx
    return lb


@njit(cache=True, error_model="numpy", inline="always")  # a few lines: no compile of its own
def _next_step(t, opt):
    """Step ``t + 1`` of the optimizer: for Adam, its bias-corrected rate into both hyperparameter arrays.
    Returns the new step count."""
    t += 1
    if opt.code == ADAM:
        b1, b2 = opt.beta1, opt.beta2
        alpha = opt.lr * math.sqrt(1.0 - math.pow(b2, float(t))) / (1.0 - math.pow(b1, float(t)))
        opt.hpW[HP_ALPHA] = alpha
        opt.hpB[HP_ALPHA] = alpha
    return t


@njit(cache=True, error_model="numpy")
def fused_batches(data, b0, b1, t0, flat, ws, plan, opt):
    """Train batches ``b0 .. b1-1`` of ``data`` (:class:`Batches`) from optimizer step ``t0``.

    ``flat``: the :class:`Flat` parameters, gradients and optimizer states; ``ws``: a flat workspace laid
    out by ``plan`` (:class:`Plan`) for whole batches; ``opt``: the :class:`Step` whose update runs on the
    weights and on the biases with their hyperparameters. One compiled kernel serves every activation,
    loss and optimizer.
    Returns (sum of batch losses, -1, new step t), or (the non-finite loss, its batch index, t) when a
    batch loss is NaN/inf; that batch is not back-propagated or applied.
    """
    P, G, S1, S2, nw = flat.P, flat.G, flat.S1, flat.S2, flat.n_weights
    B = data.B
    nP = P.size
    t = t0
    total = 0.0
    for b in range(b0, b1):
        lb = _batch_step(data, b * B, B, B, B - B, (b - b0) * data.drop_stride, P, G, ws, plan, 1.0)
        if not np.isfinite(lb):
            return lb, b, t
        total += lb
        # optimizer step: all weight matrices in one call, all biases in another
        t = _next_step(t, opt)
        _update(opt.code, P[:nw], G[:nw], S1[:nw], S2[:nw], opt.hpW)
        _update(opt.code, P[nw:nP], G[nw:nP], S1[nw:nP], S2[nw:nP], opt.hpB)
    return total, -1, t


# nogil: a thread's first BLAS call looks the routine up with the GIL, which the kernel must not hold
@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def fused_batches_sharded(data, b0, b1, t0, flat, sh, plan, opt):
    """:func:`fused_batches` with every batch split into ``S = sh.WS.shape[0]`` near-equal shards of rows
    that run in parallel, each on one thread with single-threaded products (data parallelism in one thread
    pool: the caller limits BLAS to one thread). Shard 0 writes its gradients into ``flat.G``, shard
    ``s > 0`` into ``sh.GX[s - 1]``, each with workspace ``sh.WS[s]`` (:class:`Shards`); the gradients are
    then summed into ``flat.G`` in shard order, and the optimizer steps over the parameter ranges
    ``sh.chunks`` in parallel (element-wise, so the same bits as one range). For a given ``S`` the result
    does not depend on the thread count; against the unsharded kernel it differs only by how the batch
    sums are grouped. Returns as :func:`fused_batches`.
    """
    P, G, S1, S2, nw = flat.P, flat.G, flat.S1, flat.S2, flat.n_weights
    GX, WS, R, chunks, lbuf = sh.GX, sh.WS, sh.R, sh.chunks, sh.lbuf
    B = data.B
    S = WS.shape[0]
    t = t0
    total = 0.0
    for b in range(b0, b1):
        for s in prange(S):
            r0 = B * s // S
            nb = B * (s + 1) // S - r0
            ub = (b - b0) * data.drop_stride
            gs = G if s == 0 else GX[s - 1]
            lbuf[s] = _batch_step(data, b * B + r0, nb, R, r0, ub, P, gs, WS[s], plan, nb / B)
        lb = 0.0
        for s in range(S):
            lb += lbuf[s] * ((B * (s + 1) // S - B * s // S) / B)
        if not np.isfinite(lb):
            return lb, b, t
        total += lb
        t = _next_step(t, opt)
        # the shard gradients summed into G in shard order, then the update over the ranges ``chunks``
        for c in prange(chunks.shape[0]):
            lo = chunks[c, 0]
            hi = chunks[c, 1]
            g = G[lo:hi]
            for s in range(S - 1):
                gx = GX[s, lo:hi]
                for i in range(hi - lo):
                    g[i] += gx[i]
            _update(opt.code, P[lo:hi], g, S1[lo:hi], S2[lo:hi], opt.hpW if lo < nw else opt.hpB)
    return total, -1, t


def can_fuse(net: Any, loss: str = "C", optimizer: Any = None) -> bool:
    """Whether the fused path can train ``net``: a plain stack of Dense layers on a flat input
    (``Network.dense_stack``), a loss in ``C``/``R``/``S``, and (if given) an optimizer built on this
    network (its states mirror the network's ``P``).

    >>> can_fuse(object(), "C")
    False
    """
    if loss not in LOSS_CODES or not getattr(net, "dense_stack", False):
        return False
    return optimizer is None or getattr(optimizer, "net", None) is net


_shard_launch = threading.Lock()
#: fewest rows per shard of a batch: below this, one thread per batch is faster
SHARD_MIN_ROWS = 128
#: parameters per optimizer-update range of the sharded kernel (a few ranges per thread)
UPDATE_CHUNK = 4096


def shard_count(batch_size: int, threads: int | None = None) -> int:
    """Shards each batch is split into on ``threads`` threads: as many as threads while every shard keeps at
    least :data:`SHARD_MIN_ROWS` rows, else 1 (no sharding). Results depend on this number (how the batch
    sums are grouped), not on the thread count itself.

    >>> shard_count(1024, 2), shard_count(128, 2), shard_count(1024, 1)
    (2, 1, 1)
    """
    if int(batch_size) < 2 * SHARD_MIN_ROWS:
        return 1  # without asking Numba, which would start its thread pool for nothing
    if threads is None:
        import numba

        threads = numba.get_num_threads()
    return max(1, min(int(threads), int(batch_size) // SHARD_MIN_ROWS))


def _plan(layers: list[Any], keep: np.ndarray, R: int, B: int) -> tuple[np.ndarray, int, int]:
    """The per-layer offset table ``lay`` for a workspace of ``R`` rows, its size, and the dropout uniforms
    per batch; uniform offsets (``L_U``) are per whole batch of ``B`` rows (a shard takes its rows' part).

    Buffers that are dead between layers are shared (about half the workspace, so more of it stays in
    cache): one ``dz`` and one ``dx`` for all layers (the backward reads a layer's ``dx`` into the next
    layer's ``dz``, then overwrites ``dx``), and one pre-activation ``z`` for the layers whose backward
    reads only their output (tanh, fast tanh, sigmoid). No kernel reads and writes the same buffer."""
    nin, nout = layers[0].fan_in, layers[-1].width
    lay = np.zeros((len(layers), L_COLS), dtype=np.int64)
    pos = R * (nin + 2 * nout + 1)  # xin, yb, gout, wb
    widest = max(la.width for la in layers)
    z_shared, pos = pos, pos + R * widest
    dz_shared, pos = pos, pos + R * widest
    dx_shared = pos
    pos += R * max([la.fan_in for la in layers[1:]] + [0])
    u_pos = 0
    for i, la in enumerate(layers):
        m, k = la.width, la.fan_in
        lay[i, L_M], lay[i, L_K], lay[i, L_CODE] = m, k, la.activation
        if la.activation == IDENTITY:  # the output is z, which the next layer or the loss reads
            lay[i, L_Z] = lay[i, L_A] = pos
            pos += R * m
        else:
            if la.activation in _BACKWARD_FROM_OUTPUT:
                lay[i, L_Z] = z_shared
            else:
                lay[i, L_Z] = pos
                pos += R * m
            lay[i, L_A] = pos
            pos += R * m
        lay[i, L_DZ] = dz_shared
        if i > 0:
            lay[i, L_DX] = dx_shared
        if keep[i] < 1:
            lay[i, L_IN] = pos
            pos += R * k
            lay[i, L_S] = pos
            pos += R * k
            lay[i, L_U] = u_pos
            u_pos += B * k
    return lay, pos, u_pos


def _update_chunks(n_weights: int, n_par: int, shards: int) -> np.ndarray:
    """Parameter ranges for the sharded kernel's parallel optimizer step; none crosses from the weights
    into the biases (they have their own hyperparameters)."""
    per = max(UPDATE_CHUNK, -(-n_weights // (4 * shards)))
    edges = [(lo, min(lo + per, n_weights)) for lo in range(0, n_weights, per)]
    edges += [(lo, min(lo + per, n_par)) for lo in range(n_weights, n_par, per)]
    return np.array(edges, dtype=np.int64).reshape(-1, 2)


class FusedDenseTrainer:
    """Runs :func:`fused_batches` on a network's own ``P`` / ``G`` and its optimizer's ``S1`` / ``S2``: one
    network, optimizer, batch size and dropout. Nothing is copied in or out: after :meth:`run` the layers'
    ``params`` and ``grads`` (views of ``P`` / ``G``) and the optimizer's state hold the new values.

    Args:
        net: a network for which :func:`can_fuse` is true.
        optimizer: the :class:`Optimizer` of the phase, built on ``net`` (its ``t`` is advanced).
        loss: ``C``, ``R`` or ``S``.
        batch_size: events per batch.
        keep: keep probability of each layer's input (1 - DropConfig entry; 1 = no dropout).
        threads: threads to share each batch among (default: Numba's thread count); see
            :func:`shard_count`.

    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(3, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> ft = FusedDenseTrainer(net, Optimizer(net, "SGD", 0.1), "R", batch_size=4)
    >>> X = np.ones((8, 2)); Y = np.zeros((8, 1)); w = np.ones(8)
    >>> loss_sum, bad, _ = ft.run(X, Y, w, np.arange(8), 0, 2)
    >>> bad
    -1
    """

    def __init__(
        self,
        net: Any,
        optimizer: Optimizer,
        loss: str,
        batch_size: int,
        keep: list[float] | None = None,
        threads: int | None = None,
    ) -> None:
        whole = isinstance(threads, (int, np.integer)) and not isinstance(threads, bool)
        if threads is not None and not (whole and threads >= 1):
            raise TrainingError(
                f"threads must be a whole number >= 1 (or None for Numba's thread count), got {threads!r}",
                token="threads",
            )
        if not can_fuse(net, loss, optimizer):
            raise TrainingError(
                "network/optimizer/loss not supported by the fused dense path (it needs a plain stack of "
                "DENSE layers, loss C/R/S and an optimizer built on that network)",
                token=str(loss),
            )
        self.net = net
        self.opt = optimizer
        self.B = B = int(batch_size)
        dt = self.dtype = np.dtype(net.dtype)
        layers = self.layers = list(net.layers)
        L = len(layers)
        keep_arr = np.ones(L, dtype=dt)
        for i, k in enumerate((keep or [])[:L]):
            keep_arr[i] = k
        self.keep = keep_arr
        self.n_weights = net.n_regularized
        self.shards = S = shard_count(B, threads)
        self.R = R = -(-B // S)  # workspace rows: a whole batch, or the largest shard
        lay, size, self.drop_stride = _plan(layers, keep_arr, R, B)
        lay[:, L_W] = [net.entry(i, "Weights").offset for i in range(L)]
        lay[:, L_B] = [net.entry(i, "Biases").offset for i in range(L)]
        # batches small enough for engine/gemm.py's gradient products (see _batch_step)
        self.plan = Plan(lay, keep_arr, LOSS_CODES[loss], R <= GEMM_MAX_BATCH)
        self.flat = Flat(net.P, net.G, optimizer.S1, optimizer.S2, self.n_weights)
        h = optimizer.hyper
        hpW, hpB = optimizer.hyper_array(dt, True), optimizer.hyper_array(dt, False)
        b1, b2 = float(h.get("beta1", 0.0)), float(h.get("beta2", 0.0))
        self.step = Step(optimizer.code, hpW, hpB, optimizer.learning_rate, b1, b2)
        self.sh: Shards | None = None
        if S > 1:
            n_par = net.P.size
            self.sh = Shards(np.zeros((S - 1, n_par), dt), np.zeros((S, size), dt), R,
                             _update_chunks(self.n_weights, n_par, S), np.zeros(S))  # fmt: skip
            self.ws = self.sh.WS[0]
        else:
            self.ws = np.zeros(size, dt)
        self._no_u = np.zeros(1, dt)

    @property
    def lay(self) -> np.ndarray:
        """The per-layer table of :class:`Plan` (columns ``L_*``)."""
        return self.plan.lay

    # views into the workspace, for tests and debugging
    def buffer(self, layer: int, what: str) -> np.ndarray:
        """A (R, n) view of a layer's workspace (R = B, or the first shard's rows): ``"z"``, ``"a"``
        (activation), ``"in"`` (dropped input), ``"scale"`` (dropout scale), ``"dz"``, ``"dx"``. ``dz`` and
        ``dx`` are shared by all layers, ``z`` by the tanh and sigmoid layers (see :func:`_plan`)."""
        col = {"z": L_Z, "a": L_A, "in": L_IN, "scale": L_S, "dz": L_DZ, "dx": L_DX}[what]
        n = self.lay[layer, L_K] if what in ("in", "scale", "dx") else self.lay[layer, L_M]
        off = int(self.lay[layer, col])
        return self.ws[off : off + self.R * n].reshape(self.R, n)

    def group_size(self, n_batches: int) -> int:
        """Batches per kernel call: all without dropout, else bounded by :data:`MAX_GROUP_UNIFORMS`."""
        if self.drop_stride == 0:
            return max(1, n_batches)
        return max(1, min(n_batches, MAX_GROUP_UNIFORMS // self.drop_stride))

    def _call(self, data: Batches, b0: int, b1: int) -> tuple[float, int, int]:
        if self.sh is not None:
            return fused_batches_sharded(data, b0, b1, self.opt.t, self.flat, self.sh, self.plan, self.step)
        return fused_batches(data, b0, b1, self.opt.t, self.flat, self.ws, self.plan, self.step)

    @property
    def kernel(self) -> Any:
        """The compiled kernel this trainer calls: :func:`fused_batches`, or :func:`fused_batches_sharded`
        when batches are split over threads."""
        return fused_batches_sharded if self.shards > 1 else fused_batches

    @contextmanager
    def _launch(self) -> Iterator[None]:
        """Around a kernel call: nothing for one shard. For several, BLAS on one thread (each shard's
        products run on its own thread) and one sharded launch at a time in this process (Numba's workqueue
        layer aborts the process on concurrent launches, and two would share the same cores anyway)."""
        if self.shards == 1:
            yield
            return
        with _shard_launch, single_threaded_blas():
            yield

    def prepare(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray) -> None:
        """Compile (or load from Numba's cache) the kernel for training arrays like these, by calling it on
        zero batches (no effect)."""
        self._call(Batches(X[:0], Y[:0], w[:0], np.zeros(0, np.int64), self._no_u, 0, self.B), 0, 0)

    def run(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        w: np.ndarray,
        perm: np.ndarray,
        b0: int,
        b1: int,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, int, float]:
        """Train batches ``b0 .. b1-1`` of ``perm``.

        ``X``/``Y``/``w`` must be C-contiguous in the network dtype (``Y`` 2-D, ``w`` 1-D), ``perm`` int64.
        ``rng`` supplies dropout uniforms (required if any keep < 1). Advances the optimizer's ``t``.

        Returns (sum of the batch losses, -1, 0.0), or (a partial sum, the bad batch's index, its loss) when
        a batch loss is not finite (training stops there; the batches before it are applied).
        """
        perm = np.ascontiguousarray(perm, dtype=np.int64)
        total = 0.0
        g = self.group_size(b1 - b0)
        start = b0
        while start < b1:
            stop = min(b1, start + g)
            if self.drop_stride:
                if rng is None:
                    raise TrainingError("dropout needs a random generator", token="rng")
                U = rng.random((stop - start) * self.drop_stride, dtype=self.dtype.type)
            else:
                U = self._no_u
            with self._launch():
                s, bad, t = self._call(Batches(X, Y, w, perm, U, self.drop_stride, self.B), start, stop)
            self.opt.t = int(t)
            if bad >= 0:
                return total, int(bad), float(s)
            total += s
            start = stop
        return total, -1, 0.0


# DensePredictor moved to tmvacompat.engine.inference (one call: transformation, layers, output function);
# re-exported here for existing imports.
from tmvacompat.engine.inference import DensePredictor  # noqa: E402, I001


__all__ = [
    "LOSS_CODES",
    "LOSS_KERNELS",
    "SHARD_MIN_ROWS",
    "can_fuse",
    "shard_count",
    "FusedDenseTrainer",
    "fused_batches",
    "fused_batches_sharded",
    "DensePredictor",
]
