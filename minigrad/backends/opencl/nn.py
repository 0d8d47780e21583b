"""The host side of ``kernels/nn.cl``: softmax, log-softmax and the fused softmax + cross-entropy,
with their vector-Jacobian products.
"""

from __future__ import annotations

import numpy as np

from .device import (
    _INTS,
    _check,
    _contiguous,
    _empty,
    _i,
    _is_array,
    _op_kernel,
    _run,
    _same_dtype,
    _same_shape,
    asarray,
    full,
)


def _rows_2d(x, op, what="x"):
    x = _check(x, op, what)
    if x.ndim < 1:
        raise ValueError(f"{op}: {what} must have at least one axis, got shape {x.shape}")
    C = x.shape[-1]
    return x, (x.size // C if C else 0), C


def _row_op(op, x):
    x, N, C = _rows_2d(x, op)
    out = _empty(x.shape, x.dtype)
    if N == 0 or C == 0:   # nothing to compute (the kernels read the row's first element)
        return out
    _run(_op_kernel("nn.cl", op, x.dtype), (N,), out.data, x.data, _i(N), _i(C))
    return out


def softmax(x):
    """exp(x) / exp(x).sum(-1, keepdims=True), shifted by the row max."""
    return _row_op("softmax", x)


def log_softmax(x):
    return _row_op("log_softmax", x)


def _row_vjp(op, y, g):
    y, N, C = _rows_2d(y, op, "y")
    g = _check(g, op, "g")
    _same_shape(op, y, g, ("y", "g"))
    _same_dtype(op, y, g)
    out = _empty(y.shape, y.dtype)
    if N == 0 or C == 0:
        return out
    _run(_op_kernel("nn.cl", op, y.dtype), (N,), out.data, y.data, g.data, _i(N), _i(C))
    return out


def softmax_vjp(y, g):
    """y * (g - (g * y).sum(-1, keepdims=True))"""
    return _row_vjp("softmax_vjp", y, g)


def log_softmax_vjp(ly, g):
    """g - exp(ly) * g.sum(-1, keepdims=True)"""
    return _row_vjp("log_softmax_vjp", ly, g)


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
    if C == 0:   # no classes: undefined losses (the kernel would read the row's first logit)
        return full((N,), np.nan, logits.dtype), probs
    _run(_op_kernel("nn.cl", "cross_entropy", logits.dtype), (N,), loss.data, probs.data,
         logits.data, targets.data, is_long, _i(N), _i(C))
    return loss, probs


def cross_entropy_vjp(probs, targets, g):
    """(probs - onehot(targets)) * g[:, None]"""
    probs = _check(probs, "cross_entropy_vjp", "probs")
    if probs.ndim != 2:
        raise ValueError(f"cross_entropy_vjp: probs must be (N, C), got {probs.shape}")
    N, C = probs.shape
    targets, is_long = _targets(targets, N, "cross_entropy_vjp")
    g = _check(g, "cross_entropy_vjp", "g")
    if g.shape != (N,):
        raise ValueError(f"cross_entropy_vjp: g has shape {g.shape}, expected ({N},)")
    _same_dtype("cross_entropy_vjp", probs, g)
    out = _empty((N, C), probs.dtype)
    _run(_op_kernel("nn.cl", "cross_entropy_vjp", probs.dtype), (N,), out.data, probs.data,
         targets.data, is_long, g.data, _i(N), _i(C))
    return out
