"""The option grammar against real TMVA weight files, the spec's quoted strings, and property tests."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from conftest import VECTORS
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.errors import LayoutError, OptionError
from tmvacompat.methods.declarations import DL_OPTIONS, DNN_OPTIONS
from tmvacompat.options import (
    OPTIMIZER_PARAMS,
    Option,
    OptionSet,
    TMVACompatWarning,
    format_training_strategy,
    parse_options,
    parse_training_strategy,
    training_phases,
)
from tmvacompat.specs import TrainingPhase

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "tmva-reference.md"


def _weight_files() -> list[Path]:
    return sorted(VECTORS.glob("*/*.weights.xml")) if VECTORS.is_dir() else []


def _needs_vectors() -> None:
    if not VECTORS.is_dir():
        pytest.skip(f"TMVA test vectors not found at {VECTORS} (../shared/vectors beside the checkout)")


def _xml_options(path: Path) -> tuple[str, list[tuple[str, str, bool]]]:
    """(method type, [(name, text, modified)]) from a weight file's <Options>, as TMVA wrote them."""
    root = ElementTree.parse(path).getroot()
    method = root.get("Method").split("::")[0]
    opts = [(o.get("name"), o.text or "", o.get("modified") == "Yes") for o in root.find("Options")]
    return method, opts


@pytest.fixture(scope="module")
def weight_files() -> list[Path]:
    _needs_vectors()
    files = _weight_files()
    assert files, "no *.weights.xml in the vectors folder"
    return files


# --------------------------------------------------------------------------------------------------------
# Real weight files.


def test_generic_grammar_reads_every_weight_file_option_string(weight_files):
    """Every method's options (DL, DNN, MLP, PDEFoam) rebuilt as Name=Value:... split back exactly."""
    for path in weight_files:
        _, opts = _xml_options(path)
        text = ":".join(f"{n}={v}" for n, v, _ in opts)
        parsed = parse_options(text)
        assert list(parsed.items()) == [(n, v) for n, v, _ in opts], path.name


@pytest.mark.parametrize("kind", ["DL", "DNN"])
def test_dl_and_dnn_weight_file_options_parse_typed_and_write_back_identically(weight_files, kind):
    decls = {"DL": DL_OPTIONS, "DNN": DNN_OPTIONS}[kind]
    seen = 0
    for path in weight_files:
        method, opts = _xml_options(path)
        if method != kind:
            continue
        seen += 1
        text = ":".join(f"{n}={v}" for n, v, _ in opts)
        vals = decls.parse(text)
        # TMVA's own <Option> texts are the truth for as_text (bools True/False, strings as written).
        assert [(n, vals.as_text(n)) for n, _, _ in opts] == [(n, v) for n, v, _ in opts], path.name
        # the mapping form with the XML's modified flags
        from_xml = decls.parse({n: v for n, v, _ in opts}, modified=[n for n, _, m in opts if m])
        assert [from_xml.modified(n) for n, _, _ in opts] == [m for _, _, m in opts]
        # round trip: write every option, parse again, same typed values
        again = decls.parse(vals.option_string(only_modified=False))
        assert again.items() == vals.items()
        # the TrainingStrategy inside parses and round-trips through the canonical writer
        phases = training_phases(vals.TrainingStrategy)
        assert training_phases(format_training_strategy(phases)) == phases
    assert seen, f"no {kind}:: weight file among the vectors"


def test_training_strategy_of_real_dl_file_matches_its_text(weight_files):
    path = next(p for p in weight_files if p.name == "TMVAClassification_DNN_CPU.weights.xml")
    _, opts = _xml_options(path)
    ts = dict((n, v) for n, v, _ in opts)["TrainingStrategy"]
    (ph,) = parse_training_strategy(ts)
    # values written in the file; the rest TMVA's per-phase fallbacks (spec 1.4 table)
    assert ph["LearningRate"] == 1e-2 and ph["Momentum"] == 0.9 and ph["ConvergenceSteps"] == 20
    assert ph["BatchSize"] == 100 and ph["TestRepetitions"] == 1 and ph["WeightDecay"] == 1e-4
    assert ph["Regularization"] == "NONE" and ph["DropConfig"] == (0.0, 0.5, 0.5, 0.5)
    assert ph["MaxEpochs"] == 2000 and ph["Optimizer"] == "ADAM" and ph["Multithreading"] is True
    assert (ph["ADAM_beta1"], ph["ADAM_beta2"], ph["ADAM_eps"]) == (0.9, 0.999, 1e-7)


