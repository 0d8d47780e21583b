"""The reference backend: the whole backend protocol in plain numpy, as short as it can be said.

This module *is* the protocol's specification (docs/architecture.md lists the functions): each
function here states in numpy what every backend's version must compute, and
``tests/backends`` runs one suite over reference, cpu and opencl. It is also a working device:
``minigrad.tensor(x, device="reference")`` computes everything here, with no compiled code.

Arrays are numpy arrays; shapes and dtypes have been validated by the tensor engine before any
function here is called. Elementwise ops are not listed one by one: :func:`elementwise` evaluates
any rule of the rule book (:mod:`minigrad.rules`) with numpy as its namespace.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .numpy_xp import namespace as xp

name = "reference"

# Fused kernels by rule name: a backend that has a faster kernel for a rule's forward
# (``f(*xs)``) or for its vector-Jacobian product (``f(i, g, xs, y)``) lists it here, and its
# elementwise functions use it (the cpu backend does); either may return NotImplemented for
# operands it does not handle. The reference has none: it evaluates the rules themselves.
FUSED_FORWARD: dict = {}
FUSED_VJP: dict = {}

# ---- creation and transfer ------------------------------------------------------------------


def asarray(x, dtype=None) -> np.ndarray:
    """host (numpy) -> backend array"""
    return np.asarray(x, dtype=dtype)


def to_numpy(a) -> np.ndarray:
    """backend array -> host (numpy); a 0-d result of a ufunc (a numpy scalar) becomes 0-d"""
    return np.asarray(a)


def zeros(shape, dtype) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def full(shape, value, dtype) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


def astype(a, dtype):
    """a new array (always a copy, never a view) with the values of ``a`` in ``dtype``"""
    return np.array(a, dtype=dtype)


# ---- elementwise: every rule of the rule book ---------------------------------------------------


def _one_dtype(xs):
    dt = None
    for x in xs:
        d = getattr(x, "dtype", None)
        if d is not None:
            if dt is not None and d != dt:
                return None
            dt = d
    return dt


def elementwise(rule, *xs):
    """``rule.forward(numpy, *xs)``: operands broadcast; Python numbers are constants. The result
    keeps the operands' dtype (a rule's float constants do not widen float32)."""
    return _keep_dtype(rule.forward(xp, *xs), xs)


def _keep_dtype(y, xs):
    dt = _one_dtype(xs)
    if dt is not None and y.dtype != dt and dt.kind == "f":
        y = y.astype(dt)
    return y


def times(g, local):
    """``g * local`` in g's dtype, skipping the multiply for the constant 1 (add, sub)."""
    if type(local) is float or type(local) is int:
        if local == 1:
            return g
        if local == -1:
            return np.negative(g)
    r = np.multiply(g, local)
    return r if r.dtype == g.dtype else r.astype(g.dtype)


def elementwise_vjp(rule, i, g, xs, y):
    """d loss / d xs[i] = g * rule.local[i](numpy, *xs, y), in the broadcast (output) shape;
    backprop sums it back to the input's shape."""
    return times(g, rule.local[i](xp, *xs, y))


def gt(a, b):
    """``(a > b)`` as 0/1 in the operands' float dtype (masks for the backward passes)"""
    return np.greater(a, b).astype(_ftype(a, b))


def ge(a, b):
    return np.greater_equal(a, b).astype(_ftype(a, b))


def eq(a, b):
    return np.equal(a, b).astype(_ftype(a, b))


def _ftype(a, b):
    return a.dtype if isinstance(a, np.ndarray) else np.asarray(b).dtype


def where(cond, a, b):
    """``np.where(cond != 0, a, b)``, broadcasting; a or b may be a Python number"""
    return np.where(cond != 0, a, b)


def clip(a, lo, hi):
    """``np.clip(a, lo, hi)`` (either bound None); NaN stays NaN"""
    return np.clip(a, lo, hi)


def clip_vjp(x, g, lo, hi):
    """``g * ((x >= lo) & (x <= hi))``: the gradient passes where x was not clipped"""
    mask = np.ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return g * mask


# ---- reductions ----------------------------------------------------------------------------------


