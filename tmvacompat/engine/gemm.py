"""Matrix products for the small and medium shapes of TMVA networks, written with explicit SIMD vectors.

OpenBLAS (what Numba's ``np.dot`` calls) packs both operands on every call and has a fixed cost per
call that dominates the small products of small batches. :func:`gemm` is a register-blocked kernel instead:
a tile of 6 rows x 2 vectors of the result (6 x 16 in float32, 6 x 8 in float64) stays in twelve vector
registers while it runs over the inner dimension, each step one fused multiply-add per register (twelve
chains keep both FMA pipes of an AVX2 core busy).
The vectors are LLVM vector values made by the intrinsics below (Numba has no SIMD type of its own); on
CPUs without AVX, LLVM splits them into what the CPU has. ``benchmarks/`` has the current figures.
:func:`gemm_panels` (inference) reads weights packed once in panels and starts from the biases.

Operands are flat arrays with offsets and strides, so one compiled signature serves every layer:
``C[i, j] = sum_k A[ao + i*sai + k*sak] * B[bo + k*ldb + j]``, ``C`` row-major at ``co`` with row stride
``ldc``. ``A`` may be read transposed (``sai=1``); ``B`` rows must be contiguous. The engine calls
:func:`gemm_nn` (``A`` row-major: an input gradient ``dz W``) and :func:`gemm_tn` (``A`` transposed: a weight
gradient ``dz^T x``), which compile the unit stride in (with both strides only known at run time the
kernel is much slower). :func:`use_gemm` is the engine's choice between this and OpenBLAS: batches of at
most :data:`GEMM_MAX_BATCH` events with results at least two vectors wide. The sums run over ``k`` in
order, one fused multiply-add per term: the result of an element does not depend on the shape of the
product it is part of (rows and columns are computed independently), so splitting a product into blocks
gives the same bits.

Example:
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.float32); b = np.ones(6, np.float32); c = np.empty(4, np.float32)
    >>> gemm(2, 2, 3, a, 0, 3, 1, b, 0, 2, c, 0, 2)  # (2x3) @ (3x2) of ones
    >>> c.tolist()
    [3.0, 3.0, 12.0, 12.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, models, register_model

from tmvacompat.engine.activations import fma

#: training batches up to this many events compute the gradient products (weights and inputs) with
#: :func:`gemm`; larger ones use OpenBLAS, which matches it from about 128 rows and brings its threads
GEMM_MAX_BATCH = 64


#: slice of the inner dimension per pass (a 256 x 16 float32 panel of B is 16 KB: it stays in L1)
KC = 256


class VectorType(types.Type):
    """An LLVM SIMD vector of ``lanes`` values of a float type (internal to the kernels)."""

    def __init__(self, dtype: types.Type, lanes: int) -> None:
        self.dtype = dtype
        self.lanes = lanes
        super().__init__(name=f"vector({dtype} x {lanes})")


@register_model(VectorType)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _vector_of(dtype: Any) -> VectorType:
    # 256-bit vectors (AVX2's registers): eight accumulators fit the 16 registers with room for operands
    return VectorType(dtype, 256 // dtype.bitwidth)


def _splat(builder, vty, x):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), vty.count), [0] * vty.count)
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), mask)


def _element_ptr(context, builder, arytype, ary, idx):
    # plain pointer arithmetic: the caller guarantees 0 <= idx (no negative-index wrap-around code)
    return builder.gep(context.make_array(arytype)(context, builder, ary).data, [idx])


@intrinsic
def _lanes(typingctx, arr):
    n = _vector_of(arr.dtype).lanes

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)

    return types.intp(arr), codegen


def _load_codegen(vt: VectorType):
    """Code of a vector load of type ``vt`` from ``arr[idx:]`` (unaligned)."""

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, context.get_value_type(vt).as_pointer()), align=1)

    return codegen


def _splat_codegen(vt: VectorType):
    """Code of ``arr[idx]`` broadcast to every lane of a vector of type ``vt``."""

    def codegen(context, builder, sig, args):
        x = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1]))
        return _splat(builder, context.get_value_type(vt), x)

    return codegen


@intrinsic
def _vload(typingctx, arr, idx):
    """``arr[idx:idx + lanes]`` as a vector."""
    vt = _vector_of(arr.dtype)
    return vt(arr, types.intp), _load_codegen(vt)


@intrinsic
def _vstore(typingctx, arr, idx, v):
    """``arr[idx:idx + lanes] = v``."""

    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, args[2].type.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.none(arr, types.intp, v), codegen


@intrinsic
def _vsplat(typingctx, arr, idx):
    """``arr[idx]`` in every lane."""
    vt = _vector_of(arr.dtype)
    return vt(arr, types.intp), _splat_codegen(vt)


def _wide_of(dtype: Any) -> VectorType:
    # 512-bit vectors (AVX-512's registers): one holds a panel row (two 256-bit vectors' worth)
    return VectorType(dtype, 512 // dtype.bitwidth)


@intrinsic
def _wload(typingctx, arr, idx):
    """``arr[idx:idx + 2 * lanes]`` as one 512-bit vector (a panel row)."""
    vt = _wide_of(arr.dtype)
    return vt(arr, types.intp), _load_codegen(vt)


@intrinsic
def _wsplat(typingctx, arr, idx):
    """``arr[idx]`` in every lane of a 512-bit vector."""
    vt = _wide_of(arr.dtype)
    return vt(arr, types.intp), _splat_codegen(vt)


def _host_has_avx512(cpu_name: str | None = None, features: dict[str, bool] | None = None) -> bool:
    """Whether Numba compiles for a CPU with AVX-512F: the host's features, unless ``NUMBA_CPU_NAME`` makes it
    compile for another CPU (then the 256-bit tiles, which every x86-64 CPU since AVX2 runs well).

    >>> _host_has_avx512("generic", {"avx512f": True}), _host_has_avx512(None, {"avx512f": True})
    (False, True)
    """
    if cpu_name is None:
        import numba

        cpu_name = getattr(numba.config, "CPU_NAME", None)  # NUMBA_CPU_NAME (set at import, so untyped)
    if cpu_name not in (None, "", "host"):
        return False
    if features is None:
        from llvmlite import binding

        try:
            features = dict(binding.get_host_cpu_features())
        except RuntimeError:  # llvmlite cannot read this host's features
            return False
    return bool(features.get("avx512f", False))


#: :func:`gemm_panels` runs tiles of 12 rows x one 512-bit vector where Numba compiles for AVX-512 (half
#: the instructions per multiply-add; ``benchmarks/README.md`` has the figures). Fixed when the module is
#: imported; both tiles give the same bits.
WIDE_TILES = _host_has_avx512()


@intrinsic
def _vzero(typingctx, arr):
    vt = _vector_of(arr.dtype)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(arr), codegen


@intrinsic
def _vfma(typingctx, a, b, c):
    """``a * b + c`` lane by lane, one rounding (``llvm.fma``)."""

    def codegen(context, builder, sig, args):
        ty = args[0].type
        name = f"llvm.fma.v{ty.count}{'f32' if ty.element == ir.FloatType() else 'f64'}"
        fnty = ir.FunctionType(ty, [ty, ty, ty])
        fn = builder.module.globals.get(name) or ir.Function(builder.module, fnty, name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


@intrinsic
def _vhsum(typingctx, v):
    """The sum of a vector's lanes in a fixed pairwise order: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + ...)."""
    if not isinstance(v, VectorType):
        return None

    def codegen(context, builder, sig, args):
        vec = args[0]
        vals = [builder.extract_element(vec, ir.Constant(ir.IntType(32), i)) for i in range(vec.type.count)]
        while len(vals) > 1:
            vals = [builder.fadd(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
        return vals[0]

    return v.dtype(v), codegen


@intrinsic
def _sload(typingctx, arr, idx):
    """``arr``'s element at flat position ``idx`` of its data (any number of dimensions, C order)."""

    def codegen(context, builder, sig, args):
        return builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1]))

    return arr.dtype(arr, types.intp), codegen


