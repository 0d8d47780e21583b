"""Backends: where a Tensor's array lives and the kernels that compute on it, found by device name.

======================  ========================================================================
``reference``           plain numpy: the executable statement of the protocol (docs/architecture.md)
``cpu``                 the reference plus the compiled Cython kernels (``_cpu.pyx``) where they pay
``opencl``              pyopencl arrays and the kernels of ``kernels/*.cl``, plus one kernel
                        generated from each rule of the rule book
======================  ========================================================================

A backend is a module, imported on first use: ``import minigrad.scalar`` loads none of them.

>>> from minigrad import backends
>>> backends.get("reference").name
'reference'
>>> backends.get("tpu")
Traceback (most recent call last):
...
ValueError: unknown device 'tpu': known devices are 'cpu', 'opencl', 'reference'
"""

from __future__ import annotations

import importlib

_MODULES = {
    "cpu": "minigrad.backends.cpu",
    "opencl": "minigrad.backends.opencl",
    "reference": "minigrad.backends.reference",
}
_loaded: dict = {}


def register(device: str, module: str) -> None:
    """Make ``device`` name the backend in module ``module`` (imported on first use)."""
    _MODULES[device] = module
    _loaded.pop(device, None)


def devices() -> tuple[str, ...]:
    """The device names a backend is registered for."""
    return tuple(_MODULES)


def get(device):
    """The backend module of ``device`` ("cpu", "opencl", "opencl:1", "reference", ...)."""
    be = _loaded.get(device)
    if be is not None:
        return be
    if device is None:
        return get("cpu")
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'opencl', got "
                        f"{type(device).__name__}")
    base = device.split(":", 1)[0]
    if base not in _MODULES:
        known = ", ".join(repr(d) for d in sorted(_MODULES))
        raise ValueError(f"unknown device {device!r}: known devices are {known}")
    be = importlib.import_module(_MODULES[base])
    _loaded[device] = be
    return be
