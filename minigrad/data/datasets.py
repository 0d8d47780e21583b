"""In-memory datasets: ``ArrayDataset``, the scikit-learn digits, and the lecture's toy problems.

Every loader returns ``ArrayDataset`` objects holding plain numpy arrays (``X`` float, ``y``
int64), so they work with any engine; ``DataLoader`` turns minibatches into Tensors.

>>> from minigrad.data import make_problem1
>>> ds = make_problem1(100, seed=0)
>>> ds
ArrayDataset(X=(100, 2) float32, y=(100,) int64, classes=2)
>>> bool(((ds.X[:, 0] > ds.X[:, 1]) == (ds.y == 0)).all())
True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ArrayDataset",
    "load_digits",
    "make_problem1",
    "make_problem2",
    "make_xor",
    "xor_points",
]


class ArrayDataset:
    """A dataset of samples ``(X[i], y[i])`` held in two numpy arrays of equal length.

    ``classes`` is the number of classes; by default ``y.max() + 1``.

    >>> ds = ArrayDataset(np.zeros((3, 2), np.float32), [0, 1, 1])
    >>> len(ds), ds.classes, ds[1][1]
    (3, 2, np.int64(1))
    """

    def __init__(self, X, y, classes: int | None = None, meta: dict | None = None):
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim < 1:
            raise ValueError(f"ArrayDataset: X must have a sample axis, got shape {X.shape}")
        if y.ndim != 1:
            raise ValueError(f"ArrayDataset: y must be 1-D (one label per sample), got shape "
                             f"{y.shape}")
        if len(X) != len(y):
            raise ValueError(f"ArrayDataset: X has {len(X)} samples (shape {X.shape}) but y has "
                             f"{len(y)} (shape {y.shape})")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            # Float labels that are whole numbers are accepted (e.g. read from a CSV); anything
            # else is almost certainly features passed in the wrong slot.
            if not np.all(np.equal(np.mod(y, 1), 0)):
                raise ValueError(f"ArrayDataset: y must hold integer class labels, got dtype "
                                 f"{y.dtype} with non-integer values")
        y = y.astype(np.int64, copy=False)
        if y.size and y.min() < 0:
            raise ValueError(f"ArrayDataset: labels must be >= 0, found {int(y.min())}")
        inferred = int(y.max()) + 1 if y.size else 0
        if classes is None:
            classes = inferred
        elif classes < inferred:
            raise ValueError(f"ArrayDataset: classes={classes} but labels go up to "
                             f"{inferred - 1}")
        self.X = X
        self.y = y
        self.classes = int(classes)
        # Free-form provenance (e.g. the normalisation constants of load_digits).
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]

    def __repr__(self) -> str:
        return (f"ArrayDataset(X={tuple(self.X.shape)} {self.X.dtype}, "
                f"y={tuple(self.y.shape)} {self.y.dtype}, classes={self.classes})")


# ---- scikit-learn digits ---------------------------------------------------------------------

def _stratified_split(y: np.ndarray, test_size: float, rng: np.random.Generator):
    """Indices (train, test) with ceil(test_size * N) test samples, shared out by class size.

    Each class gets floor(test_size * n_class) test samples; the few left over go to the
    classes with the largest remainders, so class proportions match to within one sample.
    """
    classes, counts = np.unique(y, return_counts=True)
    n_test = int(np.ceil(test_size * len(y)))
    share = test_size * counts
    per_class = np.floor(share).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    # Stable sort: ties go to the smaller label, so the split is deterministic.
    per_class[np.argsort(-(share - per_class), kind="stable")[:leftover]] += 1
    train, test = [], []
    for c, k in zip(classes, per_class):
        idx = rng.permutation(np.flatnonzero(y == c))
        test.append(idx[:k])
        train.append(idx[k:])
    # Shuffle again so the classes are interleaved rather than sorted by label.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_size: float = 0.2, seed: int = 0, flat: bool = False,
                dtype=np.float32):
    """scikit-learn's 1797 8x8 handwritten digits, split stratified into (train, test).

    The test set has ceil(test_size * 1797) images with the class proportions of the whole;
    ``seed`` fixes which.

    x = (pixel / 16 - mean) / std, with one scalar ``mean`` and ``std`` computed on the TRAIN
    pixels only (no test leakage); they are kept in ``train.meta`` and ``test.meta``. Images
    are (N, 1, 8, 8) NCHW for a CNN, or (N, 64) with ``flat=True`` for an MLP.

    >>> train, test = load_digits(seed=0)
    >>> train, test
    (ArrayDataset(X=(1437, 1, 8, 8) float32, y=(1437,) int64, classes=10), \
ArrayDataset(X=(360, 1, 8, 8) float32, y=(360,) int64, classes=10))
    >>> abs(float(train.X.mean())) < 1e-5
    True
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError("minigrad.data.load_digits needs scikit-learn for its bundled digits "
                          "data: pip install scikit-learn") from e
    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"load_digits: test_size must be in (0, 1), got {test_size!r}")

    raw = _sk_load_digits()
    images = np.asarray(raw.images, dtype=np.float64) / 16.0  # pixels are 0..16
    labels = np.asarray(raw.target, dtype=np.int64)
    tr, te = _stratified_split(labels, float(test_size), np.random.default_rng(seed))

    # One scalar mean/std (not per pixel): the border pixels are always 0 in the train set,
    # so a per-pixel std would divide by zero, and a scalar keeps the image's shape intact.
    mean = float(images[tr].mean())
    std = float(images[tr].std())
    images = (images - mean) / std

    shape = (-1, 64) if flat else (-1, 1, 8, 8)
    X = images.reshape(shape).astype(dtype)
    meta = {"name": "digits", "mean": mean, "std": std, "pixel_scale": 16.0}
    return (ArrayDataset(X[tr], labels[tr], classes=10, meta=meta),
            ArrayDataset(X[te], labels[te], classes=10, meta=meta))


