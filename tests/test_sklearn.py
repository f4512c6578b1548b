"""The scikit-learn face (tmvacompat.sklearn): check_estimator, the option mapping onto MethodDL, weight files
that an independent numpy forward pass (validated on a real TMVA file) and the Reader read back, Pipeline and
GridSearchCV."""

from __future__ import annotations

import pickle
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import VECTORS

pytest.importorskip("sklearn", reason="scikit-learn (optional extra) is not installed")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import tmvacompat  # noqa: E402
from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.data.tmvarandom import RandomGenerator, permutation  # noqa: E402
from tmvacompat.errors import InputDataError, OptionError, TrainingError  # noqa: E402
from tmvacompat.methods.declarations import DL_OPTIONS  # noqa: E402
from tmvacompat.methods.dl import MethodDL  # noqa: E402
from tmvacompat.sklearn import DLClassifier, DLRegressor  # noqa: E402

#: tiny networks and few epochs: check_estimator's data sets have 10-300 rows
SMALL = dict(
    layout="TANH|8,LINEAR",
    var_transform="N",
    learning_rate=0.05,
    batch_size=2,
    max_epochs=20,
    random_seed=1,
)
WEIGHT_EQUIVALENCE = (
    "integer sample weights are not repeated rows for a mini-batch network: repeated rows change the "
    "batches, the validation split and the Normalize ranges, as they would in TMVA"
)


def _expected_failures(estimator):
    return {"check_sample_weight_equivalence_on_dense_data": WEIGHT_EQUIVALENCE}


@parametrize_with_checks(
    [DLClassifier(**SMALL), DLRegressor(**SMALL)], expected_failed_checks=_expected_failures
)
def test_check_estimator(estimator, check):
    check(estimator)


def _blobs(n=400, nvar=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, nvar))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0.2, "sig", "bkg")
    return X, y


# ---------------------------------------------------------------------------------------------------------
# An independent forward pass over the weight file's XML (TMVA's documented application algorithm).

_ACT = {
    0: lambda x: x,
    1: lambda x: np.maximum(x, 0),
    2: lambda x: 1 / (1 + np.exp(-x)),
    3: np.tanh,
    4: np.abs,
    5: lambda x: x / (1 + np.abs(x)),
    6: lambda x: np.exp(-x * x),
}


def _numbers(el):
    return np.array(el.text.split(), dtype=np.float64).reshape(int(el.get("Rows")), int(el.get("Columns")))


def numpy_forward(path, X):
    """Normalize with the all-classes ranges, dense layers, output function, targets un-normalised."""
    root = ET.parse(path).getroot()
    nvar = int(root.find("Variables").get("NVar"))
    x = np.asarray(X, np.float32).astype(np.float64)
    tmin = tmax = None
    for tr in root.find("Transformations"):
        assert tr.get("Name") == "Normalize"
        kinds = [i.get("Type") for i in tr.find("Selection").find("Input")]
        last = max(tr.findall("Class"), key=lambda c: int(c.get("ClassIndex")))
        ranges = {int(r.get("Index")): (float(r.get("Min")), float(r.get("Max"))) for r in last.iter("Range")}
        lo = np.array([ranges[i][0] for i, k in enumerate(kinds) if k == "Variable"])
        hi = np.array([ranges[i][1] for i, k in enumerate(kinds) if k == "Variable"])
        assert len(lo) == nvar
        x = 2 * (x - lo) / (hi - lo) - 1
        if "Target" in kinds:
            tmin = np.array([ranges[i][0] for i, k in enumerate(kinds) if k == "Target"])
            tmax = np.array([ranges[i][1] for i, k in enumerate(kinds) if k == "Target"])
    weights = root.find("Weights")
    for layer in weights:
        assert layer.tag == "DenseLayer"
        W, b = _numbers(layer.find("Weights")), _numbers(layer.find("Biases"))
        x = _ACT[int(layer.get("ActivationFunction"))](x @ W.T + b[:, 0])
    out = weights.get("OutputFunction")
    if out == "S":
        return 1 / (1 + np.exp(-x[:, 0]))
    if out == "M":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if tmin is not None:
        x = (x + 1) / 2 * (tmax - tmin) + tmin
    return x[:, 0] if x.shape[1] == 1 else x


def test_numpy_forward_reproduces_tmva_on_its_own_file():
    """The checker itself against TMVA: its multiclass DL weight file and the outputs TMVA stored."""
    folder = VECTORS / "nasufsonmez_multiclass"
    if not folder.is_dir():
        pytest.skip(f"real TMVA files not found in {folder}")
    uproot = pytest.importorskip("uproot")
    with uproot.open(folder / "TMVAMulticlass.root") as f:
        arr = f["dataset/TestTree"].arrays(["var1", "var2", "var3", "var4", "DL_CPU"], library="np")
    X = np.column_stack([arr[f"var{i}"] for i in range(1, 5)])
    truth = np.column_stack([arr["DL_CPU"][n] for n in ("Signal", "bg0", "bg1", "bg2")])
    got = numpy_forward(folder / "TMVAMulticlass_DL_CPU.weights.xml", X)
    np.testing.assert_allclose(got, truth, atol=2e-5)


