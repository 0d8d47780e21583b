"""The rule book: every elementwise op's forward and *symbolic local derivatives*, written once.

This is the lectures' "work out the derivative of each module with respect to its input
symbolically". A :class:`Rule` is data: a name, ``forward(xp, *xs)`` and one
``local(xp, *xs, y)`` per input, written against an array namespace ``xp`` (in the style of the
Python array API standard). Every engine evaluates the same rule with its own namespace:

- the scalar engine with floats (:mod:`minigrad.scalar.floats`, which raises a clear error where
  the math is undefined: ``log(-1)``, ``0 ** -1``);
- the CPU and reference backends with numpy (NaN and inf where PyTorch gives them);
- the OpenCL backend with a symbolic namespace (:mod:`minigrad.symbolic`) that turns the rule
  into OpenCL C: one generated kernel for the forward and one per local derivative.

A local derivative does *not* include the upstream gradient: backprop multiplies that in. A
backend may replace a rule by a fused kernel where that pays (``relu_vjp`` on the CPU), and a test
checks each fused kernel against its rule.

Register your own op and it runs on every engine, with ``gradcheck`` and ``assert_engines_agree``
for free:

>>> import minigrad, minigrad.functional as F
>>> from minigrad import rules
>>> softsign = rules.Rule("my_softsign", lambda xp, x: x / (1 + xp.abs(x)),
...                       lambda xp, x, y: 1 / ((1 + xp.abs(x)) * (1 + xp.abs(x))))
>>> rules.register(softsign)
>>> softsign.formula
'y = x / (1 + |x|);  dy/dx = 1 / ((1 + |x|) * (1 + |x|))'
>>> F.my_softsign(minigrad.tensor([1.0, -3.0])).tolist()
[0.5, -0.75]
>>> x = minigrad.Scalar(1.0); F.my_softsign(x).backward(); x.grad
0.25
>>> rules.unregister("my_softsign")
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Sequence

from . import symbolic


class Rule:
    """An elementwise op: ``forward(xp, *xs) -> y`` and the local derivatives dy/dx_i.

    ``local`` is one callable ``(xp, *xs, y) -> dy/dx_i`` per input (a single callable for a
    one-input op). ``formula`` is the printable statement (derived from the code if not given);
    ``symbol`` is how the scalar engine's graph shows the op (``+`` for add; the name otherwise).
    ``integer``: the op is closed over integers (add, abs, relu): integer tensors keep their
    dtype. Otherwise (exp, sigmoid, div) integer inputs are computed as float32, as PyTorch
    does; that also keeps ``-x`` of an unsigned input from wrapping around.
    ``domain``: one open interval ``(lo, hi)`` per input inside which the rule is defined and
    smooth almost everywhere; tests and ``minigrad check`` draw their samples from it.
    """

    __slots__ = ("name", "forward", "local", "arity", "formula", "symbol", "doc", "unit",
                 "integer", "domain")

    def __init__(self, name: str, forward: Callable, local: Callable | Sequence[Callable],
                 formula: str | None = None, symbol: str | None = None, doc: str | None = None,
                 integer: bool = False, domain: Sequence[tuple[float, float]] | None = None):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"a rule's name must be a Python identifier, got {name!r}")
        local = (local,) if callable(local) else tuple(local) if isinstance(
            local, (tuple, list)) else ()
        if not local or not all(callable(f) for f in local):
            raise TypeError(f"rule {name}: local must be a callable or a sequence of callables, "
                            f"one per input")
        if not callable(forward):
            raise TypeError(f"rule {name}: forward must be callable (xp, *xs) -> y")
        self.name, self.forward, self.local, self.arity = name, forward, local, len(local)
        self.symbol = symbol or name
        self.doc = doc
        self.integer = bool(integer)
        self.domain = tuple(tuple(map(float, d)) for d in domain) if domain is not None \
            else ((-2.0, 2.0),) * self.arity
        if len(self.domain) != self.arity:
            raise ValueError(f"rule {name}: domain needs one (lo, hi) per input ({self.arity})")
        self.formula = formula if formula is not None else self._derive_formula()
        # Which local derivatives are the constant 1 (add, sub's first input): an engine then
        # passes the upstream gradient through unchanged, with no multiply and no kernel.
        xs = [symbolic.Var(f"x{i}") for i in range(self.arity)]
        y = symbolic.Var("y")
        try:
            self.unit = tuple(symbolic.is_constant(d) and float(d) == 1.0
                              for d in (f(symbolic.namespace, *xs, y) for f in local))
        except TypeError as e:
            raise TypeError(f"rule {name}: {e}") from None

    def input_names(self) -> list[str]:
        """The names the forward gives its inputs (``x``; ``a, b``), for printing."""
        try:
            params = list(inspect.signature(self.forward).parameters)[1:]
        except (TypeError, ValueError):
            params = []
        if len(params) != self.arity or any(p.startswith("*") for p in params):
            params = ["x"] if self.arity == 1 else [f"x{i}" for i in range(self.arity)]
        return params

    def _derive_formula(self) -> str:
        names = self.input_names()
        xs = [symbolic.Var(n) for n in names]
        try:
            y = self.forward(symbolic.namespace, *xs)
            parts = [f"y = {symbolic.to_text(y)}"]
            y = symbolic.Var("y")
            for n, d in zip(names, self.local):
                parts.append(f"dy/d{n} = {symbolic.to_text(d(symbolic.namespace, *xs, y))}")
        except TypeError as e:
            raise TypeError(f"rule {self.name}: {e}") from None
        return parts[0] + ";  " + ", ".join(parts[1:])

    def __repr__(self) -> str:
        return f"<rule {self.name}: {self.formula}>"


_REGISTRY: dict[str, Rule] = {}
_BUILTIN: set[str] = set()


def register(rule: Rule) -> Rule:
    """Make ``rule`` available everywhere: ``minigrad.functional.<name>`` on Tensors (every
    device), on Scalars and on numpy arrays of Scalars, and in ``minigrad trace`` expressions."""
    if not isinstance(rule, Rule):
        raise TypeError(f"register expects a Rule, got {type(rule).__name__}")
    if rule.name in _REGISTRY:
        raise ValueError(f"a rule named {rule.name!r} is already registered"
                         + (" (a built-in)" if rule.name in _BUILTIN else
                            "; unregister it first"))
    from . import functional
    if rule.name in vars(functional):
        raise ValueError(f"{rule.name!r} is already a function of minigrad.functional; "
                         f"choose another name")
    _REGISTRY[rule.name] = rule
    return rule


def unregister(name: str) -> None:
    """Remove a rule registered with :func:`register` (built-ins stay)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in rule and cannot be removed")
    if _REGISTRY.pop(name, None) is None:
        raise KeyError(f"no rule named {name!r}")


