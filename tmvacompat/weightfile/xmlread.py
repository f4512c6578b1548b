"""Read a TMVA MethodDL (``DL::``) or MethodDNN (``DNN::``) weight file into a :class:`Model`.

The XML is parsed with ``defusedxml`` (DOCTYPE, entity declarations and external references refused), every
attribute is bounded in size, and every matrix's ``Rows x Columns`` is checked against the shape its layer
implies *before* its text is converted, so a hostile or corrupt file costs no more memory than its size.

Layouts understood:

* ``DL::`` (MethodDL, ROOT >= 6.14): ``<Weights NetDepth InputDepth ... WeightDecay>`` with one element per
  layer (``DenseLayer``, ``ConvLayer``, ``MaxPoolLayer``, ``ReshapeLayer``, ``BatchNormLayer``, ``RNNLayer``,
  ``LSTMLayer``, ``GRULayer``, tmvacompat's ``PaddingLayer2D``, ``ConvTransposeLayer``, ``AddLayer``,
  ``ConcatLayer``); matrices ``<Name Rows Columns>``.
* ``DNN::`` (MethodDNN, ROOT 6.08-6.12): ``<Weights InputWidth Depth LossFunction OutputFunction>`` with
  ``<Layer ActivationFunction>`` children holding ``<Weights rows cols>`` and ``<Biases rows cols>`` (full
  double precision; ``MethodDNN::ReadWeightsFromXML``/``ReadMatrixXML`` in ``tmva/tmva/src/MethodDNN.cxx``
  and ``tmva/tmva/inc/TMVA/MethodDNN.h``).

Example:
    >>> m = load_weights("TMVAMulticlass_DL_CPU.weights.xml")     # doctest: +SKIP
    >>> m.method, m.analysis_type, [s.width for s in m.layers]   # doctest: +SKIP
    ('DL', 'Multiclass', [100, 50, 10, 4])
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from functools import partial
from math import prod

import numpy as np

from tmvacompat.errors import WeightFileError, WeightFileNotFoundError
from tmvacompat.kinds import BY_ELEMENT
from tmvacompat.kinds.base import XmlAttr
from tmvacompat.specs import ACTIVATION_NAMES, DenseSpec
from tmvacompat.weightfile.layers_xml import (
    check_budget,
    expected_shapes,
    layer_event_values,
    matrix_fits,
)
from tmvacompat.weightfile.model import ANALYSIS_TYPES, Model, NetworkInfo, VariableInfo
from tmvacompat.weightfile.numfmt import BULK_MIN_VALUES
from tmvacompat.weightfile.numparse import parse_values

SUPPORTED_METHODS = ("DL", "DNN", "AE")
MAX_FILE_BYTES = 1 << 31
MAX_ATTRIBUTE_CHARS = 1 << 16
MAX_LAYERS = 10_000
MAX_MATRIX_VALUES = 1 << 28
_VERSION_CODE = re.compile(r"\[(\d+)\]")


def _fail(msg: str, where: str, token: str | None = None, expected=None) -> WeightFileError:
    return WeightFileError(msg, where=where, token=token, expected=expected)


def parse_xml(data: bytes, path: str) -> ET.Element:
    """The root element of ``data``; WeightFileError for malformed or hostile XML (names the file)."""
    import defusedxml
    import defusedxml.ElementTree as DET

    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as err:
        raise _fail(
            f"DOCTYPE declaration ({err.name or 'document type'}) refused: weight files have none",
            path,
            token="DOCTYPE",
        ) from err
    except defusedxml.EntitiesForbidden as err:
        raise _fail(
            f"entity declaration {err.name!r} refused (entity expansion is never allowed)",
            path,
            token="ENTITY",
        ) from err
    except defusedxml.ExternalReferenceForbidden as err:
        raise _fail(f"external reference {err.sysid or err.pubid!r} refused", path, token="SYSTEM") from err
    except defusedxml.DefusedXmlException as err:
        raise _fail(f"unsafe XML refused: {err}", path) from err
    except ET.ParseError as err:
        line, col = getattr(err, "position", (0, 0))
        raise _fail(f"malformed XML at line {line}, column {col}: {err}", path) from err


def load_weights(path: str | os.PathLike) -> Model:
    """Read a ``DL::`` or ``DNN::`` TMVA weight file.

    Raises:
        WeightFileError: unreadable file, malformed / hostile XML, a method other than DL or DNN, a missing
            element or attribute, or a matrix that does not fit its layer (the message names the file and
            the element path).
    """
    p = os.fspath(path)
    try:
        size = os.path.getsize(p)
        if size > MAX_FILE_BYTES:
            raise _fail(f"file is {size} bytes; weight files larger than {MAX_FILE_BYTES} are refused", p)
        with open(p, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as err:
        raise WeightFileNotFoundError(f"weight file does not exist: {err.strerror or err}", where=p) from err
    except OSError as err:
        raise _fail(f"cannot read weight file: {err.strerror or err}", p) from err
    return model_from_bytes(data, p)


def model_from_bytes(data: bytes, path: str = "<memory>") -> Model:
    """:func:`load_weights` for XML already in memory (``path`` is used in messages)."""
    root = parse_xml(data, path)
    return model_from_element(root, path)


def _check_attributes(root: ET.Element, path: str) -> None:
    stack = [(root, root.tag)]
    while stack:
        el, where = stack.pop()
        for k, v in el.attrib.items():
            if len(v) > MAX_ATTRIBUTE_CHARS:
                raise _fail(
                    f"attribute {k!r} is {len(v)} characters long (limit {MAX_ATTRIBUTE_CHARS})",
                    f"{path}: {where}",
                    token=k,
                )
        counts: dict[str, int] = {}
        for child in el:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        seen: dict[str, int] = {}
        for child in el:
            k = seen[child.tag] = seen.get(child.tag, -1) + 1
            stack.append(
                (child, f"{where}/{child.tag}[{k}]" if counts[child.tag] > 1 else f"{where}/{child.tag}")
            )


def _attr(el: ET.Element, name: str, where: str, default: str | None = None) -> str:
    v = el.get(name)
    if v is None:
        if default is not None:
            return default
        raise _fail(f"missing attribute {name!r}", where, token=name, expected=sorted(el.attrib) or None)
    return v


def _int(el: ET.Element, name: str, where: str, default: int | None = None, lo: int = 0) -> int:
    text = _attr(el, name, where, None if default is None else str(default))
    try:
        value = int(text.strip())
    except ValueError:
        raise _fail(f"attribute {name}={text[:40]!r} is not an integer", where, token=name) from None
    if value < lo:
        raise _fail(f"attribute {name}={value} must be >= {lo}", where, token=name)
    return value


def _float(el: ET.Element, name: str, where: str, default: float | None = None) -> float:
    text = _attr(el, name, where, None if default is None else repr(default))
    try:
        return float(text.strip())
    except ValueError:
        raise _fail(f"attribute {name}={text[:40]!r} is not a number", where, token=name) from None


def _char(el: ET.Element, name: str, where: str, allowed: str, default: str | None = None) -> str:
    text = _attr(el, name, where, default)
    if len(text) != 1 or text not in allowed:
        raise _fail(
            f"attribute {name}={text[:20]!r} is not one of TMVA's codes",
            where,
            token=name,
            expected=list(allowed),
        )
    return text


def _child(el: ET.Element, tag: str, where: str) -> ET.Element:
    c = el.find(tag)
    if c is None:
        raise _fail(f"missing element <{tag}>", where, token=tag, expected=[ch.tag for ch in el] or None)
    return c


def _variables(el: ET.Element | None, item_tag: str, count_attr: str, index_attr: str, where: str):
    if el is None:
        return []
    items = [c for c in el if c.tag == item_tag]
    declared = _int(el, count_attr, where, default=len(items))
    if declared != len(items):
        raise _fail(
            f"{count_attr}={declared} but {len(items)} <{item_tag}> elements", where, token=count_attr
        )
    out = []
    for i, c in enumerate(items):
        w = f"{where}/{item_tag}[{i}]"
        idx = _int(c, index_attr, w, default=i)
        if idx != i:
            raise _fail(f"{index_attr}={idx} out of order (expected {i})", w, token=index_attr)
        vtype, internal = c.get("Type", "F"), c.get("Internal", "")
        array_index = None
        if vtype.endswith("[]"):  # an element of an AddVariablesArray variable: Internal is "<label>[i]"
            vtype = vtype[:-2]
            head, _, tail = internal.rpartition("[")
            if not (head and tail.endswith("]") and tail[:-1].isdigit()):
                raise _fail(
                    f"Type={c.get('Type')!r} marks an array element but Internal={internal!r} is not "
                    "'<name>[<index>]'",
                    w,
                    token="Internal",
                    expected=["<name>[<index>]"],
                )
            array_index = int(tail[:-1])
        out.append(
            VariableInfo(
                expression=_attr(c, "Expression", w),
                label=c.get("Label", ""),
                title=c.get("Title", ""),
                unit=c.get("Unit", ""),
                internal=internal,
                type=vtype,
                min=_float(c, "Min", w, default=0.0),
                max=_float(c, "Max", w, default=0.0),
                array_index=array_index,
            )
        )
    return out


def model_from_element(root: ET.Element, path: str = "<memory>") -> Model:
    """Build a :class:`Model` from a parsed ``<MethodSetup>`` element."""
    if root.tag != "MethodSetup":
        raise _fail(
            f"root element is <{root.tag}>, not a TMVA weight file",
            path,
            token=root.tag,
            expected=["MethodSetup"],
        )
    _check_attributes(root, path)
    where = f"{path}: MethodSetup"
    method_attr = _attr(root, "Method", where)
    if "::" not in method_attr:
        raise _fail(f"Method={method_attr!r} is not '<Type>::<Title>'", where, token=method_attr)
    method, title = method_attr.split("::", 1)
    if method == "CrossValidation":  # MethodCrossValidation: the fold files beside it hold the networks
        from tmvacompat.weightfile.crossvalidation import cv_model_from_element

        return cv_model_from_element(root, path)  # type: ignore[return-value]
    if method not in SUPPORTED_METHODS:
        raise _fail(
            f"method {method!r} ({method_attr}) is not supported; tmvacompat reads MethodDL ('DL::'), "
            "MethodDNN ('DNN::') and its own MethodAE ('AE::') weight files only",
            where,
            token=method,
            expected=list(SUPPORTED_METHODS),
        )
    head = read_header(root, where)
    weights_el = _child(root, "Weights", where)
    if method == "AE":
        from tmvacompat.weightfile.ae_model import ae_model_from_element

        return ae_model_from_element(root, weights_el, title, head, path)
    variables, analysis = head["variables"], head["analysis_type"]
    if method == "DL":
        dims = [
            _int(weights_el, a, f"{where}/Weights", lo=1) for a in ("InputDepth", "InputHeight", "InputWidth")
        ]
    else:
        dims = [_int(weights_el, "InputWidth", f"{where}/Weights", lo=1)]
    if prod(dims) != len(variables):
        raise _fail(
            f"the network input {' x '.join(map(str, dims))} does not hold the {len(variables)} variables",
            f"{where}/Weights",
            token="InputWidth",
        )
    if method == "DL":
        network = read_dl_network(weights_el, f"{where}/Weights")
    else:
        network = _read_dnn_weights(weights_el, f"{where}/Weights", analysis)
    model = Model(method=method, title=title, network=network, path=path, **head)
    read_transformations_into(model, root, path)
    return model


def read_header(root: ET.Element, where: str) -> dict:
    """What a ``<MethodSetup>`` says before ``<Weights>``: ``analysis_type``, ``general_info``,
    ``options``, ``variables``, ``spectators``, ``targets``, ``classes`` (the :class:`Model` fields)."""
    gi = root.find("GeneralInfo")
    general = (
        [(c.get("name", ""), c.get("value", "")) for c in gi if c.tag == "Info"] if gi is not None else []
    )
    analysis = dict(general).get("AnalysisType", "Classification")
    if analysis not in ANALYSIS_TYPES:
        raise _fail(
            f"AnalysisType {analysis!r} unknown",
            f"{where}/GeneralInfo",
            token=analysis,
            expected=list(ANALYSIS_TYPES),
        )

    opts_el = root.find("Options")
    options = []
    if opts_el is not None:
        for i, c in enumerate(opts_el):
            if c.tag != "Option":
                continue
            w = f"{where}/Options/Option[{i}]"
            options.append((_attr(c, "name", w), c.get("modified", "No") == "Yes", c.text or ""))

    variables = _variables(root.find("Variables"), "Variable", "NVar", "VarIndex", f"{where}/Variables")
    if not variables:
        raise _fail("no input variables", f"{where}/Variables", token="Variables")
    spectators = _variables(root.find("Spectators"), "Spectator", "NSpec", "SpecIndex", f"{where}/Spectators")
    targets = _variables(root.find("Targets"), "Target", "NTrgt", "TargetIndex", f"{where}/Targets")
    classes_el = root.find("Classes")
    classes: list[str] = []
    if classes_el is not None:
        pairs = []
        for i, c in enumerate(classes_el):
            if c.tag == "Class":
                w = f"{where}/Classes/Class[{i}]"
                pairs.append((_int(c, "Index", w, default=i), _attr(c, "Name", w)))
        classes = [name for _, name in sorted(pairs)]
    if analysis == "Multiclass" and len(classes) < 2:
        raise _fail(
            "a multiclass file needs at least two <Class> entries", f"{where}/Classes", token="Classes"
        )

    return dict(
        analysis_type=analysis,
        general_info=general,
        options=options,
        variables=variables,
        spectators=spectators,
        targets=targets,
        classes=classes,
    )


def read_transformations_into(model, root: ET.Element, path: str) -> None:
    """Read ``<Transformations>`` and ``<MVAPdfs>`` into ``model`` (kept for a verbatim write-back)."""
    tr_el = root.find("Transformations")
    model._source_transformations = tr_el
    model._source_mvapdfs = root.find("MVAPdfs")
    if model._source_mvapdfs is not None and len(model._source_mvapdfs):
        from tmvacompat.weightfile.transforms_xml import read_mva_pdfs

        model.mva_pdfs = model._source_pdfs = read_mva_pdfs(model._source_mvapdfs, path)
    if tr_el is not None and len(tr_el):
        try:
            from tmvacompat.weightfile.transforms_xml import read_transformations
        except ImportError as err:  # pragma: no cover - the module ships with the package
            # the XML side (inspection, round trip) still works; evaluation reports this
            model._transform_error = f"cannot read <Transformations>: {err}"
        else:
            chain = read_transformations(tr_el, path, variables=model.variables, targets=model.targets)
            model.transforms = chain
            model._source_chain = chain


# ---------------------------------------------------------------------- matrices
def _read_matrix(
    layer_el: ET.Element,
    name: str,
    want: tuple[int, int] | None,
    where: str,
    dtype: np.dtype,
    rows_attr: str = "Rows",
    cols_attr: str = "Columns",
    allowed=None,
) -> np.ndarray:
    el = layer_el.find(name)
    if el is None:
        raise _fail(f"missing matrix <{name}>", where, token=name, expected=[c.tag for c in layer_el] or None)
    w = f"{where}/{name}"
    rows = _int(el, rows_attr, w)
    cols = _int(el, cols_attr, w)
    n = rows * cols
    ok = (rows, cols) == want if allowed is None else allowed(rows, cols)
    if not ok or n > MAX_MATRIX_VALUES:
        raise _fail(
            f"matrix is {rows} x {cols}; this layer needs {want[0] if want else '?'} x "
            f"{want[1] if want else '?'}",
            w,
            token=name,
        )
    text = el.text or ""
    if n >= BULK_MIN_VALUES:
        try:
            values = parse_values(text, n)
        except ValueError:
            values = None  # a token float() refuses: found and named below
        if values is not None:
            return values.reshape(rows, cols).astype(dtype)
    tokens = text.split()
    if len(tokens) != n:
        raise _fail(
            f"matrix {rows} x {cols} needs {n} values but the element holds {len(tokens)}"
            + (" (truncated?)" if len(tokens) < n else ""),
            w,
            token=name,
        )
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise _fail(f"matrix value {bad[:30]!r} is not a number", w, token=bad[:30]) from None
    return values.reshape(rows, cols).astype(dtype)


def _is_number(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


def _detect_dtype(weights_el: ET.Element) -> np.dtype:
    """float32 for current MethodDL files (7 significant digits), float64 when written with 15-16."""
    for layer in weights_el:
        for m in layer:
            tokens = (m.text or "").split(None, 1)
            if tokens:
                mant = tokens[0].lstrip("+-").split("e")[0].split("E")[0]
                digits = len(mant.replace(".", "").lstrip("0")) or 1
                return np.dtype(np.float64) if digits > 9 else np.dtype(np.float32)
    return np.dtype(np.float32)


# ---------------------------------------------------------------------- DL
def _activation(el: ET.Element, where: str) -> str:
    code = _int(el, "ActivationFunction", where)
    if code not in ACTIVATION_NAMES:
        raise _fail(
            f"ActivationFunction={code} is not a TMVA activation code",
            where,
            token="ActivationFunction",
            expected=[f"{k} ({v})" for k, v in ACTIVATION_NAMES.items()],
        )
    return ACTIVATION_NAMES[code]


def _attribute_value(el: ET.Element, a: XmlAttr, where: str) -> object:
    """One declared attribute of a layer element, read and checked (see :class:`XmlAttr`)."""
    name = next((n for n in (a.name, *a.aliases) if n in el.attrib), a.name)
    if a.codec == "int":
        return _int(el, name, where, default=a.default, lo=a.lo)
    if a.codec == "bool":
        return bool(_int(el, name, where, default=a.default))
    if a.codec == "float":
        return _float(el, name, where, default=a.default)
    if a.codec == "activation":
        return _activation(el, where)
    labels = tuple(s for s in _attr(el, name, where).split("|") if s)  # codec "labels"
    if not labels:
        raise _fail(f"{name} lists no layer labels", where, token=name)
    return labels


def _spec_from_element(el: ET.Element, where: str):
    """The layer spec an element declares, from its kind's attribute table (:mod:`tmvacompat.kinds`)."""
    kind = BY_ELEMENT.get(el.tag)
    if kind is None:
        raise _fail(f"unknown layer element <{el.tag}>", where, token=el.tag, expected=sorted(BY_ELEMENT))
    fields = {a.field: _attribute_value(el, a, where) for a in kind.xml.attrs if not a.write_only}
    return kind.spec(**fields, name=el.get("Name"))


