"""Malformed, truncated and hostile weight files: each refused with a WeightFileError naming the culprit."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from tmvacompat.errors import WeightFileError
from tmvacompat.weightfile import load_weights

GOOD = """<?xml version="1.0"?>
<MethodSetup Method="DL::tiny">
  <GeneralInfo>
    <Info name="AnalysisType" value="Classification"/>
  </GeneralInfo>
  <Options/>
  <Variables NVar="2">
    <Variable VarIndex="0" Expression="x" Label="x" Title="x" Unit="" Internal="x" Type="F" Min="-1" Max="1"/>
    <Variable VarIndex="1" Expression="y" Label="y" Title="y" Unit="" Internal="y" Type="F" Min="-1" Max="1"/>
  </Variables>
  <Spectators NSpec="0"/>
  <Classes NClass="2">
    <Class Name="Signal" Index="0"/>
    <Class Name="Background" Index="1"/>
  </Classes>
  <Transformations NTransformations="0"/>
  <MVAPdfs/>
  <Weights NetDepth="2" InputDepth="1" InputHeight="1" InputWidth="2" BatchSize="1" BatchDepth="1"
   BatchHeight="10" BatchWidth="2" LossFunction="C" Initialization="F" Regularization="0" OutputFunction="S"
   WeightDecay="0">
    <DenseLayer Width="3" ActivationFunction="3">
      <Weights Rows="3" Columns="2">
        1.0  2.0  3.0  4.0  5.0  6.0
      </Weights>
      <Biases Rows="3" Columns="1">
        0.1  0.2  0.3
      </Biases>
    </DenseLayer>
    <DenseLayer Width="1" ActivationFunction="0">
      <Weights Rows="1" Columns="3">
        1.0  -1.0  0.5
      </Weights>
      <Biases Rows="1" Columns="1">
        0.0
      </Biases>
    </DenseLayer>
  </Weights>
