"""The scalar engine against the lecture's worked example, the chain rule, finite differences."""

import math
import subprocess
import sys
import tempfile

import pytest

import minigrad
from minigrad import Scalar, rules
from minigrad.scalar import (
    ExpressionError,
    floats,
    iter_backward,
    numeric_grad,
    parse,
    to_dot,
    trace,
)
from minigrad.scalar.nn import MLP, Layer, sgd_step

X0 = -4.499


def lecture_graph():
    x = Scalar(X0, label="x")
    a = -x
    b = a.exp()
    c = b.sin()
    d = 2 / c
    return x, a, b, c, d


def test_lecture_example_forward_values():
    x, a, b, c, d = lecture_graph()
    assert a.data == pytest.approx(4.499)
    assert b.data == pytest.approx(math.exp(4.499))
    assert b.data == pytest.approx(89.927, abs=1e-3)
    assert c.data == pytest.approx(math.sin(math.exp(4.499)))
    assert d.data == pytest.approx(2.1640, abs=1e-4)
    # The slides' f = 2 uses sin 90 = 1 in degrees; in radians it is not 2.
    assert d.data != pytest.approx(2.0, abs=1e-2)


def test_lecture_example_gradient_closed_form_and_finite_differences():
    x, a, b, c, d = lecture_graph()
    d.backward()
    closed = -2 / c.data ** 2 * math.cos(b.data) * math.exp(a.data) * -1
    assert x.grad == pytest.approx(closed, rel=1e-12)
    assert x.grad == pytest.approx(-80.393, abs=1e-3)
    fd = numeric_grad(lambda v: 2 / (-v).exp().sin(), X0, eps=1e-6)
    assert x.grad == pytest.approx(fd, rel=1e-5)
    # local derivatives, module by module
    assert c.grad == pytest.approx(-2 / c.data ** 2)
    assert b.grad == pytest.approx(c.grad * math.cos(b.data))
    assert a.grad == pytest.approx(b.grad * b.data)


def test_multivariate_chain_rule_product_rule():
    x = Scalar(0.7)
    a = x * x      # a depends on x
    b = x.sin()    # so does b
    c = a * b
    c.backward()
    # dc/dx = dc/da da/dx + dc/db db/dx = b 2x + a cos x
    assert x.grad == pytest.approx(b.data * 2 * x.data + a.data * math.cos(x.data))


def test_same_node_used_many_times_accumulates():
    x = Scalar(3.0)
    y = x + x + x * x + x
    y.backward()
    assert x.grad == pytest.approx(3 + 2 * 3.0)


def test_backward_twice_accumulates_and_zero_grad_resets():
    x = Scalar(2.0)
    y = x * x * x
    y.backward()
    assert x.grad == pytest.approx(12.0)
    y.backward()
    assert x.grad == pytest.approx(24.0)  # accumulated, as in PyTorch, not 12 + 36
    y.zero_grad()
    assert x.grad == 0.0
    y.backward()
    assert x.grad == pytest.approx(12.0)


def test_deep_chain_100k_nodes_no_recursion_error():
    x = Scalar(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


UNARY_POINTS = {
    "exp": [-2.0, 0.3, 1.5], "log": [0.2, 1.0, 3.0], "sqrt": [0.3, 2.0, 9.0],
    "sin": [-1.0, 0.5, 2.0], "cos": [-1.0, 0.5, 2.0], "tanh": [-2.0, 0.1, 1.3],
    "sigmoid": [-3.0, 0.0, 2.5], "relu": [-1.5, 0.7, 2.0], "abs": [-1.5, 0.7, 2.0],
    "neg": [-1.0, 2.0],
}


@pytest.mark.parametrize("name", sorted(UNARY_POINTS))
def test_unary_ops_against_finite_differences(name):
    for v in UNARY_POINTS[name]:
        x = Scalar(v)
        y = getattr(x, name)()
        assert y.data == pytest.approx(rules.get(name).forward(floats, v))
        y.backward()
        fd = numeric_grad(lambda s: getattr(s, name)(), v)
        assert x.grad == pytest.approx(fd, rel=1e-5, abs=1e-7), (name, v)


BINARY_CASES = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
]


