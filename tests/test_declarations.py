"""Declared options against what real TMVA wrote (order, defaults) and TMVA's Factory and DataLoader."""

from __future__ import annotations

import pytest
from conftest import VECTORS
from defusedxml import ElementTree

from tmvacompat.errors import LayoutError, OptionError
from tmvacompat.layout import parse_layout
from tmvacompat.methods.declarations import (
    AE_OPTIONS,
    BASE_OPTIONS,
    DL_OPTIONS,
    DNN_OPTIONS,
    FACTORY_OPTIONS,
    PREPARE_OPTIONS,
    check_validation_size,
)
from tmvacompat.options import training_phases
from tmvacompat.specs import AutoencoderLayout, DenseSpec


def _options(name: str) -> tuple[str, list[tuple[str, str, bool]]]:
    if not VECTORS.is_dir():
        pytest.skip(f"TMVA test vectors not found at {VECTORS} (../shared/vectors beside the checkout)")
    path = next(VECTORS.glob(f"*/{name}"))
    root = ElementTree.parse(path).getroot()
    opts = [(o.get("name"), o.text or "", o.get("modified") == "Yes") for o in root.find("Options")]
    return root.get("Method").split("::")[0], opts


@pytest.mark.parametrize(
    ("name", "decls"),
    [
        ("TMVAClassification_DNN_CPU.weights.xml", DL_OPTIONS),
        ("TMVAMulticlass_DL_CPU.weights.xml", DL_OPTIONS),
        ("TMVAClassification_DNN.weights.xml", DNN_OPTIONS),
    ],
)
def test_declaration_order_is_the_order_tmva_writes(name, decls):
    _, opts = _options(name)
    assert decls.names == [n for n, _, _ in opts]


def test_defaults_equal_what_tmva_wrote_for_unmodified_options():
    _, opts = _options("TMVAClassification_DNN_CPU.weights.xml")
    defaults = DL_OPTIONS.defaults()
    checked = 0
    for name, text, modified in opts:
        if not modified and name != "VerbosityLevel":  # TMVA overwrites VerbosityLevel when V is set
            assert defaults.as_text(name) == text, name
            checked += 1
    assert checked >= 5


def test_base_options_come_first_in_every_method_in_tmva_order():
    _, opts = _options("TMVAMulticlass_PDEFoam.weights.xml")
    assert [n for n, _, _ in opts][: len(BASE_OPTIONS)] == BASE_OPTIONS.names
    _, mlp = _options("TMVAMulticlass_MLP.weights.xml")
    names = [n for n, _, _ in mlp]
    assert [n for n in names if n in BASE_OPTIONS] == BASE_OPTIONS.names


def test_dl_default_layout_and_strategy():
    d = DL_OPTIONS.defaults()
    assert parse_layout(d.Layout) == [DenseSpec("(N+100)*2", "SOFTSIGN"), DenseSpec(0, "LINEAR")]
    (ph,) = training_phases(d.TrainingStrategy)
    assert (ph.learning_rate, ph.momentum, ph.convergence_steps, ph.max_epochs) == (1e-3, 0.0, 100, 2000)
    assert (ph.batch_size, ph.test_repetitions, ph.weight_decay, ph.drop_config) == (30, 1, 0.0, (0.0,))


def test_ae_defaults():
    d = AE_OPTIONS.defaults()
    ae = parse_layout(d.Layout)
    assert isinstance(ae, AutoencoderLayout)
    assert ae.encoder == (DenseSpec("(N+100)*2", "SOFTSIGN"),) and ae.decoder == (DenseSpec(0, "LINEAR"),)
    p1, p2 = training_phases(d.TrainingStrategy)
    assert (p1.learning_rate, p1.repetitions, p1.batch_size, p1.max_epochs) == (0.1, 3, 30, 2000)
    assert (p2.learning_rate, p2.weight_decay, p2.drop_config, p2.batch_size) == (
        1e-4,
        1e-3,
        (0.0, 0.5, 0.5),
        20,
    )
    # the GSoC MethodAE has no RandomSeed/ValidationSize; tmvacompat's reads them after the GSoC options
    names = [n for n, _ in AE_OPTIONS.defaults().items()]
    assert names.index("TrainingStrategy") < names.index("RandomSeed") < names.index("ValidationSize")
    assert AE_OPTIONS.parse("Layout=DENSE|4|RELU,LINEAR").Layout == "DENSE|4|RELU,LINEAR"


