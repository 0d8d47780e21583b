"""The IDX file format (MNIST's), read and written with validation, and ``load_mnist``.

IDX layout, all integers big-endian::

    bytes 0-1   0x00 0x00
    byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    then        d sizes as uint32, then prod(sizes) items in C order

Files may be gzip-compressed (detected from the content, not the name). minigrad never downloads
anything: put the four MNIST files in a folder yourself.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "a-idx2-ubyte")
>>> write_idx(p, np.arange(6, dtype=np.uint8).reshape(2, 3))
>>> read_idx(p)
array([[0, 1, 2],
       [3, 4, 5]], dtype=uint8)
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .datasets import ArrayDataset

__all__ = ["read_idx", "write_idx", "load_mnist", "MNIST_FILES"]

# dtype code -> big-endian numpy dtype (0x0A is unassigned in the format).
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
# Deflate's maximum expansion is 1032:1 (a 258-byte match per 2 bits); a little headroom.
_MAX_DEFLATE_RATIO = 1040
_CHUNK = 1 << 20

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a native-endian numpy array.

    Raises FileNotFoundError for a missing file and ValueError (naming the file) for a bad
    magic number, unknown dtype code, truncated data or trailing bytes. The header is checked
    first, streaming only its bytes, and the declared size against the size of the file (for a
    gzip, against the most that its compressed bytes can hold), so a bad or lying file fails
    before its body is read or decompressed; memory grows only with the data actually read.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> write_idx(p, np.array([1.5, -2.0], dtype=np.float32))
    >>> read_idx(p)
    array([ 1.5, -2. ], dtype=float32)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        gz = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw
        try:
            return _read_idx(f, path, size, gz)
        except (EOFError, OSError, zlib.error) as e:
            if not gz:
                raise
            raise ValueError(f"{path}: gzip data is truncated or corrupt ({e})") from e
        finally:
            if gz:
                f.close()


def _read_exactly(f, n: int) -> bytes:
    """Up to ``n`` bytes of ``f``: fewer only at the end of the data."""
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_idx(f, path: Path, size: int, gz: bool) -> np.ndarray:
    head = _read_exactly(f, 4)
    if len(head) < 4:
        raise ValueError(f"{path}: truncated IDX file: {len(head)} bytes, the header alone "
                         f"needs 4")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0 or code not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file: bad magic number 0x{head.hex()} "
                         f"(expected 0x0000 then a dtype code in "
                         f"{', '.join(hex(c) for c in _IDX_DTYPES)} then the number of dims)")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header says 0 dimensions (magic 0x{head.hex()})")
    header_len = 4 + 4 * ndim
    dims = _read_exactly(f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dims need {header_len} bytes, "
                         f"file has {4 + len(dims)}")
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = _IDX_DTYPES[code]
    # Python ints: (2**32 - 1) ** 255 items must neither overflow nor wrap in the message.
    expected = math.prod(shape) * dtype.itemsize

    def truncated(got) -> ValueError:
        return ValueError(f"{path}: truncated IDX data: header says shape {shape} of "
                          f"{dtype.name} = {expected} bytes, but only {got} bytes follow the "
                          f"header")

    if not gz:
        got = size - header_len
        if got < expected:
            raise truncated(got)
        if got > expected:
            raise ValueError(f"{path}: corrupt IDX file: {got - expected} unexpected trailing "
                             f"bytes after the {expected} bytes of shape {shape}")
    elif expected > _MAX_DEFLATE_RATIO * size:
        # Deflate expands at most ~1032x: these compressed bytes cannot hold the declared data.
        raise truncated(f"at most {_MAX_DEFLATE_RATIO * size} (the gzip is {size} bytes)")

    # Read in chunks into a growing buffer: a header that overstates the data costs no memory.
    body = bytearray()
    while len(body) < expected:
        part = f.read(min(_CHUNK, expected - len(body)))
        if not part:
            raise truncated(len(body))
        body += part
    if f.read(1):  # a gzip's trailing data, or a file that grew while we read it
        raise ValueError(f"{path}: corrupt IDX file: unexpected trailing bytes after the "
                         f"{expected} bytes of shape {shape}")
    try:
        arr = np.frombuffer(body, dtype=np.uint8).view(dtype).reshape(shape)
    except ValueError as e:
        raise ValueError(f"{path}: IDX shape {shape} cannot be a numpy array ({e})") from e
    native = dtype.newbyteorder("=")
    if arr.dtype != native:  # big-endian data on a little-endian machine: swap in place
        arr = arr.byteswap(inplace=True).view(native)
    return arr


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file; gzip-compressed if ``path`` ends in ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (others raise TypeError;
    cast first, e.g. labels ``.astype(np.uint8)``).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(p, np.array([7, 2, 1], dtype=np.uint8))
    >>> open(p, "rb").read()[:8].hex()
    '0000080100000003'
    """
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=") if arr.dtype.byteorder in "<>" else arr.dtype
    if native not in _IDX_CODES:
        raise TypeError(f"write_idx({str(path)!r}): dtype {arr.dtype} has no IDX code; "
                        f"use one of uint8, int8, int16, int32, float32, float64")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError(f"write_idx({str(path)!r}): IDX needs 1..255 dims, got shape "
                         f"{arr.shape}")
    if any(s >= 2**32 for s in arr.shape):
        raise ValueError(f"write_idx({str(path)!r}): shape {arr.shape} has a dim >= 2**32")
    code = _IDX_CODES[native]
    header = struct.pack(f">HBB{arr.ndim}I", 0, code, arr.ndim, *arr.shape)
    body = np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes()
    data = header + body
    path = Path(path)
    if path.suffix == ".gz":
        # mtime=0 makes the output byte-for-byte reproducible.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def _find(folder: Path, name: str, kind: str) -> Path:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    expected = ", ".join(n for pair in MNIST_FILES.values() for n in pair)
    raise FileNotFoundError(
        f"MNIST {kind} file not found: {folder / name} (or {name}.gz). load_mnist expects the "
        f"standard IDX files in {folder}: {expected} (each may also end in .gz). minigrad "
        f"never downloads data; fetch them yourself and pass their folder.")