def read_dl_network(el: ET.Element, where: str) -> NetworkInfo:
    """A MethodDL ``<Weights>``-style element (attributes and layer elements) as a :class:`NetworkInfo`."""
    depth = _int(el, "NetDepth", where, lo=1)
    layer_els = list(el)
    if len(layer_els) != depth or depth > MAX_LAYERS:
        raise _fail(
            f"NetDepth={depth} but <Weights> holds {len(layer_els)} layer elements", where, token="NetDepth"
        )
    input_layout = (
        _int(el, "InputDepth", where, lo=1),
        _int(el, "InputHeight", where, lo=1),
        _int(el, "InputWidth", where, lo=1),
    )
    batch_layout = (
        _int(el, "BatchDepth", where, default=1),
        _int(el, "BatchHeight", where, default=1),
        _int(el, "BatchWidth", where, default=input_layout[2]),
    )
    dtype = _detect_dtype(el)
    layers, params = [], []
    shape = input_layout
    labelled = {"INPUT": shape}
    event_values = prod(input_layout)
    parameters = 0
    check_budget(event_values, parameters, f"{where} (InputDepth x InputHeight x InputWidth)")
    for i, lel in enumerate(layer_els):
        w = f"{where}/{lel.tag}[{i}]"
        spec = _spec_from_element(lel, w)
        want, out = expected_shapes(spec, shape, labelled, where=w)
        event_values += layer_event_values(spec, shape, out)
        parameters += sum(r * c for r, c in want.values())
        check_budget(event_values, parameters, w)
        p = {}
        for mname in BY_ELEMENT[lel.tag].xml.matrices:
            ok = partial(matrix_fits, spec, mname, want[mname], in_shape=shape)  # BNORM, CONVT allow more
            p[mname] = _read_matrix(lel, mname, want[mname], w, dtype, allowed=lambda r, c, ok=ok: ok((r, c)))
        layers.append(spec)
        params.append(p)
        shape = out
        if spec.name:
            labelled[spec.name] = out
    return NetworkInfo(
        layers=layers,
        params=params,
        input_layout=input_layout,
        batch_layout=batch_layout,
        loss=_char(el, "LossFunction", where, "CRSD", default="C"),
        init=_char(el, "Initialization", where, "GUIZXF", default="F"),
        regularization=_char(el, "Regularization", where, "012", default="0"),
        output_function=_char(el, "OutputFunction", where, "ISM", default="S"),
        weight_decay=_float(el, "WeightDecay", where, default=0.0),
        dtype=dtype,
    )


