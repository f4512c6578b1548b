"""Write a :class:`Model` in TMVA's weight-file layout (what ``MethodBase::WriteStateToXML`` produces).

Layout as TMVA's TXMLEngine writes it (spec §4): ``<?xml version="1.0"?>`` header, two spaces of
indentation per level, attributes in TMVA's order, empty elements self-closed, option values as inline text,
matrix values as one raw line on its own line one level deeper than the matrix element (each value followed
by two spaces for MethodDL, one space for MethodDNN), closing tag on the next line.

Numbers:

* ``precision="lossless"`` (default): the shortest decimal that reads back (C++ ``>>``/``atof``/numpy) to
  the exact stored value, float32 values as float32, float64 as float64, always in scientific form.
* ``precision="tmva"``: TMVA's own formats: matrices ``%.6e`` (float32 nets, ``digits10``) or ``%.15e``
  (float64) for MethodDL and ``%.16e`` for MethodDNN; ``AddAttr`` doubles ``%.16e``; variable ranges via
  ``StringFromDouble`` ``%.8e``.

Example:
    >>> import numpy as np
    >>> fmt_values(np.array([0.1, -2.5e-7], np.float32), "lossless", "  ")
    '1e-01  -2.5e-07  '
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from math import isfinite

import numpy as np

from tmvacompat.atomicfile import atomic_path
from tmvacompat.errors import WeightFileError
from tmvacompat.kinds import KINDS
from tmvacompat.weightfile.layers_xml import layer_attributes
from tmvacompat.weightfile.numfmt import BULK_MIN_VALUES, shortest_float32, shortest_float64

PRECISIONS = ("lossless", "tmva")


class _Node:
    """A minimal XML node with TXMLEngine's two kinds of content: inline text and a raw line."""

    __slots__ = ("tag", "attrs", "children", "text", "raw")

    def __init__(self, tag: str, attrs=(), text: str | None = None, raw: str | None = None) -> None:
        self.tag = tag
        self.attrs: list[tuple[str, str]] = list(attrs)
        self.children: list[_Node] = []
        self.text = text
        self.raw = raw

    def add(self, tag: str, attrs=(), text: str | None = None, raw: str | None = None) -> _Node:
        node = _Node(tag, attrs, text, raw)
        self.children.append(node)
        return node