def test_old_dnn_strategy_with_ignored_keys(weight_files):
    path = next(p for p in weight_files if "privdonut" in str(p) and "DNN" in p.name)
    _, opts = _xml_options(path)
    ts = dict((n, v) for n, v, _ in opts)["TrainingStrategy"]
    (ph,) = parse_training_strategy(ts)
    assert ph["Repetitions"] == 1 and ph["DropRepetitions"] == 1 and ph["Multithreading"] is True
    assert ph["LearningRate"] == 0.1 and ph["Regularization"] == "NONE" and ph["MaxEpochs"] == 2000


def test_float_option_text_matches_tmva_xml(weight_files):
    """TMVA writes Option<Double_t> with std::scientific: the MLP file's LearningRate is the truth."""
    path = next(p for p in weight_files if p.name == "TMVAClassification_MLP.weights.xml")
    _, opts = _xml_options(path)
    decls = OptionSet("MLP", [Option("LearningRate", float, 0.02), Option("DecayRate", float, 0.01)])
    texts = {n: v for n, v, _ in opts}
    vals = decls.parse({"LearningRate": texts["LearningRate"], "DecayRate": texts["DecayRate"]})
    assert vals.as_text("LearningRate") == texts["LearningRate"] == "2.000000e-02"
    assert vals.as_text("DecayRate") == texts["DecayRate"]


# --------------------------------------------------------------------------------------------------------
# Strings quoted in the spec (section 1.6 and the defaults of 1.3/1.4).

SPEC_OPTION_STRINGS = [
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=N:WeightInitialization=XAVIERUNIFORM:Architecture=CPU",
    "!H:V:ErrorStrategy=SUMOFSQUARES:VarTransform=G:WeightInitialization=XAVIERUNIFORM:Architecture=CPU",
    "!H:V:ErrorStrategy=CROSSENTROPY:VarTransform=None:WeightInitialization=XAVIER",
    "InputLayout=1|1|256:BatchLayout=1|100|256:Layout=DENSE|100|RELU,BNORM,DENSE|100|RELU,BNORM,DENSE|100|RELU,"
    "BNORM,DENSE|100|RELU,DENSE|1|LINEAR",
    "InputLayout=1|16|16:BatchLayout=100|1|256:Layout=CONV|10|3|3|1|1|1|1|RELU,BNORM,CONV|10|3|3|1|1|1|1|RELU,"
    "MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|100|RELU,DENSE|1|LINEAR",
    "InputLayout=10|1:Layout=LSTM|12|1|10|0|1,RESHAPE|FLAT,DENSE|64|RELU,LINEAR",
    "Layout=TANH|128,TANH|128,TANH|128,LINEAR",
    "Layout=TANH|50,TANH|50,TANH|50,LINEAR",
]
SPEC_STRATEGIES = [
    "LearningRate=1e-2,Momentum=0.9,ConvergenceSteps=20,BatchSize=100,TestRepetitions=1,WeightDecay=1e-4,"
    "Regularization=None,DropConfig=0.0+0.5+0.5+0.5",
    "LearningRate=1e-3,Momentum=0.9,Repetitions=1,ConvergenceSteps=5,BatchSize=100,TestRepetitions=1,"
    "MaxEpochs=20,WeightDecay=1e-4,Regularization=None,Optimizer=ADAM,DropConfig=0.0+0.0+0.0+0.0",
    "LearningRate=1e-3,Momentum=0.0,Repetitions=1,ConvergenceSteps=5,BatchSize=100,TestRepetitions=1,"
    "WeightDecay=1e-2,Regularization=None,MaxEpochs=50,Optimizer=ADAM,DropConfig=0.0+0.+0.+0.",
    "LearningRate=1e-3,Momentum=0.0,ConvergenceSteps=100,MaxEpochs=2000,Optimizer=ADAM,BatchSize=30,"
    "TestRepetitions=1,WeightDecay=0.0,Regularization=None,DropConfig=0.0",
    "LearningRate=1e-1,Momentum=0.3,Repetitions=3,ConvergenceSteps=50,BatchSize=30,TestRepetitions=7,"
    "WeightDecay=0.0,Regularization=None,DropConfig=0.0,DropRepetitions=5|LearningRate=1e-4,Momentum=0.3,"
    "Repetitions=3,ConvergenceSteps=50,MaxEpochs=2000,BatchSize=20,TestRepetitions=7,WeightDecay=0.001,"
    "Regularization=L2,DropConfig=0.0+0.5+0.5,DropRepetitions=5,Multithreading=True",
]


@pytest.mark.parametrize("text", SPEC_OPTION_STRINGS)
def test_spec_option_strings_parse_and_round_trip(text):
    vals = DL_OPTIONS.parse(text)
    for piece in text.split(":"):
        key = piece.lstrip("!").split("=")[0]
        assert vals.modified(key)
    assert DL_OPTIONS.parse(vals.option_string()) == vals


