"""minigrad.io: .npz checkpoints that round-trip bit-exactly and are written atomically."""

import os
import zipfile

import numpy as np
import pytest

import minigrad.io as mio
from minigrad.io import FORMAT_KEY, load, save


def _state():
    rng = np.random.default_rng(0)
    return {
        "layer.0.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "layer.0.bias": rng.standard_normal(4),  # float64
        "steps": np.arange(5, dtype=np.int64),
        "scale": np.float32(0.5),  # 0-d numpy scalar
        "empty": np.zeros((0, 3), np.float32),
        "mask": np.array([True, False]),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
        "special": np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324]),
    }


def _assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    # Compare the bytes: catches NaN payloads and -0.0 that == would miss.
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


@pytest.mark.parametrize("name", ["model.npz", "model.ckpt", "model"])
def test_round_trip_bit_exact(tmp_path, name):
    state = _state()
    path = tmp_path / name
    save(state, path)
    # Written exactly at path: no ".npz" added, and no temp file left over.
    assert os.listdir(tmp_path) == [name]
    out = load(path)
    assert list(out) == list(state)  # keys, in order, without the format marker
    for k in state:
        assert isinstance(out[k], np.ndarray)
        _assert_same(np.asarray(state[k]), out[k])


def test_python_numbers_become_0d_arrays(tmp_path):
    save({"step": 7, "lr": 0.125, "flag": True}, str(tmp_path / "c"))
    out = load(str(tmp_path / "c"))
    assert out["step"].shape == () and out["step"].dtype == np.int64 and out["step"] == 7
    assert out["lr"].dtype == np.float64 and out["lr"] == 0.125
    assert out["flag"].dtype == np.bool_ and out["flag"]


def test_objects_with_numpy_method(tmp_path):
    class FakeTensor:
        def __init__(self, a):
            self._a = a

        def numpy(self):
            return self._a

    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save({"w": FakeTensor(w)}, tmp_path / "c")
    _assert_same(load(tmp_path / "c")["w"], w)


def test_file_is_plain_npz_with_marker(tmp_path):
    save({"a": np.ones(2)}, tmp_path / "c")
    with np.load(tmp_path / "c", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(["a", FORMAT_KEY])
        assert int(npz[FORMAT_KEY]) == 1


def test_keys_that_collide_with_np_savez_parameters(tmp_path):
    state = {"file": np.ones(1), "allow_pickle": np.zeros(1), "args": np.arange(2)}
    save(state, tmp_path / "c")
    out = load(tmp_path / "c")
    for k in state:
        _assert_same(out[k], state[k])


def test_overwrite_replaces_contents(tmp_path):
    save({"a": np.ones(2)}, tmp_path / "c")
    save({"b": np.zeros(3)}, tmp_path / "c")
    assert list(load(tmp_path / "c")) == ["b"]


def test_foreign_npz(tmp_path):
    p = tmp_path / "foreign.npz"
    np.savez(p, weights=np.ones(3))
    with pytest.raises(ValueError, match=r"not a minigrad checkpoint") as e:
        load(p)
    assert str(p) in str(e.value)


def test_npy_file_is_not_a_checkpoint(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.ones(3))
    with pytest.raises(ValueError, match="not a minigrad checkpoint"):
        load(p)


def test_random_bytes(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(ValueError, match="not a minigrad checkpoint") as e:
        load(p)
    assert str(p) in str(e.value)


def test_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load(p)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9, 0.99])
def test_truncated(tmp_path, fraction):
    p = tmp_path / "c"
    save(_state(), p)
    raw = p.read_bytes()
    p.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(ValueError, match="truncated or corrupt") as e:
        load(p)
    assert str(p) in str(e.value)


def test_flipped_byte_is_detected(tmp_path):
    p = tmp_path / "c"
    save({"w": np.zeros(1000, np.float32)}, p)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("w.npy")
    # A byte well inside the array data: the zip CRC must catch it.
    raw[info.header_offset + 200 + 2000] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load(tmp_path / "nope")


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"a": np.ones(1)}, tmp_path / "no" / "c")


def test_non_str_key(tmp_path):
    with pytest.raises(TypeError, match=r"key 3 of type int"):
        save({3: np.ones(1)}, tmp_path / "c")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value", [object(), "text", np.array(["a", "b"]),
                                   np.array([1, None], dtype=object), [[1, 2], [3]]])
def test_unsupported_value(tmp_path, value):
    with pytest.raises(TypeError, match="'bad'"):
        save({"ok": np.ones(1), "bad": value}, tmp_path / "c")
    assert os.listdir(tmp_path) == []


