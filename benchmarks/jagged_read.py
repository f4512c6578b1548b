"""Reading an image branch: a jagged ``std::vector<float>`` against a fixed ``float[L]`` array.

```
python benchmarks/jagged_read.py            # 4000 events, lengths 64..512
python benchmarks/jagged_read.py --quick    # fewer lengths and repeats
```

For each vector length L it writes one file holding both branches for the same 4000 events (with ROOT when
PyROOT is installed, so the jagged branch is a real ``std::vector<float>``; otherwise with uproot, whose
jagged branches are a counter plus ``float[n]``), then times the two ways an ``AddVariablesArray("img", L)``
booking reads them: the DataLoader (``GetDataSet``) and ``Model.input_matrix`` on the uproot tree.
Times are medians of a few runs; the last column is jagged time / fixed time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tmvacompat.data.dataset import VariableInfo  # noqa: E402
from tmvacompat.data.loader import DataLoader  # noqa: E402
from tmvacompat.specs import DenseSpec  # noqa: E402
from tmvacompat.weightfile.model import Model  # noqa: E402


def write_file(path: str, n: int, length: int, seed: int = 1) -> str:
    """Trees ``TreeS``/``TreeB`` with ``fixed`` (float[length]), ``jagged`` (vector<float>) and ``x``."""
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(size=(n, length)).astype(np.float32) for name in ("TreeS", "TreeB")}
    try:
        import ROOT  # noqa: F401
    except ImportError:
        ROOT = None
    if ROOT is None:
        import awkward as ak
        import uproot

        with uproot.recreate(path) as f:
            for name, img in data.items():
                f[name] = {
                    "fixed": img,
                    "jagged": ak.Array(list(img)),
                    "x": img[:, 0].copy(),
                }
        return path
    f = ROOT.TFile(path, "RECREATE")
    for name, img in data.items():
        t = ROOT.TTree(name, name)
        fixed = np.zeros(length, np.float32)
        vec = ROOT.std.vector["float"]()
        x = np.zeros(1, np.float32)
        t.Branch("fixed", fixed, f"fixed[{length}]/F")
        t.Branch("jagged", vec)
        t.Branch("x", x, "x/F")
        for row in img:
            fixed[:] = row
            vec.assign(row)  # noqa: PD011 - std::vector::assign
            x[0] = row[0]
            t.Fill()
        t.Write()
    f.Close()
    return path


def time_it(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def loader_read(path: str, branch: str, length: int) -> None:
    loader = DataLoader("bench")
    loader.AddVariablesArray(branch, length)
    loader.AddSignalTree(f"{path}:TreeS")
    loader.AddBackgroundTree(f"{path}:TreeB")
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:!V")
    loader.GetDataSet()


def model_read(path: str, branch: str, length: int) -> None:
    import uproot

    variables = [VariableInfo(branch, branch, f"[{i}]", "", f"{branch}[{i}]", "F", array_index=i)
                 for i in range(length)]  # fmt: skip
    model = Model.from_parts(
        title="bench",
        variables=variables,
        layers=[DenseSpec(1, "LINEAR")],
        params=[{"Weights": np.zeros((1, length)), "Biases": np.zeros((1, 1))}],
    )
    with uproot.open(path) as f:
        x = model.input_matrix(f["TreeS"])
    assert x.shape[1] == length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=4000, help="events per tree")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    lengths = (64, 256) if args.quick else (64, 128, 256, 512)
    repeats = 3 if args.quick else 5
    warnings.simplefilter("ignore")
    print(f"{args.events} events per tree, median of {repeats} runs (seconds)\n")
    print("| L | reader | fixed float[L] | std::vector<float> | jagged/fixed |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for length in lengths:
            path = write_file(os.path.join(tmp, f"img{length}.root"), args.events, length)
            for name, fn in (("DataLoader", loader_read), ("Model.input_matrix", model_read)):
                fn(path, "jagged", length)  # warm caches and imports
                fixed = time_it(lambda fn=fn, p=path, n=length: fn(p, "fixed", n), repeats)
                jagged = time_it(lambda fn=fn, p=path, n=length: fn(p, "jagged", n), repeats)
                print(
                    f"| {length} | {name} | {fixed:.3f} | {jagged:.3f} | {jagged / fixed:.2f}x |", flush=True
                )


if __name__ == "__main__":
    main()
