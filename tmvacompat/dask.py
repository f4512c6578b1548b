"""Application at scale on dask: responses as dask-awkward arrays and friend trees written by workers.

Needs the optional extra ``dask`` (``pip install 'tmvacompat[dask]'``: dask, dask-awkward, distributed).

* :func:`evaluate` takes a model (or weight file) and ``uproot.dask`` arrays or a list of
  ``"file.root:tree"`` inputs (globs allowed) and returns the responses as a lazy dask-awkward array, one
  entry per input entry (a float per event, or a list of one float per class/target);
* :func:`write_friends` writes one friend tree per input file, each by one task: ``X.root`` gives
  ``OUT/X.root`` with the tree named as the input tree and a branch named after the method title (what
  ``tmvacompat apply`` does with several inputs).

What is sent to the workers is the weight file *text* (and a CrossValidation file's fold texts), never
pickled Numba objects: each worker parses it once per process and compiles (or loads from Numba's on-disk
cache) the inference kernel. Each task reads only its own input file and the branches the variables need.

Example:
    >>> from tmvacompat.dask import evaluate                                       # doctest: +SKIP
    >>> scores = evaluate("dataset/weights/TMVAClassification_DNN.weights.xml",   # doctest: +SKIP
    ...                   ["a.root:TreeS", "b.root:TreeS"])
    >>> scores.compute()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tmvacompat.errors import InputDataError, InputFileNotFoundError, TMVACompatError

__all__ = [
    "model_texts",
    "model_from_texts",
    "evaluate",
    "write_friends",
    "expand_inputs",
    "client_for",
    "local_cluster",
    "MALLOC_ENV",
]

_MODELS: dict[str, Any] = {}  # per worker process: parsed models by the hash of their texts
#: entries a task reads and evaluates at once within its partition (as ``apply_to_tree`` by default): a
#: chunk of 20 float32 branches is 8 MB, which the allocator reuses, where a whole partition's would come
#: as fresh pages from the kernel every time
READ_STEP = 100_000


def _need_dask() -> None:
    try:
        import dask  # noqa: F401
        import dask_awkward  # noqa: F401
    except ImportError as err:
        raise TMVACompatError(
            f"tmvacompat.dask needs the optional packages dask, dask-awkward and distributed "
            f"(pip install 'tmvacompat[dask]'): {err}",
            token="dask",
        ) from None


def model_texts(weights: Any) -> tuple[str, ...]:
    """The texts to ship for a model: its weight file, then a CrossValidation file's fold files.

    >>> from tmvacompat.specs import DenseSpec
    >>> from tmvacompat.weightfile import Model
    >>> m = Model.from_parts(title="t", variables=["a"], layers=[DenseSpec(1, "LINEAR")],
    ...     params=[{"Weights": np.ones((1, 1)), "Biases": np.zeros((1, 1))}])
    >>> texts = model_texts(m); len(texts), model_from_texts(texts).title
    (1, 't')
    """
    from tmvacompat.weightfile import load_weights

    model = weights if not isinstance(weights, (str, os.PathLike)) else load_weights(weights)
    if getattr(model, "method", "") == "CrossValidation":
        return (model.to_xml(), *(f.to_xml() for f in model.folds))
    return (model.to_xml(),)


def model_from_texts(texts: Sequence[str]) -> Any:
    """The model of :func:`model_texts`' texts, parsed once per process (a worker reuses it)."""
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    model = _MODELS.get(key)
    if model is None:
        from tmvacompat.weightfile.xmlread import model_from_bytes, parse_xml

        if len(texts) > 1:
            from tmvacompat.weightfile.crossvalidation import cv_model_from_element

            model = cv_model_from_element(parse_xml(texts[0].encode(), "<shipped>"), "<shipped>", texts[1:])
        else:
            model = model_from_bytes(texts[0].encode(), "<shipped>")
        _MODELS[key] = model
    return model


