"""Evaluating real TMVA weight files: against TMVA's own outputs, an independent numpy forward, and AUCs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat.weightfile import load_weights

MULTI_DIR = VECTORS / "nasufsonmez_multiclass"
MULTI = MULTI_DIR / "TMVAMulticlass_DL_CPU.weights.xml"
DAN = VECTORS / "danchepkwony_rootPractice"
DNN_OLD = VECTORS / "privdonut123_NN" / "TMVAClassification_DNN.weights.xml"
DNN_GAUSS = VECTORS / "adropulic_June_July_2019" / "TMVAClassification_DNN.weights.xml"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"real TMVA vectors not found at {VECTORS}")

_ACT = {
    0: lambda z: z,
    1: lambda z: np.maximum(z, 0),
    2: lambda z: 1 / (1 + np.exp(-z)),
    3: np.tanh,
    4: np.abs,
    5: lambda z: z / (1 + np.abs(z)),
    6: lambda z: np.exp(-z * z),
    7: np.tanh,
}


def _xml_matrix(el: ET.Element) -> np.ndarray:
    r = int(el.get("Rows") or el.get("rows"))
    c = int(el.get("Columns") or el.get("cols"))
    return np.array(el.text.split(), dtype=np.float64).reshape(r, c)


def numpy_reference(path: Path, x: np.ndarray) -> np.ndarray:
    """An independent forward pass written from the XML with ElementTree and numpy, in float64.

    Normalize transform with the last (all-classes) ranges, dense layers act(x W^T + b), then the output
    function; handles both the DL (Rows/Columns) and the old DNN (rows/cols) layouts.
    """
    root = ET.parse(path).getroot()
    h = x.astype(np.float32).astype(np.float64)
    tr = root.find("Transformations/Transform")
    if tr is not None:
        assert tr.get("Name") == "Normalize"
        ranges = [c for c in tr if c.tag == "Class"][-1].find("Ranges")
        lo = np.array([float(r.get("Min")) for r in ranges], np.float32)
        hi = np.array([float(r.get("Max")) for r in ranges], np.float32)
        # TMVA events hold Float_t: the normalised values are float32 (spec 5.2)
        h = (h.astype(np.float32) - lo) * (np.float32(1) / (hi - lo)) * np.float32(2) - np.float32(1)
        h = h.astype(np.float64)
    weights = root.find("Weights")
    for layer in weights:
        w, b = (_xml_matrix(layer.find(name)) for name in ("Weights", "Biases"))
        h = _ACT[int(layer.get("ActivationFunction"))](h @ w.T + b.T)
    out_fn = weights.get("OutputFunction")
    if out_fn == "S":
        return 1 / (1 + np.exp(-h[:, 0]))
    if out_fn == "M":
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return h


def _auc(sig: np.ndarray, bkg: np.ndarray) -> float:
    """Unweighted ROC AUC by the rank (Mann-Whitney) formula."""
    ranks = np.concatenate([sig, bkg]).argsort(kind="stable").argsort() + 1.0
    ns, nb = len(sig), len(bkg)
    return float((ranks[:ns].sum() - ns * (ns + 1) / 2) / (ns * nb))


@pytest.fixture(scope="module")
def multiclass_truth():
    uproot = pytest.importorskip("uproot")
    tree = uproot.open(MULTI_DIR / "TMVAMulticlass.root")["dataset/TestTree"]
    rec = tree["DL_CPU"].array(library="np")
    truth = np.stack([rec[n] for n in ("Signal", "bg0", "bg1", "bg2")], axis=1)
    x = np.stack([tree[f"var{i}"].array(library="np") for i in range(1, 5)], axis=1)
    return tree, x, truth


def test_multiclass_reproduces_tmva_from_tree(multiclass_truth):
    tree, _x, truth = multiclass_truth
    out = load_weights(MULTI).evaluate(tree)
    assert out.shape == (4000, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, truth, atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_multiclass_from_array_mapping_and_awkward(multiclass_truth):
    ak = pytest.importorskip("awkward")
    tree, x, truth = multiclass_truth
    m = load_weights(MULTI)
    from_array = m.evaluate(x)
    np.testing.assert_allclose(from_array, truth, atol=1e-5, rtol=0)
    mapping = {f"var{i + 1}": x[:, i] for i in range(4)}
    np.testing.assert_array_equal(m.evaluate(mapping), from_array)
    np.testing.assert_array_equal(m.evaluate(tree.arrays([f"var{i}" for i in range(1, 5)])), from_array)
    assert ak is not None


def test_multiclass_matches_independent_numpy_forward(multiclass_truth):
    _tree, x, _truth = multiclass_truth
    np.testing.assert_allclose(
        load_weights(MULTI).evaluate(x[:500]), numpy_reference(MULTI, x[:500]), atol=2e-6, rtol=0
    )


@pytest.fixture(scope="module")
def class_example():
    uproot = pytest.importorskip("uproot")
    f = uproot.open(DAN / "tmva_class_example.root")
    return f["TreeS"], f["TreeB"]


def test_expression_variables_auc_and_numpy_forward(class_example):
    tree_s, tree_b = class_example
    m = load_weights(DAN / "TMVAClassification_DNN_CPU.weights.xml")
    s, b = m.evaluate(tree_s), m.evaluate(tree_b)
    assert s.shape == (6000,) and ((s > 0) & (s < 1)).all() and ((b > 0) & (b < 1)).all()
    assert 0.83 <= _auc(s, b) <= 0.86
    # the expressions var1+var2, var1-var2 computed by hand (in double, stored as float as TMVA does)
    v = {k: tree_s[k].array(library="np").astype(np.float64) for k in ("var1", "var2", "var3", "var4")}
    x = np.stack([v["var1"] + v["var2"], v["var1"] - v["var2"], v["var3"], v["var4"]], axis=1)
    np.testing.assert_allclose(
        s, numpy_reference(DAN / "TMVAClassification_DNN_CPU.weights.xml", x), atol=2e-6, rtol=0
    )


def test_cpu_and_gpu_files_agree(class_example):
    # The two files hold two separately trained networks (different weights), so their responses are not
    # identical; they must rank events alike and reach the same AUC.
    tree_s, tree_b = class_example
    cpu = load_weights(DAN / "TMVAClassification_DNN_CPU.weights.xml")
    gpu = load_weights(DAN / "TMVAClassification_DNN_GPU.weights.xml")
    c = np.concatenate([cpu.evaluate(tree_s), cpu.evaluate(tree_b)])
    g = np.concatenate([gpu.evaluate(tree_s), gpu.evaluate(tree_b)])
    assert np.corrcoef(c, g)[0, 1] > 0.98
    assert abs(_auc(c[:6000], c[6000:]) - _auc(g[:6000], g[6000:])) < 0.01


def test_old_dnn_random_inputs_match_numpy_forward():
    m = load_weights(DNN_OLD)
    rng = np.random.default_rng(7)
    x = np.stack([rng.uniform(v.min, v.max, 2000) for v in m.variables], axis=1)
    out = m.evaluate(x)
    assert out.shape == (2000,) and np.isfinite(out).all() and ((out > 0) & (out < 1)).all()
    assert out.std() > 0.01  # the inputs span the training ranges: the response is not constant
    np.testing.assert_allclose(out, numpy_reference(DNN_OLD, x), atol=1e-12, rtol=0)


def test_old_dnn_with_gauss_transform_evaluates():
    m = load_weights(DNN_GAUSS)
    rng = np.random.default_rng(3)
    x = np.stack([rng.uniform(v.min, v.max, 500) for v in m.variables], axis=1)
    out = m.evaluate(x)
    assert np.isfinite(out).all() and ((out > 0) & (out < 1)).all() and out.std() > 0.01


def test_nan_input_gives_minus_999_for_classifiers_and_nan_otherwise():
    m = load_weights(MULTI)
    x = np.array([[0.1, 0.2, 0.3, 0.4], [np.nan, 0.2, 0.3, 0.4]], np.float32)
    with pytest.warns(UserWarning, match="NaN"):
        out = m.evaluate(x)
    assert np.isnan(out[1]).all() and np.isclose(out[0].sum(), 1.0)
    c = load_weights(DNN_OLD)
    xc = np.zeros((3, 12))
    xc[2, 5] = np.nan
    res = c.evaluate(xc)
    assert res[2] == -999 and res[0] == res[1] and 0 < res[0] < 1


def test_wrong_inputs_are_named():
    from tmvacompat.errors import InputDataError

    m = load_weights(MULTI)
    with pytest.raises(InputDataError) as info:
        m.evaluate(np.zeros((3, 5)))
    assert "(n_events, 4)" in str(info.value) and "var4" in str(info.value)
    with pytest.raises(InputDataError) as info:
        m.evaluate({"var1": np.zeros(3), "var2": np.zeros(3), "var3": np.zeros(3), "vr4": np.zeros(3)})
    assert "'var4'" in str(info.value) and "vr4" in str(info.value.expected)


def test_tree_with_jagged_branch_expressions():
    uproot = pytest.importorskip("uproot")
    ak = pytest.importorskip("awkward")
    from tmvacompat.specs import DenseSpec
    from tmvacompat.weightfile import Model

    tree = uproot.open(VECTORS / "root_written" / "class_zlib.root")["TreeS"]
    m = Model.from_parts(
        title="jag", variables=["jet_pt[0]", "var1*2"], targets=["y"], analysis_type="Regression",
        layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.array([[1.0, 0.5]], np.float32), "Biases": np.zeros((1, 1), np.float32)}],
    )  # fmt: skip
    with pytest.warns(UserWarning, match="NaN"):
        out = m.evaluate(tree)
    arr = tree.arrays(["jet_pt", "var1"])
    empty = ak.to_numpy(ak.num(arr["jet_pt"]) == 0)
    first = ak.to_numpy(ak.fill_none(ak.firsts(arr["jet_pt"]), 0)).astype(np.float32)
    expected = first + np.float32(0.5) * (ak.to_numpy(arr["var1"]) * 2).astype(np.float32)
    assert empty.any() and np.isnan(out[empty]).all()  # no value for jet_pt[0]: a regression gives NaN
    np.testing.assert_allclose(out[~empty], expected[~empty], rtol=1e-6)
