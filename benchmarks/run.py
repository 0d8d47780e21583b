"""minigrad's benchmark runner: prints a header and one table per group, writes results.json.

    ./run bench [--quick] [--only matmul,mlp,...] [--repeats N]      (from the repo root)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py [...]

A report, not a test: nothing is asserted about times. Each figure is a median over repeats
after warm-up, and every ratio compares against a peer measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):                   # run as a script: make "benchmarks" importable
    # appended, not prepended: an installed minigrad (./run bench) must win over the source tree
    sys.path.append(str(HERE.parent))
    __package__ = "benchmarks"                  # noqa: A001

from benchmarks.bench_conv import bench_conv  # noqa: E402
from benchmarks.bench_distributed import bench_distributed  # noqa: E402
from benchmarks.bench_nn import bench_nn  # noqa: E402
from benchmarks.bench_opencl import bench_opencl  # noqa: E402
from benchmarks.bench_optim import bench_optim  # noqa: E402
from benchmarks.bench_scalar import bench_scalar  # noqa: E402
from benchmarks.bench_tensor import bench_matmul, bench_mlp, bench_overhead  # noqa: E402
from benchmarks.common import TORCH_THREADS, format_table, import_torch  # noqa: E402

GROUPS = {
    "matmul": ("1. matmul float32 (no grad), GFLOPS", bench_matmul),
    "mlp": ("2. MLP training step 784-256-10, batch 64, float32, SGD", bench_mlp),
    "overhead": ("3. per-op overhead, 1-element tensors, microseconds", bench_overhead),
    "conv": ("4. conv2d / max-pool fwd+bwd, worksheet-4 CNN training step", bench_conv),
    "scalar": ("5. scalar engine vs micrograd (~120k nodes, gc enabled)", bench_scalar),
    "opencl": ("6. OpenCL engine", bench_opencl),
    "optim": ("7. optimizer step, float32", bench_optim),
    "distributed": ("8. distributed: all-reduce over MPI, CNN step at 1 and 2 ranks",
                    bench_distributed),
    "nn": ("9. nn layers: BatchNorm CNN and LSTM training steps, float32, Adam", bench_nn),
}
RESULTS = HERE / "results.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    """The 1/5/15-minute load averages: above the core count, other work skews the figures."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def environment() -> dict:
    import numpy as np
    env = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": None,
        "torch_threads": None,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "blas": [],
        "loadavg_start": loadavg(),
    }
    torch = import_torch()
    if torch is not None:
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
        for p in threadpool_info():
            env["blas"].append({k: p.get(k) for k in ("user_api", "internal_api", "version",
                                                      "architecture", "corename", "num_threads",
                                                      "prefix") if p.get(k) is not None})
    except ImportError:
        env["blas"] = "threadpoolctl not installed"
    return env


def header(env: dict) -> str:
    def unset(name):
        v = env[name]
        return "unset" if v is None else f"SET to {v!r} (numpy's BLAS is slower: unset it)"

    lines = [
        "minigrad benchmarks",
        f"date:      {env['date']}",
        f"cpu:       {env['cpu']} ({env['cores']} logical cores)",
        f"versions:  python {env['python']}, numpy {env['numpy']}, torch {env['torch'] or '-'}",
        f"load:      {env['loadavg_start']} (1/5/15 min; above {env['cores']} means other "
        f"work competes for the cores)",
        f"threads:   torch {env['torch_threads'] or '-'} (set_num_threads({TORCH_THREADS}))",
        f"env:       OPENBLAS_CORETYPE {unset('OPENBLAS_CORETYPE')}; "
        f"OPENBLAS_L2_SIZE {unset('OPENBLAS_L2_SIZE')}",
    ]
    try:
        if float(env["loadavg_start"].split()[0]) > (env["cores"] or 1):
            lines.append("WARNING:   the load is above the core count: other work is running, "
                         "absolute figures are unreliable (ratios less so); rerun when idle")
    except ValueError:
        pass
    if isinstance(env["blas"], str):
        lines.append(f"blas:      {env['blas']}")
    for p in env["blas"]:
        arch = p.get("architecture") or p.get("corename") or "-"
        lines.append(f"threadpool: {p.get('internal_api')} {p.get('version') or ''} "
                     f"arch {arch}, {p.get('num_threads')} threads ({p.get('prefix')})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    ap.add_argument("--only", default="", help=f"comma-separated groups: {','.join(GROUPS)}")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case "
                    "(default 7, or 3 with --quick; the scalar group always takes 3)")
    ap.add_argument("--json", default=str(RESULTS), help="where to write the results")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    repeats = args.repeats or (3 if args.quick else 7)

    env = environment()
    print(header(env))
    print(f"repeats:   {repeats} (median after warm-up){'; --quick' if args.quick else ''}")
    print()
    results = {"environment": env, "repeats": repeats, "quick": args.quick, "groups": {}}
    t_all = time.perf_counter()
    for name in names:
        title, fn = GROUPS[name]
        print(f"-- {title} ...", flush=True)
        t0 = time.perf_counter()
        try:
            rows = fn(repeats, args.quick)
        except Exception:                       # noqa: BLE001 - a report never stops
            import traceback
            traceback.print_exc()
            rows = []
        print(format_table(title, rows) if rows else f"== {title} ==\n(no results)")
        print(f"({time.perf_counter() - t0:.0f} s)\n", flush=True)
        results["groups"][name] = {"title": title, "rows": rows}
    results["seconds"] = time.perf_counter() - t_all
    results["environment"]["loadavg_end"] = loadavg()
    print(f"load at the end: {results['environment']['loadavg_end']}")
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results written to {args.json} ({results['seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
