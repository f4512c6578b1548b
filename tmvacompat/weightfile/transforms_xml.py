"""Read and write TMVA's ``<Transformations>`` weight-file element.

Layout (``VariableTransformBase::AttachXMLTo`` and the transformations' ``AttachXMLTo``)::

    Transformations @NTransformations
    └─ Transform @Name ("Normalize" | "Decorrelation" | "PCA" | "Gauss" [@FlatOrGauss "Gauss"|"Flat"])
       ├─ Selection
       │  ├─ Input @NInputs   └─ Input  @Type("Variable"|"Target") @Label @Expression
       │  └─ Output @NOutputs └─ Output @Type @Label @Expression
       ├─ Normalize:     Class @ClassIndex └─ Ranges └─ Range @Index @Min @Max
       ├─ Decorrelation: Matrix @Rows @Columns (raw line, row-major)
       ├─ PCA:           Statistics @Class @ClassIndex @NRows (means),
       │                 Eigenvectors @Class @ClassIndex @NRows @NCols
       └─ Gauss:         Variable @VarIndex └─ CumulativePDF_cls<k> └─ PDF @Name @MinNSmooth @MaxNSmooth
                         @InterpolMethod @KDE_type @KDE_iter @KDE_border @KDE_finefactor
                         ├─ Histogram @Name @NBins @XMin @XMax @HasEquidistantBins (cumulative contents)
                         └─ HistogramBinning @NBins (nbins+1 edges; only for non-equidistant bins)

``<MVAPdfs>`` (``CreateMVAPdfs``) holds the signal and the background ``<PDF>`` of the classifier output
in the same ``<PDF>`` layout: :func:`read_mva_pdfs` / :func:`write_mva_pdfs`.

Numbers: ``precision="tmva"`` reproduces TMVA's formats (``AddAttr``: ``%.16e``; Decorrelation matrices:
``%.15e``; PCA and PDF histograms: ``StringFromDouble`` = ``%.8e``); ``"lossless"`` writes the shortest
decimal that reads back to exactly the value held (float32 for Normalize ranges and PDF contents, as TMVA
stores them; double otherwise).

Example:
    >>> import numpy as np
    >>> from tmvacompat.data.transforms import TransformChain
    >>> chain = TransformChain.fit(np.array([[0.0], [2.0]], np.float32), items="N", variables=["x"])
    >>> el = write_transformations(chain, precision="tmva")
    >>> el.find("Transform/Class/Ranges/Range").attrib
    {'Index': '0', 'Min': '0.0000000000000000e+00', 'Max': '2.0000000000000000e+00'}
    >>> read_transformations(el, variables=["x"]).forward([1.0])
    array([0.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import numpy as np

from tmvacompat.data.pdf import PDF
from tmvacompat.data.transforms import (
    TARGET,
    VARIABLE,
    CumulativePDF,
    DecorrelateTransform,
    GaussTransform,
    IdentityTransform,
    InputRef,
    NormalizeTransform,
    PCATransform,
    TransformChain,
    VariableTransform,
    _names,
)
from tmvacompat.errors import OptionError, WeightFileError

PRECISIONS = ("lossless", "tmva")
_TRANSFORM_NAMES = ["Normalize", "Decorrelation", "PCA", "Gauss", "Uniform"]

# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------


class _Ctx:
    """Where we are (for error messages) and the variable/target registries."""

    def __init__(self, path: str | None, variables, targets) -> None:
        self.path = str(path) if path is not None else None
        self.fixed = {VARIABLE: variables is not None, TARGET: targets is not None}
        self.names = {
            VARIABLE: _names(variables, "var", 0) if variables is not None else [],
            TARGET: _names(targets, "target", 0) if targets is not None else [],
        }

    def err(self, message: str, el: Element | None = None, **kw) -> WeightFileError:
        if el is not None:
            message = f"<{el.tag}>: {message}"
        return WeightFileError(message, where=self.path, **kw)

    def index_of(self, kind: str, label: str, expression: str, el: Element) -> int:
        pool = self.names[kind]
        for i, (lab, expr) in enumerate(pool):
            if lab == label or expr == expression:
                return i
        if self.fixed[kind]:
            known = [f"{lab} ({expr})" if lab != expr else lab for lab, expr in pool]
            raise self.err(
                f"{kind.lower()} with Label={label!r} / Expression={expression!r} is not among the "
                f"{kind.lower()}s of the method",
                el,
                token=label,
                expected=known,
            )
        pool.append((label, expression))
        return len(pool) - 1


def _attr(ctx: _Ctx, el: Element, name: str) -> str:
    val = el.get(name)
    if val is None:
        raise ctx.err(f"missing attribute {name!r}", el, token=name, expected=[name])
    return val


def _int(ctx: _Ctx, el: Element, name: str) -> int:
    val = _attr(ctx, el, name)
    try:
        return int(val.strip())
    except ValueError:
        raise ctx.err(f"attribute {name}={val!r} is not an integer", el, token=val) from None


def _float(ctx: _Ctx, el: Element, name: str) -> float:
    val = _attr(ctx, el, name)
    try:
        return float(val.strip())
    except ValueError:
        raise ctx.err(f"attribute {name}={val!r} is not a number", el, token=val) from None


def _bool(ctx: _Ctx, el: Element, name: str) -> bool:
    val = _attr(ctx, el, name).strip().lower()
    if val in ("1", "true"):
        return True
    if val in ("0", "false"):
        return False
    raise ctx.err(f"attribute {name}={val!r} is not a boolean", el, token=val, expected=["0", "1"])


def _numbers(ctx: _Ctx, el: Element, count: int) -> np.ndarray:
    text = (el.text or "").split()
    if len(text) != count:
        raise ctx.err(f"expected {count} numbers, found {len(text)}", el, expected=[f"{count} numbers"])
    try:
        return np.array([float(t) for t in text], np.float64)
    except ValueError as exc:
        raise ctx.err(f"bad number in content ({exc})", el) from None


def _child(ctx: _Ctx, el: Element, tag: str) -> Element:
    ch = el.find(tag)
    if ch is None:
        raise ctx.err(f"missing child element <{tag}>", el, token=tag, expected=[tag])
    return ch


def _read_refs(ctx: _Ctx, el: Element, tag: str, count_attr: str) -> list[InputRef]:
    n = _int(ctx, el, count_attr)
    refs = []
    for ch in el:
        if ch.tag != tag:
            raise ctx.err(f"unexpected child <{ch.tag}>", el, token=ch.tag, expected=[tag])
        kind = _attr(ctx, ch, "Type")
        if kind not in (VARIABLE, TARGET):
            expected = [VARIABLE, TARGET]
            msg = "spectators in transformations are not supported" if kind == "Spectator" else "unknown Type"
            raise ctx.err(f"{msg}: Type={kind!r}", ch, token=kind, expected=expected)
        label, expr = _attr(ctx, ch, "Label"), _attr(ctx, ch, "Expression")
        refs.append(InputRef(kind, ctx.index_of(kind, label, expr, ch), label, expr))
    if len(refs) != n:
        raise ctx.err(f"{count_attr}={n} but {len(refs)} <{tag}> children", el, token=str(n))
    return refs


def _read_selection(ctx: _Ctx, tr: Element) -> tuple[list[InputRef], list[InputRef]]:
    sel = tr.find("Selection")
    if sel is None:
        raise ctx.err("missing <Selection> (the pre-2009 TMVA layout is not supported)", tr,
                      token="Selection", expected=["Selection"])  # fmt: skip
    inputs = _read_refs(ctx, _child(ctx, sel, "Input"), "Input", "NInputs")
    outputs = _read_refs(ctx, _child(ctx, sel, "Output"), "Output", "NOutputs")
    if len(outputs) != len(inputs):
        raise ctx.err(f"{len(inputs)} inputs but {len(outputs)} outputs", sel)
    return inputs, outputs


def _after_selection(tr: Element) -> list[Element]:
    kids = list(tr)
    for i, ch in enumerate(kids):
        if ch.tag == "Selection":
            return kids[i + 1 :]
    return kids


def _read_normalize(ctx: _Ctx, tr: Element, inputs, outputs) -> NormalizeTransform:
    n = len(inputs)
    sets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    classes = tr.findall("Class")
    for cl in classes:
        ci = _int(ctx, cl, "ClassIndex")
        if ci < 0:
            raise ctx.err(f"negative ClassIndex {ci}", cl, token=str(ci))
        if ci >= len(classes):
            # TMVA writes ClassIndex 0 .. n-1 and sizes its table by the largest index read: an index
            # beyond the elements present would only allocate empty ranges
            raise ctx.err(
                f"ClassIndex={ci} but the transform has {len(classes)} <Class> elements",
                cl,
                token=str(ci),
                expected=[f"0 .. {len(classes) - 1}"],
            )
        mins, maxs = np.zeros(n, np.float32), np.zeros(n, np.float32)
        for ranges in cl.findall("Ranges"):
            for rg in ranges:
                idx = _int(ctx, rg, "Index")
                if not 0 <= idx < n:
                    raise ctx.err(f"Index={idx} outside the {n} selected inputs", rg, token=str(idx),
                                  expected=[str(i) for i in range(n)])  # fmt: skip
                mins[idx], maxs[idx] = _float(ctx, rg, "Min"), _float(ctx, rg, "Max")
        sets[ci] = (mins, maxs)
    if not sets:
        raise ctx.err("no <Class> ranges", tr, token="Class", expected=["Class"])
    k = max(sets) + 1
    mins = np.zeros((k, n), np.float32)
    maxs = np.zeros((k, n), np.float32)
    for ci, (lo, hi) in sets.items():
        mins[ci], maxs[ci] = lo, hi
    return NormalizeTransform(inputs, outputs, mins=mins, maxs=maxs)


def _read_decorrelation(ctx: _Ctx, tr: Element, inputs, outputs) -> DecorrelateTransform:
    n = len(inputs)
    mats = []
    for m in _after_selection(tr):
        if m.tag != "Matrix":
            raise ctx.err(f"unexpected child <{m.tag}>", tr, token=m.tag, expected=["Matrix"])
        rows, cols = _int(ctx, m, "Rows"), _int(ctx, m, "Columns")
        if rows != n or cols != n:
            raise ctx.err(f"matrix is {rows}x{cols} for {n} selected inputs", m, expected=[f"{n}x{n}"])
        mats.append(_numbers(ctx, m, rows * cols).reshape(rows, cols))
    if not mats:
        raise ctx.err("no <Matrix>", tr, token="Matrix", expected=["Matrix"])
    return DecorrelateTransform(inputs, outputs, matrices=np.stack(mats))


def _read_pca(ctx: _Ctx, tr: Element, inputs, outputs) -> PCATransform:
    n = len(inputs)
    means: dict[int, np.ndarray] = {}
    vecs: dict[int, np.ndarray] = {}
    for ch in _after_selection(tr):
        if ch.tag == "Statistics":
            ci, rows = _int(ctx, ch, "ClassIndex"), _int(ctx, ch, "NRows")
            if rows != n:
                raise ctx.err(f"NRows={rows} for {n} selected inputs", ch, expected=[str(n)])
            means[ci] = _numbers(ctx, ch, rows)
        elif ch.tag == "Eigenvectors":
            ci, rows, cols = _int(ctx, ch, "ClassIndex"), _int(ctx, ch, "NRows"), _int(ctx, ch, "NCols")
            if rows != n or cols != n:
                raise ctx.err(f"eigenvectors are {rows}x{cols} for {n} inputs", ch, expected=[f"{n}x{n}"])
            vecs[ci] = _numbers(ctx, ch, rows * cols).reshape(rows, cols)
        else:
            raise ctx.err(f"unexpected child <{ch.tag}>", tr, token=ch.tag,
                          expected=["Statistics", "Eigenvectors"])  # fmt: skip
    if not means or sorted(means) != list(range(len(means))) or sorted(vecs) != sorted(means):
        raise ctx.err(f"incomplete PCA classes (Statistics {sorted(means)}, Eigenvectors {sorted(vecs)})", tr)
    k = len(means)
    return PCATransform(inputs, outputs, means=np.stack([means[i] for i in range(k)]),
                        eigenvectors=np.stack([vecs[i] for i in range(k)]))  # fmt: skip


def _read_pdf(ctx: _Ctx, holder: Element) -> CumulativePDF:
    return _read_pdf_element(ctx, _child(ctx, holder, "PDF"), CumulativePDF)


def _read_pdf_element(ctx: _Ctx, pdf: Element, cls=PDF, **extra) -> Any:
    """A ``<PDF>`` element (PDF::ReadXML) as ``cls`` (PDF, or CumulativePDF for the Gauss transform)."""
    kids = list(pdf)
    if not kids or kids[0].tag != "Histogram":
        raise ctx.err("missing <Histogram>", pdf, token="Histogram", expected=["Histogram"])
    hist = kids[0]
    nb = _int(ctx, hist, "NBins")
    if nb < 1:
        raise ctx.err(f"NBins={nb}", hist, expected=["NBins >= 1"])
    contents = _numbers(ctx, hist, nb)
    equi = _bool(ctx, hist, "HasEquidistantBins")
    edges = None
    if not equi:
        if len(kids) < 2 or kids[1].tag != "HistogramBinning":
            raise ctx.err("missing <HistogramBinning>", pdf, token="HistogramBinning",
                          expected=["HistogramBinning"])  # fmt: skip
        if _int(ctx, kids[1], "NBins") != nb:
            raise ctx.err("number of bins in content and binning differ", kids[1], expected=[str(nb)])
        edges = _numbers(ctx, kids[1], nb + 1)
    try:
        return cls(
            contents, edges, xmin=_float(ctx, hist, "XMin"), xmax=_float(ctx, hist, "XMax"),
            interpol=_int(ctx, pdf, "InterpolMethod"), name=_attr(ctx, pdf, "Name"),
            hist_name=_attr(ctx, hist, "Name"), min_nsmooth=_int(ctx, pdf, "MinNSmooth"),
            max_nsmooth=_int(ctx, pdf, "MaxNSmooth"), kde_type=_int(ctx, pdf, "KDE_type"),
            kde_iter=_int(ctx, pdf, "KDE_iter"), kde_border=_int(ctx, pdf, "KDE_border"),
            kde_finefactor=_float(ctx, pdf, "KDE_finefactor"), **extra,
        )  # fmt: skip
    except WeightFileError as exc:
        raise ctx.err(exc.message, pdf, token=exc.token, expected=exc.expected) from None


def read_mva_pdfs(element: Element | None, path: str | None = None) -> tuple[PDF, PDF] | None:
    """The (signal, background) PDFs of an ``<MVAPdfs>`` element, None when it is empty or absent.

    As MethodBase::ReadStateFromXML: the first ``<PDF>`` is the signal PDF, the second the background
    PDF; both are rebuilt as TMVA rebuilds them (TH1F contents, smoothing, spline, normalisation).

    >>> read_mva_pdfs(Element("MVAPdfs")) is None
    True
    """
    ctx = _Ctx(path, None, None)
    if element is None or len(element) == 0:
        return None
    kids = list(element)
    if len(kids) != 2 or any(k.tag != "PDF" for k in kids):
        raise ctx.err(f"expected two <PDF> children (signal, background), found {[k.tag for k in kids]}",
                      element, token="PDF", expected=["PDF", "PDF"])  # fmt: skip
    sig, bkg = (_read_pdf_element(ctx, k, PDF, normalize=True, float_storage=True) for k in kids)
    return sig, bkg


def _read_gauss(ctx: _Ctx, tr: Element, inputs, outputs) -> GaussTransform:
    fog = _attr(ctx, tr, "FlatOrGauss")
    n = len(inputs)
    per_var: dict[int, list[CumulativePDF]] = {}
    for var in _after_selection(tr):
        if var.tag != "Variable":
            raise ctx.err(f"unexpected child <{var.tag}>", tr, token=var.tag, expected=["Variable"])
        iv = _int(ctx, var, "VarIndex")
        if not 0 <= iv < n:
            raise ctx.err(f"VarIndex={iv} outside the {n} selected inputs", var, token=str(iv))
        pdfs = []
        for holder in var:
            if not holder.tag.startswith("CumulativePDF_cls"):
                raise ctx.err(f"unexpected child <{holder.tag}>", var, token=holder.tag,
                              expected=["CumulativePDF_cls<k>"])  # fmt: skip
            pdfs.append(_read_pdf(ctx, holder))
        per_var.setdefault(iv, []).extend(pdfs)
    if sorted(per_var) != list(range(n)):
        raise ctx.err(f"cumulative PDFs for inputs {sorted(per_var)}, expected 0..{n - 1}", tr)
    counts = {len(v) for v in per_var.values()}
    if len(counts) != 1 or 0 in counts:
        raise ctx.err(f"inputs have different numbers of class PDFs: {sorted(counts)}", tr)
    return GaussTransform(inputs, outputs, flat=(fog == "Flat"), pdfs=[per_var[i] for i in range(n)])


_READERS = {
    "Normalize": _read_normalize,
    "Decorrelation": _read_decorrelation,
    "PCA": _read_pca,
    "Gauss": _read_gauss,
    "Uniform": _read_gauss,
}


def read_transformations(
    element: Element,
    path: str | None = None,
    variables: Sequence[Any] | None = None,
    targets: Sequence[Any] | None = None,
) -> TransformChain:
    """Build a :class:`TransformChain` from a ``<Transformations>`` element.

    Args:
        element: the ``<Transformations>`` element (as parsed by defusedxml / ElementTree).
        path: the weight file, named in error messages.
        variables, targets: the method's variables/targets (strings, (label, expression) pairs or objects
            with ``label``/``expression``). Inputs are matched by Label or Expression as TMVA does. Without
            them, variables are numbered in order of first appearance in the selections.

    Raises:
        WeightFileError: missing or malformed elements, unknown transformation, unmatched variables.

    >>> el = write_transformations(TransformChain.fit(np.array([[0.0], [4.0]], np.float32), items="N",
    ...                                               variables=["x"]))
    >>> read_transformations(el, "demo.xml", variables=["x"]).forward(np.array([[1.0]], np.float32))
    array([[-0.5]], dtype=float32)
    """
    ctx = _Ctx(path, variables, targets)
    if element is None or element.tag != "Transformations":
        tag = None if element is None else element.tag
        raise ctx.err(f"expected a <Transformations> element, got <{tag}>", token=str(tag),
                      expected=["Transformations"])  # fmt: skip
    _int(ctx, element, "NTransformations")
    transforms: list[VariableTransform] = []
    for tr in element:
        if tr.tag != "Transform":
            raise ctx.err(f"unexpected child <{tr.tag}>", element, token=tr.tag, expected=["Transform"])
        name = _attr(ctx, tr, "Name")
        if name not in _READERS:
            raise ctx.err(f"unknown or unsupported transformation Name={name!r}", tr, token=name,
                          expected=_TRANSFORM_NAMES)  # fmt: skip
        inputs, outputs = _read_selection(ctx, tr)
        if not inputs:
            raise ctx.err("the selection is empty", tr)
        transforms.append(_READERS[name](ctx, tr, inputs, outputs))
    return TransformChain(transforms, ctx.names[VARIABLE], ctx.names[TARGET])


# ---------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------


def _shortest(v, dtype) -> str:
    """The shortest decimal that reads back to exactly ``v`` as ``dtype`` (float32 or float64)."""
    return np.format_float_scientific(dtype(v), unique=True, trim="-", exp_digits=2)


class _Fmt:
    def __init__(self, precision: str) -> None:
        if precision not in PRECISIONS:
            raise OptionError(f"unknown precision {precision!r}", token=str(precision),
                              expected=list(PRECISIONS))  # fmt: skip
        self.lossless = precision == "lossless"

    def attr(self, v: float, dtype=np.float64) -> str:  # gTools().AddAttr for floating types
        return _shortest(v, dtype) if self.lossless else format(float(v), ".16e")

    def raw(self, values: np.ndarray, tmva_fmt: str, dtype=np.float64) -> str:  # AddRawLine: value + " "
        if self.lossless:
            return "".join(_shortest(v, dtype) + " " for v in np.ravel(values))
        return "".join(format(float(v), tmva_fmt) + " " for v in np.ravel(values))


def _write_selection(tr: Element, t: VariableTransform) -> None:
    sel = SubElement(tr, "Selection")
    for tag, count, refs in (("Input", "NInputs", t.inputs), ("Output", "NOutputs", t.outputs)):
        grp = SubElement(sel, tag, {count: str(len(refs))})
        for r in refs:
            SubElement(grp, tag, {"Type": r.kind, "Label": r.label, "Expression": r.expression})


def _write_pdf(parent: Element, p: PDF, fmt: _Fmt) -> None:
    """PDF::AddXMLTo: the original histogram, contents as ``%.8e`` (StringFromDouble)."""
    pdf = SubElement(parent, "PDF", {
        "Name": p.name, "MinNSmooth": str(p.min_nsmooth), "MaxNSmooth": str(p.max_nsmooth),
        "InterpolMethod": str(p.interpol), "KDE_type": str(p.kde_type), "KDE_iter": str(p.kde_iter),
        "KDE_border": str(p.kde_border), "KDE_finefactor": fmt.attr(p.kde_finefactor, np.float32),
    })  # fmt: skip
    equi = p.edges is None
    hist = SubElement(pdf, "Histogram", {
        "Name": p.hist_name, "NBins": str(p.contents.shape[0]), "XMin": fmt.attr(p.xmin),
        "XMax": fmt.attr(p.xmax), "HasEquidistantBins": "1" if equi else "0",
    })  # fmt: skip
    dtype = np.float32 if p.contents.dtype == np.float32 else np.float64
    hist.text = fmt.raw(p.contents, ".8e", dtype)
    if not equi:
        binning = SubElement(pdf, "HistogramBinning", {"NBins": str(p.contents.shape[0])})
        binning.text = fmt.raw(p.edges, ".8e")


def write_mva_pdfs(pdfs: tuple[PDF, PDF] | None, precision: str = "lossless") -> Element:
    """The ``<MVAPdfs>`` element (MethodBase::WriteStateToXML): the signal PDF, then the background PDF;
    empty without PDFs.

    >>> write_mva_pdfs(None).tag, len(write_mva_pdfs(None))
    ('MVAPdfs', 0)
    """
    fmt = _Fmt(precision)
    root = Element("MVAPdfs")
    for p in pdfs or ():
        _write_pdf(root, p, fmt)
    return root


def write_transformations(chain: TransformChain, precision: str = "lossless") -> Element:
    """The ``<Transformations>`` element for ``chain``, with TMVA's element and attribute names and order.

    Identity transformations count in ``NTransformations`` but write nothing (as in TMVA). Raw number lines
    (matrices, histograms) are the element text, each value followed by a space, as ``AddRawLine`` writes.

    >>> chain = TransformChain.fit(np.array([[1.0], [3.0]], np.float32), items="N,I", variables=["x"])
    >>> el = write_transformations(chain)
    >>> el.get("NTransformations"), [t.get("Name") for t in el]
    ('2', ['Normalize'])
    """
    fmt = _Fmt(precision)
    root = Element("Transformations", {"NTransformations": str(len(chain))})
    for t in chain.transforms:
        if isinstance(t, IdentityTransform):
            continue
        tr = SubElement(root, "Transform", {"Name": t.xml_name})
        if isinstance(t, GaussTransform):
            tr.set("FlatOrGauss", "Flat" if t.flat else "Gauss")
        _write_selection(tr, t)
        if isinstance(t, NormalizeTransform):
            for ci in range(t.n_sets):
                ranges = SubElement(SubElement(tr, "Class", {"ClassIndex": str(ci)}), "Ranges")
                for i in range(len(t.inputs)):
                    SubElement(ranges, "Range", {"Index": str(i), "Min": fmt.attr(t.mins[ci, i], np.float32),
                                                 "Max": fmt.attr(t.maxs[ci, i], np.float32)})  # fmt: skip
        elif isinstance(t, DecorrelateTransform):
            for m in t.matrices:
                el = SubElement(tr, "Matrix", {"Rows": str(m.shape[0]), "Columns": str(m.shape[1])})
                el.text = fmt.raw(m, ".15e")
        elif isinstance(t, PCATransform):
            names = ["Signal", "Background"]
            for ci, mean in enumerate(t.means):
                el = SubElement(
                    tr,
                    "Statistics",
                    {
                        "Class": names[ci] if ci < 2 else "Combined",
                        "ClassIndex": str(ci),
                        "NRows": str(mean.shape[0]),
                    },
                )
                el.text = fmt.raw(mean, ".8e")
            for ci, vec in enumerate(t.eigenvectors):
                el = SubElement(tr, "Eigenvectors", {"Class": names[ci] if ci < 2 else "Combined",
                                                     "ClassIndex": str(ci), "NRows": str(vec.shape[0]),
                                                     "NCols": str(vec.shape[1])})  # fmt: skip
                el.text = fmt.raw(vec, ".8e")
        elif isinstance(t, GaussTransform):
            for iv, per_cls in enumerate(t.pdfs):
                var = SubElement(tr, "Variable", {"VarIndex": str(iv)})
                for ci, p in enumerate(per_cls):
                    _write_pdf(SubElement(var, f"CumulativePDF_cls{ci}"), p, fmt)
        else:  # pragma: no cover - every transformation class is handled above
            raise WeightFileError(f"cannot write transformation {type(t).__name__}")
    return root
