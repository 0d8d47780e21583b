"""Learning-rate schedulers against torch.optim.lr_scheduler (issue 11): the same learning rates,
to the bit, for 100 steps; get_last_lr; state_dict resume; the checks."""

import warnings

import numpy as np
import pytest

import minigrad
from minigrad import optim
from minigrad.optim import lr_scheduler as S


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _optimizer(lib, kind="SGD", lrs=(0.1, 0.3)):
    """An optimizer of ``lib`` (minigrad or torch) with one group per learning rate."""
    new = minigrad.zeros if lib is minigrad else lib.zeros
    groups = [{"params": [new(2, requires_grad=True)], "lr": lr} for lr in lrs]
    kw = {"momentum": 0.9} if kind == "SGD" else {}
    return getattr(lib.optim, kind)(groups, **kw)


# name -> (optimizer kind, factory(optimizer, scheduler module)); each is built for both libraries
SCHEDULERS = {
    "StepLR": ("SGD", lambda o, s: s.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda o, s: s.MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.3)),
    "ExponentialLR": ("SGD", lambda o, s: s.ExponentialLR(o, gamma=0.97)),
    "CosineAnnealingLR": ("SGD", lambda o, s: s.CosineAnnealingLR(o, T_max=30, eta_min=1e-3)),
    "LinearLR": ("SGD", lambda o, s: s.LinearLR(o, start_factor=0.1, end_factor=0.9,
                                                total_iters=40)),
    "LinearLR-defaults": ("Adam", lambda o, s: s.LinearLR(o)),
    "LambdaLR": ("SGD", lambda o, s: s.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1 / (1 + e)])),
    "OneCycleLR": ("SGD", lambda o, s: s.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=100)),
    "OneCycleLR-adam-3phase-linear": ("Adam", lambda o, s: s.OneCycleLR(
        o, max_lr=0.01, epochs=6, steps_per_epoch=20, three_phase=True,
        anneal_strategy="linear")),
    "SequentialLR": ("SGD", lambda o, s: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.01, total_iters=10), s.CosineAnnealingLR(o, T_max=40),
            s.StepLR(o, 5, gamma=0.8)], milestones=[10, 60])),
    "SequentialLR-exponential": ("Adam", lambda o, s: s.SequentialLR(
        o, [s.ExponentialLR(o, 0.9), s.MultiStepLR(o, [5, 20])], milestones=[15])),
}


