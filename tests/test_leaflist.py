"""Tests for tmvacompat.leaflist: leaf-list branches written through uproot read back as ROOT's own do.

Truths: the leaf-list branches of a real TMVA file (structure), real ROOT reading what we write (TTree::Draw,
GetEntry/GetLeaf, RDataFrame), uproot's reader, and uproot's own serializer (byte-identical metadata for
trees without leaf lists)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import VECTORS

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

from tmvacompat import leaflist  # noqa: E402
from tmvacompat.errors import InputDataError, TMVACompatError  # noqa: E402
from tmvacompat.leaflist import Leaf, LeafList, mktree  # noqa: E402

MULTICLASS = VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass.root"
REGRESSION = VECTORS / "nasufsonmez_regression" / "TMVAReg.root"
MIX = "a/D:n/I:v[2]/S:ok/O:u/l:c/b"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"TMVA test vector {path} not available (expected ../shared/vectors beside the checkout)")


@pytest.fixture(scope="module")
def ROOT():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the PyPI ROOT package warns that it is an alpha release
        mod = pytest.importorskip("ROOT", reason="real ROOT (PyROOT) is needed to read what we write")
    mod.gROOT.SetBatch(True)
    return mod


def _leaves(branch) -> list[tuple]:
    return [
        (
            leaf.classname,
            leaf.member("fName"),
            leaf.member("fTitle"),
            leaf.member("fLen"),
            leaf.member("fLenType"),
            leaf.member("fOffset"),
            leaf.member("fIsRange"),
            leaf.member("fIsUnsigned"),
            leaf.member("fLeafCount"),
        )
        for leaf in branch.member("fLeaves")
    ]


def _mix_values(start: int, n: int) -> dict[str, np.ndarray]:
    i = np.arange(start, start + n)
    return {
        "a": i * 0.5,
        "n": -i,
        "v": np.stack([i % 30000, -(i % 30000)], axis=1),
        "ok": i % 3 == 0,
        "u": i.astype(np.uint64) * 2**40,
        "c": i % 256,
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Three extends (three baskets per branch) of a tree mixing uproot's branch kinds and leaf lists."""
    path = tmp_path_factory.mktemp("ll") / "t.root"
    rng = np.random.default_rng(7)
    chunks = []
    with uproot.recreate(path) as f:
        t = mktree(
            f,
            "dataset/TestTree",
            {
                "classID": np.int32,
                "className": "string",
                "var1": np.float32,
                "vars": np.dtype(("f4", (3,))),
                "DL_CPU": LeafList("Signal/F:bg0/F:bg1/F:bg2/F"),
                "mix": LeafList(MIX),
                "reg": LeafList("fvalue/F"),
            },
            title="TestTree",
        )
        start = 0
        for n in (1000, 7, 2500):
            c = {
                "classID": (np.arange(n) % 4).astype(np.int32),
                "className": np.array(["Signal", "bg0", "bg1", "bg2"])[np.arange(n) % 4],
                "var1": rng.normal(size=n).astype(np.float32),
                "vars": rng.normal(size=(n, 3)).astype(np.float32),
                "DL_CPU": rng.dirichlet(np.ones(4), n).astype(np.float32),  # 2-D: one column per leaf
                "mix": _mix_values(start, n),  # mapping leaf -> values
                "reg": np.rec.fromarrays([rng.normal(size=n)], names="fvalue"),  # structured array
            }
            t.extend(c)
            chunks.append(c)
            start += n
        assert t.num_entries == 3507
    return path, chunks


def test_parse_leaf_lists():
    ll = LeafList("x:y/I:z:w[3][2]/D")  # a leaf without a type takes the previous one's, the first F
    assert [(leaf.name, leaf.letter, leaf.shape) for leaf in ll.leaves] == [
        ("x", "F", ()),
        ("y", "I", ()),
        ("z", "I", ()),
        ("w", "D", (3, 2)),
    ]
    assert ll.title == "x/F:y/I:z/I:w[3][2]/D"
    assert ll.offsets() == [0, 4, 8, 12] and ll.itemsize == 12 + 48
    assert LeafList([Leaf("Signal"), Leaf("bg0")]) == LeafList("Signal/F:bg0/F")
    dt = np.dtype([("a", "<f4"), ("b", ">u2"), ("c", "?", (2,))])
    assert LeafList.from_dtype(dt).title == "a/F:b/s:c[2]/O"


