"""Layer specifications: the frozen, typed form of a TMVA ``Layout`` string.

These dataclasses are the contract between the layout grammar (:mod:`tmvacompat.layout`, which parses and
formats them), the weight-file layer (which reads and writes them as XML elements) and the engine (which
builds layers from them). They hold configuration only, never parameters, and import nothing from the
package, so every layer may use them.

Every spec has a ``kind`` (TMVA's keyword) and an optional ``name`` (a graph label, see
:class:`AddSpec`). Sizes that TMVA lets the user write as a formula of the number of input variables
(``DENSE|(N+100)*2|TANH``) are kept as the formula string until :meth:`DenseSpec.resolved_width` is
called with the number of variables.

Example:
    >>> DenseSpec(width=64, activation="TANH").kind
    'DENSE'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

#: TMVA activation keywords and their ``ActivationFunction`` codes in weight files (DNN/Functions.h).
ACTIVATION_CODES: dict[str, int] = {
    "LINEAR": 0,
    "RELU": 1,
    "SIGMOID": 2,
    "TANH": 3,
    "SYMMRELU": 4,
    "SOFTSIGN": 5,
    "GAUSS": 6,
    "FTANH": 7,
}
ACTIVATION_NAMES: dict[int, str] = {v: k for k, v in ACTIVATION_CODES.items()}


@dataclass(frozen=True)
class DenseSpec:
    """``DENSE|width|activation``: y = act(x W^T + b), W of shape (width, fan_in).

    ``width`` is an int, or a formula string in ``N`` (number of input variables) such as ``"(N+100)*2"``;
    width 0 means "the number of outputs the analysis needs" (1, NClasses or NTargets).
    """

    width: int | str = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "DENSE"

    def resolved_width(self, nvar: int, noutputs: int = 1) -> int:
        """The width as a number, given the number of input variables and of outputs."""
        if isinstance(self.width, int):
            w = self.width
        else:
            from tmvacompat._formula import eval_size_formula  # pure arithmetic, no package deps

            w = eval_size_formula(self.width, nvar)
        return noutputs if w == 0 else w


@dataclass(frozen=True)
class ConvSpec:
    """``CONV|depth|filterH|filterW|strideRows|strideCols|padH|padW|act`` (TMVA's 2-D convolution)."""

    depth: int
    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    padding_height: int = 0
    padding_width: int = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "CONV"


@dataclass(frozen=True)
class ConvTransposeSpec:
    """``CONVT|depth|filterH|filterW|strideRows|strideCols|padH|padW|act``: transposed 2-D convolution.

    Output size per axis: (in - 1) * stride - 2 * pad + filter (the adjoint of :class:`ConvSpec`).
    Not a TMVA layer; tmvacompat's own extension.
    """

    depth: int
    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    padding_height: int = 0
    padding_width: int = 0
    activation: str = "TANH"
    name: str | None = None
    kind: ClassVar[str] = "CONVT"


@dataclass(frozen=True)
class MaxPoolSpec:
    """``MAXPOOL|filterH|filterW|strideRows|strideCols`` (no padding)."""

    filter_height: int
    filter_width: int
    stride_rows: int = 1
    stride_cols: int = 1
    name: str | None = None
    kind: ClassVar[str] = "MAXPOOL"


@dataclass(frozen=True)
class ReshapeSpec:
    """``RESHAPE|depth|height|width`` or ``RESHAPE|FLAT`` (flatten: dims stay 0)."""

    depth: int = 0
    height: int = 0
    width: int = 0
    flatten: bool = False
    name: str | None = None
    kind: ClassVar[str] = "RESHAPE"


@dataclass(frozen=True)
class BatchNormSpec:
    """``BNORM|momentum|epsilon``; TMVA's defaults momentum -1 (cumulative average), epsilon 1e-4."""

    momentum: float = -1.0
    epsilon: float = 1e-4
    name: str | None = None
    kind: ClassVar[str] = "BNORM"


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


@dataclass(frozen=True)
class Padding2DSpec:
    """``PADDING2D|top|bottom|left|right``: zero padding of every channel (GSoC TPaddingLayer2D)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0
    name: str | None = None
    kind: ClassVar[str] = "PADDING2D"


@dataclass(frozen=True)
class AddSpec:
    """``ADD|a|b|...``: the previous layer's output plus the outputs of the layers labelled a, b, ...

    Graph edges for residual networks. A layer is labelled by suffixing ``@label`` to its token
    (``DENSE|64|RELU@h1``); ``INPUT`` names the network input. Shapes must match.
    """

    sources: tuple[str, ...] = ()
    name: str | None = None
    kind: ClassVar[str] = "ADD"


@dataclass(frozen=True)
class ConcatSpec:
    """``CONCAT|a|b|...``: the previous layer's output concatenated (flattened) with the labelled outputs."""

    sources: tuple[str, ...] = ()
    name: str | None = None
    kind: ClassVar[str] = "CONCAT"


LayerSpec = (
    DenseSpec
    | ConvSpec
    | ConvTransposeSpec
    | MaxPoolSpec
    | ReshapeSpec
    | BatchNormSpec
    | RNNSpec
    | LSTMSpec
    | GRUSpec
    | Padding2DSpec
    | AddSpec
    | ConcatSpec
)

SPEC_CLASSES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        DenseSpec,
        ConvSpec,
        ConvTransposeSpec,
        MaxPoolSpec,
        ReshapeSpec,
        BatchNormSpec,
        RNNSpec,
        LSTMSpec,
        GRUSpec,
        Padding2DSpec,
        AddSpec,
        ConcatSpec,
    )
}


@dataclass(frozen=True)
class AutoencoderLayout:
    """``Encoder={...}Decoder={...}`` (MethodAE): two layer lists, encoder first."""

    encoder: tuple[LayerSpec, ...] = ()
    decoder: tuple[LayerSpec, ...] = ()


@dataclass(frozen=True)
class InputLayout:
    """``InputLayout=depth|height|width`` (or ``T|W`` for RNN, or ``W``), as TMVA normalises it.

    All zeros means "one row of NVar variables" (resolved by the method).
    """

    depth: int = 0
    height: int = 0
    width: int = 0

    @property
    def is_default(self) -> bool:
        return self.depth == 0 and self.height == 0 and self.width == 0


@dataclass(frozen=True)
class BatchLayout:
    """``BatchLayout=depth|height|width``; all zeros means "derived from the first phase's BatchSize"."""

    depth: int = 0
    height: int = 0
    width: int = 0

    @property
    def is_default(self) -> bool:
        return self.depth == 0 and self.height == 0 and self.width == 0


@dataclass(frozen=True)
class TrainingPhase:
    """One ``|``-separated phase of ``TrainingStrategy``, with TMVA's per-key fallback defaults."""

    learning_rate: float = 1e-5
    momentum: float = 0.3
    repetitions: int = 1
    convergence_steps: int = 100
    max_epochs: int = 2000
    batch_size: int = 30
    test_repetitions: int = 7
    weight_decay: float = 0.0
    regularization: str = "NONE"  # NONE, L1, L2
    drop_config: tuple[float, ...] = ()  # drop probabilities of each layer's input (0 = variables)
    optimizer: str = "ADAM"  # SGD, ADAM, ADAGRAD, RMSPROP, ADADELTA
    multithreading: bool = True
    optimizer_params: dict[str, float] = field(default_factory=dict, hash=False, compare=True)