# ---------------------------------------------------------------------- DNN (MethodDNN, ROOT 6.08-6.12)
def _read_dnn_weights(el: ET.Element, where: str, analysis: str) -> NetworkInfo:
    input_width = _int(el, "InputWidth", where, lo=1)
    depth = _int(el, "Depth", where, lo=1)
    layer_els = [c for c in el if c.tag == "Layer"]
    if len(layer_els) != depth or depth > MAX_LAYERS:
        raise _fail(
            f"Depth={depth} but <Weights> holds {len(layer_els)} <Layer> elements", where, token="Depth"
        )
    layers, params = [], []
    prev = input_width
    event_values, parameters = input_width, 0
    check_budget(event_values, parameters, f"{where} (InputWidth)")
    dtype = np.dtype(np.float64)  # MethodDNN keeps TMatrixT<Double_t> and writes 16 digits
    for i, lel in enumerate(layer_els):
        w = f"{where}/Layer[{i}]"
        text = _attr(lel, "ActivationFunction", w)
        # 6.10+ writes the code as a number; the first MethodDNN wrote the enum value as a raw char
        stripped = text.strip()
        if re.fullmatch(r"[0-9]+", stripped):
            code = int(stripped)
        else:
            code = ord(text[0]) if text else -1
        if code not in ACTIVATION_NAMES:
            raise _fail(
                f"ActivationFunction={text!r} is not a TMVA activation code", w, token="ActivationFunction"
            )
        wel = _child(lel, "Weights", w)
        width = _int(wel, "rows", f"{w}/Weights", lo=1)
        event_values += width
        parameters += width * (prev + 1)
        check_budget(event_values, parameters, w)
        spec = DenseSpec(width=width, activation=ACTIVATION_NAMES[code])
        p = {
            "Weights": _read_matrix(lel, "Weights", (width, prev), w, dtype, "rows", "cols"),
            "Biases": _read_matrix(lel, "Biases", (width, 1), w, dtype, "rows", "cols"),
        }
        layers.append(spec)
        params.append(p)
        prev = width
    default_out = {"Classification": "S", "Regression": "I", "Multiclass": "M"}[analysis]
    return NetworkInfo(
        layers=layers,
        params=params,
        input_layout=(1, 1, input_width),
        batch_layout=(1, 1, input_width),
        loss=_char(el, "LossFunction", where, "CRS", default="C"),
        init="G",
        regularization="0",
        output_function=_char(el, "OutputFunction", where, "ISM", default=default_out),
        weight_decay=0.0,
        dtype=dtype,
    )


def version_code(text: str) -> int | None:
    """The ``[code]`` of a release string such as ``"6.24/04 [399364]"``."""
    m = _VERSION_CODE.search(text)
    return int(m.group(1)) if m else None


__all__ = [
    "load_weights",
    "model_from_bytes",
    "model_from_element",
    "parse_xml",
    "read_header",
    "read_dl_network",
    "read_transformations_into",
    "SUPPORTED_METHODS",
]
