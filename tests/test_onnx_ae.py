"""ONNX export of MethodAE models: onnxruntime on the exported graphs against AEModel (anomaly_score,
reconstruct, encode, decode) for dense AEs, VAEs (the mean path; MSE and ELBO scores) and a convolutional AE.

Truths: AEModel's own evaluation (the engine, tied to written XML by tests/test_ae.py) and, independently of
both, the score recomputed in numpy from the graph's reconstruction output and the fitted transformation.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the optional onnx package")
ort = pytest.importorskip("onnxruntime", reason="the parity tests run the graphs in onnxruntime")

from tmvacompat.cli import main  # noqa: E402
from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.methods.ae import MethodAE  # noqa: E402
from tmvacompat.onnx_export import AE_OUTPUTS, OPERATORS, ONNXExportError, to_onnx  # noqa: E402
from tmvacompat.weightfile import AEModel, load_weights  # noqa: E402

TOL = 1e-5
TRAIN = "TrainingStrategy=LearningRate=3e-3,Optimizer=ADAM,MaxEpochs=3,BatchSize=32,TestRepetitions=1"
DENSE = "Layout=Encoder={DENSE|12|TANH,DENSE|6|RELU,DENSE|2|LINEAR}Decoder={DENSE|10|TANH,DENSE|0|LINEAR}"


def _data(n: int = 600, nvar: int = 4, seed: int = 0) -> np.ndarray:
    """Correlated variables on different scales (two hidden causes plus noise)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(2, nvar))
    x = rng.normal(size=(n, 2)) @ mix + 0.1 * rng.normal(size=(n, nvar))
    return (x * np.linspace(1.0, 30.0, nvar) + np.arange(nvar)).astype(np.float32)


def _train(options: str, x: np.ndarray) -> AEModel:
    n = len(x) * 3 // 4
    ds = DataSet.from_arrays(
        x[:n], np.zeros(n, int), x[n:], np.zeros(len(x) - n, int), class_names=["Background"]
    )
    return MethodAE("AE", f"!H:!V:RandomSeed=1:{options}:{TRAIN}").train(ds, weight_file="")


def _session(proto):
    onnx.checker.check_model(proto, full_check=True)
    assert {n.op_type for n in proto.graph.node} <= OPERATORS
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _outputs(proto, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = _session(proto)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"x": np.ascontiguousarray(x, np.float32)}), strict=True))


