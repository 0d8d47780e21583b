"""The user-facing :class:`Tensor`: every method is defined here, in the class, and validates its
arguments (shapes, dims, dtypes) with errors that name the shapes; the Functions behind them
(``functions.py``) may then trust their arrays.

Elementwise methods run a rule of the rule book (``x.exp()`` is the ``exp`` rule); composite
methods (``var``, ``std``, ``logsumexp``) are written in other methods and get their gradients
through them, so they run on every backend with no backend code.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from .. import backends, rules
from . import functions as Fn
from . import scans as _scans
from . import scatters as _scatters
from .autograd import (
    TensorBase,
    backprop,
    enable_grad,
    is_grad_enabled,
    mark_modified,
    no_grad,
)

__all__ = ["Tensor", "ShapeError", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
           "ones_like", "randn", "rand", "arange", "manual_seed", "get_rng", "broadcast_shapes",
           "cat", "stack", "where", "matmul", "maximum", "minimum", "apply_rule", "meshgrid",
           "full_like", "empty", "eye", "linspace", "logspace", "rand_like", "randn_like",
           "randint", "randperm", "no_grad", "enable_grad", "is_grad_enabled"]

ShapeError = Fn.ShapeError  # a ValueError and a RuntimeError: code catching either works

# torch.return_types: tuples whose items are also .values and .indices
_max_t = namedtuple("max", ["values", "indices"])
_min_t = namedtuple("min", ["values", "indices"])
_sort_t = namedtuple("sort", ["values", "indices"])
_topk_t = namedtuple("topk", ["values", "indices"])


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_GRAD_FLOATS = _FLOATS + (np.dtype(np.float16),)  # dtypes that can require gradients
_apply = Fn.Elementwise.apply
_ADD, _SUB, _MUL, _DIV, _POW = rules.ADD, rules.SUB, rules.MUL, rules.DIV, rules.POW
_DEFAULT_FLOAT = np.dtype(np.float32)


def _to_array(data, dtype) -> np.ndarray:
    """Python data / numpy -> numpy array with PyTorch's default dtypes (float32, int64)."""
    if isinstance(data, Tensor):
        data = data.numpy()
    if dtype is not None:
        dtype = np.dtype(dtype)
    if isinstance(data, np.ndarray):
        arr = data
        if arr.dtype == object:
            raise TypeError("cannot make a Tensor from an object array (Scalars?): use "
                            "numpy values, or minigrad.testing.to_scalars for the scalar engine")
    elif isinstance(data, np.generic):
        arr = np.asarray(data)  # a numpy scalar keeps its dtype, as torch.tensor does
    else:
        arr = np.asarray(data)
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise TypeError(f"cannot make a Tensor from {type(data).__name__} {data!r:.60}")
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(_DEFAULT_FLOAT)
        elif arr.dtype.kind in "iu" and dtype is None:
            arr = arr.astype(np.int64)
    if arr.dtype.kind == "c":
        raise TypeError("complex tensors are not supported")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _norm_axes(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"dim {dim} repeats a dimension")
    return tuple(sorted(out))


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Tensor(TensorBase):
    """An n-dimensional array that records the operations applied to it, for backpropagation.

    >>> import minigrad
    >>> W = minigrad.tensor([[3.0, 4.0], [7.0, 1.0]], requires_grad=True)
    >>> f = minigrad.tensor([1.0, 2.0]); b = minigrad.tensor([0.5, 0.3])
    >>> c = W @ f + b          # the lecture's 2x2 layer
    >>> c.numpy().round(4).tolist()
    [11.5, 9.3]
    >>> c.sum().backward(); W.grad.numpy().tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """

    __slots__ = ()
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, device: str = "cpu"):
        be = backends.get(device)
        arr = _to_array(data, dtype)
        src = data.data if isinstance(data, Tensor) else data
        if isinstance(src, np.ndarray) and (np.may_share_memory(arr, src)
                                            or not arr.flags.writeable):
            # Like torch.tensor: a copy, so updating the tensor (an optimizer step) never
            # changes the caller's array or tensor. from_numpy() is the sharing constructor.
            arr = arr.copy()
        if requires_grad and arr.dtype not in _GRAD_FLOATS:
            raise TypeError(f"only float tensors can require gradients, got dtype {arr.dtype}")
        self.data = be.asarray(arr)
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.backend = be
        self._retain = False
        self._version = 0

    # ---- properties ------------------------------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return len(self.data.shape)

    @property
    def device(self) -> str:
        """The device's name ("cpu", "opencl", ...), a str that also has torch's ``.type``."""
        return _Device(self.backend.name)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Function that made this tensor (None for leaves)."""
        return self._ctx

    def numel(self) -> int:
        n = 1
        for s in self.data.shape:
            n *= s
        return n

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def __len__(self) -> int:
        if not self.data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self) -> np.ndarray:
        """The values as a numpy array (a copy from a device; on the CPU, the array itself)."""
        return self.backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` is the tensor's values."""
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self) -> float | int:
        if self.numel() != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(-1)[0].item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor._make(self.data, self.backend, False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.dtype not in _GRAD_FLOATS:
            raise TypeError(f"only float tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (to look at it)."""
        self._retain = True

    def to(self, device: str | None = None, dtype=None) -> Tensor:
        """Copy to ``device`` ("cpu", "opencl", "reference") and/or cast to ``dtype``;
        differentiable (the result is not a leaf: gradients flow back to this tensor)."""
        if isinstance(device, Tensor):          # x.to(other): other's device and dtype
            device, dtype = device.device, device.dtype
        elif device is not None and not _is_device(device):   # x.to(torch.int32)
            device, dtype = None, device
        t = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            if np.dtype(dtype).kind != "f":  # an integer or bool result has no gradient
                t = t.detach()
            t = Fn.Cast.apply(t, dtype=np.dtype(dtype))
        if device is not None and backends.get(device) is not t.backend:
            t = Fn.ToDevice.apply(t, be=backends.get(device))
        return t

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable (the gradient passes through)."""
        return Fn.Cast.apply(self, dtype=self.dtype)

    def contiguous(self) -> Tensor:
        """The tensor itself: minigrad's arrays are always laid out contiguously."""
        return self

    def type(self, dtype=None):  # noqa: A003 - torch's name
        """The dtype's name without an argument, else a cast (like torch.Tensor.type)."""
        if dtype is None:
            return f"minigrad.{self.dtype}"
        return self.to(dtype=str(dtype).replace("minigrad.", ""))

    def int(self) -> Tensor:  # noqa: A003
        return self.to(dtype=np.int32)

    def long(self) -> Tensor:
        return self.to(dtype=np.int64)

    def bool(self) -> Tensor:  # noqa: A003
        return self.to(dtype=np.bool_)

    def half(self) -> Tensor:
        return self.to(dtype=np.float16)

    def add(self, other, alpha=1) -> Tensor:
        """self + alpha other"""
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1) -> Tensor:
        """self - alpha other"""
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other) -> Tensor:
        return self * other

    def div(self, other, rounding_mode=None) -> Tensor:
        """self / other; ``rounding_mode`` "trunc" or "floor" rounds the quotient."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                             f"{rounding_mode!r}")
        if _both_int(self, other):  # integers stay integers, computed exactly
            a, b = self.numpy(), other.numpy() if isinstance(other, Tensor) else other
            q = np.floor_divide(a, b)
            if rounding_mode == "trunc":
                q = q + ((np.remainder(a, b) != 0) & ((a < 0) != (np.asarray(b) < 0)))
            return Tensor(np.asarray(q), device=self.device)
        q = self / other
        return q.trunc() if rounding_mode == "trunc" else q.floor()

    true_divide = divide = div

    def pow(self, exponent) -> Tensor:  # noqa: A003
        return self ** exponent

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def float(self) -> Tensor:
        return self.to(dtype=np.float32)

    def double(self) -> Tensor:
        return self.to(dtype=np.float64)

    # ---- torch's small methods, written in the ops of this class -----------------------------

    def dim(self) -> int:
        return self.ndim

    ndimension = dim

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        """Always True: minigrad's arrays are laid out contiguously."""
        return True

    def element_size(self) -> int:
        """Bytes per element."""
        return self.dtype.itemsize

    def t(self) -> Tensor:
        """The transpose of a matrix; 0-d and 1-D tensors are returned as they are (torch.t)."""
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor with <= 2 dims, got shape {self.shape}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def mT(self) -> Tensor:  # noqa: N802 - torch's name
        """The last two dims swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ShapeError(f"mT needs at least 2 dims, got shape {self.shape}")
        return self.transpose(-2, -1)

    def negative(self) -> Tensor:
        return -self

    def reciprocal(self) -> Tensor:
        """1 / self (a float result for integer tensors, as torch)."""
        return 1.0 / self

    def floor_divide(self, other) -> Tensor:
        return self // other

    def __rfloordiv__(self, other):  # other // self
        return Tensor(np.asarray(other), device=self.device) // self

    def __pos__(self) -> Tensor:
        return self

    def _matrix_args(self, other, name, ndims):
        if (self.ndim, getattr(other, "ndim", None)) != ndims:
            raise ShapeError(f"{name} expects tensors of {ndims[0]} and {ndims[1]} dims, got "
                             f"shapes {self.shape} and {getattr(other, 'shape', other)}")
        return self @ other

    def mm(self, other) -> Tensor:
        """Matrix product of two 2-D tensors."""
        return self._matrix_args(other, "mm", (2, 2))

    def bmm(self, other) -> Tensor:
        """Batched matrix product of two 3-D tensors with the same batch size."""
        if self.ndim == 3 and getattr(other, "ndim", 0) == 3 and self.shape[0] != other.shape[0]:
            raise ShapeError(f"bmm: batch sizes differ: {self.shape} and {other.shape}")
        return self._matrix_args(other, "bmm", (3, 3))

    def mv(self, vec) -> Tensor:
        """Matrix times vector."""
        return self._matrix_args(vec, "mv", (2, 1))

    def dot(self, other) -> Tensor:
        """Inner product of two 1-D tensors (0-d)."""
        return self._matrix_args(other, "dot", (1, 1))

    inner = dot

    def outer(self, other) -> Tensor:
        """Outer product of two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1:
            raise ShapeError(f"outer expects 1-D tensors, got {self.shape} and {other.shape}")
        return self.unsqueeze(1) * other

    ger = outer

    def view_as(self, other) -> Tensor:
        return self.reshape(*other.shape)

    reshape_as = view_as

    def swapaxes(self, dim0: int, dim1: int) -> Tensor:
        return self.transpose(dim0, dim1)

    swapdims = swapaxes

    def movedim(self, source, destination) -> Tensor:
        """Move dims ``source`` to the positions ``destination`` (ints or sequences)."""
        src = [source] if isinstance(source, int) else list(source)
        dst = [destination] if isinstance(destination, int) else list(destination)
        src, dst = _norm_axes(tuple(src), self.ndim), _norm_axes(tuple(dst), self.ndim)
        if len(src) != len(dst):
            raise ShapeError(f"movedim: {len(src)} source dims but {len(dst)} destinations")
        order = [d for d in range(self.ndim) if d not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return self.permute(*order)

    moveaxis = movedim

    def tile(self, *dims) -> Tensor:
        """Repeat along each dim (missing leading dims count as 1, on either side)."""
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = (1,) * (self.ndim - len(dims)) + tuple(dims)
        return self.repeat(*dims)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        d = _norm_axes(dim, self.ndim)[0]
        start = start + self.shape[d] if start < 0 else start
        if not 0 <= start <= start + length <= self.shape[d]:
            raise IndexError(f"narrow: start {start} and length {length} out of range for dim "
                             f"{dim} of shape {self.shape}")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def select(self, dim: int, index: int) -> Tensor:
        return self[(slice(None),) * _norm_axes(dim, self.ndim)[0] + (index,)]

    def trace(self) -> Tensor:
        """Sum of the main diagonal of a matrix."""
        if self.ndim != 2:
            raise ShapeError(f"trace expects a 2-D tensor, got shape {self.shape}")
        return self.diagonal().sum()

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        """Windows of ``size`` every ``step`` along ``dimension``, as a new last dim
        (Tensor.unfold; an indexing composite)."""
        d = _norm_axes(dimension, max(self.ndim, 1))[0]
        n = self.shape[d] if self.ndim else 1
        if size > n or size < 0 or step <= 0:
            raise ShapeError(f"unfold: size {size} and step {step} do not fit dim {dimension} of "
                             f"shape {self.shape}")
        idx = np.arange(0, n - size + 1, step)[:, None] + np.arange(size)
        return self[(slice(None),) * d + (idx,)].movedim(d + 1, -1)

    def repeat_interleave(self, repeats, dim=None) -> Tensor:
        """Each element (or slice along ``dim``) repeated ``repeats`` times (an int or a tensor
        of one count per element)."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else _norm_axes(dim, self.ndim)[0]
        r = repeats.numpy() if isinstance(repeats, Tensor) else repeats
        idx = np.repeat(np.arange(x.shape[d]), r)
        return x[(slice(None),) * d + (idx,)]

    def norm(self, p="fro", dim=None, keepdim: bool = False) -> Tensor:
        """The vector p-norm over ``dim`` (all elements by default): "fro"/2, 1, inf, any p."""
        a = self.abs()
        if p in ("fro", 2, 2.0):
            return _safe_sqrt((self * self).sum(dim, keepdim=keepdim))
        if p == 1:
            return a.sum(dim, keepdim=keepdim)
        if p in (float("inf"), "inf"):
            return a.amax(dim, keepdim=keepdim) if dim is not None else a.max()
        if p in (-float("inf"), "-inf"):
            return a.amin(dim, keepdim=keepdim) if dim is not None else a.min()
        return (a ** p).sum(dim, keepdim=keepdim) ** (1.0 / p)

    def lerp(self, end, weight) -> Tensor:
        """self + weight (end - self)."""
        return self + weight * (end - self)

    def nan_to_num(self, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
        """NaN, +inf and -inf replaced (by 0 and the dtype's largest and lowest finite values by
        default); the gradient passes where nothing was replaced."""
        if self.dtype.kind != "f":
            return self.clone()
        info = np.finfo(self.dtype)
        x = self.numpy()
        out = where(Tensor(np.isnan(x), device=self.device), nan, self)
        out = where(Tensor(np.isposinf(x), device=self.device),
                    info.max if posinf is None else posinf, out)
        return where(Tensor(np.isneginf(x), device=self.device),
                     info.min if neginf is None else neginf, out)

    def type_as(self, other) -> Tensor:
        return self.to(dtype=other.dtype)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False) -> Tensor:
        """A tensor of ``data`` with this tensor's dtype and device unless given."""
        return tensor(data, requires_grad=requires_grad, dtype=dtype or self.dtype,
                      device=device or self.device)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self.new_full(_shape(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False) -> Tensor:
        return self.new_full(_shape(size), 1, dtype, device, requires_grad)

    new_empty = new_zeros

    def clamp_min(self, min) -> Tensor:  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max) -> Tensor:  # noqa: A002
        return self.clamp(max=max)

    def nelement(self) -> int:
        return self.numel()

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed in a backward; a tensor
        it returns replaces the gradient. Returns a handle whose ``remove()`` takes it off."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        from .autograd import hooks_of
        hooks = hooks_of(self)
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def count_nonzero(self, dim=None) -> Tensor:
        return (self != 0).sum(dim)

    def broadcast_to(self, *shape) -> Tensor:
        return self.expand(*shape)

    def fliplr(self) -> Tensor:
        return self.flip(1)

    def flipud(self) -> Tensor:
        return self.flip(0)

    def argwhere(self) -> Tensor:
        return self.nonzero()

    # ---- in place: torch's trailing-underscore methods ----------------------------------------

    def _inplace(self, fn) -> Tensor:
        """self <- fn(self) in place (tensor/scatters.py's rebinding: recorded in the graph when
        gradients are on; graphs that used the old values refuse their backward; a leaf that
        requires grad refuses, as in torch)."""
        new = fn(_scatters.old(self))
        if not isinstance(new, Tensor):
            new = Tensor(np.asarray(new), device=self.device)
        if new.dtype.kind == "f" and self.dtype.kind != "f":
            raise RuntimeError(f"result type {new.dtype} can't be cast to the desired output "
                               f"type {self.dtype} of an in-place operation")
        if tuple(new.shape) != self.shape:
            raise ShapeError(f"in-place result of shape {tuple(new.shape)} does not fit a tensor "
                             f"of shape {self.shape}")
        return _scatters.inplace(self, new)

    def add_(self, other, alpha=1) -> Tensor:
        return self._inplace(lambda x: x.add(other, alpha=alpha))

    def sub_(self, other, alpha=1) -> Tensor:
        return self._inplace(lambda x: x.sub(other, alpha=alpha))

    def mul_(self, other) -> Tensor:
        return self._inplace(lambda x: x * other)

    def div_(self, other, rounding_mode=None) -> Tensor:
        return self._inplace(lambda x: x.div(other, rounding_mode=rounding_mode))

    def pow_(self, exponent) -> Tensor:
        return self._inplace(lambda x: x ** exponent)

    def neg_(self) -> Tensor:
        return self._inplace(lambda x: -x)

    def abs_(self) -> Tensor:
        return self._inplace(lambda x: x.abs())

    def exp_(self) -> Tensor:
        return self._inplace(lambda x: x.exp())

    def sqrt_(self) -> Tensor:
        return self._inplace(lambda x: x.sqrt())

    def relu_(self) -> Tensor:
        return self._inplace(lambda x: x.relu())

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
        return self._inplace(lambda x: x.clamp(min, max))

    clip_ = clamp_

    def fill_(self, value) -> Tensor:
        v = value.item() if isinstance(value, Tensor) else value
        return self._inplace(lambda x: full_like(x, v) + x * 0 if x.requires_grad
                             else full_like(x, v))

    def copy_(self, src) -> Tensor:
        """Copy ``src`` (broadcast to this shape, any dtype or device) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        return self._inplace(lambda x: src.to(x.device, x.dtype).expand(*x.shape) + x * 0
                             if x.requires_grad else src.to(x.device, x.dtype).expand(*x.shape))

    def zero_(self) -> Tensor:
        """Set every element to 0, in place (not recorded in the graph)."""
        self.data = self.backend.zeros(self.shape, self.dtype)
        mark_modified(self)
        return self

    # ---- backpropagation -------------------------------------------------------------------

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None) -> None:
        """Backpropagate from this tensor: add d self / d leaf into ``leaf.grad`` for every leaf
        that requires gradients. A non-scalar tensor needs ``gradient`` (d loss / d self).
        As in PyTorch, the graph can be walked once; ``retain_graph=True`` keeps it for
        another backward."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of "
                               "its graph has requires_grad=True (or it was made under no_grad)")
        be = self.backend
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar (one element) tensor; this "
                    f"one has shape {self.shape}: pass gradient= (d loss / d this) of that shape")
            g = be.full(self.shape, 1.0, self.dtype)
        else:
            if isinstance(gradient, Tensor):
                if gradient.backend is not be:
                    raise ValueError(f"gradient is on {gradient.device}, tensor on {self.device}")
                g = gradient.data
            else:
                g = be.asarray(np.asarray(gradient, dtype=self.dtype))
            if tuple(g.shape) != self.shape:
                raise ValueError(f"gradient shape {tuple(g.shape)} does not match the tensor's "
                                 f"shape {self.shape}")
        backprop(self, g, retain_graph=bool(retain_graph))

    # ---- elementwise: the rule book ----------------------------------------------------------

    def _rule(self, name: str) -> Tensor:
        return Fn.Elementwise.apply(self, rule=rules.get(name))

    def apply(self, rule, *others) -> Tensor:
        """This tensor through any rule of the rule book (by name or Rule), with ``others`` as
        its further inputs (tensors or numbers): ``x.apply("maximum", 0.0)``."""
        return apply_rule(rule, self, *others)

    # The operators are the add/sub/mul/div/pow rules. Written out, not generated: this is the
    # hot path of every expression (Function.apply checks the devices).
    def __add__(self, other):  # self + other
        return _apply(self, other if type(other) is Tensor else _operand(other, self), rule=_ADD)

    def __radd__(self, other):  # other + self
        return _apply(_operand(other, self), self, rule=_ADD)

    def __sub__(self, other):
        if self.dtype.kind == "b" and getattr(other, "dtype", None) == np.bool_:
            raise _scans.DTypeError("subtraction of two bool tensors is not supported (torch); "
                                    "use ^ or logical_xor")
        return _apply(self, other if type(other) is Tensor else _operand(other, self), rule=_SUB)

    def __rsub__(self, other):
        return _apply(_operand(other, self), self, rule=_SUB)

    def __mul__(self, other):
        return _apply(self, other if type(other) is Tensor else _operand(other, self), rule=_MUL)

    def __rmul__(self, other):
        return _apply(_operand(other, self), self, rule=_MUL)

    def __truediv__(self, other):
        return _apply(self, other if type(other) is Tensor else _operand(other, self), rule=_DIV)

    def __rtruediv__(self, other):
        return _apply(_operand(other, self), self, rule=_DIV)

    def __pow__(self, other):
        return _apply(self, other if type(other) is Tensor else _operand(other, self), rule=_POW)

    def __rpow__(self, other):
        return _apply(_operand(other, self), self, rule=_POW)

    def __neg__(self):
        return self._rule("neg")

    def __abs__(self):
        return self._rule("abs")

    def neg(self) -> Tensor:
        """-x, elementwise"""
        return self._rule("neg")

    def exp(self) -> Tensor:
        """e^x, elementwise"""
        return self._rule("exp")

    def log(self) -> Tensor:
        """ln x, elementwise (NaN for x < 0, -inf at 0, as PyTorch)"""
        return self._rule("log")

    def log1p(self) -> Tensor:
        """ln(1 + x), elementwise, accurate for small x"""
        return self._rule("log1p")

    def expm1(self) -> Tensor:
        """e^x - 1, elementwise, accurate for small x"""
        return self._rule("expm1")

    def sqrt(self) -> Tensor:
        """sqrt x, elementwise"""
        return self._rule("sqrt")

    def sin(self) -> Tensor:
        """sin x (radians), elementwise"""
        return self._rule("sin")

    def cos(self) -> Tensor:
        """cos x, elementwise"""
        return self._rule("cos")

    def tanh(self) -> Tensor:
        """tanh x, elementwise"""
        return self._rule("tanh")

    def sigmoid(self) -> Tensor:
        """1/(1+e^-x), elementwise (no overflow for any x)"""
        return self._rule("sigmoid")

    def relu(self) -> Tensor:
        """max(0, x), elementwise (NaN stays NaN)"""
        return self._rule("relu")

    def abs(self) -> Tensor:
        """|x|, elementwise"""
        return self._rule("abs")

    def maximum(self, other) -> Tensor:
        """Elementwise max (broadcasting); on ties the gradient is split in half, as PyTorch."""
        return apply_rule(rules.MAXIMUM, self, other)

    def minimum(self, other) -> Tensor:
        """Elementwise min (broadcasting)."""
        return apply_rule(rules.MINIMUM, self, other)


    # ---- more of PyTorch's elementwise math (each a rule of the rule book) -------------------

    def sign(self) -> Tensor:
        """sign x: -1, 0 or 1 (gradient 0), elementwise; 0 for NaN, as torch"""
        s = self._rule("sign")
        return where(self != self, 0.0, s) if self.dtype.kind == "f" else s

    def floor(self) -> Tensor:
        """floor x (gradient 0), elementwise"""
        return self._rule("floor")

    def ceil(self) -> Tensor:
        """ceil x (gradient 0), elementwise"""
        return self._rule("ceil")

    def round(self, decimals: int = 0) -> Tensor:
        """x rounded to the nearest integer (or to ``decimals`` places), halves to even
        (gradient 0), elementwise"""
        if decimals:
            scale = 10.0 ** decimals
            return (self * scale)._rule("round") / scale
        return self._rule("round")

    def trunc(self) -> Tensor:
        """x rounded toward 0 (gradient 0), elementwise"""
        return self._rule("trunc")

    def frac(self) -> Tensor:
        """x - trunc x, elementwise"""
        return self._rule("frac")

    def square(self) -> Tensor:
        """x^2, elementwise"""
        return self._rule("square")

    def rsqrt(self) -> Tensor:
        """1/sqrt x, elementwise"""
        return self._rule("rsqrt")

    def log2(self) -> Tensor:
        """log base 2, elementwise"""
        return self._rule("log2")

    def log10(self) -> Tensor:
        """log base 10, elementwise"""
        return self._rule("log10")

    def exp2(self) -> Tensor:
        """2^x, elementwise"""
        return self._rule("exp2")

    def tan(self) -> Tensor:
        """tan x, elementwise"""
        return self._rule("tan")

    def asin(self) -> Tensor:
        """arcsine, elementwise"""
        return self._rule("asin")

    def acos(self) -> Tensor:
        """arccosine, elementwise"""
        return self._rule("acos")

    def atan(self) -> Tensor:
        """arctangent, elementwise"""
        return self._rule("atan")

    def sinh(self) -> Tensor:
        """sinh x, elementwise"""
        return self._rule("sinh")

    def cosh(self) -> Tensor:
        """cosh x, elementwise"""
        return self._rule("cosh")

    def asinh(self) -> Tensor:
        """inverse sinh, elementwise"""
        return self._rule("asinh")

    def acosh(self) -> Tensor:
        """inverse cosh (x >= 1), elementwise"""
        return self._rule("acosh")

    def atanh(self) -> Tensor:
        """inverse tanh (|x| < 1), elementwise"""
        return self._rule("atanh")

    def erf(self) -> Tensor:
        """the error function, elementwise"""
        return self._rule("erf")

    def erfc(self) -> Tensor:
        """1 - erf x, elementwise"""
        return self._rule("erfc")

    def silu(self) -> Tensor:
        """x sigmoid(x) (swish), elementwise"""
        return self._rule("silu")

    def softsign(self) -> Tensor:
        """x / (1 + |x|), elementwise"""
        return self._rule("softsign")

    def logsigmoid(self) -> Tensor:
        """ln sigmoid(x), stable, elementwise"""
        return self._rule("logsigmoid")

    def hardsigmoid(self) -> Tensor:
        """min(max(x/6 + 1/2, 0), 1), elementwise"""
        return self._rule("hardsigmoid")

    def hardswish(self) -> Tensor:
        """x hardsigmoid(x), elementwise"""
        return self._rule("hardswish")

    def atan2(self, other) -> Tensor:
        """atan(self / other) in the right quadrant, elementwise (broadcasting)"""
        return apply_rule("atan2", self, other)

    def logaddexp(self, other) -> Tensor:
        """ln(e^self + e^other), stable, elementwise (broadcasting)"""
        return apply_rule("logaddexp", self, other)

    def copysign(self, other) -> Tensor:
        """|self| with the sign of other, elementwise (broadcasting)"""
        return apply_rule("copysign", self, other)

    def fmod(self, other) -> Tensor:
        """self - trunc(self / other) other (C's fmod: the sign of self), broadcasting"""
        return apply_rule("fmod", self, other)

    def remainder(self, other) -> Tensor:
        """self - floor(self / other) other (Python's %: the sign of other), broadcasting"""
        return apply_rule("remainder", self, other)

    def __floordiv__(self, other):  # self // other: floor of the true quotient
        if self.dtype.kind == "f" or isinstance(other, float) or (
                isinstance(other, Tensor) and other.dtype.kind == "f"):
            return (self / other).floor()
        _no_int_zero_division(other, "floor_divide")
        return self._nograd("floor_divide", other)  # integers: exact, rounding toward -inf

    def __mod__(self, other):  # self % other, Python's sign convention
        if self.dtype.kind in "biu" and (type(other) is int or (
                isinstance(other, Tensor) and other.dtype.kind in "biu")):
            _no_int_zero_division(other, "remainder")
            return self._nograd("remainder", other)  # integers stay integers, exact (torch)
        return apply_rule("remainder", self, other)

    def __rmod__(self, other):
        if self.dtype.kind in "biu" and type(other) is int:
            return Tensor._make(self.backend.ufunc("remainder", other, self.data), self.backend)
        return apply_rule("remainder", other, self)

    def clip(self, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's argument names
        """Limit values to [min, max]; the gradient is 0 where a value was clipped."""
        if min is None and max is None:
            raise ValueError("clip needs min or max")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            # tensor bounds (broadcasting): min(max(x, lo), hi) by where, so the gradient goes
            # to x inside the bounds and to the bound that was taken outside them (torch)
            min, max = (_zero_dim_to(b, self.device) if isinstance(b, Tensor) else b
                        for b in (min, max))
            out = self if min is None else where(self < min, min, self)
            return out if max is None else where(out > max, max, out)
        if self.dtype.kind in "iub":
            if any(isinstance(b, float) for b in (min, max)):
                return self.float().clip(min, max)  # a float bound makes a float result (torch)
            info = np.iinfo(self.dtype) if self.dtype.kind != "b" else np.iinfo(np.uint8)
            # an integer bound outside the type's range stands for that end of the range
            min = None if min is None else int(np.clip(int(min), info.min, info.max))
            max = None if max is None else int(np.clip(int(max), info.min, info.max))
        return Fn.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    # ---- reductions ------------------------------------------------------------------------

    def sum(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None,
            keepdims=None) -> Tensor:
        """Sum over ``dim`` (an int, a tuple, or None for all), like torch.sum (numpy's ``axis``
        and ``keepdims`` too); ``dtype``: cast first and sum in it (without one, integers and
        bool sum as int64, as torch)."""
        dim, keepdim = (dim if axis is None else axis), (keepdim if keepdims is None
                                                        else keepdims)
        x = self
        if dtype is not None:
            x = self.to(dtype=dtype)
        elif self.dtype.kind in "bu" or self.dtype in (np.int8, np.int16, np.int32):
            x = self.to(dtype=np.int64)
        axes = _norm_axes(dim, x.ndim) if x.ndim else None
        out = Fn.Sum.apply(x, axes=axes, keepdim=keepdim)
        return out if out.dtype == x.dtype else out.to(dtype=x.dtype)  # numpy's int32 sum: int64

    def mean(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None,
             keepdims=None) -> Tensor:
        """Mean over ``dim`` (an int, a tuple, or None for all); NaN over no elements."""
        dim, keepdim = (dim if axis is None else axis), (keepdim if keepdims is None
                                                        else keepdims)
        if dtype is not None:
            return self.to(dtype=dtype).mean(dim, keepdim)
        if self.dtype.kind != "f":
            raise _scans.DTypeError(f"mean needs a float tensor, got dtype {self.dtype} (pass "
                                    f"dtype= or convert with .float())")
        axes = _norm_axes(dim, self.ndim) if self.ndim else None
        return Fn.Mean.apply(self, axes=axes, keepdim=keepdim)

    def _minmax(self, mode, dim, keepdim):
        axes = _norm_axes(dim, self.ndim) if self.ndim else None
        if self.numel() == 0 and (axes is None or any(self.shape[a] == 0 for a in axes)):
            raise _EmptyReduction(f"{mode}() over an empty dim (shape {self.shape}, dim {dim})")
        return Fn.Max.apply(self, axes=axes, keepdim=keepdim, mode=mode)

    def max(self, dim=None, keepdim: bool = False):
        """As torch.max: the max of all elements (0-d; the gradient split evenly among ties), or
        ``(values, indices)`` along ``dim`` (the gradient goes to the index), or with a tensor
        argument the elementwise :meth:`maximum`.

        >>> import minigrad
        >>> v, i = minigrad.tensor([[1.0, 5.0, 2.0]]).max(1)
        >>> v.tolist(), i.tolist()
        ([5.0], [1])
        """
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return self._minmax("max", dim, keepdim)
        return _max_t(*self._minmax_dim("max", dim, keepdim))

    def min(self, dim=None, keepdim: bool = False):
        """As torch.min: the min of all elements, ``(values, indices)`` along ``dim``, or with a
        tensor argument the elementwise :meth:`minimum`."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return self._minmax("min", dim, keepdim)
        return _min_t(*self._minmax_dim("min", dim, keepdim))

    def _minmax_dim(self, mode, dim, keepdim):
        if self.ndim == 0:
            return self.clone(), Tensor._make(self.backend.asarray(np.zeros((), np.int64)),
                                              self.backend)
        d = _norm_axes(dim, self.ndim)[0]
        if self.shape[d] == 0:
            raise ShapeError(f"{mode}(dim={dim}) over an empty dim of shape {self.shape}")
        idx = self.argmax(d, keepdim=True) if mode == "max" else self.argmin(d, keepdim=True)
        values = self.gather(d, idx)
        if not keepdim:
            values, idx = values.squeeze(d), idx.squeeze(d)
        return values, idx

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
        """Variance over ``dim``: sum (x - mean)^2 / (n - correction). A composite: its gradient
        comes through mean, sub, mul and sum.

        >>> import minigrad
        >>> minigrad.tensor([1.0, 2.0, 3.0, 4.0]).var().item()
        1.6666666269302368
        """
        correction = _correction(unbiased, correction)
        axes = _norm_axes(dim, self.ndim) if self.ndim else None
        n = self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))
        d = self - self.mean(axes, keepdim=True)
        return (d * d).sum(axes, keepdim=keepdim) / max(n - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
        """Standard deviation: sqrt of :meth:`var` (a composite)."""
        return _safe_sqrt(self.var(dim, unbiased, keepdim, correction=correction))

    def var_mean(self, dim=None, correction: int = 1, keepdim: bool = False):
        """``(var, mean)`` over ``dim`` (torch.var_mean)."""
        return self.var(dim, correction=correction, keepdim=keepdim), self.mean(dim, keepdim)

    def std_mean(self, dim=None, correction: int = 1, keepdim: bool = False):
        """``(std, mean)`` over ``dim`` (torch.std_mean)."""
        return self.std(dim, correction=correction, keepdim=keepdim), self.mean(dim, keepdim)

    def scatter_add(self, dim: int, index, src) -> Tensor:
        """self with ``src`` added at ``index`` along ``dim`` (torch.scatter_add): a composite,
        the gradient of gather; differentiable in self and src."""
        d = _norm_axes(dim, max(self.ndim, 1))[0]
        idx = np.array(index.numpy() if isinstance(index, Tensor) else index)
        if idx.shape != tuple(src.shape):
            raise ShapeError(f"scatter_add: index of shape {idx.shape} and src of shape "
                             f"{src.shape} differ")
        n = self.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"scatter_add: index out of range for dim {dim} of size {n}")
        idx = np.ascontiguousarray(idx % max(n, 1), dtype=np.int64)
        return self + Fn.Scatter.apply(src, index=self.backend.asarray(idx), axis=d,
                                       shape=self.shape)

    def index_add(self, dim: int, index, source, alpha=1) -> Tensor:
        """self with ``alpha * source`` added at the positions ``index`` (1-D) along ``dim``."""
        d = _norm_axes(dim, max(self.ndim, 1))[0]
        idx = np.asarray(index.numpy() if isinstance(index, Tensor) else index)
        if idx.ndim != 1 or idx.shape[0] != source.shape[d]:
            raise ShapeError(f"index_add: index of shape {idx.shape} does not match source "
                             f"{source.shape} along dim {dim}")
        shape = [1] * source.ndim
        shape[d] = -1
        full_idx = np.broadcast_to(idx.reshape(shape), source.shape)
        return self.scatter_add(d, full_idx, source * alpha if alpha != 1 else source)

    def logsumexp(self, dim, keepdim: bool = False) -> Tensor:
        """log sum e^x over ``dim``, shifted by the (constant) max so no exp overflows.
        A composite of max, sub, exp, sum, log and add."""
        d = _norm_axes(dim, self.ndim)
        if any(self.shape[a] == 0 for a in d):  # log of an empty sum: -inf (torch)
            return self.sum(d, keepdim=keepdim) * 0.0 - float("inf")
        m = self.detach().amax(d, keepdim=True)
        m = where(m.isinf(), 0.0, m)   # rows of -inf (or +inf): no inf - inf
        s = (self - m).exp().sum(d, keepdim=keepdim).log()
        return s + (m if keepdim else m.reshape(s.shape))

    def amax(self, dim=None, keepdim: bool = False) -> Tensor:
        """Max over ``dim``; the gradient is split evenly among ties (torch.amax)."""
        return self._minmax("max", dim, keepdim)

    def amin(self, dim=None, keepdim: bool = False) -> Tensor:
        """Min over ``dim``; the gradient is split evenly among ties (torch.amin)."""
        return self._minmax("min", dim, keepdim)

    def _index_reduce(self, name, dim, keepdim):
        if dim is None:
            axis = None
        else:
            axis = _norm_axes(dim, self.ndim)[0] if self.ndim else None
        if name in ("argmax", "argmin") and self.numel() == 0 and (
                axis is None or self.shape[axis] == 0):
            raise _EmptyReduction(f"{name}() of an empty tensor (shape {self.shape})")
        if self.numel() == 0 and axis is not None and self.shape[axis]:  # an empty result
            shape = [1 if k == axis else s for k, s in enumerate(self.shape)
                     if keepdim or k != axis]
            dt = np.int64 if name in ("argmax", "argmin") else np.bool_
            return Tensor(np.zeros(shape, dt), device=self.device)
        return Tensor._make(self.backend.reduce_index(name, self.data, axis, keepdim),
                            self.backend)

    def argmax(self, dim=None, keepdim: bool = False) -> Tensor:
        """Indices of the maxima (int64, the first on ties; no gradient)."""
        return self._index_reduce("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> Tensor:
        """Indices of the minima (int64, the first on ties; no gradient)."""
        return self._index_reduce("argmin", dim, keepdim)

    def any(self, dim=None, keepdim: bool = False) -> Tensor:
        """Whether any element (over ``dim``) is nonzero (a bool tensor)."""
        return self._index_reduce("any", dim, keepdim)

    def all(self, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A003 - torch's name
        """Whether every element (over ``dim``) is nonzero (a bool tensor)."""
        return self._index_reduce("all", dim, keepdim)

    def prod(self, dim=None, keepdim: bool = False) -> Tensor:
        """Product over ``dim`` (an int, or None for all); the gradient handles zeros."""
        if self.dtype.kind in "bu" or self.dtype in (np.int8, np.int16, np.int32):
            return self.to(dtype=np.int64).prod(dim, keepdim)  # small integers: int64 (torch)
        axes = _norm_axes(dim, self.ndim) if self.ndim else None
        return Fn.Prod.apply(self, axes=axes, keepdim=keepdim)

    def cumsum(self, dim: int) -> Tensor:
        """Cumulative sum along ``dim``."""
        if self.dtype.kind in "bu" or self.dtype in (np.int8, np.int16, np.int32):
            return self.to(dtype=np.int64).cumsum(dim)  # small integers: int64 (torch)
        if self.ndim == 0:
            return self.clone()
        return Fn.Cumsum.apply(self, axis=_norm_axes(dim, self.ndim)[0])

    def gather(self, dim: int, index) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for dim 0 (torch.gather); differentiable in
        self, the gradient added back where an index repeats."""
        d = _norm_axes(dim, max(self.ndim, 1))[0]
        idx = np.array(index.numpy() if isinstance(index, Tensor) else index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be integer, got dtype {idx.dtype}")
        if idx.ndim != self.ndim or any(i > s for k, (i, s) in enumerate(zip(idx.shape,
                                                                              self.shape))
                                         if k != d):
            raise ShapeError(f"gather: index of shape {idx.shape} does not fit a tensor of "
                             f"shape {self.shape} along dim {dim}")
        n = self.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise _scatters.IndexRangeError(f"gather: index out of range for dim {dim} of size "
                                            f"{n}")
        idx = np.ascontiguousarray(idx % max(n, 1), dtype=np.int64)
        return Fn.Gather.apply(self, index=self.backend.asarray(idx), axis=d)

    def take_along_dim(self, indices, dim=None) -> Tensor:
        """torch.take_along_dim: :meth:`gather` along ``dim``; without one, of the flattened
        tensor and indices."""
        if dim is None:
            return self.reshape(-1).gather(0, indices.reshape(-1))
        return self.gather(dim, indices)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """``(values, indices)`` sorted along ``dim`` (always stable, so ``stable`` changes
        nothing); values are differentiable."""
        d = _norm_axes(dim, max(self.ndim, 1))[0] if self.ndim else 0
        if self.ndim == 0:
            return _sort_t(self.clone(), Tensor._make(
                self.backend.asarray(np.zeros((), np.int64)), self.backend))
        host = self.numpy() if descending and self.dtype.kind == "f" else None
        if descending and self.dtype.kind in "iu":  # -x would wrap (uint8): ~x orders alike
            idx = self.backend.asarray(np.argsort(~self.numpy(), axis=d, kind="stable"))
        elif host is not None and np.isnan(host).any():  # NaN is the largest (torch)
            idx = self.backend.asarray(np.lexsort((-host, ~np.isnan(host)), axis=d)
                                       .astype(np.int64))
        else:
            _, idx = self.backend.sort(self.data, d, descending)
        return _sort_t(Fn.Gather.apply(self, index=idx, axis=d), Tensor._make(idx, self.backend))

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort ``dim`` (stable)."""
        return self.sort(dim, descending)[1]

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        """``(values, indices)`` of the k largest (or smallest) along ``dim``."""
        d = _norm_axes(dim, max(self.ndim, 1))[0]
        if not 0 <= k <= (self.shape[d] if self.ndim else 1):
            raise ValueError(f"topk: k = {k} is out of range for dim {dim} of shape "
                             f"{self.shape}")
        _, idx = self.sort(d, descending=largest)
        key = (slice(None),) * d + (slice(0, k),)
        idx = idx[key]
        return _topk_t(self.gather(d, idx), idx)

    # ---- scans, order statistics, scatters (written in tensor/scans.py, tensor/scatters.py) ---

    def cumprod(self, dim: int, dtype=None) -> Tensor:
        """Cumulative product along ``dim``; the gradient is exact with zeros (torch.cumprod)."""
        return _scans.cumprod(self, dim, dtype)

    def cummax(self, dim: int):
        """``(values, indices)`` of the running maximum along ``dim`` (torch.cummax)."""
        return _scans.cummax(self, dim)

    def cummin(self, dim: int):
        """``(values, indices)`` of the running minimum along ``dim`` (torch.cummin)."""
        return _scans.cummin(self, dim)

    def logcumsumexp(self, dim: int) -> Tensor:
        """``log(cumsum(exp(self)))`` along ``dim``, without overflow (torch.logcumsumexp)."""
        return _scans.logcumsumexp(self, dim)

    def median(self, dim=None, keepdim: bool = False):
        """The lower median of all elements (0-d), or ``(values, indices)`` along ``dim``."""
        return _scans.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim: bool = False):
        """:meth:`median` ignoring NaNs."""
        return _scans.nanmedian(self, dim, keepdim)

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
        """The ``q``-quantiles over all elements or along ``dim`` (torch.quantile)."""
        return _scans.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
        """:meth:`quantile` ignoring NaNs."""
        return _scans.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def scatter(self, dim: int, index, src=None, value=None, *, reduce=None) -> Tensor:
        """A copy with ``src`` (a tensor or a number) written at ``index`` along ``dim``."""
        return _scatters.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim: int, index, src=None, value=None, *, reduce=None) -> Tensor:
        """:meth:`scatter` in place."""
        return _scatters.inplace(self, lambda t: t.scatter(dim, index, src, value, reduce=reduce))

    def scatter_add_(self, dim: int, index, src) -> Tensor:
        """:meth:`scatter_add` in place."""
        return _scatters.inplace(self, lambda t: t.scatter_add(dim, index, src))

    def scatter_reduce(self, dim: int, index, src, reduce: str, *,
                       include_self: bool = True) -> Tensor:
        """``src`` combined in at ``index`` by sum, prod, mean, amax or amin."""
        return _scatters.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *,
                        include_self: bool = True) -> Tensor:
        """:meth:`scatter_reduce` in place."""
        return _scatters.inplace(self, lambda t: t.scatter_reduce(dim, index, src, reduce,
                                                                  include_self=include_self))

    def index_fill(self, dim: int, index, value) -> Tensor:
        """A copy with ``value`` in the entries at ``index`` along ``dim``."""
        return _scatters.index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index, value) -> Tensor:
        """:meth:`index_fill` in place."""
        return _scatters.inplace(self, lambda t: t.index_fill(dim, index, value))

    def index_copy(self, dim: int, index, source) -> Tensor:
        """A copy with ``source``'s slices along ``dim`` at the positions ``index``."""
        return _scatters.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index, source) -> Tensor:
        """:meth:`index_copy` in place."""
        return _scatters.inplace(self, lambda t: t.index_copy(dim, index, source))

    def index_add_(self, dim: int, index, source, *, alpha=1) -> Tensor:
        """:meth:`index_add` in place."""
        return _scatters.inplace(self, lambda t: t.index_add(dim, index, source, alpha=alpha))

    def put(self, index, source, accumulate: bool = False) -> Tensor:
        """A copy with ``source`` at the flat positions ``index`` (added if accumulate)."""
        return _scatters.put(self, index, source, accumulate)

    def put_(self, index, source, accumulate: bool = False) -> Tensor:
        """:meth:`put` in place."""
        return _scatters.inplace(self, lambda t: t.put(index, source, accumulate))

    def masked_scatter(self, mask, source) -> Tensor:
        """A copy with ``source``'s elements, in order, where ``mask`` is true."""
        return _scatters.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source) -> Tensor:
        """:meth:`masked_scatter` in place."""
        return _scatters.inplace(self, lambda t: t.masked_scatter(mask, source))

    def masked_fill_(self, mask, value) -> Tensor:
        """:meth:`masked_fill` in place."""
        return _scatters.inplace(self, lambda t: t.masked_fill(mask, value))

    # ---- comparisons, logic and bits (no gradient) ----------------------------------------------

    def _nograd(self, name: str, *others) -> Tensor:
        be = self.backend
        args = [self.data]
        for o in others:
            if isinstance(o, Tensor):
                if o.backend is not be:
                    raise ValueError(f"{name}: tensors on different devices ({self.device} and "
                                     f"{o.device})")
                args.append(o.data)
            elif isinstance(o, (bool, int, float, np.number)):
                args.append(o)
            else:
                args.append(be.asarray(np.asarray(o)))
        return Tensor._make(be.ufunc(name, *args), be)

    def __eq__(self, other):  # type: ignore[override] - elementwise, as torch
        return self._nograd("equal", other)

    def __ne__(self, other):  # type: ignore[override]
        return self._nograd("not_equal", other)

    def __lt__(self, other):
        return self._nograd("less", other)

    def __le__(self, other):
        return self._nograd("less_equal", other)

    def __gt__(self, other):
        return self._nograd("greater", other)

    def __ge__(self, other):
        return self._nograd("greater_equal", other)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __and__(self, other):
        return self._nograd("bitwise_and", other)

    def __or__(self, other):
        return self._nograd("bitwise_or", other)

    def __xor__(self, other):
        return self._nograd("bitwise_xor", other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        return self._nograd("invert")

    def __lshift__(self, other):
        return self._nograd("left_shift", other)

    def __rshift__(self, other):
        return self._nograd("right_shift", other)

    def logical_and(self, other) -> Tensor:
        return self._nograd("logical_and", other)

    def logical_or(self, other) -> Tensor:
        return self._nograd("logical_or", other)

    def logical_xor(self, other) -> Tensor:
        return self._nograd("logical_xor", other)

    def logical_not(self) -> Tensor:
        return self._nograd("logical_not")

    def isnan(self) -> Tensor:
        return self._nograd("isnan")

    def isinf(self) -> Tensor:
        return self._nograd("isinf")

    def isfinite(self) -> Tensor:
        return self._nograd("isfinite")

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:
        """|self - other| <= atol + rtol |other|, elementwise (torch.isclose)."""
        a = self.detach()
        b = other.detach() if isinstance(other, Tensor) else other
        with no_grad():
            close = ((a - b).abs() <= (abs(b) * rtol if not isinstance(b, Tensor)
                                       else b.abs() * rtol) + atol)
            # an infinity is close only to itself (inf <= inf must not make inf and -inf close)
            finite = a.isfinite() & (b.isfinite() if isinstance(b, Tensor)
                                     else bool(np.isfinite(b)))
            close = (close & finite) | (a == b)
            if equal_nan:
                bn = b.isnan() if isinstance(b, Tensor) else bool(np.isnan(b))
                close = close | (a.isnan() & bn)
        return close

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        """Whether every element is close (torch.allclose)."""
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def equal(self, other) -> bool:
        """Same shape and the same values (torch.equal)."""
        return isinstance(other, Tensor) and self.shape == other.shape and bool(
            (self == other).all())

    # ---- linear algebra --------------------------------------------------------------------

    def matmul(self, other) -> Tensor:
        """Matrix product with numpy's rules (see :func:`matmul`)."""
        return matmul(self, other)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_operand(other, self), self)

    # ---- shape -----------------------------------------------------------------------------

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
            raise ShapeError(f"cannot reshape a tensor of shape {self.shape} ({n} elements) "
                             f"into {shape}")
        if -1 in shape:
            shape = tuple(n // known if s == -1 else s for s in shape)
        if shape == self.shape:
            return self
        return Fn.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim into one (like torch.flatten)."""
        if self.ndim == 0:
            if start_dim not in (0, -1) or end_dim not in (0, -1):
                raise IndexError(f"flatten: dims ({start_dim}, {end_dim}) are out of range for "
                                 f"a 0-d tensor")
            return self.reshape(1)
        s, e = _norm_axes(start_dim, self.ndim)[0], _norm_axes(end_dim, self.ndim)[0]
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        mid = 1
        for d in self.shape[s:e + 1]:
            mid *= d
        return self.reshape(*self.shape[:s], mid, *self.shape[e + 1:])

    def permute(self, *dims) -> Tensor:
        """The dims in a new order."""
        dims = _shape_arg(dims)
        if len(dims) != self.ndim or any(not -self.ndim <= d < self.ndim for d in dims) or \
                sorted(d % self.ndim for d in dims) != list(range(self.ndim)):
            raise ShapeError(f"permute: {dims} is not a permutation of the {self.ndim} dims of "
                             f"a tensor of shape {self.shape}")
        dims = tuple(d % self.ndim for d in dims)
        if dims == tuple(range(self.ndim)):
            return self
        return Fn.Permute.apply(self, axes=dims)

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dims (default: the last two)."""
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        d0, d1 = _norm_axes(dim0, self.ndim)[0], _norm_axes(dim1, self.ndim)[0]
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return self.permute(*axes)

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's and torch's name
        return self.permute(*reversed(range(self.ndim)))

    def squeeze(self, dim=None) -> Tensor:
        """Drop the dims of size 1 (all, or those of ``dim``: an int or a tuple)."""
        if dim is None:
            return self.reshape(*[s for s in self.shape if s != 1])
        dims = _norm_axes(dim, self.ndim) if self.ndim else ()
        return self.reshape(*[s for k, s in enumerate(self.shape)
                              if not (k in dims and s == 1)])

    def unsqueeze(self, dim: int) -> Tensor:
        nd = self.ndim + 1
        if not -nd <= dim < nd:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {nd} dims")
        d = dim % nd
        return self.reshape(*self.shape[:d], 1, *self.shape[d:])

    def expand(self, *shape) -> Tensor:
        """A broadcast view of this tensor (-1 keeps a dim)."""
        shape = _shape_arg(shape)
        shape = tuple(self.shape[i - (len(shape) - self.ndim)] if s == -1 else s
                      for i, s in enumerate(shape))
        broadcast_shapes(self.shape, shape)
        return Fn.Expand.apply(self, shape=shape)

    def expand_as(self, other) -> Tensor:
        return self.expand(*other.shape)

    def flip(self, *dims, **kwargs) -> Tensor:
        """Reverse the order along ``dims`` (a composite: indexing with step -1)."""
        if "dims" in kwargs:  # torch.flip(x, dims=(0, 1))
            dims = (kwargs.pop("dims"),)
        if kwargs:
            raise TypeError(f"flip() got an unexpected keyword argument {next(iter(kwargs))!r}")
        dims = _norm_axes(_shape_arg(dims), self.ndim) or ()
        key = tuple(slice(None, None, -1) if d in dims else slice(None)
                    for d in range(self.ndim))
        return self[key] if dims else self

    def roll(self, shifts, dims=None) -> Tensor:
        """Shift elements along ``dims`` cyclically (a composite of slices and cat)."""
        if dims is None:
            return self.flatten().roll(shifts, 0).reshape(*self.shape)
        shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
        dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
        if len(shifts) != len(dims):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
        out = self
        for sh, d in zip(shifts, dims):
            d = _norm_axes(d, self.ndim)[0]
            n = self.shape[d]
            k = int(sh) % n if n else 0
            if k:
                lead = (slice(None),) * d
                out = cat([out[lead + (slice(n - k, n),)], out[lead + (slice(0, n - k),)]], d)
        return out

    def repeat(self, *sizes) -> Tensor:
        """Tile the tensor ``sizes`` times along each dim (torch.repeat): a composite of
        reshape, expand and reshape."""
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor with {self.ndim} dims")
        x = self.reshape(*((1,) * (len(sizes) - self.ndim) + self.shape))
        inter = []
        for s_ in x.shape:
            inter += [1, s_]
        x = x.reshape(*inter)
        big = []
        for r, s_ in zip(sizes, x.shape[1::2]):
            big += [r, s_]
        return x.expand(*big).reshape(*[r * s_ for r, s_ in zip(sizes, x.shape[1::2])])

    def split(self, split_size_or_sections, dim: int = 0):
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
        given sizes (torch.split)."""
        d = _norm_axes(dim, self.ndim)[0]
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(v) for v in split_size_or_sections]
            if sum(sizes) != n:
                raise ShapeError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of "
                                 f"shape {self.shape})")
        out, start, lead = [], 0, (slice(None),) * d
        for size in sizes:
            out.append(self[lead + (slice(start, start + size),)])
            start += size
        return tuple(out)

    def chunk(self, chunks: int, dim: int = 0):
        """``chunks`` nearly equal pieces along ``dim`` (torch.chunk)."""
        n = self.shape[_norm_axes(dim, self.ndim)[0]]
        return self.split(max(-(-n // int(chunks)), 1), dim)

    def unbind(self, dim: int = 0):
        """The slices along ``dim``, that dim removed."""
        d = _norm_axes(dim, self.ndim)[0]
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def _triangle(self, k, upper):
        if self.ndim < 2:
            raise ValueError(f"{'triu' if upper else 'tril'} needs at least 2 dims, got shape "
                             f"{self.shape}")
        r, c = self.shape[-2:]
        keep = np.arange(c)[None, :] - np.arange(r)[:, None]
        keep = keep >= k if upper else keep <= k
        return where(keep, self, 0.0)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle (the rest 0) of the last two dims."""
        return self._triangle(diagonal, False)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle (the rest 0) of the last two dims."""
        return self._triangle(diagonal, True)

    def masked_fill(self, mask, value) -> Tensor:
        """``value`` where ``mask`` is true, self elsewhere; the gradient flows where kept."""
        return where(mask, value, self)

    def where(self, condition, other) -> Tensor:
        """``self`` where ``condition`` else ``other`` (torch's method form)."""
        return where(condition, self, other)

    def __setitem__(self, key, value) -> None:
        """``x[key] = value`` in place, as torch allows: on tensors that are not leaves requiring
        gradients. A graph that used the old values refuses its backward afterwards."""
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError("a leaf tensor that requires grad is being used in an in-place "
                               "operation (x[...] = v): wrap it in minigrad.no_grad() or use "
                               "x.detach()")
        key = _check_index(self, key)
        if is_grad_enabled() and (self.requires_grad or (isinstance(value, Tensor)
                                                         and value.requires_grad)):
            self._inplace(lambda old: _index_put(old, key, value))
            return
        v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        host = np.array(self.numpy())
        try:
            host[key] = v
        except ValueError as e:
            raise ShapeError(f"cannot assign a value of shape {np.shape(v)} to x[{key!r}] of a "
                             f"tensor of shape {self.shape}: {e}") from None
        self.data = self.backend.asarray(host)
        mark_modified(self)

    def index_select(self, dim: int, index) -> Tensor:
        """The entries at ``index`` (1-D, integer) along ``dim``."""
        d = _norm_axes(dim, max(self.ndim, 1))[0]
        idx = np.asarray(index.numpy() if isinstance(index, Tensor) else index)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise _scans.DTypeError(f"index_select: index must be a 1-D integer tensor, got shape "
                            f"{idx.shape} dtype {idx.dtype}")
        return self[(slice(None),) * d + (idx,)]

    def masked_select(self, mask) -> Tensor:
        """The entries where ``mask`` (broadcast to self's shape) is true, as a 1-D tensor."""
        m = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask, dtype=bool)
        return self[np.broadcast_to(m, self.shape)]

    def nonzero(self, as_tuple: bool = False):
        """The indices of the nonzero entries: (n, ndim) int64, or a tuple of 1-D index
        tensors."""
        idx = np.nonzero(self.numpy())
        if as_tuple:
            return tuple(Tensor(i.astype(np.int64), device=self.device) for i in idx)
        return Tensor(np.stack(idx, 1).astype(np.int64).reshape(-1, self.ndim),
                      device=self.device)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal of two dims, appended as the last dim (a composite: indexing)."""
        d1, d2 = _norm_axes(dim1, self.ndim)[0], _norm_axes(dim2, self.ndim)[0]
        if d1 == d2:
            raise ValueError("diagonal: dim1 and dim2 must differ")
        x = self.permute(*[d for d in range(self.ndim) if d not in (d1, d2)], d1, d2)
        n1, n2 = x.shape[-2:]
        i = np.arange(max(0, -offset), min(n1, n2 - offset)) if n1 and n2 else np.arange(0)
        return x[(Ellipsis, i, i + offset)]

    def diag(self, diagonal: int = 0) -> Tensor:
        """1-D: a square matrix with this diagonal; 2-D: the diagonal (torch.diag)."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise ValueError(f"diag needs a 1-D or 2-D tensor, got shape {self.shape}")
        n = self.shape[0] + abs(diagonal)
        rows = np.arange(self.shape[0]) + max(0, -diagonal)
        cols = np.arange(self.shape[0]) + max(0, diagonal)
        onehot = np.zeros((self.shape[0], n * n), dtype=self.dtype)
        onehot[np.arange(self.shape[0]), rows * n + cols] = 1
        eye_ = Tensor(onehot, device=self.device)
        return (self.unsqueeze(1) * eye_).sum(0).reshape(n, n)

    def unflatten(self, dim: int, sizes) -> Tensor:
        d = _norm_axes(dim, self.ndim)[0]
        return self.reshape(*self.shape[:d], *tuple(sizes), *self.shape[d + 1:])

    def __getitem__(self, key) -> Tensor:
        """Indexing and slicing with ints, slices, None, ..., integer and boolean arrays; on
        every device. The index is validated against the shape and copied (changing the
        caller's index array afterwards cannot move the gradient). Result shapes are torch's:
        integers are applied before the integer arrays (numpy counts them among the arrays,
        so ``x[0, :, [0, 2]]`` of a (2, 3, 4) tensor is (3, 2) here and in torch, (2, 3) in
        numpy)."""
        key = _check_index(self, key)
        first, rest = _split_int_index(key)
        if first is not None:
            return Fn.Index.apply(Fn.Index.apply(self, key=first), key=rest)
        return Fn.Index.apply(self, key=key)

    # ---- softmax -----------------------------------------------------------------------------

    def softmax(self, dim: int = -1) -> Tensor:
        """e^x / sum e^x over ``dim``, stable for any logit size."""
        if self.ndim == 0:  # one element: probability 1
            return self * 0.0 + 1.0
        _float_only(self, "softmax")
        return Fn.Softmax.apply(self, dim=_norm_axes(dim, self.ndim)[0])

    def log_softmax(self, dim: int = -1) -> Tensor:
        """x - log sum e^x over ``dim``, stable for any logit size."""
        if self.ndim == 0:
            return self * 0.0
        _float_only(self, "log_softmax")
        return Fn.LogSoftmax.apply(self, dim=_norm_axes(dim, self.ndim)[0])

    # ---- Python protocol ---------------------------------------------------------------------

    def __repr__(self) -> str:
        arr = self.numpy()
        body = np.array2string(arr, separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.dtype != _DEFAULT_FLOAT:
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={type(self._ctx).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise ShapeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)


# ---- argument checks shared by the methods -------------------------------------------------------


def _index_put(x: Tensor, key, value) -> Tensor:
    """``x`` with ``value`` at ``x[key]``, out of place and differentiable in both (a composite:
    where over a mask, the value brought to its places by indexing)."""
    mask = np.zeros(x.shape, dtype=bool)
    mask[key] = True
    if isinstance(value, Tensor) and value.requires_grad:
        region = np.broadcast_to(np.False_, x.shape)[key].shape
        flat = value.to(dtype=x.dtype).expand(*region).reshape(-1) if region else \
            value.to(dtype=x.dtype).reshape(-1)
        n = flat.shape[0]
        pos = np.full(x.shape, n, dtype=np.int64)   # n: the appended zero
        pos[key] = np.arange(n).reshape(region)
        placed = cat([flat, zeros(1, dtype=x.dtype, device=x.device)])[pos]
    else:
        v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
        host = np.zeros(x.shape, dtype=x.dtype)
        host[key] = v
        placed = Tensor(host, device=x.device)
    return where(Tensor(mask, device=x.device), placed, x)


def _split_int_index(key):
    """(ints-only key, the rest) when ``key`` mixes integers with integer/bool arrays (torch
    applies the integers first), else (None, key)."""
    if not isinstance(key, tuple):
        return None, key
    def is_int(k):
        return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))
    def is_array(k):
        return isinstance(k, np.ndarray) and k.ndim > 0
    if not any(is_int(k) for k in key) or not any(is_array(k) for k in key):
        return None, key
    first = []
    for k in key:
        if k is None:
            continue
        if is_int(k) or k is Ellipsis:
            first.append(k)
        else:   # a slice or an array keeps its dims for the second step (a mask: all of them)
            first.extend([slice(None)] * (k.ndim if is_array(k) and k.dtype == bool else 1))
    return tuple(first), tuple(k for k in key if not is_int(k))


