"""``DataLoader``: minibatches of a dataset, optionally shuffled anew each epoch.

>>> from minigrad.data import DataLoader, xor_points
>>> loader = DataLoader(xor_points(), batch_size=3, as_numpy=True)
>>> len(loader), [xb.shape for xb, yb in loader]
(2, [(3, 2), (1, 2)])
"""

from __future__ import annotations

import numpy as np

from .datasets import ArrayDataset

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate ``dataset`` in minibatches ``(X, y)`` of ``minigrad.Tensor`` (numpy if asked).

    Each epoch (each ``iter``) visits every sample exactly once. With ``shuffle=True`` the order
    is a fresh permutation per epoch drawn from ``np.random.default_rng(seed)``: the same seed
    gives the same sequence of epochs, and successive epochs differ. ``len(loader)`` is the
    number of batches: ceil(N / batch_size), or floor with ``drop_last=True``.

    Works with any object with ``__len__`` and ``__getitem__(i) -> tuple``; an ``ArrayDataset``
    is batched by fancy indexing (no Python loop per sample).

    ``sampler`` (an iterable of indices with ``__len__``, e.g. ``DistributedSampler``) picks
    the samples and their order instead, as in PyTorch; it excludes ``shuffle=True``.

    >>> from minigrad.data import ArrayDataset
    >>> ds = ArrayDataset(np.arange(10.0).reshape(5, 2), [0, 1, 0, 1, 0])
    >>> [yb.tolist() for _, yb in DataLoader(ds, batch_size=2, drop_last=True, as_numpy=True)]
    [[0, 1], [0, 1]]
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, seed=None,
                 drop_last: bool = False, as_numpy: bool = False, sampler=None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order; DistributedSampler shuffles)")
        if sampler is not None and not (hasattr(sampler, "__iter__")
                                        and hasattr(sampler, "__len__")):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices with __len__, "
                            f"got {type(sampler).__name__}")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.drop_last = bool(drop_last)
        self.as_numpy = bool(as_numpy)
        # One generator for the loader's life: epoch k uses its k-th permutation, so a given
        # seed reproduces the whole run while each epoch gets a new order.
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self):
        convert = _identity if self.as_numpy else _tensor_factory()
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            n = len(order)
        else:
            n = len(self.dataset)
            order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, n), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield tuple(convert(a) for a in self._fetch(idx))

    def _fetch(self, idx: np.ndarray) -> tuple:
        ds = self.dataset
        if isinstance(ds, ArrayDataset):
            # Fancy indexing copies, so a batch never aliases the dataset's memory.
            return ds.X[idx], ds.y[idx]
        samples = [ds[int(i)] for i in idx]
        first = samples[0]
        if not isinstance(first, tuple):
            return (_stack(samples, 0),)
        return tuple(_stack([s[k] for s in samples], k) for k in range(len(first)))

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
                f"as_numpy={self.as_numpy}"
                + (f", sampler={self.sampler!r})" if self.sampler is not None else ")"))


def _identity(a):
    return a


def _tensor_factory():
    """``minigrad.tensor.tensor``, imported on first use rather than at module import.

    numpy-only users (``as_numpy=True``) never need the tensor engine.
    """
    import importlib
    import types

    pkg = importlib.import_module("minigrad.tensor")
    fn = getattr(pkg, "tensor", None)
    if fn is None or isinstance(fn, types.ModuleType):
        # The package does not re-export the function (yet): the name is then free, or bound
        # to the submodule minigrad/tensor/tensor.py that defines it.
        fn = getattr(importlib.import_module("minigrad.tensor.tensor"), "tensor", None)
    if not callable(fn):
        raise ImportError("DataLoader: minigrad.tensor.tensor(array) is not available; pass "
                          "as_numpy=True to get numpy batches")
    return fn


def _as_array(x):
    # Samples may be Tensors (anything with .numpy()) or numbers.
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _stack(items: list, field: int) -> np.ndarray:
    arrays = [_as_array(x) for x in items]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"DataLoader: field {field} of the samples in one batch has different "
                         f"shapes {sorted(shapes)}; cannot stack them")
    return np.stack(arrays)
