"""``RNN``, ``LSTM`` and ``GRU``: ``|stateSize|inputSize|timeSteps|rememberState|returnSequence`` (GRU adds
``|resetGateAfter``).

Input: events of timeSteps x inputSize values (TMVA takes them as 1 x T x F). Output: the last state
``(stateSize,)``, or every step's ``(timeSteps, stateSize)`` with returnSequence. TMVA keeps the weights as
[input weights of every gate, then state weights of every gate] and writes them in that order under
interleaved per-gate names (RNN/LSTMLayer.h, GRULayer.h): the k-th weight matrix is (state, input) for k
below the number of gates and (state, state) after, whatever its name says; biases are (state, 1). The LSTM
element also carries ``CellSize`` (the state size), written for TMVA and never read back.

Example:
    >>> LSTM.output_shape(LSTMSpec(3, 2, 4, return_sequence=True), (4, 2), ())
    (4, 3)
    >>> RNN.param_shapes(RNNSpec(3, 2, 4), (4, 2))
    {'InputWeights': (3, 2), 'StateWeights': (3, 3), 'Biases': (3, 1)}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tmvacompat.errors import LayoutError, ONNXExportError
from tmvacompat.kinds.base import Kind, LayoutField, MatrixShapes, Shape, XmlAttr, XmlElement, size_of


@dataclass(frozen=True)
class RNNSpec:
    """``RNN|stateSize|inputSize|timeSteps|rememberState|returnSequence``."""

    state_size: int
    input_size: int
    time_steps: int
    remember_state: bool = False
    return_sequence: bool = False
    name: str | None = None
    kind: ClassVar[str] = "RNN"


@dataclass(frozen=True)
class LSTMSpec:
    """``LSTM|stateSize|inputSize|timeSteps|rememberState|returnSequence``."""

    state_size: int
    input_size: int
    time_steps: int
    remember_state: bool = False
    return_sequence: bool = False
    name: str | None = None
    kind: ClassVar[str] = "LSTM"


@dataclass(frozen=True)
class GRUSpec:
    """``GRU|stateSize|inputSize|timeSteps|rememberState|returnSequence|resetGateAfter``."""

    state_size: int
    input_size: int
    time_steps: int
    remember_state: bool = False
    return_sequence: bool = False
    reset_gate_after: bool = False
    name: str | None = None
    kind: ClassVar[str] = "GRU"


#: matrix names in write order; TMVA spells the LSTM's fourth weight matrix "OuputWeights" (sic)
RNN_MATRICES = ("InputWeights", "StateWeights", "Biases")
LSTM_MATRICES = (
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
)
GRU_MATRICES = tuple(
    f"{g}{m}" for g in ("Reset", "Update", "Candidate") for m in ("Weights", "StateWeights", "Biases")
)
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
_MATRICES = {"RNN": RNN_MATRICES, "LSTM": LSTM_MATRICES, "GRU": GRU_MATRICES}


def output_shape(spec: Any, in_shape: Shape, sources: Sequence[Shape] = ()) -> Shape:
    """``(time, state)`` with returnSequence, else ``(state,)``; the input must hold time x input values."""
    kind, S, I, T = spec.kind, spec.state_size, spec.input_size, spec.time_steps
    for what, v in (("state size", S), ("input size", I), ("time steps", T)):
        if not isinstance(v, int) or v <= 0:
            raise LayoutError(f"{kind} {what} must be a positive integer, got {v!r}", token=str(v))
    if size_of(in_shape) != T * I:
        raise LayoutError(
            f"{kind}|{S}|{I}|{T} needs events of {T} x {I} = {T * I} values (InputLayout={T}|{I}), got "
            f"input shape {tuple(in_shape)} ({size_of(in_shape)} values)",
            token=kind,
            expected=[f"input shape ({T}, {I})"],
        )
    return (T, S) if spec.return_sequence else (S,)


def param_shapes(spec: Any, in_shape: Shape) -> MatrixShapes:
    """Per gate (state, input) input weights, (state, state) state weights, (state, 1) biases."""
    s, i = spec.state_size, spec.input_size
    names = _MATRICES[spec.kind]
    weights = [n for n in names if not n.endswith("Biases")]
    n_gates = len(weights) // 2
    return {
        n: (s, 1) if n.endswith("Biases") else (s, i) if weights.index(n) < n_gates else (s, s) for n in names
    }


def event_values(spec: Any, in_shape: Shape, out_shape: Shape) -> int:
    """The output plus every step's states and gate values."""
    return size_of(out_shape) + spec.time_steps * spec.state_size * (2 * GATES[spec.kind] + 1)


