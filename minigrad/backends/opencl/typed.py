"""The host side of ``kernels/typed.cl``: dtypes on the device. Casts between any two dtypes
(float16 as storage: read and written with vload_half / vstore_half, which need no cl_khr_fp16),
the ops without a gradient (comparisons, logic, bits, integer floor division and remainder),
where with a mask of any dtype, argmax / argmin / any / all, and products.

Integer and bool arrays are computed on by kernels built for their C type (``device.
_options_any``), with numpy's results (which the cpu engine has) bit for bit. float16 is
computed in float32 on the device, each op's result rounded back to float16, as PyTorch's CPU
does (:func:`via_float32`); so no device needs cl_khr_fp16.

>>> import numpy as np
>>> from minigrad.backends.opencl import typed, device
>>> a = device.asarray(np.array([1, -7, 3]))                                   # doctest: +SKIP
>>> device.to_numpy(typed.ufunc("floor_divide", a, 2))                        # doctest: +SKIP
array([ 0, -4,  1])
"""

from __future__ import annotations

import functools

import numpy as np

from .. import reference
from . import runtime
from .device import (
    _CTYPES,
    _FLOATS,
    _HALF,
    _broadcast_strides,
    _check_any,
    _cl,
    _collapse,
    _contiguous,
    _empty,
    _i,
    _int8,
    _is_array,
    _is_scalar,
    _kernel_any,
    _max,
    _min,
    _options,
    _options_any,
    _queue,
    _run,
    _run1d,
    asarray,
    full,
)
from .host import on_host

_F32 = np.dtype(np.float32)
_BOOL = np.dtype(np.bool_)
_BOOL_OUT = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
             "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf",
             "isfinite")
_INT_ONLY = ("bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
             "floor_divide", "remainder")
_COMPARE8 = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
_UNARY = ("logical_not", "invert", "isnan", "isinf", "isfinite")


