"""Write TTrees with leaf-list branches (one ``TBranch`` holding several leaves, ``a/F:b/I``) through uproot.

ROOT's ``TTree::Branch(name, address, "Signal/F:bg0/F")`` makes one branch whose title is the leaf list
and whose leaves (``TLeafF`` ``Signal``, ``TLeafF`` ``bg0``) are read one after the other from each entry
of the basket: the basket holds, per entry, the packed big-endian values of all leaves. TMVA writes its
multiclass and regression outputs this way. uproot reads such branches (as a record) but its writer has no
leaf lists; this module adds them to ``uproot.writing``'s TTree writer. Scalar, fixed-size array, string and
jagged branches are written by uproot as usual, in the same tree.

How: each leaf-list branch is created as a fixed-size byte array (``uint8[itemsize]``), which gives
exactly the basket layout ROOT expects (``fNevBufSize`` = bytes per entry, no entry offsets); the tree
metadata is then serialized by this module with the branch's leaf-list title and one ``TLeaf*`` per leaf.
That serializer replaces the one method of uproot's internal ``uproot.writing._cascadetree.Tree`` that lays
the metadata out (``_build_out``); before using it, this module checks that it reproduces uproot's own bytes
for the tree without leaf lists, so an uproot whose internals moved on fails with a
:class:`~tmvacompat.errors.TMVACompatError` instead of writing a corrupt file. Tested with the uproot
versions in ``UPROOT_VERSIONS_TESTED``.

Supported leaf types (ROOT letters): ``B b S s I i L l F D O`` (signed/unsigned 8, 16, 32, 64-bit integers,
float, double, bool), each optionally a fixed-size array (``v[3]/F``). Not supported: ``C`` (strings),
variable-size leaves, reopening a written tree with ``uproot.update`` to extend it.

Example:
    >>> import numpy as np, os, tempfile, uproot
    >>> from tmvacompat.leaflist import LeafList, mktree
    >>> path = os.path.join(tempfile.mkdtemp(), "t.root")
    >>> with uproot.recreate(path) as f:
    ...     t = mktree(f, "TestTree", {"classID": np.int32, "DL_CPU": LeafList("Signal/F:bg0/F")})
    ...     t.extend({"classID": np.array([0, 1], np.int32),
    ...               "DL_CPU": {"Signal": np.array([0.9, 0.2]), "bg0": np.array([0.1, 0.8])}})
    >>> b = uproot.open(path)["TestTree"]["DL_CPU"]
    >>> b.title, [leaf.member("fName") for leaf in b.member("fLeaves")]
    ('Signal/F:bg0/F', ['Signal', 'bg0'])
    >>> b.array(library="np")["bg0"].tolist()
    [0.10000000149011612, 0.800000011920929]
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tmvacompat.errors import InputDataError, TMVACompatError

__all__ = ["Leaf", "LeafList", "LeafListTree", "mktree", "UPROOT_VERSIONS_TESTED"]

UPROOT_VERSIONS_TESTED = ("5.7.7",)

# ROOT leaf letter -> (numpy dtype, TLeaf class, struct format of its fMinimum/fMaximum)
_LETTERS: dict[str, tuple[str, str, str]] = {
    "B": ("i1", "TLeafB", ">bb"),
    "b": ("u1", "TLeafB", ">bb"),
    "S": ("i2", "TLeafS", ">hh"),
    "s": ("u2", "TLeafS", ">hh"),
    "I": ("i4", "TLeafI", ">ii"),
    "i": ("u4", "TLeafI", ">ii"),
    "L": ("i8", "TLeafL", ">qq"),
    "l": ("u8", "TLeafL", ">qq"),
    "F": ("f4", "TLeafF", ">ff"),
    "D": ("f8", "TLeafD", ">dd"),
    "O": ("?", "TLeafO", ">??"),
}
_LEAF_RE = re.compile(r"^([^\[\]/:]+)((?:\[\d+\])*)(?:/(.))?$")


@dataclass(frozen=True)
class Leaf:
    """One leaf of a leaf list: a name, a ROOT type letter and an optional fixed shape.

    >>> Leaf("v", "F", (3,)).title, Leaf("v", "F", (3,)).dtype
    ('v[3]', dtype(('>f4', (3,))))
    """

    name: str
    letter: str = "F"
    shape: tuple[int, ...] = ()

    @property
    def title(self) -> str:
        """The leaf's title as ROOT writes it: the name with its dimensions (``v[3]``)."""
        return self.name + "".join(f"[{d}]" for d in self.shape)

    @property
    def dtype(self) -> np.dtype:
        """Big-endian numpy dtype of one entry of this leaf (with the shape as a sub-array)."""
        base = np.dtype(_LETTERS[self.letter][0]).newbyteorder(">")
        return np.dtype((base, self.shape)) if self.shape else base

    @property
    def length(self) -> int:
        """``TLeaf::fLen``: number of values per entry."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


class LeafList:
    """A ROOT leaf list such as ``"Signal/F:bg0/F"``: the type of one leaf-list branch.

    ``spec`` is ROOT's leaf-list string or a sequence of :class:`Leaf`. As in ROOT, a leaf without a type
    letter takes the previous leaf's type, and the first one defaults to ``F``.

    >>> ll = LeafList("x/D:n/I:v[2]")
    >>> ll.title, ll.itemsize, [leaf.letter for leaf in ll.leaves]
    ('x/D:n/I:v[2]/I', 20, ['D', 'I', 'I'])
    """

    def __init__(self, spec: str | Sequence[Leaf]) -> None:
        if isinstance(spec, str):
            leaves = self._parse(spec)
        else:
            leaves = list(spec)
            if not all(isinstance(leaf, Leaf) for leaf in leaves):
                raise InputDataError("a leaf list needs a string like 'a/F:b/I' or a sequence of Leaf")
            for leaf in leaves:
                self._check_leaf(leaf, str(leaf))
        if not leaves:
            raise InputDataError("a leaf list needs at least one leaf", token=str(spec))
        names = [leaf.name for leaf in leaves]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise InputDataError(f"leaf {dup!r} appears twice in the leaf list", token=dup)
        self.leaves: tuple[Leaf, ...] = tuple(leaves)

    @staticmethod
    def _check_leaf(leaf: Leaf, text: str) -> None:
        if leaf.letter not in _LETTERS:
            raise InputDataError(
                f"leaf {text!r}: type {leaf.letter!r} cannot be written in a leaf list",
                token=leaf.letter,
                expected=list(_LETTERS),
            )
        if not leaf.name or any(c in leaf.name for c in ":/[]") or leaf.name != leaf.name.strip():
            raise InputDataError(
                f"invalid leaf name {leaf.name!r}",
                token=leaf.name,
                expected=["a non-empty name without ':', '/', '[', ']' or surrounding blanks"],
            )
        if any(not isinstance(d, (int, np.integer)) or d < 1 for d in leaf.shape):
            raise InputDataError(
                f"leaf {leaf.name!r}: dimensions must be positive ints", token=str(leaf.shape)
            )

    @classmethod
    def _parse(cls, spec: str) -> list[Leaf]:
        leaves = []
        letter = "F"
        for piece in spec.split(":"):
            m = _LEAF_RE.match(piece)
            if m is None:
                raise InputDataError(
                    f"cannot read leaf {piece!r} of leaf list {spec!r}",
                    token=piece,
                    expected=["name/T", "name[N]/T", "name (type of the previous leaf)"],
                )
            name, dims, given = m.groups()
            letter = given or letter
            leaf = Leaf(name, letter, tuple(int(d) for d in re.findall(r"\d+", dims)))
            cls._check_leaf(leaf, piece)
            leaves.append(leaf)
        return leaves

    @classmethod
    def from_dtype(cls, dtype: np.dtype) -> LeafList:
        """The leaf list of a numpy structured dtype (field order, types and sub-array shapes).

        >>> LeafList.from_dtype(np.dtype([("a", "f4"), ("b", "i8")])).title
        'a/F:b/L'
        """
        dtype = np.dtype(dtype)
        if dtype.fields is None:
            raise InputDataError(f"dtype {dtype} is not a structured dtype", token=str(dtype))
        by_dtype = {np.dtype(v[0]).newbyteorder(">"): k for k, v in _LETTERS.items()}
        leaves = []
        for name in dtype.names:
            ftype = dtype.fields[name][0]
            base, shape = ftype.subdtype if ftype.subdtype is not None else (ftype, ())
            letter = by_dtype.get(base.newbyteorder(">"))
            if letter is None:
                raise InputDataError(
                    f"field {name!r} has dtype {base}, which has no leaf type",
                    token=name,
                    expected=[f"{np.dtype(v[0])} ({k})" for k, v in _LETTERS.items()],
                )
            leaves.append(Leaf(name, letter, tuple(shape)))
        return cls(leaves)

    @property
    def title(self) -> str:
        """The leaf list string (the branch title), every leaf with its type letter."""
        return ":".join(f"{leaf.title}/{leaf.letter}" for leaf in self.leaves)

    @property
    def dtype(self) -> np.dtype:
        """Packed big-endian structured dtype of one entry, as the leaves follow each other in a basket."""
        return np.dtype([(leaf.name, leaf.dtype) for leaf in self.leaves])

    @property
    def itemsize(self) -> int:
        """Bytes per entry."""
        return self.dtype.itemsize

    def offsets(self) -> list[int]:
        """Byte offset of each leaf in an entry (``TLeaf::fOffset``)."""
        return [self.dtype.fields[leaf.name][1] for leaf in self.leaves]

    def pack(self, values: Any, where: str = "") -> np.ndarray:
        """Entries as a ``(n, itemsize)`` uint8 array in basket layout.

        ``values``: a numpy structured array with the leaves as fields, a mapping leaf name -> array, or (when
        every leaf is a scalar) a 2-D array with one column per leaf (1-D for a single leaf).

        >>> LeafList("a/I:b/I").pack(np.array([[1, 2]])).tolist()
        [[0, 0, 0, 1, 0, 0, 0, 2]]
        """
        names = [leaf.name for leaf in self.leaves]
        what = f"{where}: " if where else ""
        if isinstance(values, np.ndarray) and values.dtype.names is not None:
            columns = {k: values[k] for k in values.dtype.names}
        elif isinstance(values, Mapping):
            columns = dict(values)
        else:
            arr = np.asarray(values)
            if arr.ndim == 1 and len(names) == 1 and not self.leaves[0].shape:
                arr = arr[:, None]  # one scalar leaf: a plain column will do
            if arr.ndim != 2 or arr.shape[1] != len(names) or any(leaf.shape for leaf in self.leaves):
                raise InputDataError(
                    f"{what}leaf list {self.title!r} needs a structured array, a mapping leaf -> array, or a "
                    f"2-D array with {len(names)} columns; got shape {arr.shape}",
                    token=self.title,
                )
            columns = {k: arr[:, j] for j, k in enumerate(names)}
        missing = [k for k in names if k not in columns]
        extra = [k for k in columns if k not in names]
        if missing or extra:
            raise InputDataError(
                f"{what}leaf list {self.title!r}: missing leaves {missing}, unknown leaves {extra}",
                token=(missing + extra)[0],
                expected=names,
            )
        lengths = {len(np.asarray(columns[k])) if np.ndim(columns[k]) else -1 for k in names}
        if len(lengths) != 1 or -1 in lengths:
            raise InputDataError(
                f"{what}the leaves of {self.title!r} have different lengths", token=self.title
            )
        out = np.empty(lengths.pop(), self.dtype)
        for leaf in self.leaves:
            col = np.asarray(columns[leaf.name])
            if col.shape[1:] != leaf.shape:
                raise InputDataError(
                    f"{what}leaf {leaf.name!r} has per-entry shape {col.shape[1:]}, expected {leaf.shape}",
                    token=leaf.name,
                )
            out[leaf.name] = col
        return out.view(np.uint8).reshape(len(out), self.itemsize)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LeafList) and self.leaves == other.leaves

    def __hash__(self) -> int:
        return hash(self.leaves)

    def __repr__(self) -> str:
        return f"LeafList({self.title!r})"


class LeafListTree:
    """A TTree being written that has leaf-list branches; made by :func:`mktree`.

    ``extend`` takes what uproot's ``WritableTree.extend`` takes, and for a leaf-list branch any value that
    :meth:`LeafList.pack` accepts. Each call writes one basket per branch. ``tree`` is uproot's writable tree.
    """

    def __init__(self, tree: Any, leaflists: Mapping[str, LeafList]) -> None:
        self.tree = tree
        self.leaflists = dict(leaflists)

    @property
    def num_entries(self) -> int:
        """Entries written so far."""
        return int(self.tree.num_entries)

    def extend(self, data: Mapping[str, Any]) -> None:
        """Append entries: ``data`` maps every branch name to its values (same length for all).

        >>> import tempfile, os, uproot
        >>> with uproot.recreate(os.path.join(tempfile.mkdtemp(), "t.root")) as f:
        ...     t = mktree(f, "t", {"p": LeafList("x/F:y/F")})
        ...     t.extend({"p": np.array([[1.0, 2.0], [3.0, 4.0]])})
        ...     t.num_entries
        2
        """
        if not isinstance(data, Mapping):
            raise InputDataError("extend needs a mapping branch name -> values", token=type(data).__name__)
        converted = {}
        for name, value in data.items():
            ll = self.leaflists.get(name)
            converted[name] = ll.pack(value, where=f"branch {name!r}") if ll is not None else value
        self.tree.extend(converted)


def mktree(
    directory: Any,
    name: str,
    branches: Mapping[str, Any],
    title: str = "",
    *,
    initial_basket_capacity: int = 10,
    resize_factor: float = 10.0,
) -> LeafListTree:
    """Create a TTree in an uproot writable file/directory, with leaf-list branches where asked.

    ``branches`` maps branch names, in order, to a :class:`LeafList` or to any type uproot's ``mktree``
    accepts (``np.float32``, ``np.dtype(("f4", (64,)))``, ``"string"``, ...). ``name`` may contain ``/``
    (directories are created as in uproot).

    >>> import tempfile, os, uproot
    >>> path = os.path.join(tempfile.mkdtemp(), "t.root")
    >>> with uproot.recreate(path) as f:
    ...     t = mktree(f, "dir/t", {"w": np.float32, "reg": LeafList("fvalue/F")}, title="my tree")
    >>> uproot.open(path)["dir/t"]["reg"].title
    'fvalue/F'
    """
    if not isinstance(branches, Mapping) or not branches:
        raise InputDataError("a tree needs a non-empty mapping branch name -> type", token=str(name))
    leaflists = {k: v for k, v in branches.items() if isinstance(v, LeafList)}
    types = {k: (np.dtype((np.uint8, (v.itemsize,))) if k in leaflists else v) for k, v in branches.items()}
    cascade_cls = _cascade_class() if leaflists else None  # trees without leaf lists are uproot's alone
    tree = directory.mktree(
        name,
        types,
        title=title,
        initial_basket_capacity=initial_basket_capacity,
        resize_factor=resize_factor,
    )
    if cascade_cls is not None:
        casc = getattr(tree, "_cascading", None)
        file = getattr(tree, "_file", None)
        if type(casc) is not cascade_cls.__bases__[0] or file is None or not hasattr(file, "sink"):
            raise _internals_error("WritableTree no longer wraps a _cascadetree.Tree")
        _check_layout(casc)
        casc.__class__ = cascade_cls
        casc._leaflists = leaflists
        casc._relocate(file, file.sink)  # rewrite the metadata with the leaf lists, free the first version
    return LeafListTree(tree, leaflists)


# --------------------------------------------------------------------------------------------------
# uproot internals: everything below depends on uproot.writing._cascadetree
# --------------------------------------------------------------------------------------------------
_REQUIRED_METHODS = ("_build_out", "_relocate", "write_anew", "write_updates", "extend")
_REQUIRED_DATUM_KEYS = (
    "fName", "fTitle", "kind", "counter", "dtype", "shape", "fBasketSize", "fEntryOffsetLen", "fOffset",
    "fSplitLevel", "fFirstEntry", "fTotBytes", "fZipBytes", "fBasketBytes", "fBasketEntry", "fBasketSeek",
)  # fmt: skip
_CASCADE_CLASS: type | None = None

_K_BYTECOUNT = 0x40000000
_K_NEW_CLASS = 0xFFFFFFFF
_BITS_TTREE = 0x03000008  # kIsOnHeap | kNotDeleted | kMustCleanup
_BITS_TBRANCH = 0x03400000  # kIsOnHeap | kNotDeleted | bit 22, as uproot writes it
_BITS_TOBJARRAY = 0x03000000
_ATTLINE_FILL_MARKER = (
    b"@\x00\x00\x08\x00\x02\x02Z\x00\x01\x00\x01"  # TAttLine v2: color 602, style 1, width 1
    b"@\x00\x00\x06\x00\x02\x00\x00\x03\xe9"  # TAttFill v2: color 0, style 1001
    b"@\x00\x00\n\x00\x02\x00\x01\x00\x01?\x80\x00\x00"  # TAttMarker v2: color 1, style 1, size 1
)
_ATTFILL = b"@\x00\x00\x06\x00\x02\x00\x00\x03\xe9"
_IOFEATURES = b"@\x00\x00\x07\x00\x00\x1a\xa1/\x10\x00"
_EMPTY_TOBJARRAY = b"@\x00\x00\x15\x00\x03\x00\x01\x00\x00\x00\x00\x03\x00\x00\x00" + b"\x00" * 9
_TTREE_FORMAT = struct.Struct(">qqqqqdiiiiIqqqqqq")
_TBRANCH_FORMAT1 = struct.Struct(">iiiiq")
_TBRANCH_FORMAT2 = struct.Struct(">iIiqqqq")
_TLEAF_FORMAT = struct.Struct(">iii??")
# letters uproot uses for plain branches (its own dtype map) -> TLeaf class and fMinimum/fMaximum format
_PLAIN_LEAVES = {**{k.upper(): (v[1], v[2]) for k, v in _LETTERS.items()}, "C": ("TLeafC", ">ii")}


def _internals_error(detail: str) -> TMVACompatError:
    import uproot

    return TMVACompatError(
        f"uproot {uproot.__version__}'s TTree writer is not the one tmvacompat.leaflist was written for "
        f"({detail}); leaf-list branches were tested with uproot {', '.join(UPROOT_VERSIONS_TESTED)}",
        token=uproot.__version__,
        expected=list(UPROOT_VERSIONS_TESTED),
        where="tmvacompat.leaflist",
    )


def _cascade_class() -> type:
    """uproot's internal TTree writer with the metadata serializer replaced (built once)."""
    global _CASCADE_CLASS
    if _CASCADE_CLASS is not None:
        return _CASCADE_CLASS
    try:
        from uproot.writing import _cascadetree
    except ImportError as err:
        raise _internals_error("uproot.writing._cascadetree cannot be imported") from err
    base = getattr(_cascadetree, "Tree", None)
    missing = [m for m in _REQUIRED_METHODS if not callable(getattr(base, m, None))]
    if base is None or missing or not isinstance(getattr(_cascadetree, "_dtype_to_char", None), dict):
        raise _internals_error(f"_cascadetree.Tree lacks {missing or ['Tree/_dtype_to_char']}")

    class _LeafListCascade(base):  # type: ignore[misc, valid-type]
        _leaflists: dict[str, LeafList] = {}

        def _build_out(self):
            return _serialize_tree(self, self._leaflists)

    _CASCADE_CLASS = _LeafListCascade
    return _CASCADE_CLASS


