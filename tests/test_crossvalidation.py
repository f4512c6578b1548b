"""TMVA's CrossValidation: folds, the fold that did not see an event, the combined weight file.

Truths: the split expression itself (Deterministic), a fold retrained by hand with MethodDL on the other
folds' events, TMVA's element and attribute names (MethodCrossValidation::AddWeightsXMLTo), the Reader's
and load_weights' reading of the written file, and the serial run for the folds trained on dask workers.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat import CrossValidation, DataLoader, InputDataError, Reader, load_weights
from tmvacompat.crossvalidation import fold_assignment
from tmvacompat.data.dataset import DataSet
from tmvacompat.methods.dl import MethodDL
from tmvacompat.weightfile.crossvalidation import WEIGHTS_ATTRIBUTES, CrossValidationModel

TUTORIAL = VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root"
needs_vectors = pytest.mark.skipif(not TUTORIAL.is_file(), reason=f"TMVA test vectors not found at {VECTORS}")

METHOD = (
    "!H:!V:VarTransform=N:Layout=TANH|16,LINEAR:RandomSeed=1:"
    "TrainingStrategy=LearningRate=1e-2,BatchSize=64,MaxEpochs=4"
)
CV_OPTS = (
    "!V:Silent:AnalysisType=Classification:NumFolds=3:SplitType=Deterministic:"
    "SplitExpr=int([eventID])%int([NumFolds])"
)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """The tutorial's first 1000 events per class, with an eventID branch (unique over both trees)."""
    import uproot

    path = tmp_path_factory.mktemp("cv") / "cv_input.root"
    with uproot.open(TUTORIAL) as f, uproot.recreate(path) as out:
        for k, t in enumerate(("TreeS", "TreeB")):
            arrays = {n: a[:1000] for n, a in f[t].arrays(library="np").items()}
            arrays["eventID"] = np.arange(1000, dtype=np.int64) + 1000 * k
            out[t] = arrays
    return path


def _loader(path):
    loader = DataLoader("dataset")
    for v in ("var1", "var2", "var3", "var4"):
        loader.AddVariable(v, "F")
    loader.AddSpectator("eventID")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree(
        "", "nTest_Signal=1:nTest_Background=1:SplitMode=Block:NormMode=None:!V"
    )
    return loader


@pytest.fixture(scope="module")
def evaluated(tutorial, tmp_path_factory):
    import os

    work = tmp_path_factory.mktemp("cvwork")
    old = os.getcwd()
    os.chdir(work)
    try:
        loader = _loader(tutorial)
        cv = CrossValidation("CV", loader, str(work / "TMVACV.root"), CV_OPTS + ":Workers=1")
        cv.BookMethod("DL", "DNN", METHOD)
        cv.Evaluate()
    finally:
        os.chdir(old)
    return cv, loader.GetDataSet(), work


@needs_vectors
def test_each_event_is_answered_by_the_fold_that_did_not_train_on_it(evaluated):
    cv, ds, work = evaluated
    event_id = ds.train.spectators[:, 0]
    assert np.array_equal(cv.event_folds["DNN"], event_id.astype(np.int64) % 3)  # the split expression
    # retrain fold 2 by hand on folds 1 and 3, as CvSplit::PrepareFoldDataSet orders them
    folds = fold_assignment(ds.train, ds.spectators, 3, "int([eventID])%int([NumFolds])")
    train = ds.train.take(np.concatenate([folds[0], folds[2]]))
    fold_ds = DataSet(ds.name, train, ds.train.take(folds[1]), ds.variables, ds.classes, (), ds.spectators)
    fold_ds = dataclasses.replace(
        fold_ds, variables=tuple(v.with_range(*_range(train.X[:, j])) for j, v in enumerate(ds.variables))
    )
    by_hand = MethodDL("DNN_fold2", METHOD, job_name="CV")
    by_hand.train(fold_ds, weight_file="")
    written = load_weights(work / "dataset" / "weights" / "CV_DNN_fold2.weights.xml")
    for a, b in zip(by_hand.model.params, written.params, strict=True):
        assert np.array_equal(a["Weights"], b["Weights"])
    expected = by_hand.model.evaluate(ds.train.X[folds[1]])
    assert np.allclose(cv.output_values["DNN"][folds[1]], expected, rtol=0, atol=1e-6)
    # and the output file's TestTree holds every training event with those values
    import uproot

    with uproot.open(work / "TMVACV.root") as f:
        tree = f["dataset/TestTree"]
        assert tree.num_entries == len(ds.train)
        assert np.allclose(tree["DNN"].array(library="np"), cv.output_values["DNN"], atol=1e-6)


def _range(col):
    return float(col.min()), float(col.max())


