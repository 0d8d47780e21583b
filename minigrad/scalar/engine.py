"""The scalar engine: every node of the computation graph holds one number.

A :class:`Scalar` remembers the module (:mod:`minigrad.scalar.ops`) that made it and its parents,
nothing else: no closures, so the graph has no reference cycles and Python frees it by reference
counting, without waiting for the garbage collector (micrograd's closures make every node a cycle,
and on graphs of 100k nodes its collector dominates the run time).

Backpropagation (:meth:`Scalar.backward`) walks the graph once in reverse topological order: each
node multiplies its gradient by the local derivative of its module and *adds* the product into each
parent. That addition is the multivariate chain rule: a node used on several paths receives the sum
of the gradients over all of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from . import ops as _ops

Number = int | float


class Scalar:
    """A scalar node: ``data`` (its value), ``grad`` (d root / d node after ``backward``) and
    ``label``.

    >>> x = Scalar(-4.499, label="x")
    >>> f = 2 / (-x).exp().sin()
    >>> round(f.data, 4)
    2.164
    >>> f.backward()
    >>> round(x.grad, 3)
    -80.393
    """

    __slots__ = ("data", "grad", "label", "_op", "_parents", "_k", "_g", "__weakref__")

    def __init__(self, value: Number, label: str | None = None):
        if isinstance(value, Scalar):
            value = value.data
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # numpy scalars are fine too: they are instances of neither, so try a float() cast.
            try:
                import numpy as np
                if isinstance(value, np.generic) and np.isrealobj(value) and not isinstance(
                        value, np.bool_):
                    value = float(value)
                else:
                    raise TypeError
            except TypeError:
                raise TypeError(
                    f"Scalar needs a real number, got {type(value).__name__} {value!r}") from None
        self.data = float(value)
        self.grad = 0.0
        self.label = label
        self._op = None
        self._parents: tuple[Scalar, ...] = ()
        self._k = None
        self._g = 0.0

    # ---- building the graph ----------------------------------------------------------------

    @staticmethod
    def _node(data: float, op, parents: tuple, k=None) -> Scalar:
        # Skips __init__'s checks: called only with a float the engine computed itself.
        s = Scalar.__new__(Scalar)
        s.data = data
        s.grad = 0.0
        s.label = None
        s._op = op
        s._parents = parents
        s._k = k
        s._g = 0.0
        return s

    def _binary(self, other, op, side: str) -> Scalar:
        if isinstance(other, Scalar):
            if side == "right":
                return Scalar._node(op.forward(self.data, other.data), op, (self, other))
            return Scalar._node(op.forward(other.data, self.data), op, (other, self))
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            try:
                other = float(other)  # numpy scalars
            except (TypeError, ValueError):
                return NotImplemented
        cop = _ops.const_op(op.name, side)
        return Scalar._node(cop.forward(self.data, float(other)), cop, (self,), float(other))

    def _unary(self, op) -> Scalar:
        return Scalar._node(op.forward(self.data), op, (self,))

    def apply(self, rule, *others) -> Scalar:
        """This node through any rule of the rule book (by name or :class:`~minigrad.rules.Rule`),
        with ``others`` as its further inputs (Scalars or numbers).

        >>> Scalar(3.0).apply("maximum", 5.0).data
        5.0
        """
        name = rule if isinstance(rule, str) else rule.name
        if not others:
            return self._unary(_ops.op(name))
        if len(others) == 1:
            return self._binary(others[0], _ops.op(name), "right")
        xs = (self,) + tuple(o if isinstance(o, Scalar) else Scalar(o) for o in others)
        op = _ops.op(name)
        return Scalar._node(op.forward(*(x.data for x in xs)), op, xs)

    def __add__(self, other):  # self + other
        return self._binary(other, _ops.ADD, "right")

    def __radd__(self, other):  # other + self
        return self._binary(other, _ops.ADD, "left")

    def __sub__(self, other):  # self - other
        return self._binary(other, _ops.SUB, "right")

    def __rsub__(self, other):  # other - self
        return self._binary(other, _ops.SUB, "left")

    def __mul__(self, other):  # self * other
        return self._binary(other, _ops.MUL, "right")

    def __rmul__(self, other):  # other * self
        return self._binary(other, _ops.MUL, "left")

    def __truediv__(self, other):  # self / other
        return self._binary(other, _ops.DIV, "right")

    def __rtruediv__(self, other):  # other / self
        return self._binary(other, _ops.DIV, "left")

    def __pow__(self, other):  # self ** other (number or Scalar exponent)
        return self._binary(other, _ops.POW, "right")

    def __rpow__(self, other):  # other ** self
        return self._binary(other, _ops.POW, "left")

    def __neg__(self):  # -self
        return self._unary(_ops.NEG)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._unary(_ops.ABS)

    # Named like numpy's ufuncs, so np.exp(array_of_Scalars) works on object arrays.
    def exp(self) -> Scalar:
        """e^x"""
        return self._unary(_ops.EXP)

    def log(self) -> Scalar:
        """ln x (x > 0)"""
        return self._unary(_ops.LOG)

    def sqrt(self) -> Scalar:
        """sqrt x (x >= 0)"""
        return self._unary(_ops.SQRT)

    def sin(self) -> Scalar:
        """sin x (radians)"""
        return self._unary(_ops.SIN)

    def cos(self) -> Scalar:
        """cos x (radians)"""
        return self._unary(_ops.COS)

    def tanh(self) -> Scalar:
        """tanh x"""
        return self._unary(_ops.TANH)

    def sigmoid(self) -> Scalar:
        """1 / (1 + e^-x)"""
        return self._unary(_ops.SIGMOID)

    def relu(self) -> Scalar:
        """max(0, x)"""
        return self._unary(_ops.RELU)

    def abs(self) -> Scalar:
        """|x|"""
        return self._unary(_ops.ABS)

    def neg(self) -> Scalar:
        """-x"""
        return self._unary(_ops.NEG)

    # Comparisons look at values only (they are not differentiable); they let max() and sorting
    # work. Equality stays identity, so nodes remain hashable graph vertices.
    def __lt__(self, other):
        return self.data < (other.data if isinstance(other, Scalar) else other)

    def __gt__(self, other):
        return self.data > (other.data if isinstance(other, Scalar) else other)

    def __le__(self, other):
        return self.data <= (other.data if isinstance(other, Scalar) else other)

    def __ge__(self, other):
        return self.data >= (other.data if isinstance(other, Scalar) else other)

    def __float__(self) -> float:
        return self.data

    # ---- the graph -------------------------------------------------------------------------

    @property
    def op(self) -> str | None:
        """The name of the module that produced this node (None for a leaf)."""
        return None if self._op is None else self._op.name

    @property
    def parents(self) -> tuple[Scalar, ...]:
        """The nodes this one was computed from."""
        return self._parents

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    def module(self, name=None) -> str:
        """The node's module written out, e.g. ``sin b`` or ``2 / c``; ``name(node)`` gives the
        inputs' names (default: their labels)."""
        if self._op is None:
            return "leaf"
        name = name or Scalar.name_for_display
        names = [name(p) for p in self._parents]
        op = self._op
        if isinstance(op, _ops.ConstOp):
            k, x = f"{self._k:g}", names[0]
            if op.infix:
                return f"{k} {op.symbol} {x}" if op.side == "left" else f"{x} {op.symbol} {k}"
            return f"{op.symbol}({k}, {x})" if op.side == "left" else f"{op.symbol}({x}, {k})"
        if op.infix:
            return f"{names[0]} {op.symbol} {names[1]}"
        if op.name == "neg":
            return f"-{names[0]}"
        if op.arity == 1:
            return f"{op.symbol} {names[0]}"
        return f"{op.symbol}({', '.join(names)})"

    def name_for_display(self) -> str:
        return self.label if self.label is not None else f"#{id(self) % 100000:05d}"

    def topo(self) -> list[Scalar]:
        """All nodes this one depends on, parents before children (iteratively: no recursion
        limit, a chain of millions of nodes is fine)."""
        order: list[Scalar] = []
        seen: set[int] = set()
        stack: list[tuple[Scalar, int]] = [(self, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if id(node) in seen:
                    continue
                seen.add(id(node))
            ps = node._parents
            # Visit the parents one at a time, coming back to this node after each.
            while i < len(ps) and id(ps[i]) in seen:
                i += 1
            if i < len(ps):
                stack.append((node, i + 1))
                stack.append((ps[i], 0))
            else:
                order.append(node)
        return order

    def backward(self) -> None:
        """Backpropagate from this node: add d self / d node into ``node.grad`` for every node.

        Gradients accumulate across calls, as in PyTorch; use :meth:`zero_grad` (or
        :func:`minigrad.scalar.zero_grad`) to reset them. If any gradient comes out NaN or
        infinite, nothing is stored and FloatingPointError names the node.
        """
        order = self.topo()
        for node in order:
            node._g = 0.0
        self._g = 1.0
        for node in reversed(order):
            op = node._op
            if op is None:
                continue
            g = node._g
            # Multiply the upstream gradient by each local derivative and add it into the
            # parent: the += is the multivariate chain rule (sum over paths).
            for parent, local in zip(node._parents, op.local(node)):
                parent._g += local * g
        for node in order:
            if not math.isfinite(node._g):
                raise FloatingPointError(
                    f"gradient of {node.name_for_display()} (value {node.data!r}, from "
                    f"{node.module()}) is {node._g!r}; no gradient was stored")
        for node in order:
            node.grad += node._g

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on this node and every node it depends on."""
        for node in self.topo():
            node.grad = 0.0

    def _repr_svg_(self):
        # A notebook shows the graph (minigrad.scalar.graph; None falls back to the text repr).
        from .graph import _repr_svg
        return _repr_svg(self)

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label is not None else ""
        return f"Scalar(data={self.data:.6g}, grad={self.grad:.6g}{lab})"


def zero_grad(nodes: Iterable[Scalar]) -> None:
    """Set ``grad`` to 0 on each of ``nodes`` (e.g. a model's ``parameters()``)."""
    for n in nodes:
        n.grad = 0.0


def as_scalar(x) -> Scalar:
    return x if isinstance(x, Scalar) else Scalar(x)


def _unary_fn(name: str):
    op = _ops.op(name)

    def fn(x):
        return as_scalar(x)._unary(op)
    fn.__name__ = name
    fn.__doc__ = f"{op.formula} (a Scalar, or a number made into one)"
    return fn


exp = _unary_fn("exp")
log = _unary_fn("log")
sqrt = _unary_fn("sqrt")
sin = _unary_fn("sin")
cos = _unary_fn("cos")
tanh = _unary_fn("tanh")
sigmoid = _unary_fn("sigmoid")
relu = _unary_fn("relu")
neg = _unary_fn("neg")
abs = _unary_fn("abs")  # noqa: A001 - the op's name everywhere


def iter_nodes(root: Scalar) -> Iterator[Scalar]:
    """The nodes of ``root``'s graph in topological order (inputs first)."""
    return iter(root.topo())
