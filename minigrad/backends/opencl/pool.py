"""The host side of ``kernels/pool.cl``: max and average pooling and their vector-Jacobian products.
"""

from __future__ import annotations

import numpy as np

from .device import (
    _check,
    _contiguous,
    _empty,
    _i,
    _is_array,
    _op_kernel,
    _pair,
    _run,
    zeros,
)


def _pool_geometry(x_shape, kernel, stride, op):
    if len(x_shape) != 4:
        raise ValueError(f"{op}: need x (N, C, H, W), got {x_shape}")
    N, C, H, W = x_shape
    (KH, KW) = _pair(kernel, "kernel")
    (SH, SW) = _pair(stride if stride is not None else kernel, "stride")
    OH, OW = (H - KH) // SH + 1, (W - KW) // SW + 1
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: window {KH}x{KW} does not fit the {H}x{W} input")
    return N, C, H, W, KH, KW, SH, SW, OH, OW


def max_pool2d(x, kernel, stride=None):
    """(y, idx): the max of each window and its flat index h * W + w in its (n, c) plane."""
    x = _check(x, "max_pool2d", "x")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(x.shape, kernel, stride, "max_pool2d")
    y, idx = _empty((N, C, OH, OW), x.dtype), _empty((N, C, OH, OW), np.int64)
    _run(_op_kernel("pool.cl", "max_pool2d", x.dtype), (OH, N * C), y.data, idx.data, x.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return y, idx


def max_pool2d_vjp(g, idx, x_shape):
    """Scatter-add g to the arg-maxes: each window's gradient goes whole to its max."""
    g = _check(g, "max_pool2d_vjp", "g")
    if not _is_array(idx) or idx.dtype != np.int64 or idx.shape != g.shape:
        raise ValueError(f"max_pool2d_vjp: idx must be int64 of g's shape {g.shape}, got "
                         f"{getattr(idx, 'dtype', type(idx))} {getattr(idx, 'shape', '')}")
    idx = _contiguous(idx, "max_pool2d_vjp", "idx")
    N, C, H, W = x_shape
    if g.ndim != 4 or g.shape[:2] != (N, C):
        raise ValueError(f"max_pool2d_vjp: g has shape {g.shape}, x has {tuple(x_shape)}")
    dx = zeros((N, C, H, W), g.dtype)
    _run(_op_kernel("pool.cl", "max_pool2d_vjp", g.dtype), (N * C,), dx.data, g.data, idx.data,
         np.int64(H * W), _i(g.shape[2] * g.shape[3]), _i(N * C))
    return dx


def avg_pool2d(x, kernel, stride=None):
    """The mean of each window."""
    x = _check(x, "avg_pool2d", "x")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(x.shape, kernel, stride, "avg_pool2d")
    y = _empty((N, C, OH, OW), x.dtype)
    _run(_op_kernel("pool.cl", "avg_pool2d", x.dtype), (OH * OW, N * C), y.data, x.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return y


def avg_pool2d_vjp(g, x_shape, kernel, stride=None):
    g = _check(g, "avg_pool2d_vjp", "g")
    N, C, H, W, KH, KW, SH, SW, OH, OW = _pool_geometry(tuple(x_shape), kernel, stride,
                                                        "avg_pool2d_vjp")
    if g.shape != (N, C, OH, OW):
        raise ValueError(f"avg_pool2d_vjp: g has shape {g.shape}, expected {(N, C, OH, OW)}")
    dx = _empty((N, C, H, W), g.dtype)
    _run(_op_kernel("pool.cl", "avg_pool2d_vjp", g.dtype), (H * W, N * C), dx.data, g.data,
         *map(_i, (H, W, KH, KW, SH, SW, OH, OW)))
    return dx
