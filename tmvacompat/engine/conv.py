"""2-D convolution (TMVA ``CONV``), transposed convolution (``CONVT``), max pooling and zero padding.

Layouts (TMVA's, checked against ``tmva/tmva/src/DNN/Architectures/Cpu/Propagation.cxx``: ``Im2col``
walks a local view channel by channel, then filter row, then filter column, column fastest; the output
of an event is the (depth x local views) product ``Weights * im2col^T``):

* events are (depth, height, width) in C order (channel-major, as TMVA reads the input variables);
* ``CONV`` ``Weights`` has shape (depth, in_depth * fh * fw) with columns ordered (channel, row, col), i.e.
  ``Weights.reshape(depth, in_depth, fh, fw)`` is PyTorch's ``conv2d`` weight; ``Biases`` (depth, 1).
  Cross-correlation (no kernel flip); output pixel (oy, ox) reads input rows ``oy*sr - padH + kh``.
* ``CONVT`` (tmvacompat's extension, no TMVA counterpart) stores ``Weights`` as
  (in_depth, depth * fh * fw), i.e. ``reshape(in_depth, depth, fh, fw)`` is PyTorch's
  ``conv_transpose2d`` weight. A CONVT layer with these weights is exactly the adjoint (transpose) of a
  CONV layer from ``depth`` to ``in_depth`` channels with the same filter, stride and padding.

Padding is index arithmetic inside im2col / col2im (no padded copy of the input); strides of any size.
Both CONV and CONVT are built from im2col, col2im (its adjoint) and matrix products over chunks of events,
with the engine's own kernels (:mod:`tmvacompat.engine.gemm`): ``gemm_nn`` for the weights times the
columns (and, on a small transposed copy of the weights, for their transpose), ``gemm_nt`` for the weight
gradient (two short operands against a long inner dimension of positions, which OpenBLAS would pack on
every call), and the bias gradient as per-position sums over the events.

On several engine threads (Numba's thread count) the CONV, CONVT and MAXPOOL layers split a batch into one
block of events per thread (:func:`event_blocks`, at least :data:`BLOCK_MIN_EVENTS` events each); the
kernels release the GIL and each block runs on its own Python thread with its own scratch
(:mod:`tmvacompat.engine.parallel`; no BLAS call, so no BLAS thread limit to set). Outputs and input
gradients are each event's own, so they are the same numbers as in one block; weight and bias gradients are
summed per block and the block sums added in block order: for a given thread count the same bits every run,
against one thread a regrouping of the sums.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import ConvSpec
    >>> conv = Conv2D.from_spec(ConvSpec(2, 3, 3, 1, 1, 1, 1, "RELU"), (1, 4, 4), dtype=np.float64)
    >>> conv.output_shape, conv.params["Weights"].shape
    ((2, 4, 4), (2, 9))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import register_jitable

from tmvacompat.engine.activations import IDENTITY, act_backward, act_forward, activation_code, fma
from tmvacompat.engine.base import Layer
from tmvacompat.engine.dense import Workspaces, check_batch
from tmvacompat.engine.gemm import _lanes, gemm_nn, gemm_nt
from tmvacompat.engine.parallel import row_blocks, run_blocks, threads
from tmvacompat.engine.views import flat, view2d
from tmvacompat.errors import LayoutError
from tmvacompat.kinds.base import conv_output_size, image_shape
from tmvacompat.kinds.conv import CONV, CONVT, ConvSpec, ConvTransposeSpec
from tmvacompat.kinds.maxpool import KIND as MAXPOOL
from tmvacompat.kinds.maxpool import MaxPoolSpec
from tmvacompat.kinds.padding2d import KIND as PADDING2D
from tmvacompat.kinds.padding2d import Padding2DSpec


class ConvGeometry(NamedTuple):
    """A filter's size, strides and zero padding, as the conv kernels take them (a Numba named tuple)."""

    fh: int  #: filter height
    fw: int  #: filter width
    sr: int  #: stride along rows
    sc: int  #: stride along columns
    ph: int  #: zero padding above and below
    pw: int  #: zero padding left and right


class PoolWindow(NamedTuple):
    """A max-pooling window and its strides (no padding)."""

    fh: int
    fw: int
    sr: int
    sc: int


