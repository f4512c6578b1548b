"""Slow, obviously-correct numpy references of every engine layer kind, forward and backward.

Written from the layers' definitions (TMVA's equations and weight layouts as the engine documents them),
with explicit loops over output elements, sharing no code with the engine. Everything is float64.
The recurrent layers' backward is the central finite difference of the reference forward
(:func:`numeric_backward`); every other backward is the hand-derived transpose of its forward loop.

A batch is ``x`` of shape ``(events, *event_shape)``; a backward takes the upstream gradient ``dy`` of the
forward's output and returns ``(dx, {parameter name: gradient})``.

Example:
    >>> x = np.array([[1.0, -2.0]])
    >>> y = dense_forward(x, np.array([[1.0, 1.0]]), np.array([[0.5]]), "RELU")
    >>> y.tolist()
    [[0.0]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


# ------------------------------------------------------------------------------------------ activations
def activation(name: str, z: np.ndarray) -> np.ndarray:
    """TMVA's activation functions (``EActivationFunction``) element by element.

    >>> activation("SYMMRELU", np.array([-2.0, 3.0])).tolist()
    [2.0, 3.0]
    """
    table: dict[str, Callable[[float], float]] = {
        "LINEAR": lambda v: v,
        "RELU": lambda v: max(v, 0.0),
        "SIGMOID": lambda v: 1.0 / (1.0 + np.exp(-v)),
        "TANH": np.tanh,
        "FTANH": np.tanh,
        "SYMMRELU": abs,
        "SOFTSIGN": lambda v: v / (1.0 + abs(v)),
        "GAUSS": lambda v: np.exp(-v * v),
    }
    f = table[name]
    return np.vectorize(lambda v: float(f(float(v))), otypes=[np.float64])(z)


def activation_derivative(name: str, z: np.ndarray) -> np.ndarray:
    """d act / d z at the pre-activation ``z``, with TMVA's choices at the kinks (relu' = 1 at 0,
    symmrelu' = -1 below 0 else 1).

    >>> activation_derivative("RELU", np.array([-1.0, 0.0])).tolist()
    [0.0, 1.0]
    """
    table: dict[str, Callable[[float], float]] = {
        "LINEAR": lambda v: 1.0,
        "RELU": lambda v: 0.0 if v < 0 else 1.0,
        "SIGMOID": lambda v: (1.0 / (1.0 + np.exp(-v))) * (1.0 - 1.0 / (1.0 + np.exp(-v))),
        "TANH": lambda v: 1.0 - np.tanh(v) ** 2,
        "FTANH": lambda v: 1.0 - np.tanh(v) ** 2,
        "SYMMRELU": lambda v: -1.0 if v < 0 else 1.0,
        "SOFTSIGN": lambda v: 1.0 / (1.0 + abs(v)) ** 2,
        "GAUSS": lambda v: -2.0 * v * np.exp(-v * v),
    }
    f = table[name]
    return np.vectorize(lambda v: float(f(float(v))), otypes=[np.float64])(z)


# ------------------------------------------------------------------------------------------ dense
def dense_pre(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z[e, j] = sum_k x[e, k] W[j, k] + b[j]."""
    n, m = x.shape[0], W.shape[0]
    xf = x.reshape(n, -1)
    z = np.zeros((n, m))
    for e in range(n):
        for j in range(m):
            z[e, j] = sum(xf[e, k] * W[j, k] for k in range(W.shape[1])) + b[j, 0]
    return z


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, act: str) -> np.ndarray:
    """TMVA's DENSE: ``act(x W^T + b)`` with ``W`` (width, inputs), ``b`` (width, 1)."""
    return activation(act, dense_pre(x, W, b))


def dense_backward(x, W, b, act, dy):
    """Gradients of :func:`dense_forward`: dx, dWeights, dBiases."""
    n = x.shape[0]
    xf = x.reshape(n, -1)
    dz = dy * activation_derivative(act, dense_pre(x, W, b))
    dW = np.zeros_like(W, dtype=np.float64)
    db = np.zeros_like(b, dtype=np.float64)
    dx = np.zeros_like(xf, dtype=np.float64)
    for e in range(n):
        for j in range(W.shape[0]):
            db[j, 0] += dz[e, j]
            for k in range(W.shape[1]):
                dW[j, k] += dz[e, j] * xf[e, k]
                dx[e, k] += dz[e, j] * W[j, k]
    return dx.reshape(x.shape), {"Weights": dW, "Biases": db}


# ------------------------------------------------------------------------------------------ convolutions
def _conv_geometry(H, W, fh, fw, sr, sc, ph, pw):
    return (H + 2 * ph - fh) // sr + 1, (W + 2 * pw - fw) // sc + 1