@pytest.mark.parametrize("name,fn", BINARY_CASES)
@pytest.mark.parametrize("av,bv", [(1.3, 0.7), (2.5, -1.2), (0.4, 3.0)])
def test_binary_ops_both_scalars(name, fn, av, bv):
    a, b = Scalar(av), Scalar(bv)
    y = fn(a, b)
    y.backward()
    ga, gb = numeric_grad(fn, [av, bv])
    assert a.grad == pytest.approx(ga, rel=1e-5)
    assert b.grad == pytest.approx(gb, rel=1e-5)


@pytest.mark.parametrize("name,fn", BINARY_CASES)
def test_reflected_and_constant_forms(name, fn):
    for k in (2.0, -0.5):
        for v in (0.8, 1.7):
            for f in (lambda s, fn=fn, k=k: fn(s, k), lambda s, fn=fn, k=k: fn(k, s)):
                try:
                    x = Scalar(v)
                    y = f(x)
                except ValueError:
                    continue  # negative base to a fractional power: a clear error is right
                y.backward()
                assert x.grad == pytest.approx(numeric_grad(f, v), rel=1e-5, abs=1e-8)


def test_reflected_division_is_a_one_input_module():
    c = Scalar(0.5, label="c")
    d = 2 / c
    assert d.data == 4.0
    assert d.parents == (c,)  # the constant 2 lives inside the module, as in d(c) = 2/c
    assert d.module() == "2 / c"
    d.backward()
    assert c.grad == pytest.approx(-2 / 0.25)


def test_scalar_exponent():
    a, b = Scalar(2.0), Scalar(3.0)
    y = a ** b
    y.backward()
    assert y.data == 8.0
    assert a.grad == pytest.approx(3 * 4.0)
    assert b.grad == pytest.approx(8.0 * math.log(2.0))


def test_trace_steps_and_table():
    root, leaves = parse("2/sin(exp(-x))", {"x": X0})
    t = trace(root)
    assert [s.op for s in t] == ["div", "sin", "exp", "neg"]
    assert [s.input.label for s in t] == ["c", "b", "a", "x"]
    for s in t:
        assert s.contribution == pytest.approx(s.upstream * s.local)
    assert t.grad(leaves["x"]) == pytest.approx(-80.393, abs=1e-3)
    assert leaves["x"].grad == 0.0  # tracing does not touch .grad
    text = str(t)
    assert "upstream" in text and "local" in text and "2 / c" in text
    # stepping one edge at a time gives the same steps
    it = iter_backward(root)
    first = next(it)
    assert first.input.label == "c" and first.local == pytest.approx(-2 / root.parents[0].data
                                                                      ** 2)
    assert len(list(it)) == 3


def test_trace_of_diamond_sums_paths():
    x = Scalar(1.5, label="x")
    y = x * x.sin()
    t = trace(y)
    into_x = [s for s in t if s.input is x]
    assert len(into_x) == 2
    assert into_x[-1].total == pytest.approx(math.sin(1.5) + 1.5 * math.cos(1.5))


def test_to_dot_lists_values_and_gradients():
    x, a, b, c, d = lecture_graph()
    d.backward()
    dot = to_dot(d)
    assert dot.startswith("digraph")
    assert dot.count("shape=plain") == 5  # a box per value (name, value, grad)
    assert "sin" in dot and "exp" in dot
    assert f"{x.grad:.4g}" in dot


def test_numeric_grad_many_values():
    g = numeric_grad(lambda a, b: a * b + b, [2.0, 3.0])
    assert g == pytest.approx([3.0, 3.0])


# ---- bad input -----------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match="real number"):
        Scalar("a")
    with pytest.raises(TypeError):
        Scalar(None)
    with pytest.raises(ValueError, match=r"log\(-1\.0\): log is undefined for x = -1\.0"):
        Scalar(-1.0).log()
    with pytest.raises(ValueError, match=r"dy/db of pow at a = -2\.0, b = 3\.0 is undefined"):
        (Scalar(-2.0) ** Scalar(3.0)).backward()  # a^b ln a: ln of a negative base
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Scalar(1.0) / 0.0
    with pytest.raises(ZeroDivisionError):
        Scalar(1.0) / Scalar(0.0)
    with pytest.raises(ValueError, match="negative base"):
        Scalar(-2.0) ** 0.5
    with pytest.raises(OverflowError):
        Scalar(1000.0).exp()


