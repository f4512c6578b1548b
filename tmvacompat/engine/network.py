"""The network: layers built from layer specs, in topological order, with optional graph edges.

A plain layout (``DENSE|64|TANH,DENSE|1|LINEAR``) is a stack: layer i reads layer i-1's output. A spec with
a ``name`` labels its output; an :class:`~tmvacompat.specs.AddSpec` adds labelled outputs (``INPUT`` = the
network input) to the previous layer's output, a :class:`~tmvacompat.specs.ConcatSpec` concatenates them
(flattened). Backward accumulates gradients along those edges.

Parameters: the network owns two flat arrays, ``P`` (every parameter) and ``G`` (the matching gradients),
and every layer's ``params`` / ``grads`` entries are views into them, laid out by :attr:`Network.table`:
first the trainable regularised matrices (weights) of every layer, then the other trainable parameters
(biases, batch-norm scales), then the rest (batch-norm running statistics). The optimizer keeps its state
in arrays of the same layout and updates whole ranges; the fused dense trainer and the generic layer path
both work on these same arrays, so nothing is ever copied between representations.

Buffers: every layer keeps preallocated per-batch-size workspaces, so a training loop at a fixed batch size
allocates nothing per batch on a plain stack. The arrays returned by :meth:`Network.forward` and
:meth:`Network.backward` are those buffers: valid until the next call with the same batch size (copy them
to keep them). :meth:`Network.predict` returns a fresh array.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import DenseSpec
    >>> net = Network.build([DenseSpec(4, "TANH"), DenseSpec(0, "LINEAR")], (3,), dtype=np.float64)
    >>> net.output_shape, net.predict(np.zeros((5, 3))).shape
    ((1,), (5, 1))
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from math import prod
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from tmvacompat.engine.base import Layer
from tmvacompat.errors import EngineConfigError, LayoutError
from tmvacompat.kinds import kind_of

#: label of the network input in ADD / CONCAT sources
INPUT_LABEL = "INPUT"


def layer_class(kind: str) -> Any:
    """The engine layer class of a spec kind, named by its entry in :data:`tmvacompat.kinds.KINDS` (imported
    on first use; every class has ``from_spec(spec, input_shape, *, dtype, nvar, n_outputs)``); LayoutError
    if unknown or not available.

    >>> layer_class("DENSE").__name__
    'Dense'
    """
    target = kind_of(kind).engine
    mod_name, cls_name = target.split(":")
    try:
        mod = importlib.import_module(mod_name)
        return getattr(mod, cls_name)
    except (ImportError, AttributeError) as err:
        raise LayoutError(f"layer {kind} not available ({target}: {err})", token=kind) from err


@njit(cache=True, error_model="numpy")
def _dropout_kernel(x, u, keep, out, mask_scale):
    """out = x * m / keep with m = (u < keep); mask_scale keeps m / keep for backward."""
    xf = x.reshape(x.size)
    uf = u.reshape(u.size)
    of = out.reshape(out.size)
    mf = mask_scale.reshape(mask_scale.size)
    inv = 1 / keep
    zero = inv - inv
    for i in range(xf.size):
        s = inv if uf[i] < keep else zero
        mf[i] = s
        of[i] = xf[i] * s


@njit(cache=True, error_model="numpy")
def _mul_into(a, b, out):
    af = a.reshape(a.size)
    bf = b.reshape(b.size)
    of = out.reshape(out.size)
    for i in range(af.size):
        of[i] = af[i] * bf[i]


class ParamEntry(NamedTuple):
    """Where one parameter array of one layer lives in the network's flat ``P`` and ``G``."""

    layer: int
    name: str
    offset: int
    shape: tuple[int, ...]
    regularized: bool
    trainable: bool

    @property
    def size(self) -> int:
        return prod(self.shape)


def _group(layer: Layer, name: str) -> int:
    """0: trained and regularised, 1: trained, 2: not trained (no gradient, or not in ``trainable``)."""
    trainable = getattr(layer, "trainable", None)
    if name not in layer.grads or (trainable is not None and name not in trainable):
        return 2
    return 0 if name in layer.regularized else 1


