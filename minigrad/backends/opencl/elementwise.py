"""The host side of ``kernels/elementwise.cl``: elementwise kernels that are not rules: comparisons,
where, clip, accumulate, and the
strided copies that transpose, broadcast_to, indexing and cat are made of.
"""

from __future__ import annotations

import numpy as np

from ...rules import ADD
from . import rules as _rules
from . import typed as _typed
from .device import (
    _FLOATS,
    _HALF,
    _broadcast_strides,
    _check,
    _check_any,
    _collapse,
    _contiguous,
    _contiguous_strides,
    _empty,
    _i,
    _int8,
    _is_array,
    _is_scalar,
    _kernel_any,
    _op_kernel,
    _run1d,
    _same_dtype,
    _same_shape,
    asarray,
    zeros,
)


def _operand(x, op, what, dtype):
    """(buffer or None, scalar, shape) for a binary kernel: a Python number becomes the scalar
    argument with a NULL buffer."""
    if _is_scalar(x):
        return None, dtype.type(x), ()
    x = _check(x, op, what)
    return x, dtype.type(0), x.shape


def _binary(op: str, a, b, out=None):
    if _is_scalar(a) and _is_scalar(b):
        raise TypeError(f"{op}: at least one operand must be a device array")
    arrays = [x for x in (a, b) if not _is_scalar(x)]
    dtype = arrays[0].dtype
    _same_dtype(op, *arrays)
    a, a_scalar, a_shape = _operand(a, op, "a", dtype)
    b, b_scalar, b_shape = _operand(b, op, "b", dtype)
    try:
        shape = np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a_shape} and {b_shape} do not broadcast") from None
    dims, (sa, sb) = _collapse(shape, _broadcast_strides(a_shape, shape),
                               _broadcast_strides(b_shape, shape))
    if out is None:
        out = _empty(shape, dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if len(dims) == 1 and sa[0] in (0, 1) and sb[0] in (0, 1) and (sa[0] or a is None) \
            and (sb[0] or b is None):
        # Contiguous arrays of the output's shape and/or scalars: the index-free kernels.
        if a is not None and b is not None:
            _run1d(_op_kernel("elementwise.cl", op + "_vv", dtype), n, out.data, a.data,
                   b.data, _i(n))
        elif a is not None:
            _run1d(_op_kernel("elementwise.cl", op + "_vs", dtype), n, out.data, a.data,
                   b_scalar, _i(n))
        else:
            _run1d(_op_kernel("elementwise.cl", op + "_sv", dtype), n, out.data, a_scalar,
                   b.data, _i(n))
        return out
    _run1d(_op_kernel("elementwise.cl", op, dtype), n, out.data,
           None if a is None else a.data, a_scalar,
           None if b is None else b.data, b_scalar,
           _i(n), _i(len(dims)), _int8(dims), _int8(sa), _int8(sb))
    return out


def gt(a, b):
    """(a > b) as 0.0 / 1.0 in a's dtype"""
    return _binary("gt", a, b)


def ge(a, b):
    return _binary("ge", a, b)


def eq(a, b):
    return _binary("eq", a, b)


def accumulate(dst, src):
    """dst += src, in place (src broadcasts to dst's shape)."""
    dst = _check(dst, "accumulate", "dst")
    src = _check(src, "accumulate", "src")
    if np.broadcast_shapes(dst.shape, src.shape) != dst.shape:
        raise ValueError(f"accumulate: src of shape {src.shape} does not broadcast to dst's "
                         f"{dst.shape}")
    _same_dtype("accumulate", dst, src)
    return _rules.elementwise(ADD, dst, src, out=dst)   # the add rule's kernel, in place


def _bounds(lo, hi):
    return -np.inf if lo is None else lo, np.inf if hi is None else hi


def clip(a, lo, hi):
    """np.clip(a, lo, hi); either bound may be None"""
    a = _check_any(a, "clip")
    if a.dtype not in _FLOATS:  # integer bounds within the type's range (the tensor engine's)
        low, high = (0, 1) if a.dtype.kind == "b" else (np.iinfo(a.dtype).min,
                                                        np.iinfo(a.dtype).max)
        lo, hi = low if lo is None else lo, high if hi is None else hi
    lo, hi = _bounds(lo, hi)
    out = _empty(a.shape, a.dtype)
    _run1d(_kernel_any("elementwise.cl", "clip_kernel", a.dtype), a.size, out.data, a.data,
           _i(a.size),
           a.dtype.type(lo), a.dtype.type(hi))
    return out


def clip_vjp(x, g, lo, hi):
    """g * ((x >= lo) & (x <= hi))"""
    x, g = _check(x, "clip_vjp", "x"), _check(g, "clip_vjp", "g")
    _same_shape("clip_vjp", x, g, ("x", "g"))
    _same_dtype("clip_vjp", x, g)
    lo, hi = _bounds(lo, hi)
    out = _empty(x.shape, x.dtype)
    _run1d(_op_kernel("elementwise.cl", "clip_vjp", x.dtype), x.size, out.data, x.data, g.data,
           _i(x.size), x.dtype.type(lo), x.dtype.type(hi))
    return out


def where(cond, a, b):
    """np.where(cond != 0, a, b), broadcasting; a or b may be a Python number. One kernel for
    every dtype of mask and operands: typed.where."""
    arrays = [x for x in (a, b) if not _is_scalar(x)]
    if not _is_array(cond):
        raise TypeError(f"where: cond must be a device array, got {type(cond).__name__}")
    _same_dtype("where", *arrays)
    return _typed.where(cond, a, b)


# ---- shapes ---------------------------------------------------------------------------------

def _copy_kernel(name, dtype):
    """A copy kernel of elementwise.cl for any dtype: float16 moves as int16 (the same bits)."""
    return _kernel_any("elementwise.cl", name, np.int16 if dtype == _HALF else dtype)


def _copy_strided(a, shape, strides, offset=0):
    """out (contiguous, ``shape``)[i] = a[offset + strided(i)]"""
    out = _empty(shape, a.dtype)
    dims, (st,) = _collapse(shape, strides)
    _run1d(_copy_kernel("copy_strided", a.dtype), out.size, out.data, a.data,
           _i(out.size), _i(offset), _i(len(dims)), _int8(dims), _int8(st))
    return out


def _copy_into(out, a, strides, offset=0):
    """out[offset + strided(i)] = a[i] (a contiguous, strides over a's shape into out)"""
    dims, (st,) = _collapse(a.shape, strides)
    _run1d(_copy_kernel("copy_into", a.dtype), a.size, out.data, a.data,
           _i(a.size), _i(offset), _i(len(dims)), _int8(dims), _int8(st))


def _check_stored(a, op, what="a"):
    """Any array a device holds (floats, integers, bool, float16): moved by the copy kernels."""
    if _is_array(a) and a.dtype == _HALF:
        return _contiguous(a, op, what)
    return _check_any(a, op, what)


def reshape(a, shape):
    """A view with the new shape (the array is contiguous, so no copy is needed)."""
    a = _check_stored(a, "reshape")
    return a.reshape(tuple(shape))


def transpose(a, axes=None):
    """np.transpose(a, axes), materialised contiguously."""
    a = _check_stored(a, "transpose")
    axes = tuple(reversed(range(a.ndim))) if axes is None else tuple(axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {a.shape}")
    strides = _contiguous_strides(a.shape)
    return _copy_strided(a, [a.shape[d] for d in axes], [strides[d] for d in axes])


def broadcast_to(a, shape):
    """np.broadcast_to(a, shape), materialised contiguously."""
    a = _check_stored(a, "broadcast_to")
    shape = tuple(shape)
    if np.broadcast_shapes(a.shape, shape) != shape:
        raise ValueError(f"broadcast_to: shape {a.shape} does not broadcast to {shape}")
    return _copy_strided(a, shape, _broadcast_strides(a.shape, shape))


def astype(a, dtype):
    """A new array (always a copy) with a's values in ``dtype``, converted on the device."""
    return _typed.astype(a, dtype)


# ---- indexing and cat -------------------------------------------------------------------------


def _is_basic(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer))
               for p in parts)


