"""Numba's extension packages, loaded when a compile needs them rather than for this package's kernels.

Before its first compile (or first load from its cache) Numba imports every installed package that declares
a ``numba_extensions`` entry point. Awkward Array, which tmvacompat depends on through uproot, is one: it
imports all of awkward (~300 modules, 0.2-0.4 s, and ~30k objects that Python's garbage collector then goes
over again at exit), so every process that trains or evaluates a network paid for it once. The engine's
kernels use no extension types, so their code is the same either way.

:func:`install` wraps ``numba.core.entrypoints.init_all`` so that the extensions are not loaded while Numba
compiles or loads one of this package's functions; they load, exactly as before, at the first compile of
any other function (your own ``@njit`` code, awkward's), which Numba always starts with that call. Nothing
else about Numba changes. If Numba's internals differ from what this expects, it does nothing.

Example:
    >>> from tmvacompat.engine import extensions
    >>> extensions.install()  # done when tmvacompat.engine is imported; repeated calls do nothing
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

#: names of Numba's Dispatcher methods whose ``self`` is the function being compiled or loaded
_COMPILE_FRAMES = frozenset(("compile", "_compile_for_args", "_compilation_chain_init_hook"))
_PREFIX = __name__.split(".")[0] + "."


def _compiling_ours(frame: FrameType | None) -> bool:
    """Whether a Numba compile on this thread's stack is of a function of this package (also when the
    innermost one is Numba's own implementation of a numpy function that one of ours calls)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name in _COMPILE_FRAMES and "numba" in code.co_filename:
            py_func = getattr(frame.f_locals.get("self"), "py_func", None)
            if str(getattr(py_func, "__module__", "")).startswith(_PREFIX):
                return True
        frame = frame.f_back
    return False


def install() -> None:
    """Defer Numba's extension loading during this package's compiles (see the module doc)."""
    try:
        from numba.core import entrypoints
    except ImportError:  # pragma: no cover - Numba moved it: leave Numba as it is
        return
    real: Any = getattr(entrypoints, "init_all", None)
    if real is None or getattr(real, "_tmvacompat_deferred", False):
        return

    def init_all() -> None:
        if not getattr(entrypoints, "_already_initialized", True) and _compiling_ours(sys._getframe(1)):
            return  # the next compile that is not ours loads them
        real()

    init_all._tmvacompat_deferred = True  # type: ignore[attr-defined]
    init_all.__doc__ = real.__doc__
    entrypoints.init_all = init_all


__all__ = ["install"]
