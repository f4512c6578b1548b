"""ROOT's symmetric eigen-decomposition and principal component analysis, operation for operation.

:func:`sym_eigen` follows ``TMatrixDSymEigen`` (Householder tridiagonalisation, the JAMA/EISPACK ``tred2``,
then the implicit QL iteration ``tql2``, then a selection sort by decreasing eigenvalue), so eigenvalues and
eigenvectors, including each eigenvector's sign, come out as ROOT computes them. :func:`principal_components`
follows ``TPrincipal`` as TMVA's ``VariablePCATransform`` uses it (no normalisation option): running means
and covariance updated row by row (``AddRow``), the covariance divided by its trace (``MakeNormalised``),
then ``TMatrixDSymEigen``. :func:`covariance_matrices` and :func:`sqrt_inverse_matrix` follow TMVA's
Decorrelation (``Tools::CalcCovarianceMatrices`` and ``Tools::GetSQRootMatrix``: ``TMatrixDSymEigen``, ROOT's
row-by-column matrix products, then ``TMatrixD::Invert``, i.e. ``TDecompLU::InvertLU`` with Crout's
implicitly pivoted decomposition).

The floating-point operations are the same as ROOT's and in the same order; the kernels are compiled
without fast-math so no fused multiply-add or reassociation changes a rounding.

Example:
    >>> vals, vecs = sym_eigen([[2.0, 1.0], [1.0, 2.0]])
    >>> vals
    array([3., 1.])
    >>> np.round(vecs, 6)
    array([[ 0.707107,  0.707107],
           [ 0.707107, -0.707107]])
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit

from tmvacompat.errors import InputDataError

__all__ = ["covariance_matrices", "principal_components", "sqrt_inverse_matrix", "sym_eigen"]

_MAX_QL_ITERATIONS = 30


@njit(cache=True)
def _tridiagonalize(v, d, e):  # pragma: no cover - compiled
    """tred2 on v (n x n, overwritten with the accumulated transformation); d diagonal, e sub-diagonal."""
    n = v.shape[0]
    for j in range(n):
        d[j] = v[n - 1, j]
    for i in range(n - 1, 0, -1):
        scale = 0.0
        h = 0.0
        for k in range(i):
            scale = scale + abs(d[k])
        if scale == 0.0:
            e[i] = d[i - 1]
            for j in range(i):
                d[j] = v[i - 1, j]
                v[i, j] = 0.0
                v[j, i] = 0.0
        else:
            for k in range(i):
                d[k] /= scale
                h += d[k] * d[k]
            f = d[i - 1]
            g = math.sqrt(h)
            if f > 0:
                g = -g
            e[i] = scale * g
            h = h - f * g
            d[i - 1] = f - g
            for j in range(i):
                e[j] = 0.0
            for j in range(i):
                f = d[j]
                v[j, i] = f
                g = e[j] + v[j, j] * f
                for k in range(j + 1, i):
                    g += v[k, j] * d[k]
                    e[k] += v[k, j] * f
                e[j] = g
            f = 0.0
            for j in range(i):
                e[j] /= h
                f += e[j] * d[j]
            hh = f / (h + h)
            for j in range(i):
                e[j] -= hh * d[j]
            for j in range(i):
                f = d[j]
                g = e[j]
                for k in range(j, i):
                    v[k, j] -= f * e[k] + g * d[k]
                d[j] = v[i - 1, j]
                v[i, j] = 0.0
        d[i] = h
    for i in range(n - 1):
        v[n - 1, i] = v[i, i]
        v[i, i] = 1.0
        h = d[i + 1]
        if h != 0.0:
            for k in range(i + 1):
                d[k] = v[k, i + 1] / h
            for j in range(i + 1):
                g = 0.0
                for k in range(i + 1):
                    g += v[k, i + 1] * v[k, j]
                for k in range(i + 1):
                    v[k, j] -= g * d[k]
        for k in range(i + 1):
            v[k, i + 1] = 0.0
    for j in range(n):
        d[j] = v[n - 1, j]
        v[n - 1, j] = 0.0
    v[n - 1, n - 1] = 1.0
    e[0] = 0.0


@njit(cache=True)
def _ql_eigen(v, d, e, max_iter):  # pragma: no cover - compiled
    """tql2: diagonalise the tridiagonal (d, e), rotating v; sort by decreasing eigenvalue.

    Returns the number of eigenvalues whose iteration hit ``max_iter`` (ROOT reports an error and goes on).
    """
    n = v.shape[0]
    for i in range(1, n):
        e[i - 1] = e[i]
    e[n - 1] = 0.0
    failed = 0
    f = 0.0
    tst1 = 0.0
    eps = 2.0**-52
    for l in range(n):  # noqa: E741 - the algorithm's name for the index
        tst1 = max(tst1, abs(d[l]) + abs(e[l]))
        m = l
        while m < n - 1:  # e[n-1] is 0, so the search always stops at n-1 at the latest
            if abs(e[m]) <= eps * tst1:
                break
            m += 1
        if m > l:
            it = 0
            while True:
                if it == max_iter:
                    failed += 1
                    break
                it += 1
                g = d[l]
                p = (d[l + 1] - g) / (2.0 * e[l])
                r = math.hypot(p, 1.0)
                if p < 0:
                    r = -r
                d[l] = e[l] / (p + r)
                d[l + 1] = e[l] * (p + r)
                dl1 = d[l + 1]
                h = g - d[l]
                for i in range(l + 2, n):
                    d[i] -= h
                f = f + h
                p = d[m]
                c = 1.0
                c2 = c
                c3 = c
                el1 = e[l + 1]
                s = 0.0
                s2 = 0.0
                for i in range(m - 1, l - 1, -1):
                    c3 = c2
                    c2 = c
                    s2 = s
                    g = c * e[i]
                    h = c * p
                    r = math.hypot(p, e[i])
                    e[i + 1] = s * r
                    s = e[i] / r
                    c = p / r
                    p = c * d[i] - s * g
                    d[i + 1] = h + s * (c * g + s * d[i])
                    for k in range(n):
                        h = v[k, i + 1]
                        v[k, i + 1] = s * v[k, i] + c * h
                        v[k, i] = c * v[k, i] - s * h
                p = -s * s2 * c3 * el1 * e[l] / dl1
                e[l] = s * p
                d[l] = c * p
                if not abs(e[l]) > eps * tst1:
                    break
        d[l] = d[l] + f
        e[l] = 0.0
    for i in range(n - 1):
        k = i
        p = d[i]
        for j in range(i + 1, n):
            if d[j] > p:
                k = j
                p = d[j]
        if k != i:
            d[k] = d[i]
            d[i] = p
            for j in range(n):
                p = v[j, i]
                v[j, i] = v[j, k]
                v[j, k] = p
    return failed


@njit(cache=True)
def _add_rows(x, mean, cov):  # pragma: no cover - compiled
    """TPrincipal::AddRow for each row of x in order: running mean and lower-triangle covariance."""
    nvar = x.shape[1]
    for r in range(x.shape[0]):
        if r == 0:
            for i in range(nvar):
                mean[i] = x[0, i]
            continue
        npts = float(r + 1)
        invnp = 1.0 / npts
        invnpm1 = 1.0 / (npts - 1.0)
        cor = 1.0 - invnp
        for i in range(nvar):
            mean[i] *= cor
            mean[i] += x[r, i] * invnp
            t1 = (x[r, i] - mean[i]) * invnpm1
            for j in range(i + 1):
                cov[i, j] *= cor
                cov[i, j] += t1 * (x[r, j] - mean[j])


def _square(a, what: str) -> np.ndarray:
    try:
        m = np.array(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"{what} must be a numeric matrix ({exc})", expected=["an (n, n) float array"]
        ) from None
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise InputDataError(f"{what} must be a non-empty square matrix, got shape {m.shape}",
                             expected=["shape (n, n)"])  # fmt: skip
    if not np.all(np.isfinite(m)):
        raise InputDataError(f"{what} has non-finite entries (NaN or inf)", expected=["finite values"])
    return m


def sym_eigen(a) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of a real symmetric matrix as ROOT's ``TMatrixDSymEigen`` gives them.

    Only the lower triangle of ``a`` is read, as by ROOT. Returns ``(values, vectors)``: ``values`` sorted in
    decreasing order, ``vectors[:, i]`` the eigenvector of ``values[i]`` with ROOT's sign.

    >>> vals, vecs = sym_eigen(np.diag([1.0, 3.0, 2.0]))
    >>> vals
    array([3., 2., 1.])
    >>> vecs
    array([[0., 0., 1.],
           [1., 0., 0.],
           [0., 1., 0.]])
    """
    v = _square(a, "the matrix to diagonalise")
    n = v.shape[0]
    d = np.zeros(n)
    e = np.zeros(n)
    _tridiagonalize(v, d, e)
    failed = _ql_eigen(v, d, e, _MAX_QL_ITERATIONS)
    if failed:
        warnings.warn(
            f"TMatrixDSymEigen's QL iteration did not converge for {failed} eigenvalue(s) in "
            f"{_MAX_QL_ITERATIONS} steps (ROOT goes on with the values reached)",
            stacklevel=2,
        )
    return d, v


