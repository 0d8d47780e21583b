"""Every Function of the tensor engine: forward and backward side by side.

Each backward receives ``g`` = d loss / d output (same shape as the output) and returns
d loss / d input for each input, computed without forming a Jacobian. Names match the scalar
engine's ops and the rule book (:mod:`minigrad.rules`): ``Exp`` implements ``rules.exp`` and
``rules.exp_back``, vectorised.

Binary ops broadcast like numpy; their backward sums the gradient over the broadcast axes
(``be.sum_to``), since an input used at many positions gets the sum of the gradients there.
"""

from __future__ import annotations

import numpy as np

from .tensor import Function, Tensor


def _shape(a):
    return tuple(a.shape) if hasattr(a, "shape") else ()


def _bcast_error(name, a, b):
    return ValueError(f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together")


# ---- binary, broadcasting --------------------------------------------------------------------


class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1"""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        try:
            return self.be.add(a, b)
        except ValueError:
            raise _bcast_error("add", a, b) from None

    def backward(self, g):
        be = self.be
        return be.sum_to(g, self.sa), be.sum_to(g, self.sb)


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1"""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        try:
            return self.be.sub(a, b)
        except ValueError:
            raise _bcast_error("sub", a, b) from None

    def backward(self, g):
        be = self.be
        gb = be.neg(be.sum_to(g, self.sb)) if self.needs_input_grad(1) else None
        return be.sum_to(g, self.sa), gb


class Mul(Function):
    """y = a b;  dy/da = b, dy/db = a  (note the reversal)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        try:
            return self.be.mul(a, b)
        except ValueError:
            raise _bcast_error("mul", a, b) from None

    def backward(self, g):
        be = self.be
        ga = be.sum_to(be.mul(g, self.b), _shape(self.a)) if self.needs_input_grad(0) else None
        gb = be.sum_to(be.mul(g, self.a), _shape(self.b)) if self.needs_input_grad(1) else None
        return ga, gb


class Div(Function):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b^2 = -y/b"""

    def forward(self, a, b):
        self.a, self.b = a, b
        try:
            self.y = self.be.div(a, b)
        except ValueError:
            raise _bcast_error("div", a, b) from None
        return self.y

    def backward(self, g):
        be = self.be
        gdb = be.div(g, self.b)
        ga = be.sum_to(gdb, _shape(self.a)) if self.needs_input_grad(0) else None
        gb = (be.sum_to(be.neg(be.mul(gdb, self.y)), _shape(self.b))
              if self.needs_input_grad(1) else None)
        return ga, gb


class Pow(Function):
    """y = a^b;  dy/da = b a^(b-1), dy/db = y ln a (taken as 0 where a <= 0)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        try:
            self.y = self.be.pow(a, b)
        except ValueError:
            raise _bcast_error("pow", a, b) from None
        return self.y

    def backward(self, g):
        be = self.be
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad(0):
            # A constant exponent is a Python number: b - 1 is plain arithmetic, not an op.
            bm1 = b - 1.0 if isinstance(b, float) else be.sub(b, 1.0)
            ga = be.sum_to(be.mul(g, be.mul(be.pow(a, bm1), b)), _shape(a))
        if self.needs_input_grad(1):
            pos = be.gt(a, 0.0)
            loga = be.log(be.where(pos, a, 1.0))
            gb = be.sum_to(be.mul(g, be.mul(self.y, loga)), _shape(b))
        return ga, gb


class Maximum(Function):
    """y = max(a, b) elementwise; the gradient goes to the larger input (half each on ties)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.be.maximum(a, b)

    def backward(self, g):
        be = self.be
        ga_mask = be.add(be.gt(self.a, self.b), be.mul(be.eq(self.a, self.b), 0.5))
        ga = be.sum_to(be.mul(g, ga_mask), _shape(self.a)) if self.needs_input_grad(0) else None
        gb = (be.sum_to(be.mul(g, be.sub(1.0, ga_mask)), _shape(self.b))
              if self.needs_input_grad(1) else None)
        return ga, gb


# ---- unary (the rule book, vectorised) -----------------------------------------------------------


class Neg(Function):
    """y = -x;  dy/dx = -1"""

    def forward(self, x):
        return self.be.neg(x)

    def backward(self, g):
        return self.be.neg(g)


class Exp(Function):
    """y = e^x;  dy/dx = y"""

    def forward(self, x):
        self.y = self.be.exp(x)
        return self.y

    def backward(self, g):
        return self.be.mul(g, self.y)


class Log(Function):
    """y = ln x;  dy/dx = 1/x"""

    def forward(self, x):
        self.x = x
        return self.be.log(x)

    def backward(self, g):
        return self.be.div(g, self.x)


class Sqrt(Function):
    """y = sqrt x;  dy/dx = 1/(2y)"""

    def forward(self, x):
        self.y = self.be.sqrt(x)
        return self.y

    def backward(self, g):
        return self.be.div(self.be.mul(g, 0.5), self.y)


class Sin(Function):
    """y = sin x;  dy/dx = cos x"""

    def forward(self, x):
        self.x = x
        return self.be.sin(x)

    def backward(self, g):
        return self.be.mul(g, self.be.cos(self.x))


class Cos(Function):
    """y = cos x;  dy/dx = -sin x"""

    def forward(self, x):
        self.x = x
        return self.be.cos(x)

    def backward(self, g):
        return self.be.neg(self.be.mul(g, self.be.sin(self.x)))


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y^2 (fused kernel)"""

    def forward(self, x):
        self.y = self.be.tanh(x)
        return self.y

    def backward(self, g):
        return self.be.tanh_back(self.y, g)


class Sigmoid(Function):
    """y = 1/(1+e^-x);  dy/dx = y(1-y) (fused kernels, overflow-free)"""

    def forward(self, x):
        self.y = self.be.sigmoid(x)
        return self.y

    def backward(self, g):
        return self.be.sigmoid_back(self.y, g)


class ReLU(Function):
    """y = max(0, x);  dy/dx = [x > 0] (fused kernel)"""

    def forward(self, x):
        self.x = x
        return self.be.relu(x)

    def backward(self, g):
        return self.be.relu_back(self.x, g)


class Abs(Function):
    """y = |x|;  dy/dx = sign x"""

    def forward(self, x):
        self.x = x
        return self.be.abs(x)

    def backward(self, g):
        return self.be.mul(g, self.be.sign(self.x))


class Clip(Function):
    """y = min(max(x, lo), hi);  dy/dx = [lo <= x <= hi]"""

    def forward(self, x, lo=None, hi=None):
        self.x, self.lo, self.hi = x, lo, hi
        return self.be.clip(x, lo, hi)

    def backward(self, g):
        return self.be.clip_back(self.x, g, self.lo, self.hi)


class Cast(Function):
    """y = x as another dtype; the gradient is cast back."""

    def forward(self, x, dtype=None):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype)


class ToDevice(Function):
    """y = x on another device; the gradient travels back."""

    def forward(self, x, be=None):
        self.src = self.be
        self.be = be
        host = self.src.to_numpy(x)
        return be.asarray(np.ascontiguousarray(host))

    def backward(self, g):
        return self.src.asarray(np.ascontiguousarray(self.be.to_numpy(g)))


# ---- reductions --------------------------------------------------------------------------------


def _norm_axes(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"dim {dim} repeats a dimension")
    return tuple(sorted(out))


def _kept_shape(shape, axes):
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


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
        self.n = n
        return self.be.mul(self.be.sum(x, axes, keepdim), 1.0 / n if n else float("nan"))

    def backward(self, g):
        be = self.be
        g = be.mul(be.reshape(g, _kept_shape(self.shape, self.axes)), 1.0 / self.n)
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
        return be.mul(mask, be.div(g, count))


def _reduced_shape(shape, axes):
    if axes is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in axes)


# ---- linear algebra -----------------------------------------------------------------------------


class MatMul(Function):
    """y = a @ b;  da = g @ b^T, db = a^T @ g (batched: the same per batch, summed over any
    broadcast batch dims)"""

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.be.matmul(a, b)

    def backward(self, g):
        be = self.be
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad(0):
            ga = be.sum_to(be.matmul(g, b, trans_b=True), _shape(a))
        if self.needs_input_grad(1):
            gb = be.sum_to(be.matmul(a, g, trans_a=True), _shape(b))
        return ga, gb


class Linear(Function):
    """y = x W^T + b (PyTorch's layout, W of shape (out, in));
    dx = g W, dW = g^T x, db = sum of g over the batch"""

    def forward(self, x, w, b=None):
        be = self.be
        self.x, self.w = x, w
        y = be.matmul(x, w, trans_b=True)
        if b is not None:
            y = be.add(y, b) if be.name != "cpu" else _add_inplace(y, b)
        return y

    def backward(self, g):
        be = self.be
        gx = be.matmul(g, self.w) if self.needs_input_grad(0) else None
        gw = be.matmul(g, self.x, trans_a=True) if self.needs_input_grad(1) else None
        gb = (be.sum(g, (0,), False)
              if len(self.inputs) > 2 and self.needs_input_grad(2) else None)
        return gx, gw, gb


def _add_inplace(y, b):
    y += b  # y is a fresh GEMM result we own: skip a temporary
    return y


# ---- shape ---------------------------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape=None):
        self.shape = _shape(x)
        return self.be.reshape(x, shape)

    def backward(self, g):
        return self.be.reshape(g, self.shape)


class Permute(Function):
    def forward(self, x, axes=None):
        self.inv = tuple(np.argsort(axes))
        return self.be.transpose(x, axes)

    def backward(self, g):
        return self.be.transpose(g, self.inv)


class Expand(Function):
    """y = x broadcast to a shape;  the gradient is summed back (sum_to)."""

    def forward(self, x, shape=None):
        self.shape = _shape(x)
        return self.be.broadcast_to(x, shape)

    def backward(self, g):
        return self.be.sum_to(g, self.shape)


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer/bool arrays); the gradient is
    scattered back, adding where an index repeats."""

    def forward(self, x, index=None):
        if self.be.name != "cpu":
            raise NotImplementedError("indexing runs on the CPU only: use .to('cpu') first")
        self.shape, self.index, self.dtype = x.shape, index, x.dtype
        return x[index]

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(out, self.index, g)
        return out


class Cat(Function):
    def forward(self, *xs, dim=0):
        if self.be.name != "cpu":
            raise NotImplementedError("cat runs on the CPU only")
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return np.concatenate(xs, axis=dim)

    def backward(self, g):
        idx = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(g, idx, axis=self.dim))


class Stack(Function):
    def forward(self, *xs, dim=0):
        if self.be.name != "cpu":
            raise NotImplementedError("stack runs on the CPU only")
        self.dim = dim
        return np.stack(xs, axis=dim)

    def backward(self, g):
        n = g.shape[self.dim]
        return tuple(np.take(g, i, axis=self.dim) for i in range(n))


class Where(Function):
    """y = a where cond else b;  the gradient goes to the chosen side."""

    def forward(self, cond, a, b):
        be = self.be
        self.cond, self.sa, self.sb = cond, _shape(a), _shape(b)
        if be.name == "cpu":
            self.cond = np.asarray(cond).astype(bool)
            return np.where(self.cond, a, b)
        return be.where(cond, a, b)

    def backward(self, g):
        be = self.be
        if be.name == "cpu":
            zero = np.zeros((), dtype=g.dtype)
            return (None, be.sum_to(np.where(self.cond, g, zero), self.sa),
                    be.sum_to(np.where(self.cond, zero, g), self.sb))
        return (None, be.sum_to(be.where(self.cond, g, 0.0), self.sa),
                be.sum_to(be.where(self.cond, 0.0, g), self.sb))


# ---- softmax and losses --------------------------------------------------------------------------


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
    return be.reshape(x, (-1, shape[dim])), perm, moved


def _from_rows(be, y, perm, moved):
    y = be.reshape(y, moved)
    if perm is not None:
        y = be.transpose(y, tuple(np.argsort(perm)))
    return y


class Softmax(Function):
    """y_i = e^x_i / sum_j e^x_j;  backward y * (g - sum(g y)) (fused)"""

    def forward(self, x, dim=-1):
        be = self.be
        rows, self.perm, self.moved = _to_rows(be, x, dim)
        self.y = be.softmax(rows)
        return _from_rows(be, self.y, self.perm, self.moved)

    def backward(self, g):
        be = self.be
        grows, _, _ = _to_rows(be, g, -1 if self.perm is None else self.perm[-1])
        return _from_rows(be, be.softmax_back(self.y, grows), self.perm, self.moved)


class LogSoftmax(Function):
    """y_i = x_i - logsumexp(x);  backward g - softmax * sum(g) (fused)"""

    def forward(self, x, dim=-1):
        be = self.be
        rows, self.perm, self.moved = _to_rows(be, x, dim)
        self.y = be.log_softmax(rows)
        return _from_rows(be, self.y, self.perm, self.moved)

    def backward(self, g):
        be = self.be
        grows, _, _ = _to_rows(be, g, -1 if self.perm is None else self.perm[-1])
        return _from_rows(be, be.log_softmax_back(self.y, grows), self.perm, self.moved)


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
        # The mean of no rows is NaN, as in numpy and PyTorch (not a ZeroDivisionError).
        return be.mul(s, 1.0 / self.n if self.n else float("nan")) if reduction == "mean" else s

    def backward(self, g):
        be = self.be
        if self.reduction == "none":
            grow = g
        else:
            gv = float(be.to_numpy(g).reshape(-1)[0])
            if self.reduction == "mean":
                gv = gv / self.n if self.n else float("nan")
            grow = be.full((self.n,), gv, self.probs.dtype)
        return be.cross_entropy_back(self.probs, self.t, grow), None


class NLLLoss(Function):
    """loss = -mean_i logp[i, t_i];  the gradient is -1/N at each target position"""

    def forward(self, logp, targets, reduction="mean"):
        if self.be.name != "cpu":
            raise NotImplementedError("nll_loss runs on the CPU only; use cross_entropy")
        self.shape, self.t, self.reduction = logp.shape, targets, reduction
        picked = -logp[np.arange(logp.shape[0]), targets]
        if reduction == "none":
            return picked
        return picked.mean() if reduction == "mean" else picked.sum()

    def backward(self, g):
        n = self.shape[0]
        out = np.zeros(self.shape, dtype=g.dtype)
        if self.reduction == "none":
            out[np.arange(n), self.t] = -g
        else:
            out[np.arange(n), self.t] = -(g / n if self.reduction == "mean" else g)
        return out, None


# ---- convolution and pooling ---------------------------------------------------------------------


class Conv2d(Function):
    """y = W * x + b (cross-correlation, NCHW) as im2col + one GEMM;
    dW = g cols^T, dx = col2im(W^T g), db = sum of g over (N, H, W)"""

    def forward(self, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        be = self.be
        self.x_shape, self.w, self.stride, self.padding = _shape(x), w, stride, padding
        y, cols = be.conv2d(x, w, b, stride, padding, return_cols=True)
        # The weight gradient reuses the forward's columns: no second im2col.
        self.cols = cols if self.needs_grad else None
        return y

    def backward(self, g):
        be = self.be
        gx = gw = gb = None
        # The CPU backend shares one (O, N*OH*OW) copy of g between both gradients.
        kw = {"g_rows": be._g_rows(g)} if be.name == "cpu" else {}
        if self.needs_input_grad(0):
            gx = be.conv2d_back_input(g, self.w, self.x_shape, self.stride, self.padding, **kw)
        if self.needs_input_grad(1):
            gw = be.conv2d_back_weight(g, None, _shape(self.w), self.stride, self.padding,
                                       cols=self.cols, **kw)
        if len(self.inputs) > 2 and self.needs_input_grad(2):
            gb = be.sum(g, (0, 2, 3), False)
        return gx, gw, gb


class MaxPool2d(Function):
    """y = max over each window;  the whole gradient goes to the window's arg-max"""

    def forward(self, x, kernel=(2, 2), stride=(2, 2)):
        self.x_shape = _shape(x)
        y, self.idx = self.be.max_pool2d(x, kernel, stride)
        return y

    def backward(self, g):
        return self.be.max_pool2d_back(g, self.idx, self.x_shape)


class AvgPool2d(Function):
    """y = mean over each window;  each input gets g / (kh kw) from every window it is in"""

    def forward(self, x, kernel=(2, 2), stride=(2, 2)):
        self.x_shape, self.kernel, self.stride = _shape(x), kernel, stride
        return self.be.avg_pool2d(x, kernel, stride)

    def backward(self, g):
        return self.be.avg_pool2d_back(g, self.x_shape, self.kernel, self.stride)


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function]
_ = Tensor  # re-exported for type checkers reading this module