def _check_ae(model: AEModel, x: np.ndarray) -> dict[str, np.ndarray]:
    proto = to_onnx(model)
    assert [o.name for o in proto.graph.output] == list(AE_OUTPUTS)
    got = _outputs(proto, x)
    score, reco = model.anomaly_score(x), model.reconstruct(x)
    assert got["score"].shape == score.shape and got["reconstruction"].shape == reco.shape
    np.testing.assert_allclose(got["score"], score, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(got["reconstruction"], reco, rtol=TOL, atol=TOL * np.abs(reco).max())
    return got


# ---------------------------------------------------------------------------------------------- dense
@pytest.mark.parametrize("transform", ["N", "None"])
def test_dense_ae_score_and_reconstruction(transform):
    x = _data()
    model = _train(f"VarTransform={transform}:{DENSE}", x)
    got = _check_ae(model, x)
    # the score is the squared residual in the transformed space: recomputed in numpy from the graph's own
    # reconstruction mapped forward through the fitted transformation
    reco = got["reconstruction"].astype(np.float64)
    chain = model.transforms
    xt = (x if chain is None else chain.forward(x)).astype(np.float64)
    rt = reco if chain is None else chain.forward(reco.astype(np.float32)).astype(np.float64)
    np.testing.assert_allclose(got["score"], ((xt - rt) ** 2).mean(axis=1), rtol=1e-3, atol=1e-5)


def test_halves_export_as_dl_models():
    x = _data(seed=1)
    model = _train(f"VarTransform=N:{DENSE}", x)
    z = model.encode(x)
    enc = _outputs(to_onnx(model.encoder), x)["mva"]
    np.testing.assert_allclose(enc, z, rtol=TOL, atol=TOL)
    zz = np.random.default_rng(2).normal(size=(300, 2)).astype(np.float32)
    dec = _outputs(to_onnx(model.decoder), zz)["mva"]
    want = model.decode(zz)
    np.testing.assert_allclose(dec, want, rtol=TOL, atol=TOL * np.abs(want).max())


def test_one_output_and_order_and_fixed_batch(tmp_path):
    x = _data(seed=3)
    model = _train(f"VarTransform=N:{DENSE}", x)
    only = to_onnx(model, tmp_path / "score.onnx", outputs="score", batch_size=1)
    assert [o.name for o in only.graph.output] == ["score"]
    assert only.graph.output[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert "Tanh" in {n.op_type for n in only.graph.node}
    sess = ort.InferenceSession(str(tmp_path / "score.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        sess.run(None, {"x": x[:1]})[0], model.anomaly_score(x[:1]), rtol=TOL, atol=TOL
    )
    flipped = to_onnx(model, outputs=["reconstruction", "score"])
    assert [o.name for o in flipped.graph.output] == ["reconstruction", "score"]
    got = _outputs(flipped, x)
    np.testing.assert_allclose(got["score"], model.anomaly_score(x), rtol=TOL, atol=TOL)
    reco = _outputs(to_onnx(model, outputs="reconstruction"), x)["reconstruction"]
    np.testing.assert_array_equal(reco, got["reconstruction"])
    meta = {p.key: p.value for p in flipped.metadata_props}
    assert (
        meta["method"] == "AE::AE"
        and meta["latent_size"] == "2"
        and meta["outputs"] == "reconstruction,score"
    )


def test_nan_input_gives_nan_score_as_anomaly_score():
    x = _data(seed=4)[:20].copy()
    model = _train(f"VarTransform=N:{DENSE}", _data(seed=4))
    x[3, 1] = np.nan
    got = _outputs(to_onnx(model), x)
    with pytest.warns(Warning, match="NaN"):
        want = model.anomaly_score(x)
    assert np.isnan(want[3]) and np.isnan(got["score"][3])
    keep = np.arange(20) != 3
    np.testing.assert_allclose(got["score"][keep], want[keep], rtol=TOL, atol=TOL)


# ---------------------------------------------------------------------------------------------- VAE
@pytest.mark.parametrize("score", ["MSE", "ELBO"])
def test_vae_mean_path(score):
    x = _data(seed=5)
    model = _train(f"VarTransform=N:Variational=True:KLWeight=0.3:AnomalyScore={score}:{DENSE}", x)
    assert model.variational and model.score == score
    _check_ae(model, x)
    # the encoder half is the mean head
    np.testing.assert_allclose(
        _outputs(to_onnx(model.encoder), x)["mva"], model.encode(x), rtol=TOL, atol=TOL
    )
    if score == "ELBO":
        mse = _outputs(to_onnx(model, outputs="score"), x)["score"]
        assert (mse > _reconstruction_mse(model, x)).all()  # the KL term at z = mu is positive


def _reconstruction_mse(model: AEModel, x: np.ndarray) -> np.ndarray:
    xt = model.transforms.forward(x).astype(np.float64)
    rt = model.transforms.forward(model.reconstruct(x)).astype(np.float64)
    return ((xt - rt) ** 2).mean(axis=1)


# ---------------------------------------------------------------------------------------------- images
def test_conv_ae():
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[0:8, 0:8]
    centres = rng.uniform(2, 6, (400, 2))
    blobs = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 3.0)
    x = (blobs + 0.1 * rng.normal(size=blobs.shape)).reshape(400, 64).astype(np.float32)
    layout = (
        "InputLayout=1|8|8:VarTransform=N:"
        "Layout=Encoder={PADDING2D|1|1|1|1,CONV|3|3|3|1|1|0|0|TANH,MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|6|LINEAR}"
        "Decoder={DENSE|48|TANH,RESHAPE|3|4|4,CONVT|1|2|2|2|2|0|0|LINEAR}"
    )
    model = _train(layout, x)
    proto = to_onnx(model)
    assert {"Pad", "Conv", "MaxPool", "ConvTranspose"} <= {n.op_type for n in proto.graph.node}
    _check_ae(model, x)
    np.testing.assert_allclose(
        _outputs(to_onnx(model.encoder), x)["mva"], model.encode(x), rtol=TOL, atol=TOL
    )
    z = model.encode(x)
    np.testing.assert_allclose(
        _outputs(to_onnx(model.decoder), z)["mva"], model.decode(z), rtol=TOL, atol=TOL
    )


# ---------------------------------------------------------------------------------------------- errors, CLI
def test_gauss_transform_and_bad_outputs_are_refused():
    x = _data(seed=7)
    gauss = _train(f"VarTransform=G:{DENSE}", x)
    with pytest.raises(ONNXExportError, match="Gauss transformation cannot be exported"):
        to_onnx(gauss)
    model = _train(f"VarTransform=N:{DENSE}", x)
    with pytest.raises(ONNXExportError, match="'mva'.*'score' and 'reconstruction'"):
        to_onnx(model, outputs="mva")
    with pytest.raises(ONNXExportError, match="each at most once"):
        to_onnx(model, outputs=["score", "score"])
    with pytest.raises(ONNXExportError, match="selects an autoencoder's outputs"):
        to_onnx(model.encoder, outputs="score")


def test_cli_converts_an_ae_weight_file(tmp_path, capsys):
    x = _data(seed=8)
    model = _train(f"VarTransform=N:Variational=True:AnomalyScore=ELBO:{DENSE}", x)
    model.save(tmp_path / "ae.weights.xml")
    out = tmp_path / "ae.onnx"
    assert main(["convert", str(tmp_path / "ae.weights.xml"), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    loaded = load_weights(tmp_path / "ae.weights.xml")
    got = _outputs(onnx.load(str(out)), x)
    np.testing.assert_allclose(got["score"], loaded.anomaly_score(x), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(
        got["reconstruction"], loaded.reconstruct(x), rtol=TOL, atol=TOL * np.abs(x).max()
    )
