"""Writing at indices, with PyTorch's names and semantics: ``scatter`` (a tensor or a number, or
with ``reduce='add'|'multiply'``), ``scatter_reduce`` (sum, prod, mean, amax, amin,
``include_self``), ``index_fill``, ``index_copy``, ``put``, ``masked_scatter`` and their in-place
forms (``scatter_``, ``scatter_add_``, ``scatter_reduce_``, ``index_fill_``, ``index_copy_``,
``index_add_``, ``put_``, ``masked_scatter_``, ``masked_fill_``).

``scatter``/``scatter_reduce`` are one Function over the backend protocol (``scatter`` and
``scatter_vjp``, PyTorch's gradients); the others are composites of it, of ``where`` and of
indexing. An in-place form computes the new value from the old tensor and rebinds the tensor to
it, as torch does: graphs that used the old values refuse their backward (version stamps), and
a leaf that requires gradients refuses the change.
"""

from __future__ import annotations

import numpy as np

from . import functions as Fn
from .autograd import is_grad_enabled, mark_modified
from .scans import _T, DTypeError, _dim


class IndexRangeError(IndexError, RuntimeError):
    """An index out of bounds (torch raises a RuntimeError; an IndexError here too)."""


def _index_array(index, name):
    T = _T()
    idx = np.array(index.numpy() if isinstance(index, T) else index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{name}(): Expected dtype int64 for index, got {idx.dtype}")
    return idx.astype(np.int64)


def _scatter_checks(x, d, idx, src, name):
    """PyTorch's rules: index has self's number of dims, is no larger than self apart from
    ``dim`` and no larger than src; its values are in [0, size)."""
    from .tensor import ShapeError
    T = _T()
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise ShapeError(f"{name}(): Index tensor must have the same number of dimensions as "
                         f"self tensor (index {list(idx.shape)}, self {list(x.shape)})")
    shape = x.shape if x.ndim else (1,)
    idx = idx.reshape(-1) if x.ndim == 0 else idx
    big_self = any(i > s for k, (i, s) in enumerate(zip(idx.shape, shape)) if k != d)
    big_src = isinstance(src, T) and src.ndim == idx.ndim and \
        any(i > s for i, s in zip(idx.shape, src.shape))
    if big_self or big_src or isinstance(src, T) and src.ndim != idx.ndim and \
            not (src.ndim == 0 and x.ndim == 0):
        srcs = f" and to be no larger size than src {list(src.shape)}" \
            if isinstance(src, T) else ""
        raise ShapeError(f"{name}(): Expected index {list(idx.shape)} to be no larger than self "
                         f"{list(x.shape)} apart from dimension {d}{srcs}")
    n = shape[d]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].reshape(-1)[0]
        raise IndexRangeError(f"{name}(): index {bad} is out of bounds for dimension {d} with "
                              f"size {n}")
    return idx


def _apply(x, d, index, src, name, reduce=None, include_self=True):
    """The ScatterReduce Function with validated arguments (0-d tensors act as 1-element 1-D)."""
    T = _T()
    idx = _scatter_checks(x, d, _index_array(index, name), src, name)
    zero_d = x.ndim == 0
    if isinstance(src, T):
        if src.dtype != x.dtype:
            raise DTypeError(f"{name}(): Expected self.dtype to be equal to src.dtype "
                             f"({x.dtype} and {src.dtype})")
        if zero_d:
            src = src.reshape(-1)
        if src.shape != idx.shape:
            src = src[tuple(slice(0, s) for s in idx.shape)]
    elif isinstance(src, (bool, int, float, np.number)):
        src = src.item() if isinstance(src, np.generic) else src
    else:
        raise TypeError(f"{name}(): src must be a Tensor or a number, got {type(src).__name__}")
    base = x.reshape(1) if zero_d else x
    out = Fn.ScatterReduce.apply(base, src, index=x.backend.asarray(idx), axis=d,
                                 reduce=reduce, include_self=include_self)
    return out.reshape(()) if zero_d else out


