"""Fast inference for plain dense stacks: input transformation, every layer and the output function in one
Numba call.

:func:`dense_infer` is the kernel. Everything it reads lives in one flat parameter array ``P`` (per layer:
the biases; the weights as TMVA stores them (m, k) for layers narrower than a panel, the transposed
weights (k, m) packed in panels (:func:`~tmvacompat.engine.gemm.pack_panels`) for wider ones; then,
optionally, the Normalize offsets and doubled scales of the input) addressed through a small int64 table
``lay`` (row 0 a header, one row per layer), so there is one compiled signature per float type whatever
the network. The kernel takes them, with its scratch and the addresses of the functions it calls, through
one int64 handle of addresses (:func:`kernel_handle`).

* Row blocks of at least :data:`SMALL_ROWS` events go through
  :func:`~tmvacompat.engine.gemm.gemm_panels` (tiles of 6 rows x 16 outputs in registers, the bias in the
  accumulators, weights packed once per network), then the activation kernel over the block. On the
  tutorial network that is 15-20 % faster than ``np.dot`` (OpenBLAS, which packs the weights on every
  call) with a separate bias pass, and it compiles faster.
* Smaller blocks (one event from the Reader, a handful of rows) go through
  :func:`~tmvacompat.engine.gemm.gemv_panels`: the same panels, four at a time, so that one row still
  keeps eight multiply-add chains in flight.
* Layers narrower than two vectors (a classifier's output, a few classes) take one vector dot product per
  output and row (:func:`~tmvacompat.engine.gemm.gemv_narrow`).
* Every output element is computed with the same operations wherever its row is (block sizes, chunks
  and threads do not change results). The sums run in another order than BLAS's, so results agree with
  the generic path to float32 rounding.
* The Normalize transformation (TMVA's ``(x - min) * (2 / (max - min)) - 1`` in float32) is done row by row
  with exactly the float32 operations of :class:`tmvacompat.data.transforms.NormalizeTransform`; rows with
  a NaN input are evaluated as zeros and their outputs set to NaN (the caller turns them into TMVA's -999).
* The output function (TMVA's 'I', 'S' sigmoid, 'M' softmax) is applied in place on the output rows.
* The activation kernel, the input preparation (Normalize, NaN check) and the output function are called
  by address (:mod:`tmvacompat.engine.fnptr`; :func:`inference_pointers` gives the addresses for a table):
  one compiled kernel serves every network, and a network that needs no input preparation or output
  function (the engine's own :class:`DensePredictor`, which training validates with) never compiles them.
  On a cold start that halves the inference kernel's compile time.
* Inputs of at least :data:`PARALLEL_MIN_ROWS` rows are split into one block per thread of the engine
  (Numba's thread count) with starts on chunk boundaries: the kernel releases the GIL, each block runs on
  its own thread with its own scratch, and every chunk is computed exactly as in a single call (the same
  bits).

:class:`DensePredictor` wraps the kernel for an engine :class:`~tmvacompat.engine.network.Network` (raw
outputs, no transformation); :class:`DenseEvaluator` is what :class:`tmvacompat.weightfile.model.Model`
and the Reader use (transformation + output function, per-thread scratch).

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(3, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> DensePredictor(net)(np.zeros((4, 2))).shape
    (4, 1)
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import njit, types
from numba.np.numpy_support import as_dtype

from tmvacompat.engine.activations import (
    IDENTITY,
    call_forward,
    forward_pointer,
    is_lean,
)
from tmvacompat.engine.fnptr import native_call, pointer
from tmvacompat.engine.gemm import _lanes, gemm_panels, gemv_narrow, gemv_panels, pack_panels, panel_width
from tmvacompat.engine.parallel import row_blocks, run_blocks, threads
from tmvacompat.engine.views import array_at, data_address, view2d
from tmvacompat.engine.warmup import wait_inference_compile
from tmvacompat.errors import InputDataError, TrainingError

#: row blocks smaller than this use matrix-vector loops instead of the register tiles of gemm_panels
SMALL_ROWS = 8
#: rows per chunk: a chunk's three activation buffers (3 x 96 KB for 128 outputs) and the packed weights
#: stay in a 512 KB L2 (192 rows: 1170-1179 ns per event on the tutorial network, 512: 1195-1237, 2048:
#: 1293-1345, interleaved in one process)
CHUNK = 192
#: inputs of at least this many rows are split over the engine's threads (Numba's thread count)
PARALLEL_MIN_ROWS = 4096
#: what :func:`dense_infer` returns for inputs or outputs of the wrong shape or layout
BAD_ARGUMENTS = -1
#: output-function codes of the header (TMVA's EOutputFunction 'I', 'S', 'M')
OUTPUT_CODES: dict[str, int] = {"I": 0, "S": 1, "M": 2}

# header row (row 0 of ``lay``)
H_L, H_NIN, H_NOUT, H_OUTFN, H_NORM, H_CHUNK, H_WMAX, H_CHECK = range(8)
# entries of dense_infer's function-address array (see inference_pointers)
I_ACT, I_INPUTS, I_FINISH, I_COUNT = range(4)
# layer rows (rows 1..L of ``lay``)
C_M, C_K, C_CODE, C_W, C_B, C_WP = range(6)
N_COLS = 8  # the header row has eight entries
# entries of a kernel handle (kernel_handle): the addresses and sizes of P, lay (rows) and buf, then fns
K_P, K_NP, K_LAY, K_NLAY, K_BUF, K_NBUF, K_FNS = range(7)


@njit(cache=True, error_model="numpy", nogil=True)
def _prepare_inputs(X, s, P, lay, a):
    """Rows ``s .. s + len(a)`` of ``X`` into ``a``, with the Normalize transformation where the header has
    one; a row with a NaN input becomes zeros (transformed). Returns the number of such rows."""
    rows, nin = a.shape
    noff = lay[0, H_NORM]
    f32one = np.float32(1)
    off = P[max(noff, 0):max(noff, 0) + nin]
    scale2 = P[max(noff, 0) + nin:max(noff, 0) + 2 * nin]
    nbad = 0
    for i in range(rows):
        bad = False
        xi = X[s + i]
        for j in range(nin):
            if np.isnan(xi[j]):
                bad = True
        ai = a[i]
        if bad:
            nbad += 1
            for j in range(nin):
                x0 = np.float32(0)
                ai[j] = x0 if noff < 0 else (x0 - np.float32(off[j])) * np.float32(scale2[j]) - f32one
        elif noff >= 0:
            # the float32 operations of NormalizeTransform.apply, in its order
            for j in range(nin):
                t = np.float32(xi[j]) - np.float32(off[j])
                t = t * np.float32(scale2[j])
                ai[j] = t - f32one
        else:
            for j in range(nin):
                ai[j] = xi[j]
    return nbad


@njit(cache=True, error_model="numpy", nogil=True)
def _finish_rows(X, s, lay, out, nbad):
    """The header's output function on the output rows ``out`` (rows ``s ..`` of ``X``); then, when the
    header asks for the NaN check and ``nbad`` rows so far had a NaN input, NaN outputs for those rows."""
    one = out.dtype.type(1)
    rows, m = out.shape
    code = lay[0, H_OUTFN]
    if code == 1:
        for i in range(rows):
            for j in range(m):
                out[i, j] = one / (one + np.exp(-out[i, j]))
    elif code == 2:
        for i in range(rows):
            mx = out[i, 0]
            for j in range(1, m):
                if out[i, j] > mx:
                    mx = out[i, j]
            t = out.dtype.type(0)
            for j in range(m):
                out[i, j] = np.exp(out[i, j] - mx)
                t += out[i, j]
            for j in range(m):
                out[i, j] = out[i, j] / t
    if lay[0, H_CHECK] != 0 and nbad > 0:
        nin = X.shape[1]
        for i in range(rows):
            xi = X[s + i]
            for j in range(nin):
                if np.isnan(xi[j]):
                    for c in range(m):
                        out[i, c] = np.nan
                    break


@functools.cache
def _leaf_signatures(dtype: Any) -> dict[str, Any]:
    """Numba signatures of :func:`_prepare_inputs` and :func:`_finish_rows` as :func:`dense_infer` calls
    them by address (``X`` declared read-only: a writable one converts to it)."""
    f = numba.from_dtype(np.dtype(dtype))
    a1, a2, i = types.Array(f, 1, "C"), types.Array(f, 2, "C"), types.int64
    x2, lay2 = types.Array(f, 2, "C", readonly=True), types.Array(i, 2, "C")
    return {"inputs": i(x2, i, a1, lay2, a2), "finish": types.none(x2, i, lay2, a2, i)}


_call_inputs = native_call(lambda a: _leaf_signatures(as_dtype(a[2].dtype))["inputs"], "call_inputs")
_call_finish = native_call(lambda a: _leaf_signatures(as_dtype(a[3].dtype))["finish"], "call_finish")


@njit(cache=True, error_model="numpy", inline="always")
def _fits(A, rows, cols):
    """``A`` is (rows, cols) with contiguous, consecutive rows and aligned data (what reading it by flat
    position needs; numpy's C-contiguous flag ignores the strides of a dimension of length 1)."""
    it = A.itemsize
    return (A.shape[0] == rows and A.shape[1] == cols and (cols < 2 or A.strides[1] == it)
            and (rows < 2 or A.strides[0] == cols * it) and data_address(A) % it == 0)  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def dense_infer(X, out, h):
    """Outputs of a dense stack for every row of ``X`` into ``out``; ``h`` the handle
    (:func:`kernel_handle`) of the network's ``P`` and ``lay`` (see the module doc), flat scratch ``buf``
    of at least :func:`scratch_size` elements, and the addresses ``fns`` :func:`inference_pointers` gives
    for ``lay``.

    ``X`` and ``out`` are C-contiguous (rows are read and written by flat position). Returns the number of
    rows that had a NaN input (their outputs are NaN) when the header asks for the check, else 0;
    :data:`BAD_ARGUMENTS` (nothing computed) when ``X`` or ``out`` does not have the table's columns, the
    same rows, consecutive rows and aligned data (the callers' fast paths leave these checks to it: they
    cost nothing here).
    """
    P = array_at(h[K_P], h[K_NP], X)
    lay = view2d(array_at(h[K_LAY], h[K_NLAY] * N_COLS, h), 0, h[K_NLAY], N_COLS)
    buf = array_at(h[K_BUF], h[K_NBUF], X)
    fns = h[K_FNS:K_FNS + I_COUNT]
    n = X.shape[0]
    L = lay[0, H_L]
    nin = lay[0, H_NIN]
    if not (_fits(X, n, nin) and _fits(out, n, lay[0, H_NOUT])):
        return BAD_ARGUMENTS
    chunk = lay[0, H_CHUNK]
    region = chunk * lay[0, H_WMAX]
    prepare = lay[0, H_NORM] >= 0 or lay[0, H_CHECK] != 0
    finish = lay[0, H_OUTFN] != 0 or lay[0, H_CHECK] != 0
    nbad = 0
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        rows = e - s
        if prepare:
            a = view2d(buf, 3 * region, rows, nin)
            nbad += _call_inputs(fns[I_INPUTS], (X, s, P, lay, a))
        else:
            a = X[s:e]
        for l in range(L):
            r = l + 1
            m = lay[r, C_M]
            k = lay[r, C_K]
            code = lay[r, C_CODE]
            if l == L - 1:
                y = out[s:e]
            elif l % 2 == 0:
                y = view2d(buf, region, rows, m)
            else:
                y = view2d(buf, 2 * region, rows, m)
            z = view2d(buf, 0, rows, m)
            if m < 2 * _lanes(P):  # narrow: a classifier's output, a few classes
                for i in range(rows):
                    gemv_narrow(a, i * k, P, lay[r, C_W], lay[r, C_B], m, k, z, i * m)
            elif rows < SMALL_ROWS:
                gemv_panels(rows, m, k, a, P, lay[r, C_WP], P, lay[r, C_B], z)
            else:
                gemm_panels(rows, m, k, a, P, lay[r, C_WP], P, lay[r, C_B], z)
            if code != IDENTITY:
                call_forward(fns[I_ACT], (code, z, y))
            else:
                # explicit loops: slice assignment compiles Numba's broadcasting checks (seconds of compile)
                for i in range(rows):
                    for j in range(m):
                        y[i, j] = z[i, j]
            a = y
        if finish:
            _call_finish(fns[I_FINISH], (X, s, lay, out[s:e], nbad))
    return nbad


def kernel_handle(P: np.ndarray, lay: np.ndarray, buf: np.ndarray, fns: np.ndarray) -> np.ndarray:
    """The int64 handle :func:`dense_infer` reads ``P``, ``lay``, ``buf`` and ``fns`` from: their
    addresses and sizes (one array for Numba's entry point to unbox instead of four: ~90 ns apiece, ~0.3 us
    of a 3-5 us one-event call). The four arrays live at least as long as the handle (a finalizer on it
    holds them), so a handle never points at freed memory.

    >>> P, lay = pack_dense([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, output_function="S")
    >>> buf, fns = np.empty(scratch_size(lay), np.float32), inference_pointers(lay, np.float32)
    >>> out = np.empty((1, 1), np.float32)
    >>> _ = dense_infer(np.zeros((1, 2), np.float32), out, kernel_handle(P, lay, buf, fns))
    >>> float(out[0, 0])
    0.5
    """
    dt = P.dtype
    ok = (P.ndim == 1 and buf.ndim == 1 and buf.dtype == dt and dt in (np.float32, np.float64)
          and lay.dtype == np.int64 and lay.ndim == 2 and lay.shape[1] == N_COLS
          and fns.dtype == np.int64 and fns.shape == (I_COUNT,) and buf.size >= scratch_size(lay)
          and all(a.flags.c_contiguous and a.flags.aligned for a in (P, lay, buf, fns)))  # fmt: skip
    if not ok:
        raise TrainingError("kernel_handle needs pack_dense's P and lay, float scratch of P's dtype and "
                            "scratch_size(lay) elements, and inference_pointers' fns",
                            token="handle")  # fmt: skip
    h = np.array([P.ctypes.data, P.size, lay.ctypes.data, lay.shape[0], buf.ctypes.data, buf.size,
                  *fns.tolist()], np.int64)  # fmt: skip
    weakref.finalize(h, _release, (P, lay, buf, fns))  # the tuple is held until h is collected
    return h


def _release(arrays: tuple) -> None:
    """A handle's finalizer: nothing to do, its argument (the arrays) is dropped after the call."""


def scratch_size(lay: np.ndarray) -> int:
    """Elements of scratch :func:`dense_infer` needs for the table ``lay``."""
    return int(lay[0, H_CHUNK] * (3 * lay[0, H_WMAX] + lay[0, H_NIN]))


def entry_types(dtype: Any) -> tuple:
    """The argument types (Numba's) :func:`dense_infer` is compiled for: (n, nin) inputs and (n, nout)
    outputs of ``dtype``, C order, and the int64 handle."""
    f = numba.from_dtype(np.dtype(dtype))
    return types.Array(f, 2, "C"), types.Array(f, 2, "C"), types.Array(types.int64, 1, "C")


def kernel_entry(dtype: Any) -> Callable[..., int]:
    """:func:`dense_infer`'s compiled entry point for float matrices of ``dtype`` (compiled or loaded
    now): ``entry(X, out, handle)``. Calling it skips the dispatcher's type resolution (~0.2 us of a 4 us
    one-event call). It reads its arguments as the types of the compiled signature without checking them:
    callers pass ``X`` and ``out`` as numpy arrays of ``dtype`` with two dimensions (the kernel itself
    refuses other shapes, strides and misaligned data, see :data:`BAD_ARGUMENTS`; ``X`` may be read-only,
    ``out`` must be writable) and a handle from :func:`kernel_handle` whose arrays are alive.
    """
    sig = entry_types(dtype)
    dense_infer.compile(sig)
    entry: Callable[..., int] = dense_infer.overloads[sig].entry_point  # type: ignore[attr-defined]
    return entry


def _c_aligned(x: np.ndarray) -> np.ndarray:
    """``x`` (C-contiguous already), copied if its data are not aligned (the kernel's type assumes so)."""
    return x if x.flags.aligned else x.copy()


def _lay_is_lean(lay: np.ndarray) -> bool:
    return is_lean(lay[1 : int(lay[0, H_L]) + 1, C_CODE])


def part_tasks(dtype: Any) -> dict[str, tuple[Any, tuple]]:
    """The input-preparation and finishing kernels of :func:`dense_infer` for ``dtype`` as (dispatcher,
    argument types), by name (``"inputs"``, ``"finish"``): what a weight file's network needs on top of the
    kernel (:mod:`tmvacompat.engine.warmup` compiles them ahead on a cold start)."""
    sig = _leaf_signatures(dtype)
    return {"inputs": (_prepare_inputs, tuple(sig["inputs"].args)),
            "finish": (_finish_rows, tuple(sig["finish"].args))}  # fmt: skip


def inference_pointers(lay: np.ndarray, dtype: Any) -> np.ndarray:
    """The address array ``fns`` of :func:`dense_infer` for the table ``lay``: the activation kernel (the
    lean one where every activation is common), and the input and finishing kernels where the header asks
    for them (slots left 0 are never called, and those kernels never compiled). Waits for a cold-start
    helper that is compiling the kernel or these parts
    (:func:`~tmvacompat.engine.warmup.wait_inference_compile`), then compiles or loads what is not yet in
    this process."""
    lean = _lay_is_lean(lay)
    inputs = bool(lay[0, H_NORM] >= 0 or lay[0, H_CHECK] != 0)
    finish = bool(lay[0, H_OUTFN] != 0 or lay[0, H_CHECK] != 0)
    wait_inference_compile(dtype, lean, ("inputs",) * inputs + ("finish",) * finish)
    fns = np.zeros(I_COUNT, np.int64)
    fns[I_ACT] = forward_pointer(dtype, lean).resolve()
    sig = _leaf_signatures(dtype)
    if inputs:
        fns[I_INPUTS] = pointer(_prepare_inputs, sig["inputs"]).resolve()
    if finish:
        fns[I_FINISH] = pointer(_finish_rows, sig["finish"]).resolve()
    return fns


def pack_dense(layers: list[tuple[np.ndarray, np.ndarray, int]], dtype, *, output_function: str = "I",
               normalize: tuple[np.ndarray, np.ndarray] | None = None, chunk: int = CHUNK,
               check_nan: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Build the flat parameters ``P`` and the table ``lay`` of :func:`dense_infer`.

    ``layers``: (weights (m, k), biases (m,) or (m, 1), activation code) per layer. ``normalize``: the
    float32 (offset, doubled scale) per input of a Normalize transformation. ``output_function``: 'I', 'S'
    or 'M'.

    >>> P, lay = pack_dense([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, output_function="S")
    >>> out = np.empty((1, 1), np.float32)
    >>> buf, fns = np.empty(scratch_size(lay), np.float32), inference_pointers(lay, np.float32)
    >>> _ = dense_infer(np.zeros((1, 2), np.float32), out, kernel_handle(P, lay, buf, fns))
    >>> float(out[0, 0])
    0.5
    """
    dt = np.dtype(dtype)
    L = len(layers)
    lay = np.zeros((L + 1, N_COLS), np.int64)
    chunks: list[np.ndarray] = []
    pos = 0
    prev = None
    for i, (W, b, code) in enumerate(layers):
        W = np.asarray(W)
        m, k = W.shape
        if prev is not None and k != prev:
            raise TrainingError(f"layer {i} has {k} inputs but layer {i - 1} gives {prev}", token=str(i))
        prev = m
        lay[i + 1, C_M], lay[i + 1, C_K], lay[i + 1, C_CODE] = m, k, int(code)
        # narrow layers (fewer outputs than a panel) keep W (m, k) for gemv_narrow; wide ones the packed
        # panels of W^T for gemm_panels and gemv_panels (the absent copy: offset -1)
        lay[i + 1, C_W] = lay[i + 1, C_WP] = -1
        parts = [(C_B, np.asarray(b, dt).reshape(-1))]
        if m >= panel_width(dt):
            parts.append((C_WP, pack_panels(np.ascontiguousarray(W.T.astype(dt)))))
        else:
            parts.append((C_W, W.astype(dt).reshape(-1)))
        for col, arr in parts:
            lay[i + 1, col] = pos
            chunks.append(arr)
            pos += arr.size
    nin = int(lay[1, C_K])
    lay[0, H_L], lay[0, H_NIN], lay[0, H_NOUT] = L, nin, lay[L, C_M]
    lay[0, H_OUTFN] = OUTPUT_CODES[output_function]
    lay[0, H_NORM] = -1
    if normalize is not None:
        off, scale2 = (np.asarray(v, np.float32).reshape(-1) for v in normalize)
        if off.size != nin or scale2.size != nin:
            raise InputDataError(f"Normalize has {off.size} inputs, the network {nin}", token="Normalize")
        lay[0, H_NORM] = pos
        chunks += [off.astype(dt), scale2.astype(dt)]  # float32 values: exact in float64 too
    lay[0, H_CHUNK] = max(1, int(chunk))
    lay[0, H_WMAX] = max(int(lay[r, C_M]) for r in range(1, L + 1))
    lay[0, H_CHECK] = int(bool(check_nan))
    return np.concatenate(chunks), lay


def _is_plain_dense(net: Any) -> bool:
    from tmvacompat.engine.dense import Dense

    layers = getattr(net, "layers", None)
    return bool(
        layers
        and getattr(net, "is_stack", False)
        and len(getattr(net, "input_shape", ())) == 1
        and all(type(la) is Dense and set(la.params) == {"Weights", "Biases"} for la in layers)
        and np.dtype(net.dtype) in (np.float32, np.float64)
    )


def _in_blocks(n: int, chunk: int, run: Callable[[int, int, int], int]) -> int:
    """``run(start, stop, block)`` on chunk-aligned row blocks of ``n`` rows, one per engine thread when
    ``n`` is at least :data:`PARALLEL_MIN_ROWS` (:func:`~tmvacompat.engine.parallel.run_blocks`); the sum
    of the results (the NaN-row counts)."""
    blocks = row_blocks(n, chunk, threads() if n >= PARALLEL_MIN_ROWS else 1)
    return sum(run_blocks(blocks, run, limit_blas=False))  # the kernel calls no BLAS


class DensePredictor:
    """Fast inference for a plain dense stack: one Numba call for any number of events (raw outputs).

    Takes a copy of the weights; call :meth:`refresh` after they change. Not for concurrent use from
    several threads (one scratch buffer); build one per thread.

    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(3, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> DensePredictor(net)(np.zeros((4, 2))).shape
    (4, 1)
    """

    def __init__(self, net: Any, chunk: int = CHUNK) -> None:
        if not _is_plain_dense(net):
            raise TrainingError(
                "DensePredictor needs a plain stack of DENSE layers on a flat input", token=repr(net)
            )
        self.net = net
        self.dtype = np.dtype(net.dtype)
        self.chunk = int(chunk)
        self.nin = net.layers[0].fan_in
        self.nout = net.layers[-1].width
        self.P, self.lay = self._pack()
        self._bufs = [np.empty(scratch_size(self.lay), self.dtype)]  # one per block of a split call
        self._fns = inference_pointers(self.lay, self.dtype)  # the table's codes never change
        self._run = kernel_entry(self.dtype)
        self._hs = [kernel_handle(self.P, self.lay, b, self._fns) for b in self._bufs]
        self._h = self._hs[0]

    def _pack(self) -> tuple[np.ndarray, np.ndarray]:
        layers = [(la.params["Weights"], la.params["Biases"], la.activation) for la in self.net.layers]
        return pack_dense(layers, self.dtype, chunk=self.chunk)

    def refresh(self) -> None:
        """Copy the network's current weights in."""
        P, lay = self._pack()
        hs = [kernel_handle(P, lay, b, self._fns) for b in self._bufs]
        # the handles hold the arrays' addresses: P and lay are replaced together with them
        self.P, self.lay, self._hs, self._h = P, lay, hs, hs[0]

    def _as_matrix(self, X: Any) -> np.ndarray:
        """``X`` as a C-contiguous, aligned (events, inputs) matrix of the network's dtype; InputDataError
        if it is not numbers or does not split into events of the network's input count."""
        try:
            A = np.ascontiguousarray(X, dtype=self.dtype)
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"inputs must be numbers convertible to {self.dtype.name}: {exc}",
                                 token="X") from None  # fmt: skip
        if A.ndim == 2 and A.shape[1] != self.nin:
            raise InputDataError(f"input has {A.shape[1]} columns, the network {self.nin}", token="X")
        per_event = int(np.prod(A.shape[1:])) if A.ndim > 1 else self.nin
        if A.ndim == 0 or per_event != self.nin or A.size % self.nin:
            raise InputDataError(f"inputs of shape {A.shape} do not split into events of {self.nin} values "
                                 f"(the network's inputs)", token="X")  # fmt: skip
        return _c_aligned(A.reshape(-1, self.nin))

    def _check_out(self, out: Any, n: int) -> None:
        """Raise the InputDataError for an ``out`` the kernel cannot write (it writes by flat position:
        anything else would be written past or not at all)."""
        want = f"a C-contiguous writable numpy array of shape ({n}, {self.nout}) and dtype {self.dtype.name}"
        if not isinstance(out, np.ndarray):
            raise InputDataError(f"out must be {want}, got {type(out).__name__}", token="out")
        problems = [f"shape {out.shape}" if out.shape != (n, self.nout) else "",
                    f"dtype {out.dtype}" if out.dtype != self.dtype else "",
                    "not C-contiguous" if not out.flags.c_contiguous else "",
                    "read-only" if not out.flags.writeable else "",
                    "not aligned" if not out.flags.aligned else ""]  # fmt: skip
        problems = [p for p in problems if p]
        if problems:
            raise InputDataError(f"out must be {want}, got {', '.join(problems)}", token="out")

    def __call__(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Raw outputs, shape (n, n_outputs), for inputs of shape (n, n_inputs); written into ``out`` when
        given (a C-contiguous writable array of that shape and the network's dtype)."""
        # The common small call checks only what the kernel's entry point cannot (the Python type, dtype
        # and dimensions it reads the arrays with; a writable out); the kernel checks shapes and layout
        # for free and refuses (BAD_ARGUMENTS), and then the careful path below converts or explains.
        # `is`: numpy's dtypes of the native float types are singletons (an equal dtype that is not the
        # same object takes the careful path, which finds nothing wrong with it)
        dt = self.dtype
        nd = np.ndarray
        if type(X) is nd and X.dtype is dt and X.ndim == 2 and len(X) < PARALLEL_MIN_ROWS:
            if out is None:
                out = np.empty((len(X), self.nout), dt)
            elif type(out) is not nd or out.dtype is not dt or out.ndim != 2 or not out.flags.writeable:
                return self._careful(X, out)
            if self._run(X, out, self._h) != BAD_ARGUMENTS:
                return out
        return self._careful(X, out)

    def _careful(self, X: Any, out: np.ndarray | None) -> np.ndarray:
        """:meth:`__call__` with every input converted and every problem named; splits large inputs over
        the engine's threads."""
        X = self._as_matrix(X)
        n = X.shape[0]
        if out is None:
            out = np.empty((n, self.nout), self.dtype)
        else:
            self._check_out(out, n)
        if n < PARALLEL_MIN_ROWS:
            if self._run(X, out, self._h) == BAD_ARGUMENTS:
                raise InputDataError(f"the kernel refused inputs of shape {X.shape} and strides {X.strides} "
                                     f"with outputs of strides {out.strides}", token="X")  # fmt: skip
            return out

        while len(self._bufs) < threads():  # scratch per block, kept: 0.8 MB of page faults per call else
            self._bufs.append(np.empty_like(self._bufs[0]))
            self._hs.append(kernel_handle(self.P, self.lay, self._bufs[-1], self._fns))
        hs = self._hs

        def run(a: int, b: int, k: int) -> int:
            return self._run(X[a:b], out[a:b], hs[k])

        _in_blocks(n, self.chunk, run)
        return out


class DenseEvaluator:
    """A weight file's dense network with its Normalize transformation and output function, evaluated by
    :func:`dense_infer` (thread safe: the parameters are read-only, the scratch is per thread).

    Inputs are float32 (n, nin) matrices (TMVA's ``Float_t`` events); NaN rows give NaN outputs and are
    counted (see :meth:`evaluate`).

    >>> ev = DenseEvaluator([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, output_function="S")
    >>> ev.evaluate(np.zeros((3, 2), np.float32))[0][:, 0].tolist()
    [0.5, 0.5, 0.5]
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, int]], dtype, *,
                 output_function: str = "I", normalize: tuple[np.ndarray, np.ndarray] | None = None,
                 chunk: int = CHUNK, check_nan: bool = True) -> None:  # fmt: skip
        self.dtype = np.dtype(dtype)
        self.P, self.lay = pack_dense(layers, self.dtype, output_function=output_function,
                                      normalize=normalize, chunk=chunk, check_nan=check_nan)  # fmt: skip
        self._fns = inference_pointers(self.lay, self.dtype)
        self.nin = int(self.lay[0, H_NIN])
        self.nout = int(self.lay[0, H_NOUT])
        self.chunk = int(self.lay[0, H_CHUNK])
        self._size = scratch_size(self.lay)
        self._local = threading.local()
        self._run = kernel_entry(self.dtype)

    def _scratch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This thread's (kernel handle on its scratch, one-event input row, one-event output row); the
        handle keeps the scratch alive."""
        ws = getattr(self._local, "ws", None)
        if ws is None:
            h = kernel_handle(self.P, self.lay, np.empty(self._size, self.dtype), self._fns)
            ws = (h, np.zeros((1, self.nin), self.dtype), np.empty((1, self.nout), self.dtype))
            self._local.ws = ws
        return ws

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """(outputs (n, nout) in the network dtype, number of NaN rows) for a float32 (n, nin) matrix."""
        # float64 nets: the same float32 values; C order: one kernel signature per dtype
        x = _c_aligned(np.ascontiguousarray(x, dtype=self.dtype))
        if x.ndim != 2 or x.shape[1] != self.nin:  # the kernel's entry point reads two dimensions
            raise InputDataError(f"inputs of shape {x.shape}: the network takes (events, {self.nin}) "
                                 "matrices", token="x")  # fmt: skip
        out = np.empty((x.shape[0], self.nout), self.dtype)
        if x.shape[0] < PARALLEL_MIN_ROWS:
            return out, self._run(x, out, self._scratch()[0])

        def run(a: int, b: int, k: int) -> int:  # each thread its own scratch: worker threads persist
            return self._run(x[a:b], out[a:b], self._scratch()[0])

        nbad = _in_blocks(x.shape[0], self.chunk, run)
        return out, nbad

    def evaluate_buffers(self, buffers) -> tuple[np.ndarray, int]:
        """One event read from one-element buffers (TMVA's bound variables, converted to float32); returns
        this thread's (1, nout) output row (valid until this thread's next call; NaN outputs for a NaN
        input) and the number of NaN rows (0 or 1)."""
        h, row, out = self._scratch()
        r = row[0]
        if len(buffers) != self.nin:
            raise InputDataError(f"{len(buffers)} buffers for {self.nin} variables", token="buffers")
        if self.dtype == np.float32:
            for j, b in enumerate(buffers):
                r[j] = b[0]  # assignment rounds to float32
        else:
            for j, b in enumerate(buffers):
                r[j] = np.float32(b[0])  # Float_t first, then the float64 net
        return out, self._run(row, out, h)


__all__ = ["DensePredictor", "DenseEvaluator", "dense_infer", "kernel_entry",
           "kernel_handle", "entry_types", "inference_pointers", "part_tasks", "pack_dense", "scratch_size",
           "row_blocks", "SMALL_ROWS", "PARALLEL_MIN_ROWS", "OUTPUT_CODES", "BAD_ARGUMENTS"]
