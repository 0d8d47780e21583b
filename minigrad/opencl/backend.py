"""The OpenCL backend: docs/backend_protocol.md on ``pyopencl.array.Array`` (C-contiguous).

Every function is a thin host wrapper around one kernel of ``kernels/*.cl``, named like the op:
it checks shapes and dtypes (messages name both), casts scalars to the kernel's types
(``np.int32(n)``, the array's float type for hyper-parameters) and enqueues. Nothing here copies
data through the host except ``asarray`` / ``to_numpy``.

>>> import numpy as np
>>> from minigrad.opencl import backend as B
>>> B.to_numpy(B.add(B.asarray(np.ones(3, np.float32)), 1.0))        # doctest: +SKIP
array([2., 2., 2.], dtype=float32)
"""

from __future__ import annotations

import builtins
import math
from numbers import Number

import numpy as np

from minigrad.opencl import runtime

name = "opencl"

# The module defines sum/max/min/abs/pow as ops; the helpers below need Python's own.
_max, _min, _abs = builtins.max, builtins.min, builtins.abs

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INTS = (np.dtype(np.int32), np.dtype(np.int64))
_LOCAL = 64            # work-group size of the 1-D elementwise launches
_MAX_DIMS = 8          # shapes and strides travel as OpenCL int8 vectors
_pool = {}
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
    """A memory pool: a training step allocates the same sizes every iteration."""
    key = id(runtime.get_context())
    if key not in _pool:
        from pyopencl.tools import ImmediateAllocator, MemoryPool
        _pool.clear()
        _pool[key] = MemoryPool(ImmediateAllocator(_queue()))
    return _pool[key]


def _empty(shape, dtype):
    return _cla().empty(_queue(), tuple(int(s) for s in shape), np.dtype(dtype),
                        allocator=_allocator())


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
    k(_queue(), (_round_up(n, local),), (local,), *args)


def _run(k, gsize, *args):
    """A 2-D/3-D launch; dimension 0 is padded up to the local size (kernels check bounds)."""
    gsize = [int(g) for g in gsize]
    if 0 in gsize:
        return
    local0 = _min(_LOCAL, 1 << (gsize[0] - 1).bit_length())
    gsize[0] = _round_up(gsize[0], local0)
    k(_queue(), tuple(gsize), (local0,) + (1,) * (len(gsize) - 1), *args)


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
    arr = np.ascontiguousarray(x, dtype=dtype)
    if arr.dtype not in _FLOATS + _INTS:
        raise TypeError(f"asarray: dtype {arr.dtype} is not float32/float64/int32/int64")
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


# ---- elementwise ----------------------------------------------------------------------------

def _unary(op: str, a):
    a = _check(a, op)
    out = _empty(a.shape, a.dtype)
    _run1d(_op_kernel("elementwise.cl", op, a.dtype), a.size, out.data, a.data, _i(a.size))
    return out


def neg(a):
    """-a"""
    return _unary("neg", a)


def exp(a):
    return _unary("exp", a)


def log(a):
    return _unary("log", a)


def sqrt(a):
    return _unary("sqrt", a)


def sin(a):
    return _unary("sin", a)


def cos(a):
    return _unary("cos", a)


def tanh(a):
    return _unary("tanh", a)


def sigmoid(a):
    """1 / (1 + exp(-a)), without overflow for large |a|."""
    return _unary("sigmoid", a)


def relu(a):
    return _unary("relu", a)


def abs(a):  # noqa: A001 - the op's name
    return _unary("abs", a)


def sign(a):
    return _unary("sign", a)


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


def add(a, b):
    """a + b, broadcasting; either may be a Python number."""
    return _binary("add", a, b)


def sub(a, b):
    return _binary("sub", a, b)


def mul(a, b):
    return _binary("mul", a, b)


def div(a, b):
    return _binary("div", a, b)


def pow(a, b):  # noqa: A001 - the op's name
    return _binary("pow", a, b)


def maximum(a, b):
    return _binary("maximum", a, b)


def minimum(a, b):
    return _binary("minimum", a, b)


def gt(a, b):
    """(a > b) as 0.0 / 1.0 in a's dtype"""
    return _binary("gt", a, b)


def ge(a, b):
    return _binary("ge", a, b)


def eq(a, b):
    return _binary("eq", a, b)


def relu_back(x, g):
    """g * (x > 0)"""
    return _binary("relu_back", x, g)