def sum(a, axis=None, keepdims=False):  # noqa: A001 - the op's name
    """``axis`` is None or a tuple of non-negative ints"""
    return np.sum(a, axis=axis, keepdims=keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001
    return np.max(a, axis=axis, keepdims=keepdims)


def min(a, axis=None, keepdims=False):  # noqa: A001
    return np.min(a, axis=axis, keepdims=keepdims)


def sum_to(g, shape: tuple):
    """Undo broadcasting: sum ``g`` over the axes broadcasting added or stretched, so the
    result has ``shape`` (the gradient of an input used at many positions is their sum)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    r = g.sum(axis=axes, keepdims=True) if axes else g
    return r.reshape(shape)


# ---- shape and indexing --------------------------------------------------------------------------


def broadcast_to(a, shape):
    return np.broadcast_to(a, shape)


def reshape(a, shape):
    return np.reshape(a, shape)


def transpose(a, axes):
    return np.transpose(a, axes)


def index(a, key):
    """``a[key]``: key is a validated numpy index (ints, slices, None, Ellipsis, int arrays,
    bool arrays), held by the tensor engine as its own copy"""
    return a[key]


def index_vjp(g, key, shape):
    """The gradient of ``index``: ``g`` scattered into zeros of ``shape``, added where the index
    repeats an element"""
    out = np.zeros(shape, dtype=g.dtype)
    if all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))
           for k in (key if isinstance(key, tuple) else (key,))):
        out[key] = g   # basic indexing repeats no element: a copy (np.add.at is 10x slower)
    else:
        np.add.at(out, key, g)
    return out


def cat(arrays, axis: int):
    """``np.concatenate(arrays, axis)``"""
    return np.concatenate(arrays, axis=axis)


def accumulate(dst, src):
    """``dst += src`` in place (src broadcasts to dst)"""
    np.add(dst, src, out=dst)
    return dst


# ---- ops with no gradient, scans, sorting and gathering -----------------------------------------


UFUNCS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
          "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
          "invert", "left_shift", "right_shift", "isnan", "isinf", "isfinite", "floor_divide",
          "remainder")


def ufunc(name: str, *xs):
    """The numpy ufunc ``name`` (one of ``UFUNCS``: comparisons, logic, bits, isnan, ...): the
    elementwise ops that have no gradient; operands broadcast, numbers are constants"""
    if name not in UFUNCS:
        raise ValueError(f"ufunc: {name!r} is not one of {UFUNCS}")
    return np.asarray(getattr(np, name)(*xs))


def reduce_index(name: str, a, axis, keepdims=False):
    """``any``, ``all`` (bool) or ``argmax``, ``argmin`` (int64, first wins) over one axis or
    all (axis None)"""
    if name in ("any", "all"):
        return np.asarray(getattr(np, name)(a, axis=axis, keepdims=keepdims))
    r = getattr(np, name)(a, axis=axis, keepdims=keepdims) if axis is not None else \
        getattr(np, name)(a).reshape((1,) * a.ndim if keepdims else ())
    return np.asarray(r, dtype=np.int64)


def cumsum(a, axis: int):
    return np.cumsum(a, axis=axis, dtype=a.dtype)


def cumsum_vjp(g, axis: int):
    """the gradient of cumsum: the reversed cumulative sum of g"""
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis, dtype=g.dtype), axis)


def prod(a, axis, keepdims=False):
    return np.prod(a, axis=axis, keepdims=keepdims, dtype=a.dtype)


def prod_vjp(g, a, axis):
    """d prod / d a_i = the product of the others: y / a_i where a_i != 0; with one zero in a
    slice only that element gets the product of the others, with two or more every gradient is 0.
    ``g`` has the reduced axes kept (size 1)."""
    zeros = a == 0
    nz = np.where(zeros, 1, a)
    others = np.prod(nz, axis=axis, keepdims=True, dtype=a.dtype)
    count = np.sum(zeros, axis=axis, keepdims=True)
    grad = np.where(count == 0, others / nz, np.where((count == 1) & zeros, others, 0))
    return (g * grad).astype(a.dtype)


def sort(a, axis: int, descending=False):
    """``(values, indices)`` along ``axis``, stable (equal values keep their order)"""
    idx = np.argsort(-a if descending else a, axis=axis, kind="stable") \
        if a.dtype != np.bool_ else np.argsort(~a if descending else a, axis=axis, kind="stable")
    return np.take_along_axis(a, idx, axis), idx.astype(np.int64)


def gather(a, index, axis: int):
    """``out[..., i, ...] = a[..., index[..., i, ...], ...]`` along ``axis`` (torch.gather;
    ``index`` has a's number of dims, int64, validated by the caller)"""
    return np.take_along_axis(a, index, axis)


def gather_vjp(g, index, axis: int, shape):
    """the gradient of gather: g added back at the gathered positions"""
    out = np.zeros(shape, dtype=g.dtype)
    idx = [np.arange(s).reshape([-1 if d == k else 1 for d in range(g.ndim)])
           for k, s in enumerate(index.shape)]
    idx[axis] = index
    np.add.at(out, tuple(idx), g)
    return out


# ---- scans beyond cumsum, scatter with a reduction -----------------------------------------------


def _rcumsum(a, axis):
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis, dtype=a.dtype), axis)


