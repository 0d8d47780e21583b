"""The public autograd API: custom Functions, autograd.grad, retain_graph, and the checks at the
boundary of a user's backward."""

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad import autograd
from minigrad.testing import assert_engines_agree, gradcheck


class Swish(autograd.Function):
    """x sigmoid(x), with its derivative written by hand."""

    @staticmethod
    def forward(ctx, x):
        s = F.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s + x * s * (1 - s))


class ScaleBy(autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_custom_function_against_finite_differences(rng):
    x = minigrad.tensor(rng.standard_normal((3, 4)), dtype="float64", requires_grad=True)
    assert gradcheck(lambda x: (Swish.apply(x) ** 2.0).sum(), [x])
    assert gradcheck(lambda x: ScaleBy.apply(x, 2.5).sum(), [x])


def test_custom_function_needs_input_grad_and_no_graph_inside():
    seen = {}

    class Probe(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            y = a * b
            seen["inside"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            return g, None

    a = minigrad.ones(2, requires_grad=True)
    Probe.apply(a, minigrad.ones(2)).sum().backward()
    assert seen == {"needs": (True, False), "inside": False}
    assert a.grad.tolist() == [1.0, 1.0]


def test_custom_function_on_every_engine(rng):
    assert_engines_agree(lambda a: Swish.apply(a) * a, [rng.standard_normal((2, 3))])


@pytest.mark.opencl
def test_custom_function_on_opencl(rng):
    assert_engines_agree(lambda a: Swish.apply(a) * a, [rng.standard_normal((2, 3))],
                         engines=("tensor", "opencl"))


def _bad(backward):
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    Bad.backward = staticmethod(backward)
    return Bad


@pytest.mark.parametrize("backward,message", [
    (lambda ctx, g: (g, g), r"Bad.backward returned 2 gradient\(s\), but forward took 1"),
    (lambda ctx, g: g.sum(), r"Bad.backward returned a gradient of shape \(\) for input 0 of "
                             r"shape \(3,\)"),
    (lambda ctx, g: None, r"Bad.backward returned None for input 0, which requires"),
    (lambda ctx, g: 1.0, r"Bad.backward returned a float for input 0"),
])
def test_a_wrong_backward_is_named(backward, message):
    x = minigrad.ones(3, requires_grad=True)
    y = _bad(backward).apply(x).sum()
    with pytest.raises((RuntimeError, TypeError), match=message):
        y.backward()
    assert x.grad is None


def test_second_backward_needs_retain_graph():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()


def test_grad_leaves_dot_grad_alone(rng):
    x = minigrad.tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    w = minigrad.tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    y = (x * w).sum() + (x * x).sum()
    gx, gw = autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), w.numpy() + 2 * x.numpy())
    np.testing.assert_allclose(gw.numpy(), x.numpy())
    assert x.grad is None and w.grad is None
    z = minigrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        autograd.grad((x * 2).sum(), [x, z])
    assert autograd.grad((x * 2).sum(), [x, z], allow_unused=True)[1] is None
    h = x * 3                        # an intermediate tensor as the input
    assert autograd.grad((h * h).sum(), h)[0].tolist() == pytest.approx(
        (2 * 3 * x.numpy()).tolist())
    v = minigrad.tensor([1.0, -1.0, 0.5], dtype="float64")
    (gv,) = autograd.grad(x * 2, x, grad_outputs=v)
    assert gv.tolist() == [2.0, -2.0, 1.0]
