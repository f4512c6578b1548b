"""RNN / LSTM / GRU layers: finite-difference BPTT checks, closed forms, TMVA layout facts, PyTorch parity.

The PyTorch comparison is the proof of the gate order: TMVA's roles (see ``LSTM_PARAM_ROLES``) are
stacked into ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` weights in PyTorch's documented order (LSTM i, f, g, o;
GRU r, z, n) and both must agree on outputs and on every gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.recurrent import (
    GRU,
    GRU_PARAM_ROLES,
    LSTM,
    LSTM_PARAM_ROLES,
    RNN,
    RNN_PARAM_ROLES,
)
from tmvacompat.errors import LayoutError, TrainingError
from tmvacompat.specs import GRUSpec, LSTMSpec, RNNSpec

S, I, T, B = 3, 2, 4, 2  # state != input, so misplaced (state, input) / (state, state) matrices show


def _make(
    kind: str,
    *,
    seq: bool,
    after: bool = False,
    remember: bool = False,
    dtype=np.float64,
    seed=0,
    state=S,
    inp=I,
    steps=T,
):
    if kind == "RNN":
        layer = RNN.from_spec(RNNSpec(state, inp, steps, remember, seq), (steps, inp), dtype=dtype)
    elif kind == "LSTM":
        layer = LSTM.from_spec(LSTMSpec(state, inp, steps, remember, seq), (steps, inp), dtype=dtype)
    else:
        layer = GRU.from_spec(GRUSpec(state, inp, steps, remember, seq, after), (steps, inp), dtype=dtype)
    rng = np.random.default_rng(seed)
    for p in layer.params.values():
        p[...] = rng.normal(0.0, 0.6, p.shape)
    return layer


CASES = [("RNN", False), ("LSTM", False), ("GRU", False), ("GRU", True)]


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(a)) + np.max(np.abs(b))))


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize(("kind", "after"), CASES)
def test_gradients_match_central_differences(kind, after, seq):
    layer = _make(kind, seq=seq, after=after)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, I))
    w = rng.normal(size=(B,) + layer.output_shape)  # loss = sum(w * y)

    def loss() -> float:
        return float(np.sum(w * layer.forward(x, training=True)))

    layer.forward(x, training=True)
    dx = layer.backward(w)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    h = 1e-6
    num_dx = numerical_gradient(loss, x, h)
    assert _rel_err(dx, num_dx) < 1e-6
    for name, p in layer.params.items():
        num = numerical_gradient(loss, p, h)
        assert np.max(np.abs(num)) > 0, f"{name} has no effect on the output"
        assert _rel_err(analytic[name], num) < 1e-6, name


@pytest.mark.parametrize(("kind", "after"), CASES)
def test_gradients_from_a_remembered_nonzero_state(kind, after):
    """BPTT from a nonzero initial (remembered) state, which is held fixed: checked by central differences."""
    layer = _make(kind, seq=True, after=after, remember=True, steps=3)
    rng = np.random.default_rng(9)
    layer.forward(rng.normal(size=(B, 3, I)))  # primes the remembered state
    state = layer._state
    x = rng.normal(size=(B, 3, I))
    w = rng.normal(size=(B, 3, S))

    def loss() -> float:
        layer._state = state
        return float(np.sum(w * layer.forward(x, training=True)))

    loss()
    dx = layer.backward(w)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    h = 1e-6
    for arr, ref in [(x, dx)] + [(p, analytic[n]) for n, p in layer.params.items()]:
        num = numerical_gradient(loss, arr, h)
        assert _rel_err(ref, num) < 1e-6


@pytest.mark.parametrize(("kind", "after"), CASES)
def test_remembered_state_continues_the_sequence(kind, after):
    """Two calls of T steps with rememberState equal one call of 2T steps (a second implementation)."""
    half = _make(kind, seq=True, after=after, remember=True)
    full = _make(kind, seq=True, after=after, steps=2 * T)
    for name in half.params:
        full.params[name][...] = half.params[name]
    x = np.random.default_rng(2).normal(size=(B, 2 * T, I))
    y1 = half.forward(x[:, :T])
    y2 = half.forward(x[:, T:])
    np.testing.assert_allclose(np.concatenate([y1, y2], axis=1), full.forward(x), rtol=1e-12, atol=1e-12)
    # a different batch size (or reset_state) starts again from zeros
    half.reset_state()
    np.testing.assert_allclose(half.forward(x[:, :T]), y1, rtol=0, atol=0)
    forgetful = _make(kind, seq=True, after=after, remember=False)
    forgetful.forward(x[:, :T])
    fresh = _make(kind, seq=True, after=after)
    np.testing.assert_array_equal(forgetful.forward(x[:, T:]), fresh.forward(x[:, T:]))


def _sig(a):
    return 1 / (1 + np.exp(-a))


@pytest.mark.parametrize("after", [False, True])
def test_gru_one_step_closed_form_with_nonzero_state(after):
    """One GRU step from a remembered state h0, written out from TMVA's equations with the XML roles."""
    g = _make("GRU", seq=False, after=after, remember=True, steps=1)
    rng = np.random.default_rng(3)
    x0, x1 = rng.normal(size=(B, 1, I)), rng.normal(size=(B, 1, I))
    h0 = g.forward(x0)
    P = g.params
    x = x1[:, 0]
    r = _sig(x @ P["ResetWeights"].T + h0 @ P["UpdateStateWeights"].T + P["ResetBiases"][:, 0])
    z = _sig(x @ P["ResetStateWeights"].T + h0 @ P["CandidateWeights"].T + P["UpdateBiases"][:, 0])
    if after:
        pre = x @ P["UpdateWeights"].T + r * (h0 @ P["CandidateStateWeights"].T) + P["CandidateBiases"][:, 0]
    else:
        pre = x @ P["UpdateWeights"].T + (r * h0) @ P["CandidateStateWeights"].T + P["CandidateBiases"][:, 0]
    expected = z * h0 + (1 - z) * np.tanh(pre)
    np.testing.assert_allclose(g.forward(x1), expected, rtol=1e-12, atol=1e-14)


