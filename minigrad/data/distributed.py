"""``DistributedSampler``: each rank's share of a dataset's indices (``torch.utils.data.
distributed.DistributedSampler``).

Every epoch all ranks draw the same permutation (from ``seed + epoch``), then rank r takes the
positions r, r + n, r + 2n, ... of it. The shares are disjoint and, with ``drop_last=False``,
cover the whole dataset; when its length is not a multiple of n the permutation is padded with
its own first indices so that every rank gets the same number of samples (and so the same
number of steps: a rank with one step less would leave the others waiting in an all-reduce).

>>> import numpy as np
>>> from minigrad.data import ArrayDataset, DistributedSampler
>>> ds = ArrayDataset(np.zeros((10, 1)), np.zeros(10, np.int64))
>>> [list(DistributedSampler(ds, num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
[[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
>>> [list(DistributedSampler(ds, 3, r, shuffle=False, drop_last=True)) for r in range(3)]
[[0, 3, 6], [1, 4, 7], [2, 5, 8]]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Yields this rank's indices of ``dataset`` for one epoch; ``len()`` is their number.

    ``num_replicas`` and ``rank`` default to the process group's (``minigrad.distributed``).
    Call ``set_epoch(epoch)`` before each epoch so that the order changes between epochs (the
    same on every rank). Give it to ``DataLoader(dataset, sampler=...)``.

    >>> from minigrad.data import DataLoader, make_xor
    >>> ds = make_xor(64, seed=0)
    >>> sampler = DistributedSampler(ds, num_replicas=2, rank=1, seed=0)
    >>> loader = DataLoader(ds, batch_size=8, sampler=sampler, as_numpy=True)
    >>> sampler.set_epoch(0); len(sampler), len(loader)
    (32, 4)
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: dataset must have __len__, got "
                            f"{type(dataset).__name__}")
        if num_replicas is None or rank is None:
            from .. import distributed as dist
            if not dist.is_initialized():
                raise ValueError("DistributedSampler: num_replicas and rank default to the "
                                 "process group's, but there is none: call minigrad."
                                 "distributed.init_process_group('mpi') first, or pass "
                                 "num_replicas= and rank=")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not _is_int(rank) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if not _is_int(seed):
            raise TypeError(f"DistributedSampler: seed must be an int, got {seed!r}")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            # The tail that cannot be shared evenly is dropped.
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch ``epoch`` (call it with the same value on every rank)."""
        if not _is_int(epoch):
            raise TypeError(f"set_epoch: epoch must be an int, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:                      # pad with the first indices, repeated
            reps = math.ceil(self.total_size / max(n, 1))
            order = np.tile(order, reps)[:self.total_size]
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"epoch={self.epoch})")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
