"""The rule book: each rule's local derivatives against finite differences of its own forward, the
printed formulas, registration of new rules, and the design's promise that every derivative is
written once (no engine restates one).
"""

import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad import rules, symbolic
from minigrad.backends.numpy_xp import namespace as XP
from minigrad.scalar import floats
from minigrad.scalar.expr import parse
from minigrad.testing import assert_engines_agree, gradcheck

PACKAGE = Path(minigrad.__file__).resolve().parent
KERNELS = next(p for p in (PACKAGE / "kernels", PACKAGE.parent / "kernels") if p.is_dir())

def _fd(f, xs, i, eps=1e-6):
    up, dn = list(xs), list(xs)
    up[i] += eps
    dn[i] -= eps
    return (f(*up) - f(*dn)) / (2 * eps)


def _points(rule, n=4, seed=0):
    """n points inside the rule's domain (one value per input each)."""
    rng = np.random.default_rng(seed)
    return [tuple(float(rng.uniform(lo, hi)) for lo, hi in rule.domain) for _ in range(n)]


@pytest.mark.parametrize("name", rules.names())
def test_local_derivatives_are_the_derivatives_of_the_forward(name):
    rule = rules.get(name)
    for xs in _points(rule):
        y = rule.forward(floats, *xs)
        for i in range(rule.arity):
            local = rule.local[i](floats, *xs, y)
            fd = _fd(lambda *v: rule.forward(floats, *v), list(xs), i)
            assert local == pytest.approx(fd, rel=1e-5, abs=1e-7), (name, xs, i)


@pytest.mark.parametrize("name", rules.names())
def test_numpy_and_floats_evaluate_a_rule_alike(name):
    # The same code, two namespaces: elementwise over arrays equals one float at a time.
    rule = rules.get(name)
    pts = _points(rule, 5, seed=1)
    xs = [np.array([p[k] for p in pts]) for k in range(rule.arity)]
    y = rule.forward(XP, *xs)
    for k in range(len(pts)):
        args = list(pts[k])
        yk = rule.forward(floats, *args)
        assert y[k] == pytest.approx(yk, rel=1e-12, abs=1e-15)
        for i in range(rule.arity):
            loc = np.broadcast_to(rule.local[i](XP, *xs, y), y.shape)[k]
            assert loc == pytest.approx(rule.local[i](floats, *args, yk), rel=1e-12, abs=1e-15)


def test_formulas_are_stated_once_and_printable():
    assert rules.get("tanh").formula == "y = tanh x;  dy/dx = 1 - y^2"
    assert repr(rules.get("mul")).startswith("<rule mul: y = a b;")
    r = rules.Rule("cube", lambda xp, x: x * x * x, lambda xp, x, y: 3 * x * x)
    assert r.formula == "y = x * x * x;  dy/dx = 3 * x * x"
    r2 = rules.Rule("hinge", lambda xp, a, b: xp.maximum(a - b, 0.0),
                    (lambda xp, a, b, y: xp.where(a > b, 1.0, 0.0),
                     lambda xp, a, b, y: xp.where(a > b, -1.0, 0.0)))
    assert r2.formula == ("y = maximum(a - b, 0);  dy/da = where(a > b, 1, 0), "
                          "dy/db = where(a > b, -1, 0)")


def test_symbolic_printing_to_c():
    x, y = symbolic.Var("x"), symbolic.Var("y")
    ns = symbolic.namespace
    assert symbolic.to_c(ns.where(x > 0, 1.0, 0.0)) == \
        "(((x > (real)0)) ? (real)((real)1) : (real)((real)0))"
    assert symbolic.to_c(1.0 - y * y) == "((real)1 - (y * y))"
    assert symbolic.to_c(ns.pow(x, 0.5)) == "mg_pow(x, (real)0.5)"
    assert symbolic.to_c(-math.inf) == "(-(real)INFINITY)"
    assert symbolic.to_text(-(x - 1.0) / (y + 2.0)) == "-(x - 1) / (y + 2)"


