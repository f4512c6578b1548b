"""Job files: a TMVAClassification.C- or TMVACrossValidation.C-style macro as TOML, run by
``tmvacompat train JOB.toml``.

One table per macro section, the same names and strings as the macro's calls::

    [factory]                                  # TMVA::Factory(job_name, output, options)
    job_name = "TMVAClassification"
    output = "TMVA.root"
    options = "!V:!Silent:AnalysisType=Classification"
    plots = "plots"                            # TMVAGui's pictures of the output file ("" for none)

    [dataloader]                               # TMVA::DataLoader(name) and its data preparation
    name = "dataset"
    weight = "weight"                          # SetWeightExpression (all classes)
    weights = { Background = "weight" }        # SetWeightExpression(expr, class)
    cut = "var3 > -3"                          # PrepareTrainingAndTestTree's cut (all classes)
    cuts = { Signal = "var4 < 4" }             # AddCut(cut, class)
    split = "nTrain_Signal=1000:nTrain_Background=1000:SplitMode=Random:!V"

    [[variable]]                               # AddVariable(expression, title, unit, type)
    expression = "myvar1 := var1+var2"         # size = 64 books AddVariablesArray(expression, 64)
    [[spectator]]                              # AddSpectator(expression, title, unit)
    expression = "spec1 := var1*2"
    [[target]]                                 # AddTarget(expression, title, unit) (regression)

    [[tree]]                                   # AddTree(source, class, weight, cut, type)
    source = "tmva_class_example.root:TreeS"   # or a list: a chain
    class = "Signal"

    [[method]]                                 # BookMethod(loader, type, title, options)
    type = "DL"
    title = "DNN_CPU"
    options = "!H:V:Layout=TANH|128,TANH|128,LINEAR:..."

A ``[crossvalidation]`` table instead of ``[factory]`` runs TMVACrossValidation.C's steps:
``TMVA::CrossValidation(job_name, loader, output, options)``, the methods booked on it, ``Evaluate()`` and
the results' printout::

    [crossvalidation]                          # TMVA::CrossValidation(job_name, loader, output, options)
    job_name = "TMVACrossValidation"
    output = "TMVACV.root"                     # "" for none
    options = "!V:!Silent:AnalysisType=Classification:NumFolds=2:SplitExpr=int([eventID])%int([NumFolds])"

Relative paths are taken from the current directory, as in a macro run with ``root -l``. Every key is
checked: an unknown or mistyped key is an :class:`~tmvacompat.errors.OptionError` naming it, its table and
the closest valid keys.

Example:
    >>> job = parse_job('[factory]\\njob_name = "J"\\n[[tree]]\\nsource = "f.root:T"\\nclass = "Signal"\\n'
    ...                 '[[variable]]\\nexpression = "x"\\n[[method]]\\ntype = "DL"\\ntitle = "A"')
    >>> job["factory"]["job_name"], job["tree"][0]["source"], job["method"][0]["options"]
    ('J', 'f.root:T', '')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from tmvacompat.errors import InputFileNotFoundError, OptionError, closest

__all__ = ["parse_job", "load_job", "run_job"]

# table -> key -> (types, default); a default of ... marks a required key
_STR = (str,)
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "factory": {
        "job_name": (_STR, "TMVAClassification"),
        "output": (_STR, "TMVA.root"),
        "options": (_STR, "!V:!Silent:Color:DrawProgressBar:AnalysisType=Auto"),
        "plots": (_STR, "plots"),
    },
    "crossvalidation": {
        "job_name": (_STR, "TMVACrossValidation"),
        "output": (_STR, "TMVACV.root"),
        "options": (_STR, "!V:!Silent:AnalysisType=Auto"),
    },
    "dataloader": {
        "name": (_STR, "dataset"),
        "weight": (_STR, ""),
        "weights": ((dict,), {}),
        "cut": (_STR, ""),
        "cuts": ((dict,), {}),
        "split": (_STR, ""),
    },
    "variable": {
        "expression": (_STR, ...),
        "title": (_STR, ""),
        "unit": (_STR, ""),
        "type": (_STR, "F"),
        "size": ((int,), 0),
    },
    "spectator": {"expression": (_STR, ...), "title": (_STR, ""), "unit": (_STR, "")},
    "target": {"expression": (_STR, ...), "title": (_STR, ""), "unit": (_STR, "")},
    "tree": {
        "source": ((str, list), ...),
        "class": (_STR, ...),
        "weight": ((float, int), 1.0),
        "cut": (_STR, ""),
        "type": (_STR, ""),
    },
    "method": {"type": (_STR, "DL"), "title": (_STR, ...), "options": (_STR, "")},
}
_SINGLE = ("factory", "crossvalidation", "dataloader")  # [table]; the others are [[arrays of tables]]


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "a table", int: "an integer", float: "a number"}
    return " or ".join(names[t] for t in types)


def _check_table(table: Any, name: str, where: str) -> dict[str, Any]:
    schema = _SCHEMA[name]
    if not isinstance(table, Mapping):
        raise OptionError(f"[{name}] must be a table of keys, not {table!r}", token=name, where=where)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in schema:
            raise OptionError(
                f"unknown key {key!r} in [{name}]",
                token=key,
                expected=closest(key, schema) or list(schema),
                where=where,
            )
        types = schema[key][0]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) for v in value) and bool(value)
        if ok and isinstance(value, dict):
            ok = all(isinstance(v, str) for v in value.values())
        if not ok:
            want = _type_name(types).replace("a list", "a non-empty list of strings")
            want = want.replace("a table", "a table of strings (class name = expression)")
            raise OptionError(f"[{name}] {key} must be {want}, not {value!r}", token=key, where=where)
        out[key] = value
    for key, (_types, default) in schema.items():
        if key not in out:
            if default is ...:
                raise OptionError(f"[{name}] needs the key {key!r}", token=key, where=where)
            out[key] = dict(default) if isinstance(default, dict) else default
    return out


def parse_job(text: str, where: str = "job file") -> dict[str, Any]:
    """Read and check the TOML text of a job file; returns every table with its defaults filled in, and
    ``mode``: ``"crossvalidation"`` for a job with ``[crossvalidation]``, else ``"factory"``.

    Raises:
        OptionError: invalid TOML (with its line and column), an unknown table or key, a value of the
            wrong type, a missing required key, no tree, no variable or no method.

    >>> parse_job('[factory]\\njob_nme = "J"')
    Traceback (most recent call last):
    ...
    tmvacompat.errors.OptionError: job file: unknown key 'job_nme' in [factory]; expected one of: job_name
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise OptionError(f"not valid TOML: {err}", where=where) from None
    job: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SCHEMA:
            raise OptionError(
                f"unknown table [{name}]",
                token=name,
                expected=closest(name, _SCHEMA) or list(_SCHEMA),
                where=where,
            )
        if name in _SINGLE:
            job[name] = _check_table(value, name, where)
        else:
            if not isinstance(value, list):
                raise OptionError(
                    f"{name!r} must be written [[{name}]] (one per booking)", token=name, where=where
                )
            job[name] = [_check_table(v, name, where) for v in value]
    if "factory" in job and "crossvalidation" in job:
        raise OptionError(
            "a job has either [factory] (TMVAClassification.C) or [crossvalidation] (TMVACrossValidation.C), "
            "not both",
            token="crossvalidation",
            where=where,
        )
    job["mode"] = "crossvalidation" if "crossvalidation" in job else "factory"
    for name in _SINGLE:
        job.setdefault(name, _check_table({}, name, where))
    for name in ("variable", "spectator", "target", "tree", "method"):
        job.setdefault(name, [])
    for name in ("tree", "method"):
        if not job[name]:
            raise OptionError(f"the job has no [[{name}]]", token=name, where=where)
    if not job["variable"]:
        raise OptionError("the job has no [[variable]]", token="variable", where=where)
    for v in job["variable"]:
        if v["size"] < 0:
            raise OptionError(f"[variable] size must be positive, not {v['size']}", token="size", where=where)
    for t in job["tree"]:
        if t["type"].lower() not in ("", "train", "training", "test"):
            raise OptionError(
                f"[tree] type {t['type']!r} is not a tree type", token=t["type"], where=where,
                expected=["Training", "Test"],
            )  # fmt: skip
    return job


