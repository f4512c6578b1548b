"""The SIMD matrix product (tmvacompat.engine.gemm) against numpy in float64, for the shapes the engine uses
and every edge (row and column remainders, narrow outputs, empty products), and its shape independence."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from tmvacompat.engine.activations import fma
from tmvacompat.engine.gemm import (
    gemm,
    gemm_nn,
    gemm_nt,
    gemm_panels,
    gemm_panels_6,
    gemm_panels_12,
    gemm_tn,
    gemv_narrow,
    gemv_panels,
    pack_panels,
    panel_width,
)

SHAPES = [(32, 128, 128), (5, 20, 7), (128, 20, 32), (1, 16, 3), (7, 33, 129), (3, 1, 130), (9, 7, 5),
          (4, 8, 0), (0, 16, 4), (64, 128, 20), (17, 17, 17), (9, 40, 600), (128, 20, 1024)]  # fmt: skip


def _product(A, B, transposed_a=False):
    M, K = A.shape
    N = B.shape[1]
    # seven guard rows after C: a tile that stored rows past M (its last block's unused rows) shows there
    buf = np.full((M + 7, N), np.nan, A.dtype)
    C = buf[:M]
    if transposed_a:  # read A from its transpose stored row-major: A[i, k] at AT[k, i]
        AT = np.ascontiguousarray(A.T)
        gemm(M, N, K, AT.ravel(), 0, 1, M, B.ravel(), 0, N, buf.ravel(), 0, N)
    else:
        gemm(M, N, K, A.ravel(), 0, K, 1, B.ravel(), 0, N, buf.ravel(), 0, N)
    assert np.isnan(buf[M:]).all(), "gemm wrote past the last row"
    return C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_gemm_matches_numpy(dtype, shape):
    M, N, K = shape
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    A = rng.standard_normal((M, K)).astype(dtype)
    B = rng.standard_normal((K, N)).astype(dtype)
    truth = A.astype(np.float64) @ B.astype(np.float64)
    tol = (2e-6 if dtype == np.float32 else 1e-14) * max(K, 1) ** 0.5 * 4
    for transposed in (False, True):
        C = _product(A, B, transposed)
        np.testing.assert_allclose(C, truth, rtol=0, atol=tol)


def test_offsets_and_strides_address_sub_blocks():
    # C's rows 2..5, columns 3..19 of a bigger array, from operands at offsets in bigger buffers
    rng = np.random.default_rng(1)
    A = rng.standard_normal((4, 9)).astype(np.float32)
    B = rng.standard_normal((9, 17)).astype(np.float32)
    abuf = np.concatenate([np.full(5, np.nan, np.float32), A.ravel()])
    bbuf = np.concatenate([np.full(3, np.nan, np.float32), B.ravel()])
    big = np.zeros((8, 24), np.float32)
    gemm(4, 17, 9, abuf, 5, 9, 1, bbuf, 3, 17, big.ravel(), 2 * 24 + 3, 24)
    np.testing.assert_allclose(big[2:6, 3:20], A.astype(np.float64) @ B, atol=1e-5)
    assert not big[:2].any() and not big[6:].any() and not big[:, :3].any() and not big[:, 20:].any()


def test_each_element_is_independent_of_the_block_it_is_computed_in():
    # wide products compute every element with the same ordered fused multiply-adds: a product split into
    # row blocks, or computed as part of a wider one, gives the same bits (what makes the engine's small-
    # and large-batch paths and the fused and generic layers agree)
    rng = np.random.default_rng(2)
    A = rng.standard_normal((37, 700)).astype(np.float32)  # > KC: the inner dimension runs in slices
    B = rng.standard_normal((700, 40)).astype(np.float32)
    whole = _product(A, B)
    rows = np.vstack([_product(A[i : i + 5], B) for i in range(0, 37, 5)])
    np.testing.assert_array_equal(whole, rows)
    np.testing.assert_array_equal(whole, _product(A, B, transposed_a=True))
    cols = _product(A, np.ascontiguousarray(B[:, :16]))
    np.testing.assert_array_equal(whole[:, :16], cols)


def test_a_non_finite_input_stays_in_its_row():
    # one row of A holds an inf: only that row's results may be non-finite, in the wide and narrow paths
    rng = np.random.default_rng(3)
    for N in (1, 40):
        A = rng.standard_normal((6, 9))
        A[0, 0] = np.inf
        B = rng.standard_normal((9, N))
        C = _product(A, B)
        assert np.isfinite(C[1:]).all()
        np.testing.assert_allclose(C[1:], A[1:] @ B, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_engines_unit_stride_kernels_equal_gemm(dtype):
    # gemm_nn / gemm_tn (the engine's products, unit stride compiled in, wide results only) give gemm's bits
    rng = np.random.default_rng(4)
    for M, N, K in ((32, 128, 128), (7, 33, 300), (5, 16, 1), (3, 20, 0), (0, 20, 4)):
        A = rng.standard_normal((M, K)).astype(dtype)
        B = rng.standard_normal((K, N)).astype(dtype)
        AT = np.ascontiguousarray(A.T)
        want = _product(A, B)
        for fn, a, lda in ((gemm_nn, A, K), (gemm_tn, AT, M)):
            C = np.full((M, N), np.nan, dtype)
            fn(M, N, K, a.ravel(), 0, lda, B.ravel(), 0, N, C.ravel(), 0, N)
            np.testing.assert_array_equal(C, want)
    # narrower results are gemm's (its dot-product path), not theirs
    A, B, C = np.ones(8, dtype), np.ones(8, dtype), np.zeros(4, dtype)
    for fn in (gemm_nn, gemm_tn):
        with pytest.raises(ValueError, match="narrower than two vectors"):
            fn(2, 2, 4, A, 0, 4, B, 0, 2, C, 0, 2)


@njit(cache=True)
def _gemv(x, xo, P, wo, bo, m, k, z, zo):
    gemv_narrow(x, xo, P, wo, bo, m, k, z, zo)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k", [(1, 128), (1, 3), (3, 20), (7, 37), (15, 8), (2, 1)])
def test_gemv_narrow_matches_float64_sums(dtype, m, k):
    # one event through a narrow layer, read and written at flat offsets inside larger arrays
    rng = np.random.default_rng(m * 100 + k)
    W = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=m).astype(dtype)
    P = np.concatenate([rng.normal(size=5), W.ravel(), b]).astype(dtype)  # weights at 5, biases after
    x = rng.normal(size=(3, k)).astype(dtype)  # the event is row 1
    z = np.full((2, m + 4), np.nan, dtype)  # the result goes to row 1, columns 2..2+m
    _gemv(x, k, P, 5, 5 + m * k, m, k, z, (m + 4) + 2)
    want = W.astype(np.float64) @ x[1].astype(np.float64) + b
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(z[1, 2 : 2 + m], want, rtol=tol, atol=tol * np.sqrt(k))
    assert np.isnan(z[0]).all() and np.isnan(z[1, :2]).all() and np.isnan(z[1, 2 + m :]).all()


@njit(cache=True)
def _panels(rows, m, k, A, Q, oq, P, ob, C):
    gemm_panels(rows, m, k, A, Q, oq, P, ob, C)


@njit(cache=True)
def _panels_6(rows, m, k, A, Q, oq, P, ob, C):
    gemm_panels_6(rows, m, k, A, Q, oq, P, ob, C)


@njit(cache=True)
def _panels_12(rows, m, k, A, Q, oq, P, ob, C):
    gemm_panels_12(rows, m, k, A, Q, oq, P, ob, C)


#: both tiles, whichever this machine's gemm_panels picks (on a CPU without AVX-512 LLVM runs the 512-bit
#: vectors as pairs of narrower ones: slower, the same bits)
PANEL_KERNELS = {"dispatch": _panels, "tile6": _panels_6, "tile12": _panels_12}
MIN_ROWS = {"dispatch": 6, "tile6": 6, "tile12": 12}


@njit(cache=True)
def _fma_chains(A, Wt, b):
    """The reference for gemm_panels: per element the bias, then one fused multiply-add per input in order."""
    out = np.empty((A.shape[0], Wt.shape[1]), A.dtype)
    for i in range(A.shape[0]):
        for j in range(Wt.shape[1]):
            s = b[j]
            for kk in range(A.shape[1]):
                s = fma(A[i, kk], Wt[kk, j], s)
            out[i, j] = s
    return out


def _panel_layer(rng, dtype, rows, m, k):
    """A dense layer's operands as dense_infer lays them out: the packed weights and biases at offsets
    inside bigger parameter arrays, the result in a NaN-filled matrix."""
    A = rng.standard_normal((rows, k)).astype(dtype)
    Wt = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    Q = np.concatenate([np.full(3, np.nan, dtype), pack_panels(Wt)])
    P = np.concatenate([np.full(5, np.nan, dtype), b])
    return A, Wt, b, Q, P


@pytest.mark.parametrize("kernel", list(PANEL_KERNELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,m,k", [(6, 16, 1), (7, 17, 3), (8, 128, 20), (13, 40, 128), (37, 33, 129),
                                      (12, 8, 5), (6, 9, 64), (12, 16, 7), (25, 128, 128)])  # fmt: skip
def test_gemm_panels_is_the_ordered_fma_chain_of_every_element(kernel, dtype, rows, m, k):
    # bit for bit the bias followed by the inputs' fused multiply-adds in order, with either tile: every
    # row and column remainder (overlapping last row block and panel) lands on the right element; and
    # near float64 numpy
    if m < panel_width(dtype) or rows < MIN_ROWS[kernel]:
        return
    rng = np.random.default_rng(rows * 1000 + m * 10 + k)
    A, Wt, b, Q, P = _panel_layer(rng, dtype, rows, m, k)
    C = np.full((rows, m), np.nan, dtype)
    PANEL_KERNELS[kernel](rows, m, k, A, Q, 3, P, 5, C)
    np.testing.assert_array_equal(C, _fma_chains(A, Wt, b))
    truth = A.astype(np.float64) @ Wt.astype(np.float64) + b
    tol = (2e-6 if dtype == np.float32 else 1e-14) * k**0.5 * 4
    np.testing.assert_allclose(C, truth, rtol=0, atol=tol)


def test_gemm_panels_rows_do_not_depend_on_their_block():
    # a row gives the same bits alone in a block of six, in the overlapping last block, or in a long product:
    # dense_infer's chunks and thread blocks cannot change results
    rng = np.random.default_rng(7)
    A, Wt, b, Q, P = _panel_layer(rng, np.float32, 23, 48, 70)
    whole = np.empty((23, 48), np.float32)
    _panels(23, 48, 70, A, Q, 3, P, 5, whole)
    for start in range(0, 18, 5):
        part = np.empty((6, 48), np.float32)
        _panels(6, 48, 70, np.ascontiguousarray(A[start : start + 6]), Q, 3, P, 5, part)
        np.testing.assert_array_equal(part, whole[start : start + 6])


@njit(cache=True)
def _gemv_panels(rows, m, k, A, Q, oq, P, ob, C):
    gemv_panels(rows, m, k, A, Q, oq, P, ob, C)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,m,k", [(1, 16, 1), (1, 17, 3), (2, 33, 20), (1, 48, 7), (3, 64, 128),
                                      (1, 100, 129), (5, 128, 20), (7, 130, 40), (1, 9, 64)])  # fmt: skip
def test_gemv_panels_is_the_ordered_fma_chain_of_every_element(dtype, rows, m, k):
    # the few-row path: one to three panels (the spare accumulators redo the last), four, more than four
    # with an overlapping last block of panels, a last panel that overlaps the one before; bit for bit the
    # ordered chain, so it equals gemm_panels wherever a row is computed
    if m < panel_width(dtype):
        return
    rng = np.random.default_rng(rows * 1000 + m * 10 + k)
    A, Wt, b, Q, P = _panel_layer(rng, dtype, rows, m, k)
    C = np.full((rows + 1, m), np.nan, dtype)  # a guard row after the product stays untouched
    _gemv_panels(rows, m, k, A, Q, 3, P, 5, C)
    np.testing.assert_array_equal(C[:rows], _fma_chains(A, Wt, b))
    assert np.isnan(C[rows]).all()
    if rows >= 6:
        G = np.empty((rows, m), dtype)
        _panels(rows, m, k, A, Q, 3, P, 5, G)
        np.testing.assert_array_equal(C[:rows], G)


def test_pack_panels_layout_and_its_limit():
    wt = np.arange(3 * 20, dtype=np.float32).reshape(3, 20)
    q = pack_panels(wt).reshape(2, 3, 16)
    np.testing.assert_array_equal(q[0], wt[:, :16])
    np.testing.assert_array_equal(q[1], wt[:, 4:])  # the last panel ends at the last column
    assert pack_panels(wt.astype(np.float64)).size == 3 * 3 * 8
    with pytest.raises(ValueError, match="fewer than a panel"):
        pack_panels(wt[:, :15])


@pytest.mark.parametrize("M,N,K", [(6, 16, 1), (7, 40, 20), (11, 16, 128), (32, 33, 128), (13, 128, 256),
                                   (13, 17, 257), (5, 16, 9)])  # fmt: skip
def test_gemm_is_the_ordered_fma_chain_of_every_element(M, N, K):
    # six-row tiles (one pass over K, the last tile overlapping), four-row and single-row tiles (slices of K
    # beyond KC, fewer than six rows) and the overlapping last column block all give each element the
    # chain 0 + a_0 b_0 + a_1 b_1 + ... in order, one rounding per term, in both of A's layouts
    rng = np.random.default_rng(M * 7 + N * 3 + K)
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    want = _fma_chains(A, B, np.zeros(N, np.float32))
    for transposed in (False, True):
        np.testing.assert_array_equal(_product(A, B, transposed), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,N,K", [(1, 1, 1), (8, 9, 31), (3, 2, 32), (8, 9, 25088), (2, 5, 4100), (1, 3, 0)])
def test_gemm_nt_is_a_b_transposed(dtype, M, N, K):
    # dot products of rows at offsets and row strides: whole groups of vectors, their tail, several slices
    # of the inner dimension (25088, 4100 > KC_NT); near float64 numpy, and each element the same bits
    # whichever other rows are in the product (a convolution's gradient does not depend on its chunk)
    rng = np.random.default_rng(M * 100 + N * 10 + K)
    lda, ldb = K + 3, K + 5
    A = rng.standard_normal(2 + M * lda).astype(dtype)
    B = rng.standard_normal(1 + N * ldb).astype(dtype)
    C = np.full(4 + M * (N + 2), np.nan, dtype)
    gemm_nt(M, N, K, A, 2, lda, B, 1, ldb, C, 4, N + 2)
    got = C[4:].reshape(M, N + 2)
    a = A[2:].reshape(M, lda)[:, :K].astype(np.float64)
    b = B[1:].reshape(N, ldb)[:, :K].astype(np.float64)
    tol = (4e-6 if dtype == np.float32 else 1e-13) * max(K, 1) ** 0.5 * 4
    np.testing.assert_allclose(got[:, :N], a @ b.T, rtol=0, atol=tol)
    assert np.isnan(got[:, N:]).all() and np.isnan(C[:4]).all()  # nothing written past its elements
    if M > 1 and N > 1:
        one = np.empty(1, dtype)
        gemm_nt(1, 1, K, A, 2 + (M - 1) * lda, lda, B, 1 + (N - 1) * ldb, ldb, one, 0, 1)
        assert one[0] == got[M - 1, N - 1]
