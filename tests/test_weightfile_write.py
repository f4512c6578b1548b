"""Writing weight files: TMVA's exact layout, lossless round trips, every layer kind, atomic saves."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS, needs_vectors
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.errors import WeightFileError
from tmvacompat.specs import (
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
from tmvacompat.weightfile import Model, VariableInfo, load_weights
from tmvacompat.weightfile.xmlwrite import fmt_values

REAL = [
    VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml",
    VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml",
    VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_GPU.weights.xml",
    VECTORS / "privdonut123_NN" / "TMVAClassification_DNN.weights.xml",
    VECTORS / "adropulic_June_July_2019" / "TMVAClassification_DNN.weights.xml",
]


def _paths(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Every element path with its attribute names, in document order."""
    out = []

    def walk(el, prefix):
        for child in el:
            p = f"{prefix}/{child.tag}"
            out.append((p, tuple(child.attrib)))
            walk(child, p)

    walk(ET.parse(path).getroot(), "MethodSetup")
    return out


def _inputs(model: Model, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.stack([rng.uniform(v.min, v.max, n) for v in model.variables], axis=1)


@needs_vectors
@pytest.mark.parametrize("path", REAL, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_tmva_precision_reproduces_the_original_file_byte_for_byte(path, tmp_path):
    out = tmp_path / "copy.weights.xml"
    load_weights(path).save(out, precision="tmva")
    assert out.read_bytes() == path.read_bytes()


@needs_vectors
@pytest.mark.parametrize("path", REAL, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_lossless_round_trip_same_document_shape_and_bitwise_outputs(path, tmp_path):
    m = load_weights(path)
    out = tmp_path / "rt.weights.xml"
    m.save(out)
    assert out.read_text().startswith('<?xml version="1.0"?>\n<MethodSetup Method=')
    assert _paths(out) == _paths(path)
    m2 = load_weights(out)
    for a, b in zip(m.params, m2.params, strict=True):
        for name in a:
            assert a[name].dtype == b[name].dtype
            np.testing.assert_array_equal(a[name], b[name])
    assert m2.layers == m.layers and m2.options == m.options and m2.general_info == m.general_info
    assert [vars(v) for v in m2.variables] == [vars(v) for v in m.variables]
    x = _inputs(m)
    np.testing.assert_array_equal(m.evaluate(x), m2.evaluate(x))


@needs_vectors
def test_rewriting_the_transform_chain_keeps_outputs(tmp_path):
    m = load_weights(REAL[0])
    # a chain that is not the one read from the file is written with the transformations writer
    m.transforms = load_weights(REAL[0]).transforms
    out = tmp_path / "chain.weights.xml"
    m.save(out)
    assert _paths(out) == _paths(REAL[0])
    x = _inputs(m)
    np.testing.assert_array_equal(load_weights(out).evaluate(x), m.evaluate(x))


def test_lossless_float_format_examples():
    assert fmt_values(np.array([-6.655616e-02, 1.0, 0.0], np.float32), "lossless", "  ") == (
        "-6.655616e-02  1e+00  0e+00  "
    )
    assert fmt_values(np.array([0.1]), "lossless", " ") == "1e-01 "
    assert fmt_values(np.array([1 / 3]), "lossless", " ") == "3.333333333333333e-01 "
    assert fmt_values(np.array([-6.655616e-02], np.float32), "tmva", "  ") == "-6.655616e-02  "


_CXX_NUMBER = re.compile(r"^-?\d(\.\d+)?e[+-]\d{2,3}$")  # what C++ operator>> / strtod read in full


@settings(max_examples=300, deadline=None)
@given(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_lossless_numbers_read_back_exactly(f32, f64):
    text32 = fmt_values(np.array([f32], np.float32), "lossless", " ").strip()
    text64 = fmt_values(np.array([f64], np.float64), "lossless", " ").strip()
    assert _CXX_NUMBER.match(text32) and _CXX_NUMBER.match(text64)
    assert np.float32(text32) == np.float32(f32) and float(text64) == f64


def _dense_model(**kw) -> Model:
    rng = np.random.default_rng(0)
    params = [
        {
            "Weights": rng.normal(size=(5, 3)).astype(np.float32),
            "Biases": rng.normal(size=(5, 1)).astype(np.float32),
        },
        {"Weights": rng.normal(size=(1, 5)).astype(np.float32), "Biases": np.zeros((1, 1), np.float32)},
    ]
    base = dict(
        title="DL_parts",
        variables=["a", "b", "a*b"],
        layers=[DenseSpec(5, "RELU"), DenseSpec(1, "LINEAR")],
        params=params,
    )
    base.update(kw)
    return Model.from_parts(**base)


def test_from_parts_defaults_and_layout(tmp_path):
    m = _dense_model(
        options=[("Layout", True, "DENSE|5|RELU,DENSE|1|LINEAR"), ("V", False, "False")],
        training_events=1234,
        training_time=2.5,
    )
    info = dict(m.general_info)
    assert info["TMVA Release"] == "4.2.1 [262657]" and info["ROOT Release"].startswith("6.")
    assert info["Training events"] == "1234" and info["TrainingTime"] == "2.50000000e+00"
    assert info["AnalysisType"] == "Classification"
    assert re.match(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \d{4}$", info["Date"])
    assert [n for n, _ in m.general_info] == [
        "TMVA Release",
        "ROOT Release",
        "Creator",
        "Date",
        "Host",
        "Dir",
        "Training events",
        "TrainingTime",
        "AnalysisType",
    ]
    assert m.variables[2] == VariableInfo("a*b", "a*b", "a*b", "", "a_T_b", "F", 0.0, 0.0)
    out = tmp_path / "parts.weights.xml"
    m.save(out)
    text = out.read_text()
    assert (
        '<Weights NetDepth="2" InputDepth="1" InputHeight="1" InputWidth="3" BatchSize="1" BatchDepth="1" '
        'BatchHeight="1" BatchWidth="3" LossFunction="C" Initialization="F" Regularization="0" '
        'OutputFunction="S" WeightDecay="0e+00">' in text
    )
    assert '    <Option name="Layout" modified="Yes">DENSE|5|RELU,DENSE|1|LINEAR</Option>\n' in text
    assert '  <Spectators NSpec="0"/>\n' in text and "  <MVAPdfs/>\n" in text
    assert '  <Transformations NTransformations="0"/>\n' in text and "<Targets" not in text
    m2 = load_weights(out)
    for a, b in zip(m.params, m2.params, strict=True):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    x = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_array_equal(m.evaluate(x), m2.evaluate(x))
    # closed form: sigmoid(W2 relu(W1 x + b1) + b2)
    p = m.params
    ref = 1 / (1 + np.exp(-(np.maximum(x @ p[0]["Weights"].T + p[0]["Biases"].T, 0) @ p[1]["Weights"].T)))
    np.testing.assert_allclose(m.evaluate(x), ref[:, 0], rtol=1e-5, atol=1e-6)


def test_regression_model_writes_targets_and_inverse_transforms(tmp_path):
    from tmvacompat.data.transforms import TransformChain

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 5, size=(200, 2)).astype(np.float32)
    t = (x[:, :1] * 3 + 10).astype(np.float32)
    chain = TransformChain.fit(x, targets=t, n_classes=1, items="N", variables=["u", "v"], target_names=["y"])
    m = Model.from_parts(
        title="DL_reg",
        variables=["u", "v"],
        targets=["y"],
        analysis_type="Regression",
        layers=[DenseSpec(1, "LINEAR")],
        transforms=chain,
        params=[{"Weights": np.array([[1.0, 0.0]], np.float32), "Biases": np.zeros((1, 1), np.float32)}],
    )
    out = tmp_path / "reg.weights.xml"
    m.save(out)
    m2 = load_weights(out)
    assert m2.analysis_type == "Regression" and [v.expression for v in m2.targets] == ["y"]
    assert m2.classes == ["Regression"] and m2.network.output_function == "I"
    pred = m2.evaluate(x)
    # the net copies normalised u into normalised y: y = ymin + (u' + 1) / 2 * (ymax - ymin)
    u = (x[:, 0] - x[:, 0].min()) / (x[:, 0].max() - x[:, 0].min())
    np.testing.assert_allclose(pred, t.min() + u * (t.max() - t.min()), rtol=1e-5, atol=1e-4)


def _all_kinds_model() -> Model:
    rng = np.random.default_rng(5)
    specs = [
        ConvSpec(2, 3, 3, 1, 1, 1, 1, "RELU", name="c1"),
        Padding2DSpec(1, 0, 0, 1),
        MaxPoolSpec(2, 2, 1, 1),
        BatchNormSpec(0.9, 1e-3),
        ConvTransposeSpec(1, 2, 2, 1, 1, 0, 0, "TANH"),
        ReshapeSpec(flatten=True, name="flat"),
        DenseSpec(12, "SOFTSIGN", name="d1"),
        AddSpec(("d1",)),
        ReshapeSpec(1, 3, 4),
        RNNSpec(4, 4, 3, False, True),
        LSTMSpec(3, 4, 3, False, True),
        GRUSpec(2, 3, 3, False, False, True),
        ConcatSpec(("flat",)),
        DenseSpec(1, "LINEAR"),
    ]
    shapes = {
        0: {"Weights": (2, 9), "Biases": (2, 1)},
        3: {k: (1, 2) for k in ("Training-mu", "Training-variance", "Gamma", "Beta")},
        4: {"Weights": (2, 4), "Biases": (1, 1)},
        6: {"Weights": (12, 49), "Biases": (12, 1)},
        9: {"InputWeights": (4, 4), "StateWeights": (4, 4), "Biases": (4, 1)},
        # TMVA's LSTM/GRU matrix names are positional: the first half of the weight matrices (in file order)
        # are the gates' input weights (state x input), the rest their state weights (state x state)
        10: {
            "InputWeights": (3, 4),
            "InputStateWeights": (3, 4),
            "InputBiases": (3, 1),
            "ForgetWeights": (3, 4),
            "ForgetStateWeights": (3, 4),
            "ForgetBiases": (3, 1),
            "CandidateWeights": (3, 3),
            "CandidateStateWeights": (3, 3),
            "CandidateBiases": (3, 1),
            "OuputWeights": (3, 3),
            "OutputStateWeights": (3, 3),
            "OutputBiases": (3, 1),
        },
        11: {
            "ResetWeights": (2, 3),
            "ResetStateWeights": (2, 3),
            "ResetBiases": (2, 1),
            "UpdateWeights": (2, 3),
            "UpdateStateWeights": (2, 2),
            "UpdateBiases": (2, 1),
            "CandidateWeights": (2, 2),
            "CandidateStateWeights": (2, 2),
            "CandidateBiases": (2, 1),
        },
        13: {"Weights": (1, 51), "Biases": (1, 1)},
    }
    params = [
        {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.get(i, {}).items()}
        for i in range(len(specs))
    ]
    params[3]["Training-variance"] = np.abs(params[3]["Training-variance"]) + 0.1
    return Model.from_parts(
        title="DL_all",
        variables=[f"x{i}" for i in range(36)],
        layers=specs,
        params=params,
        input_layout=(1, 6, 6),
        batch_layout=(32, 1, 36),
    )


def test_every_layer_kind_round_trips_with_tmva_names(tmp_path):
    m = _all_kinds_model()
    out = tmp_path / "all.weights.xml"
    m.save(out)
    weights = ET.parse(out).getroot().find("Weights")
    assert [(el.tag, list(el.attrib)) for el in weights] == [
        (
            "ConvLayer",
            [
                "Depth",
                "FilterHeight",
                "FilterWidth",
                "StrideRows",
                "StrideCols",
                "PaddingHeight",
                "PaddingWidth",
                "ActivationFunction",
                "Name",
            ],
        ),
        ("PaddingLayer2D", ["LeftPad", "RightPad", "TopPad", "BottomPad"]),
        ("MaxPoolLayer", ["FilterHeight", "FilterWidth", "StrideRows", "StrideCols"]),
        ("BatchNormLayer", ["Momentum", "Epsilon"]),
        (
            "ConvTransposeLayer",
            [
                "Depth",
                "FilterHeight",
                "FilterWidth",
                "StrideRows",
                "StrideCols",
                "PaddingHeight",
                "PaddingWidth",
                "ActivationFunction",
            ],
        ),
        ("ReshapeLayer", ["Depth", "Height", "Width", "Flattening", "Name"]),
        ("DenseLayer", ["Width", "ActivationFunction", "Name"]),
        ("AddLayer", ["Sources"]),
        ("ReshapeLayer", ["Depth", "Height", "Width", "Flattening"]),
        ("RNNLayer", ["StateSize", "InputSize", "TimeSteps", "RememberState", "ReturnSequence"]),
        ("LSTMLayer", ["StateSize", "CellSize", "InputSize", "TimeSteps", "RememberState", "ReturnSequence"]),
        (
            "GRULayer",
            ["StateSize", "InputSize", "TimeSteps", "RememberState", "ReturnSequence", "ResetGateAfter"],
        ),
        ("ConcatLayer", ["Sources"]),
        ("DenseLayer", ["Width", "ActivationFunction"]),
    ]
    assert [c.tag for c in weights[10]][9] == "OuputWeights"  # TMVA's spelling
    assert [c.tag for c in weights[3]] == ["Training-mu", "Training-variance", "Gamma", "Beta"]
    m2 = load_weights(out)
    assert m2.layers == m.layers
    for a, b in zip(m.params, m2.params, strict=True):
        assert list(a) == list(b) or sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    # the engine accepts every matrix shape the file declares, and the reloaded model answers identically
    x = np.random.default_rng(9).normal(size=(7, 36)).astype(np.float32)
    y = m.evaluate(x)
    assert y.shape == (7,) and np.isfinite(y).all() and y.std() > 0
    np.testing.assert_array_equal(m2.evaluate(x), y)


def test_from_parts_resolves_formula_and_zero_widths():
    m = Model.from_parts(
        title="t",
        variables=["a", "b", "c", "d"],
        analysis_type="Multiclass",
        classes=["A", "B", "C"],
        layers=[DenseSpec("(N+1)*2", "TANH"), DenseSpec(0, "LINEAR")],
        params=[
            {"Weights": np.zeros((10, 4)), "Biases": np.zeros((10, 1))},
            {"Weights": np.zeros((3, 10)), "Biases": np.zeros((3, 1))},
        ],
    )
    assert [s.width for s in m.layers] == [10, 3] and m.network.output_function == "M"
    np.testing.assert_allclose(m.evaluate(np.zeros((2, 4))), 1 / 3, rtol=1e-6)


def test_inconsistent_parts_are_refused():
    with pytest.raises(WeightFileError) as info:
        _dense_model(
            params=[
                {"Weights": np.zeros((5, 4)), "Biases": np.zeros((5, 1))},
                {"Weights": np.zeros((1, 5)), "Biases": np.zeros((1, 1))},
            ]
        )
    assert (
        "'Weights'" in str(info.value) and "(5, 3)" in str(info.value) and "DenseLayer[0]" in str(info.value)
    )
    with pytest.raises(WeightFileError) as info:
        _dense_model(analysis_type="Binary")
    assert "Binary" in str(info.value) and "Multiclass" in info.value.expected


def test_non_finite_parameters_refused_and_nothing_written(tmp_path):
    m = _dense_model()
    m.params[1]["Weights"][0, 2] = np.nan
    out = tmp_path / "bad.weights.xml"
    out.write_text("previous content")
    with pytest.raises(WeightFileError) as info:
        m.save(out)
    assert (
        "non-finite" in str(info.value) and "DenseLayer[1]" in str(info.value) and "(0, 2)" in str(info.value)
    )
    assert out.read_text() == "previous content"
    assert os.listdir(tmp_path) == ["bad.weights.xml"]


def test_save_is_atomic_and_replaces(tmp_path):
    m = _dense_model()
    out = tmp_path / "w.weights.xml"
    out.write_text("old")
    m.save(out)
    assert load_weights(out).title == "DL_parts" and os.listdir(tmp_path) == ["w.weights.xml"]
    with pytest.raises(WeightFileError) as info:
        m.save(tmp_path / "missing_dir" / "x.xml")
    assert "missing_dir" in str(info.value)
    with pytest.raises(WeightFileError) as info:
        m.save(out, precision="float16")
    assert info.value.expected == ["lossless", "tmva"]


def test_special_characters_are_escaped(tmp_path):
    m = _dense_model(
        variables=[VariableInfo("a<b&&c>0", 'lab"el'), "b", "c"], options=[("Layout", True, 'A&B<"C">')]
    )
    out = tmp_path / "esc.weights.xml"
    m.save(out)
    m2 = load_weights(out)
    assert m2.variables[0].expression == "a<b&&c>0" and m2.variables[0].label == 'lab"el'
    assert m2.options == [("Layout", True, 'A&B<"C">')]


def test_double_precision_dl_net_is_detected_and_kept(tmp_path):
    w = np.array([[1 / 3, -2 / 7]])
    m = Model.from_parts(
        title="d", variables=["a", "b"], layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": w, "Biases": np.zeros((1, 1))}], dtype=np.float64,
    )  # fmt: skip
    out = tmp_path / "d.weights.xml"
    m.save(out, precision="tmva")
    assert "3.333333333333333e-01  -2.857142857142857e-01  " in out.read_text()  # digits10 = 15 for double
    m2 = load_weights(out)
    assert m2.network.dtype == np.float64 and abs(m2.params[0]["Weights"][0, 0] - 1 / 3) < 1e-15
    m.save(out)  # lossless: exact
    np.testing.assert_array_equal(load_weights(out).params[0]["Weights"], w)


def test_array_variables_are_written_as_tmva_marks_them(tmp_path):
    # DataSetInfo::AddVariablesArray: every element keeps the expression and label, Title "[i]", Internal
    # "<label>[i]"; VariableInfo::AddToXML writes Type="F[]" for them, and ReadFromXML recognises it
    import uproot

    from tmvacompat import DataLoader, MethodDL

    rng = np.random.default_rng(3)
    path = str(tmp_path / "img.root")
    with uproot.recreate(path) as f:
        for tree, shift in (("S", 0.5), ("B", -0.5)):
            img = rng.normal(shift, 1.0, (200, 4)).astype(np.float32)
            f[tree] = {"img": img, "e": rng.normal(0, 1, 200).astype(np.float32)}
    loader = DataLoader("ds")
    loader.AddVariablesArray("img", 4)
    loader.AddVariable("e", "F")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:!V")
    out = str(tmp_path / "w.xml")
    MethodDL("A", "!H:!V:RandomSeed=1:Layout=TANH|4,LINEAR:TrainingStrategy=BatchSize=20,MaxEpochs=2").train(
        loader.GetDataSet(), weight_file=out
    )
    rows = [v.attrib for v in ET.parse(out).getroot().find("Variables")]
    assert [(r["Expression"], r["Label"], r["Title"], r["Internal"], r["Type"]) for r in rows] == [
        *[("img", "img", f"[{i}]", f"img[{i}]", "F[]") for i in range(4)],
        ("e", "e", "e", "e", "F"),
    ]
    model = load_weights(out)
    assert [v.array_index for v in model.variables] == [0, 1, 2, 3, None]
    assert [v.type for v in model.variables] == ["F"] * 5
    again = str(tmp_path / "again.xml")
    model.save(again)
    assert [v.attrib["Type"] for v in ET.parse(again).getroot().find("Variables")] == ["F[]"] * 4 + ["F"]
    with uproot.open(path) as f:
        np.testing.assert_array_equal(model.evaluate(f["S"]), load_weights(again).evaluate(f["S"]))


def test_array_type_needs_an_indexed_internal_name(tmp_path):
    src = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml"
    if not src.is_file():
        pytest.skip(f"real TMVA vectors not found at {VECTORS}")
    text = src.read_text().replace('Internal="var1" Type="F"', 'Internal="var1" Type="F[]"', 1)
    bad = tmp_path / "bad.xml"
    bad.write_text(text)
    with pytest.raises(WeightFileError, match="Internal='var1'"):
        load_weights(bad)