def _correction(unbiased, correction) -> int:
    """torch's two spellings: ``unbiased`` (a bool; the old one) or ``correction`` (default 1)."""
    if isinstance(unbiased, bool):
        return int(unbiased) if correction is None else correction
    if unbiased is not None:      # var(dim, 0): torch reads a number there as the correction
        return unbiased
    return 1 if correction is None else correction


def _zero_dim_to(t: Tensor, device: str) -> Tensor:
    """A 0-d CPU tensor goes with tensors of any device (torch treats it as a number)."""
    return t.to(device) if t.ndim == 0 and t.device == "cpu" else t


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt(s) with gradient 0 where s == 0 (torch's norm and std: no 0 * inf = NaN)."""
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s).sqrt())


class _Device(str):
    """A device name with torch.device's ``type`` ("opencl:1".type is "opencl")."""

    @property
    def type(self) -> str:  # noqa: A003 - torch's name
        return self.split(":", 1)[0]


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


class _EmptyReduction(ShapeError, IndexError):
    """A reduction with no elements and no identity (max, argmax): torch raises RuntimeError or
    IndexError; this is both (and a ValueError)."""


def _no_int_zero_division(other, name: str) -> None:
    """Integer division by zero raises, as torch ("ZeroDivisionError")."""
    zero = other == 0 if not isinstance(other, Tensor) else bool((other == 0).any())
    if zero:
        raise _scans.ArgumentError(f"{name}: integer division by zero (ZeroDivisionError)")


