"""Failures the fuzz module (tests/test_fuzz.py) found, each fixed at its root; one regression test each."""

from __future__ import annotations

import numpy as np
import pytest

uproot = pytest.importorskip("uproot", reason="uproot writes the small input files")

from tmvacompat import DataLoader  # noqa: E402
from tmvacompat.cli import main  # noqa: E402
from tmvacompat.data.dataset import DataSet  # noqa: E402
from tmvacompat.errors import InputDataError, InputNotFoundError, LayoutError, SizeLimitError  # noqa: E402
from tmvacompat.layout import parse_layout  # noqa: E402
from tmvacompat.methods.dl import MethodDL  # noqa: E402
from tmvacompat.specs import DenseSpec  # noqa: E402
from tmvacompat.weightfile import Model  # noqa: E402


def _model(variables) -> Model:
    return Model.from_parts(
        title="m",
        variables=list(variables),
        layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.ones((1, len(variables))), "Biases": np.zeros((1, 1))}],
    )


def _strings_file(path) -> str:
    with uproot.recreate(path) as f:
        for tree in ("S", "B"):
            f.mktree(tree, {"a": np.float32, "name": "string"})
            f[tree].extend(
                {"a": np.arange(6, dtype=np.float32), "name": np.array([f"e{k}" for k in range(6)])}
            )
    return str(path)


def test_a_string_branch_in_the_dataloader_names_the_branch(tmp_path):
    path = _strings_file(tmp_path / "s.root")
    loader = DataLoader("ds")
    loader.AddVariable("a", "F")
    loader.AddVariable("name", "F")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    with pytest.raises(InputDataError) as err:
        loader.GetDataSet()
    assert "'name'" in str(err.value) and "strings" in str(err.value) and path in str(err.value)


def test_a_missing_branch_in_model_evaluate_names_file_and_tree(tmp_path):
    path = _strings_file(tmp_path / "m.root")
    with uproot.open(path) as f, pytest.raises(InputNotFoundError) as err:
        _model(["a", "nosuch"]).evaluate(f["S"])
    assert f"{path}:S" in str(err.value) and "'nosuch'" in str(err.value)


def test_the_cli_error_is_one_line_when_uproot_reports_several(tmp_path, capsys):
    path = tmp_path / "t.root"
    with uproot.recreate(path, compression=uproot.ZSTD(4)) as f:
        f.mktree("S", {"a": np.float32, "b": np.float32})
        f["S"].extend({"a": np.linspace(0, 1, 5000, dtype=np.float32), "b": np.ones(5000, np.float32)})
    weights = str(tmp_path / "m.weights.xml")
    _model(["a", "b"]).save(weights)
    data = path.read_bytes()
    damaged = 0
    for cut in range(len(data) // 10, len(data), max(1, len(data) // 60)):
        path.write_bytes(data[:cut])
        code = main(["evaluate", weights, f"{path}:S", "--limit", "0"])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err
        if code == 2:
            assert err.strip().count("\n") == 0, err
            damaged += "damaged or truncated" in err
    assert damaged


def test_bnorm_momentum_one_is_refused_at_booking_as_the_engine_refuses_it():
    with pytest.raises(LayoutError, match=r"\[0, 1\)"):
        parse_layout("BNORM|1,DENSE|1|LINEAR")
    assert parse_layout("BNORM|0.99|1e-4")[0].momentum == 0.99


def test_a_layout_over_the_size_budget_is_refused_before_allocating(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    ds = DataSet.from_arrays(x, np.arange(40) % 2, variables=list("abcd"))
    method = MethodDL("DL", "!H:!V:Layout=DENSE|1000000000|TANH,DENSE|1|LINEAR:TrainingStrategy=MaxEpochs=1")
    with pytest.raises(SizeLimitError) as err:
        method.train(ds, weight_file=str(tmp_path / "w.xml"))
    assert "'DL'" in str(err.value) and "layer 0 (DENSE)" in str(err.value)


def test_damaged_list_offsets_in_an_uncompressed_basket_are_refused_not_read_out_of_bounds(tmp_path):
    # without compression no checksum catches a flipped bit: the list offsets of a jagged branch can point
    # outside their content, and awkward's reducers (Max$) then read out of bounds (a segmentation fault)
    import random

    import awkward as ak

    path = tmp_path / "u.root"
    rng = np.random.default_rng(3)
    with uproot.recreate(path, compression=None) as f:
        for tree in ("S", "B"):
            f.mktree(tree, {"a": np.float32, "jet": "var * float32"})
            jets = ak.Array([list(rng.normal(size=k)) for k in rng.integers(0, 3, 300)])
            f[tree].extend({"a": rng.normal(size=300).astype(np.float32), "jet": jets})
    data = path.read_bytes()
    with uproot.open(path) as f:
        br = f["S"]["jet"]
        seek, size = int(br.member("fBasketSeek")[0]), int(br.member("fBasketBytes")[0])
    flips = random.Random(1)
    refused = 0
    for case in range(3):
        buf = bytearray(data)
        for _ in range(flips.randrange(1, 6)):
            buf[seek + flips.randrange(size)] ^= 1 << flips.randrange(8)
        damaged = tmp_path / f"d{case}.root"
        damaged.write_bytes(bytes(buf))
        loader = DataLoader("ds")
        loader.AddVariable("a", "F")
        loader.AddVariable("Max$(jet)", "F")
        loader.AddSignalTree(f"{damaged}:S")
        loader.AddBackgroundTree(f"{damaged}:B")
        loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
        with pytest.raises(InputDataError) as err:
            loader.GetDataSet()
        refused += "branch 'jet'" in str(err.value) and str(damaged) in str(err.value)
    assert refused == 3


def test_a_string_branch_with_invalid_utf8_is_refused_without_decoding_it(tmp_path):
    # awkward's to_numpy loops forever on such bytes: strings must be refused from their type alone
    path = tmp_path / "bad_utf8.root"
    with uproot.recreate(path, compression=None) as f:
        for tree in ("S", "B"):
            f.mktree(tree, {"a": np.float32, "name": "string"})
            names = np.array([f"e{k}" for k in range(300)])
            f[tree].extend({"a": np.arange(300, dtype=np.float32), "name": names})
    data = path.read_bytes()
    assert data.count(b"e299") == 2
    path.write_bytes(data.replace(b"e299", b"e\xb599"))
    with uproot.open(path) as f, pytest.raises(InputDataError) as err:
        _model(["a", "name"]).evaluate(f["B"])
    assert "'name'" in str(err.value) and "strings" in str(err.value)
    loader = DataLoader("ds")
    loader.AddVariable("a", "F")
    loader.AddVariable("name", "F")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    with pytest.raises(InputDataError) as err:
        loader.GetDataSet()
    assert "'name'" in str(err.value) and str(path) in str(err.value)
