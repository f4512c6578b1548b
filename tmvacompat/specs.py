"""Layer specifications: the frozen, typed form of a TMVA ``Layout`` string.

These dataclasses are the contract between the layout grammar (:mod:`tmvacompat.layout`, which parses and
formats them), the weight-file layer (which reads and writes them as XML elements) and the engine (which
builds layers from them). They hold configuration only, never parameters, and import nothing from the
package but :mod:`tmvacompat.kinds` (where each layer spec lives beside the rest of its kind) and
:mod:`tmvacompat.errors`, so every layer may use them.

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

from tmvacompat.kinds import KINDS
from tmvacompat.kinds.base import ACTIVATION_CODES, ACTIVATION_NAMES
from tmvacompat.kinds.bnorm import BatchNormSpec
from tmvacompat.kinds.conv import ConvSpec, ConvTransposeSpec
from tmvacompat.kinds.dense import DenseSpec
from tmvacompat.kinds.maxpool import MaxPoolSpec
from tmvacompat.kinds.merge import AddSpec, ConcatSpec
from tmvacompat.kinds.padding2d import Padding2DSpec
from tmvacompat.kinds.recurrent import GRUSpec, LSTMSpec, RNNSpec
from tmvacompat.kinds.reshape import ReshapeSpec

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

#: keyword -> spec class, for every registered kind (:data:`tmvacompat.kinds.KINDS`)
SPEC_CLASSES: dict[str, type] = {keyword: kind.spec for keyword, kind in KINDS.items()}


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


__all__ = [
    "ACTIVATION_CODES",
    "ACTIVATION_NAMES",
    "SPEC_CLASSES",
    "LayerSpec",
    "DenseSpec",
    "ConvSpec",
    "ConvTransposeSpec",
    "MaxPoolSpec",
    "ReshapeSpec",
    "BatchNormSpec",
    "RNNSpec",
    "LSTMSpec",
    "GRUSpec",
    "Padding2DSpec",
    "AddSpec",
    "ConcatSpec",
    "AutoencoderLayout",
    "InputLayout",
    "BatchLayout",
    "TrainingPhase",
]
