"""Every engine layer kind, forward and backward, against the slow numpy references of ``reference.py``.

Truth: ``tests/reference.py`` (explicit loops written from the layers' definitions; the recurrent
backward by central differences of the reference forward). All in float64 on small shapes, with
strides, padding and every activation, so index or layout slips show as wrong numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

from tmvacompat.engine.bnorm import BatchNorm
from tmvacompat.engine.conv import Conv2D, ConvTranspose2D, MaxPool2D, Padding2D
from tmvacompat.engine.dense import Dense
from tmvacompat.engine.recurrent import GRU, LSTM, RNN
from tmvacompat.engine.shape import Add, Concat

F64 = np.float64
ACTIVATIONS = ["LINEAR", "RELU", "SIGMOID", "TANH", "FTANH", "SYMMRELU", "SOFTSIGN", "GAUSS"]
TOL = {"rtol": 1e-9, "atol": 1e-10}


def _fill(layer, rng, scale=0.5):
    for p in layer.params.values():
        p[...] = rng.normal(0.0, scale, p.shape)


def _close(got, want, **tol):
    np.testing.assert_allclose(np.asarray(got, F64), want, **(tol or TOL))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense(act):
    rng = np.random.default_rng(1)
    layer = Dense((2, 3), 4, act, dtype=F64)  # a (2, 3) event is flattened to 6 inputs
    _fill(layer, rng)
    x = rng.normal(0.0, 1.0, (5, 2, 3))
    dy = rng.normal(0.0, 1.0, (5, 4))
    W, b = layer.params["Weights"].copy(), layer.params["Biases"].copy()
    _close(layer.forward(x, training=True), ref.dense_forward(x, W, b, act))
    dx, grads = ref.dense_backward(x, W, b, act, dy)
    _close(layer.backward(dy).reshape(x.shape), dx)
    for name, g in grads.items():
        _close(layer.grads[name], g)


CONV_CASES = [
    # (C, H, W), depth, (fh, fw, sr, sc, ph, pw), activation
    ((1, 5, 5), 2, (3, 3, 1, 1, 0, 0), "RELU"),
    ((2, 6, 5), 3, (3, 2, 1, 1, 1, 1), "TANH"),
    ((2, 7, 7), 2, (3, 3, 2, 2, 1, 1), "SIGMOID"),
    ((3, 5, 6), 2, (2, 3, 1, 3, 0, 0), "LINEAR"),
]


@pytest.mark.parametrize(("shape", "depth", "geometry", "act"), CONV_CASES)
def test_conv(shape, depth, geometry, act):
    rng = np.random.default_rng(2)
    layer = Conv2D(shape, depth, *geometry, activation=act, dtype=F64)
    _fill(layer, rng)
    x = rng.normal(0.0, 1.0, (3, *shape))
    W, b = layer.params["Weights"].copy(), layer.params["Biases"].copy()
    want = ref.conv_forward(x, W, b, geometry, act)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    dx, grads = ref.conv_backward(x, W, b, geometry, act, dy)
    _close(layer.backward(dy), dx)
    for name, g in grads.items():
        _close(layer.grads[name], g)


CONVT_CASES = [
    ((2, 3, 3), 2, (3, 3, 1, 1, 0, 0), "LINEAR"),
    ((1, 3, 4), 3, (3, 3, 2, 2, 1, 1), "TANH"),
    ((2, 2, 3), 1, (2, 4, 2, 1, 0, 1), "RELU"),
]


@pytest.mark.parametrize(("shape", "depth", "geometry", "act"), CONVT_CASES)
def test_convt(shape, depth, geometry, act):
    rng = np.random.default_rng(3)
    layer = ConvTranspose2D(shape, depth, *geometry, activation=act, dtype=F64)
    _fill(layer, rng)
    x = rng.normal(0.0, 1.0, (2, *shape))
    W, b = layer.params["Weights"].copy(), layer.params["Biases"].copy()
    want = ref.convt_forward(x, W, b, geometry, act)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    dx, grads = ref.convt_backward(x, W, b, geometry, act, dy)
    _close(layer.backward(dy), dx)
    for name, g in grads.items():
        _close(layer.grads[name], g)


@pytest.mark.parametrize(("shape", "window"), [((2, 4, 4), (2, 2, 2, 2)), ((1, 5, 8), (3, 2, 1, 2)),
                                               ((2, 6, 6), (3, 3, 3, 3))])  # fmt: skip
def test_maxpool(shape, window):
    rng = np.random.default_rng(4)
    layer = MaxPool2D(shape, *window, dtype=F64)
    x = rng.normal(0.0, 1.0, (3, *shape))
    x[0, 0, 0, :2] = 0.25  # a tie: the first maximum in scan order takes the gradient
    want = ref.maxpool_forward(x, *window)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    _close(layer.backward(dy), ref.maxpool_backward(x, *window, dy))


@pytest.mark.parametrize("pads", [(1, 0, 2, 1), (0, 0, 0, 0), (2, 1, 0, 3)])
def test_padding2d(pads):
    rng = np.random.default_rng(5)
    layer = Padding2D((2, 3, 4), *pads, dtype=F64)
    x = rng.normal(0.0, 1.0, (2, 2, 3, 4))
    want = ref.padding_forward(x, *pads)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    _close(layer.backward(dy), ref.padding_backward(x, *pads, dy))


@pytest.mark.parametrize(("shape", "per_channel"), [((5,), False), ((2, 3, 2), True), ((2, 2, 2), False)])
def test_bnorm_training(shape, per_channel):
    rng = np.random.default_rng(6)
    eps = 1e-3
    layer = BatchNorm(shape, epsilon=eps, per_channel=per_channel, dtype=F64)
    layer.params["Gamma"][...] = rng.uniform(0.5, 1.5, layer.params["Gamma"].shape)
    layer.params["Beta"][...] = rng.normal(0.0, 0.5, layer.params["Beta"].shape)
    x = rng.normal(0.3, 1.2, (6, *shape))
    gamma, beta = layer.params["Gamma"].copy(), layer.params["Beta"].copy()
    want = ref.bnorm_forward(x, gamma, beta, eps, per_channel)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    dx, grads = ref.bnorm_backward(x, gamma, beta, eps, per_channel, dy)
    _close(layer.backward(dy), dx)
    for name, g in grads.items():
        _close(layer.grads[name], g)


def _by_role(layer):
    return {role: layer.params[name].copy() for name, (role, _k) in layer.PARAM_ROLES.items()}


RECURRENT = [
    ("RNN", RNN, {}, ref.rnn_forward),
    ("LSTM", LSTM, {}, ref.lstm_forward),
    ("GRU", GRU, {}, ref.gru_forward),
    ("GRU reset after", GRU, {"reset_gate_after": True},
     lambda x, p, return_sequence=False: ref.gru_forward(x, p, True, return_sequence)),
]  # fmt: skip


@pytest.mark.parametrize("return_sequence", [False, True])
@pytest.mark.parametrize(("name", "cls", "kw", "forward"), RECURRENT, ids=[r[0] for r in RECURRENT])
def test_recurrent(name, cls, kw, forward, return_sequence):
    rng = np.random.default_rng(7)
    S, I, T = 3, 2, 4
    layer = cls(S, I, T, return_sequence=return_sequence, dtype=F64, **kw)
    _fill(layer, rng)
    x = rng.normal(0.0, 1.0, (2, T, I))
    p = _by_role(layer)
    want = forward(x, p, return_sequence=return_sequence)
    _close(layer.forward(x, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    xr = x.copy()
    num = ref.numeric_backward(lambda: forward(xr, p, return_sequence=return_sequence), {"x": xr, **p}, dy)
    tol = {"rtol": 1e-6, "atol": 1e-8}  # central differences
    _close(layer.backward(dy), num.pop("x"), **tol)
    for pname, (role, _k) in layer.PARAM_ROLES.items():
        _close(layer.grads[pname], num[role], **tol)


def test_add_and_concat():
    rng = np.random.default_rng(8)
    xs = [rng.normal(0.0, 1.0, (3, 2, 3)) for _ in range(3)]
    add = Add([(2, 3)] * 3, dtype=F64)
    _close(add.forward_multi(xs, training=True), ref.add_forward(xs))
    dy = rng.normal(0.0, 1.0, (3, 2, 3))
    for got, want in zip(add.backward_multi(dy), ref.add_backward(xs, dy), strict=True):
        _close(got, want)
    parts = [rng.normal(0.0, 1.0, (3, *s)) for s in ((4,), (2, 3), (1, 2, 2))]
    cat = Concat([(4,), (2, 3), (1, 2, 2)], dtype=F64)
    want = ref.concat_forward(parts)
    _close(cat.forward_multi(parts, training=True), want)
    dy = rng.normal(0.0, 1.0, want.shape)
    for got, want_dx in zip(cat.backward_multi(dy), ref.concat_backward(parts, dy), strict=True):
        _close(got, want_dx)
