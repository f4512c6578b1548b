"""Layer elements of a MethodDL ``<Weights>`` block, interpreted from the kinds' declarations.

Every layer kind declares its element (:class:`~tmvacompat.kinds.base.XmlElement`: name, attributes in
TMVA's order with the spec fields they carry, matrix children in write order) and its shape rules in its
module of :mod:`tmvacompat.kinds`; this module turns those declarations into what the reader and the writer
need: the matrix shapes a layer must carry given its input, *before* anything is allocated, and the
attributes to write, in TMVA's order.

Shapes are tracked per event as ``(depth, height, width)`` triples, TMVA's own convention: a dense
activation of n values is ``(1, 1, n)``, an image ``(C, H, W)``, a sequence of T steps of F features
``(1, T, F)`` (TMVA's RNN layers take their input as ``1 x T x F``).

Example:
    >>> from tmvacompat.specs import DenseSpec
    >>> expected_shapes(DenseSpec(width=3, activation="TANH"), (1, 1, 2), {})
    ({'Weights': (3, 2), 'Biases': (3, 1)}, (1, 1, 3))
"""

from __future__ import annotations

from collections.abc import Mapping

from tmvacompat.errors import LayoutError, SizeLimitError, WeightFileError
from tmvacompat.kinds import kind_of
from tmvacompat.kinds.base import as_triple

Shape = tuple[int, int, int]


def _size(shape: Shape) -> int:
    return shape[0] * shape[1] * shape[2]


def expected_shapes(
    spec, in_shape: Shape, labelled: Mapping[str, Shape], where: str = "layer"
) -> tuple[dict[str, tuple[int, int]], Shape]:
    """Matrix shapes (name -> (rows, cols)) a layer must carry, and its output shape (a triple).

    ``labelled`` maps layer labels (and ``"INPUT"``) to their output shapes, for ADD/CONCAT. For BNORM the
    shape returned is the one TMVA uses for this input (channels for an image with depth > 1, every value
    otherwise); :func:`matrix_fits` also accepts the other.

    Raises:
        WeightFileError: the layer does not fit its input, or names an unknown label (names the layer via
            ``where``).
    """
    try:
        kind = kind_of(spec)
    except LayoutError as err:
        raise WeightFileError(f"unsupported layer spec {spec!r}", where=where) from err
    sources = []
    for src in getattr(spec, "sources", ()):
        if src not in labelled:
            raise WeightFileError(
                f"{kind.xml.element} refers to an unknown layer label {src!r}",
                token=src,
                expected=sorted(labelled),
                where=where,
            )
        sources.append(labelled[src])
    try:
        out = kind.output_shape(spec, in_shape, sources)
        want = kind.param_shapes(spec, in_shape)
    except LayoutError as err:
        raise WeightFileError(
            f"{kind.xml.element} does not fit its input {tuple(in_shape)}: {err.message}",
            token=err.token,
            expected=err.expected,
            where=where,
        ) from err
    return want, as_triple(out)


def matrix_fits(spec, name: str, want: tuple[int, int], got: tuple[int, ...], in_shape: Shape) -> bool:
    """Whether a matrix of shape ``got`` is legal where :func:`expected_shapes` says ``want`` (exact
    equality unless the kind allows more: BNORM either normalisation dimension, CONVT any split).

    >>> from tmvacompat.specs import BatchNormSpec
    >>> matrix_fits(BatchNormSpec(), "Gamma", (1, 4), (1, 36), (4, 3, 3))
    True
    """
    return kind_of(spec).accepts(name, want, tuple(got), in_shape)


#: Budgets a real model stays far below, checked from the declared shapes before anything is allocated:
#: the values one event needs across all layers (outputs plus a convolution's unrolled input) -- 256 MiB in
#: float32, the size of a 3 x 1024 x 1024 image through 20 layers of 4 channels -- and the parameters of a
#: network (1 GiB in float32; TMVA's own largest tutorial networks hold about a million).
MAX_EVENT_VALUES = 1 << 26
MAX_PARAMETERS = 1 << 28
#: Values a batch may hold at evaluation; the batch size shrinks for networks with large per-event needs.
EVAL_BATCH_VALUES = 1 << 28


def layer_event_values(spec, in_shape: Shape, out_shape: Shape) -> int:
    """The values one event needs in this layer: its output, plus the unrolled input of a convolution and
    the per-step states of a recurrent layer (the kind's ``event_values``).

    >>> from tmvacompat.specs import ConvSpec
    >>> layer_event_values(ConvSpec(4, 3, 3, 1, 1, 1, 1), (1, 8, 8), (4, 8, 8))
    832
    """
    return kind_of(spec).event_values(spec, in_shape, out_shape)


