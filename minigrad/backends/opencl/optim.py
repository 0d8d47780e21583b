"""The host side of ``kernels/optim.cl``: optimizer steps, in place: SGD (momentum, Nesterov), Adam,
AdaGrad, RMSprop.
"""

from __future__ import annotations

import math

import numpy as np

from .device import (
    _check,
    _cl,
    _i,
    _op_kernel,
    _queue,
    _run1d,
    _same_dtype,
    _same_shape,
)


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
