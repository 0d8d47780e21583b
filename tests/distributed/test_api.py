"""What needs no MPI job: errors before init and without mpi4py, DistributedSampler (against
PyTorch's when it is installed), DataLoader(sampler=...), and how ``fit`` shards a step.

Nothing here initializes MPI in the test process: the jobs are in the other test files.
"""

import sys

import numpy as np
import pytest

import minigrad
import minigrad.distributed as dist
from minigrad import nn
from minigrad.data import ArrayDataset, DataLoader, DistributedSampler, make_xor


def _ds(n):
    return ArrayDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.zeros(n, np.int64))


# ---- minigrad.distributed before init ------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: dist.get_rank(), lambda: dist.get_world_size(), lambda: dist.barrier(),
    lambda: dist.all_reduce(minigrad.zeros(2)), lambda: dist.broadcast(minigrad.zeros(2), 0),
    lambda: dist.all_gather([minigrad.zeros(2)], minigrad.zeros(2)),
    lambda: dist.destroy_process_group(),
    lambda: nn.parallel.DistributedDataParallel(nn.Linear(2, 2)),
])
def test_before_init_a_clear_error(call):
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match=r"init_process_group\(\)"):
        call()


def test_only_the_mpi_backend():
    with pytest.raises(ValueError, match="backend must be 'mpi'.*nccl"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=-1)
    assert not dist.is_initialized()


def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)        # import mpi4py now fails
    with pytest.raises(ImportError, match=r'pip install "minigrad\[mpi\]".*openmpi'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_reduce_op_names():
    assert [op.name for op in dist.ReduceOp] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]


# ---- DistributedSampler --------------------------------------------------------------------------


@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4), (7, 2), (2, 5), (1437, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shares(n, replicas, drop_last):
    shares = [list(DistributedSampler(_ds(n), replicas, r, seed=3, drop_last=drop_last))
              for r in range(replicas)]
    lengths = {len(s) for s in shares}
    assert len(lengths) == 1, "every rank must get the same number of samples"
    every = [i for s in shares for i in s]
    if drop_last:
        assert len(every) == len(set(every)) == (n // replicas) * replicas
    else:
        assert set(every) == set(range(n))                  # the whole dataset, padded
        assert len(every) == -(-n // replicas) * replicas


def test_sampler_epochs_and_ranks_agree():
    a, b = (DistributedSampler(_ds(50), 2, r, seed=1) for r in range(2))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first, "each epoch has its own order"
    b.set_epoch(1)
    assert sorted(list(a) + list(b)) == list(range(50))     # the same permutation on each rank
    a.set_epoch(0)
    assert list(a) == first


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                  (9, 3, False), (11, 4, True)])
def test_sampler_same_as_torch_without_shuffle(n, replicas, drop_last):
    torch_dist = pytest.importorskip("torch.utils.data.distributed")
    for r in range(replicas):
        theirs = torch_dist.DistributedSampler(list(range(n)), replicas, r, shuffle=False,
                                               drop_last=drop_last)
        ours = DistributedSampler(_ds(n), replicas, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_errors():
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedSampler(_ds(4))
    with pytest.raises(ValueError, match=r"Invalid rank 2.*\[0, 1\]"):
        DistributedSampler(_ds(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(_ds(4), num_replicas=0, rank=0)


# ---- DataLoader(sampler=...) ---------------------------------------------------------------------


def test_loader_follows_the_sampler():
    ds = _ds(10)
    sampler = DistributedSampler(ds, 2, 1, shuffle=False)
    loader = DataLoader(ds, batch_size=2, sampler=sampler, as_numpy=True)
    assert len(loader) == 3
    assert [x[:, 0].tolist() for x, _ in loader] == [[1, 3], [5, 7], [9]]
    assert [len(y) for _, y in DataLoader(ds, 2, sampler=sampler, drop_last=True)] == [2, 2]
    assert "sampler=DistributedSampler(num_replicas=2, rank=1" in repr(loader)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=sampler, shuffle=True)
    with pytest.raises(TypeError, match="sampler"):
        DataLoader(ds, sampler=3)


def test_loader_with_a_plain_list_as_sampler():
    xb, _ = next(iter(DataLoader(make_xor(8, seed=0), 3, sampler=[7, 0, 5], as_numpy=True)))
    np.testing.assert_array_equal(xb, make_xor(8, seed=0).X[[7, 0, 5]])


# ---- how fit shards a step -----------------------------------------------------------------------


@pytest.mark.parametrize("n,batch,world", [(1437, 32, 2), (100, 8, 3), (9, 4, 2)])
def test_fit_steps_are_the_single_process_steps(n, batch, world):
    """Step k of all ranks together holds the samples of the single process's step k (batch
    world * batch), and the weights make the ranks' average the mean over the real samples."""
    from minigrad.train import _shard

    ds = _ds(n)
    single = [set(x[:, 0].astype(int).tolist())
              for x, _ in DataLoader(ds, batch * world, shuffle=True, seed=5 + 2, as_numpy=True)]
    shards = [_shard(ds, batch, 5, 2, r, world) for r in range(world)]
    steps = [list(loader) for loader, _ in shards]
    assert {len(s) for s in steps} == {len(single)}
    for k, want in enumerate(single):
        got, real = set(), []
        for r, (_, weights) in enumerate(shards):
            x, y = steps[r][k]
            w = weights(k, len(y))
            # DDP averages the ranks' losses: a sample's weight in the step is w / world;
            # the padding (repeated samples) weighs 0
            w = np.full(len(y), 1.0 / len(y)) if w is None else w
            got |= set(x[w > 0, 0].astype(int).tolist())
            real += (w[w > 0] / world).tolist()
        assert got == want, k
        assert real == pytest.approx([1 / len(want)] * len(want))