def load_job(path: str | os.PathLike) -> dict[str, Any]:
    """:func:`parse_job` on the file at ``path``.

    >>> load_job("TMVAClassification.toml")  # doctest: +SKIP
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputFileNotFoundError(f"job file {path!r} does not exist", token=path)
    with open(path, encoding="utf-8") as f:
        return parse_job(f.read(), where=path)


def run_job(job: Mapping[str, Any]) -> Any:
    """Run a checked job as the macro would: book, ``TrainAllMethods``, ``TestAllMethods``,
    ``EvaluateAllMethods``, and return the Factory (weight files under ``<dataset>/weights/``); with
    ``[crossvalidation]``: book on a CrossValidation, ``Evaluate()``, and return it (fold and combined
    weight files there).

    >>> factory = run_job(load_job("TMVAClassification.toml"))  # doctest: +SKIP
    """
    from tmvacompat.data.loader import DataLoader

    dl = job["dataloader"]
    loader = DataLoader(dl["name"])
    for v in job["variable"]:
        if v["size"]:
            loader.AddVariablesArray(v["expression"], v["size"], v["type"])
        else:
            loader.AddVariable(v["expression"], v["title"], v["unit"], v["type"])
    for s in job["spectator"]:
        loader.AddSpectator(s["expression"], s["title"], s["unit"])
    for t in job["target"]:
        loader.AddTarget(t["expression"], t["title"], t["unit"])
    for t in job["tree"]:
        kind = {"": None, "train": "Training", "training": "Training", "test": "Test"}[t["type"].lower()]
        loader.AddTree(t["source"], t["class"], float(t["weight"]), t["cut"], kind)
    if dl["weight"]:
        loader.SetWeightExpression(dl["weight"])
    for cname, expr in dl["weights"].items():
        loader.SetWeightExpression(expr, cname)
    for cname, cut in dl["cuts"].items():
        loader.AddCut(cut, cname)
    loader.PrepareTrainingAndTestTree(dl["cut"], dl["split"])
    if job.get("mode") == "crossvalidation":
        from tmvacompat.crossvalidation import CrossValidation

        cv_table = job["crossvalidation"]
        cv = CrossValidation(cv_table["job_name"], loader, cv_table["output"] or None, cv_table["options"])
        for m in job["method"]:
            cv.BookMethod(m["type"], m["title"], m["options"])
        cv.Evaluate()
        return cv
    from tmvacompat.factory import Factory

    fac = job["factory"]
    factory = Factory(fac["job_name"], fac["output"] or None, fac["options"])
    for m in job["method"]:
        factory.BookMethod(loader, m["type"], m["title"], m["options"])
    factory.TrainAllMethods()
    factory.TestAllMethods()
    factory.EvaluateAllMethods()
    return factory