def _view(shape, key):
    """(offset, shape, element strides) of ``x[key]`` for a basic key, from a zero-size stand-in:
    numpy does the slicing arithmetic, no element is read."""
    strides = _contiguous_strides(shape)
    base = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=shape, strides=strides,
                                           writeable=False)
    parts = key if isinstance(key, tuple) else (key,)
    if not any(p is Ellipsis for p in parts):
        parts = parts + (Ellipsis,)   # so that all-int keys give a 0-d view, not a scalar copy
    v = base[parts]
    offset = v.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return offset, v.shape, list(v.strides)


def _flat_index(shape, key) -> np.ndarray:
    """The flat positions ``x[key]`` reads, for any key (host index arithmetic)."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)[key]


def index(a, key):
    """a[key]: a strided copy for ints/slices/None/Ellipsis, a gather for index arrays."""
    a = _check_stored(a, "index")
    if _is_basic(key):
        offset, shape, strides = _view(a.shape, key)
        return _copy_strided(a, shape, strides, offset)
    flat = _flat_index(a.shape, key)
    out = _empty(flat.shape, a.dtype)
    idx = asarray(np.ascontiguousarray(flat.reshape(-1)))
    _run1d(_copy_kernel("gather_kernel", a.dtype), out.size, out.data, a.data,
           idx.data, _i(out.size))
    return out


def index_vjp(g, key, shape):
    """zeros(shape) with g scattered to the positions a[key] read, summed where they repeat."""
    g = _check(g, "index_vjp", "g")
    out = zeros(tuple(shape), g.dtype)
    if _is_basic(key):
        offset, vshape, strides = _view(tuple(shape), key)
        if g.size:
            _copy_into(out, g.reshape(vshape), strides, offset)
        return out
    flat = _flat_index(tuple(shape), key).reshape(-1)
    if not flat.size:
        return out
    order = np.argsort(flat, kind="stable")
    target, start = np.unique(flat[order], return_index=True)
    start = np.append(start, flat.size).astype(np.int64)
    args = [asarray(np.ascontiguousarray(v, dtype=np.int64)) for v in (order, start, target)]
    _run1d(_op_kernel("elementwise.cl", "scatter_add", g.dtype), target.size, out.data, g.data,
           *(v.data for v in args), _i(target.size))
    return out


def cat(arrays, axis: int):
    """np.concatenate(arrays, axis): each array copied into its block of the output."""
    arrays = [_check_stored(x, "cat") for x in arrays]
    _same_dtype("cat", *arrays)
    shape = list(arrays[0].shape)
    shape[axis] = sum(x.shape[axis] for x in arrays)
    out = _empty(tuple(shape), arrays[0].dtype)
    strides = _contiguous_strides(shape)
    start = 0
    for x in arrays:
        if x.size:
            _copy_into(out, x, strides, start * strides[axis])
        start += x.shape[axis]
    return out


def gather(a, index, axis: int):
    """torch.gather / np.take_along_axis(a, index, axis) on the device, any dtype (``index``:
    int64, a's number of dims, validated and non-negative by the tensor engine)."""
    a = _check_stored(a, "gather")
    index = _check_any(index, "gather", "index")
    if index.ndim != a.ndim or a.ndim > 8:
        raise ValueError(f"gather: index of shape {index.shape} for an array of shape {a.shape}")
    if index.dtype != np.int64:
        index = _typed.astype(index, np.int64)
    out = _empty(index.shape, a.dtype)
    if out.size:
        _run1d(_copy_kernel("gather_along_kernel", a.dtype), out.size, out.data, a.data,
               index.data, _i(out.size), _i(a.ndim), _int8(index.shape),
               _int8(_contiguous_strides(a.shape)), _i(axis))
    return out


def gather_vjp(g, index, axis: int, shape):
    """zeros(shape) with g added at the positions gather read (summed where they repeat): the
    index arithmetic on the host, the sums by index_vjp's scatter kernel."""
    shape = tuple(shape)
    idx = index.get() if _is_array(index) else np.asarray(index)
    coords = list(np.indices(idx.shape, sparse=True))
    coords[axis] = idx
    flat = np.ravel_multi_index(tuple(np.broadcast_arrays(*coords)), shape) if idx.size else \
        np.zeros(idx.shape, np.int64)
    n = int(np.prod(shape, dtype=np.int64))
    return index_vjp(_check(g, "gather_vjp", "g").reshape((g.size,)), flat.reshape(-1),
                     (n,)).reshape(shape)