@pytest.mark.parametrize("text", SPEC_STRATEGIES)
def test_spec_strategies_parse_and_round_trip(text):
    phases = training_phases(text)
    assert len(phases) == text.count("|") + 1
    assert training_phases(format_training_strategy(phases)) == phases
    # every explicit KEY=VALUE ends up in the typed phase
    for block, phase in zip(text.split("|"), parse_training_strategy(text), strict=True):
        for item in block.split(","):
            key, value = item.split("=")
            if key == "DropConfig":
                assert phase[key] == tuple(float(v) for v in value.split("+"))
            elif key in ("Regularization", "Optimizer"):
                assert phase[key] == value.upper()
            elif key == "Multithreading":
                assert phase[key] is True
            else:
                assert phase[key] == type(phase[key])(float(value))


def test_spec_file_strings_still_present():
    """The strings above are copied from the spec; fail if the spec changes them."""
    if not SPEC.is_file():
        pytest.skip(f"spec not found at {SPEC}")
    text = SPEC.read_text()
    for s in ["LearningRate=1e-3,Momentum=0.9,Repetitions=1,ConvergenceSteps=5", "Layout=TANH|128,TANH|128"]:
        assert s in text


def test_regression_tutorial_optimizer_adam_warns_but_means_adam():
    text = (
        "LearningRate=1e-3,Momentum=0.3,ConvergenceSteps=20,BatchSize=50,TestRepetitions=1,WeightDecay=0.0,"
        "Regularization=None,Optimizer=Adam"
    )
    with pytest.warns(TMVACompatWarning, match="case-sensitively"):
        (ph,) = training_phases(text)
    assert ph.optimizer == "ADAM" and ph.batch_size == 50


# --------------------------------------------------------------------------------------------------------
# The generic grammar.


def test_parse_options_flags_values_braces_and_whitespace():
    text = (
        " !H : V :Layout=Encoder={DENSE|8|TANH:x}Decoder={DENSE|0|LINEAR}: TrainingStrategy = A=1,B=2|C=3 :"
    )
    assert parse_options(text) == {
        "H": False,
        "V": True,
        "Layout": "Encoder={DENSE|8|TANH:x}Decoder={DENSE|0|LINEAR}",
        "TrainingStrategy": "A=1,B=2|C=3",
    }


@pytest.mark.parametrize(("text", "token"), [("A=1:B={x:y", "{"), ("A=1:B=x}:C", "}"), ("A={{x}", "{")])
def test_unbalanced_braces_give_position(text, token):
    with pytest.raises(OptionError) as err:
        parse_options(text)
    assert err.value.token == token
    assert text[err.value.position] == token


def test_repeated_key_last_wins_with_warning():
    with pytest.warns(TMVACompatWarning, match="more than once"):
        assert parse_options("A=1:a=2") == {"a": "2"}
    with pytest.warns(TMVACompatWarning, match="last value wins"):
        vals = DL_OPTIONS.parse("RandomSeed=1:randomseed=7")
    assert vals.RandomSeed == 7


def test_names_and_predefined_values_case_insensitive_stored_canonically():
    vals = DL_OPTIONS.parse("errorstrategy=sumofsquares:ARCHITECTURE=cpu:weightinitialization=XavierUniform")
    assert (vals.ErrorStrategy, vals.Architecture, vals.WeightInitialization) == (
        "SUMOFSQUARES",
        "CPU",
        "XAVIERUNIFORM",
    )
    assert vals.modified("ErrorStrategy") and not vals.modified("Layout")
    assert vals["errorstrategy"] == vals.ErrorStrategy


