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

import warnings
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import rules
from .scalar import Scalar
from .scalar import ops as _scalar_ops
from .tensor import functions as Fn
from .tensor.autograd import mark_modified, no_grad
from .tensor.tensor import Tensor, cat, get_rng, where
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


def _dtype_error(message: str) -> TypeError:
    """A TypeError that is also a RuntimeError (what torch raises for a dtype it refuses)."""
    from .tensor.scans import DTypeError
    return DTypeError(message)


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


_relu = _rule_function("relu")


def relu(x, inplace: bool = False):
    """max(x, 0) (elementwise; Tensors, Scalars or arrays of Scalars); ``inplace`` as
    Tensor.relu_."""
    return x.relu_() if inplace and isinstance(x, Tensor) else _relu(x)


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


def softmax(x, dim: int = -1, dtype=None):
    """e^x_i / sum_j e^x_j over ``dim``, computed stably (the max is subtracted first);
    ``dtype``: cast the input first (torch)."""
    if dtype is not None and isinstance(x, Tensor):
        x = x.to(dtype=dtype)
    if _is_scalars(x):
        m = np.vectorize(lambda s: s.data, otypes=[float])(x).max(axis=dim, keepdims=True)
        e = np.exp(x - m)
        return e / e.sum(axis=dim, keepdims=True)
    _check_tensor(x, "softmax", floating=True)
    return x.softmax(dim)


def log_softmax(x, dim: int = -1, dtype=None):
    """x_i - log sum_j e^x_j over ``dim``, stably; ``dtype``: cast the input first."""
    if dtype is not None and isinstance(x, Tensor):
        x = x.to(dtype=dtype)
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
    # (at the threshold itself the smooth branch, with its whole gradient, as torch)
    capped = where(bx > threshold, float(threshold), bx) if isinstance(x, Tensor) \
        else minimum(bx, threshold)
    smooth = apply_rule("log1p", exp(capped)) / beta
    if isinstance(x, Tensor):
        return where(bx.detach().numpy() > threshold, x, smooth)
    return x if bx.data > threshold else smooth


def gelu(x, approximate: str = "none"):
    """x Phi(x), Phi the standard normal CDF, as PyTorch: ``approximate="none"`` (the default)
    is 0.5 x (1 + erf(x / sqrt 2)); ``"tanh"`` is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    Composites of mul, add, pow, tanh (and :func:`erf`).

    >>> import minigrad
    >>> [round(v, 4) for v in gelu(minigrad.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-0.1587, 0.0, 1.9545]
    """
    if approximate == "tanh":
        inner = (x + (x ** 3.0) * 0.044715) * 0.7978845608028654
        return x * 0.5 * (tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (erf(x * 0.7071067811865476) + 1.0)


def erf(x):
    """The error function, 2/sqrt(pi) times the integral of e^(-t^2) from 0 to x: the rule
    ``erf`` (its derivative 2/sqrt(pi) e^(-x^2) stated there, once).

    >>> import minigrad
    >>> [round(v, 6) for v in erf(minigrad.tensor([-1.0, 0.0, 0.5])).tolist()]
    [-0.842701, 0.0, 0.5205]
    """
    return apply_rule("erf", x)


def silu(x):
    """x sigmoid(x) (swish)."""
    return apply_rule("silu", x)


def elu(x, alpha: float = 1.0):
    """x for x > 0, alpha (e^x - 1) otherwise."""
    return apply_rule("elu", x, float(alpha))


def celu(x, alpha: float = 1.0):
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1)): alpha elu(x / alpha) (a composite)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return elu(x * (1.0 / alpha), 1.0) * alpha


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(x):
    """scale elu(x, alpha) with the self-normalising constants (a composite)."""
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, negative_slope x otherwise (a number, or a tensor of slopes)."""
    if isinstance(negative_slope, (int, float, np.number)):
        negative_slope = float(negative_slope)
    return apply_rule("leaky_relu", x, negative_slope)


def prelu(x, weight):
    """leaky_relu with a learned slope: ``weight`` has one value, or one per channel (dim 1);
    its gradient is the rule's second local derivative."""
    if isinstance(x, Tensor) and isinstance(weight, Tensor) and weight.numel() > 1:
        if x.ndim < 2 or x.shape[1] != weight.numel():
            raise Fn.ShapeError(f"prelu: {weight.numel()} slopes for input of shape {x.shape} "
                             f"(dim 1 must match)")
        weight = weight.reshape(1, -1, *([1] * (x.ndim - 2)))
    return apply_rule("leaky_relu", x, weight)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """min(max(x, min_val), max_val); the gradient is 1 strictly inside."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} > max_val {max_val}")
    return apply_rule("hardtanh", x, float(min_val), float(max_val))


def relu6(x):
    """min(max(x, 0), 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """min(max(x/6 + 1/2, 0), 1)."""
    return apply_rule("hardsigmoid", x)


def hardswish(x):
    """x hardsigmoid(x)."""
    return apply_rule("hardswish", x)


def softsign(x):
    """x / (1 + |x|)."""
    return apply_rule("softsign", x)


def logsigmoid(x):
    """ln sigmoid(x), computed without overflow."""
    return apply_rule("logsigmoid", x)


def softmin(x, dim: int = -1):
    """softmax(-x) over ``dim``."""
    return softmax(-x, dim)


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """x / max(||x||_p, eps) over ``dim`` (a composite; a zero vector has a finite gradient,
    1/eps, as in torch)."""
    norm = x.norm(p, dim, keepdim=True)
    return x / norm.clip(min=eps)


def one_hot(tensor, num_classes: int = -1):
    """int64 one-hot rows for integer class labels (no gradient)."""
    t = np.asarray(tensor.numpy() if isinstance(tensor, Tensor) else tensor)
    if t.dtype.kind not in "iu":
        raise _dtype_error(f"one_hot: labels must be integers, got dtype {t.dtype}")
    n = int(t.max()) + 1 if num_classes < 0 and t.size else max(num_classes, 0)
    if t.size and (t.min() < 0 or t.max() >= n):
        raise ValueError(f"one_hot: labels must lie in [0, {n}), got min {t.min()} "
                         f"max {t.max()}")
    out = (t[..., None] == np.arange(n)).astype(np.int64)
    return Tensor(out, device=tensor.device if isinstance(tensor, Tensor) else "cpu")


def mish(x):
    """x tanh(softplus(x)): a composite of composites."""
    return x * tanh(softplus(x))


def logsumexp(x, dim, keepdim: bool = False):
    """log sum e^x over ``dim``, stable (see :meth:`Tensor.logsumexp`)."""
    return x.logsumexp(dim, keepdim)


def glu(x, dim: int = -1):
    """Gated linear unit: a * sigmoid(b), a and b the two halves of ``dim``."""
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


def tanhshrink(x):
    """x - tanh(x)."""
    return x - x.tanh()


def softshrink(x, lambd: float = 0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    return where(x > lambd, x - lambd, where(x < -lambd, x + lambd, x * 0.0))


def hardshrink(x, lambd: float = 0.5):
    """x where |x| > lambd, else 0."""
    return where((x > lambd) | (x < -lambd), x, x * 0.0)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along ``dim`` (broadcasting), as torch
    (a zero vector has similarity 0 and a finite gradient)."""
    return ((x1 / x1.norm(2, dim, keepdim=True).clip(min=eps))
            * (x2 / x2.norm(2, dim, keepdim=True).clip(min=eps))).sum(dim)


def pad(input, pad, mode: str = "constant", value=None):  # noqa: A002 - torch's names
    """Pad the last dims: ``pad`` = (left, right) for the last dim, then (top, bottom) for the
    one before, ...; ``mode`` "constant" (``value``, 0 by default; negative amounts crop),
    "reflect" (mirror without the edge), "replicate" (repeat the edge) or "circular" (wrap).
    Composites of cat and indexing, so gradients flow (added up where an element is reused).

    >>> import minigrad, minigrad.functional as F
    >>> F.pad(minigrad.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise Fn.ShapeError(f"pad: {len(pad)} amounts do not pair up over the last dims of a "
                            f"tensor of shape {input.shape}")
    pairs = {input.ndim - 1 - k: (pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)}
    if mode == "constant":
        if not value:
            return _pad(input, pairs)
        x = input
        for ax, (before, after) in pairs.items():
            x = _pad(x, {ax: (min(before, 0), min(after, 0))})   # crop first
            parts = []
            for amount in (max(before, 0), max(after, 0)):
                shape = list(x.shape)
                shape[ax] = amount
                parts.append(Tensor(np.full(shape, value, x.dtype), device=x.device))
            x = cat([parts[0], x, parts[1]], ax)
        return x
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    x = input
    for ax, (before, after) in pairs.items():
        n = x.shape[ax]
        i = np.arange(-before, n + after)
        if mode == "reflect":
            if before >= n or after >= n:
                raise Fn.ShapeError(f"pad: reflect padding ({before}, {after}) must be smaller "
                                    f"than the dim {ax} of size {n} (shape {input.shape})")
            i = np.abs(i)
            i = np.where(i > n - 1, 2 * (n - 1) - i, i)
        elif mode == "replicate":
            i = np.clip(i, 0, n - 1)
        else:
            if before > n or after > n:
                raise Fn.ShapeError(f"pad: circular padding ({before}, {after}) exceeds dim "
                                    f"{ax} of size {n} (shape {input.shape})")
            i = i % n
        x = x[(slice(None),) * ax + (i,)]
    return x


# ---- layers --------------------------------------------------------------------------------------


def linear(x, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    if _is_scalars(x) or _is_scalars(weight):
        y = x @ weight.T
        return y if bias is None else y + bias
    _check_tensor(x, "linear", floating=True)
    if weight.ndim != 2:
        raise Fn.ShapeError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.shape[-1] != weight.shape[1]:
        raise Fn.ShapeError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (in_features {weight.shape[1]} != {x.shape[-1]})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise Fn.ShapeError(f"linear: bias shape {bias.shape} != ({weight.shape[0]},)")
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    args = (x2, weight) if bias is None else (x2, weight, bias)
    y = Fn.Linear.apply(*args)
    return y if x.ndim == 2 else y.reshape(*lead, weight.shape[0])


# ---- losses --------------------------------------------------------------------------------------
# As PyTorch: ``reduction`` is "mean" (the default), "sum" or "none" (one loss per element); class
# targets are integer labels, and ``ignore_index`` labels count neither in the sum nor in the mean.

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"reduction must be {', '.join(repr(r) for r in allowed)}, got "
                         f"{reduction!r}")


def _reduce(loss, reduction: str):
    if reduction == "none":
        return loss
    return sum(loss) if reduction == "sum" else mean(loss)


def _targets(targets, shape, c: int, name: str, ignore_index=None):
    """Validated integer labels of ``shape`` in [0, c) (or equal to ``ignore_index``): our own
    int64 copy (the caller may change the array before backward), and the mask of the labels
    that count (None when all do)."""
    t = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    if t.dtype.kind == "f":
        if np.isnan(t).any():
            raise ValueError(f"{name}: targets contain NaN; they must be integer class labels")
        raise TypeError(f"{name}: targets must be integer class labels (int64), got dtype "
                        f"{t.dtype}; convert with .astype(np.int64) if they are whole numbers")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integer class labels, got dtype {t.dtype}")
    if t.shape != tuple(shape):
        if len(shape) == 1:
            raise ValueError(f"{name}: targets of shape {t.shape} do not match {shape[0]} rows "
                             f"of logits")
        raise ValueError(f"{name}: targets of shape {t.shape} do not match the input's "
                         f"{tuple(shape)} (the input without its class dim)")
    valid = None
    if ignore_index is not None and t.size and (t == ignore_index).any():
        valid = t != ignore_index
    counted = t if valid is None else t[valid]
    if counted.size and (counted.min() < 0 or counted.max() >= c):
        raise ValueError(f"{name}: target labels must lie in [0, {c}), got min {counted.min()} "
                         f"max {counted.max()}")
    return np.array(t, dtype=np.int64, order="C"), valid


def _class_rows(x, name: str):
    """x of shape (N, C, d1, ...), (N, C) or (C,) as rows (M, C) with the class dim last, and
    the shape of one loss per row (N, d1, ...)."""
    if x.ndim == 0:
        raise ValueError(f"{name}: the input needs a class dim, got a 0-d tensor")
    if x.ndim == 1:
        return x.reshape(1, -1), ()
    if x.ndim == 2:
        return x, (x.shape[0],)
    perm = (0, *range(2, x.ndim), 1)
    out_shape = (x.shape[0], *x.shape[2:])
    return x.permute(*perm).reshape(-1, x.shape[1]), out_shape


def _class_weight(weight, c: int, dtype, name: str):
    w = weight.numpy() if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({c},), got "
                         f"{w.shape}")
    return w.astype(dtype)


def cross_entropy(input, target, weight=None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """-log softmax(input)[target], stable for any logit size, as ``torch.nn.functional.
    cross_entropy``: input (N, C), (N, C, d1, ...) or (C,); target integer labels (N, d1, ...)
    or class probabilities of the input's shape; per-class ``weight``, ``ignore_index``,
    ``label_smoothing``. Plain labels run one fused kernel, whose gradient is the lecture's
    (softmax(c) - t), divided by the batch size for the mean; the rest is a composite of
    log_softmax, indexing and sums.

    >>> import minigrad
    >>> x = minigrad.tensor([[4.0, 3.9, 0.0], [1.0, 2.0, 3.0]])
    >>> round(cross_entropy(x, [0, 2]).item(), 4), round(cross_entropy(x, [0, -100]).item(), 4)
    (0.5269, 0.6645)
    """
    if isinstance(weight, str):          # the old signature cross_entropy(x, t, reduction)
        weight, reduction = None, weight
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if _is_scalars(input):
        if weight is not None or label_smoothing:
            raise NotImplementedError("cross_entropy on Scalars: no weight or label_smoothing")
        t, _ = _targets(target, input.shape[:1], input.shape[1], "cross_entropy")
        lp = log_softmax(input, -1)
        losses = -lp[np.arange(len(t)), t]
        if reduction == "none":
            return losses
        return losses.sum() / (float(len(t)) if reduction == "mean" else 1.0)
    _check_tensor(input, "cross_entropy", floating=True)
    if input.ndim == 0:
        raise ValueError("cross_entropy: logits must be (batch, classes), got a 0-d tensor")
    cdim = 0 if input.ndim == 1 else 1
    c = input.shape[cdim]
    tdtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if tdtype.kind == "f" and tuple(np.shape(target)) == input.shape:
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim)
    rows, out_shape = _class_rows(input, "cross_entropy")
    t, valid = _targets(target, out_shape, c, "cross_entropy", ignore_index)
    if weight is None and valid is None and not label_smoothing:
        # the fused kernel: softmax, log and the pick in one pass
        loss = Fn.CrossEntropy.apply(rows, rows.backend.asarray(t.reshape(-1)),
                                     reduction=reduction)
        return loss.reshape(out_shape) if reduction == "none" else loss
    logp = log_softmax(input, cdim)
    nll = nll_loss(logp, t, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    # PyTorch's smoothing term: -sum_c w_c log p_c per row, normalised as nll_loss is
    lrows, _ = _class_rows(logp, "cross_entropy")
    if weight is not None:
        w = _class_weight(weight, c, input.dtype, "cross_entropy")
        smooth = -(lrows * w).sum(1)
    else:
        smooth = -lrows.sum(1)
    tf = t.reshape(-1)
    counted = np.ones(tf.shape, bool) if valid is None else valid.reshape(-1)
    if valid is not None:
        smooth = smooth * counted.astype(input.dtype)
    if reduction == "none":
        ret = smooth.reshape(out_shape)
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        denom = (w[tf[counted]].sum() if weight is not None else counted.sum())
        ret = smooth.sum() / float(denom)
    return nll * (1.0 - label_smoothing) + ret * (label_smoothing / c)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim):
    """Cross-entropy with class probabilities as targets: -sum_c w_c p_c log softmax(x)_c."""
    c = input.shape[cdim]
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype), device=input.device)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / c
    prod = log_softmax(input, cdim) * target
    if weight is not None:
        w = _class_weight(weight, c, input.dtype, "cross_entropy")
        prod = prod * w.reshape((c,) + (1,) * (input.ndim - 1 - cdim))
    return _reduce(-prod.sum(cdim), reduction)


