"""Optimizers and regularisation against update rules written out by hand (TMVA DNN/*.h, Regularization)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tmvacompat.engine.base import Layer
from tmvacompat.engine.optimizers import (
    Optimizer,
    network_regularization_term,
    optimizer_for_phase,
    regularization_term,
    resolve_optimizer_params,
)
from tmvacompat.errors import EngineConfigError
from tmvacompat.specs import TrainingPhase

W0 = np.array([[0.5, -1.0, 0.0], [2.0, 0.25, -0.75]])
B0 = np.array([[0.1], [-0.2]])
GW = [np.array([[0.3, -0.1, 0.2], [-0.4, 0.05, 0.6]]), np.array([[-0.2, 0.3, 0.1], [0.5, -0.6, 0.05]])]
GB = [np.array([[0.7], [-0.3]]), np.array([[0.2], [0.4]])]


def make_layer(dtype=np.float64) -> Layer:
    layer = Layer((3,), (2,), dtype=dtype)
    layer.params = {"Weights": W0.astype(dtype), "Biases": B0.astype(dtype)}
    layer.grads = {"Weights": np.zeros((2, 3), dtype), "Biases": np.zeros((2, 1), dtype)}
    layer.regularized = ("Weights",)
    return layer


def run_steps(kind, n_steps, reg="NONE", wd=0.0, lr=0.01, momentum=0.0, params=None, dtype=np.float64):
    layer = make_layer(dtype)
    opt = Optimizer(
        [layer], kind, learning_rate=lr, momentum=momentum, regularization=reg, weight_decay=wd, params=params
    )
    for k in range(n_steps):
        layer.grads["Weights"][...] = GW[k]
        layer.grads["Biases"][...] = GB[k]
        opt.step()
    return layer, opt


def reg_grad(w, reg, wd):
    if reg == "L1":
        return wd * np.where(w < 0, -1.0, 1.0)  # TMVA: sign(0) = +1
    if reg == "L2":
        return 2 * wd * w
    return 0 * w


# ---- closed forms, written independently of the kernel -------------------------------------------------
def sgd_ref(theta, grads, lr, mu, reg="NONE", wd=0.0, is_weight=True):
    v = np.zeros_like(theta)
    for g in grads:
        g = g + (reg_grad(theta, reg, wd) if is_weight else 0)
        v = mu * v + g
        theta = theta - lr * v
    return theta


def adam_ref(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
    return theta


def adagrad_ref(theta, grads, lr, eps=1e-8):
    v = np.zeros_like(theta)
    for g in grads:
        v = v + g * g
        theta = theta - lr * g / np.sqrt(v + eps)
    return theta


def rmsprop_ref(theta, grads, lr, mu, rho=0.9, eps=1e-7):
    v = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        u = mu * u + lr * g / np.sqrt(v + eps)
        theta = theta - u
    return theta


def adadelta_ref(theta, grads, lr, rho=0.95, eps=1e-8):
    v = np.zeros_like(theta)
    acc = np.zeros_like(theta)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        d = np.sqrt(acc + eps) * g / np.sqrt(v + eps)
        theta = theta - lr * d
        acc = rho * acc + (1 - rho) * d * d
    return theta


@pytest.mark.parametrize("n", [1, 2])
def test_sgd_momentum(n):
    layer, opt = run_steps("SGD", n, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(layer.params["Weights"], sgd_ref(W0, GW[:n], 0.1, 0.9), rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.params["Biases"], sgd_ref(B0, GB[:n], 0.1, 0.9), rtol=0, atol=1e-15)
    assert opt.t == n


def test_sgd_two_steps_by_hand():
    # one element written out: w=0.5, g1=0.3, g2=-0.2, lr 0.1, mu 0.9
    layer, _ = run_steps("SGD", 2, lr=0.1, momentum=0.9)
    v1 = 0.3
    w1 = 0.5 - 0.1 * v1
    v2 = 0.9 * v1 - 0.2
    assert layer.params["Weights"][0, 0] == pytest.approx(w1 - 0.1 * v2, abs=1e-15)


@pytest.mark.parametrize("n", [1, 2])
def test_adam(n):
    layer, _ = run_steps("ADAM", n, lr=0.01)
    np.testing.assert_allclose(layer.params["Weights"], adam_ref(W0, GW[:n], 0.01), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.params["Biases"], adam_ref(B0, GB[:n], 0.01), rtol=1e-13, atol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # with bias correction the first Adam step is lr * g / (|g| + eps / sqrt(1-b2)) ~ lr * sign(g)
    layer, _ = run_steps("ADAM", 1, lr=0.01, params={"ADAM_eps": 0.0})
    np.testing.assert_allclose(layer.params["Weights"], W0 - 0.01 * np.sign(GW[0]), rtol=0, atol=1e-15)


def test_adam_custom_hyperparameters():
    layer, _ = run_steps("ADAM", 2, lr=0.02, params={"ADAM_beta1": 0.5, "adam_beta2": 0.9, "eps": 1e-3})
    expected = adam_ref(W0, GW[:2], 0.02, 0.5, 0.9, 1e-3)
    np.testing.assert_allclose(layer.params["Weights"], expected, rtol=1e-13)


@pytest.mark.parametrize("n", [1, 2])
def test_adagrad(n):
    layer, _ = run_steps("ADAGRAD", n, lr=0.05)
    np.testing.assert_allclose(layer.params["Weights"], adagrad_ref(W0, GW[:n], 0.05), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.params["Biases"], adagrad_ref(B0, GB[:n], 0.05), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", [1, 2])
def test_rmsprop(n):
    layer, _ = run_steps("RMSPROP", n, lr=0.01, momentum=0.3)
    np.testing.assert_allclose(
        layer.params["Weights"], rmsprop_ref(W0, GW[:n], 0.01, 0.3), rtol=1e-13, atol=1e-15
    )
    np.testing.assert_allclose(
        layer.params["Biases"], rmsprop_ref(B0, GB[:n], 0.01, 0.3), rtol=1e-13, atol=1e-15
    )


@pytest.mark.parametrize("n", [1, 2])
def test_adadelta(n):
    layer, _ = run_steps("ADADELTA", n, lr=1.0)
    np.testing.assert_allclose(layer.params["Weights"], adadelta_ref(W0, GW[:n], 1.0), rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(layer.params["Biases"], adadelta_ref(B0, GB[:n], 1.0), rtol=1e-12, atol=1e-18)


def test_adadelta_first_step_closed_form():
    # first step: v = (1-rho) g^2, d = sqrt(eps) g / sqrt((1-rho) g^2 + eps)
    layer, _ = run_steps("ADADELTA", 1, lr=1.0)
    g = 0.3
    d = math.sqrt(1e-8) * g / math.sqrt(0.05 * g * g + 1e-8)
    assert layer.params["Weights"][0, 0] == pytest.approx(0.5 - d, abs=1e-16)


@pytest.mark.parametrize("reg", ["L1", "L2"])
def test_regularization_gradient_on_weights_only(reg):
    wd = 0.05
    layer, _ = run_steps("SGD", 2, reg=reg, wd=wd, lr=0.1, momentum=0.5)
    np.testing.assert_allclose(
        layer.params["Weights"], sgd_ref(W0, GW[:2], 0.1, 0.5, reg, wd), rtol=0, atol=1e-15
    )
    # biases are never regularised
    np.testing.assert_allclose(layer.params["Biases"], sgd_ref(B0, GB[:2], 0.1, 0.5), rtol=0, atol=1e-15)


def test_l1_sign_of_zero_is_plus_one():
    layer = make_layer()
    opt = Optimizer([layer], "SGD", learning_rate=1.0, regularization="L1", weight_decay=0.25)
    opt.step()  # zero data gradient: step = -lr * wd * sign(w)
    assert layer.params["Weights"][0, 2] == -0.25  # w was exactly 0
    assert layer.params["Weights"][0, 1] == -1.0 + 0.25


def test_regularization_applies_with_adam():
    wd = 0.01
    layer, _ = run_steps("ADAM", 2, reg="L2", wd=wd, lr=0.01)
    # regularisation gradient uses the weights *before* each step
    theta = W0.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(GW[:2], start=1):
        g = g + 2 * wd * theta
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - 0.01 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(layer.params["Weights"], theta, rtol=1e-13)


def test_regularization_term():
    w = [np.array([[1.0, -2.0]]), np.array([[0.5], [-0.5]])]
    assert regularization_term(w, "L1", 0.1) == pytest.approx(0.1 * 4.0)
    assert regularization_term(w, "L2", 0.1) == pytest.approx(0.1 * 5.5)
    assert regularization_term(w, "NONE", 0.1) == 0.0
    layer = make_layer()
    assert network_regularization_term([layer], "L2", 2.0) == pytest.approx(2.0 * float((W0**2).sum()))


def test_float32_update_stays_float32_and_close():
    l32, _ = run_steps("ADAM", 2, lr=0.01, dtype=np.float32)
    assert l32.params["Weights"].dtype == np.float32
    np.testing.assert_allclose(l32.params["Weights"], adam_ref(W0, GW[:2], 0.01), rtol=2e-6, atol=1e-7)


def test_state_resets_and_phase_factory():
    layer, opt = run_steps("RMSPROP", 2, lr=0.01, momentum=0.3)
    opt.reset()
    assert opt.t == 0 and all(not s.state1.any() and not s.state2.any() for s in opt.slots)
    phase = TrainingPhase(
        optimizer="ADAGRAD",
        learning_rate=0.2,
        regularization="L1",
        weight_decay=0.3,
        optimizer_params={"ADAGRAD_eps": 1e-4, "ADAM_beta1": 0.1},
    )
    opt2 = optimizer_for_phase([layer], phase)
    assert (opt2.kind, opt2.learning_rate, opt2.reg_code, opt2.weight_decay) == ("ADAGRAD", 0.2, 1, 0.3)
    assert opt2.hyper == {"eps": 1e-4}


def test_bad_names_raise_engine_errors():
    with pytest.raises(EngineConfigError, match="ADAM") as err:
        Optimizer([], "ADAMM")
    assert (err.value.parameter, err.value.value) == ("optimizer", "ADAMM")
    with pytest.raises(EngineConfigError, match="regularization") as err:
        Optimizer([], "SGD", regularization="L3")
    assert (err.value.parameter, err.value.value) == ("regularization", "L3")
    with pytest.raises(EngineConfigError, match="ADAM_beta1") as err:
        resolve_optimizer_params("ADAM", {"ADAM_beta3": 0.5})
    assert (err.value.parameter, err.value.value) == ("optimizer_params", "ADAM_beta3")


def test_only_trainable_parameters_are_updated():
    layer = make_layer()
    layer.params["Running"] = np.ones((2, 1))
    layer.grads["Running"] = np.ones((2, 1))
    layer.trainable = ("Weights", "Biases")
    opt = Optimizer([layer], "SGD", learning_rate=1.0)
    assert [s.name for s in opt.slots] == ["Weights", "Biases"]
    opt.step()
    assert np.all(layer.params["Running"] == 1.0)
