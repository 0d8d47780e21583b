"""The checks of tests/distributed/test_ddp.py, run as one MPI job of two ranks (one start-up
for all of them):

    mpiexec -n 2 python checks.py [--opencl]

Every check runs on every rank, in the same order (collectives must match); each rank writes
{check: "ok" or the traceback} to results-<rank>.json in the working folder.
"""

from __future__ import annotations

import json
import sys
import traceback

import numpy as np

import minigrad
import minigrad.distributed as dist
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.distributed import ReduceOp
from minigrad.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi", timeout=30)
RANK, WORLD = dist.get_rank(), dist.get_world_size()
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def raises(exc, fn, match: str):
    try:
        fn()
    except exc as e:
        assert match in str(e), f"{type(e).__name__} without {match!r}: {e}"
        return
    raise AssertionError(f"{fn} did not raise {exc.__name__}")


def close(a, b, tol=1e-5, what=""):
    a, b = np.asarray(a), np.asarray(b)
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert a.shape == b.shape and err <= tol, f"{what}: max |diff| {err:g} > {tol:g}"


def gather(obj) -> list:
    out = [None] * WORLD
    dist.all_gather_object(out, obj)
    return out


# ---- collectives ---------------------------------------------------------------------------------


@check
def all_reduce_ops():
    v = np.array([RANK + 1.0, -(RANK + 1.0), 2.0], dtype=np.float32)
    want = {ReduceOp.SUM: [3, -3, 4], ReduceOp.AVG: [1.5, -1.5, 2], ReduceOp.MAX: [2, -1, 2],
            ReduceOp.MIN: [1, -2, 2], ReduceOp.PRODUCT: [2, 2, 4]}
    for op, w in want.items():
        t = minigrad.tensor(v)
        assert dist.all_reduce(t, op=op) is None
        close(t.numpy(), w, 0, op.name)
        assert t.dtype == np.float32
    i = minigrad.tensor(np.array([RANK + 1, 10], dtype=np.int64))
    dist.all_reduce(i)
    assert i.tolist() == [3, 20] and i.dtype == np.int64
    s = minigrad.tensor(RANK + 1.0)                       # 0-d, as a loss
    dist.all_reduce(s, op=ReduceOp.AVG)
    assert s.shape == () and s.item() == 1.5
    raises(TypeError, lambda: dist.all_reduce(i, op=ReduceOp.AVG), "float")
    raises(ValueError, lambda: dist.all_reduce(s, op="sum"), "ReduceOp.SUM")
    raises(TypeError, lambda: dist.all_reduce(np.zeros(2)), "minigrad Tensor")


@check
def all_reduce_in_place():
    a = np.full(4, RANK + 1.0)
    t = minigrad.from_numpy(a)                            # shares a's memory
    before = t._version
    dist.all_reduce(t)
    assert t.data is a and a.tolist() == [3.0] * 4, (t.data, a)
    assert t._version > before, "an in-place change must bump the version"
    # a view that is not contiguous goes through a copy, and the tensor gets the result
    m = minigrad.tensor(np.arange(6.0).reshape(2, 3) * (RANK + 1)).T
    dist.all_reduce(m)
    close(m.numpy(), (np.arange(6.0).reshape(2, 3) * 3).T, 0, "transposed view")


@check
def all_reduce_async():
    t = minigrad.tensor([RANK + 1.0] * 3)
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() is True and work.is_completed()
    assert t.tolist() == [3.0] * 3
    assert dist.barrier(async_op=True).wait()


@check
def broadcast_from_rank_1():
    t = minigrad.tensor([float(RANK), 10.0 + RANK])
    dist.broadcast(t, src=1)
    assert t.tolist() == [1.0, 11.0], t.tolist()
    raises(ValueError, lambda: dist.broadcast(t, src=2), "[0, 2)")


