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
    """

    __slots__ = ("name", "forward", "local", "arity", "formula", "symbol", "doc", "unit",
                 "integer")

    def __init__(self, name: str, forward: Callable, local: Callable | Sequence[Callable],
                 formula: str | None = None, symbol: str | None = None, doc: str | None = None,
                 integer: bool = False):
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


def _builtin(name, forward, local, formula, symbol=None, integer=False) -> Rule:
    r = Rule(name, forward, local, formula, symbol, integer=integer)
    _REGISTRY[name] = r
    _BUILTIN.add(name)
    return r


# ---- the built-in rules ---------------------------------------------------------------------
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
RELU = _builtin("relu", lambda xp, x: xp.maximum(x, 0.0),
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

# The ops every engine shares by name (the original lecture set, and the later additions).
UNARY = names(1)
BINARY = names(2)