def _ctype(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return "float"
    if dtype == np.float64:
        return "double"
    return _CTYPES[dtype]


# ---- casts -----------------------------------------------------------------------------------


def astype(a, dtype):
    """A new device array (always a copy) with a's values in ``dtype``, converted on the device:
    floats to integers truncate toward 0 (through int64, as numpy on x86), anything to bool is
    ``x != 0``, float16 rounds to nearest even."""
    dtype = np.dtype(dtype)
    a = _contiguous(a, "astype", "a")
    src = a.dtype
    if dtype == src:
        return a.copy()
    if dtype not in _FLOATS + (_HALF,) and dtype not in _CTYPES:
        raise TypeError(f"astype: dtype {dtype} cannot live on an OpenCL device")
    out = _empty(a.shape, dtype)
    if not a.size:
        return out
    if src == _HALF:
        opts = ("-DREAL_TYPE=ushort", "-DREAL_IS_INT", "-DCAST_FROM_HALF")
    else:
        opts = _options_any(src)
    if dtype == _HALF:
        opts += ("-DCAST_TO_HALF", "-DCAST_TO=half")
    elif dtype == _BOOL:
        opts += ("-DCAST_TO=uchar", "-DCAST_TO_BOOL")
    else:
        if dtype == np.float64:
            _options(dtype)                      # refuses a device without fp64
            opts += ("-DCAST_FP64",)
        opts += (f"-DCAST_TO={_ctype(dtype)}",)
    _run1d(runtime.kernel("typed.cl", "cast_kernel", opts), a.size, out.data, a.data,
           _i(a.size))
    return out


def via_float32(fn):
    """``fn`` for float16 operands: each float16 device array is cast to float32 on the device,
    ``fn`` computes, and float results come back as float16 (one rounding per op, as torch's
    CPU computes float16). Other operands pass through untouched."""
    def cast(x, to):
        if _is_array(x) and x.dtype == (_HALF if to == _F32 else _F32):
            return astype(x, to)
        if isinstance(x, (list, tuple)):
            return type(x)(cast(v, to) for v in x)
        return x

    def has_half(args):
        return any((_is_array(x) and x.dtype == _HALF) or
                   (isinstance(x, (list, tuple)) and has_half(x)) for x in args)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if not has_half(args) and not has_half(tuple(kwargs.values())):
            return fn(*args, **kwargs)
        y = fn(*cast(args, _F32), **{k: cast(v, _F32) for k, v in kwargs.items()})
        return cast(y, _HALF)
    return run


def accumulate_half(accumulate):
    """``accumulate(dst, src)`` for a float16 dst: computed in float32, written back in place."""
    @functools.wraps(accumulate)
    def run(dst, src):
        if dst.dtype != _HALF:
            return accumulate(dst, src)
        total = accumulate(astype(dst, _F32), astype(src, _F32) if src.dtype == _HALF else src)
        _copy_over(dst, astype(total, _HALF))
        return dst
    return run


def _copy_over(dst, src):
    """dst's buffer := src's (same size), a device-to-device copy."""
    _cl().enqueue_copy(_queue(), dst.base_data, src.data, byte_count=src.nbytes,
                       dst_offset=dst.offset)


# ---- elementwise without a gradient ----------------------------------------------------------


def _result_dtype(xs):
    """numpy's result dtype of the operands (Python numbers are weak, as in numpy 2 and torch);
    None when numpy would refuse or fail (an int outside an integer array's range)."""
    try:
        return np.result_type(*[x.dtype if _is_array(x) else x for x in xs])
    except (TypeError, OverflowError, ValueError):
        return None


def _scalar(x, dtype):
    return dtype.type(x)


def ufunc(name: str, *xs):
    """numpy's ufunc ``name`` (reference.UFUNCS) on device arrays and numbers, in one kernel:
    comparisons and logic give bool, bit ops, floor_divide and remainder the operands' integer
    dtype. Float floor_divide/remainder (which the tensor engine computes with rules), and the
    operands numpy itself refuses, go to the reference on the host (so its errors are numpy's)."""
    if name not in reference.UFUNCS:
        raise ValueError(f"ufunc: {name!r} is not one of {reference.UFUNCS}")
    arrays = [x for x in xs if _is_array(x)]
    if not arrays:
        raise TypeError(f"{name}: at least one operand must be a device array")
    xs = tuple(x if _is_array(x) or _is_scalar(x) else asarray(np.asarray(x)) for x in xs)
    dt = _result_dtype(xs)
    if dt == _HALF:
        # float16 values are exact in float32; a number compared with a float16 array is
        # rounded to float16 first, as numpy does
        xs = tuple(astype(x, _F32) if _is_array(x) else
                   (float(np.float16(x)) if isinstance(x, float) else x) for x in xs)
        dt = _F32
    if dt is None or (dt.kind == "f" and name in _INT_ONLY) or \
            (dt not in _FLOATS and dt not in _CTYPES) or \
            (dt == np.float64 and not runtime.has_fp64()):   # int64 == 0.5 compares in float64
        return on_host("ufunc")(name, *xs)
    arrays = [x for x in xs if _is_array(x)]
    shape = tuple(np.broadcast_shapes(*[x.shape for x in arrays]))
    if dt.kind in "biu" and name in ("isnan", "isinf", "isfinite"):
        return full(shape, name == "isfinite", _BOOL)
    ops = list(xs) + ([0] if name in _UNARY else [])
    ops = [_check_any(astype(x, dt) if x.dtype != dt else x, name) if _is_array(x)
           else x for x in ops]
    (a, b) = ops
    a_shape = a.shape if _is_array(a) else ()
    b_shape = b.shape if _is_array(b) else ()
    dims, (sa, sb) = _collapse(shape, _broadcast_strides(a_shape, shape),
                               _broadcast_strides(b_shape, shape))
    out = _empty(shape, _BOOL if name in _BOOL_OUT else dt)
    n = out.size
    if not n:
        return out
    if len(dims) == 1 and sa[0] == int(_is_array(a)) and sb[0] == int(_is_array(b)):
        # contiguous arrays of the output's shape and/or scalars: the index-free kernels
        if name in _COMPARE8 and _is_array(a):
            k = _kernel_any("typed.cl", name + ("_vv8_kernel" if _is_array(b) else "_vs8_kernel"),
                            dt)
            _run1d(k, -(-n // 8), out.data, a.data, b.data if _is_array(b) else _scalar(b, dt),
                   _i(n))
        elif _is_array(a) and _is_array(b):
            _run1d(_kernel_any("typed.cl", name + "_vv_kernel", dt), n, out.data, a.data,
                   b.data, _i(n))
        elif _is_array(a):
            _run1d(_kernel_any("typed.cl", name + "_vs_kernel", dt), n, out.data, a.data,
                   _scalar(b, dt), _i(n))
        else:
            _run1d(_kernel_any("typed.cl", name + "_sv_kernel", dt), n, out.data,
                   _scalar(a, dt), b.data, _i(n))
    else:
        _run1d(_kernel_any("typed.cl", name + "_kernel", dt), n, out.data,
               a.data if _is_array(a) else None, _scalar(0 if _is_array(a) else a, dt),
               b.data if _is_array(b) else None, _scalar(0 if _is_array(b) else b, dt),
               _i(n), _i(len(dims)), _int8(dims), _int8(sa), _int8(sb))
    return out


def where(cond, a, b):
    """np.where(cond != 0, a, b) for a mask of any dtype and operands of any one dtype."""
    arrays = [x for x in (a, b) if _is_array(x)]
    dt = arrays[0].dtype if arrays else _F32
    if cond.dtype != _BOOL and cond.dtype != dt:
        cond = astype(cond, _BOOL)
    cond = _check_any(cond, "where", "cond")
    ops = [_check_any(x, "where", w) if _is_array(x) else x for x, w in ((a, "a"), (b, "b"))]
    shapes = [cond.shape] + [x.shape if _is_array(x) else () for x in ops]
    shape = tuple(np.broadcast_shapes(*shapes))
    dims, strides = _collapse(shape, *[_broadcast_strides(s, shape) for s in shapes])
    out = _empty(shape, dt)
    (a, b) = ops
    cond_type = (f"-DCOND_TYPE={_ctype(cond.dtype)}",)
    if out.size and len(dims) == 1 and all(st[0] == 1 for st in strides):
        _run1d(_kernel_any("typed.cl", "where_vvv_kernel", dt, cond_type), out.size, out.data,
               cond.data, a.data, b.data, _i(out.size))
    elif out.size:
        k = _kernel_any("typed.cl", "where_kernel", dt, cond_type)
        _run1d(k, out.size, out.data, cond.data,
               a.data if _is_array(a) else None, _scalar(0 if _is_array(a) else a, dt),
               b.data if _is_array(b) else None, _scalar(0 if _is_array(b) else b, dt),
               _i(out.size), _i(len(dims)), _int8(dims), *map(_int8, strides))
    return out


# ---- reductions to an index or a bool ----------------------------------------------------------


def _argreduce(name, a, axis, keepdims):
    """argmax / argmin over ``axis`` (None: all), read in place as (outer, L, inner)."""
    if axis is None:
        outer, L, inner, kept = 1, a.size, 1, ()
    else:
        kept = tuple(s for d, s in enumerate(a.shape) if d != axis)
        outer = int(np.prod(a.shape[:axis], dtype=np.int64))
        L, inner = a.shape[axis], int(np.prod(a.shape[axis + 1:], dtype=np.int64))
    M = outer * inner
    k = _kernel_any("typed.cl", name + "_kernel", a.dtype)
    vals, idx = a, None
    # Chunks of >= 256 elements, enough of them to keep every compute unit busy.
    want = 8 * runtime.get_device().max_compute_units
    while True:
        nchunks = _max(1, _min(-(-want // _max(M, 1)), -(-L // 256)))
        chunk = -(-L // nchunks)
        nchunks = -(-L // chunk)
        v_out = _empty((M * nchunks,), a.dtype)
        i_out = _empty((M * nchunks,), np.int64)
        _run(k, (M, nchunks), v_out.data, i_out.data, vals.data,
             None if idx is None else idx.data, _i(L), _i(inner), _i(chunk), _i(nchunks), _i(M))
        vals, idx, L, inner = v_out, i_out, nchunks, 1
        if nchunks == 1:
            break
    if keepdims:
        shape = (1,) * a.ndim if axis is None else tuple(
            1 if d == axis else s for d, s in enumerate(a.shape))
    else:
        shape = kept
    return idx.reshape(shape)


def reduce_index(name: str, a, axis, keepdims=False):
    """any, all (bool) or argmax, argmin (int64, the first on ties, the first NaN) over one axis
    or all (axis None), on the device."""
    from .reduce import max as rmax
    from .reduce import min as rmin
    if a.dtype == _HALF:
        a = astype(a, _F32)
    a = _check_any(a, name)
    if name in ("any", "all"):
        b = a if a.dtype == _BOOL else astype(a, _BOOL)
        axes = None if axis is None else (axis,)
        L = a.size if axis is None else a.shape[axis]
        if L == 0:
            shape = np.sum(np.zeros(a.shape, np.bool_), axis=axis, keepdims=keepdims).shape
            return full(shape, name == "all", _BOOL)
        return (rmax if name == "any" else rmin)(b, axes, keepdims)
    if name not in ("argmax", "argmin"):
        raise ValueError(f"reduce_index: {name!r} is not one of any, all, argmax, argmin")
    if a.size == 0:
        raise ValueError(f"{name}: an empty array (shape {a.shape}) has no {name[3:]}imum")
    return _argreduce(name, a, axis, keepdims)