class Network:
    """A list of engine layers in topological order with graph edges for ADD / CONCAT.

    Attributes:
        layers: the layers; ``layers[i]`` was built from ``specs[i]``.
        input_shape / output_shape: per-event shapes of the network input and output.
        dtype: float32 (default) or float64.
        labels: label -> node index (-1 = network input, i = output of layer i).
        sources: per layer, the node indices it reads (first = previous node; ADD/CONCAT add more).
        P / G: every parameter / gradient, flat; layers' ``params`` and ``grads`` are views of them.
        table: one :class:`ParamEntry` per parameter array, in the order of ``P``.
        n_regularized / n_trainable: ``P[:n_regularized]`` are the regularised trained matrices,
            ``P[:n_trainable]`` everything an optimizer updates.
    """

    def __init__(
        self,
        layers: list[Layer],
        input_shape: tuple[int, ...],
        dtype=np.float32,
        sources: list[tuple[int, ...]] | None = None,
        labels: dict[str, int] | None = None,
        specs: Sequence | None = None,
    ) -> None:
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.dtype = np.dtype(dtype)
        self.sources = sources if sources is not None else [(i - 1,) for i in range(len(self.layers))]
        self.labels = dict(labels or {})
        self.specs = list(specs) if specs is not None else None
        self.output_shape = self.layers[-1].output_shape if self.layers else self.input_shape
        self.is_stack = all(s == (i - 1,) for i, s in enumerate(self.sources))
        self._keep = [1.0] * len(self.layers)
        self._rng = np.random.default_rng()
        self._drop_ws: list[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = [{} for _ in self.layers]
        self._drop_active = [False] * len(self.layers)
        self._last_batch = 0
        self._node_out: list[np.ndarray | None] = [None] * len(self.layers)
        self._bind_flat()

    def _bind_flat(self) -> None:
        """Move every layer's parameters and gradients into the flat ``P`` / ``G`` (values kept) and
        leave views of them in the layers."""
        entries = [
            (_group(layer, name), i, name, arr)
            for i, layer in enumerate(self.layers)
            for name, arr in layer.params.items()
        ]
        entries.sort(key=lambda e: e[0])  # stable: layer order, then each layer's own order, per group
        total = sum(arr.size for *_, arr in entries)
        self.P = np.zeros(total, self.dtype)
        self.G = np.zeros(total, self.dtype)
        self.table: list[ParamEntry] = []
        pos = 0
        counts = [0, 0, 0]
        for group, i, name, arr in entries:
            layer = self.layers[i]
            if arr.dtype != self.dtype:
                raise LayoutError(
                    f"layer {i} ({layer.kind}) parameter {name!r} is {arr.dtype}, the network {self.dtype}",
                    token=name,
                )
            n = arr.size
            view = self.P[pos : pos + n].reshape(arr.shape)
            view[...] = arr
            layer.params[name] = view
            if name in layer.grads:
                layer.grads[name] = self.G[pos : pos + n].reshape(arr.shape)
            self.table.append(ParamEntry(i, name, pos, tuple(arr.shape), group == 0, group < 2))
            counts[group] += n
            pos += n
        self.n_regularized = counts[0]
        self.n_trainable = counts[0] + counts[1]

    @property
    def dense_stack(self) -> bool:
        """Whether this is a plain stack of DENSE layers on a flat input: the networks that the fused
        trainer (:mod:`tmvacompat.engine.fused`) and the one-call inference
        (:mod:`tmvacompat.engine.inference`) run. Their ``P`` holds every layer's Weights, then every
        layer's Biases.

        >>> from tmvacompat.specs import DenseSpec
        >>> Network.build([DenseSpec(4), DenseSpec(1)], (3,)).dense_stack
        True
        """
        from tmvacompat.engine.dense import Dense

        return (
            bool(self.layers)
            and self.is_stack
            and len(self.input_shape) == 1
            and all(type(la) is Dense for la in self.layers)
        )

    def entry(self, layer: int, name: str) -> ParamEntry:
        """The :class:`ParamEntry` of parameter ``name`` of layer ``layer``."""
        for e in self.table:
            if e.layer == layer and e.name == name:
                return e
        raise LayoutError(f"layer {layer} has no parameter {name!r}", token=name)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        specs: Sequence,
        input_shape: Sequence[int],
        *,
        n_outputs: int = 1,
        nvar: int | None = None,
        dtype=np.float32,
    ) -> Network:
        """Build layers from specs, inferring shapes layer by layer (parameters zero, BN gamma 1).

        Args:
            specs: layer specs from :mod:`tmvacompat.specs`, in layout order.
            input_shape: per-event input shape, e.g. ``(nvar,)``, ``(depth, height, width)``, ``(T, W)``.
            n_outputs: the width a ``DENSE|0`` layer gets (1, NClasses or NTargets).
            nvar: ``N`` in width formulas (default ``prod(input_shape)``).
            dtype: ``np.float32`` or ``np.float64``.

        Raises:
            LayoutError: unknown kind, unavailable layer, unknown label, or incompatible shapes (the message
                names the layer index, its kind and the shapes involved).

        >>> from tmvacompat.specs import DenseSpec, AddSpec
        >>> net = Network.build([DenseSpec(3, "RELU", name="a"), DenseSpec(3), AddSpec(("a",))], (3,))
        >>> net.sources
        [(-1,), (0,), (1, 0)]
        """
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise LayoutError(
                f"network dtype must be float32 or float64, got {dtype}",
                token=str(dtype),
                expected=["float32", "float64"],
            )
        in_shape = tuple(int(s) for s in input_shape)
        if not in_shape or any(s <= 0 for s in in_shape):
            raise LayoutError(f"input shape must be positive sizes, got {in_shape}", token=str(in_shape))
        if not specs:
            raise LayoutError("the layout has no layers", token="")
        nvar = prod(in_shape) if nvar is None else int(nvar)
        labels: dict[str, int] = {INPUT_LABEL: -1}
        shapes: dict[int, tuple[int, ...]] = {-1: in_shape}
        layers: list[Layer] = []
        sources: list[tuple[int, ...]] = []
        for i, spec in enumerate(specs):
            kind = getattr(spec, "kind", type(spec).__name__)
            prev = shapes[i - 1]
            srcs: tuple[int, ...] = (i - 1,)
            kwargs = {"dtype": dtype, "nvar": nvar, "n_outputs": n_outputs}
            if hasattr(spec, "sources"):  # a graph node (ADD, CONCAT): reads labelled outputs too
                extra = []
                for label in spec.sources:
                    if label not in labels:
                        from tmvacompat.errors import closest

                        raise LayoutError(
                            f"layer {i} ({kind}) refers to unknown label {label!r}",
                            token=label,
                            expected=closest(label, labels) or sorted(labels),
                        )
                    extra.append(labels[label])
                if not extra:
                    raise LayoutError(f"layer {i} ({kind}) needs at least one source label", token=kind)
                srcs = (i - 1, *extra)
                kwargs["source_shapes"] = [shapes[s] for s in srcs]
            if kind == "BNORM":  # TMVA normalises per channel only right after CONV/MAXPOOL (DeepNet.h)
                kwargs["prev_kind"] = getattr(specs[i - 1], "kind", None) if i > 0 else None
            cls_ = layer_class(kind)
            try:
                layer = cls_.from_spec(spec, prev, **kwargs)
            except LayoutError as err:
                if f"layer {i} " in err.message:
                    raise
                raise LayoutError(
                    f"layer {i} ({kind}) with input shape {prev}: {err.message}",
                    token=err.token,
                    expected=err.expected,
                ) from err
            layers.append(layer)
            sources.append(srcs)
            shapes[i] = layer.output_shape
            name = getattr(spec, "name", None)
            if name:
                if name in labels:
                    raise LayoutError(f"layer {i} ({kind}) reuses label {name!r}", token=name)
                labels[name] = i
        return cls(layers, in_shape, dtype, sources=sources, labels=labels, specs=specs)

    # ------------------------------------------------------------------ dropout / rng
    def set_dropout(self, drop_probs: Sequence[float]) -> None:
        """TMVA ``DropConfig``: entry i is the probability of DROPPING each element of layer i's input.

        Entry 0 acts on the input variables; layers beyond the list keep everything. Inverted dropout
        (kept elements scaled by 1/keep), in training forward passes only.

        >>> from tmvacompat.specs import DenseSpec
        >>> net = Network.build([DenseSpec(2)], (3,))
        >>> net.set_dropout([0.2])
        """
        probs = [float(p) for p in drop_probs]
        for i, p in enumerate(probs):
            if not 0.0 <= p < 1.0:
                raise EngineConfigError(
                    f"drop probability {i} is {p}; it must be in [0, 1)",
                    parameter="drop_probs",
                    value=p,
                    index=i,
                    expected=["0 <= p < 1"],
                )
        # entries beyond the number of layers are ignored
        self._keep = [1.0 - (probs[i] if i < len(probs) else 0.0) for i in range(len(self.layers))]

    def set_rng(self, seed) -> None:
        """Seed the dropout random numbers (an int or a ``np.random.SeedSequence``; deterministic).

        Each training forward draws, layer by layer, ``x.size`` uniforms (network dtype) for every layer
        whose input has a drop probability > 0.
        """
        self._rng = np.random.default_rng(seed)

    def _dropout(self, i: int, x: np.ndarray) -> np.ndarray:
        keep = self._keep[i]
        n = x.shape[0]
        ws = self._drop_ws[i].get(n)
        if ws is None:
            ws = (np.empty(x.shape, self.dtype), np.empty(x.shape, self.dtype), np.empty(x.shape, self.dtype))
            self._drop_ws[i] = {n: ws}  # one batch size at a time is enough for training
        u, out, scale = ws
        self._rng.random(out=u.reshape(-1), dtype=self.dtype.type)
        _dropout_kernel(x, u, self.dtype.type(keep), out, scale)
        return out

    # ------------------------------------------------------------------ passes
    def _as_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        size = prod(self.input_shape)
        if (
            x.ndim < 2
            or x.shape[0] * size != x.size
            or (x.shape[1:] != self.input_shape and x.shape[1:] != (size,))
        ):
            raise LayoutError(
                f"network input must have shape (batch, {', '.join(map(str, self.input_shape))}) or "
                f"(batch, {size}); got {x.shape}",
                token=str(x.shape),
            )
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        return x.reshape((x.shape[0],) + self.input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Raw output for a batch, shape (batch, *output_shape) (an internal buffer, see the module doc).

        ``x``: (batch, *input_shape) or (batch, prod(input_shape)), flattened in C order (channel-major).
        ``training=True`` applies dropout and lets layers (BNORM) use batch statistics.
        """
        x = self._as_input(x)
        self._last_batch = x.shape[0]
        nodes: list[Any] = self._node_out
        cur = x
        for i, layer in enumerate(self.layers):
            srcs = self.sources[i]
            inp = x if srcs[0] < 0 else nodes[srcs[0]]
            if training and self._keep[i] < 1.0:
                inp = self._dropout(i, inp)
                self._drop_active[i] = True
            else:
                self._drop_active[i] = False
            if len(srcs) == 1:
                cur = layer.forward(inp, training)
            else:
                extra = [x if s < 0 else nodes[s] for s in srcs[1:]]
                merge: Any = layer
                cur = merge.forward_multi([inp, *extra], training)
            nodes[i] = cur
        return cur

    def backward(self, dout: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate dLoss/dOutput of the last forward batch; fills every layer's ``grads``.

        Returns dLoss/dInput with shape (batch, *input_shape) (None if ``need_input_grad`` is False, which
        saves the first layer's input-gradient product).
        """
        n = self._last_batch
        dout = np.asarray(dout)
        if dout.size != n * prod(self.output_shape):
            raise LayoutError(
                f"backward got a gradient of shape {dout.shape}, expected {(n, *self.output_shape)}",
                token=str(dout.shape),
            )
        if dout.dtype != self.dtype or not dout.flags.c_contiguous:
            dout = np.ascontiguousarray(dout, dtype=self.dtype)
        dout = dout.reshape((n,) + self.output_shape)
        nl = len(self.layers)
        if self.is_stack:
            g = dout
            for i in range(nl - 1, -1, -1):
                layer = self.layers[i]
                if hasattr(layer, "need_input_grad"):
                    layer.need_input_grad = need_input_grad or i > 0
                g = layer.backward(g)
                if self._drop_active[i] and (i > 0 or need_input_grad):
                    scale = self._drop_ws[i][n][2]
                    _mul_into(g, scale, g)
            return g if need_input_grad else None
        # graph: accumulate gradients per node (-1 = input); fresh arrays where edges fan in
        acc: dict[int, np.ndarray] = {nl - 1: dout}
        for i in range(nl - 1, -1, -1):
            gi = acc.pop(i) if i in acc else None
            layer = self.layers[i]
            srcs = self.sources[i]
            if gi is None:  # output unused downstream: zero gradient
                gi = np.zeros((n, *layer.output_shape), self.dtype)
            if hasattr(layer, "need_input_grad"):
                layer.need_input_grad = True
            if len(srcs) == 1:
                grads_in = [layer.backward(gi)]
            else:
                merge: Any = layer
                grads_in = list(merge.backward_multi(gi))
            if self._drop_active[i]:
                g0 = grads_in[0] * self._drop_ws[i][n][2]
                grads_in[0] = g0
            for s, gs in zip(srcs, grads_in, strict=False):
                if s in acc:
                    acc[s] = acc[s] + gs.reshape(acc[s].shape)
                else:
                    acc[s] = np.array(gs, copy=True)
        gin = acc.get(-1)
        if gin is None:
            gin = np.zeros((n, *self.input_shape), self.dtype)
        return gin.reshape((n,) + self.input_shape) if need_input_grad else None

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Raw outputs (no output function, no dropout) as a new (n, prod(output_shape)) array.

        >>> from tmvacompat.specs import DenseSpec
        >>> Network.build([DenseSpec(2, "LINEAR")], (3,)).predict(np.ones((4, 3))).dtype
        dtype('float32')
        """
        x = self._as_input(x)
        n = x.shape[0]
        nout = prod(self.output_shape)
        out = np.empty((n, nout), dtype=self.dtype)
        bs = max(1, int(batch_size))
        for start in range(0, n, bs):
            stop = min(n, start + bs)
            out[start:stop] = self.forward(x[start:stop], training=False).reshape(stop - start, nout)
        return out

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> list[dict[str, np.ndarray]]:
        """Copies of every layer's parameters, one dict per layer (empty for parameter-free layers)."""
        return [{k: v.copy() for k, v in layer.params.items()} for layer in self.layers]

    def set_params(self, params: Sequence[dict[str, np.ndarray]]) -> None:
        """Copy parameters in (shape-checked, cast to the network dtype).

        Raises:
            LayoutError: wrong number of layers, a missing/unknown name, or a shape mismatch (names the layer
                index, kind, parameter name and both shapes).
        """
        if len(params) != len(self.layers):
            raise LayoutError(
                f"set_params got {len(params)} layer dicts for a network of {len(self.layers)} layers",
                token=str(len(params)),
            )
        for i, (layer, p) in enumerate(zip(self.layers, params, strict=False)):
            unknown = set(p) - set(layer.params)
            missing = set(layer.params) - set(p)
            if unknown or missing:
                raise LayoutError(
                    f"layer {i} ({layer.kind}): parameter names {sorted(p)} do not match "
                    f"{sorted(layer.params)}",
                    token=", ".join(sorted(unknown | missing)),
                    expected=sorted(layer.params),
                )
            for name, value in p.items():
                value = np.asarray(value)
                target = layer.params[name]
                if value.shape != target.shape:
                    raise LayoutError(
                        f"layer {i} ({layer.kind}) parameter {name!r} has shape {value.shape}, "
                        f"expected {target.shape}",
                        token=name,
                    )
        for layer, p in zip(self.layers, params, strict=False):
            for name, value in p.items():
                layer.params[name][...] = value

    def zero_grads(self) -> None:
        for layer in self.layers:
            layer.zero_grads()

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network({self.input_shape} -> {self.output_shape}: {inner})"


__all__ = ["Network", "ParamEntry", "INPUT_LABEL", "layer_class"]
