"""Out-of-core training data: the DataLoader's events streamed through a bounded buffer.

With the tmvacompat extensions ``Streaming=True`` and ``BufferEvents=N`` of ``PrepareTrainingAndTestTree``
the DataLoader does not hold the sample in memory. :func:`build_stream` makes a :class:`StreamingDataSet`:

1. **First pass** (uproot, chunk by chunk, the trees of a class in booking order, a chain's files in
   order): the expressions, cuts and weights are evaluated exactly as for the in-memory DataLoader and the
   selected events' float32 values are appended to scratch files (a temporary folder, removed with the
   dataset; ``scratch_dir`` of the DataLoader chooses where). Epochs read these files: the ROOT files are
   decompressed and the expressions evaluated once.
2. **The split, decided per event**: an event's *split key* is a 64-bit hash (splitmix64) of ``SplitSeed``,
   its tree's position in the booking and its entry number; it does not depend on chunking, buffer size or
   the other events. Per class, TMVA's numbers of training and test events are computed as the in-memory
   DataLoader computes them (``nTrain_``/``nTest_``/``TrainTestSplit_``); with ``SplitMode=Random`` the
   training events are those with the smallest keys and the test events the next ones (``Block``: the
   first events in reading order; ``Alternate``: one to training, one to testing in reading order, as
   in memory). Events of trees added as Training/Test keep their type. Only the keys
   (8 bytes per event) and the event order (8 bytes) are held to rank them.
3. **Validation**: of the ``ValidationSize`` events MethodDL sets aside, each class gives its share (in
   proportion to its training events) from its training events with the largest keys.
4. **Second pass** (scratch files, ``BufferEvents`` at a time): training ranges (``min``/``max`` of the weight
   file), per-class sums of weights (``NormMode``), and a subsample for the variable transformations: per
   class the training events with the smallest keys, ``BufferEvents`` in all. ``Normalize`` (when it is
   the first transformation) then takes the exact minima and maxima of the whole training sample;
   Decorrelate, PCA, Gauss and Uniform are fitted on the subsample.
5. **Epochs**: each class's training events are cut into as many pieces as buffers are needed; every epoch
   the pieces are drawn in a random order, one of each class per buffer (so a buffer has the classes'
   proportions), and the buffer is shuffled (as TMVA's ``RBatchGenerator`` shuffles within its chunks).
   Events beyond the last whole batch of a buffer are skipped that epoch.

When ``BufferEvents`` is at least the number of entries of all the trees, the DataLoader reads in memory
and splits exactly as TMVA does: streaming then gives the in-memory result bit for bit.

Example:
    >>> loader.PrepareTrainingAndTestTree("", "Streaming=True:BufferEvents=200000")  # doctest: +SKIP
    >>> stream = loader.GetDataSet(); stream.n_train, stream.is_stream               # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tmvacompat.data.dataset import ClassInfo, DataSetMeta, Sample, VariableInfo
from tmvacompat.data.loader import alternate_to_training, split_counts
from tmvacompat.errors import InputDataError

__all__ = ["StreamingDataSet", "build_stream", "split_keys"]

_M64 = (1 << 64) - 1


def split_keys(seed: int, source: np.ndarray, entry: np.ndarray) -> np.ndarray:
    """The per-event split keys: splitmix64 of (seed, tree position, entry number), as uint64.

    >>> split_keys(100, np.array([0, 0]), np.array([0, 1])).dtype
    dtype('uint64')
    """
    with np.errstate(over="ignore"):
        z = np.uint64(int(seed) * 0x9E3779B97F4A7C15 & _M64)
        z = z ^ (np.asarray(source, np.uint64) * np.uint64(0xD1B54A32D192ED03))
        z = z + np.asarray(entry, np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


# ------------------------------------------------------------------------------------------- scratch


class _Table:
    """Columns of equal length in raw binary files (one file per column), appended and read by rows."""

    def __init__(self, folder: str, name: str) -> None:
        self.folder, self.name = folder, name
        self.columns: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
        self.rows: dict[str, int] = {}

    def _path(self, col: str) -> str:
        return os.path.join(self.folder, f"{self.name}.{col}.bin")

    def append(self, col: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr)
        if col not in self.columns:
            self.columns[col] = (arr.dtype, arr.shape[1:])
            self.rows[col] = 0
        with open(self._path(col), "ab") as fh:
            arr.tofile(fh)
        self.rows[col] += len(arr)

    def sink(self, col: str) -> _Sink:
        return _Sink(self, col)

    def __len__(self) -> int:
        return min(self.rows.values()) if self.rows else 0

    def read(self, col: str, start: int, stop: int) -> np.ndarray:
        dtype, inner = self.columns[col]
        width = int(np.prod(inner)) if inner else 1
        count = max(stop - start, 0) * width
        if count == 0:
            return np.zeros((max(stop - start, 0), *inner), dtype)
        out = np.fromfile(self._path(col), dtype=dtype, count=count, offset=start * width * dtype.itemsize)
        return out.reshape(-1, *inner)


@dataclass
class _Sink:
    table: _Table
    col: str

    def append(self, arr: np.ndarray) -> None:
        self.table.append(self.col, arr)

    def clear(self) -> None:  # the in-memory path clears its lists; a sink has nothing to free
        return None

    def __bool__(self) -> bool:
        return bool(self.table.rows.get(self.col, 0))


@dataclass
class _StreamEvents:
    """Duck-typed ``_ClassEvents`` of the loader: its lists are sinks into a scratch table."""

    table: _Table
    n_before: int = 0
    w_before: float = 0.0
    n_after: int = 0
    w_after: float = 0.0
    trees: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for col in ("X", "T", "S", "W", "entry", "source", "ttype"):
            setattr(self, col, self.table.sink(col))


# ------------------------------------------------------------------------------------------- counts


def _counts(cname: str, o: Any, r: int, s: int, u: int, ev: _StreamEvents) -> tuple[int, int]:
    """(events to training, events to testing) of a class, as the in-memory DataLoader computes them."""
    req_train, req_test, _, _ = split_counts(o, cname, r, s, u, ev.n_before, ev.n_after)
    allav = r + s + u
    if req_train + req_test > allav:
        raise InputDataError(
            f"class {cname!r}: more events requested than available after cuts: nTrain_{cname} = {req_train} "
            f"and nTest_{cname} = {req_test}, {allav} events in all",
            token=f"nTrain_{cname}",
            expected=[f"nTrain_{cname} + nTest_{cname} <= {allav}"],
        )
    return req_train, req_test


def _alternate(cname: str, o: Any, tr: np.ndarray, te: np.ndarray, un: np.ndarray,
               ev: _StreamEvents) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(training rows, test rows) of a class with SplitMode=Alternate: the in-memory DataLoader's rule on the
    class's undefined events in reading order (only the roles, one byte per event, are held)."""
    req_train, req_test, _, _ = split_counts(o, cname, len(tr), len(te), len(un), ev.n_before, ev.n_after)
    is_train = alternate_to_training(len(un), len(tr), req_train)
    train = np.concatenate([tr, un[is_train]])[:req_train]
    test = np.concatenate([te, un[~is_train]])[:req_test]
    if len(train) < req_train or len(test) < req_test:
        allav = len(tr) + len(te) + len(un)
        raise InputDataError(
            f"class {cname!r}: more events requested than available after cuts: nTrain_{cname} = {req_train} "
            f"and nTest_{cname} = {req_test}, but only {len(train)} training and {len(test)} test events can "
            f"be given ({allav} events in all)",
            token=f"nTrain_{cname}",
            expected=[f"nTrain_{cname} + nTest_{cname} <= {allav}"],
        )
    return train, test


