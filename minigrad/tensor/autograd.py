"""The graph machinery of the tensor engine: grad mode, :class:`Function`, and backpropagation.

A Function (``functions.py``) has a ``forward`` that computes an output array from input arrays
and a ``backward`` that receives the gradient of the loss over its output and returns the
gradient over each input, never a Jacobian (the lecture's "tensor backpropagation"). A tensor made
by a Function keeps that Function (its ``_ctx``), which keeps the input tensors: that is the
whole graph. Broadcasting is undone here, once, in :func:`backprop`: a backward may return a
gradient in the broadcast shape of its output and the sweep sums it back to the input's shape.

Functions see arrays and the tensors' backend only (``self.be``: the backend protocol); this
module knows :class:`TensorBase`, the part of a Tensor the graph needs.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

from ..rules import ADD  # the sum over paths is the add rule

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
    """Record the graph again inside a ``no_grad`` block."""
    prev = is_grad_enabled()
    _state.grad = True
    try:
        yield
    finally:
        _state.grad = prev


class set_grad_enabled:
    """Turn gradient recording on or off: at once when called (as torch), and back to the
    previous mode at the end of a ``with`` block."""

    def __init__(self, mode: bool):
        self.prev = is_grad_enabled()
        _state.grad = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad = self.prev


def inference_mode(mode: bool = True):
    """torch.inference_mode: here the same as ``no_grad`` (or ``enable_grad`` for False)."""
    return no_grad() if mode else enable_grad()


# Gradient hooks (Tensor.register_hook): id(tensor) -> functions of its gradient, run in
# backprop when the gradient is complete, before it is stored or passed on. Keyed by id (a
# Tensor's == is elementwise); the entry goes when the tensor does.
_HOOKS: dict = {}


def hooks_of(t) -> list:
    """The hook list of ``t``, made on first use."""
    hooks = _HOOKS.get(id(t))
    if hooks is None:
        hooks = _HOOKS[id(t)] = []
        weakref.finalize(t, _HOOKS.pop, id(t), None)
    return hooks


# In-place changes are stamped with a clock: a tensor's ``_version`` is the clock value of its
# last in-place change (an optimizer step, zero_(), load_state_dict), and a Function remembers
# the clock when it ran. A backward that finds an input changed after its Function ran raises,
# as PyTorch does, instead of computing a gradient from values that are no longer there.
_clock = 0


def mark_modified(t) -> None:
    """Record that ``t``'s values were changed in place (call after changing ``t.data``)."""
    global _clock
    _clock += 1
    t._version = _clock


class TensorBase:
    """What the graph needs of a tensor: its array, backend, gradient and the Function that made
    it. :class:`minigrad.Tensor` adds the user-facing API."""

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "backend", "_retain", "_version",
                 "__weakref__")

    @classmethod
    def _make(cls, data, backend, requires_grad=False):
        # The fast path for results of operations: no conversion, no checks.
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = None
        t.backend = backend
        t._retain = False
        t._version = 0
        return t

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


class Function:
    """An operation: ``forward(*arrays, **kw) -> array`` and ``backward(g) -> grads``.

    ``apply`` runs the forward on the inputs' arrays (tensors; anything else passes through as a
    constant) and, if any input requires gradients, links the result into the graph. Forward
    stores on ``self`` whatever its backward needs; ``self.be`` is the inputs' backend.
    """

    inputs: tuple

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        be = None
        tcls = None
        arrays = []
        needs = False
        for t in inputs:
            if isinstance(t, TensorBase):
                if be is None:
                    be, tcls = t.backend, type(t)
                elif t.backend is not be:
                    raise ValueError(
                        f"{cls.__name__.lower()}: tensors on different devices ({be.name} and "
                        f"{t.backend.name}); move them with .to(device) first")
                arrays.append(t.data)
                needs = needs or t.requires_grad
            else:
                arrays.append(t)
        ctx = cls.__new__(cls)
        ctx.be = be
        ctx.clock = _clock
        needs = needs and is_grad_enabled()
        ctx.needs_grad = needs
        out = ctx.forward(*arrays, **kwargs)
        # ctx.be, not be: a Function may move data to another backend (ToDevice).
        t = tcls._make(out, ctx.be, needs)
        if needs:
            ctx.inputs = inputs
            t._ctx = ctx
        return t

    def needs_input_grad(self, i: int) -> bool:
        t = self.inputs[i]
        return isinstance(t, TensorBase) and t.requires_grad


def backprop(root: TensorBase, g, retain_graph: bool = True, capture=None) -> None:
    """Reverse-mode sweep: topological order by an iterative DFS (no recursion limit), then each
    Function's backward; gradients reaching a tensor along several paths are summed (the
    multivariate chain rule), and a gradient in a broadcast shape is summed back to the input's
    shape (the input was used at every broadcast position).

    ``retain_graph=False`` marks the graph's Functions as used, so that a second backward through
    them raises (PyTorch's rule). ``capture``: a dict {id(tensor): None} of tensors whose
    gradients are wanted (``autograd.grad``); they are returned in it, and no ``.grad`` is
    touched."""
    order: list = []
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
                if isinstance(p, TensorBase) and p.requires_grad and id(p) not in expanded:
                    stack.append((p, False))
    grads = {id(root): g}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if _HOOKS and id(t) in _HOOKS:
            for hook in _HOOKS[id(t)]:
                r = hook(type(t)._make(g, t.backend))
                g = g if r is None else r.data
        ctx = t._ctx
        if capture is not None:
            if id(t) in capture:
                capture[id(t)] = g
            if ctx is None:
                continue
        elif ctx is None or t._retain:
            _store_grad(t, g)
            if ctx is None:
                continue
        if getattr(ctx, "_freed", False):
            raise RuntimeError(
                f"backward through {type(ctx).__name__} a second time: its graph was used by a "
                f"backward already; pass retain_graph=True to the first backward() to keep it")
        for p in ctx.inputs:
            if isinstance(p, TensorBase) and p._version > ctx.clock:
                raise RuntimeError(
                    f"a tensor of shape {p.shape} that {type(ctx).__name__} used was modified in "
                    f"place (an optimizer step, zero_(), load_state_dict, ...) after the forward "
                    f"pass: its gradient would be computed from the new values. Run the forward "
                    f"again after modifying it (optimizer.step() after loss.backward()).")
        in_grads = ctx.backward(g)
        if not retain_graph:
            ctx._freed = True
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for p, pg in zip(ctx.inputs, in_grads):
            if pg is None or not isinstance(p, TensorBase) or not p.requires_grad:
                continue
            shape = p.data.shape
            if pg.shape != shape:
                pg = p.backend.sum_to(pg, tuple(shape))
            prev = grads.get(id(p))
            # Sum over paths: the multivariate chain rule.
            grads[id(p)] = pg if prev is None else p.backend.elementwise(ADD, prev, pg)


def _store_grad(t: TensorBase, g) -> None:
    be = t.backend
    if tuple(g.shape) != t.shape:  # a Function returned a wrongly shaped gradient: a bug
        raise RuntimeError(f"internal error: gradient of shape {tuple(g.shape)} for a tensor of "
                           f"shape {t.shape} (from {type(t._ctx).__name__ if t._ctx else 'leaf'})")
    if t.grad is None:
        # A copy: g may be shared with another tensor's gradient (add passes it through), and
        # it must be an array the next backward can accumulate into in place.
        t.grad = type(t)._make(be.astype(g, t.data.dtype), be)
    else:
        be.accumulate(t.grad.data, g)

