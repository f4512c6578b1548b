"""MethodAE: autoencoders and VAEs through the Factory and from Python.

Truths: a linear PCA baseline and the data's own variance (tutorial data), the generating distribution of a
Gaussian mixture (VAE samples), finite differences of the VAE loss, pixel-shuffled images, numpy forward
passes over the written XML (halves as DL documents), a plain AE for KLWeight=0.
"""

from __future__ import annotations

import numpy as np
import pytest
import uproot
from conftest import VECTORS, needs_vectors

from tmvacompat import DataLoader, Factory, TMVACompatWarning, Types, load_weights
from tmvacompat.data.dataset import DataSet
from tmvacompat.errors import LayoutError, OptionError, TMVACompatError, WeightFileError
from tmvacompat.methods.ae import MethodAE
from tmvacompat.weightfile import AEModel, Model

TUTORIAL = VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root"
VARS = ("var1", "var2", "var3", "var4")
DENSE_AE = (
    "!H:!V:VarTransform=N:RandomSeed=1:"
    "Layout=Encoder={DENSE|64|TANH,DENSE|32|TANH,DENSE|2|LINEAR}Decoder={DENSE|32|TANH,DENSE|64|TANH,DENSE|0|LINEAR}:"
    "TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,MaxEpochs=100,BatchSize=32,ConvergenceSteps=15"
)


def _tutorial(tree: str) -> np.ndarray:
    with uproot.open(TUTORIAL) as f:
        return np.column_stack([f[tree][v].array(library="np") for v in VARS]).astype(np.float32)


def _auc(sig: np.ndarray, bkg: np.ndarray) -> float:
    """Mann-Whitney: probability that a signal score exceeds a background one."""
    ranks = np.concatenate([sig, bkg]).argsort().argsort() + 1.0
    return float((ranks[: len(sig)].sum() - len(sig) * (len(sig) + 1) / 2) / (len(sig) * len(bkg)))


def _dataset(x_train: np.ndarray, x_test: np.ndarray) -> DataSet:
    return DataSet.from_arrays(x_train, np.zeros(len(x_train), int), x_test, np.zeros(len(x_test), int))


# ---------------------------------------------------------------------------------------------- anomaly
@needs_vectors
def test_dense_ae_on_background_separates_signal_better_than_pca():
    bkg, sig = _tutorial("TreeB"), _tutorial("TreeS")
    m = MethodAE("AE", DENSE_AE)
    m.train(_dataset(bkg[:3000], bkg[3000:]), weight_file="")
    score_b, score_s = m.anomaly_score(bkg[3000:]), m.anomaly_score(sig[3000:])
    variance = m.model.transforms.forward(bkg[3000:]).var(axis=0).mean()
    assert score_b.mean() < 0.05 * variance  # measured 0.0033 against 0.20
    # the score is the mean squared error in the transformed space, computed here from the reconstruction
    xt = m.model.transforms.forward(bkg[3000:])
    rt = m.model.transforms.forward(m.reconstruct(bkg[3000:]))
    np.testing.assert_allclose(score_b, ((xt - rt) ** 2).mean(axis=1), rtol=1e-3, atol=1e-6)
    # a linear 2-component PCA on the standardised background, the same kind of score
    mu, sd = bkg[:3000].mean(0), bkg[:3000].std(0)
    vt = np.linalg.svd((bkg[:3000] - mu) / sd, full_matrices=False)[2][:2]

    def pca_score(x):
        z = (x - mu) / sd
        return ((z - z @ vt.T @ vt) ** 2).mean(axis=1)

    pca = _auc(pca_score(sig[3000:]), pca_score(bkg[3000:]))
    auc = _auc(score_s, score_b)
    assert pca == pytest.approx(0.66, abs=0.01)
    assert auc > pca + 0.01  # measured 0.686 against 0.661


