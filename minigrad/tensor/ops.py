"""Tensor methods and operators, with the checks that keep bad input out of compiled code.

Everything a user calls validates here (shapes, dims, dtypes) and raises ValueError/TypeError that
name the shapes; the Functions behind them may then trust their arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import functions as Fn
from .tensor import Tensor, broadcast_shapes


def _operand(x, like: Tensor):
    """Numbers stay Python numbers (constants, no graph node); arrays become constant Tensors."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    if isinstance(x, (np.ndarray, list, tuple, np.generic)):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError("cannot mix a Tensor with an object array (Scalars)")
        if arr.dtype.kind == "f":
            arr = arr.astype(like.dtype) if like.dtype.kind == "f" else arr
        return Tensor(arr, device=like.device)
    if isinstance(x, bool):
        return float(x)
    raise TypeError(f"unsupported operand type {type(x).__name__} for a Tensor operation")


def _binary(fn, name):
    def op(self, other):
        other = _operand(other, self)
        if isinstance(other, Tensor) and other._be is not self._be:
            raise ValueError(f"{name}: tensors on different devices ({self.device} and "
                             f"{other.device}); move one with .to(device)")
        return fn.apply(self, other)

    def rop(self, other):
        other = _operand(other, self)
        return fn.apply(other, self)

    op.__name__, rop.__name__ = f"__{name}__", f"__r{name}__"
    return op, rop


Tensor.__add__, Tensor.__radd__ = _binary(Fn.Add, "add")
Tensor.__sub__, Tensor.__rsub__ = _binary(Fn.Sub, "sub")
Tensor.__mul__, Tensor.__rmul__ = _binary(Fn.Mul, "mul")
Tensor.__truediv__, Tensor.__rtruediv__ = _binary(Fn.Div, "div")
Tensor.__pow__, Tensor.__rpow__ = _binary(Fn.Pow, "pow")


def _neg(self):
    return Fn.Neg.apply(self)


Tensor.__neg__ = _neg
Tensor.neg = _neg


def _unary(fn, doc):
    def m(self):
        return fn.apply(self)
    m.__doc__ = doc
    return m


Tensor.exp = _unary(Fn.Exp, "e^x, elementwise")
Tensor.log = _unary(Fn.Log, "ln x, elementwise")
Tensor.sqrt = _unary(Fn.Sqrt, "sqrt x, elementwise")
Tensor.sin = _unary(Fn.Sin, "sin x, elementwise")
Tensor.cos = _unary(Fn.Cos, "cos x, elementwise")
Tensor.tanh = _unary(Fn.Tanh, "tanh x, elementwise")
Tensor.sigmoid = _unary(Fn.Sigmoid, "1/(1+e^-x), elementwise")
Tensor.relu = _unary(Fn.ReLU, "max(0, x), elementwise")
Tensor.abs = _unary(Fn.Abs, "|x|, elementwise")
Tensor.__abs__ = Tensor.abs


def clip(self, min=None, max=None):  # noqa: A002 - PyTorch's argument names
    """Limit values to [min, max]; the gradient is 0 where a value was clipped."""
    if min is None and max is None:
        raise ValueError("clip needs min or max")
    return Fn.Clip.apply(self, lo=min, hi=max)


Tensor.clip = clip
Tensor.clamp = clip


def maximum(a: Tensor, b) -> Tensor:
    """Elementwise max of two tensors (broadcasting)."""
    b = _operand(b, a)
    if not isinstance(b, Tensor):
        b = Tensor(np.asarray(b, dtype=a.dtype), device=a.device)
    broadcast_shapes(a.shape, b.shape)
    return Fn.Maximum.apply(a, b)


# ---- reductions --------------------------------------------------------------------------------


def _reduce(fn, **extra):
    def m(self, dim=None, keepdim=False):
        axes = Fn._norm_axes(dim, self.ndim)
        if self.ndim == 0:
            axes = None
        return fn.apply(self, axes=axes, keepdim=keepdim, **extra)
    return m


Tensor.sum = _reduce(Fn.Sum)
Tensor.sum.__doc__ = "Sum over ``dim`` (an int, a tuple, or None for all), like torch.sum."


