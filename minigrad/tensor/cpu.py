"""The CPU backend: numpy arrays, numpy's BLAS for matmul, and the Cython kernels of ``_cpu``.

Implements docs/backend_protocol.md. Functions receive arrays the tensor engine has already
validated (shapes, dtypes); each wrapper makes sure a compiled kernel gets the contiguous, typed
buffers it trusts before it runs without the GIL.
"""

from __future__ import annotations

import os

import numpy as np

# If a user opts in to parallel kernels (minigrad.set_num_threads), idle OpenMP threads should
# sleep rather than spin on the cores numpy's BLAS needs next. libgomp reads this once, when it
# loads; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _cpu  # noqa: E402 - the compiled module is required: no silent fallback


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

# ---- creation / transfer -----------------------------------------------------------------------


def asarray(x, dtype=None) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


def to_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)  # reductions and ufuncs on 0-d input give numpy scalars, not arrays


def zeros(shape, dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def full(shape, value, dtype) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


# ---- elementwise ---------------------------------------------------------------------------------

add, sub, mul, div = np.add, np.subtract, np.multiply, np.true_divide
maximum, minimum = np.maximum, np.minimum
neg, exp, log, sqrt, sin, cos, tanh, abs, sign = (
    np.negative, np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh, np.abs, np.sign)


def pow(a, b):  # noqa: A001 - the op's name everywhere
    return np.power(a, b)


def gt(a, b):
    return np.greater(a, b).astype(_ftype(a, b))


def ge(a, b):
    return np.greater_equal(a, b).astype(_ftype(a, b))


def eq(a, b):
    return np.equal(a, b).astype(_ftype(a, b))


def _ftype(a, b):
    return a.dtype if isinstance(a, np.ndarray) else np.asarray(b).dtype


def where(cond, a, b):
    return np.where(cond != 0, a, b)


def _c(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a)


def _unary_kernel(kernel, *arrays):
    """Run a fused elementwise kernel over flat contiguous copies/views of equal-shape arrays."""
    shape = np.shape(arrays[0])  # np.ascontiguousarray makes 0-d input 1-d: keep the shape
    arrays = [_c(a).reshape(-1) for a in arrays]
    out = np.empty_like(arrays[0])
    kernel(*arrays, out)
    return out.reshape(shape)


def sigmoid(x):
    if x.dtype not in (np.float32, np.float64):
        return 1.0 / (1.0 + np.exp(-x))
    return _unary_kernel(_cpu.sigmoid, x)


def relu(x):
    return np.maximum(x, 0)


def relu_back(x, g):
    return _unary_kernel(_cpu.relu_back, x, g.astype(x.dtype, copy=False))


def sigmoid_back(y, g):
    return _unary_kernel(_cpu.sigmoid_back, y, g.astype(y.dtype, copy=False))


def tanh_back(y, g):
    return _unary_kernel(_cpu.tanh_back, y, g.astype(y.dtype, copy=False))


def clip(a, lo, hi):
    return np.clip(a, lo, hi)


def clip_back(x, g, lo, hi):
    mask = np.ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return g * mask


# ---- reductions ------------------------------------------------------------------------------


def sum(a, axis=None, keepdims=False):  # noqa: A001
    return np.sum(a, axis=axis, keepdims=keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001
    return np.max(a, axis=axis, keepdims=keepdims)


def min(a, axis=None, keepdims=False):  # noqa: A001
    return np.min(a, axis=axis, keepdims=keepdims)


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo broadcasting in the backward: sum ``g`` over the axes broadcasting added or
    stretched so the result has ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    r = g.sum(axis=axes, keepdims=True) if axes else g
    return r.reshape(shape)


def broadcast_to(a, shape):
    return np.broadcast_to(a, shape)


def reshape(a, shape):
    return a.reshape(shape)


def transpose(a, axes):
    return a.transpose(axes)


# ---- linear algebra --------------------------------------------------------------------------


def matmul(a, b, trans_a=False, trans_b=False):
    # A transposed view is F-contiguous; numpy hands it to BLAS with a transpose flag, no copy.
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


# ---- softmax / cross-entropy ------------------------------------------------------------------


def softmax(x):
    x = _c(x)
    out = np.empty_like(x)
    _cpu.softmax(x, out)
    return out


def log_softmax(x):
    x = _c(x)
    out = np.empty_like(x)
    _cpu.log_softmax(x, out)
    return out


def softmax_back(y, g):
    out = np.empty_like(y)
    _cpu.softmax_back(_c(y), _c(g.astype(y.dtype, copy=False)), out)
    return out


def log_softmax_back(ly, g):
    out = np.empty_like(ly)
    _cpu.log_softmax_back(_c(ly), _c(g.astype(ly.dtype, copy=False)), out)
    return out


def cross_entropy(logits, targets):
    x = _c(logits)
    t = _c(targets.astype(np.int64, copy=False))
    loss = np.empty(x.shape[0], dtype=x.dtype)
    probs = np.empty_like(x)
    _cpu.cross_entropy(x, t, loss, probs)
    return loss, probs


def cross_entropy_back(probs, targets, g):
    out = np.empty_like(probs)
    _cpu.cross_entropy_back(probs, _c(targets.astype(np.int64, copy=False)),
                            _c(np.asarray(g, dtype=probs.dtype).reshape(-1)), out)
    return out


# ---- convolution --------------------------------------------------------------------------------


def conv_out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _im2col(x, kh, kw, stride, padding):
    n, c, h, w = x.shape
    oh = conv_out_size(h, kh, stride[0], padding[0])
    ow = conv_out_size(w, kw, stride[1], padding[1])
    cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    _cpu.im2col(_c(x), cols, kh, kw, stride[0], stride[1], padding[0], padding[1], oh, ow)
    return cols, oh, ow


def conv2d(x, w, b, stride, padding, return_cols=False):
    n = x.shape[0]
    o, _, kh, kw = w.shape
    cols, oh, ow = _im2col(x, kh, kw, stride, padding)
    y = _c(w).reshape(o, -1) @ cols  # (O, N*OH*OW): one GEMM for the whole batch
    if b is not None:
        y += b.reshape(o, 1)
    # (O, N, OH, OW) -> (N, O, OH, OW). One copy here saves one in every kernel downstream
    # (activation, its backward, pooling), which would otherwise each make the view contiguous.
    y = np.ascontiguousarray(y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3))
    return (y, cols) if return_cols else y


def _g_rows(g):
    # (N, O, OH, OW) -> (O, N*OH*OW), the layout of the forward's GEMM output.
    n, o, oh, ow = g.shape
    return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, n * oh * ow)