def _both_int(a: Tensor, b) -> bool:
    """Both operands integers (tensors of an integer or bool dtype, or Python ints)."""
    kind = b.dtype.kind if isinstance(b, Tensor) else ("i" if isinstance(b, int) else "f")
    return a.dtype.kind in "iub" and kind in "iub"


def _is_device(d) -> bool:
    """A device name ("cpu", "opencl:1"), as opposed to a dtype."""
    return isinstance(d, str) and d.split(":", 1)[0] in backends._MODULES


def _operand(x, like: Tensor):
    """Numbers stay Python numbers (constants, no graph node); arrays become constant Tensors."""
    if isinstance(x, Tensor):
        return x
    if type(x) is float or type(x) is int:
        return x  # a Python number does not widen the tensor's dtype (int stays int)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x) if isinstance(x, float) else int(x)
    if isinstance(x, (np.ndarray, list, tuple, np.generic)):
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError("cannot mix a Tensor with an object array (Scalars)")
        if arr.dtype.kind == "f":
            arr = arr.astype(like.dtype) if like.dtype.kind == "f" else arr
        return Tensor(arr, device=like.device)
    if isinstance(x, bool):  # a Python bool takes the tensor's kind (int * True stays int)
        return float(x) if like.dtype.kind == "f" else (np.bool_(x) if like.dtype.kind == "b"
                                                        else int(x))
    raise TypeError(f"unsupported operand type {type(x).__name__} for a Tensor operation")