@needs_vectors
def test_combined_weight_file_has_tmva_names_and_round_trips(evaluated, tutorial):
    cv, ds, work = evaluated
    path = work / "dataset" / "weights" / "CV_DNN.weights.xml"
    root = ET.parse(path).getroot()
    assert root.get("Method") == "CrossValidation::DNN"
    weights = root.find("Weights")
    assert list(weights.attrib) == list(WEIGHTS_ATTRIBUTES)
    assert weights.attrib["SplitExpr"] == "int([eventID])%int([NumFolds])"
    assert (weights.attrib["NumFolds"], weights.attrib["EncapsulatedMethodTypeName"]) == ("3", "DL")
    model = load_weights(path)
    assert isinstance(model, CrossValidationModel) and model.num_folds == 3
    assert model.to_xml() == path.read_text()
    # the Reader applies it as TMVA does: variables, then the spectator the split expression reads
    reader = Reader("!Color:Silent")
    for v in ("var1", "var2", "var3", "var4"):
        reader.AddVariable(v)
    reader.AddSpectator("eventID")
    reader.BookMVA("DNN", str(path))
    fields = {f"var{j + 1}": ds.train.X[:, j] for j in range(4)}
    fields["eventID"] = ds.train.spectators[:, 0]
    assert np.allclose(reader.EvaluateMVA("DNN", fields), cv.output_values["DNN"], rtol=0, atol=1e-6)
    # per event through bound buffers
    bufs = [np.zeros(1, np.float32) for _ in range(5)]
    bound = Reader("!Color:Silent")
    for name, b in zip(["var1", "var2", "var3", "var4"], bufs, strict=False):
        bound.AddVariable(name, b)
    bound.AddSpectator("eventID", bufs[4])
    bound.BookMVA("DNN", str(path))
    for i in (0, 1, 2, 1500):
        for j in range(4):
            bufs[j][0] = ds.train.X[i, j]
        bufs[4][0] = ds.train.spectators[i, 0]
        assert bound.EvaluateMVA("DNN") == pytest.approx(float(cv.output_values["DNN"][i]), abs=1e-6)
    # OutputEnsembling=Avg: the folds' mean
    avg = dataclasses.replace(model, output_ensembling="Avg")
    x = ds.train.X[:50]
    mean = np.mean([f.evaluate(x) for f in model.folds], axis=0)
    assert np.allclose(avg.evaluate_matrix(np.concatenate([x, ds.train.spectators[:50]], axis=1)), mean)
    # tmvacompat apply writes the same responses for the signal tree (Block split: its first 999 entries are
    # the first training events)
    import uproot

    from tmvacompat.apply import apply_to_tree

    assert apply_to_tree(path, f"{tutorial}:TreeS", work / "friend.root", progress=False) == 1000
    with uproot.open(work / "friend.root") as f:
        got = f["tmva"]["DNN"].array(library="np")[:999]
        assert np.allclose(got, cv.output_values["DNN"][:999], rtol=0, atol=1e-6)
    result = cv.GetResults()[0]
    assert sorted(result.rocs) == [0, 1, 2] and 0.5 < result.GetROCAverage() <= 1.0
    assert "Fold  0 ROC-Int : " in result.format() and "Average ROC-Int : " in result.format()


def test_random_split_is_tmva_fold_mapping_and_cannot_be_applied_per_event():
    from tmvacompat.data.dataset import Sample, VariableInfo

    n = 10
    s = Sample(np.zeros((n, 1)), np.zeros((n, 0)), np.zeros((n, 0)), np.ones(n), np.ones(n), np.arange(n) % 2)
    folds = fold_assignment(s, [], 3, "", seed=100)
    assert sorted(np.concatenate(folds).tolist()) == list(range(n))
    assert sorted(len(f) for f in folds) == [3, 3, 4]  # the pattern 0,1,2,0,1,2,... shuffled
    assert [f.tolist() for f in folds] != [list(range(k, n, 3)) for k in range(3)]
    model = CrossValidationModel(
        "T", "J", "", 3, "T", "DL", "None", [], [VariableInfo.of("x")], [], ["Signal"]
    )
    with pytest.raises(InputDataError, match="random fold split"):
        model.evaluate_matrix(np.zeros((2, 1), np.float32))


@needs_vectors
def _assert_same_folds(serial_dir, other_dir) -> None:
    """The three fold weight files under ``other_dir`` hold the serial run's weights bit for bit."""
    for k in (1, 2, 3):
        serial = load_weights(serial_dir / "dataset" / "weights" / f"CV_DNN_fold{k}.weights.xml")
        other = load_weights(other_dir / "dataset" / "weights" / f"CV_DNN_fold{k}.weights.xml")
        for a, b in zip(serial.params, other.params, strict=True):
            assert np.array_equal(a["Weights"], b["Weights"]) and np.array_equal(a["Biases"], b["Biases"])


def test_folds_trained_on_dask_workers_equal_the_serial_folds(
    evaluated, tutorial, dask_client, tmp_path, monkeypatch
):
    _, _, work = evaluated
    monkeypatch.chdir(tmp_path)
    cv = CrossValidation("CV", _loader(tutorial), None, CV_OPTS, client=dask_client)
    cv.BookMethod("DL", "DNN", METHOD)
    cv.Evaluate()
    _assert_same_folds(work, tmp_path)


MULTI_METHOD = (
    "!H:!V:VarTransform=N:Layout=TANH|16,LINEAR:RandomSeed=1:"
    "TrainingStrategy=LearningRate=1e-2,BatchSize=64,MaxEpochs=3"
)