def nll_loss(input, target, weight=None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean"):
    """-input[target] (pair it with log_softmax), as ``torch.nn.functional.nll_loss``: input
    (N, C), (N, C, d1, ...) or (C,), per-class ``weight`` (the mean is then divided by the
    summed weights of the targets), ``ignore_index``. A composite: indexing and sums."""
    if isinstance(weight, str):          # the old signature nll_loss(x, t, reduction)
        weight, reduction = None, weight
    _check_reduction(reduction)
    if _is_scalars(input):
        if weight is not None:
            raise NotImplementedError("nll_loss on Scalars: no weight")
        t, _ = _targets(target, input.shape[:1], input.shape[1], "nll_loss")
        losses = -input[np.arange(len(t)), t]
        if reduction == "none":
            return losses
        return losses.sum() / (float(len(t)) if reduction == "mean" else 1.0)
    _check_tensor(input, "nll_loss")
    if input.ndim == 0:
        raise ValueError("nll_loss: input must be (batch, classes), got a 0-d tensor")
    c = input.shape[0 if input.ndim == 1 else 1]
    rows, out_shape = _class_rows(input, "nll_loss")
    t, valid = _targets(target, out_shape, c, "nll_loss", ignore_index)
    t = t.reshape(-1)
    if valid is not None:
        valid = valid.reshape(-1)
        t = np.where(valid, t, 0)        # any class: its loss is multiplied by 0
    losses = -rows[np.arange(len(t)), t]
    if weight is None and valid is None:
        return _reduce(losses.reshape(out_shape), reduction)
    w = (np.ones(c, input.dtype) if weight is None
         else _class_weight(weight, c, input.dtype, "nll_loss"))[t]
    if valid is not None:
        w = w * valid
    losses = losses * w
    if reduction == "none":
        return losses.reshape(out_shape)
    if reduction == "sum":
        return losses.sum()
    total = float(w.sum())
    return losses.sum() * (1.0 / total if total else float("nan"))  # all ignored: NaN, as torch


def _loss_args(input, target, name: str):  # noqa: A002
    """The target with the input's shape: a Tensor on the input's device, or for an array of
    Scalars (the scalar engine) an array; and the dtype's smallest normal number."""
    if _is_scalars(input):
        t = target if _is_scalars(target) else np.asarray(target, dtype=np.float64)
        if t.shape != input.shape:
            raise Fn.ShapeError(f"{name}: input shape {input.shape} != target shape {t.shape}")
        return t, float(np.finfo(np.float64).tiny)
    _check_tensor(input, name, floating=True)
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target, dtype=input.dtype), device=input.device)
    if target.shape != input.shape:
        raise Fn.ShapeError(f"{name}: input shape {input.shape} != target shape {target.shape}")
    return target, float(np.finfo(input.dtype).tiny)