@check
def all_gather_values():
    out = [minigrad.zeros(2, 3) for _ in range(WORLD)]
    mine = minigrad.tensor(np.full((2, 3), RANK + 0.5, dtype=np.float32))
    dist.all_gather(out, mine)
    for r, o in enumerate(out):
        close(o.numpy(), np.full((2, 3), r + 0.5), 0, f"part {r}")
    raises(ValueError, lambda: dist.all_gather(out[:1], mine), "world_size=2")
    raises(ValueError, lambda: dist.all_gather([minigrad.zeros(3)] * 2, mine), "must match")
    objs = gather({"rank": RANK})
    assert objs == [{"rank": 0}, {"rank": 1}], objs
    items = ["a", RANK] if RANK == 1 else [None, None]
    dist.broadcast_object_list(items, src=1)
    assert items == ["a", 1], items
    dist.barrier()


@check
def state_queries():
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert (dist.get_rank(), dist.get_world_size()) == (RANK, 2)
    raises(ValueError, lambda: dist.init_process_group("mpi"), "twice")
    raises(ValueError, lambda: dist.get_rank(group=object()), "default process group")


# ---- DistributedDataParallel ---------------------------------------------------------------------


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 10))


_rng = np.random.default_rng(0)                            # the same batches on both ranks
BATCHES = [(_rng.standard_normal((16, 1, 8, 8)).astype(np.float32),
            _rng.integers(0, 10, 16)) for _ in range(5)]
HALF = slice(RANK * 8, RANK * 8 + 8)                       # this rank's half of each batch


def flat(model) -> np.ndarray:
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


def replica_of(model):
    ref = cnn()
    ref.load_state_dict(model.state_dict())
    return ref


def same_as_one_process(make_opt, bucket_cap_mb=25.0, steps=5):
    minigrad.manual_seed(100 + RANK)                       # rank 1 starts from other weights
    model = cnn()
    before = gather(float(flat(model).sum()))
    assert before[0] != before[1], "the ranks should start from different weights"
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    after = gather(flat(model).tolist())
    close(after[0], after[1], 0, "weights after the broadcast")
    ref = replica_of(model)                                 # one process, the whole batch
    opt, ref_opt = make_opt(ddp.parameters()), make_opt(ref.parameters())
    for X, y in BATCHES[:steps]:
        opt.zero_grad()
        F.cross_entropy(ddp(minigrad.tensor(X[HALF])), y[HALF]).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(ref(minigrad.tensor(X)), y).backward()
        ref_opt.step()
    close(flat(model), flat(ref), 1e-5, "2 ranks vs 1 process")
    ranks = gather(flat(model).tolist())
    close(ranks[0], ranks[1], 0, "rank 0 vs rank 1")
    return ddp


@check
def ddp_sgd_equals_one_process():
    ddp = same_as_one_process(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9))
    assert len(ddp._reducer.buckets) == 1                   # 5 kB of parameters


@check
def ddp_adam_equals_one_process_many_buckets():
    ddp = same_as_one_process(lambda ps: optim.Adam(ps, lr=1e-2), bucket_cap_mb=0.0001)
    buckets = ddp._reducer.buckets
    assert len(buckets) == 3, len(buckets)
    # reverse order: the last layer's parameters are in the first bucket
    assert buckets[0].indices[0] == len(ddp._reducer.params) - 1


@check
def ddp_no_sync_accumulates_like_the_big_batch():
    minigrad.manual_seed(7)
    model = cnn()
    ddp = DDP(model)
    X, y = BATCHES[0]
    first, second = slice(RANK * 8, RANK * 8 + 4), slice(RANK * 8 + 4, RANK * 8 + 8)
    with ddp.no_sync():
        (F.cross_entropy(ddp(minigrad.tensor(X[first])), y[first]) / 2).backward()
    local = gather(model[0].weight.grad.numpy().ravel().tolist())
    assert np.abs(np.subtract(*local)).max() > 1e-4, "no_sync must not communicate"
    (F.cross_entropy(ddp(minigrad.tensor(X[second])), y[second]) / 2).backward()
    ref = replica_of(model)
    F.cross_entropy(ref(minigrad.tensor(X)), y).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        close(p.grad.numpy(), q.grad.numpy(), 1e-6, "accumulated gradient")