def cumprod(a, axis: int):
    return np.cumprod(a, axis=axis, dtype=a.dtype)


def cumprod_vjp(g, a, axis: int):
    """the gradient of cumprod, dL/da_j = sum_{i >= j} g_i prod_{k <= i, k != j} a_k, exact with
    zeros: before a slice's first zero it is rcumsum(g y)_j / a_j; at the first zero,
    rcumsum(g y')_j with y' the cumprod with that zero replaced by 1; after it 0"""
    zero = a == 0
    nzeros = np.cumsum(zero, axis=axis)
    first, before = zero & (nzeros == 1), nzeros == 0
    y = np.cumprod(a, axis=axis, dtype=a.dtype)
    y1 = np.cumprod(np.where(first, np.ones((), a.dtype), a), axis=axis, dtype=a.dtype)
    gb = _rcumsum(g * y, axis) / np.where(before, a, np.ones((), a.dtype))
    return np.where(before, gb, np.where(first, _rcumsum(g * y1, axis), 0)).astype(g.dtype)


def _cum_extreme(a, axis, op):
    """running max/min and the index where it was taken: ties and NaNs move the index to the
    latest position (PyTorch's cummax/cummin), a NaN stays once seen"""
    m = op.accumulate(a, axis=axis, dtype=a.dtype) if a.size else a.copy()
    record = a == m
    if a.dtype.kind == "f":
        record |= np.isnan(a)
    pos = np.arange(a.shape[axis]).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
    idx = np.maximum.accumulate(np.where(record, pos, 0), axis=axis) if a.size else \
        np.zeros(a.shape, np.int64)
    return m, idx.astype(np.int64)


def cummax(a, axis: int):
    """``(values, indices)``: the running maximum along ``axis`` and where it was taken"""
    return _cum_extreme(a, axis, np.maximum)


def cummin(a, axis: int):
    """``(values, indices)``: the running minimum along ``axis`` and where it was taken"""
    return _cum_extreme(a, axis, np.minimum)


def logcumsumexp(a, axis: int):
    """``y_i = log sum_{j <= i} e^a_j`` along ``axis``, without overflow"""
    return np.logaddexp.accumulate(a, axis=axis, dtype=a.dtype) if a.size else a.copy()


def logcumsumexp_vjp(g, a, y, axis: int):
    """the gradient of logcumsumexp, dL/da_j = sum_{i >= j} g_i e^(a_j - y_i), in log space for
    the positive and the negative parts of g so that nothing overflows (PyTorch's formula)"""
    if not g.size:
        return np.zeros_like(g)
    lowest = np.finfo(g.dtype).min
    out = np.zeros_like(g)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # -inf inputs: as torch
        log_abs = np.log(np.abs(g))
        for sign in (1, -1):
            lg = np.where(g * sign > 0, log_abs, lowest) - y
            rl = np.flip(np.logaddexp.accumulate(np.flip(lg, axis), axis=axis), axis)
            out = out + sign * np.exp(rl + a)
    return out.astype(g.dtype)


