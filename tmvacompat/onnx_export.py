"""ONNX export of MethodDL / MethodDNN / MethodAE models, for onnxruntime and ROOT's SOFIE (C++ inference).

:func:`to_onnx` turns a :class:`~tmvacompat.weightfile.model.Model` into one ONNX graph that maps the raw
input variables (float32, shape ``[N, nvar]``, in the weight file's variable order) to what
:meth:`Model.evaluate` returns: the input transformation (Normalize, Decorrelate, PCA), the network, the
output function (sigmoid, softmax, identity), the regression inverse transformation and, for classifiers,
TMVA's -999 for events with a NaN input are all operators of the graph.

Only operators that SOFIE's ONNX parser registers (``tmva/sofie_parsers/src/RModelParser_ONNX.cxx``) are
written: see :data:`OPERATORS`. The layers map one to one onto ONNX operators with the engine's weight
conventions (:mod:`tmvacompat.engine`): ``DENSE`` -> Gemm (transB=1), ``CONV`` -> Conv, ``CONVT`` ->
ConvTranspose, ``MAXPOOL`` -> MaxPool, ``PADDING2D`` -> Pad, ``RESHAPE`` -> Reshape, ``BNORM`` ->
BatchNormalization, ``RNN``/``LSTM``/``GRU`` -> RNN/LSTM/GRU (gates reordered to ONNX's i,o,f,c and z,r,h;
``resetGateAfter`` is ``linear_before_reset``), ``ADD`` -> Add, ``CONCAT`` -> Concat.

An autoencoder (:class:`~tmvacompat.weightfile.AEModel`) becomes one graph from the raw variables through
the input transformation, the encoder (the mean head of a VAE) and the decoder to two outputs: ``score``,
the anomaly score (the mean squared residual in the transformed space; for ``AnomalyScore=ELBO`` plus the
KL term at z = mean, deterministic there), and ``reconstruction``, the decoder output mapped back through
the inverse transformation. Means and sums over columns are Gemm products with constant columns.

Not exportable (:class:`ONNXExportError`): the Gauss and Uniform transformations (TMVA's spline PDF and
inverse error function have no ONNX operator), recurrent layers with ``rememberState`` (their output
depends on the previous batch), and models whose transformations could not be read.

Example:
    >>> import numpy as np
    >>> from tmvacompat.specs import DenseSpec
    >>> from tmvacompat.weightfile.model import Model
    >>> m = Model.from_parts(title="t", variables=["a", "b"], layers=[DenseSpec(1, "LINEAR")],
    ...     params=[{"Weights": np.array([[1.0, -1.0]]), "Biases": np.zeros((1, 1))}])
    >>> proto = to_onnx(m)  # doctest: +SKIP
    >>> [n.op_type for n in proto.graph.node][:2]  # doctest: +SKIP
    ['Gemm', 'Reshape']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from math import prod
from typing import Any

import numpy as np

from tmvacompat.errors import ONNXExportError
from tmvacompat.kinds import kind_of

#: opset written by default (ONNX 1.8+, onnxruntime, SOFIE)
DEFAULT_OPSET = 13
#: the lowest opset whose operator forms this exporter writes (Softmax over one axis, Pad with inputs)
MIN_OPSET = 13

#: every operator :func:`to_onnx` may write; all are registered by SOFIE's ONNX parser
OPERATORS = frozenset(
    {
        "Gemm", "Conv", "ConvTranspose", "MaxPool", "Pad", "Reshape", "Transpose", "Slice", "Concat",
        "BatchNormalization", "RNN", "LSTM", "GRU", "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Exp",
        "Relu", "Sigmoid", "Tanh", "Softmax", "IsNaN", "Cast", "ReduceMax", "Greater", "Or", "Where",
        "Identity",
    }
)  # fmt: skip

INPUT_NAME = "x"
OUTPUT_NAME = "mva"
#: an autoencoder graph's outputs: the anomaly score (N,) and the reconstruction (N, nvar)
AE_OUTPUTS = ("score", "reconstruction")


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as err:
        raise ONNXExportError(
            f"ONNX export needs the 'onnx' package ({err}); install it with pip install 'tmvacompat[onnx]'",
            token="onnx",
        ) from err
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initializers under construction, with unique tensor names."""

    def __init__(self, helper, numpy_helper, opset: int) -> None:
        self.helper, self.numpy_helper, self.opset = helper, numpy_helper, opset
        self.nodes: list = []
        self.inits: list = []
        self.ops: set[str] = set()
        self._n = 0
        #: the layer being exported, for messages (see tmvacompat.kinds.base.OnnxForm)
        self.where: str | None = None

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value, dtype=np.float32) -> str:
        name = self.name(hint)
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, n_out: int = 1, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        self.ops.add(op_type)
        return outs[0] if n_out == 1 else outs

    def reshape(self, x: str, shape: tuple[int, ...]) -> str:
        """``x`` reshaped to (batch, *shape)."""
        return self.op("Reshape", [x, self.const("shape", [-1, *shape], np.int64)], "reshape")

    def activation(self, x: str, activation: str) -> str:
        """TMVA's activation functions (DNN/Functions.h) as operators."""
        act = activation.upper()
        if act == "LINEAR":
            return x
        if act == "RELU":
            return self.op("Relu", [x])
        if act == "SIGMOID":
            return self.op("Sigmoid", [x])
        if act in ("TANH", "FTANH"):
            return self.op("Tanh", [x])
        if act == "SYMMRELU":
            return self.op("Abs", [x])
        if act == "SOFTSIGN":  # x / (1 + |x|)
            return self.op("Div", [x, self.op("Add", [self.op("Abs", [x]), self.const("one", 1.0)])])
        if act == "GAUSS":  # exp(-x^2)
            return self.op("Exp", [self.op("Neg", [self.op("Mul", [x, x])])])
        raise ONNXExportError(
            f"activation {activation!r} has no ONNX form", token=activation, where=self.where
        )

    def reduce_max(self, x: str, axis: int) -> str:
        if self.opset >= 18:  # axes became an input
            return self.op("ReduceMax", [x, self.const("axes", [axis], np.int64)], keepdims=0)
        return self.op("ReduceMax", [x], axes=[axis], keepdims=0)


