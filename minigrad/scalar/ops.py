"""The scalar engine's modules: one small object per operation, made from the rule book.

An :class:`Op` is a :class:`minigrad.rules.Rule` as the scalar engine evaluates it: forward and
local derivatives on plain floats (:mod:`minigrad.scalar.floats`), with any error re-raised
naming the op and the values where the math broke.

The lecture writes the example f(x) = 2/sin(e^-x) as four modules, ``a(x) = -x``, ``b(a) = e^a``,
``c(b) = sin b``, ``d(c) = 2/c``. Here those are ``op("neg")``, ``op("exp")``, ``op("sin")`` and
``const_op("div", "left")`` with the constant 2 (a one-input module, as in the lecture:
constants are part of the module, not nodes of the graph).
"""

from __future__ import annotations

from .. import rules
from . import floats

_ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def _values(names, vals) -> str:
    return ", ".join(f"{n} = {v!r}" for n, v in zip(names, vals))


class Op:
    """A module of the computation graph: a rule's forward and its local derivatives on floats.

    ``local(node)`` returns d node / d parent for each parent of ``node``, evaluated at the values
    the forward pass retained.
    """

    __slots__ = ("rule", "name", "symbol", "formula", "arity", "_f", "_locals", "_names")

    def __init__(self, rule: rules.Rule):
        self.rule, self.name, self.symbol = rule, rule.name, rule.symbol
        self.formula, self.arity = rule.formula, rule.arity
        self._f, self._locals = rule.forward, rule.local
        self._names = rule.input_names()

    def forward(self, *xs: float) -> float:
        try:
            return float(self._f(floats, *xs))
        except _ERRORS as e:
            raise type(e)(f"{self.name}({', '.join(map(repr, xs))}): {e}") from None

    def local_at(self, i: int, xs: tuple, y: float) -> float:
        """dy/dx_i at inputs ``xs`` and output ``y``."""
        try:
            return float(self._locals[i](floats, *xs, y))
        except _ERRORS as e:
            raise type(e)(f"the local derivative dy/d{self._names[i]} of {self.name} at "
                          f"{_values(self._names, xs)} is undefined: {e}") from None

    def local(self, node) -> tuple[float, ...]:
        ps, y, loc = node._parents, node.data, self._locals
        try:  # the common arities without building argument tuples: backprop's hot path
            if self.arity == 1:
                return (loc[0](floats, ps[0].data, y),)
            if self.arity == 2:
                a, b = ps[0].data, ps[1].data
                return loc[0](floats, a, b, y), loc[1](floats, a, b, y)
        except _ERRORS:
            pass  # evaluated again below, one derivative at a time, for the message
        xs = tuple(p.data for p in ps)
        return tuple(self.local_at(i, xs, y) for i in range(self.arity))

    @property
    def infix(self) -> bool:
        return self.arity == 2 and not self.symbol.isidentifier()

    def __repr__(self) -> str:
        return f"<op {self.name}: {self.formula}>"


class ConstOp(Op):
    """A binary op with one operand a plain number, kept inside the module (``2 / c``, ``x ** 3``).

    ``side`` says where the constant stands: "left" for ``k op x`` and "right" for ``x op k``.
    Only the derivative for the Scalar operand is evaluated: ``x ** 2`` at x < 0 is fine, even
    though d/dk of x^k is undefined there.
    """

    __slots__ = ("side", "_i")

    def __init__(self, rule: rules.Rule, side: str):
        super().__init__(rule)
        self.side = side
        self._i = 1 if side == "left" else 0      # the Scalar operand's position
        self.arity = 1
        self.formula = (f"y = k {rule.symbol} x" if side == "left" else f"y = x {rule.symbol} k") \
            if self.infix else rule.formula

    @property
    def infix(self) -> bool:
        return not self.symbol.isidentifier()

    def forward(self, x: float, k: float) -> float:
        return super().forward(k, x) if self.side == "left" else super().forward(x, k)

    def local(self, node) -> tuple[float]:
        x, k = node._parents[0].data, node._k
        xs = (k, x) if self.side == "left" else (x, k)
        return (self.local_at(self._i, xs, node.data),)

    def describe(self, k: float) -> str:
        """The module as the lecture would write it, e.g. ``2 / c``."""
        kk = f"{k:g}"
        if not self.infix:  # maximum(x, 0)
            return f"{self.symbol}({kk}, x)" if self.side == "left" else f"{self.symbol}(x, {kk})"
        return f"{kk} {self.symbol} x" if self.side == "left" else f"x {self.symbol} {kk}"


_OPS: dict[tuple, Op] = {}


def op(name: str) -> Op:
    """The module of rule ``name`` (made once, shared by every node)."""
    rule = rules.get(name)
    key = (name, None)
    o = _OPS.get(key)
    if o is None or o.rule is not rule:
        o = _OPS[key] = Op(rule)
    return o


def const_op(name: str, side: str) -> ConstOp:
    """The module of binary rule ``name`` with a constant on ``side`` ("left" or "right")."""
    rule = rules.get(name)
    key = (name, side)
    o = _OPS.get(key)
    if o is None or o.rule is not rule:
        o = _OPS[key] = ConstOp(rule, side)
    return o


NEG, EXP, LOG, SQRT, SIN, COS, TANH, SIGMOID, RELU, ABS = (
    op(n) for n in ("neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs"))
ADD, SUB, MUL, DIV, POW = (op(n) for n in ("add", "sub", "mul", "div", "pow"))
