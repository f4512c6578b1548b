"""Compare tmvacompat's Model.evaluate with ROOT's TMVA::Reader, event by event.

Step 1 (needs ROOT with TMVA) writes TMVA's responses as a friend tree::

    root -l -b -q 'macros/evaluate_with_tmva_reader.C("w.weights.xml", "in.root", "TreeS", "tmva_out.root")'

Step 2 (needs only tmvacompat and uproot) evaluates the same weight file on the same tree and compares::

    python macros/compare_with_tmva.py w.weights.xml in.root TreeS tmva_out.root [--tree tmva] [--atol 1e-5]

Pass ``--run-root`` to do step 1 from here (calls the ``root`` executable). The exit status is 0 when every
event agrees within ``--atol``, 1 otherwise; a summary (max and mean absolute difference, worst events) is
printed.

Example:
    >>> from compare_with_tmva import compare            # doctest: +SKIP
    >>> compare("w.weights.xml", "in.root", "TreeS", "tmva_out.root").ok   # doctest: +SKIP
    True
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MACRO = Path(__file__).resolve().with_name("evaluate_with_tmva_reader.C")


@dataclass
class Comparison:
    """Outcome of :func:`compare`: per-event absolute differences and the verdict."""

    n_events: int
    max_abs_diff: float
    mean_abs_diff: float
    n_bad: int
    worst: list[tuple[int, float, float]]  # (entry, tmvacompat, TMVA) of the largest differences
    ok: bool


def run_root_macro(
    weights: str, input_file: str, tree: str, output_file: str, friend_tree: str = "tmva"
) -> None:
    """Run the ROOT macro (needs ``root`` on PATH)."""
    call = f'{MACRO}("{weights}", "{input_file}", "{tree}", "{output_file}", "{friend_tree}")'
    cmd = ["root", "-l", "-b", "-q", call]
    print("running:", " ".join(shlex.quote(c) for c in cmd))
    subprocess.run(cmd, check=True)


def tmva_responses(output_file: str, friend_tree: str = "tmva") -> np.ndarray:
    """TMVA's responses from the friend tree: (n,) for ``response``, (n, k) for ``response_<k>``."""
    import uproot

    with uproot.open(output_file) as f:
        t = f[friend_tree]
        names = list(t.keys())
        if "response" in names:
            return t["response"].array(library="np")
        cols = sorted((n for n in names if n.startswith("response_")), key=lambda n: int(n.split("_")[1]))
        if not cols:
            raise SystemExit(f"{output_file}:{friend_tree} has no response branches (found {names})")
        return np.stack([t[c].array(library="np") for c in cols], axis=1)


def compare(
    weights: str, input_file: str, tree: str, output_file: str, friend_tree: str = "tmva", atol: float = 1e-5
) -> Comparison:
    """Evaluate ``weights`` on ``input_file:tree`` with tmvacompat and compare with the friend tree."""
    import uproot

    from tmvacompat.weightfile import load_weights

    model = load_weights(weights)
    with uproot.open(input_file) as f:
        ours = model.evaluate(f[tree])
    theirs = tmva_responses(output_file, friend_tree)
    if theirs.shape != ours.shape:
        raise SystemExit(f"shape mismatch: tmvacompat {ours.shape}, TMVA {theirs.shape}")
    diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    per_event = diff.reshape(len(diff), -1).max(axis=1) if len(diff) else diff
    order = np.argsort(per_event)[::-1][:5]
    flat_ours = ours.reshape(len(ours), -1)
    flat_theirs = theirs.reshape(len(theirs), -1)
    worst = [(int(i), float(flat_ours[i, 0]), float(flat_theirs[i, 0])) for i in order]
    return Comparison(
        n_events=len(ours),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
        n_bad=int((per_event > atol).sum()),
        worst=worst,
        ok=bool((per_event <= atol).all()),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights")
    p.add_argument("input_file")
    p.add_argument("tree")
    p.add_argument("output_file", help="ROOT file with TMVA's responses (written by the macro)")
    p.add_argument("--tree", dest="friend_tree", default="tmva", help="friend tree name (default: tmva)")
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--run-root", action="store_true", help="run the ROOT macro first")
    args = p.parse_args(argv)
    if args.run_root:
        run_root_macro(args.weights, args.input_file, args.tree, args.output_file, args.friend_tree)
    res = compare(args.weights, args.input_file, args.tree, args.output_file, args.friend_tree, args.atol)
    print(
        f"events: {res.n_events}  max |diff|: {res.max_abs_diff:.3g}  mean |diff|: {res.mean_abs_diff:.3g}  "
        f"above {args.atol:g}: {res.n_bad}"
    )
    for entry, ours, theirs in res.worst:
        print(f"  entry {entry}: tmvacompat {ours:.9g}  TMVA {theirs:.9g}")
    print("AGREE" if res.ok else "DISAGREE")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