def load_mnist(path, kind: str = "train", flat: bool = False, dtype=np.float32) -> ArrayDataset:
    """MNIST from the standard IDX files in folder ``path``; x = pixel / 255 in [0, 1].

    ``kind`` is "train" (60000 images) or "test" (10000, the t10k files). Images are
    (N, 1, 28, 28) NCHW, or (N, 784) with ``flat=True``; labels int64 in 0..9.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> write_idx(os.path.join(d, "t10k-images-idx3-ubyte"), np.full((2, 28, 28), 255, np.uint8))
    >>> write_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), np.array([3, 9], np.uint8))
    >>> ds = load_mnist(d, kind="test", flat=True)
    >>> ds, float(ds.X.max())
    (ArrayDataset(X=(2, 784) float32, y=(2,) int64, classes=10), 1.0)
    """
    if kind not in MNIST_FILES:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"load_mnist: dtype must be a float dtype, got {dtype}")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_mnist: folder not found: {folder}. It should hold the IDX files "
            f"{', '.join(MNIST_FILES[kind])} (or .gz); minigrad never downloads data.")
    img_path = _find(folder, MNIST_FILES[kind][0], kind)
    lbl_path = _find(folder, MNIST_FILES[kind][1], kind)
    images = read_idx(img_path)
    labels = read_idx(lbl_path)

    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{img_path}: expected uint8 images of shape (N, rows, cols), got "
                         f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{lbl_path}: expected uint8 labels of shape (N,), got "
                         f"{labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"MNIST count mismatch: {img_path} has {len(images)} images but "
                         f"{lbl_path} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{lbl_path}: labels must be digits 0..9, found {int(labels.max())}")

    n, rows, cols = images.shape
    X = images.astype(dtype) / dtype.type(255)
    X = X.reshape((n, rows * cols) if flat else (n, 1, rows, cols))
    return ArrayDataset(X, labels.astype(np.int64), classes=10,
                        meta={"name": f"mnist-{kind}", "files": (str(img_path), str(lbl_path))})
