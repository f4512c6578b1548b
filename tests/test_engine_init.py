"""Initialisers: statistics against the closed-form TMVA rules, the XAVIER quirk, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tmvacompat.engine.init import init_matrix, init_method, initialize
from tmvacompat.engine.network import Network
from tmvacompat.errors import EngineConfigError
from tmvacompat.specs import DenseSpec

M, N = 300, 400  # rows = fan-out, columns = fan-in
P_BEYOND_2SIGMA = math.erfc(2 / math.sqrt(2))  # 0.0455


def draw(method, seed=0, dtype=np.float64, current=None):
    return init_matrix((M, N), method, np.random.default_rng(seed), dtype, current=current)


def test_gauss_std_uses_fan_in():
    w = draw("GAUSS")
    assert w.std() == pytest.approx(math.sqrt(2 / N), rel=0.02)
    assert abs(w.mean()) < 0.01 * math.sqrt(2 / N) * 10


def test_uniform_bounds_and_std():
    w = draw("UNIFORM")
    r = math.sqrt(2 / N)
    assert np.abs(w).max() <= r
    assert np.abs(w).max() > 0.99 * r
    assert w.std() == pytest.approx(r / math.sqrt(3), rel=0.02)


def test_xavier_uniform_bounds_and_std():
    w = draw("XAVIERUNIFORM")
    r = math.sqrt(6 / (N + M))
    assert np.abs(w).max() <= r
    assert w.std() == pytest.approx(r / math.sqrt(3), rel=0.02)


def test_xavier_truncation_quirk():
    sigma = math.sqrt(2 / (N + M))
    w = draw("XAVIER")
    zeros = np.mean(w == 0)
    # entries whose first draw is beyond 2 sigma are skipped (stay 0)
    assert zeros == pytest.approx(P_BEYOND_2SIGMA, abs=0.004)
    nz = w[w != 0]
    # the kept entries get a fresh, untruncated draw: std sigma, and values beyond 2 sigma exist
    assert nz.std() == pytest.approx(sigma, rel=0.02)
    assert np.mean(np.abs(nz) > 2 * sigma) == pytest.approx(P_BEYOND_2SIGMA, abs=0.004)
    assert w.std() == pytest.approx(sigma * math.sqrt(1 - P_BEYOND_2SIGMA), rel=0.02)


def test_xavier_skipped_entries_keep_current_values():
    current = np.full((M, N), 7.0)
    w = draw("XAVIER", current=current)
    assert np.mean(w == 7.0) == pytest.approx(P_BEYOND_2SIGMA, abs=0.004)


def test_identity_and_zero_quirks():
    assert np.all(draw("IDENTITY") == 1.0)  # TMVA sets every entry to 1, not an identity matrix
    assert np.all(draw("ZERO") == 0.0)


@pytest.mark.parametrize("method", ["GAUSS", "UNIFORM", "XAVIER", "XAVIERUNIFORM"])
def test_deterministic_given_seed(method):
    np.testing.assert_array_equal(draw(method, 5), draw(method, 5))
    assert not np.array_equal(draw(method, 5), draw(method, 6))


def test_codes_and_names():
    assert [init_method(c) for c in "GUIZXF"] == [
        "GAUSS",
        "UNIFORM",
        "IDENTITY",
        "ZERO",
        "XAVIER",
        "XAVIERUNIFORM",
    ]
    with pytest.raises(EngineConfigError, match="XAVIER") as err:
        init_method("XAVEIR")
    assert err.value.parameter == "initialization"


def test_initialize_network_in_place():
    net = Network.build([DenseSpec(64, "TANH"), DenseSpec(32, "TANH"), DenseSpec(1, "LINEAR")], (20,))
    for layer in net.layers:
        layer.params["Biases"][...] = 3.0
    ids = [id(layer.params["Weights"]) for layer in net.layers]
    initialize(net, "XAVIERUNIFORM", seed=11)
    assert ids == [id(layer.params["Weights"]) for layer in net.layers]
    for layer in net.layers:
        w = layer.params["Weights"]
        m, n = w.shape
        assert w.dtype == np.float32
        assert np.abs(w).max() <= math.sqrt(6 / (n + m)) * (1 + 1e-6)
        assert np.all(layer.params["Biases"] == 0)
    first = [layer.params["Weights"].copy() for layer in net.layers]
    initialize(net, "XAVIERUNIFORM", seed=11)
    for a, layer in zip(first, net.layers, strict=True):
        np.testing.assert_array_equal(a, layer.params["Weights"])