# ------------------------------------------------------------------------------------- transformations
def _transform_name(t) -> str:
    return "Uniform" if getattr(t, "flat", False) else type(t).__name__.replace("Transform", "")


def _not_exportable_transform(t, where: str) -> ONNXExportError:
    name = _transform_name(t)
    return ONNXExportError(
        f"the {name} transformation cannot be exported to ONNX (TMVA's spline PDF and inverse error "
        "function have no ONNX operator); retrain with VarTransform=N, D or P",
        token=name,
        expected=["Normalize", "Decorrelate", "PCA"],
        where=where,
    )


def _embed(n: int, cols: np.ndarray, values, fill: float) -> np.ndarray:
    """A length-``n`` float32 vector: ``values`` at ``cols``, ``fill`` elsewhere (identity columns)."""
    v = np.full(n, fill, np.float32)
    v[cols] = np.asarray(values, np.float32)
    return v


def _block(n: int, cols: np.ndarray, block: np.ndarray) -> np.ndarray:
    """The identity of size ``n`` with ``block`` at rows and columns ``cols`` (a linear map x -> x @ A)."""
    a = np.eye(n, dtype=np.float64)
    a[np.ix_(cols, cols)] = block
    return a.astype(np.float32)


def _forward_transforms(g: _Graph, x: str, model, where: str) -> str:
    """The chain's forward on the variables (TransformChain.forward with the Reader's class choice)."""
    from tmvacompat.data.transforms import DecorrelateTransform, NormalizeTransform, PCATransform

    chain = model.transforms
    if chain is None or getattr(chain, "is_identity", False):
        return x
    nvar = len(model.variables)
    for t, pos, cols, _full in chain._vplan:
        k = t.pick(t.ref_class)
        if type(t) is NormalizeTransform:
            # (x - min) * (2 / (max - min)) - 1 in float32, the same three operations as the engine
            off, scale2 = t._offset_scale(k, pos)
            x = g.op("Sub", [x, g.const("norm_min", _embed(nvar, cols, off, 0.0))])
            x = g.op("Mul", [x, g.const("norm_scale", _embed(nvar, cols, scale2, 1.0))])
            x = g.op("Sub", [x, g.const("norm_one", _embed(nvar, cols, 1.0, 0.0))], "normalized")
        elif type(t) is DecorrelateTransform:
            m = t.matrices[k]
            if m.shape[0] != len(pos):
                raise ONNXExportError(
                    "the Decorrelate transformation mixes variables and targets", where=where
                )
            x = g.op("Gemm", [x, g.const("decorrelation", _block(nvar, cols, m.T))], "decorrelated")
        elif type(t) is PCATransform:
            if t.means.shape[1] != len(pos):
                raise ONNXExportError("the PCA transformation mixes variables and targets", where=where)
            x = g.op("Sub", [x, g.const("pca_mean", _embed(nvar, cols, t.means[k], 0.0))])
            x = g.op("Gemm", [x, g.const("pca_vectors", _block(nvar, cols, t.eigenvectors[k]))], "pca")
        else:
            raise _not_exportable_transform(t, where)
    return x


