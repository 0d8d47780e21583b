"""Composite ops: written in other ops, so their gradients come through those ops on every engine;
checked against PyTorch when it is installed, and against finite differences and the scalar
engine always."""

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad.testing import assert_engines_agree, gradcheck

CASES = {
    "softplus": (lambda x: F.softplus(x), lambda t, x: t.nn.functional.softplus(x)),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda t, x: t.nn.functional.softplus(x, beta=2.0, threshold=3.0)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda t, x: t.nn.functional.gelu(x, approximate="tanh")),
    "mish": (lambda x: F.mish(x), lambda t, x: t.nn.functional.mish(x)),
    "logsumexp": (lambda x: F.logsumexp(x, 1), lambda t, x: t.logsumexp(x, 1)),
    "var": (lambda x: x.var(0), lambda t, x: x.var(0)),
    "var_all_biased": (lambda x: x.var(correction=0), lambda t, x: x.var(correction=0)),
    "std_keepdim": (lambda x: x.std(1, keepdim=True), lambda t, x: x.std(1, keepdim=True)),
    "stack": (lambda x: minigrad.stack([x, x * 2], 1), lambda t, x: t.stack([x, x * 2], 1)),
    "nll_loss": (lambda x: F.nll_loss(F.log_softmax(x, 1), np.array([0, 3, 1])),
                 lambda t, x: t.nn.functional.nll_loss(t.log_softmax(x, 1),
                                                       t.tensor([0, 3, 1]))),
}


def _x(rng):
    x = rng.standard_normal((3, 4)) * 3
    x[0, 0] = 25.0   # beyond softplus's threshold
    return x


@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_against_torch(name, rng):
    torch = pytest.importorskip("torch")
    ours, theirs = CASES[name]
    x = _x(rng)
    g = rng.standard_normal(np.shape(theirs(torch, torch.tensor(x))))
    mx = minigrad.tensor(x, dtype="float64", requires_grad=True)
    my = ours(mx)
    my.backward(minigrad.tensor(g, dtype="float64"))
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(torch, tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_gradcheck(name, rng):
    x = minigrad.tensor(_x(rng), dtype="float64", requires_grad=True)
    assert gradcheck(lambda x: (CASES[name][0](x) ** 2.0).sum(), [x])


@pytest.mark.parametrize("name", ["softplus", "gelu_tanh", "mish"])
def test_composite_on_the_scalar_engine(name, rng):
    assert_engines_agree(lambda a: CASES[name][0](a), [rng.standard_normal((2, 3))])


@pytest.mark.parametrize("device", ["reference", pytest.param("opencl", marks=pytest.mark.opencl)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_on_every_backend(name, device, rng):
    x = _x(rng).astype(np.float32)
    outs = {}
    for dev in ("cpu", device):
        t = minigrad.tensor(x, requires_grad=True, device=dev)
        y = CASES[name][0](t)
        (y * y).sum().backward()
        outs[dev] = (y.numpy(), t.grad.numpy())
    for a, b in zip(outs["cpu"], outs[device]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
