"""TMVA weight files: read, evaluate and write MethodDL (``DL::``), MethodDNN (``DNN::``) and tmvacompat's
MethodAE (``AE::``, :class:`AEModel`) XML.

Example:
    >>> from tmvacompat.weightfile import load_weights          # doctest: +SKIP
    >>> model = load_weights("dataset/weights/TMVAClassification_DL.weights.xml")  # doctest: +SKIP
    >>> model.evaluate(tree)                                    # doctest: +SKIP
    >>> model.save("copy.weights.xml")                          # doctest: +SKIP

Files holding tmvacompat's own layers (``ConvTransposeLayer``, ``AddLayer``, ``ConcatLayer``) are read and
written here but cannot be loaded by ROOT's ``TMVA::Reader``.
"""

from __future__ import annotations

from tmvacompat.weightfile.ae_model import AEModel
from tmvacompat.weightfile.model import Model, NetworkInfo, VariableInfo
from tmvacompat.weightfile.xmlread import SUPPORTED_METHODS, load_weights, model_from_bytes

__all__ = [
    "AEModel",
    "Model",
    "NetworkInfo",
    "VariableInfo",
    "load_weights",
    "model_from_bytes",
    "SUPPORTED_METHODS",
]
