"""The tensor engine's core: :class:`Tensor`, :class:`Function`, and backpropagation.

A Function (``functions.py``) has a ``forward`` that computes outputs from input arrays and a
``backward`` that receives the gradient of the loss over its output and returns the gradient over
each input, never a Jacobian (the lecture's "tensor backpropagation"). A Tensor made by a Function
keeps that Function (its ``_ctx``), which keeps the input Tensors: that is the whole graph.

Arrays live on a *backend* (``cpu``: numpy + Cython; ``opencl``: device buffers); Functions call
the backend's functions (docs/backend_protocol.md), so the same forward/backward serves both.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

import numpy as np

from . import cpu as _cpu_backend

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "grad", True)


@contextlib.contextmanager
def no_grad():
    """Within this block, operations record no graph (for evaluation and optimizer updates).

    >>> import minigrad
    >>> w = minigrad.ones(2, requires_grad=True)
    >>> with minigrad.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    prev = is_grad_enabled()
    _state.grad = False
    try:
        yield
    finally:
        _state.grad = prev


@contextlib.contextmanager
def enable_grad():
    prev = is_grad_enabled()
    _state.grad = True
    try:
        yield
    finally:
        _state.grad = prev


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_DEFAULT_FLOAT = np.dtype(np.float32)


def _backend(device: str):
    if device in ("cpu", None):
        return _cpu_backend
    if device == "opencl" or (isinstance(device, str) and device.startswith("opencl")):
        from ..opencl import backend as ocl
        return ocl
    raise ValueError(f"unknown device {device!r}: use 'cpu' or 'opencl'")


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


class Tensor:
    """An n-dimensional array that records the operations applied to it, for backpropagation.

    >>> import minigrad
    >>> W = minigrad.tensor([[3.0, 4.0], [7.0, 1.0]], requires_grad=True)
    >>> f = minigrad.tensor([1.0, 2.0]); b = minigrad.tensor([0.5, 0.3])
    >>> c = W @ f + b          # the seed-004 2x2 layer
    >>> c.numpy().round(4).tolist()
    [11.5, 9.3]
    >>> c.sum().backward(); W.grad.numpy().tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_be", "_retain", "__weakref__")
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, device: str = "cpu"):
        be = _backend(device)
        arr = _to_array(data, dtype)
        src = data.data if isinstance(data, Tensor) else data
        if isinstance(src, np.ndarray) and np.may_share_memory(arr, src):
            # Like torch.tensor: a copy, so updating the tensor (an optimizer step) never
            # changes the caller's array or tensor. from_numpy() is the sharing constructor.
            arr = arr.copy()
        if requires_grad and arr.dtype not in _FLOATS:
            raise TypeError(f"only float tensors can require gradients, got dtype {arr.dtype}")
        self.data = arr if be is _cpu_backend else be.asarray(np.ascontiguousarray(arr))
        self.grad: Tensor | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._be = be
        self._retain = False

    @staticmethod
    def _make(data, be, requires_grad=False) -> Tensor:
        # The fast path for results of operations: no conversion, no checks.
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t._be = be
        t._retain = False
        return t

    # ---- properties ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return len(self.data.shape)

    @property
    def device(self) -> str:
        return self._be.name

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
        return self._be.to_numpy(self.data)

    def item(self) -> float | int:
        if self.numel() != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.numpy().reshape(-1)[0].item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor._make(self.data, self._be, False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.dtype not in _FLOATS:
            raise TypeError(f"only float tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (to look at it)."""
        self._retain = True

    def to(self, device: str | None = None, dtype=None) -> Tensor:
        """Copy to ``device`` ("cpu" or "opencl") and/or cast to ``dtype``; differentiable."""
        from . import functions as Fn
        t = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            t = Fn.Cast.apply(t, dtype=np.dtype(dtype))
        if device is not None and _backend(device) is not t._be:
            t = Fn.ToDevice.apply(t, be=_backend(device))
        return t

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def float(self) -> Tensor:
        return self.to(dtype=np.float32)

    def double(self) -> Tensor:
        return self.to(dtype=np.float64)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place (not recorded in the graph)."""
        self.data = self._be.zeros(self.shape, self.dtype)
        return self

    # ---- backpropagation -------------------------------------------------------------------

    def backward(self, gradient: Tensor | None = None) -> None:
        """Backpropagate from this tensor: add d self / d leaf into ``leaf.grad`` for every leaf
        that requires gradients. A non-scalar tensor needs ``gradient`` (d loss / d self)."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of "
                               "its graph has requires_grad=True (or it was made under no_grad)")
        be = self._be
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar (one element) tensor; this "
                    f"one has shape {self.shape}: pass gradient= (d loss / d this) of that shape")
            g = be.full(self.shape, 1.0, self.dtype)
        else:
            if isinstance(gradient, Tensor):
                if gradient._be is not be:
                    raise ValueError(f"gradient is on {gradient.device}, tensor on {self.device}")
                g = gradient.data
            else:
                g = be.asarray(np.asarray(gradient, dtype=self.dtype))
            if tuple(g.shape) != self.shape:
                raise ValueError(f"gradient shape {tuple(g.shape)} does not match the tensor's "
                                 f"shape {self.shape}")
        backprop(self, g)

    # Operators and methods are attached in ops.py (they need the Functions).

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
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)


