"""Array views for the engine's kernels, built directly (no reshape), and the address of an array's data.

Numba compiles ``buf[off:off + r * c].reshape(r, c)`` and ``a.reshape(a.size)`` into a call to its generic
reshape helper, which works out the new strides for any layout: about 40 ns per view on this machine. The
one-event inference kernel makes some twenty views per call (1 us of its ~4), the training step several per
layer. The intrinsics here fill the array structure in place (pointer, shape, strides; the same memory
owner) in a few instructions. They do not check their arguments: callers pass a 1-D C-contiguous buffer
and ranges inside it, as the engine's offset tables guarantee.

Example:
    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def corner(buf):
    ...     return view2d(buf, 2, 2, 3)[1, 0]
    >>> corner(np.arange(10.0))
    5.0
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


def _build(context, builder, src_type, src, ret_type, offset, shape):
    """A C-contiguous view of ``shape`` on the data of ``src`` (an array value) from element ``offset``."""
    ary = context.make_array(src_type)(context, builder, src)
    out = context.make_array(ret_type)(context, builder)
    itemsize = ary.itemsize
    strides = []
    stride = itemsize
    for dim in reversed(shape):
        strides.append(stride)
        stride = builder.mul(stride, dim)
    populate_array(
        out,
        data=builder.gep(ary.data, [offset]),
        shape=shape,
        strides=list(reversed(strides)),
        itemsize=itemsize,
        meminfo=ary.meminfo,
        parent=ary.parent,
    )
    return impl_ret_borrowed(context, builder, ret_type, out._getvalue())  # the view holds a reference


@intrinsic
def view2d(typingctx, buf, off, rows, cols):
    """A (rows, cols) C-contiguous view of the 1-D C-contiguous ``buf`` from element ``off``."""
    if not (isinstance(buf, types.Array) and buf.ndim == 1 and buf.layout == "C"):
        return None
    ret = buf.copy(ndim=2, layout="C")

    def codegen(context, builder, sig, args):
        ints = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], sig.args[1:], strict=True)]
        return _build(context, builder, sig.args[0], args[0], ret, ints[0], ints[1:])

    return ret(buf, types.intp, types.intp, types.intp), codegen


@intrinsic
def flat(typingctx, arr):
    """All elements of the C-contiguous ``arr`` as a 1-D view."""
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None
    ret = arr.copy(ndim=1, layout="C")

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        size = context.get_constant(types.intp, 1)
        for dim in cgutils.unpack_tuple(builder, ary.shape, sig.args[0].ndim):
            size = builder.mul(size, dim)
        zero = context.get_constant(types.intp, 0)
        return _build(context, builder, sig.args[0], args[0], ret, zero, [size])

    return ret(arr), codegen


@intrinsic
def data_address(typingctx, arr):
    """The address of ``arr``'s first element as an integer (``arr.ctypes.data`` costs about a second of
    compile time in the kernel that uses it; this is one instruction)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.ptrtoint(ary.data, context.get_value_type(types.intp))

    return types.intp(arr), codegen


@intrinsic
def array_at(typingctx, addr, n, like):
    """A 1-D C-contiguous array of ``n`` elements of ``like``'s dtype at the address ``addr`` (an integer,
    e.g. from ``ndarray.ctypes.data``). It owns nothing: the caller keeps that memory alive while the
    array is used. Lets a kernel take several arrays through one int64 array of addresses (Numba's entry
    point unboxes each array argument: ~90 ns apiece, an integer ~20)."""
    if not (isinstance(addr, types.Integer) and isinstance(n, types.Integer)
            and isinstance(like, types.Array)):  # fmt: skip
        return None
    ret = types.Array(like.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        out = context.make_array(ret)(context, builder)
        data_type = context.get_data_type(like.dtype)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(data_type))
        address = context.cast(builder, args[0], sig.args[0], types.intp)
        populate_array(
            out,
            data=builder.inttoptr(address, data_type.as_pointer()),
            shape=[context.cast(builder, args[1], sig.args[1], types.intp)],
            strides=[itemsize],
            itemsize=itemsize,
            meminfo=None,
        )
        return out._getvalue()

    return ret(addr, n, like), codegen


__all__ = ["view2d", "flat", "data_address", "array_at"]
