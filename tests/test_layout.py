"""The Layout / InputLayout / BatchLayout grammar: acceptance check, TMVA's forms, errors, property tests."""

from __future__ import annotations

import warnings

import pytest
from conftest import VECTORS
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from tmvacompat.errors import LayoutError
from tmvacompat.layout import (
    check_batch_layout,
    format_batch_layout,
    format_input_layout,
    format_layout,
    parse_ae_layout,
    parse_batch_layout,
    parse_input_layout,
    parse_layout,
)
from tmvacompat.options import TMVACompatWarning
from tmvacompat.specs import (
    ACTIVATION_CODES,
    AddSpec,
    AutoencoderLayout,
    BatchLayout,
    BatchNormSpec,
    ConcatSpec,
    ConvSpec,
    ConvTransposeSpec,
    DenseSpec,
    GRUSpec,
    InputLayout,
    LSTMSpec,
    MaxPoolSpec,
    Padding2DSpec,
    ReshapeSpec,
    RNNSpec,
)

ACCEPT = "CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|LINEAR"


def _layout_error(text: str) -> LayoutError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(LayoutError) as err:
            parse_layout(text)
    return err.value


# --------------------------------------------------------------------------------------------------------
# The acceptance check of the layout grammar.


def test_acceptance_five_specs():
    assert parse_layout(ACCEPT) == [
        ConvSpec(10, 3, 3, 1, 1, 1, 1, "RELU"),
        MaxPoolSpec(2, 2, 1, 1),
        ReshapeSpec(flatten=True),
        DenseSpec(64, "TANH"),
        DenseSpec(1, "LINEAR"),
    ]
    assert format_layout(parse_layout(ACCEPT)) == ACCEPT


@pytest.mark.parametrize(
    ("text", "token", "position"),
    [
        ("CONV|10|3|x|1|1|1|1|RELU", "x", 10),  # the documented example: "... 'x' at character 10 ..."
        (ACCEPT.replace("MAXPOOL|2|2|1|1", "MAXPOOL|2|2|1"), "1", ACCEPT.index("MAXPOOL") + 12),
        (ACCEPT.replace("RELU", "RELUU"), "RELUU", ACCEPT.index("RELU")),
        (ACCEPT.replace("DENSE|64", "DENSE|-64"), "-64", ACCEPT.index("DENSE|64") + 6),
        (ACCEPT.replace("DENSE|64", "DENSE|6.4.1"), "6.4.1", ACCEPT.index("DENSE|64") + 6),
        (ACCEPT.replace("RESHAPE|FLAT", "RESHAPE|FLT"), "FLT", ACCEPT.index("FLAT")),
        (ACCEPT.replace("DENSE|1|LINEAR", "DENSE|1|LINEAR|TANH"), "TANH", len(ACCEPT) + 1),
        (ACCEPT + ",FOO|3", "FOO", len(ACCEPT) + 1),
        ("CONV|10|3|3|1|1|-1|1|RELU", "-1", 16),
        ("CONV|10|3|3|1|1|1|RELU", "RELU", 18),
        ("DENSE|(N+*2|TANH", "*", 9),
        ("LSTM|12|1|10|0|2", "2", 15),
        ("BNORM|abc", "abc", 6),
        ("RNN|12|1", "1", 7),
    ],
)
def test_malformed_layers_name_bad_token_and_position(text, token, position):
    err = _layout_error(text)
    assert err.token == token
    assert err.position == position
    assert text[position : position + len(token)] == token
    assert f"at character {position}" in str(err)