def check_budget(event_values: int, parameters: int, where: str) -> None:
    """Refuse a network whose declared shapes need more than :data:`MAX_EVENT_VALUES` values per event or
    :data:`MAX_PARAMETERS` parameters; ``where`` names the file and the layer element that crossed it.

    >>> check_budget(100, 1000, "demo.xml: Weights/DenseLayer[0]")

    Raises:
        SizeLimitError: a budget is exceeded (also a builtin ``MemoryError``).
    """
    if event_values > MAX_EVENT_VALUES:
        raise SizeLimitError(
            f"the layers up to here need {event_values} values per event ({event_values * 4 / 2**30:.3g} GiB "
            f"in float32); tmvacompat refuses networks above {MAX_EVENT_VALUES} values per event",
            where=where,
            token=str(event_values),
            expected=[f"at most {MAX_EVENT_VALUES} values per event"],
        )
    if parameters > MAX_PARAMETERS:
        raise SizeLimitError(
            f"the layers up to here declare {parameters} parameters; tmvacompat refuses networks above "
            f"{MAX_PARAMETERS}",
            where=where,
            token=str(parameters),
            expected=[f"at most {MAX_PARAMETERS} parameters"],
        )


def network_event_values(layers, input_layout: Shape) -> int | None:
    """The values one event needs across ``layers`` (resolved specs) fed ``input_layout``, or None when the
    shapes do not chain (the engine reports that)."""
    shape = tuple(input_layout)
    labelled = {"INPUT": shape}
    total = _size(shape)
    try:
        for spec in layers:
            _, out = expected_shapes(spec, shape, labelled)  # type: ignore[arg-type]
            total += layer_event_values(spec, shape, out)
            shape = out
            if spec.name:
                labelled[spec.name] = out
    except (WeightFileError, LayoutError, TypeError, AttributeError):
        return None
    return total


def check_network_budget(layers, input_layout: Shape, where: str) -> None:
    """:func:`check_budget` for a network about to be built from resolved ``layers`` (a method's Layout):
    refused before its parameters are allocated. Shapes that do not chain are left to the engine.

    >>> from tmvacompat.specs import DenseSpec
    >>> check_network_budget([DenseSpec(8, "TANH"), DenseSpec(1, "LINEAR")], (1, 1, 4), "Layout")

    Raises:
        SizeLimitError: names ``where`` and the layer (index and kind) that crossed a budget.
    """
    shape = tuple(input_layout)
    labelled = {"INPUT": shape}
    event_values, parameters = _size(shape), 0
    check_budget(event_values, parameters, f"{where}, input {shape}")
    for i, spec in enumerate(layers):
        try:
            want, out = expected_shapes(spec, shape, labelled)  # type: ignore[arg-type]
        except (WeightFileError, LayoutError, TypeError, AttributeError):
            return
        event_values += layer_event_values(spec, shape, out)
        parameters += sum(r * c for r, c in want.values())
        check_budget(event_values, parameters, f"{where}, layer {i} ({spec.kind})")
        shape = out
        if spec.name:
            labelled[spec.name] = out


def eval_batch_size(event_values: int | None, largest: int = 4096) -> int:
    """Events per evaluation batch so a batch holds at most :data:`EVAL_BATCH_VALUES` values.

    >>> eval_batch_size(1000), eval_batch_size(2 * 10**6), eval_batch_size(None)
    (4096, 134, 4096)
    """
    if not event_values:
        return largest
    return max(1, min(largest, EVAL_BATCH_VALUES // event_values))


def layer_attributes(spec) -> list[tuple[str, object]]:
    """The element's attributes, in TMVA's order, as (name, value) with ints/floats/strings; the graph
    label ``Name`` last, when the layer has one.

    >>> from tmvacompat.specs import MaxPoolSpec
    >>> layer_attributes(MaxPoolSpec(2, 2, 1, 1, name="p"))
    [('FilterHeight', 2), ('FilterWidth', 2), ('StrideRows', 1), ('StrideCols', 1), ('Name', 'p')]
    """
    try:
        kind = kind_of(spec)
    except LayoutError as err:
        raise WeightFileError(f"cannot write layer spec {spec!r}", where="Weights") from err
    attrs = [(a.name, a.value(spec)) for a in kind.xml.attrs]
    if spec.name is not None:
        attrs.append(("Name", spec.name))
    return attrs
