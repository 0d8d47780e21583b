"""The tensor engine: :class:`Tensor` (``tensor.py``), the Functions behind its methods
(``functions.py``) and backpropagation (``autograd.py``). Arrays live on a backend
(:mod:`minigrad.backends`), imported when the first tensor on its device is made."""

from .autograd import Function, enable_grad, is_grad_enabled, no_grad
from .contraction import einsum
from .scans import (
    cummax,
    cummin,
    cumprod,
    logcumsumexp,
    median,
    nanmedian,
    nanquantile,
    quantile,
)
from .scatters import index_copy, index_fill, masked_scatter, put, scatter, scatter_reduce
from .tensor import (
    Tensor,
    apply_rule,
    arange,
    broadcast_shapes,
    cat,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng,
    linspace,
    logspace,
    manual_seed,
    matmul,
    maximum,
    meshgrid,
    minimum,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    stack,
    std_mean,
    tensor,
    var_mean,
    where,
    zeros,
    zeros_like,
)


def set_num_threads(n: int) -> None:
    """Threads for minigrad's compiled CPU kernels; 1 by default (0: OpenMP's default).

    One is the default because numpy's BLAS already uses every core for the GEMMs and keeps its
    threads spinning between calls: measured on 2 cores, a second kernel thread mostly waits for
    them. numpy's BLAS keeps its own setting (threadpoolctl changes it)."""
    from ..backends import cpu
    cpu._cpu.set_num_threads(int(n))


def get_num_threads() -> int:
    from ..backends import cpu
    return cpu._cpu.get_num_threads()


__all__ = ["Tensor", "Function", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "randn", "rand", "arange", "manual_seed", "get_rng", "no_grad", "enable_grad",
    "is_grad_enabled", "broadcast_shapes", "set_num_threads", "get_num_threads", "cat", "stack",
    "where", "matmul", "maximum", "minimum", "apply_rule", "meshgrid", "var_mean", "std_mean",
    "empty", "eye", "full_like", "linspace", "logspace", "rand_like", "randn_like", "randint",
    "randperm", "einsum", "cummax", "cummin", "cumprod", "logcumsumexp", "median", "nanmedian",
    "nanquantile", "quantile", "index_copy", "index_fill", "masked_scatter", "put", "scatter",
    "scatter_reduce"]
