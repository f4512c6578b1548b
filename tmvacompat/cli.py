"""Command line: ``tmvacompat example``, ``tmvacompat options STRING``, ``tmvacompat layout STRING``,
``tmvacompat evaluate WEIGHTS FILE.root:TREE``.

Example:
    $ tmvacompat layout 'CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|LINEAR'
"""

from __future__ import annotations

import argparse
import sys

from tmvacompat.errors import TMVACompatError


def _options(text: str) -> None:
    from tmvacompat.layout import parse_layout
    from tmvacompat.options import parse_options, parse_training_strategy

    for key, value in parse_options(text).items():
        print(f"{key:>22} = {value!r}")
        if key.lower() == "layout" and isinstance(value, str):
            for spec in parse_layout(value) if not value.lower().startswith("encoder") else []:
                print(f"{'':>24}{spec}")
        if key.lower() == "trainingstrategy" and isinstance(value, str):
            for i, phase in enumerate(parse_training_strategy(value), start=1):
                print(f"{'':>24}phase {i}: {phase}")


def _layout(text: str) -> None:
    from tmvacompat.layout import format_layout, parse_layout

    specs = parse_layout(text)
    if isinstance(specs, list):
        for i, spec in enumerate(specs):
            print(f"{i:3d}  {spec}")
    else:
        print(specs)
    print("canonical:", format_layout(specs))


def _evaluate(weights: str, source: str, limit: int) -> None:
    from tmvacompat.data.loader import open_tree
    from tmvacompat.weightfile import load_weights

    model = load_weights(weights)
    values = model.evaluate(open_tree(source))
    print(f"{model.method}::{model.title} ({model.analysis_type}) on {source}: {len(values)} events")
    for v in values[:limit]:
        print(v)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tmvacompat", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("example", help="train the TMVAClassification DL example on generated data")
    ex.add_argument("--workdir", default="tmvacompat_example")
    ex.add_argument("--ntrain", type=int, default=2000, help="training events per class")
    op = sub.add_parser("options", help="parse and pretty-print a TMVA option string")
    op.add_argument("text")
    la = sub.add_parser("layout", help="parse a Layout string into layer specs")
    la.add_argument("text")
    ev = sub.add_parser("evaluate", help="evaluate a weight file on a ROOT tree (FILE.root:TREE)")
    ev.add_argument("weights")
    ev.add_argument("source")
    ev.add_argument("--limit", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "example":
            from tmvacompat.example import run_example

            run_example(args.workdir, args.ntrain)
        elif args.cmd == "options":
            _options(args.text)
        elif args.cmd == "layout":
            _layout(args.text)
        else:
            _evaluate(args.weights, args.source, args.limit)
    except TMVACompatError as err:
        one_line = " ".join(str(err).split())  # a message quoting a multi-line library error stays one line
        print(f"tmvacompat: error: {one_line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
