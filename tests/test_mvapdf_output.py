"""CreateMVAPdfs in a Factory run: prob_<title> branches in TrainTree/TestTree and the MVA_<title>_Proba_S/B,
_Rarity_S/B histograms, as MethodBase::AddOutput / TestClassification write them."""

from __future__ import annotations

import numpy as np
import pytest
import uproot

from tmvacompat import DataLoader, Factory, Types, load_weights

FAST = "TrainingStrategy=LearningRate=1e-2,BatchSize=32,MaxEpochs=15,ConvergenceSteps=5,TestRepetitions=1"


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    d = tmp_path_factory.mktemp("pdfjob")
    rng = np.random.default_rng(8)
    path = str(d / "in.root")
    with uproot.recreate(path) as f:
        for tree, mean in (("S", 0.7), ("B", -0.7)):
            f.mktree(tree, {"a": np.float32, "b": np.float32, "w": np.float32})
            f[tree].extend(
                {
                    "a": rng.normal(mean, 1, 1200).astype(np.float32),
                    "b": rng.normal(0, 1, 1200).astype(np.float32),
                    "w": rng.uniform(0.5, 1.5, 1200).astype(np.float32),
                }
            )
    mp = pytest.MonkeyPatch()
    mp.chdir(d)  # the weight files go to ./ds/weights, as in TMVA
    loader = DataLoader("ds")
    loader.AddVariable("a", "F")
    loader.AddVariable("b", "F")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    loader.SetWeightExpression("w")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Random:SplitSeed=3:!V")
    out = str(d / "TMVA.root")
    factory = Factory("job", out, "Silent:AnalysisType=Classification")
    method = factory.BookMethod(
        loader, Types.kDL, "DL", f"!H:!V:CreateMVAPdfs:RandomSeed=4:Layout=TANH|8,LINEAR:{FAST}"
    )
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    yield out, loader.name, method, loader.GetDataSet()
    mp.undo()


def test_prob_branches_hold_get_proba_of_the_written_model(job):
    out, ds_name, method, ds = job
    model = load_weights(method.weight_file)  # a second path: the PDFs as read back from <MVAPdfs>
    with uproot.open(out) as f:
        for tree, sample in (("TestTree", ds.test), ("TrainTree", ds.train)):
            t = f[f"{ds_name}/{tree}"]
            keys = t.keys()
            assert keys.index("DL") < keys.index("prob_DL")  # the results map's order
            prob = t["prob_DL"].array(library="np")
            want = model.proba(model.evaluate(sample.X), 0.5).astype(np.float32)
            np.testing.assert_allclose(prob, want, atol=2e-6)
            assert ((prob >= 0) & (prob <= 1)).all() and prob.std() > 0.05


def test_proba_and_rarity_histograms(job):
    out, ds_name, method, ds = job
    model = method.model
    mva = method.evaluate(ds.test.X)
    sig = ds.test.class_ids == 0
    w = ds.test.weights
    with uproot.open(out) as f:
        base = f[f"{ds_name}/Method_DL/DL"]
        for name, values in (("Proba", model.proba(mva, 0.5)), ("Rarity", model.rarity(mva))):
            for tag, sel in (("S", sig), ("B", ~sig)):
                h = base[f"MVA_DL_{name}_{tag}"]
                edges = h.axis().edges()
                assert len(edges) == 41 and edges[0] == 0.0 and edges[-1] == 1.0
                v, ww = values[sel], w[sel]
                inside = (v >= 0) & (v < 1)  # TH1::Fill: 1.0 itself is overflow
                counts, _ = np.histogram(v[inside], bins=edges, weights=ww[inside])
                np.testing.assert_allclose(h.values(), counts / counts.sum() / 0.025, rtol=1e-5, atol=1e-6)
    # signal events are rarer under the background PDF than background events are
    assert model.rarity(mva[sig]).mean() > model.rarity(mva[~sig]).mean()


def test_prob_branch_in_real_root(job):
    ROOT = pytest.importorskip("ROOT", reason="real ROOT (the root package) is not installed")
    out, ds_name, method, ds = job
    f = ROOT.TFile.Open(out)
    t = f.Get(f"{ds_name}/TestTree")
    assert t.GetBranch("prob_DL") and t.GetEntries() == len(ds.test)
    n = t.Draw("prob_DL", "", "goff")
    vals = np.array([t.GetV1()[i] for i in range(n)])
    with uproot.open(out) as uf:
        np.testing.assert_array_equal(vals, uf[f"{ds_name}/TestTree/prob_DL"].array(library="np"))
    f.Close()