def _esc_attr(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _esc_text(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _emit(node: _Node, level: int, out: list[str]) -> None:
    ind = "  " * level
    attrs = "".join(f' {k}="{_esc_attr(v)}"' for k, v in node.attrs)
    if not node.children and node.raw is None:
        if node.text:
            out.append(f"{ind}<{node.tag}{attrs}>{_esc_text(node.text)}</{node.tag}>")
        else:
            out.append(f"{ind}<{node.tag}{attrs}/>")
        return
    out.append(f"{ind}<{node.tag}{attrs}>")
    if node.raw is not None:
        for line in node.raw.split("\n"):
            out.append(f"{ind}  {_esc_text(line)}")
    for child in node.children:
        _emit(child, level + 1, out)
    out.append(f"{ind}</{node.tag}>")


def _from_etree(el: ET.Element) -> _Node:
    """Convert an ElementTree element (transformations, MVA PDFs): any text becomes a raw line."""
    text = el.text or ""
    raw = None
    if text.strip():
        lines = [ln.lstrip(" \t") for ln in text.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        raw = "\n".join(lines)
    node = _Node(el.tag, list(el.attrib.items()), raw=raw)
    for child in el:
        node.children.append(_from_etree(child))
    return node


# ---------------------------------------------------------------------- number formatting
def _shortest(v, dtype: np.dtype) -> str:
    return np.format_float_scientific(dtype.type(v), unique=True, trim="-", exp_digits=2)


def fmt_values(arr: np.ndarray, precision: str, sep: str, tmva_format: str = "%.6e") -> str:
    """All values of ``arr`` (row-major), each followed by ``sep``.

    ``"lossless"``: float32 arrays as float32, anything else as float64: the bytes
    ``np.format_float_scientific(v, unique=True, trim="-", exp_digits=2)`` gives value by value (from
    ``BULK_MIN_VALUES`` values on by the compiled shortest-form printer of
    :mod:`tmvacompat.weightfile.numfmt`, in one loop). ``"tmva"``: ``tmva_format`` applied to every value
    in one ``%`` operation.

    Example:
        >>> fmt_values(np.array([[1.5, -0.25]]), "tmva", " ", "%.2e")
        '1.50e+00 -2.50e-01 '
    """
    flat = np.ascontiguousarray(arr).ravel()
    if precision == "tmva":
        values = (flat if flat.dtype in (np.float32, np.float64) else flat.astype(np.float64)).tolist()
        return ((tmva_format + sep.replace("%", "%%")) * len(values)) % tuple(values)
    dt = flat.dtype if flat.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if flat.size < BULK_MIN_VALUES:
        return "".join(_shortest(v, dt) + sep for v in flat)
    if dt == np.float32:
        return shortest_float32(flat, sep)
    return shortest_float64(flat.astype(np.float64, copy=False), sep)


def fmt_attr_double(v: float, precision: str, dtype=np.float64) -> str:
    """A floating attribute: ``AddAttr`` (``%.16e``) or the shortest exact form."""
    if precision == "tmva":
        return f"{float(v):.16e}"
    return _shortest(v, np.dtype(dtype))


def fmt_string_from_double(v: float, precision: str) -> str:
    """``gTools().StringFromDouble`` (``%.8e``) or the shortest exact form."""
    if precision == "tmva":
        return f"{float(v):.8e}"
    return _shortest(v, np.dtype(np.float64))


# ---------------------------------------------------------------------- document
def _variable_attrs(index_name: str, i: int, v, precision: str) -> list[tuple[str, str]]:
    return [
        (index_name, str(i)),
        ("Expression", v.expression),
        ("Label", v.label),
        ("Title", v.title),
        ("Unit", v.unit),
        ("Internal", v.internal),
        # VariableInfo::AddToXML marks the elements of an AddVariablesArray variable with "[]" ("F[]")
        ("Type", v.type if getattr(v, "array_index", None) is None else f"{v.type}[]"),
        ("Min", fmt_string_from_double(v.min, precision)),
        ("Max", fmt_string_from_double(v.max, precision)),
    ]


def _check_finite(arr: np.ndarray, where: str, name: str) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise WeightFileError(
            f"matrix {name!r} holds a non-finite value at {tuple(int(b) for b in bad)}; "
            "TMVA cannot read it back",
            where=where,
            token=name,
        )


def _weights_dl(model, precision: str) -> _Node:
    return network_node("Weights", model.network, precision)


def network_node(tag: str, net, precision: str) -> _Node:
    """A MethodDL ``<Weights>``-style element named ``tag`` for a :class:`NetworkInfo` (MethodAE writes its
    ``<Encoder>`` and ``<Decoder>`` this way)."""
    dd, hh, ww = net.input_layout
    bd, bh, bw = net.batch_layout
    wd_dtype = np.float32 if net.dtype == np.float32 else np.float64
    node = _Node(
        tag,
        [
            ("NetDepth", str(len(net.layers))),
            ("InputDepth", str(dd)),
            ("InputHeight", str(hh)),
            ("InputWidth", str(ww)),
            ("BatchSize", "1"),
            ("BatchDepth", str(bd)),
            ("BatchHeight", str(bh)),
            ("BatchWidth", str(bw)),
            ("LossFunction", net.loss),
            ("Initialization", net.init),
            ("Regularization", net.regularization),
            ("OutputFunction", net.output_function),
            ("WeightDecay", fmt_attr_double(net.weight_decay, precision, wd_dtype)),
        ],
    )
    mat_fmt = "%.6e" if net.dtype == np.float32 else "%.15e"
    for i, (spec, p) in enumerate(zip(net.layers, net.params, strict=True)):
        kind = KINDS.get(spec.kind)
        if kind is None:
            raise WeightFileError(
                f"layer {i} has unknown kind {spec.kind!r}", where="Weights", expected=sorted(KINDS)
            )
        element, matrices = kind.xml.element, kind.xml.matrices
        where = f"Weights/{element}[{i}]"
        attrs = []
        for k, v in layer_attributes(spec):
            if isinstance(v, float):
                attrs.append((k, fmt_attr_double(v, precision, wd_dtype)))
            else:
                attrs.append((k, str(v)))
        lnode = node.add(element, attrs)
        for name in matrices:
            if name not in p:
                raise WeightFileError(
                    f"layer {i} has no parameter {name!r}",
                    where=where,
                    token=name,
                    expected=list(matrices),
                )
            arr = np.asarray(p[name])
            if arr.ndim != 2:
                raise WeightFileError(
                    f"parameter {name!r} must be 2-D (Rows x Columns), got {arr.shape}",
                    where=where,
                    token=name,
                )
            _check_finite(arr, where, name)
            arr = arr.astype(net.dtype, copy=False)
            lnode.add(
                name,
                [("Rows", str(arr.shape[0])), ("Columns", str(arr.shape[1]))],
                raw=fmt_values(arr, precision, "  ", mat_fmt),
            )
    return node


def _weights_dnn(model, precision: str) -> _Node:
    from tmvacompat.specs import ACTIVATION_CODES

    net = model.network
    node = _Node(
        "Weights",
        [
            ("InputWidth", str(net.input_layout[2])),
            ("Depth", str(len(net.layers))),
            ("LossFunction", net.loss),
            ("OutputFunction", net.output_function),
        ],
    )
    for i, (spec, p) in enumerate(zip(net.layers, net.params, strict=True)):
        where = f"Weights/Layer[{i}]"
        if spec.kind != "DENSE":
            raise WeightFileError(
                f"MethodDNN files hold dense layers only; layer {i} is {spec.kind}",
                where=where,
                token=spec.kind,
                expected=["DENSE"],
            )
        lnode = node.add("Layer", [("ActivationFunction", str(ACTIVATION_CODES[spec.activation]))])
        for name in ("Weights", "Biases"):
            arr = np.asarray(p[name], dtype=np.float64)
            _check_finite(arr, where, name)
            lnode.add(
                name,
                [("rows", str(arr.shape[0])), ("cols", str(arr.shape[1]))],
                raw=fmt_values(arr, precision, " ", "%.16e"),
            )
    return node


def check_tmva_loadable(what: str, problems: list[str], precision: str, strict: bool) -> None:
    """Say that a document holds what ROOT's TMVA::Reader cannot load: an error with ``strict``, a warning
    with ``precision="tmva"`` (asking for TMVA's number format suggests the file is meant for TMVA)."""
    if not problems or not (strict or precision == "tmva"):
        return
    message = f"{what}: ROOT's TMVA::Reader cannot load this weight file ({'; '.join(problems)})"
    if strict:
        raise WeightFileError(message, token=problems[0], where=what)
    import warnings

    from tmvacompat.options import TMVACompatWarning

    warnings.warn(message, TMVACompatWarning, stacklevel=4)


def model_to_xml(model, precision: str = "lossless", strict: bool = False) -> str:
    """The full weight-file text for ``model``.

    ``strict=True`` refuses (WeightFileError) a network TMVA's MethodDL cannot build (tmvacompat's layers
    CONVT, PADDING2D, ADD, CONCAT or graph labels); ``precision="tmva"`` warns about one.
    """
    if precision not in PRECISIONS:
        raise WeightFileError(
            f"unknown precision {precision!r}", token=str(precision), expected=list(PRECISIONS)
        )
    if model.method not in ("DL", "DNN"):
        raise WeightFileError(
            f"cannot write method {model.method!r}", token=model.method, expected=["DL", "DNN"]
        )
    if not isfinite(float(model.network.weight_decay)):
        raise WeightFileError("WeightDecay is not finite", token="WeightDecay", where="Weights")
    model.validate()
    from tmvacompat.layout import extension_layers

    check_tmva_loadable(
        f"{model.method}::{model.title}", extension_layers(model.network.layers), precision, strict
    )
    root = document_header(model, precision)
    root.children.append(
        _weights_dl(model, precision) if model.method == "DL" else _weights_dnn(model, precision)
    )
    return document_text(root)


def document_text(root: _Node) -> str:
    """The XML text of a document (header line, TXMLEngine indentation)."""
    out = ['<?xml version="1.0"?>']
    _emit(root, 0, out)
    return "\n".join(out) + "\n"


def document_header(model, precision: str) -> _Node:
    """``<MethodSetup>`` with everything before ``<Weights>`` (general info, options, variables,
    spectators, classes, targets, transformations, MVA PDFs)."""
    root = _Node("MethodSetup", [("Method", f"{model.method}::{model.title}")])
    gi = root.add("GeneralInfo")
    for name, value in model.general_info:
        gi.add("Info", [("name", name), ("value", value)])
    opts = root.add("Options")
    for name, modified, text in model.options:
        opts.add("Option", [("name", name), ("modified", "Yes" if modified else "No")], text=text)
    vs = root.add("Variables", [("NVar", str(len(model.variables)))])
    for i, v in enumerate(model.variables):
        vs.add("Variable", _variable_attrs("VarIndex", i, v, precision))
    sp = root.add("Spectators", [("NSpec", str(len(model.spectators)))])
    for i, v in enumerate(model.spectators):
        sp.add("Spectator", _variable_attrs("SpecIndex", i, v, precision))
    cl = root.add("Classes", [("NClass", str(len(model.classes)))])
    for i, c in enumerate(model.classes):
        cl.add("Class", [("Name", c), ("Index", str(i))])
    if model.analysis_type == "Regression" or model.targets:
        tg = root.add("Targets", [("NTrgt", str(len(model.targets)))])
        for i, v in enumerate(model.targets):
            tg.add("Target", _variable_attrs("TargetIndex", i, v, precision))
    if model._source_transformations is not None and model.transforms is model._source_chain:
        root.children.append(_from_etree(model._source_transformations))
    elif model.transforms is None:
        root.add("Transformations", [("NTransformations", "0")])
    else:
        from tmvacompat.weightfile.transforms_xml import write_transformations

        root.children.append(_from_etree(write_transformations(model.transforms, precision=precision)))
    if model._source_mvapdfs is not None and model.mva_pdfs is model._source_pdfs:
        root.children.append(_from_etree(model._source_mvapdfs))
    elif model.mva_pdfs is None:
        root.add("MVAPdfs")
    else:
        from tmvacompat.weightfile.transforms_xml import write_mva_pdfs

        root.children.append(_from_etree(write_mva_pdfs(model.mva_pdfs, precision=precision)))
    return root


def save_model(model, path: str | os.PathLike, precision: str = "lossless", strict: bool = False) -> None:
    """Write ``model`` to ``path`` atomically (temporary file in the same directory, then ``os.replace``),
    with the permissions ``open()`` would give and through a symbolic link to the file it points to."""
    save_text(model_to_xml(model, precision=precision, strict=strict), path)


def save_text(text: str, path: str | os.PathLike) -> None:
    """Write a weight file's text to ``path`` atomically."""
    with atomic_path(path, error=WeightFileError, what="weight file") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


__all__ = [
    "model_to_xml",
    "save_model",
    "save_text",
    "fmt_values",
    "network_node",
    "document_header",
    "document_text",
    "check_tmva_loadable",
    "PRECISIONS",
]