@pytest.mark.parametrize(
    ("text", "value"),
    [("True", True), ("false", False), ("T", True), ("f", False), ("1", True), ("0", False), ("kTRUE", True)],
)
def test_boolean_spellings_tmva_accepts(text, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DL_OPTIONS.parse(f"CreateMVAPdfs={text}").CreateMVAPdfs is value


@pytest.mark.parametrize("text", ["yes", "No", "on", "2", "truee"])
def test_other_boolean_spellings_are_refused_as_tmva_refuses_them(text):
    """Option<Bool_t>::SetValueLocal knows 1/true/ktrue/t and 0/false/kfalse/f (lower-cased) and aborts with
    "can not be interpreted as boolean" on anything else."""
    with pytest.raises(OptionError, match="can not be interpreted as boolean"):
        DL_OPTIONS.parse(f"H={text}")


def test_unknown_key_names_key_method_suggestion_and_position():
    text = "!H:V:ErrorStrategi=CROSSENTROPY"
    with pytest.raises(OptionError) as err:
        DL_OPTIONS.parse(text)
    e = err.value
    assert e.token == "ErrorStrategi" and e.position == text.index("ErrorStrategi")
    assert "ErrorStrategy" in e.expected and "DL" in str(e) and "could not be interpreted" in str(e)


def test_training_strategy_key_at_top_level_points_to_training_strategy():
    with pytest.raises(OptionError, match="TrainingStrategy key"):
        DL_OPTIONS.parse("!H:BatchSize=100")


def test_value_outside_allowed_set_lists_allowed_values():
    text = "!H:ErrorStrategy=CROSSENTROPYY"
    with pytest.raises(OptionError) as err:
        DL_OPTIONS.parse(text)
    assert err.value.expected == ["CROSSENTROPY", "SUMOFSQUARES", "MUTUALEXCLUSIVE"]
    assert err.value.position == text.index("CROSSENTROPYY")


def test_wrong_type_names_option_value_and_type():
    decls = OptionSet("DL", [Option("BatchSize", int, 30), Option("Rate", float, 0.1)])
    text = "Rate=0.5:BatchSize=abc"
    with pytest.raises(OptionError) as err:
        decls.parse(text)
    msg = str(err.value)
    assert "BatchSize" in msg and "'abc'" in msg and "integer" in msg
    assert err.value.position == text.index("abc")
    with pytest.raises(OptionError, match="finite number"):
        decls.parse("Rate=nan")


def test_negating_a_non_boolean_and_bare_non_boolean_are_errors():
    with pytest.raises(OptionError, match="negated"):
        DL_OPTIONS.parse("!Layout")
    with pytest.raises(OptionError, match="without a value"):
        DL_OPTIONS.parse("RandomSeed")


def test_loose_option_bare_predefined_value_sets_its_option():
    """TMVA's loose option checking: a bare predefined value sets the option owning it."""
    vals = DL_OPTIONS.parse("!H:SUMOFSQUARES")
    assert vals.ErrorStrategy == "SUMOFSQUARES" and vals.modified("ErrorStrategy")


def test_string_value_with_blanks_warns_tmva_truncates():
    with pytest.warns(TMVACompatWarning, match="first blank"):
        vals = DL_OPTIONS.parse("VarTransform=N, G")
    assert vals.VarTransform == "N, G"


def test_values_object_is_frozen_ordered_and_updatable():
    vals = DL_OPTIONS.parse("RandomSeed=3:!H")
    assert [n for n, _ in vals.items()] == DL_OPTIONS.names
    with pytest.raises(AttributeError):
        vals.RandomSeed = 4
    newer = vals.with_updates(randomseed=5, ErrorStrategy="mutualexclusive")
    assert (newer.RandomSeed, newer.ErrorStrategy, vals.RandomSeed) == (5, "MUTUALEXCLUSIVE", 3)
    assert newer.modified("ErrorStrategy") and not vals.modified("ErrorStrategy")
    with pytest.raises(OptionError):
        vals.with_updates(RandomSeed="x")
    assert vals.as_text("H") == "False" and vals.as_text("RandomSeed") == "3"


def test_merged_option_sets_keep_order_and_replace():
    base = OptionSet("Base", [Option("V", bool, False), Option("H", bool, False)])
    merged = base.merged([Option("H", bool, True), Option("N", int, 1)], method="X")
    assert merged.names == ["V", "H", "N"] and merged["h"].default is True and merged.method == "X"


# --------------------------------------------------------------------------------------------------------
# TrainingStrategy details.


def test_missing_keys_take_tmva_per_phase_fallbacks():
    (ph,) = training_phases("BatchSize=64")
    assert ph == TrainingPhase(
        learning_rate=1e-5,
        momentum=0.3,
        repetitions=1,
        convergence_steps=100,
        max_epochs=2000,
        batch_size=64,
        test_repetitions=7,
        weight_decay=0.0,
        regularization="NONE",
        drop_config=(),
        optimizer="ADAM",
        multithreading=True,
        optimizer_params={"beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    )


@pytest.mark.parametrize(
    ("opt", "params"),
    [
        ("SGD", {}),
        ("ADAGRAD", {"eps": 1e-8}),
        ("RMSPROP", {"rho": 0.9, "eps": 1e-7}),
        ("ADADELTA", {"rho": 0.95, "eps": 1e-8}),
    ],
)
def test_optimizer_parameter_defaults(opt, params):
    (ph,) = training_phases(f"Optimizer={opt}")
    assert ph.optimizer == opt and ph.optimizer_params == params


def test_optimizer_parameters_are_read_case_insensitively():
    (ph,) = training_phases("Optimizer=ADAM,adam_BETA1=0.8,ADAM_eps=1e-6")
    assert ph.optimizer_params == {"beta1": 0.8, "beta2": 0.999, "eps": 1e-6}


def test_parameter_of_other_optimizer_warns():
    with pytest.warns(TMVACompatWarning, match="no effect"):
        (ph,) = training_phases("Optimizer=SGD,ADAM_beta1=0.5")
    assert ph.optimizer_params == {}


@pytest.mark.parametrize(("value", "canon"), [("Sgd", "SGD"), ("rmsprop", "RMSPROP")])
def test_optimizer_lower_case_warns_tmva_would_use_adam(value, canon):
    with pytest.warns(TMVACompatWarning, match="default ADAM"):
        (ph,) = training_phases(f"Optimizer={value}")
    assert ph.optimizer == canon


def test_regularization_lower_case_warns_tmva_would_not_regularize():
    with pytest.warns(TMVACompatWarning, match="WITHOUT regularization"):
        (ph,) = training_phases("Regularization=l2,WeightDecay=1e-3")
    assert ph.regularization == "L2"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert training_phases("Regularization=None")[0].regularization == "NONE"


@pytest.mark.parametrize(
    ("text", "token", "match"),
    [
        ("BatchSize=0", "0", ">= 1"),
        ("BatchSize=x10", "x10", "silently read 0"),
        ("LearningRate=-1", "-1", ">= 0"),
        ("DropConfig=0.0+1.5", "1.5", r"\[0, 1\)"),
        ("LearningRate=0.1|Momentum=x", "x", "number"),
    ],
)
def test_training_strategy_errors_name_token_and_position(text, token, match):
    with pytest.raises(OptionError, match=match) as err:
        parse_training_strategy(text)
    assert err.value.token == token
    assert text[err.value.position : err.value.position + len(token)] == token


def test_duplicate_key_in_phase_first_wins_like_tmva():
    with pytest.warns(TMVACompatWarning, match="first value"):
        (ph,) = training_phases("BatchSize=10,BatchSize=20")
    assert ph.batch_size == 10


def test_empty_strategy_is_an_error_and_empty_pieces_are_skipped():
    with pytest.raises(OptionError):
        parse_training_strategy(" | ")
    assert len(training_phases("BatchSize=10,,|BatchSize=20|")) == 2


def test_strategy_errors_inside_option_string_have_whole_string_positions():
    text = "!H:TrainingStrategy=LearningRate=1e-3,BatchSize=0:RandomSeed=1"
    with pytest.raises(OptionError) as err:
        DL_OPTIONS.parse(text)
    assert err.value.position == text.index("0:Random")


@pytest.mark.parametrize(
    ("text", "match", "key", "value"),
    [
        ("LearningRate=1e-3,MaxEpoch=5", "did you mean MaxEpochs", "MaxEpochs", 2000),
        ("LearningRate=1e-3,BatchSize", "KEY=VALUE", "BatchSize", 30),
        ("LearningRate=1e-3,=5", "KEY=VALUE", "LearningRate", 1e-3),
        ("Optimizer=NADAM", "silently uses ADAM", "Optimizer", "ADAM"),
        ("Regularization=L3", "without regularization", "Regularization", "NONE"),
        ("BatchSize=", "keeps its default", "BatchSize", 30),
    ],
)
def test_what_tmva_ignores_in_a_strategy_is_ignored_with_a_warning(text, match, key, value):
    """MethodDL::ParseKeyValueString skips items without '=' (or with '=' first); fetchValueTmp looks up only
    the keys it knows, treats an empty value as missing, and the optimizer/regularization fall back to ADAM /
    none for an unknown name."""
    with pytest.warns(TMVACompatWarning, match=match):
        (phase,) = parse_training_strategy(text)
    assert phase[key] == value


def test_a_missing_comma_between_strategy_keys_reads_both_and_says_tmva_loses_the_second():
    """TMVA_RNN_Classification.C writes 'MaxEpochs=20"  "DropConfig=...': ParseKeyValueString splits at the
    first
    '=', so TMVA reads MAXEPOCHS='20DropConfig=0.0+0.+0.+0.' (Atoi: 20) and has no DropConfig."""
    text = "WeightDecay=1e-4,Regularization=None,MaxEpochs=20DropConfig=0.0+0.+0.+0.,Optimizer=ADAM"
    with pytest.warns(TMVACompatWarning, match="comma is missing before DropConfig") as rec:
        (phase,) = parse_training_strategy(text)
    assert phase["MaxEpochs"] == 20 and phase["DropConfig"] == (0.0, 0.0, 0.0, 0.0)
    assert "never sees DropConfig" in str(rec[0].message)
    with pytest.warns(TMVACompatWarning, match="before Momentum"):
        (phase,) = parse_training_strategy("LearningRate=1e-3Momentum=0.9BatchSize=64")
    assert (phase["LearningRate"], phase["Momentum"], phase["BatchSize"]) == (1e-3, 0.9, 64)


def test_strategy_blanks_are_removed_as_tmva_does():
    """ParseKeyValueString: parseString.ReplaceAll(" ", "") before splitting."""
    (phase,) = parse_training_strategy(" Learning Rate = 1e-2 , Batch Size = 5 0 ")
    assert phase["LearningRate"] == 1e-2 and phase["BatchSize"] == 50


@pytest.mark.parametrize(
    ("raw", "value", "warns"),
    [
        ("100", 100, False),
        ("100.0", 100, False),
        ("1e2", 100, True),
        ("100.7", 100, True),
        ("64abc", 64, True),
    ],
)
def test_integer_strategy_values_are_read_like_atoi_or_as_meant(raw, value, warns):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        (phase,) = parse_training_strategy(f"BatchSize={raw}")
    assert phase["BatchSize"] == value
    assert bool([w for w in rec if issubclass(w.category, TMVACompatWarning)]) is warns


def test_dnn_strategy_trains_with_sgd_and_warns_about_keys_methoddnn_ignores():
    """MethodDNN::ProcessOptions reads no MaxEpochs and no Optimizer (it always uses steepest descent with
    momentum); the same fallback table otherwise."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (phase,) = training_phases("LearningRate=1e-1,Momentum=0.9,BatchSize=256", method="DNN")
    assert phase.optimizer == "SGD" and phase.momentum == 0.9 and phase.max_epochs == 2000
    with pytest.warns(TMVACompatWarning, match="MethodDNN ignores it"):
        (phase,) = training_phases("MaxEpochs=30,Optimizer=ADAM", method="DNN")
    assert phase.optimizer == "ADAM" and phase.max_epochs == 30


# --------------------------------------------------------------------------------------------------------
# Property tests.

_GRAMMAR = st.text(alphabet=st.sampled_from(list("ABHVN=:!|,{}+-.e0123 _")), max_size=40)
_ANY = st.one_of(_GRAMMAR, st.text(max_size=40))


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_garbage_to_parse_options_only_raises_option_error(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parse_options(text)
        except OptionError:
            pass


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_garbage_to_option_set_raises_only_our_errors(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            DL_OPTIONS.parse(text)
        except (OptionError, LayoutError):
            pass


_TS_ALPHABET = st.text(alphabet=st.sampled_from(list("=,|+.-eE0123456789 ")), max_size=12)
_TS_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.tuples(
            st.sampled_from(["LearningRate", "BatchSize", "Optimizer", "DropConfig", "Foo", ""]), _TS_ALPHABET
        ),
        max_size=4,
    ).map(lambda items: ",".join(f"{k}={v}" for k, v in items)),
)


@settings(max_examples=300, deadline=None)
@given(_TS_TEXT)
def test_garbage_to_training_strategy_only_raises_option_error(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parse_training_strategy(text)
        except OptionError:
            pass


_FLOATS = st.floats(min_value=0, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def _phases(draw):
    opt = draw(st.sampled_from(sorted(OPTIMIZER_PARAMS)))
    params = {p: draw(st.one_of(st.just(v), _FLOATS)) for p, v in OPTIMIZER_PARAMS[opt].items()}
    return TrainingPhase(
        learning_rate=draw(_FLOATS),
        momentum=draw(_FLOATS),
        repetitions=draw(st.integers(0, 10)),
        convergence_steps=draw(st.integers(0, 1000)),
        max_epochs=draw(st.integers(1, 10**6)),
        batch_size=draw(st.integers(1, 10**4)),
        test_repetitions=draw(st.integers(1, 100)),
        weight_decay=draw(_FLOATS),
        regularization=draw(st.sampled_from(["NONE", "L1", "L2"])),
        drop_config=tuple(draw(st.lists(st.floats(0, 0.99, allow_nan=False), max_size=5))),
        optimizer=opt,
        multithreading=draw(st.booleans()),
        optimizer_params=params,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_phases(), min_size=1, max_size=3))
def test_generated_training_phases_round_trip(phases):
    assert training_phases(format_training_strategy(phases)) == phases


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


_SIMPLE = OptionSet(
    "T",
    [
        Option("Flag", bool, False),
        Option("Count", int, 3),
        Option("Rate", float, 0.5),
        Option("Mode", str, "A", allowed=("A", "Bee", "CEE")),
        Option("Text", str, "x"),
    ],
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "Flag": st.booleans(),
            "Count": st.integers(-(10**9), 10**9),
            "Mode": st.sampled_from(["a", "BEE", "cee"]),
            "Rate": _FLOATS,
            "Text": st.text(alphabet=st.sampled_from(list("abc|,=+{}")), min_size=1, max_size=10).filter(
                _balanced
            ),
        },
    )
)
def test_generated_option_values_round_trip_through_option_string(values):
    vals = _SIMPLE.parse(values)
    again = _SIMPLE.parse(vals.option_string())
    assert again == vals
    for key in values:
        assert vals.modified(key)


def test_option_values_pickle_for_multiprocessing():
    import pickle

    vals = DL_OPTIONS.parse("!H:V:RandomSeed=4")
    again = pickle.loads(pickle.dumps(vals))
    assert again == vals and again.modified("RandomSeed") and again.RandomSeed == 4


def _spec_code_spans() -> list[str]:
    if not SPEC.is_file():
        pytest.skip(f"spec not found at {SPEC}")
    return sorted({s.replace("\\|", "|") for s in re.findall(r"`([^`\n]+)`", SPEC.read_text())})


_PLACEHOLDERS = ("T|W", "TYPE|", "}Decoder=")  # grammar templates and the AE substring-bug illustration


def test_every_option_layout_and_strategy_string_quoted_in_the_spec():
    """Scan the spec's code spans: each option string, Layout, TrainingStrategy and AE layout parses and
    round-trips (format then parse gives the same typed result)."""
    from tmvacompat.layout import format_input_layout, format_layout, parse_input_layout, parse_layout

    counts = {"options": 0, "strategy": 0, "layout": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the regression tutorial's Optimizer=Adam
        for span in _spec_code_spans():
            if any(p in span for p in _PLACEHOLDERS):
                continue
            if span.startswith(("!H:", "Layout=", "InputLayout=", "BatchLayout=", "TrainingStrategy=")):
                vals = DL_OPTIONS.parse(span)
                assert DL_OPTIONS.parse(vals.option_string()) == vals, span
                counts["options"] += 1
            elif span.startswith("LearningRate="):
                phases = training_phases(span)
                assert training_phases(format_training_strategy(phases)) == phases, span
                counts["strategy"] += 1
            elif re.fullmatch(r"[0-9][0-9|]*", span):  # an InputLayout / BatchLayout value such as 0|0|0
                layout = parse_input_layout(span)
                assert parse_input_layout(format_input_layout(layout)) == layout
            elif span.startswith("Encoder={") or (
                re.fullmatch(r"[A-Z0-9|,()*+N-]*[A-Z0-9][A-Z0-9|,()*+N-]*", span) and "|" in span
            ):  # a layout (templates such as DENSE|width|act have lower-case words and are skipped)
                specs = parse_layout(span)
                assert parse_layout(format_layout(specs)) == specs, span
                counts["layout"] += 1
    assert counts["options"] >= 10 and counts["strategy"] >= 4 and counts["layout"] >= 4, counts


# --------------------------------------------------------------------------------------------------------
# What TMVA's readers accept, against the readers themselves (ROOT's TString and std::stringstream, through
# PyROOT) and Configurable::ParseOptions as read in Configurable.cxx / Option.h.


@pytest.fixture(scope="module")
def cxx():
    root = pytest.importorskip(
        "ROOT", reason="PyROOT (the 'root' package) is needed to run ROOT's own readers"
    )
    root.gInterpreter.Declare(
        """
        #include <sstream>
        int tmvacompat_ss_int(const char* s) { int v = 0; std::stringstream str(s); str >> v; return v; }
        double tmvacompat_ss_dbl(const char* s) {
            double v = 0; std::stringstream str(s); str >> v; return v;
        }
        """
    )
    return root


INT_TEXTS = [
    "30",
    "8000.0",
    "8000.7",
    "1e3",
    "20DropConfig=0.0+0.+0.+0.",
    " 12",
    "+5",
    "-3",
    "64abc",
    "1.5e3",
]


@pytest.mark.parametrize("text", INT_TEXTS)
def test_integer_reading_matches_stringstream_and_atoi_or_warns_with_their_value(cxx, text):
    """Option<int>::SetValueLocal reads with std::stringstream >> int; MethodDL's fetchValueTmp with
    TString::Atoi. Both take the leading integer. tmvacompat gives the same number, except where the text is
    a whole number written another way (1e3), where it gives the meant value and names TMVA's."""
    stream, atoi = cxx.tmvacompat_ss_int(text), cxx.TString(text).Atoi()
    assert stream == atoi
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = Option("N", int, 0).convert(text)
    messages = " ".join(str(w.message) for w in rec)
    meant = float(text) if re.fullmatch(r"\s*[+-]?[\d.]+(e\d+)?", text) else None
    if meant is not None and meant == int(meant) and int(meant) != stream:
        assert got == int(meant) and f"would take {stream}" in messages
    else:
        assert got == stream
        assert bool(rec) is (text.strip().lstrip("+") != str(stream) and text.strip() != f"{stream}.0")


@pytest.mark.parametrize("text", ["1e-3", "0.5", ".5", "5.", "1e-3abc", "2.5x", "-0.25"])
def test_float_reading_matches_stringstream_and_atof(cxx, text):
    assert Option("R", float, 0.0).convert(text) == cxx.tmvacompat_ss_dbl(text) == cxx.TString(text).Atof()


@pytest.mark.parametrize("text", ["abc", "", "x1"])
def test_text_without_a_number_is_refused_where_tmva_silently_reads_zero(cxx, text):
    assert cxx.tmvacompat_ss_int(text) == 0 and cxx.TString(text).Atoi() == 0
    if text:
        with pytest.raises(OptionError, match="silently read 0"):
            Option("N", int, 5).convert(text)


def test_nan_and_inf_are_refused():
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(OptionError, match="finite"):
            Option("R", float, 0.0).convert(text)


def test_python_float_event_counts_are_whole_numbers():
    """ROOT's Python tutorials pass nTrain_Signal=0.8*N, which PyROOT writes as '4000.0'."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Option("nTrain_Signal", int, 0).convert("4000.0") == 4000
        assert Option("nTrain_Signal", int, 0).convert(4000.0) == 4000


def test_empty_numeric_value_keeps_the_default_as_stringstream_does():
    """std::stringstream >> int on "" extracts nothing and leaves the variable (the default) unchanged."""
    with pytest.warns(TMVACompatWarning, match="keeps its default"):
        vals = DL_OPTIONS.parse("RandomSeed=")
    assert vals.RandomSeed == 0
    with pytest.raises(OptionError, match="can not be interpreted as boolean"):
        DL_OPTIONS.parse("V=")


@pytest.mark.parametrize(
    "text", ["!H: V", " !H:V", "!H:V :RandomSeed=1", "!H:RandomSeed =1", "!H: RandomSeed=1"]
)
def test_blanks_around_an_option_name_are_refused_as_tmva_cannot_match_it(text):
    """ParseOptions lower-cases the piece but keeps its blanks: ' v' matches no option, and
    CheckForUnusedOptions aborts ('could not be interpreted')."""
    with pytest.raises(OptionError, match="could not be interpreted"):
        DL_OPTIONS.parse(text)


def test_blanks_after_a_numeric_value_are_fine_and_inside_a_boolean_are_not():
    """stringstream >> int skips leading blanks and stops at trailing ones; Option<bool> compares the whole
    lower-cased value."""
    assert DL_OPTIONS.parse("RandomSeed= 5 :!H").RandomSeed == 5
    with pytest.raises(OptionError, match="blanks"):
        DL_OPTIONS.parse("V= True")


def test_empty_pieces_trailing_colons_and_tildes_set_nothing():
    """SplitOptions yields '' for '::' (no option, nothing unused) and nothing for a trailing ':';
    ParseOptions strips leading '~' (its own 'already parsed' mark)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vals = DL_OPTIONS.parse(":!H::~V:RandomSeed=3::")
    assert (vals.H, vals.V, vals.RandomSeed) == (False, True, 3)
    assert vals.modified("V") and not vals.modified("Layout")


def test_index_on_a_non_array_option_is_refused_with_tmvas_reason():
    with pytest.raises(OptionError, match="is not an array"):
        DL_OPTIONS.parse("RandomSeed[0]=3")


def test_bare_predefined_value_with_a_bang_still_sets_its_option():
    """ParseOptions drops the '!' while trying booleans, then loose checking matches the predefined value."""
    with pytest.warns(TMVACompatWarning, match="drops the '!'"):
        assert DL_OPTIONS.parse("!H:!CPU").Architecture == "CPU"
    assert DL_OPTIONS.parse("!H:V:GPU").Architecture == "GPU"


def test_predefined_values_compare_their_first_word_case_insensitively():
    """Option<TString>::IsPreDefinedVal reads the value with >> (first blank-delimited word), then compares
    lower-cased; SetValueLocal stores the declared spelling."""
    assert DL_OPTIONS.parse("ErrorStrategy=sumofsquares").ErrorStrategy == "SUMOFSQUARES"
    with pytest.warns(TMVACompatWarning, match="first word"):
        assert DL_OPTIONS.parse("ErrorStrategy=CROSSENTROPY extra").ErrorStrategy == "CROSSENTROPY"


def test_keyword_arguments_become_the_option_string_pyroot_builds():
    """ROOT's TMVA pythonization (_kwargs_to_tmva_cmdargs): bool -> Name/!Name, else Name=str(value)."""
    from tmvacompat.options import options_from_kwargs

    kwargs = {"nTrain_Signal": 0.8 * 5000, "V": False, "VarTransform": None, "SplitSeed": 100, "H": True}
    ours = options_from_kwargs("", **kwargs)
    assert ours == "nTrain_Signal=4000.0:!V:VarTransform=None:SplitSeed=100:H"
    root = pytest.importorskip("ROOT", reason="PyROOT's own kwargs conversion is the second implementation")
    from ROOT._pythonization._tmva._utils import _kwargs_to_tmva_cmdargs

    assert root is not None and _kwargs_to_tmva_cmdargs(**kwargs)[0] == (ours,)