def _attrs(kind: str) -> tuple[XmlAttr, ...]:
    return (
        XmlAttr("StateSize", "state_size", lo=1),
        *((XmlAttr("CellSize", "state_size", write_only=True),) if kind == "LSTM" else ()),
        XmlAttr("InputSize", "input_size", lo=1),
        XmlAttr("TimeSteps", "time_steps", lo=1),
        XmlAttr("RememberState", "remember_state", "bool", default=0),
        XmlAttr("ReturnSequence", "return_sequence", "bool", default=0),  # absent in older ROOT
        *((XmlAttr("ResetGateAfter", "reset_gate_after", "bool", default=0),) if kind == "GRU" else ()),
    )


def _layout(kind: str) -> tuple[LayoutField, ...]:
    flags = [("remember_state", "rememberState"), ("return_sequence", "returnSequence")]
    if kind == "GRU":
        flags.append(("reset_gate_after", "resetGateAfter"))
    return (
        LayoutField("state_size", "stateSize", "state size"),
        LayoutField("input_size", "inputSize", "input size"),
        LayoutField("time_steps", "timeSteps", "time steps"),
        *(LayoutField(field, token, token, "flag", optional=True) for field, token in flags),
    )


#: ONNX's gate order of each kind (its RNN, LSTM and GRU operators), as the engine layer's role suffixes
ONNX_GATES = {"RNN": ("",), "LSTM": tuple("iofc"), "GRU": tuple("zrc")}


def to_onnx(g: Any, spec: Any, layer: Any, p: dict[str, Any], xs: list[tuple[str, Shape]]) -> str:
    """ONNX's ``RNN`` / ``LSTM`` / ``GRU`` (layout 0: time-major input) with TMVA's equations
    (engine/recurrent.py); its recurrent biases are zero (TMVA has one bias per gate)."""
    if spec.remember_state:
        raise ONNXExportError(
            f"{spec.kind} with rememberState=1 cannot be exported: its output depends on the previous "
            "batch's last state, an ONNX graph starts every call from a zero state",
            token="rememberState",
            where=g.where,
        )
    S, T = layer.state_size, layer.time_steps
    # the engine layer maps the XML names to their roles (W*, U*, b*; the LSTM/GRU names are not the roles)
    for name, value in p.items():
        layer.params[name][...] = value
    gates = ONNX_GATES[spec.kind]
    W, R, b = (np.concatenate([layer.role(r + c) for c in gates])[None] for r in ("W", "U", "b"))
    b = b[0, :, 0]
    B = np.concatenate([b, np.zeros_like(b)])[None]
    xt = g.op("Transpose", [g.reshape(xs[0][0], (T, layer.input_size))], "time_major", perm=[1, 0, 2])
    name = spec.kind.lower()
    inputs = [xt, g.const(f"{name}_W", W), g.const(f"{name}_R", R), g.const("b", B)]
    attrs: dict[str, Any] = {"hidden_size": S}
    if spec.kind == "GRU":
        attrs["linear_before_reset"] = int(spec.reset_gate_after)
    ys, yh = g.op(spec.kind, inputs, name, n_out=2, **attrs)
    if spec.return_sequence:  # Y: (T, 1, N, S) -> (N, T, S)
        return g.reshape(g.op("Transpose", [ys], perm=[2, 0, 1, 3]), (T, S))
    return g.reshape(yh, (S,))  # Y_h: (1, N, S) -> (N, S)


def _kind(keyword: str, spec: type) -> Kind:
    return Kind(
        keyword=keyword,
        spec=spec,
        output_shape=output_shape,
        param_shapes=param_shapes,
        event_values=event_values,
        xml=XmlElement(f"{keyword}Layer", _attrs(keyword), _MATRICES[keyword]),
        engine=f"tmvacompat.engine.recurrent:{keyword}",
        onnx=to_onnx,
        layout=_layout(keyword),
        layout_example=f"{keyword}|12|1|10|0|1",
    )


RNN = _kind("RNN", RNNSpec)
LSTM = _kind("LSTM", LSTMSpec)
GRU = _kind("GRU", GRUSpec)
