"""The rule book: every op's forward and its *symbolic local derivative*, written once, on floats.

This is the lectures' "work out the derivative of each module with respect to its input
symbolically". The scalar engine calls these functions directly; the tensor engine (numpy +
Cython) and the OpenCL kernels implement the same rules vectorised, and the agreement tests pair
them by name (``tests/test_rules_agree.py``), so a reader can put the three side by side.

Conventions:
    ``name(*xs)``            the forward, on plain floats.
    ``name_back(*xs, y)``    the local derivatives dy/dx_i at the forward's inputs ``xs`` and output
                             ``y``: one float for a unary op, a tuple for a binary one. They do
                             *not* include the upstream gradient; backprop multiplies that in.

Bad input raises a Python exception with a message (never returns NaN silently):

>>> exp(0.0), exp_back(0.0, 1.0)
(1.0, 1.0)
>>> div_back(1.0, 2.0, 0.5)
(0.5, -0.25)
"""

from __future__ import annotations

import math

# Every op the engines share, by the one name it has everywhere (scalar engine, tensor engine,
# OpenCL kernels, tests).
UNARY = ("neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs")
BINARY = ("add", "sub", "mul", "div", "pow")


# ---- unary ---------------------------------------------------------------------------------

def neg(x: float) -> float:
    """y = -x"""
    return -x


def neg_back(x: float, y: float) -> float:
    """dy/dx = -1"""
    return -1.0


def exp(x: float) -> float:
    """y = e^x"""
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({x!r}) overflows a float (x must be < ~709.78)") from None


def exp_back(x: float, y: float) -> float:
    """dy/dx = e^x, which is the output y: no need to recompute it."""
    return y


def log(x: float) -> float:
    """y = ln x, defined for x > 0"""
    if x <= 0.0:
        raise ValueError(f"log is undefined for x = {x!r} (x must be > 0)")
    return math.log(x)


def log_back(x: float, y: float) -> float:
    """dy/dx = 1/x"""
    return 1.0 / x


def sqrt(x: float) -> float:
    """y = sqrt(x), defined for x >= 0"""
    if x < 0.0:
        raise ValueError(f"sqrt is undefined for x = {x!r} (x must be >= 0)")
    return math.sqrt(x)


def sqrt_back(x: float, y: float) -> float:
    """dy/dx = 1 / (2 sqrt x) = 1 / (2y); infinite at x = 0, so that is an error."""
    if y == 0.0:
        raise ZeroDivisionError("the derivative of sqrt at x = 0 is infinite")
    return 0.5 / y


def sin(x: float) -> float:
    """y = sin x (x in radians, as every math library computes; see tutorial 01 on degrees)"""
    return math.sin(x)


def sin_back(x: float, y: float) -> float:
    """dy/dx = cos x"""
    return math.cos(x)


def cos(x: float) -> float:
    """y = cos x"""
    return math.cos(x)


def cos_back(x: float, y: float) -> float:
    """dy/dx = -sin x"""
    return -math.sin(x)


def tanh(x: float) -> float:
    """y = tanh x"""
    return math.tanh(x)


def tanh_back(x: float, y: float) -> float:
    """dy/dx = 1 - tanh(x)^2 = 1 - y^2"""
    return 1.0 - y * y


def sigmoid(x: float) -> float:
    """y = 1 / (1 + e^-x), computed so that neither branch overflows."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def sigmoid_back(x: float, y: float) -> float:
    """dy/dx = sigma(x) (1 - sigma(x)) = y (1 - y)"""
    return y * (1.0 - y)


def relu(x: float) -> float:
    """y = max(0, x)"""
    return x if x > 0.0 else 0.0


def relu_back(x: float, y: float) -> float:
    """dy/dx = 1 if x > 0 else 0 (we take 0 at the kink, as PyTorch does)"""
    return 1.0 if x > 0.0 else 0.0


def abs(x: float) -> float:  # noqa: A001 - the op's name is abs everywhere
    """y = |x|"""
    return x if x >= 0.0 else -x


def abs_back(x: float, y: float) -> float:
    """dy/dx = sign(x) (0 at x = 0, as PyTorch does)"""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


# ---- binary --------------------------------------------------------------------------------

def add(a: float, b: float) -> float:
    """y = a + b"""
    return a + b


def add_back(a: float, b: float, y: float) -> tuple[float, float]:
    """dy/da = 1, dy/db = 1"""
    return 1.0, 1.0


def sub(a: float, b: float) -> float:
    """y = a - b"""
    return a - b


def sub_back(a: float, b: float, y: float) -> tuple[float, float]:
    """dy/da = 1, dy/db = -1"""
    return 1.0, -1.0


def mul(a: float, b: float) -> float:
    """y = a b"""
    return a * b


def mul_back(a: float, b: float, y: float) -> tuple[float, float]:
    """dy/da = b, dy/db = a  (note the reversal)"""
    return b, a


def div(a: float, b: float) -> float:
    """y = a / b"""
    if b == 0.0:
        raise ZeroDivisionError(f"division by zero: {a!r} / 0")
    return a / b


def div_back(a: float, b: float, y: float) -> tuple[float, float]:
    """dy/da = 1/b, dy/db = -a/b^2"""
    return 1.0 / b, -a / (b * b)


def pow(a: float, b: float) -> float:  # noqa: A001 - the op's name is pow everywhere
    """y = a^b (a negative base needs an integer exponent)"""
    if a < 0.0 and not float(b).is_integer():
        raise ValueError(f"pow({a!r}, {b!r}): a negative base needs an integer exponent")
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"pow(0, {b!r}): zero to a negative power")
    try:
        return math.pow(a, b)
    except OverflowError:
        raise OverflowError(f"pow({a!r}, {b!r}) overflows a float") from None


def pow_back_a(a: float, b: float, y: float) -> float:
    """dy/da = b a^(b-1)"""
    return b * math.pow(a, b - 1.0) if b != 0.0 else 0.0


def pow_back_b(a: float, b: float, y: float) -> float:
    """dy/db = a^b ln a (for a > 0; 0 where a^b is 0; undefined for a negative base)"""
    if a > 0.0:
        return y * math.log(a)
    if y == 0.0:
        return 0.0
    # a < 0: a^b is only real for integer b, where it is not differentiable in b.
    raise ValueError(f"d(a^b)/db is undefined for a negative base a = {a!r}")


def pow_back(a: float, b: float, y: float) -> tuple[float, float]:
    """dy/da = b a^(b-1), dy/db = a^b ln a"""
    return pow_back_a(a, b, y), pow_back_b(a, b, y)


def rule(name: str):
    """The (forward, local derivative) pair of an op, by name: ``rule("tanh")``."""
    if name not in UNARY and name not in BINARY:
        raise KeyError(f"no rule named {name!r}; known: {', '.join(UNARY + BINARY)}")
    g = globals()
    return g[name], g[name + "_back"]
