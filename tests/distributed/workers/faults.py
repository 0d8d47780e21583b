"""A job in which rank 1 fails while rank 0 waits for it in an all_reduce; the job must end,
non-zero, within seconds (tests/distributed/test_faults.py).

    mpiexec -n 2 python faults.py raise|exit|timeout
"""

import sys
import time

import minigrad
import minigrad.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=2.0 if mode == "timeout" else 120.0)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("rank 1 failed on purpose")
    if mode == "exit":
        sys.exit(3)
    if mode == "timeout":
        time.sleep(100)
t = minigrad.tensor([1.0])
dist.all_reduce(t)               # rank 0 waits here for a rank that never comes
print("all_reduce returned: the job did not end", flush=True)
