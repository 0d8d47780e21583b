"""The scalar engine: backpropagation one number at a time, for learning.

>>> from minigrad.scalar import Scalar, trace
>>> x = Scalar(-4.499, label="x")
>>> f = 2 / (-x).exp().sin()
>>> f.backward()
>>> round(x.grad, 3)
-80.393
"""

from . import nn, ops
from .engine import (
    Scalar,
    abs,
    cos,
    exp,
    iter_nodes,
    log,
    neg,
    relu,
    sigmoid,
    sin,
    sqrt,
    tanh,
    zero_grad,
)
from .expr import ExpressionError, parse
from .graph import GraphvizNotFound, to_png, to_svg
from .trace import Step, Trace, iter_backward, numeric_grad, to_dot, trace

__all__ = [
    "Scalar", "Step", "Trace", "ExpressionError", "trace", "iter_backward", "to_dot", "to_svg",
    "to_png", "GraphvizNotFound", "numeric_grad", "zero_grad", "parse", "iter_nodes", "nn", "ops",
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg",
]