@needs_vectors
def test_factory_anomaly_workflow_background_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAAnomaly", "TMVA.root", "!V:Silent:AnalysisType=Classification")
    loader = DataLoader("dataset")
    for v in VARS:
        loader.AddVariable(v, "F")
    loader.AddBackgroundTree(f"{TUTORIAL}:TreeB", 1.0)
    loader.PrepareTrainingAndTestTree("", "nTrain_Background=3000:SplitMode=Block:!V")
    factory.BookMethod(loader, Types.kAE, "AE", DENSE_AE.replace("MaxEpochs=100", "MaxEpochs=20"))
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    path = tmp_path / "dataset" / "weights" / "TMVAAnomaly_AE.weights.xml"
    assert 'Method="AE::AE"' in path.read_text()
    model = load_weights(path)
    assert isinstance(model, AEModel) and model.latent_size == 2 and not model.variational
    with uproot.open("TMVA.root") as f:
        test = f["dataset/TestTree"]
        assert set(test.keys()) >= {"AE", "AE_Reco"}
        assert test["AE_Reco"].title == "var1/F:var2/F:var3/F:var4/F"
        x = np.column_stack([test[v].array(library="np") for v in VARS])
        np.testing.assert_array_equal(
            test["AE"].array(library="np"), model.anomaly_score(x).astype(np.float32)
        )
        reco = test["AE_Reco"].array(library="np")
        np.testing.assert_array_equal(np.column_stack([reco[v] for v in VARS]), model.reconstruct(test))
        hist = f["dataset/Method_AE/AE"]
        assert "TrainingHistory_AE_trainingError" in [k.split(";")[0] for k in hist.keys()]
    # the tree, a mapping and an array give the same scores
    with uproot.open(TUTORIAL) as f:
        tree = f["TreeB"]
        scores = model.anomaly_score(tree)
        np.testing.assert_array_equal(scores, model.anomaly_score(_tutorial("TreeB")))
        np.testing.assert_array_equal(
            scores, model.anomaly_score({v: tree[v].array(library="np") for v in VARS})
        )
    with pytest.raises(TMVACompatError, match="no Signal and Background"):
        factory.GetROCIntegral(loader, "AE")


@needs_vectors
def test_factory_roc_of_the_score_with_two_classes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAAnomaly", "TMVA.root", "!V:Silent:AnalysisType=Classification")
    loader = DataLoader("dataset")
    for v in VARS:
        loader.AddVariable(v, "F")
    loader.AddSignalTree(f"{TUTORIAL}:TreeS", 1.0)
    loader.AddBackgroundTree(f"{TUTORIAL}:TreeB", 1.0)
    # the AE sees almost only background: 10 signal events in training, not reweighted (NormMode=None)
    loader.PrepareTrainingAndTestTree(
        "", "nTrain_Signal=10:nTrain_Background=3000:SplitMode=Block:NormMode=None:!V"
    )
    factory.BookMethod(loader, "AE", "AE", DENSE_AE)
    factory.TrainAllMethods()
    factory.EvaluateAllMethods()
    with uproot.open("TMVA.root") as f:
        t = f["dataset/TestTree"]
        score, cls = t["AE"].array(library="np"), t["classID"].array(library="np")
    roc = factory.GetROCIntegral(loader, "AE")
    assert roc == pytest.approx(_auc(score[cls == 0], score[cls == 1]), abs=0.01)
    assert roc > 0.66


