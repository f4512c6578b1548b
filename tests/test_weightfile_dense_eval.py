"""TMVA's application semantics on the engine's generic dense kernel (weightfile/dense_eval.py), and engine
errors named by TMVA's option keys (methods/engine_options.py).

Truths: NormalizeTransform.apply (the transformation the generic path runs), the output functions written
out in numpy (the exponential in float64, rounded to float32), np.isnan, and the engine's own raw outputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tmvacompat.data.dataset import DataSet
from tmvacompat.data.transforms import InputRef, NormalizeTransform
from tmvacompat.engine.inference import DenseEvaluator, affine_rows, pack_dense
from tmvacompat.engine.init import init_method
from tmvacompat.engine.losses import get_loss
from tmvacompat.errors import EngineConfigError, OptionError
from tmvacompat.methods.ae import MethodAE
from tmvacompat.methods.dl import MethodDL
from tmvacompat.methods.engine_options import option_error, tmva_option_errors
from tmvacompat.weightfile.dense_eval import WeightFileEvaluator, mark_nan_rows, normalize_affine

F32 = np.finfo(np.float32)
TINY = np.float32(1e-45)  # the smallest subnormal


def _normalize(mins, maxs) -> NormalizeTransform:
    refs = [InputRef("Variable", j, f"v{j}", f"v{j}") for j in range(len(mins))]
    return NormalizeTransform(refs, mins=[mins], maxs=[maxs])


def _edge_inputs(t: NormalizeTransform, n: int, seed: int) -> np.ndarray:
    """Random rows around each variable's range, then rows of edge values: the range ends and their
    neighbours, signed zeros, subnormals, the largest floats, infinities and NaN."""
    rng = np.random.default_rng(seed)
    lo, hi = t.mins[0], t.maxs[0]
    width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    x = (lo + rng.uniform(-0.2, 1.2, (n, lo.size)) * width).astype(np.float32)
    edges = [lo, hi, np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)]
    for v in (0.0, -0.0, TINY, -TINY, F32.tiny, F32.max, -F32.max, np.inf, -np.inf, np.nan, 1.0, -1.0):
        edges.append(np.full(lo.size, v, np.float32))
    return np.concatenate([x, np.stack(edges).astype(np.float32)])


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit patterns, except that any NaN matches any NaN."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    bits_a, bits_b = a.view(np.uint32)[~nan], b.view(np.uint32)[~nan]
    assert np.array_equal(bits_a, bits_b), np.flatnonzero(bits_a != bits_b)[:10]


# ranges: ordinary ones, a tiny one (a huge scale, overflows to inf away from the minimum), a huge one (the
# difference overflows: scale 0), a degenerate one (max == min: infinite scale), subnormal ends
RANGES = [
    ([-3.0, 0.0, 10.0, -250.5], [7.5, 1.0, 10.25, -0.001]),
    ([1.0, -F32.max, 5.0, -TINY], [np.nextafter(np.float32(1), np.float32(2)), F32.max, 5.0, TINY]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ranges", RANGES)
def test_affine_step_is_normalize_transform_bit_for_bit(dtype, ranges):
    t = _normalize(*ranges)
    nvar = len(ranges[0])
    positions = np.arange(nvar)
    with np.errstate(all="ignore"):  # overflows to inf and inf - inf are part of the comparison
        x = _edge_inputs(t, 500, seed=len(ranges[0]))
        want = t.apply(x, -1, positions)
    off, scale2 = t._offset_scale(t.pick(-1), positions)
    P, lay = pack_dense([(np.eye(nvar), np.zeros(nvar), 0)], dtype, affine=normalize_affine(off, scale2),
                        affine_float32=True)  # fmt: skip
    got = np.empty(x.shape, dtype)
    affine_rows(np.ascontiguousarray(x, dtype), 0, P, lay, got)
    _same_bits(got.astype(np.float32), want)  # float64 nets: float32 values, exact in float64


def _random_layers(nin: int, widths: list[int], acts: list[int], seed: int) -> list:
    rng = np.random.default_rng(seed)
    layers, k = [], nin
    for m, act in zip(widths, acts, strict=True):
        layers.append((rng.normal(0, 0.7, (m, k)), rng.normal(0, 0.3, m), act))
        k = m
    return layers


def _ulps(a: np.ndarray, b: np.ndarray) -> int:
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    return int(np.abs(ia - ib).max())


@pytest.mark.parametrize("nout", [1, 4])
def test_output_functions_are_tmvas_written_in_numpy(nout):
    layers = _random_layers(6, [40, 12, nout], [3, 1, 0], seed=nout)
    x = np.random.default_rng(2).normal(0, 2, (700, 6)).astype(np.float32)
    raw = DenseEvaluator(layers, np.float32).evaluate(x)  # the engine's outputs, no final activation
    one = np.float32(1)
    e = np.exp(-raw.astype(np.float64)).astype(np.float32)
    sigmoid = one / (one + e)
    shifted = raw - raw.max(axis=1, keepdims=True)
    ex = np.exp(shifted.astype(np.float64)).astype(np.float32)
    total = np.zeros(len(raw), np.float32)
    for j in range(nout):  # the row sum in column order, in float32
        total += ex[:, j]
    softmax = ex / total[:, None]
    for fn, want in (("I", raw), ("S", sigmoid), ("M", softmax)):
        got, nbad = WeightFileEvaluator(layers, np.float32, output_function=fn).evaluate(x)
        assert nbad == 0 and got.dtype == np.float32
        # the same float32 operations; the exponential (libm's expf in the kernel, float64 exp rounded to
        # float32 here) may differ in the last place
        assert _ulps(got, want) <= (0 if fn == "I" else 2), fn
    with pytest.raises(Exception, match="output function"):
        WeightFileEvaluator(layers, np.float32, output_function="X")


@pytest.mark.parametrize("act", [1, 3, 2])  # relu (NaN may come out as 0), tanh (clamps), sigmoid
def test_nan_rows_are_marked_and_change_no_other_row(act):
    layers = _random_layers(5, [24, 3], [act, 0], seed=act)
    norm = (np.full(5, -2, np.float32), np.full(5, 0.5, np.float32))
    ev = WeightFileEvaluator(layers, np.float32, output_function="M", normalize=norm)
    rng = np.random.default_rng(act)
    x = rng.normal(0, 2, (5000, 5)).astype(np.float32)  # more than PARALLEL_MIN_ROWS: split over threads
    clean, n0 = ev.evaluate(x)
    bad = np.zeros(len(x), bool)
    bad[[0, 17, 4095, 4999]] = True
    x[bad, rng.integers(0, 5, 4)] = np.nan
    got, nbad = ev.evaluate(x)
    assert n0 == 0 and nbad == 4
    assert np.isnan(got[bad]).all()
    np.testing.assert_array_equal(got[~bad], clean[~bad])
    # the per-event path: the same values and the same NaN handling
    for i in (0, 1, 4095):
        out, n = ev.evaluate_buffers([np.array([v]) for v in x[i]])
        assert n == int(bad[i])
        np.testing.assert_array_equal(out[0], got[i])
    # without the check (the caller replaced NaN rows) nothing is counted
    assert WeightFileEvaluator(layers, np.float32, check_nan=False).evaluate(x)[1] == 0


def test_mark_nan_rows_matches_isnan():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 7))
    x[rng.random((300, 7)) < 0.02] = np.nan
    out = np.zeros((300, 2))
    rows = np.isnan(x).any(axis=1)
    assert mark_nan_rows(x, out) == rows.sum() > 0
    assert np.isnan(out[rows]).all() and (out[~rows] == 0).all()


# ---------------------------------------------------------------------------------- engine errors
def _dataset() -> DataSet:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return DataSet.from_arrays(X[:200], y[:200], X[200:], y[200:])


FAST = "!H:!V:RandomSeed=1:Layout=TANH|4,LINEAR:TrainingStrategy=BatchSize=20,MaxEpochs=2,TestRepetitions=1"


@pytest.mark.parametrize(
    ("change", "key", "text"),
    [
        ({"drop_config": (0.0, 1.5)}, "DropConfig", "DropConfig entry 1 is 1.5"),
        ({"optimizer": "ADAMM"}, "Optimizer=ADAMM", "TrainingStrategy Optimizer=ADAMM"),
        ({"regularization": "L3"}, "Regularization=L3", "TrainingStrategy Regularization=L3"),
        ({"optimizer_params": {"ADAM_beta3": 0.5}}, "ADAM_beta3", "'ADAM_beta3' is not a parameter"),
    ],
)
def test_training_names_the_tmva_key_the_engine_refused(change, key, text):
    # the options are validated at booking; phases changed afterwards reach the engine, which refuses them
    m = MethodDL("DL", FAST)
    m.phases = [dataclasses.replace(m.phases[0], **change)]
    with pytest.raises(OptionError, match=text) as err:
        m.train(_dataset(), weight_file="")
    assert err.value.token == key and err.value.where == "method 'DL'"
    assert isinstance(err.value.__cause__, EngineConfigError)


def test_variational_autoencoder_training_names_dropconfig():
    layout = "Layout=Encoder={DENSE|4|TANH,DENSE|1|LINEAR}Decoder={DENSE|4|TANH,DENSE|0|LINEAR}"
    m = MethodAE("VAE", f"RandomSeed=1:Variational=True:{layout}:TrainingStrategy=BatchSize=20,MaxEpochs=1")
    m.phases = [dataclasses.replace(m.phases[0], drop_config=(2.0,))]
    with pytest.raises(OptionError, match="DropConfig entry 0 is 2.0") as err:
        m.train(_dataset(), weight_file="")
    assert err.value.where == "method 'VAE'"


def test_initialisation_and_loss_errors_are_named_too():
    with pytest.raises(OptionError, match="WeightInitialization=XAVEIR") as err:
        with tmva_option_errors("DL"):
            init_method("XAVEIR")
    assert "XAVIER" in err.value.expected
    with pytest.raises(OptionError, match="ErrorStrategy") as err:
        with tmva_option_errors("DL"):
            get_loss("CROSSENTROPI")
    assert err.value.expected == ["CROSSENTROPY", "SUMOFSQUARES", "MUTUALEXCLUSIVE"]
    # a parameter no TMVA option sets keeps the engine's words and names the parameter
    engine = EngineConfigError("unknown final activation 'S'", parameter="final", value="S")
    other = option_error(engine, "DL")
    assert "engine parameter 'final'" in other.message and isinstance(other, OptionError)