def expand_inputs(inputs: Sequence[str] | str) -> list[tuple[str, str]]:
    """``"file.root:tree"`` inputs (globs in the file part) as (path, tree) pairs, in order.

    >>> expand_inputs(["nothing*.root:T"])
    Traceback (most recent call last):
    ...
    tmvacompat.errors.InputFileNotFoundError: no file matches 'nothing*.root' (input 'nothing*.root:T')
    """
    from tmvacompat.data.loader import _split_spec

    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    out: list[tuple[str, str]] = []
    for item in items:
        path, tree = _split_spec(os.fspath(item))
        if glob.has_magic(path):
            found = sorted(glob.glob(path))
            if not found:
                raise InputFileNotFoundError(f"no file matches {path!r} (input {item!r})", token=path)
            out.extend((p, tree) for p in found)
        else:
            if not os.path.exists(path):
                raise InputFileNotFoundError(f"input file {path!r} does not exist", token=path)
            out.append((path, tree))
    if not out:
        raise InputDataError("no input given", token="inputs", expected=["file.root:tree"])
    return out


def _input_infos(model: Any) -> list[Any]:
    infos = list(model.variables)
    if getattr(model, "needs_spectators", False):
        infos += list(model.spectators)
    return infos


def _output_meta(model: Any) -> Any:
    import awkward as ak

    width = model.n_outputs
    if model.analysis_type == "Classification" or (model.analysis_type == "Regression" and width == 1):
        meta_np = np.zeros(0, np.float32)
    else:
        meta_np = np.zeros((0, width), np.float32)
    return ak.Array(ak.Array(meta_np).layout.to_typetracer(forget_length=True))


def _needed_branches(model: Any) -> list[str]:
    from tmvacompat.data.expressions import branches

    names: set[str] = set()
    for info in _input_infos(model):
        names |= set(branches(info.formula))
    names.discard("Entry$")
    return sorted(names)


def _as_output(model: Any, values: Any) -> Any:
    """The responses as the awkward array :func:`evaluate` returns (float32; (n, width) for multiclass and
    multi-target regression)."""
    import awkward as ak

    width = model.n_outputs
    flat = model.analysis_type == "Classification" or (model.analysis_type == "Regression" and width == 1)
    values = np.asarray(values, np.float32)
    return ak.Array(values.reshape(len(values)) if flat else values.reshape(len(values), width))


def _evaluate_partition(part: Any, texts: tuple[str, ...]) -> Any:
    import awkward as ak

    model = model_from_texts(texts)
    if ak.backend(part) == "typetracer":  # dask-awkward's column optimisation: say which branches are read
        for name in _needed_branches(model):
            if name in part.fields:
                ak.typetracer.touch_data(part[name])
        return _output_meta(model)
    if len(part) == 0:
        return _as_output(model, np.zeros((0, model.n_outputs), np.float32))
    return _as_output(model, model.evaluate(part))


def _evaluate_range(item: tuple[str, str, int, int], texts: tuple[str, ...]) -> Any:
    """One partition of :func:`evaluate` on files: entries ``start:stop`` of ``path:tree`` read (only the
    branches the variables need) and evaluated in one task."""
    from tmvacompat.data.loader import open_tree
    from tmvacompat.data.rootread import iterate, tree_where
    from tmvacompat.weightfile.model import tree_branches

    path, tree_name, start, stop = item
    model = model_from_texts(texts)
    tree = open_tree(f"{path}:{tree_name}")
    keys = tree_branches(tree, _input_infos(model), where=model.path)
    step = max(min(stop - start, READ_STEP), 1)
    parts = [
        np.asarray(model.evaluate(chunk), np.float32).reshape(-1, model.n_outputs)
        for chunk, _ in iterate(tree, keys, tree_where(tree), step, entry_start=start, entry_stop=stop)
    ]
    values = np.concatenate(parts) if parts else np.zeros((0, model.n_outputs), np.float32)
    return _as_output(model, values)


