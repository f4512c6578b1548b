"""Fast inference for plain dense stacks: an optional affine input step, every layer and an optional final
activation in one Numba call.

:func:`dense_infer` is the kernel. Everything it reads lives in one flat parameter array ``P`` (per layer:
the biases; the weights as stored (m, k) for layers narrower than a panel, the transposed weights (k, m)
packed in panels (:func:`~tmvacompat.engine.gemm.pack_panels`) for wider ones; then, optionally, the
offsets, scales and shifts of the affine input step) addressed through a small int64 table ``lay`` (row 0 a
header, one row per layer), so there is one compiled signature per float type whatever the network. The
kernel takes them and its scratch ``buf`` as arguments.

* Row blocks of at least :data:`SMALL_ROWS` events go through
  :func:`~tmvacompat.engine.gemm.gemm_panels` (tiles of 6 rows x 16 outputs in registers, the bias in the
  accumulators, weights packed once per network), then the activation kernel over the block (faster
  than ``np.dot``, which packs the weights on every call, with a separate bias pass).
* Smaller blocks (one event, a handful of rows) go through :func:`~tmvacompat.engine.gemm.gemv_panels`:
  the same panels, four at a time, so that one row still keeps eight multiply-add chains in flight.
* Layers narrower than two vectors (a classifier's output, a few classes) take one vector dot product per
  output and row (:func:`~tmvacompat.engine.gemm.gemv_narrow`).
* Every output element is computed with the same operations wherever its row is (block sizes, chunks
  and threads do not change results). The sums run in another order than BLAS's, so results agree with
  the generic path to float32 rounding.
* The affine input step computes ``(x - offset) * scale + shift`` per input, in that order, each operation
  rounded to the arithmetic type (float32, or the network's type); rows are independent, so a NaN input
  only reaches the outputs of its own row.
* The final activation (:data:`FINAL_ACTIVATIONS`: ``"sigmoid"`` ``1 / (1 + exp(-z))`` per output or
  ``"softmax"`` over each row, both with the exact ``exp``) is applied in place on the output rows.
* One compiled kernel per float type serves every network: activations, the input step and the final
  activation are chosen by the codes of the table.
* Inputs of at least :data:`PARALLEL_MIN_ROWS` rows are split into one block per thread of the engine
  (Numba's thread count) with starts on chunk boundaries: the kernel releases the GIL, each block runs on
  its own thread with its own scratch, and every chunk is computed exactly as in a single call (the same
  bits).

:class:`DensePredictor` wraps the kernel for an engine :class:`~tmvacompat.engine.network.Network` (raw
outputs); :class:`DenseEvaluator` evaluates given layers with the input step and final activation (thread
safe, scratch per thread).

Example:
    >>> import numpy as np
    >>> from tmvacompat.engine.network import Network
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(3, "TANH"), DenseSpec(1, "LINEAR")], (2,), dtype=np.float64)
    >>> DensePredictor(net)(np.zeros((4, 2))).shape
    (4, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from numba import njit

from tmvacompat.engine.activations import IDENTITY, act_forward
from tmvacompat.engine.gemm import _lanes, gemm_panels, gemv_narrow, gemv_panels, pack_panels, panel_width
from tmvacompat.engine.parallel import row_blocks, run_blocks, threads
from tmvacompat.engine.views import view2d
from tmvacompat.errors import EngineConfigError, InputDataError, TrainingError

#: row blocks smaller than this use matrix-vector loops instead of the register tiles of gemm_panels
SMALL_ROWS = 8
#: rows per chunk: a chunk's three activation buffers (3 x 96 KB for 128 outputs) and the packed weights
#: stay in a 512 KB L2
CHUNK = 192
#: inputs of at least this many rows are split over the engine's threads (Numba's thread count)
PARALLEL_MIN_ROWS = 4096
#: what :func:`dense_infer` returns for inputs or outputs of the wrong shape or layout
BAD_ARGUMENTS = -1
#: final activations the kernel applies to its output rows, and their header codes
FINAL_ACTIVATIONS: dict[str | None, int] = {None: 0, "sigmoid": 1, "softmax": 2}

# header row (row 0 of ``lay``)
H_L, H_NIN, H_NOUT, H_FINAL, H_AFFINE, H_CHUNK, H_WMAX, H_AFF32 = range(8)
# layer rows (rows 1..L of ``lay``)
C_M, C_K, C_CODE, C_W, C_B, C_WP = range(6)
N_COLS = 8  # the header row has eight entries


@njit(cache=True, error_model="numpy", nogil=True)
def affine_rows(X, s, P, lay, a):
    """Rows ``s .. s + len(a)`` of ``X`` through the header's affine step into ``a``: ``(x - offset) * scale
    + shift`` per input, each operation rounded to float32 when the header says so (else computed in
    ``a``'s type)."""
    rows, nin = a.shape
    o = lay[0, H_AFFINE]
    off = P[o : o + nin]
    scale = P[o + nin : o + 2 * nin]
    shift = P[o + 2 * nin : o + 3 * nin]
    if lay[0, H_AFF32] != 0:
        for i in range(rows):
            xi = X[s + i]
            ai = a[i]
            for j in range(nin):
                t = np.float32(xi[j]) - np.float32(off[j])
                t = t * np.float32(scale[j])
                ai[j] = t + np.float32(shift[j])
    else:
        for i in range(rows):
            xi = X[s + i]
            ai = a[i]
            for j in range(nin):
                ai[j] = (xi[j] - off[j]) * scale[j] + shift[j]


@njit(cache=True, error_model="numpy", nogil=True)
def final_rows(code, out):
    """The final activation ``code`` (:data:`FINAL_ACTIVATIONS`) in place on the rows of ``out``."""
    one = out.dtype.type(1)
    rows, m = out.shape
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


@njit(cache=True, error_model="numpy", inline="always")
def _fits(A, rows, cols):
    """``A`` is (rows, cols) with contiguous, consecutive rows (what reading it by flat position needs;
    numpy's C-contiguous flag ignores the strides of a dimension of length 1)."""
    it = A.itemsize
    return (A.shape[0] == rows and A.shape[1] == cols and (cols < 2 or A.strides[1] == it)
            and (rows < 2 or A.strides[0] == cols * it))  # fmt: skip


@njit(cache=True, error_model="numpy", nogil=True)
def dense_infer(X, out, P, lay, buf):
    """Outputs of a dense stack for every row of ``X`` into ``out``: the network's ``P`` and ``lay`` (see
    the module doc), flat scratch ``buf`` of at least :func:`scratch_size` elements.

    ``X`` and ``out`` are C-contiguous (rows are read and written by flat position). Returns 0, or
    :data:`BAD_ARGUMENTS` (nothing computed) when ``X`` or ``out`` does not have the table's columns, the
    same rows and consecutive rows (the callers' fast paths leave these checks to it: they cost nothing
    here).
    """
    n = X.shape[0]
    L = lay[0, H_L]
    nin = lay[0, H_NIN]
    if not (_fits(X, n, nin) and _fits(out, n, lay[0, H_NOUT])):
        return BAD_ARGUMENTS
    chunk = lay[0, H_CHUNK]
    region = chunk * lay[0, H_WMAX]
    affine = lay[0, H_AFFINE] >= 0
    final = lay[0, H_FINAL]
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        rows = e - s
        if affine:
            a = view2d(buf, 3 * region, rows, nin)
            affine_rows(X, s, P, lay, a)
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
                act_forward(code, z, y)
            else:
                # explicit loops: slice assignment compiles Numba's broadcasting checks (seconds of compile)
                for i in range(rows):
                    for j in range(m):
                        y[i, j] = z[i, j]
            a = y
        if final != 0:
            final_rows(final, out[s:e])
    return 0


def scratch_size(lay: np.ndarray) -> int:
    """Elements of scratch :func:`dense_infer` needs for the table ``lay``."""
    return int(lay[0, H_CHUNK] * (3 * lay[0, H_WMAX] + lay[0, H_NIN]))


def _c_aligned(x: np.ndarray) -> np.ndarray:
    """``x`` (C-contiguous already), copied if its data are not aligned or not writable (the kernel is
    compiled for aligned, writable arrays: one compiled kernel per float type)."""
    return x if x.flags.aligned and x.flags.writeable else x.copy()


def pack_dense(
    layers: list[tuple[np.ndarray, np.ndarray, int]],
    dtype,
    *,
    affine: tuple[Any, Any, Any] | None = None,
    affine_float32: bool = False,
    final: str | None = None,
    chunk: int = CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Build the flat parameters ``P`` and the table ``lay`` of :func:`dense_infer`.

    ``layers``: (weights (m, k), biases (m,) or (m, 1), activation code) per layer. ``affine``: (offset,
    scale, shift) per input of the affine input step (``affine_float32``: its arithmetic in float32 whatever
    ``dtype``). ``final``: a final activation of :data:`FINAL_ACTIVATIONS`.

    >>> P, lay = pack_dense([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, final="sigmoid")
    >>> out = np.empty((1, 1), np.float32)
    >>> _ = dense_infer(np.zeros((1, 2), np.float32), out, P, lay, np.empty(scratch_size(lay), np.float32))
    >>> float(out[0, 0])
    0.5
    """
    if final not in FINAL_ACTIVATIONS:
        raise EngineConfigError(f"unknown final activation {final!r}", parameter="final", value=final,
                                expected=[str(k) for k in FINAL_ACTIVATIONS])  # fmt: skip
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
    lay[0, H_FINAL] = FINAL_ACTIVATIONS[final]
    lay[0, H_AFFINE] = -1
    if affine is not None:
        vt = np.float32 if affine_float32 else dt
        parts3 = [np.asarray(v, vt).reshape(-1) for v in affine]
        if len(parts3) != 3 or any(v.size != nin for v in parts3):
            raise InputDataError(f"the affine step needs (offset, scale, shift) of {nin} values each (the "
                                 f"network's inputs), got sizes {[v.size for v in parts3]}",
                                 token="affine")  # fmt: skip
        lay[0, H_AFFINE] = pos
        chunks += [v.astype(dt) for v in parts3]  # float32 values: exact in float64 too
    lay[0, H_AFF32] = int(bool(affine_float32))
    lay[0, H_CHUNK] = max(1, int(chunk))
    lay[0, H_WMAX] = max(int(lay[r, C_M]) for r in range(1, L + 1))
    return np.concatenate(chunks), lay


def _in_blocks(n: int, chunk: int, run: Callable[[int, int, int], int]) -> int:
    """``run(start, stop, block)`` on chunk-aligned row blocks of ``n`` rows, one per engine thread when
    ``n`` is at least :data:`PARALLEL_MIN_ROWS` (:func:`~tmvacompat.engine.parallel.run_blocks`); the sum
    of the results."""
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
        if not getattr(net, "dense_stack", False):
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
        self._buf = self._bufs[0]

    def _pack(self) -> tuple[np.ndarray, np.ndarray]:
        layers = [(la.params["Weights"], la.params["Biases"], la.activation) for la in self.net.layers]
        return pack_dense(layers, self.dtype, chunk=self.chunk)

    def refresh(self) -> None:
        """Copy the network's current weights in."""
        self.P, self.lay = self._pack()

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
        # The common small call checks only that the arrays have the one type the kernel is compiled for
        # (numpy arrays of the dtype, two dimensions, flags.carray: C-contiguous, aligned, writable); the
        # kernel checks shapes for free and refuses (BAD_ARGUMENTS), and then the careful path below
        # converts or explains. `is`: numpy's dtypes of the native float types are singletons (an equal
        # dtype that is not the same object takes the careful path, which finds nothing wrong with it)
        dt = self.dtype
        nd = np.ndarray
        if type(X) is nd and X.dtype is dt and X.ndim == 2 and len(X) < PARALLEL_MIN_ROWS and X.flags.carray:
            if out is None:
                out = np.empty((len(X), self.nout), dt)
            elif type(out) is not nd or out.dtype is not dt or out.ndim != 2 or not out.flags.carray:
                return self._careful(X, out)
            if dense_infer(X, out, self.P, self.lay, self._buf) != BAD_ARGUMENTS:
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
            if dense_infer(X, out, self.P, self.lay, self._buf) == BAD_ARGUMENTS:
                raise InputDataError(f"the kernel refused inputs of shape {X.shape} and strides {X.strides} "
                                     f"with outputs of strides {out.strides}", token="X")  # fmt: skip
            return out

        while len(self._bufs) < threads():  # scratch per block, kept: 0.8 MB of page faults per call else
            self._bufs.append(np.empty_like(self._bufs[0]))
        bufs, P, lay = self._bufs, self.P, self.lay

        def run(a: int, b: int, k: int) -> int:
            return dense_infer(X[a:b], out[a:b], P, lay, bufs[k])

        _in_blocks(n, self.chunk, run)
        return out


class DenseEvaluator:
    """Given dense layers with an optional affine input step and final activation, evaluated by
    :func:`dense_infer` (thread safe: the parameters are read-only, the scratch is per thread).

    Arguments as for :func:`pack_dense`. Rows are independent: whatever a row holds (NaN included) changes
    only its own outputs.

    >>> ev = DenseEvaluator([(np.ones((1, 2)), np.zeros(1), 0)], np.float32, final="sigmoid")
    >>> ev.evaluate(np.zeros((3, 2), np.float32))[:, 0].tolist()
    [0.5, 0.5, 0.5]
    >>> row, out, run = ev.workspace()
    >>> row[0] = [1.0, 1.0]; _ = run(); round(float(out[0, 0]), 4)
    0.8808
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray, int]], dtype, *,
                 affine: tuple[Any, Any, Any] | None = None, affine_float32: bool = False,
                 final: str | None = None, chunk: int = CHUNK) -> None:  # fmt: skip
        self.dtype = np.dtype(dtype)
        self.P, self.lay = pack_dense(layers, self.dtype, affine=affine, affine_float32=affine_float32,
                                      final=final, chunk=chunk)  # fmt: skip
        self.nin = int(self.lay[0, H_NIN])
        self.nout = int(self.lay[0, H_NOUT])
        self.chunk = int(self.lay[0, H_CHUNK])
        self._size = scratch_size(self.lay)
        self._local = threading.local()

    def _scratch(self) -> np.ndarray:
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = np.empty(self._size, self.dtype)
        return buf

    def workspace(self) -> tuple[np.ndarray, np.ndarray, Callable[[], int]]:
        """This thread's one-event (input row (1, nin), output row (1, nout), ``run``): fill the input row,
        call ``run()`` and read the output row (valid until this thread's next ``run``). For callers that
        evaluate one event at a time and cannot afford converting arrays on every call."""
        ws = getattr(self._local, "ws", None)
        if ws is None:
            dt = self.dtype
            row, out = np.zeros((1, self.nin), dt), np.empty((1, self.nout), dt)
            ws = self._local.ws = (
                row,
                out,
                partial(dense_infer, row, out, self.P, self.lay, self._scratch()),
            )
        return ws

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Outputs (n, nout) in the network dtype for an (n, nin) matrix (converted to that dtype)."""
        # C order: one kernel signature per dtype
        x = _c_aligned(np.ascontiguousarray(x, dtype=self.dtype))
        if x.ndim != 2 or x.shape[1] != self.nin:  # the kernel is compiled for two dimensions
            raise InputDataError(f"inputs of shape {x.shape}: the network takes (events, {self.nin}) "
                                 "matrices", token="x")  # fmt: skip
        out = np.empty((x.shape[0], self.nout), self.dtype)
        if x.shape[0] < PARALLEL_MIN_ROWS:
            dense_infer(x, out, self.P, self.lay, self._scratch())
            return out

        def run(a: int, b: int, k: int) -> int:  # each thread its own scratch: worker threads persist
            return dense_infer(x[a:b], out[a:b], self.P, self.lay, self._scratch())

        _in_blocks(x.shape[0], self.chunk, run)
        return out


__all__ = [
    "DensePredictor",
    "DenseEvaluator",
    "dense_infer",
    "pack_dense",
    "scratch_size",
    "row_blocks",
    "SMALL_ROWS",
    "PARALLEL_MIN_ROWS",
    "FINAL_ACTIVATIONS",
    "BAD_ARGUMENTS",
]