def mse_loss(input, target, reduction: str = "mean"):  # noqa: A002 - torch's name
    """Mean of (input - target)^2."""
    if not _is_scalars(input):
        _check_tensor(input, "mse_loss")
        tshape = tuple(target.shape if hasattr(target, "shape") else ())
        if tshape != input.shape:
            try:   # torch broadcasts, with a warning (usually a bug in the caller's shapes)
                np.broadcast_shapes(tshape, input.shape)
            except ValueError:
                raise Fn.ShapeError(f"mse_loss: input shape {input.shape} and target shape "
                                    f"{tshape} cannot be broadcast together") from None
            warnings.warn(f"mse_loss: target size {tshape} differs from input size "
                          f"{input.shape}; they are broadcast, which is likely wrong",
                          UserWarning, stacklevel=2)
    d = input - target
    sq = d * d
    if reduction == "none":
        return sq
    if reduction == "sum":
        return sum(sq)
    if reduction == "mean":
        return mean(sq)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def l1_loss(input, target, reduction: str = "mean"):  # noqa: A002
    """|input - target|, reduced."""
    _check_reduction(reduction)
    t, _ = _loss_args(input, target, "l1_loss")
    return _reduce(abs(input - t), reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):  # noqa: A002
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target).
    Written with m = min(|d|, beta) as 0.5 m^2 / beta + (|d| - m): no branch, and the
    gradient at |d| = beta is PyTorch's."""
    _check_reduction(reduction)
    t, _ = _loss_args(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = abs(input - t)
    if beta == 0:
        return _reduce(d, reduction)
    m = minimum(d, float(beta))
    return _reduce(m * m * (0.5 / beta) + (d - m), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):  # noqa: A002
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): smooth_l1_loss times delta."""
    _check_reduction(reduction)
    t, _ = _loss_args(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = abs(input - t)
    m = minimum(d, float(delta))
    return _reduce(m * m * 0.5 + (d - m) * float(delta), reduction)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):  # noqa: A002
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x, each log clamped at -100 as in
    PyTorch, so x = 0 or 1 (a saturated sigmoid) gives a finite loss and gradient. The logs
    read max(x, tiny), tiny the dtype's smallest normal number: no log(0), and no inf * 0 in
    the backward; x = 0 or 1 exactly reads -100, as in torch."""
    _check_reduction(reduction)
    t, tiny = _loss_args(input, target, "binary_cross_entropy")
    logx = maximum(log(maximum(input, tiny)), -100.0)
    log1mx = maximum(log(maximum(1.0 - input, tiny)), -100.0)
    if isinstance(input, Tensor):  # log(0) is -100 exactly (the clamp), as in torch
        logx, log1mx = where(input > 0, logx, -100.0), where(input < 1, log1mx, -100.0)
    loss = -(t * logx + (1.0 - t) * log1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None,  # noqa: A002
                                     reduction: str = "mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(x), t), computed stably from the logits x:
    (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), softplus(-x) = log1p(e^-|x|) + relu(-x).
    """
    _check_reduction(reduction)
    t, _ = _loss_args(input, target, "binary_cross_entropy_with_logits")
    sp = apply_rule("log1p", exp(-abs(input))) + relu(-input)
    lw = sp if pos_weight is None else ((pos_weight - 1.0) * t + 1.0) * sp
    loss = (1.0 - t) * input + lw
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, reduction: str = "mean", log_target: bool = False):  # noqa: A002
    """Kullback-Leibler divergence with ``input`` as log-probabilities:
    t (log t - input), 0 where t = 0 (or e^t (t - input) with ``log_target``). ``reduction``
    "batchmean" (sum / batch size) is the mathematical KL divergence; "mean" averages over
    every element, as PyTorch."""
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    t, tiny = _loss_args(input, target, "kl_div")
    plain = isinstance(t, np.ndarray) and not _is_scalars(t)  # numbers beside Scalars
    if log_target:
        loss = (np.exp(t) if plain else exp(t)) * (t - input)
    else:
        # t log t with 0 log 0 = 0: log of max(t, tiny) is finite, and t = 0 zeroes the term
        loss = t * ((np.log(np.maximum(t, tiny)) if plain else log(maximum(t, tiny))) - input)
    if reduction == "batchmean":
        return sum(loss) / float(input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


# ---- convolution and pooling ---------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1: the lecture's output-size formula."""
    return (size + 2 * padding - kernel) // stride + 1


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (what deep learning calls convolution), NCHW, weight
    (out_channels, in_channels / groups, kh, kw) as in PyTorch. ``padding`` may be "valid" (0)
    or "same" (stride 1). ``dilation`` and ``groups`` are composites around the fused kernel:
    a dilated kernel is the weight with zeros inserted (cat, reshape, slicing), groups are
    convolutions of channel slices joined by cat. An unbatched (C, H, W) input gives an
    unbatched output, as in PyTorch.

    >>> y = conv2d(minigrad.ones(1, 1, 4, 4), minigrad.ones(2, 1, 3, 3), padding=1)
    >>> y.shape, y[0, 0].numpy()[0].tolist()
    ((1, 2, 4, 4), [4.0, 6.0, 6.0, 4.0])
    """
    if isinstance(x, Tensor) and x.ndim == 3 and getattr(weight, "ndim", 0) == 4:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    groups = int(groups)
    if isinstance(padding, str):
        pads = _string_padding(padding, tuple(weight.shape[2:]), stride, dilation, "conv2d")
    else:
        p = _pair(padding, "padding")
        pads = ((p[0], p[0]), (p[1], p[1]))
    plain = dilation == (1, 1) and groups == 1 and all(a == b for a, b in pads)
    if _is_scalars(x) or _is_scalars(weight):
        if not plain:
            raise NotImplementedError("conv2d on Scalars: no dilation, groups or asymmetric "
                                      "padding")
        return _conv2d_scalars(x, weight, bias, stride, (pads[0][0], pads[1][0]))
    _check_tensor(x, "conv2d", floating=True)
    if plain:
        padding = (pads[0][0], pads[1][0])
        _check_conv(x.shape, weight.shape, None if bias is None else bias.shape, stride, padding)
        if x.dtype != weight.dtype:
            raise TypeError(f"conv2d: input dtype {x.dtype} != weight dtype {weight.dtype}")
        args = (x, weight) if bias is None else (x, weight, bias)
        return Fn.Conv2d.apply(*args, stride=stride, padding=padding)
    if x.ndim != 4 or weight.ndim != 4:
        raise Fn.ShapeError(f"conv2d: input must be (N, C, H, W) and weight (out, in/groups, kh, "
                         f"kw), got shapes {x.shape} and {weight.shape}")
    c_in, c_out = x.shape[1], weight.shape[0]
    if groups < 1 or c_in % groups or c_out % groups or weight.shape[1] * groups != c_in:
        raise Fn.ShapeError(f"conv2d: groups={groups} must divide the input's {c_in} channels and "
                         f"the weight's {c_out} outputs, and the weight (shape {weight.shape}) "
                         f"must have {c_in} / groups input channels")
    if min(dilation) < 1:
        raise ValueError(f"conv2d: dilation must be >= 1, got {dilation}")
    w = _dilate(weight, dilation, (2, 3))
    if all(a == b for a, b in pads):
        padding = (pads[0][0], pads[1][0])
    else:
        x, padding = _pad(x, {2: pads[0], 3: pads[1]}), (0, 0)
    if groups == 1:
        return conv2d(x, w, bias, stride, padding)
    ci, co = c_in // groups, c_out // groups
    outs = [conv2d(x[:, g * ci:(g + 1) * ci], w[g * co:(g + 1) * co],
                   None if bias is None else bias[g * co:(g + 1) * co], stride, padding)
            for g in range(groups)]
    return cat(outs, 1)


def _string_padding(padding, kernel, stride, dilation, name):
    """'valid' or 'same' as (before, after) per spatial dim."""
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    if padding != "same":
        raise ValueError(f"{name}: padding must be an int, a tuple, 'valid' or 'same', got "
                         f"{padding!r}")
    if any(s != 1 for s in stride):
        raise ValueError(f"{name}: padding='same' needs stride 1, got {stride}")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple((t // 2, t - t // 2) for t in total)


def _dilate(t, factors, axes):
    """Insert factor - 1 zeros between the elements along each axis (a dilated kernel; the
    strided input of a transposed convolution): cat with zeros, merge, drop the trailing zeros.
    """
    for f, ax in zip(factors, axes):
        if f == 1:
            continue
        n = t.shape[ax]
        zshape = list(t.shape)
        zshape.insert(ax + 1, f - 1)
        z = Tensor(np.zeros(zshape, t.dtype), device=t.device)
        merged = cat([t.unsqueeze(ax + 1), z], ax + 1)
        merged = merged.reshape(*t.shape[:ax], n * f, *t.shape[ax + 1:])
        t = merged[(slice(None),) * ax + (slice(0, (n - 1) * f + 1),)]
    return t


def _pad(x, pads: dict):
    """Zero padding {axis: (before, after)}; a negative amount crops. Cat and slicing."""
    for ax, (before, after) in pads.items():
        if before < 0 or after < 0:
            n = x.shape[ax]
            x = x[(slice(None),) * ax + (slice(max(-before, 0), n - max(-after, 0)),)]
            before, after = max(before, 0), max(after, 0)
        parts = []
        for amount in (before, after):
            shape = list(x.shape)
            shape[ax] = amount
            parts.append(Tensor(np.zeros(shape, x.dtype), device=x.device) if amount else None)
        pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
        if len(pieces) > 1:
            x = cat(pieces, ax)
    return x


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transpose of conv2d (the gradient of conv2d with respect to its input, as a layer):
    input (N, C_in, H, W), weight (C_in, C_out / groups, kh, kw) as in PyTorch; output size
    (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.

    A composite: zeros inserted between the input's pixels (stride), zero padding of
    dilation (k - 1) - padding, then an ordinary stride-1 convolution with the kernel flipped
    and its in/out channels swapped.
    """
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding, output_padding = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    groups = int(groups)
    _check_tensor(x, "conv_transpose2d", floating=True)
    if x.ndim != 4 or weight.ndim != 4:
        raise Fn.ShapeError(f"conv_transpose2d: input must be (N, C, H, W) and weight (in, "
                         f"out/groups, kh, kw), got shapes {x.shape} and {weight.shape}")
    c_in = x.shape[1]
    if weight.shape[0] != c_in:
        raise Fn.ShapeError(f"conv_transpose2d: input has {c_in} channels (shape {x.shape}) but "
                         f"the weight (shape {weight.shape}) expects {weight.shape[0]}")
    if groups < 1 or c_in % groups:
        raise Fn.ShapeError(f"conv_transpose2d: groups={groups} must divide the {c_in} input "
                         f"channels")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"conv_transpose2d: stride and dilation must be >= 1, padding and "
                         f"output_padding >= 0; got {stride}, {dilation}, {padding}, "
                         f"{output_padding}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be "
                             f"smaller than stride {stride} or dilation {dilation}")
    kh, kw = weight.shape[2:]
    co = weight.shape[1]
    # (C_in, C_out/g, kh, kw) -> (C_out, C_in/g, kh, kw), per group; then flip the kernel
    w = weight.reshape(groups, c_in // groups, co, kh, kw).permute(0, 2, 1, 3, 4)
    w = w.reshape(groups * co, c_in // groups, kh, kw)
    w = w[:, :, np.arange(kh - 1, -1, -1)[:, None], np.arange(kw - 1, -1, -1)[None, :]]
    x = _dilate(x, stride, (2, 3))
    pads = [(d * (k - 1) - p, d * (k - 1) - p + op)
            for k, d, p, op in zip((kh, kw), dilation, padding, output_padding)]
    for size, (a, b), k, d in zip(x.shape[2:], pads, (kh, kw), dilation):
        if size + a + b - d * (k - 1) < 1:
            raise ValueError(f"conv_transpose2d: padding {padding} leaves no output for an "
                             f"input of shape {x.shape} and a kernel of ({kh}, {kw})")
    if all(a == b and a >= 0 for a, b in pads):
        return conv2d(x, w, bias, 1, (pads[0][0], pads[1][0]), dilation, groups)
    x = _pad(x, {2: pads[0], 3: pads[1]})
    return conv2d(x, w, bias, 1, 0, dilation, groups)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """conv_transpose2d over (N, C, L) with weight (C_in, C_out / groups, k)."""
    _check_tensor(x, "conv_transpose1d", floating=True)
    if x.ndim != 3 or weight.ndim != 3:
        raise Fn.ShapeError(f"conv_transpose1d: input must be (N, C, L) and weight (in, "
                         f"out/groups, k), got {x.shape} and {weight.shape}")
    one = lambda v: int(v if isinstance(v, (int, np.integer)) else v[0])  # noqa: E731
    y = conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, one(stride)),
                         (0, one(padding)), (0, one(output_padding)), groups,
                         (1, one(dilation)))
    return y.squeeze(2)


