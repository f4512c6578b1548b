"""Out-of-core training (``Streaming=True``/``BufferEvents``) against the in-memory DataLoader and MethodDL.

Truths: the in-memory training (bit for bit when the buffer holds every entry), the in-memory ROC integral
on TMVA's tutorial data, TMVA's requested event counts, the exact training ranges, and the per-event rule
of the split (an event's role does not depend on the buffer or the file layout).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat import DataLoader, InputFileNotFoundError, OptionError
from tmvacompat.data.streaming import StreamingDataSet, split_keys
from tmvacompat.evaluation import roc_integral
from tmvacompat.methods.dl import MethodDL

TUTORIAL = VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root"
needs_vectors = pytest.mark.skipif(not TUTORIAL.is_file(), reason=f"TMVA test vectors not found at {VECTORS}")

OPTIONS = (
    "!H:!V:VarTransform=N:Layout=TANH|32,TANH|32,LINEAR:RandomSeed=1:"
    "TrainingStrategy=LearningRate=1e-2,BatchSize=64,MaxEpochs=15,ConvergenceSteps=5"
)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The tutorial's TreeS/TreeB cut into four files (a chain, read through a glob)."""
    import uproot

    folder = tmp_path_factory.mktemp("parts")
    with uproot.open(TUTORIAL) as f:
        trees = {t: f[t].arrays(library="np") for t in ("TreeS", "TreeB")}
    for k in range(4):
        with uproot.recreate(folder / f"part{k}.root") as out:
            for t, arrays in trees.items():
                n = len(arrays["var1"])
                out[t] = {name: a[k * n // 4 : (k + 1) * n // 4] for name, a in arrays.items()}
    return folder


def _loader(folder, prep):
    loader = DataLoader("dataset")
    for v in ("var1", "var2", "var3", "var4"):
        loader.AddVariable(v, "F")
    loader.AddSignalTree(f"{folder}/part*.root:TreeS")
    loader.AddBackgroundTree(f"{folder}/part*.root:TreeB")
    loader.SetBackgroundWeightExpression("weight")
    loader.PrepareTrainingAndTestTree("", prep)
    return loader


def _train(ds):
    m = MethodDL("DNN", OPTIONS)
    m.train(ds, weight_file="")
    test = ds.test
    return m, roc_integral(m.evaluate(test.X), test.class_ids == 0, test.weights)


@needs_vectors
def test_glob_is_the_chain_of_the_matching_files(parts):
    globbed = _loader(parts, "SplitMode=Block:!V").GetDataSet()
    listed = DataLoader("dataset")
    for v in ("var1", "var2", "var3", "var4"):
        listed.AddVariable(v, "F")
    listed.AddSignalTree([f"{parts}/part{k}.root:TreeS" for k in range(4)])
    listed.AddBackgroundTree([f"{parts}/part{k}.root:TreeB" for k in range(4)])
    listed.SetBackgroundWeightExpression("weight")
    listed.PrepareTrainingAndTestTree("", "SplitMode=Block:!V")
    assert np.array_equal(globbed.train.X, listed.GetDataSet().train.X)
    with pytest.raises(InputFileNotFoundError, match="no file matches"):
        DataLoader("d").AddSignalTree(f"{parts}/nothing*.root:TreeS")


@needs_vectors
def test_buffer_holding_every_event_equals_in_memory_training_bit_for_bit(parts):
    memory = _loader(parts, "SplitMode=Random:!V").GetDataSet()
    streamed = _loader(parts, "SplitMode=Random:!V:Streaming=True:BufferEvents=12000").GetDataSet()
    assert not isinstance(streamed, StreamingDataSet)  # 12000 entries in all: read in memory, TMVA's split
    a, _ = _train(memory)
    b, _ = _train(streamed)
    for pa, pb in zip(a.model.params, b.model.params, strict=True):
        for key in pa:
            assert np.array_equal(pa[key], pb[key])
    assert a.model.to_xml().split("<Weights")[1] == b.model.to_xml().split("<Weights")[1]


@needs_vectors
def test_small_buffer_reaches_the_in_memory_roc_integral(parts):
    _, roc_memory = _train(_loader(parts, "SplitMode=Random:!V").GetDataSet())
    ds = _loader(parts, "SplitMode=Random:!V:Streaming=True:BufferEvents=800").GetDataSet()
    assert isinstance(ds, StreamingDataSet)
    m, roc_stream = _train(ds)
    assert ds.n_train == 6000 and ds.n_test == 6000  # TMVA's default: half of each class to training
    assert abs(roc_stream - roc_memory) < 0.01, (roc_stream, roc_memory)
    # the weight file holds the exact training ranges, and a leading Normalize uses them
    train = ds.train
    v = m.model.variables
    assert [x.min for x in v] == pytest.approx(train.X.min(axis=0).tolist())
    assert [x.max for x in v] == pytest.approx(train.X.max(axis=0).tolist())
    norm = m.model.transforms.transforms[0]
    assert np.array_equal(norm.mins[-1], train.X.min(axis=0))
    assert np.array_equal(norm.maxs[-1], train.X.max(axis=0))
    ds.close()


@needs_vectors
def test_split_is_decided_per_event_and_keeps_the_requested_counts(parts):
    prep = "nTrain_Signal=1000:nTrain_Background=800:nTest_Signal=500:nTest_Background=700:!V:Streaming=True"
    small = _loader(parts, prep + ":BufferEvents=300").GetDataSet()
    large = _loader(parts, prep + ":BufferEvents=2500").GetDataSet()
    for ds in (small, large):
        train, test = ds.train, ds.test
        assert np.bincount(train.class_ids).tolist() == [1000, 800]
        assert np.bincount(test.class_ids).tolist() == [500, 700]

    def ids(sample):
        return set(zip(sample.class_ids.tolist(), sample.source.tolist(), sample.entry.tolist(), strict=True))

    assert ids(small.train) == ids(large.train) and ids(small.test) == ids(large.test)
    # Random: a class's training events are its events with the smallest split keys
    test = large.test
    sig_train = large.train.of_class(0)
    sig_test = test.take(np.flatnonzero(test.class_ids == 0))
    k_train = split_keys(100, sig_train.source, sig_train.entry)
    k_test = split_keys(100, sig_test.source, sig_test.entry)
    assert k_train.max() < k_test.min()


def _ids(sample):
    return sorted(zip(sample.class_ids.tolist(), sample.source.tolist(), sample.entry.tolist(), strict=True))


@needs_vectors
@pytest.mark.parametrize(
    "counts", ["", "nTrain_Signal=1000:nTrain_Background=700:nTest_Signal=900:nTest_Background=1200"]
)
def test_streamed_alternate_split_is_the_in_memory_one(parts, counts):
    prep = f"SplitMode=Alternate:!V:{counts}"
    memory = _loader(parts, prep).GetDataSet()
    streamed = _loader(parts, prep + ":Streaming=True:BufferEvents=300").GetDataSet()
    assert isinstance(streamed, StreamingDataSet)
    assert _ids(streamed.train) == _ids(memory.train)
    assert _ids(streamed.test) == _ids(memory.test)
    # the rule itself: with the default counts, even reading positions train and odd ones test (each of
    # the four files holds 1500 entries of a class, an even number: the parity is the entry's)
    if not counts:
        sig = streamed.train.of_class(0)
        assert len(sig.entry) == 3000 and not np.any(sig.entry % 2)
    streamed.close()


@needs_vectors
def test_streaming_counts_are_the_in_memory_loaders(parts):
    # one counting rule for both paths: TrainTestSplit in Float_t arithmetic, a zero-event fraction refused
    prep = "TrainTestSplit_Signal=0.29:TrainTestSplit_Background=0.29:!V"
    memory = _loader(parts, prep).GetDataSet()
    streamed = _loader(parts, prep + ":Streaming=True:BufferEvents=300").GetDataSet()
    assert np.bincount(streamed.train.class_ids).tolist() == np.bincount(memory.train.class_ids).tolist()
    with pytest.raises(OptionError, match="gives 0 training events"):
        _loader(parts, "TrainTestSplit_Signal=1e-7:!V:Streaming=True:BufferEvents=300").GetDataSet()


@needs_vectors
def test_streamed_test_and_evaluation_equal_the_in_memory_ones(parts, tmp_path, monkeypatch, capsys):
    # Factory TestAllMethods/EvaluateAllMethods on a streaming dataset evaluate chunk by chunk from the
    # scratch files; truth: the same dataset's samples loaded whole and evaluated in memory
    import uproot

    from tmvacompat import Factory, Types
    from tmvacompat.factory import _event_sample
    from tmvacompat.output import MethodResult, write_output

    monkeypatch.chdir(tmp_path)
    loader = _loader(parts, "SplitMode=Random:!V:Streaming=True:BufferEvents=800")
    factory = Factory(
        "Stream", str(tmp_path / "out.root"), "!Silent:!DrawProgressBar:AnalysisType=Classification"
    )
    factory.BookMethod(loader, Types.kDL, "DNN", OPTIONS.replace("MaxEpochs=15", "MaxEpochs=2"))
    factory.TrainAllMethods()
    factory.TestAllMethods()
    results = factory.EvaluateAllMethods()
    ds = loader.GetDataSet()
    assert isinstance(ds, StreamingDataSet)
    printed = capsys.readouterr().out  # the summary's counts, without loading the samples
    assert "Elapsed time for training with 6000 events" in printed and "TFHandler_Factory" in printed
    method = factory.GetMethod(loader, "DNN")
    train, test = ds.train, ds.test  # now the truth: whole samples in memory
    b = factory._find(loader, "DNN")
    assert np.array_equal(b.test_values, method.evaluate(test.X))
    assert np.array_equal(b.train_values, method.evaluate(train.X))
    whole = write_output(
        None, ds.name, ["Signal", "Background"], _event_sample(ds, train), _event_sample(ds, test),
        [MethodResult("DL", "DNN", "Classification", method.evaluate(test.X), method.evaluate(train.X))],
    )["DNN"]  # fmt: skip
    got = results["DNN"]
    for key in ("roc_integral", "roc_integral_train", "eff_area", "separation", "significance"):
        assert getattr(got, key) == getattr(whole, key), key
    assert got.eff_test == whole.eff_test and got.eff_train == whole.eff_train
    assert factory.GetROCIntegral(loader, "DNN") == whole.roc_integral
    with uproot.open(tmp_path / "out.root") as f:
        for name, sample, values in (("TestTree", test, b.test_values), ("TrainTree", train, b.train_values)):
            tree = f[f"dataset/{name}"]
            assert tree.num_entries == len(sample)
            for j, v in enumerate(("var1", "var2", "var3", "var4")):
                assert np.array_equal(tree[v].array(library="np"), sample.X[:, j])
            assert np.array_equal(tree["DNN"].array(library="np"), np.asarray(values, np.float32))
            assert np.array_equal(tree["classID"].array(library="np"), sample.class_ids)
            assert np.array_equal(tree["weight"].array(library="np"), sample.weights.astype(np.float32))
        assert "dataset/Method_DL/DNN/MVA_DNN_S" in [k.split(";")[0] for k in f.keys(recursive=True)]
    ds.close()
