"""Finite-difference gradient checks (float64, central differences) for every engine layer and activation.

Truth: numerical derivatives of the layer's own forward pass (independent of the backward code), plus
closed forms for activations and direct loop references for the convolution geometry.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.activations import (
    _exp_f32,
    _rational_tanh_f32,
    act_backward,
    act_backward_from_output,
    act_forward,
    activation_code,
    activation_derivative,
    apply_activation,
)
from tmvacompat.engine.conv import Conv2D, ConvTranspose2D, MaxPool2D, Padding2D, conv_output_size
from tmvacompat.engine.dense import Dense
from tmvacompat.engine.shape import Add, Concat, Reshape
from tmvacompat.errors import LayoutError
from tmvacompat.specs import ConvSpec, ConvTransposeSpec, DenseSpec, MaxPoolSpec, Padding2DSpec, ReshapeSpec

EPS = 1e-6


def _randomise(layer, rng):
    for v in layer.params.values():
        v[...] = rng.normal(size=v.shape)


def gradcheck(layer, x, rng, tol=1e-6):
    """Compare backward() with central differences of L = sum(forward(x) * r)."""
    r = rng.normal(size=(x.shape[0], *layer.output_shape))

    def loss():
        return float(np.sum(layer.forward(x) * r))

    loss()
    dx = np.array(layer.backward(r), copy=True).reshape(x.shape)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    for name, p in layer.params.items():
        num = numerical_gradient(loss, p, EPS)
        err = np.abs(num - grads[name]).max() / max(np.abs(num).max(), 1e-12)
        assert err < tol, f"{layer.kind} d{name}: rel err {err}"
    num = numerical_gradient(loss, x, EPS)
    err = np.abs(num - dx).max() / max(np.abs(num).max(), 1e-12)
    assert err < tol, f"{layer.kind} dInput: rel err {err}"


# ------------------------------------------------------------------ activations
CLOSED_FORMS = {
    0: (lambda z: z, lambda z: np.ones_like(z)),
    1: (lambda z: np.maximum(z, 0), lambda z: (z >= 0).astype(z.dtype)),
    2: (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    3: (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    4: (np.abs, lambda z: np.where(z < 0, -1.0, 1.0)),
    5: (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),
    6: (lambda z: np.exp(-z * z), lambda z: -2 * z * np.exp(-z * z)),
    7: (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
}


@pytest.mark.parametrize("code", range(8))
def test_activation_closed_form_and_finite_difference(code):
    z = np.linspace(-3.1, 3.3, 41)
    f, df = CLOSED_FORMS[code]
    np.testing.assert_allclose(apply_activation(code, z), f(z), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(activation_derivative(code, z), df(z), rtol=1e-12, atol=1e-14)
    zz = z[np.abs(z) > 1e-3]  # away from kinks
    num = (apply_activation(code, zz + EPS) - apply_activation(code, zz - EPS)) / (2 * EPS)
    np.testing.assert_allclose(activation_derivative(code, zz), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("code", range(8))
def test_backward_from_output_matches(code):
    z = np.linspace(-2.5, 2.5, 24).reshape(4, 6)
    y = apply_activation(code, z)
    dy = np.cos(z)
    a, b = np.empty_like(z), np.empty_like(z)
    act_backward(code, z, dy, a)
    act_backward_from_output(code, z, y, dy, b)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_float32_tanh_accuracy():
    z = np.linspace(-12, 12, 200001).astype(np.float32)
    out = np.empty_like(z)
    act_forward(3, z, out)
    assert out.dtype == np.float32
    truth = np.tanh(z.astype(np.float64))
    assert np.abs(out - truth).max() < 1e-6
    ulps = np.abs(out - truth) / np.spacing(np.maximum(np.abs(truth), 1e-30).astype(np.float32))
    assert ulps.max() < 8
    # the kernel's fused multiply-adds against the Python reference's (float64-emulated) ones: the same
    # float32 bits but for a rare double rounding in the emulation
    sample = z[::997]
    ref = np.array([_rational_tanh_f32(v) for v in sample], dtype=np.float32)
    got = out[::997]
    assert np.mean(ref == got) > 0.99
    assert (np.abs(ref - got) <= np.spacing(np.abs(ref))).all()


def test_float32_exp_accuracy_and_edges():
    # the vectorised float32 exp inside sigmoid and gauss: through gauss, exp(-z^2) for z = sqrt(-x)
    x = -np.linspace(0, 87, 400001).astype(np.float32)
    z = np.sqrt(-x.astype(np.float64)).astype(np.float32)
    out = np.empty_like(z)
    act_forward(6, z, out)
    arg = -(z * z)  # the kernel's float32 argument
    truth = np.exp(arg.astype(np.float64))
    ulps = np.abs(out - truth) / np.spacing(truth.astype(np.float32))
    assert ulps.max() <= 2
    # the kernel against the Python reference of the same float32 operations
    sample = arg[::401]
    ref = np.array([_exp_f32(v) for v in sample], dtype=np.float32)
    assert np.mean(ref == out[::401]) > 0.99
    assert (np.abs(ref - out[::401]) <= np.spacing(ref)).all()
    # sigmoid over the whole range, NaN kept, huge arguments saturate
    s = np.array([-1e4, -100, -88.5, -30, -1, 0, 1, 30, 88.5, 100, 1e4, np.nan, np.inf, -np.inf], np.float32)
    got = np.empty_like(s)
    act_forward(2, s, got)
    with np.errstate(over="ignore"):
        want = 1 / (1 + np.exp(-s.astype(np.float64)))
    np.testing.assert_allclose(got[:-3], want[:-3], rtol=3e-7, atol=1e-37)
    assert np.isnan(got[-3]) and got[-2] == 1 and got[-1] < 1e-37
    zz = np.linspace(-20, 20, 100001).astype(np.float32)
    sig = np.empty_like(zz)
    act_forward(2, zz, sig)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-zz.astype(np.float64))), rtol=3e-7, atol=1e-30)


def test_in_place_and_2d():
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    out = z.copy()
    act_forward(5, out, out)
    np.testing.assert_allclose(out, z / (1 + np.abs(z)))


def test_activation_code_errors():
    assert activation_code("tanh") == 3 and activation_code(6) == 6
    with pytest.raises(LayoutError, match="SIGMOID"):
        activation_code("SIGMOD")
    with pytest.raises(LayoutError):
        activation_code(9)


# ------------------------------------------------------------------ dense
@pytest.mark.parametrize("act", ["LINEAR", "TANH", "SIGMOID", "SOFTSIGN", "GAUSS", "SYMMRELU", "RELU"])
@pytest.mark.parametrize("fan_in", [5, 20])  # 20 inputs: the gradient products run in engine/gemm.py
def test_dense_gradients(act, fan_in):
    rng = np.random.default_rng(1)
    layer = Dense.from_spec(DenseSpec(4, act), (fan_in,), dtype=np.float64)
    _randomise(layer, rng)
    gradcheck(layer, rng.normal(size=(3, fan_in)), rng)


def test_dense_forward_formula_and_flatten():
    rng = np.random.default_rng(2)
    layer = Dense.from_spec(DenseSpec("N+1", "TANH"), (2, 3, 2), dtype=np.float64, nvar=3)
    assert layer.params["Weights"].shape == (4, 12) and layer.params["Biases"].shape == (4, 1)
    _randomise(layer, rng)
    x = rng.normal(size=(5, 2, 3, 2))
    ref = np.tanh(x.reshape(5, 12) @ layer.params["Weights"].T + layer.params["Biases"].T)
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-13)
    gradcheck(layer, x, rng)
    assert Dense.from_spec(DenseSpec(0, "LINEAR"), (3,), n_outputs=3).width == 3


def test_dense_float32_matches_float64():
    rng = np.random.default_rng(3)
    l64 = Dense.from_spec(DenseSpec(6, "TANH"), (5,), dtype=np.float64)
    l32 = Dense.from_spec(DenseSpec(6, "TANH"), (5,), dtype=np.float32)
    _randomise(l64, rng)
    for k in l64.params:
        l32.params[k][...] = l64.params[k]
    x = rng.normal(size=(7, 5))
    y32 = l32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, l64.forward(x), atol=2e-6)


def test_dense_bad_batch():
    layer = Dense.from_spec(DenseSpec(2), (3,))
    with pytest.raises(LayoutError, match=r"\(3,\)"):
        layer.forward(np.zeros((4, 5)))


# ------------------------------------------------------------------ convolution
def conv_reference(x, w4, b, s, p):
    """Direct, obviously-correct cross-correlation with an explicit padded copy."""
    n, C, H, W = x.shape
    D, _, fh, fw = w4.shape
    xp = np.zeros((n, C, H + 2 * p[0], W + 2 * p[1]))
    xp[:, :, p[0] : p[0] + H, p[1] : p[1] + W] = x
    OH = (H + 2 * p[0] - fh) // s[0] + 1
    OW = (W + 2 * p[1] - fw) // s[1] + 1
    out = np.zeros((n, D, OH, OW))
    for oy in range(OH):
        for ox in range(OW):
            patch = xp[:, :, oy * s[0] : oy * s[0] + fh, ox * s[1] : ox * s[1] + fw]
            out[:, :, oy, ox] = np.einsum("nchw,dchw->nd", patch, w4) + b[:, 0]
    return out


@pytest.mark.parametrize(
    "shape,spec",
    [
        ((1, 5, 6), ConvSpec(2, 3, 3, 1, 1, 0, 0, "TANH")),
        ((2, 5, 5), ConvSpec(3, 3, 3, 1, 1, 1, 1, "SIGMOID")),
        ((2, 7, 5), ConvSpec(2, 3, 3, 2, 2, 1, 1, "LINEAR")),
        ((1, 6, 8), ConvSpec(2, 2, 4, 2, 2, 0, 1, "SOFTSIGN")),
    ],
)
def test_conv_matches_reference_and_gradients(shape, spec):
    rng = np.random.default_rng(4)
    layer = Conv2D.from_spec(spec, shape, dtype=np.float64)
    _randomise(layer, rng)
    x = rng.normal(size=(2, *shape))
    w4 = layer.params["Weights"].reshape(spec.depth, shape[0], spec.filter_height, spec.filter_width)
    z = conv_reference(
        x,
        w4,
        layer.params["Biases"],
        (spec.stride_rows, spec.stride_cols),
        (spec.padding_height, spec.padding_width),
    )
    np.testing.assert_allclose(
        layer.forward(x), apply_activation(activation_code(spec.activation), z), rtol=1e-12, atol=1e-12
    )
    gradcheck(layer, x, rng)


def _random_geometry(rng, pad_up_to_filter: bool, max_side: int) -> tuple[int, ...]:
    """(in channels, depth, filter h/w, strides, paddings, image h/w): filters 1-4, strides 1-3, paddings
    from 0 to the filter size (or one less), images 1 to ``max_side`` wide."""
    C, D = (int(v) for v in rng.integers(1, 4, size=2))
    fh, fw = (int(v) for v in rng.integers(1, 5, size=2))
    sr, sc = (int(v) for v in rng.integers(1, 4, size=2))
    extra = 1 if pad_up_to_filter else 0
    ph, pw = int(rng.integers(0, fh + extra)), int(rng.integers(0, fw + extra))
    H, W = (int(v) for v in rng.integers(1, max_side + 1, size=2))
    return C, D, fh, fw, sr, sc, ph, pw, H, W


def test_conv_random_geometries_forward_and_backward_against_direct_sums():
    # im2col/col2im index the image with unchecked (unsigned) offsets: every geometry here, padding
    # wider than the filter's reach and strides included, must read and write exactly the right pixels
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 40:
        C, D, fh, fw, sr, sc, ph, pw, H, W = _random_geometry(rng, pad_up_to_filter=True, max_side=9)
        if H + 2 * ph < fh or W + 2 * pw < fw or (H + 2 * ph - fh) % sr or (W + 2 * pw - fw) % sc:
            continue  # TMVA's rule: the windows tile the padded image exactly
        layer = Conv2D.from_spec(ConvSpec(D, fh, fw, sr, sc, ph, pw, "LINEAR"), (C, H, W), dtype=np.float64)
        _randomise(layer, rng)
        n = int(rng.integers(1, 4))
        x = rng.normal(size=(n, C, H, W))
        w4 = layer.params["Weights"].reshape(D, C, fh, fw)
        want = conv_reference(x, w4, layer.params["Biases"], (sr, sc), (ph, pw))
        np.testing.assert_allclose(layer.forward(x), want, rtol=1e-12, atol=1e-12)
        # backward of L = sum(z * v): dx and dW as direct sums over the padded image
        v = rng.normal(size=want.shape)
        dx = layer.backward(v)
        xp = np.zeros((n, C, H + 2 * ph, W + 2 * pw))
        xp[:, :, ph : ph + H, pw : pw + W] = x
        dxp = np.zeros_like(xp)
        gw = np.zeros_like(w4)
        for oy in range(want.shape[2]):
            for ox in range(want.shape[3]):
                rows, cols = slice(oy * sr, oy * sr + fh), slice(ox * sc, ox * sc + fw)
                dxp[:, :, rows, cols] += np.einsum("nd,dchw->nchw", v[:, :, oy, ox], w4)
                gw += np.einsum("nd,nchw->dchw", v[:, :, oy, ox], xp[:, :, rows, cols])
        np.testing.assert_allclose(dx, dxp[:, :, ph : ph + H, pw : pw + W], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["Weights"].reshape(w4.shape), gw, rtol=1e-12, atol=1e-12)
        checked += 1


def test_conv_transpose_random_geometries_are_adjoint_to_conv():
    # the transposed convolution scatters through col2im: <convT(x), v> = <x, conv(v)> on random geometries
    rng = np.random.default_rng(12)
    checked = 0
    while checked < 25:
        C, D, fh, fw, sr, sc, ph, pw, H, W = _random_geometry(rng, pad_up_to_filter=False, max_side=6)
        OH, OW = (H - 1) * sr - 2 * ph + fh, (W - 1) * sc - 2 * pw + fw
        if OH < 1 or OW < 1:
            continue
        spec = ConvTransposeSpec(D, fh, fw, sr, sc, ph, pw, "LINEAR")
        lin = ConvTranspose2D.from_spec(spec, (C, H, W), dtype=np.float64)
        _randomise(lin, rng)
        lin.params["Biases"][...] = 0
        conv = Conv2D.from_spec(ConvSpec(C, fh, fw, sr, sc, ph, pw, "LINEAR"), (D, OH, OW), dtype=np.float64)
        conv.params["Weights"][...] = lin.params["Weights"].reshape(C, -1)
        conv.params["Biases"][...] = 0
        n = int(rng.integers(1, 3))
        x = rng.normal(size=(n, C, H, W))
        v = rng.normal(size=(n, D, OH, OW))
        np.testing.assert_allclose(np.sum(lin.forward(x) * v), np.sum(x * conv.forward(v)), rtol=1e-11)
        np.testing.assert_allclose(lin.backward(v), conv.forward(v), rtol=1e-11, atol=1e-12)
        checked += 1


def test_conv_output_size_rules():
    assert conv_output_size(16, 3, 1, 1) == 16
    assert conv_output_size(7, 3, 1, 2) == 4
    with pytest.raises(LayoutError, match="not an integer"):
        conv_output_size(6, 3, 1, 2)
    with pytest.raises(LayoutError, match="CONV"):
        Conv2D.from_spec(ConvSpec(2, 3, 3, 2, 2, 0, 0), (1, 6, 6))
    with pytest.raises(LayoutError, match="depth, height, width"):
        Conv2D.from_spec(ConvSpec(2, 3, 3), (16,))


@pytest.mark.parametrize(
    "shape,spec",
    [
        ((2, 3, 3), ConvTransposeSpec(2, 3, 3, 2, 2, 0, 0, "LINEAR")),
        ((1, 3, 4), ConvTransposeSpec(3, 4, 4, 2, 2, 1, 1, "TANH")),
        ((2, 4, 4), ConvTransposeSpec(1, 3, 3, 1, 1, 1, 1, "SIGMOID")),
    ],
)
def test_conv_transpose_is_adjoint_and_gradients(shape, spec):
    rng = np.random.default_rng(5)
    layer = ConvTranspose2D.from_spec(spec, shape, dtype=np.float64)
    _randomise(layer, rng)
    D, OH, OW = layer.output_shape
    assert OH == (shape[1] - 1) * spec.stride_rows - 2 * spec.padding_height + spec.filter_height
    # adjoint identity: <convT(x), v> = <x, conv(v)> for the linear part (bias 0, identity activation)
    lin = ConvTranspose2D.from_spec(
        ConvTransposeSpec(
            spec.depth,
            spec.filter_height,
            spec.filter_width,
            spec.stride_rows,
            spec.stride_cols,
            spec.padding_height,
            spec.padding_width,
            "LINEAR",
        ),
        shape,
        dtype=np.float64,
    )
    lin.params["Weights"][...] = layer.params["Weights"]
    conv = Conv2D.from_spec(
        ConvSpec(
            shape[0],
            spec.filter_height,
            spec.filter_width,
            spec.stride_rows,
            spec.stride_cols,
            spec.padding_height,
            spec.padding_width,
            "LINEAR",
        ),
        (D, OH, OW),
        dtype=np.float64,
    )
    conv.params["Weights"][...] = layer.params["Weights"].reshape(shape[0], -1)
    assert conv.output_shape == tuple(shape)
    x = rng.normal(size=(2, *shape))
    v = rng.normal(size=(2, D, OH, OW))
    np.testing.assert_allclose(np.sum(lin.forward(x) * v), np.sum(x * conv.forward(v)), rtol=1e-12)
    gradcheck(layer, x, rng)


def test_maxpool_forward_ties_and_gradients():
    rng = np.random.default_rng(6)
    layer = MaxPool2D.from_spec(MaxPoolSpec(2, 2, 2, 2), (2, 4, 6), dtype=np.float64)
    assert layer.output_shape == (2, 2, 3)
    x = rng.normal(size=(3, 2, 4, 6))
    ref = x.reshape(3, 2, 2, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(layer.forward(x), ref)
    gradcheck(layer, x, rng)
    # ties: gradient goes to the first maximum in row-major order
    t = np.ones((1, 1, 2, 2))
    layer2 = MaxPool2D.from_spec(MaxPoolSpec(2, 2, 1, 1), (1, 2, 2), dtype=np.float64)
    layer2.forward(t)
    np.testing.assert_array_equal(layer2.backward(np.array([[[[5.0]]]])).reshape(2, 2), [[5, 0], [0, 0]])
    # overlapping windows, stride 1
    layer3 = MaxPool2D.from_spec(MaxPoolSpec(3, 2, 1, 2), (1, 5, 6), dtype=np.float64)
    assert layer3.output_shape == (1, 3, 3)
    gradcheck(layer3, rng.normal(size=(2, 1, 5, 6)), rng)
    with pytest.raises(LayoutError, match="MAXPOOL"):
        MaxPool2D.from_spec(MaxPoolSpec(2, 2, 2, 2), (1, 5, 5))


@pytest.mark.parametrize("stride", [1, 2])
def test_maxpool_2x2_picks_the_first_maximum_of_every_window(stride):
    # the written-out 2 x 2 path against numpy: window maxima, and the row-major first maximum's index
    # (many ties: small integers), which backward routes the gradient to
    from tmvacompat.engine.conv import PoolWindow, maxpool_forward_kernel

    rng = np.random.default_rng(11)
    n, C, H, W = 3, 2, 6, 8
    x = rng.integers(0, 3, size=(n, C, H, W)).astype(np.float32)
    OH, OW = (H - 2) // stride + 1, (W - 2) // stride + 1
    y = np.empty((n, C, OH, OW), np.float32)
    arg = np.empty((n, C, OH, OW), np.int64)
    maxpool_forward_kernel(x, y, arg, PoolWindow(2, 2, stride, stride))
    for oy in range(OH):
        for ox in range(OW):
            r, c = oy * stride, ox * stride
            win = x[:, :, r : r + 2, c : c + 2].reshape(n, C, 4)
            k = win.argmax(axis=2)  # numpy: the first maximum
            np.testing.assert_array_equal(y[:, :, oy, ox], win.max(axis=2))
            np.testing.assert_array_equal(arg[:, :, oy, ox], (r + k // 2) * W + c + k % 2)


def test_padding_layer():
    rng = np.random.default_rng(7)
    layer = Padding2D.from_spec(Padding2DSpec(1, 2, 0, 3), (2, 3, 4), dtype=np.float64)
    assert layer.output_shape == (2, 6, 7)
    x = rng.normal(size=(2, 2, 3, 4))
    np.testing.assert_array_equal(layer.forward(x), np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 3))))
    gradcheck(layer, x, rng)


def test_reshape_and_merges():
    rng = np.random.default_rng(8)
    r = Reshape.from_spec(ReshapeSpec(2, 3, 4), (24,), dtype=np.float64)
    x = rng.normal(size=(3, 24))
    np.testing.assert_array_equal(r.forward(x), x.reshape(3, 2, 3, 4))
    gradcheck(r, x, rng)
    with pytest.raises(LayoutError, match="24"):
        Reshape.from_spec(ReshapeSpec(2, 3, 5), (24,))
    add = Add([(2, 3), (2, 3)], dtype=np.float64)
    a, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 2, 3))
    np.testing.assert_allclose(add.forward_multi([a, b]), a + b)
    g = rng.normal(size=(4, 2, 3))
    assert all(np.array_equal(gi, g) for gi in add.backward_multi(g))
    with pytest.raises(LayoutError, match="differ"):
        Add([(2, 3), (3, 2)])
    cat = Concat([(2, 3), (4,)], dtype=np.float64)
    c = rng.normal(size=(4, 4))
    np.testing.assert_array_equal(cat.forward_multi([a, c]), np.concatenate([a.reshape(4, 6), c], axis=1))
    g = rng.normal(size=(4, 10))
    ga, gc = cat.backward_multi(g)
    np.testing.assert_array_equal(ga, g[:, :6].reshape(4, 2, 3))
    np.testing.assert_array_equal(gc, g[:, 6:])


@pytest.mark.parametrize(
    "cls,shape,spec",
    [
        (Conv2D, (4, 16, 16), ConvSpec(3, 3, 3, 1, 1, 1, 1, "TANH")),  # 28 events per im2col chunk
        (ConvTranspose2D, (2, 16, 16), ConvTransposeSpec(4, 3, 3, 2, 2, 1, 1, "SIGMOID")),
    ],
)
def test_conv_chunked_batch_equals_single_events(cls, shape, spec):
    """A batch spanning several im2col chunks (and a short tail) gives the per-event results."""
    rng = np.random.default_rng(9)
    layer = cls.from_spec(spec, shape, dtype=np.float64)
    _randomise(layer, rng)
    n = 61
    x = rng.normal(size=(n, *shape))
    r = rng.normal(size=(n, *layer.output_shape))
    y = layer.forward(x).copy()
    dx = layer.backward(r).copy()
    gw, gb = layer.grads["Weights"].copy(), layer.grads["Biases"].copy()
    sw, sb = np.zeros_like(gw), np.zeros_like(gb)
    for e in range(n):
        np.testing.assert_allclose(layer.forward(x[e : e + 1])[0], y[e], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(layer.backward(r[e : e + 1])[0], dx[e], rtol=1e-12, atol=1e-13)
        sw += layer.grads["Weights"]
        sb += layer.grads["Biases"]
    np.testing.assert_allclose(gw, sw, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(gb, sb, rtol=1e-11, atol=1e-11)