# ---------------------------------------------------------------------------------------------------------
# Classification


def test_binary_classes_and_weight_file(tmp_path):
    X, y = _blobs()
    clf = DLClassifier(
        layout="TANH|8,TANH|4,LINEAR",
        var_transform="N",
        learning_rate=0.02,
        batch_size=20,
        max_epochs=15,
        random_seed=3,
    ).fit(X, y)
    assert clf.classes_.tolist() == ["bkg", "sig"]
    assert clf.score(X, y) > 0.95
    proba = clf.predict_proba(X)
    # TMVA's Signal is classes_[1]: its classifier value is the second column, bit for bit
    np.testing.assert_array_equal(proba[:, 1], clf.mva_values(X).astype(np.float64))
    np.testing.assert_array_equal(proba.sum(axis=1), 1.0)
    raw = clf.decision_function(X)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), proba[:, 1], rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(raw > 0).astype(int)])

    path = tmp_path / "TMVAClassification_DNN.weights.xml"
    model = clf.to_tmva_xml(str(path), ["x1", "x2", "x3"], title="DNN")
    np.testing.assert_allclose(numpy_forward(path, X), proba[:, 1], atol=2e-6)
    assert model.title == "DNN" and [v.expression for v in model.variables] == ["x1", "x2", "x3"]
    assert clf.model_.variables[0].expression == "var1"  # the fitted model keeps its names
    root = ET.parse(path).getroot()
    assert root.get("Method") == "DL::DNN"
    assert [c.get("Name") for c in root.find("Classes")] == ["Signal", "Background"]

    reloaded = tmvacompat.load_weights(str(path))
    np.testing.assert_array_equal(reloaded.evaluate(X), clf.mva_values(X))
    reader = tmvacompat.Reader("!Color:Silent")
    buffers = {name: np.zeros(1, np.float32) for name in ("x1", "x2", "x3")}
    for name, buf in buffers.items():
        reader.AddVariable(name, buf)
    reader.BookMVA("DNN", str(path))
    np.testing.assert_array_equal(reader.EvaluateMVA("DNN", X), clf.mva_values(X))
    for name, value in zip(buffers, X[7], strict=True):
        buffers[name][0] = value
    assert reader.EvaluateMVA("DNN") == pytest.approx(float(proba[7, 1]), abs=1e-6)


def test_weight_file_options_are_the_ones_tmva_writes(tmp_path):
    """Our <Options> list has TMVA's MethodDL options in TMVA's order (a ROOT 6.24 weight file)."""
    real = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"
    if not real.is_file():
        pytest.skip(f"real TMVA files not found in {real.parent}")
    X, y = _blobs(200)
    clf = DLClassifier("!H:!V", **SMALL).fit(X, y)
    clf.to_tmva_xml(str(tmp_path / "w.xml"))
    names = [o.get("name") for o in ET.parse(tmp_path / "w.xml").getroot().find("Options")]
    assert names == [o.get("name") for o in ET.parse(real).getroot().find("Options")]


def test_multiclass_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    centers = np.array([[0, 0], [3, 0], [0, 3]])
    y = rng.integers(0, 3, 450)
    X = centers[y] + rng.normal(scale=0.7, size=(450, 2))
    labels = np.array([10, 20, 30])[y]
    clf = DLClassifier(
        layout="TANH|8,LINEAR",
        var_transform="N",
        error_strategy="MUTUALEXCLUSIVE",
        learning_rate=0.05,
        batch_size=15,
        max_epochs=15,
        random_seed=2,
    ).fit(X, labels)
    assert clf.classes_.tolist() == [10, 20, 30]
    assert clf.model_.analysis_type == "Multiclass" and clf.model_.classes == ["10", "20", "30"]
    assert clf.score(X, labels) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (450, 3)
    np.testing.assert_array_equal(np.argmax(clf.decision_function(X), axis=1), np.argmax(proba, axis=1))
    path = tmp_path / "multi.weights.xml"
    clf.to_tmva_xml(str(path), ["u", "v"])
    np.testing.assert_allclose(numpy_forward(path, X), proba, atol=2e-6)
    reader = tmvacompat.Reader("!Color:Silent")
    reader.AddVariable("u", np.zeros(1, np.float32))
    reader.AddVariable("v", np.zeros(1, np.float32))
    reader.BookMVA("DL", str(path))
    np.testing.assert_array_equal(reader.EvaluateMulticlass("DL", X), clf.mva_values(X))