def test_bad_rules_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="identifier"):
        rules.Rule("my op", lambda xp, x: x, lambda xp, x, y: 1.0)
    with pytest.raises(TypeError, match="callable"):
        rules.Rule("twice", lambda xp, x: 2 * x, 2.0)
    # A rule that branches on a value cannot run elementwise on tensors: caught at definition.
    with pytest.raises(TypeError, match="rule branchy: a rule must not branch"):
        rules.Rule("branchy", lambda xp, x: x if x > 0 else -x, lambda xp, x, y: 1.0)


def test_register_refuses_duplicates_and_keeps_built_ins():
    with pytest.raises(ValueError, match="already registered"):
        rules.register(rules.Rule("exp", lambda xp, x: x, lambda xp, x, y: 1.0))
    with pytest.raises(ValueError, match="already a function of minigrad.functional"):
        rules.register(rules.Rule("softmax", lambda xp, x: x, lambda xp, x, y: 1.0))
    with pytest.raises(ValueError, match="built-in"):
        rules.unregister("relu")
    with pytest.raises(KeyError, match="no rule named 'nope'"):
        rules.get("nope")


# ---- a rule registered at run time runs on every engine ------------------------------------------

def _softplus_rule(name):
    # log(1 + e^x), written stably: max(x, 0) + log1p(e^-|x|); its derivative is sigmoid(x).
    return rules.Rule(
        name,
        lambda xp, x: xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x))),
        lambda xp, x, y: 1.0 / (1.0 + xp.exp(-x)))


@pytest.fixture
def softplus():
    rule = rules.register(_softplus_rule("test_softplus"))
    yield rule
    rules.unregister("test_softplus")


def test_registered_rule_on_scalar_and_cpu_tensor(softplus, rng):
    x = minigrad.Scalar(0.5)
    y = F.test_softplus(x)
    y.backward()
    assert y.data == pytest.approx(math.log1p(math.exp(0.5)))
    assert x.grad == pytest.approx(1 / (1 + math.exp(-0.5)))
    assert "test_softplus" in y.module()
    # in expressions, e.g. `minigrad trace "test_softplus(x) * 2" x=1`
    root, leaves = parse("test_softplus(x) * 2", {"x": 1.0})
    root.backward()
    assert leaves["x"].grad == pytest.approx(2 / (1 + math.exp(-1.0)))
    t = minigrad.tensor(rng.standard_normal((3, 4)), dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: F.test_softplus(t).sum(), [t])
    big = F.test_softplus(minigrad.tensor([-800.0, 800.0]))  # no overflow either side
    assert big.tolist() == [0.0, 800.0]
    assert_engines_agree(lambda a: F.test_softplus(a) * a, [rng.standard_normal((2, 3))])
    # the reference backend too (pure numpy, no compiled code)
    r = minigrad.tensor([0.5], device="reference", requires_grad=True)
    F.test_softplus(r).sum().backward()
    assert r.grad.item() == pytest.approx(1 / (1 + math.exp(-0.5)))


@pytest.mark.opencl
def test_registered_rule_on_opencl(softplus, rng):
    t = minigrad.tensor(rng.standard_normal((3, 4)), dtype="float64", requires_grad=True,
                        device="opencl")
    from minigrad.backends.opencl import runtime
    if runtime.has_fp64():
        assert gradcheck(lambda t: F.test_softplus(t).sum(), [t])
    assert_engines_agree(lambda a: F.test_softplus(a) * a, [rng.standard_normal((2, 3))],
                         engines=("scalar", "tensor", "opencl"))


def test_registered_binary_rule_everywhere(rng):
    rule = rules.register(rules.Rule(
        "test_hypot", lambda xp, a, b: xp.sqrt(a * a + b * b),
        (lambda xp, a, b, y: a / y, lambda xp, a, b, y: b / y)))
    try:
        assert F.test_hypot(minigrad.Scalar(3.0), 4.0).data == 5.0
        assert F.test_hypot(minigrad.tensor([3.0]), minigrad.tensor([4.0])).tolist() == [5.0]
        assert_engines_agree(lambda a, b: F.test_hypot(a, b),
                             [rng.standard_normal((2, 3)), rng.standard_normal((3,))])
    finally:
        rules.unregister(rule.name)


