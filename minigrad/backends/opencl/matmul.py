"""The host side of ``kernels/matmul.cl``: matrix products: naive, tiled (GPUs) and blocked (CPUs)
GEMM kernels, batched and strided.
"""

from __future__ import annotations

import numpy as np

from . import runtime
from .device import (
    _check_any,
    _empty,
    _i,
    _kernel_any,
    _launch,
    _max,
    _min,
    _options,
    _run,
    _same_dtype,
    zeros,
)
from .elementwise import broadcast_to

MATMUL_KERNELS = ("naive", "tiled", "blocked")


def _blocked_shape(device=None) -> tuple[int, int]:
    """(BLOCK_M, VEC) of kernels/matmul.cl's blocked kernel on ``device``: 16-wide vectors where
    the device prefers them (AVX-512), else 8-wide in 6-row blocks (AVX2: 16 registers).
    Measured on a haswell PoCL: the 16-wide build spilled and ran at 21-56 GFLOPS."""
    device = device if device is not None else runtime.get_device()
    return (8, 16) if device.preferred_vector_width_float >= 16 else (6, 8)


def _blocked_kernel(name: str, dtype):
    bm, vec = _blocked_shape()
    return runtime.kernel("matmul.cl", name, _options(dtype) + (f"-DVEC={vec}",
                                                                f"-DBLOCK_M={bm}"))


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
        k = _kernel_any("matmul.cl", "matmul_naive", dtype)
        _run(k, (N, M, batch), C.data, A.data, B.data, *ints,
             *map(_i, a_strides), *map(_i, b_strides))
    elif kernel == "tiled":
        opts = _tiled_options(dtype)
        tile = 32 if "-DTILE_M=32" in opts else 64
        k = runtime.kernel("matmul.cl", "matmul_tiled", opts)
        threads = tile // 4
        gsize = (-(-N // tile) * threads, -(-M // tile) * threads, batch)
        _launch(k, gsize, (threads, threads, 1), C.data, A.data, B.data, *ints,
          *map(_i, a_strides), *map(_i, b_strides))
    elif kernel == "blocked":
        bm, vec = _blocked_shape()
        pn = 2 * vec
        blocks, panels = -(-M // bm), -(-N // pn)
        b_batch, b_row, b_col = b_strides
        if b_col == 1 and N % pn == 0 and (b_row * dtype.itemsize <= 4096 or K <= 512):
            # op(B) is B itself with whole panels: the kernel reads its rows in place. Only
            # while rows are <= 4 KB apart or few: for 2048 x 2048 every k of a panel hit
            # another page and the packed copy was faster (145 vs 125 GFLOPS), while the
            # Linear layers' K = 64 / 128 products with 18 KB rows gained ~15% in place.
            Bs, bs = B, (b_batch, pn, b_row)
        else:
            Bs = _empty((batch * panels * pn * K,), dtype)
            _run(_blocked_kernel("pack_b", dtype), (K, panels, batch), Bs.data, B.data,
                 _i(N), _i(K), *map(_i, b_strides))
            bs = (panels * pn * K, K * pn, pn)
        gsize = (blocks, panels, batch // batch_sum)
        _launch(_blocked_kernel("matmul_blocked", dtype),
            gsize, _blocked_local(gsize), C.data, A.data, Bs.data, *ints,
            *map(_i, a_strides), *map(_i, bs), _i(blocks), _i(panels), _i(batch_sum))
    else:
        raise ValueError(f"matmul: kernel must be None or one of {MATMUL_KERNELS}, got {kernel!r}")
    return C


def _operand_strides(x, trans: bool):
    """(batch, row, col) element strides of op(x) for a contiguous 2-D or 3-D x."""
    r, c = x.shape[-2:]
    batch = r * c if x.ndim == 3 else 0
    return (batch, 1, c) if trans else (batch, c, 1)


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _as_batches(x, batch_shape):
    """x (..., r, c) as the 2-D or 3-D operand of one GEMM over ``batch_shape``'s batches: 2-D
    when its batch dims are all 1 (shared by every batch: stride 0), a 3-D view when they are the
    whole batch shape, else a broadcast copy made on the device (the batch dims of (B, 1, m, k)
    against (1, C, k, n): each matrix repeated, never through the host)."""
    mat = tuple(x.shape[-2:])
    lead = _prod(x.shape[:-2])
    if lead == 1:
        return x.reshape(mat)
    if lead == _prod(batch_shape):
        return x.reshape((lead,) + mat)
    return broadcast_to(x, tuple(batch_shape) + mat).reshape((_prod(batch_shape),) + mat)


def matmul(a, b, trans_a=False, trans_b=False, kernel=None):
    """op(a) @ op(b), op = transpose of the last two dims when trans_*; 2-D, or batched with any
    number of batch dims, which broadcast as numpy's and torch's matmul (a 2-D operand is shared
    across the batch). ``kernel`` picks naive / tiled / blocked (None: matmul_kernel_for).

    >>> import numpy as np
    >>> from minigrad.backends import opencl as B
    >>> a = B.asarray(np.ones((2, 1, 3, 4), np.float32))                  # doctest: +SKIP
    >>> B.matmul(a, B.asarray(np.ones((5, 4, 2), np.float32))).shape      # doctest: +SKIP
    (2, 5, 3, 2)
    """
    a, b = _check_any(a, "matmul", "a"), _check_any(b, "matmul", "b")
    _same_dtype("matmul", a, b)
    if a.dtype.kind == "b":   # or of ands, as numpy: counted in int32, then != 0
        from .typed import astype
        y = matmul(astype(a, np.int32), astype(b, np.int32), trans_a, trans_b, kernel)
        return astype(y, np.bool_)
    if a.dtype.kind in "iu":
        kernel = "naive"     # integers: exact, wrapping around as numpy's
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: need operands of at least 2 dims, got {a.shape} and {b.shape}")
    M, Ka = a.shape[-2:][::-1] if trans_a else a.shape[-2:]
    Kb, N = b.shape[-2:][::-1] if trans_b else b.shape[-2:]
    if Ka != Kb:
        raise ValueError(f"matmul: inner sizes differ: op(a) is {M}x{Ka}, op(b) is {Kb}x{N} "
                         f"(shapes {a.shape}, {b.shape}, trans_a={trans_a}, trans_b={trans_b})")
    try:
        batch_shape = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch sizes differ: {a.shape} and {b.shape} (the dims "
                         f"before the last two do not broadcast)") from None
    out_shape = batch_shape + (M, N)
    if Ka == 0:
        return zeros(out_shape, a.dtype)
    if _prod(out_shape) == 0:
        return _empty(out_shape, a.dtype)
    batch = _prod(batch_shape)
    a3, b3 = _as_batches(a, batch_shape), _as_batches(b, batch_shape)
    C = _empty((batch, M, N) if _max(a3.ndim, b3.ndim) == 3 else (M, N), a.dtype)
    kernel = kernel or matmul_kernel_for(dtype=a.dtype)
    _gemm(kernel, C, a3, b3, batch, M, N, Ka,
          _operand_strides(a3, trans_a), _operand_strides(b3, trans_b))
    return C.reshape(out_shape)
