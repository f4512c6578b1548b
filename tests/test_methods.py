"""MethodDL and the Factory on data the tests make themselves (runs on a fresh clone, no TMVA vectors).

Truths: the generating functions (known decision boundaries, the noise level of a regression), the weight
file read back through an independent path (load_weights), and TMVA's documented option semantics.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import uproot

from tmvacompat import (
    DataLoader,
    DataSet,
    Factory,
    MethodDL,
    OptionError,
    TMVACompatError,
    TMVACompatWarning,
    TrainingError,
    Types,
    load_weights,
)
from tmvacompat.errors import LayoutError
from tmvacompat.methods.dl import validation_count

FAST = "TrainingStrategy=LearningRate=1e-2,BatchSize=32,MaxEpochs=40,ConvergenceSteps=8,TestRepetitions=1"


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    return (centres[y] + rng.normal(0, 0.6, (n, 2))).astype(np.float32), y


def _two_class_file(path: str, n: int, shift: float, seed: int, names=("a", "b")) -> None:
    """Signal tree "S" and background tree "B": two unit Gaussians at +/-shift, as real TTrees."""
    rng = np.random.default_rng(seed)
    with uproot.recreate(path) as f:
        for tree, mean in (("S", shift), ("B", -shift)):
            x = rng.normal(mean, 1.0, (n, 2)).astype(np.float32)
            f.mktree(tree, {name: np.float32 for name in names})
            f[tree].extend({names[0]: x[:, 0], names[1]: x[:, 1]})


def test_classification_from_a_root_file_round_trips_through_the_weight_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _two_class_file("input.root", 1500, 0.8, 5)
    loader = DataLoader("ds")
    loader.AddVariable("sum := a+b", "F")
    loader.AddVariable("b", "F")
    loader.AddSignalTree("input.root:S")
    loader.AddBackgroundTree("input.root:B")
    loader.PrepareTrainingAndTestTree("", "nTrain_Signal=1000:nTrain_Background=1000:SplitMode=Random:!V")
    factory = Factory("job", "out.root", "Silent:AnalysisType=Classification")
    method = factory.BookMethod(
        loader, Types.kDL, "DL", f"!H:!V:VarTransform=N:RandomSeed=7:Layout=TANH|16,LINEAR:{FAST}"
    )
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    # Bayes-optimal AUC for two unit Gaussians 1.6*sqrt(2) apart is Phi(1.6) = 0.945
    assert factory.GetROCIntegral(loader, "DL") > 0.92
    assert method.weight_file == "ds/weights/job_DL.weights.xml"
    model = load_weights(method.weight_file)
    ds = loader.GetDataSet()
    with uproot.open("out.root") as f:
        tree_values = f["ds/TestTree"]["DL"].array(library="np")
    np.testing.assert_array_equal(model.evaluate(ds.test.X).astype(np.float32), tree_values)
    # the model also evaluates straight from the tree, computing the expression a+b
    with uproot.open("input.root") as f:
        from_tree = model.evaluate(f["S"])
    assert from_tree.shape == (1500,)
    assert np.all((from_tree > 0) & (from_tree < 1))
    # per-event GetMvaValue agrees with the batch
    assert method.GetMvaValue(ds.test.X[3]) == pytest.approx(
        float(method.GetMvaValues(ds.test.X[:5])[3]), abs=1e-6
    )


def test_multiclass_from_arrays_softmax_outputs():
    X, y = _blobs(1500, 1)
    ds = DataSet.from_arrays(X[:1000], y[:1000], X[1000:], y[1000:], class_names=["a", "b", "c"])
    m = MethodDL("MC", f"!H:!V:ErrorStrategy=MUTUALEXCLUSIVE:RandomSeed=3:Layout=TANH|16,LINEAR:{FAST}")
    m.train(ds, weight_file="")
    p = m.GetMultiClassValues(X[1000:])
    assert p.shape == (500, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(p.argmax(1) == y[1000:]) > 0.95  # the blobs overlap by ~1%
    assert m.GetMultiClassValues(X[1000]).shape == (3,)
    assert m.model.network.loss == "S" and m.model.network.output_function == "M"


def test_regression_reaches_the_noise_level_and_inverts_the_target_transform():
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 3, (3000, 2)).astype(np.float32)
    t = (np.sin(X[:, 0]) * X[:, 1] * 10 + 50 + rng.normal(0, 0.5, 3000)).astype(np.float32)
    ds = DataSet.from_arrays(X[:2000], t[:2000], X[2000:], t[2000:], targets=["f"])
    m = MethodDL(
        "R",
        "!H:!V:ErrorStrategy=SUMOFSQUARES:VarTransform=N:RandomSeed=4:Layout=TANH|32,TANH|32,LINEAR:"
        "TrainingStrategy=LearningRate=3e-3,BatchSize=32,MaxEpochs=150,ConvergenceSteps=15,TestRepetitions=1",
        analysis_type="Regression",
    )
    m.train(ds, weight_file="")
    pred = m.GetRegressionValues(X[2000:])
    rms = float(np.sqrt(np.mean((pred - t[2000:]) ** 2)))
    assert rms < 1.0, rms  # noise 0.5 on targets spanning ~30 units, in target units (inverse transform)


def test_option_semantics_and_refusals():
    assert validation_count("20%", 1000) == 200
    assert validation_count("0.25", 1000) == 250
    assert validation_count("100", 1000) == 100
    X, y = _blobs(600, 2)
    two = (y == 0).astype(int)
    ds = DataSet.from_arrays(X[:400], two[:400], X[400:], two[400:])
    with pytest.raises(OptionError, match="MUTUALEXCLUSIVE"):
        MethodDL("A", f"ErrorStrategy=MUTUALEXCLUSIVE:Layout=TANH|4,LINEAR:{FAST}").train(ds, weight_file="")
    with pytest.raises(LayoutError, match="InputLayout"):
        MethodDL("B", f"InputLayout=1|3|3:Layout=TANH|4,LINEAR:{FAST}").train(ds, weight_file="")
    with pytest.raises(LayoutError, match="outputs"):
        MethodDL("C", f"Layout=TANH|4,DENSE|3|LINEAR:{FAST}").train(ds, weight_file="")
    with pytest.raises(LayoutError, match="MethodAE"):
        MethodDL("D", "Layout=Encoder={DENSE|4|TANH}Decoder={DENSE|2|LINEAR}")
    with pytest.warns(TMVACompatWarning, match="CPU"):
        MethodDL("E", "Architecture=GPU")
    with pytest.raises(OptionError, match="Classification needs exactly 2 classes"):
        X3, y3 = _blobs(300, 3)
        MethodDL("F", FAST, analysis_type="Classification").train(
            DataSet.from_arrays(X3, y3, class_names=["a", "b", "c"]), weight_file=""
        )


def test_same_seed_same_weights_and_verbose_option_in_xml(tmp_path):
    X, y = _blobs(600, 4)
    two = (y == 0).astype(int)
    ds = DataSet.from_arrays(X[:400], two[:400], X[400:], two[400:])
    opts = f"!H:V:RandomSeed=11:Layout=TANH|8,LINEAR:{FAST}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MethodDL("S1", opts).train(ds, weight_file=str(tmp_path / "a.weights.xml"))
        b = MethodDL("S1", opts).train(ds, weight_file="")
    for pa, pb in zip(a.params, b.params, strict=True):
        for k in pa:
            np.testing.assert_array_equal(pa[k], pb[k])
    text = (tmp_path / "a.weights.xml").read_text()
    assert '<Option name="VerbosityLevel" modified="No">Verbose</Option>' in text
    assert '<Option name="V" modified="Yes">True</Option>' in text


def test_several_methods_on_one_loader_share_the_output_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _two_class_file("in.root", 600, 0.7, 9, names=("x", "y"))
    loader = DataLoader("two")
    loader.AddVariable("x", "F")
    loader.AddVariable("y", "F")
    loader.AddSignalTree("in.root:S")
    loader.AddBackgroundTree("in.root:B")
    loader.PrepareTrainingAndTestTree("", "nTrain_Signal=400:nTrain_Background=400:!V")
    factory = Factory("job", "out.root", "Silent")
    a = factory.BookMethod(loader, "DL", "Small", f"!H:!V:RandomSeed=1:Layout=TANH|4,LINEAR:{FAST}")
    b = factory.BookMethod(
        loader, Types.kDL, "Wide", f"!H:!V:RandomSeed=2:VarTransform=N:Layout=RELU|32,LINEAR:{FAST}"
    )
    factory.TrainAllMethods()
    factory.TestAllMethods()
    results = factory.EvaluateAllMethods()
    assert set(results) == {"Small", "Wide"}
    with uproot.open("out.root") as f:
        tree = f["two/TestTree"]
        for m in (a, b):
            np.testing.assert_array_equal(
                tree[m.title].array(library="np"),
                load_weights(m.weight_file).evaluate(tree).astype(np.float32),
            )
    assert factory.GetMethod("two", "Wide") is b


def test_ignore_neg_weights_in_training_keeps_the_events_with_weight_zero():
    # TMVA's Event::GetWeight() returns 0 for a negative weight while training: the events stay (event
    # counts, the validation split and the Normalize ranges include them) but carry no weight in the loss
    rng = np.random.default_rng(11)
    n = 600
    y = rng.integers(0, 2, n)
    x = (rng.normal(0, 1, (n, 2)) + np.where(y[:, None] == 0, 0.7, -0.7)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n)
    w[::7] *= -1.0
    x[14] = [9.0, -9.0]  # a negative-weight event (14 % 7 == 0) that sets both variables' ranges
    opts = f"!H:!V:VarTransform=N:RandomSeed=5:Layout=TANH|8,LINEAR:{FAST}"
    ignored = MethodDL("I", "IgnoreNegWeightsInTraining:" + opts).train(
        DataSet.from_arrays(x, y, w_train=w), weight_file=""
    )
    zeroed = MethodDL("Z", opts).train(
        DataSet.from_arrays(x, y, w_train=np.where(w < 0, 0.0, w)), weight_file=""
    )
    probe = rng.normal(0, 1, (50, 2)).astype(np.float32)
    np.testing.assert_array_equal(ignored.evaluate(probe), zeroed.evaluate(probe))
    norm = ignored.transforms.transforms[0]
    np.testing.assert_array_equal(norm.mins[-1], [x[:, 0].min(), -9.0])
    np.testing.assert_array_equal(norm.maxs[-1], [9.0, x[:, 1].max()])


def _regression_set(n: int = 600) -> DataSet:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (n, 2)).astype(np.float32)
    return DataSet.from_arrays(x, (2 * x[:, 0] + x[:, 1]).astype(np.float32), targets=["t"])


_CALM = "LearningRate=1e-3,Optimizer=SGD,Momentum=0,BatchSize=20,MaxEpochs=5,TestRepetitions=1"
_WILD = "LearningRate=1e4,Optimizer=SGD,Momentum=0,BatchSize=20,MaxEpochs=5"


def test_a_later_phase_that_diverges_keeps_the_best_model_and_writes_it(tmp_path):
    opts = "!H:!V:RandomSeed=3:Layout=LINEAR|8,LINEAR:TrainingStrategy="
    path = tmp_path / "kept.weights.xml"
    failing = MethodDL("R", opts + f"{_CALM}|{_WILD}", analysis_type="Regression")
    with pytest.warns(TMVACompatWarning, match=r"phase 2.*keeps the best weights \(phase 1, epoch 5"):
        failing.train(_regression_set(), weight_file=str(path))
    assert failing.training_error is not None and "phase 2" in str(failing.training_error)
    # the second implementation: the same seed with phase 1 alone gives the same network
    calm = MethodDL("C", opts + _CALM, analysis_type="Regression").train(_regression_set(), weight_file="")
    probe = np.random.default_rng(2).normal(0, 1, (40, 2)).astype(np.float32)
    np.testing.assert_array_equal(load_weights(path).evaluate(probe), calm.evaluate(probe))


def test_a_training_that_never_improved_raises():
    m = MethodDL("W", f"!H:!V:RandomSeed=3:Layout=LINEAR|8,LINEAR:TrainingStrategy={_WILD}")
    with pytest.raises(TrainingError, match="phase 1, epoch 1"):
        m.train(_regression_set(), weight_file="")
    assert m.model is None


def test_zero_sum_weights_are_refused_not_trained_silently():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    x = (rng.normal(0, 1, (400, 2)) + y[:, None]).astype(np.float32)
    for w in (np.where(np.arange(400) % 2 == 0, 1.0, -1.0), np.zeros(400)):
        with pytest.raises(TrainingError, match="weights sum to 0"):
            MethodDL("Z", f"!H:!V:Layout=TANH|4,LINEAR:{FAST}").train(
                DataSet.from_arrays(x, y, w_train=w), weight_file=""
            )
    # TMVA's remedy works: the negative weights become 0 in training
    MethodDL("Z", f"!H:!V:IgnoreNegWeightsInTraining:Layout=TANH|4,LINEAR:{FAST}").train(
        DataSet.from_arrays(x, y, w_train=np.where(np.arange(400) % 2 == 0, 1.0, -1.0)), weight_file=""
    )


def test_factory_finishes_the_other_methods_when_one_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _two_class_file("input.root", 800, 0.8, 9)
    loader = DataLoader("ds")
    loader.AddVariable("a", "F")
    loader.AddVariable("b", "F")
    loader.AddSignalTree("input.root:S")
    loader.AddBackgroundTree("input.root:B")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Random:!V")
    factory = Factory("job", "out.root", "Silent:AnalysisType=Classification")
    factory.BookMethod(loader, Types.kDL, "Good", f"!H:!V:RandomSeed=2:Layout=TANH|8,LINEAR:{FAST}")
    factory.BookMethod(
        loader, Types.kDL, "Bad", f"!H:!V:Layout=LINEAR|8,LINEAR:TrainingStrategy={_WILD},ConvergenceSteps=1"
    )
    with pytest.warns(TMVACompatWarning, match="'Bad' could not be trained"):
        factory.TrainAllMethods()
    factory.TestAllMethods()
    results = factory.EvaluateAllMethods()
    assert list(results) == ["Good"] and factory.GetROCIntegral(loader, "Good") > 0.8
    with pytest.raises(TMVACompatError, match="training failed"):
        factory.GetROCIntegral(loader, "Bad")
    weights = sorted(p.name for p in (tmp_path / "ds" / "weights").iterdir())
    assert weights == ["job_Good.weights.xml"]
    tree = uproot.open("out.root")["ds/TestTree"]
    assert "Good" in tree.keys() and "Bad" not in tree.keys()