def evaluate(weights: Any, data: Any, *, step_size: int = 500_000) -> Any:
    """The responses of ``weights`` (a Model, a CrossValidation model or a weight file) on ``data`` as a
    lazy dask-awkward array, one entry per input entry: ``data`` is a list of ``"file.root:tree"`` inputs
    (globs allowed) or a dask-awkward array from ``uproot.dask`` (fields named as the branches).

    On files, each partition is one task that reads ``step_size`` entries of one file (only the branches
    the variables need) and evaluates them: the graph has a single layer.

    >>> evaluate("w.weights.xml", ["data_*.root:TreeS"]).compute()   # doctest: +SKIP

    dask-awkward with dask >= 2025.4: dask-awkward's ``layer-chains`` optimisation fuses consecutive
    blockwise layers into one task by building ``Task`` objects whose arguments are bare keys; since
    dask 2025.4 a bare key among a task's arguments is no longer a dependency, so the fused task has
    several outputs and dask raises ``Cannot fuse tasks with multiple outputs``. Every chain of two
    dask-awkward layers fails so: the user's own ``uproot.dask(...)["x"] * 2`` as much as this
    function's ``map_partitions`` over ``uproot.dask`` arrays or an operation on its result
    (dask-awkward 2026.2 declares ``dask<2025.4`` for this reason). The single-layer graph made for a
    list of files computes as it is; for the others compute with that one optimisation left out (the
    column projection stays, so only the needed branches are read)::

        with dask.config.set({"awkward.optimization.which": ["columns"]}):
            scores.compute()
    """
    _need_dask()
    import dask_awkward as dak

    from tmvacompat.weightfile import load_weights

    model = weights if not isinstance(weights, (str, os.PathLike)) else load_weights(weights)
    texts = model_texts(model)
    if isinstance(data, dak.Array):
        return dak.map_partitions(
            _evaluate_partition, data, texts, meta=_output_meta(model), label="tmvacompat-evaluate"
        )
    from tmvacompat.data.loader import open_tree

    if int(step_size) < 1:
        raise InputDataError(f"step_size must be >= 1 entries, got {step_size}", token=str(step_size))
    step = int(step_size)
    items: list[tuple[str, str, int, int]] = []
    for path, tree in expand_inputs(data):
        n = int(open_tree(f"{path}:{tree}").num_entries)
        items += [(path, tree, a, min(a + step, n)) for a in range(0, n, step)] or [(path, tree, 0, 0)]
    divisions = tuple(int(x) for x in np.cumsum([0] + [b - a for _, _, a, b in items]))
    return dak.from_map(
        _evaluate_range, items, args=(texts,), meta=_output_meta(model), divisions=divisions,
        label="tmvacompat-evaluate",
    )  # fmt: skip


def _write_one(texts: tuple[str, ...], path: str, tree: str, out: str, branch: str | None,
               out_tree: str, step_size: int) -> tuple[str, str, int]:  # fmt: skip
    from tmvacompat.apply import apply_to_tree

    model = model_from_texts(texts)
    n = apply_to_tree(model, f"{path}:{tree}", out, branch=branch, tree_name=out_tree, step_size=step_size,
                      progress=False)  # fmt: skip
    return out, out_tree, n


def local_cluster(workers: int, threads: int | None = None) -> Any:
    """A ``LocalCluster`` of ``workers`` processes, one task at a time each, whose engines share the cores:
    each gets ``cores // workers`` Numba threads (at least one), so workers do not oversubscribe them;
    ``threads`` gives each a pool of that many instead, for tasks that set their own count with
    ``numba.set_num_threads`` (CrossValidation's last round of folds).

    The worker processes start with glibc allocator settings for arrays of megabytes (:data:`MALLOC_ENV`):
    with glibc's defaults (and more so with distributed's ``MALLOC_TRIM_THRESHOLD_=65536``) the arrays of
    every chunk read (decompressed baskets, branch arrays, the input matrix) come as fresh pages from the
    kernel and go back on free, and page faults take much of a task's time. distributed sets such
    variables in this process's environment before it spawns a worker (its ``pre-spawn-environ``: glibc
    reads them once, at process start); they are given for these workers only, and this process's
    environment is put back as it was afterwards.

    >>> cluster = local_cluster(1)   # doctest: +SKIP
    """
    import dask
    from distributed import LocalCluster

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    per = str(int(threads) if threads else max(1, cores // max(int(workers), 1)))
    env = {"NUMBA_NUM_THREADS": per, "OMP_NUM_THREADS": per, "OPENBLAS_NUM_THREADS": per}
    spawn_env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", None) or {})
    spawn_env.update(MALLOC_ENV)
    touched = set(spawn_env) | {"PYTHONHASHSEED"}  # the nanny sets these in this process's environment
    saved = {k: os.environ[k] for k in touched if k in os.environ}
    for k in MALLOC_ENV:  # an earlier nanny's values (or the user's) would take precedence over the config
        os.environ.pop(k, None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env}):
            return LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                dashboard_address=None, env=env)  # fmt: skip
    finally:
        for k in touched:
            os.environ.pop(k, None)
        os.environ.update(saved)