def sigmoid_back(y, g):
    """g * y * (1 - y), y = sigmoid output"""
    return _binary("sigmoid_back", y, g)


def tanh_back(y, g):
    """g * (1 - y * y), y = tanh output"""
    return _binary("tanh_back", y, g)


def accumulate(dst, src):
    """dst += src, in place."""
    dst = _check(dst, "accumulate", "dst")
    src = _check(src, "accumulate", "src")
    _same_shape("accumulate", dst, src, ("dst", "src"))
    _same_dtype("accumulate", dst, src)
    _binary("add", dst, src, out=dst)
    return dst


def clip(a, lo, hi):
    """np.clip(a, lo, hi)"""
    a = _check(a, "clip")
    out = _empty(a.shape, a.dtype)
    _run1d(_op_kernel("elementwise.cl", "clip", a.dtype), a.size, out.data, a.data, _i(a.size),
           a.dtype.type(lo), a.dtype.type(hi))
    return out


def clip_back(x, g, lo, hi):
    """g * ((x >= lo) & (x <= hi))"""
    x, g = _check(x, "clip_back", "x"), _check(g, "clip_back", "g")
    _same_shape("clip_back", x, g, ("x", "g"))
    _same_dtype("clip_back", x, g)
    out = _empty(x.shape, x.dtype)
    _run1d(_op_kernel("elementwise.cl", "clip_back", x.dtype), x.size, out.data, x.data, g.data,
           _i(x.size), x.dtype.type(lo), x.dtype.type(hi))
    return out


def where(cond, a, b):
    """np.where(cond != 0, a, b), broadcasting; a or b may be a Python number."""
    arrays = [x for x in (a, b) if not _is_scalar(x)]
    if not _is_array(cond):
        raise TypeError(f"where: cond must be a device array, got {type(cond).__name__}")
    dtype = arrays[0].dtype if arrays else (cond.dtype if cond.dtype in _FLOATS else
                                            np.dtype(np.float32))
    _same_dtype("where", *arrays)
    if cond.dtype != dtype:
        cond = asarray(to_numpy(cond).astype(dtype))   # rare: bool/int masks from the host side
    cond = _check(cond, "where", "cond")
    a, a_scalar, a_shape = _operand(a, "where", "a", dtype)
    b, b_scalar, b_shape = _operand(b, "where", "b", dtype)
    shape = np.broadcast_shapes(cond.shape, a_shape, b_shape)
    dims, (sc, sa, sb) = _collapse(shape, _broadcast_strides(cond.shape, shape),
                                   _broadcast_strides(a_shape, shape),
                                   _broadcast_strides(b_shape, shape))
    out = _empty(shape, dtype)
    n = out.size
    _run1d(_op_kernel("elementwise.cl", "where", dtype), n, out.data, cond.data,
           None if a is None else a.data, a_scalar, None if b is None else b.data, b_scalar,
           _i(n), _i(len(dims)), _int8(dims), _int8(sc), _int8(sa), _int8(sb))
    return out


# ---- shapes ---------------------------------------------------------------------------------

def _copy_strided(a, shape, strides):
    out = _empty(shape, a.dtype)
    dims, (st,) = _collapse(shape, strides)
    _run1d(_kernel("elementwise.cl", "copy_strided", a.dtype), out.size, out.data, a.data,
           _i(out.size), _i(len(dims)), _int8(dims), _int8(st))
    return out


def reshape(a, shape):
    """A view with the new shape (the array is contiguous, so no copy is needed)."""
    a = _check(a, "reshape")
    return a.reshape(tuple(shape))