def _momenta(opt):
    return [g.get("momentum", g.get("betas")) for g in opt.param_groups]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_sequence_equals_torch_for_100_steps(torch, name):
    kind, make = SCHEDULERS[name]
    mo, to = _optimizer(minigrad, kind), _optimizer(torch, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's hints about the step order
        ms, ts = make(mo, S), make(to, torch.optim.lr_scheduler)
        assert ms.get_last_lr() == ts.get_last_lr()
        for step in range(100):
            mo.step()
            to.step()
            ms.step()
            ts.step()
            assert ms.get_last_lr() == ts.get_last_lr(), step      # exactly, not approximately
            assert [g["lr"] for g in mo.param_groups] == [g["lr"] for g in to.param_groups]
            assert _momenta(mo) == [tuple(m) if isinstance(m, tuple) else m
                                    for m in _momenta(to)], step
    assert ms.last_epoch == ts.last_epoch
    # the same state, key for key (minus torch's internal flags)
    theirs = {k for k in ts.state_dict() if k not in ("_get_lr_called_within_step", "_is_initial")}
    assert set(ms.state_dict()) == theirs


@pytest.mark.parametrize("kw", [
    dict(patience=3, cooldown=2, factor=0.5, min_lr=[0.01, 0.02]),
    dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, factor=0.7),
    dict(mode="min", threshold_mode="abs", patience=5, eps=0.05),
])
def test_reduce_on_plateau_equals_torch(torch, kw, rng):
    mo, to = _optimizer(minigrad), _optimizer(torch)
    ms = S.ReduceLROnPlateau(mo, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
    metrics = np.concatenate([1 / (1 + np.arange(40)) + 0.2 * rng.random(40), np.ones(30),
                              rng.random(30)])
    for i, metric in enumerate(metrics):
        ms.step(minigrad.tensor(metric) if i % 2 else float(metric))   # a 0-d Tensor works
        ts.step(float(metric))
        assert ms.get_last_lr() == ts.get_last_lr(), i
        assert (ms.num_bad_epochs, ms.cooldown_counter) == (ts.num_bad_epochs,
                                                            ts.cooldown_counter)
    assert ms.get_last_lr() != [0.1, 0.3]  # it did reduce
    assert set(ms.state_dict()) == set(ts.state_dict())


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_resume_gives_the_same_remaining_sequence(name, tmp_path):
    kind, make = SCHEDULERS[name]
    ref_opt = _optimizer(minigrad, kind)
    ref = make(ref_opt, S)
    expected = []
    for _ in range(90):
        ref_opt.step()
        ref.step()
        expected.append(ref.get_last_lr())
    # run 37 steps, save both through a checkpoint file, then a fresh optimizer and scheduler
    # continue from there
    opt = _optimizer(minigrad, kind)
    sched = make(opt, S)
    for _ in range(37):
        opt.step()
        sched.step()
    minigrad.save_checkpoint(tmp_path / "c", optimizer=opt, scheduler=sched)
    opt2 = _optimizer(minigrad, kind)
    sched2 = make(opt2, S)
    minigrad.load_checkpoint(tmp_path / "c", optimizer=opt2, scheduler=sched2)
    assert sched2.state_dict() == sched.state_dict()
    got = expected[:37]
    for _ in range(37, 90):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_lambda_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    opt = _optimizer(minigrad, lrs=(0.1,))
    sched = S.LambdaLR(opt, Warmup(5))
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"n": 5}]
    other = S.LambdaLR(_optimizer(minigrad, lrs=(0.1,)), Warmup(9))
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].n == 5
    with pytest.raises(ValueError, match="lr_lambdas"):
        S.LambdaLR(_optimizer(minigrad, lrs=(0.1,)), lambda e: 1.0).load_state_dict(
            {**sd, "lr_lambdas": [None, None]})


def test_load_state_dict_of_another_scheduler_is_refused_and_changes_nothing():
    opt = _optimizer(minigrad)
    step = S.StepLR(opt, 3)
    cosine = S.CosineAnnealingLR(_optimizer(minigrad), T_max=10)
    before = step.state_dict()
    with pytest.raises(ValueError, match="another scheduler"):
        step.load_state_dict(cosine.state_dict())
    assert step.state_dict() == before
    seq = S.SequentialLR(opt, [S.StepLR(opt, 3), S.ExponentialLR(opt, 0.5)], [4])
    sd = seq.state_dict()
    sd["_schedulers"][1] = cosine.state_dict()
    before = seq.state_dict()
    with pytest.raises(ValueError):
        seq.load_state_dict(sd)
    assert seq.state_dict() == before


def test_scheduler_arguments_are_checked():
    opt = _optimizer(minigrad)
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, 0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="one value per parameter group"):
        S.OneCycleLR(opt, max_lr=[1.0], total_steps=10)
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        S.OneCycleLR(optim.Adagrad([minigrad.zeros(1, requires_grad=True)]), 1.0, 10)
    with pytest.raises(ValueError, match="one milestone fewer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])
    with pytest.raises(ValueError, match="another optimizer"):
        S.SequentialLR(opt, [S.StepLR(_optimizer(minigrad), 2)], milestones=[])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_optimizer(minigrad), 2, last_epoch=5)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_scheduler_drives_the_optimizer_lr():
    w = minigrad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = S.MultiStepLR(opt, milestones=[1], gamma=0.5)
    moves = []
    for _ in range(3):
        before = w.item()
        w.grad = minigrad.tensor([1.0])
        opt.step()
        sched.step()
        moves.append(before - w.item())
    assert moves == [1.0, 0.5, 0.5]
