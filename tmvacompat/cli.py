"""Command line: ``tmvacompat example``, ``train JOB.toml``, ``apply WEIGHTS IN.root:TREE [...] -o OUT``,
``inspect WEIGHTS``, ``check-options --method DL STRING``, ``convert WEIGHTS.xml -o model.onnx``,
``gui TMVA.root -o plots/``, ``precompile``, ``options STRING``, ``layout STRING``,
``evaluate WEIGHTS FILE.root:TREE``.

Errors are one line on stderr (exit 2 for bad input, 1 for a failing system call); ``--verbose`` shows the
traceback.

Example:
    $ tmvacompat layout 'CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64|TANH,DENSE|1|LINEAR'
    $ tmvacompat apply dataset/weights/TMVAClassification_DNN_CPU.weights.xml data.root:TreeS -o out.root
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings

from tmvacompat.errors import TMVACompatError


def _options(text: str) -> None:
    from tmvacompat.data.prepare_options import PREPARE_OPTIONS
    from tmvacompat.errors import OptionError, closest
    from tmvacompat.layout import parse_layout
    from tmvacompat.methods import declarations as d
    from tmvacompat.options import parse_options, parse_training_strategy

    parsed = parse_options(text)
    # no method is named here: a key no TMVA option set knows is what BookMethod would refuse anyway
    sets = (d.DL_OPTIONS, d.DNN_OPTIONS, d.AE_OPTIONS, d.FACTORY_OPTIONS, d.READER_OPTIONS, PREPARE_OPTIONS)

    def known(key: str, value: object) -> bool:
        name = key.split("[", 1)[0]
        if any(name in s for s in sets):
            return True
        piece = key if value is True else f"!{key}" if value is False else f"{key}={value}"
        for s in sets:  # a bare value TMVA takes for an option (e.g. "CPU" for Architecture)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s.parse(piece)
                return True
            except OptionError:
                continue
        return False

    for key, value in parsed.items():
        name = key.split("[", 1)[0]
        if not known(key, value):
            known = sorted({n for s in sets for n in s.names})
            raise OptionError(
                f"unknown option {name!r}: no TMVA method, Factory, DataLoader or Reader declares it "
                "(`tmvacompat check-options --method DL ...` checks a string against one method)",
                token=name,
                expected=closest(name, known) or None,
            )
    for key, value in parsed.items():
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


def _convert(weights: str, output: str, opset: int | None, batch_size: int | None) -> None:
    from tmvacompat.onnx_export import DEFAULT_OPSET, to_onnx
    from tmvacompat.weightfile import load_weights

    to_onnx(load_weights(weights), output, opset=opset or DEFAULT_OPSET, batch_size=batch_size)
    print(f"wrote {output}")


def _precompile(float64: bool) -> None:
    import numpy as np

    from tmvacompat.engine.precompile import precompile
    from tmvacompat.weightfile.precompile import precompile as precompile_weightfiles

    for line in precompile(dtypes=(np.float32, np.float64) if float64 else (np.float32,)):
        print(line)
    for line in precompile_weightfiles():
        print(line)


def _train(job_path: str) -> int:
    from tmvacompat.jobfile import load_job, run_job

    job = load_job(job_path)
    if job["mode"] == "crossvalidation":
        cv = run_job(job)
        for model in cv.models.values():
            print(f"weight file: {model.path}")
        if cv.output_file:
            print(f"output file: {cv.output_file}")
        return 0
    factory = run_job(job)
    failed = 0
    for booked in factory._booked:
        m = booked.method
        if booked.error is not None:
            failed += 1
            print(f"tmvacompat: error: {m.title}: training failed: {booked.error}", file=sys.stderr)
        else:
            print(f"weight file: {m.weight_file}")
    if factory.output_file:
        print(f"output file: {factory.output_file}")
        outdir = job["factory"]["plots"]
        if outdir:  # the macro's closing TMVA::TMVAGui(outfile), as files
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                print("tmvacompat: warning: no plots: pip install 'tmvacompat[plot]'", file=sys.stderr)
            else:
                _gui(factory.output_file, outdir, "png", None, 1000.0, 1000.0)
    return 2 if failed else 0


def _apply(weights: str, sources: list[str], output: str, branch: str | None, tree: str | None, step: int,
           workers: int | None, scheduler: str | None) -> None:  # fmt: skip
    from tmvacompat.apply import apply_to_trees

    t0 = time.perf_counter()
    written = apply_to_trees(weights, sources, output, branch=branch, tree_name=tree, step_size=step,
                             workers=workers, scheduler=scheduler)  # fmt: skip
    seconds = time.perf_counter() - t0
    if len(written) == 1:
        path, name, n = written[0]
        print(f"{path}:{name}: {n} entries ({seconds:.1f} s)")
        return
    for path, name, n in written:
        print(f"{path}:{name}: {n} entries")
    total = sum(n for _, _, n in written)
    rate = total / max(seconds, 1e-9)
    print(f"{len(written)} files, {total} entries ({seconds:.1f} s, {rate:,.0f} entries/s)")


def _inspect(weights: str) -> None:
    from math import prod

    from tmvacompat.weightfile import load_weights
    from tmvacompat.weightfile.layers_xml import expected_shapes

    m = load_weights(weights)
    info = dict(m.general_info)
    print(f"method       : {m.method}::{m.title} ({m.analysis_type})")
    print(f"written by   : ROOT {info.get('ROOT Release', '?')}, TMVA {info.get('TMVA Release', '?')}")
    print(f"trained on   : {info.get('Training events', '?')} events, {info.get('Date', '?')}")
    if m.analysis_type == "Multiclass":
        print(f"classes      : {', '.join(m.classes)}")
    for kind, infos in (("variables", m.variables), ("spectators", m.spectators), ("targets", m.targets)):
        if not infos:
            continue
        print(f"{kind:<13}: {len(infos)}")
        for v in infos:
            rng = f"[{v.min:.4g}, {v.max:.4g}]" if v.min <= v.max else ""
            name = v.formula if v.formula != v.expression else v.expression
            label = f" ({v.label})" if v.label and v.label != v.expression else ""
            print(f"    {name}{label} {v.type} {rng}".rstrip())
    chain = m.transforms
    steps = [] if chain is None else [t for t in chain.transforms]
    text = ", ".join(f"{t.xml_name or type(t).__name__}({len(t.inputs)} inputs)" for t in steps) or "none"
    print(f"transforms   : {text} (VarTransform={m.option('VarTransform', '')!r})")
    net = m.network
    print(f"network      : input {net.input_layout}, output function {net.output_function}, loss {net.loss}")
    shape = net.input_layout
    labelled = {"INPUT": shape}
    total = 0
    for i, (spec, params) in enumerate(zip(net.layers, net.params, strict=True)):
        _want, out = expected_shapes(spec, shape, labelled, where=f"layer {i}")
        count = sum(int(prod(a.shape)) for a in params.values())
        total += count
        print(f"  {i:3d} {type(spec).__name__[:-4] or spec.kind:<10} {str(shape):>14} -> {str(out):<14}"
              f" {count:>9} parameters  {spec}")  # fmt: skip
        shape = out
        if getattr(spec, "name", None):
            labelled[spec.name] = out
    print(f"parameters   : {total}")


def _check_options(method: str, text: str, analysis_type: str) -> None:
    from tmvacompat.data.loader import DataLoader
    from tmvacompat.factory import Factory

    factory = Factory("check", None, f"Silent:AnalysisType={analysis_type}")
    booked = factory.BookMethod(DataLoader("dataset"), method, "check", text)
    for name, modified, value in booked.xml_options():
        mark = "*" if modified else " "
        print(f"{mark} {name:>28} = {value}")
    if getattr(booked, "layout", None) is not None:
        print("layout:")
        for spec in booked.layout if isinstance(booked.layout, list) else [booked.layout]:
            print(f"    {spec}")
    for i, phase in enumerate(getattr(booked, "phases", None) or [], start=1):
        print(f"phase {i}: {phase}")
    print("(* = set in the option string; BookMethod accepts it)")


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"tmvacompat: warning: {message}\n"


def _gui(source: str, outdir: str, formats: str, dataset: str | None, nsig: float, nbkg: float) -> None:
    from tmvacompat.plot import plot_all

    try:
        fmts = formats.split(",")
        written = plot_all(source, outdir, fmts, dataset=dataset, n_signal=nsig, n_background=nbkg)
    except TMVACompatError:
        raise
    except OSError as err:  # the output folder cannot be made or written
        raise TMVACompatError(f"cannot write the plots to {outdir!r}: {err}", token=outdir) from err
    print(f"{len(written)} files written to {outdir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tmvacompat", description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
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
    cv = sub.add_parser(
        "convert", parents=[verbose], help="export a DL or AE weight file to ONNX (onnxruntime, ROOT's SOFIE)"
    )
    cv.add_argument("weights")
    cv.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    cv.add_argument("--opset", type=int, default=None, help="ONNX opset (default 13)")
    cv.add_argument("--batch-size", type=int, default=None, help="fixed batch size (SOFIE: 1)")
    pc = sub.add_parser(
        "precompile",
        parents=[verbose],
        help="fill Numba's cache with the engine's dense kernels now (e.g. once in a container build)",
    )
    pc.add_argument("--float64", action="store_true", help="also the float64 kernels (MethodDNN files)")
    tr = sub.add_parser(
        "train",
        parents=[verbose],
        help="run a job file (a TMVAClassification.C or TMVACrossValidation.C macro as TOML)",
    )
    tr.add_argument("job", help="the TOML job file (see tmvacompat.jobfile)")
    ap = sub.add_parser(
        "apply",
        parents=[verbose],
        help="evaluate a weight file on every entry of a tree, write a friend tree",
    )
    ap.add_argument("weights", help="WEIGHTS.xml")
    ap.add_argument("source", nargs="+", help="input trees, FILE.root:TREE (globs allowed in FILE)")
    ap.add_argument(
        "-o", "--output", required=True, help="output ROOT file (one input) or folder (several inputs)"
    )
    ap.add_argument("--branch", help="output branch name (default: the method title)")
    ap.add_argument(
        "--tree", default=None, help="output tree name (default: tmva for one input, else the input's)"
    )
    ap.add_argument("--step", type=int, default=100_000, help="entries read per chunk")
    ap.add_argument("--workers", type=int, default=None, help="files in parallel on a dask LocalCluster")
    ap.add_argument("--scheduler", default=None, help="address of an existing dask scheduler")
    ins = sub.add_parser("inspect", parents=[verbose], help="describe a weight file")
    ins.add_argument("weights")
    co = sub.add_parser(
        "check-options", parents=[verbose], help="check a method's option string as BookMethod does"
    )
    co.add_argument("--method", default="DL", help="method type: DL (default) or DNN")
    co.add_argument(
        "--analysis-type", default="Auto", choices=["Auto", "Classification", "Regression", "Multiclass"]
    )
    co.add_argument("text")
    gu = sub.add_parser(
        "gui", parents=[verbose], help="write TMVAGui's plots of a Factory output file (PNG and PDF)"
    )
    gu.add_argument("file", help="the Factory's output ROOT file (TMVA.root)")
    gu.add_argument("-o", "--outdir", default="plots")
    gu.add_argument("--format", default="png,pdf", help="comma-separated: png, pdf, svg, eps")
    gu.add_argument("--dataset", default=None, help="one dataset folder (default: all)")
    gu.add_argument("--nsig", type=float, default=1000, help="signal events for the optimal cut")
    gu.add_argument("--nbkg", type=float, default=1000, help="background events for the optimal cut")
    args = parser.parse_args(argv)
    previous_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        if args.cmd == "train":
            return _train(args.job)
        if args.cmd == "precompile":
            _precompile(args.float64)
        elif args.cmd == "apply":
            _apply(args.weights, args.source, args.output, args.branch, args.tree, args.step, args.workers,
                   args.scheduler)  # fmt: skip
        elif args.cmd == "inspect":
            _inspect(args.weights)
        elif args.cmd == "check-options":
            _check_options(args.method, args.text, args.analysis_type)
        elif args.cmd == "example":
            from tmvacompat.example import run_example

            run_example(args.workdir, args.ntrain)
        elif args.cmd == "options":
            _options(args.text)
        elif args.cmd == "layout":
            _layout(args.text)
        elif args.cmd == "convert":
            _convert(args.weights, args.output, args.opset, args.batch_size)
        elif args.cmd == "gui":
            _gui(args.file, args.outdir, args.format, args.dataset, args.nsig, args.nbkg)
        else:
            _evaluate(args.weights, args.source, args.limit)
    except (TMVACompatError, OSError) as err:
        if args.verbose:
            traceback.print_exc()
        text = str(err) if isinstance(err, TMVACompatError) else f"{type(err).__name__}: {err}"
        print(f"tmvacompat: error: {' '.join(text.split())}", file=sys.stderr)
        return 2 if isinstance(err, TMVACompatError) else 1
    except KeyboardInterrupt:
        print("tmvacompat: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous_format
    return 0


if __name__ == "__main__":
    sys.exit(main())
