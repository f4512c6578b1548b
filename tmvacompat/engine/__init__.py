"""The Numba engine: layers (forward/backward), activations, losses, optimizers, initialisers, the network
graph and TMVA's minibatch trainer. It knows only arrays and layer specs (:mod:`tmvacompat.specs`): no option
strings, no XML.

Import from the submodules: ``tmvacompat.engine.network.Network``, ``tmvacompat.engine.trainer.train``,
``tmvacompat.engine.init.initialize``, ``tmvacompat.engine.losses``, ``tmvacompat.engine.optimizers``.
"""

from __future__ import annotations
