"""The tensor engine implements the rule book (:mod:`minigrad.rules`), paired by op name.

For every unary op ``name`` the tensor op's forward equals ``np.vectorize(rules.name)`` and its
gradient, for an upstream gradient ``g``, equals ``g * np.vectorize(rules.name_back)(x, y)``. The
same for the binary ops, with ``rules.name_back`` returning the pair of local derivatives.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad import rules
from minigrad.tensor import functions as Fn

# Inputs inside each op's domain, and away from relu/abs kinks (the kinks get their own test).
UNARY_INPUTS = {"log": (0.1, 4.0), "sqrt": (0.1, 4.0)}
BINARY_INPUTS = {"div": ((-3.0, 3.0), (0.5, 3.0)), "pow": ((0.2, 3.0), (-2.5, 2.5))}


def tensor_unary(name, x):
    return -x if name == "neg" else getattr(x, name)()


def tensor_binary(name, a, b):
    ops = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
           "div": lambda: a / b, "pow": lambda: a ** b}
    return ops[name]()


def sample(rng, lo_hi, shape):
    lo, hi = lo_hi
    x = rng.uniform(lo, hi, shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)  # no value right at 0 (kinks, 0^b)


def test_every_rule_has_a_tensor_function_of_the_same_name():
    functions = {name.lower(): name for name in Fn.__all__}
    for name in rules.UNARY + rules.BINARY:
        assert name in functions, f"no Function named {name} in minigrad.tensor.functions"
        fwd, back = rules.rule(name)
        assert fwd is getattr(rules, name) and back is getattr(rules, name + "_back")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", rules.UNARY)
def test_unary_rule(name, dtype, rng):
    a = sample(rng, UNARY_INPUTS.get(name, (-3.0, 3.0)), (4, 5))
    g = rng.standard_normal((4, 5))
    x = mg.tensor(a, dtype=dtype, requires_grad=True)
    y = tensor_unary(name, x)
    y_rule = np.vectorize(getattr(rules, name), otypes=[float])(a)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y.numpy(), y_rule, rtol=tol, atol=tol)
    y.backward(mg.tensor(g, dtype=dtype))
    local = np.vectorize(getattr(rules, name + "_back"), otypes=[float])(a, y_rule)
    np.testing.assert_allclose(x.grad.numpy(), g * local, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("name", ["relu", "abs", "neg", "sigmoid", "tanh", "sin"])
def test_unary_rule_at_zero(name):
    # At the kinks the rule book takes 0 as the derivative (as PyTorch does): so must the tensor.
    a = np.array([0.0, -0.0])
    x = mg.tensor(a, dtype="float64", requires_grad=True)
    y = tensor_unary(name, x)
    y.backward(mg.tensor([1.0, 1.0], dtype="float64"))
    y_rule = np.vectorize(getattr(rules, name), otypes=[float])(a)
    np.testing.assert_array_equal(y.numpy(), y_rule)
    local = np.vectorize(getattr(rules, name + "_back"), otypes=[float])(a, y_rule)
    np.testing.assert_array_equal(x.grad.numpy(), local)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", rules.BINARY)
def test_binary_rule(name, dtype, rng):
    ra, rb = BINARY_INPUTS.get(name, ((-3.0, 3.0), (-3.0, 3.0)))
    a, b = sample(rng, ra, (3, 4)), sample(rng, rb, (3, 4))
    g = rng.standard_normal((3, 4))
    x = mg.tensor(a, dtype=dtype, requires_grad=True)
    z = mg.tensor(b, dtype=dtype, requires_grad=True)
    y = tensor_binary(name, x, z)
    y_rule = np.vectorize(getattr(rules, name), otypes=[float])(a, b)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y.numpy(), y_rule, rtol=tol, atol=tol)
    y.backward(mg.tensor(g, dtype=dtype))
    da, db = np.vectorize(getattr(rules, name + "_back"), otypes=[float, float])(a, b, y_rule)
    np.testing.assert_allclose(x.grad.numpy(), g * da, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(z.grad.numpy(), g * db, rtol=tol * 10, atol=tol)


@pytest.mark.parametrize("name", rules.BINARY)
def test_binary_rule_with_a_number(name, rng):
    # The constant operand is a plain number: only the tensor side gets a gradient.
    a = sample(rng, (0.2, 3.0), (5,))
    x = mg.tensor(a, dtype="float64", requires_grad=True)
    y = tensor_binary(name, x, 1.5)
    y.backward(mg.ones(5, dtype=np.float64))
    y_rule = np.vectorize(getattr(rules, name), otypes=[float])(a, 1.5)
    da, _ = np.vectorize(getattr(rules, name + "_back"), otypes=[float, float])(a, 1.5, y_rule)
    np.testing.assert_allclose(y.numpy(), y_rule, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), da, rtol=1e-12)
