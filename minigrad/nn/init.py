"""Weight initialisation (in place, like ``torch.nn.init``), as the lecture's "making it work".

The idea of both standard schemes: if a layer's input has mean 0 and variance 1 in every
direction, pick weights so its output does too, so signals (and gradients) neither vanish nor
explode through many layers.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor.autograd import mark_modified
from ..tensor.tensor import Tensor, get_rng


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dims, got shape {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def _set(t: Tensor, values: np.ndarray) -> Tensor:
    arr = values.astype(t.dtype)
    t.data = t.backend.asarray(arr)
    mark_modified(t)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    return _set(t, get_rng().uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _set(t, get_rng().normal(mean, std, t.shape))


def zeros_(t: Tensor) -> Tensor:
    return _set(t, np.zeros(t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    return _set(t, np.full(t.shape, value))


def ones_(t: Tensor) -> Tensor:
    return _set(t, np.ones(t.shape))


def glorot_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot (Xavier) uniform, the lecture's formula: w ~ U(-sqrt(6/(n_in+n_out)), +sqrt(...))."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


xavier_uniform_ = glorot_uniform_


def glorot_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot (Xavier) normal: w ~ N(0, 2 / (n_in + n_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


xavier_normal_ = glorot_normal_


def kaiming_uniform_(t: Tensor, a: float = 0.0, nonlinearity: str = "relu") -> Tensor:
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan_in), gain sqrt(2) for ReLU; keeps the
    variance of ReLU activations through depth."""
    fan_in, _ = _fans(t)
    if nonlinearity == "relu":
        gain = math.sqrt(2.0)
    elif nonlinearity == "leaky_relu":
        gain = math.sqrt(2.0 / (1 + a * a))
    else:
        gain = 1.0
    bound = gain * math.sqrt(3.0 / fan_in)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, nonlinearity: str = "relu") -> Tensor:
    """He normal: N(0, gain^2 / fan_in), the normal twin of :func:`kaiming_uniform_`."""
    fan_in, _ = _fans(t)
    gain = {"relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1 + a * a))}.get(
        nonlinearity, 1.0)
    return normal_(t, 0.0, gain / math.sqrt(fan_in))


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A random orthogonal matrix (all singular values 1), the lecture's other scheme: it
    preserves vector norms exactly. Higher-dim weights are flattened to (out, rest)."""
    rows = t.shape[0]
    cols = int(np.prod(t.shape[1:])) if t.ndim > 1 else 1
    a = get_rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return _set(t, gain * q[:rows, :cols].reshape(t.shape))