# --------------------------------------------------------------------------------------------------------
# TMVA's forms.


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("TANH|128", DenseSpec(128, "TANH")),
        ("128|TANH", DenseSpec(128, "TANH")),
        ("LINEAR", DenseSpec(0, "LINEAR")),
        ("DENSE|64", DenseSpec(64, "TANH")),
        ("DENSE", DenseSpec(0, "TANH")),
        ("DENSE|(N+100)*2|SOFTSIGN", DenseSpec("(N+100)*2", "SOFTSIGN")),
        ("SOFTSIGN|(N+100)*2", DenseSpec("(N+100)*2", "SOFTSIGN")),
        ("DENSE| 32 | RELU ", DenseSpec(32, "RELU")),
        ("CONV|4|5|5|1|1|2|2", ConvSpec(4, 5, 5, 1, 1, 2, 2, "TANH")),
        ("CONVT|4|2|2|2|2|0|0|RELU", ConvTransposeSpec(4, 2, 2, 2, 2, 0, 0, "RELU")),
        ("RESHAPE|1|8|8", ReshapeSpec(1, 8, 8)),
        ("BNORM", BatchNormSpec(-1.0, 1e-4)),
        ("BNORM|0.99", BatchNormSpec(0.99, 1e-4)),
        ("BNORM|0.9|1e-3", BatchNormSpec(0.9, 1e-3)),
        ("RNN|10|4|5", RNNSpec(10, 4, 5)),
        ("LSTM|12|1|10|0|1", LSTMSpec(12, 1, 10, False, True)),
        ("GRU|8|3|4|1|0|1", GRUSpec(8, 3, 4, True, False, True)),
        ("PADDING2D|1|2|3|4", Padding2DSpec(1, 2, 3, 4)),
    ],
)
def test_single_layer_forms(text, spec):
    assert parse_layout(text) == [spec]
    assert parse_layout(format_layout([spec])) == [spec]


def test_formula_width_kept_and_resolved_like_tmva():
    (d,) = parse_layout("DENSE|(N+100)*2|SOFTSIGN")
    assert d.width == "(N+100)*2" and d.resolved_width(4) == 208  # closed form (4+100)*2
    (z,) = parse_layout("LINEAR")
    assert z.resolved_width(4, noutputs=3) == 3  # width 0 -> number of outputs


def test_empty_pieces_are_skipped_as_tmva_tokenize_does():
    assert parse_layout("DENSE||64|TANH,,LINEAR,") == [DenseSpec(64, "TANH"), DenseSpec(0, "LINEAR")]


def test_lower_case_keyword_and_activation_accepted_with_warning():
    with pytest.warns(TMVACompatWarning, match="case-sensitively"):
        assert parse_layout("dense|8|relu") == [DenseSpec(8, "RELU")]


def test_ftanh_in_conv_accepted_with_warning_tmva_uses_tanh():
    with pytest.warns(TMVACompatWarning, match="TANH"):
        (c,) = parse_layout("CONV|2|3|3|1|1|0|0|FTANH")
    assert c.activation == "FTANH"


@pytest.mark.parametrize("act", sorted(ACTIVATION_CODES))
def test_every_tmva_activation_word(act):
    assert parse_layout(f"DENSE|3|{act}") == [DenseSpec(3, act)]


def test_layouts_of_real_weight_files_parse_and_round_trip():
    if not VECTORS.is_dir():
        pytest.skip(f"TMVA test vectors not found at {VECTORS}")
    seen = 0
    for path in sorted(VECTORS.glob("*/*.weights.xml")):
        root = ElementTree.parse(path).getroot()
        if root.get("Method").split("::")[0] not in ("DL", "DNN"):
            continue
        text = next(o.text for o in root.find("Options") if o.get("name") == "Layout")
        specs = parse_layout(text)
        # the file's layer elements are the truth for widths (last: width 0 -> outputs) and activation codes
        nclass = int(root.find("Classes").get("NClass"))
        nvar = int(root.find("Variables").get("NVar"))
        got = [
            (s.resolved_width(nvar, nclass if nclass > 2 else 1), ACTIVATION_CODES[s.activation])
            for s in specs
        ]
        dense = root.findall(".//DenseLayer")
        if dense:
            truth = [(int(e.get("Width")), int(e.get("ActivationFunction"))) for e in dense]
        else:  # old DNN:: layout: <Layer ActivationFunction><Weights rows cols>
            truth = [
                (int(e.find("Weights").get("rows")), int(e.get("ActivationFunction")))
                for e in root.iter("Layer")
            ]
        assert got == truth, path.name
        assert parse_layout(format_layout(specs)) == specs
        seen += 1
    assert seen >= 3


