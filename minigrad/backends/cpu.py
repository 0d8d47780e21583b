"""The CPU backend: the reference backend (numpy, numpy's BLAS for matmul) plus the compiled
Cython kernels of ``_cpu.pyx`` where they pay.

Everything not defined here is the reference's (:mod:`minigrad.backends.reference`, the
protocol's statement). Functions receive arrays the tensor engine has already validated (shapes,
dtypes); each wrapper makes sure a compiled kernel gets the contiguous, typed buffers it trusts
before it runs without the GIL. Fused kernels for rules are registered by rule name in
``FUSED_FORWARD`` / ``FUSED_VJP``; tests/backends checks each against its rule.
"""

from __future__ import annotations

import builtins
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

# If a user opts in to parallel kernels (minigrad.set_num_threads), idle OpenMP threads should
# sleep rather than spin on the cores numpy's BLAS needs next. libgomp reads this once, when it
# loads; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import (
    _cpu,  # noqa: E402 - the compiled module is required: no silent fallback
    blas,  # noqa: E402
)
from . import reference as _ref  # noqa: E402
from .numpy_xp import namespace as xp  # noqa: E402
from .reference import *  # noqa: E402,F401,F403 - the protocol, overridden below where it pays


def _keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MB in the heap instead of returning them to the OS.

    A training step allocates and frees the same multi-megabyte arrays (activations, im2col
    columns, gradients) every time. By default glibc maps each large block fresh and unmaps it on
    free, so every step pays a page fault per 4 KB page it touches: measured, 40% of the
    worksheet-4 CNN step and the same share of the digits step. Keeping them is what a caching
    allocator does; the cost is that the process holds on to freed memory (up to 512 MB before it
    trims). Set MINIGRAD_MALLOC_TUNING=0 to leave malloc alone. Returns whether it was applied.
    """
    if os.environ.get("MINIGRAD_MALLOC_TUNING", "1") == "0":
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)) and bool(
            libc.mallopt(m_trim_threshold, 512 * 1024 * 1024))
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to tune
        return False


malloc_tuned = _keep_freed_memory()

name = "cpu"

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a)


def _fused(kernel, *arrays):
    """Run a fused elementwise kernel over flat contiguous copies/views of equal-shape arrays."""
    shape = np.shape(arrays[0])  # np.ascontiguousarray makes 0-d input 1-d: keep the shape
    arrays = [_c(a).reshape(-1) for a in arrays]
    out = np.empty_like(arrays[0])
    kernel(*arrays, out)
    return out.reshape(shape)


# ---- fused kernels for rules (by rule name) ------------------------------------------------------


def sigmoid(x):
    """The sigmoid rule's forward in one pass (select, not branch, on the sign)."""
    if getattr(x, "dtype", None) not in _FLOATS:
        return NotImplemented
    return _fused(_cpu.sigmoid, x)


def relu(x):
    return np.maximum(x, 0)  # numpy's own loop is the fastest relu (and keeps NaN)


def _vjp(kernel, use_output: bool):
    def vjp(i, g, xs, y):
        v = y if use_output else xs[0]
        if getattr(v, "dtype", None) not in _FLOATS or np.shape(g) != np.shape(v):
            return NotImplemented
        return _fused(kernel, v, g.astype(v.dtype, copy=False))
    return vjp


relu_vjp = _vjp(_cpu.relu_vjp, False)           # g * [x > 0]
sigmoid_vjp = _vjp(_cpu.sigmoid_vjp, True)      # g * y (1 - y)
tanh_vjp = _vjp(_cpu.tanh_vjp, True)            # g * (1 - y^2)

FUSED_FORWARD = {"sigmoid": sigmoid, "relu": relu}
FUSED_VJP = {"relu": relu_vjp, "sigmoid": sigmoid_vjp, "tanh": tanh_vjp}


_F16 = np.dtype(np.float16)


def _has_half(xs) -> bool:
    for x in xs:
        if getattr(x, "dtype", None) is _F16:
            return True
    return False


