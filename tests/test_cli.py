"""The command line: what a string means, or a one-line error (exit 2) naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import VECTORS, needs_vectors

from tmvacompat import TMVACompatWarning
from tmvacompat.cli import main


def test_layout_prints_specs_and_canonical_form(capsys):
    assert main(["layout", "CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,TANH|64,LINEAR"]) == 0
    out = capsys.readouterr().out
    assert "ConvSpec(depth=10" in out and "MaxPoolSpec" in out
    canonical = "CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|0|LINEAR"
    assert f"canonical: {canonical}" in out


def test_options_with_a_strategy_typo_warn_as_tmva_ignores_the_key():
    # MethodDL's ParseKeyValueString keeps unknown keys and fetchValueTmp never asks for them
    with pytest.warns(TMVACompatWarning, match="'BatchSze'.*did you mean BatchSize"):
        assert main(["options", "!H:V:TrainingStrategy=LearningRate=1e-2,BatchSze=30"]) == 0


def test_options_with_a_bad_value_exit_2_with_the_culprit(capsys):
    assert main(["options", "!H:V:TrainingStrategy=LearningRate=abc"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tmvacompat: error:") and "LearningRate" in err and "abc" in err
    assert "Traceback" not in err


@pytest.mark.skipif(not VECTORS.is_dir(), reason=f"TMVA test vectors not found at {VECTORS}")
def test_evaluate_a_tmva_weight_file_on_a_tree(capsys):
    folder = VECTORS / "danchepkwony_rootPractice"
    weights = str(folder / "TMVAClassification_DNN_CPU.weights.xml")
    assert main(["evaluate", weights, f"{folder / 'tmva_class_example.root'}:TreeS", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "DL::DNN_CPU (Classification)" in lines[0] and "6000 events" in lines[0]
    assert all(0.0 < float(v) < 1.0 for v in lines[1:3])
    assert main(["evaluate", weights, f"{folder / 'tmva_class_example.root'}:NoSuchTree"]) == 2


# ----------------------------------------------------------------------------------- train / apply / inspect
CLASS_INPUT = VECTORS / "danchepkwony_rootPractice" / "tmva_class_example.root"
IMAGES = [VECTORS / "root_written" / f"images_part{i}.root" for i in (0, 1)]


def _one_line_error(capsys, code: int, argv: list[str], *needles: str) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("tmvacompat: error:") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


DENSE_JOB = """
[factory]
job_name = "TMVAClassification"
output = "TMVA.root"
options = "!V:Silent:AnalysisType=Classification"

[dataloader]
name = "dataset"
weights = {{ Background = "0.5 + 0*var1" }}
cut = "var4 > -10"
split = "nTrain_Signal=500:nTrain_Background=500:nTest_Signal=500:nTest_Background=500:SplitMode=Random:!V"

[[variable]]
expression = "myvar1 := var1+var2"
[[variable]]
expression = "var3"
title = "Variable 3"
unit = "units"
[[spectator]]
expression = "spec1 := var1*2"

[[tree]]
source = "{input}:TreeS"
class = "Signal"
[[tree]]
source = ["{input}:TreeB"]
class = "Background"

