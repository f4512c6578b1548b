"""ONNX export: onnxruntime on the exported graph against Model.evaluate (the engine's forward pass).

Truths: the real TMVA weight files in ../shared/vectors (evaluated by the engine, which other tests tie to
TMVA's own outputs), and constructed models of every layer kind, transformation and output function with
random parameters. The operator list is checked against the operators SOFIE's ONNX parser registers.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import VECTORS, needs_vectors

onnx = pytest.importorskip("onnx", reason="ONNX export needs the optional onnx package")
ort = pytest.importorskip("onnxruntime", reason="the parity tests run the graphs in onnxruntime")

from tmvacompat.cli import main  # noqa: E402
from tmvacompat.data.transforms import TransformChain  # noqa: E402
from tmvacompat.engine.network import Network  # noqa: E402
from tmvacompat.onnx_export import OPERATORS, ONNXExportError, to_onnx  # noqa: E402
from tmvacompat.specs import (  # noqa: E402
    AddSpec,
    BatchNormSpec,
    ConcatSpec,
    ConvSpec,
    ConvTransposeSpec,
    DenseSpec,
    GRUSpec,
    LSTMSpec,
    MaxPoolSpec,
    Padding2DSpec,
    ReshapeSpec,
    RNNSpec,
)
from tmvacompat.weightfile import load_weights  # noqa: E402
from tmvacompat.weightfile.model import Model, NetworkInfo  # noqa: E402

DL_FILES = [
    "danchepkwony_rootPractice/TMVAClassification_DNN_CPU.weights.xml",
    "danchepkwony_rootPractice/TMVAClassification_DNN_GPU.weights.xml",
    "nasufsonmez_multiclass/TMVAMulticlass_DL_CPU.weights.xml",
    "privdonut123_NN/TMVAClassification_DNN.weights.xml",
]
GAUSS_FILE = "adropulic_June_July_2019/TMVAClassification_DNN.weights.xml"

# The operators RModelParser_ONNX registers (its constructor and the Register*Parsers helpers it calls),
# restricted to those an exporter of these networks could use; read from root-project/root
# tmva/sofie_parsers/src/RModelParser_ONNX.cxx, ParseBasicUnary.cxx, ParseBasicBinary.cxx, ParseBasicIs.cxx,
# ParseReduce.cxx, ParseComparision.cxx.
SOFIE_OPERATORS = {
    "Gemm", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "Pad", "Reshape", "Flatten", "Squeeze",
    "Unsqueeze", "Transpose", "Slice", "Concat", "BatchNormalization", "RNN", "LSTM", "GRU", "Add", "Sub",
    "Mul", "Div", "Pow", "Neg", "Abs", "Exp", "Log", "Sqrt", "Relu", "Sigmoid", "Tanh", "Softmax", "IsNaN",
    "Cast", "ReduceMax", "ReduceSum", "Greater", "Or", "Where", "Identity", "Gather", "Erf", "Floor", "Clip",
}  # fmt: skip


def _session(proto):
    onnx.checker.check_model(proto, full_check=True)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _run(proto, x: np.ndarray) -> np.ndarray:
    return _session(proto).run(None, {"x": np.ascontiguousarray(x, np.float32)})[0]


def _random_params(layers, input_layout, nvar, n_out, rng) -> list[dict[str, np.ndarray]]:
    """Random parameters shaped like the engine's (= the weight file's) matrices; BN variances > 0."""
    shape = NetworkInfo(layers=list(layers), input_layout=input_layout).input_shape()
    net = Network.build(layers, shape, n_outputs=n_out, nvar=nvar, dtype=np.float32)
    params = []
    for layer in net.layers:
        p = {}
        for name, value in layer.params.items():
            scale = 1.0 / np.sqrt(max(1, value.shape[-1]))
            arr = rng.normal(0.0, 1.5 * scale if value.shape[-1] > 1 else 0.3, value.shape)
            if name == "Training-variance":
                arr = rng.uniform(0.3, 2.0, value.shape)
            elif name == "Gamma":
                arr = rng.uniform(0.5, 1.5, value.shape)
            p[name] = arr.astype(np.float32)
        params.append(p)
    return params


def _model(layers, nvar, *, input_layout=None, kind="Classification", n_out=1, transforms=None, seed=0):
    rng = np.random.default_rng(seed)
    layout = input_layout or (1, 1, nvar)
    extra: dict = {}
    if kind == "Regression":
        extra["targets"] = [f"t{i}" for i in range(n_out)]
    elif kind == "Multiclass":
        extra["classes"] = [f"c{i}" for i in range(n_out)]
    return Model.from_parts(
        title="onnx", variables=[f"v{i}" for i in range(nvar)], layers=layers,
        params=_random_params(layers, layout, nvar, n_out, rng), input_layout=layout, batch_layout=layout,
        analysis_type=kind, transforms=transforms, **extra,
    )  # fmt: skip


def _check(model, x, tol=1e-5, **kw):
    proto = to_onnx(model, **kw)
    assert {n.op_type for n in proto.graph.node} <= OPERATORS <= SOFIE_OPERATORS
    want = model.evaluate(x)
    got = _run(proto, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    return proto


# ---------------------------------------------------------------------------------------- real files
@needs_vectors
@pytest.mark.parametrize("name", DL_FILES)
def test_real_weight_files_match_evaluate(name):
    model = load_weights(VECTORS / name)
    rng = np.random.default_rng(3)
    lo = np.array([v.min for v in model.variables])
    hi = np.array([v.max for v in model.variables])
    x = (lo + (hi - lo) * rng.uniform(-0.2, 1.2, (2000, len(lo)))).astype(np.float32)
    proto = _check(model, x)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["variables"].split(",") == [v.expression for v in model.variables]


@needs_vectors
def test_real_multiclass_matches_tmva_test_tree():
    uproot = pytest.importorskip("uproot")
    model = load_weights(VECTORS / DL_FILES[2])
    tree = uproot.open(VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root")["dataset/TestTree"]
    arr = tree.arrays(["var1", "var2", "var3", "var4", "DL_CPU"], library="np")
    x = np.column_stack([arr[f"var{i}"] for i in range(1, 5)]).astype(np.float32)
    rec = arr["DL_CPU"]  # a struct branch: one float per class
    tmva = np.column_stack([rec[name] for name in rec.dtype.names])
    np.testing.assert_allclose(_run(to_onnx(model), x), tmva, atol=1e-5)


@needs_vectors
def test_gauss_transform_is_refused_clearly():
    with pytest.raises(ONNXExportError, match="Gauss transformation cannot be exported"):
        to_onnx(load_weights(VECTORS / GAUSS_FILE))


# ---------------------------------------------------------------------------------------- constructed models
ACTS = ["LINEAR", "RELU", "SIGMOID", "TANH", "SYMMRELU", "SOFTSIGN", "GAUSS", "FTANH"]


@pytest.mark.parametrize("act", ACTS)
def test_dense_activations(act):
    layers = [DenseSpec(7, act), DenseSpec(5, act), DenseSpec(1, "LINEAR")]
    x = np.random.default_rng(1).normal(0, 2, (300, 3)).astype(np.float32)
    _check(_model(layers, 3), x)


@pytest.mark.parametrize("items", ["N", "D", "P", "D,N", "P,N", "N(v0,v2)", "D(v1,v2),N(v0)"])
def test_transformations(items):
    rng = np.random.default_rng(2)
    cov = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.4], [0.2, -0.4, 0.5]])
    x = (rng.multivariate_normal([1.0, -2.0, 0.5], cov, 400) * [1, 10, 0.1]).astype(np.float32)
    chain = TransformChain.fit(x, class_ids=rng.integers(0, 2, 400), n_classes=2, items=items,
                               variables=["v0", "v1", "v2"])  # fmt: skip
    model = _model([DenseSpec(6, "TANH"), DenseSpec(1, "LINEAR")], 3, transforms=chain)
    _check(model, x)


@pytest.mark.parametrize("items", ["N", "P(_V_),N(_T_)", "None"])
def test_regression_inverse_transform(items):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, (300, 3)).astype(np.float32)
    t = np.column_stack([x[:, 0] * 40 + 7, np.sin(x[:, 1]) - 3]).astype(np.float32)
    chain = TransformChain.fit(x, targets=t, items=items, variables=["v0", "v1", "v2"],
                               target_names=["t0", "t1"])  # fmt: skip
    model = _model([DenseSpec(8, "TANH"), DenseSpec(2, "LINEAR")], 3, kind="Regression", n_out=2,
                   transforms=chain)  # fmt: skip
    _check(model, x, tol=2e-5)
    one = _model([DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")], 3, kind="Regression", n_out=1,
                 transforms=TransformChain.fit(x, targets=t[:, :1], items="N"))  # fmt: skip
    assert _check(one, x).graph.output[0].type.tensor_type.shape.dim[1:] == []


def test_pca_of_targets_uses_tmva_inverse():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (200, 2)).astype(np.float32)
    t = (x @ [[1.0, 0.5], [0.2, 2.0]] + [3.0, -1.0]).astype(np.float32)
    # tmvacompat refuses to fit a PCA of targets (TMVA sizes TPrincipal by the variables); a weight file can
    # still hold one, so build it from parameters as the reader would
    from tmvacompat.data.transforms import InputRef, PCATransform

    refs = [InputRef("Target", 0, "a", "a"), InputRef("Target", 1, "b", "b")]
    means = [t.mean(axis=0)]
    vecs = [np.linalg.svd(np.cov(t.T))[0]]
    chain = TransformChain([PCATransform(refs, means=means, eigenvectors=vecs)], variables=["v0", "v1"],
                           targets=["a", "b"])  # fmt: skip
    model = _model([DenseSpec(4, "TANH"), DenseSpec(2, "LINEAR")], 2, kind="Regression", n_out=2,
                   transforms=chain)  # fmt: skip
    _check(model, x)


def test_multiclass_softmax():
    x = np.random.default_rng(6).normal(0, 1, (300, 4)).astype(np.float32)
    proto = _check(_model([DenseSpec(9, "RELU"), DenseSpec(3, "LINEAR")], 4, kind="Multiclass", n_out=3), x)
    assert "Softmax" in {n.op_type for n in proto.graph.node}


def test_cnn_layers():
    layers = [
        ConvSpec(3, 3, 3, 1, 1, 1, 1, "RELU"),
        BatchNormSpec(),  # per channel after CONV
        MaxPoolSpec(2, 2, 2, 2),
        Padding2DSpec(1, 0, 2, 1),
        ConvSpec(4, 3, 2, 2, 1, 1, 0, "TANH"),
        ConvTransposeSpec(2, 3, 3, 2, 2, 1, 1, "SIGMOID"),
        MaxPoolSpec(3, 3, 1, 2),
        ReshapeSpec(flatten=True),
        BatchNormSpec(),  # per value after RESHAPE
        DenseSpec(5, "TANH"),
        DenseSpec(1, "LINEAR"),
    ]
    x = np.random.default_rng(7).normal(0, 1, (200, 2 * 8 * 8)).astype(np.float32)
    proto = _check(_model(layers, 128, input_layout=(2, 8, 8)), x)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "ConvTranspose", "MaxPool", "Pad", "BatchNormalization"} <= ops


def test_reshape_to_image_then_conv_and_bnorm_per_value():
    layers = [
        DenseSpec(36, "TANH"),
        ReshapeSpec(1, 6, 6),
        BatchNormSpec(),  # per value: the previous layer is a RESHAPE
        ConvSpec(2, 3, 3, 1, 1, 0, 0, "SOFTSIGN"),
        DenseSpec(1, "LINEAR"),
    ]
    x = np.random.default_rng(8).normal(0, 1, (150, 5)).astype(np.float32)
    _check(_model(layers, 5), x)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "GRU_after"])
@pytest.mark.parametrize("sequence", [False, True])
def test_recurrent_layers(kind, sequence):
    T, F, S = 5, 3, 4
    if kind == "RNN":
        spec = RNNSpec(S, F, T, return_sequence=sequence)
    elif kind == "LSTM":
        spec = LSTMSpec(S, F, T, return_sequence=sequence)
    else:
        spec = GRUSpec(S, F, T, return_sequence=sequence, reset_gate_after=kind == "GRU_after")
    layers = [spec, ReshapeSpec(flatten=True), DenseSpec(1, "LINEAR")]
    x = np.random.default_rng(9).normal(0, 1, (120, T * F)).astype(np.float32)
    model = _model(layers, T * F, input_layout=(1, T, F), seed=11)
    proto = _check(model, x)
    assert spec.kind in {n.op_type for n in proto.graph.node}


def test_remember_state_is_refused():
    spec = LSTMSpec(3, 2, 4, remember_state=True)
    model = _model([spec, DenseSpec(1, "LINEAR")], 8, input_layout=(1, 4, 2))
    with pytest.raises(ONNXExportError, match="rememberState"):
        to_onnx(model)


def test_add_and_concat_graph():
    layers = [
        DenseSpec(6, "RELU", name="h1"),
        DenseSpec(6, "TANH"),
        AddSpec(("h1",)),
        DenseSpec(4, "TANH", name="h2"),
        ConcatSpec(("INPUT", "h1")),
        DenseSpec(5, "SIGMOID"),
        DenseSpec(4, "LINEAR"),
        AddSpec(("h2",)),
        DenseSpec(1, "LINEAR"),
    ]
    x = np.random.default_rng(10).normal(0, 1, (200, 6)).astype(np.float32)
    proto = _check(_model(layers, 6), x)
    assert {"Add", "Concat"} <= {n.op_type for n in proto.graph.node}


def test_residual_images():
    layers = [
        ConvSpec(1, 3, 3, 1, 1, 1, 1, "RELU", name="c"),
        ConvSpec(1, 3, 3, 1, 1, 1, 1, "TANH"),
        AddSpec(("c", "INPUT")),
        ConcatSpec(("c",)),
        DenseSpec(1, "LINEAR"),
    ]
    x = np.random.default_rng(12).normal(0, 1, (100, 16)).astype(np.float32)
    _check(_model(layers, 16, input_layout=(1, 4, 4)), x)


# ---------------------------------------------------------------------------------------- options, NaN
def test_nan_inputs_give_minus_999_for_classifiers():
    model = _model([DenseSpec(4, "TANH"), DenseSpec(1, "LINEAR")], 3, transforms=None)
    x = np.random.default_rng(13).normal(0, 1, (20, 3)).astype(np.float32)
    x[[2, 7], [0, 2]] = np.nan
    got = _run(to_onnx(model), x)
    assert got[2] == got[7] == -999.0
    np.testing.assert_allclose(got, model.evaluate(x), atol=1e-6)
    plain = to_onnx(model, nan_response=False)
    assert {"IsNaN", "Where"}.isdisjoint(n.op_type for n in plain.graph.node)
    assert np.isnan(_run(plain, x)[2])


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_opsets_and_fixed_batch(opset, tmp_path):
    model = _model([DenseSpec(4, "TANH"), DenseSpec(1, "LINEAR")], 3)
    x = np.random.default_rng(14).normal(0, 1, (1, 3)).astype(np.float32)
    proto = to_onnx(model, tmp_path / "m.onnx", opset=opset, batch_size=1)
    assert proto.opset_import[0].version == opset
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    again = onnx.load(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(_run(again, x), model.evaluate(x), atol=1e-6)


def test_bad_arguments_are_named():
    model = _model([DenseSpec(1, "LINEAR")], 2)
    with pytest.raises(ONNXExportError, match="opset 7"):
        to_onnx(model, opset=7)
    with pytest.raises(ONNXExportError, match="batch_size"):
        to_onnx(model, batch_size=0)
    with pytest.raises(ONNXExportError, match="does not exist"):
        to_onnx(model, "/nonexistent-dir/m.onnx")


# ---------------------------------------------------------------------------------------- command line
@needs_vectors
def test_cli_convert_writes_a_matching_file(tmp_path, capsys):
    out = tmp_path / "dl.onnx"
    assert main(["convert", str(VECTORS / DL_FILES[0]), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model = load_weights(VECTORS / DL_FILES[0])
    x = np.random.default_rng(15).normal(0, 1, (50, 4)).astype(np.float32)
    np.testing.assert_allclose(_run(onnx.load(str(out)), x), model.evaluate(x), atol=1e-5)


@needs_vectors
def test_cli_convert_errors_are_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "g.onnx"
    assert main(["convert", str(VECTORS / GAUSS_FILE), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tmvacompat: error:") and "Gauss" in err and "\n" not in err
    assert not out.exists()
    assert main(["convert", str(tmp_path / "missing.weights.xml"), "-o", str(out)]) == 2
    assert "missing.weights.xml" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- trained models
TRAIN = "TrainingStrategy=LearningRate=1e-2,BatchSize=32,MaxEpochs=6,ConvergenceSteps=3,TestRepetitions=1"


@pytest.mark.parametrize(
    "layout",
    [
        "InputLayout=1|4|4:VarTransform=N:"
        "Layout=CONV|3|3|3|1|1|1|1|RELU,BNORM,MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|8|TANH,DENSE|1|LINEAR",
        "InputLayout=4|4:VarTransform=D:Layout=GRU|5|4|4|0|1|1,RESHAPE|FLAT,BNORM,DENSE|1|LINEAR",
    ],
)
def test_trained_models(layout):
    from tmvacompat import DataSet, MethodDL

    rng = np.random.default_rng(16)
    y = rng.integers(0, 2, 600)
    x = (rng.normal(0, 1, (600, 16)) + 0.7 * y[:, None] * np.linspace(-1, 1, 16)).astype(np.float32)
    ds = DataSet.from_arrays(x[:400], y[:400], x[400:], y[400:])
    method = MethodDL("T", f"!H:!V:RandomSeed=2:{layout}:{TRAIN}")
    method.train(ds, weight_file="")
    assert any(np.any(p["Training-mu"] != 0) for p in method.model.params if "Training-mu" in p)
    _check(method.model, x[400:])
