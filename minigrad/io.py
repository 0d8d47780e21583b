"""Checkpoints: ``save(state_dict, path)`` and ``load(path) -> dict`` in numpy's ``.npz`` format.

The file is an ordinary ``.npz`` (a zip of ``.npy`` members, readable by ``np.load``) with one
extra entry, ``__minigrad_format__`` = 1, that marks it as ours. No pickle is written or read.
Saving is atomic: the previous file at ``path`` survives any failure during the save. The data
goes to a temporary file next to ``path`` named ``.<name>.minigrad.<host>.<pid>.<random>.tmp``,
renamed over ``path`` once complete; if the writer is killed, the next ``save`` or ``load`` in
that folder removes it (only files of that naming whose process is gone, or that are older than
an hour). A file that is not a readable checkpoint raises ``CheckpointError`` (a ValueError).

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "model.ckpt")
>>> save({"w": np.eye(2, dtype=np.float32), "step": 3}, p)
>>> sd = load(p)
>>> sd["w"].dtype, sd["step"], sorted(sd)
(dtype('float32'), array(3), ['step', 'w'])
"""

from __future__ import annotations

import math
import os
import re
import socket
import struct
import time
import uuid
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["save", "load", "CheckpointError", "FORMAT_KEY", "FORMAT_VERSION"]

FORMAT_KEY = "__minigrad_format__"
FORMAT_VERSION = 1

# bool, signed/unsigned int, float, complex: what a state dict may hold without pickle.
_NUMERIC_KINDS = "biufc"


class CheckpointError(ValueError):
    """``load``: the file is not a readable minigrad checkpoint (foreign, truncated, corrupt).

    The message names the file and what is wrong; ``path`` holds the file's path. A subclass of
    ValueError, which ``load`` raised for these before.
    """

    def __init__(self, message: str, path=None):
        super().__init__(message)
        self.path = path


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
    _remove_stale_temps(directory)
    # The temp file sits next to the target so os.replace is a same-filesystem rename, which
    # is atomic: readers see either the old checkpoint or the complete new one, never a mix.
    tmp = _temp_path(path)
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


# ---- temporary files of interrupted saves --------------------------------------------------------

# ".<name>.minigrad.<host>.<pid>.<12 hex>.tmp": the host and pid say who writes it. A pid means
# something only where it was issued, so <host> is the host name plus, on Linux, the pid
# namespace: a folder may be shared by several machines, or by containers of one machine.
_TEMP_RE = re.compile(r"\.minigrad\.([A-Za-z0-9-]{1,40})\.([0-9]{1,10})\.[0-9a-f]{12}\.tmp\Z")
# A temp file not written for this long is stale even if its pid is alive (pids are reused,
# e.g. pid 1 in every container) or cannot be checked (another host). A live save writes
# continuously and renames right after its fsync, so it never looks this old.
_STALE_AFTER_S = 3600


def _host_tag() -> str:
    tag = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:28] or "localhost"
    try:
        namespace = re.search(r"[0-9]+", os.readlink("/proc/self/ns/pid"))  # "pid:[4026531836]"
    except OSError:
        namespace = None
    return f"{tag}-{namespace.group()[:11]}" if namespace else tag


def _temp_path(path: Path, pid: int | None = None, host: str | None = None) -> Path:
    """The temporary file ``save`` writes before renaming it to ``path``."""
    stem = path.name
    while len(os.fsencode(stem)) > 120:  # the whole name must stay under 255 bytes
        stem = stem[:-1]
    pid = os.getpid() if pid is None else pid
    return path.parent / (f".{stem}.minigrad.{host or _host_tag()}.{pid}."
                          f"{uuid.uuid4().hex[:12]}.tmp")


def _parse_temp_name(name: str):
    """``(host, pid)`` if ``name`` is a temp file name of ``save``, else None."""
    m = _TEMP_RE.search(name)
    if not name.startswith(".") or m is None or m.start() < 1:
        return None
    return m.group(1), int(m.group(2))


def _writer_alive(host: str, pid: int):
    """True / False if process ``pid`` of ``host`` runs / is gone; None if we cannot tell."""
    if host != _host_tag() or os.name != "posix":
        return None  # (on Windows, os.kill(pid, 0) would terminate the process)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    except (OSError, OverflowError):
        return None
    return True


def _remove_stale_temps(directory: Path) -> None:
    """Delete the temp files of saves in ``directory`` that were interrupted (see _TEMP_RE).

    Only regular files named by ``_temp_path``, and only if their writer is gone or they have
    not been written for ``_STALE_AFTER_S``. Never raises: this is housekeeping.
    """
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        owner = _parse_temp_name(entry.name)
        if owner is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if _writer_alive(*owner) is False or age > _STALE_AFTER_S:
                os.unlink(entry.path)
        except OSError:
            continue


# ---- load ---------------------------------------------------------------------------------------

# What zipfile, zlib and numpy's header parser raise on damaged input (NotImplementedError: an
# unsupported zip feature; RuntimeError: encryption; struct.error: short zip records).
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
           KeyError, IndexError, struct.error, NotImplementedError, RuntimeError, OverflowError)
# Deflate expands at most ~1032x; a member declaring more is lying about its size.
_MAX_DEFLATE_RATIO = 1040
_CHUNK = 1 << 24
_NPY_MAGIC = b"\x93NUMPY"


