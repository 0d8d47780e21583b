"""The tensor engine: Tensors on numpy arrays (and OpenCL buffers), Functions with a forward and a
backward, compiled kernels in ``_cpu``."""

from . import ops as _ops  # attaches operators and methods to Tensor
from .ops import cat, maximum, stack, where
from .tensor import (
    Function,
    Tensor,
    arange,
    broadcast_shapes,
    enable_grad,
    from_numpy,
    full,
    get_rng,
    is_grad_enabled,
    manual_seed,
    no_grad,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)

matmul = _ops.matmul

__all__ = [
    "Tensor", "Function", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "randn", "rand", "arange", "manual_seed", "get_rng", "no_grad", "enable_grad",
    "is_grad_enabled", "broadcast_shapes", "cat", "stack", "where", "matmul", "maximum",
]