def conv2d_back_input(g, w, x_shape, stride, padding, g_rows=None):
    o, c, kh, kw = w.shape
    gr = _g_rows(g) if g_rows is None else g_rows
    dcols = _c(w).reshape(o, -1).T @ gr  # (C*kh*kw, N*OH*OW)
    dx = np.zeros(x_shape, dtype=g.dtype)
    _cpu.col2im(dcols, dx, kh, kw, stride[0], stride[1], padding[0], padding[1],
                g.shape[2], g.shape[3])
    return dx


def conv2d_back_weight(g, x, w_shape, stride, padding, cols=None, g_rows=None):
    o, c, kh, kw = w_shape
    if cols is None:
        cols, _, _ = _im2col(x, kh, kw, stride, padding)
    gr = _g_rows(g) if g_rows is None else g_rows
    return (gr @ cols.T).reshape(w_shape)


# ---- pooling -------------------------------------------------------------------------------------


def max_pool2d(x, kernel, stride):
    n, c, h, w = x.shape
    oh = conv_out_size(h, kernel[0], stride[0], 0)
    ow = conv_out_size(w, kernel[1], stride[1], 0)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int32)
    _cpu.max_pool2d(x, out, idx, kernel[0], kernel[1], stride[0], stride[1])
    return out, idx


def max_pool2d_back(g, idx, x_shape):
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h, w), dtype=g.dtype)
    _cpu.max_pool2d_back(g, idx, dx)
    return dx.reshape(x_shape)


def avg_pool2d(x, kernel, stride):
    n, c, h, w = x.shape
    oh = conv_out_size(h, kernel[0], stride[0], 0)
    ow = conv_out_size(w, kernel[1], stride[1], 0)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    _cpu.avg_pool2d(x, out, kernel[0], kernel[1], stride[0], stride[1])
    return out


def avg_pool2d_back(g, x_shape, kernel, stride):
    dx = np.zeros(x_shape, dtype=g.dtype)
    _cpu.avg_pool2d_back(g, dx, kernel[0], kernel[1], stride[0], stride[1])
    return dx


# ---- in-place updates ----------------------------------------------------------------------------


def accumulate(dst, src):
    np.add(dst, src, out=dst)


def _flat(a):
    if not a.flags.c_contiguous:
        raise ValueError("optimizer state must be contiguous")
    return a.reshape(-1)


def sgd_step(p, g, buf, lr, momentum, nesterov, weight_decay, first=False):
    _cpu.sgd_step(_flat(p), _c(g).reshape(-1), _flat(buf) if buf is not None else _flat(p),
                  lr, momentum, nesterov, weight_decay, first)


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    _cpu.adam_step(_flat(p), _c(g).reshape(-1), _flat(m), _flat(v), lr, beta1, beta2, eps,
                   weight_decay, step)


def adagrad_step(p, g, s, lr, eps, weight_decay):
    _cpu.adagrad_step(_flat(p), _c(g).reshape(-1), _flat(s), lr, eps, weight_decay)


def rmsprop_step(p, g, s, lr, alpha, eps, weight_decay):
    _cpu.rmsprop_step(_flat(p), _c(g).reshape(-1), _flat(s), lr, alpha, eps, weight_decay)
