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


def set_num_threads(n: int) -> None:
    """Threads for minigrad's compiled CPU kernels; 1 by default (0: OpenMP's default).

    One is the default because numpy's BLAS already uses every core for the GEMMs and keeps its
    threads spinning between calls: measured on 2 cores, a second kernel thread mostly waits for
    them. numpy's BLAS keeps its own setting (threadpoolctl changes it)."""
    from . import cpu
    cpu._cpu.set_num_threads(int(n))


def get_num_threads() -> int:
    from . import cpu
    return cpu._cpu.get_num_threads()

__all__ = [
    "Tensor", "Function", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "randn", "rand", "arange", "manual_seed", "get_rng", "no_grad", "enable_grad",
    "is_grad_enabled", "broadcast_shapes", "set_num_threads", "get_num_threads", "cat", "stack",
    "where", "matmul", "maximum",
]