def _multiclass_loader(path):
    """Three classes: the signal tree, and the background tree's eventIDs split by parity."""
    loader = DataLoader("dataset")
    for v in ("var1", "var2", "var3", "var4"):
        loader.AddVariable(v, "F")
    loader.AddSpectator("eventID")
    loader.AddTree(f"{path}:TreeS", "Signal")
    loader.AddTree(f"{path}:TreeB", "bg0", cut="int(eventID)%2==0")
    loader.AddTree(f"{path}:TreeB", "bg1", cut="int(eventID)%2==1")
    loader.PrepareTrainingAndTestTree(
        "", "nTest_Signal=1:nTest_bg0=1:nTest_bg1=1:SplitMode=Block:NormMode=None:!V"
    )
    return loader


@needs_vectors
def test_multiclass_folds_answer_their_own_events_and_write_fold_files(tutorial, tmp_path, monkeypatch):
    import uproot

    from tmvacompat.evaluation import roc_integral

    monkeypatch.chdir(tmp_path)
    loader = _multiclass_loader(tutorial)
    out = tmp_path / "out" / "TMVACV_multi.root"
    out.parent.mkdir()
    cv = CrossValidation(
        "CVM",
        loader,
        str(out),
        CV_OPTS.replace("Classification", "Multiclass") + ":FoldFileOutput=True:Workers=1",
    )
    cv.BookMethod("DL", "DNN", MULTI_METHOD)
    cv.Evaluate()
    ds = loader.GetDataSet()
    folds = fold_assignment(ds.train, ds.spectators, 3, "int([eventID])%int([NumFolds])")
    values = cv.output_values["DNN"]
    assert values.shape == (len(ds.train), 3)
    combined = load_weights(tmp_path / "dataset" / "weights" / "CVM_DNN.weights.xml")
    assert combined.analysis_type == "Multiclass" and combined.classes == ["Signal", "bg0", "bg1"]
    result = cv.GetResults()[0]
    for k in range(3):
        fold = load_weights(tmp_path / "dataset" / "weights" / f"CVM_DNN_fold{k + 1}.weights.xml")
        mine = ds.train.take(folds[k])
        expected = fold.evaluate(mine.X)  # the fold that did not train on these events
        assert np.allclose(values[folds[k]], expected, rtol=0, atol=1e-6)
        assert np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)  # class probabilities
        # TMVA's fold ROC of a multiclass method: class 0 against the rest, on the fold's test events
        want = roc_integral(expected[:, 0], mine.class_ids == 0, mine.weights)
        assert result.rocs[k] == pytest.approx(want, abs=1e-9)
        # FoldFileOutput: <dir of the output file>/<Title>_fold<k>.root, the fold's Factory output
        with uproot.open(out.parent / f"DNN_fold{k + 1}.root") as f:
            test, train = f["dataset/TestTree"], f["dataset/TrainTree"]
            assert test.num_entries == len(folds[k])
            assert train.num_entries == len(ds.train) - len(folds[k])
            leaves = test[f"DNN_fold{k + 1}"].array(library="np")
            got = np.column_stack([leaves[c] for c in ("Signal", "bg0", "bg1")])
            assert np.allclose(got, expected, atol=1e-6)
            assert np.array_equal(test["classID"].array(library="np"), mine.class_ids)
    # the combined file applies each event's fold through the split expression
    x = np.concatenate([ds.train.X, ds.train.spectators], axis=1)
    assert np.allclose(combined.evaluate_matrix(x), values, rtol=0, atol=1e-6)
    with uproot.open(out) as f:
        assert f["dataset/TestTree"].num_entries == len(ds.train)


@needs_vectors
def test_folds_on_our_own_local_cluster_equal_the_serial_folds(evaluated, tutorial, tmp_path, monkeypatch):
    # Workers=2 starts a LocalCluster of 2 processes; the third fold gets both cores (numba threads)
    pytest.importorskip("distributed", reason="Workers=2 needs the dask extra (dask.distributed)")
    _, _, work = evaluated
    monkeypatch.chdir(tmp_path)
    cv = CrossValidation("CV", _loader(tutorial), None, CV_OPTS + ":Workers=2")
    cv.BookMethod("DL", "DNN", METHOD)
    cv.Evaluate()
    _assert_same_folds(work, tmp_path)


def test_automatic_workers_stay_serial_on_two_cores(monkeypatch):
    # Workers=0: on two cores the serial engine already uses both (benchmarks/README.md), no cluster is made
    import tmvacompat.crossvalidation as cvmod

    cv = CrossValidation.__new__(CrossValidation)
    cv.client = None
    for opts, cores in (("Workers=0", 2), ("Workers=0", 1), ("NumWorkerProcs=0", 2), ("Workers=1", 8)):
        cv.options = cvmod.CV_OPTIONS.parse(opts)
        monkeypatch.setattr(cvmod, "_cores", lambda c=cores: c)
        assert cv._executor(3) == (None, None), (opts, cores)