def _scatter_key(index, axis):
    """``index`` (the index of scatter/gather) as a full numpy fancy-index key"""
    key = [np.arange(s).reshape([-1 if d == k else 1 for d in range(index.ndim)])
           for k, s in enumerate(index.shape)]
    key[axis] = index
    return tuple(key)


def _at(ufunc, out, index, axis, src):
    """``ufunc.at(out, key, src)`` in place, through flat positions where ``out`` is C-contiguous
    (5x faster than a tuple key)"""
    if not out.flags.c_contiguous:
        ufunc.at(out, _scatter_key(index, axis), src)
        return
    strides = np.cumprod((out.shape[1:] + (1,))[::-1])[::-1]
    flat = index * strides[axis]
    for k, s in enumerate(index.shape):
        if k != axis:
            flat = flat + np.arange(s).reshape([-1 if d == k else 1 for d in range(index.ndim)]) \
                * strides[k]
    ufunc.at(out.reshape(-1), flat.reshape(-1),
             src.reshape(-1) if isinstance(src, np.ndarray) and src.ndim else src)


_SCATTER_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                   "amin": np.minimum}


def scatter(a, index, src, axis: int, reduce=None, include_self=True):
    """a copy of ``a`` with ``src`` (an array of index's shape, or a number) written at
    ``index`` along ``axis`` (torch.scatter; reduce None: the last write wins), or combined there
    by ``reduce`` in sum, prod, mean, amax, amin (torch.scatter_reduce; ``include_self``: a's
    value takes part in the reduction, else positions written hold only the src values)"""
    out = np.array(a, order="C")
    key = _scatter_key(index, axis)
    if reduce is None:
        out[key] = src
        return out
    if not include_self:
        ident = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
        if ident is None:
            ident = (-np.inf if reduce == "amax" else np.inf) if a.dtype.kind == "f" else \
                (np.iinfo(a.dtype).min if reduce == "amax" else np.iinfo(a.dtype).max)
        out[key] = ident
    _at(_SCATTER_UFUNCS[reduce], out, index, axis, src)
    if reduce == "mean":
        count = np.full(a.shape, 1 if include_self else 0, np.int64)
        _at(np.add, count, index, axis, 1)
        count = np.maximum(count, 1)
        out = out // count if a.dtype.kind in "iu" else out / count
    return out.astype(a.dtype)


def scatter_vjp(g, a, index, src, out, axis: int, reduce=None, include_self=True):
    """``(d a, d src)`` for :func:`scatter` (``out`` its result; d src None when src is a number),
    PyTorch's gradients: the written positions get nothing back for reduce None; for amax/amin
    the gradient is split evenly among the elements equal to the result; prod divides out the
    element, exact with zeros"""
    key = _scatter_key(index, axis)
    scalar = not isinstance(src, np.ndarray)
    if scalar:
        src = np.asarray(src, a.dtype)
    hit = np.zeros(a.shape, bool)
    hit[key] = True
    if reduce is None or (reduce == "sum"):
        ga = np.where(hit, 0, g) if reduce is None or not include_self else g
        return ga.astype(g.dtype), (None if scalar else g[key])
    if reduce == "mean":
        n = np.full(a.shape, 1 if include_self else 0, g.dtype)
        _at(np.add, n, index, axis, 1)
        n = np.where(n == 0, 1, n)
        ga, gs = g / n, g[key] / n[key]
    elif reduce in ("amax", "amin"):
        value = out[key]
        self_is = (a == out).astype(g.dtype)
        src_is = (src == value).astype(g.dtype)
        count = self_is.copy()
        _at(np.add, count, index, axis, np.broadcast_to(src_is, index.shape).copy())
        dist = g / count
        ga, gs = self_is * dist, src_is * dist[key]
    else:  # prod
        one = np.ones((), a.dtype)
        masked_a = np.where(a == 0, one, a)
        ga = g * scatter(masked_a, index, src, axis, "prod", include_self) / masked_a
        src_zero = src == 0
        nzero = np.zeros(a.shape, g.dtype)
        _at(np.add, nzero, index, axis,
            np.broadcast_to(src_zero, index.shape).astype(g.dtype))
        single = src_zero & (nzero[key] == 1)
        masked_src_out = scatter(a, index, np.where(single, one, src), axis, "prod",
                                 include_self)
        with np.errstate(invalid="ignore", divide="ignore"):
            gs = np.where(single, (g * masked_src_out)[key],
                          (g * out)[key] / np.where(src_zero, one, src))
    if not include_self:
        ga = np.where(hit, 0, g)
    return ga.astype(g.dtype), (None if scalar else gs.astype(g.dtype))