class WithBuffer(nn.Module):
    """A model with a buffer (as BatchNorm's running mean), declared the PyTorch way."""

    def __init__(self, value: float):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        object.__setattr__(self, "stat", minigrad.full((3,), value))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield prefix + "stat", self.stat

    def forward(self, x):
        return self.fc(x)


@check
def ddp_broadcasts_buffers():
    m = WithBuffer(float(RANK) + 1.0)
    ddp = DDP(m)
    assert m.stat.tolist() == [1.0] * 3, m.stat.tolist()    # rank 0's, at construction
    m.stat.data[...] = 5.0 + RANK
    ddp(minigrad.randn(2, 2)).sum().backward()
    assert m.stat.tolist() == [5.0] * 3, m.stat.tolist()    # rank 0's, before each forward
    quiet = DDP(WithBuffer(1.0), broadcast_buffers=False)
    quiet.module.stat.data[...] = 7.0 + RANK
    quiet(minigrad.randn(2, 2))
    assert quiet.module.stat.tolist() == [7.0 + RANK] * 3


@check
def ddp_batchnorm_running_stats_follow_rank_0():
    if not hasattr(nn, "BatchNorm1d"):                      # (a layer added later than DDP)
        return
    minigrad.manual_seed(9)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ddp = DDP(m)
    bn = m[1]
    x = np.random.default_rng(RANK).standard_normal((8, 3)).astype(np.float32) + 3 * RANK
    ddp(minigrad.tensor(x)).sum().backward()               # each rank: its own batch's stats
    stats = gather(bn.running_mean.tolist())
    assert np.abs(np.subtract(*stats)).max() > 1e-3, stats
    with minigrad.no_grad():
        ddp.eval()
        ddp(minigrad.tensor(x))                             # broadcast before the forward
    stats = gather([bn.running_mean.tolist(), bn.running_var.tolist(),
                    int(bn.num_batches_tracked.item())])
    assert stats[0] == stats[1], stats


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.unused = nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(self.fc(x))                           # one parameter, two uses


@check
def ddp_shared_use_and_unused_parameters():
    minigrad.manual_seed(3)
    m = Tied()
    ddp = DDP(m, find_unused_parameters=True)
    ref = Tied()
    ref.load_state_dict(m.state_dict())
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    for _ in range(2):                                       # two iterations: nothing left over
        m.zero_grad()
        ddp(minigrad.tensor(x[RANK * 2:RANK * 2 + 2])).sum().backward()
    ref(minigrad.tensor(x)).sum().backward()
    # the sum over 2 rows per rank, averaged over the ranks = half the sum over 4 rows
    close(m.fc.weight.grad.numpy(), ref.fc.weight.grad.numpy() / 2, 1e-6, "tied weight")
    assert float(np.abs(m.unused.weight.grad.numpy()).max()) == 0.0
    strict = DDP(Tied())
    strict(minigrad.randn(2, 3)).sum().backward()
    raises(RuntimeError, lambda: strict(minigrad.randn(2, 3)), "find_unused_parameters=True")
    strict(minigrad.randn(2, 3))                             # the error reset the reducer


