"""The scikit-learn AutoEncoder (tmvacompat.sklearn): check_estimator, training through MethodAE (the same
result as booking MethodAE on the same DataSet), the option mapping, an independent numpy forward pass over
the written AE weight file, Pipeline and GridSearchCV."""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn (optional extra) is not installed")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import tmvacompat  # noqa: E402
from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.data.tmvarandom import RandomGenerator, permutation  # noqa: E402
from tmvacompat.errors import InputDataError, LayoutError, OptionError, TMVACompatError  # noqa: E402
from tmvacompat.methods.ae import MethodAE  # noqa: E402
from tmvacompat.sklearn import AutoEncoder  # noqa: E402
from tmvacompat.weightfile import AEModel, load_weights  # noqa: E402

LAYOUT = "Encoder={DENSE|8|TANH,DENSE|2|LINEAR}Decoder={DENSE|8|TANH,DENSE|0|LINEAR}"
ONE_PHASE = "TrainingStrategy=LearningRate=1e-2,Optimizer=ADAM,MaxEpochs=5,BatchSize=2,TestRepetitions=1"
#: tiny networks and few epochs: check_estimator's data sets have 10-300 rows
SMALL = dict(options=ONE_PHASE, layout=LAYOUT, var_transform="N", random_seed=1)
WEIGHT_EQUIVALENCE = (
    "integer sample weights are not repeated rows for a mini-batch network: repeated rows change the "
    "batches, the validation split and the Normalize ranges, as they would in TMVA"
)


@parametrize_with_checks(
    [AutoEncoder(**SMALL), AutoEncoder(**SMALL, variational=True, anomaly_score="ELBO")],
    expected_failed_checks=lambda est: {"check_sample_weight_equivalence_on_dense_data": WEIGHT_EQUIVALENCE},
)
def test_check_estimator(estimator, check):
    check(estimator)


