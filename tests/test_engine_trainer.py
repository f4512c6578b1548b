"""The minibatch trainer and the fused dense path: TMVA loop semantics, convergence, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tmvacompat.engine.fused import FusedDenseTrainer, can_fuse
from tmvacompat.engine.init import initialize
from tmvacompat.engine.network import Network
from tmvacompat.engine.optimizers import Optimizer
from tmvacompat.engine.trainer import train
from tmvacompat.errors import InputDataError, TrainingError
from tmvacompat.specs import DenseSpec, TrainingPhase

HIDDEN = [DenseSpec(12, "TANH"), DenseSpec(8, "SIGMOID"), DenseSpec(0, "LINEAR")]


def build(specs, nin, nout=1, dtype=np.float64, seed=1, init="XAVIERUNIFORM"):
    net = Network.build(specs, (nin,), n_outputs=nout, dtype=dtype)
    initialize(net, init, seed=seed)
    return net


def params_of(net):
    return [{k: v.copy() for k, v in layer.params.items()} for layer in net.layers]


def max_diff(a, b):
    return max(float(np.max(np.abs(x[k] - y[k]))) for x, y in zip(a, b, strict=True) for k in x)


def numpy_forward(net, X):
    """Independent forward pass (numpy) for dense stacks with tanh / sigmoid / linear."""
    acts = {"TANH": np.tanh, "SIGMOID": lambda z: 1 / (1 + np.exp(-z)), "LINEAR": lambda z: z}
    codes = {3: "TANH", 2: "SIGMOID", 0: "LINEAR"}
    a = X.astype(np.float64)
    for layer in net.layers:
        z = a @ layer.params["Weights"].astype(np.float64).T + layer.params["Biases"].astype(np.float64)[:, 0]
        a = acts[codes[layer.activation]](z)
    return a


def xor_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    Y = (X[:, 0] * X[:, 1] > 0).astype(float)[:, None]
    return X, Y


# ------------------------------------------------------------------------------------------ learning
def test_xor_like_classification_reaches_high_accuracy():
    X, Y = xor_data(800, 0)
    Xv, Yv = xor_data(400, 1)
    net = build([DenseSpec(16, "TANH"), DenseSpec(0, "LINEAR")], 2, dtype=np.float32)
    hist = train(
        net,
        X,
        Y,
        None,
        Xv,
        Yv,
        None,
        loss="C",
        seed=7,
        phases=[
            TrainingPhase(
                learning_rate=0.02, batch_size=32, max_epochs=40, test_repetitions=1, convergence_steps=20
            )
        ],
    )
    assert hist.phases[0].path == "fused"
    # noise-free labels: the Bayes accuracy is 1; a 16-unit tanh net gets close
    acc = np.mean((net.predict(Xv)[:, 0] > 0) == (Yv[:, 0] > 0.5))
    assert acc > 0.96
    assert hist.best_val_loss < 0.15  # vs log(2) = 0.69 for a constant output
    assert hist.records[-1].train_loss < 0.5 * hist.records[0].train_loss


def test_linear_regression_reaches_least_squares_optimum():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 3))
    Y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + rng.normal(scale=0.1, size=(2000, 1))
    net = build([DenseSpec(0, "LINEAR")], 3)
    train(
        net,
        X[:1600],
        Y[:1600],
        None,
        X[1600:],
        Y[1600:],
        None,
        loss="R",
        seed=2,
        phases=[
            TrainingPhase(
                learning_rate=0.01, batch_size=16, max_epochs=60, test_repetitions=1, optimizer="ADAM"
            )
        ],
    )
    # closed form: ordinary least squares on the training set
    A = np.hstack([X[:1600], np.ones((1600, 1))])
    coef = np.linalg.lstsq(A, Y[:1600], rcond=None)[0]
    np.testing.assert_allclose(net.layers[0].params["Weights"][0], coef[:3, 0], atol=0.02)
    assert net.layers[0].params["Biases"][0, 0] == pytest.approx(coef[3, 0], abs=0.02)
    mse = float(np.mean((net.predict(X[1600:]) - Y[1600:]) ** 2))
    assert mse == pytest.approx(0.01, rel=0.15)  # the noise variance


# ---------------------------------------------------------------------------------- TMVA loop semantics
def test_validation_error_uses_floor_nval_over_b_batches_plus_regularization():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(64, 3)), rng.normal(size=(64, 1))
    Xv, Yv, wv = rng.normal(size=(50, 3)), rng.normal(size=(50, 1)), rng.uniform(0.5, 2, 50)
    net = build(HIDDEN, 3)
    before = params_of(net)
    # learning rate 0: the weights never move, so every error is a closed form of the initial weights
    hist = train(
        net,
        X,
        Y,
        None,
        Xv,
        Yv,
        wv,
        loss="R",
        seed=1,
        phases=[
            TrainingPhase(
                learning_rate=0.0,
                optimizer="SGD",
                momentum=0.0,
                batch_size=20,
                max_epochs=2,
                test_repetitions=1,
                regularization="L2",
                weight_decay=0.01,
            )
        ],
    )
    assert max_diff(before, params_of(net)) == 0.0
    reg = 0.01 * sum(float((layer.params["Weights"] ** 2).sum()) for layer in net.layers)
    out = numpy_forward(net, Xv[:40])  # floor(50 / 20) = 2 batches: the last 10 events are never used
    val = float(np.mean(wv[:40, None] * (out - Yv[:40]) ** 2))
    assert hist.phases[0].initial_val_loss == pytest.approx(val + reg, rel=1e-12)
    assert hist.records[0].val_loss == pytest.approx(val + reg, rel=1e-12)
    # training error: mean over floor(64/20) = 3 shuffled batches of 20 (4 events skipped per epoch)
    assert hist.records[0].train_loss > reg


def test_early_stopping_counts_like_tmva():
    rng = np.random.default_rng(9)
    X, Y = rng.normal(size=(200, 4)), rng.integers(0, 2, (200, 1)).astype(float)  # pure noise labels
    Xv, Yv = rng.normal(size=(100, 4)), rng.integers(0, 2, (100, 1)).astype(float)
    net = build(HIDDEN, 4)
    seen = []
    hist = train(
        net,
        X,
        Y,
        None,
        Xv,
        Yv,
        None,
        loss="C",
        seed=4,
        callback=lambda e, tl, vl, t: seen.append((e, vl)),
        phases=[
            TrainingPhase(
                learning_rate=0.05, batch_size=10, max_epochs=500, test_repetitions=2, convergence_steps=5
            )
        ],
    )
    ph = hist.phases[0]
    assert ph.stop_reason == "converged"
    # counter grows by TestRepetitions per non-improving validation; stop once it exceeds ConvergenceSteps
    assert ph.epochs == ph.best_epoch + 2 * (5 // 2 + 1)
    assert ph.epochs < 500
    assert [vl is None for _, vl in seen] == [e % 2 == 1 for e, _ in seen]
    # the network holds the best weights: their validation error is the best one recorded
    out = numpy_forward(net, Xv)
    ce = np.mean(np.logaddexp(0, out) - Yv * out)
    assert ce == pytest.approx(ph.best_val_loss, rel=1e-10)
    assert ph.best_val_loss == min(r.val_loss for r in hist.records if r.val_loss is not None)


def test_max_epochs_only_checked_on_validation_epochs():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(40, 1))
    net = build(HIDDEN, 2)
    hist = train(
        net,
        X,
        Y,
        None,
        X,
        Y,
        None,
        loss="R",
        seed=1,
        phases=[
            TrainingPhase(
                learning_rate=1e-3, batch_size=10, max_epochs=5, test_repetitions=3, convergence_steps=100
            )
        ],
    )
    assert hist.phases[0].epochs == 6 and hist.phases[0].stop_reason == "max_epochs"


def test_phases_continue_from_best_weights_and_callback_can_stop():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(120, 3)), rng.normal(size=(120, 1))
    net = build(HIDDEN, 3)
    phases = [
        TrainingPhase(learning_rate=0.01, batch_size=20, max_epochs=4, test_repetitions=1),
        TrainingPhase(
            learning_rate=0.001,
            optimizer="SGD",
            momentum=0.9,
            batch_size=10,
            max_epochs=3,
            test_repetitions=1,
        ),
    ]
    hist = train(net, X[:80], Y[:80], None, X[80:], Y[80:], None, loss="R", seed=3, phases=phases)
    assert len(hist.phases) == 2
    # phase 2 starts from phase 1's best weights (batch size differs, but 40 = 2 x 20 = 4 x 10 events)
    assert hist.phases[1].initial_val_loss == pytest.approx(hist.phases[0].best_val_loss, rel=1e-12)
    assert hist.phases[0].steps == 4 * (80 // 20) and hist.phases[1].steps == 3 * (80 // 10)
    net2 = build(HIDDEN, 3)
    hist2 = train(
        net2,
        X[:80],
        Y[:80],
        None,
        X[80:],
        Y[80:],
        None,
        loss="R",
        seed=3,
        phases=phases,
        callback=lambda e, *_: e == 2,
    )
    assert len(hist2.records) == 2 and hist2.phases[-1].stop_reason == "callback"


# ------------------------------------------------------------------------------------------ fused == generic
OPTS = ["SGD", "ADAM", "ADAGRAD", "RMSPROP", "ADADELTA"]


def _problem(loss, dtype, n=96, nin=5, nout=2):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, nin))
    nout = 3 if loss == "S" else nout
    if loss == "S":
        Y = np.eye(3)[rng.integers(0, 3, n)]
    elif loss == "C":
        Y = rng.integers(0, 2, (n, nout)).astype(float)
    else:
        Y = rng.normal(size=(n, nout))
    w = rng.uniform(0.5, 1.5, n)
    return X.astype(dtype), Y.astype(dtype), w.astype(dtype), nout


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt", OPTS)
def test_fused_equals_generic(opt, dtype):
    cases = (
        ("C", "L1", (0.1, 0.3), 2),
        ("R", "L2", (), 2),
        ("S", "L2", (0.0, 0.2, 0.25), 3),
        ("C", "L2", (0.0, 0.1, 0.2), 1),
    )  # width-1 output: the fused path skips BLAS there
    for loss, reg, drop, n_out in cases:
        X, Y, w, nout = _problem(loss, dtype, nout=n_out)
        phase = TrainingPhase(
            learning_rate=0.01,
            momentum=0.5,
            optimizer=opt,
            batch_size=16,
            max_epochs=2,
            test_repetitions=1,
            regularization=reg,
            weight_decay=1e-3,
            drop_config=drop,
        )
        results = []
        for fused in (True, False):
            net = build(HIDDEN, 5, nout, dtype=dtype, init="XAVIER")
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
            results.append((params_of(net), hist.train_losses()))
        tol = 1e-12 if dtype == np.float64 else 1e-5
        assert max_diff(results[0][0], results[1][0]) <= tol, (opt, loss)
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=tol)


def _plan_unshared(layers, keep, R, B):
    """The fused trainer's workspace plan with a buffer of its own for every layer's z, a, dz and dx (the
    layout before buffers were shared): the reference the shared plan must train bit for bit like."""
    from tmvacompat.engine import fused as F

    nin, nout = layers[0].fan_in, layers[-1].width
    lay = np.zeros((len(layers), F.L_COLS), dtype=np.int64)
    pos, u_pos = R * (nin + 2 * nout + 1), 0
    for i, la in enumerate(layers):
        m, k = la.width, la.fan_in
        lay[i, F.L_M], lay[i, F.L_K], lay[i, F.L_CODE] = m, k, la.activation
        lay[i, F.L_Z], pos = pos, pos + R * m
        lay[i, F.L_A] = lay[i, F.L_Z]
        if la.activation != 0:
            lay[i, F.L_A], pos = pos, pos + R * m
        lay[i, F.L_DZ], pos = pos, pos + R * m
        if i > 0:
            lay[i, F.L_DX], pos = pos, pos + R * k
        if keep[i] < 1:
            lay[i, F.L_IN], lay[i, F.L_S], pos = pos, pos + R * k, pos + 2 * R * k
            lay[i, F.L_U], u_pos = u_pos, u_pos + B * k
    return lay, pos, u_pos


@pytest.mark.parametrize(
    "acts",
    [
        ("TANH", "RELU", "SIGMOID", "GAUSS"),
        ("RELU", "TANH", "SOFTSIGN", "SYMMRELU"),
        ("FTANH", "LINEAR", "TANH", "RELU"),
    ],
)
def test_shared_workspace_trains_bit_for_bit_like_unshared_buffers(monkeypatch, acts):
    # every activation kind between others: a layer whose backward reads z (relu, gauss, softsign, ...) must
    # keep its own z; dropout on two layers exercises their separate buffers
    from tmvacompat.engine import fused as F

    X, Y, w, nout = _problem("C", np.float64, nout=1)
    specs = [DenseSpec(9 - i, a) for i, a in enumerate(acts)] + [DenseSpec(0, "LINEAR")]
    phase = TrainingPhase(
        learning_rate=0.02,
        optimizer="ADAM",
        batch_size=16,
        max_epochs=2,
        test_repetitions=1,
        drop_config=(0.0, 0.2, 0.0, 0.1),
    )
    results = []
    for plan in (F._plan, _plan_unshared):
        monkeypatch.setattr(F, "_plan", plan)
        net = build(specs, 5, nout, init="XAVIER")
        hist = train(net, X[:64], Y[:64], w[:64], X[64:], Y[64:], w[64:], loss="C", phases=[phase], seed=5)
        assert hist.phases[0].path == "fused"
        results.append(params_of(net))
    assert max_diff(results[0], results[1]) == 0.0


def test_shared_workspace_size_of_the_tutorial_network():
    # 20 -> 3 x 128 tanh -> 1 at 128 rows: inputs/targets/gradients/weights (20 + 3) rows, one shared z,
    # three outputs, one dz, one dx (128 wide), the output layer's z: 396 KB in float32 (780 KB unshared)
    from tmvacompat.engine import fused as F

    net = build([DenseSpec(128, "TANH")] * 3 + [DenseSpec(0, "LINEAR")], 20, dtype=np.float32)
    _, size, _ = F._plan(net.layers, np.ones(4), 128, 128)
    assert size == 128 * (23 + 128 + 3 * 128 + 128 + 128 + 1)
    assert _plan_unshared(net.layers, np.ones(4), 128, 128)[1] * 4 == 780.5 * 1024


def test_fused_dropout_masks_and_scaling_and_no_dropout_in_predict():
    net = build([DenseSpec(40, "TANH"), DenseSpec(1, "LINEAR")], 50)
    opt = Optimizer(net, "SGD", learning_rate=0.0)
    B = 2000
    ft = FusedDenseTrainer(net, opt, "R", B, keep=[0.6, 0.8], threads=1)  # one shard: whole-batch buffers
    rng = np.random.default_rng(0)
    X = rng.normal(size=(B, 50))
    ft.run(X, np.zeros((B, 1)), np.ones(B), np.arange(B), 0, 1, np.random.default_rng(1))
    for i, keep in enumerate((0.6, 0.8)):
        scale = ft.buffer(i, "scale")
        assert set(np.unique(scale)) == {0.0, 1 / keep}
        assert np.mean(scale > 0) == pytest.approx(keep, abs=0.01)
    # inverted dropout: kept inputs scaled by 1/keep, so E[dropped input] = input
    np.testing.assert_array_equal(ft.buffer(0, "in"), X * ft.buffer(0, "scale"))
    np.testing.assert_array_equal(ft.buffer(1, "in"), ft.buffer(0, "a") * ft.buffer(1, "scale"))
    # predict does not drop anything
    np.testing.assert_allclose(net.predict(X[:100]), numpy_forward(net, X[:100]), rtol=1e-12, atol=1e-14)


def test_can_fuse_rules():
    net = build(HIDDEN, 3)
    assert can_fuse(net, "C") and can_fuse(net, "R") and can_fuse(net, "S")
    assert not can_fuse(net, "D")
    from tmvacompat.specs import AddSpec

    graph = build(
        [DenseSpec(3, "TANH", name="a"), DenseSpec(3, "TANH"), AddSpec(("a",)), DenseSpec(1, "LINEAR")], 3
    )
    assert not can_fuse(graph, "R")
    with pytest.raises(TrainingError, match="fused=True"):
        X = np.zeros((20, 3))
        train(
            graph,
            X,
            X[:, :1],
            None,
            X,
            X[:, :1],
            None,
            loss="R",
            fused=True,
            phases=[TrainingPhase(batch_size=5, max_epochs=1)],
        )


# ------------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("fused", [True, False])
def test_same_seed_gives_bitwise_same_weights(fused):
    X, Y = xor_data(300, 4)
    phase = TrainingPhase(
        learning_rate=0.01, batch_size=16, max_epochs=3, test_repetitions=1, drop_config=(0.2, 0.3)
    )
    runs = []
    for seed in (21, 21, 22):
        net = build([DenseSpec(16, "TANH"), DenseSpec(0, "LINEAR")], 2, dtype=np.float32, seed=1)
        train(
            net,
            X[:200],
            Y[:200],
            None,
            X[200:],
            Y[200:],
            None,
            loss="C",
            seed=seed,
            phases=[phase],
            fused=fused,
        )
        runs.append(params_of(net))
    assert max_diff(runs[0], runs[1]) == 0.0
    assert max_diff(runs[0], runs[2]) > 0.0


# ------------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("fused", [True, False])
def test_diverging_loss_raises_with_epoch_and_batch_and_restores_best(fused):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 3)), rng.normal(size=(60, 1))
    net = build([DenseSpec(0, "LINEAR")], 3)
    start = params_of(net)
    with pytest.raises(TrainingError, match=r"epoch 1, batch 2 of 4") as info:
        train(
            net,
            X[:40],
            Y[:40],
            None,
            X[40:],
            Y[40:],
            None,
            loss="R",
            seed=0,
            fused=fused,
            phases=[TrainingPhase(learning_rate=1e200, optimizer="SGD", momentum=0.0, batch_size=10)],
        )
    err = info.value
    assert (err.phase, err.epoch, err.batch) == (1, 1, 2)
    assert max_diff(start, params_of(net)) == 0.0  # nothing improved yet: the initial weights are back
    assert max_diff(start, err.best_params) == 0.0


def test_bad_inputs_are_reported():
    net = build(HIDDEN, 3)
    X = np.zeros((30, 3))
    with pytest.raises(InputDataError, match="training set inputs have shape"):
        train(net, X[:, :2], X[:, :1], None, X, X[:, :1], None, loss="R")
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(InputDataError, match="event 7"):
        train(net, X, X[:, :1], None, Xn, X[:, :1], None, loss="R")
    with pytest.raises(TrainingError, match="BatchSize=40"):
        train(net, X, X[:, :1], None, X, X[:, :1], None, loss="R", phases=[TrainingPhase(batch_size=40)])
