"""Neural-network modules, initialisers and regularisers (``torch.nn``-like)."""

from .. import functional
from . import init, utils
from .layers import (
    RNN,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool1d,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    l1_penalty,
    l2_penalty,
)
from .module import Module, Parameter

__all__ = [
    "Module", "Parameter", "Linear", "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool2d",
    "Dropout", "Flatten", "ReLU", "Sigmoid", "Tanh", "Softmax", "Sequential", "RNN",
    "l1_penalty", "l2_penalty", "init", "utils", "functional",
]