[[method]]
type = "DL"
title = "DNN_A"
options = "!H:!V:VarTransform=N:RandomSeed=1:Layout=TANH|16,LINEAR:TrainingStrategy=MaxEpochs=5,BatchSize=50"
[[method]]
type = "kDL"
title = "DNN_B"
options = "!H:!V:RandomSeed=2:Layout=RELU|8,LINEAR:TrainingStrategy=MaxEpochs=3,BatchSize=100"
"""


@needs_vectors
def test_train_job_writes_what_the_macro_writes_and_apply_reproduces_the_test_tree(
    tmp_path, monkeypatch, capsys
):
    import uproot

    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.toml").write_text(DENSE_JOB.format(input=CLASS_INPUT))
    assert main(["train", "job.toml"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    for title in ("DNN_A", "DNN_B"):
        weights = tmp_path / "dataset" / "weights" / f"TMVAClassification_{title}.weights.xml"
        assert weights.is_file() and f"weight file: dataset/weights/TMVAClassification_{title}" in out
    # the macro's closing TMVAGui, as PNG files (plots = "plots" by default)
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert any(n.startswith("overtrain_DNN_A") for n in pngs) and "rejBvsS.png" in pngs, pngs
    assert "files written to plots" in out
    with uproot.open(tmp_path / "TMVA.root") as f:
        test = f["dataset/TestTree"].arrays(["myvar1", "var3", "spec1", "DNN_A"], library="np")
    assert len(test["DNN_A"]) == 1000
    # apply on a tree holding the booked expressions' values: the TestTree itself, as a friend
    weights = "dataset/weights/TMVAClassification_DNN_A.weights.xml"
    # the TestTree has branches myvar1 and var3, the weight file's expressions are var1+var2 and var3: use
    # the signal input instead and compare with an independent evaluation of the same events
    assert main(["apply", weights, f"{CLASS_INPUT}:TreeS", "-o", "friend.root", "--step", "1000"]) == 0
    assert "friend.root:tmva: 6000 entries" in capsys.readouterr().out
    with uproot.open(CLASS_INPUT) as f:
        raw = f["TreeS"].arrays(["var1", "var2", "var3"], library="np")
    from tmvacompat import load_weights

    x = np.stack([raw["var1"] + raw["var2"], raw["var3"]], axis=1)  # float32 sum, as TTreeFormula stores it
    with uproot.open("friend.root") as f:
        tree = f["tmva"]
        assert tree.num_entries == 6000 and list(tree.keys()) == ["DNN_A"]
        applied = tree["DNN_A"].array(library="np")
    np.testing.assert_allclose(applied, load_weights(weights).evaluate(x), rtol=0, atol=2e-7)
    # the test events the Factory wrote are among them, with the same values
    s = np.isin(test["myvar1"], x[:, 0])
    assert s.sum() >= 400
    lookup = dict(zip(x[:, 0].tolist(), applied.tolist(), strict=False))
    np.testing.assert_allclose([lookup[v] for v in test["myvar1"][s]], test["DNN_A"][s], atol=1e-6)
    # --branch renames it
    assert main(["apply", weights, f"{CLASS_INPUT}:TreeB", "-o", "b.root", "--branch", "score"]) == 0
    with uproot.open("b.root") as f:
        assert list(f["tmva"].keys()) == ["score"] and f["tmva"].num_entries == 6000


@needs_vectors
def test_applied_tree_is_a_friend_root_can_draw(tmp_path, capsys):
    """Real ROOT adds the written tree as a friend of the TMVA multiclass TestTree and finds TMVA's values."""
    ROOT = pytest.importorskip("ROOT", reason="PyROOT (the root extra) is not installed")
    folder = VECTORS / "nasufsonmez_multiclass"
    out = tmp_path / "mc.root"
    argv = [
        "apply",
        str(folder / "TMVAMulticlass_DL_CPU.weights.xml"),
        f"{folder / 'TMVAMulticlass.root'}:dataset/TestTree",
    ]
    assert main([*argv, "-o", str(out), "--step", "1500"]) == 0
    f = ROOT.TFile.Open(str(folder / "TMVAMulticlass.root"))
    tree = f.Get("dataset/TestTree")
    tree.AddFriend("tmva", str(out))
    assert tree.GetBranch("DL_CPU").GetTitle() == "Signal/F:bg0/F:bg1/F:bg2/F"
    for cls in ("Signal", "bg0", "bg1", "bg2"):
        n = tree.Draw(f"tmva.DL_CPU.{cls} - DL_CPU.{cls}", "", "goff")
        diff = np.frombuffer(tree.GetV1(), dtype=np.float64, count=n)
        assert n == 4000 and np.abs(diff).max() < 1e-5, cls  # TMVA's own outputs (7-digit weights)
    f.Close()