# ---------------------------------------------------------------------------------------- kernels
# Geometry: the "big" grid (n, C, H, W) is a CONV input, the "small" grid (n, D, OH, OW) its output.
# For events e0 <= e < e1, cols (C*fh*fw, (e1-e0)*OH*OW): row (c, kh, kw) -- TMVA's local-view pixel
# order --, column (e-e0)*OH*OW + oy*OW + ox, holding big[e, c, oy*sr + kh - ph, ox*sc + kw - pw] or 0
# outside the image (padding by index arithmetic). The batch is processed in chunks of events so that
# cols stays cache-sized (about 1 MB); every chunk's GEMMs cover all its events at once.

#: target number of elements of the im2col buffer of one chunk
COLS_CHUNK_ELEMENTS = 262144
#: a batch is split over the engine's threads into blocks of at least this many events (event_blocks):
#: handing a block to another thread has a fixed cost that smaller blocks do not win back
BLOCK_MIN_EVENTS = 64


@register_jitable(inline="always")
def _u(i):
    """An index known to be in range, as unsigned: Numba then skips its negative-index wrap-around
    check, which otherwise keeps computed-index copy loops from vectorising."""
    return np.uint64(i)


@njit(cache=True, error_model="numpy", inline="always")
def _ox_range(kw, pw, sc, W, OW):
    """Output columns ox whose input column ox*sc + kw - pw lies inside [0, W)."""
    lo = 0
    if kw < pw:
        lo = (pw - kw + sc - 1) // sc
    top = W - 1 - kw + pw
    hi = top // sc + 1 if top >= 0 else 0
    if hi > OW:
        hi = OW
    if lo > hi:
        lo = hi
    return lo, hi


@njit(cache=True, error_model="numpy")
def im2col_kernel(big, e0, e1, cols, geom, OH, OW):
    """Fill ``cols`` from events [e0, e1) of ``big`` (n, C, H, W) for the filter ``geom``
    (:class:`ConvGeometry`) and an (OH, OW) small grid; zeros where the filter hangs outside."""
    fh, fw, sr, sc, ph, pw = geom
    C, H, W = big.shape[1], big.shape[2], big.shape[3]
    P = OH * OW
    zero = cols.dtype.type(0)
    for c in range(C):
        for kh in range(fh):
            for kw in range(fw):
                k = (c * fh + kh) * fw + kw
                lo, hi = _ox_range(kw, pw, sc, W, OW)
                off = kw - pw
                for e in range(e0, e1):
                    for oy in range(OH):
                        iy = oy * sr + kh - ph
                        r0 = (e - e0) * P + oy * OW
                        if iy < 0 or iy >= H:
                            for ox in range(OW):
                                cols[k, _u(r0 + ox)] = zero
                        else:
                            for ox in range(lo):
                                cols[k, _u(r0 + ox)] = zero
                            if sc == 1:  # contiguous copy, vectorised
                                for ox in range(lo, hi):
                                    cols[k, _u(r0 + ox)] = big[e, c, iy, _u(ox + off)]
                            else:
                                for ox in range(lo, hi):
                                    cols[k, _u(r0 + ox)] = big[e, c, iy, _u(ox * sc + off)]
                            for ox in range(hi, OW):
                                cols[k, _u(r0 + ox)] = zero


@njit(cache=True, error_model="numpy")
def col2im_kernel(cols, big, e0, e1, geom, OH, OW):
    """Adjoint of :func:`im2col_kernel`: events [e0, e1) of ``big`` are zeroed, then get cols scattered."""
    fh, fw, sr, sc, ph, pw = geom
    C, H, W = big.shape[1], big.shape[2], big.shape[3]
    P = OH * OW
    zero = big.dtype.type(0)
    for e in range(e0, e1):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    big[e, c, i, j] = zero
    for c in range(C):
        for kh in range(fh):
            for kw in range(fw):
                k = (c * fh + kh) * fw + kw
                lo, hi = _ox_range(kw, pw, sc, W, OW)
                off = kw - pw
                for e in range(e0, e1):
                    for oy in range(OH):
                        iy = oy * sr + kh - ph
                        if iy < 0 or iy >= H:
                            continue
                        r0 = (e - e0) * P + oy * OW
                        if sc == 1:
                            for ox in range(lo, hi):
                                big[e, c, iy, _u(ox + off)] += cols[k, _u(r0 + ox)]
                        else:
                            for ox in range(lo, hi):
                                big[e, c, iy, _u(ox * sc + off)] += cols[k, _u(r0 + ox)]