def _float_only(t: Tensor, name: str) -> None:
    if t.dtype not in _FLOATS:  # float16 too: the kernels compute in float32 or float64
        raise TypeError(f"{name} needs a float32 or float64 tensor, got dtype {t.dtype} "
                        f"(convert with .float())")
    if t.ndim == 0:
        raise ValueError(f"{name} needs at least one dimension")


def _check_index(t: Tensor, key):
    """A validated copy of ``key``: Tensors and lists become numpy arrays of our own."""
    def own(i):
        if isinstance(i, Tensor):
            return np.array(i.numpy())
        if isinstance(i, (list, np.ndarray)):
            return np.array(i)
        return i
    key = tuple(own(i) for i in key) if isinstance(key, tuple) else own(key)
    try:  # numpy validates ints, slices and arrays against the shape and names the problem;
        # a zero-stride view of the shape costs no memory, however large the tensor
        np.broadcast_to(np.False_, t.shape)[key]
    except IndexError as e:
        raise IndexError(f"index {key!r} for a tensor of shape {t.shape}: {e}") from None
    return key


# ---- free functions ------------------------------------------------------------------------------


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
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * for scaling")
    integers = a.dtype.kind in "iub" and b.dtype.kind in "iub"  # exact, no gradient to carry
    if not integers and (a.dtype not in _GRAD_FLOATS or b.dtype not in _GRAD_FLOATS):
        raise TypeError(f"matmul needs float tensors, got {a.dtype} and {b.dtype}")
    if a.dtype != b.dtype:  # float16 with float32: float32, int32 with int64: int64 (torch)
        dt = np.promote_types(a.dtype, b.dtype)
        a, b = a.to(dtype=dt), b.to(dtype=dt)
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last "
                         f"dim of the first) != {kb} (first matrix dim of the second)")
    if a.ndim > 2 or b.ndim > 2:
        try:
            broadcast_shapes(a.shape[:-2], b.shape[:-2] if b.ndim >= 2 else ())
        except ValueError:
            raise ShapeError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} cannot "
                             f"be broadcast together") from None
    if b.backend is not a.backend:
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


