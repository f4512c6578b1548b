"""Network: building from specs, shape inference and its errors, graph edges, params, dropout, predict."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.network import Network
from tmvacompat.errors import EngineConfigError, LayoutError
from tmvacompat.specs import (
    AddSpec,
    ConcatSpec,
    ConvSpec,
    ConvTransposeSpec,
    DenseSpec,
    MaxPoolSpec,
    Padding2DSpec,
    ReshapeSpec,
)

EPS = 1e-6


def randomise(net, rng, scale=0.5):
    params = net.get_params()
    for d in params:
        for k in d:
            d[k] = rng.normal(size=d[k].shape) * scale
    net.set_params(params)
    return params


def net_gradcheck(net, x, rng, tol=1e-6):
    r = rng.normal(size=(x.shape[0], *net.output_shape))

    def loss():
        return float(np.sum(net.forward(x) * r))

    loss()
    dx = np.array(net.backward(r), copy=True)
    grads = [{k: v.copy() for k, v in layer.grads.items()} for layer in net.layers]
    for i, layer in enumerate(net.layers):
        for name, p in layer.params.items():
            num = numerical_gradient(loss, p, EPS)
            err = np.abs(num - grads[i][name]).max() / max(np.abs(num).max(), 1e-12)
            assert err < tol, f"layer {i} {name}: {err}"
    num = numerical_gradient(loss, x, EPS)
    err = np.abs(num - dx.reshape(x.shape)).max() / max(np.abs(num).max(), 1e-12)
    assert err < tol, f"input: {err}"


def test_dense_stack_matches_numpy_and_gradients():
    rng = np.random.default_rng(21)
    net = Network.build(
        [DenseSpec("N*2", "TANH"), DenseSpec(4, "SIGMOID"), DenseSpec(0, "LINEAR")],
        (3,),
        n_outputs=2,
        dtype=np.float64,
    )
    assert [layer.output_shape for layer in net.layers] == [(6,), (4,), (2,)]
    p = randomise(net, rng)
    x = rng.normal(size=(5, 3))
    h = np.tanh(x @ p[0]["Weights"].T + p[0]["Biases"].T)
    h = 1 / (1 + np.exp(-(h @ p[1]["Weights"].T + p[1]["Biases"].T)))
    ref = h @ p[2]["Weights"].T + p[2]["Biases"].T
    np.testing.assert_allclose(net.forward(x), ref, rtol=1e-12)
    np.testing.assert_allclose(net.predict(x, batch_size=2), ref, rtol=1e-12)
    net_gradcheck(net, x, rng)


def test_cnn_stack_implicit_flatten_and_gradients():
    rng = np.random.default_rng(22)
    specs = [
        ConvSpec(2, 3, 3, 1, 1, 1, 1, "RELU"),
        MaxPoolSpec(2, 2, 2, 2),
        ConvSpec(3, 2, 2, 1, 1, 0, 0, "TANH"),
        DenseSpec(3, "TANH"),
        DenseSpec(1, "LINEAR"),
    ]
    net = Network.build(specs, (1, 6, 6), dtype=np.float64)
    assert net.layers[1].output_shape == (2, 3, 3) and net.layers[2].output_shape == (3, 2, 2)
    assert net.layers[3].params["Weights"].shape == (3, 12)
    randomise(net, rng)
    x = rng.normal(size=(3, 36))  # flat events are reshaped channel-major
    np.testing.assert_allclose(net.forward(x), net.forward(x.reshape(3, 1, 6, 6)))
    net_gradcheck(net, x.reshape(3, 1, 6, 6), rng)


def test_autoencoder_like_stack_with_padding_reshape_convt():
    rng = np.random.default_rng(23)
    specs = [
        ReshapeSpec(1, 4, 4),
        Padding2DSpec(1, 1, 1, 1),
        ConvSpec(2, 2, 2, 2, 2, 0, 0, "TANH"),
        ConvTransposeSpec(1, 2, 2, 2, 2, 1, 1, "LINEAR"),
        ReshapeSpec(flatten=True),
    ]
    net = Network.build(specs, (16,), dtype=np.float64)
    assert net.output_shape == (16,)
    randomise(net, rng)
    net_gradcheck(net, rng.normal(size=(2, 16)), rng)


def test_graph_add_and_concat():
    rng = np.random.default_rng(24)
    specs = [
        DenseSpec(4, "TANH", name="h1"),
        DenseSpec(4, "SOFTSIGN"),
        AddSpec(("h1", "INPUT")),
        DenseSpec(3, "SIGMOID", name="h3"),
        ConcatSpec(("h1", "INPUT")),
        DenseSpec(2, "LINEAR"),
    ]
    net = Network.build(specs, (4,), dtype=np.float64)
    assert net.sources == [(-1,), (0,), (1, 0, -1), (2,), (3, 0, -1), (4,)]
    assert net.layers[4].output_shape == (3 + 4 + 4,)
    p = randomise(net, rng)
    x = rng.normal(size=(3, 4))

    def dense(i, v, f):
        return f(v @ p[i]["Weights"].T + p[i]["Biases"].T)

    h1 = dense(0, x, np.tanh)
    h2 = dense(1, h1, lambda z: z / (1 + np.abs(z)))
    a = h2 + h1 + x
    h3 = dense(3, a, lambda z: 1 / (1 + np.exp(-z)))
    ref = dense(5, np.concatenate([h3, h1, x], axis=1), lambda z: z)
    np.testing.assert_allclose(net.forward(x), ref, rtol=1e-12)
    net_gradcheck(net, x, rng)


def test_shape_errors_name_layer_and_shapes():
    with pytest.raises(LayoutError, match=r"layer 1 \(CONV\).*\(8,\)"):
        Network.build([DenseSpec(8), ConvSpec(2, 3, 3)], (4,))
    with pytest.raises(LayoutError, match=r"layer 1 \(MAXPOOL\)"):
        Network.build([ConvSpec(2, 3, 3), MaxPoolSpec(2, 2, 2, 2)], (1, 7, 7))
    with pytest.raises(LayoutError, match=r"layer 2 \(ADD\).*differ"):
        Network.build([DenseSpec(3, name="a"), DenseSpec(4), AddSpec(("a",))], (2,))
    with pytest.raises(LayoutError, match="unknown label 'h2'") as err:
        Network.build([DenseSpec(3, name="h1"), AddSpec(("h2",))], (2,))
    assert "h1" in err.value.expected
    with pytest.raises(LayoutError, match="reuses label"):
        Network.build([DenseSpec(3, name="a"), DenseSpec(3, name="a")], (2,))
    with pytest.raises(LayoutError, match="no layers"):
        Network.build([], (2,))


def test_missing_layer_module_is_a_layout_error(monkeypatch):
    from dataclasses import replace

    from tmvacompat.kinds import KINDS

    missing = replace(KINDS["BNORM"], engine="tmvacompat.engine.no_such_module:BatchNorm")
    monkeypatch.setitem(KINDS, "BNORM", missing)
    from tmvacompat.specs import BatchNormSpec

    with pytest.raises(LayoutError, match="layer BNORM not available"):
        Network.build([BatchNormSpec()], (3,))


def test_params_round_trip_and_errors():
    rng = np.random.default_rng(25)
    net = Network.build(
        [ConvSpec(2, 3, 3, 1, 1, 1, 1), MaxPoolSpec(2, 2, 2, 2), DenseSpec(1, "LINEAR")], (1, 4, 4)
    )
    p = randomise(net, rng)
    got = net.get_params()
    assert [sorted(d) for d in got] == [["Biases", "Weights"], [], ["Biases", "Weights"]]
    for a, b in zip(p, got, strict=False):
        for k in a:
            np.testing.assert_allclose(b[k], a[k].astype(np.float32))
            assert b[k].dtype == np.float32
    got[0]["Weights"][...] = 7  # a copy: the network is unchanged
    assert not np.any(net.layers[0].params["Weights"] == 7)
    bad = net.get_params()
    bad[2]["Weights"] = np.zeros((1, 9))
    with pytest.raises(
        LayoutError, match=r"layer 2 \(DENSE\) parameter 'Weights' has shape \(1, 9\), expected \(1, 8\)"
    ):
        net.set_params(bad)
    bad = net.get_params()
    bad[0]["Weight"] = bad[0].pop("Weights")
    with pytest.raises(LayoutError, match="layer 0"):
        net.set_params(bad)
    with pytest.raises(LayoutError, match="3 layers"):
        net.set_params(net.get_params()[:2])


def test_dropout_semantics_and_determinism():
    rng = np.random.default_rng(26)
    net = Network.build([DenseSpec(1, "LINEAR")], (4000,), dtype=np.float64)
    net.layers[0].params["Weights"][...] = 1.0
    with pytest.raises(EngineConfigError) as err:
        net.set_dropout([1.0])
    assert (err.value.parameter, err.value.index, err.value.value) == ("drop_probs", 0, 1.0)
    net.set_dropout([0.25])
    net.set_rng(3)
    x = np.ones((2, 4000))
    y = net.forward(x, training=True).copy()
    # each kept element is scaled by 1/keep: output = (#kept) / 0.75; about 3000 kept
    kept = y[:, 0] * 0.75
    np.testing.assert_allclose(kept, np.round(kept), atol=1e-9)
    assert np.all(np.abs(kept - 3000) < 5 * np.sqrt(4000 * 0.25 * 0.75))
    dx = net.backward(np.ones((2, 1)))
    np.testing.assert_allclose(dx.sum(axis=1), y[:, 0])  # gradient flows through kept elements only
    assert set(np.unique(np.round(dx, 12))) <= {0.0, round(1 / 0.75, 12)}
    net.set_rng(3)
    np.testing.assert_array_equal(net.forward(x, training=True), y)
    np.testing.assert_allclose(net.forward(x, training=False), 4000.0)  # no dropout outside training
    np.testing.assert_allclose(net.predict(x), 4000.0)
    del rng


def test_dropout_gradient_with_fixed_mask():
    rng = np.random.default_rng(27)
    net = Network.build([DenseSpec(5, "TANH"), DenseSpec(2, "LINEAR")], (4,), dtype=np.float64)
    randomise(net, rng)
    net.set_dropout([0.3, 0.5])
    x = rng.normal(size=(3, 4))
    r = rng.normal(size=(3, 2))

    def loss():
        net.set_rng(9)  # the same mask at every evaluation
        return float(np.sum(net.forward(x, training=True) * r))

    loss()
    dx = net.backward(r).copy()
    g = net.layers[0].grads["Weights"].copy()
    w = net.layers[0].params["Weights"]
    num = numerical_gradient(loss, w, EPS)
    assert np.abs(num - g).max() / np.abs(num).max() < 1e-6
    numx = numerical_gradient(loss, x, EPS)
    assert np.abs(numx - dx).max() / np.abs(numx).max() < 1e-6


def test_input_checks_and_float32_default():
    net = Network.build([DenseSpec(2, "TANH")], (3,))
    assert net.dtype == np.float32
    out = net.predict(np.zeros((10, 3), dtype=np.float64), batch_size=4)
    assert out.shape == (10, 2) and out.dtype == np.float32
    with pytest.raises(LayoutError, match=r"\(batch, 3\)"):
        net.forward(np.zeros((2, 4)))
    with pytest.raises(LayoutError, match="float32 or float64"):
        Network.build([DenseSpec(2)], (3,), dtype=np.int32)
    assert net.backward(np.ones((10 % 4, 2)), need_input_grad=False) is None


def test_plain_stack_reuses_buffers_per_batch_size():
    net = Network.build([DenseSpec(4, "TANH"), DenseSpec(2, "LINEAR")], (3,))
    x = np.ones((8, 3), np.float32)
    y1 = net.forward(x)
    g1 = net.backward(np.ones((8, 2), np.float32))
    y2 = net.forward(2 * x)
    g2 = net.backward(np.ones((8, 2), np.float32))
    assert y1 is y2 and g1.base is g2.base  # the same preallocated buffers, no per-batch allocation
    y3 = net.forward(np.ones((5, 3), np.float32))
    assert y3 is not y1 and y3.shape == (5, 2)
    assert net.forward(x) is y1  # the batch-size-8 workspace is still cached


def test_flat_parameters_are_the_layers_parameters_and_the_optimizer_steps_them_as_per_array():
    # the layers' params/grads are views of the network's P/G in the table's order (trained regularised
    # matrices, then other trained parameters, then batch-norm running statistics), and an optimizer on
    # the flat ranges gives the same bits as one over the same arrays taken one by one (a list of layers)
    from tmvacompat.engine.optimizers import Optimizer
    from tmvacompat.specs import BatchNormSpec

    specs = [DenseSpec(5, "TANH"), BatchNormSpec(), DenseSpec(2, "LINEAR")]
    rng = np.random.default_rng(4)
    nets = [Network.build(specs, (3,), dtype=np.float64) for _ in range(2)]
    for net in nets:
        randomise(net, np.random.default_rng(1))
    net = nets[0]
    for e in net.table:
        p = net.layers[e.layer].params[e.name]
        assert np.shares_memory(p, net.P) and p.shape == e.shape
        np.testing.assert_array_equal(net.P[e.offset : e.offset + e.size], p.ravel())
    groups = [0 if e.regularized else (1 if e.trainable else 2) for e in net.table]
    assert groups == sorted(groups) and net.table[0].name == "Weights"
    assert net.n_regularized == sum(e.size for e in net.table if e.regularized)
    assert net.n_trainable == sum(e.size for e in net.table if e.trainable)
    assert {e.name for e in net.table if not e.trainable} == {"Training-mu", "Training-variance"}
    net.layers[0].params["Weights"][0, 0] = 7.0  # in place: the network sees it
    nets[1].layers[0].params["Weights"][0, 0] = 7.0
    assert net.P[net.entry(0, "Weights").offset] == 7.0

    flat = Optimizer(net, "ADAM", 0.01, regularization="L2", weight_decay=0.1)
    per_array = Optimizer(list(nets[1].layers), "ADAM", 0.01, regularization="L2", weight_decay=0.1)
    assert flat.net is net and per_array.net is None
    for _ in range(3):
        g = rng.normal(size=net.G.size)
        net.G[:] = g
        nets[1].G[:] = g  # the list optimizer reads the same gradients through the layers' views
        flat.step()
        per_array.step()
    np.testing.assert_array_equal(net.P, nets[1].P)
    for a, b in zip(flat.slots, per_array.slots, strict=True):
        np.testing.assert_array_equal(a.state1, b.state1)
        np.testing.assert_array_equal(a.state2, b.state2)