def _check_layout(casc: Any) -> None:
    """Our serializer must give uproot's own bytes for the tree as uproot made it (no leaf lists yet)."""
    data = getattr(casc, "_branch_data", None)
    if not isinstance(data, list) or any(
        d.get("kind") != "record" and not all(k in d for k in _REQUIRED_DATUM_KEYS) for d in data
    ):
        raise _internals_error("its branch records have other fields")
    try:
        theirs = b"".join(casc._build_out())
        their_offsets = [(d.get("metadata_start"), d.get("basket_metadata_start")) for d in data]
        ours = b"".join(_serialize_tree(casc, {}))
    except (AttributeError, KeyError, TypeError) as err:
        raise _internals_error(f"{type(err).__name__}: {err}") from err
    our_offsets = [(d.get("metadata_start"), d.get("basket_metadata_start")) for d in data]
    if theirs != ours or their_offsets != our_offsets:
        raise _internals_error("its TTree metadata layout changed")


class _Out:
    """A byte buffer that knows positions (for object references) and back-fills ROOT byte counts."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def __len__(self) -> int:
        return len(self.buf)

    def add(self, data: bytes) -> None:
        self.buf += data

    def open_versioned(self, version: int) -> int:
        start = len(self.buf)
        self.buf += struct.pack(">IH", 0, version)
        return start

    def open_any(self, classname: str) -> int:
        start = len(self.buf)
        self.buf += struct.pack(">II", 0, _K_NEW_CLASS) + classname.encode() + b"\x00"
        return start

    def close(self, start: int) -> None:
        count = len(self.buf) - start - 4
        self.buf[start : start + 4] = struct.pack(">I", count | _K_BYTECOUNT)

    def string(self, text: str) -> None:
        raw = text.encode(errors="surrogateescape")
        self.buf += struct.pack(">B", len(raw)) if len(raw) < 255 else struct.pack(">BI", 255, len(raw))
        self.buf += raw

    def tnamed(self, name: str, title: str, bits: int) -> None:
        start = self.open_versioned(1)
        self.add(struct.pack(">HII", 1, 0, bits))  # TObject: version, fUniqueID, fBits
        self.string(name)
        self.string(title)
        self.close(start)

    def tobjarray_header(self, size: int, bits: int) -> int:
        start = self.open_versioned(3)
        self.add(struct.pack(">HII", 1, 0, bits))
        self.string("")  # fName
        self.add(struct.pack(">ii", size, 0))  # fSize, fLowerBound
        return start


def _key_header_bytes(casc: Any) -> int:
    """Length of the TKey header in front of the TTree object (references count from the key's start)."""
    import uproot.reading

    n = uproot.reading._key_format_big.size + 6
    for text in (casc._name, casc._title):
        raw = text.encode(errors="surrogateescape")
        n += (1 if len(raw) < 255 else 5) + len(raw)
    return n


def _write_leaf(
    out: _Out,
    classname: str,
    minmax: str,
    name: str,
    title: str,
    fields: tuple[int, int, int, bool, bool],
    leafcount_ref: int,
) -> None:
    start_any = out.open_any(classname)
    start_leafx = out.open_versioned(1)
    start_leaf = out.open_versioned(2)
    out.tnamed(name, title, 0x03000000)
    out.add(_TLEAF_FORMAT.pack(*fields))
    out.add(struct.pack(">I", leafcount_ref))
    out.close(start_leaf)
    out.add(struct.pack(minmax, 0, 0))  # fMinimum, fMaximum (uproot patches a counter's maximum later)
    out.close(start_leafx)
    out.close(start_any)


def _serialize_tree(casc: Any, leaflists: Mapping[str, LeafList]) -> list[bytes]:
    """The TTree object (version 20, TBranch 13, TLeaf 2, TLeaf* 1) as uproot lays it out, plus leaf lists.

    Sets, as uproot's writer expects: ``casc._metadata_start`` and, per branch record, ``metadata_start``,
    ``basket_metadata_start``, ``tleaf_reference_number`` and ``tleaf_special_struct``.
    """
    from uproot.writing._cascadetree import _dtype_to_char

    key_len = _key_header_bytes(casc)
    out = _Out()
    start_tree = out.open_versioned(20)
    out.tnamed(casc._name, casc._title, _BITS_TTREE)
    out.add(_ATTLINE_FILL_MARKER)
    casc._metadata_start = len(out)
    m = casc._metadata
    out.add(
        _TTREE_FORMAT.pack(
            casc._num_entries,
            m["fTotBytes"],
            m["fZipBytes"],
            m["fSavedBytes"],
            m["fFlushedBytes"],
            m["fWeight"],
            m["fTimerInterval"],
            m["fScanField"],
            m["fUpdate"],
            m["fDefaultEntryOffsetLen"],
            m["fNClusterRange"],
            m["fMaxEntries"],
            m["fMaxEntryLoop"],
            m["fMaxVirtualSize"],
            m["fAutoSave"],
            m["fAutoFlush"],
            m["fEstimate"],
        )  # fmt: skip
    )
    out.add(b"\x00\x00" + _IOFEATURES)  # two empty cluster arrays (speedbumps), then fIOFeatures

    datums = [d for d in casc._branch_data if d["kind"] != "record"]
    leaf_refs: list[int] = []
    start_branches = out.tobjarray_header(len(datums), 0x03004000)
    for d in datums:
        ll = leaflists.get(d["fName"])
        start_any = out.open_any("TBranch")
        start_branch = out.open_versioned(13)
        out.tnamed(d["fName"], ll.title if ll is not None else d["fTitle"], _BITS_TBRANCH)
        out.add(_ATTFILL)
        d["metadata_start"] = len(out)
        # fCompress 0: ROOT then checks each basket for compression itself
        out.add(
            _TBRANCH_FORMAT1.pack(
                0, d["fBasketSize"], d["fEntryOffsetLen"], casc._num_baskets, casc._num_entries
            )
        )
        out.add(_IOFEATURES)
        out.add(
            _TBRANCH_FORMAT2.pack(
                d["fOffset"],
                casc._basket_capacity,
                d["fSplitLevel"],
                casc._num_entries,
                d["fFirstEntry"],
                d["fTotBytes"],
                d["fZipBytes"],
            )
        )
        out.add(_EMPTY_TOBJARRAY)  # sub-branches

        if ll is None:
            letter = _dtype_to_char[d["dtype"]]
            classname, minmax = _PLAIN_LEAVES[letter.upper()]
            dims = ("[" + d["counter"]["fName"] + "]" if d["counter"] is not None else "") + "".join(
                f"[{x}]" for x in d["shape"]
            )
            n_values = int(np.prod(d["shape"], dtype=np.int64))
            is_counter = d["kind"] == "counter"
            fields = (n_values, d["dtype"].itemsize, 0, is_counter, letter != letter.upper())
            leafcount = d["counter"]["tleaf_reference_number"] if d["counter"] is not None else 0
            start_leaves = out.tobjarray_header(1, _BITS_TOBJARRAY)
            d["tleaf_reference_number"] = key_len + len(out) + 2
            leaf_refs.append(d["tleaf_reference_number"])
            _write_leaf(out, classname, minmax, d["fName"], d["fName"] + dims, fields, leafcount)
            d["tleaf_special_struct"] = struct.Struct(minmax)
        else:
            start_leaves = out.tobjarray_header(len(ll.leaves), _BITS_TOBJARRAY)
            for j, (leaf, offset) in enumerate(zip(ll.leaves, ll.offsets(), strict=True)):
                classname, minmax = _PLAIN_LEAVES[leaf.letter.upper()]
                ref = key_len + len(out) + 2
                leaf_refs.append(ref)
                if j == 0:
                    d["tleaf_reference_number"] = ref
                base = leaf.dtype.base if leaf.shape else leaf.dtype
                fields = (leaf.length, base.itemsize, offset, False, leaf.letter != leaf.letter.upper())
                _write_leaf(out, classname, minmax, leaf.name, leaf.title, fields, 0)
                d["tleaf_special_struct"] = struct.Struct(minmax)
        out.close(start_leaves)

        out.add(_EMPTY_TOBJARRAY)  # fBaskets (the baskets themselves are separate keys)
        d["basket_metadata_start"] = len(out)
        for arr in (d["fBasketBytes"], d["fBasketEntry"], d["fBasketSeek"]):
            out.add(b"\x01" + arr.tobytes())
        out.add(b"\x00")  # fFileName
        out.close(start_branch)
        out.close(start_any)
    out.close(start_branches)

    start_leaves = out.tobjarray_header(len(leaf_refs), _BITS_TOBJARRAY)
    out.add(np.array(leaf_refs, ">u4").tobytes())
    out.close(start_leaves)
    out.add(b"\x00" * 28)  # fAliases, fIndexValues, fIndex, fTreeIndex, fFriends, fUserInfo, fBranchRef
    out.close(start_tree)
    return [bytes(out.buf)]