def scatter(x, dim: int, index, src=None, value=None, *, reduce=None):
    """A copy of ``x`` with ``src`` (a tensor, or a number: torch's ``value``) written at
    ``index`` along ``dim``: for dim 0, ``out[index[i][j]][j] = src[i][j]`` (torch.scatter).
    ``reduce='add'`` or ``'multiply'`` combines instead of writing. Differentiable in x (the
    written positions get no gradient) and src (the gradient gathered at index).

    >>> import minigrad
    >>> x = minigrad.zeros(2, 3)
    >>> x.scatter(0, minigrad.tensor([[1, 0, 1]]), minigrad.tensor([[5.0, 6.0, 7.0]])).tolist()
    [[0.0, 6.0, 0.0], [5.0, 0.0, 7.0]]
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing src or value")
    d = _dim(x, dim)
    if reduce is None:
        return _apply(x, d, index, src, "scatter")
    modes = {"add": "sum", "multiply": "prod"}
    if reduce not in modes:
        raise ValueError(f"scatter(): reduce argument must be either add or multiply, got "
                         f"{reduce!r}")
    return _apply(x, d, index, src, "scatter", modes[reduce], True)


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x, dim: int, index, src, reduce: str, *, include_self: bool = True):
    """``src`` combined into a copy of ``x`` at ``index`` along ``dim`` by ``reduce`` in sum,
    prod, mean, amax, amin (torch.scatter_reduce); ``include_self=False`` leaves x's values out
    of the positions written. Gradients as torch: amax/amin split it evenly among the elements
    equal to the result, prod divides out the element (exact with zeros).

    >>> import minigrad
    >>> x = minigrad.tensor([1.0, 2.0])
    >>> x.scatter_reduce(0, minigrad.tensor([0, 0, 1]), minigrad.tensor([4.0, 3.0, 1.0]),
    ...                  "amax").tolist()
    [4.0, 2.0]
    """
    if reduce not in _REDUCES:
        raise ValueError(f"scatter_reduce(): reduce argument must be one of sum, prod, mean, "
                         f"amax, amin, got {reduce!r}")
    T = _T()
    if not isinstance(src, T):
        raise TypeError(f"scatter_reduce(): src must be a Tensor, got {type(src).__name__}")
    return _apply(x, _dim(x, dim), index, src, "scatter_reduce", reduce, bool(include_self))


def _dim_index(x, d, index, name, along_shape):
    """A 1-D index along ``d`` broadcast to ``along_shape`` (index_copy's and index_fill's)."""
    from .tensor import ShapeError
    idx = _index_array(index, name)
    if idx.ndim > 1:
        raise ShapeError(f"{name}(): Index is supposed to be a vector, got shape "
                         f"{list(idx.shape)}")
    idx = idx.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexRangeError(f"{name}(): index {bad} is out of bounds for dimension {d} with "
                              f"size {n}")
    idx = idx % max(n, 1)
    shape = [1] * max(len(along_shape), 1)
    shape[d] = -1
    return np.broadcast_to(idx.reshape(shape), along_shape if along_shape else (idx.size,))


def index_fill(x, dim: int, index, value):
    """A copy of ``x`` with ``value`` (a number or a 0-d tensor, differentiable) in the entries
    at ``index`` (1-D) along ``dim`` (torch.index_fill).

    >>> import minigrad
    >>> minigrad.ones(2, 3).index_fill(1, minigrad.tensor([0, 2]), -1.0).tolist()
    [[-1.0, 1.0, -1.0], [-1.0, 1.0, -1.0]]
    """
    from .tensor import where
    T = _T()
    d = _dim(x, dim)
    idx = _index_array(index, "index_fill").reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexRangeError(f"index_fill(): index {bad} is out of bounds for dimension {d} "
                              f"with size {n}")
    mask = np.zeros(x.shape if x.ndim else (1,), bool)
    mask[(slice(None),) * d + (idx % max(n, 1),)] = True
    if isinstance(value, T) and value.ndim != 0:
        raise ValueError(f"index_fill(): only supports a 0-dimensional value tensor, but got "
                         f"tensor with {value.ndim} dimension(s).")
    return where(mask.reshape(x.shape), value, x)


def index_copy(x, dim: int, index, source):
    """A copy of ``x`` with the slices of ``source`` along ``dim`` written at the positions
    ``index`` (1-D) (torch.index_copy): a scatter."""
    from .tensor import ShapeError
    d = _dim(x, dim)
    idx = _index_array(index, "index_copy").reshape(-1)
    src_d = source.shape[d] if source.ndim else 1
    if idx.size != src_d:
        raise ShapeError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({src_d})")
    if source.ndim != x.ndim or any(a != b for k, (a, b) in enumerate(zip(source.shape,
                                                                          x.shape)) if k != d):
        raise ShapeError(f"index_copy_(): Source/destination tensor must have same slice "
                         f"shapes. Destination {list(x.shape)} and source {list(source.shape)} "
                         f"along dim {d}")
    full = _dim_index(x, d, idx, "index_copy", source.shape)
    return _apply(x, d, full, source, "index_copy")


def put(x, index, source, accumulate: bool = False):
    """A copy of ``x`` (seen as 1-D) with ``source``'s elements at the flat positions ``index``
    (negative ones count from the end), added if ``accumulate`` (torch.put)."""
    from .tensor import ShapeError
    idx = _index_array(index, "put").reshape(-1)
    if idx.size != source.numel():
        raise ShapeError(f"put(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source.numel()}, index.numel() = "
                         f"{idx.size}")
    n = x.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexRangeError(f"put(): index {bad} is out of bounds for a tensor of "
                              f"{n} elements")
    flat = x.reshape(-1)
    out = _apply(flat, 0, idx % max(n, 1), source.reshape(-1), "put",
                 "sum" if accumulate else None)
    return out.reshape(*x.shape)


def masked_scatter(x, mask, source):
    """A copy of ``x`` with ``source``'s first elements (in order) written where ``mask``
    (broadcast to x's shape) is true (torch.masked_scatter)."""
    from .tensor import ShapeError
    T = _T()
    m = np.asarray(mask.numpy() if isinstance(mask, T) else mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"masked_scatter_: expected BoolTensor for mask, got {m.dtype}")
    try:
        m = np.broadcast_to(m, x.shape)
    except ValueError:
        raise ShapeError(f"masked_scatter: mask of shape {m.shape} does not broadcast to "
                         f"{x.shape}") from None
    pos = np.flatnonzero(m)
    if pos.size > source.numel():
        raise ShapeError(f"masked_scatter: expected source to have at least {pos.size} "
                         f"elements, got {source.numel()}")
    return put(x, pos, source.reshape(-1)[:pos.size])


def inplace(x, op):
    """``x`` rebound to ``op(old)`` (``op`` a function; or ``op`` is that result, computed from
    :func:`old` of x), ``old`` a tensor standing for x's current value, as torch's in-place ops:
    the new graph (and any graph the op's other arguments hold, such as x[:1] * 2) reads the old
    value through ``old``; other graphs that used x refuse their backward (version stamps); a
    leaf that requires gradients refuses the change."""
    from .autograd import TensorBase
    if x.requires_grad and x.is_leaf and is_grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    stand = old(x) if callable(op) else None
    out = op(stand) if callable(op) else op
    if out.dtype != x.dtype:
        out = out.to(dtype=x.dtype)
    if out.requires_grad:
        # the arguments may have been computed from x: their graphs must read the old value,
        # through the one stand-in (a Function's backward runs once)
        ctxs, stack, seen = [], [out], set()
        while stack:
            ctx = stack.pop()._ctx
            if ctx is None or id(ctx) in seen:
                continue
            seen.add(id(ctx))
            ctxs.append(ctx)
            for p in ctx.inputs:
                if not isinstance(p, TensorBase):
                    continue
                stack.append(p)
                if stand is None and p is not x and p.data is x.data and p._ctx is x._ctx \
                        and p.requires_grad == x.requires_grad:
                    stand = p
        for ctx in ctxs:
            if any(p is x for p in ctx.inputs):
                stand = stand if stand is not None else old(x)
                ctx.inputs = tuple(stand if p is x else p for p in ctx.inputs)
        x._ctx, x.requires_grad = out._ctx, True
    x.data = out.data
    mark_modified(x)
    return x


def old(x):
    """A tensor standing for x's current value in the graph (x is about to be rebound)."""
    T = _T()
    stand = T._make(x.data, x.backend, x.requires_grad)
    stand._ctx, stand._version = x._ctx, x._version
    return stand
