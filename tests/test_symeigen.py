"""ROOT's TMatrixDSymEigen and TPrincipal ported to numpy/Numba (tmvacompat.data.symeigen).

Truths: real ROOT (PyROOT's ``TMatrixDSymEigen`` and ``TPrincipal``, compared bit for bit, eigenvector
signs included) and, where ROOT is absent, the defining equations A V = V D, V^T V = 1 and numpy's
eigenvalues.
"""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.data.symeigen import principal_components, sym_eigen
from tmvacompat.errors import InputDataError


def _root():
    root = pytest.importorskip("ROOT", reason="real ROOT (PyPI package 'root') is needed as the truth")
    return root


def _root_sym_eigen(ROOT, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = a.shape[0]
    m = ROOT.TMatrixDSym(n)
    for i in range(n):
        for j in range(n):
            m[i][j] = float(a[i, j])
    eig = ROOT.TMatrixDSymEigen(m)
    vals, vecs = eig.GetEigenValues(), eig.GetEigenVectors()
    return (np.array([vals[i] for i in range(n)]),
            np.array([[vecs[i][j] for j in range(n)] for i in range(n)]))  # fmt: skip


def _root_principal(ROOT, x: np.ndarray):
    n = x.shape[1]
    p = ROOT.TPrincipal(n, "")
    for row in np.ascontiguousarray(x, np.float64):
        p.AddRow(row)
    p.MakePrincipals()
    m, v, e = p.GetMeanValues(), p.GetEigenValues(), p.GetEigenVectors()
    return (np.array([m[i] for i in range(n)]), np.array([v[i] for i in range(n)]),
            np.array([[e[i][j] for j in range(n)] for i in range(n)]), p)  # fmt: skip


def _matrices():
    """Symmetric test matrices: random, positive definite, and degenerate ones (ties, zeros, rank 1)."""
    rng = np.random.default_rng(11)
    out = []
    for n in (1, 2, 3, 4, 5, 7, 10, 16):
        a = rng.normal(size=(n, n))
        out.append(a + a.T)  # indefinite
        out.append(a @ a.T / n)  # positive definite, like a covariance matrix
    out += [
        np.eye(4),  # all eigenvalues equal
        np.zeros((3, 3)),
        np.diag([1.0, 3.0, 3.0, 2.0]),  # already diagonal, with a tie
        np.outer([1.0, 2.0, -1.0], [1.0, 2.0, -1.0]),  # rank 1
        np.array([[1.0, 1e-12, 0.0], [1e-12, 1.0, 1e-9], [0.0, 1e-9, 1.0]]),  # nearly equal eigenvalues
        np.array([[4.0, 0.0, 2.0], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0]]),  # zero row (a constant variable)
        np.array([[1e8, 3.0], [3.0, 1e-8]]),  # wildly different scales
    ]
    return out


# --------------------------------------------------------------------------------------------------
# TMatrixDSymEigen
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a", _matrices(), ids=lambda a: f"{a.shape[0]}x{a.shape[0]}")
def test_sym_eigen_is_root_bit_for_bit(a):
    ROOT = _root()
    vals, vecs = _root_sym_eigen(ROOT, a)
    d, v = sym_eigen(a)
    np.testing.assert_array_equal(d, vals)
    np.testing.assert_array_equal(v, vecs)  # signs included


def test_sym_eigen_random_matrices_against_root():
    ROOT = _root()
    rng = np.random.default_rng(5)
    for _ in range(60):
        n = int(rng.integers(2, 9))
        a = rng.normal(size=(n, n)) * rng.uniform(0.01, 100, size=n)
        a = a @ a.T if rng.random() < 0.5 else a + a.T
        vals, vecs = _root_sym_eigen(ROOT, a)
        d, v = sym_eigen(a)
        assert np.array_equal(d, vals) and np.array_equal(v, vecs), a


@pytest.mark.parametrize("a", _matrices(), ids=lambda a: f"{a.shape[0]}x{a.shape[0]}")
def test_sym_eigen_solves_the_eigenproblem(a):
    d, v = sym_eigen(a)
    scale = max(1.0, np.abs(a).max())
    np.testing.assert_allclose(a @ v, v * d, atol=1e-9 * scale)
    np.testing.assert_allclose(v.T @ v, np.eye(a.shape[0]), atol=1e-12)
    assert np.all(np.diff(d) <= 0)  # decreasing
    np.testing.assert_allclose(d, np.sort(np.linalg.eigvalsh(a))[::-1], atol=1e-9 * scale)


