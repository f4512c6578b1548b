"""Graph layouts (ADD residual and CONCAT blocks) end to end through the Factory, for MethodDL and MethodAE.

Truth: an independent numpy forward pass over the matrices of the written weight file (the graph wiring
written out by hand), the stored TestTree values, and a bitwise round trip of the weight files.
"""

from __future__ import annotations

import numpy as np
import pytest
import uproot
from conftest import VECTORS, needs_vectors

from tmvacompat import DataLoader, Factory, TMVACompatWarning, Types, load_weights
from tmvacompat.errors import WeightFileError

TUTORIAL = VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root"
VARS = ("var1", "var2", "var3", "var4")
STRATEGY = "TrainingStrategy=LearningRate=1e-3,Optimizer=ADAM,MaxEpochs=30,BatchSize=32,ConvergenceSteps=10"


def _loader(background_only: bool = False) -> DataLoader:
    loader = DataLoader("dataset")
    for v in VARS:
        loader.AddVariable(v, "F")
    if not background_only:
        loader.AddSignalTree(f"{TUTORIAL}:TreeS", 1.0)
    loader.AddBackgroundTree(f"{TUTORIAL}:TreeB", 1.0)
    opts = "nTrain_Background=2000:SplitMode=Block:!V"
    loader.PrepareTrainingAndTestTree("", opts if background_only else "nTrain_Signal=2000:" + opts)
    return loader


def _dense(p: dict, x: np.ndarray, act) -> np.ndarray:
    return act(x @ p["Weights"].astype(np.float64).T + p["Biases"].astype(np.float64).T)


def _ident(v):
    return v


@needs_vectors
def test_residual_and_concat_dl_network_trains_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAGraph", "TMVA.root", "!V:Silent:AnalysisType=Classification")
    loader = _loader()
    layout = "DENSE|16|TANH@h1,DENSE|16|TANH,ADD|h1,DENSE|8|TANH,CONCAT|h1,DENSE|1|LINEAR"
    factory.BookMethod(
        loader, Types.kDL, "ResNet", f"!H:!V:VarTransform=N:RandomSeed=4:Layout={layout}:{STRATEGY}"
    )
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    assert factory.GetROCIntegral(loader, "ResNet") > 0.85
    path = tmp_path / "dataset" / "weights" / "TMVAGraph_ResNet.weights.xml"
    text = path.read_text()
    assert "<AddLayer" in text and "<ConcatLayer" in text
    model = load_weights(path)
    with uproot.open("TMVA.root") as f:
        t = f["dataset/TestTree"]
        x = np.column_stack([t[v].array(library="np") for v in VARS]).astype(np.float32)
        np.testing.assert_array_equal(t["ResNet"].array(library="np"), model.evaluate(x).astype(np.float32))
    # the graph by hand: h1 = tanh(x); a = tanh(h1) + h1; c = tanh(a); [c, h1] -> linear -> sigmoid
    p = model.network.params
    xt = model.transforms.forward(x).astype(np.float64)
    h1 = _dense(p[0], xt, np.tanh)
    a = _dense(p[1], h1, np.tanh) + h1
    c = _dense(p[3], a, np.tanh)
    out = _dense(p[5], np.concatenate([c, h1], axis=1), _ident)[:, 0]
    np.testing.assert_allclose(model.evaluate(x), 1 / (1 + np.exp(-out)), rtol=1e-5, atol=1e-6)
    # the lossless file reads back bitwise; TMVA's MethodDL could not build the graph: said so
    model.save(tmp_path / "copy.xml")
    np.testing.assert_array_equal(load_weights(tmp_path / "copy.xml").evaluate(x), model.evaluate(x))
    with pytest.raises(WeightFileError, match="ADD"):
        model.save(tmp_path / "strict.xml", strict=True)
    with pytest.warns(TMVACompatWarning, match="TMVA::Reader cannot load"):
        model.save(tmp_path / "tmva.xml", precision="tmva")


@needs_vectors
def test_residual_autoencoder_through_the_factory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    factory = Factory("TMVAGraph", "TMVA.root", "!V:Silent")
    loader = _loader(background_only=True)
    layout = (
        "Encoder={DENSE|16|TANH@e1,DENSE|16|TANH,ADD|e1,DENSE|2|LINEAR}"
        "Decoder={DENSE|16|TANH@d1,DENSE|16|TANH,ADD|d1,CONCAT|INPUT,DENSE|0|LINEAR}"
    )
    factory.BookMethod(
        loader, Types.kAE, "ResAE", f"!H:!V:VarTransform=N:RandomSeed=5:Layout={layout}:{STRATEGY}"
    )
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    model = load_weights(tmp_path / "dataset" / "weights" / "TMVAGraph_ResAE.weights.xml")
    with uproot.open("TMVA.root") as f:
        t = f["dataset/TestTree"]
        x = np.column_stack([t[v].array(library="np") for v in VARS]).astype(np.float32)
        np.testing.assert_array_equal(
            t["ResAE"].array(library="np"), model.anomaly_score(x).astype(np.float32)
        )
    assert model.anomaly_score(x).mean() < 0.05  # transformed-space variance ~0.2
    # the decoder by hand, from the file: z -> d1 -> tanh(d1) + d1 -> [., z] -> linear
    z = model.encode(x).astype(np.float64)
    p = model.decoder.network.params
    d1 = _dense(p[0], z, np.tanh)
    a = _dense(p[1], d1, np.tanh) + d1
    raw = _dense(p[4], np.concatenate([a, z], axis=1), _ident)
    xt = model.transforms.forward(x).astype(np.float64)
    np.testing.assert_allclose(model.anomaly_score(x), ((xt - raw) ** 2).mean(axis=1), rtol=1e-4, atol=1e-7)
    model.decoder.save(tmp_path / "dec.xml")
    np.testing.assert_array_equal(load_weights(tmp_path / "dec.xml").evaluate(z), model.decode(z))
    with pytest.raises(WeightFileError, match="ADD"):
        model.decoder.save(tmp_path / "dec_strict.xml", strict=True)