def backprop(root: Tensor, g) -> None:
    """Reverse-mode sweep: topological order by an iterative DFS (no recursion limit), then each
    Function's backward; gradients reaching a tensor along several paths are summed (the
    multivariate chain rule)."""
    order: list[Tensor] = []
    # Mark a tensor when it is expanded, not when it is pushed: a tensor pushed early can be
    # reached again by a longer path (y = a + f(a)) and must then be finished after that path,
    # or the gradient from f(a) arrives after a has already passed its gradient on.
    expanded = set()
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in expanded:
            continue
        expanded.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is not None:
            for p in ctx.inputs:
                if isinstance(p, Tensor) and p.requires_grad and id(p) not in expanded:
                    stack.append((p, False))
    grads = {id(root): g}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        ctx = t._ctx
        if ctx is None or t._retain:
            _store_grad(t, g)
            if ctx is None:
                continue
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for p, pg in zip(ctx.inputs, in_grads):
            if pg is None or not isinstance(p, Tensor) or not p.requires_grad:
                continue
            prev = grads.get(id(p))
            # Sum over paths: the multivariate chain rule.
            grads[id(p)] = pg if prev is None else p._be.add(prev, pg)


def _store_grad(t: Tensor, g) -> None:
    be = t._be
    if tuple(g.shape) != t.shape:  # a Function returned a wrongly shaped gradient: a bug
        raise RuntimeError(f"internal error: gradient of shape {tuple(g.shape)} for a tensor of "
                           f"shape {t.shape} (from {type(t._ctx).__name__ if t._ctx else 'leaf'})")
    if t.grad is None:
        # Copy: g may be shared with another tensor's gradient (add passes it through). On the
        # CPU np.array also turns the numpy scalar that a ufunc returns for 0-d input into a 0-d
        # array, so that a second backward can accumulate into it in place.
        arr = np.array(g, dtype=t.dtype) if be is _cpu_backend else be.add(g, 0.0)
        t.grad = Tensor._make(arr, be)
    else:
        be.accumulate(t.grad.data, g)


class Function:
    """An operation: ``forward(*arrays, **kw) -> array`` and ``backward(grad) -> grads``.

    ``apply`` runs the forward on the inputs' arrays (Tensors; plain numbers pass through as
    constants) and, if any input requires gradients, links the result into the graph. Forward
    stores on ``self`` whatever its backward needs.
    """

    inputs: tuple

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs) -> Tensor:
        be = None
        arrays = []
        needs = False
        for t in inputs:
            if isinstance(t, Tensor):
                if be is None:
                    be = t._be
                elif t._be is not be:
                    raise ValueError(
                        f"{cls.__name__.lower()}: tensors on different devices ({be.name} and "
                        f"{t._be.name}); move them with .to(device) first")
                arrays.append(t.data)
                needs = needs or t.requires_grad
            else:
                arrays.append(t)
        ctx = cls.__new__(cls)
        ctx.be = be
        needs = needs and is_grad_enabled()
        ctx.needs_grad = needs
        out = ctx.forward(*arrays, **kwargs)
        # ctx.be, not be: a Function may move data to another backend (ToDevice).
        t = Tensor._make(out, ctx.be, needs)
        if needs:
            ctx.inputs = inputs
            t._ctx = ctx
        return t

    def needs_input_grad(self, i: int) -> bool:
        t = self.inputs[i]
        return isinstance(t, Tensor) and t.requires_grad


# ---- factories ----------------------------------------------------------------------------------

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
    """Make a Tensor (float32 by default for real data, int64 for integers), like torch.tensor."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def from_numpy(a: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor with the numpy array's dtype (shares memory on the CPU)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy array, got {type(a).__name__}")
    t = Tensor(a[:0].reshape(0) if a.size else a, requires_grad=False, dtype=a.dtype)
    t.data = a
    return t.requires_grad_(requires_grad) if requires_grad else t


def zeros(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype or _DEFAULT_FLOAT), requires_grad,
                  device=device)


def ones(*shape, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype or _DEFAULT_FLOAT), requires_grad,
                  device=device)


def full(shape, value, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    return Tensor(np.full(_shape((shape,)), value, dtype=dtype or _DEFAULT_FLOAT),
                  requires_grad, device=device)


def zeros_like(t: Tensor, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t: Tensor, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=t.dtype, requires_grad=requires_grad, device=t.device)


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


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """numpy's broadcasting rule, with an error that names the shapes."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        raise ValueError("shapes " + ", ".join(str(tuple(s)) for s in shapes)
                         + " cannot be broadcast together") from None
