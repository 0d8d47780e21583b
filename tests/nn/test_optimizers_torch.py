"""Optimizers against torch.optim with copied weights (issue 11): every update rule over 12+ steps,
weight decay (L2 and decoupled), amsgrad, parameter groups; state dicts and their checks."""

import math

import numpy as np
import pytest

import minigrad
from minigrad import nn, optim


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# (name, options): torch.optim.<name>(**options) is the oracle for optim.<name>(**options)
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.02, weight_decay=0.3)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.02, weight_decay=0.1)),
    ("RAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.05)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CASES]


def _twins(torch, dtype, rng):
    """A minigrad MLP and a torch MLP with the same weights, and one step of each on a batch."""
    m = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    if dtype == np.float64:
        for p in m.parameters():
            p.data = p.backend.asarray(p.numpy().astype(np.float64))
    t = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    t = t.to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for tp, mp in zip(t.parameters(), m.parameters()):
            tp.copy_(torch.from_numpy(mp.numpy().copy()))
    return m, t


def _loss_pair(torch, m, t, rng, dtype):
    x = rng.standard_normal((5, 6)).astype(dtype)
    y = rng.standard_normal((5, 3)).astype(dtype)
    lm = ((m(minigrad.tensor(x)) - minigrad.tensor(y)) ** 2).mean()
    lt = ((t(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
    return lm, lt


def _train(torch, m, t, om, ot, rng, dtype, steps):
    for _ in range(steps):
        om.zero_grad()
        ot.zero_grad()
        lm, lt = _loss_pair(torch, m, t, rng, dtype)
        lm.backward()
        lt.backward()
        om.step()
        ot.step()


def _assert_same(m, t, rtol, atol):
    for i, (mp, tp) in enumerate(zip(m.parameters(), t.parameters())):
        np.testing.assert_allclose(mp.numpy(), tp.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i}")


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizer_matches_torch_over_steps(torch, name, kw, dtype, rng):
    m, t = _twins(torch, dtype, rng)
    om = getattr(optim, name)(m.parameters(), **kw)
    ot = getattr(torch.optim, name)(t.parameters(), **kw)
    _train(torch, m, t, om, ot, rng, dtype, steps=15)
    # NAdam: torch keeps the momentum product in a float32 tensor, minigrad in a Python float
    rtol = (1e-6 if name == "NAdam" else 1e-11) if dtype == np.float64 else 2e-5
    atol = rtol * 1e-2 if dtype == np.float64 else 1e-6
    _assert_same(m, t, rtol=rtol, atol=atol)
    # the same state, under the same names (torch's step is a tensor, ours an int)
    for (i, st), tst in zip(om.state_dict()["state"].items(),
                            ot.state_dict()["state"].values()):
        assert set(st) == {k for k, v in tst.items() if v is not None}, name
        for k, v in st.items():
            np.testing.assert_allclose(np.asarray(v, dtype=np.float64),
                                       np.asarray(tst[k], dtype=np.float64),
                                       rtol=max(rtol, 1e-6), atol=atol, err_msg=f"{i}/{k}")


@pytest.mark.parametrize("name,kw", [
    ("AdamW", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)), ("NAdam", dict()),
    ("RAdam", dict(lr=0.01)), ("Adamax", dict()), ("Adam", dict(amsgrad=True))])
def test_parameter_groups_with_their_own_options_match_torch(torch, name, kw, rng):
    dtype = np.float64
    m, t = _twins(torch, dtype, rng)
    mp, tp = list(m.parameters()), list(t.parameters())

    def groups(ps):
        return [{"params": ps[:2], "lr": 0.03, "weight_decay": 0.2},
                {"params": ps[2:3]},                            # the defaults
                {"params": ps[3:], "weight_decay": 0.05}]

    om = getattr(optim, name)(groups(mp), **kw)
    ot = getattr(torch.optim, name)(groups(tp), **kw)
    _train(torch, m, t, om, ot, rng, dtype, steps=6)
    # a group added mid-run (an unfrozen layer), and a learning rate changed by hand
    extra_m = minigrad.tensor(rng.standard_normal(4), requires_grad=True)
    extra_t = torch.tensor(extra_m.numpy().copy(), requires_grad=True)
    om.add_param_group({"params": [extra_m], "lr": 0.002})
    ot.add_param_group({"params": [extra_t], "lr": 0.002})
    om.param_groups[0]["lr"] = ot.param_groups[0]["lr"] = 0.01
    for _ in range(6):
        om.zero_grad()
        ot.zero_grad()
        lm, lt = _loss_pair(torch, m, t, rng, dtype)
        (lm + (extra_m * extra_m).sum()).backward()
        (lt + (extra_t * extra_t).sum()).backward()
        om.step()
        ot.step()
    tol = 1e-6 if name == "NAdam" else 1e-10  # (NAdam: see above)
    _assert_same(m, t, rtol=tol, atol=tol * 1e-2)
    np.testing.assert_allclose(extra_m.numpy(), extra_t.detach().numpy(), rtol=tol)
    mine = [{k: v for k, v in g.items() if k != "params"} for g in om.state_dict()["param_groups"]]
    for g, tg in zip(mine, ot.state_dict()["param_groups"]):
        for k, v in g.items():
            assert tg[k] == (tuple(v) if isinstance(v, list) else v), k


def test_groups_and_defaults_are_visible_and_validated():
    a, b = minigrad.ones(2, requires_grad=True), minigrad.ones(3, requires_grad=True)
    opt = optim.AdamW([{"params": [a]}, {"params": b, "lr": 0.5, "betas": [0.5, 0.9]}])
    assert opt.defaults["weight_decay"] == 0.01
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.5]
    assert opt.param_groups[1]["betas"] == (0.5, 0.9) and opt.param_groups[1]["params"] == [b]
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, a], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="invalid learning rate"):
        opt.add_param_group({"params": [minigrad.ones(1, requires_grad=True)], "lr": -1})
    with pytest.raises(ValueError, match="leaf"):
        optim.Adam([a * 2])
    assert len(opt.param_groups) == 2  # the refused groups were not added