@pytest.mark.parametrize(
    "spec, match",
    [
        ("a/F:b/C", "cannot be written in a leaf list"),
        ("a/F:a/D", "appears twice"),
        ("a/F::b/F", "cannot read leaf"),
        ("a[n]/F", "cannot read leaf"),
        ("a b/F", None),  # blanks inside a name are allowed by ROOT; surrounding blanks are not
        (" a/F", "invalid leaf name"),
        ("a/Q", "cannot be written"),
    ],
)
def test_leaf_list_errors(spec, match):
    if match is None:
        assert LeafList(spec).leaves[0].name == "a b"
        return
    with pytest.raises(InputDataError, match=match):
        LeafList(spec)
    with pytest.raises(InputDataError, match="no leaf type"):
        LeafList.from_dtype(np.dtype([("s", "U3")]))


def test_pack_layout_and_errors():
    ll = LeafList("a/I:b/D")
    packed = ll.pack({"a": [1, 2], "b": [0.5, -1.0]})
    assert packed.shape == (2, 12) and packed.dtype == np.uint8
    # big-endian, leaves one after the other, no padding
    assert packed[0].tobytes() == np.array(1, ">i4").tobytes() + np.array(0.5, ">f8").tobytes()
    assert np.array_equal(ll.pack(np.array([[1, 0.5], [2, -1.0]])), packed)
    with pytest.raises(InputDataError, match=r"missing leaves \['b'\]"):
        ll.pack({"a": [1]})
    with pytest.raises(InputDataError, match="unknown leaves"):
        ll.pack({"a": [1], "b": [1.0], "c": [2]})
    with pytest.raises(InputDataError, match="different lengths"):
        ll.pack({"a": [1, 2], "b": [1.0]})
    with pytest.raises(InputDataError, match="2 columns; got shape"):
        ll.pack(np.zeros((3, 3)))
    with pytest.raises(InputDataError, match="per-entry shape"):
        LeafList("v[2]/F").pack({"v": np.zeros((4, 3))})


def test_uproot_reads_leaf_lists_as_records(written):
    path, chunks = written
    t = uproot.open(path)["dataset/TestTree"]
    assert t.num_entries == 3507
    assert t.keys() == ["classID", "className", "var1", "vars", "DL_CPU", "mix", "reg"]
    assert t["DL_CPU"].typename == "struct {float Signal; float bg0; float bg1; float bg2;}"
    for name in ("classID", "className", "var1", "vars", "DL_CPU", "mix", "reg"):
        assert t[name].num_baskets == 3, name
        assert t[name].entry_offsets == [0, 1000, 1007, 3507], name
    dl = t["DL_CPU"].array(library="np")
    want = np.concatenate([c["DL_CPU"] for c in chunks])
    for j, cls in enumerate(["Signal", "bg0", "bg1", "bg2"]):
        np.testing.assert_array_equal(dl[cls], want[:, j])
    rec = t["DL_CPU"].array()  # awkward record array
    np.testing.assert_array_equal(ak.to_numpy(rec["bg1"]), want[:, 2])
    mix = t["mix"].array(library="np")
    ref = _mix_values(0, 3507)
    for k, v in ref.items():
        np.testing.assert_array_equal(mix[k], v.astype(mix.dtype[k].base), err_msg=k)
    reg = t["reg"].array(library="np")  # uproot reads a one-leaf list as a plain column, as in TMVA's files
    np.testing.assert_array_equal(reg, np.concatenate([c["reg"]["fvalue"] for c in chunks]).astype("f4"))
    # the other branch kinds are untouched
    np.testing.assert_array_equal(t["vars"].array(library="np"), np.concatenate([c["vars"] for c in chunks]))
    assert t["className"].array(library="np")[:5].tolist() == ["Signal", "bg0", "bg1", "bg2", "Signal"]
    assert t["mix"].basket(0).member("fNevBufSize") == LeafList(MIX).itemsize