def test_sym_eigen_closed_form_2x2():
    d, v = sym_eigen([[2.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(d, [3.0, 1.0])
    s = np.sqrt(0.5)
    np.testing.assert_allclose(v, [[s, s], [s, -s]])  # ROOT's signs (tred2's reflection, then QL)


def test_sym_eigen_reads_only_the_lower_triangle():
    a = _matrices()[9]
    b = a.copy()
    b[np.triu_indices(a.shape[0], 1)] = 99.0
    for x, y in zip(sym_eigen(a), sym_eigen(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_sym_eigen_does_not_modify_its_input():
    a = np.array([[2.0, 1.0], [1.0, 2.0]])
    sym_eigen(a)
    np.testing.assert_array_equal(a, [[2.0, 1.0], [1.0, 2.0]])


@pytest.mark.parametrize(
    "bad, word",
    [(np.ones((2, 3)), "square"), (np.zeros((0, 0)), "square"),
     ([[1.0, np.nan], [np.nan, 1.0]], "non-finite"), ([["a", "b"], ["c", "d"]], "numeric")],
)  # fmt: skip
def test_sym_eigen_bad_input(bad, word):
    with pytest.raises(InputDataError, match=word):
        sym_eigen(bad)


# --------------------------------------------------------------------------------------------------
# TPrincipal
# --------------------------------------------------------------------------------------------------
def _samples():
    rng = np.random.default_rng(3)
    mix = np.array([[3.0, 1.0, 0.0, 0.2], [0.0, 1.0, 0.5, 0.0], [0.0, 0.0, 0.2, 0.1], [1.0, 0.0, 0.0, 2.0]])
    x = rng.normal(size=(700, 4)) @ mix + [10.0, -5.0, 0.0, 1e3]
    c = rng.normal(size=(300, 3))
    c[:, 1] = 7.0  # a constant variable: a zero eigenvalue
    return {
        "float32 events": x.astype(np.float32),
        "doubles": x,
        "constant variable": c,
        "two rows": x[:2],
        "integers": rng.integers(0, 5, size=(200, 3)).astype(np.float64),
    }


@pytest.mark.parametrize("name", list(_samples()))
def test_principal_components_is_root_bit_for_bit(name):
    ROOT = _root()
    x = _samples()[name]
    rm, rv, re, p = _root_principal(ROOT, x.astype(np.float64))
    mean, vals, vecs = principal_components(x)
    np.testing.assert_array_equal(mean, rm)
    np.testing.assert_array_equal(vals, rv)
    np.testing.assert_array_equal(vecs, re)
    # and the projection, TPrincipal::X2P
    row = np.ascontiguousarray(x[-1], np.float64)
    out = np.zeros(x.shape[1])
    p.X2P(row, out)
    mine = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        mine += (row[j] - mean[j]) * vecs[j]
    np.testing.assert_array_equal(mine, out)


def test_principal_components_closed_form():
    x = _samples()["doubles"]
    mean, vals, vecs = principal_components(x)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-12, atol=1e-9)
    cov = np.cov(x.T, bias=False)  # AddRow's running covariance has the 1/(n-1) normalisation
    np.testing.assert_allclose(vals, np.sort(np.linalg.eigvalsh(cov / np.trace(cov)))[::-1], rtol=1e-9)
    np.testing.assert_allclose(vals.sum(), 1.0, rtol=1e-12)
    # the columns diagonalise the sample covariance
    proj = vecs.T @ cov @ vecs
    np.testing.assert_allclose(proj - np.diag(np.diag(proj)), 0, atol=1e-9 * np.trace(cov))


@pytest.mark.parametrize(
    "bad, word",
    [(np.ones((5, 2)), "no spread"), (np.ones((1, 3)), "no spread"), (np.ones((4, 1)), "nvar >= 2"),
     (np.array([[1.0, np.inf], [2.0, 3.0]]), "row 0, column 1"), (np.ones(3), "shape")],
)  # fmt: skip
def test_principal_components_bad_input(bad, word):
    with pytest.raises(InputDataError, match=word):
        principal_components(bad)


# --------------------------------------------------------------------------------------------------
# TMVA's Decorrelation: covariance matrices and GetSQRootMatrix
# --------------------------------------------------------------------------------------------------
def _root_sqrt_inverse(ROOT, c: np.ndarray) -> np.ndarray:
    """GetSQRootMatrix's steps with ROOT's own classes: TMatrixDSymEigen, TMatrixD products, Invert."""
    n = c.shape[0]
    sym = ROOT.TMatrixDSym(n)
    for i in range(n):
        for j in range(n):
            sym[i][j] = float(c[i, j])
    eig = ROOT.TMatrixDSymEigen(sym)
    s = ROOT.TMatrixD(eig.GetEigenVectors())
    si = ROOT.TMatrixD(ROOT.TMatrixD.kTransposed, s)
    d = ROOT.TMatrixD(n, n)
    d.Mult(si, sym)
    d *= s
    for i in range(n):
        for j in range(n):
            if i != j:
                d[i][j] = 0.0
    for i in range(n):
        d[i][i] = float(np.sqrt(d[i][i]))
    out = ROOT.TMatrixD(n, n)
    out.Mult(s, d)
    out *= si
    out.Invert()
    return np.array([[out[i][j] for j in range(n)] for i in range(n)])


def test_sqrt_inverse_matrix_is_root_bit_for_bit():
    from tmvacompat.data.symeigen import sqrt_inverse_matrix

    ROOT = _root()
    rng = np.random.default_rng(21)
    for n in (1, 2, 3, 4, 5, 7, 10, 16):
        for _ in range(4):
            a = rng.normal(size=(n + 3, n)) * rng.uniform(0.1, 10, size=n)
            c = a.T @ a / (n + 3)
            np.testing.assert_array_equal(sqrt_inverse_matrix(c), _root_sqrt_inverse(ROOT, c))


def test_sqrt_inverse_matrix_is_the_inverse_square_root():
    from tmvacompat.data.symeigen import sqrt_inverse_matrix

    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 6))
    c = a.T @ a / 50
    m = sqrt_inverse_matrix(c)
    np.testing.assert_allclose(m @ c @ m.T, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(m, m.T, atol=1e-12)


def test_sqrt_inverse_matrix_refuses_a_singular_covariance():
    from tmvacompat.data.symeigen import sqrt_inverse_matrix

    with pytest.raises(InputDataError, match="not positive definite"):
        sqrt_inverse_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]))  # a constant variable
    with pytest.raises(InputDataError, match="not positive definite|singular"):
        sqrt_inverse_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))  # one variable twice (rounding decides)