@pytest.mark.parametrize("cls,kw", [
    (optim.AdamW, {"lr": float("nan")}), (optim.AdamW, {"weight_decay": -0.1}),
    (optim.AdamW, {"betas": (1.0, 0.9)}), (optim.Adamax, {"eps": -1.0}),
    (optim.Adamax, {"betas": (0.9, float("nan"))}), (optim.NAdam, {"momentum_decay": -1.0}),
    (optim.NAdam, {"lr": -1e-3}), (optim.RAdam, {"betas": (0.9, 1.0)}),
    (optim.RAdam, {"eps": float("nan")}),
])
def test_new_optimizers_check_hyper_parameters_as_torch(cls, kw):
    with pytest.raises(ValueError, match="invalid"):
        cls(nn.Linear(2, 2).parameters(), **kw)


def test_torch_refuses_the_same_hyper_parameters(torch):
    p = [torch.zeros(2, requires_grad=True)]
    for cls, kw in [(torch.optim.AdamW, {"betas": (1.0, 0.9)}),
                    (torch.optim.NAdam, {"momentum_decay": -1.0}),
                    (torch.optim.Adamax, {"eps": -1.0})]:
        with pytest.raises(ValueError):
            cls(p, **kw)


@pytest.mark.parametrize("cls", [optim.AdamW, optim.Adamax, optim.NAdam, optim.RAdam])
def test_new_optimizers_check_every_gradient_before_any_update(cls):
    m = nn.Linear(4, 3)
    before = [p.numpy().copy() for p in m.parameters()]
    m.bias.grad = minigrad.ones(3)
    m.weight.grad = minigrad.ones(4, 3)  # transposed: refused
    opt = cls(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"shape \(3, 4\)"):
        opt.step()
    for p, b in zip(m.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    assert opt.state == {}


def test_closure_and_zero_grad_without_none():
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with minigrad.no_grad():  # step() records the closure's graph anyway
        loss = opt.step(closure)
    assert loss.item() == 5.0 and w.tolist() == [0.0, 0.0]
    closure()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.tolist() == [0.0, 0.0]


def test_an_update_marks_the_parameter_modified():
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.NAdam([w])
    (w * w).sum().backward()
    y = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


# ---- state_dict / load_state_dict ----------------------------------------------------------------

@pytest.mark.parametrize("name,kw", [("AdamW", {}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
                                     ("NAdam", {}), ("RAdam", {}), ("Adamax", {}),
                                     ("Adam", {"amsgrad": True}), ("Adagrad", {}),
                                     ("RMSprop", {})])
def test_state_dict_resume_continues_bit_for_bit(name, kw, rng):
    X = rng.standard_normal((10, 4)).astype(np.float32)

    def make():
        minigrad.manual_seed(3)
        m = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1))
        return m, getattr(optim, name)(m.parameters(), **kw)

    def train(m, opt, steps):
        for i in range(steps):
            opt.zero_grad()
            (m(minigrad.tensor(X[i % 10:i % 10 + 3])) ** 2).mean().backward()
            opt.step()

    ref, ref_opt = make()
    train(ref, ref_opt, 12)
    a, a_opt = make()
    train(a, a_opt, 7)
    sd_model, sd_opt = a.state_dict(), a_opt.state_dict()
    b, b_opt = make()                    # a fresh process, in effect
    b.load_state_dict(sd_model)
    b_opt.load_state_dict(sd_opt)
    for i in range(7, 12):               # the same batches the uninterrupted run saw
        b_opt.zero_grad()
        (b(minigrad.tensor(X[i % 10:i % 10 + 3])) ** 2).mean().backward()
        b_opt.step()
    for p, q in zip(ref.parameters(), b.parameters()):
        assert p.numpy().tobytes() == q.numpy().tobytes()