def transpose(a, axes=None):
    """np.transpose(a, axes), materialised contiguously."""
    a = _check(a, "transpose")
    axes = tuple(reversed(range(a.ndim))) if axes is None else tuple(axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {a.shape}")
    strides = _contiguous_strides(a.shape)
    return _copy_strided(a, [a.shape[d] for d in axes], [strides[d] for d in axes])


def broadcast_to(a, shape):
    """np.broadcast_to(a, shape), materialised contiguously."""
    a = _check(a, "broadcast_to")
    shape = tuple(shape)
    if np.broadcast_shapes(a.shape, shape) != shape:
        raise ValueError(f"broadcast_to: shape {a.shape} does not broadcast to {shape}")
    return _copy_strided(a, shape, _broadcast_strides(a.shape, shape))


# ---- reductions -----------------------------------------------------------------------------

def _rows(op: str, x, M: int, L: int):
    """out[r] = op over x.reshape(M, L)[r]; long rows are cut in chunks and reduced twice."""
    cl = _cl()
    cpu = runtime.device_is_cpu()
    # On a CPU 16 lanes (one AVX-512 vector) and up to 16 rows per work-group: PoCL's cost per
    # group and per barrier step dominated 64 lanes x 1 row (sum over (0, 2, 3) of a
    # (64, 32, 24, 24) gradient: 1.7 -> 0.6 ms, measured). A GPU keeps 64 lanes, 1 row.
    width = 16 if cpu else _LOCAL
    # Enough work-groups to keep every compute unit busy even when M is 1 (a full sum).
    want_groups = 8 * runtime.get_device().max_compute_units
    nchunks = _max(1, _min(-(-want_groups // _max(M, 1)), -(-L // (4 * width))))
    chunk = -(-L // nchunks)
    nchunks = -(-L // chunk)
    out = _empty((M * nchunks,), x.dtype)
    k = _op_kernel("reduce.cl", op, x.dtype)
    rows = _min(16, 1 << (M.bit_length() - 1)) if cpu else 1
    k(_queue(), (nchunks * width, _round_up(M, rows)), (width, rows), out.data, x.data, _i(L),
      _i(chunk), _i(nchunks), cl.LocalMemory(rows * width * x.dtype.itemsize), _i(M))
    return out if nchunks == 1 else _rows(op, out, M, nchunks)


def _reduce(op: str, a, axis, keepdims):
    a = _check(a, op)
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(sorted({ax % a.ndim if a.ndim else ax for ax in axes}))
        if any(ax >= _max(a.ndim, 1) for ax in axes):
            raise ValueError(f"{op}: axis {axis} out of range for shape {a.shape}")
    keep = [d for d in range(a.ndim) if d not in axes]
    out_shape = tuple(1 if d in axes else a.shape[d] for d in range(a.ndim)) if keepdims \
        else tuple(a.shape[d] for d in keep)
    M = int(np.prod([a.shape[d] for d in keep], dtype=np.int64))
    L = int(np.prod([a.shape[d] for d in axes], dtype=np.int64))
    if L == 0:
        if op != "sum":
            raise ValueError(f"{op}: zero-size reduction over axes {axes} of shape {a.shape}")
        return zeros(out_shape, a.dtype)
    if M == 0:
        return _empty(out_shape, a.dtype)
    trail = 0
    while trail < a.ndim and (a.ndim - 1 - trail) in axes:
        trail += 1
    if 0 < trail < len(axes):
        # Reduce the trailing axes first, in place (rows of x are contiguous there), then the
        # rest of the axes on the much smaller result: sum over (0, 2, 3) of an NCHW gradient
        # otherwise transposed the whole array first (a copy with a div/mod per index).
        lead = a.shape[:a.ndim - trail]
        part = _rows(op, a, int(np.prod(lead, dtype=np.int64)), int(
            np.prod(a.shape[a.ndim - trail:], dtype=np.int64))).reshape(lead)
        rest = tuple(ax for ax in axes if ax < a.ndim - trail)
        return _reduce(op, part, rest, False).reshape(out_shape)
    perm = keep + list(axes)
    x = a if perm == list(range(a.ndim)) else transpose(a, perm)
    return _rows(op, x, M, L).reshape(out_shape)


def sum(a, axis=None, keepdims=False):  # noqa: A001 - the op's name
    """a.sum(axis, keepdims=keepdims); axis None, an int or a tuple."""
    return _reduce("sum", a, axis, keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001 - the op's name
    return _reduce("max", a, axis, keepdims)


def min(a, axis=None, keepdims=False):  # noqa: A001 - the op's name
    return _reduce("min", a, axis, keepdims)


def sum_to(g, shape):
    """Sum g over the axes broadcasting added or stretched, so the result has ``shape``."""
    g = _check(g, "sum_to", "g")
    shape = tuple(shape)
    extra = g.ndim - len(shape)
    if extra < 0 or np.broadcast_shapes(shape, g.shape) != g.shape:
        raise ValueError(f"sum_to: shape {g.shape} is not a broadcast of {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + d for d, s in enumerate(shape) if s == 1 and g.shape[extra + d] != 1
    )
    if not axes:
        return g.reshape(shape)
    return sum(g, axes, keepdims=True).reshape(shape)


# ---- matmul ---------------------------------------------------------------------------------

MATMUL_KERNELS = ("naive", "tiled", "blocked")
_BLOCK_M, _PANEL_N = 8, 32     # BLOCK_M and PANEL_N of kernels/matmul.cl's blocked kernel


def matmul_kernel_for(device=None, dtype=np.float32) -> str:
    """The kernel ``matmul(kernel=None)`` uses on ``device`` (default: the current one)."""
    device = device if device is not None else runtime.get_device()
    return "blocked" if runtime.device_is_cpu(device) else "tiled"


def _tiled_options(dtype) -> tuple[str, ...]:
    # 64 x 64 tiles need 256-work-item groups; smaller devices get 32 x 32 (64 work-items).
    if runtime.get_device().max_work_group_size >= 256:
        return _options(dtype)
    return _options(dtype) + ("-DTILE_M=32", "-DTILE_N=32")


def _blocked_local(gsize) -> tuple[int, int, int]:
    """Work-group size of the blocked kernel: PoCL spreads work-groups, not work-items, over the
    cores, and left to itself it made one group of small grids (a 256x256 product, conv2d's
    weight gradient: 18 work-items), leaving a core idle. So: the largest divisor of the row
    blocks that still leaves 8 groups per compute unit (1 when even that is too few)."""
    blocks, panels, batch = gsize
    want = 8 * runtime.get_device().max_compute_units
    for size in range(_min(blocks, 16), 0, -1):
        if blocks % size == 0 and (blocks // size) * panels * batch >= want:
            return (size, 1, 1)
    return (1, 1, 1)


def _gemm(kernel, C, A, B, batch, M, N, K, a_strides, b_strides, batch_sum=1):
    """C (batch, M, N) contiguous = op(A) @ op(B) with (batch, row, col) element strides.
    ``batch_sum`` > 1 (blocked kernel only): C (batch // batch_sum, M, N) holds the sums of
    each batch_sum consecutive products."""
    dtype = C.dtype
    if batch_sum != 1 and kernel != "blocked":
        raise ValueError("_gemm: batch_sum needs the blocked kernel")
    ints = [_i(v) for v in (M, N, K)]
    if kernel == "naive":
        k = _kernel("matmul.cl", "matmul_naive", dtype)
        _run(k, (N, M, batch), C.data, A.data, B.data, *ints,
             *map(_i, a_strides), *map(_i, b_strides))
    elif kernel == "tiled":
        opts = _tiled_options(dtype)
        tile = 32 if "-DTILE_M=32" in opts else 64
        k = runtime.kernel("matmul.cl", "matmul_tiled", opts)
        threads = tile // 4
        gsize = (-(-N // tile) * threads, -(-M // tile) * threads, batch)
        k(_queue(), gsize, (threads, threads, 1), C.data, A.data, B.data, *ints,
          *map(_i, a_strides), *map(_i, b_strides))
    elif kernel == "blocked":
        bm, pn = _BLOCK_M, _PANEL_N
        blocks, panels = -(-M // bm), -(-N // pn)
        q = _queue()
        b_batch, b_row, b_col = b_strides
        if b_col == 1 and N % pn == 0 and (b_row * dtype.itemsize <= 4096 or K <= 512):
            # op(B) is B itself with whole panels: the kernel reads its rows in place. Only
            # while rows are <= 4 KB apart or few: for 2048 x 2048 every k of a panel hit
            # another page and the packed copy was faster (145 vs 125 GFLOPS), while the
            # Linear layers' K = 64 / 128 products with 18 KB rows gained ~15% in place.
            Bs, bs = B, (b_batch, pn, b_row)
        else:
            Bs = _empty((batch * panels * pn * K,), dtype)
            _run(_kernel("matmul.cl", "pack_b", dtype), (K, panels, batch), Bs.data, B.data,
                 _i(N), _i(K), *map(_i, b_strides))
            bs = (panels * pn * K, K * pn, pn)
        gsize = (blocks, panels, batch // batch_sum)
        _kernel("matmul.cl", "matmul_blocked", dtype)(
            q, gsize, _blocked_local(gsize), C.data, A.data, Bs.data, *ints,
            *map(_i, a_strides), *map(_i, bs), _i(blocks), _i(panels), _i(batch_sum))
    else:
        raise ValueError(f"matmul: kernel must be None or one of {MATMUL_KERNELS}, got {kernel!r}")
    return C


def _operand_strides(x, trans: bool):
    """(batch, row, col) element strides of op(x) for a contiguous 2-D or 3-D x."""
    r, c = x.shape[-2:]
    batch = r * c if x.ndim == 3 else 0
    return (batch, 1, c) if trans else (batch, c, 1)


def matmul(a, b, trans_a=False, trans_b=False, kernel=None):
    """op(a) @ op(b), op = transpose when trans_*; 2-D, or 3-D batched (a 2-D operand is shared
    across the batch). ``kernel`` picks naive / tiled / blocked (None: matmul_kernel_for)."""
    a, b = _check(a, "matmul", "a"), _check(b, "matmul", "b")
    _same_dtype("matmul", a, b)
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ValueError(f"matmul: need 2-D or 3-D operands, got {a.shape} and {b.shape}")
    M, Ka = a.shape[-2:][::-1] if trans_a else a.shape[-2:]
    Kb, N = b.shape[-2:][::-1] if trans_b else b.shape[-2:]
    if Ka != Kb:
        raise ValueError(f"matmul: inner sizes differ: op(a) is {M}x{Ka}, op(b) is {Kb}x{N} "
                         f"(shapes {a.shape}, {b.shape}, trans_a={trans_a}, trans_b={trans_b})")
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"matmul: batch sizes differ: {a.shape} and {b.shape}")
    batch = a.shape[0] if a.ndim == 3 else (b.shape[0] if b.ndim == 3 else 1)
    out_shape = (batch, M, N) if _max(a.ndim, b.ndim) == 3 else (M, N)
    if Ka == 0:
        return zeros(out_shape, a.dtype)
    C = _empty(out_shape, a.dtype)
    if C.size == 0:
        return C
    kernel = kernel or matmul_kernel_for(dtype=a.dtype)
    return _gemm(kernel, C, a, b, batch, M, N, Ka,
                 _operand_strides(a, trans_a), _operand_strides(b, trans_b))


# ---- softmax family -------------------------------------------------------------------------

def _rows_2d(x, op, what="x"):
    x = _check(x, op, what)
    if x.ndim < 1:
        raise ValueError(f"{op}: {what} must have at least one axis, got shape {x.shape}")
    C = x.shape[-1]
    return x, (x.size // C if C else 0), C


def _row_op(op, x):
    x, N, C = _rows_2d(x, op)
    out = _empty(x.shape, x.dtype)
    _run(_op_kernel("nn.cl", op, x.dtype), (N,), out.data, x.data, _i(N), _i(C))
    return out


def softmax(x):
    """exp(x) / exp(x).sum(-1, keepdims=True), shifted by the row max."""
    return _row_op("softmax", x)


def log_softmax(x):
    return _row_op("log_softmax", x)


def _row_back(op, y, g):
    y, N, C = _rows_2d(y, op, "y")
    g = _check(g, op, "g")
    _same_shape(op, y, g, ("y", "g"))
    _same_dtype(op, y, g)
    out = _empty(y.shape, y.dtype)
    _run(_op_kernel("nn.cl", op, y.dtype), (N,), out.data, y.data, g.data, _i(N), _i(C))
    return out


def softmax_back(y, g):
    """y * (g - (g * y).sum(-1, keepdims=True))"""
    return _row_back("softmax_back", y, g)


def log_softmax_back(ly, g):
    """g - exp(ly) * g.sum(-1, keepdims=True)"""
    return _row_back("log_softmax_back", ly, g)


def _targets(targets, N, op):
    if not _is_array(targets):
        targets = asarray(np.asarray(targets))
    if targets.dtype not in _INTS:
        raise TypeError(f"{op}: targets must be int32 or int64, got {targets.dtype}")
    if targets.shape != (N,):
        raise ValueError(f"{op}: targets have shape {targets.shape}, expected ({N},)")
    return _contiguous(targets, op, "targets"), _i(targets.dtype == np.int64)


def cross_entropy(logits, targets):
    """(loss, probs): loss[i] = -log softmax(logits)[i, t_i], probs = softmax(logits)."""
    logits = _check(logits, "cross_entropy", "logits")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got {logits.shape}")
    N, C = logits.shape
    targets, is_long = _targets(targets, N, "cross_entropy")
    loss, probs = _empty((N,), logits.dtype), _empty((N, C), logits.dtype)
    _run(_op_kernel("nn.cl", "cross_entropy", logits.dtype), (N,), loss.data, probs.data,
         logits.data, targets.data, is_long, _i(N), _i(C))
    return loss, probs


def cross_entropy_back(probs, targets, g):
    """(probs - onehot(targets)) * g[:, None]"""
    probs = _check(probs, "cross_entropy_back", "probs")
    if probs.ndim != 2:
        raise ValueError(f"cross_entropy_back: probs must be (N, C), got {probs.shape}")
    N, C = probs.shape
    targets, is_long = _targets(targets, N, "cross_entropy_back")
    g = _check(g, "cross_entropy_back", "g")
    if g.shape != (N,):
        raise ValueError(f"cross_entropy_back: g has shape {g.shape}, expected ({N},)")
    _same_dtype("cross_entropy_back", probs, g)
    out = _empty((N, C), probs.dtype)
    _run(_op_kernel("nn.cl", "cross_entropy_back", probs.dtype), (N,), out.data, probs.data,
         targets.data, is_long, g.data, _i(N), _i(C))
    return out


# ---- convolution ----------------------------------------------------------------------------

def _pair(v, what):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair, got {v!r}")
    return int(pair[0]), int(pair[1])


def _conv_geometry(x_shape, w_shape, stride, padding, op):
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: need x (N, C, H, W) and w (O, C, kh, kw), got {x_shape}, "
                         f"{w_shape}")
    N, C, H, W = x_shape
    O, Cw, KH, KW = w_shape
    if C != Cw:
        raise ValueError(f"{op}: x has {C} channels (shape {x_shape}) but w expects {Cw} "
                         f"(shape {w_shape})")
    (SH, SW), (PH, PW) = _pair(stride, "stride"), _pair(padding, "padding")
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: kernel {KH}x{KW} does not fit the {H}x{W} input with padding "
                         f"{(PH, PW)}")
    return N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW


def _im2col(x, geo):
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    cols = _empty((N, C * KH * KW, OH * OW), x.dtype)
    _run(_kernel("conv.cl", "im2col", x.dtype), (OH, C * KH * KW, N), cols.data, x.data,
         *map(_i, (C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)))
    return cols


def conv2d(x, w, b=None, stride=1, padding=0, return_cols=False):
    """PyTorch's conv2d (cross-correlation), NCHW: im2col, then one batched GEMM with the
    weights shared across the batch (batch stride 0). ``return_cols``: return (y, cols), the
    im2col matrix (N, C*KH*KW, OH*OW) that conv2d_back_weight(cols=...) can reuse."""
    x, w = _check(x, "conv2d", "x"), _check(w, "conv2d", "w")
    _same_dtype("conv2d", x, w)
    geo = _conv_geometry(x.shape, w.shape, stride, padding, "conv2d")
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    cols = _im2col(x, geo)
    ckk, ohw = C * KH * KW, OH * OW
    y = _empty((N, O, ohw), x.dtype)
    _gemm(matmul_kernel_for(dtype=x.dtype), y, w, cols, N, O, ohw, ckk,
          (0, ckk, 1), (ckk * ohw, ohw, 1))
    if b is not None:
        b = _check(b, "conv2d", "b")
        if b.shape != (O,):
            raise ValueError(f"conv2d: bias has shape {b.shape}, expected ({O},)")
        _run(_kernel("conv.cl", "add_channel_bias", x.dtype), (O, N), y.data, b.data, _i(O),
             _i(ohw))
    y = y.reshape(N, O, OH, OW)
    return (y, cols) if return_cols else y


def conv2d_back_input(g, w, x_shape, stride=1, padding=0):
    """dL/dx: dcols[n] = W^T @ g[n] (one batched GEMM), then col2im sums the overlaps."""
    g, w = _check(g, "conv2d_back_input", "g"), _check(w, "conv2d_back_input", "w")
    _same_dtype("conv2d_back_input", g, w)
    geo = _conv_geometry(tuple(x_shape), w.shape, stride, padding, "conv2d_back_input")
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    if g.shape != (N, O, OH, OW):
        raise ValueError(f"conv2d_back_input: g has shape {g.shape}, expected {(N, O, OH, OW)}")
    ckk, ohw = C * KH * KW, OH * OW
    dcols = _empty((N, ckk, ohw), g.dtype)
    _gemm(matmul_kernel_for(dtype=g.dtype), dcols, w, g, N, ckk, ohw, O,
          (0, 1, ckk), (O * ohw, ohw, 1))
    dx = _empty((N, C, H, W), g.dtype)
    _run(_kernel("conv.cl", "col2im", g.dtype), (H, C, N), dx.data, dcols.data,
         *map(_i, (C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)))
    return dx


def conv2d_back_weight(g, x, w_shape, stride=1, padding=0, cols=None):
    """dL/dw = sum_n g[n] @ cols[n]^T. ``cols``: the forward's im2col matrix
    (conv2d(return_cols=True)); then x is not read (it may be None) and no im2col is redone."""
    g = _check(g, "conv2d_back_weight", "g")
    if cols is None:
        x = _check(x, "conv2d_back_weight", "x")
        _same_dtype("conv2d_back_weight", g, x)
        geo = _conv_geometry(x.shape, tuple(w_shape), stride, padding, "conv2d_back_weight")
        N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
        cols = _im2col(x, geo)
    else:
        cols = _check(cols, "conv2d_back_weight", "cols")
        _same_dtype("conv2d_back_weight", g, cols)
        if g.ndim != 4 or len(tuple(w_shape)) != 4:
            raise ValueError(f"conv2d_back_weight: need g (N, O, OH, OW) and w_shape "
                             f"(O, C, kh, kw), got {g.shape}, {tuple(w_shape)}")
        N, O, OH, OW = g.shape
        _, C, KH, KW = w_shape
        if cols.shape != (N, C * KH * KW, OH * OW):
            raise ValueError(f"conv2d_back_weight: cols has shape {cols.shape}, expected "
                             f"{(N, C * KH * KW, OH * OW)} for g {g.shape} and w {tuple(w_shape)}")
    if g.shape != (N, O, OH, OW) or tuple(w_shape)[0] != O:
        raise ValueError(f"conv2d_back_weight: g has shape {g.shape}, expected {(N, O, OH, OW)}")
    ckk, ohw = C * KH * KW, OH * OW
    kernel = matmul_kernel_for(dtype=g.dtype)
    if kernel != "blocked":
        per_image = _empty((N, O, ckk), g.dtype)
        _gemm(kernel, per_image, g, cols, N, O, ckk, ohw,
              (O * ohw, ohw, 1), (ckk * ohw, 1, ohw))
        dw = per_image.reshape(O, ckk) if N == 1 else sum(per_image, (0,))
        return dw.reshape(tuple(w_shape))
    # dw^T = sum_n cols[n] @ g[n]^T, the batch summed inside the kernel. This orientation reads
    # the big operand (cols, C*KH*KW x OH*OW per image) in place as A and packs only g^T as B;
    # dw = g cols^T would pack all of cols. The (ckk, O) result is tiny to transpose.
    dwt = _empty((ckk, O), g.dtype)
    _gemm(kernel, dwt, cols, g, N, ckk, O, ohw, (ckk * ohw, ohw, 1), (O * ohw, 1, ohw),
          batch_sum=N)
    return transpose(dwt).reshape(tuple(w_shape))


# ---- pooling --------------------------------------------------------------------------------

def _pool_geometry(x_shape, kernel, stride, op):
    if len(x_shape) != 4:
        raise ValueError(f"{op}: need x (N, C, H, W), got {x_shape}")
    N, C, H, W = x_shape
    (KH, KW) = _pair(kernel, "kernel")
    (SH, SW) = _pair(stride if stride is not None else kernel, "stride")
    OH, OW = (H - KH) // SH + 1, (W - KW) // SW + 1
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: window {KH}x{KW} does not fit the {H}x{W} input")
    return N, C, H, W, KH, KW, SH, SW, OH, OW


def max_pool2d(x, kernel, stride=None):
    """(y, idx): the max of each window and its flat index h * W + w in its (n, c) plane."""
    x = _check(x, "max_pool2d", "x")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(x.shape, kernel, stride, "max_pool2d")
    y, idx = _empty((N, C, OH, OW), x.dtype), _empty((N, C, OH, OW), np.int32)
    _run(_op_kernel("pool.cl", "max_pool2d", x.dtype), (OH, N * C), y.data, idx.data, x.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return y, idx


def max_pool2d_back(g, idx, x_shape):
    """Scatter-add g to the arg-maxes: each window's gradient goes whole to its max."""
    g = _check(g, "max_pool2d_back", "g")
    if not _is_array(idx) or idx.dtype != np.int32 or idx.shape != g.shape:
        raise ValueError(f"max_pool2d_back: idx must be int32 of g's shape {g.shape}, got "
                         f"{getattr(idx, 'dtype', type(idx))} {getattr(idx, 'shape', '')}")
    idx = _contiguous(idx, "max_pool2d_back", "idx")
    N, C, H, W = x_shape
    if g.ndim != 4 or g.shape[:2] != (N, C):
        raise ValueError(f"max_pool2d_back: g has shape {g.shape}, x has {tuple(x_shape)}")
    dx = zeros((N, C, H, W), g.dtype)
    _run(_op_kernel("pool.cl", "max_pool2d_back", g.dtype), (N * C,), dx.data, g.data, idx.data,
         _i(H * W), _i(g.shape[2] * g.shape[3]), _i(N * C))
    return dx


def avg_pool2d(x, kernel, stride=None):
    """The mean of each window."""
    x = _check(x, "avg_pool2d", "x")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(x.shape, kernel, stride, "avg_pool2d")
    y = _empty((N, C, OH, OW), x.dtype)
    _run(_op_kernel("pool.cl", "avg_pool2d", x.dtype), (OH * OW, N * C), y.data, x.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return y


def avg_pool2d_back(g, x_shape, kernel, stride=None):
    g = _check(g, "avg_pool2d_back", "g")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(tuple(x_shape), kernel, stride,
                                                        "avg_pool2d_back")
    if g.shape != (N, C, OH, OW):
        raise ValueError(f"avg_pool2d_back: g has shape {g.shape}, expected {(N, C, OH, OW)}")
    dx = _empty((N, C, H, W), g.dtype)
    _run(_op_kernel("pool.cl", "avg_pool2d_back", g.dtype), (H * W, N * C), dx.data, g.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return dx


# ---- optimizers (in place) ------------------------------------------------------------------

def _state(op, p, *others):
    p = _check(p, op, "p")
    if p.offset:
        raise ValueError(f"{op}: p must not be a slice (it is updated in place)")
    for what, x in others:
        if x is None:
            continue
        _check(x, op, what)
        if x.offset:
            raise ValueError(f"{op}: {what} must not be a slice (it is updated in place)")
        _same_shape(op, p, x, ("p", what))
        _same_dtype(op, p, x)
    return p


def sgd_step(p, g, buf, lr, momentum=0.0, nesterov=False, weight_decay=0.0, first=False):
    """PyTorch's SGD, in place on p (and buf, None when momentum == 0). ``first``: buf holds no
    history yet; it is zeroed so that this step sets buf = g, PyTorch's initialisation."""
    p = _state("sgd_step", p, ("g", g), ("buf", buf))
    if momentum != 0 and buf is None:
        raise ValueError("sgd_step: momentum != 0 needs a buf")
    if first and buf is not None and buf.size:
        _cl().enqueue_fill_buffer(_queue(), buf.data, np.zeros(1, buf.dtype), 0, buf.nbytes)
    t = p.dtype.type
    _run1d(_op_kernel("optim.cl", "sgd_step", p.dtype), p.size, p.data, g.data,
           None if buf is None else buf.data, _i(p.size), t(lr), t(momentum),
           _i(bool(nesterov)), t(weight_decay))
    return p


def adam_step(p, g, m, v, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1):
    """PyTorch's Adam (bias-corrected, L2 weight decay), in place on p, m, v; step is 1-based."""
    p = _state("adam_step", p, ("g", g), ("m", m), ("v", v))
    if step < 1:
        raise ValueError(f"adam_step: step is 1-based, got {step}")
    t = p.dtype.type
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    _run1d(_op_kernel("optim.cl", "adam_step", p.dtype), p.size, p.data, g.data, m.data, v.data,
           _i(p.size), t(lr), t(beta1), t(beta2), t(eps), t(weight_decay), t(bc1), t(bc2_sqrt))
    return p


def adagrad_step(p, g, s, lr, eps=1e-10, weight_decay=0.0):
    """PyTorch's Adagrad (no lr decay), in place on p and s."""
    p = _state("adagrad_step", p, ("g", g), ("s", s))
    t = p.dtype.type
    _run1d(_op_kernel("optim.cl", "adagrad_step", p.dtype), p.size, p.data, g.data, s.data,
           _i(p.size), t(lr), t(eps), t(weight_decay))
    return p


def rmsprop_step(p, g, s, lr, alpha=0.99, eps=1e-8, weight_decay=0.0):
    """PyTorch's RMSprop (no momentum, not centred), in place on p and s."""
    p = _state("rmsprop_step", p, ("g", g), ("s", s))
    t = p.dtype.type
    _run1d(_op_kernel("optim.cl", "rmsprop_step", p.dtype), p.size, p.data, g.data, s.data,
           _i(p.size), t(lr), t(alpha), t(eps), t(weight_decay))
    return p