# --------------------------------------------------------------------------------------------------------
# Graph form.


def test_labels_add_and_concat():
    text = "DENSE|64|RELU@h1,DENSE|64|RELU,ADD|h1,DENSE|32|RELU@h2,CONCAT|h1|INPUT|h2@cat,DENSE|1|LINEAR"
    specs = parse_layout(text)
    assert specs[0] == DenseSpec(64, "RELU", name="h1")
    assert specs[2] == AddSpec(("h1",))
    assert specs[4] == ConcatSpec(("h1", "INPUT", "h2"), name="cat")
    assert format_layout(specs) == text


def test_unknown_label_lists_defined_labels():
    text = "DENSE|8|RELU@a,DENSE|8|RELU@b,ADD|c"
    err = _layout_error(text)
    assert err.token == "c" and err.position == len(text) - 1
    assert err.expected == ["a", "b", "INPUT"]


def test_label_defined_later_is_an_error():
    err = _layout_error("ADD|late,DENSE|8|RELU@late")
    assert "later" in str(err) and err.position == 4


@pytest.mark.parametrize(
    ("text", "token"),
    [("DENSE|8@a,DENSE|8@a", "a"), ("DENSE|8@INPUT", "INPUT"), ("DENSE|8@1x", "1x"), ("ADD", "ADD")],
)
def test_bad_labels(text, token):
    err = _layout_error(text)
    assert err.token == token and text[err.position : err.position + len(token)] == token


# --------------------------------------------------------------------------------------------------------
# Autoencoder layouts.


def test_ae_default_layout_and_round_trip():
    ae = parse_layout("Encoder={DENSE|(N+100)*2|SOFTSIGN}Decoder={DENSE|0|LINEAR}")
    assert ae == AutoencoderLayout((DenseSpec("(N+100)*2", "SOFTSIGN"),), (DenseSpec(0, "LINEAR"),))
    assert parse_layout(format_layout(ae)) == ae
    assert parse_ae_layout(" Encoder = { DENSE|4|RELU@z } Decoder = { DENSE|4|RELU , ADD|z } ").decoder[
        1
    ] == (AddSpec(("z",)))


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Encoder={DENSE|4|TANH}", "<end>"),
        ("Encoder={DENSE|4|TANH}Decoder={DENSE|0|LINEAR", "{"),
        ("Encoder={DENSE|4|TANH{x}}Decoder={DENSE|0|LINEAR}", "{"),
        ("Encoder={DENSE|4|TANX}Decoder={DENSE|0|LINEAR}", "TANX"),
        ("Encoder={}Decoder={DENSE|0|LINEAR}", "{}"),
        ("DENSE|4|TANH}", "}"),
    ],
)
def test_ae_errors_name_token_and_position(text, token):
    err = _layout_error(text)
    assert err.token == token
    if token != "<end>":
        assert text[err.position : err.position + len(token)] == token
    else:
        assert err.position == len(text)


# --------------------------------------------------------------------------------------------------------
# InputLayout / BatchLayout.


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("0|0|0", InputLayout(0, 0, 0)),
        ("1|16|16", InputLayout(1, 16, 16)),
        ("10|1", InputLayout(10, 1, 1)),  # TMVA: T|W -> [B, T, 1, W]
        ("10|4", InputLayout(10, 1, 4)),
        ("256", InputLayout(1, 1, 256)),  # TMVA: W -> [B, 1, 1, W]
    ],
)
def test_input_layout_normalisation(text, layout):
    assert parse_input_layout(text) == layout
    assert parse_input_layout(format_input_layout(layout)) == layout


@pytest.mark.parametrize(
    ("text", "token"),
    [("1|x|3", "x"), ("1|-2|3", "-2"), ("1|0|3", "0"), ("1|2|3|4", "4"), ("0", "0"), ("", "")],
)
def test_input_layout_errors(text, token):
    with pytest.raises(LayoutError) as err:
        parse_input_layout(text)
    assert err.value.token == token