@intrinsic
def _sstore(typingctx, arr, idx, x):
    """Store ``x`` at flat position ``idx`` of ``arr``'s data."""

    def codegen(context, builder, sig, args):
        builder.store(args[2], _element_ptr(context, builder, sig.args[0], args[0], args[1]))
        return context.get_dummy_value()

    return types.none(arr, types.intp, arr.dtype), codegen


@njit(cache=True, error_model="numpy", inline="always")  # into each caller: no own compile
def gemv_narrow(x, xo, P, wo, bo, m, k, z, zo):
    """``z[zo + j] = P[bo + j] + sum_c P[wo + j*k + c] * x[xo + c]`` for ``j < m``: one event through a
    narrow dense layer (a classifier's single output, a few classes) whose weights are stored (m, k)
    row-major at ``wo``; ``x`` and ``z`` by flat position.

    Each output is a dot product over whole vectors of inputs in a vector register, its lanes then summed
    in a fixed order, the inputs past the last whole vector added one by one and the bias last (for a few
    outputs much faster than a loop over the outputs with the inputs broadcast, the right shape for wide
    layers).
    """
    L = _lanes(P)
    kv = k - k % L
    for j in range(m):
        r = wo + j * k
        acc = _vzero(P)
        for c in range(0, kv, L):
            acc = _vfma(_vload(P, r + c), _vload(x, xo + c), acc)
        s = _vhsum(acc)
        for c in range(kv, k):
            s = fma(_sload(x, xo + c), P[r + c], s)
        _sstore(z, zo + j, s + P[bo + j])


