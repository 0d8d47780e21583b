"""minigrad.data: digits, IDX/MNIST files, the lecture's toy problems, and DataLoader."""

import gzip
import struct

import numpy as np
import pytest

from minigrad.data import (
    ArrayDataset,
    DataLoader,
    load_digits,
    load_mnist,
    make_problem1,
    make_problem2,
    make_xor,
    read_idx,
    write_idx,
    xor_points,
)

# ---- ArrayDataset ------------------------------------------------------------------------------


def test_array_dataset_basics():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    ds = ArrayDataset(X, [0, 2, 1, 2])
    assert len(ds) == 4
    assert ds.classes == 3
    assert ds.y.dtype == np.int64
    x1, y1 = ds[1]
    np.testing.assert_array_equal(x1, [3, 4, 5])
    assert y1 == 2
    assert repr(ds) == "ArrayDataset(X=(4, 3) float32, y=(4,) int64, classes=3)"


def test_array_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3,\)"):
        ArrayDataset(np.zeros((4, 3)), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="integer"):
        ArrayDataset(np.zeros((2, 3)), [0.5, 1.0])
    with pytest.raises(ValueError, match="classes=2"):
        ArrayDataset(np.zeros((2, 3)), [0, 5], classes=2)


# ---- digits ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return load_digits(test_size=0.2, seed=0)


def test_digits_shapes_and_split(digits):
    train, test = digits
    assert len(train) + len(test) == 1797
    assert len(test) == 360  # ceil(0.2 * 1797)
    assert train.X.shape == (1437, 1, 8, 8) and test.X.shape == (360, 1, 8, 8)
    assert train.X.dtype == np.float32 and train.y.dtype == np.int64
    assert train.classes == test.classes == 10
    assert set(np.unique(train.y)) == set(range(10)) == set(np.unique(test.y))


def test_digits_split_is_stratified(digits):
    train, test = digits
    tr = np.bincount(train.y, minlength=10) / len(train)
    te = np.bincount(test.y, minlength=10) / len(test)
    # Class shares agree to within about one sample of the test set.
    assert np.abs(tr - te).max() < 2 / len(test)


def _raw_ids(ds):
    """Index into sklearn's raw digits of each image in ``ds`` (undoing the normalisation)."""
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits().data.astype(np.int64)
    lookup = {row.tobytes(): i for i, row in enumerate(raw)}
    pix = ds.X.reshape(len(ds), 64).astype(np.float64) * ds.meta["std"] + ds.meta["mean"]
    return np.array([lookup[row.tobytes()] for row in np.rint(pix * 16).astype(np.int64)])


def test_digits_train_and_test_cover_the_data(digits):
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    train, test = digits
    tr_ids, te_ids = _raw_ids(train), _raw_ids(test)
    # Digits has a few duplicate images (they map to one id), so compare unique images.
    n_unique = len({row.tobytes() for row in raw.data})
    assert len(set(tr_ids) | set(te_ids)) == n_unique
    np.testing.assert_array_equal(train.y, raw.target[tr_ids])
    np.testing.assert_array_equal(test.y, raw.target[te_ids])


def test_digits_normalised_with_train_statistics_only(digits):
    from sklearn.datasets import load_digits as sk_digits

    train, test = digits
    assert abs(float(train.X.astype(np.float64).mean())) < 1e-5
    assert abs(float(train.X.astype(np.float64).std()) - 1.0) < 1e-5
    # The constants are the statistics of the raw TRAIN pixels (scaled to [0, 1]) ...
    raw = sk_digits().data / 16.0
    train_raw = raw[_raw_ids(train)]
    assert np.isclose(train.meta["mean"], train_raw.mean(), rtol=0, atol=1e-12)
    assert np.isclose(train.meta["std"], train_raw.std(), rtol=0, atol=1e-12)
    # ... not of all the data, and the test set is not re-standardised on its own statistics.
    assert not np.isclose(train.meta["mean"], raw.mean(), rtol=0, atol=1e-9)
    assert test.meta == train.meta
    test_raw = raw[_raw_ids(test)]
    expected = (test_raw - train.meta["mean"]) / train.meta["std"]
    np.testing.assert_allclose(test.X.reshape(-1, 64), expected, atol=1e-5)
    assert abs(float(test.X.mean())) > 1e-4