def conv_pre(x, Wt, b, fh, fw, sr, sc, ph, pw):
    """CONV pre-activation: ``Wt`` (depth, C*fh*fw) in TMVA's local-view order (channel, row, column),
    zero padding ``ph``/``pw``, strides ``sr``/``sc``."""
    n, C, H, Wd = x.shape
    D = Wt.shape[0]
    OH, OW = _conv_geometry(H, Wd, fh, fw, sr, sc, ph, pw)
    K = Wt.reshape(D, C, fh, fw)
    z = np.zeros((n, D, OH, OW))
    for e in range(n):
        for d in range(D):
            for oy in range(OH):
                for ox in range(OW):
                    s = b[d, 0]
                    for c in range(C):
                        for i in range(fh):
                            for j in range(fw):
                                iy, ix = oy * sr - ph + i, ox * sc - pw + j
                                if 0 <= iy < H and 0 <= ix < Wd:
                                    s += K[d, c, i, j] * x[e, c, iy, ix]
                    z[e, d, oy, ox] = s
    return z


def conv_forward(x, Wt, b, geometry, act):
    """CONV: ``act`` of :func:`conv_pre`; ``geometry`` = (fh, fw, sr, sc, ph, pw)."""
    return activation(act, conv_pre(x, Wt, b, *geometry))


def conv_backward(x, Wt, b, geometry, act, dy):
    """Gradients of :func:`conv_forward`: each product of the forward loop sends its share back."""
    fh, fw, sr, sc, ph, pw = geometry
    n, C, H, Wd = x.shape
    D = Wt.shape[0]
    dz = dy * activation_derivative(act, conv_pre(x, Wt, b, *geometry))
    K = Wt.reshape(D, C, fh, fw)
    dK = np.zeros_like(K, dtype=np.float64)
    db = np.zeros((D, 1))
    dx = np.zeros_like(x, dtype=np.float64)
    for e in range(n):
        for d in range(D):
            for oy in range(dz.shape[2]):
                for ox in range(dz.shape[3]):
                    g = dz[e, d, oy, ox]
                    db[d, 0] += g
                    for c in range(C):
                        for i in range(fh):
                            for j in range(fw):
                                iy, ix = oy * sr - ph + i, ox * sc - pw + j
                                if 0 <= iy < H and 0 <= ix < Wd:
                                    dK[d, c, i, j] += g * x[e, c, iy, ix]
                                    dx[e, c, iy, ix] += g * K[d, c, i, j]
    return dx, {"Weights": dK.reshape(Wt.shape), "Biases": db}


def convt_pre(x, Wt, b, fh, fw, sr, sc, ph, pw):
    """CONVT pre-activation: every input pixel scatters ``x * kernel`` onto the output, output size
    (in - 1) * stride - 2 * pad + filter; ``Wt`` (C_in, depth*fh*fw) is PyTorch's (in, out, kh, kw)."""
    n, C, H, Wd = x.shape
    D = Wt.shape[1] // (fh * fw)
    OH, OW = (H - 1) * sr - 2 * ph + fh, (Wd - 1) * sc - 2 * pw + fw
    K = Wt.reshape(C, D, fh, fw)
    z = np.zeros((n, D, OH, OW))
    for d in range(D):
        z[:, d] = b[d, 0]
    for e in range(n):
        for c in range(C):
            for iy in range(H):
                for ix in range(Wd):
                    for d in range(D):
                        for i in range(fh):
                            for j in range(fw):
                                oy, ox = iy * sr - ph + i, ix * sc - pw + j
                                if 0 <= oy < OH and 0 <= ox < OW:
                                    z[e, d, oy, ox] += x[e, c, iy, ix] * K[c, d, i, j]
    return z


def convt_forward(x, Wt, b, geometry, act):
    """CONVT: ``act`` of :func:`convt_pre`."""
    return activation(act, convt_pre(x, Wt, b, *geometry))


def convt_backward(x, Wt, b, geometry, act, dy):
    """Gradients of :func:`convt_forward`."""
    fh, fw, sr, sc, ph, pw = geometry
    n, C, H, Wd = x.shape
    D = Wt.shape[1] // (fh * fw)
    dz = dy * activation_derivative(act, convt_pre(x, Wt, b, *geometry))
    OH, OW = dz.shape[2:]
    K = Wt.reshape(C, D, fh, fw)
    dK = np.zeros_like(K, dtype=np.float64)
    db = dz.sum(axis=(0, 2, 3)).reshape(D, 1)
    dx = np.zeros_like(x, dtype=np.float64)
    for e in range(n):
        for c in range(C):
            for iy in range(H):
                for ix in range(Wd):
                    for d in range(D):
                        for i in range(fh):
                            for j in range(fw):
                                oy, ox = iy * sr - ph + i, ix * sc - pw + j
                                if 0 <= oy < OH and 0 <= ox < OW:
                                    dK[c, d, i, j] += x[e, c, iy, ix] * dz[e, d, oy, ox]
                                    dx[e, c, iy, ix] += K[c, d, i, j] * dz[e, d, oy, ox]
    return dx, {"Weights": dK.reshape(Wt.shape), "Biases": db}