@njit(cache=True, error_model="numpy")
def _block_6(K, A, pa, sai, sak, B, pb, ldb, C, pc, ldc, W, nr, resume):
    """Rows i..i+nr-1 (``nr`` <= 6), columns j..j+2W of C (pa, pb, pc point at the block's first elements):
    twelve accumulators, enough to keep both FMA pipes busy (their 4-cycle latency needs eight in flight).
    Rows past ``nr`` compute row i's sums again and are not stored, so one compiled tile serves every
    remainder (a lone row costs what six do, about what a one-row tile's two latency-bound chains took).
    ``resume``: continue the sums already in C (the next slice of the inner dimension: the same chain of
    FMAs)."""
    o1 = sai if nr > 1 else 0
    o2 = 2 * sai if nr > 2 else 0
    o3 = 3 * sai if nr > 3 else 0
    o4 = 4 * sai if nr > 4 else 0
    o5 = 5 * sai if nr > 5 else 0
    if resume:
        q1 = ldc if nr > 1 else 0
        q2 = 2 * ldc if nr > 2 else 0
        q3 = 3 * ldc if nr > 3 else 0
        q4 = 4 * ldc if nr > 4 else 0
        q5 = 5 * ldc if nr > 5 else 0
        c00 = _vload(C, pc)
        c01 = _vload(C, pc + W)
        c10 = _vload(C, pc + q1)
        c11 = _vload(C, pc + q1 + W)
        c20 = _vload(C, pc + q2)
        c21 = _vload(C, pc + q2 + W)
        c30 = _vload(C, pc + q3)
        c31 = _vload(C, pc + q3 + W)
        c40 = _vload(C, pc + q4)
        c41 = _vload(C, pc + q4 + W)
        c50 = _vload(C, pc + q5)
        c51 = _vload(C, pc + q5 + W)
    else:
        c00 = _vzero(A)
        c01, c10, c11, c20, c21, c30 = c00, c00, c00, c00, c00, c00
        c31, c40, c41, c50, c51 = c00, c00, c00, c00, c00
    for _ in range(K):
        b0 = _vload(B, pb)
        b1 = _vload(B, pb + W)
        a = _vsplat(A, pa)
        c00 = _vfma(a, b0, c00)
        c01 = _vfma(a, b1, c01)
        a = _vsplat(A, pa + o1)
        c10 = _vfma(a, b0, c10)
        c11 = _vfma(a, b1, c11)
        a = _vsplat(A, pa + o2)
        c20 = _vfma(a, b0, c20)
        c21 = _vfma(a, b1, c21)
        a = _vsplat(A, pa + o3)
        c30 = _vfma(a, b0, c30)
        c31 = _vfma(a, b1, c31)
        a = _vsplat(A, pa + o4)
        c40 = _vfma(a, b0, c40)
        c41 = _vfma(a, b1, c41)
        a = _vsplat(A, pa + o5)
        c50 = _vfma(a, b0, c50)
        c51 = _vfma(a, b1, c51)
        pa += sak
        pb += ldb
    _vstore(C, pc, c00)
    _vstore(C, pc + W, c01)
    if nr > 1:
        _vstore(C, pc + ldc, c10)
        _vstore(C, pc + ldc + W, c11)
    if nr > 2:
        _vstore(C, pc + 2 * ldc, c20)
        _vstore(C, pc + 2 * ldc + W, c21)
    if nr > 3:
        _vstore(C, pc + 3 * ldc, c30)
        _vstore(C, pc + 3 * ldc + W, c31)
    if nr > 4:
        _vstore(C, pc + 4 * ldc, c40)
        _vstore(C, pc + 4 * ldc + W, c41)
    if nr > 5:
        _vstore(C, pc + 5 * ldc, c50)
        _vstore(C, pc + 5 * ldc + W, c51)


