"""The command line: what a string means, or a one-line error (exit 2) naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmvacompat import TMVACompatWarning
from tmvacompat.cli import main

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


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