# ------------------------------------------------------------------------------------------ pooling, padding
def _argmax_window(xc, oy, ox, fh, fw, sr, sc):
    """(row, column) of the window's first maximum, scanning rows then columns, strict ``>``."""
    best, at = xc[oy * sr, ox * sc], (oy * sr, ox * sc)
    for i in range(fh):
        for j in range(fw):
            v = xc[oy * sr + i, ox * sc + j]
            if v > best:
                best, at = v, (oy * sr + i, ox * sc + j)
    return at


def maxpool_forward(x, fh, fw, sr, sc):
    """MAXPOOL: each window's maximum, output (in - f) / s + 1 per axis."""
    n, C, H, Wd = x.shape
    OH, OW = (H - fh) // sr + 1, (Wd - fw) // sc + 1
    y = np.zeros((n, C, OH, OW))
    for e in range(n):
        for c in range(C):
            for oy in range(OH):
                for ox in range(OW):
                    y[e, c, oy, ox] = x[e, c][_argmax_window(x[e, c], oy, ox, fh, fw, sr, sc)]
    return y


def maxpool_backward(x, fh, fw, sr, sc, dy):
    """MAXPOOL's gradient: each output's gradient to its window's first maximum."""
    dx = np.zeros_like(x, dtype=np.float64)
    for e in range(x.shape[0]):
        for c in range(x.shape[1]):
            for oy in range(dy.shape[2]):
                for ox in range(dy.shape[3]):
                    iy, ix = _argmax_window(x[e, c], oy, ox, fh, fw, sr, sc)
                    dx[e, c, iy, ix] += dy[e, c, oy, ox]
    return dx


def padding_forward(x, top, bottom, left, right):
    """PADDING2D: zeros around every channel."""
    n, C, H, Wd = x.shape
    y = np.zeros((n, C, H + top + bottom, Wd + left + right))
    for e in range(n):
        for c in range(C):
            for i in range(H):
                for j in range(Wd):
                    y[e, c, top + i, left + j] = x[e, c, i, j]
    return y


def padding_backward(x, top, bottom, left, right, dy):
    """PADDING2D's gradient: the inner part of ``dy``."""
    dx = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[2]):
        for j in range(x.shape[3]):
            dx[:, :, i, j] = dy[:, :, top + i, left + j]
    return dx


# ------------------------------------------------------------------------------------------ batch norm
def bnorm_forward(x, gamma, beta, eps, per_channel):
    """BNORM in training mode: ``gamma * (x - mean) / sqrt(var + eps) + beta`` with the batch's mean and
    biased variance, per element of the event (or per channel of (C, H, W) events)."""
    xs = _bnorm_groups(x, per_channel)
    y = np.zeros_like(xs, dtype=np.float64)
    for g in range(xs.shape[1]):
        v = xs[:, g]
        mu = v.mean()
        var = ((v - mu) ** 2).mean()
        y[:, g] = gamma[0, g] * (v - mu) / np.sqrt(var + eps) + beta[0, g]
    return _bnorm_ungroup(y, x.shape, per_channel)


def bnorm_backward(x, gamma, beta, eps, per_channel, dy):
    """The textbook chain rule of :func:`bnorm_forward` through the batch mean and variance."""
    xs = _bnorm_groups(x, per_channel)
    dys = _bnorm_groups(dy, per_channel)
    dx = np.zeros_like(xs, dtype=np.float64)
    dgamma = np.zeros_like(gamma, dtype=np.float64)
    dbeta = np.zeros_like(beta, dtype=np.float64)
    for g in range(xs.shape[1]):
        v, d = xs[:, g], dys[:, g]
        m = v.size
        mu = v.mean()
        var = ((v - mu) ** 2).mean()
        inv = 1.0 / np.sqrt(var + eps)
        xhat = (v - mu) * inv
        dgamma[0, g] = (d * xhat).sum()
        dbeta[0, g] = d.sum()
        dxhat = d * gamma[0, g]
        dvar = (dxhat * (v - mu)).sum() * -0.5 * inv**3
        dmu = -(dxhat * inv).sum() + dvar * (-2.0 * (v - mu)).mean()
        dx[:, g] = dxhat * inv + dvar * 2.0 * (v - mu) / m + dmu / m
    return _bnorm_ungroup(dx, x.shape, per_channel), {"Gamma": dgamma, "Beta": dbeta}