@njit(cache=True, error_model="numpy", inline="always")  # a comparison: no compile of its own
def use_gemm(A, batch, N):
    """Whether a training product over ``batch`` events with ``N`` result columns should use :func:`gemm`:
    small batches (OpenBLAS's fixed cost dominates) and at least two vectors of columns (narrower results
    take gemm's scalar path, slower than OpenBLAS)."""
    return batch <= GEMM_MAX_BATCH and N >= 2 * _lanes(A)


@njit(cache=True, error_model="numpy", inline="always")  # into each caller: no own compile
def _zero_or_empty(M, N, K, C, co, ldc):
    """Handle an empty product (nothing to do, or zeros for an empty sum); whether it was one."""
    if M <= 0 or N <= 0:
        return True
    if K <= 0:
        for i in range(M):
            for j in range(N):
                C[co + i * ldc + j] = 0
        return True
    return False


@njit(cache=True, error_model="numpy", inline="always")  # into each caller: compiled there, not linked
def _gemm_wide(M, N, K, A, ao, sai, sak, B, bo, ldb, C, co, ldc):
    """:func:`gemm` for results at least two vectors wide (``N >= 2 * lanes``) and ``M, K > 0``."""
    W = _lanes(A)
    NR = 2 * W
    j = 0
    while j < N:
        # the last column block overlaps the one before when NR does not divide N: its columns are
        # computed again with the same operations (same values), so nothing is written twice wrongly;
        # it runs over the whole inner dimension at once (resuming would add to finished columns)
        jj = min(j, N - NR)
        kc = KC if jj == j else K
        for k0 in range(0, K, kc):  # slices of the inner dimension: the panel of B stays in L1
            n_k = min(kc, K - k0)
            resume = k0 > 0
            pa0 = ao + k0 * sak
            pb0 = bo + k0 * ldb + jj
            for i in range(0, M, 6):
                _block_6(
                    n_k,
                    A,
                    pa0 + i * sai,
                    sai,
                    sak,
                    B,
                    pb0,
                    ldb,
                    C,
                    co + i * ldc + jj,
                    ldc,
                    W,
                    min(6, M - i),
                    resume,
                )
        j += NR


@njit(cache=True, error_model="numpy")
def gemm(M, N, K, A, ao, sai, sak, B, bo, ldb, C, co, ldc):
    """``C = A @ B`` on flat arrays (see the module doc for the addressing); overwrites C."""
    if _zero_or_empty(M, N, K, C, co, ldc):
        return
    if N >= 2 * _lanes(A):
        _gemm_wide(M, N, K, A, ao, sai, sak, B, bo, ldb, C, co, ldc)
        return
    # narrow results (a classifier's single output): dot products with four chains
    zero = C.dtype.type(0)  # not A[ao] - A[ao]: an inf there would turn every row's sum into NaN
    K4 = K - K % 4
    for i in range(M):
        for j in range(N):
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            pa = ao + i * sai
            pb = bo + j
            for _ in range(0, K4, 4):
                s0 = fma(A[pa], B[pb], s0)
                s1 = fma(A[pa + sak], B[pb + ldb], s1)
                s2 = fma(A[pa + 2 * sak], B[pb + 2 * ldb], s2)
                s3 = fma(A[pa + 3 * sak], B[pb + 3 * ldb], s3)
                pa += 4 * sak
                pb += 4 * ldb
            for _ in range(K4, K):
                s0 = fma(A[pa], B[pb], s0)
                pa += sak
                pb += ldb
            C[co + i * ldc + j] = (s0 + s1) + (s2 + s3)