# ---- linear algebra ------------------------------------------------------------------------------


def matmul(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)``, op = transpose of the last two axes when trans_*; 2-D, or batched"""
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


# ---- softmax and cross-entropy (rows: the last axis of a 2-D array) ------------------------------


def log_softmax(x):
    if x.size == 0:
        return x.copy()
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(x):
    if x.size == 0:
        return x.copy()
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_vjp(y, g):
    """``y * (g - (g * y).sum(-1, keepdims=True))`` (y: the softmax output)"""
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def log_softmax_vjp(ly, g):
    """``g - exp(ly) * g.sum(-1, keepdims=True)`` (ly: the log-softmax output)"""
    return g - np.exp(ly) * g.sum(axis=-1, keepdims=True)


def cross_entropy(logits, targets):
    """``(loss, probs)``: loss[i] = -log softmax(logits)[i, t_i] and probs = the softmax"""
    lp = log_softmax(logits)
    rows = np.arange(logits.shape[0])
    return -lp[rows, targets], np.exp(lp)


def cross_entropy_vjp(probs, targets, g):
    """``(probs - onehot(targets)) * g[:, None]``: the lecture's softmax(c) - t"""
    out = probs.copy()
    out[np.arange(probs.shape[0]), targets] -= 1
    return out * np.asarray(g, dtype=probs.dtype).reshape(-1, 1)


# ---- convolution and pooling (NCHW) --------------------------------------------------------------


def _windows(x, kh, kw, stride, padding):
    """(N, C, OH, OW, kh, kw): every window of the padded input, a view (no copy)"""
    ph, pw = padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def conv2d(x, w, b, stride, padding):
    """PyTorch's conv2d (cross-correlation): ``(y, saved)``; ``saved`` is whatever the backend's
    ``conv2d_vjp`` needs from the forward (here, the windows of x)"""
    win = _windows(x, w.shape[2], w.shape[3], stride, padding)
    y = np.einsum("ncpqij,ocij->nopq", win, w, optimize=True)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(y, dtype=x.dtype), win


def conv2d_vjp(g, w, saved, x_shape, stride, padding, need_x=True, need_w=True):
    """``(dL/dx, dL/dw)`` (None where not needed); the bias gradient is ``sum(g, (0, 2, 3))``"""
    gx = gw = None
    if need_w:
        gw = np.einsum("nopq,ncpqij->ocij", g, saved, optimize=True).astype(g.dtype)
    if need_x:
        n, c, h, wd = x_shape
        kh, kw = w.shape[2:]
        (sh, sw), (ph, pw) = stride, padding
        oh, ow = g.shape[2:]
        dpad = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
        dwin = np.einsum("nopq,ocij->ncpqij", g, w, optimize=True)
        for i in range(kh):
            for j in range(kw):
                dpad[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += \
                    dwin[..., i, j]
        gx = dpad[:, :, ph:ph + h, pw:pw + wd]
    return gx, gw


def max_pool2d(x, kernel, stride):
    """``(y, idx)``: the max of each window (no padding) and its flat index h * W + w in the
    (n, c) plane (the first maximum wins)"""
    kh, kw = kernel
    n, c, h, w = x.shape
    win = _windows(x, kh, kw, stride, (0, 0))
    oh, ow = win.shape[2:4]
    flat = win.reshape(n, c, oh, ow, kh * kw)
    a = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, a[..., None], axis=-1)[..., 0]
    rows = np.arange(oh).reshape(-1, 1) * stride[0] + a // kw
    cols = np.arange(ow) * stride[1] + a % kw
    return np.ascontiguousarray(y), (rows * w + cols).astype(np.int64)