def test_digits_reproducible_and_seed_dependent():
    pytest.importorskip("sklearn")
    a_train, a_test = load_digits(seed=3)
    b_train, b_test = load_digits(seed=3)
    c_train, _ = load_digits(seed=4)
    np.testing.assert_array_equal(a_train.X, b_train.X)
    np.testing.assert_array_equal(a_test.y, b_test.y)
    assert not np.array_equal(a_train.y, c_train.y)


def test_digits_flat_matches_images(digits):
    img_train, _ = digits
    flat_train, flat_test = load_digits(test_size=0.2, seed=0, flat=True)
    assert flat_train.X.shape == (1437, 64) and flat_test.X.shape == (360, 64)
    np.testing.assert_array_equal(flat_train.X, img_train.X.reshape(-1, 64))
    np.testing.assert_array_equal(flat_train.y, img_train.y)


def test_digits_dtype_and_bad_test_size():
    pytest.importorskip("sklearn")
    train, _ = load_digits(dtype=np.float64)
    assert train.X.dtype == np.float64
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=1.5)


def test_digits_missing_sklearn_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()


# ---- IDX files and MNIST -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_dtypes(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    p = tmp_path / "a.idx"
    write_idx(p, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(a, b)


def test_idx_header_is_big_endian(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.array([[1, 2, 3]], dtype=np.int32))
    raw = p.read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x02"
    assert raw[4:12] == b"\x00\x00\x00\x01\x00\x00\x00\x03"
    assert raw[12:16] == b"\x00\x00\x00\x01"  # the value 1 as big-endian int32


def test_idx_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))