# ---------------------------------------------------------------------------------------------------------
# Regression


def test_regression_one_and_two_targets(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(500, 2))
    y2 = np.column_stack([X[:, 0] - 0.5 * X[:, 1], 2 * X[:, 1] + 1])
    kw = dict(
        layout="LINEAR", var_transform="N", learning_rate=0.02, batch_size=20, max_epochs=40, random_seed=4
    )
    one = DLRegressor(**kw).fit(X, y2[:, 0])
    assert one.predict(X).shape == (500,) and one.score(X, y2[:, 0]) > 0.99
    col = DLRegressor(**kw).fit(X, y2[:, :1])
    assert col.predict(X).shape == (500, 1)
    two = DLRegressor(**kw).fit(X, y2)
    assert two.predict(X).shape == (500, 2) and two.score(X, y2) > 0.99
    path = tmp_path / "reg.weights.xml"
    two.to_tmva_xml(str(path), ["a", "b"], targets=["t1", "t2"])
    np.testing.assert_allclose(numpy_forward(path, X), two.predict(X), atol=1e-5)
    reader = tmvacompat.Reader("!Color:Silent")
    reader.AddVariable("a", np.zeros(1, np.float32))
    reader.AddVariable("b", np.zeros(1, np.float32))
    reader.BookMVA("DL", str(path))
    np.testing.assert_array_equal(reader.EvaluateRegression("DL", X), two.mva_values(X))
    assert [t.expression for t in tmvacompat.load_weights(str(path)).targets] == ["t1", "t2"]


# ---------------------------------------------------------------------------------------------------------
# The options: keywords are MethodDL's options, and a fit is a MethodDL training


def test_keywords_train_exactly_what_the_option_string_books():
    X, y = _blobs(300)
    clf = DLClassifier(
        layout="TANH|6,LINEAR",
        var_transform="N",
        weight_initialization="XAVIERUNIFORM",
        validation_size=0.25,
        learning_rate=0.01,
        batch_size=10,
        max_epochs=7,
        optimizer="SGD",
        momentum=0.9,
        random_seed=9,
    ).fit(X, y)
    # the same training, booked with TMVA's option string on TMVA's mixing of the rows
    booking = (
        "!H:!V:VarTransform=N:Layout=TANH|6,LINEAR:WeightInitialization=XAVIERUNIFORM:RandomSeed=9:"
        "ValidationSize=0.25:TrainingStrategy=LearningRate=0.01,Momentum=0.9,BatchSize=10,MaxEpochs=7,"
        "Optimizer=SGD,ConvergenceSteps=100,TestRepetitions=1"
    )
    order = permutation(len(X), RandomGenerator(100))
    ids = (y != "sig").astype(int)  # Signal (index 0) = classes_[1] = "sig"
    dataset = DataSet.from_arrays(X[order], ids[order])
    method = MethodDL("DL", booking, analysis_type="Classification")
    method.train(dataset, weight_file="")
    np.testing.assert_array_equal(method.GetMvaValues(X), clf.mva_values(X))
    opts = DL_OPTIONS.parse(clf.tmva_options())
    assert opts.ValidationSize == "0.25" and opts.WeightInitialization == "XAVIERUNIFORM"
    assert clf.n_iter_ == 7


def test_keywords_override_every_phase_of_the_option_string():
    clf = DLClassifier(
        "Layout=TANH|4,LINEAR:TrainingStrategy=LearningRate=0.1,BatchSize=5,Optimizer=RMSPROP,"
        "RMSPROP_rho=0.8|LearningRate=0.01,BatchSize=7",
        batch_size=3,
        optimizer="ADAM",
        layout="RELU|5,LINEAR",
    )
    opts = DL_OPTIONS.parse(clf.tmva_options())
    phases = tmvacompat.training_phases(str(opts.TrainingStrategy))
    assert [p.batch_size for p in phases] == [3, 3]
    assert [p.learning_rate for p in phases] == [0.1, 0.01]
    assert [p.optimizer for p in phases] == ["ADAM", "ADAM"]
    assert phases[0].optimizer_params == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-7}
    assert opts.Layout == "RELU|5,LINEAR"
    # without keywords the option string is booked as written
    assert DLClassifier("!H:Layout=TANH|4,LINEAR").tmva_options() == "!H:Layout=TANH|4,LINEAR"


def test_split_seed_none_keeps_the_row_order():
    """split_seed=None: the last ValidationSize rows validate (TMVA validates on the end of its sample)."""
    X, y = _blobs(300)
    kw = dict(
        layout="TANH|4,LINEAR",
        var_transform="N",
        learning_rate=0.01,
        batch_size=10,
        max_epochs=3,
        random_seed=2,
    )
    clf = DLClassifier(split_seed=None, **kw).fit(X, y)
    method = MethodDL("DL", DLClassifier(**kw).tmva_options(), analysis_type="Classification")
    method.train(DataSet.from_arrays(X, (y != "sig").astype(int)), weight_file="")
    np.testing.assert_array_equal(method.GetMvaValues(X), clf.mva_values(X))
    mixed = DLClassifier(**kw).fit(X, y)
    assert not np.array_equal(mixed.mva_values(X), clf.mva_values(X))