def _check_conv(xs, ws, bs, stride, padding):
    if len(xs) != 4:
        raise Fn.ShapeError(f"conv2d: input must be (N, C, H, W), got shape {xs}")
    if len(ws) != 4:
        raise Fn.ShapeError(f"conv2d: weight must be (out, in, kh, kw), got shape {ws}")
    if xs[1] != ws[1]:
        raise Fn.ShapeError(f"conv2d: input has {xs[1]} channels (shape {xs}) but the weight "
                         f"expects {ws[1]} (shape {ws})")
    if bs is not None and tuple(bs) != (ws[0],):
        raise Fn.ShapeError(f"conv2d: bias shape {tuple(bs)} != ({ws[0]},)")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride}, "
                         f"{padding}")
    for size, k, p, axis in ((xs[2], ws[2], padding[0], "height"),
                             (xs[3], ws[3], padding[1], "width")):
        if k > size + 2 * p:
            raise Fn.ShapeError(f"conv2d: kernel {axis} {k} is larger than the padded input "
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


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation, NCW, weight (out_channels, in_channels / groups, k)."""
    def one(v):
        return int(v if isinstance(v, (int, np.integer)) else v[0])
    s, d = one(stride), one(dilation)
    if isinstance(padding, str):
        p2 = padding
    else:
        p2 = (0, one(padding))
    if _is_scalars(x) or _is_scalars(weight):
        if d != 1 or groups != 1 or isinstance(padding, str):
            raise NotImplementedError("conv1d on Scalars: no dilation, groups or string "
                                      "padding")
        y = _conv2d_scalars(x[:, :, None, :], weight[:, :, None, :], bias, (1, s), p2)
        return y[:, :, 0, :]
    _check_tensor(x, "conv1d")
    if x.ndim != 3 or weight.ndim != 3:
        raise Fn.ShapeError(f"conv1d: input must be (N, C, L) and weight (out, in, k), got "
                         f"{x.shape} and {weight.shape}")
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), p2, (1, d), groups)
    return y.squeeze(2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """3-D cross-correlation over (N, C, D, H, W) or (C, D, H, W), weight (out_channels,
    in_channels / groups, kd, kh, kw), as PyTorch; ``padding`` an int, a triple, "valid" or
    "same".

    A composite around conv2d: output depth z reads the input depth slices z s + i d (i < kd);
    those kd slices are stacked into the channels (an im2col along depth, channel order
    (group, i, c)), each output depth becomes a batch item, and one conv2d, with the kernel's
    depth folded into its input channels, does the rest with the other two dims' stride,
    padding, dilation and groups. The gradients come through conv2d, slicing and cat.

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.ones(1, 2, 4, 4, 4)
    >>> y = F.conv3d(x, minigrad.ones(3, 2, 2, 2, 2), padding=1)
    >>> y.shape, y[0, 0, 1, 1, 1].item(), y[0, 0, 0, 0, 0].item()
    ((1, 3, 5, 5, 5), 16.0, 2.0)
    """
    _check_tensor(input, "conv3d", floating=True)
    if input.ndim == 4:
        return conv3d(input.unsqueeze(0), weight, bias, stride, padding, dilation,
                      groups).squeeze(0)
    if input.ndim != 5 or weight.ndim != 5:
        raise Fn.ShapeError(f"conv3d: input must be (N, C, D, H, W) and weight (out, in/groups, "
                            f"kd, kh, kw), got shapes {input.shape} and {weight.shape}")
    if input.dtype != weight.dtype:
        raise TypeError(f"conv3d: input dtype {input.dtype} != weight dtype {weight.dtype}")
    n, c, depth, h, w = input.shape
    o, ci, kd, kh, kw = weight.shape
    groups = int(groups)
    if groups < 1 or o % groups or ci * groups != c:
        raise Fn.ShapeError(f"conv3d: given groups={groups}, weight of size {weight.shape}, "
                            f"expected input {input.shape} to have {ci * groups} channels "
                            f"(and groups to divide the {o} outputs)")
    if bias is not None and tuple(bias.shape) != (o,):
        raise Fn.ShapeError(f"conv3d: bias shape {tuple(bias.shape)} != ({o},)")
    s = _ntuple(stride, 3, "conv3d: stride")
    dil = _ntuple(dilation, 3, "conv3d: dilation")
    if min(s) < 1 or min(dil) < 1:
        raise Fn.ShapeError(f"conv3d: stride and dilation must be >= 1, got {s} and {dil}")
    if isinstance(padding, str):
        pads = _string_padding(padding, (kd, kh, kw), s, dil, "conv3d")
    else:
        p = _ntuple(padding, 3, "conv3d: padding")
        if min(p) < 0:
            raise Fn.ShapeError(f"conv3d: padding must be >= 0, got {p}")
        pads = tuple((q, q) for q in p)
    sizes = [size + a + b for size, (a, b) in zip((depth, h, w), pads)]
    if any(size < d * (k - 1) + 1 for size, d, k in zip(sizes, dil, (kd, kh, kw))):
        raise Fn.ShapeError(f"conv3d: the padded input size per channel {tuple(sizes)} is "
                            f"smaller than the (dilated) kernel {(kd, kh, kw)} (dilation {dil}; "
                            f"input {input.shape}, weight {weight.shape})")
    x = _pad(input, {2: pads[0]}) if any(pads[0]) else input
    od = (sizes[0] - dil[0] * (kd - 1) - 1) // s[0] + 1
    slices = [x[:, :, i * dil[0]:i * dil[0] + s[0] * (od - 1) + 1:s[0]].unsqueeze(1)
              for i in range(kd)]
    stacked = slices[0] if kd == 1 else cat(slices, 1)              # (N, kd, C, od, H, W)
    stacked = stacked.reshape(n, kd, groups, ci, od, h, w).permute(0, 4, 2, 1, 3, 5, 6)
    stacked = stacked.reshape(n * od, groups * kd * ci, h, w)
    w2 = weight.permute(0, 2, 1, 3, 4).reshape(o, kd * ci, kh, kw)  # (O, kd * C/g, kh, kw)
    if pads[1][0] == pads[1][1] and pads[2][0] == pads[2][1]:
        pad2 = (pads[1][0], pads[2][0])
    else:
        stacked, pad2 = _pad(stacked, {2: pads[1], 3: pads[2]}), (0, 0)
    y = conv2d(stacked, w2, bias, s[1:], pad2, dil[1:], groups)     # (N od, O, OH, OW)
    return y.reshape(n, od, o, *y.shape[2:]).permute(0, 2, 1, 3, 4)


# ---- pooling -------------------------------------------------------------------------------------
# The fused kernels (the backends' max_pool2d / avg_pool2d) take windows without padding or
# dilation, in floor mode. PyTorch's other options are composites around them:
# - padding and ceil mode pad the input (-inf for max; zeros for avg, whose divisor is then set
#   right by a constant factor per window) and run the same kernels;
# - dilated and adaptive windows are gathered by index: a table of each window's flat positions
#   in the plane, the arg-max taken outside the graph, then a gather of the maxima, so the
#   gradient (gather's: a scatter-add) goes to each window's arg-max, as in PyTorch.
# Indices (return_indices) are int64 flat positions h * W + w in each input plane, as PyTorch's.


def _ntuple(v, n: int, name: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        v = v * n
    if len(v) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v}")
    return v


class _Pool(NamedTuple):
    """A pooling geometry, one entry per spatial dim: kernel, stride, padding, dilation, output
    size, and the (left, right) padding the windows read (the right one reaches further in
    ceil mode)."""

    k: tuple
    s: tuple
    p: tuple
    d: tuple
    out: tuple
    pads: tuple

    def with_unit_dim(self) -> _Pool:
        """The same geometry over (1, L): 1-D pooling runs as 2-D."""
        return _Pool(*((u,) + t for u, t in zip((1, 1, 0, 1, 1, (0, 0)), self)))


def _pool_geometry(name, shape, kernel_size, stride, padding, dilation=1,
                   ceil_mode=False) -> _Pool:
    """PyTorch's pooling geometry, checked: stride defaults to the kernel, padding is at most
    half the kernel; output size floor((n + 2p - d (k - 1) - 1) / s) + 1 (ceil in ceil mode,
    where the last window must still start inside the input or the left padding)."""
    spatial = shape[2:]
    nd = len(spatial)
    k = _ntuple(kernel_size, nd, f"{name}: kernel_size")
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and not len(stride))
    s = k if no_stride else _ntuple(stride, nd, f"{name}: stride")
    p, d = _ntuple(padding, nd, f"{name}: padding"), _ntuple(dilation, nd, f"{name}: dilation")
    for what, v in (("kernel size", k), ("stride", s), ("dilation", d)):
        if min(v) < 1:
            raise Fn.ShapeError(f"{name}: {what} should be greater than zero, got {v}")
    if min(p) < 0:
        raise Fn.ShapeError(f"{name}: pad must be non-negative, got {p}")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise Fn.ShapeError(f"{name}: pad should be at most half of kernel size, but got "
                            f"padding={p} and kernel_size={k}")
    out, pads = [], []
    for n, ki, si, pi, di in zip(spatial, k, s, p, d):
        span = n + 2 * pi - di * (ki - 1) - 1
        o = (-(-span // si) if ceil_mode else span // si) + 1
        if ceil_mode and (o - 1) * si >= n + pi:
            o -= 1
        out.append(o)
        pads.append((pi, max((o - 1) * si + di * (ki - 1) + 1 - n - pi, 0)))
    if min(out) < 1:
        raise Fn.ShapeError(f"{name}: given input size {tuple(shape[1:])}, the calculated "
                            f"output size {(shape[1], *out)} is too small (kernel {k}, stride "
                            f"{s}, padding {p}, dilation {d})")
    return _Pool(k, s, p, d, tuple(out), tuple(pads))


_cached_geometry = lru_cache(maxsize=512)(_pool_geometry)


def _geometry(*args) -> _Pool:
    """_pool_geometry, remembered: a training loop pools the same shapes every step, and the
    checks cost more than the fused kernel on small inputs."""
    try:
        return _cached_geometry(*args)
    except TypeError:       # an unhashable argument (a list): computed, not remembered
        return _pool_geometry(*args)


def _unsqueeze(x, dim: int):
    return np.expand_dims(x, dim) if _is_scalars(x) else x.unsqueeze(dim)


def _squeeze(x, dim: int):
    return np.squeeze(x, dim) if _is_scalars(x) else x.squeeze(dim)


def _pool_input(x, nd: int, name: str):
    """``(x, unbatched)``: x as (N, C, *spatial), from PyTorch's batched or unbatched shapes;
    only the batch may be empty."""
    if _is_scalars(x):
        pass
    elif isinstance(x, Tensor):
        _check_tensor(x, name, floating=True)
    else:
        raise TypeError(f"{name} expects a Tensor, got {type(x).__name__}")
    dims = "L" if nd == 1 else "HW"
    if x.ndim not in (nd + 1, nd + 2) or 0 in x.shape[-nd - 1:]:
        raise Fn.ShapeError(f"{name}: expected (C, {', '.join(dims)}) or (N, C, "
                            f"{', '.join(dims)}) with non-zero C and sizes (N may be 0), got "
                            f"shape {tuple(x.shape)}")
    return (_unsqueeze(x, 0), True) if x.ndim == nd + 1 else (x, False)


def _pool_output(y, nd: int, unbatched: bool):
    if nd == 1:
        y = _squeeze(y, 2)
    return _squeeze(y, 0) if unbatched else y


def _pad_with(x, pads: dict, value: float):
    """Padding {axis: (before, after)} with a constant (cat with filled blocks)."""
    for ax, amounts in pads.items():
        pieces = [x]
        for side, amount in enumerate(amounts):
            if amount:
                shape = list(x.shape)
                shape[ax] = amount
                block = Tensor(np.full(shape, value, x.dtype), device=x.device)
                pieces.insert(0 if side == 0 else len(pieces), block)
        if len(pieces) > 1:
            x = cat(pieces, ax)
    return x


def _flat_positions(tables, sizes) -> np.ndarray:
    """(P, K): each window's flat positions in a plane of ``sizes``, from one (out, k) table of
    coordinates per dim (P the product of the outs, K of the ks)."""
    pos = np.zeros((1, 1), np.int64)
    for t, size in zip(tables, sizes):
        pos = (pos[:, None, :, None] * size + t[None, :, None, :]).reshape(
            pos.shape[0] * t.shape[0], -1)
    return pos


def _window_argmax(xf, pos: np.ndarray) -> np.ndarray:
    """(N, C, P) int64: the flat position of the max of each window ``pos`` (P, K) in the
    planes xf (N, C, L); the first maximum wins, a NaN beats everything (as PyTorch)."""
    with no_grad():
        a = xf.detach()[:, :, pos].argmax(-1).numpy()
    return pos[np.arange(pos.shape[0]), a]


def _gather_planes(xf, arg: np.ndarray, out_shape):
    """xf (N, C, L) gathered at ``arg`` (N, C, P) along the plane: a Function whose gradient
    scatter-adds back to the gathered positions."""
    y = Fn.Gather.apply(xf, index=xf.backend.asarray(np.ascontiguousarray(arg, np.int64)),
                        axis=2)
    return y.reshape(*out_shape)


def _max_pool(x, g: _Pool, return_indices: bool):
    """``(y, indices or None)``: max pooling of x (N, C, H, W) with the 2-D geometry g."""
    n, c, h, w = x.shape
    oh, ow = g.out
    if n == 0:
        idx = Tensor(np.zeros((0, c, oh, ow), np.int64), device=x.device)
        return x.reshape(0, c, oh, ow), (idx if return_indices else None)
    padded = any(a or b for a, b in g.pads)
    xp = _pad_with(x, {2: g.pads[0], 3: g.pads[1]}, -np.inf) if padded else x
    if g.d == (1, 1) and not return_indices:
        return Fn.MaxPool2d.apply(xp, kernel=g.k, stride=g.s), None
    hp, wp = xp.shape[2:]
    xf = xp.reshape(n, c, hp * wp)
    if g.d == (1, 1):           # the fused kernel's arg-max, its value gathered in the graph
        _, arg = x.backend.max_pool2d(xp.data, g.k, g.s)
        arg = np.asarray(x.backend.to_numpy(arg), np.int64).reshape(n, c, oh * ow)
    else:
        tables = [(np.arange(o) * s)[:, None] + np.arange(k) * d
                  for o, s, k, d in zip(g.out, g.s, g.k, g.d)]
        arg = _window_argmax(xf, _flat_positions(tables, (hp, wp)))
    if padded:
        arg = _first_input_where_padding(arg, g, (h, w), wp)
    y = _gather_planes(xf, arg, (n, c, oh, ow))
    if not return_indices:
        return y, None
    if padded:                  # positions in the padded plane -> in the input's plane
        arg = (arg // wp - g.pads[0][0]) * w + (arg % wp - g.pads[1][0])
    return y, Tensor(arg.reshape(n, c, oh, ow), device=x.device)


def _first_input_where_padding(arg: np.ndarray, g: _Pool, size, wp: int) -> np.ndarray:
    """A window whose inputs are all -inf has its arg-max in the -inf padding; PyTorch names
    the window's first input element instead (and sends it the gradient): so do we."""
    (ph, _), (pw, _) = g.pads
    r, q = arg // wp - ph, arg % wp - pw
    inside = (r >= 0) & (r < size[0]) & (q >= 0) & (q < size[1])
    if inside.all():
        return arg
    first = []
    for o, s, p, d in zip(g.out, g.s, g.p, g.d):
        start = np.arange(o) * s - p
        first.append(start + d * np.maximum(-(start // d), 0) + p)  # first tap at >= 0, padded
    return np.where(inside, arg, (first[0][:, None] * wp + first[1]).ravel())


def _avg_divisor(g: _Pool, spatial, count_include_pad: bool, divisor_override) -> np.ndarray:
    """(OH, OW): PyTorch's divisor of each window: its size clipped to the padded input (with
    ``count_include_pad``), else the number of input elements it covers, or the override."""
    if divisor_override is not None:
        return np.full(g.out, float(divisor_override))
    per_dim = []
    for n, o, k, s, p in zip(spatial, g.out, g.k, g.s, g.p):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        per_dim.append(end - start if count_include_pad
                       else np.minimum(end, n) - np.maximum(start, 0))
    return np.multiply.outer(*per_dim).astype(np.float64)


def _avg_pool(x, g: _Pool, count_include_pad: bool, divisor_override):
    """Average pooling of x (N, C, H, W) with the 2-D geometry g: the fused kernel over the
    zero-padded input divides by kh kw; a constant factor per window makes that PyTorch's
    divisor."""
    n, c = x.shape[:2]
    if n == 0:
        return x.reshape(0, c, *g.out)
    padded = any(a or b for a, b in g.pads)
    xp = _pad(x, {2: g.pads[0], 3: g.pads[1]}) if padded else x
    y = Fn.AvgPool2d.apply(xp, kernel=g.k, stride=g.s)
    scale = (g.k[0] * g.k[1]) / _avg_divisor(g, x.shape[2:], count_include_pad,
                                             divisor_override)
    if (scale == 1.0).all():
        return y
    if (scale == scale.flat[0]).all():
        return y * float(scale.flat[0])
    return y * Tensor(scale.astype(x.dtype), device=x.device)


def _pool_scalars(x, g: _Pool, mode: str, count_include_pad=True, divisor_override=None):
    """Pooling of an (N, C, H, W) array of Scalars, window by window: ``(y, indices)``."""
    n, c, h, w = x.shape
    oh, ow = g.out
    out = np.empty((n, c, oh, ow), dtype=object)
    idx = np.zeros((n, c, oh, ow), np.int64)
    div = None if mode == "max" else _avg_divisor(g, (h, w), count_include_pad, divisor_override)
    for i in range(oh):
        rows = [r for r in range(i * g.s[0] - g.p[0], i * g.s[0] - g.p[0] + g.d[0] * g.k[0],
                                 g.d[0]) if 0 <= r < h]
        for j in range(ow):
            cols = [q for q in range(j * g.s[1] - g.p[1], j * g.s[1] - g.p[1] + g.d[1] * g.k[1],
                                     g.d[1]) if 0 <= q < w]
            cells = [(r, q) for r in rows for q in cols]
            for a in range(n):
                for b in range(c):
                    if mode == "max":   # the first maximum wins
                        r, q = max(cells, key=lambda rq: x[a, b, rq[0], rq[1]].data)
                        out[a, b, i, j], idx[a, b, i, j] = x[a, b, r, q], r * w + q
                    else:
                        total = x[a, b, cells[0][0], cells[0][1]]
                        for r, q in cells[1:]:
                            total = total + x[a, b, r, q]
                        out[a, b, i, j] = total / float(div[i, j])
    return out, idx


def _max_pool_nd(nd, name, input, kernel_size, stride, padding, dilation, ceil_mode,  # noqa: A002
                 return_indices):
    x, unbatched = _pool_input(input, nd, name)
    g = _geometry(name, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    if nd == 1:
        x, g = _unsqueeze(x, 2), g.with_unit_dim()
    if _is_scalars(x):
        y, idx = _pool_scalars(x, g, "max")
    else:
        y, idx = _max_pool(x, g, return_indices)
    y = _pool_output(y, nd, unbatched)
    return (y, _pool_output(idx, nd, unbatched)) if return_indices else y


def _avg_pool_nd(nd, name, input, kernel_size, stride, padding, ceil_mode,  # noqa: A002
                 count_include_pad, divisor_override):
    x, unbatched = _pool_input(input, nd, name)
    g = _geometry(name, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and int(divisor_override) == 0:
        raise Fn.ShapeError(f"{name}: divisor must be not zero")
    if nd == 1:
        x, g = _unsqueeze(x, 2), g.with_unit_dim()
    if _is_scalars(x):
        y = _pool_scalars(x, g, "avg", count_include_pad, divisor_override)[0]
    else:
        y = _avg_pool(x, g, count_include_pad, divisor_override)
    return _pool_output(y, nd, unbatched)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over each kh x kw window of (N, C, H, W) or (C, H, W), as PyTorch: ``stride``
    defaults to the kernel; ``padding`` (at most half the kernel) adds -inf borders;
    ``dilation`` spaces a window's elements; ``ceil_mode`` rounds the output size up (the last
    window must start inside the input or the left padding). ``return_indices`` also returns
    each maximum's int64 flat index h * W + w in its input plane (what max_unpool2d takes).
    The gradient goes whole to each window's first maximum.

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> y, i = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[5.0, 7.0], [13.0, 15.0]]]], [[[[5, 7], [13, 15]]]])
    """
    return _max_pool_nd(2, "max_pool2d", input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False):
    """max_pool2d over (N, C, L) or (C, L); indices are positions along L.

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
    >>> F.max_pool1d(x, 2, ceil_mode=True, return_indices=True)[1].tolist()
    [[[1, 3, 4]]]
    """
    return _max_pool_nd(1, "max_pool1d", input, kernel_size, stride, padding, dilation,
                        ceil_mode, return_indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override=None):
    """Mean over each kh x kw window of (N, C, H, W) or (C, H, W), as PyTorch: ``stride``
    defaults to the kernel, ``padding`` (at most half the kernel) adds zero borders, which
    count in the divisor with ``count_include_pad`` (the window clipped to the padded input),
    else only the input elements a window covers do; ``divisor_override`` replaces the
    divisor; ``ceil_mode`` rounds the output size up.

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.avg_pool2d(x, 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    >>> F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False).tolist()
    [[[[2.5, 4.0], [8.5, 10.0]]]]
    """
    return _avg_pool_nd(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True):
    """avg_pool2d over (N, C, L) or (C, L).

    >>> import minigrad, minigrad.functional as F
    >>> F.avg_pool1d(minigrad.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2, ceil_mode=True).tolist()
    [[[1.5, 3.5, 5.0]]]
    """
    return _avg_pool_nd(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, None)


def _last_write_wins(idx: np.ndarray) -> np.ndarray:
    """(N, C, L) bool: True where a later element of the same plane has the same index."""
    n, c, m = idx.shape
    key = (np.arange(n * c).reshape(n, c, 1) * (idx.max(initial=0) + 1) + idx).ravel()
    _, last = np.unique(key[::-1], return_index=True)
    keep = np.zeros(key.size, bool)
    keep[key.size - 1 - last] = True
    return ~keep.reshape(n, c, m)


def _max_unpool_nd(nd, name, input, indices, kernel_size, stride, padding,  # noqa: A002
                   output_size):
    x, unbatched = _pool_input(input, nd, name)
    idx = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {idx.dtype}")
    if idx.shape != tuple(input.shape):
        raise Fn.ShapeError(f"{name}: indices of shape {idx.shape} must have the input's shape "
                            f"{tuple(input.shape)}")
    spatial = x.shape[2:]
    k = _ntuple(kernel_size, nd, f"{name}: kernel_size")
    s = k if stride is None else _ntuple(stride, nd, f"{name}: stride")
    p = _ntuple(padding, nd, f"{name}: padding")
    default = tuple((i - 1) * si - 2 * pi + ki for i, ki, si, pi in zip(spatial, k, s, p))
    if output_size is None:
        out = default
    else:
        out = tuple(int(v) for v in output_size)
        if len(out) in (nd + 1, nd + 2):
            out = out[-nd:]
        if len(out) != nd:
            raise ValueError(f"{name}: output_size must have {nd} or {nd + 2} elements, got "
                             f"{tuple(output_size)}")
        for dim, (o, dflt, si) in enumerate(zip(out, default, s)):
            if not dflt - si < o < dflt + si:
                raise ValueError(f"{name}: invalid output_size {out} (dim {dim} must be "
                                 f"between {dflt - si} and {dflt + si})")
    if min(out) < 1:
        raise Fn.ShapeError(f"{name}: the output size {out} is too small")
    n, c = x.shape[:2]
    plane = int(np.prod(out))
    idx = idx.reshape(n, c, -1).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise Fn.ShapeError(f"{name}: found an invalid max index {bad} (the output planes "
                            f"are of size {'x'.join(map(str, out))})")
    src = x.reshape(n, c, -1)
    zeros = Tensor(np.zeros((n, c, plane), x.dtype), device=x.device)
    y = zeros.scatter_add(2, idx, src)
    if idx.size:
        dup = _last_write_wins(idx)
        if dup.any():
            # PyTorch writes (the last write wins) where scatter_add adds: subtract the
            # overwritten values outside the graph, so the gradient stays a gather, as PyTorch's
            over = src.detach() * Tensor(dup.astype(x.dtype), device=x.device)
            y = y - zeros.scatter_add(2, idx, over).detach()
    y = y.reshape(n, c, *out)
    return _squeeze(y, 0) if unbatched else y


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """The partial inverse of max_pool2d (torch.nn.functional.max_unpool2d): zeros of size
    (H - 1) stride - 2 padding + kernel (or ``output_size``), with each input value written
    at its index (the flat h * W + w that max_pool2d's ``return_indices`` gives). A scatter;
    the gradient gathers at the indices. Where indices repeat (overlapping windows picked one
    position), the last write wins and each gets the gradient there, as in PyTorch.

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.tensor([[[[1.0, 4.0], [3.0, 2.0]]]])
    >>> y, i = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2).tolist()
    [[[[0.0, 4.0], [0.0, 0.0]]]]
    """
    return _max_unpool_nd(2, "max_unpool2d", input, indices, kernel_size, stride, padding,
                          output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """max_unpool2d over (N, C, L) or (C, L).

    >>> import minigrad, minigrad.functional as F
    >>> F.max_unpool1d(minigrad.tensor([[[5.0, 7.0]]]), minigrad.tensor([[[1, 2]]]), 2).tolist()
    [[[0.0, 5.0, 7.0, 0.0]]]
    """
    return _max_unpool_nd(1, "max_unpool1d", input, indices, kernel_size, stride, padding,
                          output_size)


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


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """im2col: the sliding (kh, kw) blocks of (N, C, H, W) as columns, (N, C kh kw, L) with L
    the number of blocks (torch.nn.functional.unfold); an indexing composite, differentiable."""
    if input.ndim != 4:
        raise Fn.ShapeError(f"unfold expects a (N, C, H, W) input, got shape {input.shape}")
    (kh, kw), (dh, dw) = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    (ph, pw), (sh, sw) = _pair(padding, "padding"), _pair(stride, "stride")
    x = _pad(input, {2: (ph, ph), 3: (pw, pw)}) if ph or pw else input
    n, c, h, w = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise Fn.ShapeError(f"unfold: kernel {(kh, kw)} (dilation {(dh, dw)}) does not fit the "
                            f"padded input {tuple(x.shape)}")
    rows = (np.arange(kh) * dh)[:, None, None, None] + (np.arange(oh) * sh)[None, None, :, None]
    cols = (np.arange(kw) * dw)[None, :, None, None] + (np.arange(ow) * sw)[None, None, None, :]
    return x[:, :, rows, cols].reshape(n, c * kh * kw, oh * ow)   # (n, c, kh, kw, oh, ow)


def _channel_dropout(x, p, training, name, feature_dims):
    """Zero whole channels (every element beyond dim 1 together) with probability p."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if x.ndim != feature_dims + 2:
        raise Fn.ShapeError(f"{name} expects (N, C{', ...' * feature_dims}) input with "
                            f"{feature_dims + 2} dims, got shape {x.shape}")
    keep = get_rng().random(x.shape[:2] + (1,) * feature_dims) >= p
    mask = keep.astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return x * Tensor(mask, device=x.device)


def dropout1d(x, p: float = 0.5, training: bool = True):
    """Dropout of whole channels of (N, C, L) inputs."""
    return _channel_dropout(x, p, training, "dropout1d", 1)


def dropout2d(x, p: float = 0.5, training: bool = True):
    """Dropout of whole channels of (N, C, H, W) inputs."""
    return _channel_dropout(x, p, training, "dropout2d", 2)


def dropout3d(x, p: float = 0.5, training: bool = True):
    """Dropout of whole channels of (N, C, D, H, W) inputs."""
    return _channel_dropout(x, p, training, "dropout3d", 3)


def alpha_dropout(x, p: float = 0.5, training: bool = False):
    """SELU's dropout: dropped units take SELU's negative saturation value, then an affine map
    keeps the mean and variance (the identity outside training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    alpha = -1.7580993408473766                      # -selu_scale * selu_alpha
    a = (1.0 / ((1.0 - p) * (1.0 + p * alpha ** 2))) ** 0.5
    keep = Tensor((get_rng().random(x.shape) >= p).astype(x.dtype), device=x.device)
    return (x * keep + alpha * (1.0 - keep)) * a + (-a * alpha * p)


def flatten(x, start_dim: int = 1):
    return x.flatten(start_dim)


# ---- normalisation -------------------------------------------------------------------------------
# Composites of mean, sub, mul, pow and add: the gradients (through the mean and the variance too)
# come from those ops. Running statistics are numbers the graph does not differentiate: they are
# updated in place, under no_grad, and marked modified.


def _blend_(buf: Tensor, new: Tensor, momentum: float) -> None:
    """buf <- (1 - momentum) buf + momentum new, in place and outside the graph."""
    with no_grad():
        v = buf * (1.0 - momentum) + new.detach().to(dtype=buf.dtype) * momentum
    buf.data = v.data
    mark_modified(buf)


def _centred(x, axes):
    """mean(x), d = x - mean(x) and the biased variance mean(d^2) over ``axes``, written for
    a cheap backward (measured: BatchNorm2d on (64, 32, 24, 24) about a fifth faster than the
    plain form). The mean is negated before an add, which passes its gradient through, where a
    sub would multiply the whole gradient by -1; and d^2 is the square rule, whose backward is
    one multiplication by 2 d, where d * d takes two multiplications and an addition."""
    mean = x.mean(axes, keepdim=True)
    d = x + (-mean)
    return mean, d, apply_rule("square", d).mean(axes, keepdim=True)


def _normalise(d, var, eps, scale_shape=None, weight=None, bias=None):
    """d / sqrt(var + eps), then * weight + bias (reshaped to ``scale_shape``)."""
    inv = (var + eps) ** -0.5
    if weight is not None:
        w = weight if scale_shape is None else weight.reshape(*scale_shape)
        inv = inv * w
    y = d * inv
    if bias is not None:
        y = y + (bias if scale_shape is None else bias.reshape(*scale_shape))
    return y


# Training-mode batch normalisation runs as one Function (the backend's batch_norm kernels) on
# the backends that have them (cpu, reference) and for one float dtype throughout; elsewhere
# (OpenCL, mixed dtypes) the composite below (mean, add, square, pow, mul), its reference.
_BATCH_NORM_FUSED = True


def _fused_batch_norm(x, weight, bias) -> bool:
    return (_BATCH_NORM_FUSED and getattr(x.backend, "batch_norm", None) is not None
            and x.dtype in (np.float32, np.float64)
            and all(t is None or t.dtype == x.dtype for t in (weight, bias)))


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel (dim 1) of (N, C, ...) to mean 0 and variance 1, then scale by
    ``weight`` and shift by ``bias``. In training, the statistics are the batch's (the biased
    variance) and the running ones, if given, move towards them by ``momentum`` (with the
    unbiased variance), as PyTorch; otherwise the running statistics are used.

    >>> import minigrad
    >>> x = minigrad.tensor([[1.0], [3.0]])
    >>> rm, rv = minigrad.zeros(1), minigrad.ones(1)
    >>> batch_norm(x, rm, rv, training=True).numpy().round(3).ravel().tolist(), rm.tolist()
    ([-1.0, 1.0], [0.20000000298023224])
    """
    _check_tensor(input, "batch_norm", floating=True)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got shape {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for an input of "
                             f"shape {input.shape}, got {tuple(t.shape)}")
    axes = (0, *range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {input.shape}")
        if _fused_batch_norm(input, weight, bias):
            stats: list = []
            y = Fn.BatchNorm.apply(input, weight, bias, eps=eps, stats=stats)
            mean, var = (Tensor._make(a, input.backend) for a in stats)
        else:
            mean, d, var = _centred(input, axes)
            y = None
        if running_mean is not None:
            _blend_(running_mean, mean.reshape(c), momentum)
        if running_var is not None:
            _blend_(running_var, var.reshape(c) * (n / (n - 1)), momentum)
        if y is not None:
            return y
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and "
                             "running_var")
        d = input - running_mean.reshape(*shape)
        var = running_var.reshape(*shape)
    return _normalise(d, var, eps, shape, weight, bias)


def layer_norm(input, normalized_shape, weight=None, bias=None,  # noqa: A002
               eps: float = 1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims (biased variance), then
    elementwise ``weight`` and ``bias`` of that shape."""
    _check_tensor(input, "layer_norm", floating=True)
    ns = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.shape[input.ndim - k:] != ns:
        raise ValueError(f"layer_norm: normalized_shape {ns} must be the last dims of the "
                         f"input, got input shape {input.shape}")
    _, d, var = _centred(input, tuple(range(input.ndim - k, input.ndim)))
    return _normalise(d, var, eps, None, weight, bias)


def group_norm(input, num_groups: int, weight=None, bias=None,  # noqa: A002
               eps: float = 1e-5):
    """Normalise each group of C / num_groups channels of (N, C, ...) over the group's channels
    and positions, then per-channel ``weight`` and ``bias``."""
    _check_tensor(input, "group_norm", floating=True)
    if input.ndim < 2 or num_groups < 1 or input.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups {num_groups} must divide the channels of an "
                         f"(N, C, ...) input, got shape {input.shape}")
    n, c = input.shape[:2]
    _, d, var = _centred(input.reshape(n, num_groups, -1), (2,))
    y = (d * (var + eps) ** -0.5).reshape(*input.shape)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(*shape)
    if bias is not None:
        y = y + bias.reshape(*shape)
    return y


# ---- embedding -----------------------------------------------------------------------------------


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,  # noqa: A002
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer indices of any shape: the
    result has the indices' shape plus (dim,). A composite: indexing, whose backward adds each
    position's gradient into its row. The ``padding_idx`` row gets no gradient; ``max_norm``
    rescales, in place, the picked rows whose norm exceeds it (as PyTorch)."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not "
                                  "supported")
    _check_tensor(weight, "embedding")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    idx = input.numpy() if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (int64), got dtype {idx.dtype}")
    v = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        raise IndexError(f"embedding: indices must lie in [0, {v}), got min {idx.min()} max "
                         f"{idx.max()}")
    idx = np.array(idx, dtype=np.int64)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, float(max_norm), float(norm_type))
    out = weight[idx]
    if padding_idx is not None and out.requires_grad:
        pad = padding_idx + v if padding_idx < 0 else padding_idx
        keep = idx != pad
        if not keep.all():  # the padding positions read the row but pass no gradient back
            out = where(keep[..., None], out, out.detach())
    return out


def _embedding_renorm_(weight, idx, max_norm, norm_type):
    rows = np.unique(idx)
    w = weight.numpy()[rows].astype(np.float64)
    norms = np.linalg.norm(w, ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        arr = np.array(weight.numpy())
        arr[rows[big]] = (w[big] * (max_norm / (norms[big] + 1e-7))[:, None]).astype(arr.dtype)
        weight.data = weight.backend.asarray(arr)
        mark_modified(weight)


# ---- resampling and adaptive pooling -------------------------------------------------------------


def _take(x, axis: int, idx: np.ndarray):
    return x[(slice(None),) * axis + (idx,)]


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """Resize the spatial dims of (N, C, L) or (N, C, H, W), as PyTorch: modes "nearest",
    "nearest-exact", "linear" (3-D), "bilinear" (4-D) and "area" (adaptive average pooling).
    Composites: integer-factor nearest is a broadcast (expand + reshape); the others gather
    rows and columns by index and blend them with constant weights."""
    _check_tensor(input, "interpolate", floating=True)
    nsp = input.ndim - 2
    if nsp not in (1, 2):
        raise NotImplementedError(f"interpolate: (N, C, L) or (N, C, H, W) inputs, got shape "
                                  f"{input.shape}")
    if antialias:
        raise NotImplementedError("interpolate: antialias is not supported")
    linear_modes = {1: "linear", 2: "bilinear"}
    if mode not in ("nearest", "nearest-exact", "area", linear_modes[nsp]):
        raise NotImplementedError(f"interpolate: mode {mode!r} for a {input.ndim}-D input; "
                                  f"supported: 'nearest', 'nearest-exact', 'area', "
                                  f"{linear_modes[nsp]!r}")
    if align_corners is not None and mode != linear_modes[nsp]:
        raise ValueError("interpolate: align_corners only goes with the linear modes")
    in_sizes = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out_sizes = (size,) * nsp if isinstance(size, (int, np.integer)) else tuple(size)
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        sf = (scale_factor,) * nsp if isinstance(scale_factor, (int, float)) \
            else tuple(scale_factor)
        out_sizes = tuple(int(np.floor(i * f)) for i, f in zip(in_sizes, sf))
        scales = ([i / o for i, o in zip(in_sizes, out_sizes)] if recompute_scale_factor
                  else [1.0 / f for f in sf])
    if len(out_sizes) != nsp or min(out_sizes) < 1:
        raise ValueError(f"interpolate: output size {out_sizes} for input {input.shape}")
    if mode == "area":
        return (adaptive_avg_pool1d if nsp == 1 else adaptive_avg_pool2d)(input, out_sizes)
    x = input
    if mode == "nearest" and all(o % i == 0 and s * (o // i) == 1.0
                                 for i, o, s in zip(in_sizes, out_sizes, scales)):
        # every input element repeated f times along each axis: a broadcast, backward a sum
        lead = x.shape[:2]
        inter, final = list(lead), list(lead)
        for i, o in zip(in_sizes, out_sizes):
            inter += [i, 1]
            final += [i, o // i]
        y = x.reshape(*inter).expand(*final)
        return y.reshape(*lead, *out_sizes)
    for k, (i, o, s) in enumerate(zip(in_sizes, out_sizes, scales)):
        ax = 2 + k
        dst = np.arange(o, dtype=np.float64)
        if mode == "nearest":
            x = _take(x, ax, np.minimum(np.floor(dst * s).astype(np.int64), i - 1))
        elif mode == "nearest-exact":
            x = _take(x, ax, np.minimum(np.floor((dst + 0.5) * s).astype(np.int64), i - 1))
        else:
            if align_corners:
                src = dst * ((i - 1) / (o - 1)) if o > 1 else np.zeros(o)
            else:
                src = np.maximum((dst + 0.5) * s - 0.5, 0.0)
            i0 = np.minimum(np.floor(src).astype(np.int64), i - 1)
            i1 = np.minimum(i0 + 1, i - 1)
            lam = (src - i0).astype(x.dtype).reshape((o,) + (1,) * (x.ndim - 1 - ax))
            x = _take(x, ax, i0) * (1.0 - lam) + _take(x, ax, i1) * lam
    return x


def _pool_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in): row i averages input [floor(i n_in / n_out), ceil((i+1) n_in / n_out))."""
    m = np.zeros((n_out, n_in), dtype)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed output size (oh, ow) (None keeps that input size), with
    PyTorch's windows [floor(i H / oh), ceil((i+1) H / oh)). When the sizes divide, the fused
    avg_pool2d; otherwise two matmuls with constant averaging matrices."""
    _check_tensor(input, "adaptive_avg_pool2d", floating=True)
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: input must be (N, C, H, W) or (C, H, W), got "
                         f"{input.shape}")
    if input.ndim == 3:
        return adaptive_avg_pool2d(input.unsqueeze(0), output_size).squeeze(0)
    n, c, h, w = input.shape
    os_ = (output_size, output_size) if isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    oh, ow = (h if os_[0] is None else int(os_[0])), (w if os_[1] is None else int(os_[1]))
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output size must be positive, got {(oh, ow)}")
    if (oh, ow) == (h, w):
        return input
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(input, (h // oh, w // ow))
    mw = Tensor(_pool_matrix(w, ow, input.dtype).T.copy(), device=input.device)
    mh = Tensor(_pool_matrix(h, oh, input.dtype).T.copy(), device=input.device)
    y = input.reshape(n * c * h, w) @ mw                                 # (n c h, ow)
    y = y.reshape(n * c, h, ow).transpose(1, 2).reshape(n * c * ow, h) @ mh  # (n c ow, oh)
    return y.reshape(n, c, ow, oh).transpose(2, 3)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """adaptive_avg_pool2d over (N, C, L)."""
    _check_tensor(input, "adaptive_avg_pool1d", floating=True)
    if input.ndim != 3:
        raise ValueError(f"adaptive_avg_pool1d: input must be (N, C, L), got {input.shape}")
    o = output_size if isinstance(output_size, (int, np.integer)) else output_size[0]
    return adaptive_avg_pool2d(input.unsqueeze(2), (1, o)).squeeze(2)


def _adaptive_max_nd(nd, name, input, output_size, return_indices):  # noqa: A002
    _check_tensor(input, name, floating=True)
    x, unbatched = _pool_input(input, nd, name)
    spatial = x.shape[2:]
    os_ = (output_size,) * nd if isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    if len(os_) != nd:
        raise ValueError(f"{name}: output_size must be an int or {nd} values, got {output_size}")
    out = tuple(n if o is None else int(o) for n, o in zip(spatial, os_))
    if min(out) < 1:
        raise Fn.ShapeError(f"{name}: output size must be positive, got {out}")
    if all(n % o == 0 for n, o in zip(spatial, out)):      # equal windows: the fused kernel
        k = tuple(n // o for n, o in zip(spatial, out))
        return (max_pool1d if nd == 1 else max_pool2d)(input, k, k,
                                                       return_indices=return_indices)
    n, c = x.shape[:2]
    if n == 0:
        y, arg = x.reshape(0, c, *out), np.zeros((0, c, *out), np.int64)
    else:
        # PyTorch's windows [floor(i n / o), ceil((i + 1) n / o)), the short ones padded by
        # repeating their last position (a repeat changes neither the max nor its position)
        tables = []
        for size, o in zip(spatial, out):
            i = np.arange(o)
            start, end = i * size // o, -(-(i + 1) * size // o)
            tables.append(np.minimum(start[:, None] + np.arange((end - start).max()),
                                     end[:, None] - 1))
        xf = x.reshape(n, c, -1)
        arg = _window_argmax(xf, _flat_positions(tables, spatial))
        y = _gather_planes(xf, arg, (n, c, *out))
    idx = Tensor(arg.reshape(n, c, *out), device=x.device)
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):  # noqa: A002
    """Max pooling to a fixed output size (oh, ow) (an int for both; None keeps that input
    size), with PyTorch's windows [floor(i H / oh), ceil((i+1) H / oh)). When the sizes
    divide, the fused max_pool2d; otherwise the windows are gathered by index.
    ``return_indices`` also gives each maximum's flat index h * W + w in its plane (int64).

    >>> import minigrad, minigrad.functional as F
    >>> x = minigrad.arange(25.0).reshape(1, 1, 5, 5)
    >>> y, i = F.adaptive_max_pool2d(x, 2, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[12.0, 14.0], [22.0, 24.0]]]], [[[[12, 14], [22, 24]]]])
    """
    return _adaptive_max_nd(2, "adaptive_max_pool2d", input, output_size, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):  # noqa: A002
    """adaptive_max_pool2d over (N, C, L) or (C, L).

    >>> import minigrad, minigrad.functional as F
    >>> F.adaptive_max_pool1d(minigrad.tensor([[[1.0, 5.0, 2.0, 0.0, 3.0]]]), 2).tolist()
    [[[5.0, 3.0]]]
    """
    return _adaptive_max_nd(1, "adaptive_max_pool1d", input, output_size, return_indices)


# ---- attention -----------------------------------------------------------------------------------


def _attention(q, k, v, mask=None, dropout_p: float = 0.0, training: bool = True, scale=None):
    """softmax(q k^T scale + mask) v over (B, L, E) x (B, S, E) x (B, S, Ev); ``mask`` is
    additive (-inf where a query may not attend), broadcastable to (B, L, S). Returns the
    output and the attention weights."""
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q * scale) @ k.transpose(1, 2)
    if mask is not None:
        scores = scores + mask
    attn = softmax(scores, -1)
    if dropout_p and training:
        attn = dropout(attn, dropout_p, True)
    return attn @ v, attn


def _additive_mask(mask, dtype, device, allow_true: bool):
    """A mask as an additive float Tensor: a bool mask becomes 0 where attention is allowed and
    -inf where it is not (True allows with ``allow_true``, as scaled_dot_product_attention;
    True forbids otherwise, as MultiheadAttention); a float mask is added as it is."""
    if isinstance(mask, Tensor) and mask.dtype.kind == "f":
        return mask
    m = mask.numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == bool:
        forbidden = ~m if allow_true else m
        return Tensor(np.where(forbidden, -np.inf, 0.0).astype(dtype), device=device)
    return Tensor(m.astype(dtype), device=device)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None):
    """softmax(Q K^T / sqrt(E) + mask) V over (..., L, E), (..., S, E), (..., S, Ev), as
    ``torch.nn.functional.scaled_dot_product_attention``: a bool ``attn_mask`` is True where a
    query may attend, a float one is added to the scores; ``is_causal`` masks the future.
    A composite of matmul, softmax and (with ``dropout_p``) dropout."""
    _check_tensor(query, "scaled_dot_product_attention", floating=True)
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need the same "
                         f"number (>= 2) of dims, got {query.shape}, {key.shape}, {value.shape}")
    lead = query.shape[:-2]
    L, S = query.shape[-2], key.shape[-2]
    q = query.reshape(-1, L, query.shape[-1])
    k = key.reshape(-1, S, key.shape[-1])
    v = value.reshape(-1, S, value.shape[-1])
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not "
                             "both")
        mask = _additive_mask(np.tril(np.ones((L, S), bool)), query.dtype, query.device, True)
    elif attn_mask is not None:
        mask = _additive_mask(attn_mask, query.dtype, query.device, True)
        if mask.ndim > 2:
            mask = mask.expand(*lead, L, S).reshape(-1, L, S)
    out, _ = _attention(q, k, v, mask, dropout_p, True, scale)
    return out.reshape(*lead, L, value.shape[-1])
