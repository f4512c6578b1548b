"""tmvacompat.reader.Reader: TMVA's per-event API on bound buffers, the batch API, and its checks."""

from __future__ import annotations

import array
import threading

import numpy as np
import pytest
from conftest import VECTORS, needs_vectors

from tmvacompat.errors import InputDataError, OptionError, WeightFileError
from tmvacompat.reader import Reader
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile import Model, load_weights

MULTI_DIR = VECTORS / "nasufsonmez_multiclass"
MULTI = MULTI_DIR / "TMVAMulticlass_DL_CPU.weights.xml"
DAN = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"


@pytest.fixture(scope="module")
def multiclass():
    uproot = pytest.importorskip("uproot")
    tree = uproot.open(MULTI_DIR / "TMVAMulticlass.root")["dataset/TestTree"]
    rec = tree["DL_CPU"].array(library="np")
    truth = np.stack([rec[n] for n in ("Signal", "bg0", "bg1", "bg2")], axis=1)
    x = np.stack([tree[f"var{i}"].array(library="np") for i in range(1, 5)], axis=1)
    return x, truth


@needs_vectors
def test_per_event_multiclass_reproduces_tmva_for_every_event(multiclass):
    x, truth = multiclass
    reader = Reader("!Color:!Silent")
    bufs = [np.zeros(1, np.float32) for _ in range(4)]
    for i, b in enumerate(bufs):
        reader.AddVariable(f"var{i + 1}", b)
    reader.BookMVA("DL_CPU method", MULTI)
    out = np.empty_like(truth)
    for n in range(len(x)):
        for j in range(4):
            bufs[j][0] = x[n, j]
        out[n] = reader.EvaluateMulticlass("DL_CPU method")
    np.testing.assert_allclose(out, truth, atol=1e-5, rtol=0)
    # the batch form gives the same numbers (to float32 rounding: the engine sums in another order)
    np.testing.assert_allclose(reader.EvaluateMulticlass("DL_CPU method", x), out, atol=1e-6, rtol=0)