def test_reserved_key_and_non_mapping(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save({FORMAT_KEY: np.ones(1)}, tmp_path / "c")

    class Model:
        def state_dict(self):
            return {}

    with pytest.raises(TypeError, match=r"model.state_dict\(\)"):
        save(Model(), tmp_path / "c")


def _assert_old_intact(tmp_path, path, old_bytes):
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == [path.name]  # no temp file left behind
    assert list(load(path)) == ["old"]


def test_atomic_save_failure_mid_write(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"old": np.arange(3.0)}, path)
    old_bytes = path.read_bytes()

    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is already in the temp file
            fp.write(b"partial")
            raise RuntimeError("disk full (simulated)")
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(RuntimeError, match="simulated"):
        save({"new1": np.ones(100), "new2": np.ones(100), "new3": np.ones(1)}, path)
    assert len(calls) == 2
    monkeypatch.undo()
    _assert_old_intact(tmp_path, path, old_bytes)


@pytest.mark.parametrize("target", ["fsync", "replace"])
def test_atomic_save_failure_at_commit(tmp_path, monkeypatch, target):
    path = tmp_path / "model.npz"
    save({"old": np.arange(3.0)}, path)
    old_bytes = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"{target} failed (simulated)")

    monkeypatch.setattr(mio.os, target, boom)
    with pytest.raises(OSError, match="simulated"):
        save({"new": np.ones(10)}, path)
    monkeypatch.undo()
    _assert_old_intact(tmp_path, path, old_bytes)


def test_keyboard_interrupt_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"old": np.arange(3.0)}, path)
    old_bytes = path.read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save({"new": np.ones(10)}, path)
    monkeypatch.undo()
    _assert_old_intact(tmp_path, path, old_bytes)


def test_saved_file_respects_umask(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions only")
    old = os.umask(0o022)
    try:
        save({"a": np.ones(1)}, tmp_path / "c")
    finally:
        os.umask(old)
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o644


def test_tensor_round_trip(tmp_path):
    make_tensor = _real_tensor_factory()
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    save({"w": make_tensor(w)}, tmp_path / "c")
    _assert_same(load(tmp_path / "c")["w"], w)


def _real_tensor_factory():
    """minigrad's ``tensor`` function, or skip the test if the tensor engine cannot be imported."""
    from minigrad.data.loader import _tensor_factory

    try:
        return _tensor_factory()
    except ImportError as e:  # also ModuleNotFoundError, e.g. an unbuilt Cython extension
        pytest.skip(f"minigrad.tensor.tensor cannot be imported: {e}")


# ---- corrupt and foreign files: one exception type, naming the file ----------------------------


def _npy_bytes(array=None, *, header=None, data=b"", allow_pickle=False):
    """The bytes of a .npy file: ``array`` written by numpy, or a raw ``header`` then ``data``."""
    import io

    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    else:
        np.lib.format.write_array_header_1_0(buf, header)
        buf.write(data)
    return buf.getvalue()


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    """A zip of ``members`` (name -> bytes), with a valid minigrad marker unless one is given."""
    members = dict(members)
    members.setdefault(FORMAT_KEY + ".npy", _npy_bytes(np.asarray(1, dtype=np.int64)))
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _patch_member_headers(path, name, *, method=None, flags=None):
    """Rewrite the compression method / flag bits of member ``name`` in both zip headers."""
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    cd = -1
    starts = [info.header_offset]  # the local header, then this member's central record
    while True:
        cd = raw.find(b"PK\x01\x02", cd + 1)  # each central directory record
        if cd < 0:
            break
        if raw[cd + 46:cd + 46 + len(name)] == name.encode():
            starts.append(cd + 2)  # the central record has 2 more bytes before the flags
    assert len(starts) == 2
    for start in starts:
        if flags is not None:
            raw[start + 6:start + 8] = flags.to_bytes(2, "little")
        if method is not None:
            raw[start + 8:start + 10] = method.to_bytes(2, "little")
    path.write_bytes(bytes(raw))


def test_checkpoint_error_is_a_value_error():
    assert issubclass(mio.CheckpointError, ValueError)


def test_member_with_garbage_bytes(tmp_path):
    p = _write_zip(tmp_path / "c", {"w.npy": b"this is not an array at all", "b.npy":
                                    _npy_bytes(np.ones(2))})
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'.*not a \.npy array") as e:
        load(p)
    assert str(p) in str(e.value)


def test_member_without_npy_suffix_and_garbage(tmp_path):
    p = _write_zip(tmp_path / "c", {"notes.txt": b"hello"})
    with pytest.raises(mio.CheckpointError, match=r"'notes\.txt'"):
        load(p)


def test_member_of_object_dtype_is_never_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))  # runs if anyone unpickles the array

    obj = np.array([Evil()], dtype=object)
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(obj, allow_pickle=True)})
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'.*dtype object") as e:
        load(p)
    assert str(p) in str(e.value)
    assert not sentinel.exists()