# ---- where the math is undefined: PyTorch's values on tensors, an error on Scalars ---------------

def test_edges_follow_pytorch_on_tensors_and_raise_on_scalars():
    x = minigrad.tensor([0.0, 2.0], requires_grad=True)
    (x ** 0.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]            # d/dx x^0 = 0, also at x = 0
    a = minigrad.tensor([-2.0], requires_grad=True)
    b = minigrad.tensor([3.0], requires_grad=True)
    (a ** b).sum().backward()
    assert a.grad.item() == 12.0 and math.isnan(b.grad.item())  # ln of a negative base
    with np.errstate(invalid="ignore"):
        assert math.isnan(minigrad.tensor([-1.0]).log().item())
    z = minigrad.tensor([0.0], requires_grad=True)
    (z ** 2.0).sum().backward()
    assert z.grad.item() == 0.0
    s = minigrad.Scalar(0.0)
    (s ** 0.0).backward()
    assert s.grad == 0.0
    with pytest.raises(ValueError, match=r"dy/db of pow at a = -2\.0, b = 3\.0"):
        (minigrad.Scalar(-2.0) ** minigrad.Scalar(3.0)).backward()
    with pytest.raises(ValueError, match="log is undefined for x = -1.0"):
        minigrad.Scalar(-1.0).log()


def test_pytorch_agrees_on_the_edges():
    torch = pytest.importorskip("torch")
    for av, bv in [(0.0, 0.0), (0.0, 2.0), (-2.0, 3.0), (2.0, 0.0), (-1.5, 2.0)]:
        ta = torch.tensor(av, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(bv, dtype=torch.float64, requires_grad=True)
        (ta ** tb).backward()
        ma = minigrad.tensor([av], dtype="float64", requires_grad=True)
        mb = minigrad.tensor([bv], dtype="float64", requires_grad=True)
        (ma ** mb).sum().backward()
        np.testing.assert_equal([ma.grad.item(), mb.grad.item()],
                                [ta.grad.item(), tb.grad.item()], err_msg=f"{av} ** {bv}")


# ---- every derivative is written once ------------------------------------------------------------

def test_no_engine_restates_a_rule():
    names = set(rules.names())
    sources = list(PACKAGE.rglob("*.py")) + list(PACKAGE.rglob("*.pyx")) + list(
        KERNELS.glob("*.cl"))
    assert len(sources) > 20
    for path in sources:
        text = path.read_text()
        # `_back` has no meaning left: local derivatives live in rules, products in *_vjp
        assert not re.search(r"def \w+_back\b|\w+_back_kernel", text), path
        if path.suffix == ".cl":
            # no hand-written kernel for a rule: they are generated from the rule book
            for m in re.finditer(r"__kernel\s+void\s+(\w+)", text):
                kname = m.group(1)
                base = re.sub(r"_(kernel|vjp|vv|vs|sv)$", "", re.sub(r"_kernel$", "", kname))
                assert base not in names, f"{path.name} has a kernel {kname} for rule {base}"
    # Each built-in's derivative is defined in exactly one place: its Rule in rules.py.
    text = (PACKAGE / "rules.py").read_text()
    for name in names:
        assert len(re.findall(rf'(_builtin|_step)\(\s*"{name}"', text)) == 1, name


def test_fused_kernels_are_named_by_their_rule():
    from minigrad import backends
    for dev in ("reference", "cpu"):
        be = backends.get(dev)
        for table in (be.FUSED_FORWARD, be.FUSED_VJP):
            assert set(table) <= set(rules.names())


def test_importing_the_scalar_engine_loads_no_compiled_module():
    code = ("import sys, minigrad.scalar\n"
            "x = minigrad.scalar.Scalar(2.0); (x * x).backward()\n"
            "ext = [m for m, mod in sys.modules.items() if m.startswith('minigrad') and\n"
            "       str(getattr(mod, '__file__', '')).endswith(('.so', '.pyd'))]\n"
            "print(ext, 'pyopencl' in sys.modules, 'minigrad.backends.cpu' in sys.modules)\n")
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", code], cwd=d, capture_output=True,
                             text=True, check=True).stdout.strip()
    assert out == "[] False False"
