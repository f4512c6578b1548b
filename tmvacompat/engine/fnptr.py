"""Compiled Numba functions called from other kernels through their addresses, to keep cold compiles short.

When one Numba function calls another directly, Numba links the callee's code into the caller and LLVM
optimises and compiles it again there, once more for every level of calls: the fused training kernel
re-optimised its step function, and the step re-optimised every activation, loss and matrix-product kernel
it calls (about 40 % of a cold start). Here a kernel gets its callees' addresses instead (an int64 array)
and calls them with :func:`native_call`, an intrinsic that knows the callee's signature: the caller is
compiled against that signature only, so every function is compiled once, and a caller and its callees can
be compiled at the same time in different processes (see :mod:`tmvacompat.engine.warmup`). The call uses
Numba's own calling convention, so it costs what a call that LLVM did not inline costs (a few
nanoseconds), and an exception raised in the callee reaches the caller as usual.

The signature is declared in one place, a function of the argument types (``template``), and
:class:`FunctionPointer` compiles the callee for exactly that signature: a call whose arguments do not
convert safely to it is a typing error, never a call with the wrong layout.

Example:
    >>> from numba import njit, types
    >>> @njit
    ... def twice(x):
    ...     return 2 * x
    >>> sig = types.float64(types.float64)
    >>> call_f64 = native_call(lambda argtypes: sig, "call_f64")
    >>> @njit
    ... def apply(addr, x):
    ...     return call_f64(addr, (x,)) + 1
    >>> apply(pointer(twice, sig).resolve(), 3.0)
    7.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.core.typeconv import Conversion
from numba.core.typing.templates import Signature
from numba.extending import intrinsic

_lock = threading.RLock()
_pointers: dict[tuple[int, Any], FunctionPointer] = {}


class FunctionPointer:
    """``dispatcher`` compiled for ``sig``'s argument types; :meth:`resolve` gives the address a kernel
    calls it at with :func:`native_call`.

    Nothing is compiled until :meth:`resolve`, so a kernel that calls the function can be compiled first.
    """

    def __init__(self, dispatcher: Any, sig: Signature) -> None:
        if not all(t.is_precise() for t in (*sig.args, sig.return_type)):
            raise TypeError(f"function pointer signature must be precise, got {sig}")
        self.dispatcher = dispatcher
        self.sig = sig
        self._cres: Any = None
        self._address = 0

    @property
    def argtypes(self) -> tuple:
        """The argument types the callee is compiled for."""
        return tuple(self.sig.args)

    @property
    def resolved(self) -> bool:
        """Whether the callee's code is in this process (so calls need no compile or cache load)."""
        return self._address != 0

    def resolve(self) -> int:
        """Compile (or load from the cache) the callee for the signature; returns its address."""
        with _lock:
            if not self._address:
                self.dispatcher.compile(self.argtypes)
                cres = self.dispatcher.overloads[self.argtypes]
                if cres.signature.return_type != self.sig.return_type:
                    raise TypeError(
                        f"{self.dispatcher.py_func.__qualname__} returns {cres.signature.return_type} for "
                        f"{self.argtypes}, not {self.sig.return_type} as declared")
                self._cres = cres  # keeps the compiled code alive
                # the function itself (Numba's calling convention), as Numba's first-class functions use it
                self._address = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
            return self._address

    def __repr__(self) -> str:
        return f"FunctionPointer({self.dispatcher.py_func.__qualname__}: {self.sig})"


def pointer(dispatcher: Any, sig: Signature) -> FunctionPointer:
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


def native_call(template: Callable[[tuple], Signature], name: str) -> Any:
    """An intrinsic ``call(address, (args...))`` for Numba code: calls the function compiled at ``address``
    with the signature ``template(argument types)``, after converting each argument to its declared type
    (only safe conversions, such as a C-contiguous array where any layout is declared, are accepted).

    ``template`` must give the signature the callee's :class:`FunctionPointer` was made with.
    """

    def typer(typingctx: Any, address: Any, args: Any) -> Any:
        if not isinstance(address, types.Integer) or not isinstance(args, types.BaseTuple):
            return None
        tuple_type: Any = args  # a Numba tuple type (UniTuple or Tuple): both have .types
        given = list(tuple_type.types)  # as passed (literals included), what codegen converts from
        actual = [types.unliteral(t) for t in given]
        decl = template(tuple(actual))
        if len(actual) != len(decl.args):
            raise TypingError(f"{name}: {len(actual)} arguments, the callee takes {len(decl.args)}")
        for i, (a, d) in enumerate(zip(actual, decl.args, strict=True)):
            score = typingctx.can_convert(a, d)
            if score is None or score > Conversion.safe:
                raise TypingError(f"{name}: argument {i} is {a}, the callee takes {d}")

        def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
            addr, tup = llargs
            vals = [context.cast(builder, builder.extract_value(tup, i), a, d)
                    for i, (a, d) in enumerate(zip(given, decl.args, strict=True))]  # fmt: skip
            fnty = context.call_conv.get_function_type(decl.return_type, decl.args)
            fptr = builder.inttoptr(addr, fnty.as_pointer())
            status, res = context.call_conv.call_function(builder, fptr, decl.return_type, decl.args, vals)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return res

        return decl.return_type(address, args), codegen

    typer.__name__ = name
    return intrinsic(typer)


__all__ = ["FunctionPointer", "native_call", "pointer"]
