"""A failing rank ends the whole job quickly, non-zero, with its error: never a hang.

Rank 1 fails while rank 0 waits for it in an all_reduce (workers/faults.py): by an exception
(the excepthook aborts the job), by sys.exit (its exit message makes rank 0's watchdog abort),
or by not arriving within the timeout (rank 0's watchdog aborts).
"""

import pytest

CASES = {
    "raise": ("ValueError: rank 1 failed on purpose", 20),
    "exit": ("rank 1 has left the job", 25),
    "timeout": ("all_reduce did not complete within 2 s", 20),
}


@pytest.mark.parametrize("mode", list(CASES))
def test_failing_rank_ends_the_job(mpirun, mode):
    message, seconds = CASES[mode]
    job = mpirun(["faults.py", mode], timeout=60)
    assert job.returncode != 0, job.output
    assert "did not end" not in job.output
    assert message in job.output, job.output[-3000:]
    assert job.seconds < seconds, f"the job took {job.seconds:.1f} s to end"
