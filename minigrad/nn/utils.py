"""Gradient clipping and flat parameter vectors (``torch.nn.utils``'s names and semantics).

    clip_grad_norm_(params, max_norm)   g <- g min(1, max_norm / (||(|g_1|, ..., |g_k|)|| + 1e-6))
    clip_grad_value_(params, clip)      g <- clip(g, -clip, clip)
    parameters_to_vector(params)        cat of every parameter, flattened (differentiable)
    vector_to_parameters(vec, params)   the inverse: copies slices of vec into the parameters

The gradients are changed in place (the same ``.grad`` tensors) with tensor operations, on the
parameters' device: the norm never leaves it unless ``error_if_nonfinite`` asks for a check.

>>> import minigrad
>>> w = minigrad.tensor([3.0, 4.0], requires_grad=True)
>>> (w * w).sum().backward()                                 # grad = 2w = (6, 8), norm 10
>>> clip_grad_norm_([w], max_norm=1.0).item()
10.0
>>> [round(x, 4) for x in w.grad.tolist()]
[0.6, 0.8]
"""

from __future__ import annotations

import math

from ..tensor import Tensor, cat, no_grad, stack
from ..tensor.autograd import mark_modified

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _params(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Tensor")
    return params


def _set_grad(g: Tensor, new: Tensor) -> None:
    # the same gradient tensor, new values: references to p.grad see the clipped values
    g.data = new.data
    mark_modified(g)


def _norm(x: Tensor, p: float) -> Tensor:
    if p == math.inf:
        return x.abs().max()
    if p == 2.0:
        return (x * x).sum().sqrt()
    if p == 1.0:
        return x.abs().sum()
    return (x.abs() ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients so that their total norm (the norm of the per-tensor norms) is at
    most ``max_norm``; return the total norm before clipping (a 0-d tensor). ``norm_type`` is
    p of the p-norm (``math.inf`` for the largest magnitude). Parameters without a gradient
    are skipped."""
    max_norm, norm_type = float(max_norm), float(norm_type)
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    if not grads:
        from ..tensor import zeros
        return zeros(())
    devices = {g.device for g in grads}
    if len(devices) > 1:
        raise ValueError(f"clip_grad_norm_: gradients on several devices {sorted(devices)}")
    with no_grad():
        norms = [_norm(g, norm_type) for g in grads]
        total = _norm(stack(norms), norm_type) if len(norms) > 1 else norms[0]
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                               f"{total.item()}, so they cannot be clipped (pass "
                               f"error_if_nonfinite=False to clip anyway)")
        # as PyTorch: multiply every time (by 1 when within the bound), with no host sync
        coef = (max_norm / (total + 1e-6)).clip(max=1.0)
        for g in grads:
            _set_grad(g, g * coef)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _params(parameters):
            if p.grad is not None:
                _set_grad(p.grad, p.grad.clip(-clip_value, clip_value))


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D tensor of every parameter, flattened and concatenated in order (differentiable,
    as PyTorch's)."""
    params = _params(parameters)
    if not params:
        raise ValueError("parameters_to_vector got no parameters")
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise ValueError(f"parameters_to_vector: parameters on several devices {sorted(devices)}")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in order (the inverse of
    ``parameters_to_vector``); ``vec`` must have exactly as many elements."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vec must be 1-D, got shape {vec.shape}")
    params = _params(parameters)
    total = sum(p.numel() for p in params)
    if vec.shape[0] != total:
        raise ValueError(f"vec has {vec.shape[0]} elements, the parameters {total}")
    for p in params:
        if p.backend is not vec.backend:
            raise ValueError(f"vec on {vec.device}, a parameter on {p.device}")
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            piece = vec[start:start + n].reshape(p.shape)
            # a copy of our own in the parameter's dtype: never a view into vec (the optimizers
            # update parameters in place)
            p.data = p.backend.astype(piece.data, p.dtype)
            mark_modified(p)
            start += n
