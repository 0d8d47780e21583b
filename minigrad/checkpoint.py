"""Training checkpoints: the model, the optimizer, the scheduler, the epoch (anything with a
``state_dict``, and plain values) saved in one call, atomically, and loaded in one call.

    minigrad.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=epoch)
    ckpt = minigrad.load_checkpoint(path, model=model, optimizer=opt, scheduler=sched)
    start = ckpt["epoch"] + 1

A resumed run continues exactly (bit for bit) as the uninterrupted one would have: parameters
and optimizer state keep their dtype and bits, step counts and learning rates are stored exactly,
and minigrad's random generator (dropout, ``randn``, init) is saved and restored with them
(``save_rng`` / ``restore_rng`` turn that off). Batches are the caller's part: a DataLoader
seeded per epoch (``seed=epoch``) gives the resumed epochs the same order.

The file is what ``minigrad.save`` writes (an ``.npz``, atomic: a temporary file renamed over
``path``, so a crash mid-save leaves the previous checkpoint intact; no pickle): each array
under its place in the nested state (``model/0.weight``, ``optimizer/state/0/exp_avg``), plus
``__minigrad_checkpoint__``, a uint8 array of JSON holding the nested structure, numbers,
strings and references to the arrays. ``minigrad.load`` reads it too, as a flat dict.

>>> import os, tempfile, minigrad
>>> from minigrad import nn, optim
>>> model = nn.Linear(3, 2)
>>> opt = optim.AdamW(model.parameters())
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> save_checkpoint(path, model=model, optimizer=opt, epoch=4)
>>> load_checkpoint(path, model=model, optimizer=opt)["epoch"]
4
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from . import io
from .tensor import Tensor, get_rng

__all__ = ["save_checkpoint", "load_checkpoint", "META_KEY"]

META_KEY = "__minigrad_checkpoint__"
_FORMAT, _VERSION = "minigrad-checkpoint", 1
# How the JSON marks what JSON itself cannot hold: an array stored beside it, a tuple, a dict
# whose keys are not all strings (an optimizer's state is keyed by parameter index).
_ARRAY, _TUPLE, _ITEMS = "__array__", "__tuple__", "__items__"


def save_checkpoint(path, /, *, save_rng: bool = True, **entries) -> None:
    """Save every entry in one file, atomically: an object with ``state_dict()`` (a model, an
    optimizer, a scheduler) as its state dict, anything else as it is (numbers, strings, None,
    arrays, Tensors, and lists, tuples and dicts of them).

    ``save_rng``: also record minigrad's random generator, which ``load_checkpoint`` restores.
    """
    if not entries:
        raise ValueError("save_checkpoint: nothing to save (pass model=..., optimizer=..., ...)")
    arrays: dict[str, np.ndarray] = {}
    tree = {}
    for name, value in entries.items():
        if hasattr(value, "state_dict") and callable(value.state_dict) \
                and not isinstance(value, Mapping):
            value = value.state_dict()
        tree[name] = _encode(value, [name], arrays)
    meta = {"format": _FORMAT, "version": _VERSION, "entries": tree,
            "rng": get_rng().bit_generator.state if save_rng else None}
    text = json.dumps(meta, allow_nan=True, default=_json_default)
    arrays[META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    io.save(arrays, path)


def load_checkpoint(path, /, *, restore_rng: bool = True, **targets) -> dict:
    """Read a checkpoint of ``save_checkpoint``, load each of ``targets`` (by entry name:
    ``model=model`` calls ``model.load_state_dict(ckpt["model"])``), and return every entry
    (state dicts with numpy arrays, and the plain values such as the epoch).

    All or nothing: if one target refuses its state (another architecture, another optimizer),
    the ones loaded before it are put back and the error is raised. ``restore_rng`` sets
    minigrad's random generator to its saved state (when the checkpoint holds one).
    """
    flat = io.load(path)
    raw = flat.pop(META_KEY, None)
    if raw is None:
        raise ValueError(f"load_checkpoint: {path} was written by minigrad.save, not "
                         f"save_checkpoint: read it with minigrad.load")
    try:
        meta = json.loads(np.asarray(raw, dtype=np.uint8).tobytes().decode("utf-8"))
        ok = meta.get("format") == _FORMAT
    except (UnicodeDecodeError, ValueError, AttributeError) as e:
        raise ValueError(f"load_checkpoint: {path}: its {META_KEY!r} entry is not readable "
                         f"({e})") from None
    if not ok or meta.get("version") != _VERSION:
        raise ValueError(f"load_checkpoint: {path}: unknown checkpoint format "
                         f"{meta.get('format')!r} version {meta.get('version')!r}")
    tree = {name: _decode(v, flat, path) for name, v in meta["entries"].items()}
    for name, obj in targets.items():
        if name not in tree:
            raise KeyError(f"load_checkpoint: {path} has no entry {name!r} (it holds "
                           f"{sorted(tree)})")
        if not callable(getattr(obj, "load_state_dict", None)):
            raise TypeError(f"load_checkpoint: {name}={type(obj).__name__} has no "
                            f"load_state_dict")
    done = []
    try:
        for name, obj in targets.items():
            before = obj.state_dict()
            obj.load_state_dict(tree[name])
            done.append((obj, before))
        if restore_rng and meta.get("rng") is not None:
            get_rng().bit_generator.state = meta["rng"]
    except BaseException:
        for obj, before in reversed(done):
            obj.load_state_dict(before)
        raise
    return tree


# ---- nested state <-> JSON + flat arrays ---------------------------------------------------------

def _encode(value, where: list, arrays: dict):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        arr = value.numpy() if isinstance(value, Tensor) else value
        key = base = "/".join(where)
        n = 1
        while key in arrays or key in (META_KEY, io.FORMAT_KEY):
            n += 1
            key = f"{base}#{n}"
        arrays[key] = np.array(arr)  # a copy: later training steps do not change the saved state
        return {_ARRAY: key, "scalar": isinstance(value, np.generic)}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, [*where, str(i)], arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, [*where, str(i)], arrays) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        plain = all(isinstance(k, str) for k in value) \
            and not {_ARRAY, _TUPLE, _ITEMS} & set(value)
        if plain:
            return {k: _encode(v, [*where, k], arrays) for k, v in value.items()}
        return {_ITEMS: [[_encode(k, [*where, "key"], arrays),
                          _encode(v, [*where, str(k)], arrays)] for k, v in value.items()]}
    raise TypeError(f"save_checkpoint: {'/'.join(where)} is a {type(value).__name__}; a checkpoint "
                    f"holds numbers, strings, None, arrays, Tensors, and lists, tuples and dicts "
                    f"of them (functions and other objects are not saved)")


def _json_default(value):
    raise TypeError(f"save_checkpoint: cannot store {type(value).__name__} {value!r}")


def _decode(node, arrays: dict, path):
    if isinstance(node, list):
        return [_decode(v, arrays, path) for v in node]
    if not isinstance(node, dict):
        return node
    if _ARRAY in node:
        key = node[_ARRAY]
        if key not in arrays:
            raise ValueError(f"load_checkpoint: {path} is corrupt: the array {key!r} is missing")
        arr = arrays[key]
        return arr[()] if node.get("scalar") else arr
    if _TUPLE in node:
        return tuple(_decode(v, arrays, path) for v in node[_TUPLE])
    if _ITEMS in node:
        return {_hashable(_decode(k, arrays, path)): _decode(v, arrays, path)
                for k, v in node[_ITEMS]}
    return {k: _decode(v, arrays, path) for k, v in node.items()}


def _hashable(key):
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key