def load(path) -> dict:
    """Read a checkpoint written by ``save``: a dict of str -> numpy array, in saved order.

    Raises FileNotFoundError if ``path`` is missing, and CheckpointError (a ValueError) naming
    the path and the problem if it is not a minigrad checkpoint (foreign .npz, other file, a
    directory) or is truncated or corrupt. Every size a member declares is checked against the
    data present before anything is allocated, and pickles are never loaded.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.npz")
    >>> save({"x": np.arange(3, dtype=np.int64)}, p)
    >>> load(p)
    {'x': array([0, 1, 2])}
    """
    path = Path(path)
    _remove_stale_temps(path.parent)
    if not path.exists():
        raise FileNotFoundError(f"load: checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"load: {path} is a directory, not a checkpoint file (pass the "
                              f"path of the file that save() wrote)", path)
    if not path.is_file():
        raise CheckpointError(f"load: {path} is not a regular file (a device, pipe or "
                              f"socket?), so not a checkpoint", path)
    with open(path, "rb") as f:  # a PermissionError is not corruption: it propagates
        try:
            return _read_checkpoint(f, path)
        except CheckpointError:
            raise
        except _Foreign as e:
            raise CheckpointError(f"load: {path} is not a minigrad checkpoint: {e}",
                                  path) from None
        except _DAMAGE as e:
            raise CheckpointError(f"load: {path} is truncated or corrupt: "
                                  f"{type(e).__name__}: {e}", path) from e


def _read_checkpoint(f, path: Path) -> dict:
    head = f.read(4)
    if len(head) < 4:
        raise CheckpointError(f"load: {path} is truncated or corrupt ({len(head)} bytes)", path)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise _Foreign(f"not an .npz/zip file; starts with {head!r}")
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        members = {}  # key -> ZipInfo, in the order saved
        for info in zf.infolist():
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else name
            if key in members:
                raise _corrupt(path, f"member {name!r} appears twice")
            members[key] = info
        if FORMAT_KEY not in members:
            names = list(members)
            raise _Foreign(f"no {FORMAT_KEY!r} entry (an .npz written by something else? it "
                           f"holds {names[:5]}{' ...' if len(names) > 5 else ''})")
        marker = _read_member(zf, members[FORMAT_KEY], size, path)
        if marker.shape != () or marker.dtype.kind not in "iu":
            raise _corrupt(path, f"its {FORMAT_KEY!r} entry is {marker.dtype} of shape "
                                 f"{marker.shape}, not the integer format version")
        version = int(marker)
        if version != FORMAT_VERSION:
            raise _Foreign(f"format version {version}, this minigrad reads version "
                           f"{FORMAT_VERSION}")
        return {k: _read_member(zf, info, size, path)
                for k, info in members.items() if k != FORMAT_KEY}


def _corrupt(path: Path, what: str) -> CheckpointError:
    return CheckpointError(f"load: {path} is truncated or corrupt: {what}", path)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, path: Path):
    """One ``.npy`` member as an array, every size checked before anything is allocated."""
    name = info.filename

    def unreadable(what: str) -> CheckpointError:
        return CheckpointError(f"load: {path} holds a member minigrad does not read: "
                               f"{name!r} {what}", path)

    if info.flag_bits & 0x61:  # 0x1 encrypted, 0x20 patched data, 0x40 strong encryption
        raise unreadable(f"is encrypted or patched (zip flags 0x{info.flag_bits:04x}); "
                         f"save() writes plain members")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise unreadable(f"uses zip compression method {info.compress_type}; only stored (0) "
                         f"and deflate (8) members are read, as np.savez and "
                         f"np.savez_compressed write them; re-create the file with save()")
    if info.header_offset + info.compress_size > size:
        raise _corrupt(path, f"member {name!r} ends past the end of the file ({size} bytes)")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise _corrupt(path, f"member {name!r} is stored uncompressed but its zip sizes differ "
                             f"({info.file_size} != {info.compress_size})")
    if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
        raise _corrupt(path, f"member {name!r} declares {info.file_size} bytes from "
                             f"{info.compress_size} compressed, more than deflate can hold")
    with zf.open(info) as m:
        magic = m.read(len(_NPY_MAGIC) + 2)
        if magic[:len(_NPY_MAGIC)] != _NPY_MAGIC or len(magic) < len(_NPY_MAGIC) + 2:
            raise _corrupt(path, f"member {name!r} is not a .npy array (it starts with "
                                 f"{magic[:8]!r})")
        version = (magic[-2], magic[-1])
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(m)
        elif version in ((2, 0), (3, 0)):  # 3.0 differs in allowing utf-8 field names only
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(m)
        else:
            raise unreadable(f"is a .npy file of format version {version[0]}.{version[1]}, "
                             f"which minigrad does not read")
        if dtype.kind not in _NUMERIC_KINDS:
            pickled = ", i.e. pickled Python objects, which are never unpickled" \
                if dtype.hasobject else ""
            raise unreadable(f"has dtype {dtype}{pickled}: checkpoints hold only numeric "
                             f"arrays (bool, int, float, complex)")
        if any(n < 0 for n in shape):
            raise _corrupt(path, f"member {name!r} declares shape {shape}, with a negative "
                                 f"size")
        expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        available = info.file_size - m.tell()
        if expected > available:
            raise _corrupt(path, f"member {name!r} declares shape {shape} of {dtype} = "
                                 f"{expected} bytes, but only {available} bytes of data follow "
                                 f"its header")
        if expected < available:
            raise _corrupt(path, f"member {name!r} has {available - expected} unexpected bytes "
                                 f"after its array of shape {shape} {dtype}")
        flat = np.empty(math.prod(shape), dtype=dtype)
        buf = memoryview(flat.view(np.uint8))
        pos = 0
        while pos < expected:
            n = m.readinto(buf[pos:pos + _CHUNK])
            if not n:
                raise _corrupt(path, f"member {name!r} ends after {pos} of its {expected} "
                                     f"bytes of data")
            pos += n
        m.read(1)  # reaches the member's end, where zipfile checks the CRC
    if fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


class _Foreign(Exception):
    """Internal: the file is a zip but not a minigrad checkpoint (the message says why)."""