def _up(xs):
    """float16 arrays as float32: a float16 op computes in float32 and rounds once, as torch's
    CPU does (numpy would round a Python float operand, and each step of a rule, to float16)."""
    return [x.astype(np.float32) if getattr(x, "dtype", None) is _F16 else x for x in xs]


def elementwise(rule, *xs):
    if _has_half(xs):
        return elementwise(rule, *_up(xs)).astype(_F16)
    f = FUSED_FORWARD.get(rule.name)
    if f is not None:
        y = f(*xs)
        if y is not NotImplemented:
            return y
    y = rule.forward(xp, *xs)
    x = xs[0]
    if getattr(x, "dtype", None) is not y.dtype:  # rare: a rule's constants widened float32
        return _ref._keep_dtype(y, xs)
    return y


def elementwise_vjp(rule, i, g, xs, y):
    if g.dtype is _F16 or _has_half(xs):
        g, y = _up((g, y))
        return elementwise_vjp(rule, i, g, _up(xs), y).astype(_F16)
    f = FUSED_VJP.get(rule.name)
    if f is not None:
        r = f(i, g, xs, y)
        if r is not NotImplemented:
            return r
    return _ref.times(g, rule.local[i](xp, *xs, y))


elementwise.__doc__ = _ref.elementwise.__doc__
elementwise_vjp.__doc__ = _ref.elementwise_vjp.__doc__


# ---- softmax / cross-entropy ------------------------------------------------------------------


def softmax(x):
    x = _c(x)
    out = np.empty_like(x)
    if x.size:   # rows of no classes: nothing to compute, and the kernel reads x[i, 0]
        _cpu.softmax(x, out)
    return out


def log_softmax(x):
    x = _c(x)
    out = np.empty_like(x)
    if x.size:
        _cpu.log_softmax(x, out)
    return out


def softmax_vjp(y, g):
    out = np.empty_like(y)
    _cpu.softmax_vjp(_c(y), _c(g.astype(y.dtype, copy=False)), out)
    return out


def log_softmax_vjp(ly, g):
    out = np.empty_like(ly)
    _cpu.log_softmax_vjp(_c(ly), _c(g.astype(ly.dtype, copy=False)), out)
    return out


def cross_entropy(logits, targets):
    x = _c(logits)
    t = _c(targets.astype(np.int64, copy=False))
    loss = np.empty(x.shape[0], dtype=x.dtype)
    probs = np.empty_like(x)
    if x.shape[1] == 0:   # no classes: the loss of each row is undefined (the kernel reads x[i, 0])
        loss.fill(np.nan)
    elif x.size:
        _cpu.cross_entropy(x, t, loss, probs)
    return loss, probs


def cross_entropy_vjp(probs, targets, g):
    out = np.empty_like(probs)
    _cpu.cross_entropy_vjp(probs, _c(targets.astype(np.int64, copy=False)),
                           _c(np.asarray(g, dtype=probs.dtype).reshape(-1)), out)
    return out


# ---- convolution --------------------------------------------------------------------------------


def conv_out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


# im2col + GEMM, one (C*kh*kw, OH*OW) column matrix per image, so that y[n] = W @ cols[n] lands in
# NCHW with no transpose. A batch is cut into chunks of images whose columns stay in the L2 cache
# between im2col and the GEMM that reads them, and the chunks are shared among worker threads,
# each running its own im2col and a one-threaded BLAS (blas.single_threaded): every core works
# from its own cache, rather than all cores splitting each small GEMM. Columns that fit in
# IM2COL_KEEP_BYTES are kept for the weight gradient; larger ones are recomputed per chunk in the
# backward (a cached copy is cheaper to make again than a DRAM-sized one is to keep and re-read).
# 3x3 unit-stride layers with enough channels take Winograd F(2x2, 3x3) instead (below). Measured
# on the worksheet-4 CNN's layers: README.md, "Benchmarks". Tried and dropped: a direct kernel for
# few input channels (the first layer, C=1: nine shifted multiply-adds per output row, no im2col)
# lost to im2col + BLAS by 2x forward and 4x in the weight gradient (its accumulators live in L1,
# BLAS's in registers); "wide" unit-stride columns (each row one memcpy of the input plane, the
# GEMM computing OH x W outputs of which OH x OW are kept) made im2col 3x cheaper but the layers
# where that paid are Winograd's, and on the others (C=1, 8x8 digits) the wasted columns cost more.