def test_lstm_one_step_closed_form():
    layer = _make("LSTM", seq=False, steps=1)
    P = layer.params
    x = np.random.default_rng(4).normal(size=(B, I))
    i = _sig(x @ P["InputWeights"].T + P["InputBiases"][:, 0])
    g = np.tanh(x @ P["ForgetWeights"].T + P["CandidateBiases"][:, 0])
    o = _sig(x @ P["ForgetStateWeights"].T + P["OutputBiases"][:, 0])
    np.testing.assert_allclose(layer.forward(x[:, None]), o * np.tanh(i * g), rtol=1e-12, atol=1e-14)


def test_tmva_weight_file_names_and_shapes():
    """Names, order and (rows, cols) exactly as TMVA's AddWeightsXMLTo writes them (state 3, input 2)."""
    lstm, gru, rnn = _make("LSTM", seq=False), _make("GRU", seq=False), _make("RNN", seq=False)
    assert list(rnn.params) == ["InputWeights", "StateWeights", "Biases"]
    assert [rnn.params[n].shape for n in rnn.params] == [(S, I), (S, S), (S, 1)]
    assert list(lstm.params) == [
        "InputWeights",
        "InputStateWeights",
        "InputBiases",
        "ForgetWeights",
        "ForgetStateWeights",
        "ForgetBiases",
        "CandidateWeights",
        "CandidateStateWeights",
        "CandidateBiases",
        "OuputWeights",
        "OutputStateWeights",
        "OutputBiases",
    ]
    # current ROOT: weights 0-3 are the gates' input weights, 4-7 their state weights, written in that order
    assert [lstm.params[n].shape for n in lstm.params] == [
        (S, I),
        (S, I),
        (S, 1),
        (S, I),
        (S, I),
        (S, 1),
        (S, S),
        (S, S),
        (S, 1),
        (S, S),
        (S, S),
        (S, 1),
    ]
    assert list(gru.params) == [
        "ResetWeights",
        "ResetStateWeights",
        "ResetBiases",
        "UpdateWeights",
        "UpdateStateWeights",
        "UpdateBiases",
        "CandidateWeights",
        "CandidateStateWeights",
        "CandidateBiases",
    ]
    assert [gru.params[n].shape for n in gru.params] == [
        (S, I),
        (S, I),
        (S, 1),
        (S, I),
        (S, S),
        (S, 1),
        (S, S),
        (S, S),
        (S, 1),
    ]
    for layer, roles in ((lstm, LSTM_PARAM_ROLES), (gru, GRU_PARAM_ROLES), (rnn, RNN_PARAM_ROLES)):
        assert set(roles) == set(layer.params)
        for name, (role, _kind) in roles.items():
            assert layer.role(role) is layer.params[name]
        assert set(layer.trainable) == set(layer.params)
        assert all(not n.endswith("Biases") for n in layer.regularized)
        assert len(layer.regularized) == len(layer.params) - len(layer.params) // 3


