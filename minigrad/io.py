"""Checkpoints: ``save(state_dict, path)`` and ``load(path) -> dict`` in numpy's ``.npz`` format.

The file is an ordinary ``.npz`` (a zip of ``.npy`` members, readable by ``np.load``) with one
extra entry, ``__minigrad_format__`` = 1, that marks it as ours. No pickle is written or read.
Saving is atomic: the previous file at ``path`` survives any failure during the save.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "model.ckpt")
>>> save({"w": np.eye(2, dtype=np.float32), "step": 3}, p)
>>> sd = load(p)
>>> sd["w"].dtype, sd["step"], sorted(sd)
(dtype('float32'), array(3), ['step', 'w'])
"""

from __future__ import annotations

import os
import uuid
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["save", "load", "FORMAT_KEY", "FORMAT_VERSION"]

FORMAT_KEY = "__minigrad_format__"
FORMAT_VERSION = 1

# bool, signed/unsigned int, float, complex: what a state dict may hold without pickle.
_NUMERIC_KINDS = "biufc"


def _to_array(key: str, value) -> np.ndarray:
    """The numpy array stored for ``value``; TypeError naming ``key`` if it is not numeric."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()  # minigrad Tensors (and torch tensors on CPU)
    if not isinstance(value, (np.ndarray, np.generic, int, float, complex, list, tuple)):
        raise TypeError(f"save: value for key {key!r} is a {type(value).__name__}; expected a "
                        f"numpy array, an object with .numpy() (e.g. a Tensor), or a number")
    try:
        arr = np.asarray(value)
    except (ValueError, OverflowError) as e:
        raise TypeError(f"save: value for key {key!r} cannot become a numpy array: {e}") from e
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"save: value for key {key!r} has dtype {arr.dtype}; only numeric "
                        f"arrays can be saved (no pickle)")
    return arr


def save(state_dict, path) -> None:
    """Write ``state_dict`` (str -> array-like) to exactly ``path``, atomically.

    Values may be numpy arrays, objects with ``.numpy()`` (Tensors), or Python numbers (stored
    as 0-d arrays); dtype and shape round-trip bit-exactly. No ``.npz`` suffix is added.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> save({"b": np.zeros(3)}, p)
    >>> os.listdir(os.path.dirname(p))
    ['ckpt']
    """
    if not isinstance(state_dict, Mapping):
        hint = " (did you mean model.state_dict()?)" if hasattr(state_dict, "state_dict") else ""
        raise TypeError(f"save: state_dict must be a mapping of str -> array, got "
                        f"{type(state_dict).__name__}{hint}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save: state_dict keys must be str, got key {key!r} of type "
                            f"{type(key).__name__}")
        if key == FORMAT_KEY:
            raise ValueError(f"save: key {key!r} is reserved for minigrad's format marker")
        arrays[key] = _to_array(key, value)
    arrays[FORMAT_KEY] = np.asarray(FORMAT_VERSION, dtype=np.int64)

    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"save: directory {directory} does not exist (saving to {path})")
    # The temp file sits next to the target so os.replace is a same-filesystem rename, which
    # is atomic: readers see either the old checkpoint or the complete new one, never a mix.
    tmp = directory / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    # os.open with mode 0o666 lets the umask decide permissions, as for a normally created file
    # (tempfile.mkstemp would leave the checkpoint readable by its owner only).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temp file behind.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _write_npz(f, arrays: dict) -> None:
    # The same layout np.savez writes (one stored, uncompressed "<key>.npy" member per array).
    # We build the zip ourselves because np.savez takes the arrays as **kwargs, so a state-dict
    # key such as "file" or "allow_pickle" would collide with its own parameters.
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def load(path) -> dict:
    """Read a checkpoint written by ``save``: a dict of str -> numpy array, in saved order.

    Raises FileNotFoundError if ``path`` is missing, and ValueError naming the path if it is
    not a minigrad checkpoint (foreign .npz, other file) or is truncated or corrupt.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.npz")
    >>> save({"x": np.arange(3, dtype=np.int64)}, p)
    >>> load(p)
    {'x': array([0, 1, 2])}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: checkpoint not found: {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4:
        raise ValueError(f"load: {path} is truncated or corrupt ({len(head)} bytes)")
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"load: {path} is not a minigrad checkpoint (not an .npz/zip file; "
                         f"starts with {head!r})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if FORMAT_KEY not in names:
                raise _Foreign(names)
            version = int(npz[FORMAT_KEY])
            if version != FORMAT_VERSION:
                raise _Foreign(names, version)
            return {k: npz[k] for k in names if k != FORMAT_KEY}
    except _Foreign as e:
        raise ValueError(f"load: {path} is not a minigrad checkpoint: {e}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        # ValueError also covers a member holding pickled objects, which we never write.
        raise ValueError(f"load: {path} is truncated or corrupt: {type(e).__name__}: {e}") from e


class _Foreign(Exception):
    def __init__(self, names, version=None):
        if version is None:
            msg = (f"no {FORMAT_KEY!r} entry (an .npz written by something else? it holds "
                   f"{names[:5]}{' ...' if len(names) > 5 else ''})")
        else:
            msg = f"format version {version}, this minigrad reads version {FORMAT_VERSION}"
        super().__init__(msg)