def max_pool2d_vjp(g, idx, x_shape):
    """each window's gradient goes whole to its arg-max (added where windows overlap)"""
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=g.dtype)
    per_plane = idx.shape[2] * idx.shape[3]
    planes = np.arange(n * c).reshape(-1, 1)
    np.add.at(dx, (planes, idx.reshape(n * c, per_plane)), g.reshape(n * c, per_plane))
    return dx.reshape(x_shape)


def avg_pool2d(x, kernel, stride):
    return _windows(x, kernel[0], kernel[1], stride, (0, 0)).mean(axis=(-2, -1)).astype(x.dtype)


def avg_pool2d_vjp(g, x_shape, kernel, stride):
    """each input element gets g / (kh kw) from every window it is in"""
    kh, kw = kernel
    sh, sw = stride
    oh, ow = g.shape[2:]
    dx = np.zeros(x_shape, dtype=g.dtype)
    share = g / (kh * kw)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += share
    return dx


# ---- optimizer steps, in place (PyTorch's rules; d = g + weight_decay * p) -----------------------


def sgd_step(p, g, buf, lr, momentum, nesterov, weight_decay, first=False):
    """buf = momentum buf + d (buf = d on the first step); p -= lr (d + momentum buf if nesterov
    else buf); with momentum 0, p -= lr d"""
    d = g + weight_decay * p
    if momentum == 0:
        p -= lr * d
        return
    if first:
        buf[...] = d
    else:
        buf *= momentum
        buf += d
    p -= lr * (d + momentum * buf if nesterov else buf)


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """m, v: running moments; p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)"""
    d = g + weight_decay * p
    m *= beta1
    m += (1 - beta1) * d
    v *= beta2
    v += (1 - beta2) * d * d
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    p -= (lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + eps)


def adagrad_step(p, g, s, lr, eps, weight_decay):
    """s += d^2; p -= lr d / (sqrt(s) + eps)"""
    d = g + weight_decay * p
    s += d * d
    p -= lr * d / (np.sqrt(s) + eps)


def rmsprop_step(p, g, s, lr, alpha, eps, weight_decay):
    """s = alpha s + (1 - alpha) d^2; p -= lr d / (sqrt(s) + eps)"""
    d = g + weight_decay * p
    s *= alpha
    s += (1 - alpha) * d * d
    p -= lr * d / (np.sqrt(s) + eps)



# ---- recurrent layers: a whole sequence per call ----------------------------------------------


def _steps(n: int, reverse: bool):
    return range(n - 1, -1, -1) if reverse else range(n)


def lstm(gx, w_hh, h0, c0, reverse=False):
    """One LSTM layer in one direction over a whole sequence (PyTorch's gate order i, f, g, o).
    ``gx`` (L, N, 4H): every step's input projection x_t W_ih^T + b_ih + b_hh; per step t (last
    to first if ``reverse``), a = gx[t] + h W_hh^T and, with the sigmoid and tanh rules,

        i, f, o = sigmoid(a_i, a_f, a_o), g = tanh(a_g);  c = f c + i g;  h = o tanh(c)

    Returns (y, saved): y (L + 1, N, H) holds h of every step in time order, then the last
    step's c; ``saved`` is what :func:`lstm_vjp` needs (a backend's own business)."""
    from ..rules import SIGMOID, TANH
    steps, n, h4 = gx.shape
    hs = h4 // 4
    y = np.empty((steps + 1, n, hs), gx.dtype)
    acts = np.empty_like(gx)
    cs = np.empty((steps, n, hs), gx.dtype)
    h, c = h0, c0
    for t in _steps(steps, reverse):
        a = gx[t] + h @ w_hh.T
        ifo = SIGMOID.forward(xp, a[:, np.r_[0:2 * hs, 3 * hs:h4]])
        acts[t, :, :2 * hs], acts[t, :, 3 * hs:] = ifo[:, :2 * hs], ifo[:, 2 * hs:]
        acts[t, :, 2 * hs:3 * hs] = TANH.forward(xp, a[:, 2 * hs:3 * hs])
        i, f, g, o = (acts[t, :, k * hs:(k + 1) * hs] for k in range(4))
        cs[t] = c = f * c + i * g
        y[t] = h = o * TANH.forward(xp, c)
    y[steps] = c
    return y, (acts, cs, y, h0, c0, w_hh)


