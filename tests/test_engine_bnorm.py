"""BatchNorm: finite-difference gradients, TMVA's running-statistics rule in closed form, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.bnorm import BatchNorm
from tmvacompat.errors import LayoutError, TrainingError
from tmvacompat.specs import BatchNormSpec

EPS = 1e-4


def _make(shape, *, per_channel=False, momentum=-1.0, eps=EPS, dtype=np.float64, seed=0):
    bn = BatchNorm(shape, momentum=momentum, epsilon=eps, per_channel=per_channel, dtype=dtype)
    rng = np.random.default_rng(seed)
    bn.params["Gamma"][...] = rng.uniform(0.5, 1.5, bn.params["Gamma"].shape)
    bn.params["Beta"][...] = rng.normal(size=bn.params["Beta"].shape)
    return bn


def _rel_err(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(a)) + np.max(np.abs(b))))


SHAPES = [((3,), False), ((2, 2, 3), True), ((2, 2, 3), False)]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize(("shape", "per_channel"), SHAPES)
def test_gradients_match_central_differences(shape, per_channel, training):
    bn = _make(shape, per_channel=per_channel)
    rng = np.random.default_rng(1)
    if not training:
        bn.params["Training-mu"][...] = rng.normal(size=bn.norm_dim)
        bn.params["Training-variance"][...] = rng.uniform(0.5, 2.0, bn.norm_dim)
    x = rng.normal(size=(5,) + shape) * 2 + 1
    w = rng.normal(size=x.shape)

    def loss() -> float:
        return float(np.sum(w * bn.forward(x, training=training)))

    bn.forward(x, training=training)
    dx = bn.backward(w)
    grads = {k: v.copy() for k, v in bn.grads.items()}
    h = 1e-6
    num = numerical_gradient(loss, x, h)
    assert _rel_err(dx, num) < 1e-6
    for name in ("Gamma", "Beta"):
        p = bn.params[name]
        numg = numerical_gradient(loss, p, h)
        assert _rel_err(grads[name], numg) < 1e-6, name
    assert not grads["Training-mu"].any() and not grads["Training-variance"].any()


def test_training_output_is_standardised_per_feature_and_per_channel():
    rng = np.random.default_rng(2)
    bn = BatchNorm((4,), dtype=np.float64)  # gamma 1, beta 0
    y = bn.forward(rng.normal(3.0, 2.0, size=(50, 4)), training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-3)  # var/(var+eps)
    cbn = BatchNorm((3, 4, 5), per_channel=True, dtype=np.float64)
    x = rng.normal(size=(6, 3, 4, 5)) * np.array([1.0, 5.0, 0.1])[None, :, None, None]
    yc = cbn.forward(x, training=True)
    np.testing.assert_allclose(yc.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    v = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(yc.var(axis=(0, 2, 3)), v / (v + EPS), rtol=1e-10)
    assert cbn.params["Gamma"].shape == (1, 3) and bn.params["Training-mu"].shape == (1, 4)


@pytest.mark.parametrize("momentum", [-1.0, 0.0, 0.9])
def test_running_statistics_closed_form(momentum):
    rng = np.random.default_rng(3)
    n = 8
    batches = [rng.normal(loc=k, scale=1 + k, size=(n, 2)) for k in range(4)]
    bn = _make((2,), momentum=momentum)
    for xb in batches:
        bn.forward(xb, training=True)
    means = [xb.mean(axis=0) for xb in batches]
    vars_ = [xb.var(axis=0) * n / (n - 1 + EPS) for xb in batches]  # TMVA: eps in the denominator
    if momentum < 0:  # cumulative average of the batch values
        mu, var = np.mean(means, axis=0), np.mean(vars_, axis=0)
    else:  # first batch sets, then r = m * r + (1 - m) * batch
        mu, var = means[0], vars_[0]
        for m_b, v_b in zip(means[1:], vars_[1:], strict=True):
            mu = momentum * mu + (1 - momentum) * m_b
            var = momentum * var + (1 - momentum) * v_b
    np.testing.assert_allclose(bn.params["Training-mu"][0], mu, rtol=1e-12)
    np.testing.assert_allclose(bn.params["Training-variance"][0], var, rtol=1e-12)
    assert bn.n_trained_batches == 4


def test_inference_formula_and_counter_reset():
    rng = np.random.default_rng(4)
    bn = _make((3,))
    for _ in range(3):
        bn.forward(rng.normal(size=(10, 3)), training=True)
    mu, var = bn.params["Training-mu"].copy(), bn.params["Training-variance"].copy()
    x = rng.normal(size=(7, 3))
    expected = bn.params["Gamma"] * (x - mu) / np.sqrt(var + EPS) + bn.params["Beta"]
    np.testing.assert_allclose(bn.forward(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.params["Training-mu"], mu)  # inference leaves the statistics alone
    assert bn.n_trained_batches == 0  # ... but restarts TMVA's average
    xb = rng.normal(size=(10, 3))
    bn.forward(xb, training=True)
    np.testing.assert_allclose(bn.params["Training-mu"][0], xb.mean(axis=0), rtol=1e-12)


def test_axis_follows_the_previous_layer_like_tmva():
    spec = BatchNormSpec(momentum=0.5, epsilon=1e-3)
    assert BatchNorm.from_spec(spec, (4, 3, 3), prev_kind="CONV").norm_dim == 4
    assert BatchNorm.from_spec(spec, (4, 3, 3), prev_kind="MAXPOOL").norm_dim == 4
    assert BatchNorm.from_spec(spec, (4, 3, 3), prev_kind="RESHAPE").norm_dim == 36
    assert BatchNorm.from_spec(spec, (1, 8, 8), prev_kind=None, per_channel=False).norm_dim == 64
    assert BatchNorm.from_spec(spec, (10,), prev_kind="DENSE").norm_dim == 10
    assert BatchNorm.from_spec(spec, (5, 6)).norm_dim == 30  # a sequence: per element
    bn = BatchNorm.from_spec(spec, (4, 3, 3))  # unknown previous layer: images per channel
    assert bn.norm_dim == 4 and bn.momentum == 0.5 and bn.epsilon == 1e-3
    assert bn.trainable == ("Gamma", "Beta") and bn.regularized == ()
    assert list(bn.params) == ["Training-mu", "Training-variance", "Gamma", "Beta"]


def test_float32_stays_float32_and_matches():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 2, 3, 3))
    b64, b32 = _make((2, 3, 3), per_channel=True), _make((2, 3, 3), per_channel=True, dtype=np.float32)
    y32 = b32.forward(x.astype(np.float32), training=True)
    assert y32.dtype == np.float32 and b32.params["Training-mu"].dtype == np.float32
    np.testing.assert_allclose(y32, b64.forward(x, training=True), atol=2e-6)
    dy = rng.normal(size=x.shape)
    dx32 = b32.backward(dy.astype(np.float32))
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, b64.backward(dy), atol=5e-5)
    np.testing.assert_allclose(b32.params["Training-variance"], b64.params["Training-variance"], rtol=1e-6)


def test_bad_input_is_refused_clearly():
    with pytest.raises(LayoutError, match="momentum"):
        BatchNorm((3,), momentum=1.5)
    with pytest.raises(LayoutError, match="per-channel"):
        BatchNorm((3,), per_channel=True)
    bn = BatchNorm((3,))
    with pytest.raises(TrainingError):
        bn.backward(np.zeros((2, 3)))
    with pytest.raises(LayoutError, match=r"\(3,\)"):
        bn.forward(np.zeros((2, 4)))


# ---------------------------------------------------------------------------------------- PyTorch parity
def test_eval_mode_matches_pytorch_batchnorm1d_and_2d():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    cases = (((5,), False, torch.nn.BatchNorm1d), ((3, 4, 4), True, torch.nn.BatchNorm2d))
    for shape, per_channel, cls in cases:
        bn = _make(shape, per_channel=per_channel)
        d = bn.norm_dim
        bn.params["Training-mu"][...] = rng.normal(size=d)
        bn.params["Training-variance"][...] = rng.uniform(0.2, 3.0, d)
        tb = cls(d, eps=EPS, dtype=torch.float64).eval()
        with torch.no_grad():
            tb.weight.copy_(torch.from_numpy(bn.params["Gamma"][0]))
            tb.bias.copy_(torch.from_numpy(bn.params["Beta"][0]))
            tb.running_mean.copy_(torch.from_numpy(bn.params["Training-mu"][0]))
            tb.running_var.copy_(torch.from_numpy(bn.params["Training-variance"][0]))
        x = rng.normal(size=(6,) + shape)
        np.testing.assert_allclose(bn.forward(x), tb(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_training_mode_matches_pytorch_with_converted_momentum():
    """TMVA momentum m is PyTorch momentum 1 - m (PyTorch needs eps > 0 in training, so the running variances
    differ by TMVA's n / (n - 1 + eps) against n / (n - 1), a relative 5e-6 here)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    bn = _make((3, 2, 2), per_channel=True, momentum=0.7)
    tb = torch.nn.BatchNorm2d(3, eps=EPS, momentum=0.3, dtype=torch.float64).train()
    with torch.no_grad():
        tb.weight.copy_(torch.from_numpy(bn.params["Gamma"][0]))
        tb.bias.copy_(torch.from_numpy(bn.params["Beta"][0]))
    for k in range(3):
        x = rng.normal(loc=k, size=(5, 3, 2, 2))
        xt = torch.tensor(x, requires_grad=True)
        yt = tb(xt)
        y = bn.forward(x, training=True)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = rng.normal(size=x.shape)
        (yt * torch.from_numpy(w)).sum().backward()
        np.testing.assert_allclose(bn.backward(w), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bn.grads["Gamma"][0], tb.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(bn.grads["Beta"][0], tb.bias.grad.numpy(), rtol=1e-10)
        tb.weight.grad = tb.bias.grad = None
        if k == 0:  # TMVA's first batch sets the statistics; PyTorch blends them into (0, 1)
            with torch.no_grad():
                tb.running_mean.copy_(torch.from_numpy(bn.params["Training-mu"][0]))
                tb.running_var.copy_(torch.from_numpy(bn.params["Training-variance"][0]))
    np.testing.assert_allclose(bn.params["Training-mu"][0], tb.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.params["Training-variance"][0], tb.running_var.numpy(), rtol=1e-5)
