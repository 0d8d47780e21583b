"""Collectives and DistributedDataParallel in a real job of 2 ranks (``mpiexec -n 2``).

workers/checks.py runs every check on both ranks in one job (one start-up); each test here
reads one check's outcome on both ranks. The DDP checks compare 2 ranks, each on half of every
batch, with one process on the whole batch: 5 SGD and 5 Adam steps, rank 1 starting from other
weights (so the broadcast at construction is needed), to 1e-5.
"""

import json

import pytest

CPU_CHECKS = [
    "all_reduce_ops", "all_reduce_in_place", "all_reduce_async", "broadcast_from_rank_1",
    "all_gather_values", "state_queries", "ddp_sgd_equals_one_process",
    "ddp_adam_equals_one_process_many_buckets", "ddp_no_sync_accumulates_like_the_big_batch",
    "ddp_broadcasts_buffers", "ddp_batchnorm_running_stats_follow_rank_0",
    "ddp_shared_use_and_unused_parameters", "ddp_parameters_reached_through_parameters",
    "ddp_forward_without_backward_is_dropped", "ddp_errors",
    "fit_distributed_same_as_one_process_with_the_global_batch",
]


def _results(job) -> list[dict]:
    job.check()
    return [json.loads((job.cwd / f"results-{r}.json").read_text()) for r in range(2)]


@pytest.fixture(scope="module")
def cpu_results(mpirun):
    return _results(mpirun(["checks.py"], timeout=90))


@pytest.mark.parametrize("name", CPU_CHECKS)
def test_two_ranks(cpu_results, name):
    for rank, results in enumerate(cpu_results):
        assert name in results, f"rank {rank} did not run {name}"
        assert results[name] == "ok", f"rank {rank}, {name}:\n{results[name]}"


def test_every_check_is_listed(cpu_results):
    assert set(cpu_results[0]) == set(CPU_CHECKS)


@pytest.mark.opencl
def test_two_ranks_on_opencl(mpirun):
    """Collectives on OpenCL tensors (through host buffers) and DDP on the device agree with
    one process on the CPU."""
    for rank, results in enumerate(_results(mpirun(["checks.py", "--opencl"], timeout=180))):
        for name, outcome in results.items():
            assert outcome == "ok", f"rank {rank}, {name}:\n{outcome}"
