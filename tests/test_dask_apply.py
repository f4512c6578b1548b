"""Application at scale: tmvacompat.dask and ``tmvacompat apply`` with several inputs, on a real
dask.distributed LocalCluster of 2 worker processes (tests/conftest.py).

Truths: ``Model.evaluate`` per file (the four compressions of root_written/class_*.root with TMVA's own
DL weight file, and the two image files with a CNN-style array input), uproot and real ROOT reading the
friend trees.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

from tmvacompat import DataLoader, InputDataError, load_weights
from tmvacompat.cli import main
from tmvacompat.methods.dl import MethodDL

WRITTEN = VECTORS / "root_written"
WEIGHTS = VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml"
CLASS_FILES = [WRITTEN / f"class_{c}.root" for c in ("zlib", "lz4", "zstd", "lzma")]
IMAGE_FILES = [WRITTEN / f"images_part{k}.root" for k in (0, 1)]
pytestmark = pytest.mark.skipif(not WRITTEN.is_dir(), reason=f"TMVA test vectors not found at {VECTORS}")


def _per_file(model, files, tree):
    return [np.asarray(model.evaluate(f"{f}:{tree}"), np.float32) for f in files]


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """A small network on the 8x8 images (AddVariablesArray("vars", 64)), trained for one epoch."""
    loader = DataLoader("images")
    loader.AddVariablesArray("vars", 64)
    loader.AddSignalTree(f"{IMAGE_FILES[0]}:sig_tree")
    loader.AddBackgroundTree(f"{IMAGE_FILES[0]}:bkg_tree")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:!V")
    m = MethodDL("IMG", "!H:!V:Layout=TANH|8,LINEAR:RandomSeed=2:TrainingStrategy=BatchSize=50,MaxEpochs=1")
    m.train(loader.GetDataSet(), weight_file=str(tmp_path_factory.mktemp("img") / "img.weights.xml"))
    return m.model


def test_dask_awkward_responses_equal_model_evaluate_per_file(dask_client, image_model):
    import dask
    import uproot

    from tmvacompat.dask import evaluate

    model = load_weights(WEIGHTS)
    # files: a single-layer graph, computed with dask-awkward's optimisations as they are
    lazy = evaluate(model, [f"{f}:TreeS" for f in CLASS_FILES], step_size=2500)
    assert lazy.npartitions == 4 * 2 and lazy.divisions[-1] == 4 * 3000  # 3000 entries per file
    got = np.asarray(lazy.compute(), np.float32)
    images = evaluate(image_model, [f"{WRITTEN}/images_part*.root:bkg_tree"]).compute()
    # the user's uproot.dask arrays: a chain of layers, which dask-awkward's layer-chains optimisation
    # cannot fuse with dask >= 2025.4 (see tmvacompat.dask.evaluate); the column projection stays
    arrays = uproot.dask({str(f): "TreeB" for f in CLASS_FILES[:2]})
    with dask.config.set({"awkward.optimization.which": ["columns"]}):
        from_arrays = np.asarray(evaluate(model, arrays).compute(), np.float32)
    assert np.array_equal(got, np.concatenate(_per_file(model, CLASS_FILES, "TreeS")))
    assert np.array_equal(from_arrays, np.concatenate(_per_file(model, CLASS_FILES[:2], "TreeB")))
    assert np.array_equal(
        np.asarray(images, np.float32), np.concatenate(_per_file(image_model, IMAGE_FILES, "bkg_tree"))
    )


def test_friend_trees_written_by_workers_equal_model_evaluate(dask_client, image_model, tmp_path):
    import uproot

    from tmvacompat.dask import write_friends

    model = load_weights(WEIGHTS)
    out = tmp_path / "friends"
    written = write_friends(model, [f"{f}:TreeS" for f in CLASS_FILES], out, client=dask_client)
    assert [Path(p).name for p, _, _ in written] == [f.name for f in CLASS_FILES]
    for f, expected in zip(CLASS_FILES, _per_file(model, CLASS_FILES, "TreeS"), strict=True):
        with uproot.open(out / f.name) as friend, uproot.open(f) as source:
            tree = friend["TreeS"]  # named as the input tree, one entry per input entry
            assert tree.num_entries == source["TreeS"].num_entries
            assert np.array_equal(tree["DNN_CPU"].array(library="np"), expected)
    img_out = tmp_path / "img"
    write_friends(image_model, [f"{WRITTEN}/images_part*.root:sig_tree"], img_out, client=dask_client)
    for f, expected in zip(IMAGE_FILES, _per_file(image_model, IMAGE_FILES, "sig_tree"), strict=True):
        with uproot.open(img_out / f.name) as friend:
            assert np.array_equal(friend["sig_tree"]["IMG"].array(library="np"), expected)


def test_friend_trees_open_in_root(dask_client, tmp_path):
    ROOT = pytest.importorskip("ROOT", reason="real ROOT (the PyPI package 'root') is not installed")
    from tmvacompat.dask import write_friends

    model = load_weights(WEIGHTS)
    write_friends(model, [f"{CLASS_FILES[0]}:TreeB"], tmp_path, client=dask_client)
    expected = _per_file(model, CLASS_FILES[:1], "TreeB")[0]
    source = ROOT.TFile.Open(str(CLASS_FILES[0]))
    tree = source.Get("TreeB")
    tree.AddFriend("f = TreeB", str(tmp_path / CLASS_FILES[0].name))
    assert tree.GetEntries() == len(expected)
    leaf = tree.GetFriend("f").GetLeaf("DNN_CPU")
    for i in (0, 17, len(expected) - 1):
        tree.GetEntry(i)
        assert leaf.GetValue() == pytest.approx(float(expected[i]), rel=0, abs=0)
    source.Close()


def test_apply_command_line_with_a_scheduler_and_with_workers(dask_client, tmp_path, capsys):
    import uproot

    address = dask_client.scheduler_info()["address"]
    sources = [f"{f}:TreeS" for f in CLASS_FILES[:2]]
    assert main(["apply", str(WEIGHTS), *sources, "-o", str(tmp_path / "a"), "--scheduler", address]) == 0
    assert "2 files, 6000 entries" in capsys.readouterr().out
    assert main(["apply", str(WEIGHTS), f"{WRITTEN}/class_z*.root:TreeB", "-o", str(tmp_path / "b"),
                 "--workers", "1", "--branch", "score"]) == 0  # fmt: skip
    with uproot.open(tmp_path / "b" / "class_zstd.root") as f:
        got = f["TreeB"]["score"].array(library="np")
    assert np.array_equal(got, _per_file(load_weights(WEIGHTS), [WRITTEN / "class_zstd.root"], "TreeB")[0])


def test_several_inputs_with_one_file_name_are_refused(tmp_path):
    from tmvacompat.dask import write_friends

    with pytest.raises(InputDataError, match="would both be written"):
        write_friends(WEIGHTS, [f"{CLASS_FILES[0]}:TreeS", f"{CLASS_FILES[0]}:TreeB"], tmp_path / "o")


def _exec_environ() -> dict[str, str]:
    """The environment this process was started with (what glibc read), not later changes."""
    with open("/proc/self/environ", "rb") as fh:
        items = [kv.split(b"=", 1) for kv in fh.read().split(b"\0") if b"=" in kv]
    return {k.decode(): v.decode() for k, v in items}


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="needs Linux's /proc/self/environ")
def test_local_cluster_workers_start_with_its_allocator_settings(dask_client):
    # distributed's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for the workers it spawns, in this process's
    # environment (the conftest's cluster has run); tmvacompat's workers start with MALLOC_ENV instead, and
    # this process's environment is put back
    from distributed import Client

    from tmvacompat.dask import MALLOC_ENV, local_cluster

    os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", "65536")
    before = dict(os.environ)
    cluster = local_cluster(1)
    try:
        with Client(cluster) as client:
            seen = list(client.run(_exec_environ).values())
    finally:
        cluster.close()
    assert len(seen) == 1 and {k: seen[0].get(k) for k in MALLOC_ENV} == MALLOC_ENV
    # a LocalCluster made with distributed's defaults (the conftest's) has distributed's setting
    defaults = dask_client.run(_exec_environ).values()
    assert {e.get("MALLOC_TRIM_THRESHOLD_") for e in defaults} == {"65536"}
    assert dict(os.environ) == before