def get(name: str) -> Rule:
    """The rule of an op, by name: ``get("tanh")``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no rule named {name!r}; known: {', '.join(names())}") from None


def names(arity: int | None = None) -> tuple[str, ...]:
    """The names of all registered rules (of one arity if given), built-ins first."""
    return tuple(n for n, r in _REGISTRY.items() if arity is None or r.arity == arity)


_POS = (0.2, 3.0)
_DOMAINS = {
    "log": (_POS,), "sqrt": (_POS,), "log1p": ((-0.8, 2.0),), "rsqrt": (_POS,), "log2": (_POS,),
    "log10": (_POS,), "asin": ((-0.9, 0.9),), "acos": ((-0.9, 0.9),), "atanh": ((-0.9, 0.9),),
    "acosh": ((1.1, 3.0),), "pow": (_POS, (-2.0, 2.0)), "div": ((-2.0, 2.0), (0.5, 2.0)),
    "fmod": ((-3.0, 3.0), (0.5, 2.0)), "remainder": ((-3.0, 3.0), (0.5, 2.0)),
    "leaky_relu": ((-2.0, 2.0), (0.01, 0.3)), "elu": ((-2.0, 2.0), (0.5, 1.5)),
    "hardtanh": ((-2.0, 2.0), (-1.5, -0.5), (0.5, 1.5)), "hardsigmoid": ((-4.0, 4.0),),
    "hardswish": ((-4.0, 4.0),),
}


def _builtin(name, forward, local, formula, symbol=None, integer=False) -> Rule:
    r = Rule(name, forward, local, formula, symbol, integer=integer,
             domain=_DOMAINS.get(name))
    _REGISTRY[name] = r
    _BUILTIN.add(name)
    return r


# ---- the built-in rules --------------------------------------------------------------------------
# Where the math is undefined the tensor engines follow PyTorch (NaN or inf); the `where`s below
# pick torch's value at the edges (d/da a^0 = 0 at a = 0) without evaluating an undefined
# expression, so that the scalar engine raises only where the math really breaks.

NEG = _builtin("neg", lambda xp, x: -x, lambda xp, x, y: -1.0,
               "y = -x;  dy/dx = -1", "-", integer=True)
EXP = _builtin("exp", lambda xp, x: xp.exp(x), lambda xp, x, y: y,
               "y = e^x;  dy/dx = e^x = y")
LOG = _builtin("log", lambda xp, x: xp.log(x), lambda xp, x, y: 1.0 / x,
               "y = ln x;  dy/dx = 1/x")
SQRT = _builtin("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y,
                "y = sqrt x;  dy/dx = 1/(2y)")
SIN = _builtin("sin", lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x),
               "y = sin x;  dy/dx = cos x")
COS = _builtin("cos", lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x),
               "y = cos x;  dy/dx = -sin x")
TANH = _builtin("tanh", lambda xp, x: xp.tanh(x), lambda xp, x, y: 1.0 - y * y,
                "y = tanh x;  dy/dx = 1 - y^2")


def _sigmoid(xp, x):
    # e^-|x| never overflows; the two branches are the same function, rearranged.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


SIGMOID = _builtin("sigmoid", _sigmoid, lambda xp, x, y: y * (1.0 - y),
                   "y = 1/(1+e^-x);  dy/dx = y(1-y)")
RELU = _builtin("relu", lambda xp, x: xp.maximum(x, 0),
                lambda xp, x, y: xp.where(x > 0, 1.0, 0.0),
                "y = max(0, x);  dy/dx = [x > 0]  (0 at the kink, as PyTorch)", integer=True)
ABS = _builtin("abs", lambda xp, x: xp.abs(x), lambda xp, x, y: xp.sign(x),
               "y = |x|;  dy/dx = sign x  (0 at 0, as PyTorch)", integer=True)

ADD = _builtin("add", lambda xp, a, b: a + b, (lambda xp, a, b, y: 1.0, lambda xp, a, b, y: 1.0),
               "y = a + b;  dy/da = 1, dy/db = 1", "+", integer=True)
SUB = _builtin("sub", lambda xp, a, b: a - b, (lambda xp, a, b, y: 1.0, lambda xp, a, b, y: -1.0),
               "y = a - b;  dy/da = 1, dy/db = -1", "-", integer=True)
MUL = _builtin("mul", lambda xp, a, b: a * b, (lambda xp, a, b, y: b, lambda xp, a, b, y: a),
               "y = a b;  dy/da = b, dy/db = a  (note the reversal)", "*", integer=True)
DIV = _builtin("div", lambda xp, a, b: a / b,
               (lambda xp, a, b, y: 1.0 / b, lambda xp, a, b, y: -y / b),
               "y = a / b;  dy/da = 1/b, dy/db = -a/b^2 = -y/b", "/")
POW = _builtin(
    "pow", lambda xp, a, b: xp.pow(a, b),
    (
        # b a^(b-1); 0 where b = 0 (PyTorch's d/da a^0 = 0, also at a = 0)
        lambda xp, a, b, y: b * xp.pow(a, xp.where(b == 0, 1.0, b - 1.0)),
        # a^b ln a; 0 where a = 0 and b >= 0 (PyTorch); a negative base: NaN on tensors,
        # an error on the scalar engine (ln a is undefined there)
        lambda xp, a, b, y: y * xp.log(xp.where((a == 0) & (b >= 0), 1.0, a)),
    ),
    "y = a^b;  dy/da = b a^(b-1), dy/db = y ln a", "**", integer=True)
MAXIMUM = _builtin(
    "maximum", lambda xp, a, b: xp.maximum(a, b),
    (lambda xp, a, b, y: xp.where(a > b, 1.0, xp.where(a == b, 0.5, 0.0)),
     lambda xp, a, b, y: xp.where(b > a, 1.0, xp.where(a == b, 0.5, 0.0))),
    "y = max(a, b);  dy/da = [a > b], dy/db = [b > a]  (half each on ties, as PyTorch)",
    integer=True)
MINIMUM = _builtin(
    "minimum", lambda xp, a, b: xp.minimum(a, b),
    (lambda xp, a, b, y: xp.where(a < b, 1.0, xp.where(a == b, 0.5, 0.0)),
     lambda xp, a, b, y: xp.where(b < a, 1.0, xp.where(a == b, 0.5, 0.0))),
    "y = min(a, b);  dy/da = [a < b], dy/db = [b < a]  (half each on ties, as PyTorch)",
    integer=True)
LOG1P = _builtin("log1p", lambda xp, x: xp.log1p(x), lambda xp, x, y: 1.0 / (1.0 + x),
                 "y = ln(1 + x);  dy/dx = 1/(1+x)")
EXPM1 = _builtin("expm1", lambda xp, x: xp.expm1(x), lambda xp, x, y: y + 1.0,
                 "y = e^x - 1;  dy/dx = e^x = y + 1")

# ---- PyTorch's elementwise math ------------------------------------------------------------------
# Piecewise-constant ops (floor, round, sign, ...) have derivative 0 wherever it exists, as
# PyTorch returns.

_ZERO = "dy/dx = 0"


def _step(name, f, integer=True):
    return _builtin(name, f, lambda xp, x, y: 0.0, f"y = {name} x;  {_ZERO}", integer=integer)


SIGN = _step("sign", lambda xp, x: xp.sign(x))
FLOOR = _step("floor", lambda xp, x: xp.floor(x))
CEIL = _step("ceil", lambda xp, x: xp.ceil(x))
ROUND = _step("round", lambda xp, x: xp.round(x))
TRUNC = _step("trunc", lambda xp, x: xp.trunc(x))
FRAC = _builtin("frac", lambda xp, x: x - xp.trunc(x), lambda xp, x, y: 1.0,
                "y = x - trunc x;  dy/dx = 1")
SQUARE = _builtin("square", lambda xp, x: x * x, lambda xp, x, y: 2.0 * x,
                  "y = x^2;  dy/dx = 2x", integer=True)
RSQRT = _builtin("rsqrt", lambda xp, x: 1.0 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y,
                 "y = 1/sqrt x;  dy/dx = -y^3/2")
LOG2 = _builtin("log2", lambda xp, x: xp.log2(x), lambda xp, x, y: 1.4426950408889634 / x,
                "y = log2 x;  dy/dx = 1/(x ln 2)")
LOG10 = _builtin("log10", lambda xp, x: xp.log10(x), lambda xp, x, y: 0.4342944819032518 / x,
                 "y = log10 x;  dy/dx = 1/(x ln 10)")
EXP2 = _builtin("exp2", lambda xp, x: xp.exp2(x), lambda xp, x, y: 0.6931471805599453 * y,
                "y = 2^x;  dy/dx = y ln 2")
TAN = _builtin("tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1.0 + y * y,
               "y = tan x;  dy/dx = 1 + y^2")
ASIN = _builtin("asin", lambda xp, x: xp.asin(x), lambda xp, x, y: 1.0 / xp.sqrt(1.0 - x * x),
                "y = asin x;  dy/dx = 1/sqrt(1 - x^2)")
ACOS = _builtin("acos", lambda xp, x: xp.acos(x), lambda xp, x, y: -1.0 / xp.sqrt(1.0 - x * x),
                "y = acos x;  dy/dx = -1/sqrt(1 - x^2)")
ATAN = _builtin("atan", lambda xp, x: xp.atan(x), lambda xp, x, y: 1.0 / (1.0 + x * x),
                "y = atan x;  dy/dx = 1/(1 + x^2)")
SINH = _builtin("sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x),
                "y = sinh x;  dy/dx = cosh x")
COSH = _builtin("cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x),
                "y = cosh x;  dy/dx = sinh x")
ASINH = _builtin("asinh", lambda xp, x: xp.asinh(x), lambda xp, x, y: 1.0 / xp.sqrt(x * x + 1.0),
                 "y = asinh x;  dy/dx = 1/sqrt(x^2 + 1)")
ACOSH = _builtin("acosh", lambda xp, x: xp.acosh(x),
                 lambda xp, x, y: 1.0 / xp.sqrt((x - 1.0) * (x + 1.0)),
                 "y = acosh x;  dy/dx = 1/sqrt(x^2 - 1)")
ATANH = _builtin("atanh", lambda xp, x: xp.atanh(x), lambda xp, x, y: 1.0 / (1.0 - x * x),
                 "y = atanh x;  dy/dx = 1/(1 - x^2)")
ERF = _builtin("erf", lambda xp, x: xp.erf(x),
               lambda xp, x, y: 1.1283791670955126 * xp.exp(-x * x),
               "y = erf x;  dy/dx = 2/sqrt(pi) e^(-x^2)")
ERFC = _builtin("erfc", lambda xp, x: xp.erfc(x),
                lambda xp, x, y: -1.1283791670955126 * xp.exp(-x * x),
                "y = erfc x;  dy/dx = -2/sqrt(pi) e^(-x^2)")
ATAN2 = _builtin("atan2", lambda xp, a, b: xp.atan2(a, b),
                 (lambda xp, a, b, y: b / (a * a + b * b),
                  lambda xp, a, b, y: -a / (a * a + b * b)),
                 "y = atan2(a, b);  dy/da = b/(a^2+b^2), dy/db = -a/(a^2+b^2)")
LOGADDEXP = _builtin(
    "logaddexp", lambda xp, a, b: xp.maximum(a, b) + xp.log1p(xp.exp(-xp.abs(a - b))),
    (lambda xp, a, b, y: xp.exp(a - y), lambda xp, a, b, y: xp.exp(b - y)),
    "y = ln(e^a + e^b);  dy/da = e^(a-y), dy/db = e^(b-y)")
COPYSIGN = _builtin(
    "copysign", lambda xp, a, b: xp.copysign(a, b),
    (lambda xp, a, b, y: xp.where(a == 0, 0.0, y / a), lambda xp, a, b, y: 0.0),
    "y = |a| sign b;  dy/da = y/a (0 at a = 0, as PyTorch), dy/db = 0")
FMOD = _builtin("fmod", lambda xp, a, b: xp.fmod(a, b),
                (lambda xp, a, b, y: 1.0, lambda xp, a, b, y: -xp.trunc(a / b)),
                "y = a - trunc(a/b) b;  dy/da = 1, dy/db = -trunc(a/b)", integer=True)
REMAINDER = _builtin("remainder", lambda xp, a, b: a - xp.floor(a / b) * b,
                     (lambda xp, a, b, y: 1.0, lambda xp, a, b, y: -xp.floor(a / b)),
                     "y = a - floor(a/b) b;  dy/da = 1, dy/db = -floor(a/b)")

# ---- activations with a constant parameter: the parameter is the rule's second input -------------

LEAKY_RELU = _builtin(
    "leaky_relu", lambda xp, x, s: xp.where(x > 0, x, x * s),
    (lambda xp, x, s, y: xp.where(x > 0, 1.0, s), lambda xp, x, s, y: xp.where(x > 0, 0.0, x)),
    "y = x if x > 0 else s x;  dy/dx = 1 or s, dy/ds = 0 or x")
ELU = _builtin(
    "elu", lambda xp, x, a: xp.where(x > 0, x, a * xp.expm1(xp.minimum(x, 0.0))),
    (lambda xp, x, a, y: xp.where(x > 0, 1.0, y + a),
     lambda xp, x, a, y: xp.where(x > 0, 0.0, xp.expm1(xp.minimum(x, 0.0)))),
    "y = x if x > 0 else a (e^x - 1);  dy/dx = 1 or y + a")
SILU = _builtin("silu", lambda xp, x: x * _sigmoid(xp, x),
                lambda xp, x, y: _sigmoid(xp, x) * (1.0 + x * (1.0 - _sigmoid(xp, x))),
                "y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)")
SOFTSIGN = _builtin("softsign", lambda xp, x: x / (1.0 + xp.abs(x)),
                    lambda xp, x, y: 1.0 / ((1.0 + xp.abs(x)) * (1.0 + xp.abs(x))),
                    "y = x / (1 + |x|);  dy/dx = 1/(1 + |x|)^2")
LOGSIGMOID = _builtin(
    "logsigmoid", lambda xp, x: xp.minimum(x, 0.0) - xp.log1p(xp.exp(-xp.abs(x))),
    lambda xp, x, y: 1.0 - _sigmoid(xp, x),
    "y = ln sigmoid(x);  dy/dx = 1 - sigmoid(x)")
HARDTANH = _builtin(
    "hardtanh", lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi),
    (lambda xp, x, lo, hi, y: xp.where((x > lo) & (x < hi), 1.0, 0.0),
     lambda xp, x, lo, hi, y: xp.where(x < lo, 1.0, 0.0),
     lambda xp, x, lo, hi, y: xp.where(x > hi, 1.0, 0.0)),
    "y = min(max(x, lo), hi);  dy/dx = [lo < x < hi]")
HARDSIGMOID = _builtin(
    "hardsigmoid", lambda xp, x: xp.minimum(xp.maximum(x / 6.0 + 0.5, 0.0), 1.0),
    lambda xp, x, y: xp.where((x > -3.0) & (x < 3.0), 1.0 / 6.0, 0.0),
    "y = min(max(x/6 + 1/2, 0), 1);  dy/dx = 1/6 on (-3, 3)")
HARDSWISH = _builtin(
    "hardswish", lambda xp, x: x * xp.minimum(xp.maximum(x + 3.0, 0.0), 6.0) / 6.0,
    lambda xp, x, y: xp.where(x <= -3.0, 0.0, xp.where(x >= 3.0, 1.0, x / 3.0 + 0.5)),
    "y = x min(max(x + 3, 0), 6)/6;  dy/dx = x/3 + 1/2 on (-3, 3), 0 below, 1 above (torch)")

# The ops every engine shares by name (the original lecture set, and the later additions).
UNARY = names(1)
BINARY = names(2)
