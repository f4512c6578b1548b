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
