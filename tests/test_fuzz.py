"""Fuzzing: hostile and unlucky inputs give tmvacompat errors, never someone else's traceback.

Targets: option strings and TrainingStrategy values, layouts, weight files (real TMVA files and files
tmvacompat writes: truncated, bit-flipped, with attributes set to huge, negative or garbage values, elements
dropped or repeated, hostile XML), and ROOT inputs (real ROOT-written files and uproot-written ones under all
four compressions and none: truncated, bit-flipped baskets, missing trees and branches, jagged and string
branches)
through the DataLoader, ``Model.evaluate``, the Reader and the command line. The only exceptions allowed are
TMVACompatError subclasses, and each names what it is about (the option, the file, the tree or branch).
Memory is bounded by an address-space limit while the cases run (numpy's MemoryError would fail the test)
and every case must finish within :data:`CASE_SECONDS` (one stuck in compiled code is ended with its
traceback after :data:`HANG_SECONDS`).

The CI run takes a few seconds per target with fixed seeds; ``TMVACOMPAT_FUZZ_LONG=1`` runs many more cases
with fresh seeds (printed, so that a failure can be replayed with ``TMVACOMPAT_FUZZ_SEED=<seed>``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import os
import random
import re
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz module needs hypothesis")
uproot = pytest.importorskip("uproot", reason="the ROOT-input fuzzing writes files with uproot")

from conftest import VECTORS  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tmvacompat import DataLoader  # noqa: E402
from tmvacompat.cli import main  # noqa: E402
from tmvacompat.data.prepare_options import PREPARE_OPTIONS  # noqa: E402
from tmvacompat.errors import TMVACompatError  # noqa: E402
from tmvacompat.layout import parse_layout  # noqa: E402
from tmvacompat.methods.declarations import DL_OPTIONS, DNN_OPTIONS  # noqa: E402
from tmvacompat.options import parse_training_strategy  # noqa: E402
from tmvacompat.reader import Reader  # noqa: E402
from tmvacompat.specs import (  # noqa: E402
    BatchNormSpec,
    ConvSpec,
    DenseSpec,
    GRUSpec,
    LSTMSpec,
    MaxPoolSpec,
    Padding2DSpec,
    ReshapeSpec,
    RNNSpec,
)
from tmvacompat.weightfile import Model  # noqa: E402
from tmvacompat.weightfile.xmlread import model_from_bytes  # noqa: E402

LONG = os.environ.get("TMVACOMPAT_FUZZ_LONG") == "1"
SEED = int(os.environ.get("TMVACOMPAT_FUZZ_SEED", random.SystemRandom().randrange(2**31) if LONG else 22))
#: cases per seeded-mutation target (CI, long mode) and hypothesis examples per property
CASES = 2000 if LONG else 150
EXAMPLES = 3000 if LONG else 250
CASE_SECONDS = 20.0
HANG_SECONDS = 120.0
#: address space the cases may use beyond what the process holds when they start
MEMORY_HEADROOM = 6 << 30

REAL_WEIGHTS = [
    VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_DL_CPU.weights.xml",
    VECTORS / "danchepkwony_rootPractice" / "TMVAClassification_DNN_CPU.weights.xml",
    VECTORS / "privdonut123_NN" / "TMVAClassification_DNN.weights.xml",
    VECTORS / "adropulic_June_July_2019" / "TMVAClassification_DNN.weights.xml",
    VECTORS / "nasufsonmez_multiclass" / "TMVAMulticlass_PDEFoam.weights.xml",
]
REAL_ROOT = VECTORS / "root_written"
#: the four codecs, and no compression (no checksum guards a basket then)
COMPRESSIONS = {
    "zlib": uproot.ZLIB(4),
    "lz4": uproot.LZ4(4),
    "zstd": uproot.ZSTD(4),
    "lzma": uproot.LZMA(4),
    "none": None,
}
settings.register_profile(
    "tmvacompat-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: cases tried per target in this run (printed at the end with -s)
TRIED: dict[str, int] = {}


def _count(target: str) -> None:
    TRIED[target] = TRIED.get(target, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    tried = ", ".join(f"{k}={v}" for k, v in sorted(TRIED.items()))
    print(f"\nfuzz cases tried (seed {SEED}): {tried}")


def _vm_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def bounded_memory():
    """Cap the address space at what is in use now plus :data:`MEMORY_HEADROOM` (Linux only)."""
    if not os.path.exists("/proc/self/status"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _vm_bytes() + MEMORY_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_case(target: str, fn, *names: str):
    """Run ``fn()``: it may return or raise a TMVACompatError whose message names one of ``names``; any other
    exception, or a case slower than :data:`CASE_SECONDS`, fails the test."""
    _count(target)
    t0 = time.perf_counter()
    # a case stuck in compiled code (awkward once looped forever on bad UTF-8) ends the run with its traceback
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True, file=sys.__stderr__)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except TMVACompatError as err:
        text = str(err)
        if names:
            assert any(n in text for n in names), f"{target}: error does not name any of {names}: {text}"
        assert "\n" not in text.strip() or len(text) < 4000, f"{target}: unwieldy message {text[:300]}"
        return err
    finally:
        faulthandler.cancel_dump_traceback_later()
        took = time.perf_counter() - t0
        assert took < CASE_SECONDS, f"{target}: a case took {took:.1f} s"


# ---------------------------------------------------------------------------------------------------------
# option strings and layouts

_KEYS = [o.name for o in DL_OPTIONS] + ["nTrain_Signal", "TrainTestSplit_Signal", "SplitSeed", "Bogus", ""]
_KEYS += ["CreateMVAPdfs", "NbinsMVAPdf", "NAvEvtPerBinMVAPdfSig", "MaxNSmoothMVAPdfBkg"]
_KEYS += ["KDEFineFactorMVAPdf"]
_VALUES = [
    "-1",
    "0",
    "1",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "4294967296",
    "99999999999999999999",
    "0.5",
    "20%",
    "100%",
    "1e-7",
    "",
    "=",
    "abc",
    "TANH|8,LINEAR",
    "True",
    "!",
    "|",
    ",",
    "DENSE|N*1000000000|TANH",
]
_TS_KEYS = [
    "LearningRate",
    "Momentum",
    "BatchSize",
    "MaxEpochs",
    "ConvergenceSteps",
    "TestRepetitions",
    "DropConfig",
    "Optimizer",
    "Regularization",
    "WeightDecay",
    "ADAM_beta1",
    "Bogus",
]

option_items = st.one_of(
    st.tuples(st.sampled_from(_KEYS), st.sampled_from(_VALUES)).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.tuples(st.sampled_from(_KEYS), st.text(max_size=12)).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.sampled_from(["!H", "V", "!V", "H", "!", ":", "=", "VarTransform=N", "Layout="]),
    st.text(max_size=8),
)


@settings(settings.get_profile("tmvacompat-fuzz"))
@given(st.lists(option_items, max_size=6))
def test_fuzz_option_strings(items):
    text = ":".join(items)
    for opts in (DL_OPTIONS, DNN_OPTIONS, PREPARE_OPTIONS):
        err = run_case("options", lambda opts=opts: opts.parse(text))
        if isinstance(err, TMVACompatError):
            assert err.token is not None or err.position is not None, f"{text!r}: {err}"


ts_items = st.tuples(
    st.sampled_from(_TS_KEYS), st.one_of(st.sampled_from(_VALUES), st.text(max_size=10))
).map(lambda kv: f"{kv[0]}={kv[1]}")


@settings(settings.get_profile("tmvacompat-fuzz"))
@given(st.lists(st.lists(ts_items, max_size=5).map(",".join), max_size=3).map("|".join))
def test_fuzz_training_strategy(text):
    err = run_case("training strategy", lambda: parse_training_strategy(text))
    if isinstance(err, TMVACompatError):
        assert err.token is not None or err.position is not None, f"{text!r}: {err}"


_LAYER_WORDS = [
    "DENSE",
    "CONV",
    "MAXPOOL",
    "RESHAPE",
    "BNORM",
    "RNN",
    "LSTM",
    "GRU",
    "PADDING2D",
    "FLAT",
    "TANH",
    "RELU",
    "LINEAR",
    "SIGMOID",
    "dense",
    "Encoder={",
    "}",
    "Decoder={",
]


def _nested(depth: int, core: str) -> str:
    return "(" * depth + core + ")" * depth


size_fields = st.one_of(
    st.integers(-5, 2**40).map(str),
    st.sampled_from(["N", "n", "N*1000000000", "(N+100)*2", "N/0", "1e300*1e300", "-N", "0", "1.5", "1e3"]),
    st.integers(0, 600).map(lambda d: _nested(d, "N")),
    st.integers(0, 600).map(lambda d: "-" * d + "1"),
    st.text(alphabet="N0123456789+-*/()eE. ", max_size=20),
)
_FIELDS = {
    "DENSE": 2,
    "CONV": 8,
    "MAXPOOL": 4,
    "RESHAPE": 3,
    "BNORM": 2,
    "RNN": 4,
    "LSTM": 4,
    "GRU": 4,
    "PADDING2D": 4,
}
small_fields = st.one_of(st.integers(1, 12).map(str), st.integers(0, 12).map(str), size_fields)
structured = st.sampled_from(sorted(_FIELDS)).flatmap(
    lambda kind: st.lists(small_fields, min_size=_FIELDS[kind] - 1, max_size=_FIELDS[kind] + 1).map(
        lambda fields, kind=kind: "|".join([kind, *fields])
    )
)
free = st.lists(st.one_of(st.sampled_from(_LAYER_WORDS), size_fields), min_size=1, max_size=9).map("|".join)
layers = st.one_of(structured, structured, free)


@settings(settings.get_profile("tmvacompat-fuzz"))
@given(st.lists(layers, min_size=1, max_size=4).map(",".join), st.integers(1, 200))
def test_fuzz_layouts(text, nvar):
    specs = run_case("layouts", lambda: parse_layout(text))
    if not isinstance(specs, list):
        return
    resolved = []
    for spec in specs:
        if isinstance(spec, DenseSpec):
            width = run_case("layout widths", lambda spec=spec: spec.resolved_width(nvar, 1), str(spec.width))
            if not isinstance(width, int):
                return
            spec = dataclasses.replace(spec, width=width)
        resolved.append(spec)
    # what MethodDL does next: the size budget, then the engine network (its parameters allocated)
    with bounded_memory():
        run_case("layout networks", lambda: _build(resolved, nvar), "Layout", "layer ")


def _build(specs, nvar: int) -> None:
    from tmvacompat.engine.network import Network
    from tmvacompat.weightfile.layers_xml import check_network_budget

    check_network_budget(specs, (1, 1, nvar), "Layout")
    Network.build(specs, (nvar,), n_outputs=1, nvar=nvar, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------------
# weight files


def _written_models(tmp: Path) -> list[Path]:
    """Small weight files tmvacompat writes: a dense classifier with a Normalize transform and an image
    network with every layer kind TMVA has."""
    rng = np.random.default_rng(1)
    out = []
    dense = Model.from_parts(
        title="dense",
        variables=["a", "b", "c"],
        layers=[DenseSpec(4, "TANH"), DenseSpec(1, "LINEAR")],
        params=[
            {"Weights": rng.normal(size=(4, 3)), "Biases": rng.normal(size=(4, 1))},
            {"Weights": rng.normal(size=(1, 4)), "Biases": rng.normal(size=(1, 1))},
        ],
    )
    from tmvacompat.data.transforms import TransformChain

    dense.transforms = TransformChain.fit(
        rng.normal(size=(20, 3)).astype(np.float32), items="N", variables=["a", "b", "c"]
    )
    out.append(tmp / "dense.weights.xml")
    dense.save(out[-1])
    specs = [
        ConvSpec(2, 3, 3, 1, 1, 1, 1, "RELU"),
        Padding2DSpec(1, 0, 0, 1),
        MaxPoolSpec(2, 2, 1, 1),
        BatchNormSpec(0.9, 1e-3),
        ReshapeSpec(flatten=True),
        DenseSpec(12, "SOFTSIGN"),
        ReshapeSpec(1, 3, 4),
        RNNSpec(4, 4, 3, False, True),
        LSTMSpec(3, 4, 3, False, True),
        GRUSpec(2, 3, 3, False, False, True),
        DenseSpec(1, "LINEAR"),
    ]
    shapes = {
        0: {"Weights": (2, 9), "Biases": (2, 1)},
        3: {k: (1, 2) for k in ("Training-mu", "Training-variance", "Gamma", "Beta")},
        5: {"Weights": (12, 50), "Biases": (12, 1)},
        7: {"InputWeights": (4, 4), "StateWeights": (4, 4), "Biases": (4, 1)},
        8: {
            n: ((3, 4) if i < 4 and not n.endswith("Biases") else (3, 1) if n.endswith("Biases") else (3, 3))
            for i, n in enumerate(
                (
                    "InputWeights",
                    "ForgetWeights",
                    "CandidateWeights",
                    "OuputWeights",
                    "InputStateWeights",
                    "ForgetStateWeights",
                    "CandidateStateWeights",
                    "OutputStateWeights",
                    "InputBiases",
                    "ForgetBiases",
                    "CandidateBiases",
                    "OutputBiases",
                )
            )
        },
        9: {
            n: ((2, 3) if i < 3 else (2, 2)) if not n.endswith("Biases") else (2, 1)
            for i, n in enumerate(
                (
                    "ResetWeights",
                    "UpdateWeights",
                    "CandidateWeights",
                    "ResetStateWeights",
                    "UpdateStateWeights",
                    "CandidateStateWeights",
                    "ResetBiases",
                    "UpdateBiases",
                    "CandidateBiases",
                )
            )
        },
        10: {"Weights": (1, 2), "Biases": (1, 1)},
    }
    params = [{k: rng.normal(size=s) * 0.3 for k, s in shapes.get(i, {}).items()} for i in range(len(specs))]
    params[3]["Training-variance"] = np.abs(params[3]["Training-variance"]) + 0.5
    try:
        img = Model.from_parts(
            title="img",
            variables=[f"p{i}" for i in range(16)],
            layers=specs,
            params=params,
            input_layout=(1, 4, 4),
        )
        out.append(tmp / "img.weights.xml")
        img.save(out[-1])
    except TMVACompatError:  # pragma: no cover - the layer table changed; the dense file still fuzzes
        pass
    return out


_HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    b"<MethodSetup>&b;</MethodSetup>",
    b'<?xml version="1.0"?><!DOCTYPE m SYSTEM "file:///etc/passwd"><MethodSetup/>',
    b"<MethodSetup>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</MethodSetup>",
    b'<MethodSetup Method="DL::x" ' + b"x" * 200_000 + b'="1"/>',
    b"\xff\xfe<\x00M\x00",
    b"",
    b"<MethodSetup",
]


def _numeric_attribute_mutation(text: str, rng: random.Random) -> str:
    spots = list(re.finditer(r'(\w+)="(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"', text))
    if not spots:
        return text
    m = rng.choice(spots)
    value = rng.choice(
        [
            "0",
            "-1",
            "1000000000000",
            "4294967296",
            "2147483648",
            "99999999999999999999",
            "1e400",
            "nan",
            "",
            "x",
            str(rng.randrange(1, 5000)),
            "-2147483649",
            "3.5",
        ]
    )
    return text[: m.start(2)] + value + text[m.end(2) :]


def _element_mutation(text: str, rng: random.Random) -> str:
    tags = list(re.finditer(r"<(\w+)[^<>]*/>|<(\w+)[^<>]*>[^<]*</\2>", text))
    if not tags:
        return text
    m = rng.choice(tags)
    piece = m.group(0)
    action = rng.randrange(3)
    if action == 0:
        return text[: m.start()] + text[m.end() :]  # drop
    if action == 1:
        return text[: m.end()] + piece * rng.randrange(1, 4) + text[m.end() :]  # repeat
    other = rng.choice(tags).group(0)
    return text[: m.start()] + other + text[m.end() :]  # replace by another element


def _mutate_weights(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return data[: rng.randrange(len(data))]
    if kind == 1:
        buf = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        return bytes(buf)
    text = data.decode("utf-8", "replace")
    if kind == 2:
        for _ in range(rng.randrange(1, 4)):
            text = _numeric_attribute_mutation(text, rng)
    elif kind == 3:
        text = _element_mutation(text, rng)
    else:  # a number inside a matrix or range made huge, negative or garbage
        nums = list(re.finditer(r"(?<=[ >\n])-?\d\.\d+e[+-]\d+", text))
        if nums:
            m = rng.choice(nums)
            text = text[: m.start()] + rng.choice(["1e400", "nan", "-inf", "x", "1e38"]) + text[m.end() :]
    return text.encode()


def _evaluate_everywhere(model: Model, path: str, rng: random.Random) -> None:
    nvar = len(model.variables)
    x = np.asarray([[rng.gauss(0, 2) for _ in range(nvar)] for _ in range(5)], np.float32)
    run_case("weight files: Model.evaluate", lambda: model.evaluate(x), path, model.title)
    reader = Reader("!Color:Silent")
    buffers = [np.zeros(1, np.float32) for _ in range(nvar)]
    ok = run_case("weight files: Reader.BookMVA", lambda: _book(reader, model, buffers), path, model.title)
    if ok is True:
        fn = {
            "Classification": reader.EvaluateMVA,
            "Regression": reader.EvaluateRegression,
            "Multiclass": reader.EvaluateMulticlass,
        }[model.analysis_type]
        run_case("weight files: Reader.Evaluate", lambda: fn("m"), path, model.title, "'m'")


def _book(reader: Reader, model: Model, buffers) -> bool:
    for v, b in zip(model.variables, buffers, strict=True):
        reader.AddVariable(v.expression, b)
    reader.BookMVA("m", model)
    return True


@pytest.mark.parametrize("source", ["real", "written"])
def test_fuzz_weight_files(tmp_path, source):
    if source == "real":
        seeds = [p for p in REAL_WEIGHTS if p.is_file()]
        if not seeds:
            pytest.skip(f"real TMVA vectors not found at {VECTORS}")
    else:
        seeds = _written_models(tmp_path)
    rng = random.Random(f"{SEED}-{source}")
    originals = [(p, p.read_bytes()) for p in seeds]
    with bounded_memory():
        for i in range(CASES):
            seed_path, data = originals[i % len(originals)]
            path = str(tmp_path / f"m{i}_{seed_path.name}")
            mutated = _mutate_weights(data, rng) if i >= len(originals) else data
            model = run_case("weight files: load", lambda m=mutated, p=path: model_from_bytes(m, p), path)
            if isinstance(model, Model):
                _evaluate_everywhere(model, path, rng)
        for j, data in enumerate(_HOSTILE):
            path = str(tmp_path / f"hostile{j}.xml")
            run_case("weight files: hostile XML", lambda d=data, p=path: model_from_bytes(d, p), path)


def test_fuzz_weight_files_through_the_cli(tmp_path, capsys):
    seeds = _written_models(tmp_path)
    root = tmp_path / "in.root"
    with uproot.recreate(root) as f:
        f.mktree("T", {"a": np.float32, "b": np.float32, "c": np.float32})
        f["T"].extend({k: np.linspace(-1, 1, 50, dtype=np.float32) for k in "abc"})
    rng = random.Random(f"{SEED}-cli")
    data = seeds[0].read_bytes()
    for i in range(max(10, CASES // 4)):
        path = tmp_path / f"cli{i}.weights.xml"
        path.write_bytes(_mutate_weights(data, rng))
        code = run_case("weight files: CLI evaluate", lambda p=path: main(["evaluate", str(p), f"{root}:T"]))
        err = capsys.readouterr().err
        assert code in (0, 2), f"exit code {code}: {err}"
        assert "Traceback" not in err
        if code == 2:
            assert err.strip().count("\n") == 0, err
            assert str(path) in err or str(root) in err, err


# ---------------------------------------------------------------------------------------------------------
# ROOT inputs


def _write_inputs(path: Path, compression) -> None:
    rng = np.random.default_rng(3)
    import awkward as ak

    with uproot.recreate(path, compression=compression) as f:
        for tree, mean in (("S", 0.5), ("B", -0.5)):
            f.mktree(
                tree,
                {"a": np.float32, "b": np.float64, "n": np.int32, "jet": "var * float32", "name": "string"},
            )
            n = 1500
            f[tree].extend(
                {
                    "a": rng.normal(mean, 1, n).astype(np.float32),
                    "b": rng.normal(-mean, 1, n),
                    "n": rng.integers(0, 4, n).astype(np.int32),
                    "jet": ak.Array([list(rng.normal(size=k)) for k in rng.integers(0, 3, n)]),
                    "name": np.array([f"e{k}" for k in range(n)]),
                }
            )


def _basket_seeks(path: Path) -> list[tuple[int, int]]:
    out = []
    with uproot.open(path) as f:
        for key in f.keys(cycle=False):
            obj = f[key]
            if not hasattr(obj, "branches"):
                continue
            for br in obj.branches:
                seeks = br.member("fBasketSeek")[: br.num_baskets]
                sizes = br.member("fBasketBytes")[: br.num_baskets]
                out += [(int(s), int(b)) for s, b in zip(seeks, sizes, strict=True) if s > 0]
    return out


def _mutate_root(data: bytes, baskets: list[tuple[int, int]], rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    buf = bytearray(data)
    if kind == 0:
        return data[: rng.randrange(len(data))]
    if kind in (1, 2) and baskets:  # bit flips inside a basket (its key, header or compressed payload)
        seek, size = rng.choice(baskets)
        for _ in range(rng.randrange(1, 12)):
            k = seek + rng.randrange(max(1, size))
            if k < len(buf):
                buf[k] ^= 1 << rng.randrange(8)
        return bytes(buf)
    for _ in range(rng.randrange(1, 6)):  # anywhere (headers, streamers, the directory)
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


_VARIABLE_SETS = [
    ("a", "b"),
    ("a", "b", "n"),
    ("a", "jet"),
    ("a", "name"),
    ("a", "nosuch"),
    ("a", "jet[0]"),
    ("a", "Max$(jet)"),
    ("a*b", "sqrt(b)"),
]
_REAL_SETS = [("var1", "var2"), ("var1", "jet_pt"), ("var1", "fixed3"), ("var1", "fixed3[1]"), ("var1", "zz")]


def _load(path: str, trees: tuple[str, str], variables, weight: str | None) -> None:
    loader = DataLoader("ds")
    for v in variables:
        loader.AddVariable(v, "F")
    loader.AddSignalTree(f"{path}:{trees[0]}")
    loader.AddBackgroundTree(f"{path}:{trees[1]}")
    if weight:
        loader.SetWeightExpression(weight)
    loader.PrepareTrainingAndTestTree("", "SplitMode=Block:NormMode=None")
    loader.GetDataSet()


def _model_for(variables) -> Model:
    return Model.from_parts(
        title="m",
        variables=list(variables),
        layers=[DenseSpec(1, "LINEAR")],
        params=[
            {"Weights": np.ones((1, len(variables)), np.float32), "Biases": np.zeros((1, 1), np.float32)}
        ],
    )


def _evaluate_tree(path: str, tree: str, variables) -> None:
    try:
        f = uproot.open(path)
        t = f[tree]
    except Exception:  # the file does not open in uproot itself: nothing of ours runs
        return
    with f:
        run_case("ROOT inputs: Model.evaluate", lambda: _model_for(variables).evaluate(t), path, tree)


def _root_cases(tmp_path: Path, seeds: list[tuple[Path, tuple[str, str], list]], tag: str, capsys) -> None:
    rng = random.Random(f"{SEED}-{tag}")
    originals = [(p, trees, sets, p.read_bytes(), _basket_seeks(p)) for p, trees, sets in seeds]
    weights = {}
    with bounded_memory():
        for i in range(CASES):
            src, trees, sets, data, baskets = originals[i % len(originals)]
            path = tmp_path / f"{tag}{i}_{src.name}"
            path.write_bytes(_mutate_root(data, baskets, rng) if i >= len(originals) else data)
            variables = rng.choice(sets)
            tree = rng.choice(list(trees) + ["NoSuchTree"])
            p = str(path)
            weight = rng.choice([None, None, "b" if "b" in variables else None, "nosuch_w"])
            run_case(
                f"ROOT inputs ({tag}): DataLoader",
                lambda p=p, t=trees, v=variables, w=weight: _load(p, t, v, w),
                p,
            )
            _evaluate_tree(p, tree, variables)
            if i % 5 == 0:
                key = tuple(variables)
                if key not in weights:
                    weights[key] = str(tmp_path / f"w{len(weights)}.weights.xml")
                    _model_for(variables).save(weights[key])
                code = run_case(
                    "ROOT inputs: CLI evaluate",
                    lambda w=weights[key], src=f"{p}:{tree}": main(["evaluate", w, src]),
                )
                err = capsys.readouterr().err
                assert code in (0, 2) and "Traceback" not in err, err
                if code == 2:
                    assert err.strip().count("\n") == 0, err


def test_fuzz_root_inputs_written_by_uproot(tmp_path, capsys):
    seeds = []
    for name, comp in COMPRESSIONS.items():
        path = tmp_path / f"in_{name}.root"
        _write_inputs(path, comp)
        seeds.append((path, ("S", "B"), _VARIABLE_SETS))
    _root_cases(tmp_path, seeds, "uproot", capsys)


def test_fuzz_root_inputs_written_by_root(tmp_path, capsys):
    names = [f"class_{c}.root" for c in ("zlib", "lz4", "zstd", "lzma")]
    if not all((REAL_ROOT / n).is_file() for n in names):
        pytest.skip(f"ROOT-written inputs not found at {REAL_ROOT}")
    seeds = []
    for n in names:
        shutil.copy(REAL_ROOT / n, tmp_path / n)  # mutated copies only, in the test's temporary folder
        seeds.append((tmp_path / n, ("TreeS", "TreeB"), _REAL_SETS))
    _root_cases(tmp_path, seeds, "root", capsys)