@pytest.mark.parametrize("dtype", ["<U3", "|S2", "<M8[s]", [("a", "<f4")]])
def test_member_of_non_numeric_dtype(tmp_path, dtype):
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(np.zeros(2, dtype=dtype))})
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'.*only numeric"):
        load(p)


@pytest.mark.parametrize("shape", [(2**40,), (2**31, 2**31, 8), (2**62, 2**62), (10**8,),
                                   (-1, 3)])
def test_member_declaring_a_huge_shape(tmp_path, shape):
    import tracemalloc

    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(header=header, data=bytes(64))})
    tracemalloc.start()
    try:
        with pytest.raises(mio.CheckpointError, match=r"'w\.npy'") as e:
            load(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(shape) in str(e.value) and str(p) in str(e.value)
    assert peak < 8 * 2**20  # checked against the data present, before allocating anything


def test_member_with_bytes_after_the_array(tmp_path):
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(np.ones(3)) + b"\x00" * 5})
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'"):
        load(p)


@pytest.mark.parametrize("method", [6, 99, zipfile.ZIP_BZIP2])  # implode, AES, bzip2
def test_unsupported_compression_method(tmp_path, method):
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(np.ones(3))})
    _patch_member_headers(p, "w.npy", method=method)
    with pytest.raises(mio.CheckpointError, match=rf"'w\.npy'.*compression method {method}") as e:
        load(p)
    assert str(p) in str(e.value)


def test_encrypted_member(tmp_path):
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(np.ones(3))})
    _patch_member_headers(p, "w.npy", flags=0x1)
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'.*encrypted"):
        load(p)


@pytest.mark.parametrize("marker", [np.array([1, 2]), np.array(1.0), np.array("1")])
def test_bad_format_marker(tmp_path, marker):
    p = _write_zip(tmp_path / "c", {FORMAT_KEY + ".npy": _npy_bytes(marker)})
    with pytest.raises(mio.CheckpointError, match=FORMAT_KEY) as e:
        load(p)
    assert str(p) in str(e.value)


