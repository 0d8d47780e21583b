"""Protocol functions the OpenCL backend computes on the host: the reference's numpy version,
with device arrays copied to the host and the results copied back.

For ops off the training hot paths (comparisons, sorting, scans, integer arithmetic) correctness
and coverage come first: every protocol function has an OpenCL version from the day it exists,
and a kernel replaces the host version where measuring shows it pays.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import reference
from .device import _is_array, asarray, to_numpy


def _down(x):
    if _is_array(x):
        return to_numpy(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_down(v) for v in x)
    return x


def _up(y):
    if isinstance(y, np.ndarray) or isinstance(y, np.generic):
        return asarray(np.asarray(y))
    if isinstance(y, tuple):
        return tuple(_up(v) for v in y)
    return y


def on_host(name: str):
    """The reference's protocol function ``name``, run on the host for device arrays."""
    fn = getattr(reference, name)

    @functools.wraps(fn)
    def run(*args, **kwargs):
        return _up(fn(*_down(args), **{k: _down(v) for k, v in kwargs.items()}))
    return run