def apply_rule(rule, *args) -> Tensor:
    """Run a rule of the rule book (a Rule or its name) on tensors and numbers; at least one
    argument is a Tensor, and all tensors are on one device.

    >>> import minigrad
    >>> apply_rule("maximum", 2.0, minigrad.tensor([1.0, 5.0])).tolist()
    [2.0, 5.0]
    """
    rule = rules.get(rule) if isinstance(rule, str) else rule
    if len(args) != rule.arity:
        raise TypeError(f"{rule.name} takes {rule.arity} input{'s' * (rule.arity > 1)}, "
                        f"got {len(args)}")
    head = next((a for a in args if isinstance(a, Tensor)), None)
    if head is None:
        raise TypeError(f"{rule.name}: at least one input must be a Tensor")
    xs = [a if isinstance(a, Tensor) else _operand(a, head) for a in args]
    devices = {a.device for a in xs if isinstance(a, Tensor)}
    if len(devices) > 1 and any(isinstance(a, Tensor) and a.ndim for a in xs):
        home = next(a.device for a in xs if isinstance(a, Tensor) and a.ndim)
        xs = [_zero_dim_to(a, home) if isinstance(a, Tensor) else a for a in xs]
        head = next(a for a in xs if isinstance(a, Tensor))
    for a in xs:
        if isinstance(a, Tensor) and a.backend is not head.backend:
            raise ValueError(f"{rule.name}: tensors on different devices ({head.device} and "
                             f"{a.device}); move them with .to(device)")
    return Fn.Elementwise.apply(*xs, rule=rule)


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids of 1-D tensors (torch.meshgrid; ``indexing`` "ij" or "xy"): composites of
    reshape and expand, so gradients flow back to the inputs."""
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim != 1 for t in ts):
        raise ValueError("meshgrid: every input must be 1-D")
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = [t.reshape(*[-1 if k == i else 1 for k in range(len(ts))]).expand(*shape)
           for i, t in enumerate(ts)]
    if indexing == "xy" and len(ts) >= 2:   # "xy": the first two swapped, grids swapped back
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def var_mean(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False):
    """``(var, mean)`` over ``dim`` (torch.var_mean)."""
    return x.var_mean(dim, correction=correction, keepdim=keepdim)


def std_mean(x: Tensor, dim=None, correction: int = 1, keepdim: bool = False):
    """``(std, mean)`` over ``dim`` (torch.std_mean)."""
    return x.std_mean(dim, correction=correction, keepdim=keepdim)


def maximum(a: Tensor, b) -> Tensor:
    """Elementwise max of two tensors (broadcasting); ties split the gradient."""
    return a.maximum(b)


def minimum(a: Tensor, b) -> Tensor:
    """Elementwise min of two tensors (broadcasting); ties split the gradient."""
    return a.minimum(b)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (on every device)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    ref = tensors[0]
    if any(t.ndim == 0 for t in tensors):
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    d = _norm_axes(dim, ref.ndim)[0]
    for t in tensors[1:]:
        if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if i != d):
            raise ShapeError(f"cat along dim {dim}: shapes {ref.shape} and {t.shape} differ "
                             f"outside that dim")
    dt = _result_type(*tensors)
    if any(t.dtype != dt for t in tensors):  # torch promotes (int32 with int64: int64)
        tensors = [t.to(dtype=dt) for t in tensors]
    return Fn.Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equal-shape tensors along a new dim: a composite, cat of the unsqueezed tensors."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: shapes {tensors[0].shape} and {t.shape} differ")
    nd = tensors[0].ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"stack: dim {dim} out of range for a result with {nd} dims")
    return cat([t.unsqueeze(dim % nd) for t in tensors], dim % nd)


def where(cond, a=None, b=None) -> Tensor:
    """Elementwise ``a if cond else b`` (broadcasting); gradients flow to a and b. ``a`` and
    ``b`` may be Python numbers; ``where(cond)`` alone is ``cond.nonzero(as_tuple=True)``.

    >>> import minigrad
    >>> minigrad.where(minigrad.tensor([True, False]), 1.0, 0.0).tolist()
    [1.0, 0.0]
    """
    if a is None and b is None:
        return cond.nonzero(as_tuple=True)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.device != b.device:
        a, b = _zero_dim_to(a, b.device), _zero_dim_to(b, a.device)   # torch: a 0-d CPU tensor
    like = b if isinstance(b, Tensor) and (b.ndim or not isinstance(a, Tensor)) else a
    if not isinstance(like, Tensor):  # where(cond, 1.0, 0.0): on cond's device
        device = cond.device if isinstance(cond, Tensor) else "cpu"
        dt = _result_type(a, b)
        a, b = (Tensor(np.asarray(v, dtype=dt), device=device) for v in (a, b))
        like = a
    dt = _result_type(a, b)
    # Python numbers take the tensors' dtype; tensors are promoted as torch (0-d ones weakly)
    a, b = (v.to(dtype=dt) if isinstance(v, Tensor) else
            Tensor(np.asarray(v, dtype=dt), device=like.device) for v in (a, b))
    c = cond.numpy() if isinstance(cond, Tensor) else np.asarray(cond)
    shape = broadcast_shapes(c.shape, a.shape, b.shape)
    # the condition as a 0/1 array of the values' dtype, on their device (a constant input)
    c = like.backend.asarray(np.array(np.broadcast_to(c != 0, shape), dtype=dt, order="C"))
    return Fn.Where.apply(c, a, b)


def _result_type(*xs) -> np.dtype:
    """torch.result_type: tensors with dims first, then 0-d tensors, then Python numbers; a
    lower-priority operand counts only when its kind (bool < int < float) is higher."""
    def kind(d):
        return {"b": 0, "i": 1, "u": 1, "f": 2}[np.dtype(d).kind]

    def highest(dts):  # int64 with float32 is float32 in torch (float64 in numpy)
        top = max(kind(d) for d in dts)
        return np.result_type(*[d for d in dts if kind(d) == top])
    tiers = ([x.dtype for x in xs if isinstance(x, Tensor) and x.ndim],
             [x.dtype for x in xs if isinstance(x, Tensor) and not x.ndim],
             [max((np.dtype(bool) if isinstance(x, bool) else np.dtype(np.int64)
                   if isinstance(x, int) else _DEFAULT_FLOAT
                   for x in xs if not isinstance(x, Tensor)), key=kind, default=None)])
    out = None
    for tier in tiers:
        if not tier or tier[0] is None:
            continue
        t = highest(tier)
        if out is None or kind(t) > kind(out):
            out = t
    return out


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """numpy's broadcasting rule, with an error that names the shapes."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError("shapes " + ", ".join(str(tuple(s)) for s in shapes)
                         + " cannot be broadcast together") from None