# ---- the lecture's toy problems (seed 004) --------------------------------------------------

def make_problem1(n: int = 200, seed: int = 0) -> ArrayDataset:
    """Problem 1: two features, class 0 (c1) iff f1 > f2, else class 1 (c2).

    Features are uniform in [0, 1)^2.

    >>> ds = make_problem1(4, seed=1)
    >>> ds.X.shape, ds.X.dtype, ds.y.dtype
    ((4, 2), dtype('float32'), dtype('int64'))
    """
    rng = np.random.default_rng(seed)
    X = rng.random((_check_n(n), 2)).astype(np.float32)
    # Label from the float32 values the user sees, so the rule holds exactly on ds.X.
    y = np.where(X[:, 0] > X[:, 1], 0, 1).astype(np.int64)
    return ArrayDataset(X, y, classes=2, meta={"name": "problem1"})


def make_problem2(n: int = 200, seed: int = 0) -> ArrayDataset:
    """Problem 2: three features, class 0 (c1) iff f1 > f2 + f3, else class 1 (c2).

    f1 is uniform in [0, 2) and f2, f3 in [0, 1), so both classes are about equally likely
    (f1 and f2 + f3 are both symmetric around 1).

    >>> ds = make_problem2(1000, seed=0)
    >>> ds.X.shape, 0.4 < float(ds.y.mean()) < 0.6
    ((1000, 3), True)
    """
    rng = np.random.default_rng(seed)
    X = rng.random((_check_n(n), 3)) * np.array([2.0, 1.0, 1.0])
    X = X.astype(np.float32)
    y = np.where(X[:, 0] > X[:, 1] + X[:, 2], 0, 1).astype(np.int64)
    return ArrayDataset(X, y, classes=2, meta={"name": "problem2"})


def make_xor(n: int = 200, seed: int = 0, margin: float = 0.1) -> ArrayDataset:
    """Problem 3 (XOR-like): label 1 iff f1 * f2 > 0 (same signs), else 0.

    Each feature is uniform in [-1, -margin] u [margin, 1], i.e. [-1, 1]^2 kept ``margin`` away
    from the axes, so the four quadrants are cleanly separable. No line separates the classes:
    a single linear layer stays near 50% accuracy, one hidden layer solves it.

    >>> ds = make_xor(500, seed=0)
    >>> bool((np.abs(ds.X) >= 0.1).all()), bool(((ds.X[:, 0] * ds.X[:, 1] > 0) == ds.y).all())
    (True, True)
    """
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"make_xor: margin must be in [0, 1), got {margin!r}")
    rng = np.random.default_rng(seed)
    n = _check_n(n)
    magnitude = margin + (1.0 - margin) * rng.random((n, 2))
    sign = np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
    X = (sign * magnitude).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return ArrayDataset(X, y, classes=2, meta={"name": "xor", "margin": margin})


def xor_points() -> ArrayDataset:
    """The lecture's four Problem 3 points; label 1 iff f1 * f2 > 0.

    >>> ds = xor_points()
    >>> ds.X.tolist(), ds.y.tolist()
    ([[1.0, -2.0], [1.0, 2.0], [-1.0, -2.0], [-1.0, 2.0]], [0, 1, 1, 0])
    """
    X = np.array([[1, -2], [1, 2], [-1, -2], [-1, 2]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return ArrayDataset(X, y, classes=2, meta={"name": "xor_points"})


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"number of samples n must be a non-negative int, got {n!r}")
    return int(n)
