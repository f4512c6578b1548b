"""Layer kinds (tmvacompat.kinds): one rule per kind, used alike by the engine, the weight files and the
layout grammar, and a new kind that works everywhere from its own module and one registration."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from gradcheck import numerical_gradient

from tmvacompat.engine.base import Layer
from tmvacompat.engine.network import Network
from tmvacompat.errors import LayoutError, WeightFileError
from tmvacompat.kinds import BY_ELEMENT, KINDS, register
from tmvacompat.kinds.base import Kind, LayoutField, XmlAttr, XmlElement, size_of
from tmvacompat.layout import format_layout, parse_layout
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
from tmvacompat.weightfile import Model, load_weights
from tmvacompat.weightfile.layers_xml import expected_shapes, layer_attributes
from tmvacompat.weightfile.xmlread import _spec_from_element

# (spec, engine input shape, output shape worked out by hand from the kind's definition)
CLOSED_FORMS = [
    (DenseSpec(5, "TANH"), (3,), (5,)),
    (DenseSpec(5, "TANH"), (2, 3, 4), (5,)),
    # (in - f + 2 pad) / stride + 1: rows (9 - 3 + 2) / 2 + 1 = 5, columns (7 - 3 + 0) / 1 + 1 = 5
    (ConvSpec(4, 3, 3, 2, 1, 1, 0, "RELU"), (2, 9, 7), (4, 5, 5)),
    (ConvSpec(1, 2, 2), (5, 5), (1, 4, 4)),  # a 2-D input is one channel
    # (in - 1) * stride - 2 pad + filter: rows 3 * 2 - 2 + 4 = 8, columns 2 * 3 - 0 + 2 = 8
    (ConvTransposeSpec(3, 4, 2, 2, 3, 1, 0), (2, 4, 3), (3, 8, 8)),
    (MaxPoolSpec(2, 3, 2, 3), (3, 8, 9), (3, 4, 3)),
    (Padding2DSpec(1, 2, 3, 4), (2, 3, 4), (2, 6, 11)),
    (ReshapeSpec(flatten=True), (2, 3, 4), (24,)),
    (ReshapeSpec(2, 3, 4), (24,), (2, 3, 4)),
    (BatchNormSpec(), (4, 3, 3), (4, 3, 3)),
    (RNNSpec(5, 3, 4), (4, 3), (5,)),
    (LSTMSpec(5, 3, 4, return_sequence=True), (4, 3), (4, 5)),
    (GRUSpec(2, 6, 2, return_sequence=True), (12,), (2, 2)),
]


@pytest.mark.parametrize("spec, in_shape, out", CLOSED_FORMS, ids=lambda v: getattr(v, "kind", None))
def test_engine_weight_files_and_kind_give_the_closed_form_output_shape(spec, in_shape, out):
    kind = KINDS[spec.kind]
    assert kind.output_shape(spec, in_shape, ()) == out
    assert Network.build([spec], in_shape, dtype=np.float64).output_shape == out
    triple = (1,) * (3 - len(in_shape)) + in_shape
    want, out3 = expected_shapes(spec, triple, {})
    assert out3 == (1,) * (3 - len(out)) + out
    layer = Network.build([spec], in_shape, dtype=np.float64).layers[0]
    assert list(layer.params) == list(want) == list(kind.xml.matrices)  # the engine's names, in TMVA's order
    if spec.kind != "BNORM":  # the engine may pick the other legal normalisation dimension
        assert {k: v.shape for k, v in layer.params.items()} == want


def test_graph_nodes_take_their_sources_shapes():
    specs = [DenseSpec(6, "TANH", name="a"), ReshapeSpec(1, 2, 3), ReshapeSpec(flatten=True), AddSpec(("a",))]
    assert Network.build(specs, (4,)).output_shape == (6,)
    assert expected_shapes(AddSpec(("a",)), (1, 1, 6), {"a": (1, 1, 6)})[1] == (1, 1, 6)
    cat = ConcatSpec(("a", "INPUT"))
    assert expected_shapes(cat, (1, 2, 3), {"a": (1, 1, 6), "INPUT": (1, 1, 4)})[1] == (1, 1, 16)
    # one ADD rule for the engine and the weight files: same shape (leading 1s aside), not just same size
    with pytest.raises(LayoutError, match="differ"):
        Network.build([DenseSpec(6, name="a"), ReshapeSpec(1, 2, 3), AddSpec(("a",))], (4,))
    with pytest.raises(WeightFileError, match="differ"):
        expected_shapes(AddSpec(("a",)), (1, 2, 3), {"a": (1, 1, 6)})


@pytest.mark.parametrize(
    "spec, in_shape",
    [
        (ConvSpec(2, 4, 4, 3, 3), (1, 9, 9)),  # (9 - 4) / 3 is not an integer
        (MaxPoolSpec(2, 2, 2, 2), (1, 5, 5)),
        (ReshapeSpec(2, 2, 2), (7,)),
        (LSTMSpec(2, 3, 4), (11,)),
        (ConvTransposeSpec(1, 1, 1, 1, 1, 2, 2), (1, 2, 2)),  # (2 - 1) - 4 + 1 < 1
    ],
    ids=lambda v: getattr(v, "kind", None),
)
def test_a_layer_that_does_not_fit_is_refused_alike_by_engine_and_weight_files(spec, in_shape):
    with pytest.raises(LayoutError, match=rf"layer 0 \({spec.kind}\)"):
        Network.build([spec], in_shape)
    triple = (1,) * (3 - len(in_shape)) + in_shape
    with pytest.raises(WeightFileError, match=KINDS[spec.kind].xml.element) as err:
        expected_shapes(spec, triple, {}, where="Weights/layer[3]")
    assert err.value.where == "Weights/layer[3]"


SAMPLES = [
    DenseSpec(7, "SOFTSIGN", name="d"),
    ConvSpec(3, 2, 4, 1, 2, 0, 1, "GAUSS"),
    ConvTransposeSpec(2, 3, 3, 2, 2, 1, 1, "LINEAR"),
    MaxPoolSpec(3, 2, 1, 2),
    Padding2DSpec(0, 1, 2, 3, name="p"),
    ReshapeSpec(2, 3, 4),
    ReshapeSpec(flatten=True),
    BatchNormSpec(0.9, 1e-3),
    RNNSpec(4, 3, 2, True, False),
    LSTMSpec(4, 3, 2, False, True),
    GRUSpec(4, 3, 2, True, True, True),
    AddSpec(("a", "INPUT")),
    ConcatSpec(("b",), name="c"),
]


def test_the_samples_cover_every_registered_kind():
    assert {s.kind for s in SAMPLES} == set(KINDS)


@pytest.mark.parametrize("spec", SAMPLES, ids=lambda s: s.kind)
def test_every_kind_round_trips_through_its_xml_declaration_and_its_layout_token(spec):
    el = ET.Element(KINDS[spec.kind].xml.element, {k: str(v) for k, v in layer_attributes(spec)})
    assert _spec_from_element(el, "Weights/layer[0]") == spec
    text = format_layout([spec])
    if isinstance(spec, (AddSpec, ConcatSpec)):  # labels must be defined before they are used
        text = "DENSE|2|TANH@a,DENSE|2|TANH@b," + text
    assert parse_layout(text)[-1] == spec


def test_the_gsoc_fork_spelling_of_the_maxpool_window_is_read():
    el = ET.Element("MaxPoolLayer", FrameHeight="3", FrameWidth="2", StrideRows="1", StrideCols="1")
    assert _spec_from_element(el, "w") == MaxPoolSpec(3, 2, 1, 1)


def test_a_missing_or_bad_attribute_names_the_element_and_the_attribute():
    el = ET.Element("ConvLayer", Depth="2", FilterHeight="0")
    with pytest.raises(WeightFileError, match="FilterHeight=0 must be >= 1") as err:
        _spec_from_element(el, "Weights/ConvLayer[1]")
    assert err.value.where == "Weights/ConvLayer[1]"
    with pytest.raises(WeightFileError, match="unknown layer element <PoolLayer>"):
        _spec_from_element(ET.Element("PoolLayer"), "w")


# ------------------------------------------------------------------------------ a kind from outside
@dataclass(frozen=True)
class ScaleSpec:
    """``SCALE|factor``: y = factor * x * Gain + Bias, per value (a test-only kind)."""

    factor: int = 1
    name: str | None = None
    kind: ClassVar[str] = "SCALE"


def _scale_params(spec, in_shape):
    return {"Gain": (1, size_of(in_shape)), "Bias": (1, size_of(in_shape))}


def _scale_onnx(g, spec, layer, p, xs):
    x, shape = xs[0]
    flat = x if len(shape) == 1 else g.reshape(x, (size_of(shape),))
    y = g.op(
        "Add",
        [g.op("Mul", [flat, g.const("gain", spec.factor * p["Gain"][0])]), g.const("bias", p["Bias"][0])],
    )
    return y if len(shape) == 1 else g.reshape(y, shape)


SCALE = Kind(
    keyword="SCALE",
    spec=ScaleSpec,
    output_shape=lambda spec, in_shape, sources: tuple(in_shape),
    param_shapes=_scale_params,
    xml=XmlElement("ScaleLayer", (XmlAttr("Factor", "factor", lo=1),), ("Gain", "Bias")),
    engine=f"{__name__}:Scale",
    tmva=False,
    layout=(LayoutField("factor", "factor", "scale factor"),),
    layout_example="SCALE|2",
    onnx=_scale_onnx,
)


class Scale(Layer):
    kind = "SCALE"
    regularized = ("Gain",)

    def __init__(self, spec, input_shape, dtype=np.float32) -> None:
        super().__init__(input_shape, SCALE.output_shape(spec, input_shape, ()), dtype)
        self.factor = spec.factor
        self.params = {k: np.zeros(s, self.dtype) for k, s in SCALE.param_shapes(spec, input_shape).items()}
        self.params["Gain"][...] = 1
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    @classmethod
    def from_spec(cls, spec, input_shape, *, dtype=np.float32, nvar=None, n_outputs=1, **_ignored):
        return cls(spec, input_shape, dtype)

    def forward(self, x, training=False):
        self._x = np.asarray(x, self.dtype).reshape(len(x), -1)
        y = self.factor * self._x * self.params["Gain"] + self.params["Bias"]
        return y.reshape((len(x), *self.output_shape))

    def backward(self, dy):
        dy = np.asarray(dy).reshape(len(dy), -1)
        self.grads["Gain"][...] = (dy * self.factor * self._x).sum(axis=0, keepdims=True)
        self.grads["Bias"][...] = dy.sum(axis=0, keepdims=True)
        return (dy * self.factor * self.params["Gain"]).reshape((len(dy), *self.input_shape))


@pytest.fixture
def scale_kind():
    register(SCALE)
    try:
        yield SCALE
    finally:
        del KINDS["SCALE"], BY_ELEMENT["ScaleLayer"]


def test_a_registered_kind_works_in_layout_engine_and_weight_files(scale_kind, tmp_path):
    specs = parse_layout("DENSE|3|TANH,SCALE|2,DENSE|1|LINEAR")
    assert specs[1] == ScaleSpec(2) and format_layout(specs) == "DENSE|3|TANH,SCALE|2,DENSE|1|LINEAR"
    with pytest.raises(LayoutError, match=r"SCALE needs factor, got 2 field"):
        parse_layout("SCALE|2|3")

    rng = np.random.default_rng(3)
    net = Network.build(specs, (2,), dtype=np.float64)
    W0, b0 = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    gain, bias = rng.normal(size=(1, 3)), rng.normal(size=(1, 3))
    W2, b2 = rng.normal(size=(1, 3)), rng.normal(size=(1, 1))
    for layer, p in zip(net.layers, ({"Weights": W0, "Biases": b0}, {"Gain": gain, "Bias": bias},
                                     {"Weights": W2, "Biases": b2}), strict=True):  # fmt: skip
        for k, v in p.items():
            layer.params[k][...] = v
    x = rng.normal(size=(5, 2))
    want = (2 * np.tanh(x @ W0.T + b0.T) * gain + bias) @ W2.T + b2.T
    np.testing.assert_allclose(net.forward(x), want, rtol=1e-12)

    r = rng.normal(size=(5, 1))
    net.forward(x)
    dx = np.array(net.backward(r), copy=True)
    grads = {k: v.copy() for k, v in net.layers[1].grads.items()}

    def loss():
        return float(np.sum(net.forward(x) * r))

    np.testing.assert_allclose(
        grads["Gain"], numerical_gradient(loss, net.layers[1].params["Gain"]), rtol=1e-6
    )
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-6)

    model = Model.from_parts(
        title="DL_scale",
        variables=["a", "b"],
        layers=specs[:1] + [specs[1]] + [DenseSpec(1, "LINEAR")],
        params=[{"Weights": W0, "Biases": b0}, {"Gain": gain, "Bias": bias}, {"Weights": W2, "Biases": b2}],
        dtype=np.float64,
    )
    path = tmp_path / "scale.weights.xml"
    model.save(path)
    element = ET.parse(path).getroot().find("Weights")[1]  # type: ignore[index]
    assert (element.tag, dict(element.attrib), [m.tag for m in element]) == (
        "ScaleLayer",
        {"Factor": "2"},
        ["Gain", "Bias"],
    )
    back = load_weights(path)
    assert back.network.layers[1] == ScaleSpec(2)
    np.testing.assert_array_equal(back.network.params[1]["Gain"], gain)


def _scale_model(factor: int = 2) -> Model:
    rng = np.random.default_rng(5)
    return Model.from_parts(
        title="DL_scale",
        variables=["a", "b"],
        layers=[DenseSpec(3, "TANH"), ScaleSpec(factor), DenseSpec(1, "LINEAR")],
        params=[
            {"Weights": rng.normal(size=(3, 2)), "Biases": rng.normal(size=(3, 1))},
            {"Gain": rng.normal(size=(1, 3)), "Bias": rng.normal(size=(1, 3))},
            {"Weights": rng.normal(size=(1, 3)), "Biases": rng.normal(size=(1, 1))},
        ],
    )


def test_a_registered_kind_exports_to_onnx_by_its_own_form(scale_kind):
    pytest.importorskip("onnx", reason="ONNX export needs the optional onnx package")
    ort = pytest.importorskip("onnxruntime", reason="the exported graph runs in onnxruntime")
    from tmvacompat.onnx_export import to_onnx

    model = _scale_model()
    x = np.random.default_rng(6).normal(size=(7, 2)).astype(np.float32)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(
        np.asarray(got).reshape(-1), model.evaluate_matrix(x).reshape(-1), rtol=1e-5, atol=1e-6
    )


def test_a_kind_without_an_onnx_form_is_refused_by_name():
    import dataclasses

    from tmvacompat.errors import ONNXExportError

    pytest.importorskip("onnx", reason="ONNX export needs the optional onnx package")
    from tmvacompat.onnx_export import to_onnx

    register(dataclasses.replace(SCALE, onnx=None))
    try:
        with pytest.raises(ONNXExportError, match="layer kind 'SCALE' has no ONNX form") as err:
            to_onnx(_scale_model())
        assert "layer 1 (SCALE)" in str(err.value)
    finally:
        del KINDS["SCALE"], BY_ELEMENT["ScaleLayer"]


def test_register_refuses_a_taken_keyword_or_element():
    with pytest.raises(LayoutError, match="keyword 'CONV' is already registered"):
        register(KINDS["CONV"])
    with pytest.raises(LayoutError, match="has kind 'CONV', not 'CONV2'"):
        register(Kind("CONV2", ConvSpec, KINDS["CONV"].output_shape, XmlElement("Conv2Layer"), "x:y"))
