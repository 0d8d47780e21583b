"""Data for minigrad: in-memory datasets, MNIST's IDX files, and a minibatch ``DataLoader``.

Nothing here downloads: ``load_digits`` uses the copy bundled with scikit-learn, and
``load_mnist`` reads IDX files you put in a folder yourself.

>>> from minigrad.data import DataLoader, make_xor
>>> xb, yb = next(iter(DataLoader(make_xor(64, seed=0), batch_size=16, as_numpy=True)))
>>> xb.shape, yb.shape, xb.dtype, yb.dtype
((16, 2), (16,), dtype('float32'), dtype('int64'))
"""

from .datasets import (
    ArrayDataset,
    load_digits,
    make_problem1,
    make_problem2,
    make_xor,
    xor_points,
)
from .distributed import DistributedSampler
from .idx import MNIST_FILES, load_mnist, read_idx, write_idx
from .loader import DataLoader

__all__ = [
    "ArrayDataset",
    "DataLoader",
    "DistributedSampler",
    "MNIST_FILES",
    "load_digits",
    "load_mnist",
    "make_problem1",
    "make_problem2",
    "make_xor",
    "read_idx",
    "write_idx",
    "xor_points",
]