def _plane(n: int = 600, seed: int = 0) -> np.ndarray:
    """Four variables on a 2-D plane (two hidden causes) plus a little noise, on different scales."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) @ rng.normal(size=(2, 4)) + 0.05 * rng.normal(size=(n, 4))
    return x * [1.0, 10.0, 0.1, 3.0]


TRAIN = "TrainingStrategy=LearningRate=3e-3,Optimizer=ADAM,MaxEpochs=15,BatchSize=32,TestRepetitions=1"


def test_fit_is_a_methodae_training():
    X = _plane()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    ae = AutoEncoder(TRAIN, layout=LAYOUT, var_transform="N", random_seed=4).fit(X, sample_weight=w)
    assert isinstance(ae.model_, AEModel) and ae.n_iter_ == 15 and ae.n_features_in_ == 4
    # the same training booked directly: TMVA's mixing of the rows (SplitSeed=100), the same options
    order = permutation(len(X), RandomGenerator(100))
    ds = DataSet.from_arrays(X[order], np.zeros(len(X), int), w_train=w[order], class_names=["Background"])
    direct = MethodAE("AutoEncoder", ae.tmva_options_).train(ds, weight_file="")
    np.testing.assert_array_equal(ae.score_samples(X), -direct.anomaly_score(X))
    np.testing.assert_array_equal(ae.transform(X), direct.encode(X))
    z = ae.transform(X)
    np.testing.assert_array_equal(ae.inverse_transform(z), direct.decode(z))
    np.testing.assert_array_equal(ae.predict(X), direct.reconstruct(X))
    assert ae.transform(X).dtype == np.float64
    # decision_function: score_samples shifted so that `contamination` of the training rows are negative
    assert np.mean(ae.decision_function(X) < 0) == pytest.approx(0.1, abs=0.005)
    assert ae.score(X) == pytest.approx(ae.score_samples(X).mean())
    assert ae.score(X, sample_weight=w) == pytest.approx(np.average(ae.score_samples(X), weights=w))
    assert list(ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]
    # a variable on the plane reconstructs far better than one moved off it
    off = X * [1.0, -1.0, 1.0, -1.0]
    assert ae.score(off) < 10 * ae.score(X)


def test_keywords_map_onto_methodae_options():
    ae = AutoEncoder(
        "!H:Layout=Encoder={DENSE|4|TANH,DENSE|1|LINEAR}Decoder={DENSE|0|LINEAR}:KLWeight=0.5",
        variational=True,
        kl_weight=0.2,
        kl_annealing_epochs=3,
        anomaly_score="ELBO",
        random_seed=7,
        batch_size=16,
        max_epochs=4,
    )
    opts = ae.tmva_options()
    for item in ("Variational", "KLWeight=0.2", "KLAnnealingEpochs=3", "AnomalyScore=ELBO", "RandomSeed=7"):
        assert item in opts.split(":")
    # TMVA's MethodAE default strategy has two phases: the keywords set every phase
    strategy = next(p for p in opts.split(":") if p.startswith("TrainingStrategy="))
    assert strategy.count("BatchSize=16") == strategy.count("MaxEpochs=4") == 2
    assert set(ae.get_params()) >= {"layout", "variational", "kl_weight", "anomaly_score", "contamination"}
    assert "!Variational" in AutoEncoder(variational=False).tmva_options().split(":")
    with pytest.raises(OptionError, match="variational=1 is not a bool"):
        AutoEncoder(variational=1).tmva_options()
    with pytest.raises(OptionError, match="kl_annealing_epochs=1.5 is not an integer"):
        AutoEncoder(kl_annealing_epochs=1.5).tmva_options()
    with pytest.raises(OptionError, match="AnomalyScore"):
        AutoEncoder(anomaly_score="L1").tmva_options()


def test_bad_input_is_named():
    X = _plane(200)
    with pytest.raises(LayoutError, match="Encoder="):
        AutoEncoder(TRAIN, layout="DENSE|4|TANH,DENSE|0|LINEAR").fit(X)
    with pytest.raises(OptionError, match="ELBO needs Variational=True"):
        AutoEncoder(TRAIN, layout=LAYOUT, anomaly_score="ELBO").fit(X)
    for bad in (0.0, 0.7, "auto", True):
        with pytest.raises(OptionError, match="contamination"):
            AutoEncoder(TRAIN, layout=LAYOUT, contamination=bad).fit(X)
    with pytest.raises(NotFittedError):
        AutoEncoder().transform(X)
    ae = AutoEncoder(TRAIN, layout=LAYOUT, random_seed=1, max_epochs=2).fit(X)
    with pytest.raises(InputDataError, match="4 features"):
        ae.transform(X[:, :3])
    with pytest.raises(TMVACompatError, match=r"expected \(n, 2\)"):
        ae.inverse_transform(np.zeros((3, 3)))
    with pytest.raises(InputDataError, match="NaN"):
        ae.score_samples(np.full((2, 4), np.nan))


# ---------------------------------------------------------------------------------------------------------
# An independent forward pass over the AE weight file's XML: Normalize (the only class), the encoder's and
# the decoder's dense layers, the mean squared residual in the normalised space, the inverse Normalize.
_ACT = {"0": lambda v: v, "1": lambda v: np.maximum(v, 0), "3": np.tanh}


def _dense(block: ET.Element, h: np.ndarray) -> np.ndarray:
    for layer in block:
        assert layer.tag == "DenseLayer"
        w, b = (
            np.array(layer.find(n).text.split(), float).reshape(int(layer.find(n).get("Rows")), -1)
            for n in ("Weights", "Biases")
        )
        h = _ACT[layer.get("ActivationFunction")](h @ w.T + b[:, 0])
    return h


def numpy_ae(path, X) -> tuple[np.ndarray, np.ndarray]:
    root = ET.parse(path).getroot()
    ranges = [(float(r.get("Min")), float(r.get("Max"))) for r in root.iter("Range")]
    lo, hi = np.array(ranges).T
    x = 2 * (np.asarray(X, np.float32).astype(np.float64) - lo) / (hi - lo) - 1
    weights = root.find("Weights")
    out = _dense(weights.find("Decoder"), _dense(weights.find("Encoder"), x))
    return ((x - out) ** 2).mean(axis=1), (out + 1) * (hi - lo) / 2 + lo


def test_to_tmva_xml_writes_the_ae_file(tmp_path):
    X = _plane(seed=2)
    ae = AutoEncoder(TRAIN, layout=LAYOUT, var_transform="N", random_seed=2).fit(X)
    path = tmp_path / "dataset" / "weights" / "TMVAAnomaly_AE.weights.xml"
    written = ae.to_tmva_xml(path, variables=["pt", "eta", "phi", "m := pt*eta"], title="AE")
    assert 'Method="AE::AE"' in path.read_text()
    model = load_weights(path)
    assert isinstance(model, AEModel) and isinstance(written, AEModel)
    assert [v.expression for v in model.variables] == ["pt", "eta", "phi", "pt*eta"]
    np.testing.assert_array_equal(model.anomaly_score(X), -ae.score_samples(X))
    np.testing.assert_array_equal(model.reconstruct(X), ae.predict(X).astype(np.float32))
    score, reco = numpy_ae(path, X)
    np.testing.assert_allclose(-ae.score_samples(X), score, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ae.predict(X), reco, rtol=1e-4, atol=1e-4 * np.abs(X).max())
    # the renamed halves (DL documents): the decoder's targets are the renamed variables
    assert [v.label for v in model.decoder.targets] == ["pt", "eta", "phi", "m"]
    assert ae.model_.variables[0].expression == "var1"  # the fitted estimator keeps its own names


def test_vae_elbo_score():
    X = _plane(seed=3)
    kw = dict(layout=LAYOUT, var_transform="N", random_seed=3, variational=True, kl_weight=0.1)
    mse = AutoEncoder(TRAIN, **kw).fit(X)
    elbo = AutoEncoder(TRAIN, **kw, anomaly_score="ELBO").fit(X)
    # the same training (the score does not enter it); ELBO adds KLWeight x KL(mu, s) > 0
    np.testing.assert_array_equal(mse.transform(X), elbo.transform(X))
    extra = mse.score_samples(X) - elbo.score_samples(X)
    assert (extra > 0).all()
    np.testing.assert_allclose(-elbo.score_samples(X), elbo.model_.anomaly_score(X))


def test_pipeline_grid_search_pickle_and_lazy_import():
    X = _plane(400, seed=5)
    y = (X[:, 0] > 0).astype(int)
    pipe = make_pipeline(
        StandardScaler(), AutoEncoder(TRAIN, layout=LAYOUT, random_seed=1), LogisticRegression()
    )
    pipe.fit(X, y)  # Pipeline passes y to AutoEncoder.fit, which ignores it
    assert pipe.score(X, y) > 0.8
    assert pipe[:-1].transform(X).shape == (400, 2)
    search = GridSearchCV(
        AutoEncoder(TRAIN, var_transform="N", random_seed=1),
        {"layout": [LAYOUT, LAYOUT.replace("DENSE|2|LINEAR", "DENSE|1|LINEAR")]},
        cv=2,
    )
    search.fit(X)
    assert search.best_params_["layout"] == LAYOUT  # two latent coordinates for a plane beat one
    est = search.best_estimator_
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))
    assert tmvacompat.AutoEncoder is AutoEncoder