# ---- factories -----------------------------------------------------------------------------------

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed minigrad's random number generator (randn, rand, init, dropout)."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    return _rng


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape)


def tensor(data, requires_grad: bool = False, dtype=None, device: str = "cpu") -> Tensor:
    """Make a Tensor (float32 by default for real data, int64 for integers), like torch.tensor.

    >>> import minigrad
    >>> minigrad.tensor([[1, 2]]).dtype, minigrad.tensor(1.5).shape
    (dtype('int64'), ())
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def from_numpy(a: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor with the numpy array's dtype (shares memory on the CPU)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy array, got {type(a).__name__}")
    t = Tensor(np.zeros(0, dtype=a.dtype), requires_grad=False, dtype=a.dtype)
    t.data = a
    return t.requires_grad_(requires_grad) if requires_grad else t


def zeros(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype or _DEFAULT_FLOAT), requires_grad,
                  device=device)


def ones(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype or _DEFAULT_FLOAT), requires_grad,
                  device=device)


def _value_dtype(value):
    """PyTorch's default dtype for a fill value: bool, int64 or float32."""
    if isinstance(value, (bool, np.bool_)):
        return np.bool_
    if isinstance(value, (int, np.integer)):
        return np.int64
    return _DEFAULT_FLOAT


