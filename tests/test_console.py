"""The Factory's console output: TMVA's tables, the epoch table, Silent, and the progress bars.

Truth: closed forms (weighted mean/RMS and correlations computed here with numpy's own estimators, event
counts and renormalised weight sums fixed by the split options, parameter counts of dense layers), TMVA's
documented table layouts (``Tools::FormattedOutput``, ``TransformationHandler::CalcStats``,
``MethodDL::TrainDeepNet``), and a terminal simulated character by character for the progress bars.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import uproot

from tmvacompat import DataLoader, Factory, Types
from tmvacompat.console import (
    correlation_matrix,
    format_correlation_matrix,
    format_epoch_row,
    format_variable_table,
    variable_stats,
)

N_TRAIN, N_TEST, EPOCHS = 300, 200, 6
LAYOUT = "TANH|8,TANH|5,LINEAR"  # 3 inputs: (3*8+8) + (8*5+5) + (5+1) = 83 parameters
N_PARAMS = 83


def _write_inputs(path) -> None:
    rng = np.random.default_rng(7)
    trees = {}
    for name, shift in (("TreeS", 0.6), ("TreeB", -0.6)):
        n = N_TRAIN + N_TEST
        x = rng.normal(shift, 1.0, size=(n, 3)).astype(np.float32)
        trees[name] = {
            "a": x[:, 0],
            "b": x[:, 1] + 0.5 * x[:, 0],
            "c": x[:, 2],
            "w": rng.uniform(0.5, 1.5, n).astype(np.float32),
        }
    with uproot.recreate(path) as f:
        for name, cols in trees.items():
            f[name] = cols


def _run(tmp_path, monkeypatch, factory_opts: str, method_v: str, *, run_all: bool = True):
    monkeypatch.chdir(tmp_path)
    _write_inputs(tmp_path / "in.root")
    factory = Factory("job", "out.root", factory_opts + ":AnalysisType=Classification")
    loader = DataLoader("dataset")
    for v in ("a", "b", "c"):
        loader.AddVariable(v, "F")
    loader.AddSignalTree("in.root:TreeS")
    loader.AddBackgroundTree("in.root:TreeB")
    loader.SetWeightExpression("w")
    loader.PrepareTrainingAndTestTree(
        "",
        f"nTrain_Signal={N_TRAIN}:nTrain_Background={N_TRAIN}:nTest_Signal={N_TEST}:"
        f"nTest_Background={N_TEST}:NormMode=NumEvents:SplitMode=Random",
    )
    factory.BookMethod(
        loader,
        Types.kDL,
        "DNN",
        f"{method_v}:VarTransform=N:RandomSeed=3:Layout={LAYOUT}:TrainingStrategy=LearningRate=1e-2,"
        f"BatchSize=30,TestRepetitions=1,ConvergenceSteps=1000,MaxEpochs={EPOCHS}",
    )
    if run_all:
        factory.TrainAllMethods()
        factory.TestAllMethods()
        factory.EvaluateAllMethods()
    return factory, loader


def _epoch_rows(text: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r": +(\d+) \| +\S+ +\S+ +\S+ +\S+ +\S+ +\d+\n", text)]


# ------------------------------------------------------------------------------------------ pure tables
def test_variable_stats_are_the_weighted_moments():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    w = rng.uniform(0.2, 2.0, 500)
    mean, rms, lo, hi = variable_stats(x, w)
    np.testing.assert_allclose(mean, np.average(x, axis=0, weights=w), rtol=1e-12)
    np.testing.assert_allclose(rms, np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w)), rtol=1e-10)
    np.testing.assert_array_equal(lo, x.min(axis=0))
    np.testing.assert_array_equal(hi, x.max(axis=0))


def test_correlation_matrix_matches_numpy_weighted_covariance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 4))
    x[:, 1] += 0.7 * x[:, 0]
    w = rng.uniform(0.1, 3.0, 400)
    cov = np.cov(x, rowvar=False, aweights=w)
    expected = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(correlation_matrix(x, w), expected, atol=1e-12)
    # a constant column: TMVA's zero-variance rule gives 0 off the diagonal and 1 on it
    x[:, 2] = 1.5
    c = correlation_matrix(x, w)
    assert c[2, 2] == 1.0 and np.all(c[2, [0, 1, 3]] == 0.0)


def test_table_layouts_follow_tmva_column_rules():
    # Tools::FormattedOutput: label column max(7, len) wide, then ":" and one "%+1.3f" cell per column of
    # width max(7, len(name)) + 1
    text = format_correlation_matrix("Signal", ["x", "a_long_name"], np.array([[1.0, -0.5], [-0.5, 1.0]]))
    rows = [line[27:] for line in text.splitlines()]
    assert rows[0] == "Correlation matrix (Signal):"
    assert rows[3] == f"{'x':>11}:{'+1.000':>8}{'-0.500':>12}"
    assert len(rows[1]) == 11 + 1 + 8 + 12 == len(rows[2])
    # TransformationHandler::CalcStats: "%#11.5g" numbers, label width max(8, len)
    text = format_variable_table("TFHandler_Factory", ["v"], [1.0], [0.25], [-3.0], [12345.678])
    assert text.splitlines()[2].endswith("       v:     1.0000    0.25000   [    -3.0000     12346. ]")
    # MethodDL: setw(10) epoch, then setw(12) doubles in C++'s default 6 significant digits
    assert format_epoch_row(12, 0.123456789, 1.5, 2e-5, 0.25, 123456789.0, 7) == (
        f"{12:>10} | {'0.123457':>12}{'1.5':>12}{'2e-05':>12}{'0.25':>12}{'1.23457e+08':>12}{7:>12}"
    )


# ------------------------------------------------------------------------------------------ a Factory run
@pytest.fixture(scope="module")
def verbose_run(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("verbose")
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    try:
        factory, loader = _run(tmp, monkeypatch, "V:!Silent:!Color", "V")
    finally:
        monkeypatch.undo()
    return buf.getvalue(), factory, loader


def test_verbose_run_prints_tmva_tables(verbose_run):
    out, factory, loader = verbose_run
    ds = loader.GetDataSet()
    # DataSetFactory: events per class and sample, training weights after NormMode=NumEvents (sum = count)
    for cname in ("Signal", "Background"):
        assert f"{cname:<10} -- training events            : {N_TRAIN}\n" in out
        assert f"{cname:<10} -- testing events             : {N_TEST}\n" in out
        assert f"{cname:<10} -- training and testing events: {N_TRAIN + N_TEST}\n" in out
    assert out.count(f"\t(sum of weights: {N_TRAIN:g})") == 2
    # the variable table: mean/RMS/min/max of the training sample with its weights
    table = out[out.index("TFHandler_Factory") :].splitlines()
    x, w = ds.train.X.astype(np.float64), ds.train.weights
    mean = np.average(x, axis=0, weights=w)
    rms = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    for i, name in enumerate("abc"):
        row = table[2 + i]
        assert row.split(":")[1].strip() == name
        numbers = [float(t) for t in re.findall(r"[-+]?\d+\.\d*(?:e[-+]\d+)?", row.split(":", 2)[2])]
        np.testing.assert_allclose(numbers, [mean[i], rms[i], x[:, i].min(), x[:, i].max()], rtol=1e-4)
    # correlation matrices per class (DataSetFactory's default Correlations), with numpy's coefficients
    for ci, cname in enumerate(("Signal", "Background")):
        block = out[out.index(f"Correlation matrix ({cname}):") :].splitlines()
        part = ds.train.of_class(ci)
        r = np.cov(part.X.astype(np.float64), rowvar=False, aweights=part.weights)
        r = r / np.sqrt(np.outer(np.diag(r), np.diag(r)))
        assert block[4].split(":")[2].split() == [f"{v:+1.3f}" for v in r[1]]
    # the network at booking, with its parameters counted
    assert "DEEP NEURAL NETWORK:   Depth = 3  Input = ( 1, 1, 3 )  Batch size = 30  Loss function = C" in out
    assert f"Total number of parameters: {N_PARAMS}" in out
    # MethodDL gives no ranking: TMVA says so
    assert "No variable ranking supplied by classifier: DNN" in out
    # separation and significance, as EvaluateAllMethods computed them
    res = factory.results[("dataset", "DNN")]
    assert f"| {res.separation:#1.3f}    {res.significance:#1.3f}" in out
    assert "ROC-integ" in out and f"{res.roc_integral:#1.3f}" in out


def test_verbose_epoch_table_has_every_epoch_and_the_stop_reason(verbose_run):
    out, factory, _ = verbose_run
    assert _epoch_rows(out) == list(range(1, EPOCHS + 1))
    history = factory.GetMethod("dataset", "DNN").history
    improved = [r.epoch for r in history.records if r.improved]
    assert [int(m) for m in re.findall(r"(\d+) Minimum Test error found", out)] == improved
    assert f"Phase 1 stopped at epoch {EPOCHS}: reached MaxEpochs={EPOCHS}; best epoch {improved[-1]}" in out
    # no progress bar where standard output is not a terminal
    assert "\r" not in out and "%|" not in out


def test_quiet_epoch_table_has_the_final_epoch_and_the_stop_reason(tmp_path, monkeypatch, capsys):
    _run(tmp_path, monkeypatch, "!V:!Silent", "!V")
    out = capsys.readouterr().out
    assert _epoch_rows(out) == [EPOCHS]
    assert f"Phase 1 stopped at epoch {EPOCHS}: reached MaxEpochs={EPOCHS}" in out
    assert "Minimum Test error found" not in out
    assert "(sum of weights:" not in out  # TMVA's debug lines only with V
    assert "\r" not in out and "%|" not in out


def test_silent_prints_nothing(tmp_path, monkeypatch, capsys):
    _run(tmp_path, monkeypatch, "V:Silent", "V")
    assert capsys.readouterr().out == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _render(raw: str) -> list[str]:
    """What a terminal shows: a carriage return goes back to the start of the line, later characters
    overwrite earlier ones (no clearing)."""
    shown = []
    for line in raw.split("\n"):
        cells: list[str] = []
        col = 0
        for ch in line:
            if ch == "\r":
                col = 0
                continue
            if col < len(cells):
                cells[col] = ch
            else:
                cells.append(ch)
            col += 1
        shown.append("".join(cells).rstrip())
    return shown


def test_bars_on_a_terminal_leave_no_stale_characters(tmp_path, monkeypatch):
    pytest.importorskip("tqdm", reason="the progress bars are drawn with tqdm")
    term = _Terminal()
    monkeypatch.setattr("sys.stdout", term)
    _run(tmp_path, monkeypatch, "!V:!Silent:!Color", "V")
    raw = term.getvalue()
    assert "%|" in raw  # bars were drawn (reading, every epoch phase, ...)
    shown = _render(raw)
    assert not [line for line in shown if "%|" in line or "evt/s" in line or "epoch/s" in line]
    # the lines printed while a bar was up are whole
    assert _epoch_rows("\n".join(shown) + "\n") == list(range(1, EPOCHS + 1))
    assert any(line.endswith("Training finished") for line in shown)