def lstm_vjp(g, saved, reverse=False):
    """Backpropagation through time for :func:`lstm`, last step first: from g (L + 1, N, H),
    the gradient of y, returns (d gx (L, N, 4H), d W_hh (4H, H), d h0, d c0). Per step, with
    dh = g[t] + (the next step's d a) W_hh and dc carried back through the cells:

        dc += dh o tanh'(c);  d a = (dc g i', dc c_prev f', dc i g', dh tanh(c) o')
        dc = dc f;  and d W_hh = sum over steps of d a^T h_prev (one product at the end)

    where i', f', g', o' are the sigmoid and tanh rules' local derivatives."""
    from ..rules import SIGMOID, TANH
    acts, cs, y, h0, c0, w_hh = saved
    steps, _, hs = cs.shape
    g = np.asarray(g, acts.dtype)
    da = np.empty_like(acts)
    dh = np.zeros_like(h0)
    dc = np.array(g[steps])
    order = list(_steps(steps, reverse))
    dsig, dtanh = SIGMOID.local[0], TANH.local[0]
    for k in range(steps - 1, -1, -1):
        t = order[k]
        c_prev = c0 if k == 0 else cs[order[k - 1]]
        i, f, gg, o = (acts[t, :, j * hs:(j + 1) * hs] for j in range(4))
        tc = TANH.forward(xp, cs[t])
        dht = g[t] + dh
        dc = dc + dht * o * dtanh(xp, None, tc)
        da[t, :, :hs] = dc * gg * dsig(xp, None, i)
        da[t, :, hs:2 * hs] = dc * c_prev * dsig(xp, None, f)
        da[t, :, 2 * hs:3 * hs] = dc * i * dtanh(xp, None, gg)
        da[t, :, 3 * hs:] = dht * tc * dsig(xp, None, o)
        dc = dc * f
        dh = da[t] @ w_hh
    # h before each step, in time order: h0 first going forward, last going backward
    prev = [h0[None], y[:steps - 1]] if not reverse else [y[1:steps], h0[None]]
    h_prev = np.concatenate(prev).reshape(-1, hs)
    dw = da.reshape(-1, 4 * hs).T @ h_prev
    return da, dw, dh, dc


def gru(gx, w_hh, b_hh, h0, reverse=False):
    """One GRU layer in one direction over a whole sequence (PyTorch's gate order r, z, n).
    ``gx`` (L, N, 3H): every step's x_t W_ih^T + b_ih; per step t (last to first if
    ``reverse``), with gh = h W_hh^T + b_hh (``b_hh`` may be None) and the sigmoid and tanh
    rules,

        r, z = sigmoid(gx_r + gh_r, gx_z + gh_z);  n = tanh(gx_n + r gh_n);  h = n + z (h - n)

    Returns (y, saved): y (L, N, H), h of every step in time order; ``saved`` is what
    :func:`gru_vjp` needs."""
    from ..rules import SIGMOID, TANH
    steps, n, h3 = gx.shape
    hs = h3 // 3
    y = np.empty((steps, n, hs), gx.dtype)
    acts = np.empty_like(gx)                   # r, z, n
    ghn = np.empty((steps, n, hs), gx.dtype)   # h W_hn^T + b_hn, which dr needs
    h = h0
    for t in _steps(steps, reverse):
        gh = h @ w_hh.T
        if b_hh is not None:
            gh = gh + b_hh
        acts[t, :, :2 * hs] = SIGMOID.forward(xp, gx[t, :, :2 * hs] + gh[:, :2 * hs])
        r, z = acts[t, :, :hs], acts[t, :, hs:2 * hs]
        ghn[t] = gh[:, 2 * hs:]
        acts[t, :, 2 * hs:] = nn_ = TANH.forward(xp, gx[t, :, 2 * hs:] + r * ghn[t])
        y[t] = h = nn_ + z * (h - nn_)
    return y, (acts, ghn, y, h0, w_hh, b_hh is not None)


