"""Reading real TMVA weight files (DL:: and DNN::) into the Model: structure and numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat.errors import WeightFileError
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile import load_weights

MULTI = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml"
DL_CPU = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"
DL_GPU = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_GPU.weights.xml"
DNN_OLD = VECTORS / "privdonut123_NN" / "TMVAClassification_DNN.weights.xml"
DNN_GAUSS = VECTORS / "adropulic_June_July_2019" / "TMVAClassification_DNN.weights.xml"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"real TMVA vectors not found at {VECTORS}")


def _xml_matrix(path: Path, layer_index: int, name: str) -> np.ndarray:
    """The matrix straight from the XML with ElementTree (independent of tmvacompat's reader)."""
    weights = ET.parse(path).getroot().find("Weights")
    layer = list(weights)[layer_index]
    el = layer.find(name)
    rows = int(el.get("Rows") or el.get("rows"))
    cols = int(el.get("Columns") or el.get("cols"))
    return np.array([float(t) for t in el.text.split()]).reshape(rows, cols)


def test_multiclass_dl_file_structure():
    m = load_weights(MULTI)
    assert (m.method, m.title, m.analysis_type) == ("DL", "DL_CPU", "Multiclass")
    assert m.root_version == "6.33/01"
    assert m.classes == ["Signal", "bg0", "bg1", "bg2"]
    assert [v.expression for v in m.variables] == ["var1", "var2", "var3", "var4"]
    assert m.variables[2].unit == "units" and m.variables[1].title == "Variable 2"
    assert m.variables[0].min == pytest.approx(-4.05916023) and m.variables[0].max == pytest.approx(
        3.18076587
    )
    assert m.spectators == [] and m.targets == []
    assert m.layers == [
        DenseSpec(100, "TANH"),
        DenseSpec(50, "TANH"),
        DenseSpec(10, "TANH"),
        DenseSpec(4, "LINEAR"),
    ]
    net = m.network
    assert net.input_layout == (1, 1, 4) and net.batch_layout == (1, 100, 4)
    assert (net.loss, net.init, net.regularization, net.output_function) == ("C", "F", "0", "M")
    assert net.weight_decay == 0.0 and net.dtype == np.float32
    assert [sorted(p) for p in m.params] == [["Biases", "Weights"]] * 4
    assert m.params[0]["Weights"].shape == (100, 4) and m.params[3]["Biases"].shape == (4, 1)
    assert m.params[0]["Weights"][0, 0] == np.float32(-2.962141e-01)
    assert m.option("layout") == "TANH|100,TANH|50,TANH|10,LINEAR"
    assert ("VarTransform", True, "N") in m.options and ("RandomSeed", False, "0") in m.options
    assert dict(m.general_info)["Training events"] == "4000"


@pytest.mark.parametrize("path", [MULTI, DL_CPU, DNN_OLD, DNN_GAUSS], ids=lambda p: p.parent.name)
def test_every_matrix_equals_the_xml_text(path):
    m = load_weights(path)
    for i, p in enumerate(m.params):
        for name, arr in p.items():
            ref = _xml_matrix(path, i, name)
            assert arr.shape == ref.shape
            np.testing.assert_array_equal(arr, ref.astype(arr.dtype))


def test_classification_dl_with_expressions_and_spectators():
    m = load_weights(DL_CPU)
    assert (m.method, m.title, m.analysis_type, m.root_version) == (
        "DL",
        "DNN_CPU",
        "Classification",
        "6.24/04",
    )
    assert [v.expression for v in m.variables] == ["var1+var2", "var1-var2", "var3", "var4"]
    assert [v.label for v in m.variables][:2] == ["myvar1", "myvar2"]
    assert [v.expression for v in m.spectators] == ["var1*2", "var1*3"]
    assert [s.width for s in m.layers] == [128, 128, 128, 1]
    assert m.network.output_function == "S"
    # WeightDecay is written from a float: 1e-4 as float32 printed with 16 digits
    assert m.network.weight_decay == float(np.float32(1e-4))
    assert load_weights(DL_GPU).title == "DNN_GPU"


def test_old_dnn_layout():
    m = load_weights(DNN_OLD)
    assert (m.method, m.title, m.root_version) == ("DNN", "DNN", "6.12/06")
    assert len(m.variables) == 12 and m.network.input_layout == (1, 1, 12)
    assert m.layers == [DenseSpec(10, "SIGMOID")] * 3 + [DenseSpec(1, "LINEAR")]
    assert m.network.output_function == "S" and m.network.loss == "C"
    assert m.network.dtype == np.float64  # MethodDNN keeps double precision
    assert m.params[0]["Weights"][0, 1] == 5.3050098419189453e00


def test_old_dnn_with_gauss_transform_loads():
    m = load_weights(DNN_GAUSS)
    assert m.method == "DNN" and [s.width for s in m.layers] == [100, 50, 10, 1]
    assert [v.type for v in m.variables] == ["D"] * 5
    assert m.option("VarTransform") == "G"
    assert m.transforms is not None and len(m.transforms) == 1


@pytest.mark.parametrize(
    "path, method",
    [
        (VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_PDEFoam.weights.xml", "PDEFoam"),
        (VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_MLP.weights.xml", "MLP"),
        (VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_MLPBNN.weights.xml", "MLP"),
        (VECTORS / "privdonut123_NN" / "TMVAClassification_MLP.weights.xml", "MLP"),
        (VECTORS / "adropulic_June_July_2019" / "TMVAClassification_MLP_3.weights.xml", "MLP"),
    ],
    ids=lambda x: getattr(x, "name", x),
)
def test_other_methods_are_refused_by_name(path, method):
    with pytest.raises(WeightFileError) as info:
        load_weights(path)
    msg = str(info.value)
    assert f"method {method!r}" in msg and "DL" in msg and "DNN" in msg and path.name in msg
    assert info.value.token == method