IM2COL_KEEP_BYTES = 4 << 20
IM2COL_CHUNK_BYTES = 512 << 10
# Below this a batch runs on the calling thread alone: handing work to the pool and waiting for
# it costs 0.2-0.45 ms here (the worker sleeps between calls; waking it, and setting OpenBLAS's
# thread count, is most of that), so splitting pays from ~1 ms of work, ~50 MFLOP. Measured: the
# digits CNN's step 7-12% faster with 5e7 than with 4e6, the worksheet-4 layers unchanged.
PARALLEL_MIN_FLOPS = 50_000_000
# The cores this process may run on, read once (os.cpu_count costs ~0.5 ms a call on some VMs).
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _conv_geometry(x_shape, w_shape, stride, padding):
    n, c, h, wd = x_shape
    o, _, kh, kw = w_shape
    return n, c, o, kh, kw, conv_out_size(h, kh, stride[0], padding[0]), \
        conv_out_size(wd, kw, stride[1], padding[1])


_pool = None   # (pid, ThreadPoolExecutor), made on first use


def _on_threads(parts):
    """Run the callables ``parts`` at once, the first on the calling thread and the others on
    the per-process worker pool, with a one-threaded BLAS; their results, in order."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():   # a forked child has none of its threads
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=_CORES,
                                                 thread_name_prefix="minigrad-cpu"))
    with blas.single_threaded():
        futures = [_pool[1].submit(part) for part in parts[1:]]
        try:
            first = parts[0]()
        finally:
            wait(futures)
        return [first] + [f.result() for f in futures]


def _over_batch(work, n: int, per_image_bytes: int, flops: float,
                chunk_bytes: int | None = None):
    """Run ``work(n0, n1, scratch_images)`` over the batch in cache-sized chunks: on the calling
    thread alone, or (large enough, and a BLAS whose threads we can set) on as many worker threads
    as the BLAS has, each taking the next chunk when done with one. Returns each thread's
    results (lists, in the order that thread ran its chunks)."""
    # (max and min are the protocol's array reductions in this module: builtins spelt out)
    budget = IM2COL_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = builtins.max(1, builtins.min(n, budget // builtins.max(per_image_bytes, 1)))
    chunks = [(i, builtins.min(n, i + step)) for i in range(0, n, step)]
    threads = builtins.min(blas.threads(), len(chunks), _CORES)
    if flops < PARALLEL_MIN_FLOPS:
        threads = 1

    if threads <= 1:
        return [[work(n0, n1, step) for n0, n1 in chunks]]
    # The threads take the next chunk as they finish one, rather than a fixed share each: when
    # a core is busy with something else (another library's spinning threads, say), the other
    # threads take over its share instead of waiting for it.
    todo = iter(chunks)
    lock = threading.Lock()

    def run():
        done = []
        while True:
            with lock:
                chunk = next(todo, None)
            if chunk is None:
                return done
            done.append(work(chunk[0], chunk[1], step))

    return _on_threads([run] * threads)


# Winograd F(2x2, 3x3) (see _cpu.winograd_input) for 3x3 unit-stride layers: 16 GEMMs of
# K = C instead of one of K = 9 C, 2.25x fewer multiplies. The backward stays in the transformed
# space: the input gradient through the adjoint of the input transform, the weight gradient as
# 16 GEMMs whose K is the batch's tiles (_winograd_vjp). It pays from
# WINOGRAD_MIN_CHANNELS input channels (the first layer of a CNN, C = 1, makes 16 GEMMs too thin)
# and WINOGRAD_MIN_TILES 2x2 tiles an image (below that, an 8x8 digit, the per-chunk transforms
# cost more than the multiplies they save): im2col serves the rest.
WINOGRAD_MIN_CHANNELS = 8
WINOGRAD_MIN_TILES = 36
# Chunk budgets: the forward's 16 GEMMs (K = channels) run best on two 26x26 images at a time,
# the weight gradient's (K = tiles) on four or more (measured on the worksheet-4 CNN's layer).
WINOGRAD_CHUNK_BYTES = 1 << 20
WINOGRAD_GRAD_CHUNK_BYTES = 2 << 20
_SKEW = 48   # elements: 192 bytes, three cache lines
_WINOGRAD_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def _winograd_ok(x_shape, w_shape, stride, padding):
    """Whether conv2d takes the Winograd path: a 3x3 kernel at stride 1, padding at most 2, a
    non-empty image, and enough channels and tiles to pay (the thresholds above)."""
    if tuple(w_shape[2:]) != (3, 3) or tuple(stride) != (1, 1) or builtins.max(padding) > 2 \
            or builtins.min(x_shape[2:]) == 0 or w_shape[1] < WINOGRAD_MIN_CHANNELS:
        return False
    tiles = ((x_shape[2] + 2 * padding[0] - 1) // 2) * ((x_shape[3] + 2 * padding[1] - 1) // 2)
    return tiles >= builtins.max(WINOGRAD_MIN_TILES, 1)


def _tile_buffers(scratch, a, b, step, k, tiles, dtype):
    """This thread's two tile buffers for a chunk of k images (of at most ``step``): (16, a,
    k tiles) and (16, b, k tiles), each xi a matrix, the 16 of them _SKEW elements further apart
    than packed: the transforms touch all 16 at once, and 4 KiB multiples would alias in L1."""
    if getattr(scratch, "v", None) is None:
        scratch.v = np.empty((16, a * step * tiles + _SKEW), dtype=dtype)
        scratch.m = np.empty((16, b * step * tiles + _SKEW), dtype=dtype)
    return (scratch.v[:, :a * k * tiles].reshape(16, a, k * tiles),
            scratch.m[:, :b * k * tiles].reshape(16, b, k * tiles))


def _winograd(x, w, bias, padding, y):
    """y (n, o, oh, ow), preallocated = conv2d(x, w) + bias for a 3x3 w, stride 1: tiles
    transformed a cache-sized chunk of images at a time, 16 GEMMs U[xi] @ V[xi] per chunk."""
    n, c = x.shape[:2]
    o, oh, ow = y.shape[1:]
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    tiles = th * tw
    g = np.asarray(_WINOGRAD_G, dtype=x.dtype)
    u = np.ascontiguousarray(np.einsum("ai,ocij,bj->aboc", g, w, g).reshape(16, o, c))
    scratch = threading.local()

    def work(n0, n1, step):
        v, m = _tile_buffers(scratch, c, o, step, n1 - n0, tiles, x.dtype)
        _cpu.winograd_input(x[n0:n1], v, th, tw, padding[0], padding[1])
        np.matmul(u, v, out=m)
        _cpu.winograd_output(m, y[n0:n1], bias, th, tw)

    if n:
        _over_batch(work, n, 16 * (c + o) * tiles * x.itemsize, 32.0 * n * o * c * tiles,
                    WINOGRAD_CHUNK_BYTES)
    return y


def _winograd_vjp(x, g, w, padding, need_x, need_w):
    """(dL/dx, dL/dw) of a 3x3, stride-1 conv2d whose forward was _winograd: both from the
    upstream gradient's tiles Gt = A g A^T (y = A^T M A, M[xi] = U[xi] V[xi], so dL/dM = Gt):
    dL/dV[xi] = U[xi]^T Gt[xi], back through winograd_input's adjoint into dx; dL/dU[xi] =
    Gt[xi] V[xi]^T summed over every tile of the batch (16 GEMMs whose inner dimension is the
    tiles), and dL/dw = G^T (dL/dU) G (U = G w G^T). A chunk of images at a time."""
    n, c = x.shape[:2]
    o, oh, ow = g.shape[1:]
    th, tw = (oh + 1) // 2, (ow + 1) // 2
    tiles = th * tw
    G = np.asarray(_WINOGRAD_G, dtype=g.dtype)
    ut = np.ascontiguousarray(np.einsum("ai,ocij,bj->abco", G, w, G).reshape(16, c, o)) \
        if need_x else None
    gx = np.empty(x.shape, dtype=g.dtype) if need_x else None
    scratch = threading.local()

    def work(n0, n1, step):
        v, gt = _tile_buffers(scratch, c, o, step, n1 - n0, tiles, g.dtype)   # v: V, or dL/dV
        _cpu.winograd_grad(g[n0:n1], gt, th, tw)
        du = None
        if need_w:
            _cpu.winograd_input(x[n0:n1], v, th, tw, padding[0], padding[1])
            du = np.matmul(gt, v.transpose(0, 2, 1))
        if need_x:
            np.matmul(ut, gt, out=v)
            _cpu.winograd_input_vjp(v, gx[n0:n1], th, tw, padding[0], padding[1])
        return du

    du = np.zeros((16, o, c), dtype=g.dtype)
    if n:
        for results in _over_batch(work, n, 16 * (c + o) * tiles * g.itemsize,
                                   32.0 * n * o * c * tiles * (int(need_x) + int(need_w)),
                                   WINOGRAD_GRAD_CHUNK_BYTES):
            for part in results:
                if part is not None:
                    du += part
    gw = np.einsum("ai,aboc,bj->ocij", G, du.reshape(4, 4, o, c), G) if need_w else None
    return gx, gw


def conv2d(x, w, b, stride, padding):
    """PyTorch's conv2d (cross-correlation, NCHW): ``(y, saved)``, saved = ("cols", the columns
    of every image) when they fit IM2COL_KEEP_BYTES, else ("x", x), for conv2d_vjp."""
    x, w = _c(x), _c(w)
    n, c, o, kh, kw, oh, ow = _conv_geometry(x.shape, w.shape, stride, padding)
    if _winograd_ok(x.shape, w.shape, stride, padding):
        bias = _c(b) if b is not None else np.empty(0, dtype=x.dtype)
        y = _winograd(x, w, bias, padding, np.empty((n, o, oh, ow), dtype=x.dtype))
        return y, ("x", x)
    r, p = c * kh * kw, oh * ow
    w2 = w.reshape(o, r)
    bias = _c(b).reshape(o, 1) if b is not None else None
    y = np.empty((n, o, p), dtype=x.dtype)
    args = (kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow)
    per_image = r * p * x.itemsize
    keep = np.empty((n, r, p), dtype=x.dtype) if n * per_image <= IM2COL_KEEP_BYTES else None
    scratch = threading.local()

    def work(n0, n1, step):
        if keep is not None:
            cols = keep[n0:n1]
        else:
            if getattr(scratch, "cols", None) is None:
                scratch.cols = np.empty((step, r, p), dtype=x.dtype)
            cols = scratch.cols[:n1 - n0]
        _cpu.im2col(x[n0:n1], cols, *args)
        np.matmul(w2, cols, out=y[n0:n1])
        if bias is not None:
            y[n0:n1] += bias

    if n:
        _over_batch(work, n, per_image, 2.0 * n * o * r * p)
    return y.reshape(n, o, oh, ow), (("cols", keep) if keep is not None else ("x", x))


def conv2d_vjp(g, w, saved, x_shape, stride, padding, need_x=True, need_w=True):
    """(dL/dx, dL/dw), a chunk of images at a time: dW = sum_n g[n] cols[n]^T (each thread sums
    its own, the threads' sums added at the end), dx[n] = col2im(W^T g[n]); or, after a
    Winograd forward, _winograd_vjp."""
    kind, arr = saved
    g, w = _c(g), _c(w)
    if kind == "x" and _winograd_ok(x_shape, w.shape, stride, padding):   # a Winograd forward
        gx, gw = _winograd_vjp(arr, g, w, padding, need_x, need_w)
        return gx, (gw.astype(g.dtype, copy=False) if gw is not None else None)
    n, c, o, kh, kw, oh, ow = _conv_geometry(x_shape, w.shape, stride, padding)
    r, p = c * kh * kw, oh * ow
    g3 = g.reshape(n, o, p)
    w2t = w.reshape(o, r).T
    args = (kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow)
    gx = np.zeros(x_shape, dtype=g.dtype) if need_x else None
    gw = None
    scratch = threading.local()

    def work(n0, n1, step):
        if getattr(scratch, "cols", None) is None:
            scratch.cols = np.empty((step, r, p), dtype=g.dtype)
        gw = None
        if need_w:
            if kind == "cols":
                cols = arr[n0:n1]
            else:
                cols = scratch.cols[:n1 - n0]
                _cpu.im2col(arr[n0:n1], cols, *args)
            gw = np.matmul(g3[n0:n1], cols.transpose(0, 2, 1)).sum(0)
        if need_x:
            dcols = np.matmul(w2t, g3[n0:n1], out=scratch.cols[:n1 - n0])
            _cpu.col2im(dcols, gx[n0:n1], *args)
        return gw

    if need_w:
        gw = np.zeros((o, r), dtype=g.dtype)
    if n and (need_x or need_w):
        flops = 2.0 * n * o * r * p * (int(need_x) + int(need_w))
        for results in _over_batch(work, n, r * p * g.itemsize, flops):
            for part in results:
                if part is not None:
                    gw += part
    return gx, (gw.reshape(w.shape) if gw is not None else None)


# ---- pooling -------------------------------------------------------------------------------------


def max_pool2d(x, kernel, stride):
    n, c, h, w = x.shape
    oh = conv_out_size(h, kernel[0], stride[0], 0)
    ow = conv_out_size(w, kernel[1], stride[1], 0)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    # 32-bit arg-max indices while a plane fits them (faster), 64-bit beyond
    idx = np.empty((n, c, oh, ow), dtype=np.int32 if h * w < 2**31 else np.int64)
    _cpu.max_pool2d(x, out, idx, kernel[0], kernel[1], stride[0], stride[1])
    return out, idx


def max_pool2d_vjp(g, idx, x_shape):
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h, w), dtype=g.dtype)
    _cpu.max_pool2d_vjp(g, idx, dx)
    return dx.reshape(x_shape)


def avg_pool2d(x, kernel, stride):
    n, c, h, w = x.shape
    oh = conv_out_size(h, kernel[0], stride[0], 0)
    ow = conv_out_size(w, kernel[1], stride[1], 0)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    _cpu.avg_pool2d(x, out, kernel[0], kernel[1], stride[0], stride[1])
    return out


def avg_pool2d_vjp(g, x_shape, kernel, stride):
    dx = np.zeros(x_shape, dtype=g.dtype)
    _cpu.avg_pool2d_vjp(g, dx, kernel[0], kernel[1], stride[0], stride[1])
    return dx


# ---- optimizer steps, in place -------------------------------------------------------------------


def _flat(a):
    return a.reshape(-1)   # callers pass contiguous arrays (see _in_place)


def _in_place(kernel):
    """Run an in-place update kernel on flat contiguous buffers: a parameter made with
    from_numpy of a transposed view is updated through a contiguous copy, written back."""
    def step(p, g, *state_and_args, **options):
        if not p.flags.writeable:
            raise ValueError(f"cannot update a read-only array of shape {p.shape} in place "
                             f"(a tensor made with from_numpy of a read-only array)")
        work = p if p.flags.c_contiguous else np.ascontiguousarray(p)
        kernel(work, _c(g), *state_and_args, **options)
        if work is not p:
            p[...] = work
    step.__name__, step.__doc__ = kernel.__name__, kernel.__doc__
    return step


@_in_place
def sgd_step(p, g, buf, lr, momentum, nesterov, weight_decay, first=False):
    _cpu.sgd_step(_flat(p), _flat(g), _flat(buf) if buf is not None else _flat(p),
                  lr, momentum, nesterov, weight_decay, first)


@_in_place
def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    _cpu.adam_step(_flat(p), _flat(g), _flat(m), _flat(v), lr, beta1, beta2, eps,
                   weight_decay, step)


@_in_place
def adagrad_step(p, g, s, lr, eps, weight_decay):
    _cpu.adagrad_step(_flat(p), _flat(g), _flat(s), lr, eps, weight_decay)


@_in_place
def rmsprop_step(p, g, s, lr, alpha, eps, weight_decay):
    _cpu.rmsprop_step(_flat(p), _flat(g), _flat(s), lr, alpha, eps, weight_decay)


# ---- recurrent layers: a GEMM per step (numpy's BLAS), the cell in one compiled pass ------------
#
# The steps run numpy's BLAS on one thread. A step's GEMM is small (batch x hidden x 4 hidden:
# 2M multiply-adds at the benchmark's size) and alternates with the cell kernel; with two BLAS
# threads the second one spins between the GEMMs and takes the core the cell needs. Measured on
# the 2-core machines: the LSTM layer's forward 4.9 ms on one thread, 10 ms (best) to 54 ms
# (median, loaded machine) on two. The weight gradient's one larger GEMM stays on one thread
# too: waking the second thread for it cost more than it saved (backward 5.8 ms against 10.9 ms
# at best).


def lstm(gx, w_hh, h0, c0, reverse=False):
    dt = gx.dtype
    gx, w_hh, h0, c0 = (_c(np.asarray(a, dt)) for a in (gx, w_hh, h0, c0))
    steps, n, h4 = gx.shape
    y = np.empty((steps + 1, n, h4 // 4), dt)
    acts = np.empty_like(gx)
    cs = np.empty((steps, n, h4 // 4), dt)
    gh = np.empty((n, h4), dt)
    w_t = w_hh.T
    h, c = h0, c0
    with blas.single_threaded():   # one BLAS thread: see above
        for t in _ref._steps(steps, reverse):
            np.matmul(h, w_t, out=gh)
            _cpu.lstm_cell(gx[t], gh, c, acts[t], cs[t], y[t])
            h, c = y[t], cs[t]
    y[steps] = c
    return y, (acts, cs, y, h0, c0, w_hh)


def lstm_vjp(g, saved, reverse=False):
    acts, cs, y, h0, c0, w_hh = saved
    steps, n, hs = cs.shape
    g = _c(np.asarray(g, acts.dtype))
    da = np.empty_like(acts)
    dh = np.zeros_like(h0)
    dc = np.array(g[steps])
    order = list(_ref._steps(steps, reverse))
    with blas.single_threaded():
        for k in range(steps - 1, -1, -1):
            t = order[k]
            _cpu.lstm_cell_vjp(acts[t], c0 if k == 0 else cs[order[k - 1]], cs[t], g[t], dh,
                               dc, da[t])
            np.matmul(da[t], w_hh, out=dh)
        prev = [h0[None], y[:steps - 1]] if not reverse else [y[1:steps], h0[None]]
        dw = da.reshape(-1, 4 * hs).T @ np.concatenate(prev).reshape(-1, hs)
    return da, dw, dh, dc


lstm.__doc__, lstm_vjp.__doc__ = _ref.lstm.__doc__, _ref.lstm_vjp.__doc__


def gru(gx, w_hh, b_hh, h0, reverse=False):
    dt = gx.dtype
    gx, w_hh, h0 = (_c(np.asarray(a, dt)) for a in (gx, w_hh, h0))
    steps, n, h3 = gx.shape
    bias = np.zeros(h3, dt) if b_hh is None else _c(np.asarray(b_hh, dt))
    y = np.empty((steps, n, h3 // 3), dt)
    acts = np.empty_like(gx)
    ghn = np.empty_like(y)
    gh = np.empty((n, h3), dt)
    w_t = w_hh.T
    h = h0
    with blas.single_threaded():
        for t in _ref._steps(steps, reverse):
            np.matmul(h, w_t, out=gh)
            _cpu.gru_cell(gx[t], gh, bias, h, acts[t], ghn[t], y[t])
            h = y[t]
    return y, (acts, ghn, y, h0, w_hh, b_hh is not None)


def gru_vjp(g, saved, reverse=False):
    acts, ghn, y, h0, w_hh, has_bias = saved
    steps, n, hs = y.shape
    g = _c(np.asarray(g, acts.dtype))
    dgx, dgh = np.empty_like(acts), np.empty_like(acts)
    dh, direct = np.zeros_like(h0), np.empty_like(h0)
    order = list(_ref._steps(steps, reverse))
    with blas.single_threaded():
        for k in range(steps - 1, -1, -1):
            t = order[k]
            _cpu.gru_cell_vjp(acts[t], ghn[t], h0 if k == 0 else y[order[k - 1]], g[t], dh,
                              dgx[t], dgh[t], direct)
            np.matmul(dgh[t], w_hh, out=dh)
            dh += direct
        prev = [h0[None], y[:steps - 1]] if not reverse else [y[1:steps], h0[None]]
        dw = dgh.reshape(-1, 3 * hs).T @ np.concatenate(prev).reshape(-1, hs)
    return dgx, dw, dgh.sum((0, 1)) if has_bias else None, dh


gru.__doc__, gru_vjp.__doc__ = _ref.gru.__doc__, _ref.gru_vjp.__doc__


# ---- batch normalisation in training: three passes forward, two backward ------------------------


def _nc_s(a):
    n, c = a.shape[:2]
    return _c(a).reshape(n, c, -1)


def batch_norm(x, weight, bias, eps):
    dt = x.dtype
    x3 = _nc_s(x)
    c = x3.shape[1]
    mean, var = np.empty(c, dt), np.empty(c, dt)
    _cpu.bn_stats(x3, mean, var)
    invstd = (1 / np.sqrt(var.astype(np.float64) + eps)).astype(dt)
    scale = invstd if weight is None else _c(invstd * weight.astype(dt, copy=False))
    shift = np.zeros(c, dt) if bias is None else _c(bias.astype(dt, copy=False))
    y = np.empty_like(x3)
    _cpu.bn_apply(x3, mean, scale, shift, y)
    return y.reshape(x.shape), mean, var, (x3, mean, invstd, scale, weight is not None)


def batch_norm_vjp(g, saved, need_x=True, need_w=True, need_b=True):
    x3, mean, invstd, scale, has_w = saved
    g3 = _nc_s(g.astype(x3.dtype, copy=False))
    c = x3.shape[1]
    n = x3.size // builtins.max(c, 1)   # (max is the protocol's here)
    sum_g, sum_gx = np.empty(c, x3.dtype), np.empty(c, x3.dtype)
    _cpu.bn_vjp_sums(g3, x3, mean, invstd, sum_g, sum_gx)
    dx = None
    if need_x:
        dx = np.empty_like(x3)
        _cpu.bn_vjp(g3, x3, mean, invstd, scale, sum_g / n, sum_gx / n, dx)
        dx = dx.reshape(g.shape)
    return dx, sum_gx if need_w and has_w else None, sum_g if need_b else None


batch_norm.__doc__, batch_norm_vjp.__doc__ = _ref.batch_norm.__doc__, _ref.batch_norm_vjp.__doc__
