"""``mpiexec -n 2 minigrad train --distributed``: each rank trains on its share, rank 0 alone
prints and saves, and the model is as good as one process's with the same global batch.

(That the model is the *same* as one process's, for a model without dropout, is checked in
workers/checks.py: fit_distributed_same_as_one_process_with_the_global_batch.)
"""

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad
from minigrad.train import train_digits


def test_train_distributed_reaches_the_single_process_accuracy(mpirun):
    # launched as the README shows it: a hostfile that names this machine twice
    job = mpirun(["minigrad", "train", "--distributed", "--epochs", "3", "--no-progress",
                  "--save", "cnn.npz"], hostfile="localhost\nlocalhost\n", timeout=120).check()
    out = job.stdout
    assert "distributed: 2 rank(s) over MPI, batch size 32 per rank, 64 per step" in out
    assert out.count("final test accuracy") == 1 and out.count("epoch  1") == 1, out
    dist_acc = float(out.split("final test accuracy ")[1].split("%")[0]) / 100

    with threadpool_limits(1):        # one BLAS thread, as each rank (faster on 2 busy cores)
        _, hist = train_digits("cnn", epochs=3, batch_size=64, progress=False,
                               log=lambda *a: None)
    assert dist_acc >= hist.test_accuracy[-1] - 0.03, (dist_acc, hist.test_accuracy)
    assert dist_acc > 0.85

    state = minigrad.load(str(job.cwd / "cnn.npz"))
    net = minigrad.train.worksheet4_cnn(8)
    net.load_state_dict(state)
    train, test = minigrad.data.load_digits(seed=0)
    assert abs(minigrad.train.accuracy(net, test.X, test.y) - dist_acc) < 6e-5  # printed x.xx%


def test_train_distributed_without_mpiexec_is_one_rank(python_run):
    job = python_run(["minigrad", "train", "--distributed", "--model", "mlp", "--epochs", "1",
                      "--no-progress"]).check()
    assert "distributed: 1 rank(s) over MPI" in job.stdout
    assert "final test accuracy" in job.stdout
    assert np.isfinite(float(job.stdout.split("final test accuracy ")[1].split("%")[0]))
