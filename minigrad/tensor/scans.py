"""Scans and order statistics with PyTorch's names and semantics: ``cumprod``, ``cummax``,
``cummin``, ``logcumsumexp``, ``median``, ``nanmedian``, ``quantile``, ``nanquantile``.

The scans are Functions over the backend protocol (``cumprod``/``cumprod_vjp``,
``cummax``/``cummin`` for the indices, ``logcumsumexp``/``logcumsumexp_vjp``); cummax's values
are a gather at those indices, so the gradient flows to the arg-max positions. The order
statistics are composites on ``sort``: the picked elements are gathered (the gradient goes to
them) and quantiles interpolate between two of them, as torch does. :class:`Tensor` methods and
the ``minigrad`` functions of the same names call these.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from . import functions as Fn

# torch.return_types: a pair that unpacks and has .values / .indices
cummax_t = namedtuple("cummax", ["values", "indices"])
cummin_t = namedtuple("cummin", ["values", "indices"])
median_t = namedtuple("median", ["values", "indices"])
nanmedian_t = namedtuple("nanmedian", ["values", "indices"])


class ArgumentError(ValueError, RuntimeError):
    """An argument PyTorch refuses with a RuntimeError (a ValueError here too)."""


class DTypeError(TypeError, RuntimeError):
    """A dtype PyTorch refuses with a RuntimeError (a TypeError here too)."""


def _T():
    from .tensor import Tensor
    return Tensor


def _dim(x, dim: int) -> int:
    n = max(x.ndim, 1)
    if not -n <= int(dim) < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return int(dim) % n


def _ints(x, arr) -> object:
    T = _T()
    return T._make(x.backend.asarray(np.ascontiguousarray(arr, dtype=np.int64)), x.backend)


def _float_input(x, name: str) -> None:
    if x.dtype.kind != "f":
        raise DTypeError(f"{name}(): input tensor must be either float or double dtype, got "
                         f"{x.dtype}")


# ---- scans ---------------------------------------------------------------------------------------


def cumprod(x, dim: int, dtype=None):
    """Cumulative product along ``dim`` (torch.cumprod); integers and bool give int64. The
    gradient is exact where the input holds zeros.

    >>> import minigrad
    >>> minigrad.tensor([1.0, 2.0, 0.0, 4.0]).cumprod(0).tolist()
    [1.0, 2.0, 0.0, 0.0]
    """
    d = _dim(x, dim)
    if dtype is not None:
        x = x.to(dtype=dtype)
    elif x.dtype.kind in "biu":
        x = x.to(dtype=np.int64)
    if x.ndim == 0:
        return x.clone()
    return Fn.Cumprod.apply(x, axis=d)


def _cum_extreme(x, dim, name, kind):
    d = _dim(x, dim)
    if x.ndim == 0:
        return kind(x.clone(), _ints(x, np.zeros((), np.int64)))
    _, idx = getattr(x.backend, name)(x.data, d)
    T = _T()
    return kind(Fn.Gather.apply(x, index=idx, axis=d), T._make(idx, x.backend))


def cummax(x, dim: int):
    """``(values, indices)``: the running maximum along ``dim`` and where it was taken (int64;
    ties and NaN move it to the latest position, as torch). The gradient of the values flows to
    those positions.

    >>> import minigrad
    >>> v, i = minigrad.tensor([1.0, 3.0, 2.0, 3.0]).cummax(0)
    >>> v.tolist(), i.tolist()
    ([1.0, 3.0, 3.0, 3.0], [0, 1, 1, 3])
    """
    return _cum_extreme(x, dim, "cummax", cummax_t)


def cummin(x, dim: int):
    """``(values, indices)``: the running minimum along ``dim`` and where it was taken."""
    return _cum_extreme(x, dim, "cummin", cummin_t)


def logcumsumexp(x, dim: int):
    """``log(cumsum(exp(x)))`` along ``dim``, computed without overflow (torch.logcumsumexp).

    >>> import minigrad
    >>> minigrad.tensor([1000.0, 1000.0]).logcumsumexp(0).tolist()[1] - 1000.0 > 0.69
    True
    """
    d = _dim(x, dim)
    if x.dtype.kind != "f":
        raise DTypeError(f"logcumsumexp(): needs a float tensor, got dtype {x.dtype}")
    if x.ndim == 0:
        return x.clone()
    return Fn.LogCumSumExp.apply(x, axis=d)


# ---- median --------------------------------------------------------------------------------------


def _median_all(x, ignore_nan):
    name = "nanmedian" if ignore_nan else "median"
    if x.dtype.kind not in "fiu":
        raise DTypeError(f"{name}(): not implemented for dtype {x.dtype}")
    a = x.numpy().reshape(-1)
    T = _T()
    if a.size == 0:
        return T(np.array(np.nan, x.dtype) if x.dtype.kind == "f" else np.zeros((), x.dtype),
                 device=x.device)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    if ignore_nan and nan.all() or not ignore_nan and nan.any():
        value = np.array(np.nan, a.dtype)
    else:
        kept = np.sort(a[~nan])
        value = np.array(kept[(kept.size - 1) // 2])
    if not x.requires_grad:
        return T(value, device=x.device)
    return Fn.SelectEven.apply(x, value=x.backend.asarray(value), number=float(value))


def _median_dim(x, dim, keepdim, ignore_nan):
    name = "nanmedian" if ignore_nan else "median"
    kind = nanmedian_t if ignore_nan else median_t
    d = _dim(x, dim)
    if x.ndim == 0:
        return kind(x.clone(), _ints(x, np.zeros((), np.int64)))
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    # the index is picked on the host (no gradient): a selection, O(n) per slice, NaN last as in
    # a sort; which of equal values is picked is unspecified, as in torch
    a = np.moveaxis(x.numpy(), d, -1)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    if ignore_nan and nan.any():
        order = np.argsort(a, axis=-1, kind="stable")
        k = np.maximum(np.sum(~nan, -1, keepdims=True) - 1, 0) // 2
        pick = np.take_along_axis(order, k, -1)
    else:
        k = (n - 1) // 2
        pick = np.argpartition(a, k, axis=-1)[..., k:k + 1]
        if nan.any():
            pick = np.where(nan.any(-1, keepdims=True), np.argmax(nan, -1)[..., None], pick)
    idx = _ints(x, np.moveaxis(pick, -1, d))
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return kind(values, idx)


def median(x, dim=None, keepdim: bool = False):
    """The lower median (torch.median): of all elements (a 0-d tensor; the gradient is split
    evenly among the elements equal to it), or ``(values, indices)`` along ``dim`` (the gradient
    goes to the index). NaN anywhere in a slice makes its median NaN (see :func:`nanmedian`).

    >>> import minigrad
    >>> minigrad.tensor([3.0, 1.0, 4.0, 2.0]).median().item()
    2.0
    >>> minigrad.tensor([[3.0, 1.0, 4.0]]).median(1).indices.tolist()
    [0]
    """
    if dim is None:
        return _median_all(x, False)
    return _median_dim(x, dim, keepdim, False)


def nanmedian(x, dim=None, keepdim: bool = False):
    """:func:`median` ignoring NaNs (NaN only where a slice holds nothing else)."""
    if dim is None:
        return _median_all(x, True)
    return _median_dim(x, dim, keepdim, True)


# ---- quantile ------------------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, q, dim, keepdim, interpolation, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    T = _T()
    _float_input(x, name)
    if interpolation not in _INTERPOLATIONS:
        raise ArgumentError(f"{name}() interpolation must be one of linear, lower, higher, "
                            f"midpoint or nearest. Got {interpolation}")
    if isinstance(q, T):
        if q.ndim > 1:
            raise ArgumentError(f"{name}() q must be a scalar or 1D tensor, got shape "
                                f"{q.shape}")
        if q.dtype != x.dtype:
            raise DTypeError(f"{name}() q tensor must be same dtype as the input tensor, got "
                             f"{q.dtype} and {x.dtype}")
        qa, scalar_q = q.numpy().reshape(-1).astype(x.dtype), q.ndim == 0
    else:
        qa, scalar_q = np.array([float(q)], x.dtype), True
    if qa.size and ((qa < 0).any() or (qa > 1).any() or np.isnan(qa).any()):
        bad = qa[(qa < 0) | (qa > 1) | np.isnan(qa)][0]
        raise ArgumentError(f"{name}() q must be in the range [0, 1] but got {bad}"
                            if scalar_q else f"{name}() q values must be in the range [0, 1]")
    if x.numel() == 0:
        raise ArgumentError(f"{name}() input tensor must be non-empty")
    if dim is None:
        src, d, out_shape = x.reshape(-1), 0, ()
        kept = (1,) * x.ndim
    else:
        d = _dim(x, dim)
        src = x if x.ndim else x.reshape(1)
        out_shape = tuple(s for i, s in enumerate(x.shape) if i != d)
        kept = tuple(1 if i == d else s for i, s in enumerate(x.shape))
    moved = src.permute(*[i for i in range(src.ndim) if i != d], d)
    srt = moved.sort(-1)[0]                           # differentiable: a gather
    n = srt.shape[-1]
    a = srt.detach().numpy()
    nan = np.isnan(a)
    if ignore_nan:
        last = (np.sum(~nan, -1, keepdims=True) - 1).astype(x.dtype)
        ranks = np.maximum(qa * last, 0)
    else:
        ranks = np.where(nan.any(-1, keepdims=True), x.dtype.type(n - 1),
                         qa * x.dtype.type(n - 1))
    ranks = np.broadcast_to(ranks, a.shape[:-1] + (qa.size,)).astype(x.dtype)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)                       # half to even, as torch.round
    below = ranks.astype(np.int64)
    out = srt.gather(-1, _ints(x, below))
    if interpolation in ("linear", "midpoint"):
        above = np.ceil(ranks).astype(np.int64)
        w = np.full(ranks.shape, 0.5, x.dtype) if interpolation == "midpoint" else \
            (ranks - below).astype(x.dtype)
        hi = srt.gather(-1, _ints(x, above))
        out = out + T(w, device=x.device) * (hi - out)
    # out: (*out_shape, Q)
    if scalar_q:
        out = out.reshape(*(kept if keepdim else out_shape))
    else:
        out = out.permute(out.ndim - 1, *range(out.ndim - 1))
        out = out.reshape(qa.size, *(kept if keepdim else out_shape))
    return out


def quantile(x, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    """The ``q``-quantiles (a float, or a 0-d/1-D tensor of x's dtype, in [0, 1]) over all
    elements or along ``dim`` (torch.quantile): sort, then interpolate between the two nearest
    ranks (``interpolation`` linear, lower, higher, midpoint, nearest). A 1-D ``q`` puts its
    dim first. NaN in a slice makes its quantiles NaN (see :func:`nanquantile`). A composite:
    the gradient flows to the two sorted elements, weighted.

    >>> import minigrad
    >>> minigrad.tensor([1.0, 2.0, 3.0, 4.0]).quantile(0.5).item()
    2.5
    """
    return _quantile(x, q, dim, keepdim, interpolation, False)


def nanquantile(x, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    """:func:`quantile` ignoring NaNs (NaN only where a slice holds nothing else)."""
    return _quantile(x, q, dim, keepdim, interpolation, True)