def test_leaf_metadata(written):
    path, _ = written
    t = uproot.open(path)["dataset/TestTree"]
    assert t["mix"].title == "a/D:n/I:v[2]/S:ok/O:u/l:c/b"
    assert _leaves(t["mix"]) == [
        ("TLeafD", "a", "a", 1, 8, 0, False, False, None),
        ("TLeafI", "n", "n", 1, 4, 8, False, False, None),
        ("TLeafS", "v", "v[2]", 2, 2, 12, False, False, None),
        ("TLeafO", "ok", "ok", 1, 1, 16, False, False, None),
        ("TLeafL", "u", "u", 1, 8, 17, False, True, None),
        ("TLeafB", "c", "c", 1, 1, 25, False, True, None),
    ]
    # the tree's own list of leaves names every leaf of every branch, in order
    assert [leaf.member("fName") for leaf in t.member("fLeaves")] == [
        "classID", "className", "var1", "vars", "Signal", "bg0", "bg1", "bg2", "a", "n", "v", "ok", "u", "c",
        "fvalue",
    ]  # fmt: skip


def test_structure_equals_real_tmva_multiclass_file(tmp_path):
    _need(MULTICLASS)
    real = uproot.open(MULTICLASS)["dataset/TestTree"]
    path = tmp_path / "m.root"
    with uproot.recreate(path) as f:
        t = mktree(f, "TestTree", {"DL_CPU": LeafList(real["DL_CPU"].title)})
        t.extend({"DL_CPU": real["DL_CPU"].array(library="np")})
    mine = uproot.open(path)["TestTree"]
    for attr in ("title", "typename", "interpretation"):
        assert getattr(mine["DL_CPU"], attr) == getattr(real["DL_CPU"], attr), attr
    assert _leaves(mine["DL_CPU"]) == _leaves(real["DL_CPU"])
    for m in ("fEntryOffsetLen", "fBasketSize", "fSplitLevel"):
        assert mine["DL_CPU"].member(m) == real["DL_CPU"].member(m), m
    assert mine["DL_CPU"].basket(0).member("fNevBufSize") == real["DL_CPU"].basket(0).member("fNevBufSize")
    np.testing.assert_array_equal(mine["DL_CPU"].array(library="np"), real["DL_CPU"].array(library="np"))


def test_one_leaf_list_equals_real_tmva_regression_branch(tmp_path):
    _need(REGRESSION)
    real = uproot.open(REGRESSION)["datasetreg/TestTree"]["DNN_CPU"]
    path = tmp_path / "r.root"
    with uproot.recreate(path) as f:
        mktree(f, "t", {"DNN_CPU": LeafList("fvalue/F")}).extend({"DNN_CPU": real.array(library="np")})
    mine = uproot.open(path)["t"]["DNN_CPU"]
    assert (mine.title, mine.interpretation) == (real.title, real.interpretation)
    assert _leaves(mine) == _leaves(real)
    np.testing.assert_array_equal(mine.array(library="np"), real.array(library="np"))


def test_many_baskets_grow_the_basket_capacity(tmp_path):
    """More extends than the initial basket capacity: the tree metadata is relocated with its leaf lists."""
    path = tmp_path / "grow.root"
    with uproot.recreate(path) as f:
        t = mktree(f, "t", {"x": np.float64, "p": LeafList("a/F:b/I")}, initial_basket_capacity=2)
        for k in range(7):
            i = np.arange(100 * k, 100 * k + 100)
            t.extend({"x": i * 1.0, "p": {"a": i * 0.25, "b": -i}})
    t = uproot.open(path)["t"]
    assert t["p"].num_baskets == 7 and t["p"].title == "a/F:b/I"
    p = t["p"].array(library="np")
    np.testing.assert_array_equal(p["a"], np.arange(700) * 0.25)
    np.testing.assert_array_equal(p["b"], -np.arange(700))
    np.testing.assert_array_equal(t["x"].array(library="np"), np.arange(700.0))