def _inverse_targets(g: _Graph, y: str, model, where: str) -> str:
    """TransformChain.inverse_targets (the first target transformation only, as TMVA does)."""
    from tmvacompat.data.transforms import NormalizeTransform, PCATransform

    chain = model.transforms
    if chain is None:
        return y
    plan = chain._tplan if len(chain._tplan) <= 1 else chain._tplan[:1]
    nt = max(1, len(model.targets))
    for t, pos, cols, _full in reversed(plan):
        if type(t) is NormalizeTransform:
            # min + (y + 1) / (2 / (max - min)) in float32, as NormalizeTransform.apply_inverse
            off, scale2 = t._offset_scale(t.pick(t.ref_class), pos)
            y = g.op("Add", [y, g.const("tgt_one", _embed(nt, cols, 1.0, 0.0))])
            y = g.op("Div", [y, g.const("tgt_scale", _embed(nt, cols, scale2, 1.0))])
            y = g.op("Add", [y, g.const("tgt_min", _embed(nt, cols, off, 0.0))], "targets")
        elif type(t) is PCATransform:
            # TMVA's P2X: the class fallback and the sum of all means, as PCATransform.apply_inverse
            cls, n_cls = t.ref_class, (t.n_sets - 1 if t.n_sets > 1 else 1)
            k = cls if 0 <= cls <= n_cls else (0 if t.n_sets == 1 else 2)
            e, mu = t.eigenvectors[k], t.means[k]
            y = g.op("Gemm", [y, g.const("tgt_pca", _block(nt, cols, e.T))])
            y = g.op("Add", [y, g.const("tgt_pca_mean", _embed(nt, cols, np.full(len(cols), mu.sum()), 0.0))])
        elif hasattr(t, "flat"):
            raise _not_exportable_transform(t, where)
        else:
            raise ONNXExportError(
                f"the {_transform_name(t)} transformation has no inverse, so the regression targets cannot "
                "be mapped back (TMVA: fatal)",
                token=_transform_name(t),
                where=where,
            )
    return y


# ------------------------------------------------------------------------------------- layers
def _layer(g: _Graph, spec, layer, p: dict[str, np.ndarray], xs: list[tuple[str, tuple]], where: str) -> str:
    """One layer's operators, by its kind's ONNX form; ``xs`` are its inputs as (tensor, engine event
    shape), previous first."""
    kind = kind_of(spec)
    if kind.onnx is None:
        raise ONNXExportError(f"layer kind {spec.kind!r} has no ONNX form", token=spec.kind, where=where)
    g.where = where
    return kind.onnx(g, spec, layer, {k: np.asarray(v, np.float32) for k, v in p.items()}, xs)


def _check_exportable(model, where: str) -> None:
    transform_error = getattr(model, "_transform_error", None)
    if transform_error:
        raise ONNXExportError(transform_error, where=where)
    if not model.network.layers:
        raise ONNXExportError("the model has no network layers", where=where)
    chain = model.transforms
    if chain is not None:
        for t in chain.transforms:
            if hasattr(t, "flat"):  # Gauss / Uniform
                raise _not_exportable_transform(t, where)