def principal_components(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``TPrincipal(n, "")`` fed the rows of ``x`` in order, then ``MakePrincipals()``.

    Returns ``(means, eigenvalues, eigenvectors)`` as ``GetMeanValues``, ``GetEigenValues`` and
    ``GetEigenVectors`` do: the eigenvalues are those of the covariance matrix divided by its trace (made
    non-negative), ``eigenvectors[:, i]`` the i-th principal axis. Rows are taken as doubles; TMVA passes
    its float events, so give float32 values to reproduce TMVA.

    >>> x = np.array([[0.0, 0.0], [2.0, 2.0], [1.0, 0.0], [1.0, 2.0]])
    >>> means, values, vectors = principal_components(x)
    >>> means, np.round(values, 6)
    (array([1., 1.]), array([0.872678, 0.127322]))
    >>> np.round(vectors, 6)
    array([[ 0.525731, -0.850651],
           [ 0.850651,  0.525731]])
    """
    xd = _rows(x)
    n = xd.shape[1]
    mean = np.zeros(n)
    cov = np.zeros((n, n))
    _add_rows(xd, mean, cov)
    # MakeNormalised without the 'N' option: only the division by the trace
    trace = 0.0
    for i in range(n):
        trace += cov[i, i]
    if not trace > 0.0:
        raise InputDataError(
            f"the {xd.shape[0]} rows have no spread (covariance trace {trace}): every input is constant, "
            "and TPrincipal would divide by zero",
            expected=["at least two rows with different values"],
        )
    low = np.tril_indices(n)
    cov[low] /= trace
    cov.T[low] = cov[low]
    values, vectors = sym_eigen(cov)
    return mean, np.abs(values), vectors


def _rows(x) -> np.ndarray:
    try:
        xd = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputDataError(
            f"PCA input must be numeric ({exc})", expected=["an (nrows, nvar) float array"]
        ) from None
    if xd.ndim != 2 or xd.shape[1] < 2 or xd.shape[0] == 0:
        raise InputDataError(f"PCA input must have shape (nrows, nvar) with nvar >= 2, got {xd.shape}",
                             expected=["(nrows, nvar), nvar >= 2"])  # fmt: skip
    if not np.all(np.isfinite(xd)):
        bad = np.argwhere(~np.isfinite(xd))[0]
        raise InputDataError(f"PCA input has a non-finite value at row {bad[0]}, column {bad[1]}",
                             expected=["finite values"])  # fmt: skip
    return np.ascontiguousarray(xd)


@njit(cache=True)
def _accumulate(x, w, cls, sums, squares, counts):  # pragma: no cover - compiled
    """Weighted sums of x and of x x^T per set: set cls[r], plus the last set for all events when there are
    several; event by event, the upper triangle mirrored, as CalcCovarianceMatrices."""
    n_sets = sums.shape[0]
    nvar = x.shape[1]
    for r in range(x.shape[0]):
        weight = w[r]
        for pass_ in range(2):
            if pass_ == 0:
                if n_sets == 1:
                    continue
                k = n_sets - 1
            else:
                k = cls[r]
            counts[k] += weight
            for i in range(nvar):
                xi = x[r, i]
                sums[k, i] += xi * weight
                squares[k, i, i] += xi * xi * weight
                for j in range(i + 1, nvar):
                    squares[k, i, j] += xi * x[r, j] * weight
                    squares[k, j, i] = squares[k, i, j]


def covariance_matrices(x, weights, class_ids, n_classes: int) -> np.ndarray:
    """Weighted covariance matrices as TMVA's ``Tools::CalcCovarianceMatrices`` computes them.

    One matrix per class, plus one for all events (last) when ``n_classes > 1``:
    ``C = sum(w x x^T) / sum(w) - sum(w x) sum(w x)^T / sum(w)^2``, summed event by event in double
    precision from the given values (TMVA passes its float inputs).

    >>> x = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> covariance_matrices(x, np.ones(2), np.zeros(2, int), 1)[0]
    array([[1., 1.],
           [1., 1.]])
    """
    xd = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    wd = np.ascontiguousarray(np.asarray(weights, dtype=np.float64))
    cls = np.ascontiguousarray(np.asarray(class_ids, dtype=np.int64))
    n_sets = 1 if n_classes <= 1 else n_classes + 1
    nvar = xd.shape[1]
    sums = np.zeros((n_sets, nvar))
    squares = np.zeros((n_sets, nvar, nvar))
    counts = np.zeros(n_sets)
    if n_sets == 1:
        cls = np.zeros_like(cls)
    _accumulate(xd, wd, cls, sums, squares, counts)
    n = counts[:, None, None]
    return squares / n - sums[:, :, None] * sums[:, None, :] / (n * n)


@njit(cache=True)
def _mult(a, b):  # pragma: no cover - compiled
    """ROOT's TMatrixD product (AMultB, and operator*= alike): each element summed over k in order from 0."""
    n, m = a.shape[0], b.shape[1]
    c = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            cij = 0.0
            for k in range(a.shape[1]):
                cij += a[i, k] * b[k, j]
            c[i, j] = cij
    return c


@njit(cache=True)
def _invert_lu(lu, tol):  # pragma: no cover - compiled
    """In-place inverse by TDecompLU::InvertLU (Crout with implicit partial pivoting, inv(U), then inv(A)
    from inv(A) L = inv(U), then the column interchanges). Returns False when the matrix is singular
    (a zero pivot or a pivot below ``tol``), in which case ROOT leaves the matrix unchanged."""
    n = lu.shape[0]
    index = np.zeros(n, np.int64)
    scale = np.zeros(n)
    for i in range(n):
        mx = 0.0
        for j in range(n):
            t = abs(lu[i, j])
            if t > mx:
                mx = t
        scale[i] = 0.0 if mx == 0.0 else 1.0 / mx
    small = 0
    for j in range(n):
        for i in range(j):
            r = lu[i, j]
            for k in range(i):
                r -= lu[i, k] * lu[k, j]
            lu[i, j] = r
        mx = 0.0
        imax = 0
        for i in range(j, n):
            r = lu[i, j]
            for k in range(j):
                r -= lu[i, k] * lu[k, j]
            lu[i, j] = r
            t = scale[i] * abs(r)
            if t >= mx:
                mx = t
                imax = i
        if j != imax:
            for k in range(n):
                t = lu[imax, k]
                lu[imax, k] = lu[j, k]
                lu[j, k] = t
            scale[imax] = scale[j]
        index[j] = imax
        if lu[j, j] == 0.0:
            return False
        if abs(lu[j, j]) < tol:
            small += 1
        if j != n - 1:
            t = 1.0 / lu[j, j]
            for i in range(j + 1, n):
                lu[i, j] *= t
    if small > 0:
        return False
    # inv(U), column by column
    for j in range(n):
        lu[j, j] = 1.0 / lu[j, j]
        neg = -lu[j, j]
        for k in range(j):
            if lu[k, j] != 0.0:
                t = lu[k, j]
                for i in range(k):
                    lu[i, j] += t * lu[i, k]
                lu[k, j] *= lu[k, k]
        for k in range(j):
            lu[k, j] *= neg
    # inv(A) L = inv(U), last column first
    work = np.zeros(n)
    for j in range(n - 1, -1, -1):
        for i in range(j + 1, n):
            work[i] = lu[i, j]
            lu[i, j] = 0.0
        if j < n - 1:
            for r in range(n):
                s = 0.0
                for c in range(j + 1, n):
                    s += lu[r, c] * work[c]
                lu[r, j] = -s + lu[r, j]
    for j in range(n - 1, -1, -1):
        p = index[j]
        if p != j:
            for i in range(n):
                t = lu[i, p]
                lu[i, p] = lu[i, j]
                lu[i, j] = t
    return True


def sqrt_inverse_matrix(cov) -> np.ndarray:
    """The inverse square root ``C^(-1/2)`` of a covariance matrix as TMVA's ``Tools::GetSQRootMatrix``
    computes it: ``S`` the eigenvectors of ``TMatrixDSymEigen``, ``D = S^T C S`` made exactly diagonal,
    ``(S sqrt(D) S^T)`` inverted by ``TMatrixD::Invert``.

    Raises InputDataError when the matrix is not positive definite (TMVA would warn and then divide by
    zero or take the root of a negative number).

    >>> np.round(sqrt_inverse_matrix(np.diag([4.0, 9.0])), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    array([[0.5     , 0.      ],
           [0.      , 0.333333]])
    """
    c = _square(cov, "the covariance matrix")
    values, s = sym_eigen(c)
    if not np.all(values > 0):
        raise InputDataError(
            f"the covariance matrix is not positive definite (eigenvalues {values}): a variable is constant "
            "or a linear combination of others, so it cannot be decorrelated",
            expected=["linearly independent, non-constant variables"],
        )
    si = np.ascontiguousarray(s.T)
    d = _mult(_mult(si, c), s)
    root = np.diag(np.sqrt(np.diag(d)))
    m = _mult(_mult(s, root), si)
    if not _invert_lu(m, np.finfo(np.float64).eps):
        raise InputDataError("the square root of the covariance matrix is singular: it cannot be inverted",
                             expected=["linearly independent, non-constant variables"])  # fmt: skip
    return m