def test_dl_checks_report_positions_in_the_whole_option_string():
    text = "!H:V:Layout=DENSE|64|TANH,CONV|10|3|x|1|1|1|1|RELU:ErrorStrategy=CROSSENTROPY"
    with pytest.raises(LayoutError) as err:
        DL_OPTIONS.parse(text)
    assert err.value.token == "x" and err.value.position == text.index("|x|") + 1
    text = "InputLayout=1|8|y"
    with pytest.raises(LayoutError) as err:
        DL_OPTIONS.parse(text)
    assert err.value.position == text.rindex("y") == 16
    with pytest.raises(LayoutError, match="MethodAE"):
        DL_OPTIONS.parse("Layout=Encoder={DENSE|4}Decoder={DENSE|0}")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("20%", True),
        ("0.2", True),
        ("100", True),
        ("20.5%", True),
        ("0", False),
        ("abc", False),
        ("-3", False),
        ("120%", False),
    ],
)
def test_validation_size(text, ok):
    if ok:
        check_validation_size(text)
        assert DL_OPTIONS.parse(f"ValidationSize={text}").ValidationSize == text
    else:
        with pytest.raises(OptionError):
            DL_OPTIONS.parse(f"ValidationSize={text}")


def test_factory_options_from_tutorials():
    text = "!V:!Silent:Color:DrawProgressBar:Transformations=I;D;P;G,D:AnalysisType=Classification"
    f = FACTORY_OPTIONS.parse(text)
    assert (f.V, f.Silent, f.Color, f.DrawProgressBar) == (False, False, True, True)
    assert f.Transformations == "I;D;P;G,D" and f.AnalysisType == "Classification"
    assert FACTORY_OPTIONS.parse("AnalysisType=multiclass").AnalysisType == "Multiclass"
    d = FACTORY_OPTIONS.defaults()
    assert (d.AnalysisType, d.ROC, d.Correlations, d.ModelPersistence, d.VerboseLevel) == (
        "Auto",
        True,
        False,
        True,
        "Info",
    )
    with pytest.raises(OptionError) as err:
        FACTORY_OPTIONS.parse("AnalysisType=Clasification")
    assert err.value.expected == ["Classification", "Regression", "Multiclass", "Auto"]


def test_prepare_options_and_per_class_patterns():
    p = PREPARE_OPTIONS.parse(
        "nTrain_Signal=1000:nTrain_Background=2000:SplitMode=random:NormMode=NumEvents:!V"
    )
    assert (p.nTrain_Signal, p.nTrain_Background, p.SplitMode, p.NormMode) == (
        1000,
        2000,
        "Random",
        "NumEvents",
    )
    assert (p.SplitSeed, p.MixMode, p.ScaleWithPreselEff) == (100, "SameAsSplitMode", False)
    m = PREPARE_OPTIONS.parse("nTrain_bg0=500:nTest_bg0=100:TrainTestSplit_Signal=0.7:SplitMode=Alternate")
    assert (m["nTrain_bg0"], m["nTest_bg0"], m["TrainTestSplit_Signal"]) == (500, 100, 0.7)
    assert m.modified("nTrain_bg0") and [k for k, _ in m.items()][-3:] == [
        "nTrain_bg0",
        "nTest_bg0",
        "TrainTestSplit_Signal",
    ]
    assert m.as_text("TrainTestSplit_Signal") == "7.000000e-01"
    with pytest.raises(OptionError, match="integer"):
        PREPARE_OPTIONS.parse("nTrain_bg0=many")
    with pytest.raises(OptionError) as err:
        PREPARE_OPTIONS.parse("nTrian_Signal=10")
    assert "nTrain_Signal" in err.value.expected
    with pytest.raises(OptionError):
        PREPARE_OPTIONS.parse("NormMode=Equal")


def test_old_dnn_defaults_parse():
    d = DNN_OPTIONS.defaults()
    assert parse_layout(d.Layout) == [DenseSpec("(N+100)*2", "SOFTSIGN"), DenseSpec(0, "LINEAR")]
    assert len(training_phases(d.TrainingStrategy)) == 2


