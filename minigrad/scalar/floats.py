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
