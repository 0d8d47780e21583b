"""nn.utils against torch.nn.utils (issue 11): gradient clipping by norm and by value, and flat
parameter vectors."""

import math

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _pairs(torch, rng, scale=1.0, dtype=np.float32, device="cpu"):
    """Three parameters with gradients (one without), as minigrad and torch tensors."""
    shapes = [(4, 3), (3,), (2, 2, 2)]
    mine, theirs = [], []
    for i, s in enumerate(shapes):
        w = rng.standard_normal(s).astype(dtype)
        p = minigrad.tensor(w, requires_grad=True, device=device)
        t = torch.tensor(w, requires_grad=True)
        if i != 1:
            g = (scale * rng.standard_normal(s)).astype(dtype)
            p.grad = minigrad.tensor(g, device=device)
            t.grad = torch.tensor(g)
        mine.append(p)
        theirs.append(t)
    return mine, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])        # clipped, and left alone
def test_clip_grad_norm_matches_torch(torch, rng, norm_type, max_norm):
    mine, theirs = _pairs(torch, rng)
    same = mine[0].grad
    total = clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, minigrad.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    assert mine[0].grad is same and mine[1].grad is None     # in place; no gradient stays none
    for p, t in zip(mine, theirs):
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_single_tensor_float64_and_nonfinite(torch, rng):
    w = minigrad.tensor(rng.standard_normal(5), requires_grad=True)
    t = torch.tensor(w.numpy().copy(), requires_grad=True)
    w.grad = minigrad.tensor(10 * rng.standard_normal(5))
    t.grad = torch.tensor(w.grad.numpy().copy())
    total = clip_grad_norm_(w, 1.0)
    np.testing.assert_allclose(total.item(), torch.nn.utils.clip_grad_norm_(t, 1.0).item(),
                               rtol=1e-12)
    assert total.dtype == np.float64
    np.testing.assert_allclose(w.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    w.grad = minigrad.tensor([1.0, np.inf, 0, 0, 0])
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([minigrad.zeros(2, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch(torch, rng):
    mine, theirs = _pairs(torch, rng, scale=3.0)
    clip_grad_value_(mine, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(mine, theirs):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    assert max(abs(p.grad.numpy()).max() for p in mine if p.grad is not None) == 1.5


def test_parameters_to_vector_and_back_match_torch(torch):
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for tp, mp in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(mp.numpy().copy()))
    vec = parameters_to_vector(model.parameters())
    tvec = torch.nn.utils.parameters_to_vector(tmodel.parameters())
    np.testing.assert_array_equal(vec.numpy(), tvec.detach().numpy())
    assert vec.shape == (model.num_parameters(),)
    (vec * vec).sum().backward()                       # differentiable, as torch's
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 * model[0].weight.numpy())

    new = minigrad.arange(vec.shape[0], dtype="float32") / 10
    vector_to_parameters(new, model.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new.numpy().copy()), tmodel.parameters())
    for p, t in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_array_equal(p.numpy(), t.detach().numpy())
    new.data[...] = 0                                  # the parameters own their values
    np.testing.assert_allclose(model[0].bias.numpy(), [1.2, 1.3, 1.4, 1.5], rtol=1e-6)
    with pytest.raises(ValueError, match="elements"):
        vector_to_parameters(new[:-1], model.parameters())
    with pytest.raises(ValueError, match="1-D"):
        vector_to_parameters(new.reshape(1, -1), model.parameters())


def test_vector_to_parameters_marks_them_modified():
    w = minigrad.ones(3, requires_grad=True)
    y = (w * w).sum()
    vector_to_parameters(minigrad.zeros(3), [w])
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


@pytest.mark.opencl
def test_clipping_runs_on_opencl_as_on_cpu(rng):
    grads = [rng.standard_normal((5, 4)).astype(np.float32) * 4 for _ in range(2)]
    out = {}
    for dev in ("cpu", "opencl"):
        ps = [minigrad.zeros(5, 4, requires_grad=True, device=dev) for _ in grads]
        for p, g in zip(ps, grads):
            p.grad = minigrad.tensor(g, device=dev)
        total = clip_grad_norm_(ps, 2.0)
        clip_grad_value_(ps, 0.3)
        assert total.device == dev and ps[0].grad.device == dev
        out[dev] = (total.item(), [p.grad.numpy() for p in ps])
        vector_to_parameters(parameters_to_vector(ps) + 1, ps)
        assert ps[1].device == dev and ps[1].numpy().tolist() == np.ones((5, 4)).tolist()
    assert out["opencl"][0] == pytest.approx(out["cpu"][0], rel=1e-5)
    for a, b in zip(out["opencl"][1], out["cpu"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
