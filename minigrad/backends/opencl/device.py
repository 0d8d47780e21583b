"""What every host module of the OpenCL backend shares: the queue and memory pool, transfers,
argument checks, launch helpers and the shape/stride arithmetic of the strided kernels.

Every host function of the backend is a thin wrapper around one kernel of ``kernels/*.cl``: it
checks shapes and dtypes (messages name both), casts scalars to the kernel's types
(``np.int32(n)``, the array's float type for hyper-parameters) and enqueues. Nothing copies data
through the host except ``asarray`` / ``to_numpy`` (and index arithmetic, which is host data).
"""

import builtins
import threading
from numbers import Number

import numpy as np

from . import runtime

# The module defines sum/max/min/abs/pow as ops; the helpers below need Python's own.
_max, _min, _abs = builtins.max, builtins.min, builtins.abs

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INTS = (np.dtype(np.int32), np.dtype(np.int64))
# Dtypes a device array may hold: kernels compute in float32/float64; integer and bool arrays
# (labels, indices, comparison results) are stored, and computed on through the host.
_STORED = tuple(np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64,
                                      np.float16))
_LOCAL = 64            # work-group size of the 1-D elementwise launches
_MAX_DIMS = 8          # shapes and strides travel as OpenCL int8 vectors
_pool = threading.local()   # .by_context: context id -> this thread's memory pool
_local1d_sizes = {}     # context id -> work-group size of 1-D launches


def _cl():
    import pyopencl as cl
    return cl


def _cla():
    import pyopencl.array as cla
    return cla


def _queue():
    return runtime.get_queue()


def _allocator():
    """A memory pool: a training step allocates the same sizes every iteration. One per thread:
    pyopencl's pool is not meant to be shared, and arrays are mostly freed by the thread that
    made them."""
    key = id(runtime.get_context())
    pools = getattr(_pool, "by_context", None)
    if pools is None or key not in pools:
        from pyopencl.tools import ImmediateAllocator, MemoryPool
        _pool.by_context = pools = {key: MemoryPool(ImmediateAllocator(_queue()))}
    return pools[key]


def _empty(shape, dtype):
    with runtime.launch_lock:  # the memory pool is shared by every thread
        return _cla().empty(_queue(), tuple(int(s) for s in shape), np.dtype(dtype),
                            allocator=_allocator())


def _launch(k, gsize, lsize, *args):
    """Set a kernel's arguments and enqueue it, as one step: kernel objects are shared by every
    thread, and another thread's arguments set in between would run this launch on its data
    (seen: two threads training at once gave wrong results, then crashed)."""
    with runtime.launch_lock:
        k(_queue(), gsize, lsize, *args)


def _options(dtype) -> tuple[str, ...]:
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return ()
    if dtype == np.float64:
        if not runtime.has_fp64():
            raise NotImplementedError(
                f"float64 on OpenCL device {runtime.get_device().name!r}: no cl_khr_fp64"
            )
        return ("-DREAL_IS_DOUBLE",)
    raise TypeError(f"OpenCL kernels take float32 or float64, got {dtype}")


# The C type of each integer and bool dtype in the integer builds (-DREAL_TYPE=...), and its range.
_CTYPES = {np.dtype(np.bool_): "uchar", np.dtype(np.int8): "char", np.dtype(np.uint8): "uchar",
           np.dtype(np.int16): "short", np.dtype(np.int32): "int", np.dtype(np.int64): "long"}
_HALF = np.dtype(np.float16)


def _c_literal(v: int, ctype: str) -> str:
    if ctype == "long" and v == np.iinfo(np.int64).min:
        return "(-9223372036854775807L-1L)"
    return f"({v}{'L' if ctype == 'long' else ''})"


def _options_any(dtype) -> tuple[str, ...]:
    """Build options for ``dtype``: the float builds of :func:`_options`, or an integer build
    (``real`` is long, int, short, char or uchar; bool is uchar holding 0/1)."""
    dtype = np.dtype(dtype)
    if dtype in _FLOATS:
        return _options(dtype)
    ctype = _CTYPES.get(dtype)
    if ctype is None:
        raise TypeError(f"OpenCL kernels take bool, integer, float32 or float64 arrays, got "
                        f"{dtype}")
    lo, hi = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    opts = (f"-DREAL_TYPE={ctype}", "-DREAL_IS_INT", f"-DREAL_LOWEST={_c_literal(lo, ctype)}",
            f"-DREAL_HIGHEST={_c_literal(hi, ctype)}")
    if dtype.kind == "i":
        opts += ("-DREAL_IS_SIGNED",)
    if dtype.kind == "b":
        opts += ("-DREAL_IS_BOOL",)
    return opts


def _kernel_any(file: str, kname: str, dtype, extra: tuple[str, ...] = ()):
    """A kernel of ``file`` built for any dtype a kernel computes in (floats, ints, bool)."""
    return runtime.kernel(file, kname, _options_any(dtype) + tuple(extra))


def _check_any(a, op: str, what: str = "a"):
    """A device array of any dtype the integer or float kernels take, without offset."""
    if not _is_array(a):
        raise TypeError(f"{op}: {what} must be a pyopencl.array.Array, got {type(a).__name__}")
    if a.dtype not in _FLOATS and a.dtype not in _CTYPES:
        raise TypeError(f"{op}: {what} has dtype {a.dtype}, expected bool, an integer type, "
                        f"float32 or float64")
    return _contiguous(a, op, what)


def _kernel(file: str, kname: str, dtype):
    """A helper kernel (im2col, pack_a, ...) by its own name."""
    return runtime.kernel(file, kname, _options(dtype))


