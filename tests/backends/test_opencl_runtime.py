"""The OpenCL runtime: devices, device selection, build errors and the kernel caches.

The protocol itself is tested over every backend in test_protocol.py; this file holds what only
the OpenCL backend has. Nothing here touches the device at import time.
"""

import importlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from minigrad import rules
from minigrad.backends.opencl import runtime

pytestmark = pytest.mark.opencl


def _run_python(code, **env):
    # Run outside the source tree, so the child imports the same minigrad as this process (the
    # installed wheel under ./run test; PYTHONPATH, if the caller set one, is inherited).
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir())


def test_devices_listed_and_formatted():
    infos = runtime.devices()
    assert infos and all(info.device for info in infos)
    assert [info.index for info in infos] == list(range(len(infos)))
    table = runtime.format_devices()
    assert table.count("*") == 1
    assert all(info.device in table for info in infos)
    assert runtime.available()
    assert runtime.why_unavailable() == ""


def test_fp64_reported_consistently():
    chosen = runtime.get_device()
    assert runtime.has_fp64() == ("cl_khr_fp64" in chosen.extensions)
    assert any(info.fp64 == runtime.has_fp64() for info in runtime.devices())


def test_build_error_carries_the_build_log():
    with pytest.raises(runtime.KernelBuildError) as e:
        runtime.build_source("__kernel void broken(__global float *x) { x[0] = undefined_name; }",
                             name="broken.cl")
    assert isinstance(e.value, RuntimeError)
    assert "broken.cl" in str(e.value)
    assert "undefined_name" in str(e.value)          # the compiler's diagnostic, from the log


def test_nonexistent_device_gives_a_clear_error():
    code = (
        "from minigrad.backends.opencl import runtime\n"
        "assert not runtime.available()\n"
        "print(runtime.why_unavailable())\n"
        "try:\n"
        "    runtime.get_context()\n"
        "except runtime.OpenCLUnavailable as e:\n"
        "    assert isinstance(e, RuntimeError)\n"
        "    print('RAISED', e)\n"
    )
    out = _run_python(code, MINIGRAD_OPENCL_DEVICE="nonexistent")
    assert out.returncode == 0, out.stderr
    assert "MINIGRAD_OPENCL_DEVICE='nonexistent' matches no OpenCL device" in out.stdout
    assert "RAISED" in out.stdout


def test_device_index_out_of_range_gives_a_clear_error():
    n = len(runtime.devices())
    code = (
        "from minigrad.backends.opencl import runtime\n"
        "assert not runtime.available()\n"
        "print(runtime.why_unavailable())\n"
    )
    out = _run_python(code, MINIGRAD_OPENCL_DEVICE=str(n))
    assert out.returncode == 0, out.stderr
    assert f"MINIGRAD_OPENCL_DEVICE={n}: there are only {n} OpenCL device(s)" in out.stdout


def test_device_selected_by_index_and_substring():
    name = runtime.devices()[0].device
    for want in ("0", name[:6], name[:6].upper()):
        out = _run_python("from minigrad.backends.opencl import runtime\n"
                          "print(runtime.get_device().name)", MINIGRAD_OPENCL_DEVICE=want)
        assert out.returncode == 0, out.stderr
        assert name in out.stdout


def test_generated_rule_kernels_are_reused(opencl):
    generated = importlib.import_module("minigrad.backends.opencl.rules")
    exp = rules.get("exp")
    a = opencl.asarray(np.linspace(-2, 2, 5, dtype=np.float32))
    first = opencl.to_numpy(opencl.elementwise(exp, a))
    before = dict(generated._kernels)
    assert any(key[1] is exp for key in before), "the exp kernel is not in the cache"
    second = opencl.to_numpy(opencl.elementwise(exp, a))
    assert generated._kernels.keys() == before.keys()               # the cache did not grow
    assert all(generated._kernels[k] is v for k, v in before.items())
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(second, np.exp(np.linspace(-2, 2, 5)).astype(np.float32),
                               rtol=1e-5)


def test_hand_written_kernels_are_reused(opencl):
    a = opencl.asarray(np.arange(7, dtype=np.float32))
    assert float(opencl.to_numpy(opencl.sum(a))) == 21.0
    before = dict(runtime._kernels)
    assert any(key[1] == "reduce.cl" for key in before), "the sum kernel is not in the cache"
    assert float(opencl.to_numpy(opencl.sum(a))) == 21.0
    assert runtime._kernels.keys() == before.keys()                 # the cache did not grow
    assert all(runtime._kernels[k] is v for k, v in before.items())
    k1 = runtime.kernel("reduce.cl", "sum_kernel")
    assert runtime.kernel("reduce.cl", "sum_kernel") is k1
