"""Layer-by-layer comparison with PyTorch (a second implementation) on random inputs.

Skipped when torch is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tmvacompat.engine.conv import Conv2D, ConvTranspose2D, MaxPool2D  # noqa: E402
from tmvacompat.engine.dense import Dense  # noqa: E402
from tmvacompat.engine.losses import cross_entropy_and_grad, mse_and_grad, softmax_cross_entropy_and_grad  # noqa: E402
from tmvacompat.engine.network import Network  # noqa: E402
from tmvacompat.specs import ConvSpec, ConvTransposeSpec, DenseSpec, MaxPoolSpec  # noqa: E402

TORCH_ACT = {
    "LINEAR": lambda z: z,
    "RELU": F.relu,
    "SIGMOID": torch.sigmoid,
    "TANH": torch.tanh,
    "SYMMRELU": torch.abs,
    "SOFTSIGN": F.softsign,
    "GAUSS": lambda z: torch.exp(-z * z),
}
TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


def compare(layer, x, torch_fn, torch_params, dtype):
    """Forward and backward (input and parameter gradients) of ``layer`` against autograd."""
    rng = np.random.default_rng(0)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    pt = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in torch_params.items()}
    yt = torch_fn(xt, pt)
    y = layer.forward(x.astype(dtype))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL[dtype])
    r = rng.normal(size=y.shape)
    (yt * torch.tensor(r)).sum().backward()
    dx = layer.backward(r.astype(dtype))
    np.testing.assert_allclose(dx.reshape(x.shape), xt.grad.numpy(), **TOL[dtype])
    return {k: v.grad.numpy() for k, v in pt.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", list(TORCH_ACT))
def test_dense_vs_torch(act, dtype):
    rng = np.random.default_rng(1)
    layer = Dense.from_spec(DenseSpec(7, act), (5,), dtype=dtype)
    W, b = rng.normal(size=(7, 5)), rng.normal(size=(7, 1))
    layer.params["Weights"][...] = W
    layer.params["Biases"][...] = b
    g = compare(
        layer,
        rng.normal(size=(6, 5)),
        lambda x, p: TORCH_ACT[act](F.linear(x, p["W"], p["b"][:, 0])),
        {"W": W, "b": b},
        dtype,
    )
    np.testing.assert_allclose(layer.grads["Weights"], g["W"], **TOL[dtype])
    np.testing.assert_allclose(layer.grads["Biases"], g["b"], **TOL[dtype])


CONV_CASES = [
    ((1, 16, 16), ConvSpec(8, 3, 3, 1, 1, 0, 0, "RELU")),
    ((1, 16, 16), ConvSpec(8, 3, 3, 1, 1, 1, 1, "TANH")),
    ((3, 9, 10), ConvSpec(4, 3, 5, 2, 3, 1, 2, "LINEAR")),
    ((2, 8, 8), ConvSpec(3, 4, 2, 2, 2, 1, 0, "SIGMOID")),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,spec", CONV_CASES)
def test_conv_vs_torch(shape, spec, dtype):
    rng = np.random.default_rng(2)
    layer = Conv2D.from_spec(spec, shape, dtype=dtype)
    W = rng.normal(size=layer.params["Weights"].shape) * 0.3
    b = rng.normal(size=(spec.depth, 1))
    layer.params["Weights"][...] = W
    layer.params["Biases"][...] = b
    w4 = W.reshape(spec.depth, shape[0], spec.filter_height, spec.filter_width)

    def fn(x, p):
        z = F.conv2d(
            x,
            p["W"],
            p["b"][:, 0],
            stride=(spec.stride_rows, spec.stride_cols),
            padding=(spec.padding_height, spec.padding_width),
        )
        return TORCH_ACT[spec.activation](z)

    g = compare(layer, rng.normal(size=(3, *shape)), fn, {"W": w4, "b": b}, dtype)
    np.testing.assert_allclose(layer.grads["Weights"], g["W"].reshape(W.shape), **TOL[dtype])
    np.testing.assert_allclose(layer.grads["Biases"], g["b"], **TOL[dtype])


CONVT_CASES = [
    ((2, 4, 4), ConvTransposeSpec(3, 3, 3, 2, 2, 0, 0, "LINEAR")),
    ((8, 7, 7), ConvTransposeSpec(1, 4, 4, 2, 2, 1, 1, "TANH")),
    ((1, 5, 3), ConvTransposeSpec(2, 3, 2, 1, 2, 1, 0, "SIGMOID")),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,spec", CONVT_CASES)
def test_conv_transpose_vs_torch(shape, spec, dtype):
    rng = np.random.default_rng(3)
    layer = ConvTranspose2D.from_spec(spec, shape, dtype=dtype)
    W = rng.normal(size=layer.params["Weights"].shape) * 0.3
    b = rng.normal(size=(spec.depth, 1))
    layer.params["Weights"][...] = W
    layer.params["Biases"][...] = b
    w4 = W.reshape(shape[0], spec.depth, spec.filter_height, spec.filter_width)

    def fn(x, p):
        z = F.conv_transpose2d(
            x,
            p["W"],
            p["b"][:, 0],
            stride=(spec.stride_rows, spec.stride_cols),
            padding=(spec.padding_height, spec.padding_width),
        )
        return TORCH_ACT[spec.activation](z)

    g = compare(layer, rng.normal(size=(2, *shape)), fn, {"W": w4, "b": b}, dtype)
    np.testing.assert_allclose(layer.grads["Weights"], g["W"].reshape(W.shape), **TOL[dtype])
    np.testing.assert_allclose(layer.grads["Biases"], g["b"], **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape,spec",
    [
        ((3, 8, 8), MaxPoolSpec(2, 2, 2, 2)),
        ((2, 7, 9), MaxPoolSpec(3, 3, 2, 3)),
        ((1, 6, 6), MaxPoolSpec(2, 2, 1, 1)),
    ],
)
def test_maxpool_vs_torch(shape, spec, dtype):
    rng = np.random.default_rng(4)
    layer = MaxPool2D.from_spec(spec, shape, dtype=dtype)

    def fn(x, p):
        return F.max_pool2d(
            x, (spec.filter_height, spec.filter_width), stride=(spec.stride_rows, spec.stride_cols)
        )

    compare(layer, rng.normal(size=(2, *shape)), fn, {}, dtype)


def test_losses_vs_torch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 3)) * 3
    w = rng.random(6) + 0.1
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w)[:, None]
    y = rng.random(size=(6, 3))
    for ours, theirs in [
        (mse_and_grad, lambda: (wt * (xt - torch.tensor(y)) ** 2).mean()),
        (
            cross_entropy_and_grad,
            lambda: (wt * F.binary_cross_entropy_with_logits(xt, torch.tensor(y), reduction="none")).mean(),
        ),
    ]:
        xt.grad = None
        lt = theirs()
        lt.backward()
        val, g = ours(x, y, w)
        assert val == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11)
    labels = rng.integers(0, 3, size=6)
    xt.grad = None
    lt = (torch.tensor(w) * F.cross_entropy(xt, torch.tensor(labels), reduction="none")).mean()
    lt.backward()
    val, g = softmax_cross_entropy_and_grad(x, np.eye(3)[labels], w)
    assert val == pytest.approx(lt.item(), rel=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11)


def test_cnn_network_vs_torch_sequential():
    rng = np.random.default_rng(6)
    specs = [
        ConvSpec(4, 3, 3, 1, 1, 1, 1, "RELU"),
        MaxPoolSpec(2, 2, 2, 2),
        DenseSpec(5, "TANH"),
        DenseSpec(1, "LINEAR"),
    ]
    net = Network.build(specs, (1, 8, 8), dtype=np.float64)
    params = net.get_params()
    for d in params:
        for k in d:
            d[k] = rng.normal(size=d[k].shape) * 0.3
    net.set_params(params)
    x = rng.normal(size=(4, 64))
    t = [{k: torch.tensor(v) for k, v in d.items()} for d in params]
    xt = torch.tensor(x).reshape(4, 1, 8, 8)
    h = F.relu(F.conv2d(xt, t[0]["Weights"].reshape(4, 1, 3, 3), t[0]["Biases"][:, 0], padding=1))
    h = F.max_pool2d(h, 2).reshape(4, -1)
    h = torch.tanh(F.linear(h, t[2]["Weights"], t[2]["Biases"][:, 0]))
    ref = F.linear(h, t[3]["Weights"], t[3]["Biases"][:, 0])
    np.testing.assert_allclose(net.predict(x), ref.numpy(), rtol=1e-10, atol=1e-12)
