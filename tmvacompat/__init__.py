"""tmvacompat: ROOT/TMVA's deep-learning methods in Python, without ROOT.

The grammar (``parse_options``, ``parse_layout``, ...) and the error classes load at once; the data,
engine and weight-file faces (``DataLoader``, ``Factory``, ``Reader``, ``load_weights``, ...) load on first
use, so ``import tmvacompat`` stays quick.

Example:
    >>> import tmvacompat as t
    >>> [s.kind for s in t.parse_layout("CONV|10|3|3|1|1|1|1|RELU,MAXPOOL|2|2|1|1,RESHAPE|FLAT,DENSE|64")]
    ['CONV', 'MAXPOOL', 'RESHAPE', 'DENSE']
"""

from __future__ import annotations

import importlib
from typing import Any

from tmvacompat.errors import (
    InputDataError,
    InputFileNotFoundError,
    InputNotFoundError,
    LayoutError,
    OptionError,
    SizeLimitError,
    TMVACompatError,
    TrainingError,
    WeightFileError,
    WeightFileNotFoundError,
)
from tmvacompat.layout import (
    format_layout,
    parse_ae_layout,
    parse_batch_layout,
    parse_input_layout,
    parse_layout,
)
from tmvacompat.options import (
    Option,
    OptionSet,
    TMVACompatWarning,
    format_training_strategy,
    parse_options,
    parse_training_strategy,
    training_phases,
)

__version__ = "0.1.0"

_LAZY = {
    "DataLoader": "tmvacompat.data.loader",
    "DataSet": "tmvacompat.data.dataset",
    "Factory": "tmvacompat.factory",
    "CrossValidation": "tmvacompat.crossvalidation",
    "Types": "tmvacompat.factory",
    "MethodDL": "tmvacompat.methods.dl",
    "Reader": "tmvacompat.reader",
    "Model": "tmvacompat.weightfile",
    "load_weights": "tmvacompat.weightfile",
    "parse_var_transform": "tmvacompat.data.transforms",
    "TransformChain": "tmvacompat.data.transforms",
    "to_onnx": "tmvacompat.onnx_export",
    "DLClassifier": "tmvacompat.sklearn",
    "DLRegressor": "tmvacompat.sklearn",
    "AutoEncoder": "tmvacompat.sklearn",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tmvacompat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "TMVACompatError",
    "OptionError",
    "LayoutError",
    "WeightFileError",
    "InputDataError",
    "TrainingError",
    "InputFileNotFoundError",
    "InputNotFoundError",
    "WeightFileNotFoundError",
    "SizeLimitError",
    "TMVACompatWarning",
    "Option",
    "OptionSet",
    "parse_options",
    "parse_training_strategy",
    "training_phases",
    "format_training_strategy",
    "parse_layout",
    "parse_ae_layout",
    "format_layout",
    "parse_input_layout",
    "parse_batch_layout",
    *_LAZY,
]
