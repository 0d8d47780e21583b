"""Functions of tensors, named as in ``torch.nn.functional`` (import as ``F``).

Every function here also accepts numpy object arrays of :class:`~minigrad.Scalar` (the scalar
engine) and then computes the same thing node by node. That is how
:func:`minigrad.testing.assert_engines_agree` runs one function on both engines: write it with
operators and ``F.*`` and it works on either.

>>> import minigrad, minigrad.functional as F
>>> logits = minigrad.tensor([[4.0, 3.9]])          # seed 004: f = (4, 2, 1.9), c = (f1, f2+f3)
>>> round(F.cross_entropy(logits, minigrad.tensor([0])).item(), 4)
0.6444
"""

from __future__ import annotations

import numpy as np

from . import rules
from .scalar import Scalar
from .scalar import ops as _scalar_ops
from .tensor import functions as Fn
from .tensor.tensor import Tensor, get_rng
from .tensor.tensor import apply_rule as _tensor_rule

# ---- helpers ------------------------------------------------------------------------------------


def _is_scalars(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype == object


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def _check_tensor(x, name: str, floating: bool = False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(x).__name__}")
    if floating and x.dtype not in (np.float32, np.float64):  # float16: no kernels
        raise TypeError(f"{name} needs a float32 or float64 tensor, got dtype {x.dtype} "
                        f"(convert with .float())")


# ---- elementwise: every rule of the rule book ----------------------------------------------------


def apply_rule(rule, *args):
    """Run ``rule`` (a :class:`~minigrad.rules.Rule` or its name) on its inputs, on whichever
    engine they belong to: Tensors (any device), Scalars, numpy arrays of Scalars (elementwise,
    broadcasting), or plain numbers (the forward on floats).

    >>> import minigrad
    >>> apply_rule("maximum", minigrad.tensor([1.0, 5.0]), 3.0).tolist()
    [3.0, 5.0]
    """
    rule = rules.get(rule) if isinstance(rule, str) else rule
    if any(isinstance(a, Tensor) for a in args):
        return _tensor_rule(rule, *args)
    if len(args) != rule.arity:
        raise TypeError(f"{rule.name} takes {rule.arity} input{'s' * (rule.arity > 1)}, "
                        f"got {len(args)}")
    if any(_is_scalars(a) for a in args):
        return np.frompyfunc(lambda *xs: _scalar_rule(rule, xs), rule.arity, 1)(*args)
    return _scalar_rule(rule, args)


def _scalar_rule(rule, xs):
    for x in xs:
        if not isinstance(x, (Scalar, int, float, np.number)) or isinstance(x, bool):
            what = (f"a numpy {x.dtype} array" if isinstance(x, np.ndarray)
                    else type(x).__name__)
            raise TypeError(f"{rule.name} takes Tensors, Scalars, numpy arrays of Scalars or "
                            f"numbers, got {what}; make a Tensor with minigrad.tensor(...)")
    first = next((i for i, x in enumerate(xs) if isinstance(x, Scalar)), None)
    if first is None:
        return _scalar_ops.op(rule.name).forward(*(float(x) for x in xs))
    others = list(xs)
    head = others.pop(first)
    if first == 0:
        return head.apply(rule, *others)
    if rule.arity == 2:  # k op x: the constant stays inside the module
        return head._binary(others[0], _scalar_ops.op(rule.name), "left")
    return Scalar(xs[0]).apply(rule, *xs[1:])


def _rule_function(name: str):
    def fn(x):
        return apply_rule(name, x)
    rule = rules.get(name)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{rule.formula} (elementwise; Tensors, Scalars or arrays of Scalars)"
    return fn


def __getattr__(name: str):
    # Every rule is a function here, the ones registered at run time included.
    if name in rules.names():
        return (lambda *args: apply_rule(name, *args)) if rules.get(name).arity != 1 \
            else _rule_function(name)
    raise AttributeError(f"module 'minigrad.functional' has no attribute {name!r}")


relu = _rule_function("relu")
sigmoid = _rule_function("sigmoid")
tanh = _rule_function("tanh")
exp = _rule_function("exp")
log = _rule_function("log")
sqrt = _rule_function("sqrt")
sin = _rule_function("sin")
cos = _rule_function("cos")
abs = _rule_function("abs")  # noqa: A001 - the op's name


def maximum(a, b):
    """Elementwise max (broadcasting); ties split the gradient, as PyTorch."""
    return apply_rule("maximum", a, b)


def minimum(a, b):
    """Elementwise min (broadcasting)."""
    return apply_rule("minimum", a, b)


def sum(x, dim=None, keepdim=False):  # noqa: A001
    """Sum over dims (all by default)."""
    if _is_scalars(x):
        return x.sum(axis=dim, keepdims=keepdim)
    return x.sum(dim, keepdim)


def mean(x, dim=None, keepdim=False):
    """Mean over dims (all by default)."""
    if _is_scalars(x):
        s = x.sum(axis=dim, keepdims=keepdim)
        n = x.size if dim is None else np.prod([x.shape[d] for d in np.atleast_1d(dim)])
        return s / float(n)
    return x.mean(dim, keepdim)


def softmax(x, dim: int = -1):
    """e^x_i / sum_j e^x_j over ``dim``, computed stably (the max is subtracted first)."""
    if _is_scalars(x):
        m = np.vectorize(lambda s: s.data, otypes=[float])(x).max(axis=dim, keepdims=True)
        e = np.exp(x - m)
        return e / e.sum(axis=dim, keepdims=True)
    _check_tensor(x, "softmax", floating=True)
    return x.softmax(dim)


def log_softmax(x, dim: int = -1):
    """x_i - log sum_j e^x_j over ``dim``, stably."""
    if _is_scalars(x):
        m = np.vectorize(lambda s: s.data, otypes=[float])(x).max(axis=dim, keepdims=True)
        z = x - m
        return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
    _check_tensor(x, "log_softmax", floating=True)
    return x.log_softmax(dim)


# ---- composites: written in other ops, a gradient of their own is never needed -----------------


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's softplus).
    A composite of mul, minimum, exp, log1p, div and where.

    >>> import minigrad
    >>> [round(v, 4) for v in softplus(minigrad.tensor([-1.0, 0.0, 30.0])).tolist()]
    [0.3133, 0.6931, 30.0]
    """
    if _is_scalars(x):
        return np.frompyfunc(lambda s: softplus(s, beta, threshold), 1, 1)(x)
    bx = x * beta
    # e^min(beta x, threshold): no overflow; where beta x is above the threshold, x is used
    smooth = apply_rule("log1p", exp(minimum(bx, threshold))) / beta
    if isinstance(x, Tensor):
        from .tensor.tensor import where
        return where(bx.detach().numpy() > threshold, x, smooth)
    return x if bx.data > threshold else smooth


def gelu(x, approximate: str = "tanh"):
    """x Phi(x) with PyTorch's tanh approximation:
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). A composite of mul, add, pow and tanh."""
    if approximate != "tanh":
        raise NotImplementedError("gelu: only approximate='tanh' so far (the exact form needs "
                                  "an erf rule)")
    inner = (x + (x ** 3.0) * 0.044715) * 0.7978845608028654
    return x * 0.5 * (tanh(inner) + 1.0)


def mish(x):
    """x tanh(softplus(x)): a composite of composites."""
    return x * tanh(softplus(x))


def logsumexp(x, dim, keepdim: bool = False):
    """log sum e^x over ``dim``, stable (see :meth:`Tensor.logsumexp`)."""
    return x.logsumexp(dim, keepdim)


# ---- layers --------------------------------------------------------------------------------------


def linear(x, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    if _is_scalars(x) or _is_scalars(weight):
        y = x @ weight.T
        return y if bias is None else y + bias
    _check_tensor(x, "linear", floating=True)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (in_features {weight.shape[1]} != {x.shape[-1]})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias shape {bias.shape} != ({weight.shape[0]},)")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    args = (x2, weight) if bias is None else (x2, weight, bias)
    y = Fn.Linear.apply(*args)
    return y if x.ndim == 2 else y.reshape(*lead, weight.shape[0])


# ---- losses --------------------------------------------------------------------------------------


def _targets(targets, n: int, c: int, name: str) -> np.ndarray:
    t = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if t.dtype.kind == "f":
        if np.isnan(t).any():
            raise ValueError(f"{name}: targets contain NaN; they must be integer class labels")
        raise TypeError(f"{name}: targets must be integer class labels (int64), got dtype "
                        f"{t.dtype}; convert with .astype(np.int64) if they are whole numbers")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integer class labels, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"{name}: targets of shape {t.shape} do not match {n} rows of logits")
    if n and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"{name}: target labels must lie in [0, {c}), got min {t.min()} "
                         f"max {t.max()}")
    # Our own copy: the caller may change the array before backward (the kernels index with it).
    return np.array(t, dtype=np.int64, order="C")


def cross_entropy(logits, targets, reduction: str = "mean"):
    """Mean over rows of -log softmax(logits)[target]: softmax and log fused, stable for any
    logit size. ``targets`` are integer class labels.

    The gradient is the lecture's (softmax(c) - t), divided by the batch size for the mean.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if _is_scalars(logits):
        t = _targets(targets, logits.shape[0], logits.shape[1], "cross_entropy")
        lp = log_softmax(logits, -1)
        losses = -lp[np.arange(len(t)), t]
        if reduction == "none":
            return losses
        return losses.sum() / (float(len(t)) if reduction == "mean" else 1.0)
    _check_tensor(logits, "cross_entropy", floating=True)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (batch, classes), got shape "
                         f"{logits.shape}")
    n, c = logits.shape
    t = logits.backend.asarray(_targets(targets, n, c, "cross_entropy"))
    return Fn.CrossEntropy.apply(logits, t, reduction=reduction)


