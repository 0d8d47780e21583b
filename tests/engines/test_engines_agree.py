"""The scalar engine and the tensor engine agree, value and gradients, on the same function.

Each function is written once, with operators and ``F.*``; ``assert_engines_agree`` runs it on
numpy arrays of Scalars and on float64 Tensors and compares the output and every input gradient.
"""

import numpy as np
import pytest

import minigrad.functional as F
from minigrad import rules
from minigrad.testing import assert_engines_agree

# Every rule of the rule book, run through F.apply_rule on inputs from its domain, times a
# second factor so that the upstream gradient is not all ones; the operators are checked once more
# with numbers as operands.


def rule_case(name):
    rule = rules.get(name)

    def fn(*xs):
        return F.apply_rule(name, *xs[:rule.arity]) * xs[-1]

    def inputs(rng, shape):
        return [rng.uniform(lo, hi, shape) for lo, hi in rule.domain] + [
            rng.standard_normal(shape)]
    return fn, inputs


ELEMENTWISE = {name: rule_case(name) for name in rules.names()}
ELEMENTWISE["operators"] = (lambda a, b: a + b - a * b / (b * b + 1.0) + a ** b.__abs__(),
                            lambda rng, shape: list(_inputs(rng, "positive", shape)))
ELEMENTWISE["number_operands"] = (lambda a, b: (2.0 - a) * 3.0 / (b * b + 1.0) + a ** 2,
                                  lambda rng, shape: list(_inputs(rng, "any", shape)))


def _inputs(rng, kind, shape):
    if kind == "positive":
        return rng.uniform(0.3, 2.0, shape), rng.uniform(-2.0, 2.0, shape)
    if kind == "nonzero":
        a = rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        return a, a[::-1].copy()
    return rng.standard_normal(shape), rng.standard_normal(shape)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise(name, rng):
    fn, make = ELEMENTWISE[name]
    res = assert_engines_agree(fn, make(rng, (2, 3)))
    assert np.isfinite(res["tensor"][0])


@pytest.mark.parametrize("sb", [(3,), (1, 3), (2, 1)])
def test_broadcasting(sb, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(sb)
    assert_engines_agree(lambda a, b: F.tanh(a * b + a - b), [a, b])


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((1, 3), (3, 1)), ((3,), (3, 2)),
                                   ((4, 3), (3,))])
def test_matmul(sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert_engines_agree(lambda a, b: F.tanh(a @ b), [a, b])


def test_linear_layer(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    assert_engines_agree(lambda x, w, b: F.sigmoid(F.linear(x, w, b)), [x, w, b])


@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax(dim, rng):
    a, w = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    assert_engines_agree(lambda a, w: F.softmax(a, dim) * w, [a, w])
    assert_engines_agree(lambda a, w: F.log_softmax(a, dim) * w, [a, w])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(reduction, rng):
    logits, t = rng.standard_normal((5, 4)) * 2, np.array([0, 3, 3, 1, 2])
    res = assert_engines_agree(lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                               [logits, t])
    assert res["scalar"][1][1] is None  # labels get no gradient


def test_cross_entropy_seed004(rng):
    logits, t = np.array([[4.0, 3.9], [5.0, 3.9], [6.0, 3.9], [10.0, 3.9]]), np.zeros(4, int)
    res = assert_engines_agree(lambda x, t: F.cross_entropy(x, t, reduction="none"), [logits, t])
    assert res["tensor"][0] == pytest.approx(0.6444 + 0.2873 + 0.1155 + 0.0022, abs=2e-4)


def test_small_network(rng):
    x, t = rng.standard_normal((3, 4)), np.array([1, 0, 2])
    w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((3, 5))

    def net(x, w1, w2, t):
        return F.cross_entropy(F.linear(F.relu(F.linear(x, w1)), w2), t) + F.mse_loss(
            F.tanh(x), F.sigmoid(x))

    assert_engines_agree(net, [x, w1, w2, t])


def test_disagreement_is_reported(rng):
    # The helper itself: a function that differs between the engines must fail.
    def fn(a):
        return a * 2.0 if isinstance(a, np.ndarray) else a * 2.001

    with pytest.raises(AssertionError, match="disagree"):
        assert_engines_agree(fn, [rng.standard_normal(3)])