def test_batch_layout():
    assert parse_batch_layout("100|1|256") == BatchLayout(100, 1, 256)
    assert parse_batch_layout("0|0|0").is_default
    assert format_batch_layout(BatchLayout(1, 100, 256)) == "1|100|256"
    with pytest.raises(LayoutError):
        parse_batch_layout("100|256")


# --------------------------------------------------------------------------------------------------------
# Property tests.

_POS = st.integers(1, 512)
_NONNEG = st.integers(0, 64)
_ACT = st.sampled_from(sorted(ACTIVATION_CODES))
_LABEL = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s.upper() != "INPUT")
_WIDTH = st.one_of(st.integers(0, 4096), st.sampled_from(["(N+100)*2", "N+5", "n*2", "N/3", "-N+20", "(N)"]))

_LAYER = st.one_of(
    st.builds(DenseSpec, _WIDTH, _ACT),
    st.builds(ConvSpec, _POS, _POS, _POS, _POS, _POS, _NONNEG, _NONNEG, _ACT),
    st.builds(ConvTransposeSpec, _POS, _POS, _POS, _POS, _POS, _NONNEG, _NONNEG, _ACT),
    st.builds(MaxPoolSpec, _POS, _POS, _POS, _POS),
    st.builds(ReshapeSpec, _POS, _POS, _POS),
    st.builds(lambda d: ReshapeSpec(*d, flatten=True), st.tuples(_NONNEG, _NONNEG, _NONNEG)),
    st.builds(
        BatchNormSpec,
        st.one_of(st.just(-1.0), st.floats(0, 1, allow_nan=False, exclude_max=True)),  # the engine refuses 1
        st.floats(1e-12, 1.0, allow_nan=False),
    ),
    st.builds(RNNSpec, _POS, _POS, _POS, st.booleans(), st.booleans()),
    st.builds(LSTMSpec, _POS, _POS, _POS, st.booleans(), st.booleans()),
    st.builds(GRUSpec, _POS, _POS, _POS, st.booleans(), st.booleans(), st.booleans()),
    st.builds(Padding2DSpec, _NONNEG, _NONNEG, _NONNEG, _NONNEG),
)


@st.composite
def _graph(draw, min_size=1):
    """A layer list with unique labels and ADD/CONCAT referring only to earlier labels (or INPUT)."""
    labels = draw(st.lists(_LABEL, unique=True, max_size=4))
    specs, defined = [], []
    for _ in range(draw(st.integers(min_size, 6))):
        if defined and draw(st.booleans()):
            cls = draw(st.sampled_from([AddSpec, ConcatSpec]))
            srcs = draw(st.lists(st.sampled_from(defined + ["INPUT"]), min_size=1, max_size=3))
            spec = cls(tuple(srcs))
        else:
            spec = draw(_LAYER)
        if labels and draw(st.booleans()):
            name = labels.pop()
            spec = type(spec)(**{**spec.__dict__, "name": name})
            defined.append(name)
        specs.append(spec)
    return specs