def _op_kernel(file: str, op: str, dtype):
    """The kernel of library op ``op``: ``<op>_kernel`` (op names like exp or max are OpenCL C
    built-ins and cannot name a kernel themselves)."""
    return runtime.kernel(file, op + "_kernel", _options(dtype))


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _i(n) -> np.int32:
    return np.int32(n)


def _is_scalar(x) -> bool:
    return isinstance(x, Number) or (isinstance(x, np.ndarray) and x.ndim == 0)


def _is_array(x) -> bool:
    return isinstance(x, _cla().Array)


def _check(a, op: str, what: str = "a"):
    """The array an op may trust: a float device array without offset (kernels index from 0)."""
    if not _is_array(a):
        raise TypeError(f"{op}: {what} must be a pyopencl.array.Array, got {type(a).__name__}")
    if a.dtype not in _FLOATS:
        raise TypeError(f"{op}: {what} has dtype {a.dtype}, expected float32 or float64")
    return _contiguous(a, op, what)


def _contiguous(a, op: str, what: str):
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {what} of shape {a.shape} is not C-contiguous")
    if a.offset:
        a = a.copy()        # a slice of a bigger buffer: kernels address from the start
    return a


def _same_dtype(op: str, *arrays):
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: dtypes differ: {', '.join(str(a.dtype) for a in arrays)}")


def _same_shape(op: str, a, b, names=("a", "b")):
    if a.shape != b.shape:
        raise ValueError(f"{op}: {names[0]} has shape {a.shape} but {names[1]} has {b.shape}")


def _local1d() -> int:
    """Work-group size of 1-D launches: 64 suits GPUs; PoCL runs a CPU work-group as one loop
    (vectorised across work-items), and 64-item groups left the per-group overhead dominant
    (a 1.2M-element relu: 0.40 ms at 64, 0.13 ms at 1024, measured)."""
    key = id(runtime.get_context())
    size = _local1d_sizes.get(key)
    if size is None:
        size = _local1d_sizes[key] = 1024 if runtime.device_is_cpu() else _LOCAL
    return size


def _run1d(k, n: int, *args):
    if n == 0:
        return
    local = _local1d()
    if n <= local // 4:
        local = _LOCAL          # tiny arrays: don't run 1024 work-items for a few elements
    _launch(k, (_round_up(n, local),), (local,), *args)


def _run(k, gsize, *args):
    """A 2-D/3-D launch; dimension 0 is padded up to the local size (kernels check bounds)."""
    gsize = [int(g) for g in gsize]
    if 0 in gsize:
        return
    local0 = _min(_LOCAL, 1 << (gsize[0] - 1).bit_length())
    gsize[0] = _round_up(gsize[0], local0)
    _launch(k, tuple(gsize), (local0,) + (1,) * (len(gsize) - 1), *args)


def _int8(values) -> np.ndarray:
    values = list(values) + [0] * (_MAX_DIMS - len(values))
    return _cl().cltypes.make_int8(*values)


def _contiguous_strides(shape) -> list[int]:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= s
    return strides[::-1]


def _broadcast_strides(shape, out_shape) -> list[int]:
    """Element strides of a contiguous ``shape`` viewed as ``out_shape`` (0 where stretched)."""
    pad = len(out_shape) - len(shape)
    strides = [0] * pad + _contiguous_strides(shape)
    full = (1,) * pad + tuple(shape)
    return [0 if full[d] == 1 and out_shape[d] != 1 else strides[d] for d in range(len(out_shape))]


def _collapse(shape, *strides):
    """Merge neighbouring dims that are contiguous for every operand, drop size-1 dims: the
    kernels' index arithmetic then runs over as few dims as possible (usually one)."""
    dims = [(s, [st[d] for st in strides]) for d, s in enumerate(shape) if s != 1]
    if not dims:
        return [1], [[0] for _ in strides]
    out = [dims[0]]
    for s, st in dims[1:]:
        ps, pst = out[-1]
        if all(pst[k] == st[k] * s for k in range(len(strides))):
            out[-1] = (ps * s, st)
        else:
            out.append((s, st))
    if len(out) > _MAX_DIMS:
        raise NotImplementedError(
            f"opencl: arrays of more than {_MAX_DIMS} non-mergeable dims (shape {shape})"
        )
    return [s for s, _ in out], [[st[k] for _, st in out] for k in range(len(strides))]


# ---- transfer and creation ------------------------------------------------------------------

def asarray(x, dtype=None):
    """Host -> device copy (C-contiguous); a device array of the right dtype is returned as is."""
    if _is_array(x):
        if dtype is None or np.dtype(dtype) == x.dtype:
            return x
        return asarray(x.get(), dtype)
    shape = np.shape(x)
    arr = np.ascontiguousarray(x, dtype=dtype).reshape(shape)  # (which made 0-d input 1-d)
    if arr.dtype not in _FLOATS + _STORED:
        raise TypeError(f"asarray: dtype {arr.dtype} cannot live on an OpenCL device (floats, "
                        f"integers and bool can)")
    if arr.dtype == np.float64:
        _options(arr.dtype)                # refuse early on a device without fp64
    out = _empty(arr.shape, arr.dtype)
    if arr.size:
        out.set(arr)
    return out


def to_numpy(a) -> np.ndarray:
    """Device -> host copy."""
    if isinstance(a, np.ndarray):
        return a
    return a.get()


def full(shape, value, dtype=np.float32):
    """``np.full(shape, value, dtype)`` on the device (a driver fill, no kernel to build)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    out = _empty(shape, dtype)
    if out.size:
        pattern = np.array([value], dtype=out.dtype)
        _cl().enqueue_fill_buffer(_queue(), out.data, pattern, 0, out.nbytes)
    return out


def zeros(shape, dtype=np.float32):
    return full(shape, 0, dtype)


def _pair(v, what):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair, got {v!r}")
    return int(pair[0]), int(pair[1])