@njit(cache=True, error_model="numpy")
def _to_channel_major(a, e0, e1, out):
    """Events [e0, e1) of a (n, D, h, w) -> out (D, (e1-e0)*h*w)."""
    D, h, w = a.shape[1], a.shape[2], a.shape[3]
    for d in range(D):
        for e in range(e0, e1):
            base = (e - e0) * h * w
            for i in range(h):
                for j in range(w):
                    out[d, _u(base + i * w + j)] = a[e, d, i, j]


@njit(cache=True, error_model="numpy")
def _from_channel_major(aT, e0, e1, out, b, bias):
    """Events [e0, e1) of out (n, D, h, w) = aT (D, (e1-e0)*h*w), plus ``b[d, 0]`` per channel where
    ``bias`` (the forward's bias added in the same pass)."""
    D, h, w = out.shape[1], out.shape[2], out.shape[3]
    hw = h * w
    of = flat(out)
    for e in range(e0, e1):
        base = (e - e0) * hw
        for d in range(D):
            o = (e * D + d) * hw
            src = aT[d]
            if bias:
                bv = b[d, 0]
                for p in range(hw):
                    of[_u(o + p)] = src[_u(base + p)] + bv
            else:
                for p in range(hw):
                    of[_u(o + p)] = src[_u(base + p)]


@njit(cache=True, error_model="numpy")
def _add_bias(z, b):
    n, D, h, w = z.shape
    for e in range(n):
        for d in range(D):
            bv = b[d, 0]
            for i in range(h):
                for j in range(w):
                    z[e, d, i, j] += bv


@njit(cache=True, error_model="numpy")
def _channel_sums(dz, gb):
    """gb[d, 0] = the sum of channel d of dz over events and positions: per position the sum over the
    events (positions are independent: the loop vectorises), then the positions in order (a single running
    sum cannot vectorise)."""
    n, D, h, w = dz.shape
    hw = h * w
    f = flat(dz)
    acc = np.empty(hw, dz.dtype)
    for d in range(D):
        for p in range(hw):
            acc[p] = 0
        for e in range(n):
            o = (e * D + d) * hw
            for p in range(hw):
                acc[p] += f[_u(o + p)]
        t = gb.dtype.type(0)
        for p in range(hw):
            t += acc[p]
        gb[d, 0] = t


@njit(cache=True, error_model="numpy", inline="always")
def _product(M, N, K, W, trans, B, bo, C, co):
    """``C[co:] = op(W) @ B[bo:]`` with ``W`` a (rows, cols) weight matrix, ``op`` its transpose where
    ``trans``, and ``B``, ``C`` flat with rows of ``N`` elements: :func:`~tmvacompat.engine.gemm.gemm_nn`
    (each element the ordered multiply-add chain over K), or the same chains one by one for results
    narrower than its two vectors (a batch of a few 1 x 1 images). A transposed W is copied first (it is
    small): one product kernel to compile instead of two."""
    A = W
    if trans:
        A = np.empty((W.shape[1], W.shape[0]), W.dtype)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                A[j, i] = W[i, j]
    Af = flat(A)
    if N >= 2 * _lanes(B):
        o = M - M  # offsets as variables, not literal 0s: the dense layers' signature, no second compile
        gemm_nn(M, N, K, Af, o, K, B, bo + o, N, C, co + o, N)
        return
    for i in range(M):
        for j in range(N):
            t = C.dtype.type(0)
            for k in range(K):
                t = fma(Af[i * K + k], B[bo + k * N + j], t)
            C[co + i * N + j] = t