_COVARIANCE_CXX = """
#include <vector>
// The weighted event loop of a covariance computation as TMVA documents it (one set per class plus one
// for all events when there are several classes), written out in C++ as a second implementation.
std::vector<double> tmvacompat_test_covariances(const std::vector<float>& x, const std::vector<double>& w,
                                                const std::vector<int>& cls, int nvar, int nclasses) {
   int nsets = nclasses > 1 ? nclasses + 1 : 1;
   std::vector<double> v(nsets * nvar, 0.0), m(nsets * nvar * nvar, 0.0), count(nsets, 0.0);
   int nev = (int)w.size();
   for (int e = 0; e < nev; ++e) {
      for (int pass = 0; pass < 2; ++pass) {
         int k;
         if (pass == 0) { if (nsets == 1) continue; k = nsets - 1; } else { k = nsets == 1 ? 0 : cls[e]; }
         count[k] += w[e];
         for (int i = 0; i < nvar; ++i) {
            double xi = x[e * nvar + i];
            v[k * nvar + i] += xi * w[e];
            m[(k * nvar + i) * nvar + i] += (xi * xi * w[e]);
            for (int j = i + 1; j < nvar; ++j) {
               double xj = x[e * nvar + j];
               m[(k * nvar + i) * nvar + j] += (xi * xj * w[e]);
               m[(k * nvar + j) * nvar + i] = m[(k * nvar + i) * nvar + j];
            }
         }
      }
   }
   std::vector<double> out(nsets * nvar * nvar);
   for (int k = 0; k < nsets; ++k)
      for (int i = 0; i < nvar; ++i)
         for (int j = 0; j < nvar; ++j)
            out[(k * nvar + i) * nvar + j] = m[(k * nvar + i) * nvar + j] / count[k]
                                             - v[k * nvar + i] * v[k * nvar + j] / (count[k] * count[k]);
   return out;
}
"""


def test_covariance_matrices_match_a_compiled_event_loop():
    from tmvacompat.data.symeigen import covariance_matrices

    ROOT = _root()
    if not hasattr(ROOT, "tmvacompat_test_covariances"):
        ROOT.gInterpreter.Declare(_COVARIANCE_CXX)
    rng = np.random.default_rng(8)
    for n_classes in (1, 3):
        x = rng.normal(size=(500, 4)).astype(np.float32)
        w = rng.uniform(0.2, 2.0, 500)
        cls = rng.integers(0, n_classes, 500).astype(np.int32)
        got = covariance_matrices(x, w, cls, n_classes)
        ref = ROOT.tmvacompat_test_covariances(
            ROOT.std.vector["float"](x.ravel().tolist()), ROOT.std.vector["double"](w.tolist()),
            ROOT.std.vector["int"](cls.tolist()), 4, n_classes,
        )  # fmt: skip
        np.testing.assert_array_equal(got.ravel(), np.array(list(ref)))
        # and the definition: weighted covariance per class, all classes last
        sets = [cls == k for k in range(n_classes)] + ([np.ones(500, bool)] if n_classes > 1 else [])
        for k, m in enumerate(sets):
            np.testing.assert_allclose(got[k], np.cov(x[m].T.astype(np.float64), aweights=w[m], bias=True),
                                       rtol=1e-9, atol=1e-12)  # fmt: skip
