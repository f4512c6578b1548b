"""Apply a weight file to a whole tree, chunk by chunk, and write the responses as a friend tree.

The output tree has one entry per input entry, in order, so ROOT can attach it with
``tree->AddFriend("tmva", "out.root")``. Its branch is named after the method title (or ``branch``) and
holds what TMVA's TestTree holds for that method: one float for a classifier, a leaf list with one float
per class (``Signal/F:bg0/F:...``) for multiclass, one float per target (``fvalue/F``) for regression.

Example:
    >>> apply_to_tree("dataset/weights/TMVAClassification_DNN_CPU.weights.xml",  # doctest: +SKIP
    ...               "tmva_class_example.root:TreeS", "responses.root")
    6000
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tmvacompat.atomicfile import atomic_path
from tmvacompat.data.loader import open_tree
from tmvacompat.data.rootread import iterate, tree_where
from tmvacompat.errors import InputDataError
from tmvacompat.evaluation import tmva_internal_name
from tmvacompat.leaflist import Leaf, LeafList, mktree
from tmvacompat.weightfile import load_weights
from tmvacompat.weightfile.model import Model, tree_branches

__all__ = ["apply_to_tree", "apply_to_trees", "output_branch_type"]


def output_branch_type(model: Model) -> tuple[Any, list[str] | None]:
    """The branch type TMVA's TestTree gives ``model``'s output, and its leaf names (None for one float).

    >>> from tmvacompat.specs import DenseSpec
    >>> m = Model.from_parts(title="t", variables=["a"], layers=[DenseSpec(2, "LINEAR")],
    ...     params=[{"Weights": np.ones((2, 1)), "Biases": np.zeros((2, 1))}], analysis_type="Multiclass",
    ...     classes=["Signal", "bg0"])
    >>> output_branch_type(m)[1]
    ['Signal', 'bg0']
    """
    if model.analysis_type == "Classification":
        return np.float32, None
    if model.analysis_type == "Multiclass":
        leaves = list(model.classes)
    else:
        leaves = [tmva_internal_name(t.label or t.expression) for t in model.targets] or ["target"]
    return LeafList([Leaf(x) for x in leaves]), leaves


def _progress(total: int, label: str) -> Callable[[int], None]:
    """A progress line on stderr when it is a terminal, else nothing."""
    if not sys.stderr.isatty() or total <= 0:
        return lambda done: None
    t0 = time.perf_counter()

    def show(done: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done}/{total} entries ({100 * done / total:5.1f} %, {rate:,.0f}/s)\x1b[K",
              end=end, file=sys.stderr, flush=True)  # fmt: skip

    return show


def apply_to_tree(
    weights: str | os.PathLike | Model,
    source: str | Any,
    output: str | os.PathLike,
    *,
    branch: str | None = None,
    tree_name: str = "tmva",
    step_size: int = 100_000,
    progress: bool = True,
) -> int:
    """Evaluate ``weights`` on every entry of ``source`` (``"file.root:tree"`` or an uproot TTree) and write
    ``output`` with the tree ``tree_name`` holding one branch (``branch``, default the method title).
    Returns the number of entries written.

    Entries whose inputs are NaN get TMVA's values (-999 for a classifier). ``output`` is written
    atomically and may not be the input file.

    Raises:
        InputDataError: unreadable input, a missing branch, or ``output`` is the input file.
        WeightFileError: the weight file cannot be read.

    >>> apply_to_tree("w.weights.xml", "in.root:T", "out.root", branch="score")  # doctest: +SKIP
    """
    model = load_weights(weights) if isinstance(weights, (str, os.PathLike)) else weights
    tree = open_tree(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else source
    where = tree_where(tree)
    in_path = getattr(getattr(tree, "file", None), "file_path", None)
    if in_path and os.path.exists(os.fspath(output)) and os.path.samefile(in_path, os.fspath(output)):
        raise InputDataError(
            f"the output file {os.fspath(output)!r} is the input file; write the friend tree to another file",
            token=os.fspath(output),
        )
    name = branch or model.title
    btype, leaves = output_branch_type(model)
    infos = list(model.variables)
    if getattr(model, "needs_spectators", False):  # CrossValidation: the split expression reads spectators
        infos += list(model.spectators)
    keys = tree_branches(tree, infos, where=model.path)
    if not keys:
        raise InputDataError(
            f"the variables {[v.expression for v in model.variables]} of {model.title!r} read no branch",
            where=model.path,
        )
    total = int(tree.num_entries)
    show = _progress(total, f"{model.title} on {where}") if progress else (lambda done: None)
    with atomic_path(os.fspath(output), what="output file") as tmp:
        import uproot

        with uproot.recreate(tmp) as f:
            out = mktree(
                f, tree_name, {name: btype}, title=f"{model.method}::{model.title} responses of {where}"
            )
            done = 0
            for chunk, _report in iterate(tree, keys, where, step_size):
                values = model.evaluate(chunk)
                values = np.asarray(values, np.float32)
                if leaves is not None:
                    values = values.reshape(len(values), len(leaves))
                out.extend({name: values})
                done += len(values)
                show(done)
    return done


def apply_to_trees(
    weights: str | os.PathLike | Model,
    sources: list[str],
    output: str | os.PathLike,
    *,
    branch: str | None = None,
    tree_name: str | None = None,
    step_size: int = 100_000,
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[tuple[str, str, int]]:
    """``tmvacompat apply`` on one or several inputs (``"file.root:tree"``, globs allowed).

    One input (and no dask option): ``output`` is the friend file, tree ``tree_name`` (default ``tmva``).
    Several inputs, or ``workers``/``scheduler``: ``output`` is a folder, input ``X.root`` gives
    ``output/X.root`` with the tree named as the input tree (or ``tree_name``), one dask task per file
    (:func:`tmvacompat.dask.write_friends`). Returns (output file, tree, entries) per input.

    >>> apply_to_trees("w.weights.xml", ["a.root:T", "b.root:T"], "out", workers=2)  # doctest: +SKIP
    """
    from tmvacompat.dask import expand_inputs, write_friends

    pairs = expand_inputs(sources)
    if len(pairs) == 1 and len(sources) == 1 and workers is None and scheduler is None:
        path, tree = pairs[0]
        name = tree_name or "tmva"
        n = apply_to_tree(weights, f"{path}:{tree}", output, branch=branch, tree_name=name,
                          step_size=step_size)  # fmt: skip
        return [(os.fspath(output), name, n)]
    return write_friends(weights, [f"{p}:{t}" for p, t in pairs], output, branch=branch, tree_name=tree_name,
                         workers=workers, scheduler=scheduler, step_size=step_size)  # fmt: skip
