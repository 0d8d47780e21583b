"""Whole-training checkpoints (issue 11): model + optimizer + scheduler + epoch in one call; a run
resumed from one equals the uninterrupted run bit for bit; loading is all or nothing."""

import os

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.data import ArrayDataset, DataLoader
from minigrad.optim import lr_scheduler


def _setup(device="cpu"):
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    model.to(device)
    opt = optim.AdamW([{"params": model[0].parameters(), "lr": 3e-3},
                       {"params": model[3].parameters()}], lr=1e-2, weight_decay=0.05)
    sched = lr_scheduler.SequentialLR(
        opt, [lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=3),
              lr_scheduler.CosineAnnealingLR(opt, T_max=5)], milestones=[3])
    return model, opt, sched


def _data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 8)).astype(np.float32)
    return ArrayDataset(X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0))


def _epoch(model, opt, sched, epoch, device):
    losses = []
    for X, y in DataLoader(_data(), batch_size=8, shuffle=True, seed=epoch, as_numpy=True):
        opt.zero_grad()
        loss = F.cross_entropy(model(minigrad.tensor(X, device=device)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sched.step()
    return losses


def _resume_equals_uninterrupted(tmp_path, device):
    model, opt, sched = _setup(device)
    expected = [_epoch(model, opt, sched, e, device) for e in range(6)]
    final = [p.numpy().tobytes() for p in model.parameters()]

    model, opt, sched = _setup(device)
    got = [_epoch(model, opt, sched, e, device) for e in range(3)]
    path = tmp_path / "run.ckpt"
    minigrad.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=2)
    minigrad.randn(100)   # the interrupted process goes on drawing random numbers; no matter

    model, opt, sched = _setup(device)     # a new process, in effect
    ckpt = minigrad.load_checkpoint(path, model=model, optimizer=opt, scheduler=sched)
    for e in range(ckpt["epoch"] + 1, 6):
        got.append(_epoch(model, opt, sched, e, device))
    assert got == expected                          # every loss, to the bit (dropout included)
    assert [p.numpy().tobytes() for p in model.parameters()] == final


def test_resume_from_checkpoint_equals_uninterrupted_training_bit_for_bit(tmp_path):
    _resume_equals_uninterrupted(tmp_path, "cpu")


@pytest.mark.opencl
def test_resume_on_opencl_equals_uninterrupted_training_bit_for_bit(tmp_path):
    _resume_equals_uninterrupted(tmp_path, "opencl")


def test_checkpoint_round_trips_nested_values_exactly(tmp_path):
    w = minigrad.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    extra = {"betas": (0.9, 0.999), "by_index": {0: "a", 7: [1, 2.5]}, "none": None,
             "nan": float("nan"), "inf": -float("inf"), "big": 2 ** 70, "flag": True,
             "np_scalar": np.float32(0.1), "array": np.array([[1, 2]], dtype=np.int16),
             "tensor": w, "tricky": {"__array__": "not an array"}, "text": "é/#x"}
    path = tmp_path / "c"
    minigrad.save_checkpoint(path, extra=extra, epoch=3, lr=0.1 + 0.2)
    out = minigrad.load_checkpoint(path)
    assert out["epoch"] == 3 and out["lr"] == 0.1 + 0.2
    got = out["extra"]
    assert got["betas"] == (0.9, 0.999) and isinstance(got["betas"], tuple)
    assert got["by_index"] == {0: "a", 7: [1, 2.5]}
    assert got["none"] is None and np.isnan(got["nan"]) and got["inf"] == -np.inf
    assert got["big"] == 2 ** 70 and got["flag"] is True and got["text"] == "é/#x"
    assert got["np_scalar"] == np.float32(0.1) and got["np_scalar"].dtype == np.float32
    assert got["array"].dtype == np.int16 and got["array"].tolist() == [[1, 2]]
    np.testing.assert_array_equal(got["tensor"], w.numpy())
    assert got["tricky"] == {"__array__": "not an array"}
    # an ordinary minigrad checkpoint file: minigrad.load reads it as a flat dict of arrays
    flat = minigrad.load(path)
    assert "extra/tensor" in flat and flat["extra/array"].dtype == np.int16


def test_loading_is_all_or_nothing(tmp_path):
    model, opt, sched = _setup()
    _epoch(model, opt, sched, 0, "cpu")
    path = tmp_path / "ok.ckpt"
    minigrad.save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=0)

    other_model, other_opt, other_sched = _setup()
    before = [p.numpy().copy() for p in other_model.parameters()]
    wrong_opt = optim.SGD([{"params": other_model[0].parameters()},      # another optimizer
                           {"params": other_model[3].parameters()}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="another optimizer"):
        minigrad.load_checkpoint(path, model=other_model, optimizer=wrong_opt)
    for p, b in zip(other_model.parameters(), before):     # the model was put back
        np.testing.assert_array_equal(p.numpy(), b)
    with pytest.raises(KeyError, match="no entry 'optimiser'"):
        minigrad.load_checkpoint(path, model=other_model, optimiser=other_opt)
    with pytest.raises(TypeError, match="load_state_dict"):
        minigrad.load_checkpoint(path, epoch=3)


def test_rng_is_restored_unless_asked_not_to(tmp_path):
    minigrad.manual_seed(5)
    path = tmp_path / "r"
    minigrad.save_checkpoint(path, epoch=0)
    a = minigrad.randn(4).numpy()
    minigrad.load_checkpoint(path)
    np.testing.assert_array_equal(minigrad.randn(4).numpy(), a)
    minigrad.load_checkpoint(path, restore_rng=False)
    assert not np.array_equal(minigrad.randn(4).numpy(), a)
    minigrad.save_checkpoint(path, epoch=0, save_rng=False)
    b = minigrad.randn(4).numpy()
    minigrad.load_checkpoint(path)          # nothing saved, nothing restored
    assert not np.array_equal(minigrad.randn(4).numpy(), b)


def test_save_refuses_what_it_cannot_store_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep"
    minigrad.save_checkpoint(path, epoch=1)
    with pytest.raises(TypeError, match="extra/hook is a builtin"):
        minigrad.save_checkpoint(path, epoch=2, extra={"hook": print})
    with pytest.raises(TypeError, match="lambdas/0 is a function"):
        minigrad.save_checkpoint(path, lambdas=[lambda e: e])
    with pytest.raises(ValueError, match="nothing to save"):
        minigrad.save_checkpoint(path)
    assert minigrad.load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["keep"]


def test_plain_save_files_are_not_training_checkpoints(tmp_path):
    path = tmp_path / "weights.npz"
    minigrad.save(nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match="use minigrad.load|read it with minigrad.load"):
        minigrad.load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        minigrad.load_checkpoint(tmp_path / "missing")