def test_zero_entries(tmp_path):
    path = tmp_path / "empty.root"
    with uproot.recreate(path) as f:
        mktree(f, "t", {"c": np.int32, "p": LeafList("Signal/F:bg0/F")})
    t = uproot.open(path)["t"]
    assert t.num_entries == 0 and t["p"].title == "Signal/F:bg0/F"
    arr = t["p"].array(library="np")
    assert len(arr) == 0 and arr.dtype.names == ("Signal", "bg0")


def test_plain_tree_metadata_is_byte_identical_to_uproots(tmp_path):
    """Our serializer, used on a tree with uproot's branch kinds only, writes exactly uproot's bytes."""
    with uproot.recreate(tmp_path / "plain.root") as f:
        tree = f.mktree(
            "t",
            {
                "i": np.int32,
                "u": np.uint16,
                "b": np.bool_,
                "d": np.float64,
                "s": "string",
                "arr": np.dtype(("f4", (2, 3))),
                "jag": "var * float32",
                "rec": {"x": np.float32, "y": np.int64},
            },
            title="a title",
        )
        tree.extend(
            {
                "i": np.arange(3, dtype=np.int32),
                "u": np.arange(3, dtype=np.uint16),
                "b": np.array([True, False, True]),
                "d": np.arange(3.0),
                "s": np.array(["a", "bb", "ccc"]),
                "arr": np.zeros((3, 2, 3), np.float32),
                "jag": ak.Array([[1.0], [], [2.0, 3.0]]),
                "rec": {"x": np.zeros(3, np.float32), "y": np.arange(3)},
            }
        )
        casc = tree._cascading
        theirs = b"".join(casc._build_out())

        def offsets():
            return [(d.get("metadata_start"), d.get("basket_metadata_start")) for d in casc._branch_data]

        theirs_offsets = offsets()
        ours = b"".join(leaflist._serialize_tree(casc, {}))
        assert ours == theirs
        assert offsets() == theirs_offsets


def test_changed_uproot_internals_fail_clearly(tmp_path, monkeypatch):
    with uproot.recreate(tmp_path / "x.root") as f:
        tree = f.mktree("t", {"x": np.float32})
        casc = tree._cascading
        monkeypatch.setattr(casc, "_build_out", lambda: [b"something else"])
        with pytest.raises(TMVACompatError, match="metadata layout changed.*tested with uproot"):
            leaflist._check_layout(casc)
    monkeypatch.setattr(leaflist, "_CASCADE_CLASS", None)
    monkeypatch.delattr(uproot.writing._cascadetree.Tree, "_relocate")
    with pytest.raises(TMVACompatError, match=r"lacks \['_relocate'\]"):
        leaflist._cascade_class()
    with uproot.recreate(tmp_path / "y.root") as f:
        with pytest.raises(TMVACompatError, match="tested with uproot"):
            mktree(f, "t", {"p": LeafList("a/F")})
        mktree(f, "u", {"x": np.float32}).extend({"x": np.zeros(2, np.float32)})  # no leaf list: plain uproot
    assert uproot.open(tmp_path / "y.root")["u"].num_entries == 2


def test_bad_extend_input_names_the_branch(tmp_path):
    with uproot.recreate(tmp_path / "x.root") as f:
        t = mktree(f, "t", {"p": LeafList("a/F:b/F")})
        with pytest.raises(InputDataError, match=r"branch 'p': leaf list 'a/F:b/F': missing leaves \['b'\]"):
            t.extend({"p": {"a": np.zeros(3)}})
        with pytest.raises(InputDataError, match="mapping"):
            t.extend([1, 2])
    with pytest.raises(InputDataError, match="non-empty mapping"):
        mktree(None, "t", {})