def full(shape, value, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor of ``value``; its dtype follows the value as in torch (``full((2, 3), 4)`` is
    int64)."""
    shape = _shape(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))
    return Tensor(np.full(shape, value, dtype=dtype or _value_dtype(value)), requires_grad,
                  device=device)


def full_like(t: Tensor, value, dtype=None, requires_grad=False) -> Tensor:
    return full(t.shape, value, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=t.device)


def empty(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor of the shape (zeros here: minigrad does not hand out uninitialised memory)."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad, device=device)


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype or _DEFAULT_FLOAT), requires_grad, device=device)


def linspace(start, end, steps: int, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.linspace(start, end, int(steps), dtype=np.float64).astype(
        dtype or _DEFAULT_FLOAT), requires_grad, device=device)


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, requires_grad=False,
             device="cpu") -> Tensor:
    return Tensor(np.logspace(start, end, int(steps), base=base).astype(dtype or _DEFAULT_FLOAT),
                  requires_grad, device=device)


def rand_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def randn_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def randint(low, high=None, size=(), dtype=None, device="cpu") -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` with low = 0), int64 by default."""
    if high is None or isinstance(high, (tuple, list)):
        low, high, size = 0, low, size if high is None else high
    return Tensor(_rng.integers(low, high, size=tuple(size)).astype(dtype or np.int64),
                  device=device)


def randperm(n: int, dtype=None, device="cpu") -> Tensor:
    return Tensor(_rng.permutation(int(n)).astype(dtype or np.int64), device=device)


def zeros_like(t: Tensor, requires_grad=False, dtype=None, device=None) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                 device=device or t.device)


