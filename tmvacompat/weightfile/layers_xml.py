"""Layer elements of a MethodDL ``<Weights>`` block: attributes, matrix names and matrix shapes.

One table says, for every layer element TMVA (and tmvacompat) writes, which attributes it carries in which
order, which matrix children follow, and what shape each matrix must have given the layer's input shape.
The reader uses it to check ``Rows x Columns`` *before* allocating anything; the writer uses it to emit the
same element names and attribute order TMVA does.

Shapes are tracked per event as ``(depth, height, width)`` triples, TMVA's own convention: a dense
activation of n values is ``(1, 1, n)``, an image ``(C, H, W)``, a sequence of T steps of F features
``(1, T, F)`` (TMVA's RNN layers take their input as ``1 x T x F``).

Facts taken from TMVA's layer headers (``tmva/tmva/inc/TMVA/DNN/``): ``DenseLayer.h`` (Weights
width x fan_in, Biases width x 1), ``CNN/ConvLayer.h`` (Weights depth x (inDepth*fH*fW), Biases depth x 1,
output (in - f + 2 pad) / stride + 1), ``BatchNormLayer.h`` (four 1 x normDim matrices, normDim = C for a
channel axis, C*H*W otherwise), ``RNN/RNNLayer.h`` (InputWeights state x input, StateWeights state x state,
Biases state x 1), ``RNN/LSTMLayer.h`` and ``RNN/GRULayer.h`` (weights stored as all gates' input matrices
then all gates' state matrices, written in that order under interleaved per-gate names), ``tmvadnn/root``
``CNN/PaddingLayer.h`` (``PaddingLayer2D`` with Left/Right/Top/BottomPad, no matrices).

Example:
    >>> from tmvacompat.specs import DenseSpec
    >>> expected_shapes(DenseSpec(width=3, activation="TANH"), (1, 1, 2), {})
    ({'Weights': (3, 2), 'Biases': (3, 1)}, (1, 1, 3))
"""

from __future__ import annotations

from collections.abc import Mapping

from tmvacompat.errors import WeightFileError
from tmvacompat.specs import (
    ACTIVATION_CODES,
    AddSpec,
    BatchNormSpec,
    ConcatSpec,
    ConvSpec,
    ConvTransposeSpec,
    DenseSpec,
    GRUSpec,
    LSTMSpec,
    MaxPoolSpec,
    Padding2DSpec,
    ReshapeSpec,
    RNNSpec,
)

Shape = tuple[int, int, int]

#: XML element name per spec kind (ConvTransposeLayer, AddLayer, ConcatLayer are tmvacompat extensions;
#: TMVA::Reader cannot load files that contain them).
ELEMENT_OF_KIND: dict[str, str] = {
    "DENSE": "DenseLayer",
    "CONV": "ConvLayer",
    "CONVT": "ConvTransposeLayer",
    "MAXPOOL": "MaxPoolLayer",
    "RESHAPE": "ReshapeLayer",
    "BNORM": "BatchNormLayer",
    "RNN": "RNNLayer",
    "LSTM": "LSTMLayer",
    "GRU": "GRULayer",
    "PADDING2D": "PaddingLayer2D",
    "ADD": "AddLayer",
    "CONCAT": "ConcatLayer",
}
KIND_OF_ELEMENT: dict[str, str] = {v: k for k, v in ELEMENT_OF_KIND.items()}
#: Elements only tmvacompat writes (TMVA::Reader refuses them).
EXTENSION_ELEMENTS = frozenset({"ConvTransposeLayer", "AddLayer", "ConcatLayer"})

_GATES_LSTM = ("Input", "Forget", "Candidate", "Output")
_GATES_GRU = ("Reset", "Update", "Candidate")

#: Matrix children per element, in TMVA's write order.
MATRIX_NAMES: dict[str, tuple[str, ...]] = {
    "DenseLayer": ("Weights", "Biases"),
    "ConvLayer": ("Weights", "Biases"),
    "ConvTransposeLayer": ("Weights", "Biases"),
    "MaxPoolLayer": (),
    "ReshapeLayer": (),
    "BatchNormLayer": ("Training-mu", "Training-variance", "Gamma", "Beta"),
    "RNNLayer": ("InputWeights", "StateWeights", "Biases"),
    # TMVA spells the output-gate input weights "OuputWeights" (sic); kept for compatibility.
    "LSTMLayer": (
        "InputWeights",
        "InputStateWeights",
        "InputBiases",
        "ForgetWeights",
        "ForgetStateWeights",
        "ForgetBiases",
        "CandidateWeights",
        "CandidateStateWeights",
        "CandidateBiases",
        "OuputWeights",
        "OutputStateWeights",
        "OutputBiases",
    ),
    "GRULayer": tuple(f"{g}{m}" for g in _GATES_GRU for m in ("Weights", "StateWeights", "Biases")),
    "PaddingLayer2D": (),
    "AddLayer": (),
    "ConcatLayer": (),
}