def nll_loss(log_probs, targets, reduction: str = "mean"):
    """Mean over rows of -log_probs[target] (pair it with log_softmax)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if _is_scalars(log_probs):
        t = _targets(targets, log_probs.shape[0], log_probs.shape[1], "nll_loss")
        losses = -log_probs[np.arange(len(t)), t]
        if reduction == "none":
            return losses
        return losses.sum() / (float(len(t)) if reduction == "mean" else 1.0)
    _check_tensor(log_probs, "nll_loss")
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: input must be (batch, classes), got {log_probs.shape}")
    n, c = log_probs.shape
    # A composite: the picked entries by indexing, then the reduction.
    losses = -log_probs[np.arange(n), _targets(targets, n, c, "nll_loss")]
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()


def mse_loss(input, target, reduction: str = "mean"):  # noqa: A002 - torch's name
    """Mean of (input - target)^2."""
    if not _is_scalars(input):
        _check_tensor(input, "mse_loss")
        tshape = target.shape if hasattr(target, "shape") else ()
        if tuple(tshape) != input.shape:
            raise ValueError(f"mse_loss: input shape {input.shape} != target shape "
                             f"{tuple(tshape)}")
    d = input - target
    sq = d * d
    if reduction == "none":
        return sq
    if reduction == "sum":
        return sum(sq)
    if reduction == "mean":
        return mean(sq)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


# ---- convolution and pooling ---------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1: the lecture's output-size formula."""
    return (size + 2 * padding - kernel) // stride + 1


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation (what deep learning calls convolution), NCHW, weight
    (out_channels, in_channels, kh, kw) as in PyTorch."""
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if _is_scalars(x) or _is_scalars(weight):
        return _conv2d_scalars(x, weight, bias, stride, padding)
    _check_tensor(x, "conv2d", floating=True)
    _check_conv(x.shape, weight.shape, None if bias is None else bias.shape, stride, padding)
    if x.dtype != weight.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} != weight dtype {weight.dtype}")
    args = (x, weight) if bias is None else (x, weight, bias)
    return Fn.Conv2d.apply(*args, stride=stride, padding=padding)


def _check_conv(xs, ws, bs, stride, padding):
    if len(xs) != 4:
        raise ValueError(f"conv2d: input must be (N, C, H, W), got shape {xs}")
    if len(ws) != 4:
        raise ValueError(f"conv2d: weight must be (out, in, kh, kw), got shape {ws}")
    if xs[1] != ws[1]:
        raise ValueError(f"conv2d: input has {xs[1]} channels (shape {xs}) but the weight "
                         f"expects {ws[1]} (shape {ws})")
    if bs is not None and tuple(bs) != (ws[0],):
        raise ValueError(f"conv2d: bias shape {tuple(bs)} != ({ws[0]},)")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride}, "
                         f"{padding}")
    for size, k, p, axis in ((xs[2], ws[2], padding[0], "height"),
                             (xs[3], ws[3], padding[1], "width")):
        if k > size + 2 * p:
            raise ValueError(f"conv2d: kernel {axis} {k} is larger than the padded input "
                             f"{axis} {size} + 2*{p} (input {xs}, weight {ws})")


def _conv2d_scalars(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    if padding != (0, 0):
        xp = np.empty((n, c, h + 2 * padding[0], wd + 2 * padding[1]), dtype=object)
        xp[...] = 0.0
        xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd] = x
        x = xp
    oh = conv_output_size(h, kh, stride[0], padding[0])
    ow = conv_output_size(wd, kw, stride[1], padding[1])
    out = np.empty((n, o, oh, ow), dtype=object)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out = out + b.reshape(1, o, 1, 1)
    return out


def conv1d(x, weight, bias=None, stride=1, padding=0):
    """1-D cross-correlation, NCW, weight (out_channels, in_channels, k)."""
    s = int(stride if isinstance(stride, (int, np.integer)) else stride[0])
    p = int(padding if isinstance(padding, (int, np.integer)) else padding[0])
    if _is_scalars(x) or _is_scalars(weight):
        y = _conv2d_scalars(x[:, :, None, :], weight[:, :, None, :], bias, (1, s), (0, p))
        return y[:, :, 0, :]
    _check_tensor(x, "conv1d")
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(f"conv1d: input must be (N, C, L) and weight (out, in, k), got "
                         f"{x.shape} and {weight.shape}")
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p))
    return y.squeeze(2)


def _pool_args(x_shape, kernel_size, stride, name):
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    if len(x_shape) != 4:
        raise ValueError(f"{name}: input must be (N, C, H, W), got shape {x_shape}")
    if k[0] > x_shape[2] or k[1] > x_shape[3] or min(k) < 1 or min(s) < 1:
        raise ValueError(f"{name}: kernel {k} (stride {s}) does not fit input {x_shape}")
    return k, s


def max_pool2d(x, kernel_size, stride=None):
    """Max over each window (no padding); stride defaults to the kernel size."""
    if _is_scalars(x):
        k, s = _pool_args(x.shape, kernel_size, stride, "max_pool2d")
        return _pool_scalars(x, k, s, lambda p: max(p.ravel(), key=lambda v: v.data))
    _check_tensor(x, "max_pool2d", floating=True)
    k, s = _pool_args(x.shape, kernel_size, stride, "max_pool2d")
    return Fn.MaxPool2d.apply(x, kernel=k, stride=s)


def avg_pool2d(x, kernel_size, stride=None):
    """Mean over each window (no padding); stride defaults to the kernel size."""
    if _is_scalars(x):
        k, s = _pool_args(x.shape, kernel_size, stride, "avg_pool2d")
        return _pool_scalars(x, k, s, lambda p: p.sum() / float(p.size))
    _check_tensor(x, "avg_pool2d", floating=True)
    k, s = _pool_args(x.shape, kernel_size, stride, "avg_pool2d")
    return Fn.AvgPool2d.apply(x, kernel=k, stride=s)


def _pool_scalars(x, k, s, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, c, oh, ow), dtype=object)
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    out[a, b, i, j] = reduce(
                        x[a, b, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]])
    return out


def max_pool1d(x, kernel_size, stride=None):
    """Max over each window of a (N, C, L) input."""
    k = int(kernel_size)
    s = k if stride is None else int(stride)
    if _is_scalars(x):
        return max_pool2d(x[:, :, None, :], (1, k), (1, s))[:, :, 0, :]
    _check_tensor(x, "max_pool1d")
    if x.ndim != 3:
        raise ValueError(f"max_pool1d: input must be (N, C, L), got {x.shape}")
    return max_pool2d(x.unsqueeze(2), (1, k), (1, s)).squeeze(2)


def avg_pool1d(x, kernel_size, stride=None):
    k = int(kernel_size)
    s = k if stride is None else int(stride)
    _check_tensor(x, "avg_pool1d")
    return avg_pool2d(x.unsqueeze(2), (1, k), (1, s)).squeeze(2)


def dropout(x, p: float = 0.5, training: bool = True):
    """Inverted dropout: in training, zero each unit with probability p and scale the rest by
    1/(1-p), so the expectation is unchanged and evaluation is the identity."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = get_rng().random(x.shape) >= p
    mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * Tensor(mask, device=x.device)


def flatten(x, start_dim: int = 1):
    return x.flatten(start_dim)