def test_norm_mode_renormalises_each_class():
    """TMVA's NormMode: EqualNumEvents scales each class to the number of Signal (classes_[1]) events,
    NumEvents to its own number of events; so scaling one class's weights by 2^10 changes nothing."""
    X, y = _blobs(300)
    sig = y == "sig"
    n_sig, n_bkg = int(sig.sum()), int((~sig).sum())
    assert n_sig != n_bkg
    kw = dict(
        layout="TANH|4,LINEAR",
        var_transform="N",
        learning_rate=0.01,
        batch_size=10,
        max_epochs=4,
        random_seed=2,
    )
    equal = DLClassifier(norm_mode="EqualNumEvents", **kw).fit(X, y).mva_values(X)
    by_hand = np.where(sig, 1.0, n_sig / n_bkg)
    np.testing.assert_array_equal(equal, DLClassifier(**kw).fit(X, y, sample_weight=by_hand).mva_values(X))
    scaled = np.where(sig, 1.0, 1024.0)
    again = DLClassifier(norm_mode="EqualNumEvents", **kw).fit(X, y, sample_weight=scaled).mva_values(X)
    np.testing.assert_array_equal(equal, again)
    plain = DLClassifier(**kw).fit(X, y).mva_values(X)
    np.testing.assert_array_equal(DLClassifier(norm_mode="NumEvents", **kw).fit(X, y).mva_values(X), plain)
    assert not np.allclose(plain, equal, atol=1e-3)
    raw_scaled = DLClassifier(**kw).fit(X, y, sample_weight=scaled).mva_values(X)
    assert not np.allclose(raw_scaled, equal, atol=1e-3)


# ---------------------------------------------------------------------------------------------------------
# scikit-learn's tools


def test_pipeline_and_grid_search():
    X, y = _blobs(300)
    pipe = make_pipeline(
        StandardScaler(), DLClassifier(layout="TANH|4,LINEAR", batch_size=10, max_epochs=8, random_seed=1)
    )
    grid = GridSearchCV(pipe, {"dlclassifier__learning_rate": [1e-4, 3e-2]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"dlclassifier__learning_rate": 3e-2}
    assert grid.best_score_ > 0.9
    assert grid.score(X, y) > 0.9
    fitted = grid.best_estimator_[-1]
    assert fitted.get_params()["learning_rate"] == 3e-2 and "LearningRate=0.03" in fitted.tmva_options_
    clone = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(clone.predict_proba(X), grid.predict_proba(X))


# ---------------------------------------------------------------------------------------------------------
# Errors name what is wrong


def test_errors():
    X, y = _blobs(100)
    with pytest.raises(OptionError, match="BatchSze"):
        DLClassifier("BatchSze=3").fit(X, y)
    with pytest.raises(OptionError, match="batch_size=2.5"):
        DLClassifier(batch_size=2.5).fit(X, y)
    with pytest.raises(OptionError, match="norm_mode"):
        DLClassifier(norm_mode="Equal", **SMALL).fit(X, y)
    with pytest.raises(InputDataError, match="2 classes"):
        DLClassifier(**SMALL).fit(X, np.zeros(100))
    with pytest.raises(InputDataError, match="NaN"):
        DLClassifier(**SMALL).fit(np.where(X > 2, np.nan, X), y)
    with pytest.raises(TrainingError, match="BatchSize=50"):
        DLClassifier(batch_size=50, max_epochs=1).fit(X, y)
    with pytest.raises(NotFittedError):
        DLClassifier().predict(X)
    clf = DLClassifier(**SMALL).fit(X, y)
    with pytest.raises(InputDataError, match="2 variable names for a model with 3"):
        clf.to_tmva_xml("unused.xml", ["a", "b"])
    with pytest.raises(InputDataError, match="not unique"):
        clf.to_tmva_xml("unused.xml", ["a", "b", "a"])
    with pytest.raises(OptionError, match="targets"):
        clf.to_tmva_xml("unused.xml", targets=["t"])
    with pytest.raises(InputDataError, match="features"):
        clf.predict(X[:, :2])


def test_without_scikit_learn_the_module_imports_and_says_what_to_install():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import tmvacompat.sklearn as s\n"
        "assert s.__doc__ is None and s.DLClassifier.__doc__ is None\n"
        "try:\n"
        "    s.DLClassifier(layout='TANH|4,LINEAR')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'tmvacompat[sklearn]'" in done.stdout