def _size(shape: Shape) -> int:
    return shape[0] * shape[1] * shape[2]


def _conv_dim(n: int, f: int, pad: int, stride: int, what: str, where: str) -> int:
    span = n - f + 2 * pad
    if stride <= 0 or span < 0 or span % stride:
        raise WeightFileError(
            f"{what}: input {n}, filter {f}, padding {pad}, stride {stride} do not tile "
            f"((in - filter + 2*pad) must be a non-negative multiple of stride)",
            where=where,
        )
    return span // stride + 1


def expected_shapes(
    spec, in_shape: Shape, labelled: Mapping[str, Shape], where: str = "layer"
) -> tuple[dict[str, tuple[int, int]], Shape]:
    """Matrix shapes (name -> (rows, cols)) a layer must carry, and its output shape.

    ``labelled`` maps layer labels (and ``"INPUT"``) to their output shapes, for ADD/CONCAT.
    For BNORM both possible normalisation dimensions are legal; the value returned is the one TMVA
    uses for this input (channels for an image with depth > 1, every value otherwise).

    Raises:
        WeightFileError: the layer does not fit its input (names the layer via ``where``).
    """
    d, h, w = in_shape
    if isinstance(spec, DenseSpec):
        if not isinstance(spec.width, int) or spec.width <= 0:
            raise WeightFileError(
                f"DenseLayer width {spec.width!r} must be a resolved positive integer "
                "(use DenseSpec.resolved_width)",
                token=str(spec.width),
                where=where,
            )
        width = spec.width
        return {"Weights": (width, _size(in_shape)), "Biases": (width, 1)}, (1, 1, width)
    if isinstance(spec, ConvSpec):
        oh = _conv_dim(h, spec.filter_height, spec.padding_height, spec.stride_rows, "ConvLayer rows", where)
        ow = _conv_dim(w, spec.filter_width, spec.padding_width, spec.stride_cols, "ConvLayer columns", where)
        return (
            {"Weights": (spec.depth, d * spec.filter_height * spec.filter_width), "Biases": (spec.depth, 1)},
            (spec.depth, oh, ow),
        )
    if isinstance(spec, ConvTransposeSpec):
        oh = (h - 1) * spec.stride_rows - 2 * spec.padding_height + spec.filter_height
        ow = (w - 1) * spec.stride_cols - 2 * spec.padding_width + spec.filter_width
        if oh <= 0 or ow <= 0:
            raise WeightFileError(f"ConvTransposeLayer output would be {oh} x {ow}", where=where)
        return (
            {"Weights": (d, spec.depth * spec.filter_height * spec.filter_width), "Biases": (spec.depth, 1)},
            (spec.depth, oh, ow),
        )
    if isinstance(spec, MaxPoolSpec):
        oh = _conv_dim(h, spec.filter_height, 0, spec.stride_rows, "MaxPoolLayer rows", where)
        ow = _conv_dim(w, spec.filter_width, 0, spec.stride_cols, "MaxPoolLayer columns", where)
        return {}, (d, oh, ow)
    if isinstance(spec, ReshapeSpec):
        if spec.flatten:
            return {}, (1, 1, _size(in_shape))
        out = (spec.depth, spec.height, spec.width)
        if _size(out) != _size(in_shape):
            raise WeightFileError(
                f"ReshapeLayer to {out} does not keep the {_size(in_shape)} values of its input {in_shape}",
                where=where,
            )
        return {}, out
    if isinstance(spec, BatchNormSpec):
        norm = d if d > 1 else _size(in_shape)
        return {n: (1, norm) for n in MATRIX_NAMES["BatchNormLayer"]}, in_shape
    if isinstance(spec, (RNNSpec, LSTMSpec, GRUSpec)):
        s, i = spec.state_size, spec.input_size
        if h * w * d != spec.time_steps * i:
            raise WeightFileError(
                f"{ELEMENT_OF_KIND[spec.kind]} expects {spec.time_steps} time steps x {i} inputs "
                f"but its input has shape {in_shape}",
                where=where,
            )
        element = ELEMENT_OF_KIND[spec.kind]
        shapes: dict[str, tuple[int, int]] = {}
        # TMVA keeps the weights as [input weights of every gate, then state weights of every gate] and
        # writes them in that order under per-gate names (RNN/LSTMLayer.h, GRULayer.h): the k-th weight
        # matrix is (state, input) for k < number of gates, (state, state) after, whatever its name says.
        names = MATRIX_NAMES[element]
        weight_names = [n for n in names if not n.endswith("Biases")]
        n_gates = len(weight_names) // 2
        for name in names:
            if name.endswith("Biases"):
                shapes[name] = (s, 1)
            else:
                shapes[name] = (s, i) if weight_names.index(name) < n_gates else (s, s)
        out = (1, spec.time_steps if spec.return_sequence else 1, s)
        return shapes, out
    if isinstance(spec, Padding2DSpec):
        return {}, (d, h + spec.top + spec.bottom, w + spec.left + spec.right)
    if isinstance(spec, (AddSpec, ConcatSpec)):
        srcs = []
        for src in spec.sources:
            if src not in labelled:
                raise WeightFileError(
                    f"{ELEMENT_OF_KIND[spec.kind]} refers to an unknown layer label {src!r}",
                    token=src,
                    expected=sorted(labelled),
                    where=where,
                )
            srcs.append(labelled[src])
        if isinstance(spec, AddSpec):
            for src, shp in zip(spec.sources, srcs, strict=True):
                if _size(shp) != _size(in_shape):
                    raise WeightFileError(
                        f"AddLayer source {src!r} has shape {shp}, the previous layer {in_shape}", where=where
                    )
            return {}, in_shape
        return {}, (1, 1, _size(in_shape) + sum(_size(s) for s in srcs))
    raise WeightFileError(f"unsupported layer spec {spec!r}", where=where)


