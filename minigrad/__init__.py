"""minigrad: one set of differentiation rules, implemented three times.

- :class:`Scalar` (``minigrad.scalar``): every node one number, for stepping through backprop.
- :class:`Tensor` (``minigrad.tensor``): the same rules vectorised over numpy arrays, with
  compiled Cython kernels; ``nn``, ``optim``, ``data`` on top.
- OpenCL (``minigrad.backends.opencl``): the same tensors on any OpenCL device, kernels in
  ``kernels/*.cl`` plus one generated from each rule; ``tensor.to("opencl")``.

The rules themselves are in :mod:`minigrad.rules`; the backends in :mod:`minigrad.backends`.
"""

from . import backends, functional, rules, scalar
from .scalar import Scalar
from .tensor import (
    Tensor,
    arange,
    cat,
    empty,
    enable_grad,
    eye,
    from_numpy,
    full,
    full_like,
    get_num_threads,
    is_grad_enabled,
    linspace,
    logspace,
    manual_seed,
    matmul,
    maximum,
    meshgrid,
    minimum,
    no_grad,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    set_num_threads,
    stack,
    std_mean,
    tensor,
    var_mean,
    where,
    zeros,
    zeros_like,
)
from .tensor.contraction import einsum
from .tensor.scans import (
    cummax,
    cummin,
    cumprod,
    logcumsumexp,
    median,
    nanmedian,
    nanquantile,
    quantile,
)
from .tensor.scatters import index_copy, index_fill, masked_scatter, put, scatter, scatter_reduce

float32 = "float32"
float64 = "float64"
# torch's dtype names (a dtype is given by its numpy name: x.dtype == minigrad.int64)
float16 = half = "float16"
double = "float64"
int8, int16, int32, int64, uint8 = "int8", "int16", "int32", "int64", "uint8"
long = "int64"
bool = "bool"  # noqa: A001 - torch.bool

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier parts load on first use, so `import minigrad` stays quick.
    import importlib
    if name in ("nn", "optim", "data", "testing", "train", "check", "autograd", "distributed"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".io", __name__), name)
    if name in ("save_checkpoint", "load_checkpoint"):  # model + optimizer + scheduler + epoch
        return getattr(importlib.import_module(".checkpoint", __name__), name)
    # torch.exp(x), torch.sum(x, 1), ...: every public Tensor method is also a function of its
    # tensor, as in torch (in-place methods excepted)
    tmod = importlib.import_module(".tensor.tensor", __name__)
    if name in tmod.TORCH_FUNCTIONS:
        return getattr(tmod, name)
    if name in ("set_grad_enabled", "inference_mode"):
        return getattr(importlib.import_module(".tensor.autograd", __name__), name)
    method = getattr(tmod.Tensor, name, None)
    if callable(method) and not name.startswith("_") and not name.endswith("_"):
        def function(input, *args, **kwargs):  # noqa: A002 - torch's name
            return getattr(input, name)(*args, **kwargs)
        function.__name__ = function.__qualname__ = name
        function.__doc__ = method.__doc__
        return function
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")


__all__ = ["Scalar", "Tensor", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "randn", "rand", "arange", "manual_seed", "no_grad", "enable_grad",
    "is_grad_enabled", "set_num_threads", "get_num_threads", "cat", "stack", "where", "matmul",
    "maximum", "minimum", "functional", "rules", "backends", "meshgrid", "var_mean", "std_mean",
    "empty", "eye", "full_like", "linspace", "logspace", "rand_like", "randn_like", "randint",
    "randperm", "scalar", "nn", "optim", "data", "testing", "save", "load", "save_checkpoint",
    "load_checkpoint", "einsum", "cummax", "cummin", "cumprod", "logcumsumexp", "median",
    "nanmedian", "nanquantile", "quantile", "index_copy", "index_fill", "masked_scatter", "put",
    "scatter", "scatter_reduce"]