def test_state_dict_is_a_copy_in_torch_layout():
    m = nn.Linear(3, 2)
    opt = optim.AdamW(m.parameters(), lr=0.1)
    m(minigrad.ones(1, 3)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and list(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["exp_avg"], np.ndarray)
    saved = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)   # not a view


def test_load_state_dict_refuses_mismatches_and_changes_nothing():
    m = nn.Linear(3, 2)
    opt = optim.AdamW(m.parameters(), lr=0.1)
    m(minigrad.ones(1, 3)).sum().backward()
    opt.step()
    good = opt.state_dict()
    other = optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1, momentum=0.9)
    other.param_groups[0]["params"][0].grad = minigrad.ones(2, 3)
    other.step()

    def assert_unchanged():
        now = opt.state_dict()
        assert now["param_groups"] == good["param_groups"]
        np.testing.assert_array_equal(now["state"][0]["exp_avg"], good["state"][0]["exp_avg"])

    bad_shape = {**good, "state": {0: {**good["state"][0], "exp_avg": np.zeros((3, 2))}, 1: {}}}
    cases = [
        (bad_shape, "shape"),
        (other.state_dict(), "momentum_buffer"),
        ({**good, "param_groups": good["param_groups"] * 2}, "2 parameter groups"),
        ({**good, "param_groups": [{**good["param_groups"][0], "params": [0]}]},
         "1 parameters"),
        ({**good, "param_groups": [{**good["param_groups"][0], "lr": -1.0}]}, "learning rate"),
        ({"state": {}}, "'state' and 'param_groups'"),
        ({**good, "state": {5: {"step": 1}}}, "parameter 5"),
    ]
    for sd, match in cases:
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(sd)
        assert_unchanged()


def test_loaded_lr_and_betas_are_used(rng):
    w = minigrad.tensor(rng.standard_normal(3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0].update(lr=0.25, betas=[0.5, 0.75])
    groups = opt.param_groups
    first = groups[0]
    opt.load_state_dict(sd)
    assert opt.param_groups is groups and opt.param_groups[0] is first
    assert first["lr"] == 0.25 and first["betas"] == (0.5, 0.75) and first["params"] == [w]


@pytest.mark.opencl
@pytest.mark.parametrize("name", ["AdamW", "Adamax", "NAdam", "RAdam", "SGD"])
def test_new_optimizers_run_on_opencl_as_on_cpu(name, rng):
    w0 = rng.standard_normal((6, 5)).astype(np.float32)
    grads = [rng.standard_normal((6, 5)).astype(np.float32) for _ in range(8)]
    out = {}
    for dev in ("cpu", "opencl"):
        p = minigrad.tensor(w0, requires_grad=True, device=dev)
        kw = {"lr": 0.05, "momentum": 0.9} if name == "SGD" else {"lr": 0.01, "weight_decay": 0.1}
        opt = getattr(optim, name)([p], **kw)
        for g in grads:
            p.grad = minigrad.tensor(g, device=dev)
            opt.step()
        out[dev] = p.numpy()
        assert all(t.device == dev for st in opt.state.values() for t in st.values()
                   if isinstance(t, minigrad.Tensor))
    np.testing.assert_allclose(out["opencl"], out["cpu"], rtol=1e-5, atol=1e-6)


@pytest.mark.opencl
def test_state_follows_the_model_to_the_device(rng):
    m = nn.Linear(4, 3)
    opt = optim.AdamW(m.parameters(), lr=0.01)
    m(minigrad.tensor(rng.standard_normal((2, 4)).astype(np.float32))).sum().backward()
    opt.step()
    sd = opt.state_dict()
    m.to("opencl")
    opt.zero_grad()
    m(minigrad.tensor(rng.standard_normal((2, 4)).astype(np.float32), device="opencl")) \
        .sum().backward()
    opt.step()
    assert opt.state[m.weight]["exp_avg"].device == "opencl"
    assert opt.state[m.weight]["step"] == 2
    opt.load_state_dict(sd)               # state loaded onto the parameters' device
    assert opt.state[m.weight]["exp_avg"].device == "opencl"


def test_optimizers_table_names_every_optimizer():
    assert set(optim.OPTIMIZERS) >= {"sgd", "adam", "adamw", "adamax", "nadam", "radam",
                                     "adagrad", "rmsprop"}
    assert optim.Adagrad is optim.AdaGrad
    assert math.isclose(optim.NAdam([minigrad.ones(1, requires_grad=True)]).defaults["lr"], 2e-3)
