"""Shared fixtures of the test suite."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy generator, so a failing test fails the same way every run."""
    return np.random.default_rng(1234)


# ---- OpenCL: a missing device is a skip locally, an error in CI ----------------------------------
import os  # noqa: E402

_skipped_opencl: list[str] = []


def opencl_required() -> bool:
    return os.environ.get("MINIGRAD_REQUIRE_OPENCL") == "1"


def pytest_runtest_logreport(report):
    if report.skipped and "opencl" in report.keywords:
        _skipped_opencl.append(report.nodeid)


def pytest_collectreport(report):
    if report.skipped and "opencl" in os.path.basename(str(report.nodeid)):
        _skipped_opencl.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # CI sets MINIGRAD_REQUIRE_OPENCL=1: then a skipped OpenCL test means the device went missing,
    # and the run must fail rather than pass with the third engine untested.
    if opencl_required() and _skipped_opencl:
        print(f"\nMINIGRAD_REQUIRE_OPENCL=1 but {len(_skipped_opencl)} OpenCL test(s) were "
              f"skipped, e.g. {_skipped_opencl[0]}")
        session.exitstatus = 1
