"""Damaged ROOT files and unsuitable branches give tmvacompat errors naming the file, tree and branch,
through the DataLoader, Model.evaluate and the command line (never zlib/cramjam/awkward tracebacks)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from tmvacompat import DataLoader, InputDataError
from tmvacompat.cli import main
from tmvacompat.specs import DenseSpec
from tmvacompat.weightfile import Model

COMPRESSIONS = {
    "zlib": uproot.ZLIB(4),
    "lz4": uproot.LZ4(4),
    "zstd": uproot.ZSTD(4),
    "lzma": uproot.LZMA(4),
}


def _write(path: str, compression) -> None:
    rng = np.random.default_rng(0)
    with uproot.recreate(path, compression=compression) as f:
        for tree in ("S", "B"):
            f.mktree(tree, {"a": np.float32, "b": np.float32})  # a TTree (not an RNTuple)
            f[tree].extend(
                {
                    "a": rng.normal(0, 1, 5000).astype(np.float32),
                    "b": rng.normal(0, 1, 5000).astype(np.float32),
                }
            )


def _damage(path: str, branch: str) -> None:
    """Flip the first bytes of the compressed block (after ROOT's 9-byte compression header) of the first
    basket of ``branch`` in tree S: every codec checks those (zlib header, LZ4 checksum, zstd/xz magic)."""
    with uproot.open(path) as f:
        seek = int(f["S"][branch].member("fBasketSeek")[0])
    data = bytearray(open(path, "rb").read())
    keylen = int.from_bytes(
        data[seek + 16 : seek + 18], "big"
    )  # TKey: Nbytes, Version, ObjLen, Datime, KeyLen
    start = seek + keylen + 9
    for k in range(start, start + 8):
        data[k] ^= 0x5A
    open(path, "wb").write(bytes(data))


def _model() -> Model:
    return Model.from_parts(
        title="m",
        variables=["a", "b"],
        layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.ones((1, 2), np.float32), "Biases": np.zeros((1, 1), np.float32)}],
    )


@pytest.mark.parametrize("codec", sorted(COMPRESSIONS))
def test_damaged_basket_is_named_everywhere(tmp_path, codec, capsys):
    path = str(tmp_path / f"in_{codec}.root")
    _write(path, COMPRESSIONS[codec])
    _damage(path, "b")
    loader = DataLoader("ds")
    loader.AddVariable("a", "F")
    loader.AddVariable("b", "F")
    loader.AddSignalTree(f"{path}:S")
    loader.AddBackgroundTree(f"{path}:B")
    with pytest.raises(InputDataError) as info:
        loader.GetDataSet()
    msg = str(info.value)
    assert path in msg and ":S" in msg and "branch 'b'" in msg and "damaged" in msg
    with uproot.open(path) as f, pytest.raises(InputDataError) as info:
        _model().evaluate(f["S"])
    assert "branch 'b'" in str(info.value) and path in str(info.value)
    weights = str(tmp_path / "m.weights.xml")
    _model().save(weights)
    assert main(["evaluate", weights, f"{path}:S"]) == 2
    err = capsys.readouterr().err
    assert "branch 'b'" in err and "Traceback" not in err


def test_jagged_and_string_branches_are_refused_clearly(tmp_path):
    path = str(tmp_path / "odd.root")
    with uproot.recreate(path) as f:
        f.mktree("T", {"name": "string", "a": np.float32, "jet": "var * float32"})
        f["T"].extend(
            {
                "name": np.array(["x", "y", "z"]),
                "a": np.ones(3, np.float32),
                "jet": ak.Array([[1.0], [], [2.0, 3.0]]),
            }
        )
    with uproot.open(path) as f:
        for var, words in (("name", "strings"), ("jet", "variable number of values")):
            m = Model.from_parts(
                title="m",
                variables=[var, "a"],
                layers=[DenseSpec(1, "LINEAR")],
                params=[{"Weights": np.ones((1, 2), np.float32), "Biases": np.zeros((1, 1), np.float32)}],
            )
            with pytest.raises(InputDataError, match=words) as info:
                m.evaluate(f["T"])
            assert path in str(info.value) and repr(var) in str(info.value)
