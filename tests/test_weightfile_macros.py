"""macros/compare_with_tmva.py against TMVA's own responses (the Factory's DL_CPU branch as friend tree)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

MULTI_DIR = VECTORS / "nasufsonmez_multiclass"
MACROS = Path(__file__).resolve().parents[1] / "macros"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"real TMVA vectors not found at {VECTORS}")


def _load_compare():
    spec = importlib.util.spec_from_file_location("compare_with_tmva", MACROS / "compare_with_tmva.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _friend_file(tmp_path: Path, perturb: float = 0.0) -> Path:
    """A friend tree like the macro writes, filled with TMVA's own multiclass responses."""
    uproot = pytest.importorskip("uproot")
    rec = uproot.open(MULTI_DIR / "TMVAMulticlass.root")["dataset/TestTree"]["DL_CPU"].array(library="np")
    cols = {
        f"response_{k}": np.array(rec[n], np.float32) for k, n in enumerate(("Signal", "bg0", "bg1", "bg2"))
    }
    cols["response_2"][17] += perturb
    out = tmp_path / "tmva_out.root"
    with uproot.recreate(out) as f:
        f["tmva"] = cols
    return out


def test_compare_agrees_with_tmva_responses(tmp_path, capsys):
    mod = _load_compare()
    friend = _friend_file(tmp_path)
    args = [
        str(MULTI_DIR / "TMVAMulticlass_DL_CPU.weights.xml"),
        str(MULTI_DIR / "TMVAMulticlass.root"),
        "dataset/TestTree",
        str(friend),
    ]
    assert mod.main(args) == 0
    text = capsys.readouterr().out
    assert "events: 4000" in text and "AGREE" in text
    assert float(re.search(r"max \|diff\|: (\S+)", text).group(1)) < 1e-5


def test_compare_reports_a_disagreement(tmp_path, capsys):
    mod = _load_compare()
    friend = _friend_file(tmp_path, perturb=0.01)
    res = mod.compare(
        str(MULTI_DIR / "TMVAMulticlass_DL_CPU.weights.xml"),
        str(MULTI_DIR / "TMVAMulticlass.root"),
        "dataset/TestTree",
        str(friend),
    )
    assert not res.ok and res.n_bad == 1 and res.worst[0][0] == 17
    assert res.max_abs_diff == pytest.approx(0.01, abs=1e-4)


def test_macro_is_named_after_its_function_and_books_from_the_file():
    text = (MACROS / "evaluate_with_tmva_reader.C").read_text()
    # ROOT runs `root 'file.C(args)'` by calling the function named like the file
    assert re.search(r"^int evaluate_with_tmva_reader\(const char \*weightFile", text, re.M)
    for api in (
        "reader.AddVariable(",
        "reader.AddSpectator(",
        "reader.BookMVA(",
        "reader.EvaluateMVA(",
        "reader.EvaluateRegression(",
        "reader.EvaluateMulticlass(",
        "new TTreeFormula(",
    ):
        assert api in text
