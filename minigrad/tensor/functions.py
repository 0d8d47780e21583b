"""The tensor engine's Functions: forward and backward side by side, on arrays, through the
backend protocol only (``self.be``; docs/architecture.md).

Each backward receives ``g`` = d loss / d output and returns d loss / d input for each input,
computed without forming a Jacobian. Every elementwise op is one Function, :class:`Elementwise`,
driven by a rule of the rule book (:mod:`minigrad.rules`): its derivative is written there, once.
The other Functions are the ops that are not elementwise (reductions, matmul, shapes, indexing)
and the fused ones (softmax, cross-entropy, convolution, pooling), whose kernels the backends
provide. A backward may return a gradient in the broadcast shape of the output; backprop sums it
back to the input's shape (:func:`minigrad.tensor.autograd.backprop`).
"""

from __future__ import annotations

import math

import numpy as np

from ..rules import DIV, MUL
from .autograd import Function


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op (a ValueError and, as in PyTorch, a RuntimeError)."""


def _shape(a):
    return tuple(a.shape) if hasattr(a, "shape") else ()


def _promote(be, xs, integer: bool):
    """PyTorch's type promotion for an elementwise op: integer (and bool) arrays become floats
    when a float array or a Python float takes part (float32 unless a float array says
    otherwise; Python numbers never widen), or when the rule is not closed over integers
    (exp, sigmoid, true division). A 0-d array beside arrays with dims counts only when its
    kind (bool < int < float) is higher: float32 + a 0-d float64 is float32."""
    d0 = getattr(xs[0], "dtype", None)
    if d0 is not None and d0.kind == "f" and all(getattr(x, "dtype", None) == d0 for x in xs):
        return xs   # the common case (one float dtype throughout): nothing to promote
    xs = _weak_zero_dim(be, xs)
    ints = pyfloat = False
    fdt = None
    for x in xs:
        d = getattr(x, "dtype", None)
        if d is None:
            pyfloat = pyfloat or type(x) is float
        elif d.kind in "biu":
            ints = True
        elif fdt is None:
            fdt = d
        elif d != fdt:  # float16 with float32: float32, float32 with float64: float64 (torch)
            fdt = np.promote_types(fdt, d)
            xs = tuple(be.astype(x, fdt) if getattr(x, "dtype", fdt) != fdt and
                       x.dtype.kind == "f" else x for x in xs)
    if not ints or (integer and fdt is None and not pyfloat):
        return _wrap_ints(xs) if ints else xs
    target = fdt if fdt is not None else _F32
    return tuple(be.astype(x, target) if getattr(x, "dtype", None) is not None
                 and x.dtype.kind in "biu" else x for x in xs)


_F32 = np.dtype(np.float32)
_KIND = {"b": 0, "i": 1, "u": 1, "f": 2}


def _weak_zero_dim(be, xs):
    """0-d arrays cast to the dtype of the arrays with dims when their kind is not higher."""
    dims = [x.dtype for x in xs if getattr(x, "dtype", None) is not None and len(x.shape)]
    if not dims or len(dims) == sum(getattr(x, "dtype", None) is not None for x in xs):
        return xs
    top = max(_KIND[d.kind] for d in dims)
    dt = np.result_type(*[d for d in dims if _KIND[d.kind] == top])   # int64, float32: float32
    return tuple(be.astype(x, dt) if getattr(x, "dtype", None) is not None and not len(x.shape)
                 and x.dtype != dt and _KIND[x.dtype.kind] <= _KIND[dt.kind] else x for x in xs)


def _wrap_ints(xs):
    """A Python int outside an integer tensor's range wraps around, as in PyTorch (uint8 * -1
    is 255): numpy would raise OverflowError."""
    dt = next(x.dtype for x in xs if getattr(x, "dtype", None) is not None)
    if dt.kind not in "iu":
        return xs
    info = np.iinfo(dt)
    return tuple(np.array(x).astype(dt) if type(x) is int and not info.min <= x <= info.max
                 else x for x in xs)


# ---- elementwise: every rule ------------------------------------------------------------------


class Elementwise(Function):
    """y = rule.forward(x...);  dL/dx_i = g * rule.local[i](x..., y)  (the rule book's op)"""

    def forward(self, *xs, rule=None):
        xs = _promote(self.be, xs, rule.integer)
        self.rule, self.xs = rule, xs
        try:
            self.y = self.be.elementwise(rule, *xs)
        except ValueError as e:
            try:
                np.broadcast_shapes(*(_shape(x) for x in xs))
            except ValueError:
                shapes = " and ".join(str(_shape(x)) for x in xs)
                raise ShapeError(f"{rule.name}: shapes {shapes} cannot be broadcast "
                                 f"together") from None
            from .scans import ArgumentError  # a ValueError and a RuntimeError, as torch

            raise ArgumentError(f"{rule.name}: {e}") from None  # e.g. int ** negative int
        return self.y

    def backward(self, g):
        be, rule, xs, y = self.be, self.rule, self.xs, self.y
        if g.dtype != y.dtype:  # a consumer promoted this result (float32 beside float64)
            g = be.astype(g, y.dtype)
        out = []
        for i, t in enumerate(self.inputs):  # a plain loop: this is every op's backward
            if not getattr(t, "requires_grad", False):
                out.append(None)
                continue
            # the local derivative is 1: g passes through (add, sub)
            gi = g if rule.unit[i] else be.elementwise_vjp(rule, i, g, xs, y)
            # an input promoted to the result's dtype gets its gradient in its own dtype
            out.append(gi if gi.dtype == t.data.dtype else be.astype(gi, t.data.dtype))
        return tuple(out)

    @property
    def name(self) -> str:
        return self.rule.name


class Clip(Function):
    """y = min(max(x, lo), hi);  dy/dx = [lo <= x <= hi]"""

    def forward(self, x, lo=None, hi=None):
        self.x, self.lo, self.hi = x, lo, hi
        return self.be.clip(x, lo, hi)

    def backward(self, g):
        return self.be.clip_vjp(self.x, g, self.lo, self.hi)


class Cast(Function):
    """y = x as another dtype; the gradient is cast back."""

    def forward(self, x, dtype=None):
        self.dtype = x.dtype
        return self.be.astype(x, dtype)

    def backward(self, g):
        return self.be.astype(g, self.dtype)


class ToDevice(Function):
    """y = x on another device; the gradient travels back."""

    def forward(self, x, be=None):
        self.src = self.be
        self.be = be
        return be.asarray(self.src.to_numpy(x))

    def backward(self, g):
        return self.src.asarray(self.be.to_numpy(g))


class Where(Function):
    """y = a where cond else b;  the gradient goes to the chosen side."""

    def forward(self, cond, a, b):
        self.cond = cond
        return self.be.where(cond, a, b)

    def backward(self, g):
        be = self.be
        return (None, be.where(self.cond, g, 0.0) if self.needs_input_grad(1) else None,
                be.where(self.cond, 0.0, g) if self.needs_input_grad(2) else None)


# ---- reductions --------------------------------------------------------------------------------


def _kept_shape(shape, axes):
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _reduced_shape(shape, axes):
    if axes is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class Sum(Function):
    """y = sum over dims;  dy/dx = 1: the gradient is copied back to every summed element."""

    def forward(self, x, axes=None, keepdim=False):
        self.shape, self.axes = _shape(x), axes
        return self.be.sum(x, axes, keepdim)

    def backward(self, g):
        be = self.be
        return be.broadcast_to(be.reshape(g, _kept_shape(self.shape, self.axes)), self.shape)


class Mean(Function):
    """y = sum / n;  dy/dx = 1/n"""

    def forward(self, x, axes=None, keepdim=False):
        self.shape, self.axes = _shape(x), axes
        n = 1
        for i, s in enumerate(self.shape):
            if axes is None or i in axes:
                n *= s
        # The mean of nothing is NaN, as in numpy and PyTorch (not a ZeroDivisionError).
        self.scale = 1.0 / n if n else math.nan
        return self.be.elementwise(MUL, self.be.sum(x, axes, keepdim), self.scale)

    def backward(self, g):
        be = self.be
        g = be.elementwise(MUL, be.reshape(g, _kept_shape(self.shape, self.axes)), self.scale)
        return be.broadcast_to(g, self.shape)


class Max(Function):
    """y = max over dims; the gradient goes to the maximal element (split evenly among ties)."""

    def forward(self, x, axes=None, keepdim=False, mode="max"):
        be = self.be
        self.x, self.axes = x, axes
        red = be.max if mode == "max" else be.min
        self.m = red(x, axes, True)
        return self.m if keepdim else be.reshape(self.m, _reduced_shape(_shape(x), axes))

    def backward(self, g):
        be = self.be
        mask = be.eq(self.x, self.m)
        count = be.sum(mask, self.axes, True)
        g = be.reshape(g, _kept_shape(_shape(self.x), self.axes))
        return be.elementwise(MUL, mask, be.elementwise(DIV, g, count))


class Cumsum(Function):
    """y_i = sum_{j <= i} x_j along a dim;  dL/dx_j = sum_{i >= j} g_i (a reversed cumsum)"""

    def forward(self, x, axis=0):
        self.axis = axis
        return self.be.cumsum(x, axis)

    def backward(self, g):
        return self.be.cumsum_vjp(g, self.axis)


class Prod(Function):
    """y = product over dims;  dy/dx_i = the product of the others (zeros handled)"""

    def forward(self, x, axes=None, keepdim=False):
        self.x, self.axes = x, axes
        return self.be.prod(x, axes, keepdim)

    def backward(self, g):
        be = self.be
        g = be.reshape(g, _kept_shape(_shape(self.x), self.axes))
        return be.prod_vjp(g, self.x, self.axes)


class Gather(Function):
    """y = x gathered along a dim by an index (torch.gather; sort, topk, take_along_dim);
    the gradient is added back at the gathered positions"""

    def forward(self, x, index=None, axis=0):
        self.shape, self.index, self.axis = _shape(x), index, axis
        return self.be.gather(x, index, axis)

    def backward(self, g):
        return self.be.gather_vjp(g, self.index, self.axis, self.shape)


class Scatter(Function):
    """y = zeros(shape) with x added at ``index`` along a dim (the gradient of gather, and
    scatter_add); its gradient is gather."""

    def forward(self, x, index=None, axis=0, shape=None):
        self.index, self.axis = index, axis
        return self.be.gather_vjp(x, index, axis, shape)

    def backward(self, g):
        return self.be.gather(g, self.index, self.axis)


# ---- scans, selections and scatters with a reduction (tensor/scans.py, tensor/scatters.py) -------


class Cumprod(Function):
    """y_i = prod_{j <= i} x_j along a dim;  dL/dx_j = sum_{i >= j} g_i prod_{k <= i, k != j} x_k
    (exact with zeros: the backend's cumprod_vjp)"""

    def forward(self, x, axis=0):
        self.x, self.axis = x, axis
        return self.be.cumprod(x, axis)

    def backward(self, g):
        return self.be.cumprod_vjp(g, self.x, self.axis)


class LogCumSumExp(Function):
    """y_i = log sum_{j <= i} e^x_j along a dim (stable);
    dL/dx_j = sum_{i >= j} g_i e^(x_j - y_i)"""

    def forward(self, x, axis=0):
        self.x, self.axis = x, axis
        self.y = self.be.logcumsumexp(x, axis)
        return self.y

    def backward(self, g):
        return self.be.logcumsumexp_vjp(g, self.x, self.y, self.axis)


class SelectEven(Function):
    """y = ``value``, an element of x picked elsewhere (median of all elements); the gradient is
    split evenly among the elements equal to it (among the NaNs when it is NaN), as torch's"""

    def forward(self, x, value=None, number=0.0):
        be = self.be
        self.mask = be.astype(be.ufunc("isnan", x), x.dtype) if math.isnan(number) else \
            be.eq(x, number)
        self.count = be.sum(self.mask, None, False)
        return value

    def backward(self, g):
        be = self.be
        return be.elementwise(MUL, self.mask, be.elementwise(DIV, g, self.count))


class ScatterReduce(Function):
    """y = x with src (or a number) written at ``index`` along a dim (reduce None) or combined
    there by sum/prod/mean/amax/amin (torch.scatter, torch.scatter_reduce); the gradients are
    PyTorch's (the backend's scatter_vjp)"""

    def forward(self, x, src, index=None, axis=0, reduce=None, include_self=True):
        self.x, self.src, self.index, self.axis = x, src, index, axis
        self.reduce, self.include_self = reduce, include_self
        self.y = self.be.scatter(x, index, src, axis, reduce, include_self)
        return self.y

    def backward(self, g):
        return self.be.scatter_vjp(g, self.x, self.index, self.src, self.y, self.axis,
                                   self.reduce, self.include_self)


# ---- linear algebra -----------------------------------------------------------------------------


class MatMul(Function):
    """y = a @ b;  da = g @ b^T, db = a^T @ g (batched: the same per batch; broadcast batch dims
    are summed back by backprop)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.be.matmul(a, b)

    def backward(self, g):
        be = self.be
        ga = be.matmul(g, self.b, trans_b=True) if self.needs_input_grad(0) else None
        gb = be.matmul(self.a, g, trans_a=True) if self.needs_input_grad(1) else None
        return ga, gb


class Linear(Function):
    """y = x W^T + b (PyTorch's layout, W of shape (out, in));
    dx = g W, dW = g^T x, db = sum of g over the batch"""

    def forward(self, x, w, b=None):
        be = self.be
        self.x, self.w = x, w
        y = be.matmul(x, w, trans_b=True)
        if b is not None:
            be.accumulate(y, b)  # y is a fresh GEMM result we own: no temporary
        return y

    def backward(self, g):
        be = self.be
        gx = be.matmul(g, self.w) if self.needs_input_grad(0) else None
        gw = be.matmul(g, self.x, trans_a=True) if self.needs_input_grad(1) else None
        gb = (be.sum(g, (0,), False)
              if len(self.inputs) > 2 and self.needs_input_grad(2) else None)
        return gx, gw, gb


# ---- shape and indexing -------------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape=None):
        self.shape = _shape(x)
        return self.be.reshape(x, shape)

    def backward(self, g):
        return self.be.reshape(g, self.shape)


class Permute(Function):
    def forward(self, x, axes=None):
        self.inv = tuple(sorted(range(len(axes)), key=axes.__getitem__))
        return self.be.transpose(x, axes)

    def backward(self, g):
        return self.be.transpose(g, self.inv)


class Expand(Function):
    """y = x broadcast to a shape;  backprop sums the gradient back."""

    def forward(self, x, shape=None):
        return self.be.broadcast_to(x, shape)

    def backward(self, g):
        return g


class Index(Function):
    """y = x[key] (ints, slices, None, Ellipsis, integer/bool arrays); the gradient is
    scattered back, adding where an index repeats."""

    def forward(self, x, key=None):
        self.shape, self.key = _shape(x), key
        return self.be.index(x, key)

    def backward(self, g):
        return self.be.index_vjp(g, self.key, self.shape)


class Cat(Function):
    """y = the inputs joined along ``dim``;  each input's gradient is its slice of g."""

    def forward(self, *xs, dim=0):
        self.dim = dim
        self.sizes = [_shape(x)[dim] for x in xs]
        return self.be.cat(xs, dim)

    def backward(self, g):
        out, start = [], 0
        lead = (slice(None),) * self.dim
        for i, n in enumerate(self.sizes):
            out.append(self.be.index(g, lead + (slice(start, start + n),))
                       if self.needs_input_grad(i) else None)
            start += n
        return tuple(out)


# ---- softmax and cross-entropy (fused kernels) --------------------------------------------------


def _to_rows(be, x, dim):
    """Move ``dim`` last and flatten the rest: kernels work on the rows of a 2-D array."""
    shape = _shape(x)
    nd = len(shape)
    dim = dim % nd
    if dim != nd - 1:
        perm = tuple(i for i in range(nd) if i != dim) + (dim,)
        x = be.transpose(x, perm)
    else:
        perm = None
    moved = _shape(x)
    rows = 1
    for k in moved[:-1]:
        rows *= k
    return be.reshape(x, (rows, shape[dim])), perm, moved   # (-1 cannot stand for 0 rows)


def _from_rows(be, y, perm, moved):
    y = be.reshape(y, moved)
    if perm is not None:
        y = be.transpose(y, tuple(sorted(range(len(perm)), key=perm.__getitem__)))
    return y


class Softmax(Function):
    """y_i = e^x_i / sum_j e^x_j;  dL/dx = y * (g - sum(g y)) (fused)"""

    kernel, vjp = "softmax", "softmax_vjp"

    def forward(self, x, dim=-1):
        be = self.be
        rows, self.perm, self.moved = _to_rows(be, x, dim)
        self.y = getattr(be, self.kernel)(rows)
        return _from_rows(be, self.y, self.perm, self.moved)

    def backward(self, g):
        be = self.be
        grows, _, _ = _to_rows(be, g, -1 if self.perm is None else self.perm[-1])
        return _from_rows(be, getattr(be, self.vjp)(self.y, grows), self.perm, self.moved)


class LogSoftmax(Softmax):
    """y_i = x_i - logsumexp(x);  dL/dx = g - softmax * sum(g) (fused)"""

    kernel, vjp = "log_softmax", "log_softmax_vjp"


class CrossEntropy(Function):
    """loss_i = -log softmax(x_i)[t_i], fused and stable;  dloss/dx_i = softmax(x_i) - onehot(t_i)
    (the lecture's softmax(c) - t), scaled by the reduction."""

    def forward(self, logits, targets, reduction="mean"):
        be = self.be
        self.t, self.reduction = targets, reduction
        loss, self.probs = be.cross_entropy(logits, targets)
        self.n = _shape(logits)[0]
        if reduction == "none":
            return loss
        s = be.sum(loss, None, False)
        return be.elementwise(MUL, s, 1.0 / self.n if self.n else math.nan) \
            if reduction == "mean" else s

    def backward(self, g):
        be = self.be
        if self.reduction != "none":
            if self.reduction == "mean":
                g = be.elementwise(MUL, g, 1.0 / self.n if self.n else math.nan)
            g = be.broadcast_to(be.reshape(g, (1,)), (self.n,))
        return be.cross_entropy_vjp(self.probs, self.t, g), None


# ---- convolution and pooling (fused kernels) -----------------------------------------------------


class Conv2d(Function):
    """y = W * x + b (cross-correlation, NCHW);  dW, dx from the backend's conv2d_vjp,
    db = sum of g over (N, H, W)"""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        self.x_shape, self.w, self.stride, self.padding = _shape(x), w, stride, padding
        y, saved = self.be.conv2d(x, w, b, stride, padding)
        self.saved = saved if self.needs_grad else None
        return y

    def backward(self, g):
        be = self.be
        gx, gw = be.conv2d_vjp(g, self.w, self.saved, self.x_shape, self.stride, self.padding,
                               self.needs_input_grad(0), self.needs_input_grad(1))
        gb = (be.sum(g, (0, 2, 3), False)
              if len(self.inputs) > 2 and self.needs_input_grad(2) else None)
        return gx, gw, gb


class MaxPool2d(Function):
    """y = max over each window;  the whole gradient goes to the window's arg-max"""

    def forward(self, x, kernel=(2, 2), stride=(2, 2)):
        self.x_shape = _shape(x)
        y, self.idx = self.be.max_pool2d(x, kernel, stride)
        return y

    def backward(self, g):
        return self.be.max_pool2d_vjp(g, self.idx, self.x_shape)


class AvgPool2d(Function):
    """y = mean over each window;  each input gets g / (kh kw) from every window it is in"""

    def forward(self, x, kernel=(2, 2), stride=(2, 2)):
        self.x_shape, self.kernel, self.stride = _shape(x), kernel, stride
        return self.be.avg_pool2d(x, kernel, stride)

    def backward(self, g):
        return self.be.avg_pool2d_vjp(g, self.x_shape, self.kernel, self.stride)


# ---- recurrent layers (fused kernels) ---------------------------------------------------------


class LSTM(Function):
    """One LSTM layer in one direction over a whole sequence: from gx (L, N, 4H), every step's
    x_t W_ih^T + b_ih + b_hh, W_hh (4H, H) and the initial h0, c0 (N, H), the backend's ``lstm``
    gives y (L + 1, N, H): h of every step in time order, then the last c. Its backward is
    backpropagation through time in one call (``lstm_vjp``): d gx, d W_hh, d h0, d c0. The same
    numbers as the per-step composite of ``minigrad.nn.rnn`` (the reference tests hold it to)."""

    def forward(self, gx, w_hh, h0, c0, reverse=False):
        shapes = [_shape(a) for a in (gx, w_hh, h0, c0)]
        if len(shapes[0]) != 3 or shapes[0][0] < 1 or shapes[0][2] % 4:
            raise ShapeError(f"lstm: gx must be (L >= 1, N, 4H), got {shapes[0]}")
        steps, n, h4 = shapes[0]
        if shapes[1:] != [(h4, h4 // 4), (n, h4 // 4), (n, h4 // 4)]:
            raise ShapeError(f"lstm: gx {shapes[0]} needs W_hh ({h4}, {h4 // 4}) and h0, c0 "
                             f"({n}, {h4 // 4}); got {shapes[1]}, {shapes[2]}, {shapes[3]}")
        dts = {a.dtype for a in (gx, w_hh, h0, c0)}
        if len(dts) != 1 or next(iter(dts)).kind != "f":
            raise TypeError(f"lstm: gx, W_hh, h0, c0 must share one float dtype, got "
                            f"{', '.join(str(a.dtype) for a in (gx, w_hh, h0, c0))}")
        self.reverse = reverse
        y, saved = self.be.lstm(gx, w_hh, h0, c0, reverse)
        self.saved = saved if self.needs_grad else None
        return y

    def backward(self, g):
        return self.be.lstm_vjp(g, self.saved, self.reverse)


class GRU(Function):
    """One GRU layer in one direction over a whole sequence: from gx (L, N, 3H), every step's
    x_t W_ih^T + b_ih, W_hh (3H, H), b_hh (3H,) or None and the initial h0 (N, H), the
    backend's ``gru`` gives y (L, N, H), h of every step in time order; its backward
    (``gru_vjp``) is backpropagation through time in one call: d gx, d W_hh, d b_hh, d h0."""

    def forward(self, gx, w_hh, b_hh, h0, reverse=False):
        arrays = [a for a in (gx, w_hh, b_hh, h0) if a is not None]
        shapes = [_shape(a) for a in (gx, w_hh, b_hh, h0)]
        if len(shapes[0]) != 3 or shapes[0][0] < 1 or shapes[0][2] % 3:
            raise ShapeError(f"gru: gx must be (L >= 1, N, 3H), got {shapes[0]}")
        steps, n, h3 = shapes[0]
        if (shapes[1], shapes[3]) != ((h3, h3 // 3), (n, h3 // 3)) or \
                (b_hh is not None and shapes[2] != (h3,)):
            raise ShapeError(f"gru: gx {shapes[0]} needs W_hh ({h3}, {h3 // 3}), b_hh ({h3},) "
                             f"and h0 ({n}, {h3 // 3}); got {shapes[1]}, "
                             f"{shapes[2] if b_hh is not None else None}, {shapes[3]}")
        if len({a.dtype for a in arrays}) != 1 or gx.dtype.kind != "f":
            raise TypeError(f"gru: gx, W_hh, b_hh, h0 must share one float dtype, got "
                            f"{', '.join(str(a.dtype) for a in arrays)}")
        self.reverse = reverse
        y, saved = self.be.gru(gx, w_hh, b_hh, h0, reverse)
        self.saved = saved if self.needs_grad else None
        return y

    def backward(self, g):
        return self.be.gru_vjp(g, self.saved, self.reverse)


# ---- batch normalisation in training (fused kernels) ---------------------------------------------


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's statistics per channel
    (dim 1), in one Function (the backend's ``batch_norm``): dx in closed form through the
    statistics, d weight = sum g xhat, d bias = sum g (``batch_norm_vjp``). The composite of
    ``minigrad.functional.batch_norm`` is the reference it is tested against. ``stats``, a list,
    receives the batch's mean and biased variance (for the running statistics)."""

    def forward(self, x, weight=None, bias=None, eps=1e-5, stats=None):
        y, mean, var, saved = self.be.batch_norm(x, weight, bias, eps)
        if stats is not None:
            stats.extend((mean, var))
        self.saved = saved if self.needs_grad else None
        return y

    def backward(self, g):
        return self.be.batch_norm_vjp(g, self.saved, self.needs_input_grad(0),
                                      self.needs_input_grad(1), self.needs_input_grad(2))