@settings(max_examples=300, deadline=None)
@given(_graph())
def test_generated_layouts_round_trip(specs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # generated CONV|...|FTANH warns (TMVA would use TANH)
        assert parse_layout(format_layout(specs)) == specs


@settings(max_examples=100, deadline=None)
@given(_graph(), _graph())
def test_generated_ae_layouts_round_trip(enc, dec):
    # labels must be unique across both blocks: rename the decoder's
    dec = [type(s)(**{**s.__dict__, "name": f"d_{s.name}" if s.name else None}) for s in dec]
    dec = [
        type(s)(**{**s.__dict__, "sources": tuple(x if x == "INPUT" else f"d_{x}" for x in s.sources)})
        if isinstance(s, (AddSpec, ConcatSpec))
        else s
        for s in dec
    ]
    ae = AutoencoderLayout(tuple(enc), tuple(dec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert parse_layout(format_layout(ae)) == ae


_LAYOUT_GARBAGE = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.sampled_from(list("DENSCONVRLUTAHFX|,@{}=N+()*0123456789 -.")), max_size=50),
    st.lists(
        st.sampled_from(
            ["DENSE", "CONV", "RESHAPE", "FLAT", "ADD", "a", "@a", "|", ",", "3", "-1", "N", "{", "}"]
        )
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(_LAYOUT_GARBAGE)
def test_garbage_layouts_only_raise_layout_error(text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = parse_layout(text)
        except LayoutError:
            return
        assert parse_layout(format_layout(result)) == result


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=20), st.text(alphabet=st.sampled_from(list("0123|- x")), max_size=12)))
def test_garbage_input_and_batch_layouts_only_raise_layout_error(text):
    for parse in (parse_input_layout, parse_batch_layout):
        try:
            parse(text)
        except LayoutError:
            pass


def test_extension_layers_flags_what_tmva_cannot_build():
    from tmvacompat.layout import extension_layers

    assert extension_layers(parse_layout(ACCEPT)) == []
    specs = parse_layout("PADDING2D|1|1|1|1,CONV|2|3|3|1|1|0|0|RELU@c,CONVT|1|2|2|2|2|0|0,ADD|c,CONCAT|INPUT")
    assert extension_layers(specs) == [
        "layer 0: PADDING2D",
        "layer 1: label @c",
        "layer 2: CONVT",
        "layer 3: ADD",
        "layer 4: CONCAT",
    ]


# --------------------------------------------------------------------------------------------------------
# TMVA's leniencies and refusals around layouts (MethodDL.cxx).


def test_dense_width_written_as_a_float_is_read_as_tformula_and_int_conversion_read_it():
    """ParseDenseLayer evaluates the width with TFormula and stores it in an int: 128.0 and 1e2 are 128 and
    100; 6.4 is truncated to 6 (with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        specs = parse_layout("DENSE|128.0|TANH,TANH|1e2,LINEAR")
    assert [s.width for s in specs] == [128, 100, 0]
    with pytest.warns(TMVACompatWarning, match="truncates"):
        assert parse_layout("DENSE|6.4|TANH")[0].width == 6


@pytest.mark.parametrize(
    ("batch", "input_shape", "batch_size"),
    [
        ((1, 128, 7), (1, 1, 7), 128),  # TMVA_Higgs_Classification.C
        ((100, 1, 256), (1, 16, 16), 100),  # TMVA_CNN_Classification.C (CNN)
        ((1, 100, 256), (1, 1, 256), 100),  # TMVA_CNN_Classification.C (DNN)
        ((100, 10, 30), (10, 1, 30), 100),  # TMVA_RNN_Classification.C
        ((1, 1, 7), (1, 1, 7), 1),
    ],
)
def test_tutorial_batch_layouts_pass_tmvas_checks(batch, input_shape, batch_size):
    check_batch_layout(batch, input_shape, batch_size)


@pytest.mark.parametrize(
    ("batch", "input_shape", "batch_size", "match"),
    [
        ((1, 128, 7), (1, 1, 7), 100, "Given batch height of 128 .* should be equal to given batch size 100"),
        (
            (50, 1, 256),
            (1, 16, 16),
            100,
            "Given batch depth of 50 .* should be equal to given batch size 100",
        ),
        ((1, 100, 8), (1, 1, 7), 100, "Given input layout 1 x 1 x 7 is not compatible with batch layout"),
        ((100, 1, 200), (1, 16, 16), 100, "input layout 1 x 16 x 16 is not compatible"),
    ],
)
def test_batch_layouts_tmva_refuses_are_refused_with_its_message(batch, input_shape, batch_size, match):
    """MethodDL::TrainDeepNet: batch depth > 1 must be the batch size; batch depth 1 needs batch height ==
    batch size; depth*height*width of the input must match the batch layout."""
    with pytest.raises(LayoutError, match=match):
        check_batch_layout(batch, input_shape, batch_size)
