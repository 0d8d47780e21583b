"""A symbolic array namespace: rules evaluated on *names* instead of numbers give expression trees.

A rule's ``forward(xp, *xs)`` and ``local(xp, *xs, y)`` are written against an array namespace.
Given this one, they return an :class:`Expr` instead of a value, which then prints two ways:

- :func:`to_text`, for people: the formula that ``trace``, ``repr(rule)`` and the docs show;
- :func:`to_c`, for devices: the OpenCL C expression that the OpenCL backend compiles into one
  fused kernel per rule (so no kernel restates a derivative).

>>> from minigrad import rules
>>> r = rules.get("sigmoid")
>>> to_text(r.local[0](namespace, Var("x"), Var("y")))
'y * (1 - y)'
>>> to_c(r.local[0](namespace, Var("x"), Var("y")))
'(y * ((real)1 - y))'

Only what a rule may use is here (the functions of :data:`FUNCTIONS`, arithmetic, comparisons,
``& | ~``); a rule that branches on a value with ``if`` fails loudly, because a vectorised
engine could not follow it.
"""

from __future__ import annotations

import math

# The functions a rule may call on its namespace: each engine's namespace provides all of them
# (the scalar engine's float namespace, numpy, this one).
FUNCTIONS = ("exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt", "sin", "cos", "tan",
             "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
             "erf", "erfc", "abs", "sign", "floor", "ceil", "round", "trunc", "copysign", "fmod",
             "isnan", "where", "maximum", "minimum", "pow")

# precedence for to_text: higher binds tighter
_PREC = {"|": 1, "&": 2, "cmp": 3, "+": 4, "-": 4, "*": 5, "/": 5, "neg": 6, "**": 7}
_CMP = ("<", "<=", ">", ">=", "==", "!=")


class Expr:
    """A node of an expression tree: ``op`` and its ``args`` (Exprs or Python numbers)."""

    __slots__ = ("op", "args")

    def __init__(self, op: str, *args):
        self.op, self.args = op, args

    # arithmetic
    def __add__(self, o): return Expr("+", self, o)
    def __radd__(self, o): return Expr("+", o, self)
    def __sub__(self, o): return Expr("-", self, o)
    def __rsub__(self, o): return Expr("-", o, self)
    def __mul__(self, o): return Expr("*", self, o)
    def __rmul__(self, o): return Expr("*", o, self)
    def __truediv__(self, o): return Expr("/", self, o)
    def __rtruediv__(self, o): return Expr("/", o, self)
    def __pow__(self, o): return Expr("**", self, o)
    def __rpow__(self, o): return Expr("**", o, self)
    def __neg__(self): return Expr("neg", self)
    def __pos__(self): return self

    # comparisons and logic (elementwise, as on arrays)
    def __lt__(self, o): return Expr("<", self, o)
    def __le__(self, o): return Expr("<=", self, o)
    def __gt__(self, o): return Expr(">", self, o)
    def __ge__(self, o): return Expr(">=", self, o)
    def __eq__(self, o): return Expr("==", self, o)  # type: ignore[override]
    def __ne__(self, o): return Expr("!=", self, o)  # type: ignore[override]
    def __and__(self, o): return Expr("&", self, o)
    def __rand__(self, o): return Expr("&", o, self)
    def __or__(self, o): return Expr("|", self, o)
    def __ror__(self, o): return Expr("|", o, self)
    def __invert__(self): return Expr("~", self)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self):
        raise TypeError("a rule must not branch on a value (if, and, or, min, max, abs()): "
                        "write it with xp.where, xp.maximum, xp.abs, & and |, so that every "
                        "engine can evaluate it elementwise")

    def __repr__(self) -> str:
        return f"Expr({to_text(self)!r})"


class Var(Expr):
    """A named input (x, a, b, y, ...)."""

    __slots__ = ()

    def __init__(self, name: str):
        super().__init__("var", name)


def _fn(name):
    def f(*args):
        return Expr(name, *args)
    f.__name__ = name
    return f


class _Namespace:
    """The symbolic namespace: ``namespace.exp(x)`` is ``Expr("exp", x)``."""

    def __init__(self):
        for name in FUNCTIONS:
            setattr(self, name, _fn(name))

    def __repr__(self) -> str:
        return "<minigrad.symbolic namespace>"


namespace = _Namespace()


def is_constant(e) -> bool:
    return isinstance(e, (int, float)) and not isinstance(e, bool)


# ---- printing for people --------------------------------------------------------------------

def _num(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}"


def to_text(e, prec: int = 0) -> str:
    """The expression in the lecture's notation: ``y * (1 - y)``, ``exp(x)``."""
    if not isinstance(e, Expr):
        s = _num(e)
        return f"({s})" if s.startswith("-") and prec > 0 else s
    op, args = e.op, e.args
    if op == "var":
        return args[0]
    if op == "neg":
        s = "-" + to_text(args[0], _PREC["neg"])
        return f"({s})" if prec > _PREC["neg"] else s
    if op == "~":
        return "not " + to_text(args[0], _PREC["neg"])
    if op in _CMP or op in _PREC:
        p = _PREC["cmp"] if op in _CMP else _PREC[op]
        # left-associative: the right operand of - and / needs brackets at equal precedence
        right_p = p + 1 if op in ("-", "/", "**") or op in _CMP else p
        left_p = p + 1 if op == "**" else p
        sym = {"&": "and", "|": "or"}.get(op, op)
        s = f"{to_text(args[0], left_p)} {sym} {to_text(args[1], right_p)}"
        return f"({s})" if prec > p else s
    if op == "abs":
        return f"|{to_text(args[0])}|"
    return f"{op}({', '.join(to_text(a) for a in args)})"


# ---- printing for OpenCL C ------------------------------------------------------------------

_C_FUNCS = {"abs": "fabs", "pow": "mg_pow", "sign": "mg_sign", "maximum": "mg_maximum",
            "minimum": "mg_minimum", "round": "rint", "isnan": "isnan"}


def _c_const(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    v = float(v)
    if math.isnan(v):
        return "((real)NAN)"
    if math.isinf(v):
        return "((real)INFINITY)" if v > 0 else "(-(real)INFINITY)"
    return f"(real){_num(v)}" if v.is_integer() and abs(v) < 1e15 else f"(real){v!r}"


def to_c(e) -> str:
    """The expression as OpenCL C over ``real`` (real.h); helpers come from rules.cl."""
    if not isinstance(e, Expr):
        return _c_const(e)
    op, args = e.op, e.args
    if op == "var":
        return args[0]
    if op == "neg":
        return f"(-{to_c(args[0])})"
    if op == "~":
        return f"(!{to_c(args[0])})"
    if op == "**":
        return f"mg_pow({to_c(args[0])}, {to_c(args[1])})"
    if op == "&":
        return f"({to_c(args[0])} && {to_c(args[1])})"
    if op == "|":
        return f"({to_c(args[0])} || {to_c(args[1])})"
    if op in ("+", "-", "*", "/") or op in _CMP:
        return f"({to_c(args[0])} {op} {to_c(args[1])})"
    if op == "where":
        c, a, b = (to_c(x) for x in args)
        return f"(({c}) ? (real)({a}) : (real)({b}))"
    return f"{_C_FUNCS.get(op, op)}({', '.join(to_c(a) for a in args)})"