def _bnorm_groups(x, per_channel):
    """(values, groups): the values normalised together in each column."""
    if per_channel:
        n, C = x.shape[:2]
        return np.moveaxis(x, 1, -1).reshape(-1, C)
    return x.reshape(x.shape[0], -1)


def _bnorm_ungroup(v, shape, per_channel):
    if per_channel:
        n, C, H, W = shape
        return np.moveaxis(v.reshape(n, H, W, C), -1, 1)
    return v.reshape(shape)


# ------------------------------------------------------------------------------------------ recurrent
def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def rnn_forward(x, p, return_sequence=False):
    """TMVA's RNN from a zero state: ``h_t = tanh(W x_t + U h_{t-1} + b)``; ``p`` by role (W, U, b)."""
    n, T, _ = x.shape
    S = p["U"].shape[0]
    out = np.zeros((n, T, S))
    for e in range(n):
        h = np.zeros(S)
        for t in range(T):
            h = np.tanh(p["W"] @ x[e, t] + p["U"] @ h + p["b"][:, 0])
            out[e, t] = h
    return out if return_sequence else out[:, -1]


def lstm_forward(x, p, return_sequence=False):
    """TMVA's LSTM: gates i, f, o sigmoid, candidate g tanh, ``c = f c + i g``, ``h = o tanh(c)``; ``p`` by
    role (Wi, Wf, Wc, Wo, Ui, ..., bi, ...)."""
    n, T, _ = x.shape
    S = p["Ui"].shape[0]
    out = np.zeros((n, T, S))
    for e in range(n):
        h, c = np.zeros(S), np.zeros(S)
        for t in range(T):
            xt = x[e, t]

            def gate(k, h=h, xt=xt):
                return p["W" + k] @ xt + p["U" + k] @ h + p["b" + k][:, 0]

            i, f, g, o = _sig(gate("i")), _sig(gate("f")), np.tanh(gate("c")), _sig(gate("o"))
            c = f * c + i * g
            h = o * np.tanh(c)
            out[e, t] = h
    return out if return_sequence else out[:, -1]


def gru_forward(x, p, reset_gate_after=False, return_sequence=False):
    """TMVA's GRU: ``r, z`` sigmoid, candidate ``tanh(W_c x + U_c (r h) + b_c)`` (or ``r (U_c h)`` with
    ``reset_gate_after``), ``h = z h + (1 - z) c``; ``p`` by role (Wr, Wz, Wc, Ur, Uz, Uc, br, bz, bc)."""
    n, T, _ = x.shape
    S = p["Ur"].shape[0]
    out = np.zeros((n, T, S))
    for e in range(n):
        h = np.zeros(S)
        for t in range(T):
            xt = x[e, t]
            r = _sig(p["Wr"] @ xt + p["Ur"] @ h + p["br"][:, 0])
            z = _sig(p["Wz"] @ xt + p["Uz"] @ h + p["bz"][:, 0])
            hu = r * (p["Uc"] @ h) if reset_gate_after else p["Uc"] @ (r * h)
            c = np.tanh(p["Wc"] @ xt + hu + p["bc"][:, 0])
            h = z * h + (1.0 - z) * c
            out[e, t] = h
    return out if return_sequence else out[:, -1]


def numeric_backward(
    forward: Callable[[], np.ndarray], arrays: dict[str, np.ndarray], dy: np.ndarray, eps: float = 1e-6
) -> dict[str, np.ndarray]:
    """d sum(forward() * dy) / d each of ``arrays`` (perturbed in place and restored) by central
    differences: the backward of any forward, slowly.

    >>> a = np.array([1.0, 2.0])
    >>> numeric_backward(lambda: a**2, {"a": a}, np.ones(2))["a"].round(6).tolist()
    [2.0, 4.0]
    """
    grads = {}
    for name, a in arrays.items():
        g = np.zeros_like(a, dtype=np.float64)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = float(np.sum(forward() * dy))
            a[idx] = old - eps
            minus = float(np.sum(forward() * dy))
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads[name] = g
    return grads


# ------------------------------------------------------------------------------------------ merges
def add_forward(xs):
    """ADD: the elementwise sum of the inputs."""
    y = np.zeros_like(xs[0], dtype=np.float64)
    for x in xs:
        y = y + x
    return y


def add_backward(xs, dy):
    """ADD's gradient: ``dy`` to every input."""
    return [dy.copy() for _ in xs]


def concat_forward(xs):
    """CONCAT: each input flattened per event, joined in order."""
    n = xs[0].shape[0]
    return np.array([[v for x in xs for v in x[e].reshape(-1)] for e in range(n)])


def concat_backward(xs, dy):
    """CONCAT's gradient: ``dy``'s columns back to each input's shape."""
    out, start = [], 0
    for x in xs:
        size = x[0].size
        out.append(dy[:, start : start + size].reshape(x.shape))
        start += size
    return out
