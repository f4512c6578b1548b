"""The fused dense kernel with the tutorial activations (tanh, relu, fast tanh) against the generic path."""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.trainer import train
from tmvacompat.specs import DenseSpec, TrainingPhase

LEAN = [DenseSpec(12, "TANH"), DenseSpec(8, "RELU"), DenseSpec(6, "FTANH"), DenseSpec(0, "LINEAR")]


def _net(specs, nout, seed=1):
    net = Network.build(specs, (5,), n_outputs=nout, dtype=np.float32)
    initialize(net, "XAVIER", seed=seed)
    return net


def _params(net):
    return [{k: v.copy() for k, v in layer.params.items()} for layer in net.layers]


@pytest.mark.parametrize(
    ("loss", "nout", "drop", "reg"), [("C", 1, (0.0, 0.2, 0.1), "L2"), ("R", 2, (), "L1")]
)
def test_tutorial_activations_fused_equals_generic(loss, nout, drop, reg):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    Y = (rng.integers(0, 2, (96, nout)) if loss == "C" else rng.normal(size=(96, nout))).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 96).astype(np.float32)
    phase = TrainingPhase(
        learning_rate=0.01,
        optimizer="ADAM",
        batch_size=16,
        max_epochs=3,
        test_repetitions=1,
        regularization=reg,
        weight_decay=1e-3,
        drop_config=drop,
    )
    out = []
    for fused in (True, False):
        net = _net(LEAN, nout)
        hist = train(
            net,
            X[:64],
            Y[:64],
            w[:64],
            X[64:],
            Y[64:],
            w[64:],
            loss=loss,
            phases=[phase],
            seed=5,
            fused=fused,
        )
        assert hist.phases[0].path == ("fused" if fused else "generic")
        out.append((_params(net), hist.train_losses(), hist.val_losses()))
    pairs = zip(out[0][0], out[1][0], strict=True)
    diff = max(float(np.max(np.abs(a[k] - b[k]))) for a, b in pairs for k in a)
    assert diff <= 1e-5
    assert out[0][0][0]["Weights"].shape == (12, 5)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-5)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-5)