@njit(cache=True, error_model="numpy")
def gemm_nn(M, N, K, A, ao, lda, B, bo, ldb, C, co, ldc):
    """``C = A @ B`` with ``A`` row-major (row stride ``lda``), for results at least two vectors wide (what
    :func:`use_gemm` picks; narrower ones raise ``ValueError``: :func:`gemm` takes them). The unit stride
    along ``k`` is a compile-time constant here (a literal argument: Numba compiles the kernel's blocks for
    it), which the kernel needs for its speed (with both strides known only at run time it is much
    slower)."""
    if _zero_or_empty(M, N, K, C, co, ldc):
        return
    if N < 2 * _lanes(A):
        raise ValueError("gemm_nn: results narrower than two vectors go to gemm")
    _gemm_wide(M, N, K, A, ao, lda, 1, B, bo, ldb, C, co, ldc)


@njit(cache=True, error_model="numpy")
def gemm_tn(M, N, K, A, ao, lda, B, bo, ldb, C, co, ldc):
    """``C = A^T @ B`` with ``A`` stored row-major as K rows of stride ``lda`` (a weight gradient
    ``dz^T x``); the unit stride along ``i`` compiled in, as in :func:`gemm_nn`, and the same width rule."""
    if _zero_or_empty(M, N, K, C, co, ldc):
        return
    if N < 2 * _lanes(A):
        raise ValueError("gemm_tn: results narrower than two vectors go to gemm")
    _gemm_wide(M, N, K, A, ao, 1, lda, B, bo, ldb, C, co, ldc)


#: inner-dimension slice of :func:`gemm_nt` (2048 float32 = 8 KB per row: a few rows stay in L1, all of
#: a small product's rows in L2)
KC_NT = 2048


@njit(cache=True, error_model="numpy")
def gemm_nt(M, N, K, A, ao, lda, B, bo, ldb, C, co, ldc):
    """``C[i, j] = sum_k A[ao + i*lda + k] * B[bo + j*ldb + k]`` (``C = A @ B^T``, both operands row-major):
    dot products of rows, for a few rows and a long inner dimension (a convolution's weight gradient: the
    output channels' gradients against the im2col rows over every position of a batch).

    Each dot product keeps four vector accumulators over the inner dimension in slices of :data:`KC_NT`
    (the slice of every row stays in cache while all M x N products pass over it; the accumulators wait
    in a small scratch between slices), then sums the sixteen or thirty-two lanes in a fixed order and
    adds the tail past the last whole group of vectors term by term: the same bits every run, whatever the
    CPU's BLAS (OpenBLAS would pack both long operands for each call).
    """
    if M <= 0 or N <= 0:
        return
    W = _lanes(A)
    G = 4 * W
    KV = K - K % G
    acc = np.zeros(M * N * G, A.dtype)
    for k0 in range(0, KV, KC_NT):
        n_k = min(KC_NT, KV - k0)
        for i in range(M):
            for j in range(N):
                p = (i * N + j) * G
                a0 = _vload(acc, p)
                a1 = _vload(acc, p + W)
                a2 = _vload(acc, p + 2 * W)
                a3 = _vload(acc, p + 3 * W)
                pa = ao + i * lda + k0
                pb = bo + j * ldb + k0
                for _ in range(0, n_k, G):
                    a0 = _vfma(_vload(A, pa), _vload(B, pb), a0)
                    a1 = _vfma(_vload(A, pa + W), _vload(B, pb + W), a1)
                    a2 = _vfma(_vload(A, pa + 2 * W), _vload(B, pb + 2 * W), a2)
                    a3 = _vfma(_vload(A, pa + 3 * W), _vload(B, pb + 3 * W), a3)
                    pa += G
                    pb += G
                _vstore(acc, p, a0)
                _vstore(acc, p + W, a1)
                _vstore(acc, p + 2 * W, a2)
                _vstore(acc, p + 3 * W, a3)
    for i in range(M):
        for j in range(N):
            p = (i * N + j) * G
            s = ((_vhsum(_vload(acc, p)) + _vhsum(_vload(acc, p + W)))
                 + (_vhsum(_vload(acc, p + 2 * W)) + _vhsum(_vload(acc, p + 3 * W))))  # fmt: skip
            pa = ao + i * lda
            pb = bo + j * ldb
            for k in range(KV, K):
                s = fma(A[pa + k], B[pb + k], s)
            C[co + i * ldc + j] = s