@pytest.mark.parametrize(("kind", "after"), CASES)
def test_input_layout_and_output_shapes(kind, after):
    layer = _make(kind, seq=False, after=after)
    x = np.random.default_rng(5).normal(size=(B, T, I))
    flat = x.reshape(B, T * I)  # InputLayout=T|W: variable t*W + k is time t, feature k
    np.testing.assert_array_equal(layer.forward(flat), layer.forward(x))
    assert layer.forward(x).shape == (B, S)
    seq = _make(kind, seq=True, after=after)
    ys = seq.forward(x)
    assert ys.shape == (B, T, S)
    np.testing.assert_array_equal(ys[:, -1], layer.forward(x))  # last state = non-sequence output
    dx = layer.backward(np.ones((B, S)))
    assert dx.shape == (B, T, I)
    layer.forward(flat)
    assert layer.backward(np.ones((B, S))).shape == (B, T * I)


@pytest.mark.parametrize(("kind", "after"), CASES)
def test_float32_matches_float64(kind, after):
    l64 = _make(kind, seq=True, after=after)
    l32 = _make(kind, seq=True, after=after, dtype=np.float32)
    x = np.random.default_rng(6).normal(size=(B, T, I))
    y32 = l32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, l64.forward(x), rtol=0, atol=2e-6)
    dy = np.random.default_rng(7).normal(size=y32.shape)
    dx32 = l32.backward(dy.astype(np.float32))
    dx64 = l64.backward(dy)
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=0, atol=2e-5)
    for name in l64.grads:
        assert l32.grads[name].dtype == np.float32
        np.testing.assert_allclose(l32.grads[name], l64.grads[name], rtol=0, atol=5e-5)


def test_bad_input_is_refused_clearly():
    with pytest.raises(LayoutError, match=r"4 x 2 = 8 values"):
        LSTM.from_spec(LSTMSpec(3, 2, 4), (7,))
    with pytest.raises(LayoutError, match="state size"):
        RNN(0, 2, 4)
    gru = GRU(3, 2, 4, dtype=np.float64)
    with pytest.raises(TrainingError):
        gru.backward(np.zeros((1, 3)))
    with pytest.raises(LayoutError, match=r"\(4, 2\)"):
        gru.forward(np.zeros((2, 3, 2)))


# ---------------------------------------------------------------------------------------- PyTorch parity
def _torch_net(layer):
    torch = pytest.importorskip("torch")
    kind = layer.kind
    gates = {"RNN": "", "LSTM": "ifco", "GRU": "rzc"}[kind]
    cls = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    kwargs = {"nonlinearity": "tanh"} if kind == "RNN" else {}
    net = cls(layer.input_size, layer.state_size, batch_first=True, dtype=torch.float64, **kwargs)
    if kind == "RNN":
        w_ih, w_hh, b = (layer.params[n] for n in ("InputWeights", "StateWeights", "Biases"))
    else:
        w_ih = np.concatenate([layer.role("W" + g) for g in gates])
        w_hh = np.concatenate([layer.role("U" + g) for g in gates])
        b = np.concatenate([layer.role("b" + g) for g in gates])
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(w_ih))
        net.weight_hh_l0.copy_(torch.from_numpy(w_hh))
        net.bias_ih_l0.copy_(torch.from_numpy(b[:, 0]))
        net.bias_hh_l0.zero_()
    return torch, net, gates


@pytest.mark.parametrize("seq", [False, True])
@pytest.mark.parametrize(("kind", "after"), [("RNN", False), ("LSTM", False), ("GRU", True)])
def test_matches_pytorch(kind, after, seq):
    layer = _make(kind, seq=seq, after=after, state=4, inp=3, steps=5)
    torch, net, gates = _torch_net(layer)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 5, 3))
    y = layer.forward(x, training=True)
    xt = torch.tensor(x, requires_grad=True)
    yt_all, _ = net(xt)
    yt = yt_all if seq else yt_all[:, -1]
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.normal(size=y.shape)
    dx = layer.backward(w)
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    S4 = layer.state_size
    if kind == "RNN":
        pairs = [
            ("InputWeights", net.weight_ih_l0.grad),
            ("StateWeights", net.weight_hh_l0.grad),
            ("Biases", net.bias_ih_l0.grad[:, None]),
        ]
    else:
        pairs = []
        for j, g in enumerate(gates):
            rows = slice(j * S4, (j + 1) * S4)
            name = {r: n for n, (r, _k) in layer.PARAM_ROLES.items()}
            pairs += [
                (name["W" + g], net.weight_ih_l0.grad[rows]),
                (name["U" + g], net.weight_hh_l0.grad[rows]),
                (name["b" + g], net.bias_ih_l0.grad[rows][:, None]),
            ]
    for pname, tgrad in pairs:
        np.testing.assert_allclose(layer.grads[pname], tgrad.numpy(), rtol=1e-10, atol=1e-12, err_msg=pname)
