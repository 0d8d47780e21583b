"""The scalar engine's array namespace: plain Python floats, where the math breaks *loudly*.

The rule book's forward and local derivatives are written against an array namespace ``xp``
(:mod:`minigrad.rules`); the scalar engine evaluates them with this module. Where the tensor
engines follow PyTorch and return NaN or inf (``log(-1)``, ``0 ** -1``), a function here raises
an error naming the function and the value, because a student stepping through backprop should
see where the math stops working.

>>> from minigrad.scalar import floats as xp
>>> xp.where(2.0 > 0, 1.0, 0.0)
1.0
>>> xp.log(-1.0)
Traceback (most recent call last):
...
ValueError: log is undefined for x = -1.0 (x must be > 0)
"""

from __future__ import annotations

import builtins
import math


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({x!r}) overflows a float (x must be < ~709.78)") from None


def expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        raise OverflowError(f"expm1({x!r}) overflows a float (x must be < ~709.78)") from None


def log(x: float) -> float:
    if not x > 0.0:
        raise ValueError(f"log is undefined for x = {x!r} (x must be > 0)")
    return math.log(x)


def log1p(x: float) -> float:
    if not x > -1.0:
        raise ValueError(f"log1p is undefined for x = {x!r} (x must be > -1)")
    return math.log1p(x)


def sqrt(x: float) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt is undefined for x = {x!r} (x must be >= 0)")
    return math.sqrt(x)


def sin(x: float) -> float:
    return math.sin(x)


def cos(x: float) -> float:
    return math.cos(x)


def tan(x: float) -> float:
    return math.tan(x)


def tanh(x: float) -> float:
    return math.tanh(x)


def abs(x: float) -> float:  # noqa: A001 - the array API's name
    return builtins.abs(x)


def sign(x: float) -> float:
    """1, -1, or 0 (NaN stays NaN, as numpy's sign)."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x * 0.0)


def floor(x: float) -> float:
    return float(math.floor(x))


def where(cond, a, b):
    """``a if cond else b``: the namespace's select (both sides are already evaluated)."""
    return a if cond else b


def maximum(a: float, b: float) -> float:
    """The larger; NaN if either is NaN (as numpy and PyTorch)."""
    if a != a or b != b:
        return math.nan
    return a if a >= b else b


def minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return math.nan
    return a if a <= b else b


def pow(a: float, b: float) -> float:  # noqa: A001 - the array API's name
    """a^b; a negative base needs an integer exponent, and 0 has no negative power."""
    if a < 0.0 and not float(b).is_integer():
        raise ValueError(f"pow({a!r}, {b!r}): a negative base needs an integer exponent")
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"pow(0, {b!r}): zero to a negative power")
    try:
        return math.pow(a, b)
    except OverflowError:
        raise OverflowError(f"pow({a!r}, {b!r}) overflows a float") from None


def exp2(x: float) -> float:
    try:
        return math.pow(2.0, x)
    except OverflowError:
        raise OverflowError(f"exp2({x!r}) overflows a float (x must be < 1024)") from None


def log2(x: float) -> float:
    if not x > 0.0:
        raise ValueError(f"log2 is undefined for x = {x!r} (x must be > 0)")
    return math.log2(x)


def log10(x: float) -> float:
    if not x > 0.0:
        raise ValueError(f"log10 is undefined for x = {x!r} (x must be > 0)")
    return math.log10(x)


def _domain(name, f, ok, what):
    def g(x: float) -> float:
        if not ok(x):
            raise ValueError(f"{name} is undefined for x = {x!r} ({what})")
        return f(x)
    g.__name__ = name
    return g


asin = _domain("asin", math.asin, lambda x: -1.0 <= x <= 1.0, "x must be in [-1, 1]")
acos = _domain("acos", math.acos, lambda x: -1.0 <= x <= 1.0, "x must be in [-1, 1]")
acosh = _domain("acosh", math.acosh, lambda x: x >= 1.0, "x must be >= 1")
atanh = _domain("atanh", math.atanh, lambda x: -1.0 < x < 1.0, "x must be in (-1, 1)")
atan, asinh, erf, erfc = math.atan, math.asinh, math.erf, math.erfc


def sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        raise OverflowError(f"sinh({x!r}) overflows a float") from None


def cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        raise OverflowError(f"cosh({x!r}) overflows a float") from None


def atan2(a: float, b: float) -> float:
    return math.atan2(a, b)


def ceil(x: float) -> float:
    return float(math.ceil(x))


def round(x: float) -> float:  # noqa: A001 - the array API's name
    """To the nearest integer, halves to even (as numpy and PyTorch)."""
    return float(builtins.round(x))


def trunc(x: float) -> float:
    return float(math.trunc(x))


def copysign(a: float, b: float) -> float:
    return math.copysign(a, b)


def fmod(a: float, b: float) -> float:
    if b == 0.0:
        raise ZeroDivisionError(f"fmod({a!r}, 0): the remainder of a division by zero")
    return math.fmod(a, b)


def isnan(x: float) -> bool:
    return x != x