@needs_vectors
def test_cnn_job_with_an_array_variable_evaluates_on_trees_files_and_jagged_vectors(
    tmp_path, monkeypatch, capsys
):
    import awkward as ak
    import uproot

    from tmvacompat import load_weights

    monkeypatch.chdir(tmp_path)
    trees = "\n".join(
        f'[[tree]]\nsource = "{p}:{t}_tree"\nclass = "{c}"'
        for p in IMAGES
        for t, c in (("sig", "Signal"), ("bkg", "Background"))
    )
    cnn_options = (
        "!H:!V:VarTransform=None:RandomSeed=4:InputLayout=1|8|8:"
        "Layout=CONV|2|3|3|1|1|1|1|RELU,MAXPOOL|2|2|2|2,RESHAPE|FLAT,DENSE|1|LINEAR:"
        "TrainingStrategy=MaxEpochs=2,BatchSize=50"
    )
    job = f"""
[factory]
job_name = "TMVA_CNN"
options = "Silent:AnalysisType=Classification"
[dataloader]
split = "nTrain_Signal=300:nTrain_Background=300:SplitMode=Random:!V"
[[variable]]
expression = "vars"
size = 64
{trees}
[[method]]
title = "CNN"
options = "{cnn_options}"
"""
    (tmp_path / "cnn.toml").write_text(job)
    assert main(["train", "cnn.toml"]) == 0, capsys.readouterr().err
    with uproot.open("TMVA.root") as f:
        test = f["dataset/TestTree"].arrays(["vars", "CNN"], library="np")
    model = load_weights("dataset/weights/TMVA_CNN_CNN.weights.xml")
    # the TestTree's vars[64] branch is the booked expression: evaluated straight from the file, by name
    from_file = model.evaluate("TMVA.root:dataset/TestTree")
    np.testing.assert_allclose(from_file, test["CNN"], atol=1e-6)
    # the training inputs: a path string, a list (a chain), an uproot tree, awkward and numpy mappings
    sources = [f"{p}:sig_tree" for p in IMAGES]
    chained = model.evaluate(sources)
    with uproot.open(IMAGES[0]) as f:
        tree = f["sig_tree"]
        by_tree = model.evaluate(tree)
        arrays = tree.arrays(["vars"])
    np.testing.assert_array_equal(chained[:500], by_tree)
    np.testing.assert_array_equal(model.evaluate(arrays), by_tree)
    np.testing.assert_array_equal(model.evaluate({"vars": arrays["vars"].to_numpy()}), by_tree)
    # the same images as a jagged std::vector-like branch (counter + float[n]), one of them too short
    images = arrays["vars"].to_numpy()
    rows = [list(r) for r in images]
    rows[3] = rows[3][:10]
    with uproot.recreate("jagged.root") as f:
        f["T"] = {"vars": ak.Array(rows)}
    jagged = model.evaluate("jagged.root:T")
    keep = np.arange(len(images)) != 3
    np.testing.assert_array_equal(jagged[keep], by_tree[keep])
    assert jagged[3] == -999.0  # missing elements are NaN inputs: TMVA's classifier answer for NaN
    # the Reader takes the same inputs
    from tmvacompat import Reader

    reader = Reader("Silent")
    reader.BookMVA("CNN", model)
    np.testing.assert_array_equal(reader.EvaluateMVA("CNN", sources[0]), by_tree)
    np.testing.assert_array_equal(reader.EvaluateMVA("CNN", arrays), by_tree)
    np.testing.assert_array_equal(reader.EvaluateMVA("CNN", sources), chained)


def test_jagged_vectors_read_by_the_dataloader_equal_the_fixed_array(tmp_path):
    """AddVariablesArray on a std::vector-like branch gives the fixed-size branch's values; an entry whose
    vector is too short has no data (TTreeFormula) and makes no event."""
    import awkward as ak
    import uproot

    from tmvacompat import DataLoader

    rng = np.random.default_rng(3)
    img = {c: rng.normal(size=(41, 6)).astype(np.float32) for c in "SB"}
    with uproot.recreate(tmp_path / "j.root") as f:
        for c, a in img.items():
            rows = [list(r) for r in a]
            rows[5] = rows[5][:4]
            f[f"T{c}"] = {"fixed": a, "jag": ak.Array(rows)}

    def dataset(branch: str):
        loader = DataLoader("d")
        loader.AddVariablesArray(branch, 6)
        loader.AddSignalTree(f"{tmp_path / 'j.root'}:TS")
        loader.AddBackgroundTree(f"{tmp_path / 'j.root'}:TB")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Block:!V")
        return loader.GetDataSet()

    keep = np.ones(41, bool)
    keep[5] = False  # 40 events per class: 20 training, 20 test
    jag = dataset("jag")
    both = np.concatenate([jag.train.X, jag.test.X])
    want = np.concatenate([img["S"][keep], img["B"][keep]])
    np.testing.assert_array_equal(np.sort(both, axis=0), np.sort(want, axis=0))
    fixed = dataset("fixed")  # all 41 read; Block split keeps the first 40 per class
    np.testing.assert_array_equal(fixed.train.X[:20], img["S"][:20])