# ------------------------------------------------------------------------------------- graph pieces
def _network(g: _Graph, x: str, model, where: str) -> tuple[str, int]:
    """The nodes of ``model.network`` on the (transformed) inputs ``x`` (N, nvar): (output (N, nout), nout),
    before the output function."""
    from tmvacompat.engine.network import Network
    from tmvacompat.errors import LayoutError

    net_info = model.network
    nvar = len(model.variables)
    try:
        net = Network.build(net_info.layers, net_info.input_shape(), n_outputs=model.n_outputs,
                            nvar=nvar, dtype=np.float32)  # fmt: skip
    except LayoutError as err:
        raise ONNXExportError(f"the stored network cannot be built: {err.message}", where=where) from err
    if prod(net.input_shape) != nvar:
        raise ONNXExportError(
            f"the network takes {prod(net.input_shape)} inputs but the model has {nvar} variables",
            where=where,
        )
    if len(net.input_shape) != 1:
        x = g.reshape(x, net.input_shape)
    nodes: dict[int, tuple[str, tuple]] = {-1: (x, net.input_shape)}
    for i, (spec, layer, p) in enumerate(zip(net_info.layers, net.layers, net_info.params, strict=True)):
        xs = [nodes[s] for s in net.sources[i]]
        nodes[i] = (
            _layer(g, spec, layer, p, xs, f"{where}: layer {i} ({spec.kind})"),
            tuple(layer.output_shape),
        )
    out, out_shape = nodes[len(net.layers) - 1]
    nout = prod(out_shape)
    if len(out_shape) != 1:
        out = g.reshape(out, (nout,))
    return out, nout


def _columns(g: _Graph, t: str, start: int, stop: int, n: int) -> str:
    """Columns ``start:stop`` of the (N, n) tensor ``t``."""
    if (start, stop) == (0, n):
        return t
    consts = [g.const(k, v, np.int64) for k, v in (("starts", [start]), ("ends", [stop]), ("axes", [1]))]
    return g.op("Slice", [t, *consts], "sliced")


def _row_sum(g: _Graph, t: str, n: int, factor: float) -> str:
    """``factor`` times the sum over the columns of the (N, n) tensor ``t``, shape (N,) (a Gemm with a
    constant column: SOFIE's reductions are not needed)."""
    col = g.op("Gemm", [t, g.const("sum_weights", np.full((n, 1), factor, np.float32))], "row_sum")
    return g.op("Reshape", [col, g.const("shape", [-1], np.int64)], "values")


def _bind_output(g: _Graph, tensor: str, name: str) -> None:
    """Give the graph output ``name`` to ``tensor``: rename it where it is produced when nothing else reads
    it, else through an Identity."""
    used = any(tensor in n.input for n in g.nodes)
    producer = next((n for n in g.nodes if tensor in n.output), None)
    if producer is None or used:
        tensor = g.op("Identity", [tensor])
        producer = g.nodes[-1]
    producer.output[list(producer.output).index(tensor)] = name


def _dl_graph(g: _Graph, onnx, model, where: str, nan_response: bool) -> tuple[list, dict]:
    """The nodes of a DL / DNN model: ([(output name, shape)], metadata)."""
    _check_exportable(model, where)
    x = _forward_transforms(g, INPUT_NAME, model, where)
    out, nout = _network(g, x, model, where)
    of = model.network.output_function
    if of == "S":
        out = g.op("Sigmoid", [out], "sigmoid")
    elif of == "M":
        out = g.op("Softmax", [out], "softmax", axis=1)

    kind = model.analysis_type
    if kind == "Regression":
        nt = max(1, len(model.targets))
        out = _inverse_targets(g, _columns(g, out, 0, nt, nout), model, where)
        shape_out: list = [None, nt]
        if nt == 1:
            out = g.op("Reshape", [out, g.const("shape", [-1], np.int64)], "values")
            shape_out = [None]
    elif kind == "Multiclass":
        shape_out = [None, nout]
    else:
        out = g.op("Reshape", [_columns(g, out, 0, 1, nout), g.const("shape", [-1], np.int64)], "values")
        shape_out = [None]
        if nan_response:  # TMVA's Reader: -999 for a NaN input or a NaN response
            bad_in = g.op("Cast", [g.op("IsNaN", [INPUT_NAME])], to=onnx.TensorProto.FLOAT)
            bad_in = g.op("Greater", [g.reduce_max(bad_in, 1), g.const("half", 0.5)])
            bad = g.op("Or", [bad_in, g.op("IsNaN", [out])], "bad")
            out = g.op("Where", [bad, g.const("nan_response", -999.0), out], "values")
    _bind_output(g, out, OUTPUT_NAME)
    meta = {
        "method": f"{model.method}::{model.title}",
        "analysis_type": kind,
        "variables": ",".join(v.expression for v in model.variables),
        "classes": ",".join(model.classes),
        "targets": ",".join(v.expression for v in model.targets),
    }
    return [(OUTPUT_NAME, shape_out)], meta


