"""The host side of ``kernels/conv.cl``: convolution: im2col, one batched GEMM (matmul.cl), col2im
for the input gradient.
"""

from __future__ import annotations

from .device import (
    _check,
    _empty,
    _i,
    _kernel,
    _pair,
    _run,
    _same_dtype,
)
from .elementwise import transpose
from .matmul import _gemm, matmul_kernel_for
from .reduce import sum


def _conv_geometry(x_shape, w_shape, stride, padding, op):
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: need x (N, C, H, W) and w (O, C, kh, kw), got {x_shape}, "
                         f"{w_shape}")
    N, C, H, W = x_shape
    O, Cw, KH, KW = w_shape
    if C != Cw:
        raise ValueError(f"{op}: x has {C} channels (shape {x_shape}) but w expects {Cw} "
                         f"(shape {w_shape})")
    (SH, SW), (PH, PW) = _pair(stride, "stride"), _pair(padding, "padding")
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: kernel {KH}x{KW} does not fit the {H}x{W} input with padding "
                         f"{(PH, PW)}")
    return N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW


def _im2col(x, geo):
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    cols = _empty((N, C * KH * KW, OH * OW), x.dtype)
    _run(_kernel("conv.cl", "im2col", x.dtype), (OH, C * KH * KW, N), cols.data, x.data,
         *map(_i, (C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)))
    return cols


def conv2d(x, w, b=None, stride=1, padding=0):
    """PyTorch's conv2d (cross-correlation), NCHW: im2col, then one batched GEMM with the
    weights shared across the batch (batch stride 0). Returns (y, cols): cols is the im2col
    matrix (N, C*KH*KW, OH*OW), which the weight gradient reuses (conv2d_vjp)."""
    x, w = _check(x, "conv2d", "x"), _check(w, "conv2d", "w")
    _same_dtype("conv2d", x, w)
    geo = _conv_geometry(x.shape, w.shape, stride, padding, "conv2d")
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    cols = _im2col(x, geo)
    ckk, ohw = C * KH * KW, OH * OW
    y = _empty((N, O, ohw), x.dtype)
    _gemm(matmul_kernel_for(dtype=x.dtype), y, w, cols, N, O, ohw, ckk,
          (0, ckk, 1), (ckk * ohw, ohw, 1))
    if b is not None:
        b = _check(b, "conv2d", "b")
        if b.shape != (O,):
            raise ValueError(f"conv2d: bias has shape {b.shape}, expected ({O},)")
        _run(_kernel("conv.cl", "add_channel_bias", x.dtype), (O, N), y.data, b.data, _i(O),
             _i(ohw))
    return y.reshape(N, O, OH, OW), cols


def conv2d_vjp(g, w, cols, x_shape, stride=1, padding=0, need_x=True, need_w=True):
    """(dL/dx, dL/dw), None where not needed; the bias gradient is sum(g, (0, 2, 3))."""
    gx = conv2d_input_vjp(g, w, x_shape, stride, padding) if need_x else None
    gw = conv2d_weight_vjp(g, None, w.shape, stride, padding, cols=cols) if need_w else None
    return gx, gw


def conv2d_input_vjp(g, w, x_shape, stride=1, padding=0):
    """dL/dx: dcols[n] = W^T @ g[n] (one batched GEMM), then col2im sums the overlaps."""
    g, w = _check(g, "conv2d_input_vjp", "g"), _check(w, "conv2d_input_vjp", "w")
    _same_dtype("conv2d_input_vjp", g, w)
    geo = _conv_geometry(tuple(x_shape), w.shape, stride, padding, "conv2d_input_vjp")
    N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
    if g.shape != (N, O, OH, OW):
        raise ValueError(f"conv2d_input_vjp: g has shape {g.shape}, expected {(N, O, OH, OW)}")
    ckk, ohw = C * KH * KW, OH * OW
    dcols = _empty((N, ckk, ohw), g.dtype)
    _gemm(matmul_kernel_for(dtype=g.dtype), dcols, w, g, N, ckk, ohw, O,
          (0, 1, ckk), (O * ohw, ohw, 1))
    dx = _empty((N, C, H, W), g.dtype)
    _run(_kernel("conv.cl", "col2im", g.dtype), (H, C, N), dx.data, dcols.data,
         *map(_i, (C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)))
    return dx


def conv2d_weight_vjp(g, x, w_shape, stride=1, padding=0, cols=None):
    """dL/dw = sum_n g[n] @ cols[n]^T. ``cols``: the forward's im2col matrix
    (conv2d's second result); then x is not read (it may be None) and no im2col is redone."""
    g = _check(g, "conv2d_weight_vjp", "g")
    if cols is None:
        x = _check(x, "conv2d_weight_vjp", "x")
        _same_dtype("conv2d_weight_vjp", g, x)
        geo = _conv_geometry(x.shape, tuple(w_shape), stride, padding, "conv2d_weight_vjp")
        N, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW = geo
        cols = _im2col(x, geo)
    else:
        cols = _check(cols, "conv2d_weight_vjp", "cols")
        _same_dtype("conv2d_weight_vjp", g, cols)
        if g.ndim != 4 or len(tuple(w_shape)) != 4:
            raise ValueError(f"conv2d_weight_vjp: need g (N, O, OH, OW) and w_shape "
                             f"(O, C, kh, kw), got {g.shape}, {tuple(w_shape)}")
        N, O, OH, OW = g.shape
        _, C, KH, KW = w_shape
        if cols.shape != (N, C * KH * KW, OH * OW):
            raise ValueError(f"conv2d_weight_vjp: cols has shape {cols.shape}, expected "
                             f"{(N, C * KH * KW, OH * OW)} for g {g.shape} and w {tuple(w_shape)}")
    if g.shape != (N, O, OH, OW) or tuple(w_shape)[0] != O:
        raise ValueError(f"conv2d_weight_vjp: g has shape {g.shape}, expected {(N, O, OH, OW)}")
    ckk, ohw = C * KH * KW, OH * OW
    kernel = matmul_kernel_for(dtype=g.dtype)
    if kernel != "blocked":
        per_image = _empty((N, O, ckk), g.dtype)
        _gemm(kernel, per_image, g, cols, N, O, ckk, ohw,
              (O * ohw, ohw, 1), (ckk * ohw, 1, ohw))
        dw = per_image.reshape(O, ckk) if N == 1 else sum(per_image, (0,))
        return dw.reshape(tuple(w_shape))
    # dw^T = sum_n cols[n] @ g[n]^T, the batch summed inside the kernel. This orientation reads
    # the big operand (cols, C*KH*KW x OH*OW per image) in place as A and packs only g^T as B;
    # dw = g cols^T would pack all of cols. The (ckk, O) result is tiny to transpose.
    dwt = _empty((ckk, O), g.dtype)
    _gemm(kernel, dwt, cols, g, N, ckk, O, ohw, (ckk * ohw, ohw, 1), (O * ohw, 1, ohw),
          batch_sum=N)
    return transpose(dwt).reshape(tuple(w_shape))
