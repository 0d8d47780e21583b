"""PyTorch's autograd API: custom Functions with a forward and a backward of your own, and
``grad`` for the gradients of outputs with respect to chosen inputs.

A custom Function is written with Tensor operations, so it runs on every device and, in
``assert_engines_agree``, next to the other engines:

>>> import minigrad
>>> from minigrad import autograd
>>> class Cube(autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x * x
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return g * 3 * x * x
>>> x = minigrad.tensor([1.0, 2.0], requires_grad=True)
>>> Cube.apply(x).sum().backward()
>>> x.grad.tolist()
[3.0, 12.0]
>>> autograd.grad((x * x).sum(), x)[0].tolist()
[2.0, 4.0]

The forward runs without recording a graph (its inside is yours to differentiate); the backward
receives d loss / d output and returns one gradient per input of ``forward`` (None for inputs
that are not tensors or need none). minigrad checks what it returns: the number of gradients, and
each one's shape against its input's, naming the Function and the input.
"""

from __future__ import annotations

from collections.abc import Sequence

from .rules import ADD
from .tensor.autograd import Function as _EngineFunction
from .tensor.autograd import TensorBase, backprop, enable_grad, is_grad_enabled, no_grad
from .tensor.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "grad", "no_grad", "enable_grad", "is_grad_enabled"]


class FunctionCtx:
    """What a custom Function's forward leaves for its backward."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for the backward: ``ctx.saved_tensors``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor) and not (
                    hasattr(t, "dtype") and t.dtype == object):   # arrays of Scalars pass
                raise TypeError(f"save_for_backward takes tensors or None, got "
                                f"{type(t).__name__}; keep other values as ctx attributes")
        self.saved_tensors = tuple(tensors)


class _Custom(_EngineFunction):
    """The engine's node for a user Function: arrays in, arrays out, the user's code between."""

    def forward(self, *arrays, fn=None, ctx=None, out=None):
        self.fn, self.ctx = fn, ctx
        return out.data

    def backward(self, g):
        name = self.fn.__name__
        gt = Tensor._make(g, self.be)
        with no_grad():
            grads = self.fn.backward(self.ctx, gt)
        if not isinstance(grads, tuple):
            grads = (grads,)
        n = len(self.inputs)
        if len(grads) != n:
            raise RuntimeError(f"{name}.backward returned {len(grads)} gradient(s), but forward "
                               f"took {n} input(s): return one per input (None where none)")
        out = []
        for i, (x, gx) in enumerate(zip(self.inputs, grads)):
            needs = isinstance(x, TensorBase) and x.requires_grad
            if gx is None:
                if needs:
                    raise RuntimeError(f"{name}.backward returned None for input {i}, which "
                                       f"requires a gradient (shape {x.shape})")
                out.append(None)
                continue
            if not needs:
                out.append(None)
                continue
            if not isinstance(gx, Tensor):
                raise TypeError(f"{name}.backward returned a {type(gx).__name__} for input {i}; "
                                f"gradients are Tensors")
            if gx.shape != x.shape:
                raise RuntimeError(f"{name}.backward returned a gradient of shape {gx.shape} for "
                                   f"input {i} of shape {x.shape}")
            if gx.backend is not x.backend:
                raise RuntimeError(f"{name}.backward returned a gradient on {gx.device} for "
                                   f"input {i} on {x.device}")
            out.append(gx.data if gx.dtype == x.dtype else gx.to(dtype=x.dtype).data)
        return tuple(out)


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, grad_output)``;
    call ``YourFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        if not any(isinstance(a, Tensor) for a in args):
            # numpy arrays of Scalars (assert_engines_agree's scalar engine): the forward's own
            # operations build the scalar graph, and that engine differentiates them
            return cls.forward(ctx, *args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got "
                            f"{type(out).__name__}")
        if not (any(needs) and is_grad_enabled()):
            return out
        return _Custom.apply(*args, fn=cls, ctx=ctx, out=out)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False):
    """The gradients of ``outputs`` (summed, each weighted by its ``grad_outputs``) with respect
    to each of ``inputs``, returned as a tuple; no ``.grad`` is changed. First order only."""
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): minigrad computes first "
                                  "order gradients only")
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos: Sequence = [None] * len(outs)
    else:
        gos = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    total: dict = {}
    for k, (o, go) in enumerate(zip(outs, gos)):
        if not o.requires_grad:
            raise RuntimeError(f"grad: output {k} does not require grad (no input of its graph "
                               f"requires it)")
        if go is None:
            if o.numel() != 1:
                raise RuntimeError(f"grad: output {k} has shape {o.shape}; pass grad_outputs")
            g = o.backend.full(o.shape, 1.0, o.dtype)
        else:
            g = go.data if isinstance(go, Tensor) else o.backend.asarray(go)
        capture = {id(t): None for t in ins}
        last = k == len(outs) - 1
        backprop(o, g, retain_graph=bool(retain_graph) or not last, capture=capture)
        for t in ins:   # backprop hands each gradient over in its tensor's shape
            v = capture[id(t)]
            if v is not None:
                total[id(t)] = v if id(t) not in total else t.backend.elementwise(
                    ADD, total[id(t)], v)
    result = []
    for i, t in enumerate(ins):
        if id(t) not in total:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) is not used by the "
                                   f"outputs' graph; pass allow_unused=True to get None")
            result.append(None)
        else:
            result.append(Tensor._make(t.backend.astype(total[id(t)], t.dtype), t.backend))
    return tuple(result)

