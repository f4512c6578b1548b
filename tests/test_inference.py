"""The one-call dense inference (engine/inference.py) and the fast evaluation paths of Model and Reader.

Truths: the generic layer-by-layer engine (``Network.predict`` + ``apply_output_function``, reached by
disabling a model's fast evaluator), TransformChain.forward for the fused Normalize, and TMVA's own DL_CPU
outputs in the real multiclass example.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from conftest import VECTORS, needs_vectors

from tmvacompat.data.transforms import TransformChain
from tmvacompat.engine.inference import (
    PARALLEL_MIN_ROWS,
    SMALL_ROWS,
    DenseEvaluator,
    DensePredictor,
    dense_infer,
    pack_dense,
    scratch_size,
)
from tmvacompat.engine.network import Network
from tmvacompat.errors import EngineConfigError, InputDataError, TrainingError
from tmvacompat.reader import Reader
from tmvacompat.specs import ACTIVATION_CODES, ConvSpec, DenseSpec
from tmvacompat.weightfile import Model, load_weights
from tmvacompat.weightfile.dense_eval import WeightFileEvaluator
from tmvacompat.weightfile.model import NAN_RESPONSE, apply_output_function

MULTI_DIR = VECTORS / "nasufsonmez_multiclass"
MULTI = MULTI_DIR / "TMVAMulticlass_DL_CPU.weights.xml"
DAN = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"

NVAR = 5
# rows: one event, the kernel's own small-row loops, BLAS blocks, and several chunks (chunk 512)
ROW_COUNTS = (1, SMALL_ROWS - 1, SMALL_ROWS, 37, 1100)


def make_model(kind: str, act: str, *, normalize: bool = True, dtype=np.float32, seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    nout = {"Classification": 1, "Regression": 2, "Multiclass": 3}[kind]
    widths = [9, 6, nout]
    layers = [DenseSpec(widths[0], act), DenseSpec(widths[1], act), DenseSpec(nout, "LINEAR")]
    params, k = [], NVAR
    for m in widths:
        params.append({"Weights": rng.normal(0, 0.6, (m, k)), "Biases": rng.normal(0, 0.3, (m, 1))})
        k = m
    x = rng.normal(1.0, 2.0, (300, NVAR)).astype(np.float32)
    transforms = None
    if normalize:
        names = [f"v{i}" for i in range(NVAR)]
        if kind == "Regression":
            t = rng.normal(0, 3, (300, 2)).astype(np.float32)
            transforms = TransformChain.fit(x, targets=t, items="N", variables=names,
                                            target_names=["t0", "t1"])  # fmt: skip
        else:
            classes = 3 if kind == "Multiclass" else 2
            transforms = TransformChain.fit(x, class_ids=rng.integers(0, classes, 300), n_classes=classes,
                                            items="N", variables=names)  # fmt: skip
    return Model.from_parts(
        title="t", variables=[f"v{i}" for i in range(NVAR)], layers=layers, params=params,
        analysis_type=kind, classes=["a", "b", "c"] if kind == "Multiclass" else None,
        targets=["t0", "t1"] if kind == "Regression" else (), transforms=transforms, dtype=dtype,
    )  # fmt: skip


def generic_copy(model: Model) -> Model:
    """The same model evaluated by the generic engine path only."""
    names = ("method", "title", "analysis_type", "variables", "targets", "classes", "transforms", "network")
    other = Model(**{f: getattr(model, f) for f in names})
    other._build_dense_evaluator = lambda: None
    return other


def target_scale(model: Model) -> float:
    t = model.transforms.transforms[0]
    k = t.pick(-1)
    return float(np.max(t.maxs[k] - t.mins[k]) / 2)


def inputs(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(1.0, 2.5, (n, NVAR)).astype(np.float32)


@pytest.mark.parametrize("act", list(ACTIVATION_CODES))
@pytest.mark.parametrize("kind", ["Classification", "Regression", "Multiclass"])
def test_fast_path_equals_generic_engine(kind, act):
    model = make_model(kind, act)
    assert model._dense_evaluator() is not None and model._dense_evaluator()[1]  # Normalize fused in
    ref_model = generic_copy(model)
    for n in ROW_COUNTS:
        x = inputs(n, seed=n)
        got, want = model.evaluate_matrix(x), ref_model.evaluate_matrix(x)
        assert got.shape == want.shape and got.dtype == want.dtype
        # 1e-6 on the network outputs; regression targets are scaled back by (max - min) / 2 of each target
        scale = target_scale(model) if kind == "Regression" else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale, err_msg=f"{kind} {act} n={n}")


def test_float64_model_and_no_transformation():
    model = make_model("Multiclass", "TANH", normalize=False, dtype=np.float64)
    ref = generic_copy(model)
    for n in (1, 3, 40):
        x = inputs(n, seed=10 + n)
        got, want = model.evaluate_matrix(x), ref.evaluate_matrix(x)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_unfusable_transformation_runs_in_python_then_the_kernel():
    model = make_model("Classification", "RELU", normalize=False)
    x = inputs(300, seed=3)
    model.transforms = TransformChain.fit(x, items="D,N", variables=[f"v{i}" for i in range(NVAR)])
    ev = model._dense_evaluator()
    assert ev is not None and not ev[1]
    ref = generic_copy(model)
    for n in (1, 20):
        np.testing.assert_allclose(model.evaluate_matrix(x[:n]), ref.evaluate_matrix(x[:n]), atol=1e-6)


def test_fused_normalize_is_bitwise_chain_forward():
    # identity weights and zero biases: the outputs are the kernel's transformed inputs, exactly
    x = inputs(400, seed=4) * 3
    chain = TransformChain.fit(x, items="N", variables=[f"v{i}" for i in range(NVAR)])
    t = chain.transforms[0]
    norm = t._offset_scale(t.pick(-1), np.arange(NVAR))
    ev = WeightFileEvaluator([(np.eye(NVAR), np.zeros(NVAR), 0)], np.float32, normalize=norm)
    for n in (1, 3, 400):
        out, nbad = ev.evaluate(x[:n])
        assert nbad == 0
        np.testing.assert_array_equal(out, chain.forward(x[:n]))


def test_nan_inputs_give_tmva_minus_999_or_nan():
    for kind in ("Classification", "Multiclass", "Regression"):
        model = make_model(kind, "TANH")
        x = inputs(30, seed=5)
        x[[0, 17], [2, 4]] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, want = model.evaluate_matrix(x), generic_copy(model).evaluate_matrix(x)
        scale = target_scale(model) if kind == "Regression" else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale)
        if kind == "Classification":
            assert np.all(got[[0, 17]] == NAN_RESPONSE)
        else:  # TMVA's EvaluateRegression/EvaluateMulticlass let the NaN through
            assert np.isnan(got[[0, 17]]).all()
        assert np.isfinite(got[1]).all() and np.all(got[1] != NAN_RESPONSE)


@pytest.mark.filterwarnings("ignore:.*NaN input")
def test_reader_per_event_fast_path_nan_and_threads():
    model = make_model("Multiclass", "SIGMOID")
    ref = generic_copy(model)
    x = inputs(60, seed=6)
    x[7, 1] = np.nan
    want = ref.evaluate_matrix(x)

    def run(rows, results):
        reader = Reader("Silent")
        bufs = [np.zeros(1, np.float32) for _ in range(NVAR)]
        for i, b in enumerate(bufs):
            reader.AddVariable(f"v{i}", b)
        reader.BookMVA("m", model)  # one Model shared by every thread's Reader
        for n in rows:
            for j in range(NVAR):
                bufs[j][0] = x[n, j]
            results[n] = reader.EvaluateMulticlass("m")

    results: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=run, args=(range(k, 60, 3), results)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = np.stack([results[n] for n in range(60)])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert np.isnan(got[7]).all() and np.isfinite(np.delete(got, 7, axis=0)).all()


def test_reader_regression_and_classification_per_event():
    for kind, fn in (("Regression", "EvaluateRegression"), ("Classification", "EvaluateMVA")):
        model = make_model(kind, "SOFTSIGN")
        want = generic_copy(model).evaluate_matrix(inputs(5, seed=7))
        reader = Reader()
        bufs = [np.zeros(1, np.float64) for _ in range(NVAR)]  # double buffers are read as Float_t
        for i, b in enumerate(bufs):
            reader.AddVariable(f"v{i}", b)
        reader.BookMVA("m", model)
        for n, row in enumerate(inputs(5, seed=7)):
            for j in range(NVAR):
                bufs[j][0] = row[j]
            scale = target_scale(model) if kind == "Regression" else 1.0
            np.testing.assert_allclose(getattr(reader, fn)("m"), want[n], rtol=1e-6, atol=1e-6 * scale)


def test_invalidate_rebuilds_the_fast_evaluator():
    model = make_model("Classification", "TANH")
    x = inputs(4, seed=8)
    before = model.evaluate_matrix(x)
    model.params[-1]["Biases"][:] += 1.0
    model.invalidate()
    after = model.evaluate_matrix(x)
    np.testing.assert_allclose(after, generic_copy(model).evaluate_matrix(x), rtol=1e-6, atol=1e-6)
    assert np.all(after > before)  # sigmoid output with a larger bias


def test_non_dense_models_keep_the_generic_path():
    layers = [ConvSpec(2, 2, 2, 1, 1, 0, 0, "RELU"), DenseSpec(1, "LINEAR")]
    rng = np.random.default_rng(9)
    model = Model.from_parts(title="c", variables=[f"v{i}" for i in range(9)], layers=layers,
                             params=[{"Weights": rng.normal(size=(2, 4)), "Biases": rng.normal(size=(2, 1))},
                                     {"Weights": rng.normal(size=(1, 8)), "Biases": np.zeros((1, 1))}],
                             input_layout=(1, 3, 3), batch_layout=(1, 1, 9))  # fmt: skip
    assert model._dense_evaluator() is None
    assert model.evaluate_matrix(rng.normal(size=(3, 9)).astype(np.float32)).shape == (3,)


def test_dense_predictor_equals_network_predict():
    net = Network.build([DenseSpec(16, "TANH"), DenseSpec(12, "RELU"), DenseSpec(2, "LINEAR")], (7,),
                        dtype=np.float32)  # fmt: skip
    rng = np.random.default_rng(11)
    net.set_params([{k: rng.normal(0, 0.5, v.shape) for k, v in la.params.items()} for la in net.layers])
    pred = DensePredictor(net, chunk=64)
    for n in (1, 5, 64, 300):
        x = rng.normal(size=(n, 7)).astype(np.float32)
        np.testing.assert_allclose(pred(x), net.predict(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(InputDataError, match="columns"):
        pred(np.zeros((2, 6), np.float32))
    # inputs that need converting: other float types and shapes that split into events of 7 are taken
    np.testing.assert_allclose(pred(x.astype(np.float64)), net.predict(x), rtol=1e-6, atol=1e-6)
    assert pred(np.zeros(14)).shape == (2, 2) and pred(np.zeros((3, 7, 1))).shape == (3, 2)
    for bad, what in (([[1.0] * 6 + ["a"]], "numbers"), (np.zeros(5), "events of 7"),
                      (np.zeros((2, 6)), "6 columns"), (np.float32(1), "events of 7")):  # fmt: skip
        with pytest.raises(InputDataError, match=what):
            pred(bad)
    conv = Network.build([ConvSpec(1, 2, 2, 1, 1, 0, 0, "RELU"), DenseSpec(1, "LINEAR")], (1, 3, 3))
    with pytest.raises(TrainingError, match="plain stack"):
        DensePredictor(conv)


def _random_dense(specs, nin, seed):
    """A float32 dense stack with random weights and its DensePredictor."""
    net = Network.build(specs, (nin,), dtype=np.float32)
    rng = np.random.default_rng(seed)
    net.set_params([{k: rng.normal(0, 0.5, v.shape) for k, v in la.params.items()} for la in net.layers])
    return net, DensePredictor(net), rng


def test_dense_predictor_writes_into_a_given_out_and_refuses_one_it_cannot_fill():
    net, pred, rng = _random_dense([DenseSpec(5, "TANH"), DenseSpec(2, "LINEAR")], 3, 3)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    out = np.full((4, 2), np.nan, np.float32)
    assert pred(x, out) is out
    np.testing.assert_allclose(out, net.predict(x), rtol=1e-6, atol=1e-6)
    ro = np.zeros((4, 2), np.float32)
    ro.flags.writeable = False
    for bad, what in ((np.zeros((4, 1), np.float32), r"shape \(4, 1\)"),
                      (np.zeros((3, 2), np.float32), "shape"), (np.zeros(8, np.float32), r"shape \(8,\)"),
                      (np.zeros((4, 2)), "dtype float64"),
                      (np.zeros((2, 4), np.float32).T, "not C-contiguous"), (ro, "read-only"),
                      ([[0.0, 0.0]] * 4, "got list"), (np.zeros((4, 2), ">f4"), "dtype >f4")):  # fmt: skip
        with pytest.raises(InputDataError, match=what):
            pred(x, bad)
    # what only misses the fast check is written: an equal dtype object, a numpy subclass
    odd = np.zeros((4, 2), np.dtype("float32").newbyteorder("="))
    pred(x, odd)
    np.testing.assert_array_equal(odd, out)
    sub = np.zeros((4, 2), np.float32).view(np.recarray)
    pred(x, sub)
    np.testing.assert_array_equal(np.asarray(sub), out)


def test_refresh_copies_the_new_weights_and_the_old_copy_is_not_read_after():
    # the kernel reads the weights through a handle of addresses: refresh must hand it the new copy (and
    # the old one may be freed), in single calls and in blocks split over threads
    import gc

    net, pred, rng = _random_dense([DenseSpec(40, "TANH"), DenseSpec(3, "LINEAR")], 6, 5)
    x = rng.normal(size=(PARALLEL_MIN_ROWS + 3, 6)).astype(np.float32)
    before = pred(x).copy()
    net.set_params([{k: rng.normal(0, 0.5, v.shape) for k, v in la.params.items()} for la in net.layers])
    np.testing.assert_array_equal(pred(x[:5]), before[:5])  # a copy: unchanged until refresh
    old = pred.P
    pred.refresh()
    old[:] = np.nan  # the old copy, overwritten: nothing may read it any more
    del old
    gc.collect()
    np.testing.assert_allclose(pred(x[:5]), net.predict(x[:5]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pred(x), net.predict(x), rtol=1e-5, atol=1e-5)  # split over threads
    np.testing.assert_array_equal(pred(x[7:8]), pred(x)[7:8])


def test_pack_dense_checks_layer_sizes():
    with pytest.raises(TrainingError, match="layer 1 has 4 inputs"):
        pack_dense([(np.ones((3, 2)), np.zeros(3), 0), (np.ones((1, 4)), np.zeros(1), 0)], np.float32)
    P, lay = pack_dense([(np.ones((2, 2)), np.zeros(2), 0)], np.float32, final="softmax")
    out = np.empty((1, 2), np.float32)
    dense_infer(np.array([[1.0, -1.0]], np.float32), out, P, lay, np.empty(4096, np.float32))
    np.testing.assert_allclose(out, apply_output_function(np.zeros((1, 2), np.float32), "M"))


@needs_vectors
def test_real_multiclass_fast_path_matches_tmva():
    uproot = pytest.importorskip("uproot")
    tree = uproot.open(MULTI_DIR / "TMVAMulticlass.root")["dataset/TestTree"]
    rec = tree["DL_CPU"].array(library="np")
    truth = np.stack([rec[n] for n in ("Signal", "bg0", "bg1", "bg2")], axis=1)
    x = np.stack([tree[f"var{i}"].array(library="np") for i in range(1, 5)], axis=1).astype(np.float32)
    model = load_weights(MULTI)
    fast = model._dense_evaluator()
    assert fast is not None and fast[1], "the DL_CPU file (dense, VarTransform=N) must take the fused path"
    np.testing.assert_allclose(model.evaluate_matrix(x), truth, atol=1e-5, rtol=0)
    reader = Reader("Silent")
    bufs = [np.zeros(1, np.float32) for _ in range(4)]
    for i, b in enumerate(bufs):
        reader.AddVariable(f"var{i + 1}", b)
    reader.BookMVA("DL", model)
    for n in range(0, len(x), max(1, len(x) // 300)):
        for j in range(4):
            bufs[j][0] = x[n, j]
        np.testing.assert_allclose(reader.EvaluateMulticlass("DL"), truth[n], atol=1e-5, rtol=0)


@needs_vectors
def test_real_classifier_fast_equals_generic():
    model = load_weights(DAN)
    assert model._dense_evaluator() is not None and model._dense_evaluator()[1]
    x = np.random.default_rng(12).normal(0, 1.5, (700, 4)).astype(np.float32)
    got = model.evaluate_matrix(x)
    want = generic_copy(model).evaluate_matrix(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_raw_outputs_and_the_generic_input_and_final_steps():
    layers = [(np.ones((3, 2)), np.zeros(3), 3), (np.ones((1, 3)), np.zeros(1), 0)]
    # the engine's own predictor: raw outputs, no input step
    P, lay = pack_dense(layers, np.float32)
    out = np.empty((9, 1), np.float32)
    x = np.random.default_rng(0).standard_normal((9, 2)).astype(np.float32)
    assert dense_infer(x, out, P, lay, np.empty(scratch_size(lay), np.float32)) == 0
    np.testing.assert_allclose(out[:, 0], np.tanh(x @ np.ones((2, 3))) @ np.ones(3), rtol=1e-5)
    # an affine input step (x - 1) * 0.5 + 2 and a final sigmoid; a NaN row stays in its row
    one = np.ones(2, np.float32)
    P, lay = pack_dense(layers, np.float32, affine=(one, one / 2, 2 * one), final="sigmoid")
    x[3, 1] = np.nan
    assert dense_infer(x, out, P, lay, np.empty(scratch_size(lay), np.float32)) == 0
    want = 1 / (1 + np.exp(-(np.tanh(((x - 1) * 0.5 + 2) @ np.ones((2, 3))) @ np.ones(3))))
    np.testing.assert_allclose(np.delete(out[:, 0], 3), np.delete(want, 3), rtol=1e-5)
    with pytest.raises(EngineConfigError, match="final activation") as err:
        pack_dense(layers, np.float32, final="S")  # TMVA's output-function letters are not engine words
    assert err.value.parameter == "final"
    with pytest.raises(InputDataError, match="offset, scale, shift"):
        pack_dense(layers, np.float32, affine=(one, one))


def test_read_only_inputs_evaluate_like_writable_ones():
    # arrays from uproot or np.frombuffer are often read-only; the kernel's parts called by address declare
    # the input read-only, so both kinds reach them
    ev = WeightFileEvaluator(
        [(np.ones((3, 2)), np.zeros(3), 3), (np.ones((1, 3)), np.zeros(1), 0)],
        np.float32,
        output_function="S",
        normalize=(np.zeros(2, np.float32), np.ones(2, np.float32)),
    )
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    x[2, 0] = np.nan
    frozen = x.copy()
    frozen.flags.writeable = False
    out, nbad = ev.evaluate(frozen)
    want, nbad_want = ev.evaluate(x)
    assert nbad == nbad_want == 1
    np.testing.assert_array_equal(out, want)


def test_dense_predictor_takes_read_only_and_unaligned_inputs_without_new_kernels():
    from tmvacompat.engine.inference import dense_infer

    net, pred, rng = _random_dense([DenseSpec(6, "TANH"), DenseSpec(1, "LINEAR")], 3, 8)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    ref = net.predict(x)
    kernels = len(dense_infer.overloads)
    ro = x.copy()
    ro.flags.writeable = False
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, np.float32, count=x.size, offset=1).reshape(5, 3)
    unaligned[...] = x  # a view that writes through
    assert not unaligned.flags.aligned
    for inp in (ro, unaligned, x[:, :]):
        np.testing.assert_allclose(pred(inp), ref, rtol=1e-6, atol=1e-6)
    assert len(dense_infer.overloads) == kernels  # one compiled kernel per float type serves them all


def test_kernel_refuses_arrays_it_cannot_read_by_flat_position_and_the_predictor_converts_them():
    from tmvacompat.engine.inference import BAD_ARGUMENTS

    net, pred, rng = _random_dense([DenseSpec(9, "TANH"), DenseSpec(2, "LINEAR")], 4, 21)
    wide = rng.normal(size=(6, 10)).astype(np.float32)
    x = wide[:, 3:7]  # rows 40 bytes apart, not 16: numpy calls it not contiguous
    one = wide[2:3, 3:7]  # one row: numpy calls it C-contiguous whatever its row stride
    assert one.flags.c_contiguous and not x.flags.c_contiguous
    out = np.empty((6, 2), np.float32)
    buf = np.empty(scratch_size(pred.lay), np.float32)
    for bad_x, bad_out in ((np.zeros((6, 3), np.float32), out), (np.ascontiguousarray(x), out[:5])):
        assert dense_infer(bad_x, bad_out, pred.P, pred.lay, buf) == BAD_ARGUMENTS
    np.testing.assert_allclose(pred(x), net.predict(np.ascontiguousarray(x)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pred(one), net.predict(np.ascontiguousarray(one)), rtol=1e-6, atol=1e-6)
    strided_out = np.full((6, 4), np.nan, np.float32)[:, :2]
    with pytest.raises(InputDataError, match="not C-contiguous"):
        pred(np.ascontiguousarray(x), strided_out)
    assert np.isnan(strided_out).all()  # refused before anything was written


def test_dense_evaluator_names_inputs_of_the_wrong_shape():
    ev = DenseEvaluator([(np.ones((2, 3)), np.zeros(2), 0)], np.float32)
    assert ev.evaluate(np.ones((2, 3), np.float32)).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    for bad in (np.ones((2, 4), np.float32), np.ones(3, np.float32), np.ones((1, 3, 1), np.float32)):
        with pytest.raises(InputDataError, match=r"takes \(events, 3\) matrices"):
            ev.evaluate(bad)


def test_each_layer_keeps_only_the_weight_copies_its_paths_read():
    # a narrow layer: W (m, k) for the per-output dot products; a wide one: W^T (k, m) packed in 16-column
    # panels (for blocks of rows and for single rows alike); the absent copy has offset -1
    from tmvacompat.engine.inference import C_B, C_W, C_WP, pack_dense

    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(20, 5)), rng.normal(size=(1, 20))
    P, lay = pack_dense([(W1, np.ones(20), 3), (W2, np.zeros(1), 0)], np.float32)
    assert P.size == (20 + 2 * 16 * 5) + (1 + 20)  # biases, two overlapping 16-column panels of W^T
    assert lay[1, C_W] == -1 and lay[2, C_WP] == -1
    panels = P[lay[1, C_WP] : lay[1, C_WP] + 160].reshape(2, 5, 16)
    np.testing.assert_array_equal(panels[0], W1.T[:, :16].astype(np.float32))
    np.testing.assert_array_equal(panels[1], W1.T[:, 4:].astype(np.float32))
    np.testing.assert_array_equal(P[lay[2, C_W] : lay[2, C_W] + 20], W2[0].astype(np.float32))
    np.testing.assert_array_equal(P[lay[1, C_B] : lay[1, C_B] + 20], 1)
