"""Reading branches with uproot so that a damaged file or an unsuitable branch gives a tmvacompat error.

uproot reports a corrupted basket with whatever its decompressor raises (``zlib.error``, cramjam's or
lzma's errors, a DeserializationError), and a jagged or string branch used as a number fails deep inside
awkward or numpy. These helpers turn both into :class:`~tmvacompat.errors.InputDataError` naming the file,
the tree, the branch and the entries.

Example:
    >>> import numpy as np
    >>> from tmvacompat.data.rootread import scalar_column
    >>> scalar_column(np.array([1.0, 2.0]), "x", "f.root:T").tolist()
    [1.0, 2.0]
    >>> scalar_column(np.array(["a", "b"]), "name", "f.root:T")
    Traceback (most recent call last):
    ...
    tmvacompat.errors.InputDataError: f.root:T: 'name' holds strings, not numbers
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tmvacompat.errors import InputDataError, TMVACompatError

__all__ = ["tree_where", "read_arrays", "iterate", "scalar_column", "array_block"]


def tree_where(tree: Any) -> str:
    """``"file.root:path/to/tree"`` for an uproot tree (what the messages name)."""
    path = getattr(getattr(tree, "file", None), "file_path", None) or "?"
    name = str(getattr(tree, "object_path", "") or getattr(tree, "name", "")).lstrip("/").split(";")[0]
    return f"{path}:{name}"


def _damage(
    err: Exception, tree: Any, keys: Sequence[str], where: str, start: int, stop: int | None
) -> InputDataError:
    """The error for a read that failed: find the first branch that cannot be read on its own."""
    culprit = None
    for key in keys:
        try:
            tree[key].array(entry_start=start, entry_stop=stop, library="np")
        except Exception:  # noqa: BLE001 - any failure marks this branch as the damaged one
            culprit = key
            break
    what = f"branch {culprit!r}" if culprit else f"branches {list(keys)}"
    span = f"entries {start}-{stop}" if stop is not None else f"entries from {start}"
    detail = " ".join(str(err).split())  # codec and uproot messages span several lines
    return InputDataError(
        f"cannot read {what} ({span}): the file is damaged or truncated ({type(err).__name__}: {detail})",
        token=culprit or ",".join(keys),
        where=where,
    )


def _check_structure(chunk: Any, where: str, start: int, stop: int | None) -> None:
    """Refuse arrays whose structure is inconsistent: a damaged basket stored without compression (no
    checksum) can decode into list offsets pointing outside their content, which awkward's kernels would
    read out of bounds."""
    import awkward as ak

    if not isinstance(chunk, ak.Array):
        return
    for key in ak.fields(chunk) or [None]:
        col = chunk if key is None else chunk[key]
        if "var *" not in str(ak.type(col)) and "string" not in str(ak.type(col)):
            continue  # flat numbers: any bit pattern is a number
        problem = ak.validity_error(col)
        if problem:
            span = f"entries {start}-{stop}" if stop is not None else f"entries from {start}"
            text = " ".join(str(problem).split())
            found = re.search(r"\): (.*?)(?: \(in compiled code|$)", text)
            detail = (found.group(1) if found else text)[:160]
            raise InputDataError(
                f"cannot read branch {key!r} ({span}): the file is damaged (its lists do not fit their "
                f"contents: {detail})",
                token=str(key),
                where=where,
            )


def read_arrays(tree: Any, keys: Sequence[str], where: str | None = None, **kwargs: Any) -> Any:
    """``tree.arrays(keys, library="ak", **kwargs)``, with read failures as InputDataError."""
    where = where or tree_where(tree)
    start = int(kwargs.get("entry_start") or 0)
    try:
        arrays = tree.arrays(list(keys), library="ak", **kwargs)
    except TMVACompatError:
        raise
    except Exception as err:  # uproot, its codecs and awkward raise many kinds for damaged data
        raise _damage(err, tree, keys, where, start, kwargs.get("entry_stop")) from err
    _check_structure(arrays, where, start, kwargs.get("entry_stop"))
    return arrays


def iterate(tree: Any, keys: Sequence[str], where: str, step_size: int, **kwargs: Any) -> Iterator[Any]:
    """``tree.iterate(keys, step_size=..., library="ak", report=True)`` yielding ``(chunk, report)``, with
    read failures as InputDataError naming the branch and the entries of the chunk."""
    it = iter(tree.iterate(filter_name=list(keys), step_size=step_size, library="ak", report=True, **kwargs))
    start = 0
    while True:
        try:
            chunk, report = next(it)
        except StopIteration:
            return
        except TMVACompatError:
            raise
        except Exception as err:
            stop = min(start + step_size, int(tree.num_entries)) if isinstance(step_size, int) else None
            raise _damage(err, tree, keys, where, start, stop) from err
        _check_structure(chunk, where, start, int(report.tree_entry_stop))
        start = int(report.tree_entry_stop)
        yield chunk, report


#: rows per block of :func:`stack_columns`: a block of the matrix (8192 x 20 float32 = 640 kB) stays in L2
#: while every column is written into it
STACK_ROWS = 8192


def stack_columns(cols: Sequence[np.ndarray], n: int) -> np.ndarray:
    """The float32 (n, len(cols)) matrix whose column j is ``cols[j]`` (each value rounded to float32, as a
    TTreeFormula value (double) stored as Float_t). Written in blocks of rows: a column written down the
    whole matrix at once would touch every cache line of it once per column.

    >>> stack_columns([np.array([1.0, 2.0]), np.array([3, 4])], 2).tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    cols = [np.broadcast_to(c, (n,)) for c in cols]  # a constant expression may give one value
    x = np.empty((n, len(cols)), dtype=np.float32)
    for s in range(0, n, STACK_ROWS):
        block = x[s : s + STACK_ROWS]
        for j, c in enumerate(cols):
            block[:, j] = c[s : s + STACK_ROWS]
    return x


