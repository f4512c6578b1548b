"""The layer kinds: one module per TMVA keyword, and the registry :data:`KINDS`.

Each kind's module (``dense``, ``conv``, ``maxpool``, ...) holds its spec dataclass, its parameter shapes,
its output shape, its weight-file element (declarative: element name, attributes in TMVA's order with the
spec fields they carry, matrix names), its ONNX form (the operators it becomes, built on the exporter's
graph builder) and the name of the engine class that computes it. The grammar of
:mod:`tmvacompat.layout`, the weight-file reader and writer, the model and the engine all look a kind up
here. Adding a kind: write its module (a spec with a ``kind`` keyword, a :class:`~tmvacompat.kinds.base.Kind`
record), its engine layer class, and one entry in :data:`_REGISTERED` below (or call :func:`register`).

Like :mod:`tmvacompat.specs` this package imports only :mod:`tmvacompat.errors`: every layer may use it.

Example:
    >>> from tmvacompat.kinds import KINDS, kind_of
    >>> kind_of("MAXPOOL").xml.element, KINDS["CONV"].engine
    ('MaxPoolLayer', 'tmvacompat.engine.conv:Conv2D')
    >>> spec = KINDS["MAXPOOL"].spec(2, 2, 2, 2)
    >>> kind_of(spec).output_shape(spec, (3, 8, 8), ())
    (3, 4, 4)
"""

from __future__ import annotations

from typing import Any

from tmvacompat.errors import LayoutError, closest
from tmvacompat.kinds import bnorm, conv, dense, maxpool, merge, padding2d, recurrent, reshape
from tmvacompat.kinds.base import Kind

#: every kind, in the order the layout grammar lists them (its suggestions follow this order)
_REGISTERED: tuple[Kind, ...] = (
    dense.KIND,
    conv.CONV,
    conv.CONVT,
    maxpool.KIND,
    reshape.KIND,
    bnorm.KIND,
    recurrent.RNN,
    recurrent.LSTM,
    recurrent.GRU,
    padding2d.KIND,
    merge.ADD,
    merge.CONCAT,
)

#: keyword -> kind (every consumer looks kinds up here when it needs one, so a kind registered later is
#: known everywhere)
KINDS: dict[str, Kind] = {}
#: weight-file element name -> kind
BY_ELEMENT: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind to :data:`KINDS` and :data:`BY_ELEMENT` (the built-in kinds are added on import).

    Raises:
        LayoutError: the keyword or the element name is already taken, or the spec's ``kind`` is not the
            keyword.
    """
    spec_kind = getattr(kind.spec, "kind", None)
    if spec_kind != kind.keyword:
        raise LayoutError(
            f"the spec {kind.spec.__name__} has kind {spec_kind!r}, not {kind.keyword!r}", token=kind.keyword
        )
    for key, table, what in ((kind.keyword, KINDS, "keyword"), (kind.xml.element, BY_ELEMENT, "element")):
        if key in table:
            raise LayoutError(f"layer {what} {key!r} is already registered", token=key)
    KINDS[kind.keyword] = kind
    BY_ELEMENT[kind.xml.element] = kind
    return kind


for _kind in _REGISTERED:
    register(_kind)


def kind_of(spec_or_keyword: Any) -> Kind:
    """The kind of a spec (or of a keyword such as ``"CONV"``).

    Raises:
        LayoutError: an unknown keyword (with the closest known ones) or an object that is not a spec.

    >>> kind_of("MAXPOL")
    Traceback (most recent call last):
    ...
    tmvacompat.errors.LayoutError: unknown layer kind 'MAXPOL'; expected one of: MAXPOOL
    """
    keyword = spec_or_keyword if isinstance(spec_or_keyword, str) else getattr(spec_or_keyword, "kind", None)
    kind = KINDS.get(keyword) if isinstance(keyword, str) else None
    if kind is None:
        shown = keyword if isinstance(keyword, str) else type(spec_or_keyword).__name__
        raise LayoutError(
            f"unknown layer kind {shown!r}",
            token=str(shown),
            expected=closest(str(shown), KINDS) or sorted(KINDS),
        )
    return kind


__all__ = ["KINDS", "BY_ELEMENT", "Kind", "kind_of", "register"]
