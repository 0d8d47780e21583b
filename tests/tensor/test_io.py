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