#: glibc allocator settings of the workers :func:`local_cluster` starts: allocations up to 32 MiB from the
#: heap, freed memory kept up to 512 MiB, the heap grown 64 MiB at a time
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(512 << 20),
    "MALLOC_TOP_PAD_": str(64 << 20),
}


def _warm(texts: tuple[str, ...]) -> int:
    """Parse the model and run it once on this worker (loads its kernels from Numba's cache; imports the
    readers and writers the tasks use)."""
    import tmvacompat.apply  # noqa: F401 - uproot, awkward and the writer, imported once per worker

    model = model_from_texts(texts)
    nvar = len(_input_infos(model))
    model.evaluate_matrix(np.zeros((1, nvar), np.float32))
    return os.getpid()


def client_for(workers: int | None = None, scheduler: str | None = None) -> tuple[Any, Any]:
    """(client, cluster to close): a client of the cluster at ``scheduler``, or of a new
    :func:`local_cluster` of ``workers`` processes; (None, None) for neither."""
    if scheduler is None and not workers:
        return None, None
    try:
        from distributed import Client
    except ImportError as err:
        raise TMVACompatError(
            f"--workers/--scheduler need dask.distributed (pip install 'tmvacompat[dask]'): {err}",
            token="distributed",
        ) from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as err:
            raise TMVACompatError(
                f"cannot connect to the dask scheduler {scheduler!r}: {err}", token=scheduler,
                expected=["tcp://host:8786"],
            ) from None  # fmt: skip
    if int(workers) < 1:
        raise TMVACompatError(f"--workers must be >= 1, got {workers}", token=str(workers))
    cluster = local_cluster(int(workers))
    return Client(cluster), cluster


def write_friends(
    weights: Any,
    inputs: Sequence[str] | str,
    output: str | os.PathLike,
    *,
    branch: str | None = None,
    tree_name: str | None = None,
    client: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    step_size: int = 100_000,
) -> list[tuple[str, str, int]]:
    """Write a friend tree per input file into the folder ``output`` (``X.root`` -> ``output/X.root``,
    tree named as the input tree unless ``tree_name``), one task per file on ``client`` (or a new
    ``LocalCluster`` of ``workers`` processes, or the cluster at ``scheduler``; serial when none is given).
    Returns (output file, tree, entries) per input, in input order.

    >>> write_friends("w.weights.xml", ["a.root:T", "b.root:T"], "friends", workers=2)  # doctest: +SKIP
    [('friends/a.root', 'T', 6000), ('friends/b.root', 'T', 6000)]
    """
    from tmvacompat.weightfile import load_weights

    model = weights if not isinstance(weights, (str, os.PathLike)) else load_weights(weights)
    texts = model_texts(model)
    pairs = expand_inputs(inputs)
    outdir = os.fspath(output)
    targets: dict[str, str] = {}
    for path, tree in pairs:
        name = os.path.join(outdir, os.path.basename(path))
        if name in targets:
            raise InputDataError(
                f"inputs {targets[name]!r} and {path}:{tree} would both be written to {name!r}; give inputs "
                f"with distinct file names",
                token=os.path.basename(path),
            )
        if os.path.exists(name) and os.path.samefile(name, path):
            raise InputDataError(f"the output {name!r} is the input file {path!r}", token=name)
        targets[name] = f"{path}:{tree}"
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputDataError(f"with several inputs the output {outdir!r} must be a folder", token=outdir)
    os.makedirs(outdir, exist_ok=True)
    jobs = [
        (
            texts,
            path,
            tree,
            os.path.join(outdir, os.path.basename(path)),
            branch,
            tree_name or tree,
            step_size,
        )
        for path, tree in pairs
    ]
    own, made = None, client is None
    if client is None:
        client, own = client_for(workers, scheduler)
    try:
        if client is None:
            return [_write_one(*job) for job in jobs]
        client.run(_warm, texts)  # every worker parses the model and loads its kernel before the files
        futures = [client.submit(_write_one, *job, pure=False) for job in jobs]
        return client.gather(futures)
    finally:
        if made and client is not None:  # a client made here (for --scheduler too) is closed here
            client.close()
        if own is not None:
            own.close()