# ---------------------------------------------------------------------------------------------- VAE
def _mixture(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    which = rng.random(n) < 0.5
    a = rng.multivariate_normal([-1.5, 0.0], [[0.3, 0.1], [0.1, 0.2]], n)
    b = rng.multivariate_normal([1.5, 1.0], [[0.2, -0.05], [-0.05, 0.3]], n)
    return np.where(which[:, None], a, b).astype(np.float32)


VAE = (
    "!H:!V:RandomSeed=3:Variational=True:KLWeight={kl}:KLAnnealingEpochs={anneal}:"
    "Layout=Encoder={{DENSE|32|TANH,DENSE|32|TANH,DENSE|2|LINEAR}}Decoder={{DENSE|32|TANH,DENSE|32|TANH,"
    "DENSE|0|LINEAR}}:TrainingStrategy=LearningRate=3e-3,Optimizer=ADAM,MaxEpochs={epochs},BatchSize=64,"
    "ConvergenceSteps=30,TestRepetitions=1"
)


@pytest.fixture(scope="module")
def vae():
    x = _mixture(3000, 1)
    m = MethodAE("VAE", VAE.format(kl=0.05, epochs=100, anneal=15))
    m.train(_dataset(x[:2400], x[2400:]), weight_file="")
    return m, x


def test_vae_samples_match_the_mixture_mean_and_covariance(vae):
    m, x = vae
    gen = m.generate(20000, seed=5)
    assert gen.shape == (20000, 2)
    mean, cov = x.mean(axis=0), np.cov(x.T)
    # tolerances: 0.1 on the means (the data's spread is ~1.6), 15% of the largest covariance entry
    np.testing.assert_allclose(gen.mean(axis=0), mean, atol=0.1)
    np.testing.assert_allclose(np.cov(gen.T), cov, atol=0.15 * np.abs(cov).max())
    np.testing.assert_array_equal(gen, m.generate(20000, seed=5))


def test_vae_kl_is_positive_and_falls(vae):
    m, _ = vae
    kl = np.array(m.history.terms["valKL"], dtype=float)
    assert (kl > 0).all()
    # KLAnnealingEpochs=15: the KL weight grows from 0, the KL term climbs first and then falls
    assert kl[-1] < 0.5 * kl.max()
    assert kl[20:].max() < kl[:20].max()
    terms = m.history_terms()
    assert set(terms) == {"reconstructionError", "klDivergence", "valReconstructionError", "valKLDivergence"}
    r = m.history.records[-1]
    # the validation loss is reconstruction + KLWeight x KL (the full weight, after annealing)
    assert r.val_loss == pytest.approx(
        terms["valReconstructionError"][-1] + 0.05 * terms["valKLDivergence"][-1]
    )


def test_vae_with_zero_kl_weight_trains_as_a_plain_ae():
    x = _mixture(3000, 2)
    ds = _dataset(x[:2400], x[2400:])
    vae0 = MethodAE("VAE0", VAE.format(kl=0.0, epochs=40, anneal=0))
    vae0.train(ds, weight_file="")
    plain = MethodAE(
        "AE", VAE.format(kl=0.0, epochs=40, anneal=0).replace("Variational=True", "Variational=False")
    )
    plain.train(ds, weight_file="")
    vae1 = MethodAE("VAE1", VAE.format(kl=1.0, epochs=40, anneal=0))
    vae1.train(ds, weight_file="")
    e0, ep, e1 = (float(m.anomaly_score(x[2400:]).mean()) for m in (vae0, plain, vae1))
    # without the KL term nothing keeps the variance up: the noise is switched off, as in a plain AE
    assert e0 < 3 * ep + 1e-3 and e0 < 0.3 * e1
    assert vae0.history.terms["valKL"][-1] > 5 * vae1.history.terms["valKL"][-1]


def test_vae_loss_gradients_match_finite_differences():
    from tmvacompat.engine.init import initialize
    from tmvacompat.engine.network import Network
    from tmvacompat.methods.vae_train import vae_loss_and_grads
    from tmvacompat.specs import DenseSpec

    rng = np.random.default_rng(0)
    k = 2
    enc = Network.build([DenseSpec(5, "TANH"), DenseSpec(2 * k, "LINEAR")], (3,), dtype=np.float64)
    dec = Network.build([DenseSpec(4, "SIGMOID"), DenseSpec(3, "LINEAR")], (k,), dtype=np.float64)
    initialize(enc, "XAVIER", 1)
    initialize(dec, "XAVIER", 2)
    x = rng.normal(size=(6, 3))
    w = rng.uniform(0.5, 1.5, 6)
    eps = rng.normal(size=(6, k))
    beta = 0.7
    vae_loss_and_grads(enc, dec, k, x, w, eps, beta)
    analytic = [{n: g.copy() for n, g in layer.grads.items()} for layer in enc.layers + dec.layers]
    h = 1e-6
    for layer, grads in zip(enc.layers + dec.layers, analytic, strict=True):
        for name, p in layer.params.items():
            num = np.empty_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = vae_loss_and_grads(enc, dec, k, x, w, eps, beta, backward=False)[0]
                p[idx] = old - h
                down = vae_loss_and_grads(enc, dec, k, x, w, eps, beta, backward=False)[0]
                p[idx] = old
                num[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(grads[name], num, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------- images
@needs_vectors
def test_conv_ae_reconstructs_images_better_than_shuffled_pixels():
    rows = []
    for part in ("images_part0.root", "images_part1.root"):
        with uproot.open(VECTORS / "root_written" / part) as f:
            rows.append(f["sig_tree"]["vars"].array(library="np").reshape(-1, 64))
    x = np.concatenate(rows).astype(np.float32)  # noise plus a Gaussian blob: the blob is the structure
    opts = (
        "!H:!V:VarTransform=N:RandomSeed=2:InputLayout=1|8|8:"
        "Layout=Encoder={PADDING2D|1|1|1|1,CONV|4|3|3|1|1|0|0|TANH,MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|8|LINEAR}"
        "Decoder={DENSE|64|TANH,RESHAPE|4|4|4,CONVT|1|2|2|2|2|0|0|LINEAR}:"
        "TrainingStrategy=LearningRate=3e-3,Optimizer=ADAM,MaxEpochs=20,BatchSize=32,ConvergenceSteps=5,"
        "TestRepetitions=1"
    )
    m = MethodAE("CAE", opts)
    m.train(_dataset(x[:800], x[800:]), weight_file="")
    test = x[800:]
    shuffled = np.stack([row[np.random.default_rng(i).permutation(64)] for i, row in enumerate(test)])
    assert m.anomaly_score(test).mean() < 0.85 * m.anomaly_score(shuffled).mean()  # measured 0.74
    assert m.reconstruct(test).shape == (len(test), 64)
    assert [s.kind for s in m.model.decoder_network.layers] == ["DENSE", "RESHAPE", "CONVT"]


# ---------------------------------------------------------------------------------------------- files
def _forward_dense(model: Model, x: np.ndarray) -> np.ndarray:
    """An independent float64 forward pass over a dense DL model's matrices (no engine)."""
    act = {"TANH": np.tanh, "LINEAR": lambda v: v, "RELU": lambda v: np.maximum(v, 0)}
    h = np.asarray(x, np.float64)
    for spec, p in zip(model.network.layers, model.network.params, strict=True):
        h = act[spec.activation](h @ p["Weights"].astype(np.float64).T + p["Biases"].astype(np.float64).T)
    return h


@pytest.mark.parametrize("variational", [False, True])
def test_halves_and_whole_round_trip_bitwise(tmp_path, variational):
    x = _mixture(1200, 3) @ np.array([[1.0, 0.5, -0.3], [0.2, 1.0, 0.7]], np.float32)
    opts = VAE.format(kl=1.0, epochs=5, anneal=0).replace("Variational=True", f"Variational={variational}")
    m = MethodAE("AE", "VarTransform=N:" + opts)
    model = m.train(_dataset(x[:1000], x[1000:]), weight_file=str(tmp_path / "ae.weights.xml"))
    loaded = load_weights(tmp_path / "ae.weights.xml")
    assert isinstance(loaded, AEModel) and loaded.variational == variational
    test = x[1000:]
    z = model.encode(test)
    for a, b in ((model, loaded), (model, m)):
        np.testing.assert_array_equal(a.anomaly_score(test), b.anomaly_score(test))
        np.testing.assert_array_equal(a.reconstruct(test), b.reconstruct(test))
        np.testing.assert_array_equal(a.encode(test), b.encode(test))
        np.testing.assert_array_equal(a.decode(z), b.decode(z))
    np.testing.assert_array_equal(model.decode(model.encode(test)), model.reconstruct(test))
    # the halves: DL documents of their own, read back by the DL reader
    model.encoder.save(tmp_path / "enc.weights.xml", precision="tmva", strict=True)
    model.decoder.save(tmp_path / "dec.weights.xml", strict=True)
    enc, dec = load_weights(tmp_path / "enc.weights.xml"), load_weights(tmp_path / "dec.weights.xml")
    assert (enc.method, enc.analysis_type, dec.method, dec.analysis_type) == ("DL", "Regression") * 2
    assert [v.expression for v in dec.targets] == ["var0", "var1", "var2"] or len(dec.targets) == 3
    np.testing.assert_allclose(enc.evaluate(test).reshape(z.shape), z, rtol=1e-5, atol=1e-6)  # %.6e text
    np.testing.assert_array_equal(dec.evaluate(z), model.decode(z))
    np.testing.assert_array_equal(loaded.decoder.evaluate(z), model.decode(z))
    np.testing.assert_array_equal(loaded.encoder.evaluate(test).reshape(z.shape), z)
    # TMVA's semantics of the halves, from the XML alone: Normalize, dense layers, inverse Normalize
    t = model.transforms.transforms[0]
    lo, hi = t.mins[-1].astype(np.float64), t.maxs[-1].astype(np.float64)
    xn = 2 * (test - lo) / (hi - lo) - 1
    np.testing.assert_allclose(_forward_dense(enc, xn), z, rtol=1e-4, atol=1e-5)
    recon = (_forward_dense(dec, z) + 1) * (hi - lo) / 2 + lo
    np.testing.assert_allclose(recon, model.decode(z), rtol=1e-4, atol=1e-4)
    if variational:
        np.testing.assert_array_equal(loaded.generate(50, seed=2), model.generate(50, seed=2))
    else:
        with pytest.raises(TMVACompatError, match="Variational=True"):
            model.generate(5)


def test_ae_documents_are_not_for_tmva(tmp_path):
    x = _mixture(600, 4)
    m = MethodAE(
        "AE", VAE.format(kl=1.0, epochs=2, anneal=0).replace("Variational=True", "Variational=False")
    )
    model = m.train(_dataset(x[:500], x[500:]), weight_file="")
    with pytest.raises(WeightFileError, match="TMVA has no MethodAE"):
        model.save(tmp_path / "a.xml", strict=True)
    with pytest.warns(TMVACompatWarning, match="TMVA::Reader cannot load"):
        model.save(tmp_path / "a.xml", precision="tmva")
    assert load_weights(tmp_path / "a.xml").latent_size == 2


@pytest.mark.filterwarnings("ignore:.*BatchLayout derived from phase 1")
def test_bad_ae_bookings_are_refused_clearly():
    with pytest.raises(LayoutError, match="Encoder"):
        MethodAE("AE", "Layout=DENSE|4|TANH,LINEAR")
    with pytest.raises(LayoutError, match="stand alone"):
        MethodAE("AE", "Layout=Encoder={DENSE|4|TANH@h,DENSE|4|LINEAR}Decoder={DENSE|4|TANH,ADD|h,DENSE|0}")
    with pytest.raises(LayoutError, match="DENSE layer"):
        MethodAE("AE", "Variational=True:Layout=Encoder={DENSE|4|TANH,RESHAPE|FLAT}Decoder={DENSE|0}")
    with pytest.raises(OptionError, match="ELBO"):
        MethodAE("AE", "AnomalyScore=ELBO:Layout=Encoder={DENSE|2|TANH}Decoder={DENSE|0}")
    with pytest.warns(TMVACompatWarning, match="ErrorStrategy=CROSSENTROPY ignored"):
        MethodAE("AE", "ErrorStrategy=CROSSENTROPY:Layout=Encoder={DENSE|2|TANH}Decoder={DENSE|0}")
    x = _mixture(300, 5)
    with pytest.raises(OptionError, match="one"):
        MethodAE("AE", "VarTransform=N,N:Layout=Encoder={DENSE|2|TANH}Decoder={DENSE|0}").train(
            _dataset(x[:200], x[200:]), weight_file=""
        )


def test_elbo_score_adds_the_events_kl(vae):
    m, x = vae
    model = m.model
    elbo = AEModel(**{**_fields(model), "score": "ELBO"})
    h = elbo._half("encoder_full").evaluate(x[:50]).astype(np.float64)
    mu, s = h[:, :2], h[:, 2:]
    kl = -0.5 * np.sum(1 + s - mu**2 - np.exp(s), axis=1)
    np.testing.assert_allclose(
        elbo.anomaly_score(x[:50]), model.anomaly_score(x[:50]) + 0.05 * kl, rtol=1e-12
    )
    assert (kl > 0).all()


def _fields(model: AEModel) -> dict:
    import dataclasses

    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model) if not f.name.startswith("_")}


@needs_vectors
def test_factory_vae_writes_the_kl_history_and_generates_from_its_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAVAE", "TMVA.root", "!V:Silent")
    loader = DataLoader("dataset")
    for v in VARS:
        loader.AddVariable(v, "F")
    loader.AddBackgroundTree(f"{TUTORIAL}:TreeB", 1.0)
    loader.PrepareTrainingAndTestTree("", "nTrain_Background=2000:SplitMode=Block:!V")
    opts = VAE.format(kl=0.05, epochs=20, anneal=5).replace("!H:!V:", "!H:!V:VarTransform=N:")
    method = factory.BookMethod(loader, Types.kAE, "VAE", opts)
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    terms = method.history_terms()
    with uproot.open("TMVA.root") as f:
        folder = f["dataset/Method_AE/VAE"]
        for key in ("klDivergence", "reconstructionError", "valKLDivergence", "valReconstructionError"):
            h = folder[f"TrainingHistory_VAE_{key}"]
            np.testing.assert_allclose(h.values(), terms[key], rtol=1e-6)
    model = load_weights("dataset/weights/TMVAVAE_VAE.weights.xml")
    gen = model.generate(5000, seed=1)
    bkg = _tutorial("TreeB")
    assert np.all(np.abs(gen.mean(axis=0) - bkg.mean(axis=0)) < 0.3 * bkg.std(axis=0))
    np.testing.assert_array_equal(gen, method.generate(5000, seed=1))


@needs_vectors
def test_root_reads_the_score_and_reconstruction_leaves(tmp_path, monkeypatch):
    ROOT = pytest.importorskip("ROOT", reason="PyROOT is not installed (the root extra)")
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAAnomaly", "TMVA.root", "!V:Silent")
    loader = DataLoader("dataset")
    for v in VARS:
        loader.AddVariable(v, "F")
    loader.AddBackgroundTree(f"{TUTORIAL}:TreeB", 1.0)
    loader.PrepareTrainingAndTestTree("", "nTrain_Background=1000:nTest_Background=500:SplitMode=Block:!V")
    factory.BookMethod(loader, Types.kAE, "AE", DENSE_AE.replace("MaxEpochs=100", "MaxEpochs=3"))
    factory.TrainAllMethods()
    factory.EvaluateAllMethods()
    model = load_weights("dataset/weights/TMVAAnomaly_AE.weights.xml")
    with uproot.open("TMVA.root") as uf:
        x = np.column_stack([uf["dataset/TestTree"][v].array(library="np") for v in VARS])
    f = ROOT.TFile.Open("TMVA.root")
    tree = f.Get("dataset/TestTree")
    n = tree.Draw("AE:AE_Reco.var3:AE_Reco.var4", "", "goff")
    assert n == 500
    got = [np.array([getattr(tree, f"GetV{i}")()[j] for j in range(n)]) for i in (1, 2, 3)]
    np.testing.assert_array_equal(got[0], model.anomaly_score(x).astype(np.float32))
    reco = model.reconstruct(x)
    np.testing.assert_array_equal(got[1], reco[:, 2])
    np.testing.assert_array_equal(got[2], reco[:, 3])
    f.Close()


def test_reader_books_the_halves_not_the_ae_document(tmp_path):
    from tmvacompat import Reader

    x = _mixture(600, 6)
    m = MethodAE(
        "AE", VAE.format(kl=1.0, epochs=2, anneal=0).replace("Variational=True", "Variational=False")
    )
    model = m.train(_dataset(x[:500], x[500:]), weight_file=str(tmp_path / "ae.xml"))
    with pytest.raises(WeightFileError, match="Reader cannot book; book its halves"):
        Reader("!Color:Silent").BookMVA("AE", tmp_path / "ae.xml")
    model.decoder.save(tmp_path / "dec.xml")
    reader = Reader("!Color:Silent")
    for name in ("z0", "z1"):
        reader.AddVariable(name, np.zeros(1, np.float32))
    reader.BookMVA("Dec", tmp_path / "dec.xml")
    z = model.encode(x[500:])
    np.testing.assert_array_equal(reader.EvaluateRegression("Dec", z), model.decode(z))


def test_pca_is_refused_for_an_autoencoder():
    # TMVA's P2X adds the sum of all means to every variable: no inverse to map a reconstruction back
    from tmvacompat import DataSet
    from tmvacompat.errors import TMVACompatError
    from tmvacompat.methods.ae import MethodAE

    x = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    ds = DataSet.from_arrays(x, np.zeros(200, int), class_names=["Background"])
    m = MethodAE("AE", "!H:!V:VarTransform=P:Layout=Encoder={DENSE|2|TANH}Decoder={DENSE|0|LINEAR}")
    with pytest.raises(TMVACompatError, match="P2X"):
        m.train(ds, weight_file="")