@needs_vectors
def test_inspect_shows_method_release_variables_transforms_and_parameter_counts(capsys):
    weights = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"
    assert main(["inspect", str(weights)]) == 0
    out = capsys.readouterr().out
    assert "DL::DNN_CPU (Classification)" in out and "ROOT 6.24/04" in out
    assert "var1+var2 (myvar1)" in out and "var1*3 (spec2)" in out and "Normalize(4 inputs)" in out
    # 4 -> 128 -> 128 -> 128 -> 1, weights and biases
    assert f"parameters   : {4 * 128 + 128 + 2 * (128 * 128 + 128) + 129}" in out
    assert "(1, 1, 128) -> (1, 1, 1)" in out
    assert (
        main(["inspect", str(VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml")]) == 0
    )
    assert "classes      : Signal, bg0, bg1, bg2" in capsys.readouterr().out


def test_check_options_reports_what_book_method_would(capsys):
    # BookMethod refuses an unknown key, and so does `options` (see the test of that command)
    _one_line_error(capsys, 2, ["check-options", "--method", "DL", "Layot=TANH|64"], "'Layot'", "Layout")
    assert (
        main(["check-options", "--method", "DL", "!H:V:Layout=TANH|64,LINEAR:ErrorStrategy=SUMOFSQUARES"])
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "*                       Layout = TANH|64,LINEAR" in out and "  WeightInitialization = XAVIER" in out
    )
    assert "DenseSpec(width=64" in out and "phase 1:" in out
    _one_line_error(capsys, 2, ["check-options", "--method", "BDT", "NTrees=100"], "BDT")
    with pytest.warns(TMVACompatWarning, match="BatchSze"):
        assert main(["check-options", "TrainingStrategy=BatchSze=3"]) == 0


@pytest.mark.parametrize(
    ("job", "needles"),
    [
        ('[factory]\njob_nme = "x"', ["unknown key 'job_nme' in [factory]", "job_name"]),
        ("[factory\n", ["not valid TOML", "line 1"]),
        ('[[tree]]\nsource = 3\nclass = "Signal"', ["[tree] source must be a string or a non-empty list"]),
        ('[[varible]]\nexpression = "x"', ["unknown table [varible]", "variable"]),
        ('[[tree]]\nsource = "a.root:T"\nclass = "S"\n[[variable]]\nexpression = "x"', ["no [[method]]"]),
        ('[[tree]]\nsource = "a.root:T"\n[[variable]]\nexpression = "x"', ["[tree] needs the key 'class'"]),
    ],
)
def test_bad_job_files_give_one_line_naming_the_key(tmp_path, capsys, job, needles):
    (tmp_path / "job.toml").write_text(job)
    _one_line_error(capsys, 2, ["train", str(tmp_path / "job.toml")], *needles)


def test_errors_are_one_line_and_verbose_shows_the_traceback(tmp_path, capsys):
    _one_line_error(capsys, 2, ["train", str(tmp_path / "none.toml")], "job file", "does not exist")
    _one_line_error(capsys, 2, ["inspect", str(tmp_path / "none.xml")], "weight file does not exist")
    job = tmp_path / "job.toml"
    job.write_text('[[tree]]\nsource = "missing.root:T"\nclass = "Signal"\n[[variable]]\nexpression = "x"\n'
                   '[[method]]\ntitle = "A"')  # fmt: skip
    _one_line_error(capsys, 2, ["train", str(job)], "missing.root", "does not exist")
    assert main(["--verbose", "inspect", str(tmp_path / "none.xml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("No such file or directory")
    assert main(["inspect", "--verbose", str(tmp_path / "none.xml")]) == 2
    assert "Traceback" in capsys.readouterr().err


@needs_vectors
def test_apply_errors_name_the_tree_branch_and_file(tmp_path, capsys):
    weights = str(VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml")
    out = str(tmp_path / "o.root")
    _one_line_error(
        capsys, 2, ["apply", weights, f"{CLASS_INPUT}:TreeX", "-o", out], "no tree 'TreeX'", "TreeS"
    )
    other = f"{VECTORS / 'root_written' / 'regression.root'}:TreeR"
    _one_line_error(capsys, 2, ["apply", weights, other, "-o", out], "no branch 'var3'")
    _one_line_error(capsys, 2, ["apply", weights, str(CLASS_INPUT), "-o", out], "file.root:treename")
    assert not (tmp_path / "o.root").exists()
    bad_out = str(tmp_path / "no" / "o.root")
    _one_line_error(capsys, 2, ["apply", weights, f"{CLASS_INPUT}:TreeS", "-o", bad_out], "does not exist")


def test_precompile_command(capsys):
    # the explicit replacement of the old background compile: it fills Numba's cache and says what it did
    assert main(["precompile"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and "float32" in out[0] and "weight files" in out[1]
    from tmvacompat.weightfile import dense_eval, numfmt, numparse

    # the weight-file kernels have their signatures in this process now (compiled or loaded from the cache)
    assert dense_eval.mark_nan_rows.signatures and numparse._parse.signatures
    assert numfmt._format_f32.signatures and numfmt._format_f64.signatures


def test_options_refuses_a_key_no_tmva_option_set_declares(capsys):
    # BookMethod would refuse Layot; the generic pretty-printer says so too, with the closest names
    assert main(["options", "Layot=TANH|64"]) == 2
    err = capsys.readouterr().err
    assert "unknown option 'Layot'" in err and "Layout" in err and len(err.strip().splitlines()) == 1
    assert main(["options", "!H:V:Layout=TANH|64,LINEAR:nTrain_Signal=100:SplitMode=Random"]) == 0


CV_OPTIONS = (
    "!V:Silent:AnalysisType=Classification:NumFolds=2:SplitType=Deterministic:"
    "SplitExpr=int([eventID])%int([NumFolds])"
)
CV_DNN = "!H:!V:RandomSeed=3:Layout=TANH|8,LINEAR:TrainingStrategy=MaxEpochs=3,BatchSize=50"
CV_JOB = """
[crossvalidation]
job_name = "TMVACrossValidation"
output = "TMVACV.root"
options = "{cv_options}"

[dataloader]
split = "nTest_Signal=1:nTest_Background=1:SplitMode=Block:!V"

[[variable]]
expression = "x"
[[variable]]
expression = "y"
[[spectator]]
expression = "eventID"

[[tree]]
source = "{input}:TreeS"
class = "Signal"
[[tree]]
source = "{input}:TreeB"
class = "Background"

[[method]]
type = "DL"
title = "DNN"
options = "{dnn}"
"""


def test_train_a_crossvalidation_job_does_what_the_python_calls_do(tmp_path, monkeypatch, capsys):
    """A [crossvalidation] job is TMVACrossValidation.C's calls: the combined weight file it writes gives,
    event by event, what the same CrossValidation run from Python gives, and every event's output comes
    from the fold whose number the split expression gives it."""
    import uproot

    from tmvacompat import DataLoader, load_weights
    from tmvacompat.crossvalidation import CrossValidation

    rng = np.random.default_rng(4)
    path = tmp_path / "cv_in.root"
    with uproot.recreate(path) as f:
        for i, (name, mean) in enumerate((("TreeS", 0.7), ("TreeB", -0.7))):
            f.mktree(name, {"x": np.float32, "y": np.float32, "eventID": np.int32})
            f[name].extend({
                "x": rng.normal(mean, 1, 300).astype(np.float32),
                "y": rng.normal(0, 1, 300).astype(np.float32),
                "eventID": np.arange(i * 300, (i + 1) * 300, dtype=np.int32),
            })  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.toml").write_text(CV_JOB.format(input=path, cv_options=CV_OPTIONS, dnn=CV_DNN))
    assert main(["train", "job.toml"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    combined = tmp_path / "dataset" / "weights" / "TMVACrossValidation_DNN.weights.xml"
    assert f"weight file: {combined.relative_to(tmp_path)}" in out and "output file: TMVACV.root" in out
    job_model = load_weights(combined)

    loader = DataLoader("dataset")
    loader.AddVariable("x")
    loader.AddVariable("y")
    loader.AddSpectator("eventID")
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree("", "nTest_Signal=1:nTest_Background=1:SplitMode=Block:!V")
    (tmp_path / "py").mkdir()
    monkeypatch.chdir(tmp_path / "py")
    cv = CrossValidation("TMVACrossValidation", loader, None, CV_OPTIONS)
    cv.BookMethod("DL", "DNN", CV_DNN)
    cv.Evaluate()
    events = {"x": rng.normal(size=50), "y": rng.normal(size=50), "eventID": np.arange(50)}
    np.testing.assert_array_equal(job_model.evaluate(events), cv.models["DNN"].evaluate(events))
    folds = [load_weights(tmp_path / "dataset" / "weights" / f"TMVACrossValidation_DNN_fold{k}.weights.xml")
             for k in (1, 2)]  # fmt: skip
    by_fold = np.where(events["eventID"] % 2 == 0, folds[0].evaluate(events), folds[1].evaluate(events))
    np.testing.assert_array_equal(job_model.evaluate(events), by_fold)


def test_a_job_with_both_factory_and_crossvalidation_is_refused(tmp_path, capsys):
    job = CV_JOB.format(input="in.root", cv_options=CV_OPTIONS, dnn=CV_DNN)
    (tmp_path / "job.toml").write_text("[factory]\n" + job)
    _one_line_error(capsys, 2, ["train", str(tmp_path / "job.toml")], "either [factory]", "not both")