# ------------------------------------------------------------------------------------------- dataset


class StreamingDataSet(DataSetMeta):
    """The prepared data of a streaming DataLoader: metadata as a :class:`DataSet`, events on disk.

    ``variables``/``targets``/``spectators`` carry the training ranges; ``n_train``/``n_test`` count the
    events; :meth:`training_source` and :meth:`validation_arrays` feed the trainer; ``train``/``test`` load a
    whole sample into memory (what the Factory's TrainTree/TestTree need).
    """

    is_stream = True

    def __init__(self, name: str, folder: str, buffer_events: int) -> None:
        self.name = name
        self.folder = folder
        self.buffer_events = int(buffer_events)
        self.variables: tuple[VariableInfo, ...] = ()
        self.targets: tuple[VariableInfo, ...] = ()
        self.spectators: tuple[VariableInfo, ...] = ()
        self.classes: tuple[ClassInfo, ...] = ()
        self.analysis_type = "Classification"
        self.sources: tuple[str, ...] = ()
        self.split_options: dict[str, Any] = {}
        self.factors = np.ones(0)
        self.fit = _Table(folder, "fit")
        self.val = _Table(folder, "val")
        self.test_table = _Table(folder, "test")
        self.fit_ranges: list[tuple[int, int]] = []  # per class: rows of the fit table
        self.val_per_class: list[int] = []
        self.subsample: dict[str, np.ndarray] = {}
        self.class_min: np.ndarray = np.zeros(0)
        self.class_max: np.ndarray = np.zeros(0)
        self._finalizer = weakref.finalize(self, shutil.rmtree, folder, True)

    @property
    def n_train(self) -> int:
        return int(sum(getattr(self, "_per_class_train", [len(self.fit) + len(self.val)])))

    @property
    def n_validation(self) -> int:
        return len(self.val)

    @property
    def n_test(self) -> int:
        return len(self.test_table)

    def close(self) -> None:
        """Remove the scratch files now (otherwise when the dataset is garbage collected)."""
        self._finalizer()

    # ---------------------------------------------------------------- samples in memory
    def _sample(self, tables: list[_Table]) -> Sample:
        if getattr(self, "_finished", None) is None:  # not split yet: no validation set aside
            finish_stream(self, 0)
        parts = {c: [] for c in ("X", "T", "S", "W", "cls", "entry", "source")}
        for t in tables:
            n = len(t)
            for c in parts:
                parts[c].append(t.read(c, 0, n))
        cat = {c: np.concatenate(v) for c, v in parts.items()}
        w0 = cat["W"].astype(np.float64)
        return Sample(cat["X"], cat["T"], cat["S"], w0 * self.factors[cat["cls"]] if tables[0] is self.fit
                      else w0, w0, cat["cls"], cat["source"], cat["entry"])  # fmt: skip

    def iter_sample(self, which: str, step: int | None = None) -> Iterator[Sample]:
        """The training (``"train"``: fit, then validation events) or test (``"test"``) sample as chunks of
        ``step`` events (default ``BufferEvents``), in the order of :attr:`train`/:attr:`test`; only one
        chunk is in memory at a time."""
        if getattr(self, "_finished", None) is None:
            finish_stream(self, 0)
        if which not in ("train", "test"):
            raise ValueError(f"which must be 'train' or 'test', got {which!r}")
        tables = [self.fit, self.val] if which == "train" else [self.test_table]
        sizes = [len(t) for t in tables]
        edges = np.concatenate([[0], np.cumsum(sizes)])
        step = max(int(step or self.buffer_events), 1)
        for a in range(0, int(edges[-1]), step):
            b = min(a + step, int(edges[-1]))
            parts: dict[str, list[np.ndarray]] = {
                c: [] for c in ("X", "T", "S", "W", "cls", "entry", "source")
            }
            for t, lo, hi in zip(tables, edges[:-1], edges[1:], strict=True):
                s0, s1 = max(a, int(lo)), min(b, int(hi))
                if s1 > s0:
                    for c in parts:
                        parts[c].append(t.read(c, s0 - int(lo), s1 - int(lo)))
            cat = {c: np.concatenate(v) for c, v in parts.items()}
            w0 = cat["W"].astype(np.float64)
            w = w0 * self.factors[cat["cls"]] if which == "train" else w0
            yield Sample(cat["X"], cat["T"], cat["S"], w, w0, cat["cls"], cat["source"], cat["entry"])

    def labels(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(class ids, weights, targets) of the whole training or test sample, without its variables: what
        the figures of merit need."""
        if getattr(self, "_finished", None) is None:
            finish_stream(self, 0)
        tables = [self.fit, self.val] if which == "train" else [self.test_table]
        cls = np.concatenate([t.read("cls", 0, len(t)) for t in tables])
        w = np.concatenate([t.read("W", 0, len(t)) for t in tables]).astype(np.float64)
        tgt = np.concatenate([t.read("T", 0, len(t)) for t in tables])
        return cls, w * self.factors[cls] if which == "train" else w, tgt

    @property
    def train(self) -> Sample:
        """The whole training sample in memory (fit events, then validation events)."""
        s = self._sample([self.fit, self.val])
        return s

    @property
    def test(self) -> Sample:
        """The whole test sample in memory."""
        return self._sample([self.test_table])

    # ---------------------------------------------------------------- the trainer's inputs
    def transform_sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X, class_ids, weights, targets) of the subsample the transformations are fitted on."""
        if getattr(self, "_finished", None) is None:  # not split yet: no validation set aside
            finish_stream(self, 0)
        s = self.subsample
        return s["X"], s["cls"], s["W"].astype(np.float64) * self.factors[s["cls"]], s["T"]

    def validation_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(X, targets, weights, class_ids) of the validation events (NormMode applied)."""
        n = len(self.val)
        cls = self.val.read("cls", 0, n)
        return (self.val.read("X", 0, n), self.val.read("T", 0, n),
                self.val.read("W", 0, n).astype(np.float64) * self.factors[cls], cls)  # fmt: skip

    def training_source(self, make: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
                        batch_size: int) -> _EpochSource:  # fmt: skip
        """The epoch source the engine trainer iterates: ``make(X, targets, weights, class_ids)`` turns
        raw blocks into the network's (inputs, labels, weights)."""
        return _EpochSource(self, make, batch_size)


class _EpochSource:
    """What :func:`tmvacompat.engine.trainer.train` accepts as streamed training data."""

    def __init__(self, ds: StreamingDataSet, make: Callable, batch_size: int) -> None:
        self.ds, self.make, self.batch_size = ds, make, int(batch_size)
        self.n_events = len(ds.fit)
        n_buffers = max(1, -(-self.n_events // max(ds.buffer_events, 1)))
        self.pieces: list[list[tuple[int, int]]] = []
        for lo, hi in ds.fit_ranges:
            edges = np.linspace(lo, hi, n_buffers + 1).round().astype(np.int64)
            self.pieces.append([(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)])
        self.n_buffers = n_buffers

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A small block (shapes, dtypes and the compile of the training kernel)."""
        lo, hi = self.ds.fit_ranges[0]
        return self._block([(lo, min(hi, lo + self.batch_size))])

    def _block(self, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.ds.fit
        cols = {c: np.concatenate([t.read(c, a, b) for a, b in spans]) for c in ("X", "T", "W", "cls")}
        w = cols["W"].astype(np.float64) * self.ds.factors[cols["cls"]]
        return self.make(cols["X"], cols["T"], w, cols["cls"])

    def blocks(self, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One epoch: the buffers in a random order of pieces (one per class each)."""
        orders = [rng.permutation(self.n_buffers) for _ in self.pieces]
        for j in range(self.n_buffers):
            spans = [pieces[order[j]] for pieces, order in zip(self.pieces, orders, strict=True)]
            yield self._block([s for s in spans if s[1] > s[0]])


def build_stream(loader: Any, folder: str | None = None) -> StreamingDataSet:
    """Read a DataLoader's trees into a :class:`StreamingDataSet` (see the module docstring).

    Uses the loader's reading of one tree (``_read_tree``: expressions, cuts, weights, NaN checks, progress)
    and its parsed ``PrepareTrainingAndTestTree`` options.
    """
    from tmvacompat.data.loader import ClassReadStats

    o = loader._options
    split = str(o.SplitMode).upper()
    buffer_events = int(o.get("BufferEvents", 1_000_000))
    scratch = tempfile.mkdtemp(prefix="tmvacompat-stream-", dir=folder)
    ds = StreamingDataSet(loader.name, scratch, buffer_events)
    sources: list[str] = []
    per_class: list[_StreamEvents] = []
    for ci, cname in enumerate(loader._classes):
        ev = _StreamEvents(_Table(scratch, f"class{ci}"))
        for tin in (t for t in loader._inputs if t.class_name == cname):
            sources.append(tin.where)
            loader._read_tree(tin, len(sources) - 1, ci, ev)
        if not ev.n_after:
            cut = loader._cuts.get(cname, "")
            raise InputDataError(
                f"class {cname!r} has no events" + (f" after the cut {cut!r}" if cut else ""), token=cname
            )
        per_class.append(ev)
    loader.read_stats = tuple(
        ClassReadStats(
            c, loader._cuts.get(c, ""), tuple(ev.trees), ev.n_before, ev.w_before, ev.n_after, ev.w_after
        )  # fmt: skip
        for c, ev in zip(loader._classes, per_class, strict=True)
    )
    seed = int(o.SplitSeed)
    # roles per class: 0 training, 1 test, 2 unused; the training rank orders the training events by key
    roles: list[np.ndarray] = []
    ranks: list[np.ndarray] = []
    n_train_c: list[int] = []
    for cname, ev in zip(loader._classes, per_class, strict=True):
        t = ev.table
        n = len(t)
        ttype = t.read("ttype", 0, n)
        keys = split_keys(seed, t.read("source", 0, n), t.read("entry", 0, n))
        tr, te, un = (np.flatnonzero(ttype == k) for k in (0, 1, 2))
        role = np.full(n, 2, np.int8)
        if split == "ALTERNATE":
            train_events, test_events = _alternate(cname, o, tr, te, un, ev)
        else:
            use_train, use_test = _counts(cname, o, len(tr), len(te), len(un), ev)
            order = un[np.argsort(keys[un], kind="stable")] if "RANDOM" in split else un
            n1 = max(use_train - len(tr), 0)
            train_events = np.concatenate([tr, order[:n1]])[:use_train]
            test_events = np.concatenate([te, order[n1 : n1 + max(use_test - len(te), 0)]])[:use_test]
            del order
        del keys
        role[train_events] = 0
        role[test_events] = 1
        rank = np.full(n, -1, np.int64)
        rank[train_events] = np.arange(len(train_events))
        roles.append(role)
        ranks.append(rank)
        n_train_c.append(len(train_events))
        del ttype
    n_train = sum(n_train_c)
    if n_train == 0:
        raise InputDataError(f"dataset {loader.name!r} has no training events")
    ds.sources = tuple(sources)
    ds.split_options = dict(o.items())
    ds.analysis_type = loader.analysis_type
    ds.classes = tuple(
        ClassInfo(c, i, loader._cuts.get(c, ""), loader._weights.get(c, ""))
        for i, c in enumerate(loader._classes)
    )
    ds._per_class_train = n_train_c  # type: ignore[attr-defined]
    ds._roles, ds._ranks, ds._per_class, ds._loader_vars = roles, ranks, per_class, loader  # type: ignore[attr-defined]
    return ds


def finish_stream(ds: StreamingDataSet, n_validation: int) -> None:
    """The second pass for a given number of validation events: fit/validation/test tables, ranges, weight
    factors (NormMode) and the transformation subsample. Runs once per validation count."""
    if getattr(ds, "_finished", None) == n_validation:
        return
    loader = ds._loader_vars  # type: ignore[attr-defined]
    o = loader._options
    n_train_c: list[int] = ds._per_class_train  # type: ignore[attr-defined]
    n_train = sum(n_train_c)
    share = [int(n_validation * n // n_train) for n in n_train_c]
    share[0] += n_validation - sum(share)
    for t in (ds.fit, ds.val, ds.test_table):
        for col in list(t.columns):
            os.remove(t._path(col))
        t.columns.clear()
        t.rows.clear()
    nvar, ntgt, nspec = len(loader._variables), len(loader._targets), len(loader._spectators)
    ncls = len(n_train_c)
    flt_max = np.finfo(np.float32).max
    mins = np.full((ncls + 1, nvar + ntgt), flt_max, np.float32)
    maxs = np.full((ncls + 1, nvar + ntgt), -flt_max, np.float32)
    smin = np.full(nspec, flt_max, np.float32)
    smax = np.full(nspec, -flt_max, np.float32)
    sums = np.zeros(ncls)
    quota = [max(1, ds.buffer_events * n // n_train) for n in n_train_c]
    sub: dict[str, list[np.ndarray]] = {c: [] for c in ("X", "T", "W", "cls")}
    step = max(ds.buffer_events, 1)
    ds.fit_ranges = []
    for ci, ev in enumerate(ds._per_class):  # type: ignore[attr-defined]
        t = ev.table
        role, rank = ds._roles[ci], ds._ranks[ci]  # type: ignore[attr-defined]
        first_val = n_train_c[ci] - share[ci]
        lo_fit = len(ds.fit)
        for start in range(0, len(t), step):
            stop = min(start + step, len(t))
            cols = {c: t.read(c, start, stop) for c in ("X", "T", "S", "W", "entry", "source")}
            cols["cls"] = np.full(stop - start, ci, np.int32)
            r, k = role[start:stop], rank[start:stop]
            train = r == 0
            if train.any():
                both = np.concatenate([cols["X"][train], cols["T"][train]], axis=1)
                for row in (ci, ncls):
                    mins[row] = np.minimum(mins[row], both.min(axis=0))
                    maxs[row] = np.maximum(maxs[row], both.max(axis=0))
                if nspec:
                    smin[:] = np.minimum(smin, cols["S"][train].min(axis=0))
                    smax[:] = np.maximum(smax, cols["S"][train].max(axis=0))
                sums[ci] += float(np.sum(cols["W"][train], dtype=np.float64))
                pick = train & (k < quota[ci])
                for c in sub:
                    sub[c].append(cols[c][pick])
            for table, mask in ((ds.fit, train & (k < first_val)), (ds.val, train & (k >= first_val)),
                                (ds.test_table, r == 1)):  # fmt: skip
                for c, arr in cols.items():
                    table.append(c, arr[mask])
        ds.fit_ranges.append((lo_fit, len(ds.fit)))
    norm = str(o.NormMode).upper()
    factors = np.ones(ncls)
    if norm != "NONE":
        ref = float(np.float32(n_train_c[0]))
        for ci, sw in enumerate(sums):
            if sw == 0.0:
                raise InputDataError(
                    f"the training events of class {loader._classes[ci]!r} have a sum of weights of 0; "
                    f"NormMode={o.NormMode} cannot renormalise them",
                    token=loader._classes[ci],
                )
            n = float(np.float32(n_train_c[ci])) if norm == "NUMEVENTS" else ref
            factors[ci] = n / sw
    ds.factors = factors
    ds.class_min, ds.class_max = mins, maxs
    ds.variables = tuple(v.with_range(mins[ncls, j], maxs[ncls, j]) for j, v in enumerate(loader._variables))
    ds.targets = tuple(
        v.with_range(mins[ncls, nvar + j], maxs[ncls, nvar + j]) for j, v in enumerate(loader._targets)
    )
    ds.spectators = tuple(v.with_range(smin[j], smax[j]) for j, v in enumerate(loader._spectators))
    for v in ds.variables:
        if abs(v.max - v.min) <= float(np.finfo(np.float32).tiny):
            raise InputDataError(
                f"variable {v.label!r} ({v.formula!r}) is constant ({v.min}) in the training sample; TMVA "
                f"stops "
                f"here: please remove the variable",
                token=v.formula,
            )
    ds.subsample = {c: np.concatenate(v) for c, v in sub.items()}
    ds._finished = n_validation  # type: ignore[attr-defined]


def patch_normalize(chain: Any, ds: StreamingDataSet) -> None:
    """Give a leading Normalize transformation the exact per-class and all-classes minima and maxima of the
    whole training sample (the subsample's may be narrower)."""
    from tmvacompat.data.transforms import IdentityTransform, NormalizeTransform

    nvar = ds.n_variables
    for t in chain.transforms:
        if isinstance(t, IdentityTransform):
            continue
        if isinstance(t, NormalizeTransform):
            cols = [r.index if r.kind == "Variable" else nvar + r.index for r in t.inputs]
            sets = t.mins.shape[0]
            rows = (
                list(range(sets - 1)) + [ds.class_min.shape[0] - 1]
                if sets > 1
                else [ds.class_min.shape[0] - 1]
            )
            t.mins = ds.class_min[rows][:, cols].astype(np.float32)
            t.maxs = ds.class_max[rows][:, cols].astype(np.float32)
            t._cache.clear()
        return
