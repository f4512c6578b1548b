"""Losses, KL divergence and reparameterisation: closed forms (spec §3.2, §7.2) and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.losses import (
    cross_entropy,
    cross_entropy_and_grad,
    cross_entropy_grad,
    get_loss,
    kl_divergence,
    kl_divergence_and_grad,
    kl_divergence_grad,
    mse,
    mse_grad,
    reparameterize,
    reparameterize_backward,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
)
from tmvacompat.errors import EngineConfigError, TrainingError

EPS = 1e-6


def numgrad(f, x):
    g = numerical_gradient(f, x, EPS)
    return g


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)


@pytest.fixture
def batch():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(5, 3)) * 2
    w = np.array([1.0, 0.5, -0.7, 2.0, 1.3])  # a negative weight is used as is
    return rng, x, w


def test_mse_closed_form_and_gradient(batch):
    rng, x, w = batch
    y = rng.normal(size=x.shape)
    truth = np.sum(w[:, None] * (y - x) ** 2) / x.size
    assert mse(x, y, w) == pytest.approx(truth, rel=1e-14)
    np.testing.assert_allclose(mse_grad(x, y, w), -2 / x.size * w[:, None] * (y - x), rtol=1e-13)
    assert rel(mse_grad(x, y, w), numgrad(lambda: mse(x, y, w), x)) < 1e-6


def test_cross_entropy_closed_form_gradient_and_stability(batch):
    rng, x, w = batch
    y = (rng.random(size=x.shape) > 0.5).astype(float)
    sig = 1 / (1 + np.exp(-x))
    truth = np.sum(w[:, None] * (-y * np.log(sig) - (1 - y) * np.log(1 - sig))) / x.size
    assert cross_entropy(x, y, w) == pytest.approx(truth, rel=1e-12)
    np.testing.assert_allclose(cross_entropy_grad(x, y, w), (sig - y) * w[:, None] / x.size, rtol=1e-12)
    assert rel(cross_entropy_grad(x, y, w), numgrad(lambda: cross_entropy(x, y, w), x)) < 1e-6
    big = np.array([[800.0], [-800.0]])
    val, g = cross_entropy_and_grad(big, np.array([[0.0], [1.0]]))
    assert val == pytest.approx(800.0) and np.all(np.isfinite(g))


def test_softmax_cross_entropy(batch):
    rng, x, w = batch
    y = np.eye(3)[rng.integers(0, 3, size=5)]
    y[1] *= 0.5  # TMVA's gradient keeps sum_k y_ik
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    truth = np.sum(w * -np.sum(y * np.log(p), axis=1)) / 5
    assert softmax_cross_entropy(x, y, w) == pytest.approx(truth, rel=1e-12)
    tmva_grad = (p * y.sum(axis=1, keepdims=True) - y) * w[:, None] / 5
    np.testing.assert_allclose(softmax_cross_entropy_grad(x, y, w), tmva_grad, rtol=1e-12, atol=1e-15)
    assert rel(softmax_cross_entropy_grad(x, y, w), numgrad(lambda: softmax_cross_entropy(x, y, w), x)) < 1e-6
    assert np.isfinite(softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([[0.0, 1.0]])))


def test_float32_and_out_buffer(batch):
    rng, x, w = batch
    y = rng.normal(size=x.shape)
    x32 = x.astype(np.float32)
    out = np.empty_like(x32)
    g = mse_grad(x32, y, w, out)
    assert g is out and g.dtype == np.float32
    np.testing.assert_allclose(g, mse_grad(x, y, w), rtol=1e-5, atol=1e-7)
    assert mse(x32, y) == pytest.approx(mse(x, y), rel=1e-6)
    with pytest.raises(TrainingError, match="shape"):
        mse(x, y[:, :2])
    with pytest.raises(TrainingError, match="weights"):
        mse(x, y, w[:3])


def test_get_loss_names():
    assert get_loss("R")[0] is mse and get_loss("sumofsquares")[0] is mse
    assert get_loss("MUTUALEXCLUSIVE")[0] is softmax_cross_entropy
    with pytest.raises(EngineConfigError, match="CROSSENTROPY") as err:
        get_loss("CROSSENTROPI")
    assert err.value.parameter == "loss"


def test_kl_divergence_closed_form_and_gradients(batch):
    rng, mu, w = batch
    s = rng.normal(size=mu.shape)
    # closed form of KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (sigma^2 + mu^2 - 1 - ln sigma^2)
    per_row = 0.5 * np.sum(np.exp(s) + mu**2 - 1 - s, axis=1)
    assert kl_divergence(mu, s, w) == pytest.approx(np.sum(w * per_row) / 5, rel=1e-13)
    dmu, ds = kl_divergence_grad(mu, s, w)
    assert rel(dmu, numgrad(lambda: kl_divergence(mu, s, w), mu)) < 1e-6
    assert rel(ds, numgrad(lambda: kl_divergence(mu, s, w), s)) < 1e-6
    val, a, b = kl_divergence_and_grad(mu, s, w)
    assert val == kl_divergence(mu, s, w) and np.array_equal(a, dmu) and np.array_equal(b, ds)
    assert kl_divergence(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    # Monte-Carlo check of the divergence itself for one row (independent truth)
    m1, s1 = np.array([0.3, -1.2]), np.array([0.4, -0.5])
    z = m1 + np.exp(s1 / 2) * np.random.default_rng(0).normal(size=(400000, 2))
    logq = np.sum(-0.5 * ((z - m1) ** 2 / np.exp(s1) + s1), axis=1)
    logp = np.sum(-0.5 * z**2, axis=1)
    assert kl_divergence(m1[None], s1[None]) == pytest.approx(np.mean(logq - logp), abs=5e-3)


def test_reparameterisation(batch):
    rng, mu, _ = batch
    s = rng.normal(size=mu.shape)
    eps = rng.normal(size=mu.shape)
    np.testing.assert_allclose(reparameterize(mu, s, eps), mu + np.exp(s / 2) * eps, rtol=1e-15)
    r = rng.normal(size=mu.shape)
    dmu, ds = reparameterize_backward(s, eps, r)
    assert rel(dmu, numgrad(lambda: float(np.sum(reparameterize(mu, s, eps) * r)), mu)) < 1e-6
    assert rel(ds, numgrad(lambda: float(np.sum(reparameterize(mu, s, eps) * r)), s)) < 1e-6

    # chain: KL plus a quadratic loss of z through the sampler
    def total():
        z = reparameterize(mu, s, eps)
        return kl_divergence(mu, s) + float(np.sum(z**2))

    z = reparameterize(mu, s, eps)
    a, b = reparameterize_backward(s, eps, 2 * z)
    k_mu, k_s = kl_divergence_grad(mu, s)
    assert rel(a + k_mu, numgrad(total, mu)) < 1e-6
    assert rel(b + k_s, numgrad(total, s)) < 1e-6