def layer_attributes(spec) -> list[tuple[str, object]]:
    """The element's attributes, in TMVA's order, as (name, value) with ints/floats/strings."""
    if isinstance(spec, DenseSpec):
        attrs: list[tuple[str, object]] = [
            ("Width", int(spec.width)),  # type: ignore[arg-type]
            ("ActivationFunction", ACTIVATION_CODES[spec.activation]),
        ]
    elif isinstance(spec, (ConvSpec, ConvTransposeSpec)):
        attrs = [
            ("Depth", spec.depth),
            ("FilterHeight", spec.filter_height),
            ("FilterWidth", spec.filter_width),
            ("StrideRows", spec.stride_rows),
            ("StrideCols", spec.stride_cols),
            ("PaddingHeight", spec.padding_height),
            ("PaddingWidth", spec.padding_width),
            ("ActivationFunction", ACTIVATION_CODES[spec.activation]),
        ]
    elif isinstance(spec, MaxPoolSpec):
        attrs = [
            ("FilterHeight", spec.filter_height),
            ("FilterWidth", spec.filter_width),
            ("StrideRows", spec.stride_rows),
            ("StrideCols", spec.stride_cols),
        ]
    elif isinstance(spec, ReshapeSpec):
        attrs = [
            ("Depth", spec.depth),
            ("Height", spec.height),
            ("Width", spec.width),
            ("Flattening", int(spec.flatten)),
        ]
    elif isinstance(spec, BatchNormSpec):
        attrs = [("Momentum", float(spec.momentum)), ("Epsilon", float(spec.epsilon))]
    elif isinstance(spec, (RNNSpec, LSTMSpec, GRUSpec)):
        attrs = [("StateSize", spec.state_size)]
        if isinstance(spec, LSTMSpec):
            attrs.append(("CellSize", spec.state_size))  # written by TMVA, never read back
        attrs += [
            ("InputSize", spec.input_size),
            ("TimeSteps", spec.time_steps),
            ("RememberState", int(spec.remember_state)),
            ("ReturnSequence", int(spec.return_sequence)),
        ]
        if isinstance(spec, GRUSpec):
            attrs.append(("ResetGateAfter", int(spec.reset_gate_after)))
    elif isinstance(spec, Padding2DSpec):
        attrs = [
            ("LeftPad", spec.left),
            ("RightPad", spec.right),
            ("TopPad", spec.top),
            ("BottomPad", spec.bottom),
        ]
    elif isinstance(spec, (AddSpec, ConcatSpec)):
        attrs = [("Sources", "|".join(spec.sources))]
    else:
        raise WeightFileError(f"cannot write layer spec {spec!r}", where="Weights")
    if spec.name is not None:
        attrs.append(("Name", spec.name))
    return attrs
