"""numpy as the array namespace the reference and cpu backends evaluate rules with: numpy's own
functions under the array API's names (``pow``, ``asin``), plus ``erf``/``erfc``, which numpy
lacks (SciPy's when it is installed, else math.erf element by element: correct, slower).

>>> import numpy as np
>>> from minigrad.backends.numpy_xp import namespace as xp
>>> xp.erf(np.array([0.0, 1.0], np.float32))
array([0.       , 0.8427008], dtype=float32)
"""

from __future__ import annotations

import math

import numpy as np

from ..symbolic import FUNCTIONS

_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
            "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "pow": "power"}


def _elementwise(f):
    uf = np.frompyfunc(f, 1, 1)

    def g(x):
        x = np.asarray(x)
        dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        return uf(x).astype(dt)
    return g


def _special(name):
    """SciPy's ``name`` when SciPy is installed (imported on first use: it is slow to import),
    else math's, element by element."""
    cache = {}

    def f(x):
        g = cache.get("f")
        if g is None:
            try:  # pragma: no cover - depends on the environment
                from scipy import special
                g = getattr(special, name)
            except ImportError:  # pragma: no cover
                g = _elementwise(getattr(math, name))
            cache["f"] = g
        return g(x)
    f.__name__ = name
    return f


_erf, _erfc = _special("erf"), _special("erfc")


class _Namespace:
    def __repr__(self) -> str:
        return "<minigrad numpy namespace>"


namespace = _Namespace()
for _name in FUNCTIONS:
    setattr(namespace, _name, getattr(np, _ALIASES.get(_name, _name), None))
namespace.erf, namespace.erfc = _erf, _erfc
namespace.round = np.rint  # halves to even, and a float result, as PyTorch
assert all(getattr(namespace, n) is not None for n in FUNCTIONS), "numpy lacks a rule function"