def gru_vjp(g, saved, reverse=False):
    """Backpropagation through time for :func:`gru`, last step first: from g (L, N, H), the
    gradient of y, returns (d gx (L, N, 3H), d W_hh (3H, H), d b_hh (None without it), d h0).
    Per step, with dh = g[t] + the next step's gradient of its h_prev:

        dn = dh (1 - z) tanh';  dz = dh (h_prev - n) z';  dr = dn gh_n r'
        d gx = (dr, dz, dn);  d gh = (dr, dz, dn r);  dh_prev = dh z + d gh W_hh

    where r', z', tanh' are the rules' local derivatives; d W_hh = sum of d gh^T h_prev."""
    from ..rules import SIGMOID, TANH
    acts, ghn, y, h0, w_hh, has_bias = saved
    steps, _, hs = y.shape
    g = np.asarray(g, acts.dtype)
    dgx = np.empty_like(acts)
    dgh = np.empty_like(acts)
    dh = np.zeros_like(h0)
    order = list(_steps(steps, reverse))
    dsig, dtanh = SIGMOID.local[0], TANH.local[0]
    for k in range(steps - 1, -1, -1):
        t = order[k]
        h_prev = h0 if k == 0 else y[order[k - 1]]
        r, z, nn_ = (acts[t, :, j * hs:(j + 1) * hs] for j in range(3))
        dht = g[t] + dh
        dn = dht * (1 - z) * dtanh(xp, None, nn_)
        dgx[t, :, hs:2 * hs] = dgh[t, :, hs:2 * hs] = dht * (h_prev - nn_) * dsig(xp, None, z)
        dgx[t, :, :hs] = dgh[t, :, :hs] = dn * ghn[t] * dsig(xp, None, r)
        dgx[t, :, 2 * hs:] = dn
        dgh[t, :, 2 * hs:] = dn * r
        dh = dht * z + dgh[t] @ w_hh
    prev = [h0[None], y[:steps - 1]] if not reverse else [y[1:steps], h0[None]]
    dw = dgh.reshape(-1, 3 * hs).T @ np.concatenate(prev).reshape(-1, hs)
    db = dgh.sum((0, 1)) if has_bias else None
    return dgx, dw, db, dh


# ---- batch normalisation in training: batch statistics and the closed-form backward -------------


def _bn_axes(x):
    return (0, *range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm(x, weight, bias, eps):
    """Batch normalisation of x (N, C, ...) with the batch's statistics, per channel (dim 1):
    mean, the biased variance var, y = (x - mean) / sqrt(var + eps) * weight + bias (weight and
    bias (C,) or None). Returns (y, mean, var, saved), saved for :func:`batch_norm_vjp`."""
    axes, shape = _bn_axes(x)
    mean = x.mean(axes)
    d = x - mean.reshape(shape)
    var = (d * d).mean(axes)
    invstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = d * invstd.reshape(shape)
    y = xhat if weight is None else xhat * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y.astype(x.dtype, copy=False), mean, var, (xhat, invstd, weight)


def batch_norm_vjp(g, saved, need_x=True, need_w=True, need_b=True):
    """The gradient of :func:`batch_norm` through the statistics too, in closed form: with
    xhat = (x - mean) invstd and n values per channel, d bias = sum g, d weight = sum g xhat,
    dx = weight invstd (g - d bias / n - xhat d weight / n). Returns (dx, d weight, d bias),
    None where not needed (d weight and d bias are None without weight, bias)."""
    xhat, invstd, weight = saved
    axes, shape = _bn_axes(xhat)
    n = xhat.size // xhat.shape[1] if xhat.shape[1] else 0   # (max is the protocol's)
    db = g.sum(axes)
    dw = (g * xhat).sum(axes)
    dx = None
    if need_x:
        k = invstd if weight is None else invstd * weight
        dx = k.reshape(shape) * (g - (db / n).reshape(shape) - xhat * (dw / n).reshape(shape))
        dx = dx.astype(xhat.dtype, copy=False)
    return dx, dw if need_w and weight is not None else None, db if need_b else None