def _mean(self, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple, or None for all)."""
    if self.dtype.kind != "f":
        raise TypeError(f"mean needs a float tensor, got dtype {self.dtype}")
    axes = Fn._norm_axes(dim, self.ndim) if self.ndim else None
    return Fn.Mean.apply(self, axes=axes, keepdim=keepdim)


Tensor.mean = _mean


def _minmax(mode):
    def m(self, dim=None, keepdim=False):
        if self.numel() == 0:
            raise ValueError(f"{mode}() of an empty tensor")
        axes = Fn._norm_axes(dim, self.ndim) if self.ndim else None
        return Fn.Max.apply(self, axes=axes, keepdim=keepdim, mode=mode)
    m.__doc__ = (f"{mode.capitalize()} over ``dim`` (values only); the gradient goes to the "
                 f"{mode}imal elements, split evenly among ties.")
    return m


Tensor.max = _minmax("max")
Tensor.min = _minmax("min")


def argmax(self, dim=None, keepdim=False) -> Tensor:
    """Indices of the maxima (no gradient)."""
    a = self.numpy()
    r = np.argmax(a, axis=dim, keepdims=keepdim) if dim is not None else np.argmax(a)
    return Tensor(np.asarray(r, dtype=np.int64))


Tensor.argmax = argmax


# ---- linear algebra ------------------------------------------------------------------------------


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with numpy's rules: 1-D operands are vectors, leading dims broadcast.

    >>> import minigrad
    >>> minigrad.ones(2, 3) @ minigrad.ones(4, 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: matmul: shapes (2, 3) and (4, 5) are not aligned: ...
    """
    if not isinstance(b, Tensor):
        b = _operand(b, a)
        if not isinstance(b, Tensor):
            raise TypeError("matmul needs a tensor or array operand, not a number; use *")
    if not isinstance(a, Tensor):
        a = _operand(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * for scaling")
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise TypeError(f"matmul needs float tensors, got {a.dtype} and {b.dtype}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last "
                         f"dim of the first) != {kb} (first matrix dim of the second)")
    if a.ndim > 2 or b.ndim > 2:
        try:
            broadcast_shapes(a.shape[:-2], b.shape[:-2] if b.ndim >= 2 else ())
        except ValueError:
            raise ValueError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} cannot "
                             f"be broadcast together") from None
    if b._be is not a._be:
        raise ValueError(f"matmul: tensors on different devices ({a.device} and {b.device})")
    squeeze = []
    if a.ndim == 1:
        a = a.reshape(1, -1)
        squeeze.append(-2)
    if b.ndim == 1:
        b = b.reshape(-1, 1)
        squeeze.append(-1)
    out = Fn.MatMul.apply(a, b)
    if squeeze:
        shape = list(out.shape)
        for ax in sorted(squeeze):
            del shape[ax]
        out = out.reshape(*shape) if shape else out.reshape(())
    return out


Tensor.__matmul__ = matmul
Tensor.matmul = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(_operand(other, self), self)


# ---- shape ---------------------------------------------------------------------------------------


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(self, *shape) -> Tensor:
    """Same elements, new shape (one dim may be -1)."""
    shape = _shape_arg(shape)
    n = self.numel()
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) > 1 or (-1 not in shape and known != n) or (
            -1 in shape and (known == 0 or n % known)):
        raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({n} elements) into "
                         f"{shape}")
    if -1 in shape:
        shape = tuple(n // known if s == -1 else s for s in shape)
    if shape == self.shape:
        return self
    return Fn.Reshape.apply(self, shape=shape)


Tensor.reshape = reshape
Tensor.view = reshape


def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (like torch.flatten)."""
    if self.ndim == 0:
        return self.reshape(1)
    s, e = start_dim % self.ndim, end_dim % self.ndim
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    mid = 1
    for d in self.shape[s:e + 1]:
        mid *= d
    return self.reshape(*self.shape[:s], mid, *self.shape[e + 1:])


Tensor.flatten = flatten


def permute(self, *dims) -> Tensor:
    dims = _shape_arg(dims)
    if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of a "
                         f"tensor of shape {self.shape}")
    dims = tuple(d % self.ndim for d in dims)
    if dims == tuple(range(self.ndim)):
        return self
    return Fn.Permute.apply(self, axes=dims)


Tensor.permute = permute


def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dims (default: the last two)."""
    if self.ndim < 2:
        return self
    axes = list(range(self.ndim))
    d0, d1 = Fn._norm_axes(dim0, self.ndim)[0], Fn._norm_axes(dim1, self.ndim)[0]
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return self.permute(*axes)


Tensor.transpose = transpose
Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))