@register_jitable  # plain Python for scratch_elements, inlined in the kernels
def _chunk(n, K, P):
    """Events per im2col chunk: as many as keep the columns under :data:`COLS_CHUNK_ELEMENTS`."""
    return max(1, min(n, COLS_CHUNK_ELEMENTS // max(1, K * P)))


def scratch_elements(n: int, K: int, A: int, P: int, g: int) -> int:
    """Elements of the flat scratch the conv kernels take for ``n`` events: ``g`` (the weight gradient's
    size, backward) plus (K + A) rows of a chunk of events' columns (the kernels' :func:`_chunk` rule):
    ``K`` im2col rows and ``A`` channel-major rows of ``P`` positions per event. Preallocated per batch
    size by the layer: a fresh megabyte-sized array per call cost half a millisecond of page faults.

    >>> scratch_elements(128, 9, 8, 196, 72)
    426568
    """
    return g + (K + A) * _chunk(n, K, P) * P


@njit(cache=True, error_model="numpy", nogil=True)
def conv_forward_kernel(x, W, b, z, y, code, geom, buf):
    """CONV forward: per chunk of events im2col and one GEMM ``W @ cols``; then bias and activation.
    ``buf``: flat scratch of :func:`scratch_elements` ``(n, K, D, OH*OW, 0)`` elements."""
    n = x.shape[0]
    D, OH, OW = z.shape[1], z.shape[2], z.shape[3]
    K, P = W.shape[1], OH * OW
    ch = _chunk(n, K, P)
    for e0 in range(0, n, ch):
        e1 = min(n, e0 + ch)
        m = (e1 - e0) * P
        cols = view2d(buf, 0, K, m)
        zT = view2d(buf, K * ch * P, D, m)
        im2col_kernel(x, e0, e1, cols, geom, OH, OW)
        _product(D, m, K, W, False, buf, 0, buf, K * ch * P)  # zT = W cols
        _from_channel_major(zT, e0, e1, z, b, True)
    if code != IDENTITY:
        act_forward(code, z, y)


@njit(cache=True, error_model="numpy", nogil=True)
def conv_backward_kernel(x, W, dz, gW, gb, dx, need_dx, geom, buf):
    """CONV backward from dz = dLoss/dpre-activation: gW = sum dz cols^T, gb, dx = col2im(W^T dz).
    ``buf``: flat scratch of :func:`scratch_elements` ``(n, K, D, OH*OW, gW.size)`` elements."""
    n = x.shape[0]
    D, OH, OW = dz.shape[1], dz.shape[2], dz.shape[3]
    K, P = W.shape[1], OH * OW
    _channel_sums(dz, gb)
    gW[:] = 0
    g = gW.size
    gtmp = buf[:g].reshape(gW.shape)
    ch = _chunk(n, K, P)
    for e0 in range(0, n, ch):
        e1 = min(n, e0 + ch)
        m = (e1 - e0) * P
        cols = view2d(buf, g, K, m)
        dzT = view2d(buf, g + K * ch * P, D, m)
        im2col_kernel(x, e0, e1, cols, geom, OH, OW)
        _to_channel_major(dz, e0, e1, dzT)
        gemm_nt(D, K, m, buf, g + K * ch * P, m, buf, g, m, buf, 0, K)  # gtmp = dzT cols^T
        gW += gtmp
        if need_dx:
            _product(K, m, D, W, True, buf, g + K * ch * P, buf, g)  # cols = W^T dzT
            col2im_kernel(cols, dx, e0, e1, geom, OH, OW)


@njit(cache=True, error_model="numpy", nogil=True)
def convt_forward_kernel(x, W, b, z, y, code, geom, buf):
    """CONVT forward: per chunk ``cols = W^T x``, col2im onto the (bigger) output grid; bias, activation.
    ``buf``: flat scratch of :func:`scratch_elements` ``(n, K, Cin, H*W, 0)`` elements."""
    n, Cin, H, Wd = x.shape
    K, P = W.shape[1], H * Wd
    ch = _chunk(n, K, P)
    for e0 in range(0, n, ch):
        e1 = min(n, e0 + ch)
        m = (e1 - e0) * P
        cols = view2d(buf, 0, K, m)
        xT = view2d(buf, K * ch * P, Cin, m)
        _to_channel_major(x, e0, e1, xT)
        _product(K, m, Cin, W, True, buf, K * ch * P, buf, 0)  # cols = W^T xT
        col2im_kernel(cols, z, e0, e1, geom, H, Wd)
    _add_bias(z, b)
    if code != IDENTITY:
        act_forward(code, z, y)


@njit(cache=True, error_model="numpy", nogil=True)
def convt_backward_kernel(x, W, dz, gW, gb, dx, need_dx, geom, buf):
    """CONVT backward: per chunk im2col of dz, ``gW += x cols^T``, ``dx = W cols``.
    ``buf``: flat scratch of :func:`scratch_elements` ``(n, K, Cin, H*W, gW.size)`` elements."""
    n, Cin, H, Wd = x.shape
    K, P = W.shape[1], H * Wd
    _channel_sums(dz, gb)
    gW[:] = 0
    g = gW.size
    gtmp = buf[:g].reshape(gW.shape)
    ch = _chunk(n, K, P)
    for e0 in range(0, n, ch):
        e1 = min(n, e0 + ch)
        m = (e1 - e0) * P
        cols = view2d(buf, g, K, m)
        xT = view2d(buf, g + K * ch * P, Cin, m)
        im2col_kernel(dz, e0, e1, cols, geom, H, Wd)
        _to_channel_major(x, e0, e1, xT)
        gemm_nt(Cin, K, m, buf, g + K * ch * P, m, buf, g, m, buf, 0, K)  # gtmp = xT cols^T
        gW += gtmp
        if need_dx:
            _product(Cin, m, K, W, False, buf, g, buf, g + K * ch * P)  # xT = W cols
            _from_channel_major(xT, e0, e1, dx, gb, False)  # no bias here (gb only fills the slot)


# ---------------------------------------------------------------------------------------- layers
def event_blocks(n: int) -> list[tuple[int, int]]:
    """Blocks of a batch of ``n`` events that the CONV, CONVT and MAXPOOL kernels run on at once, one per
    engine thread (:func:`~tmvacompat.engine.parallel.threads`) and at least :data:`BLOCK_MIN_EVENTS` events
    each; a single block on one thread or for small batches.

    >>> event_blocks(8)
    [(0, 8)]
    """
    t = min(threads(), n // BLOCK_MIN_EVENTS)
    return row_blocks(n, 1, t) if t > 1 else [(0, n)]


class _ConvBase(Layer):
    regularized = ("Weights",)
    #: the input as an image (depth, height, width), and the filter the kernels take
    image_in: tuple[int, int, int]
    geometry: ConvGeometry
    #: the kernels split a batch over the engine's threads (the trainer keeps BLAS on one thread then, for
    #: the dense layers between)
    uses_blocks = True

    def _setup(self, act) -> None:
        self.activation = activation_code(act)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.need_input_grad = True
        self._ws = Workspaces()
        self._x: np.ndarray | None = None
        self._cur: dict[str, np.ndarray] | None = None
        self._block_ws: dict[tuple[int, int], tuple[list, list]] = {}

    def _alloc(self, n: int) -> dict[str, np.ndarray]:
        z = np.empty((n, *self.output_shape), dtype=self.dtype)
        y = z if self.activation == IDENTITY else np.empty_like(z)
        W = self.params["Weights"]
        grid = self.output_shape if self._gemm_over_output else self.image_in
        size = scratch_elements(n, W.shape[1], grid[0], grid[1] * grid[2], W.size)
        return {"z": z, "y": y, "dz": np.empty_like(z), "dx": np.empty((n, *self.image_in), dtype=self.dtype),
                "buf": np.empty(size, dtype=self.dtype)}  # fmt: skip

    def _start(self, x):
        x = check_batch(self, x)
        n = x.shape[0]
        ws = self._ws.get(n, self._alloc)
        self._x, self._cur = x.reshape((n, *self.image_in)), ws
        return self._x, ws

    def _dz(self, dy):
        if self._cur is None or self._x is None:
            raise LayoutError(f"{self.kind} backward called before forward", token=self.kind)
        ws = self._cur
        n = self._x.shape[0]
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(ws["z"].shape)
        act_backward(self.activation, ws["z"], dy, ws["dz"])
        return ws, n

    def _init(self, spec, param_shapes, activation) -> None:
        """Geometry and zero parameters (shapes from the kind) of a CONV / CONVT ``spec``."""
        self.depth = int(spec.depth)
        self.geometry = ConvGeometry(
            *(int(v) for v in (spec.filter_height, spec.filter_width, spec.stride_rows, spec.stride_cols,
                               spec.padding_height, spec.padding_width))
        )  # fmt: skip
        self.params = {k: np.zeros(shape, dtype=self.dtype) for k, shape in param_shapes.items()}
        self._setup(activation)

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1):
        """Build from a :class:`~tmvacompat.specs.ConvSpec` / :class:`~tmvacompat.specs.ConvTransposeSpec`."""
        return cls(
            input_shape,
            spec.depth,
            spec.filter_height,
            spec.filter_width,
            spec.stride_rows,
            spec.stride_cols,
            spec.padding_height,
            spec.padding_width,
            spec.activation,
            dtype=dtype,
        )

    # the subclass's Numba kernels (staticmethod: a dispatcher stored on a class must not bind `self`)
    _forward_kernel: staticmethod
    _backward_kernel: staticmethod
    #: whether the kernels' GEMMs run over output positions (CONV) or input positions (CONVT)
    _gemm_over_output: bool

    def _block_space(self, ws: dict[str, np.ndarray], blocks: list[tuple[int, int]]) -> tuple[list, list]:
        """Scratch per block (block 0 uses the batch's) and the weight and bias gradients of blocks 1.., kept
        per batch size and block count."""
        key = (ws["z"].shape[0], len(blocks))
        space = self._block_ws.get(key)
        if space is None:
            W, b = self.params["Weights"], self.params["Biases"]
            grid = self.output_shape if self._gemm_over_output else self.image_in
            most = max(e - a for a, e in blocks)
            size = scratch_elements(most, W.shape[1], grid[0], grid[1] * grid[2], W.size)
            space = ([ws["buf"]] + [np.empty(size, self.dtype) for _ in blocks[1:]],
                     [(np.empty_like(W), np.empty_like(b)) for _ in blocks[1:]])  # fmt: skip
            self._block_ws[key] = space
        return space

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x, ws = self._start(x)
        W, b, z, y = self.params["Weights"], self.params["Biases"], ws["z"], ws["y"]
        act, geom = self.activation, self.geometry
        blocks = event_blocks(x.shape[0])
        if len(blocks) == 1:
            self._forward_kernel(x, W, b, z, y, act, geom, ws["buf"])
            return y
        bufs, _ = self._block_space(ws, blocks)

        def run(a: int, e: int, k: int) -> None:  # a block's outputs are its own events'
            self._forward_kernel(x[a:e], W, b, z[a:e], y[a:e], act, geom, bufs[k])

        run_blocks(blocks, run, limit_blas=False)  # the kernels call no BLAS
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        ws, n = self._dz(dy)
        x, W, dz, dx = self._x, self.params["Weights"], ws["dz"], ws["dx"]
        assert x is not None  # _dz raised otherwise
        need, geom = self.need_input_grad, self.geometry
        gW, gb = self.grads["Weights"], self.grads["Biases"]
        blocks = event_blocks(n)
        if len(blocks) == 1:
            self._backward_kernel(x, W, dz, gW, gb, dx, need, geom, ws["buf"])
        else:
            bufs, parts = self._block_space(ws, blocks)
            grads = [(gW, gb), *parts]

            def run(a: int, e: int, k: int) -> None:
                gWk, gbk = grads[k]
                self._backward_kernel(x[a:e], W, dz[a:e], gWk, gbk, dx[a:e], need, geom, bufs[k])

            run_blocks(blocks, run, limit_blas=False)  # the kernels call no BLAS
            for pW, pb in parts:  # the blocks' sums added in block order: the same bits every run
                gW += pW
                gb += pb
        return dx.reshape((n, *self.input_shape))


class Conv2D(_ConvBase):
    """TMVA's ``CONV``: ``Weights`` (depth, in_depth*fh*fw), ``Biases`` (depth, 1), strides, zero padding.

    Forward is im2col (TMVA's local-view order) plus a GEMM per cache-sized chunk of events; backward
    redoes the im2col per chunk (cheaper than keeping it) for the weight-gradient GEMM, and the input
    gradient is a GEMM plus col2im.
    """

    kind = "CONV"
    _forward_kernel = staticmethod(conv_forward_kernel)
    _backward_kernel = staticmethod(conv_backward_kernel)
    _gemm_over_output = True

    def __init__(
        self,
        input_shape,
        depth,
        filter_height,
        filter_width,
        stride_rows=1,
        stride_cols=1,
        padding_height=0,
        padding_width=0,
        activation="TANH",
        dtype=np.float32,
    ) -> None:
        geometry = (filter_height, filter_width, stride_rows, stride_cols, padding_height, padding_width)
        spec = ConvSpec(depth, *geometry, activation=activation)
        super().__init__(input_shape, CONV.output_shape(spec, input_shape, ()), dtype)
        self.image_in = image_shape(input_shape, "CONV")
        self._init(spec, CONV.param_shapes(spec, input_shape), activation)


class ConvTranspose2D(_ConvBase):
    """``CONVT``: transposed convolution, output (in - 1)*stride - 2*pad + filter per axis.

    ``Weights`` (in_depth, depth*fh*fw) (PyTorch's ``conv_transpose2d`` weight flattened), ``Biases``
    (depth, 1). Computed as GEMM plus col2im scatter (index arithmetic), no zero-inserted copy of the input.
    """

    kind = "CONVT"
    _forward_kernel = staticmethod(convt_forward_kernel)
    _backward_kernel = staticmethod(convt_backward_kernel)
    _gemm_over_output = False

    def __init__(
        self,
        input_shape,
        depth,
        filter_height,
        filter_width,
        stride_rows=1,
        stride_cols=1,
        padding_height=0,
        padding_width=0,
        activation="TANH",
        dtype=np.float32,
    ) -> None:
        geometry = (filter_height, filter_width, stride_rows, stride_cols, padding_height, padding_width)
        spec = ConvTransposeSpec(depth, *geometry, activation=activation)
        super().__init__(input_shape, CONVT.output_shape(spec, input_shape, ()), dtype)
        self.image_in = image_shape(input_shape, "CONVT")
        self._init(spec, CONVT.param_shapes(spec, input_shape), activation)


@njit(cache=True, error_model="numpy", inline="always")  # one call site
def _maxpool_2x2(x, y, arg, sr, sc):
    """:func:`maxpool_forward_kernel` for 2 x 2 windows (TMVA's usual ``MAXPOOL|2|2|2|2``): the same scan
    order and comparisons written out, which run much faster than the loops over a window of any size."""
    n, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for e in range(n):
        for c in range(C):
            xc = x[e, c]
            yc = y[e, c]
            ac = arg[e, c]
            for oy in range(OH):
                r0 = oy * sr
                x0 = xc[r0]
                x1 = xc[r0 + 1]
                for ox in range(OW):
                    c0 = ox * sc
                    best = x0[c0]
                    bi = r0 * W + c0
                    v = x0[c0 + 1]
                    if v > best:
                        best = v
                        bi = r0 * W + c0 + 1
                    v = x1[c0]
                    if v > best:
                        best = v
                        bi = (r0 + 1) * W + c0
                    v = x1[c0 + 1]
                    if v > best:
                        best = v
                        bi = (r0 + 1) * W + c0 + 1
                    yc[oy, ox] = best
                    ac[oy, ox] = bi


@njit(cache=True, error_model="numpy", nogil=True)
def maxpool_forward_kernel(x, y, arg, window):
    """y = window maxima over ``window`` (:class:`PoolWindow`); arg = flat (row*W + col) index of the first
    maximum of each window (row-major scan, strict ``>``)."""
    fh, fw, sr, sc = window
    if fh == 2 and fw == 2:
        _maxpool_2x2(x, y, arg, sr, sc)
        return
    n, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for e in range(n):
        for c in range(C):
            for oy in range(OH):
                for ox in range(OW):
                    r0 = oy * sr
                    c0 = ox * sc
                    best = x[e, c, r0, c0]
                    bi = r0 * W + c0
                    for i in range(fh):
                        for j in range(fw):
                            v = x[e, c, r0 + i, c0 + j]
                            if v > best:
                                best = v
                                bi = (r0 + i) * W + c0 + j
                    y[e, c, oy, ox] = best
                    arg[e, c, oy, ox] = bi


@njit(cache=True, error_model="numpy", nogil=True)
def maxpool_backward_kernel(dy, arg, dx):
    """dx = each output gradient added at its window's maximum (``arg``: flat index within the image)."""
    n, C, OH, OW = dy.shape
    dxf = dx.reshape(n, C, dx.shape[2] * dx.shape[3])  # flat images: no division per element
    dxf[:] = 0
    for e in range(n):
        for c in range(C):
            d = dxf[e, c]
            a = arg[e, c]
            g = dy[e, c]
            for oy in range(OH):
                for ox in range(OW):
                    d[a[oy, ox]] += g[oy, ox]


class MaxPool2D(Layer):
    """``MAXPOOL|fh|fw|sr|sc``: no padding, output (in - f)/s + 1 (exact, as TMVA's ``calculateDimension``).

    Backward routes each output gradient to its window's first maximum (row-major scan, strict ``>``).
    """

    kind = "MAXPOOL"
    #: the kernels split a batch over the engine's threads (the trainer keeps BLAS on one thread then, for
    #: the dense layers between)
    uses_blocks = True

    def __init__(
        self, input_shape, filter_height, filter_width, stride_rows=1, stride_cols=1, dtype=np.float32
    ) -> None:
        spec = MaxPoolSpec(filter_height, filter_width, stride_rows, stride_cols)
        super().__init__(input_shape, MAXPOOL.output_shape(spec, input_shape, ()), dtype)
        self.image_in = image_shape(input_shape, "MAXPOOL")
        self.window = PoolWindow(int(filter_height), int(filter_width), int(stride_rows), int(stride_cols))
        self._ws = Workspaces()
        self._cur: dict[str, np.ndarray] | None = None

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1) -> MaxPool2D:
        """Build from a :class:`~tmvacompat.specs.MaxPoolSpec`."""
        return cls(
            input_shape,
            spec.filter_height,
            spec.filter_width,
            spec.stride_rows,
            spec.stride_cols,
            dtype=dtype,
        )

    def _alloc(self, n: int) -> dict[str, np.ndarray]:
        return {
            "y": np.empty((n, *self.output_shape), self.dtype),
            "arg": np.empty((n, *self.output_shape), np.int64),
            "dx": np.empty((n, *self.image_in), self.dtype),
        }

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x = check_batch(self, x)
        n = x.shape[0]
        ws = self._ws.get(n, self._alloc)
        xi, y, arg = x.reshape(n, *self.image_in), ws["y"], ws["arg"]
        window = self.window

        def run(a: int, e: int, k: int) -> None:  # an event's windows are its own: the same bits as one call
            maxpool_forward_kernel(xi[a:e], y[a:e], arg[a:e], window)

        run_blocks(event_blocks(n), run, limit_blas=False)
        self._cur = ws
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cur is None:
            raise LayoutError("MAXPOOL backward called before forward", token=self.kind)
        ws = self._cur
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(ws["y"].shape)
        arg, dx = ws["arg"], ws["dx"]

        def run(a: int, e: int, k: int) -> None:
            maxpool_backward_kernel(dy[a:e], arg[a:e], dx[a:e])

        n = len(dy)
        run_blocks(event_blocks(n), run, limit_blas=False)
        return dx.reshape((n, *self.input_shape))


class Padding2D(Layer):
    """``PADDING2D|top|bottom|left|right``: zero padding of every channel (the GSoC fork's TPaddingLayer2D).

    A standalone padding layer copies (its output is a new image); a CONV's own padding never does.
    """

    kind = "PADDING2D"

    def __init__(self, input_shape, top=0, bottom=0, left=0, right=0, dtype=np.float32) -> None:
        spec = Padding2DSpec(top, bottom, left, right)
        super().__init__(input_shape, PADDING2D.output_shape(spec, input_shape, ()), dtype)
        self.image_in = image_shape(input_shape, "PADDING2D")
        self.top, self.bottom, self.left, self.right = int(top), int(bottom), int(left), int(right)
        self._ws = Workspaces()
        self._n = 0

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1) -> Padding2D:
        """Build from a :class:`~tmvacompat.specs.Padding2DSpec`."""
        return cls(input_shape, spec.top, spec.bottom, spec.left, spec.right, dtype=dtype)

    def _alloc(self, n: int) -> dict[str, np.ndarray]:
        # the border of y stays zero; dx is the gradient buffer
        return {
            "y": np.zeros((n, *self.output_shape), self.dtype),
            "dx": np.empty((n, *self.image_in), self.dtype),
        }

    def _inner(self, arr):
        C, H, W = self.image_in
        return arr[:, :, self.top : self.top + H, self.left : self.left + W]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        x = check_batch(self, x)
        n = x.shape[0]
        y = self._ws.get(n, self._alloc)["y"]
        self._inner(y)[...] = x.reshape(n, *self.image_in)
        self._n = n
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n = self._n
        dy = np.asarray(dy).reshape(n, *self.output_shape)
        dx = self._ws.get(n, self._alloc)["dx"]
        dx[...] = self._inner(dy)
        return dx.reshape((n, *self.input_shape))


__all__ = [
    "Conv2D",
    "ConvTranspose2D",
    "MaxPool2D",
    "Padding2D",
    "conv_output_size",
    "im2col_kernel",
    "col2im_kernel",
]
