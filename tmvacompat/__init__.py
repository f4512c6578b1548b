"""tmvacompat: ROOT/TMVA's deep-learning methods in Python, without ROOT."""

from __future__ import annotations

from tmvacompat.errors import (
    InputDataError,
    LayoutError,
    OptionError,
    TMVACompatError,
    TrainingError,
    WeightFileError,
)

__version__ = "0.1.0"

__all__ = [
    "TMVACompatError",
    "OptionError",
    "LayoutError",
    "WeightFileError",
    "InputDataError",
    "TrainingError",
]
