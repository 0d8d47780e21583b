"""The scalar engine's modules: one small object per operation, forward and local derivative side by
side, both taken from the rule book (:mod:`minigrad.rules`).

The lecture writes the example f(x) = 2/sin(e^-x) as four modules, ``a(x) = -x``, ``b(a) = e^a``,
``c(b) = sin b``, ``d(c) = 2/c``. Here those are :data:`NEG`, :data:`EXP`, :data:`SIN` and
``DIV`` with the constant 2 on the left (a one-input module, as in the lecture: constants are
part of the module, not nodes of the graph).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import rules


class Op:
    """A module of the computation graph: a named forward and its symbolic local derivative.

    ``local(node)`` returns d node / d parent for each parent of ``node``, evaluated at the values
    the forward pass retained.
    """

    __slots__ = ("name", "symbol", "formula", "arity")

    def __init__(self, name: str, symbol: str, formula: str, arity: int):
        self.name, self.symbol, self.formula, self.arity = name, symbol, formula, arity

    def __repr__(self) -> str:
        return f"<op {self.name}: {self.formula}>"


class UnaryOp(Op):
    """y = f(x), local derivative dy/dx = df(x, y)."""

    __slots__ = ("f", "df")

    def __init__(self, name: str, symbol: str, formula: str,
                 f: Callable[[float], float], df: Callable[[float, float], float]):
        super().__init__(name, symbol, formula, 1)
        self.f, self.df = f, df

    def forward(self, x: float) -> float:
        return self.f(x)

    def local(self, node) -> tuple[float]:
        return (self.df(node._parents[0].data, node.data),)


class BinaryOp(Op):
    """y = f(a, b) of two graph nodes; local derivatives (dy/da, dy/db) = df(a, b, y)."""

    __slots__ = ("f", "df")

    def __init__(self, name: str, symbol: str, formula: str, f, df):
        super().__init__(name, symbol, formula, 2)
        self.f, self.df = f, df

    def forward(self, a: float, b: float) -> float:
        return self.f(a, b)

    def local(self, node) -> tuple[float, float]:
        a, b = node._parents
        return self.df(a.data, b.data, node.data)


class ConstOp(Op):
    """A binary op with one operand a plain number, kept inside the module (``2 / c``, ``x ** 3``).

    ``side`` says where the constant stands: "left" for ``k op x`` and "right" for ``x op k``.
    """

    __slots__ = ("base", "side")

    def __init__(self, base: BinaryOp, side: str):
        sym = base.symbol
        formula = f"y = k {sym} x" if side == "left" else f"y = x {sym} k"
        super().__init__(base.name, sym, formula, 1)
        self.base, self.side = base, side

    def forward(self, x: float, k: float) -> float:
        return self.base.f(k, x) if self.side == "left" else self.base.f(x, k)

    def local(self, node) -> tuple[float]:
        x, k = node._parents[0].data, node._k
        if self.base.name == "pow":
            # Only the derivative for the Scalar operand: x ** 2 at x < 0 is fine, even though
            # d/dk of x^k is undefined there.
            if self.side == "left":
                return (rules.pow_back_b(k, x, node.data),)
            return (rules.pow_back_a(x, k, node.data),)
        if self.side == "left":
            return (self.base.df(k, x, node.data)[1],)
        return (self.base.df(x, k, node.data)[0],)

    def describe(self, k: float) -> str:
        """The module as the lecture would write it, e.g. ``2 / c``."""
        kk = f"{k:g}"
        return f"{kk} {self.symbol} x" if self.side == "left" else f"x {self.symbol} {kk}"


def _u(name: str, symbol: str, formula: str) -> UnaryOp:
    f, df = rules.rule(name)
    return UnaryOp(name, symbol, formula, f, df)


def _b(name: str, symbol: str, formula: str) -> BinaryOp:
    f, df = rules.rule(name)
    return BinaryOp(name, symbol, formula, f, df)


NEG = _u("neg", "-", "y = -x;  dy/dx = -1")
EXP = _u("exp", "exp", "y = e^x;  dy/dx = e^x = y")
LOG = _u("log", "log", "y = ln x;  dy/dx = 1/x")
SQRT = _u("sqrt", "sqrt", "y = sqrt x;  dy/dx = 1/(2y)")
SIN = _u("sin", "sin", "y = sin x;  dy/dx = cos x")
COS = _u("cos", "cos", "y = cos x;  dy/dx = -sin x")
TANH = _u("tanh", "tanh", "y = tanh x;  dy/dx = 1 - y^2")
SIGMOID = _u("sigmoid", "sigmoid", "y = 1/(1+e^-x);  dy/dx = y(1-y)")
RELU = _u("relu", "relu", "y = max(0, x);  dy/dx = [x > 0]")
ABS = _u("abs", "abs", "y = |x|;  dy/dx = sign x")

ADD = _b("add", "+", "y = a + b;  dy/da = 1, dy/db = 1")
SUB = _b("sub", "-", "y = a - b;  dy/da = 1, dy/db = -1")
MUL = _b("mul", "*", "y = a b;  dy/da = b, dy/db = a")
DIV = _b("div", "/", "y = a / b;  dy/da = 1/b, dy/db = -a/b^2")
POW = _b("pow", "**", "y = a^b;  dy/da = b a^(b-1), dy/db = y ln a")

# The constant-operand forms, made once so nodes share them.
CONST = {(op.name, side): ConstOp(op, side)
         for op in (ADD, SUB, MUL, DIV, POW) for side in ("left", "right")}

UNARY_OPS = {op.name: op for op in (NEG, EXP, LOG, SQRT, SIN, COS, TANH, SIGMOID, RELU, ABS)}
BINARY_OPS = {op.name: op for op in (ADD, SUB, MUL, DIV, POW)}
