"""Compiled Numba functions handed to other kernels as function pointers, to keep cold compiles short.

When one Numba function calls another directly, Numba links the callee's code into the caller and LLVM
optimises and compiles it again there, once more for every level of calls: the fused training kernel
re-optimised its step function, and the step re-optimised every activation, loss and matrix-product kernel
it calls (about 40 % of a cold start). A :class:`FunctionPointer` is passed as an argument instead (Numba's
first-class function type): the caller is compiled against the callee's *signature* only and calls it
through its address, so every function is compiled once, and the caller and its callees can be compiled
at the same time in different processes (see :mod:`tmvacompat.engine.warmup`). A call through a pointer
costs a few nanoseconds, nothing next to the loops these functions run.

Callees called through a pointer must not raise (Numba's C-callable wrapper cannot pass an exception on):
the engine's kernels use ``error_model="numpy"`` and no bounds checks.

Example:
    >>> from numba import njit, types
    >>> @njit
    ... def twice(x):
    ...     return 2 * x
    >>> @njit
    ... def apply(f, x):
    ...     return f(x) + 1
    >>> p = pointer(twice, types.float64(types.float64))
    >>> apply(p, 3.0)
    7.0
"""

from __future__ import annotations

import threading
from typing import Any

import numba.experimental.function_type  # noqa: F401  (registers the Numba type of pointer objects)
from numba.core import types
from numba.core.types import CompileResultWAP, WrapperAddressProtocol
from numba.extending import typeof_impl

_lock = threading.RLock()
_pointers: dict[tuple[int, Any], FunctionPointer] = {}


class FunctionPointer(WrapperAddressProtocol):
    """``dispatcher`` compiled for ``sig``'s argument types, as a Numba first-class function.

    Its Numba type (``FunctionType(sig)``) is known without compiling anything, so a kernel that takes it
    can be compiled first; the callee is compiled, or loaded from Numba's cache, when a kernel call first
    needs its address (:meth:`resolve`).
    """

    def __init__(self, dispatcher: Any, sig: types.Signature) -> None:
        if not all(t.is_precise() for t in (*sig.args, sig.return_type)):
            raise TypeError(f"function pointer signature must be precise, got {sig}")
        self.dispatcher = dispatcher
        self._sig = sig
        self._type = types.FunctionType(sig)
        self._cres: Any = None
        self._address = 0

    def signature(self) -> types.Signature:
        return self._sig

    @property
    def argtypes(self) -> tuple:
        """The argument types the callee is compiled for."""
        return tuple(self._sig.args)

    @property
    def resolved(self) -> bool:
        """Whether the callee's code is in this process (so calls need no compile or cache load)."""
        return self._address != 0

    def resolve(self) -> int:
        """Compile (or load from the cache) the callee for the signature; returns its address."""
        with _lock:
            if not self._address:
                self.dispatcher.compile(self._sig.args)
                cres = self.dispatcher.overloads[tuple(self._sig.args)]
                if cres.signature.return_type != self._sig.return_type:
                    raise TypeError(
                        f"{self.dispatcher.py_func.__qualname__} returns {cres.signature.return_type} for "
                        f"{self._sig.args}, not {self._sig.return_type} as its pointer type says")
                self._cres = cres  # keeps the compiled code alive
                self._address = CompileResultWAP(cres).__wrapper_address__()  # its C-callable wrapper
            return self._address

    def __wrapper_address__(self) -> int:
        return self._address or self.resolve()

    def __repr__(self) -> str:
        return f"FunctionPointer({self.dispatcher.py_func.__qualname__}: {self._sig})"


@typeof_impl.register(FunctionPointer)
def _typeof_pointer(val: FunctionPointer, c: Any) -> types.FunctionType:
    return val._type  # built once: Numba's generic rule builds the type anew at every kernel call


def pointer(dispatcher: Any, sig: types.Signature) -> FunctionPointer:
    """The process-wide :class:`FunctionPointer` of ``dispatcher`` for ``sig`` (resolved at most once).

    >>> from numba import njit, types
    >>> @njit
    ... def one(x):
    ...     return x
    >>> pointer(one, types.int64(types.int64)) is pointer(one, types.int64(types.int64))
    True
    """
    key = (id(dispatcher), sig)
    with _lock:
        p = _pointers.get(key)
        if p is None or p.dispatcher is not dispatcher:
            p = _pointers[key] = FunctionPointer(dispatcher, sig)
        return p


__all__ = ["FunctionPointer", "pointer"]