def _ae_outputs(outputs, where: str) -> tuple[str, ...]:
    """The AE graph outputs asked for, checked (default: both, score first)."""
    if outputs is None:
        return AE_OUTPUTS
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    bad = [n for n in names if n not in AE_OUTPUTS]
    if bad or not names or len(set(names)) != len(names):
        raise ONNXExportError(
            f"outputs={outputs!r}: an autoencoder graph gives {' and '.join(map(repr, AE_OUTPUTS))}, each at "
            "most once",
            token=repr(bad[0] if bad else outputs),
            expected=[repr(n) for n in AE_OUTPUTS] + [repr(AE_OUTPUTS)],
            where=where,
        )
    return names


def _ae_graph(g: _Graph, model, where: str, outputs) -> tuple[list, dict]:
    """The nodes of a MethodAE model: x -> transformation -> encoder (mean) -> decoder; the score in the
    transformed space, the reconstruction through the inverse transformation."""
    names = _ae_outputs(outputs, where)
    k, nvar = model.latent_size, len(model.variables)
    encoder, decoder = model.encoder, model.decoder
    for half in (encoder, decoder):
        _check_exportable(half, where)
    xt = _forward_transforms(g, INPUT_NAME, encoder, where)
    elbo = model.score == "ELBO" and "score" in names
    # the ELBO needs the log-variance head too; the mean rows give the same values as the mean-only encoder
    enc = model._half("encoder_full") if elbo else encoder
    h, nh = _network(g, xt, enc, f"{where}: Encoder")
    mu = _columns(g, h, 0, k, nh)
    raw, nout = _network(g, mu, model._half("decoder_raw"), f"{where}: Decoder")
    if nout != nvar:
        raise ONNXExportError(
            f"the decoder gives {nout} values but the model has {nvar} variables", where=where
        )
    shapes = {"score": [None], "reconstruction": [None, nvar]}
    tensors = {}
    for name in names:
        if name == "score":  # mean over the variables of the squared difference, as AEModel.anomaly_score
            d = g.op("Sub", [xt, raw], "residual")
            out = _row_sum(g, g.op("Mul", [d, d], "squared"), nvar, 1.0 / nvar)
            if elbo:  # + KLWeight * -1/2 sum(1 + s - mu^2 - exp(s)) at z = mu
                s = _columns(g, h, k, 2 * k, nh)
                term = g.op("Sub", [g.op("Add", [s, g.const("one", 1.0)]), g.op("Mul", [mu, mu])])
                term = g.op("Sub", [term, g.op("Exp", [s])], "kl_terms")
                kl = _row_sum(g, term, k, -0.5 * float(model.kl_weight))
                out = g.op("Add", [out, kl], "elbo")
        else:
            out = _inverse_targets(g, raw, decoder, where)
        tensors[name] = out
    for name, out in tensors.items():  # after all nodes exist: renaming must not orphan a later reader
        _bind_output(g, out, name)
    meta = {
        "method": f"{model.method}::{model.title}",
        "analysis_type": model.analysis_type,
        "variables": ",".join(v.expression for v in model.variables),
        "outputs": ",".join(names),
        "anomaly_score": model.score,
        "latent_size": str(k),
        "variational": "1" if model.variational else "0",
    }
    return [(n, shapes[n]) for n in names], meta