def test_real_root_reads_what_we_write(written, ROOT):
    path, chunks = written
    f = ROOT.TFile.Open(str(path))
    assert f and not f.IsZombie()
    t = f.Get("dataset/TestTree")
    assert t.GetEntries() == 3507
    assert t.GetBranch("DL_CPU").GetTitle() == "Signal/F:bg0/F:bg1/F:bg2/F"
    assert t.GetBranch("DL_CPU").GetListOfLeaves().GetEntries() == 4
    want = np.concatenate([c["DL_CPU"] for c in chunks])
    assert t.Draw("DL_CPU.bg1", "", "goff") == 3507
    np.testing.assert_array_equal(np.frombuffer(t.GetV1(), np.float64, 3507), want[:, 2])
    assert t.Draw("mix.v[1]", "", "goff") == 3507
    np.testing.assert_array_equal(np.frombuffer(t.GetV1(), np.float64, 3507), -(np.arange(3507) % 30000))
    mixref = _mix_values(0, 3507)
    for entry in (0, 999, 1000, 1006, 1007, 3506):  # first/last entries of each basket
        t.GetEntry(entry)
        assert t.GetLeaf("DL_CPU", "Signal").GetValue() == want[entry, 0]
        assert t.GetLeaf("DL_CPU", "bg2").GetValue() == want[entry, 3]
        assert t.GetLeaf("mix", "a").GetValue() == mixref["a"][entry]
        assert t.GetLeaf("mix", "n").GetValue() == mixref["n"][entry]
        assert t.GetLeaf("mix", "v").GetValue(1) == mixref["v"][entry, 1]
        assert t.GetLeaf("mix", "ok").GetValue() == mixref["ok"][entry]
        assert t.GetLeaf("mix", "c").GetValue() == mixref["c"][entry]
        assert t.GetLeaf("classID").GetValue() == np.concatenate([c["classID"] for c in chunks])[entry]
        assert t.GetLeaf("vars").GetValue(2) == np.concatenate([c["vars"] for c in chunks])[entry, 2]
    df = ROOT.RDataFrame(t)
    # a one-leaf list is a column named after the branch, as for TMVA's regression outputs
    assert {"DL_CPU.Signal", "mix.u", "reg", "classID", "vars"} <= {str(c) for c in df.GetColumnNames()}
    np.testing.assert_array_equal(np.asarray(df.Take["float"]("DL_CPU.Signal").GetValue()), want[:, 0])
    np.testing.assert_array_equal(
        np.asarray(df.Take["ULong64_t"]("mix.u").GetValue(), np.uint64), mixref["u"].astype(np.uint64)
    )
    f.Close()


def test_real_root_sees_the_same_structure_as_in_a_tmva_file(written, ROOT):
    """ROOT's view of our struct branch (leaf names, types, RDF columns, PyROOT attributes) equals TMVA's."""
    _need(MULTICLASS)
    fr = ROOT.TFile.Open(str(MULTICLASS))
    fm = ROOT.TFile.Open(str(written[0]))
    real, mine = fr.Get("dataset/TestTree"), fm.Get("dataset/TestTree")

    def view(t):
        b = t.GetBranch("DL_CPU")
        leaves = [(x.ClassName(), x.GetName(), x.GetTitle(), x.GetTypeName()) for x in b.GetListOfLeaves()]
        cols = sorted(str(c) for c in ROOT.RDataFrame(t).GetColumnNames() if str(c).startswith("DL_CPU"))
        return b.GetTitle(), b.GetEntryOffsetLen(), leaves, cols, hasattr(t, "DL_CPU")

    assert view(mine) == view(real)
    fr.Close()
    fm.Close()


def test_real_root_reads_zero_entries_and_grown_trees(tmp_path, ROOT):
    path = tmp_path / "z.root"
    with uproot.recreate(path) as f:
        mktree(f, "empty", {"p": LeafList("a/F:b/F")})
        t = mktree(f, "grown", {"p": LeafList("a/F:b/D")}, initial_basket_capacity=2)
        for k in range(5):
            t.extend({"p": {"a": np.full(10, k), "b": np.arange(10) + 10.0 * k}})
    rf = ROOT.TFile.Open(str(path))
    assert rf.Get("empty").GetEntries() == 0
    assert rf.Get("empty").Draw("p.a", "", "goff") == 0
    g = rf.Get("grown")
    assert g.Draw("p.b", "", "goff") == 50
    np.testing.assert_array_equal(np.frombuffer(g.GetV1(), np.float64, 50), np.arange(50.0))
    rf.Close()
