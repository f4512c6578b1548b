"""The fused dense kernel with the tutorial activations (the lean activation kernels) vs the generic path,
and which kernels each activation set, loss, optimizer and batch size passes to it."""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.engine import fused as fused_module
from tmvacompat.engine.fused import FusedDenseTrainer
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.optimizers import Optimizer
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
def test_lean_variant_equals_generic(loss, nout, drop, reg):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    Y = (rng.integers(0, 2, (96, nout)) if loss == "C" else rng.normal(size=(96, nout))).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 96).astype(np.float32)
    phase = TrainingPhase(learning_rate=0.01, optimizer="ADAM", batch_size=16, max_epochs=3,
                          test_repetitions=1, regularization=reg, weight_decay=1e-3, drop_config=drop)
    out = []
    for fused in (True, False):
        net = _net(LEAN, nout)
        hist = train(net, X[:64], Y[:64], w[:64], X[64:], Y[64:], w[64:], loss=loss, phases=[phase], seed=5,
                     fused=fused)
        assert hist.phases[0].path == ("fused" if fused else "generic")
        out.append((_params(net), hist.train_losses(), hist.val_losses()))
    pairs = zip(out[0][0], out[1][0], strict=True)
    diff = max(float(np.max(np.abs(a[k] - b[k]))) for a, b in pairs for k in a)
    assert diff <= 1e-5
    assert out[0][0][0]["Weights"].shape == (12, 5)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-5)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-5)


def test_variant_choice():
    from tmvacompat.engine import activations, gemm, losses, optimizers

    def kernels(ft):
        return {k: p.dispatcher for k, p in ft.leaves.items()}

    lean = _net(LEAN, 1)
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "ADAM"), "C", 8))
    assert k["fwd"] is activations.act_forward_common and k["bwd"] is activations.act_backward_common
    assert k["lossf"] is losses._bce_kernel and k["upd"] is optimizers.adam_update
    assert k["gtn"] is gemm.gemm_tn and k["gnn"] is gemm.gemm_nn  # batch 8: engine/gemm.py's products
    # each loss and optimizer passes its own kernel; the activation choice is independent of them
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "SGD"), "R", 8))
    assert k["lossf"] is losses._mse_kernel and k["upd"] is optimizers.sgd_update
    assert k["fwd"] is activations.act_forward_common
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "RMSPROP"), "S", 8))
    assert k["lossf"] is losses._softmax_ce_kernel and k["upd"] is optimizers.rmsprop_update
    # an activation outside the tutorial set takes the kernels with every activation
    sig = _net([DenseSpec(4, "SIGMOID"), DenseSpec(0, "LINEAR")], 1)
    k = kernels(FusedDenseTrainer(sig, Optimizer(sig, "ADAM"), "C", 8))
    assert k["fwd"] is activations.act_forward and k["bwd"] is activations.act_backward_from_output
    # batches too large for engine/gemm.py never compile its products
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "ADAM"), "C", 256, threads=1))
    assert "gtn" not in k and "gnn" not in k
    # the dropout kernel only for a network with dropout
    assert "drop" not in k
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "ADAM"), "C", 256, threads=1, keep=[0.5, 1.0]))
    assert k["drop"] is fused_module._dropout
    # the sharded kernel's gradient sum and update only for a trainer that splits batches
    assert "sumupd" not in k
    k = kernels(FusedDenseTrainer(lean, Optimizer(lean, "ADAM"), "C", 256, threads=2))
    assert k["sumupd"] is fused_module._sum_and_update
