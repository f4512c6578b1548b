"""CONV and CONVT layers with the batch split over threads: the same layer as one block.

The independent truth is the one-block layer (itself checked against direct sums and finite differences in
the other conv tests): a block's outputs and input gradients are its own events', and the weight and bias
gradients are the blocks' sums added in block order, so in float64 the two agree to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.engine import conv, trainer
from tmvacompat.engine.conv import BLOCK_MIN_EVENTS, Conv2D, ConvTranspose2D
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train
from tmvacompat.specs import ConvSpec, DenseSpec, MaxPoolSpec, ReshapeSpec, TrainingPhase

GEOMETRIES = [  # (layer class, input (C, H, W), depth, fh, fw, sr, sc, ph, pw)
    (Conv2D, (1, 9, 9), 3, 3, 3, 1, 1, 0, 0),
    (Conv2D, (2, 9, 7), 4, 3, 2, 2, 1, 1, 2),
    (ConvTranspose2D, (3, 5, 4), 2, 3, 3, 2, 2, 1, 0),
]


def _layer(cls, shape, depth, fh, fw, sr, sc, ph, pw, seed):
    layer = cls(shape, depth, fh, fw, sr, sc, ph, pw, "TANH", dtype=np.float64)
    rng = np.random.default_rng(seed)
    for v in layer.params.values():
        v[...] = rng.normal(0, 0.5, v.shape)
    return layer


def _pass(layer, x, dy):
    y = layer.forward(x, training=True).copy()
    dx = layer.backward(dy).copy()
    return y, dx, layer.grads["Weights"].copy(), layer.grads["Biases"].copy()


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("n_threads", [2, 3])
def test_blocks_give_the_one_block_layer(monkeypatch, geometry, n_threads):
    cls, shape, *rest = geometry
    n = n_threads * BLOCK_MIN_EVENTS + 5  # uneven blocks
    rng = np.random.default_rng(4)
    one = _layer(cls, shape, *rest, seed=1)
    split = _layer(cls, shape, *rest, seed=1)
    x = rng.normal(size=(n, int(np.prod(shape))))
    dy = rng.normal(size=(n, int(np.prod(one.output_shape))))
    monkeypatch.setattr(conv, "threads", lambda: 1)
    assert conv.event_blocks(n) == [(0, n)]
    ref = _pass(one, x, dy)
    monkeypatch.setattr(conv, "threads", lambda: n_threads)
    assert len(conv.event_blocks(n)) == n_threads
    got = _pass(split, x, dy)
    for a, b in zip(ref[:2], got[:2], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-13)  # each event's own numbers
    for a, b in zip(ref[2:], got[2:], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-11)  # batch sums, regrouped
    again = _pass(split, x, dy)  # the scratch and partial sums are reused: nothing carried over
    for a, b in zip(got, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_small_batches_stay_in_one_block(monkeypatch):
    monkeypatch.setattr(conv, "threads", lambda: 4)
    assert conv.event_blocks(2 * BLOCK_MIN_EVENTS - 1) == [(0, 2 * BLOCK_MIN_EVENTS - 1)]
    assert len(conv.event_blocks(3 * BLOCK_MIN_EVENTS)) == 3


def test_cnn_training_on_threads_is_reproducible_and_close_to_one_thread(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(384, 64))
    Y = (X[:, :32].mean(axis=1, keepdims=True) > 0).astype(float)
    specs = [ConvSpec(4, 3, 3, 1, 1, 1, 1, "RELU"), MaxPoolSpec(2, 2, 2, 2), ReshapeSpec(flatten=True),
             DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")]  # fmt: skip
    phase = TrainingPhase(learning_rate=1e-2, batch_size=128, max_epochs=3, test_repetitions=1,
                          optimizer="ADAM")  # fmt: skip

    def run(n_threads):
        monkeypatch.setattr(conv, "threads", lambda: n_threads)
        monkeypatch.setattr(trainer, "threads", lambda: n_threads)
        net = Network.build(specs, (1, 8, 8), n_outputs=1, dtype=np.float64)
        initialize(net, "XAVIER", seed=5)
        train(net, X[:256], Y[:256], None, X[256:], Y[256:], None, loss="C", phases=[phase], seed=3)
        return np.concatenate([p.ravel() for la in net.layers for p in la.params.values()])

    one, two, two_again = run(1), run(2), run(2)
    np.testing.assert_array_equal(two, two_again)  # the same thread count: the same bits
    np.testing.assert_allclose(two, one, rtol=1e-9, atol=1e-9)  # only the batch sums regrouped


@pytest.mark.parametrize("window", [(2, 2, 2, 2), (3, 2, 1, 2)])
def test_maxpool_blocks_give_the_same_bits(monkeypatch, window):
    from tmvacompat.engine.conv import MaxPool2D

    rng = np.random.default_rng(6)
    n = 2 * BLOCK_MIN_EVENTS + 3
    x = rng.normal(size=(n, 2 * 8 * 8)).astype(np.float32)
    out = []
    for t in (1, 2):
        monkeypatch.setattr(conv, "threads", lambda t=t: t)
        pool = MaxPool2D((2, 8, 8), *window)
        y = pool.forward(x, training=True).copy()
        dy = np.arange(y.size, dtype=np.float32).reshape(y.shape) % 5 - 2
        out.append((y, pool.backward(dy.reshape(n, -1)).copy(), len(conv.event_blocks(n))))
    assert out[0][2] == 1 and out[1][2] == 2
    np.testing.assert_array_equal(out[1][0], out[0][0])
    np.testing.assert_array_equal(out[1][1], out[0][1])
