"""The Numba engine: layers (forward/backward), activations, losses, optimizers, initialisers, the network
graph and TMVA's minibatch trainer. It knows only arrays and layer specs (:mod:`tmvacompat.specs`): no option
strings, no XML.

Import from the submodules: ``tmvacompat.engine.network.Network``, ``tmvacompat.engine.trainer.train``,
``tmvacompat.engine.init.initialize``, ``tmvacompat.engine.losses``, ``tmvacompat.engine.optimizers``.
"""

from __future__ import annotations

from tmvacompat.engine import cachestamp as _cachestamp
from tmvacompat.engine import extensions as _extensions

_cachestamp.install()  # an edit to any engine module invalidates every engine kernel's cache
_extensions.install()  # Numba's extension packages (awkward's) load at the first compile that needs them
