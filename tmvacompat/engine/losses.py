"""Loss functions with per-event weights (TMVA ``ErrorStrategy``), the VAE KL term and reparameterisation.

For a batch of m rows and n outputs, raw network outputs x (before the output function), truths y and event
weights w (negative weights are used as they are, as TMVA does):

* MSE (``SUMOFSQUARES``, TMVA char ``R``): ``L = (1/(m n)) sum_ij w_i (y_ij - x_ij)^2``.
* Cross entropy (``CROSSENTROPY``, ``C``), a sigmoid per output:
  ``L = (1/(m n)) sum_ij w_i [-y log s(x) - (1-y) log(1 - s(x))]``, evaluated stably as
  ``softplus(x) - y x``; gradient ``(s(x) - y) w_i / (m n)``.
* Softmax cross entropy (``MUTUALEXCLUSIVE``, ``S``):
  ``L = (1/m) sum_i w_i [-sum_j y_ij log softmax(x_i)_j]``;
  gradient ``(softmax_j sum_k y_ik - y_ij) w_i / m``.

Each loss has ``loss(output, y, w) -> float`` and ``loss_grad(output, y, w, out) -> out`` (dL/d output).
Sums are accumulated in float64. ``w=None`` means unit weights.

Example:
    >>> import numpy as np
    >>> x = np.array([[0.5], [1.0]]); y = np.array([[0.0], [1.0]])
    >>> float(mse(x, y, np.array([1.0, 2.0])))
    0.125
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit

from tmvacompat.errors import EngineConfigError, TrainingError


def _prep(output, y, w):
    output = np.asarray(output)
    if output.ndim == 1:
        output = output.reshape(-1, 1)
    if output.ndim != 2:
        raise TrainingError(f"loss: output must be (batch, n_outputs), got shape {output.shape}")
    if output.dtype not in (np.float32, np.float64):
        output = output.astype(np.float64)
    output = np.ascontiguousarray(output)
    y = np.asarray(y, dtype=output.dtype)
    if y.size != output.size:
        raise TrainingError(
            f"loss: truth has shape {y.shape}, output has shape {output.shape}", expected=[str(output.shape)]
        )
    y = np.ascontiguousarray(y).reshape(output.shape)
    m = output.shape[0]
    if w is None:
        w = np.ones(m, dtype=output.dtype)
    else:
        w = np.ascontiguousarray(np.asarray(w, dtype=output.dtype).reshape(-1))
        if w.size != m:
            raise TrainingError(f"loss: {w.size} event weights for a batch of {m} rows", expected=[str(m)])
    return output, y, w


def _out(out, like):
    if out is None:
        return np.empty_like(like)
    if out.shape != like.shape and out.size == like.size:
        out = out.reshape(like.shape)
    if out.shape != like.shape or out.dtype != like.dtype or not out.flags.c_contiguous:
        raise TrainingError(
            f"loss gradient buffer must be a C-contiguous {like.dtype} array of shape "
            f"{like.shape}, got {out.dtype} {out.shape}"
        )
    return out


# ---------------------------------------------------------------------------------------- kernels
@njit(cache=True, error_model="numpy")
def _mse_kernel(x, y, w, out, want_grad):
    m, n = x.shape
    norm = 1.0 / (m * n)
    gscale = x.dtype.type(2.0 * norm)
    total = 0.0
    for i in range(m):
        wi = w[i]
        s = 0.0
        for j in range(n):
            d = x[i, j] - y[i, j]
            s += float(d) * float(d)
            if want_grad:
                out[i, j] = gscale * wi * d
        total += float(wi) * s
    return total * norm


@njit(cache=True, error_model="numpy")
def _bce_kernel(x, y, w, out, want_grad):
    m, n = x.shape
    norm = 1.0 / (m * n)
    one = x.dtype.type(1)
    gnorm = x.dtype.type(norm)
    total = 0.0
    for i in range(m):
        wi = w[i]
        s = 0.0
        for j in range(n):
            xv = float(x[i, j])
            # softplus(x) - y x, stable for both signs
            sp = max(xv, 0.0) + np.log1p(np.exp(-abs(xv)))
            s += sp - float(y[i, j]) * xv
            if want_grad:
                sig = one / (one + np.exp(-x[i, j]))
                out[i, j] = (sig - y[i, j]) * wi * gnorm
        total += float(wi) * s
    return total * norm


@njit(cache=True, error_model="numpy")
def _softmax_ce_kernel(x, y, w, out, want_grad):
    m, n = x.shape
    norm = 1.0 / m
    gnorm = x.dtype.type(norm)
    total = 0.0
    for i in range(m):
        mx = x[i, 0]
        for j in range(1, n):
            mx = max(mx, x[i, j])
        se = 0.0
        for j in range(n):
            se += np.exp(float(x[i, j] - mx))
        lse = float(mx) + np.log(se)
        ysum = 0.0
        s = 0.0
        for j in range(n):
            ysum += float(y[i, j])
            s -= float(y[i, j]) * (float(x[i, j]) - lse)
        total += float(w[i]) * s
        if want_grad:
            for j in range(n):
                p = np.exp(float(x[i, j]) - lse)
                out[i, j] = (p * ysum - float(y[i, j])) * float(w[i]) * gnorm
    return total * norm


def _make(kernel, name):
    def loss(output, y, w=None) -> float:
        x, y_, w_ = _prep(output, y, w)
        return float(kernel(x, y_, w_, x[:0], False))

    def loss_grad(output, y, w=None, out=None) -> np.ndarray:
        x, y_, w_ = _prep(output, y, w)
        o = _out(out, x)
        kernel(x, y_, w_, o, True)
        return o

    def loss_and_grad(output, y, w=None, out=None) -> tuple[float, np.ndarray]:
        x, y_, w_ = _prep(output, y, w)
        o = _out(out, x)
        return float(kernel(x, y_, w_, o, True)), o

    loss.__name__, loss_grad.__name__, loss_and_grad.__name__ = name, name + "_grad", name + "_and_grad"
    return loss, loss_grad, loss_and_grad


mse, mse_grad, mse_and_grad = _make(_mse_kernel, "mse")
mse.__doc__ = (
    "Weighted mean squared error ``(1/(m n)) sum w_i (y - x)^2``.\n\n    >>> mse([[1.0]], [[0.0]])\n    1.0\n"
)
cross_entropy, cross_entropy_grad, cross_entropy_and_grad = _make(_bce_kernel, "cross_entropy")
cross_entropy.__doc__ = (
    "Weighted sigmoid cross entropy on raw outputs (stable for large |x|).\n\n"
    "    >>> round(cross_entropy([[0.0]], [[1.0]]), 6)\n    0.693147\n"
)
softmax_cross_entropy, softmax_cross_entropy_grad, softmax_cross_entropy_and_grad = _make(
    _softmax_ce_kernel, "softmax_cross_entropy"
)
softmax_cross_entropy.__doc__ = (
    "Weighted softmax cross entropy over each row's outputs (1/m normalisation).\n\n"
    "    >>> round(softmax_cross_entropy([[0.0, 0.0]], [[1.0, 0.0]]), 6)\n"
    "    0.693147\n"
)

#: TMVA loss chars / ErrorStrategy names -> (loss, loss_grad, loss_and_grad)
LOSSES: dict[str, tuple[Callable, Callable, Callable]] = {
    "R": (mse, mse_grad, mse_and_grad),
    "C": (cross_entropy, cross_entropy_grad, cross_entropy_and_grad),
    "S": (softmax_cross_entropy, softmax_cross_entropy_grad, softmax_cross_entropy_and_grad),
}
_ALIASES = {
    "MSE": "R",
    "SUMOFSQUARES": "R",
    "CROSSENTROPY": "C",
    "MUTUALEXCLUSIVE": "S",
    "SOFTMAXCROSSENTROPY": "S",
}


def get_loss(name: str) -> tuple[Callable, Callable, Callable]:
    """(loss, loss_grad, loss_and_grad) for a TMVA loss char (R, C, S) or ErrorStrategy name.

    >>> get_loss("CROSSENTROPY")[0].__name__
    'cross_entropy'
    """
    key = str(name).strip().upper()
    key = _ALIASES.get(key, key)
    if key not in LOSSES:
        from tmvacompat.errors import closest

        names = list(LOSSES) + list(_ALIASES)
        raise EngineConfigError(
            f"unknown loss {name!r}", parameter="loss", value=name, expected=closest(key, names) or names
        )
    return LOSSES[key]


# ---------------------------------------------------------------------------------------- VAE pieces
@njit(cache=True, error_model="numpy")
def _kl_kernel(mu, s, w, dmu, ds, want_grad):
    m, n = mu.shape
    norm = 1.0 / m
    half = mu.dtype.type(0.5)
    one = mu.dtype.type(1)
    total = 0.0
    for i in range(m):
        acc = 0.0
        wi = w[i]
        gi = wi * mu.dtype.type(norm)
        for j in range(n):
            e = np.exp(s[i, j])
            acc += 1.0 + float(s[i, j]) - float(mu[i, j]) * float(mu[i, j]) - float(e)
            if want_grad:
                dmu[i, j] = gi * mu[i, j]
                ds[i, j] = gi * half * (e - one)
        total += float(wi) * -0.5 * acc
    return total * norm


def _prep_kl(mu, s, w):
    mu, s_, w_ = _prep(mu, s, w)
    return mu, s_, w_


def kl_divergence(mu, log_var, w=None) -> float:
    """KL(N(mu, e^s) || N(0, 1)) of a diagonal Gaussian, s = log-variance, weighted mean over rows.

    ``KL = (1/m) sum_i w_i * (-1/2) sum_j (1 + s_ij - mu_ij^2 - e^{s_ij})`` (>= 0, zero at mu = 0, s = 0).

    Difference from the GSoC fork (``tmvadnn/root`` ``KLDivergence``, spec §7.2): the fork evaluates
    ``(1/m) sum w_i (1 + s - mu^2 - e^{2s})`` -- no -1/2 factor (so it is the negated, doubled ELBO-style
    term, not the divergence) and ``e^{2s}``, which is neither the log-variance form used here
    (``e^s``) nor the consistent log-sigma form (``1 + 2s - e^{2s}``); its gradients are
    ``dmu = -2 mu w/m``, ``ds = (1 - 2 e^{2s}) w/m``. Here the divergence itself is minimised.

    >>> kl_divergence([[0.0, 0.0]], [[0.0, 0.0]])
    0.0
    """
    mu_, s_, w_ = _prep_kl(mu, log_var, w)
    return float(_kl_kernel(mu_, s_, w_, mu_[:0], mu_[:0], False))


def kl_divergence_grad(mu, log_var, w=None, dmu=None, dlog_var=None) -> tuple[np.ndarray, np.ndarray]:
    """(dKL/dmu, dKL/ds) = (w_i mu / m, w_i (e^s - 1) / (2 m)).

    >>> kl_divergence_grad([[1.0]], [[0.0]])[0]
    array([[1.]])
    """
    mu_, s_, w_ = _prep_kl(mu, log_var, w)
    a, b = _out(dmu, mu_), _out(dlog_var, mu_)
    _kl_kernel(mu_, s_, w_, a, b, True)
    return a, b


def kl_divergence_and_grad(mu, log_var, w=None, dmu=None, dlog_var=None):
    """(KL, dKL/dmu, dKL/ds) in one pass."""
    mu_, s_, w_ = _prep_kl(mu, log_var, w)
    a, b = _out(dmu, mu_), _out(dlog_var, mu_)
    return float(_kl_kernel(mu_, s_, w_, a, b, True)), a, b


@njit(cache=True, error_model="numpy")
def _reparam_fwd(mu, s, eps, z):
    half = mu.dtype.type(0.5)
    for i in range(mu.shape[0]):
        for j in range(mu.shape[1]):
            z[i, j] = mu[i, j] + np.exp(half * s[i, j]) * eps[i, j]


@njit(cache=True, error_model="numpy")
def _reparam_bwd(s, eps, dz, dmu, ds):
    half = s.dtype.type(0.5)
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            dmu[i, j] = dz[i, j]
            ds[i, j] = dz[i, j] * eps[i, j] * half * np.exp(half * s[i, j])


def reparameterize(mu, log_var, eps, out=None) -> np.ndarray:
    """VAE sampling step ``z = mu + exp(s/2) * eps`` (eps ~ N(0, 1) supplied by the caller).

    >>> reparameterize([[1.0]], [[0.0]], [[2.0]])
    array([[3.]])
    """
    mu_, s_, _ = _prep(mu, log_var, None)
    e_ = np.ascontiguousarray(np.asarray(eps, dtype=mu_.dtype).reshape(mu_.shape))
    z = _out(out, mu_)
    _reparam_fwd(mu_, s_, e_, z)
    return z


def reparameterize_backward(log_var, eps, dz, dmu=None, dlog_var=None) -> tuple[np.ndarray, np.ndarray]:
    """Back-propagate dL/dz to (dL/dmu, dL/ds): ``dmu = dz``, ``ds = dz * eps * exp(s/2) / 2``.

    >>> reparameterize_backward([[0.0]], [[2.0]], [[1.0]])[1]
    array([[1.]])
    """
    s_, e_, _ = _prep(log_var, eps, None)
    d_ = np.ascontiguousarray(np.asarray(dz, dtype=s_.dtype).reshape(s_.shape))
    a, b = _out(dmu, s_), _out(dlog_var, s_)
    _reparam_bwd(s_, e_, d_, a, b)
    return a, b


__all__ = [
    "mse",
    "mse_grad",
    "mse_and_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_and_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "softmax_cross_entropy_and_grad",
    "LOSSES",
    "get_loss",
    "kl_divergence",
    "kl_divergence_grad",
    "kl_divergence_and_grad",
    "reparameterize",
    "reparameterize_backward",
]
