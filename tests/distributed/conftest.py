"""Running real MPI jobs from the tests: ``mpirun(args, n=2)`` starts ``mpiexec -n 2 ...`` in a
temporary folder (not the source tree: the ranks import the installed minigrad), with a timeout
after which the whole job is killed, so that a hang fails the test instead of blocking CI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

WORKERS = Path(__file__).resolve().parent / "workers"


@dataclass
class Job:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cwd: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> Job:
        assert self.returncode == 0, (f"the MPI job exited with {self.returncode}\n--- stdout "
                                      f"---\n{self.stdout[-3000:]}\n--- stderr ---\n"
                                      f"{self.stderr[-5000:]}")
        return self


def mpi_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if os.geteuid() == 0:            # Open MPI refuses root unless told (CI runs as root)
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # Two ranks share two cores: one BLAS thread each, as on a cluster (one rank per core).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    # Shared memory only: every rank is on this machine, and probing the network transports
    # costs each job about a second.
    env.setdefault("OMPI_MCA_btl", "self,sm")
    env.update(extra or {})
    return env


def run_job(cmd: list[str], cwd: Path, timeout: float, env: dict | None = None) -> Job:
    """Run ``cmd`` in its own session; past ``timeout`` kill every process of it and fail."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=mpi_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:6])} ... did not finish within {timeout} s (a hang)\n"
                    f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-3000:]}")
    return Job(proc.returncode, out, err, time.monotonic() - t0, cwd)


@pytest.fixture(scope="session")
def mpirun(mpiexec, tmp_path_factory):
    """``mpirun(args, n=2, timeout=60, env=None, hostfile=None)``: ``mpiexec -n n args`` (args
    after the Python: a worker's name in workers/, or ``-m ...``) in a fresh temporary folder."""

    def run(args: list[str], n: int = 2, timeout: float = 60, env: dict | None = None,
            hostfile: str | None = None, cwd: Path | None = None) -> Job:
        cwd = cwd or tmp_path_factory.mktemp("mpi")
        launch = [mpiexec, "-n", str(n), "--bind-to", "none"]
        if hostfile is not None:
            (cwd / "hosts").write_text(hostfile)
            launch += ["--hostfile", "hosts"]
        return run_job([*launch, *command(args)], cwd, timeout, env)

    return run


@pytest.fixture
def python_run(mpiexec, tmp_path_factory):
    """``python_run(args, timeout=60)``: the same, without mpiexec (a job of one rank)."""

    def run(args: list[str], timeout: float = 60, env: dict | None = None,
            cwd: Path | None = None) -> Job:
        return run_job(command(args), cwd or tmp_path_factory.mktemp("py"), timeout, env)

    return run


def command(args: list[str]) -> list[str]:
    """A worker of workers/ by file name, ``minigrad ...`` (the installed command), or
    arguments for this Python."""
    if args and args[0].endswith(".py") and "/" not in args[0]:
        return [sys.executable, str(WORKERS / args[0]), *args[1:]]
    if args and args[0] == "minigrad":
        exe = shutil.which("minigrad", path=os.path.dirname(sys.executable))
        return [exe, *args[1:]] if exe else [sys.executable, "-m", "minigrad.cli", *args[1:]]
    return [sys.executable, *args]
