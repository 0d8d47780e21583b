"""Activation modules: each the module form of a function of :mod:`minigrad.functional`."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, Parameter


class ReLU(Module):
    """max(0, x). ``inplace`` is accepted for PyTorch code and ignored (no op is in place)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    """e^x / sum e^x over ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x - log sum e^x over ``dim`` (pair it with NLLLoss)."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta (x itself above ``threshold``)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x Phi(x): exact (erf) by default, or the tanh approximation, as PyTorch."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Mish(Module):
    """x tanh(softplus(x))."""

    def forward(self, x):
        return F.mish(x)


# ---- rules of the rule book with parameters, and composites of them ------------------------------


class _Rule(Module):
    """An activation that is one rule of the rule book (``F.<name>``)."""

    _rule = ""

    def forward(self, x):
        return getattr(F, self._rule)(x)


class SiLU(_Rule):
    """x sigmoid(x) (swish)."""

    _rule = "silu"


class Softsign(_Rule):
    """x / (1 + |x|)."""

    _rule = "softsign"


class LogSigmoid(_Rule):
    """log sigmoid(x), stable for any x."""

    _rule = "logsigmoid"


class Hardsigmoid(_Rule):
    """min(max(x / 6 + 1/2, 0), 1)."""

    _rule = "hardsigmoid"


class Hardswish(_Rule):
    """x hardsigmoid(x)."""

    _rule = "hardswish"


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope`` x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, float(self.negative_slope))

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return F.elu(x, float(self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    """alpha elu(x / alpha): continuously differentiable for every alpha (a composite)."""

    def forward(self, x):
        return F.elu(x * (1.0 / self.alpha), 1.0) * float(self.alpha)


class SELU(Module):
    """scale elu(x, alpha) with the self-normalising constants (a composite)."""

    alpha, scale = 1.6732632423543772, 1.0507009873554805

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x):
        return F.elu(x, self.alpha) * self.scale


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val {max_val} must be above min_val {min_val}")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        return F.hardtanh(x, float(self.min_val), float(self.max_val))

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0)


class Tanhshrink(Module):
    """x - tanh(x) (a composite)."""

    def forward(self, x):
        return x - F.tanh(x)


class Softmin(Softmax):
    """softmax(-x) over ``dim`` (a composite)."""

    def forward(self, x):
        return F.softmax(-x, self.dim)


class PReLU(Module):
    """Leaky ReLU with a learned slope: one for all channels, or one per channel (dim 1)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, np.float32))

    def forward(self, x):
        w = self.weight
        if self.num_parameters > 1:
            if x.ndim < 2 or x.shape[1] != self.num_parameters:
                raise ValueError(f"PReLU({self.num_parameters}) needs {self.num_parameters} "
                                 f"channels in dim 1, got input of shape {x.shape}")
            w = w.reshape(1, -1, *([1] * (x.ndim - 2)))
        return F.leaky_relu(x, w)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"