def scalar_column(col: Any, name: str, where: str | None) -> np.ndarray:
    """``col`` as a numpy array, refusing strings and a variable number of values per event."""
    if type(col).__module__.startswith("awkward"):
        import awkward as ak

        text = str(ak.type(col))
        if "string" in text or "bytes" in text:
            raise InputDataError(f"{name!r} holds strings, not numbers", token=name, where=where)
        if "var *" in text:
            raise InputDataError(
                f"{name!r} holds a variable number of values per event ({text}); an input variable is one "
                f"number per event: use an element or a reduction such as {name}[0] or Max$({name})",
                token=name,
                where=where,
            )
        col = ak.to_numpy(col)
    arr = np.asarray(col)
    if arr.dtype.kind in "OSU":
        raise InputDataError(f"{name!r} holds strings, not numbers", token=name, where=where)
    return arr


def array_block(col: Any, lo: int, hi: int, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray] | None:
    """Elements ``lo..hi-1`` of every entry of an array branch as a (n, hi-lo) block of ``dtype`` and the
    mask of entries holding all of them, or None when ``col`` is not a list of numbers per entry.

    Fixed-size (2-D numpy) and jagged (``std::vector<float>``, awkward ``var * number``) columns are read
    in one pass over the flat content, so the cost grows linearly with the vector length. Missing elements
    are NaN.

    >>> import awkward as ak
    >>> values, ok = array_block(ak.Array([[1.0, 2.0, 3.0], [4.0]]), 0, 2)
    >>> values.tolist(), ok.tolist()
    ([[1.0, 2.0], [4.0, nan]], [True, False])
    """
    if isinstance(col, np.ndarray):
        if col.ndim != 2 or col.dtype.kind not in "fiub" or col.shape[1] < hi:
            return None
        with np.errstate(all="ignore"):
            return col[:, lo:hi].astype(dtype), np.ones(len(col), bool)
    if not type(col).__module__.startswith("awkward"):
        return None
    import awkward as ak

    if col.ndim != 2:
        return None
    try:
        layout = ak.to_layout(col)
        if not layout.is_list:
            return None
        lists = layout.to_ListOffsetArray64(True)  # offsets from 0, content trimmed to them
        offsets = np.asarray(lists.offsets, dtype=np.int64)
        flat = ak.to_numpy(lists.content, allow_missing=False)
    except (ValueError, TypeError, AttributeError):
        return None
    if flat.ndim != 1 or flat.dtype.kind not in "fiub":
        return None
    starts, counts = offsets[:-1], np.diff(offsets)
    n, width = len(counts), hi - lo
    with np.errstate(all="ignore"):
        if n and counts[0] >= hi and np.all(counts == counts[0]):  # every entry the same length: a view
            return flat.reshape(n, int(counts[0]))[:, lo:hi].astype(dtype), np.ones(n, bool)
        positions = np.arange(lo, hi)
        inside = counts[:, None] > positions[None, :]
        if not len(flat):
            return np.full((n, width), np.nan, dtype), np.zeros(n, bool) if width else np.ones(n, bool)
        out = flat[np.where(inside, starts[:, None] + positions[None, :], 0)].astype(dtype)
    out[~inside] = np.nan
    return out, inside.all(axis=1)
