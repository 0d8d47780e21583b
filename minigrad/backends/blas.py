"""numpy's BLAS, seen from the CPU backend: how many threads it runs, and running it on one.

The convolution kernels split a batch over worker threads, each running im2col and a GEMM on its
own images with a one-threaded BLAS: every core then works from its own L2 cache on a chunk of
columns, instead of all cores sharing each small GEMM (see ``cpu.conv2d``). That needs the BLAS's
thread count, which numpy does not expose: OpenBLAS (numpy's wheels, under a ``scipy_openblas``
prefix, or a system one) has ``openblas_get_num_threads`` / ``openblas_set_num_threads``, found
here in the library already loaded, as threadpoolctl does. With another BLAS (MKL, Accelerate)
``threads()`` is 1 and the kernels run their chunks in order, on the BLAS's own threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

import numpy as np  # noqa: F401 - loads the BLAS this module looks for

_SYMBOLS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
            ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
            ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
            ("openblas_get_num_threads", "openblas_set_num_threads"))
_lock = threading.Lock()
_api = None      # (get, set) once looked up; () when there is none


def _find():
    global _api
    if _api is not None:
        return _api
    _api = ()
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps
                     if "openblas" in line.lower() and ".so" in line}
    except OSError:   # not Linux: no /proc
        return _api
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            get, set_ = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                _api = (get, set_)
                return _api
    return _api


def threads() -> int:
    """The BLAS's thread count (1 when it cannot be read)."""
    api = _find()
    return max(1, int(api[0]())) if api else 1


@contextlib.contextmanager
def single_threaded():
    """Run the BLAS on one thread inside the block (restored after it). Blocks of different
    threads nest correctly: the count goes back when the last one ends."""
    api = _find()
    if not api:
        yield
        return
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = api[0]()
            api[1](1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                api[1](_saved)


_depth = 0
_saved = 1