def ones_like(t: Tensor, requires_grad=False, dtype=None, device=None) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=device or t.device)


def concat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """torch.concat, the other name of :func:`cat`."""
    return cat(tensors, dim)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 0, 1-D tensors as rows."""
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


# Module-level functions of torch that are not a method of their first tensor (minigrad's
# __getattr__ makes the methods functions: torch.exp(x) is x.exp())
TORCH_FUNCTIONS = ("concat", "hstack", "vstack", "empty_like", "as_tensor", "is_tensor")


def empty_like(t: Tensor, requires_grad=False, dtype=None, device=None) -> Tensor:
    """A tensor of t's shape (minigrad fills it with zeros)."""
    return zeros_like(t, requires_grad, dtype, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor: a Tensor itself when it already has the dtype and device."""
    if isinstance(data, Tensor):
        return data.to(device, dtype)
    return tensor(data, dtype=dtype, device=device or "cpu")


def randn(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """Standard normal samples from minigrad's generator (see manual_seed)."""
    a = _rng.standard_normal(_shape(shape)).astype(dtype or _DEFAULT_FLOAT)
    return Tensor(a, requires_grad, device=device)


def rand(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """Uniform samples in [0, 1) from minigrad's generator."""
    a = _rng.random(_shape(shape)).astype(dtype or _DEFAULT_FLOAT)
    return Tensor(a, requires_grad, device=device)


def arange(start, end=None, step=1, dtype=None, device="cpu") -> Tensor:
    if end is None:
        start, end = 0, start
    a = np.arange(start, end, step)
    if dtype is None:
        dtype = np.int64 if a.dtype.kind in "iu" else _DEFAULT_FLOAT
    return Tensor(a, dtype=dtype, device=device)