@needs_vectors
def test_array_array_buffers_expressions_and_spectators():
    uproot = pytest.importorskip("uproot")
    tree = uproot.open(VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root")["TreeS"]
    data = tree.arrays(["var1", "var2", "var3", "var4"], library="np", entry_stop=200)
    reader = Reader("Silent")
    b = {k: array.array("f", [0.0]) for k in ("v1p2", "v1m2", "var3", "var4", "s1", "s2")}
    reader.AddVariable("var1+var2", b["v1p2"])
    reader.AddVariable("var1 - var2", b["v1m2"])  # whitespace differences are accepted
    reader.AddVariable("var3", b["var3"])
    reader.AddVariable("var4", b["var4"])
    reader.AddSpectator("var1*2", b["s1"])
    reader.AddSpectator("var1*3", b["s2"])
    reader.BookMVA("DNN", DAN)
    single = []
    for n in range(200):
        b["v1p2"][0] = data["var1"][n] + data["var2"][n]
        b["v1m2"][0] = data["var1"][n] - data["var2"][n]
        b["var3"][0], b["var4"][0] = data["var3"][n], data["var4"][n]
        value = reader.EvaluateMVA("DNN")
        assert isinstance(value, float)
        single.append(value)
    batch = reader.EvaluateMVA("DNN", data)  # fields: expressions computed from var1..var4
    np.testing.assert_allclose(single, batch, atol=1e-6, rtol=0)
    assert ((batch > 0) & (batch < 1)).all()


@needs_vectors
def test_tmva_application_macro_bookings_with_labels():
    # TMVAClassificationApplication.C books "label := expression"; TMVA compares the expression part
    reader = Reader("!Color:!Silent")
    bufs = [array.array("f", [0.0]) for _ in range(6)]
    reader.AddVariable("myvar1 := var1+var2", bufs[0])
    reader.AddVariable("myvar2 := var1-var2", bufs[1])
    reader.AddVariable("var3", bufs[2])
    reader.AddVariable("var4", bufs[3])
    reader.AddSpectator("spec1 := var1*2", bufs[4])
    reader.AddSpectator("spec2 := var1*3", bufs[5])
    reader.BookMVA("DNN_CPU method", DAN)
    bufs[0][0], bufs[1][0], bufs[2][0], bufs[3][0] = 0.5, -0.2, 0.1, 1.3
    x = np.array([[0.5, -0.2, 0.1, 1.3]], np.float32)
    want = float(load_weights(DAN).evaluate(x)[0])
    assert reader.EvaluateMVA("DNN_CPU method") == pytest.approx(want, abs=1e-6)
    # any label is fine, the expressions decide; blanks are removed as DataSetInfo::AddVariable does
    other = Reader()
    for e in ("a := var1 + var2", "b:=var1-var2", "c := var3", "var4"):
        other.AddVariable(e, np.zeros(1, np.float32))
    for e in ("x := var1*2", "var1*3"):
        other.AddSpectator(e, np.zeros(1, np.float32))
    other.BookMVA("m", DAN)


@needs_vectors
def test_spectator_expressions_are_compared_as_in_tmva():
    reader = Reader()
    for e in ("var1+var2", "var1-var2", "var3", "var4"):
        reader.AddVariable(e, np.zeros(1, np.float32))
    reader.AddSpectator("spec1 := var1*2", np.zeros(1, np.float32))
    reader.AddSpectator("spec2 := var1*4", np.zeros(1, np.float32))
    with pytest.raises(WeightFileError) as info:
        reader.BookMVA("m", DAN)
    msg = str(info.value)
    assert "spectator #1" in msg and "'var1*4'" in msg and "'var1*3'" in msg
    assert info.value.token == "spec2 := var1*4"
    # a label that equals the file's label does not rescue a different expression
    wrong = Reader()
    wrong.AddVariable("myvar1 := var1*var2", np.zeros(1, np.float32))
    for e in ("var1-var2", "var3", "var4"):
        wrong.AddVariable(e, np.zeros(1, np.float32))
    with pytest.raises(WeightFileError, match="variable #0 is 'var1\\*var2'"):
        wrong.BookMVA("m", DAN)


@needs_vectors
def test_nan_input_propagates_in_multiclass_as_in_tmva():
    # Reader::EvaluateMulticlass only logs an error for a NaN input; the network computes NaN
    reader = Reader()
    bufs = [np.zeros(1, np.float32) for _ in range(4)]
    for i, b in enumerate(bufs):
        reader.AddVariable(f"var{i + 1}", b)
    reader.BookMVA("m", MULTI)
    bufs[2][0] = np.nan
    with pytest.warns(UserWarning, match="NaN input"):
        assert np.isnan(reader.EvaluateMulticlass("m")).all()
    bufs[2][0] = 0.5
    assert np.isclose(reader.EvaluateMulticlass("m").sum(), 1)
    with pytest.warns(UserWarning, match="1 event"):
        batch = reader.EvaluateMulticlass("m", np.array([[0, 0, np.nan, 0], [0, 0, 0, 0]], np.float32))
    assert np.isnan(batch[0]).all() and np.isclose(batch[1].sum(), 1)


@needs_vectors
def test_nan_input_gives_minus_999_in_evaluate_mva():
    reader = Reader()
    bufs = [np.zeros(1, np.float32) for _ in range(4)]
    for e, b in zip(("var1+var2", "var1-var2", "var3", "var4"), bufs, strict=True):
        reader.AddVariable(e, b)
    for e in ("var1*2", "var1*3"):
        reader.AddSpectator(e, np.zeros(1, np.float32))
    reader.BookMVA("m", DAN)
    bufs[1][0] = np.nan
    assert reader.EvaluateMVA("m") == -999
    batch = reader.EvaluateMVA("m", np.array([[0, np.nan, 0, 0], [0, 0, 0, 0]], np.float32))
    assert batch[0] == -999 and 0 < batch[1] < 1


@needs_vectors
def test_variable_mismatch_names_both_lists():
    reader = Reader()
    reader.AddVariable("var2", np.zeros(1, np.float32))
    reader.AddVariable("var1", np.zeros(1, np.float32))
    reader.AddVariable("var3", np.zeros(1, np.float32))
    reader.AddVariable("var4", np.zeros(1, np.float32))
    with pytest.raises(WeightFileError) as info:
        reader.BookMVA("m", MULTI)
    msg = str(info.value)
    assert "['var2', 'var1', 'var3', 'var4']" in msg and "['var1', 'var2', 'var3', 'var4']" in msg
    assert MULTI.name in msg and info.value.token == "var2"
    short = Reader()
    short.AddVariable("var1", np.zeros(1, np.float32))
    with pytest.raises(WeightFileError) as info:
        short.BookMVA("m", MULTI)
    assert "['var1']" in str(info.value) and "'var4'" in str(info.value)


@needs_vectors
def test_spectator_count_must_match_as_in_tmva():
    reader = Reader()
    for e in ("var1+var2", "var1-var2", "var3", "var4"):
        reader.AddVariable(e, np.zeros(1, np.float32))
    with pytest.raises(WeightFileError) as info:
        reader.BookMVA("m", DAN)
    msg = str(info.value)
    assert "0 spectators" in msg and "['var1*2', 'var1*3']" in msg and "AddSpectator" in msg


@needs_vectors
def test_reader_without_variables_adopts_the_file_for_batches():
    reader = Reader()
    model = reader.BookMVA("m", MULTI)
    assert "m" in reader and reader["m"] is model
    x = np.zeros((3, 4), np.float32)
    np.testing.assert_array_equal(reader.EvaluateMulticlass("m", x), model.evaluate(x))
    assert reader.EvaluateMulticlass("m", x).shape == (3, 4)
    with pytest.raises(InputDataError) as info:
        reader.EvaluateMulticlass("m")
    assert "AddVariable" in str(info.value)


@needs_vectors
def test_wrong_method_kind_and_unknown_title():
    reader = Reader()
    reader.BookMVA("DL_CPU", MULTI)
    with pytest.raises(OptionError) as info:
        reader.EvaluateMVA("DL_CPU", np.zeros((1, 4)))
    assert "Multiclass" in str(info.value) and "EvaluateMulticlass" in str(info.value)
    with pytest.raises(OptionError) as info:
        reader.EvaluateMulticlass("DL_PCU", np.zeros((1, 4)))
    assert info.value.expected == ["DL_CPU"]


def test_bad_options_and_buffers():
    with pytest.raises(OptionError) as info:
        Reader("!Color:Slient")
    assert info.value.token == "Slient" and info.value.expected == ["Silent"] and info.value.position == 7
    with pytest.raises(InputDataError):
        Reader().AddVariable("x", np.zeros(0, np.float32))


def _tiny_regression() -> Model:
    return Model.from_parts(
        title="reg",
        variables=["a", "b"],
        targets=["t1", "t2"],
        analysis_type="Regression",
        layers=[DenseSpec(2, "LINEAR")],
        params=[
            {
                "Weights": np.array([[1, 2], [3, -1]], np.float32),
                "Biases": np.array([[0.5], [-0.5]], np.float32),
            }
        ],
    )


def test_regression_per_event_and_batch():
    reader = Reader()
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    reader.AddVariable("a", a)
    reader.AddVariable("b", b)
    reader.BookMVA("reg", _tiny_regression())
    a[0], b[0] = 1.0, 2.0
    np.testing.assert_allclose(reader.EvaluateRegression("reg"), [1 + 4 + 0.5, 3 - 2 - 0.5])
    batch = reader.EvaluateRegression("reg", {"a": np.array([1.0, 0.0]), "b": np.array([2.0, 1.0])})
    np.testing.assert_allclose(batch, [[5.5, 0.5], [2.5, -1.5]])


@needs_vectors
def test_threads_share_a_reader_safely(multiclass):
    x, truth = multiclass
    reader = Reader()
    reader.BookMVA("m", MULTI)
    results: dict[int, np.ndarray] = {}

    def work(k):
        rows = x[k::4]
        results[k] = np.concatenate(
            [reader.EvaluateMulticlass("m", rows[i : i + 1]) for i in range(len(rows))]
        )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        np.testing.assert_allclose(results[k], truth[k::4], atol=1e-5, rtol=0)


@needs_vectors
def test_book_after_load_shares_the_model():
    m = load_weights(MULTI)
    reader = Reader()
    assert reader.BookMVA("x", m) is m
