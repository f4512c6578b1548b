"""The VAE loss and its gradients against PyTorch's autograd (same network, weights copied, same noise)."""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.methods.vae_train import vae_loss_and_grads
from tmvacompat.specs import DenseSpec

torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional second implementation)")


@pytest.mark.parametrize("beta", [0.0, 1.0, 0.3])
def test_vae_loss_and_gradients_equal_pytorch(beta):
    rng = np.random.default_rng(7)
    k, nvar, m = 3, 5, 16
    enc = Network.build([DenseSpec(8, "TANH"), DenseSpec(2 * k, "LINEAR")], (nvar,), dtype=np.float64)
    dec = Network.build([DenseSpec(8, "RELU"), DenseSpec(nvar, "LINEAR")], (k,), dtype=np.float64)
    initialize(enc, "XAVIER", 1)
    initialize(dec, "XAVIER", 2)
    for layer in enc.layers + dec.layers:  # non-zero biases, so their gradients are checked too
        layer.params["Biases"][...] = rng.normal(scale=0.1, size=layer.params["Biases"].shape)
    x, w, eps = rng.normal(size=(m, nvar)), rng.uniform(0.2, 2.0, m), rng.normal(size=(m, k))
    loss, rec, kl = vae_loss_and_grads(enc, dec, k, x, w, eps, beta)

    params = [
        {n: torch.tensor(p, dtype=torch.float64, requires_grad=True) for n, p in layer.params.items()}
        for layer in enc.layers + dec.layers
    ]

    def lin(p, v):
        return v @ p["Weights"].T + p["Biases"].T

    tx, tw, te = (torch.tensor(a, dtype=torch.float64) for a in (x, w, eps))
    h = lin(params[1], torch.tanh(lin(params[0], tx)))
    mu, s = h[:, :k], h[:, k:]
    z = mu + torch.exp(s / 2) * te
    y = lin(params[3], torch.relu(lin(params[2], z)))
    t_rec = (tw[:, None] * (y - tx) ** 2).sum() / (m * nvar)
    t_kl = (tw * -0.5 * (1 + s - mu**2 - torch.exp(s)).sum(dim=1)).sum() / m
    t_loss = t_rec + beta * t_kl
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    assert (rec, kl) == (pytest.approx(t_rec.item(), rel=1e-12), pytest.approx(t_kl.item(), rel=1e-12))
    for layer, tp in zip(enc.layers + dec.layers, params, strict=True):
        for name, g in layer.grads.items():
            np.testing.assert_allclose(g, tp[name].grad.numpy(), rtol=1e-10, atol=1e-14)
