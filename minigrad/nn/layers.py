"""Layers: each a Module with a readable repr that counts its parameters."""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor.tensor import Tensor
from . import init
from .module import Module, Parameter


def _empty(*shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features); Glorot-uniform W, zero b.

    >>> Linear(784, 256)  # 784*256 + 256
    Linear(in_features=784, out_features=256, bias=True)  # 200,960 parameters
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_empty(out_features, in_features))
        init.glorot_uniform_(self.weight)
        self.bias = Parameter(_empty(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel, stride, padding, bias):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel, stride, padding
        self.weight = Parameter(_empty(out_channels, in_channels, *kernel))
        # He init suits the ReLUs that follow convolutions; the bias gets the same fan-in bound.
        init.kaiming_uniform_(self.weight)
        if bias:
            self.bias = Parameter(_empty(out_channels))
            b = 1.0 / math.sqrt(in_channels * int(np.prod(kernel)))
            init.uniform_(self.bias, -b, b)
        else:
            self.bias = None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W); weight (out, in, kh, kw).

    >>> Conv2d(1, 3, 3, padding=1)  # the lecture's exercise: 27 weights + 3 biases
    Conv2d(1, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))  # 30 parameters
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _pair(padding), bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L); weight (out, in, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__(in_channels, out_channels, (int(kernel_size),), int(stride),
                         int(padding), bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride)


class MaxPool1d(MaxPool2d):
    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride)


class Dropout(Module):
    """Inverted dropout with probability ``p``; the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        return x.flatten(self.start_dim)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Sequential(Module):
    """Modules applied in order; indexable."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential item {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)


class RNN(Module):
    """An Elman RNN (seed 003): h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    Input (batch, seq, input_size) (``batch_first``, as the tutorials use); returns all hidden
    states (batch, seq, hidden_size) and the last one (batch, hidden_size). The recurrent weight
    starts orthogonal, which keeps h's norm through time at the start of training.
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.nonlinearity = (input_size, hidden_size,
                                                                nonlinearity)
        self.weight_ih = Parameter(_empty(hidden_size, input_size))
        self.weight_hh = Parameter(_empty(hidden_size, hidden_size))
        self.bias_ih = Parameter(_empty(hidden_size))
        self.bias_hh = Parameter(_empty(hidden_size))
        init.glorot_uniform_(self.weight_ih)
        init.orthogonal_(self.weight_hh)

    def forward(self, x: Tensor, h0: Tensor | None = None):
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"RNN expects (batch, seq, {self.input_size}), got {x.shape}")
        n, steps, _ = x.shape
        h = h0 if h0 is not None else Tensor(np.zeros((n, self.hidden_size), dtype=x.dtype),
                                             device=x.device)
        # The input projection of every step at once (one GEMM), then the recurrence.
        xin = F.linear(x, self.weight_ih, self.bias_ih)
        act = F.tanh if self.nonlinearity == "tanh" else F.relu
        hs = []
        for t in range(steps):
            h = act(xin[:, t, :] + F.linear(h, self.weight_hh, self.bias_hh))
            hs.append(h)
        from ..tensor.tensor import stack
        return stack(hs, dim=1), h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


def l1_penalty(params) -> Tensor:
    """sum |w| over all parameters: add lambda * this to the loss (the lecture's L1
    regulariser, which drives weights to exactly zero)."""
    params = list(params)
    if not params:
        raise ValueError("l1_penalty needs at least one parameter")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(params) -> Tensor:
    """sum w^2 over all parameters (the squared L2 norm): add lambda * this to the loss."""
    params = list(params)
    if not params:
        raise ValueError("l2_penalty needs at least one parameter")
    total = (params[0] * params[0]).sum()
    for p in params[1:]:
        total = total + (p * p).sum()
    return total