def panel_width(dtype) -> int:
    """Columns per panel of :func:`pack_panels` (two SIMD vectors: 16 float32, 8 float64), the width of the
    tiles :func:`gemm_panels` computes.

    >>> panel_width(np.float32), panel_width(np.float64)
    (16, 8)
    """
    return 2 * (256 // (8 * np.dtype(dtype).itemsize))


def pack_panels(wt: np.ndarray) -> np.ndarray:
    """The (k, m) matrix ``wt`` as consecutive panels of :func:`panel_width` columns, each (k, width)
    row-major: what :func:`gemm_panels` reads. The last panel ends at column m (it overlaps the one before
    when the width does not divide m). ``m`` must be at least the width.

    >>> q = pack_panels(np.arange(34, dtype=np.float32).reshape(2, 17))
    >>> q.size, q[32:35].tolist()  # the second panel: columns 1..16 of both rows
    (64, [1.0, 2.0, 3.0])
    """
    k, m = wt.shape
    nr = panel_width(wt.dtype)
    if m < nr:
        raise ValueError(f"pack_panels: {m} columns, fewer than a panel ({nr})")
    starts = [min(j, m - nr) for j in range(0, m, nr)]
    return np.concatenate([np.ascontiguousarray(wt[:, j : j + nr]).reshape(-1) for j in starts])


@njit(cache=True, error_model="numpy", inline="always")  # into gemm_panels: compiled there, not linked
def _tile_6(K, A, pa, lda, Q, pq, C, pc, ldc, P, pb):
    """Rows pa/lda.. +5 of ``A`` times one panel (``Q`` at pq, K x 2W) plus the biases ``P[pb:pb+2W]``,
    into C at pc: twelve accumulators (the FMA units' latency times their count on AVX2 needs at least
    eight in flight), two panel vectors and one broadcast input: fifteen of the sixteen vector registers."""
    W = _lanes(A)
    c00 = _vload(P, pb)
    c01 = _vload(P, pb + W)
    c10, c11, c20, c21, c30, c31 = c00, c01, c00, c01, c00, c01
    c40, c41, c50, c51 = c00, c01, c00, c01
    for _ in range(K):
        b0 = _vload(Q, pq)
        b1 = _vload(Q, pq + W)
        a = _vsplat(A, pa)
        c00 = _vfma(a, b0, c00)
        c01 = _vfma(a, b1, c01)
        a = _vsplat(A, pa + lda)
        c10 = _vfma(a, b0, c10)
        c11 = _vfma(a, b1, c11)
        a = _vsplat(A, pa + 2 * lda)
        c20 = _vfma(a, b0, c20)
        c21 = _vfma(a, b1, c21)
        a = _vsplat(A, pa + 3 * lda)
        c30 = _vfma(a, b0, c30)
        c31 = _vfma(a, b1, c31)
        a = _vsplat(A, pa + 4 * lda)
        c40 = _vfma(a, b0, c40)
        c41 = _vfma(a, b1, c41)
        a = _vsplat(A, pa + 5 * lda)
        c50 = _vfma(a, b0, c50)
        c51 = _vfma(a, b1, c51)
        pa += 1
        pq += 2 * W
    _vstore(C, pc, c00)
    _vstore(C, pc + W, c01)
    _vstore(C, pc + ldc, c10)
    _vstore(C, pc + ldc + W, c11)
    _vstore(C, pc + 2 * ldc, c20)
    _vstore(C, pc + 2 * ldc + W, c21)
    _vstore(C, pc + 3 * ldc, c30)
    _vstore(C, pc + 3 * ldc + W, c31)
    _vstore(C, pc + 4 * ldc, c40)
    _vstore(C, pc + 4 * ldc + W, c41)
    _vstore(C, pc + 5 * ldc, c50)
    _vstore(C, pc + 5 * ldc + W, c51)


@njit(cache=True, error_model="numpy", inline="always")  # into dense_infer: one call site
def gemv_panels(rows, m, k, A, Q, oq, P, ob, C):
    """:func:`gemm_panels` for fewer rows than its tile (one event from the Reader, a handful of rows):
    ``C = A W^T + b`` with the same packed panels, for any ``rows`` and ``m`` of at least one panel.

    One row through a panel alone would run its sums as two chains of dependent multiply-adds, so four
    panels pass together: eight accumulators, four contiguous weight streams. A single event is bound by
    reading the weights from L2. The rows run inside the block, while its four panels
    (32 KB for 128 inputs in float32) stay in L1. With fewer than four panels, the last one is computed
    again in the spare accumulators (it costs multiply-adds, not reads). Each element is ``b_j`` followed by
    one fused multiply-add per input in order, as in :func:`gemm_panels`: the same bits.
    """
    W = _lanes(Q)
    NR = 2 * W
    npan = (m + NR - 1) // NR
    step = k * NR
    for p00 in range(0, npan, 4):
        p0 = max(0, min(p00, npan - 4))  # the last block overlaps the one before (recomputed, same bits)
        p1 = min(p0 + 1, npan - 1)
        p2 = min(p0 + 2, npan - 1)
        p3 = min(p0 + 3, npan - 1)
        j0 = min(p0 * NR, m - NR)  # a panel's first column (pack_panels: the last one ends at m)
        j1 = min(p1 * NR, m - NR)
        j2 = min(p2 * NR, m - NR)
        j3 = min(p3 * NR, m - NR)
        for i in range(rows):
            c0 = _vload(P, ob + j0)
            c1 = _vload(P, ob + j0 + W)
            c2 = _vload(P, ob + j1)
            c3 = _vload(P, ob + j1 + W)
            c4 = _vload(P, ob + j2)
            c5 = _vload(P, ob + j2 + W)
            c6 = _vload(P, ob + j3)
            c7 = _vload(P, ob + j3 + W)
            q0 = oq + p0 * step
            q1 = oq + p1 * step
            q2 = oq + p2 * step
            q3 = oq + p3 * step
            pa = i * k
            for _ in range(k):
                a = _vsplat(A, pa)
                c0 = _vfma(a, _vload(Q, q0), c0)
                c1 = _vfma(a, _vload(Q, q0 + W), c1)
                c2 = _vfma(a, _vload(Q, q1), c2)
                c3 = _vfma(a, _vload(Q, q1 + W), c3)
                c4 = _vfma(a, _vload(Q, q2), c4)
                c5 = _vfma(a, _vload(Q, q2 + W), c5)
                c6 = _vfma(a, _vload(Q, q3), c6)
                c7 = _vfma(a, _vload(Q, q3 + W), c7)
                pa += 1
                q0 += NR
                q1 += NR
                q2 += NR
                q3 += NR
            pc = i * m
            _vstore(C, pc + j0, c0)
            _vstore(C, pc + j0 + W, c1)
            _vstore(C, pc + j1, c2)
            _vstore(C, pc + j1 + W, c3)
            _vstore(C, pc + j2, c4)
            _vstore(C, pc + j2 + W, c5)
            _vstore(C, pc + j3, c6)
            _vstore(C, pc + j3 + W, c7)


@njit(cache=True, error_model="numpy", inline="always")  # into gemm_panels_12: compiled there
def _tile_12(K, A, pa, lda, Q, pq, C, pc, ldc, P, pb):
    """:func:`_tile_6` for twelve rows with 512-bit vectors: one accumulator per row holds the whole panel
    row (twelve of AVX-512's 32 registers), one panel load and twelve broadcasts per input. The same
    operations per element as :func:`_tile_6`."""
    c0 = _wload(P, pb)
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = c0, c0, c0, c0, c0, c0, c0, c0, c0, c0, c0
    step = 2 * _lanes(A)
    for _ in range(K):
        q = _wload(Q, pq)
        c0 = _vfma(_wsplat(A, pa), q, c0)
        c1 = _vfma(_wsplat(A, pa + lda), q, c1)
        c2 = _vfma(_wsplat(A, pa + 2 * lda), q, c2)
        c3 = _vfma(_wsplat(A, pa + 3 * lda), q, c3)
        c4 = _vfma(_wsplat(A, pa + 4 * lda), q, c4)
        c5 = _vfma(_wsplat(A, pa + 5 * lda), q, c5)
        c6 = _vfma(_wsplat(A, pa + 6 * lda), q, c6)
        c7 = _vfma(_wsplat(A, pa + 7 * lda), q, c7)
        c8 = _vfma(_wsplat(A, pa + 8 * lda), q, c8)
        c9 = _vfma(_wsplat(A, pa + 9 * lda), q, c9)
        c10 = _vfma(_wsplat(A, pa + 10 * lda), q, c10)
        c11 = _vfma(_wsplat(A, pa + 11 * lda), q, c11)
        pa += 1
        pq += step
    _vstore(C, pc, c0)
    _vstore(C, pc + ldc, c1)
    _vstore(C, pc + 2 * ldc, c2)
    _vstore(C, pc + 3 * ldc, c3)
    _vstore(C, pc + 4 * ldc, c4)
    _vstore(C, pc + 5 * ldc, c5)
    _vstore(C, pc + 6 * ldc, c6)
    _vstore(C, pc + 7 * ldc, c7)
    _vstore(C, pc + 8 * ldc, c8)
    _vstore(C, pc + 9 * ldc, c9)
    _vstore(C, pc + 10 * ldc, c10)
    _vstore(C, pc + 11 * ldc, c11)


# not inlined: compiled on its own, the tile loop runs faster than inside dense_infer's body
@njit(cache=True, error_model="numpy", nogil=True)
def gemm_panels_6(rows, m, k, A, Q, oq, P, ob, C):
    """:func:`gemm_panels` with tiles of 6 rows x two 256-bit vectors; ``rows`` at least 6."""
    NR = 2 * _lanes(Q)
    for i0 in range(0, rows, 6):  # six rows stay in L1 while every panel passes over them
        # the last block overlaps the one before when 6 does not divide rows: its rows are computed again
        # with the same operations (one tile kernel, no second one for single rows to compile)
        i = min(i0, rows - 6)
        for j0 in range(0, m, NR):
            j = min(j0, m - NR)
            _tile_6(k, A, i * k, k, Q, oq + (j0 // NR) * k * NR, C, i * m + j, m, P, ob + j)


@njit(cache=True, error_model="numpy", nogil=True)
def gemm_panels_12(rows, m, k, A, Q, oq, P, ob, C):
    """:func:`gemm_panels` with tiles of 12 rows x one 512-bit vector; ``rows`` at least 12."""
    NR = 2 * _lanes(Q)
    for i0 in range(0, rows, 12):
        i = min(i0, rows - 12)  # an overlapping last block, as in gemm_panels_6
        for j0 in range(0, m, NR):
            j = min(j0, m - NR)
            _tile_12(k, A, i * k, k, Q, oq + (j0 // NR) * k * NR, C, i * m + j, m, P, ob + j)


@njit(cache=True, error_model="numpy", nogil=True)
def gemm_panels(rows, m, k, A, Q, oq, P, ob, C):
    """``C = A W^T + b`` for a dense layer: ``A`` (rows, k) and ``C`` (rows, m) with consecutive rows, the
    weights packed by :func:`pack_panels` (from W^T) at ``Q[oq:]``, the biases at ``P[ob:ob+m]``;
    ``m`` at least :func:`panel_width`, ``rows`` at least 6.

    Each element is ``b_j`` followed by one fused multiply-add per input in order, whatever the number of
    rows and wherever the row is: a row's results do not depend on the block it is computed in, nor on the
    tile (:func:`gemm_panels_12` where :data:`WIDE_TILES`, else :func:`gemm_panels_6`). Packing is done
    once per network: the kernel reads each panel contiguously.
    """
    if WIDE_TILES and rows >= 12:
        gemm_panels_12(rows, m, k, A, Q, oq, P, ob, C)
    else:
        gemm_panels_6(rows, m, k, A, Q, oq, P, ob, C)


__all__ = [
    "GEMM_MAX_BATCH",
    "gemm",
    "gemm_nn",
    "gemm_nt",
    "gemm_panels",
    "gemm_panels_6",
    "gemm_panels_12",
    "gemm_tn",
    "gemv_narrow",
    "gemv_panels",
    "pack_panels",
    "panel_width",
    "use_gemm",
    "WIDE_TILES",
    "VectorType",
]
