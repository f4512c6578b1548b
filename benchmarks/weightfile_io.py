"""Weight-file writing and reading of the TMVA tutorial network (20 -> 3 x 128 tanh -> 1, 35,841 values).

Times, medians of interleaved rounds in one process:

* formatting all matrix values: numpy's per-value ``format_float_scientific`` (what ``fmt_values`` did) and
  Python's per-value ``%`` against the bulk ``fmt_values`` (lossless float32, lossless float64, TMVA's
  ``%.6e``);
* ``model_to_xml`` (the whole document) and ``load_weights``, each also with the former per-value paths
  switched back in, and ``save_text`` (atomic write with fsync);
* converting the matrix text back: ``np.array(text.split(), np.float64)`` against ``parse_values``.

Usage::

    python benchmarks/weightfile_io.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tmvacompat.specs import DenseSpec  # noqa: E402
from tmvacompat.weightfile import Model, load_weights, xmlread, xmlwrite  # noqa: E402
from tmvacompat.weightfile.numparse import parse_values  # noqa: E402
from tmvacompat.weightfile.xmlwrite import fmt_values, model_to_xml, save_text  # noqa: E402


def per_value(arr: np.ndarray, precision: str, sep: str, tmva_format: str = "%.6e") -> str:
    """The former ``fmt_values``: one numpy or ``%`` call per value."""
    flat = np.ascontiguousarray(arr).ravel()
    if precision == "tmva":
        return "".join((tmva_format % float(v)) + sep for v in flat)
    return "".join(
        np.format_float_scientific(flat.dtype.type(v), unique=True, trim="-", exp_digits=2) + sep
        for v in flat
    )


def former(fn, *args):
    """``fn(*args)`` with the former per-value formatting and reading (the bulk paths switched off)."""
    bulk_fmt, bulk_min = xmlwrite.fmt_values, xmlread.BULK_MIN_VALUES
    xmlwrite.fmt_values, xmlread.BULK_MIN_VALUES = per_value, 1 << 62
    try:
        return fn(*args)
    finally:
        xmlwrite.fmt_values, xmlread.BULK_MIN_VALUES = bulk_fmt, bulk_min


def tutorial_model() -> Model:
    rng = np.random.default_rng(0)
    widths = [20, 128, 128, 128, 1]
    params = [
        {
            "Weights": (rng.normal(size=(o, i)) * np.sqrt(2 / (i + o))).astype(np.float32),
            "Biases": (rng.normal(size=(o, 1)) * 0.05).astype(np.float32),
        }
        for i, o in zip(widths, widths[1:], strict=False)
    ]
    return Model.from_parts(
        title="DNN",
        variables=[f"var{i + 1}" for i in range(20)],
        layers=[DenseSpec(128, "TANH")] * 3 + [DenseSpec(1, "LINEAR")],
        params=params,
    )


def medians(fns: dict, repeats: int) -> dict:
    for fn in fns.values():
        fn()  # warm-up (Numba cache load)
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    model = tutorial_model()
    values = np.concatenate([np.ravel(a) for p in model.network.params for a in p.values()])
    v64 = values.astype(np.float64)
    fns = {
        "lossless float32, per value": lambda: per_value(values, "lossless", "  "),
        "lossless float32, fmt_values": lambda: fmt_values(values, "lossless", "  "),
        "lossless float64, per value": lambda: per_value(v64, "lossless", "  "),
        "lossless float64, fmt_values": lambda: fmt_values(v64, "lossless", "  "),
        "tmva %.6e, per value": lambda: per_value(values, "tmva", "  "),
        "tmva %.6e, fmt_values": lambda: fmt_values(values, "tmva", "  "),
    }
    text = fmt_values(values, "lossless", "  ")
    n = values.size
    fns["read text, np.array(split())"] = lambda: np.array(text.split(), np.float64)
    fns["read text, parse_values"] = lambda: parse_values(text, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "TMVAClassification_DNN.weights.xml")
        xml = model_to_xml(model)
        fns["model_to_xml, per value"] = lambda: former(model_to_xml, model)
        fns["model_to_xml, fmt_values"] = lambda: model_to_xml(model)
        fns["save_text (atomic, fsync)"] = lambda: save_text(xml, path)
        fns["load_weights, per value"] = lambda: former(load_weights, path)
        fns["load_weights, parse_values"] = lambda: load_weights(path)
        res = medians(fns, args.repeats)
    load = os.getloadavg()[0]
    print(f"# Weight-file I/O, {n} values, {len(xml) / 1e3:.0f} kB file (load average {load:.1f})\n")
    print("| step | ms | per-value / bulk |")
    print("|---|---|---|")
    for k, ms in res.items():
        ratio = ""
        if k.endswith("fmt_values"):
            ratio = f"{res[k.replace('fmt_values', 'per value')] / ms:.1f}x"
        elif k.endswith("parse_values"):
            before = "np.array(split())" if k.startswith("read text") else "per value"
            ratio = f"{res[k.replace('parse_values', before)] / ms:.1f}x"
        print(f"| {k} | {ms:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