# ------------------------------------------------------------------------------------- public API
def to_onnx(
    model,
    path: str | os.PathLike | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    batch_size: int | None = None,
    nan_response: bool = True,
    outputs: str | Sequence[str] | None = None,
) -> Any:
    """Export a DL / DNN model or an autoencoder as an ``onnx.ModelProto`` (written to ``path`` if given).

    The graph's input ``x`` is float32 ``[N, nvar]`` (the raw variables, columns in the weight file's
    order: ``[v.expression for v in model.variables]``). For a DL / DNN model its output ``mva`` is what
    :meth:`Model.evaluate` returns: ``[N]`` for a classifier or a single regression target, ``[N, k]`` for
    several targets or classes. For an :class:`~tmvacompat.weightfile.AEModel` the outputs are ``score``
    ``[N]`` (:meth:`AEModel.anomaly_score`, the MethodAE GetMvaValue: MSE in the transformed space, plus the
    KL term at z = mean for ``AnomalyScore=ELBO``) and ``reconstruction`` ``[N, nvar]``
    (:meth:`AEModel.reconstruct`, in the original variable space); ``model.encoder`` and ``model.decoder``
    export as DL models. Everything runs in float32 (a MethodDNN float64 net agrees to float32 rounding).

    Args:
        model: a :class:`~tmvacompat.weightfile.model.Model` or
            :class:`~tmvacompat.weightfile.AEModel` (``load_weights(...)`` or a trained one).
        path: where to write the ``.onnx`` file (atomically), or None.
        opset: the ONNX opset (13 to the installed onnx's newest).
        batch_size: a fixed batch dimension (SOFIE's recurrent operators need one; 1 for event-by-event
            inference), or None for a dynamic ``N``.
        nan_response: classifiers give -999 for an event with a NaN input, as TMVA's Reader (IsNaN, Cast,
            ReduceMax, Greater, Or, Where operators); False leaves them out (NaN in, NaN out). An
            autoencoder's score is NaN for a NaN input, as :meth:`AEModel.anomaly_score`.
        outputs: (autoencoders only) ``"score"``, ``"reconstruction"`` or both in the order given;
            None: both, score first.

    Raises:
        ONNXExportError: a transformation or layer without an ONNX form (Gauss, Uniform, rememberState),
            an opset out of range, ``outputs`` for a model without those outputs, or no onnx package.

    >>> to_onnx(load_weights("TMVAClassification_DL.weights.xml"), "model.onnx")  # doctest: +SKIP
    >>> to_onnx(load_weights("TMVAAnomaly_AE.weights.xml"), "ae.onnx", outputs="score")  # doctest: +SKIP
    """
    onnx, helper, numpy_helper = _onnx()
    from tmvacompat.weightfile.ae_model import AEModel

    where = getattr(model, "path", None) or getattr(model, "title", "model")
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ONNXExportError(
            f"opset {opset!r} is not supported by this export", token=str(opset),
            expected=[f"an integer from {MIN_OPSET} to {newest}"],
        )  # fmt: skip
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
        raise ONNXExportError(f"batch_size must be a positive integer or None, got {batch_size!r}",
                              token=str(batch_size))  # fmt: skip
    g = _Graph(helper, numpy_helper, opset)
    if isinstance(model, AEModel):
        outs, meta = _ae_graph(g, model, where, outputs)
    else:
        if outputs is not None:
            raise ONNXExportError(
                f"outputs={outputs!r} selects an autoencoder's outputs; a {model.method} model has one "
                f"output, {OUTPUT_NAME!r}",
                token="outputs",
                expected=["outputs=None"],
                where=where,
            )
        outs, meta = _dl_graph(g, onnx, model, where, nan_response)

    nvar = len(model.variables)
    batch: int | str = batch_size if batch_size is not None else "N"
    inp = helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, [batch, nvar])
    value_infos = [
        helper.make_tensor_value_info(
            name, onnx.TensorProto.FLOAT, [batch if d is None else d for d in shape]
        )
        for name, shape in outs
    ]
    graph = helper.make_graph(g.nodes, _graph_name(model), [inp], value_infos, initializer=g.inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="tmvacompat",
                              ir_version=helper.find_min_ir_version_for(opsets))  # fmt: skip
    helper.set_model_props(proto, meta)
    unknown = g.ops - OPERATORS
    assert not unknown, f"operators outside the SOFIE list: {unknown}"
    if path is not None:
        from tmvacompat.atomicfile import atomic_path

        with atomic_path(path, error=ONNXExportError, what="ONNX file") as tmp:
            with open(tmp, "wb") as fh:
                fh.write(proto.SerializeToString())
    return proto


def _graph_name(model) -> str:
    text = f"{model.method}_{model.title}"
    return "".join(c if c.isalnum() else "_" for c in text)


__all__ = [
    "to_onnx", "ONNXExportError", "OPERATORS", "DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME", "AE_OUTPUTS",
]  # fmt: skip