def _write_mnist(folder, kind="train", n=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if kind == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_round_trip(tmp_path, kind, gz):
    images, labels = _write_mnist(tmp_path, kind=kind, gz=gz)
    if gz:
        assert (tmp_path / "t10k-images-idx3-ubyte.gz" if kind == "test"
                else tmp_path / "train-images-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"
    ds = load_mnist(tmp_path, kind=kind)
    assert ds.X.shape == (5, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.classes == 10
    np.testing.assert_array_equal(ds.y, labels)
    np.testing.assert_allclose(ds.X[:, 0], images / np.float32(255), rtol=0, atol=1e-7)
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    flat = load_mnist(str(tmp_path), kind=kind, flat=True)
    assert flat.X.shape == (5, 784)
    np.testing.assert_array_equal(flat.X, ds.X.reshape(5, 784))


def test_read_idx_gzip_detected_from_content(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    (tmp_path / "plain-name").write_bytes((tmp_path / "a.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), a)


def test_missing_mnist_file(tmp_path):
    _write_mnist(tmp_path, kind="train")
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as e:
        load_mnist(tmp_path, kind="train")
    msg = str(e.value)
    assert str(tmp_path / "train-labels-idx1-ubyte") in msg
    assert "t10k-images-idx3-ubyte" in msg  # lists the expected files
    assert "never downloads" in msg


def test_missing_mnist_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        read_idx(tmp_path / "nope")


def test_bad_magic(tmp_path):
    _write_mnist(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte"
    raw = bytearray(p.read_bytes())
    raw[0] = 0x12
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*bad magic"):
        load_mnist(tmp_path)


def test_unknown_dtype_code(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.zeros(3, np.uint8))
    raw = bytearray(p.read_bytes())
    raw[2] = 0x0A  # unassigned in the IDX format
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(p)


@pytest.mark.parametrize("keep", [0, 3, 10, -1])
def test_truncated(tmp_path, keep):
    _write_mnist(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte"
    raw = p.read_bytes()
    p.write_bytes(raw[:keep] if keep >= 0 else raw[:-1])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)


def test_truncated_gzip(tmp_path):
    _write_mnist(tmp_path, gz=True)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz.*truncated"):
        load_mnist(tmp_path)


def test_trailing_bytes(tmp_path):
    p = tmp_path / "x"
    write_idx(p, np.zeros(3, np.uint8))
    p.write_bytes(p.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="trailing"):
        read_idx(p)


def test_count_mismatch(tmp_path):
    _write_mnist(tmp_path, n=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"5 images.*4 labels"):
        load_mnist(tmp_path)


def test_wrong_kind_of_content(tmp_path):
    _write_mnist(tmp_path)
    # Labels file swapped for an image-shaped array.
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((5, 2), np.uint8))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, kind="validation")


def test_gz_files_are_real_gzip(tmp_path):
    images, labels = _write_mnist(tmp_path, gz=True, seed=1)
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz") as f:
        assert f.read(4) == b"\x00\x00\x08\x01"
    np.testing.assert_array_equal(load_mnist(tmp_path).y, labels)


def _gzip_of(path, head, zeros=0, chunk=2**20):
    """Gzip ``head`` then ``zeros`` zero bytes into ``path``, streaming (the file stays small)."""
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(head)
        while zeros > 0:
            f.write(bytes(min(chunk, zeros)))
            zeros -= chunk
    return path


def _peak_bytes(fn):
    """Peak bytes traced by tracemalloc while ``fn()`` runs (its exception propagates)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        _peak_bytes.last = peak
    return peak


def test_gzip_bad_magic_fails_before_decompressing_the_body(tmp_path):
    # 128 MB of zeros after a bad magic number: about 130 KB on disk.
    p = _gzip_of(tmp_path / "train-images-idx3-ubyte.gz", b"\x12\x34\x08\x03", zeros=128 * 2**20)
    assert p.stat().st_size < 2**20
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz.*bad magic"):
        _peak_bytes(lambda: read_idx(p))
    assert _peak_bytes.last < 4 * 2**20


def test_gzip_declaring_more_than_it_can_hold_fails_before_decompressing(tmp_path):
    # Header: 1000 x 1000 x 1000 uint8 = 1e9 bytes; the gzip holds 64 MB in about 65 KB,
    # and deflate cannot expand 65 KB to 1e9 bytes: rejected from the sizes alone.
    head = bytes.fromhex("00000803") + (1000).to_bytes(4, "big") * 3
    p = _gzip_of(tmp_path / "x.gz", head, zeros=64 * 2**20)
    with pytest.raises(ValueError, match=r"x\.gz.*truncated.*\(1000, 1000, 1000\).*1000000000 b"):
        _peak_bytes(lambda: read_idx(p))
    assert _peak_bytes.last < 4 * 2**20


@pytest.mark.parametrize("gz", [False, True])
def test_huge_header_dims_do_not_overflow(tmp_path, gz):
    dims = (2**32 - 1, 2**32 - 1)
    head = bytes.fromhex("00000c02") + b"\xff" * 8  # int32, (2^32-1) x (2^32-1)
    p = tmp_path / ("x.gz" if gz else "x")
    if gz:
        _gzip_of(p, head + bytes(16))
    else:
        p.write_bytes(head + bytes(16))
    expected = (2**32 - 1) ** 2 * 4
    with pytest.raises(ValueError, match=r"truncated IDX data") as e:
        _peak_bytes(lambda: read_idx(p))
    assert str(p) in str(e.value) and str(dims) in str(e.value) and str(expected) in str(e.value)
    assert _peak_bytes.last < 4 * 2**20


def test_gzip_truncated_body_and_trailing_bytes(tmp_path):
    head = bytes.fromhex("0000080100000006")  # uint8, (6,)
    with pytest.raises(ValueError, match=r"x\.gz.*truncated IDX data.*only 4 bytes"):
        read_idx(_gzip_of(tmp_path / "x.gz", head + b"abcd"))
    with pytest.raises(ValueError, match=r"y\.gz.*trailing"):
        read_idx(_gzip_of(tmp_path / "y.gz", head + b"abcdefgh"))
    np.testing.assert_array_equal(read_idx(_gzip_of(tmp_path / "z.gz", head + b"abcdef")),
                                  np.frombuffer(b"abcdef", np.uint8))


def test_gzip_multi_member_is_read(tmp_path):
    # Concatenated gzip members are one stream (what `cat a.gz b.gz` makes).
    a = np.arange(300, dtype=">i4")
    raw = bytes.fromhex("00000c01") + (300).to_bytes(4, "big") + a.tobytes()
    p = tmp_path / "m.gz"
    p.write_bytes(gzip.compress(raw[:100]) + gzip.compress(raw[100:]))
    out = read_idx(p)
    assert out.dtype == np.int32 and out.flags.writeable
    np.testing.assert_array_equal(out, np.arange(300))


@pytest.mark.parametrize("dims", [(1,) * 65, (0, 2**32 - 1, 2**32 - 1, 2**32 - 1)])
def test_shape_numpy_cannot_hold(tmp_path, dims):
    p = tmp_path / "x"
    p.write_bytes(struct.pack(f">HBB{len(dims)}I", 0, 8, len(dims), *dims)
                  + bytes(int(np.prod(dims))))
    with pytest.raises(ValueError, match=r"x: IDX shape") as e:
        read_idx(p)
    assert str(p) in str(e.value)


def test_read_idx_result_is_writeable_and_native(tmp_path):
    for dtype in (np.uint8, np.int16, np.float64):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        for name in ("a", "a.gz"):
            write_idx(tmp_path / name, a)
            b = read_idx(tmp_path / name)
            assert b.flags.writeable and b.dtype.isnative and b.flags.c_contiguous
            b[0, 0] = 5
            np.testing.assert_array_equal(b[1], a[1])


# ---- toy problems ------------------------------------------------------------------------------


def test_problem1_rule():
    ds = make_problem1(500, seed=0)
    assert ds.X.shape == (500, 2) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, np.where(ds.X[:, 0] > ds.X[:, 1], 0, 1))
    assert 0.4 < ds.y.mean() < 0.6
    np.testing.assert_array_equal(make_problem1(50, seed=7).X, make_problem1(50, seed=7).X)
    assert not np.array_equal(make_problem1(50, seed=7).X, make_problem1(50, seed=8).X)


def test_problem2_rule():
    ds = make_problem2(1000, seed=1)
    assert ds.X.shape == (1000, 3) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, np.where(ds.X[:, 0] > ds.X[:, 1] + ds.X[:, 2], 0, 1))
    assert 0.4 < ds.y.mean() < 0.6


def test_xor_rule_and_margin():
    ds = make_xor(1000, seed=0)
    assert ds.X.shape == (1000, 2) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] > 0).astype(np.int64))
    assert np.abs(ds.X).max() <= 1.0 and np.abs(ds.X).min() >= 0.1 - 1e-7
    # All four quadrants are populated.
    quadrants = {(bool(a > 0), bool(b > 0)) for a, b in ds.X}
    assert len(quadrants) == 4
    assert 0.4 < ds.y.mean() < 0.6


def test_xor_points():
    ds = xor_points()
    np.testing.assert_array_equal(ds.X, [[1, -2], [1, 2], [-1, -2], [-1, 2]])
    np.testing.assert_array_equal(ds.y, [0, 1, 1, 0])
    np.testing.assert_array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] > 0).astype(np.int64))
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64


# ---- DataLoader --------------------------------------------------------------------------------


def _indexed(n=10):
    # Feature 0 is the sample's index, so a batch tells which samples it holds.
    X = np.stack([np.arange(n), np.arange(n) * 10], axis=1).astype(np.float32)
    return ArrayDataset(X, np.arange(n) % 3)


class ListDataset:
    """A dataset with only __len__/__getitem__ (no fast path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.array([i, i * 10], dtype=np.float32), i % 3


@pytest.mark.parametrize("make", [_indexed, ListDataset])
@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_visits_every_sample_once(make, shuffle):
    loader = DataLoader(make(10), batch_size=3, shuffle=shuffle, seed=0, as_numpy=True)
    assert len(loader) == 4
    for _ in range(3):
        batches = list(loader)
        assert [len(xb) for xb, _ in batches] == [3, 3, 3, 1]
        seen = np.concatenate([xb[:, 0] for xb, _ in batches]).astype(int)
        assert sorted(seen) == list(range(10))
        for xb, yb in batches:
            assert xb.dtype == np.float32 and yb.dtype == np.int64
            np.testing.assert_array_equal(xb[:, 1], xb[:, 0] * 10)
            np.testing.assert_array_equal(yb, xb[:, 0].astype(int) % 3)
        if not shuffle:
            assert seen.tolist() == list(range(10))


@pytest.mark.parametrize("make", [_indexed, ListDataset])
def test_loader_drop_last(make):
    loader = DataLoader(make(10), batch_size=3, drop_last=True, shuffle=True, seed=1,
                        as_numpy=True)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(xb) for xb, _ in batches] == [3, 3, 3]
    assert len(set(np.concatenate([xb[:, 0] for xb, _ in batches]).tolist())) == 9
    assert len(DataLoader(make(9), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(make(2), batch_size=3, drop_last=True)) == 0
    assert list(DataLoader(make(2), batch_size=3, drop_last=True, as_numpy=True)) == []


def _orders(loader, epochs):
    return [np.concatenate([xb[:, 0] for xb, _ in loader]).astype(int).tolist()
            for _ in range(epochs)]


def test_loader_shuffle_reproducible_and_new_each_epoch():
    a = _orders(DataLoader(_indexed(50), batch_size=7, shuffle=True, seed=42, as_numpy=True), 3)
    b = _orders(DataLoader(_indexed(50), batch_size=7, shuffle=True, seed=42, as_numpy=True), 3)
    c = _orders(DataLoader(_indexed(50), batch_size=7, shuffle=True, seed=43, as_numpy=True), 1)
    assert a == b
    assert a[0] != a[1] != a[2]
    assert a[0] != list(range(50))
    assert c[0] != a[0]


def test_loader_fast_path_matches_generic_path():
    fast = _orders(DataLoader(_indexed(20), batch_size=4, shuffle=True, seed=5, as_numpy=True), 2)
    slow = _orders(DataLoader(ListDataset(20), batch_size=4, shuffle=True, seed=5,
                              as_numpy=True), 2)
    assert fast == slow


def test_loader_batches_do_not_alias_dataset():
    ds = _indexed(6)
    xb, _ = next(iter(DataLoader(ds, batch_size=6, as_numpy=True)))
    xb[:] = -1
    assert ds.X.min() == 0


def test_loader_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_indexed(), batch_size=0)
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object())


def test_loader_digits_one_epoch():
    pytest.importorskip("sklearn")
    train, _ = load_digits(flat=True)
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0, as_numpy=True)
    n = sum(len(yb) for _, yb in loader)
    assert n == len(train) and len(loader) == 12


def test_loader_converts_with_minigrad_tensor(monkeypatch):
    # Stand-in for minigrad.tensor.tensor: checks the loader's wiring without the tensor engine.
    import importlib
    import sys
    import types

    try:
        mod = importlib.import_module("minigrad.tensor")
    except ImportError:
        mod = types.ModuleType("minigrad.tensor")
        monkeypatch.setitem(sys.modules, "minigrad.tensor", mod)

    class Boxed:
        def __init__(self, a):
            self.a = a

    monkeypatch.setattr(mod, "tensor", Boxed, raising=False)
    batches = list(DataLoader(_indexed(5), batch_size=4))
    assert [type(t) for batch in batches for t in batch] == [Boxed] * 4
    np.testing.assert_array_equal(batches[0][0].a, _indexed(5).X[:4])
    np.testing.assert_array_equal(batches[1][1].a, [1])


def test_loader_yields_tensors():
    tensor_type = type(_real_tensor_factory()(np.zeros(1, np.float32)))
    xb, yb = next(iter(DataLoader(_indexed(5), batch_size=4)))
    assert isinstance(xb, tensor_type) and isinstance(yb, tensor_type)
    assert xb.numpy().dtype == np.float32 and yb.numpy().dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), _indexed(5).X[:4])
    np.testing.assert_array_equal(yb.numpy(), [0, 1, 2, 0])


def _real_tensor_factory():
    """minigrad's ``tensor`` function, or skip the test if the tensor engine cannot be imported."""
    from minigrad.data.loader import _tensor_factory

    try:
        return _tensor_factory()
    except ImportError as e:  # also ModuleNotFoundError, e.g. an unbuilt Cython extension
        pytest.skip(f"minigrad.tensor.tensor cannot be imported: {e}")