def test_dnn_default_strategy_is_methoddnns_and_trains_with_sgd():
    """MethodDNN::DeclareOptions: two phases (batch 30 then 20), no MaxEpochs, no Optimizer key."""
    default = DNN_OPTIONS["TrainingStrategy"].default
    assert "MaxEpochs" not in default and "Optimizer" not in default
    phases = training_phases(default, method="DNN")
    assert [p.batch_size for p in phases] == [30, 20]
    assert [p.optimizer for p in phases] == ["SGD", "SGD"] and [p.momentum for p in phases] == [0.3, 0.3]
    assert DNN_OPTIONS["Layout"].default == "SOFTSIGN|(N+100)*2,LINEAR"


def test_dnn_booking_becomes_the_dl_options_of_the_same_network():
    """MethodDNN::ProcessOptions replaces the last layer by one linear unit per output."""
    import warnings

    from tmvacompat.methods.dl import MethodDNN
    from tmvacompat.options import TMVACompatWarning

    with pytest.warns(TMVACompatWarning, match="becomes DENSE\\|0\\|LINEAR"):
        m = MethodDNN("DNN", "!H:Layout=RELU|16,TANH|1:ErrorStrategy=SUMOFSQUARES")
    assert m.options.Layout == "DENSE|16|RELU,DENSE|0|LINEAR"
    assert m.options.ErrorStrategy == "SUMOFSQUARES" and m.options.modified("ErrorStrategy")
    assert [p.batch_size for p in m.phases] == [30, 20]
    with warnings.catch_warnings():
        warnings.simplefilter("error", TMVACompatWarning)
        DL_OPTIONS.parse(m.options.option_string(only_modified=False))  # canonical DL options, no warning
    with pytest.raises(LayoutError, match="only dense layers"):
        MethodDNN("CNN", "Layout=CONV|2|3|3|1|1|1|1|RELU,LINEAR")


def test_batch_layout_that_disagrees_with_batch_size_is_refused_at_booking():
    """MethodDL::TrainDeepNet stops with 'Given batch height ... should be equal to given batch size'."""
    from tmvacompat.methods.dl import MethodDL
    from tmvacompat.options import TMVACompatWarning

    with pytest.raises(LayoutError, match="Given batch height of 128 .* batch size 100"):
        MethodDL("DL", "BatchLayout=1|128|7:TrainingStrategy=BatchSize=100")
    with pytest.raises(LayoutError, match="Given batch depth of 64"):
        MethodDL("DL", "InputLayout=1|8|8:BatchLayout=64|1|64:TrainingStrategy=BatchSize=32")
    with pytest.raises(LayoutError, match="phase 2"):
        MethodDL("DL", "BatchLayout=1|100|7:TrainingStrategy=BatchSize=100|BatchSize=50")
    with pytest.warns(TMVACompatWarning, match="keep only the phases before it"):
        MethodDL("DL", "TrainingStrategy=BatchSize=100|BatchSize=50")


def test_kdnn_booking_trains_and_writes_a_dl_weight_file(tmp_path):
    import numpy as np

    from tmvacompat import DataSet, Factory, Types, load_weights
    from tmvacompat.data.loader import DataLoader
    from tmvacompat.options import TMVACompatWarning

    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, 2)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    ds = DataSet.from_arrays(X[:600], y[:600], X[600:], y[600:])
    loader = DataLoader("ds")
    loader.GetDataSet = lambda: ds  # the DataSet directly, no trees
    factory = Factory("job", None, "Silent:!DrawProgressBar")
    with pytest.warns(TMVACompatWarning, match="trained as MethodDL"):
        method = factory.BookMethod(
            loader,
            Types.kDNN,
            "DNN",
            "!H:!V:Layout=TANH|8,LINEAR",
            TrainingStrategy="LearningRate=5e-2,Momentum=0.9,BatchSize=32,ConvergenceSteps=4,TestRepetitions=1",
        )
    path = tmp_path / "job_DNN.weights.xml"
    method.train(ds, weight_file=str(path))
    root = ElementTree.parse(path).getroot()
    assert root.get("Method") == "DL::DNN"
    opts = {o.get("name"): o.text for o in root.find("Options")}
    assert opts["Layout"] == "DENSE|8|TANH,DENSE|0|LINEAR" and "Optimizer=SGD" in opts["TrainingStrategy"]
    values = load_weights(str(path)).evaluate(X[600:])
    accuracy = np.mean((values > 0.5) == (y[600:] == 0))
    assert accuracy > 0.9