def test_non_finite_gradient_is_not_stored():
    x = Scalar(0.0)
    y = x.sqrt()  # derivative infinite at 0
    with pytest.raises(ZeroDivisionError):
        y.backward()
    assert x.grad == 0.0
    z = Scalar(1.0)
    w = (z * 1e300) * 1e300  # dw/dz = 1e600: not a float
    with pytest.raises(FloatingPointError, match="no gradient was stored"):
        w.backward()
    assert z.grad == 0.0


def test_expression_parser_rejects_unknown_things():
    with pytest.raises(ExpressionError, match="unknown name 'y'"):
        parse("x + y", {"x": 1.0})
    with pytest.raises(ExpressionError, match="unknown function"):
        parse("__import__('os')", {})
    with pytest.raises(ExpressionError, match="not understood"):
        parse("x if x else 1", {"x": 1.0})
    with pytest.raises(ExpressionError, match="not understood"):
        parse("x.data", {"x": 1.0})
    with pytest.raises(ExpressionError, match="cannot parse"):
        parse("2 +", {"x": 1.0})
    with pytest.raises(ExpressionError, match="operator"):
        parse("x % 2", {"x": 1.0})


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "minigrad.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir())


def test_cli_trace_prints_forward_and_backward():
    r = _cli("trace", "2/sin(exp(-x))", "x=-4.499")
    assert r.returncode == 0, r.stderr
    assert "2.16395" in r.stdout
    assert "df/dx = -80.3931" in r.stdout
    assert "sin b" in r.stdout


def test_cli_trace_errors_are_messages_not_tracebacks():
    r = _cli("trace", "2/sin(exp(-x)) + y", "x=1")
    assert r.returncode == 2
    assert "unknown name 'y'" in r.stderr and "Traceback" not in r.stderr
    r = _cli("trace", "log(x)", "x=-1")
    assert r.returncode == 2 and "log is undefined" in r.stderr
    r = _cli("trace", "open('f')", "x=1")
    assert r.returncode == 2 and "unknown function" in r.stderr


# ---- nn ------------------------------------------------------------------------------------------


XOR_X = [[1.0, -2.0], [1.0, 2.0], [-1.0, -2.0], [-1.0, 2.0]]
XOR_Y = [-1.0, 1.0, 1.0, -1.0]  # +1 iff f1 * f2 > 0 (seed 004, Problem 3)


def _train(model, steps, lr):
    loss = None
    for _ in range(steps):
        preds = [model(x) for x in XOR_X]
        loss = sum(((p - y) ** 2 for p, y in zip(preds, XOR_Y)), Scalar(0.0)) * 0.25
        model.zero_grad()
        loss.backward()
        sgd_step(model.parameters(), lr)
    preds = [model(x).data for x in XOR_X]
    acc = sum((p > 0) == (y > 0) for p, y in zip(preds, XOR_Y)) / 4
    return loss.data, acc


def test_mlp_learns_xor():
    model = MLP(2, [8, 1], seed=0)
    assert len(model.parameters()) == 2 * 8 + 8 + 8 + 1
    loss, acc = _train(model, 200, 0.05)
    assert acc == 1.0
    assert loss < 0.05


def test_single_linear_layer_cannot_learn_xor():
    layer = Layer(2, 1, activation="linear", rng=__import__("random").Random(0))
    loss, acc = _train(layer, 300, 0.02)
    # The best linear fit of XOR's +-1 targets is the constant 0: loss stays at 1.
    assert loss > 0.9
    assert acc <= 0.75


def test_public_names():
    assert minigrad.Scalar is Scalar
    assert callable(minigrad.scalar.trace) and callable(minigrad.scalar.to_dot)