def test_duplicate_member(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        p = tmp_path / "c"
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr(FORMAT_KEY + ".npy", _npy_bytes(np.asarray(1, dtype=np.int64)))
            zf.writestr("w.npy", _npy_bytes(np.ones(2)))
            zf.writestr("w.npy", _npy_bytes(np.zeros(2)))
    with pytest.raises(mio.CheckpointError, match=r"'w\.npy'.*twice"):
        load(p)


def test_deflated_npz_with_marker_still_loads(tmp_path):
    # np.savez_compressed's layout: deflate is read (within deflate's maximum ratio).
    p = _write_zip(tmp_path / "c", {"w.npy": _npy_bytes(np.arange(1000.0))},
                   compression=zipfile.ZIP_DEFLATED)
    out = load(p)
    assert list(out) == ["w"]
    _assert_same(out["w"], np.arange(1000.0))
    assert out["w"].flags.writeable


def test_fortran_order_member_loads(tmp_path):
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    out = load(_write_zip(tmp_path / "c", {"a.npy": _npy_bytes(a)}))
    np.testing.assert_array_equal(out["a"], a)


def _corrupt_files(tmp_path):
    save(_state(), tmp_path / "good")
    good = (tmp_path / "good").read_bytes()
    cases = {
        "empty": b"",
        "three-bytes": b"PK\x03",
        "truncated-zip": good[: len(good) // 2],
        "zip-without-end": good[:-22],
        "random": np.random.default_rng(1).bytes(5000),
        "zip-magic-then-junk": b"PK\x03\x04" + np.random.default_rng(2).bytes(500),
        "npy": _npy_bytes(np.ones(3)),
        "text": b"hello world\n" * 20,
    }
    paths = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = tmp_path / name
    (tmp_path / "a-directory").mkdir()
    paths["directory"] = tmp_path / "a-directory"
    return paths


def test_every_corrupt_file_raises_checkpoint_error(tmp_path):
    for name, p in _corrupt_files(tmp_path).items():
        with pytest.raises(mio.CheckpointError) as e:
            load(p)
        assert str(p) in str(e.value), name


def test_directory_path(tmp_path):
    with pytest.raises(mio.CheckpointError, match="is a directory"):
        load(tmp_path)


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_flipped_bytes(tmp_path, seed):
    # Any damage either still loads (e.g. a byte of the zip's comment-free padding) or raises
    # CheckpointError; never another exception, never bytes instead of arrays.
    save({"w": np.arange(20.0).reshape(4, 5), "step": 3}, tmp_path / "c")
    raw = bytearray((tmp_path / "c").read_bytes())
    rng = np.random.default_rng(seed)
    for i in rng.integers(0, len(raw), size=int(rng.integers(1, 4))):
        raw[i] = int(rng.integers(0, 256))
    (tmp_path / "c").write_bytes(bytes(raw))
    try:
        out = load(tmp_path / "c")
    except mio.CheckpointError:
        return
    assert all(isinstance(v, np.ndarray) for v in out.values())


# ---- stale temporary files of interrupted saves -----------------------------------------------


def _dead_pid():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _age(path, seconds):
    t = path.stat().st_mtime - seconds
    os.utime(path, (t, t))


def test_temp_name_is_recognised_as_ours(tmp_path):
    tmp = mio._temp_path(tmp_path / "model.npz")
    assert tmp.parent == tmp_path and tmp.name.startswith(".model.npz.")
    assert mio._parse_temp_name(tmp.name) == (mio._host_tag(), os.getpid())
    for other in ["model.npz", "x.tmp", ".model.npz.0123456789ab.tmp", ".a.minigrad.h.12.tmp",
                  ".a.minigrad.h.x.0123456789ab.tmp"]:
        assert mio._parse_temp_name(other) is None


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_save_after_sigkilled_save_removes_its_temp(tmp_path):
    import signal
    import subprocess
    import sys

    # A child process starts a real save, writes part of a big array, and is killed mid-write.
    child_code = (
        "import sys, time\n"
        "import numpy as np\n"
        "import minigrad.io as mio\n"
        "def slow_write(fp, arr, *args, **kwargs):\n"
        "    fp.write(b'\\0' * 4_000_000)\n"
        "    fp.flush()\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "np.lib.format.write_array = slow_write\n"
        "mio.save({'w': np.zeros(10**6)}, sys.argv[1])\n"
    )
    child = subprocess.Popen([sys.executable, "-c", child_code, str(tmp_path / "model.npz")],
                             stdout=subprocess.PIPE, cwd=tmp_path)
    try:
        assert child.stdout.readline() == b"writing\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].endswith(".tmp")  # the killed save's temp file
    assert (tmp_path / left[0]).stat().st_size >= 4_000_000

    (tmp_path / "notes.tmp").write_bytes(b"another program's temp file")
    save({"a": np.ones(2)}, tmp_path / "other.npz")
    assert sorted(os.listdir(tmp_path)) == ["notes.tmp", "other.npz"]


def test_stale_temp_of_dead_writer_removed_by_save_and_by_load(tmp_path):
    save({"a": np.ones(2)}, tmp_path / "c")
    for action in (lambda: save({"a": np.ones(2)}, tmp_path / "c"),
                   lambda: load(tmp_path / "c")):
        stale = mio._temp_path(tmp_path / "c", pid=_dead_pid())
        stale.write_bytes(b"half a checkpoint")
        action()
        assert os.listdir(tmp_path) == ["c"]


def test_temps_that_are_not_stale_or_not_ours_are_kept(tmp_path):
    dead = _dead_pid()
    keep = [
        mio._temp_path(tmp_path / "c", pid=os.getpid()),  # a live writer: this process
        mio._temp_path(tmp_path / "c", pid=dead, host="other-host"),  # can't tell: recent
        tmp_path / "notes.tmp",  # another program's
        tmp_path / ".c.0123456789ab.tmp",  # not ours (the naming minigrad used before)
        tmp_path / f".c.minigrad.{mio._host_tag()}.{dead}.tmp",  # almost ours
    ]
    for p in keep:
        p.write_bytes(b"x")
    for p in keep[2:]:
        _age(p, 10 * 24 * 3600)  # however old, files not named by save are kept
    # A directory with our naming is not a temp file either.
    d = mio._temp_path(tmp_path / "d", pid=dead)
    d.mkdir()
    save({"a": np.ones(2)}, tmp_path / "c")
    load(tmp_path / "c")
    assert sorted(os.listdir(tmp_path)) == sorted([p.name for p in keep] + ["c", d.name])


def test_old_temps_removed_even_if_pid_is_alive_or_unknown(tmp_path):
    # The pid may have been reused, or the writer ran on another host sharing the folder.
    old = [mio._temp_path(tmp_path / "c", pid=os.getpid()),
           mio._temp_path(tmp_path / "c", pid=12345, host="other-host")]
    for p in old:
        p.write_bytes(b"x")
        _age(p, mio._STALE_AFTER_S + 60)
    save({"a": np.ones(2)}, tmp_path / "c")
    assert os.listdir(tmp_path) == ["c"]


def test_cleanup_never_breaks_a_save(tmp_path, monkeypatch):
    stale = mio._temp_path(tmp_path / "c", pid=_dead_pid())
    stale.write_bytes(b"x")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only (simulated)")

    monkeypatch.setattr(mio.os, "unlink", refuse)
    save({"a": np.ones(2)}, tmp_path / "c")
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == sorted(["c", stale.name])
