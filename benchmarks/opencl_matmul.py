"""OpenCL matmul GFLOPS, per kernel (naive / tiled / blocked), next to numpy's float32 BLAS.

What is timed: one ``backend.matmul`` call on device-resident A and B (their upload is NOT
included, it happens once before the timings), including the kernel(s) (for "blocked" also the
packing of A and B) and the transfer of C back to the host. numpy is timed in the same process
and run, so the ratio is meaningful on a noisy machine. Each figure is the median of `repeats`.

    python benchmarks/opencl_matmul.py [sizes ...]

Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for a fair numpy (they slow its BLAS when set).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minigrad.backends import opencl as backend  # noqa: E402
from minigrad.backends.opencl import runtime  # noqa: E402

# The naive kernel runs at a few GFLOPS on a CPU: beyond this many flops it would take seconds.
NAIVE_MAX_FLOPS = 2 * 512**3


def _median_seconds(fn, repeats: int) -> float:
    fn()                                   # warm-up: builds, PoCL's per-size compilation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(sizes=(256, 512, 1024, 2048), repeats=5) -> list[dict]:
    """One row per size: GFLOPS of numpy and of each OpenCL kernel (None when skipped)."""
    device = runtime.get_device().name.strip()
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        da, db = backend.asarray(a), backend.asarray(b)
        flops = 2.0 * n**3
        row = {"n": n, "device": device, "auto": backend.matmul_kernel_for()}
        row["numpy"] = flops / _median_seconds(lambda a=a, b=b: a @ b, repeats) / 1e9
        ref = a.astype(np.float64) @ b
        for kernel in backend.MATMUL_KERNELS:
            if kernel == "naive" and flops > NAIVE_MAX_FLOPS:
                row[kernel] = None
                continue
            got = backend.to_numpy(backend.matmul(da, db, kernel=kernel))
            err = float(np.abs(got - ref).max() / np.abs(ref).max())
            assert err < 1e-4, f"{kernel} at n={n}: relative error {err}"
            seconds = _median_seconds(
                lambda k=kernel, da=da, db=db: backend.to_numpy(backend.matmul(da, db, kernel=k)),
                repeats)
            row[kernel] = flops / seconds / 1e9
        best = row["blocked"] if row["auto"] == "blocked" else row["tiled"]
        row["auto_vs_numpy"] = best / row["numpy"]
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    def f(v):
        return "     -" if v is None else f"{v:6.1f}"

    lines = [f"device: {rows[0]['device']}   (GFLOPS, median; C download included, "
             f"A/B upload excluded)",
             "     n   numpy   naive   tiled blocked  auto/numpy"]
    for r in rows:
        lines.append(f"{r['n']:6d}  {f(r['numpy'])}  {f(r['naive'])}  {f(r['tiled'])}  "
                     f"{f(r['blocked'])}  {r['auto_vs_numpy']:9.0%}")
    return "\n".join(lines)


if __name__ == "__main__":
    sizes = tuple(int(s) for s in sys.argv[1:]) or (256, 512, 1024, 2048)
    print(format_table(run(sizes)))
