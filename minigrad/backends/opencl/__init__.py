"""The OpenCL backend: the backend protocol on ``pyopencl.array.Array`` (C-contiguous), for any
OpenCL device (a GPU, or PoCL on a CPU).

The host side is split by kernel family, each module named like the ``kernels/*.cl`` file it
drives: ``rules`` (every rule of the rule book, as generated kernels), ``elementwise``
(comparisons, where, clip, copies, indexing, cat), ``reduce``, ``matmul``, ``nn`` (softmax,
cross-entropy), ``conv``, ``pool``, ``optim``; ``device`` holds what they share and ``runtime``
the device, context and program cache. Importing this package touches no device;
``runtime.available()`` does.

>>> import numpy as np
>>> from minigrad.backends import opencl as B
>>> B.to_numpy(B.sum(B.asarray(np.ones(3, np.float32))))        # doctest: +SKIP
array(3., dtype=float32)
"""

from . import runtime
from .conv import conv2d, conv2d_input_vjp, conv2d_vjp, conv2d_weight_vjp
from .device import asarray, full, to_numpy, zeros
from .elementwise import (
    accumulate,
    astype,
    broadcast_to,
    cat,
    clip,
    clip_vjp,
    eq,
    gather,
    gather_vjp,
    ge,
    gt,
    index,
    index_vjp,
    reshape,
    transpose,
    where,
)
from .host import on_host
from .matmul import MATMUL_KERNELS, matmul, matmul_kernel_for
from .nn import (
    cross_entropy,
    cross_entropy_vjp,
    log_softmax,
    log_softmax_vjp,
    softmax,
    softmax_vjp,
)
from .optim import adagrad_step, adam_step, rmsprop_step, sgd_step
from .pool import avg_pool2d, avg_pool2d_vjp, max_pool2d, max_pool2d_vjp
from .reduce import cumsum, cumsum_vjp, max, min, prod, sum, sum_to  # noqa: A004 - the ops' names
from .rules import elementwise, elementwise_vjp
from .typed import accumulate_half, reduce_index, ufunc, via_float32

# float16 arrays are stored as float16 and computed in float32 on the device, each result
# rounded back to float16 (torch's CPU does the same): no device needs cl_khr_fp16.
(elementwise, elementwise_vjp, gt, ge, eq, where, clip, clip_vjp, sum, max, min, prod, sum_to,
 matmul, softmax, log_softmax, softmax_vjp, log_softmax_vjp, cross_entropy, cross_entropy_vjp,
 index_vjp, gather_vjp, ufunc, reduce_index, cumsum, cumsum_vjp) = map(via_float32, (  # noqa: A001
    elementwise, elementwise_vjp, gt, ge, eq, where, clip, clip_vjp, sum, max, min, prod, sum_to,
    matmul, softmax, log_softmax, softmax_vjp, log_softmax_vjp, cross_entropy, cross_entropy_vjp,
    index_vjp, gather_vjp, ufunc, reduce_index, cumsum, cumsum_vjp))
accumulate = accumulate_half(accumulate)

# Off the hot paths, computed on the host for now (host.py): each gets a kernel when it pays.
prod_vjp = on_host("prod_vjp")
sort = on_host("sort")
cumprod, cumprod_vjp = on_host("cumprod"), on_host("cumprod_vjp")
cummax, cummin = on_host("cummax"), on_host("cummin")
logcumsumexp, logcumsumexp_vjp = on_host("logcumsumexp"), on_host("logcumsumexp_vjp")
scatter, scatter_vjp = on_host("scatter"), on_host("scatter_vjp")
# The LSTM and GRU recurrences (a small GEMM per step) on the host: correct everywhere, a
# kernel when it pays.
lstm, lstm_vjp = on_host("lstm"), on_host("lstm_vjp")
gru, gru_vjp = on_host("gru"), on_host("gru_vjp")

name = "opencl"

# Every rule's vjp kernel is generated fused (rules.cl); no hand-written ones are needed.
FUSED_FORWARD: dict = {}
FUSED_VJP: dict = {}

__all__ = [
    "runtime", "name", "asarray", "to_numpy", "zeros", "full", "astype", "elementwise",
    "elementwise_vjp", "gt", "ge", "eq", "where", "clip", "clip_vjp", "accumulate", "sum", "max",
    "min", "sum_to", "broadcast_to", "reshape", "transpose", "index", "index_vjp", "cat",
    "matmul", "matmul_kernel_for", "MATMUL_KERNELS", "softmax", "log_softmax", "softmax_vjp",
    "log_softmax_vjp", "cross_entropy", "cross_entropy_vjp", "conv2d", "conv2d_vjp",
    "conv2d_input_vjp", "conv2d_weight_vjp", "max_pool2d", "max_pool2d_vjp", "avg_pool2d",
    "avg_pool2d_vjp", "sgd_step", "adam_step", "adagrad_step", "rmsprop_step", "ufunc",
    "reduce_index", "cumsum", "cumsum_vjp", "prod", "prod_vjp", "sort", "gather", "gather_vjp",
    "cumprod", "cumprod_vjp", "cummax", "cummin", "logcumsumexp", "logcumsumexp_vjp", "scatter",
    "scatter_vjp", "lstm", "lstm_vjp", "gru", "gru_vjp",
]