class Penalized(nn.Module):
    """Reaches its parameters through parameters() too (an L2 penalty inside forward)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x).sum() + 0.5 * nn.l2_penalty(self.parameters())


@check
def ddp_parameters_reached_through_parameters():
    minigrad.manual_seed(4)
    m = Penalized()
    ddp = DDP(m)
    ref = Penalized()
    ref.load_state_dict(m.state_dict())
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    ddp(minigrad.tensor(x[RANK * 2:RANK * 2 + 2])).backward()
    (ref(minigrad.tensor(x[:2])) + ref(minigrad.tensor(x[2:]))).backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        close(p.grad.numpy(), q.grad.numpy() / 2, 1e-6, "gradient with the penalty")
    assert all(p.is_leaf for p in m.parameters())          # the originals are back


@check
def ddp_forward_without_backward_is_dropped():
    minigrad.manual_seed(5)
    m = cnn()
    ddp = DDP(m)
    X, y = BATCHES[1]
    ddp(minigrad.tensor(X[HALF]))                             # evaluation, grad enabled
    with minigrad.no_grad():
        ddp(minigrad.tensor(X[HALF]))
    ref = replica_of(m)
    F.cross_entropy(ddp(minigrad.tensor(X[HALF])), y[HALF]).backward()
    F.cross_entropy(ref(minigrad.tensor(X)), y).backward()
    close(m[0].weight.grad.numpy(), ref[0].weight.grad.numpy(), 1e-6, "gradient")


@check
def ddp_errors():
    raises(ValueError, lambda: DDP(nn.Linear(3, 2 + RANK)), "differ between ranks")
    raises(ValueError, lambda: DDP(nn.Linear(3, 2), device_ids=[0]), "device_ids")
    raises(TypeError, lambda: DDP(lambda x: x), "nn.Module")
    ddp = DDP(nn.Linear(3, 2))
    assert isinstance(ddp.module, nn.Linear)
    assert [n for n, _ in ddp.named_parameters()] == ["module.weight", "module.bias"]


@check
def fit_distributed_same_as_one_process_with_the_global_batch():
    # The MLP has no dropout: 2 ranks x 32 must give the model of 1 process x 64, epoch after
    # epoch, including the last step of each epoch, which the sampler pads (1437 samples).
    from minigrad.train import train_digits
    quiet = lambda *a, **k: None                            # noqa: E731
    two, hist = train_digits("mlp", epochs=2, batch_size=32, progress=False, log=quiet,
                             distributed=True)
    one, ref = train_digits("mlp", epochs=2, batch_size=64, progress=False, log=quiet)
    close(flat(two), flat(one), 1e-6, "2 ranks x 32 vs 1 process x 64")
    close(hist.epoch_loss, ref.epoch_loss, 1e-6, "epoch losses")
    assert hist.test_accuracy == ref.test_accuracy


# ---- OpenCL tensors: collectives through host buffers -------------------------------------------


def opencl_collectives():
    t = minigrad.tensor([RANK + 1.0, 2.0], device="opencl")
    dist.all_reduce(t)
    assert t.device == "opencl" and t.tolist() == [3.0, 4.0]
    dist.all_reduce(t, op=ReduceOp.AVG, async_op=True).wait()
    assert t.tolist() == [3.0, 4.0]
    b = minigrad.tensor([float(RANK)], device="opencl")
    dist.broadcast(b, src=1)
    assert b.tolist() == [1.0] and b.device == "opencl"
    out = [minigrad.zeros(2, device="opencl") for _ in range(WORLD)]
    dist.all_gather(out, minigrad.full((2,), float(RANK), device="opencl"))
    assert [o.tolist() for o in out] == [[0.0, 0.0], [1.0, 1.0]]
    assert all(o.device == "opencl" for o in out)


def opencl_ddp():
    minigrad.manual_seed(11 + RANK)
    model = cnn().to("opencl")
    ddp = DDP(model)
    ref = cnn()
    ref.load_state_dict(model.state_dict())
    opt = optim.SGD(ddp.parameters(), lr=0.1)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1)
    for X, y in BATCHES[:3]:
        opt.zero_grad()
        F.cross_entropy(ddp(minigrad.tensor(X[HALF], device="opencl")), y[HALF]).backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(ref(minigrad.tensor(X)), y).backward()
        ref_opt.step()
    assert all(p.device == "opencl" and p.grad.device == "opencl" for p in model.parameters())
    close(flat(model), flat(ref), 1e-4, "OpenCL, 2 ranks vs CPU, 1 process")


def main() -> int:
    if "--opencl" in sys.argv:
        CHECKS.clear()
        CHECKS.update(opencl_collectives=opencl_collectives, opencl_ddp=opencl_ddp)
    results = {}
    for name, fn in CHECKS.items():
        try:
            fn()
            results[name] = "ok"
        except Exception:                                   # noqa: BLE001 - reported
            results[name] = traceback.format_exc()
    with open(f"results-{RANK}.json", "w") as fh:
        json.dump(results, fh, indent=1)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