</MethodSetup>
"""


def _write(tmp_path: Path, text: str, name: str = "w.weights.xml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _refused(tmp_path: Path, text: str, *needles: str, token: str | None = None) -> WeightFileError:
    p = _write(tmp_path, text)
    with pytest.raises(WeightFileError) as info:
        load_weights(p)
    msg = str(info.value)
    assert p.name in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    if token is not None:
        assert info.value.token == token
    return info.value


def test_good_document_loads(tmp_path):
    m = load_weights(_write(tmp_path, GOOD))
    assert m.title == "tiny" and m.params[0]["Weights"].tolist() == [[1, 2], [3, 4], [5, 6]]


def test_missing_file(tmp_path):
    with pytest.raises(WeightFileError) as info:
        load_weights(tmp_path / "nope.xml")
    assert "nope.xml" in str(info.value) and "does not exist" in str(info.value)


def test_malformed_xml_names_line(tmp_path):
    _refused(tmp_path, GOOD.replace("</Biases>", "</Biasez>", 1), "malformed XML", "line 27")


def test_truncated_file(tmp_path):
    _refused(tmp_path, GOOD[: len(GOOD) // 2], "malformed XML")


def test_truncated_matrix_text(tmp_path):
    bad = GOOD.replace("1.0  2.0  3.0  4.0  5.0  6.0", "1.0  2.0  3.0  4.0")
    _refused(
        tmp_path, bad, "DenseLayer[0]/Weights", "needs 6 values", "holds 4", "truncated", token="Weights"
    )


def test_non_numeric_matrix_value(tmp_path):
    bad = GOOD.replace("0.1  0.2  0.3", "0.1  abc  0.3")
    _refused(tmp_path, bad, "DenseLayer[0]/Biases", "'abc'", token="abc")


def test_absurd_rows_columns_refused_before_allocation(tmp_path):
    bad = GOOD.replace('<Weights Rows="3" Columns="2">', '<Weights Rows="4000000000" Columns="4000000000">')
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        _refused(tmp_path, bad, "4000000000 x 4000000000", "needs 3 x 2", token="Weights")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000 and time.perf_counter() - t0 < 5


def test_rows_not_matching_layer(tmp_path):
    bad = GOOD.replace('<Weights Rows="1" Columns="3">', '<Weights Rows="3" Columns="1">')
    _refused(tmp_path, bad, "DenseLayer[1]/Weights", "3 x 1", "needs 1 x 3")


def test_negative_size_attribute(tmp_path):
    _refused(tmp_path, GOOD.replace('Width="3"', 'Width="-3"'), "Width=-3", "DenseLayer[0]", token="Width")


def test_billion_laughs_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        + "".join(
            f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
            for i in range(1, 10)
        )
        + ']>\n<MethodSetup Method="DL::x">&lol9;</MethodSetup>\n'
    )
    t0 = time.perf_counter()
    err = _refused(tmp_path, bomb, "refused")
    assert err.token in ("DOCTYPE", "ENTITY") and time.perf_counter() - t0 < 2


def test_external_entity_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (
        f'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<MethodSetup Method="DL::x"><GeneralInfo><Info name="Creator" value="&xxe;"/></GeneralInfo>'
        "</MethodSetup>\n"
    )
    err = _refused(tmp_path, xxe, "refused")
    assert "TOPSECRET" not in str(err)


def test_doctype_refused(tmp_path):
    _refused(
        tmp_path,
        GOOD.replace('<?xml version="1.0"?>\n', '<?xml version="1.0"?>\n<!DOCTYPE MethodSetup>\n'),
        "DOCTYPE",
        token="DOCTYPE",
    )


def test_huge_attribute_refused(tmp_path):
    bad = GOOD.replace('Unit="" Internal="x"', 'Unit="' + "u" * 200_000 + '" Internal="x"')
    _refused(tmp_path, bad, "attribute 'Unit'", "Variables/Variable[0]", token="Unit")


def test_not_a_weight_file(tmp_path):
    _refused(tmp_path, '<?xml version="1.0"?>\n<html><body/></html>\n', "<html>", token="html")


def test_unsupported_method(tmp_path):
    _refused(tmp_path, GOOD.replace("DL::tiny", "BDT::BDTG"), "method 'BDT'", "DNN", token="BDT")


def test_missing_weights_element(tmp_path):
    start, end = GOOD.index("  <Weights NetDepth"), GOOD.index("</MethodSetup>")
    _refused(tmp_path, GOOD[:start] + GOOD[end:], "missing element <Weights>", token="Weights")


def test_netdepth_mismatch(tmp_path):
    _refused(
        tmp_path,
        GOOD.replace('NetDepth="2"', 'NetDepth="3"'),
        "NetDepth=3",
        "2 layer elements",
        token="NetDepth",
    )


def test_unknown_layer_element(tmp_path):
    bad = GOOD.replace('<DenseLayer Width="1" ActivationFunction="0">', '<FancyLayer Width="1">').replace(
        "</DenseLayer>\n  </Weights>", "</FancyLayer>\n  </Weights>"
    )
    err = _refused(tmp_path, bad, "<FancyLayer>", token="FancyLayer")
    assert "DenseLayer" in err.expected


def test_unknown_activation_code(tmp_path):
    _refused(
        tmp_path,
        GOOD.replace('ActivationFunction="3"', 'ActivationFunction="42"'),
        "ActivationFunction=42",
        "DenseLayer[0]",
        token="ActivationFunction",
    )


def test_bad_output_function_char(tmp_path):
    _refused(
        tmp_path,
        GOOD.replace('OutputFunction="S"', 'OutputFunction="Q"'),
        "OutputFunction='Q'",
        token="OutputFunction",
    )


def test_nvar_mismatch(tmp_path):
    _refused(tmp_path, GOOD.replace('NVar="2"', 'NVar="3"'), "NVar=3", "2 <Variable>", token="NVar")


def test_missing_attribute_named(tmp_path):
    _refused(
        tmp_path,
        GOOD.replace(' Columns="2"', ""),
        "missing attribute 'Columns'",
        "DenseLayer[0]/Weights",
        token="Columns",
    )


def test_input_width_not_matching_variables(tmp_path):
    bad = GOOD.replace('InputWidth="2"', 'InputWidth="3"')
    _refused(tmp_path, bad, "does not hold the 2 variables", token="InputWidth")