def squeeze(self, dim=None) -> Tensor:
    if dim is None:
        return self.reshape(*[s for s in self.shape if s != 1])
    d = Fn._norm_axes(dim, self.ndim)[0]
    if self.shape[d] != 1:
        return self
    return self.reshape(*self.shape[:d], *self.shape[d + 1:])


def unsqueeze(self, dim: int) -> Tensor:
    nd = self.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {nd} dims")
    d = dim % nd
    return self.reshape(*self.shape[:d], 1, *self.shape[d:])


Tensor.squeeze = squeeze
Tensor.unsqueeze = unsqueeze


def expand(self, *shape) -> Tensor:
    shape = _shape_arg(shape)
    shape = tuple(self.shape[i - (len(shape) - self.ndim)] if s == -1 else s
                  for i, s in enumerate(shape))
    broadcast_shapes(self.shape, shape)
    return Fn.Expand.apply(self, shape=shape)


Tensor.expand = expand


def _check_index(self, idx):
    if isinstance(idx, Tensor):
        idx = idx.numpy()
    if isinstance(idx, tuple):
        idx = tuple(i.numpy() if isinstance(i, Tensor) else i for i in idx)
    if isinstance(idx, list):
        idx = np.asarray(idx)
    try:  # numpy validates ints, slices and arrays against the shape and names the problem;
        # a zero-stride view of the shape costs no memory, however large the tensor
        np.broadcast_to(np.False_, self.shape)[idx]
    except IndexError as e:
        raise IndexError(f"index {idx!r} for a tensor of shape {self.shape}: {e}") from None
    return idx


def getitem(self, idx) -> Tensor:
    """Indexing and slicing with ints, slices, None, ..., integer and boolean arrays."""
    idx = _check_index(self, idx)
    return Fn.GetItem.apply(self, index=idx)


Tensor.__getitem__ = getitem


def _float_only(t: Tensor, name: str) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{name} needs a float32 or float64 tensor, got dtype {t.dtype}")
    if t.ndim == 0:
        raise ValueError(f"{name} needs at least one dimension")


def softmax(self, dim: int = -1) -> Tensor:
    """e^x / sum e^x over ``dim``, stable for any logit size."""
    _float_only(self, "softmax")
    return Fn.Softmax.apply(self, dim=Fn._norm_axes(dim, self.ndim)[0])


def log_softmax(self, dim: int = -1) -> Tensor:
    """x - log sum e^x over ``dim``, stable for any logit size."""
    _float_only(self, "log_softmax")
    return Fn.LogSoftmax.apply(self, dim=Fn._norm_axes(dim, self.ndim)[0])


Tensor.softmax = softmax
Tensor.log_softmax = log_softmax


# ---- free functions -----------------------------------------------------------------------------


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    ref = tensors[0]
    d = Fn._norm_axes(dim, ref.ndim)[0]
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if i != d):
            raise ValueError(f"cat along dim {dim}: shapes {ref.shape} and {t.shape} differ "
                             f"outside that dim")
    return Fn.Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shape tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: shapes {tensors[0].shape} and {t.shape} differ")
    nd = tensors[0].ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"stack: dim {dim} out of range for a result with {nd} dims")
    return Fn.Stack.apply(*tensors, dim=dim % nd)


def where(cond, a, b) -> Tensor:
    """Elementwise ``a if cond else b`` (broadcasting); gradients flow to a and b."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where needs a or b to be a Tensor")
    c = cond.numpy() if isinstance(cond, Tensor) else np.asarray(cond)
    a = a if isinstance(a, Tensor) else Tensor(np.asarray(a, dtype=like.dtype),
                                               device=like.device)
    b = b if isinstance(b, Tensor) else Tensor(np.asarray(b, dtype=like.dtype),
                                               device=like.device)
    broadcast_shapes(c.shape, a.shape, b.shape)
    if like.device != "cpu":
        c = like._be.asarray(np.ascontiguousarray(np.broadcast_to(c, broadcast_shapes(
            c.shape, a.shape, b.shape)).astype(like.dtype)))
    return Fn.Where.apply(c, a, b)
