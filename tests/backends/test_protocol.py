"""The backend protocol (minigrad/backends/reference.py), one suite over every backend.

Each test computes with the ``backend`` fixture (reference, cpu, opencl: tests/conftest.py) and
compares with a numpy oracle written here, computed in float64 and cast to the tested dtype.
Inputs go in through ``backend.asarray`` and results come out through ``backend.to_numpy``.

Awkward sizes (1, 7, 33, 129, primes) on purpose: they are not multiples of any tile, local size
or vector width, so they exercise every padded launch and masked store. OpenCL arrays are float
only (int arrays only for targets and indices), and OpenCL computes float64 only on a device with
cl_khr_fp64: that is checked inside the tests (:func:`computes`), never at import time.
"""

import contextlib
import importlib
import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from minigrad import backends, rules
from minigrad.backends import reference
from minigrad.backends.numpy_xp import namespace as XP

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
BACKEND_NAMES = ("reference", "cpu", "opencl")

dtype_params = pytest.mark.parametrize("dtype", DTYPES)


# ---- helpers ------------------------------------------------------------------------------------

def randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def computes(backend, dtype) -> bool:
    """Whether ``backend`` computes in ``dtype``. Every backend computes float32 and float64,
    except OpenCL on a device without cl_khr_fp64: that one must refuse float64 with a clear
    error (asserted here), and the calling test has nothing more to check."""
    if backend.name != "opencl" or np.dtype(dtype) != np.float64:
        return True
    from minigrad.backends.opencl import runtime
    if runtime.has_fp64():
        return True
    with pytest.raises(NotImplementedError, match="cl_khr_fp64"):
        backend.asarray(np.zeros(3))
    return False


def tolerance(dtype, loose=False):
    if np.dtype(dtype) == np.float32:
        return (1e-4, 1e-4) if loose else (1e-5, 1e-5)
    return 1e-10, 1e-10


def check(backend, got, want, rtol=None, atol=None, loose=False, equal_nan=False):
    """The backend array ``got`` has ``want``'s shape, dtype and values."""
    got = backend.to_numpy(got)
    want = np.asarray(want)
    assert isinstance(got, np.ndarray), f"to_numpy gave {type(got).__name__}"
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    r, a = tolerance(want.dtype, loose)
    np.testing.assert_allclose(got, want, rtol=r if rtol is None else rtol,
                               atol=a if atol is None else atol, equal_nan=equal_nan)


def f64(x):
    """An operand in float64 for an oracle (Python numbers stay as they are)."""
    return x.astype(np.float64) if isinstance(x, np.ndarray) else x


def dev(backend, x):
    """An operand on the backend (Python numbers stay as they are)."""
    return backend.asarray(x) if isinstance(x, np.ndarray) else x


# ---- transfer and creation ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape", [(), (1,), (7, 33), (0, 3), (2, 3, 129)])
def test_asarray_to_numpy_roundtrip(backend, shape, dtype):
    if not computes(backend, dtype):
        return
    x = (randn(*shape, dtype=np.float64) * 10).astype(dtype)
    got = backend.to_numpy(backend.asarray(x))
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.dtype(dtype) and got.shape == x.shape
    np.testing.assert_array_equal(got, x)


@dtype_params
def test_asarray_converts_to_the_dtype_asked(backend, dtype):
    if not computes(backend, dtype):
        return
    x = randn(7, 33, dtype=np.float64 if dtype == np.float32 else np.float32)
    check(backend, backend.asarray(x, dtype), x.astype(dtype), rtol=0, atol=0)
    check(backend, backend.asarray(x.tolist(), dtype), x.astype(dtype), rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("shape", [(), (1,), (7, 33), (129,), (0, 3)])
def test_zeros_and_full(backend, shape, dtype):
    if not computes(backend, dtype):
        return
    check(backend, backend.zeros(shape, dtype), np.zeros(shape, dtype), rtol=0, atol=0)
    check(backend, backend.full(shape, 2.5, dtype), np.full(shape, 2.5, dtype), rtol=0, atol=0)
    check(backend, backend.full(shape, -1e-3, dtype), np.full(shape, -1e-3, dtype), rtol=0,
          atol=0)


@pytest.mark.parametrize("src,dst", [(np.float32, np.float32), (np.float64, np.float64),
                                     (np.float32, np.float64), (np.float64, np.float32)])
def test_astype_is_always_a_copy(backend, src, dst):
    if not (computes(backend, src) and computes(backend, dst)):
        return
    x = randn(7, 33, dtype=np.float64).astype(src)
    a = backend.asarray(x.copy())
    b = backend.astype(a, dst)
    check(backend, b, x.astype(dst), rtol=0, atol=0)
    backend.accumulate(b, backend.full((7, 33), 1.0, dst))       # writing to the copy ...
    check(backend, a, x, rtol=0, atol=0)                          # ... leaves the source alone
    check(backend, b, x.astype(dst) + np.asarray(1, dst), rtol=0, atol=0)


def test_name_is_the_device(backend):
    assert backend.name in BACKEND_NAMES
    assert backends.get(backend.name) is backend


# ---- elementwise: every rule of the rule book ---------------------------------------------------

UNARY_SHAPES = [(), (1,), (7,), (33, 129), (2, 3, 5)]
SHAPE_PAIRS = [
    ((7,), (7,)),
    ((1,), (129,)),
    ((33, 1), (1, 129)),
    ((7, 33), (33,)),
    ((2, 3, 4, 5, 6, 7), (3, 1, 5, 1, 7)),
    ((5, 1, 3, 1, 2, 1), (1, 4, 1, 6, 1, 3)),
]
CONSTANT = 0.75     # the Python-number operand of the binary rules


def sample(name, k, shape, dtype, seed):
    """Operand k of rule ``name``: random values inside the rule's domain, away from its poles;
    integers for maximum/minimum, so that ties (the half-half gradient split) occur."""
    lo, hi = rules.get(name).domain[k]
    x = np.random.default_rng(seed).uniform(lo, hi, shape)
    if name in ("maximum", "minimum"):
        x = np.round(x)
    return np.asarray(x).astype(dtype)


def forward_oracle(rule, xs, dtype):
    with np.errstate(all="ignore"):
        y = rule.forward(XP, *[f64(x) for x in xs])
    return np.asarray(y, dtype=np.float64).astype(dtype)


def vjp_oracle(rule, i, g, xs, y):
    """g * local_i(xs, y) in float64, in g's (the output's) shape and dtype."""
    with np.errstate(all="ignore"):
        local = rule.local[i](XP, *[f64(x) for x in xs], f64(y))
    return np.broadcast_to(f64(g) * local, g.shape).astype(g.dtype)


@dtype_params
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", rules.names(1))
def test_elementwise_unary(backend, name, shape, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    x = sample(name, 0, shape, dtype, seed=1)
    check(backend, backend.elementwise(rule, backend.asarray(x)), forward_oracle(rule, [x], dtype))


@dtype_params
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", rules.names(2))
def test_elementwise_binary_broadcasting(backend, name, shapes, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    for sa, sb in (shapes, shapes[::-1]):
        a, b = sample(name, 0, sa, dtype, seed=1), sample(name, 1, sb, dtype, seed=2)
        got = backend.elementwise(rule, backend.asarray(a), backend.asarray(b))
        check(backend, got, forward_oracle(rule, [a, b], dtype))


@dtype_params
@pytest.mark.parametrize("name", rules.names(2))
def test_elementwise_python_number_operand(backend, name, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    a, b = sample(name, 0, (7, 33), dtype, seed=1), sample(name, 1, (7, 33), dtype, seed=2)
    check(backend, backend.elementwise(rule, backend.asarray(a), CONSTANT),
          forward_oracle(rule, [a, CONSTANT], dtype))
    check(backend, backend.elementwise(rule, CONSTANT, backend.asarray(b)),
          forward_oracle(rule, [CONSTANT, b], dtype))


@dtype_params
def test_pow_of_a_negative_base_and_an_integral_exponent(backend, dtype):
    if not computes(backend, dtype):
        return
    pow_ = rules.get("pow")
    a = -np.abs(randn(7, 9, dtype=dtype, seed=1)) - 0.1
    b = np.arange(-4, 5, dtype=dtype)                   # -4 ... 4: odd and even, negative and 0
    want = np.power(f64(a), f64(b)).astype(dtype)
    check(backend, backend.elementwise(pow_, backend.asarray(a), backend.asarray(b)), want)
    for e in (2.0, 3.0):
        check(backend, backend.elementwise(pow_, backend.asarray(a), e),
              np.power(f64(a), e).astype(dtype))


@dtype_params
def test_sigmoid_does_not_overflow(backend, dtype):
    if not computes(backend, dtype):
        return
    x = np.array([-1000, -100, -1, 0, 1, 100, 1000], dtype)
    with np.errstate(over="ignore"):
        want = (1 / (1 + np.exp(-f64(x)))).astype(dtype)
    check(backend, backend.elementwise(rules.get("sigmoid"), backend.asarray(x)), want)


@dtype_params
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", rules.names(1))
def test_elementwise_vjp_unary(backend, name, shape, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    x = sample(name, 0, shape, dtype, seed=1)
    y = forward_oracle(rule, [x], dtype)
    g = randn(*shape, dtype=dtype, seed=3)
    got = backend.elementwise_vjp(rule, 0, backend.asarray(g), (backend.asarray(x),),
                                  backend.asarray(y))
    check(backend, got, vjp_oracle(rule, 0, g, [x], y))


@dtype_params
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", rules.names(2))
def test_elementwise_vjp_binary_broadcasting(backend, name, shapes, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    for sa, sb in (shapes, shapes[::-1]):
        xs = [sample(name, 0, sa, dtype, seed=1), sample(name, 1, sb, dtype, seed=2)]
        y = forward_oracle(rule, xs, dtype)
        g = randn(*y.shape, dtype=dtype, seed=3)
        for i in range(2):
            got = backend.elementwise_vjp(rule, i, backend.asarray(g),
                                          tuple(backend.asarray(x) for x in xs),
                                          backend.asarray(y))
            check(backend, got, vjp_oracle(rule, i, g, xs, y))


@dtype_params
@pytest.mark.parametrize("name", rules.names(2))
def test_elementwise_vjp_python_number_operand(backend, name, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    g = randn(7, 33, dtype=dtype, seed=3)
    for i, xs in ((0, [sample(name, 0, (7, 33), dtype, seed=1), CONSTANT]),
                  (1, [CONSTANT, sample(name, 1, (7, 33), dtype, seed=2)])):
        y = forward_oracle(rule, xs, dtype)
        got = backend.elementwise_vjp(rule, i, backend.asarray(g),
                                      tuple(dev(backend, x) for x in xs), backend.asarray(y))
        check(backend, got, vjp_oracle(rule, i, g, xs, y))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_the_gradient_on_ties(backend, name):
    rule = rules.get(name)
    a, b = np.array([1.0, 2.0, 3.0, -1.0], np.float32), np.array([1.0, 0.0, 3.0, 5.0], np.float32)
    g = np.full(4, 2.0, np.float32)
    y = forward_oracle(rule, [a, b], np.float32)
    xs = (backend.asarray(a), backend.asarray(b))
    da = backend.elementwise_vjp(rule, 0, backend.asarray(g), xs, backend.asarray(y))
    db = backend.elementwise_vjp(rule, 1, backend.asarray(g), xs, backend.asarray(y))
    a_wins = [1.0, 2.0, 1.0, 0.0] if name == "maximum" else [1.0, 0.0, 1.0, 2.0]   # g = 2
    check(backend, da, np.array(a_wins, np.float32), rtol=0, atol=0)
    check(backend, db, 2 - np.array(a_wins, np.float32), rtol=0, atol=0)   # the rest to b


# Values at and around the edges of the rules' domains: zeros of both signs, tiny, negative,
# large magnitude (exp overflows in float32) and NaN. The backends must agree with the reference
# evaluating the rule in the same dtype, NaN for NaN.
EDGES = [0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 2.0, -2.5, 30.0, -30.0, 100.0, -100.0,
         1e4, -1e4, np.nan]


def edge_operands(arity, dtype, edges=EDGES):
    """Every edge value (unary), or every pair (triple) of them as equal-shape arrays."""
    e = np.array(edges, dtype=dtype)
    if arity == 1:
        return [e.reshape(1, -1)]
    return [g.reshape(len(e), -1) for g in np.meshgrid(*([e] * arity), indexing="ij")]


@dtype_params
@pytest.mark.parametrize("name", rules.names())
def test_elementwise_edge_values_agree_with_the_reference(backend, name, dtype):
    if not computes(backend, dtype):
        return
    rule = rules.get(name)
    xs = edge_operands(rule.arity, dtype)
    g = np.linspace(-2, 3, xs[0].size).reshape(xs[0].shape).astype(dtype)
    with np.errstate(all="ignore"):          # numpy warns where the math is undefined
        y = reference.elementwise(rule, *xs)
        assert y.dtype == np.dtype(dtype)
        got = backend.elementwise(rule, *[backend.asarray(x) for x in xs])
        check(backend, got, y, equal_nan=True)
        for i in range(rule.arity):
            want = reference.elementwise_vjp(rule, i, g, xs, y)
            got = backend.elementwise_vjp(rule, i, backend.asarray(g),
                                          tuple(backend.asarray(x) for x in xs),
                                          backend.asarray(y))
            check(backend, got, np.broadcast_to(want, y.shape), equal_nan=True)


# ---- fused kernels ------------------------------------------------------------------------------

def _fused_cases():
    """(backend, "forward" | "vjp", rule name) of every fused kernel a backend lists; importing a
    backend module touches no device."""
    cases = []
    for be in BACKEND_NAMES:
        module = backends.get(be)
        marks = [pytest.mark.opencl] if be == "opencl" else []
        for kind, table in (("forward", module.FUSED_FORWARD), ("vjp", module.FUSED_VJP)):
            cases += [pytest.param(be, kind, name, marks=marks, id=f"{be}-{kind}-{name}")
                      for name in table]
    return cases


FUSED_CASES = _fused_cases()


def test_fused_kernels_are_keyed_by_rule_names(backend):
    for table in (backend.FUSED_FORWARD, backend.FUSED_VJP):
        assert isinstance(table, dict)
        for name, f in table.items():
            assert name in rules.names(), f"fused kernel {name!r} names no rule"
            assert callable(f)


def test_the_fused_cases_are_collected():
    # Guards FUSED_CASES against silently becoming empty (then the tests below would not run):
    # the cpu backend has fused kernels, and each of them is a case.
    cpu = backends.get("cpu")
    assert cpu.FUSED_FORWARD and cpu.FUSED_VJP
    cpu_cases = {(p.values[1], p.values[2]) for p in FUSED_CASES if p.values[0] == "cpu"}
    assert cpu_cases == {("forward", n) for n in cpu.FUSED_FORWARD} | {
        ("vjp", n) for n in cpu.FUSED_VJP}


@dtype_params
@pytest.mark.parametrize("be_name,kind,name", FUSED_CASES)
def test_every_fused_kernel_agrees_with_its_rule(be_name, kind, name, dtype):
    be = backends.get(be_name)
    if not computes(be, dtype):
        return
    rule = rules.get(name)
    f = (be.FUSED_FORWARD if kind == "forward" else be.FUSED_VJP)[name]
    edges = EDGES + [1e30, -1e30, 3e38, -3e38]
    rng = np.random.default_rng(5)
    xs = [np.concatenate([x, rng.standard_normal(x.shape).astype(dtype) * 3], axis=0)
          for x in edge_operands(rule.arity, dtype, edges)]
    g = rng.standard_normal(xs[0].shape).astype(dtype)
    dxs = [be.asarray(x) for x in xs]
    with np.errstate(all="ignore"):          # numpy warns where the math is undefined
        y = reference.elementwise(rule, *xs)
        if kind == "forward":
            got = f(*dxs)
            assert got is not NotImplemented, f"{be_name} {name}: declines {dtype.__name__}"
            check(be, got, y, equal_nan=True)
            nan_in = np.logical_or.reduce([np.isnan(x) for x in xs])
            assert nan_in.any() and np.isnan(be.to_numpy(got)[nan_in]).all(), "NaN in, NaN out"
            return
        for i in range(rule.arity):
            want = reference.elementwise_vjp(rule, i, g, xs, y)
            got = f(i, be.asarray(g), dxs, be.asarray(y))
            assert got is not NotImplemented, f"{be_name} {name}: declines {dtype.__name__}"
            check(be, got, np.broadcast_to(want, y.shape), equal_nan=True)


@dtype_params
@pytest.mark.parametrize("be_name,kind,name", FUSED_CASES)
def test_fused_kernels_read_non_contiguous_input(be_name, kind, name, dtype):
    be = backends.get(be_name)
    if not computes(be, dtype):
        return
    rule = rules.get(name)
    f = (be.FUSED_FORWARD if kind == "forward" else be.FUSED_VJP)[name]
    xs = [randn(33, 7, dtype=dtype, seed=k).T for k in range(rule.arity)]   # transposed views
    y = reference.elementwise(rule, *xs)
    if kind == "forward":
        check(be, f(*[be.asarray(x) for x in xs]), y)
        return
    g = randn(7, 33, dtype=dtype, seed=9)
    for i in range(rule.arity):
        got = f(i, be.asarray(g), [be.asarray(x) for x in xs], be.asarray(y))
        check(be, got, reference.elementwise_vjp(rule, i, g, xs, y))


# ---- comparisons, where, clip -------------------------------------------------------------------

COMPARISONS = {"gt": np.greater, "ge": np.greater_equal, "eq": np.equal}


@dtype_params
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", sorted(COMPARISONS))
def test_comparisons_as_float_masks(backend, op, shapes, dtype):
    if not computes(backend, dtype):
        return
    f = getattr(backend, op)
    for sa, sb in (shapes, shapes[::-1]):
        a = np.round(randn(*sa, dtype=dtype, seed=1))             # integers: ties for eq / ge
        b = np.round(randn(*sb, dtype=dtype, seed=2))
        want = COMPARISONS[op](a, b).astype(dtype)
        assert 0 < want.sum() < want.size or want.size == 1
        check(backend, f(backend.asarray(a), backend.asarray(b)), want, rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("op", sorted(COMPARISONS))
def test_comparisons_with_a_python_number(backend, op, dtype):
    if not computes(backend, dtype):
        return
    f = getattr(backend, op)
    x = np.round(randn(7, 33, dtype=dtype, seed=1))
    check(backend, f(backend.asarray(x), 0.0), COMPARISONS[op](x, 0.0).astype(dtype), rtol=0,
          atol=0)
    check(backend, f(1.0, backend.asarray(x)), COMPARISONS[op](1.0, x).astype(dtype), rtol=0,
          atol=0)


@dtype_params
def test_where(backend, dtype):
    if not computes(backend, dtype):
        return
    c = (randn(7, 1, 33, seed=3) > 0).astype(dtype)
    a, b = randn(1, 5, 33, dtype=dtype, seed=4), randn(33, dtype=dtype, seed=5)
    C, A, B = backend.asarray(c), backend.asarray(a), backend.asarray(b)
    check(backend, backend.where(C, A, B), np.where(c != 0, a, b), rtol=0, atol=0)
    check(backend, backend.where(C, A, 0.0), np.where(c != 0, a, 0).astype(dtype), rtol=0, atol=0)
    check(backend, backend.where(C, -2.5, B), np.where(c != 0, -2.5, b).astype(dtype), rtol=0,
          atol=0)
    same = (randn(7, 33, seed=6) > 0).astype(dtype)                # the tensor engine's backward
    g = randn(7, 33, dtype=dtype, seed=7)
    check(backend, backend.where(backend.asarray(same), backend.asarray(g), 0.0),
          np.where(same != 0, g, 0).astype(dtype), rtol=0, atol=0)
    check(backend, backend.where(backend.asarray(same), 0.0, backend.asarray(g)),
          np.where(same != 0, 0, g).astype(dtype), rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.5), (-0.5, None)])
def test_clip_and_clip_vjp(backend, lo, hi, dtype):
    if not computes(backend, dtype):
        return
    x, g = randn(129, dtype=dtype, seed=1), randn(129, dtype=dtype, seed=2)
    x[:3] = [-0.5, 0.5, 0.0]                                  # the boundaries count as inside
    check(backend, backend.clip(backend.asarray(x), lo, hi),
          np.clip(f64(x), lo, hi).astype(dtype), rtol=0, atol=0)
    mask = np.ones(x.shape, bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    assert 0 < mask.sum() < mask.size
    got = backend.clip_vjp(backend.asarray(x), backend.asarray(g), lo, hi)
    check(backend, got, (g * mask).astype(dtype), rtol=0, atol=0)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (None, 0.5), (-0.5, None)])
def test_clip_keeps_nan(backend, lo, hi):
    x = np.array([np.nan, 1.0, -1.0, 0.25], np.float32)
    got = backend.to_numpy(backend.clip(backend.asarray(x), lo, hi))
    assert np.isnan(got[0]), f"clip(NaN, {lo}, {hi}) gave {got[0]}"
    np.testing.assert_array_equal(got[1:], np.clip(x[1:], lo, hi))
    g = np.ones(4, np.float32)
    gx = backend.to_numpy(backend.clip_vjp(backend.asarray(x), backend.asarray(g), lo, hi))
    assert gx[0] == 0.0                                       # NaN is not inside [lo, hi]


# ---- reductions ---------------------------------------------------------------------------------

REDUCE_CASES = [
    ((1,), None), ((7,), (0,)), ((129,), None), ((7, 33), (0,)), ((7, 33), (1,)),
    ((7, 33, 129), (0, 2)), ((7, 33, 129), (1,)), ((2, 3, 4, 5), (0, 2, 3)), ((33, 129), None),
    ((5, 7), ()), ((2, 3, 4, 5), (1, 3)), ((7, 33, 5), (0, 1, 2)),
]


@dtype_params
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reductions(backend, op, shape, axis, keepdims, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*shape, dtype=dtype)
    want = np.asarray(getattr(np, op)(f64(x), axis=axis, keepdims=keepdims)).astype(dtype)
    check(backend, getattr(backend, op)(backend.asarray(x), axis, keepdims), want, loose=True)


@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_reduction_of_a_long_row(backend, op):
    x = np.random.default_rng(1).random(1_000_003).astype(np.float32)
    x[654_321] = 2.0 if op == "max" else -1.0                   # one extreme, far from the start
    want = np.asarray(getattr(np, op)(f64(x)), np.float32)
    check(backend, getattr(backend, op)(backend.asarray(x)), want, rtol=1e-5)
    check(backend, getattr(backend, op)(backend.asarray(x), (0,), True), want.reshape(1),
          rtol=1e-5)


@dtype_params
@pytest.mark.parametrize("gshape,shape", [
    ((7, 33), (33,)), ((7, 33), (7, 1)), ((7, 33), (1, 1)), ((2, 7, 33), (7, 33)),
    ((2, 3, 5), (3, 1)), ((7, 33), (7, 33)), ((7, 33), ()), ((2, 3, 129), (1, 3, 1)),
], ids=str)
def test_sum_to(backend, gshape, shape, dtype):
    if not computes(backend, dtype):
        return
    g = randn(*gshape, dtype=dtype)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gshape[lead + i] != 1)
    want = f64(g).sum(axis=axes, keepdims=True).reshape(shape) if axes else f64(g)
    check(backend, backend.sum_to(backend.asarray(g), shape), want.astype(dtype))


# ---- shapes -------------------------------------------------------------------------------------

@dtype_params
@pytest.mark.parametrize("shape,target", [((33,), (7, 33)), ((7, 1), (7, 129)),
                                          ((1, 3, 1), (2, 3, 5)), ((1,), (1,)), ((), (7, 5)),
                                          ((5,), (2, 3, 5))], ids=str)
def test_broadcast_to(backend, shape, target, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*shape, dtype=dtype)
    check(backend, backend.broadcast_to(backend.asarray(x), target), np.broadcast_to(x, target),
          rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("shape,new", [((7, 33), (33, 7)), ((7, 33), (-1,)), ((2, 3, 5), (6, 5)),
                                       ((129,), (1, 129, 1)), ((1,), ())], ids=str)
def test_reshape(backend, shape, new, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*shape, dtype=dtype)
    check(backend, backend.reshape(backend.asarray(x), new), x.reshape(new), rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("shape,axes", [((7, 33), (1, 0)), ((2, 3, 5), (2, 0, 1)),
                                        ((1, 7, 1, 33), (3, 1, 2, 0)), ((129,), (0,)),
                                        ((2, 3, 4, 5), (0, 2, 1, 3))], ids=str)
def test_transpose(backend, shape, axes, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*shape, dtype=dtype)
    check(backend, backend.transpose(backend.asarray(x), axes), np.transpose(x, axes), rtol=0,
          atol=0)


INDEX_SHAPE = (7, 5, 33)
_mask = np.random.default_rng(9).standard_normal(INDEX_SHAPE) > 0
INDEX_KEYS = [
    # basic: ints, slices (steps, negative steps, empty), None, Ellipsis
    pytest.param(3, id="int"),
    pytest.param(-1, id="negative-int"),
    pytest.param((2, 3, Ellipsis), id="ints-ellipsis-0d"),
    pytest.param(slice(1, 5), id="slice"),
    pytest.param(slice(None, None, 2), id="step"),
    pytest.param(slice(None, None, -1), id="reversed"),
    pytest.param(slice(5, 1, -2), id="negative-step"),
    pytest.param(slice(3, 3), id="empty"),
    pytest.param((Ellipsis, 0), id="ellipsis-int"),
    pytest.param((None, slice(1, 3)), id="none-slice"),
    pytest.param((1, None, Ellipsis, slice(None, None, -3)), id="int-none-ellipsis-negstep"),
    pytest.param((slice(2, 3), 4), id="slice-int"),
    pytest.param((slice(None), slice(None, None, -2), slice(30, 2, -7)), id="three-slices"),
    # advanced: int arrays (repeats, negative), bool masks, mixed with basic parts
    pytest.param(np.array([0, 2, 2, 1, 0, 6]), id="ints-repeated"),
    pytest.param(np.array([-1, 0, -1]), id="ints-negative"),
    pytest.param((np.array([0, 6, 0]), np.array([1, 1, 1])), id="pairs-repeated"),
    pytest.param((slice(None), np.array([4, 4, 0])), id="slice-ints"),
    pytest.param((Ellipsis, np.array([[32, 0], [32, 32]])), id="ellipsis-2d-ints"),
    pytest.param(_mask, id="mask"),
    pytest.param(np.array([True, False, True, True, False, False, True]), id="mask-axis0"),
    pytest.param((slice(None), np.array([True, False, True, True, False])), id="mask-axis1"),
    pytest.param((np.array([1, 1]), slice(None, None, -4), np.array([0, 32])),
                 id="ints-slice-ints"),
]


@dtype_params
@pytest.mark.parametrize("key", INDEX_KEYS)
def test_index_and_index_vjp(backend, key, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*INDEX_SHAPE, dtype=dtype)
    want = np.asarray(x[key])
    check(backend, backend.index(backend.asarray(x), key), want, rtol=0, atol=0)
    g = randn(*want.shape, dtype=dtype, seed=2)
    grad = np.zeros(INDEX_SHAPE)
    np.add.at(grad, key, f64(g))                  # added where the index repeats an element
    check(backend, backend.index_vjp(backend.asarray(g), key, INDEX_SHAPE), grad.astype(dtype))


_INTS_ONLY_SCRIPT = """
import json, sys
import numpy as np
from minigrad import backends
be = backends.get(sys.argv[1])
key = tuple(json.loads(sys.argv[2]))
x = np.arange(7 * 5 * 33, dtype=np.float32).reshape(7, 5, 33)
y = be.to_numpy(be.index(be.asarray(x), key))
g = be.reshape(be.asarray(np.array([2.0], np.float32)), ())
gx = be.to_numpy(be.index_vjp(g, key, x.shape))
print(json.dumps([list(y.shape), y.tolist(), list(gx.shape), gx.ravel().tolist()]))
"""


@pytest.mark.parametrize("key", [(2, 3, 4), (-1, 0, -2)], ids=str)
def test_index_of_ints_only(backend, key):
    """A key of ints only picks one element: a 0-d result, and a gradient with one nonzero. Run
    in a child process: a bug here (an offset taken from a numpy scalar copy, as OpenCL once
    had) reads and writes out of bounds, which could crash or corrupt this process."""
    out = subprocess.run([sys.executable, "-c", _INTS_ONLY_SCRIPT, backend.name,
                          json.dumps(list(key))], capture_output=True, text=True, timeout=120,
                         cwd=tempfile.gettempdir())
    assert out.returncode == 0, out.stderr[-2000:]
    y_shape, y, gx_shape, gx = json.loads(out.stdout.splitlines()[-1])
    x = np.arange(7 * 5 * 33, dtype=np.float32).reshape(7, 5, 33)
    assert (y_shape, y) == ([], float(x[key]))
    want = np.zeros(x.shape, np.float32)
    want[key] = 2.0
    assert gx_shape == list(x.shape)
    np.testing.assert_array_equal(np.array(gx, np.float32), want.ravel())


def test_index_vjp_adds_where_an_index_repeats(backend):
    g = np.array([1.0, 2.0, 4.0, 8.0], np.float32)
    got = backend.index_vjp(backend.asarray(g), np.array([3, 0, 3, 3]), (5,))
    check(backend, got, np.array([2.0, 0.0, 0.0, 13.0, 0.0], np.float32), rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_cat(backend, axis, dtype):
    if not computes(backend, dtype):
        return
    parts = []
    for k, size in enumerate((1, 3, 0, 7)):
        shape = [2, 7, 5]
        shape[axis] = size
        parts.append(randn(*shape, dtype=dtype, seed=k))
    got = backend.cat([backend.asarray(p) for p in parts], axis)
    check(backend, got, np.concatenate(parts, axis=axis), rtol=0, atol=0)


@dtype_params
@pytest.mark.parametrize("src_shape", [(7, 33), (33,), (7, 1), (1, 1), ()], ids=str)
def test_accumulate_in_place(backend, src_shape, dtype):
    if not computes(backend, dtype):
        return
    d, s = randn(7, 33, dtype=dtype, seed=1), randn(*src_shape, dtype=dtype, seed=2)
    dst = backend.asarray(d.copy())
    src = backend.asarray(s.copy())
    out = backend.accumulate(dst, src)
    assert out is dst
    check(backend, dst, (f64(d) + f64(s)).astype(dtype))
    check(backend, src, s, rtol=0, atol=0)                    # the source is not modified


# ---- matmul -------------------------------------------------------------------------------------

MATMUL_SHAPES = [(1, 1, 1), (7, 33, 129), (129, 7, 33), (65, 130, 97), (4, 32, 64)]


def op_t(x, trans):
    return np.swapaxes(x, -1, -2) if trans else x


def matmul_operands(M, N, K, trans_a, trans_b, dtype, batch_a=(), batch_b=()):
    a = randn(*batch_a, *((K, M) if trans_a else (M, K)), dtype=dtype, seed=1)
    b = randn(*batch_b, *((N, K) if trans_b else (K, N)), dtype=dtype, seed=2)
    want = np.matmul(op_t(f64(a), trans_a), op_t(f64(b), trans_b)).astype(dtype)
    return a, b, want


def matmul_tolerance(dtype, K):
    return dict(rtol=1e-4, atol=1e-4 * np.sqrt(K)) if dtype == np.float32 else \
        dict(rtol=1e-10, atol=1e-10 * np.sqrt(K))


@dtype_params
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("mnk", MATMUL_SHAPES, ids=str)
def test_matmul_2d(backend, mnk, trans_a, trans_b, dtype):
    if not computes(backend, dtype):
        return
    M, N, K = mnk
    a, b, want = matmul_operands(M, N, K, trans_a, trans_b, dtype)
    got = backend.matmul(backend.asarray(a), backend.asarray(b), trans_a, trans_b)
    check(backend, got, want, **matmul_tolerance(dtype, K))


@dtype_params
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True),
                                             (True, True)])
@pytest.mark.parametrize("batch_a,batch_b", [((3,), (3,)), ((3,), ()), ((), (3,)), ((2, 3), ()),
                                             ((2, 1), (1, 3)), ((3, 1, 2), (2, 1)),
                                             ((1, 1), ())], ids=str)
def test_matmul_batched(backend, batch_a, batch_b, trans_a, trans_b, dtype):
    if not computes(backend, dtype):
        return
    M, N, K = 7, 33, 17
    a, b, want = matmul_operands(M, N, K, trans_a, trans_b, dtype, batch_a, batch_b)
    got = backend.matmul(backend.asarray(a), backend.asarray(b), trans_a, trans_b)
    check(backend, got, want, **matmul_tolerance(dtype, K))


# ---- softmax and cross-entropy ------------------------------------------------------------------

def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


@dtype_params
@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (129, 10), (3, 129)], ids=str)
def test_softmax_family(backend, shape, dtype):
    if not computes(backend, dtype):
        return
    x, g = randn(*shape, dtype=dtype, seed=1) * 5, randn(*shape, dtype=dtype, seed=2)
    y = np_softmax(f64(x)).astype(dtype)
    ly = np_log_softmax(f64(x)).astype(dtype)
    check(backend, backend.softmax(backend.asarray(x)), y)
    check(backend, backend.log_softmax(backend.asarray(x)), ly)
    y64, ly64, g64 = f64(y), f64(ly), f64(g)
    check(backend, backend.softmax_vjp(backend.asarray(y), backend.asarray(g)),
          (y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))).astype(dtype))
    check(backend, backend.log_softmax_vjp(backend.asarray(ly), backend.asarray(g)),
          (g64 - np.exp(ly64) * g64.sum(-1, keepdims=True)).astype(dtype))


def test_softmax_is_stable(backend):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]], np.float32)
    check(backend, backend.softmax(backend.asarray(x)),
          np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], np.float32))
    check(backend, backend.log_softmax(backend.asarray(x)),
          np.array([[0.0, -1000.0, -2000.0], [-np.log(3)] * 3], np.float32))


@dtype_params
@pytest.mark.parametrize("N,C", [(1, 1), (7, 10), (129, 33)])
def test_cross_entropy_and_vjp(backend, N, C, dtype):
    if not computes(backend, dtype):
        return
    x = randn(N, C, dtype=dtype, seed=1) * 4
    t = np.random.default_rng(2).integers(0, C, N).astype(np.int64)
    g = randn(N, dtype=dtype, seed=3)
    loss, probs = backend.cross_entropy(backend.asarray(x), backend.asarray(t))
    check(backend, loss, (-np_log_softmax(f64(x))[np.arange(N), t]).astype(dtype))
    p = np_softmax(f64(x)).astype(dtype)
    check(backend, probs, p)
    onehot = np.eye(C)[t]
    got = backend.cross_entropy_vjp(backend.asarray(p), backend.asarray(t), backend.asarray(g))
    check(backend, got, ((f64(p) - onehot) * f64(g)[:, None]).astype(dtype))


def test_cross_entropy_extreme_logits_are_finite(backend):
    x = np.array([[0.0, 200.0], [-500.0, 500.0]], np.float32)
    loss, probs = backend.cross_entropy(backend.asarray(x), backend.asarray(np.array([0, 1])))
    check(backend, loss, np.array([200.0, 0.0], np.float32))
    check(backend, probs, np.array([[0.0, 1.0], [0.0, 1.0]], np.float32))


# ---- convolution --------------------------------------------------------------------------------

def _taps(i, n_out, stride):
    """The input positions kernel tap i touches, one per output position."""
    return slice(i, i + stride * (n_out - 1) + 1, stride)


def _patches(x, kh, kw, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    N, C, H, W = xp.shape
    OH, OW = (H - kh) // s[0] + 1, (W - kw) // s[1] + 1
    out = np.empty((N, C, kh, kw, OH, OW), x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = xp[:, :, _taps(i, OH, s[0]), _taps(j, OW, s[1])]
    return out, xp.shape


def np_conv2d(x, w, b, s, p):
    pt, _ = _patches(x, w.shape[2], w.shape[3], s, p)
    y = np.einsum("ncijhw,ocij->nohw", pt, w)
    return y + b[None, :, None, None] if b is not None else y


def np_conv2d_vjp_weight(g, x, w_shape, s, p):
    pt, _ = _patches(x, w_shape[2], w_shape[3], s, p)
    return np.einsum("nohw,ncijhw->ocij", g, pt)


def np_conv2d_vjp_input(g, w, x_shape, s, p):
    N, C, H, W = x_shape
    kh, kw = w.shape[2:]
    OH, OW = g.shape[2:]
    dpt = np.einsum("nohw,ocij->ncijhw", g, w)
    dxp = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), g.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, _taps(i, OH, s[0]), _taps(j, OW, s[1])] += dpt[:, :, i, j]
    return dxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W]


CONV_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding
    ((2, 3, 7, 7), (4, 3, 3), (1, 1), (0, 0)),
    ((2, 3, 8, 9), (5, 3, 3), (2, 2), (1, 1)),
    ((1, 1, 5, 5), (1, 1, 1), (1, 1), (0, 0)),
    ((3, 2, 9, 8), (7, 5, 5), (1, 2), (2, 2)),
    ((2, 4, 6, 6), (3, 2, 2), (2, 2), (0, 0)),
    ((1, 5, 11, 13), (6, 3, 5), (2, 1), (1, 2)),
]


@dtype_params
@pytest.mark.parametrize("need_x,need_w", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,s,p", CONV_CASES, ids=str)
def test_conv2d_and_conv2d_vjp(backend, xs, ws, s, p, bias, need_x, need_w, dtype):
    if not computes(backend, dtype):
        return
    N, C = xs[:2]
    O, kh, kw = ws
    x, w = randn(*xs, dtype=dtype, seed=1), randn(O, C, kh, kw, dtype=dtype, seed=2)
    b = randn(O, dtype=dtype, seed=3) if bias else None
    want = np_conv2d(f64(x), f64(w), f64(b) if bias else None, s, p)
    y, saved = backend.conv2d(backend.asarray(x), backend.asarray(w),
                              backend.asarray(b) if bias else None, s, p)
    check(backend, y, want.astype(dtype), loose=True)
    g = randn(*want.shape, dtype=dtype, seed=4)
    gx, gw = backend.conv2d_vjp(backend.asarray(g), backend.asarray(w), saved, xs, s, p,
                                need_x, need_w)
    if need_x:
        check(backend, gx, np_conv2d_vjp_input(f64(g), f64(w), xs, s, p).astype(dtype),
              loose=True)
    else:
        assert gx is None
    if need_w:
        check(backend, gw, np_conv2d_vjp_weight(f64(g), f64(x), w.shape, s, p).astype(dtype),
              loose=True)
    else:
        assert gw is None


# ---- pooling ------------------------------------------------------------------------------------

def np_max_pool2d(x, k, s):
    N, C, H, W = x.shape
    OH, OW = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    y = np.empty((N, C, OH, OW), x.dtype)
    idx = np.empty((N, C, OH, OW), np.int64)
    for oh in range(OH):
        for ow in range(OW):
            win = x[:, :, oh * s[0]:oh * s[0] + k[0], ow * s[1]:ow * s[1] + k[1]]
            flat = win.reshape(N, C, -1)
            a = flat.argmax(-1)                        # the first maximum wins
            y[:, :, oh, ow] = flat.max(-1)
            idx[:, :, oh, ow] = (oh * s[0] + a // k[1]) * W + ow * s[1] + a % k[1]
    return y, idx


def np_max_pool2d_vjp(g, idx, x_shape):
    N, C, H, W = x_shape
    dx = np.zeros((N * C, H * W), g.dtype)
    for plane in range(N * C):
        np.add.at(dx[plane], idx.reshape(N * C, -1)[plane], g.reshape(N * C, -1)[plane])
    return dx.reshape(x_shape)


def np_avg_pool2d(x, k, s):
    N, C, H, W = x.shape
    OH, OW = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    y = np.empty((N, C, OH, OW), x.dtype)
    for oh in range(OH):
        for ow in range(OW):
            y[:, :, oh, ow] = x[:, :, oh * s[0]:oh * s[0] + k[0],
                                ow * s[1]:ow * s[1] + k[1]].mean((2, 3))
    return y


def np_avg_pool2d_vjp(g, x_shape, k, s):
    dx = np.zeros(x_shape, g.dtype)
    OH, OW = g.shape[2:]
    for oh in range(OH):
        for ow in range(OW):
            dx[:, :, oh * s[0]:oh * s[0] + k[0], ow * s[1]:ow * s[1] + k[1]] += \
                g[:, :, oh:oh + 1, ow:ow + 1] / (k[0] * k[1])
    return dx


POOL_CASES = [((2, 3, 8, 8), (2, 2), (2, 2)), ((2, 3, 7, 9), (2, 2), (2, 2)),
              ((1, 2, 7, 7), (3, 3), (2, 2)), ((2, 1, 6, 5), (3, 3), (1, 1)),
              ((1, 3, 9, 9), (2, 2), (1, 1)), ((1, 1, 1, 1), (1, 1), (1, 1)),
              ((2, 3, 7, 33), (2, 3), (1, 2))]


@dtype_params
@pytest.mark.parametrize("xs,k,s", POOL_CASES, ids=str)
def test_max_pool2d_and_vjp(backend, xs, k, s, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*xs, dtype=dtype)
    y, idx = np_max_pool2d(x, k, s)
    got_y, got_idx = backend.max_pool2d(backend.asarray(x), k, s)
    check(backend, got_y, y, rtol=0, atol=0)
    got_idx_np = backend.to_numpy(got_idx)
    assert got_idx_np.dtype.kind == "i" and got_idx_np.shape == idx.shape
    np.testing.assert_array_equal(got_idx_np, idx)
    g = randn(*y.shape, dtype=dtype, seed=5)
    check(backend, backend.max_pool2d_vjp(backend.asarray(g), got_idx, xs),
          np_max_pool2d_vjp(f64(g), idx, xs).astype(dtype))


def test_max_pool2d_first_max_wins(backend):
    x = np.zeros((1, 1, 2, 2), np.float32)
    _, idx = backend.max_pool2d(backend.asarray(x), (2, 2), (2, 2))
    assert backend.to_numpy(idx).ravel().tolist() == [0]
    x = np.array([[[[0.0, 3.0], [1.0, 3.0]]]], np.float32)
    _, idx = backend.max_pool2d(backend.asarray(x), (2, 2), (2, 2))
    assert backend.to_numpy(idx).ravel().tolist() == [1]


@dtype_params
@pytest.mark.parametrize("xs,k,s", POOL_CASES, ids=str)
def test_avg_pool2d_and_vjp(backend, xs, k, s, dtype):
    if not computes(backend, dtype):
        return
    x = randn(*xs, dtype=dtype)
    y = np_avg_pool2d(f64(x), k, s)
    check(backend, backend.avg_pool2d(backend.asarray(x), k, s), y.astype(dtype))
    g = randn(*y.shape, dtype=dtype, seed=5)
    check(backend, backend.avg_pool2d_vjp(backend.asarray(g), xs, k, s),
          np_avg_pool2d_vjp(f64(g), xs, k, s).astype(dtype))


# ---- optimizer steps: PyTorch's rules, written out in numpy -------------------------------------

def run_steps(backend, step_dev, step_ref, n_state, dtype, steps=3, shape=(7, 33)):
    """Three steps in place on the backend and in float64 numpy; p and the state must agree."""
    p = randn(*shape, dtype=dtype, seed=1)
    ref_p, ref_state = f64(p), [np.zeros(shape) for _ in range(n_state)]
    dp = backend.asarray(p.copy())
    dstate = [backend.zeros(shape, dtype) for _ in range(n_state)]
    for t in range(1, steps + 1):
        g = randn(*shape, dtype=dtype, seed=10 + t)
        dg = backend.asarray(g.copy())
        step_dev(dp, dg, dstate, t)
        step_ref(ref_p, f64(g), ref_state, t)
        check(backend, dg, g, rtol=0, atol=0)                # the gradient is not modified
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else {}
    check(backend, dp, ref_p.astype(dtype), **tol)
    for d, s in zip(dstate, ref_state):
        check(backend, d, s.astype(dtype), **tol)


@dtype_params
@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.0, False, 0.01),
                                                   (0.9, False, 0.01), (0.9, True, 0.0),
                                                   (0.5, True, 0.01)])
def test_sgd_step(backend, momentum, nesterov, wd, dtype):
    if not computes(backend, dtype):
        return
    lr = 0.1

    def ref(p, g, state, t):
        d = g + wd * p
        if momentum:
            state[0][...] = d if t == 1 else momentum * state[0] + d
            d = d + momentum * state[0] if nesterov else state[0]
        p -= lr * d

    def step(p, g, state, t):
        backend.sgd_step(p, g, state[0] if momentum else None, lr, momentum, nesterov, wd,
                         first=(t == 1))

    run_steps(backend, step, ref, 1 if momentum else 0, dtype)


def test_sgd_first_step_ignores_a_stale_buf(backend):
    p, g = randn(33, seed=1), randn(33, seed=2)
    dp, buf = backend.asarray(p.copy()), backend.full((33,), 123.0, np.float32)
    backend.sgd_step(dp, backend.asarray(g), buf, 0.1, 0.9, False, 0.0, True)
    check(backend, buf, g)
    check(backend, dp, p - np.float32(0.1) * g)


@dtype_params
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_step(backend, wd, dtype):
    if not computes(backend, dtype):
        return
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8

    def ref(p, g, state, t):
        m, v = state
        d = g + wd * p
        m[...] = b1 * m + (1 - b1) * d
        v[...] = b2 * v + (1 - b2) * d * d
        p -= (lr / (1 - b1 ** t)) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)

    def step(p, g, state, t):
        backend.adam_step(p, g, state[0], state[1], lr, b1, b2, eps, wd, t)

    run_steps(backend, step, ref, 2, dtype)


@dtype_params
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adagrad_step(backend, wd, dtype):
    if not computes(backend, dtype):
        return
    lr, eps = 0.1, 1e-10

    def ref(p, g, state, t):
        d = g + wd * p
        state[0] += d * d
        p -= lr * d / (np.sqrt(state[0]) + eps)

    run_steps(backend, lambda p, g, s, t: backend.adagrad_step(p, g, s[0], lr, eps, wd), ref, 1,
              dtype)


@dtype_params
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_rmsprop_step(backend, wd, dtype):
    if not computes(backend, dtype):
        return
    lr, alpha, eps = 0.01, 0.99, 1e-8

    def ref(p, g, state, t):
        d = g + wd * p
        state[0][...] = alpha * state[0] + (1 - alpha) * d * d
        p -= lr * d / (np.sqrt(state[0]) + eps)

    run_steps(backend, lambda p, g, s, t: backend.rmsprop_step(p, g, s[0], lr, alpha, eps, wd),
              ref, 1, dtype)


# ---- OpenCL only: errors that name shapes and dtypes, matmul kernel choices ---------------------

def _cl_matmul_module():
    # The package re-exports the function ``matmul``, which hides the submodule's attribute.
    return importlib.import_module("minigrad.backends.opencl.matmul")


@contextlib.contextmanager
def raises_naming(exc, *parts):
    """``pytest.raises(exc)`` whose message names every one of ``parts`` (shapes, dtypes)."""
    with pytest.raises(exc) as e:
        yield
    for part in parts:
        assert part in str(e.value), f"{part!r} not in {str(e.value)!r}"


@pytest.mark.opencl
def test_shape_and_dtype_errors_name_them(opencl):
    from minigrad.backends.opencl import runtime
    B = opencl
    add = rules.get("add")
    a7, a3 = B.asarray(randn(7)), B.asarray(randn(3))
    with raises_naming(ValueError, "(7,)", "(3,)"):
        B.elementwise(add, a7, a3)
    with raises_naming(ValueError, "(7,)", "(3,)"):
        B.gt(a7, a3)
    with raises_naming(TypeError, "int32"):
        B.elementwise(add, B.asarray(np.arange(7, dtype=np.int32)), a7)
    if runtime.has_fp64():
        with raises_naming(TypeError, "float32", "float64"):
            B.elementwise(add, a7, B.asarray(randn(7, dtype=np.float64)))
    dst = B.asarray(randn(7, 33))
    with raises_naming(ValueError, "(7, 33)", "(33, 7)"):
        B.accumulate(dst, B.asarray(randn(33, 7)))
    with raises_naming(ValueError, "(7, 33)", "(7, 1, 33)"):
        B.accumulate(dst, B.asarray(randn(7, 1, 33)))
    with raises_naming(ValueError, "(7, 33)", "(7,)"):
        B.clip_vjp(dst, B.asarray(randn(7)), -1.0, 1.0)
    with raises_naming(ValueError, "(7, 33)", "(5,)"):
        B.sum_to(dst, (5,))
    with raises_naming(ValueError, "(5, 2)", "(7, 33)"):
        B.broadcast_to(dst, (5, 2))
    with raises_naming(ValueError, "inner sizes", "(3, 4)", "(5, 6)"):
        B.matmul(B.asarray(randn(3, 4)), B.asarray(randn(5, 6)))
    with raises_naming(ValueError, "channels", "(1, 3, 5, 5)", "(2, 4, 3, 3)"):
        B.conv2d(B.asarray(randn(1, 3, 5, 5)), B.asarray(randn(2, 4, 3, 3)), None, (1, 1),
                 (0, 0))
    with raises_naming(ValueError, "(7, 33)", "(7,)"):
        B.softmax_vjp(dst, B.asarray(randn(7)))
    with raises_naming(ValueError, "(3,)", "(7,)"):
        B.cross_entropy(dst, B.asarray(np.zeros(3, np.int64)))


@pytest.mark.opencl
@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked", None])
@pytest.mark.parametrize("mnk", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_opencl_matmul_kernels_2d(opencl, kernel, mnk, trans_a, trans_b, cl_dtypes):
    M, N, K = mnk
    for dtype in cl_dtypes:
        a, b, want = matmul_operands(M, N, K, trans_a, trans_b, dtype)
        got = opencl.matmul(opencl.asarray(a), opencl.asarray(b), trans_a, trans_b,
                            kernel=kernel)
        check(opencl, got, want, **matmul_tolerance(dtype, K))


@pytest.mark.opencl
@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked"])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_opencl_matmul_kernels_batched(opencl, kernel, trans_a, trans_b):
    M, N, K = 7, 33, 17
    for batch_a, batch_b in (((3,), (3,)), ((3,), ()), ((), (3,))):
        a, b, want = matmul_operands(M, N, K, trans_a, trans_b, np.float32, batch_a, batch_b)
        got = opencl.matmul(opencl.asarray(a), opencl.asarray(b), trans_a, trans_b,
                            kernel=kernel)
        check(opencl, got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.opencl
def test_opencl_matmul_tiled_small_work_groups(opencl, monkeypatch):
    """The 32 x 32 tiles a GPU with small work-groups gets, exercised on whatever we have."""
    M = _cl_matmul_module()
    monkeypatch.setattr(M, "_tiled_options",
                        lambda dtype: M._options(dtype) + ("-DTILE_M=32", "-DTILE_N=32"))
    a, b = randn(65, 33, seed=1), randn(130, 33, seed=2)
    got = opencl.matmul(opencl.asarray(a), opencl.asarray(b), trans_b=True, kernel="tiled")
    check(opencl, got, (f64(a) @ f64(b).T).astype(np.float32), rtol=1e-4, atol=1e-4)


@pytest.mark.opencl
@pytest.mark.parametrize("shape", [(8, 16), (6, 8)], ids=["avx512", "avx2"])
def test_opencl_matmul_blocked_shapes(opencl, monkeypatch, shape):
    """Both builds of the blocked kernel (16-wide vectors in 8-row blocks where the device
    prefers 16, 8-wide in 6-row blocks elsewhere) on whatever device we have: sizes that are and
    are not multiples of the blocks, packed and in-place B, batched with a shared operand, and
    the weight-gradient's batch sums through conv2d."""
    M = _cl_matmul_module()
    monkeypatch.setattr(M, "_blocked_shape", lambda device=None: shape)
    for m, n, k in ((13, 47, 9), (48, 64, 33), (6, 16, 1)):
        for ta, tb in ((False, False), (True, True)):
            a, b, want = matmul_operands(m, n, k, ta, tb, np.float32)
            got = opencl.matmul(opencl.asarray(a), opencl.asarray(b), ta, tb, kernel="blocked")
            check(opencl, got, want, rtol=1e-4, atol=1e-4)
    a, b, want = matmul_operands(7, 33, 17, False, False, np.float32, (3,), ())
    check(opencl, opencl.matmul(opencl.asarray(a), opencl.asarray(b), kernel="blocked"), want,
          rtol=1e-4, atol=1e-4)
    x, w = randn(3, 4, 9, 9, seed=3), randn(5, 4, 3, 3, seed=4)
    y, saved = opencl.conv2d(opencl.asarray(x), opencl.asarray(w), None, (1, 1), (1, 1))
    g = randn(3, 5, 9, 9, seed=5)
    _, gw = opencl.conv2d_vjp(opencl.asarray(g), opencl.asarray(w), saved, x.shape, (1, 1),
                              (1, 1), False, True)
    yr, saved_r = reference.conv2d(x, w, None, (1, 1), (1, 1))
    _, gwr = reference.conv2d_vjp(g, w, saved_r, x.shape, (1, 1), (1, 1), False, True)
    check(opencl, y, yr, rtol=1e-4, atol=1e-4)
    check(opencl, gw, gwr, rtol=1e-4, atol=1e-4)


@pytest.mark.opencl
def test_opencl_matmul_kernel_for_device_type(opencl):
    from minigrad.backends.opencl import runtime
    expected = "blocked" if runtime.device_is_cpu() else "tiled"
    assert opencl.matmul_kernel_for() == expected
    assert opencl.matmul_kernel_for() in opencl.MATMUL_KERNELS


@pytest.mark.opencl
def test_opencl_matmul_unknown_kernel(opencl):
    with pytest.raises(ValueError, match="kernel"):
        opencl.matmul(opencl.asarray(randn(3, 4)), opencl.asarray(randn(4, 6)), kernel="magic")


# ---- ops with no gradient, scans, sorting, gathering --------------------------------------------

@pytest.mark.parametrize("name", reference.UFUNCS)
def test_ufunc(backend, name):
    a = np.array([[0.0, 1.5, -2.0, np.nan], [3.0, -0.0, 2.0, np.inf]], np.float32)
    b = np.array([1.5, 1.5, -2.0, 0.0], np.float32)
    ints = np.array([[0, 3, 5, -7], [12, 1, 2, 6]], np.int64)
    nargs = 1 if name in ("logical_not", "invert", "isnan", "isinf", "isfinite") else 2
    if name.startswith(("bitwise", "left", "right")) or name == "invert":
        xs = [ints, np.array([1, 2, 3, 1], np.int64)][:nargs]
    elif name == "floor_divide":
        xs = [a[:, :3], b[:3]]
    else:
        xs = [a, b][:nargs]
    with np.errstate(all="ignore"):
        want = getattr(np, name)(*xs)
        got = backend.to_numpy(backend.ufunc(name, *[backend.asarray(x) for x in xs]))
    np.testing.assert_array_equal(got, want)
    if nargs == 2:      # a Python number as the second operand
        with np.errstate(all="ignore"):
            got = backend.to_numpy(backend.ufunc(name, backend.asarray(xs[0]), 2))
            np.testing.assert_array_equal(got, getattr(np, name)(xs[0], 2))


@pytest.mark.parametrize("name", ["any", "all", "argmax", "argmin"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True)])
def test_reduce_index(backend, name, axis, keepdims):
    x = np.array([[0.0, 3.0, 3.0], [-1.0, 0.0, 7.0]], np.float32)
    got = backend.to_numpy(backend.reduce_index(name, backend.asarray(x), axis, keepdims))
    want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(got, want)


@dtype_params
def test_cumsum_prod_and_their_vjps(backend, dtype):
    if not computes(backend, dtype):
        return
    x = np.array([[1.5, 0.0, -2.0, 3.0], [0.5, 2.0, 0.0, 0.0]], dtype)
    g = randn(2, 4, dtype=dtype, seed=4)
    for axis in (0, 1):
        check(backend, backend.cumsum(backend.asarray(x), axis), np.cumsum(x, axis))
        want = np.flip(np.cumsum(np.flip(g, axis), axis), axis)
        check(backend, backend.cumsum_vjp(backend.asarray(g), axis), want.astype(dtype))
    check(backend, backend.prod(backend.asarray(x), (1,), False), np.prod(x, 1))
    gp = np.array([[2.0], [3.0]], dtype)
    got = backend.prod_vjp(backend.asarray(gp), backend.asarray(x), (1,))
    # row 0 has one zero: only it gets the product of the others; row 1 has two: all 0
    check(backend, got, np.array([[0, 2 * (1.5 * -2 * 3), 0, 0], [0, 0, 0, 0]], dtype))


def test_sort_gather_and_gather_vjp(backend):
    x = np.array([[3.0, 1.0, 2.0, 1.0], [0.5, -1.0, 4.0, 0.0]], np.float32)
    vals, idx = backend.sort(backend.asarray(x), 1)
    np.testing.assert_array_equal(backend.to_numpy(idx), [[1, 3, 2, 0], [1, 3, 0, 2]])  # stable
    check(backend, vals, np.sort(x, 1))
    vals, idx = backend.sort(backend.asarray(x), 0, True)
    check(backend, vals, -np.sort(-x, 0))
    index = np.array([[0, 0, 3], [2, 1, 2]], np.int64)
    got = backend.gather(backend.asarray(x), backend.asarray(index), 1)
    check(backend, got, np.take_along_axis(x, index, 1))
    g = np.ones((2, 3), np.float32)
    back = backend.gather_vjp(backend.asarray(g), backend.asarray(index), 1, x.shape)
    check(backend, back, np.array([[2, 0, 0, 1], [0, 1, 2, 0]], np.float32))   # repeats add


def _brute_scan_vjp(x, g, axis, f):
    """sum_{i >= j} g_i d f(x[:i+1]) / d x_j by central differences of each prefix (float64)"""
    x, g = np.moveaxis(x.astype(np.float64), axis, -1), np.moveaxis(g.astype(np.float64), axis, -1)
    out = np.zeros_like(x)
    for r in np.ndindex(x.shape[:-1]):
        for j in range(x.shape[-1]):
            for i in range(j, x.shape[-1]):
                hi, lo = x[r][:i + 1].copy(), x[r][:i + 1].copy()
                hi[j] += 1e-6
                lo[j] -= 1e-6
                out[r][j] += g[r][i] * (f(hi) - f(lo)) / 2e-6
    return np.moveaxis(out, -1, axis)


@dtype_params
def test_cumprod_logcumsumexp_and_their_vjps(backend, dtype):
    if not computes(backend, dtype):
        return
    x = np.array([[1.5, 0.0, -2.0, 3.0, 0.0], [0.5, 2.0, -1.0, 0.0, 1.5],
                  [0.7, -1.2, 1.1, 2.0, 0.9]], dtype)
    g = randn(3, 5, dtype=dtype, seed=4)
    for axis in (0, 1):
        check(backend, backend.cumprod(backend.asarray(x), axis), np.cumprod(x, axis))
        want = _brute_scan_vjp(x, g, axis, np.prod).astype(dtype)   # exact with zeros
        check(backend, backend.cumprod_vjp(backend.asarray(g), backend.asarray(x), axis), want,
              loose=True, atol=1e-4 if dtype == np.float32 else 1e-7)
        y = backend.logcumsumexp(backend.asarray(x), axis)
        want = np.log(np.cumsum(np.exp(x.astype(np.float64)), axis)).astype(dtype)
        check(backend, y, want)
        want = _brute_scan_vjp(x, g, axis, lambda v: np.log(np.sum(np.exp(v)))).astype(dtype)
        got = backend.logcumsumexp_vjp(backend.asarray(g), backend.asarray(x), y, axis)
        check(backend, got, want, loose=True, atol=1e-4 if dtype == np.float32 else 1e-7)
    big = np.array([1e4, 1e4, -np.inf, 1e4 + 1], dtype)               # no overflow, -inf is e^0
    want = np.array([1e4, 1e4 + np.log(2), 1e4 + np.log(2), 1e4 + 1 + np.log1p(2 * np.exp(-1))])
    check(backend, backend.logcumsumexp(backend.asarray(big), 0), want.astype(dtype))


def test_cummax_cummin(backend):
    nan = np.nan
    x = np.array([[1.0, 3.0, 2.0, 3.0, 0.0, 5.0], [2.0, nan, 4.0, nan, 1.0, 9.0]], np.float32)
    v, i = backend.cummax(backend.asarray(x), 1)
    check(backend, v, np.array([[1, 3, 3, 3, 3, 5], [2, nan, nan, nan, nan, nan]], np.float32),
          equal_nan=True)
    # ties move the index to the latest position; a NaN stays, each new NaN takes the index
    np.testing.assert_array_equal(backend.to_numpy(i), [[0, 1, 1, 3, 3, 5], [0, 1, 1, 3, 3, 3]])
    v, i = backend.cummin(backend.asarray(x[:1]), 1)
    check(backend, v, np.array([[1, 1, 1, 1, 0, 0]], np.float32))
    np.testing.assert_array_equal(backend.to_numpy(i), [[0, 0, 0, 0, 4, 4]])
    v, i = backend.cummax(backend.asarray(np.zeros((0, 3), np.float32)), 0)
    assert backend.to_numpy(i).shape == (0, 3) and backend.to_numpy(i).dtype == np.int64


@pytest.mark.parametrize("reduce", [None, "sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_and_scatter_vjp(backend, reduce, include_self):
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], np.float32)
    index = np.array([[0, 2, 2], [1, 2, 0]], np.int64)
    src = np.array([[10.0, 3.0, 9.0], [20.0, 30.0, 40.0]], np.float32)
    want = a.copy()
    lists = {}
    for (i, j), k in np.ndenumerate(index):
        lists.setdefault((k, j), []).append(src[i, j])
    for (k, j), vals in lists.items():
        pool = ([a[k, j]] if include_self or reduce is None else []) + vals
        want[k, j] = {None: lambda p: p[-1], "sum": np.sum, "prod": np.prod, "mean": np.mean,
                      "amax": np.max, "amin": np.min}[reduce](pool)
    if reduce is None and not include_self:
        return
    out = backend.scatter(backend.asarray(a), backend.asarray(index), backend.asarray(src), 0,
                          reduce, include_self)
    check(backend, out, want)
    g = randn(3, 3, seed=2)
    ga, gs = backend.scatter_vjp(backend.asarray(g), backend.asarray(a), backend.asarray(index),
                                 backend.asarray(src), out, 0, reduce, include_self)
    if reduce in (None, "sum"):
        hit = np.zeros(a.shape, bool)
        hit[index, np.arange(3)] = True
        check(backend, ga, np.where(hit & (reduce is None or not include_self), 0, g))
        check(backend, gs, np.take_along_axis(g, index, 0))
    if reduce == "amax" and include_self:   # (2, 2): self 9 and src 9 tie: half each
        assert backend.to_numpy(ga)[2, 2] == pytest.approx(g[2, 2] / 2)
        assert backend.to_numpy(gs)[0, 2] == pytest.approx(g[2, 2] / 2)
    n = backend.scatter(backend.asarray(a), backend.asarray(index), 0.5, 0, None, True)
    check(backend, n, np.where(np.isin(np.arange(9).reshape(3, 3),
                                       index * 3 + np.arange(3)), 0.5, a).astype(np.float32))


# ---- recurrent layers ---------------------------------------------------------------------------


def np_lstm(gx, w_hh, h0, c0, reverse):
    """The LSTM recurrence, written out (float64): y = (h of every step, then the last c)."""
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    hs = h0.shape[1]
    h, c = h0, c0
    ys = [None] * gx.shape[0]
    for t in (range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0])):
        a = gx[t] + h @ w_hh.T
        i, f, g, o = sig(a[:, :hs]), sig(a[:, hs:2 * hs]), np.tanh(a[:, 2 * hs:3 * hs]), \
            sig(a[:, 3 * hs:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys[t] = h
    return np.stack(ys + [c])


def fd_vjp(fn, args, g, eps=1e-6):
    """d (g . fn(args)) / d each arg, by central differences in float64."""
    out = []
    for k, a in enumerate(args):
        d = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            hi, lo = [x.copy() for x in args], [x.copy() for x in args]
            hi[k][idx] += eps
            lo[k][idx] -= eps
            d[idx] = np.sum(g * (fn(*hi) - fn(*lo))) / (2 * eps)
        out.append(d)
    return out


@dtype_params
@pytest.mark.parametrize("steps,n,hs", [(4, 3, 5), (1, 1, 1), (3, 2, 7)])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_and_lstm_vjp(backend, steps, n, hs, reverse, dtype):
    if not computes(backend, dtype):
        return
    gx, w = randn(steps, n, 4 * hs, dtype=dtype, seed=1), randn(4 * hs, hs, dtype=dtype, seed=2)
    h0, c0 = randn(n, hs, dtype=dtype, seed=3), randn(n, hs, dtype=dtype, seed=4)
    args = [f64(a) for a in (gx, w, h0, c0)]
    want = np_lstm(*args, reverse)
    y, saved = backend.lstm(*(backend.asarray(a) for a in (gx, w, h0, c0)), reverse)
    check(backend, y, want.astype(dtype), loose=True)
    g = randn(*want.shape, dtype=dtype, seed=5)
    grads = backend.lstm_vjp(backend.asarray(g), saved, reverse)
    wants = fd_vjp(lambda *a: np_lstm(*a, reverse), args, f64(g))
    assert len(grads) == 4
    for got, ref in zip(grads, wants):
        check(backend, got, ref.astype(dtype), rtol=1e-4 if dtype == np.float32 else 1e-7,
              atol=1e-4 if dtype == np.float32 else 1e-7)


def test_cpu_float32_cell_activations_match_the_rules():
    """The float32 LSTM cell's own vectorised sigmoid and tanh (minigrad/backends/_cpu.pyx)
    agree with the rules to a few ulp, at 0, tiny, large, infinite and NaN arguments."""
    from minigrad.backends import _cpu
    x = np.concatenate([np.linspace(-100, 100, 200001), [0.0, -0.0, 1e-30, -1e-8, 0.0625,
                                                         -0.0625, 88.0, -88.0, 1e4, -1e4]])
    x = x.astype(np.float32)
    sig, th = np.empty_like(x), np.empty_like(x)
    _cpu.sigmoid_tanh_f32(x, sig, th)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(th, rules.TANH.forward(XP, x64), rtol=6e-7, atol=0)
    want = rules.SIGMOID.forward(XP, x64)
    np.testing.assert_allclose(sig, want, rtol=6e-7, atol=2e-38)
    special = np.array([np.inf, -np.inf, np.nan], np.float32)
    _cpu.sigmoid_tanh_f32(special, sig[:3], th[:3])
    np.testing.assert_array_equal(th[:3], [1.0, -1.0, np.nan])
    assert sig[0] == 1.0 and 0 <= sig[1] < 1e-37 and np.isnan(sig[2])


def np_gru(gx, w_hh, b_hh, h0, reverse):
    """The GRU recurrence, written out (float64): h of every step."""
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    hs = h0.shape[1]
    h = h0
    ys = [None] * gx.shape[0]
    for t in (range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0])):
        gh = h @ w_hh.T + b_hh
        r, z = sig(gx[t, :, :hs] + gh[:, :hs]), sig(gx[t, :, hs:2 * hs] + gh[:, hs:2 * hs])
        n = np.tanh(gx[t, :, 2 * hs:] + r * gh[:, 2 * hs:])
        h = (1 - z) * n + z * h
        ys[t] = h
    return np.stack(ys)


@dtype_params
@pytest.mark.parametrize("steps,n,hs", [(4, 3, 5), (1, 1, 1), (3, 2, 7)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_and_gru_vjp(backend, steps, n, hs, reverse, bias, dtype):
    if not computes(backend, dtype):
        return
    gx, w = randn(steps, n, 3 * hs, dtype=dtype, seed=1), randn(3 * hs, hs, dtype=dtype, seed=2)
    b, h0 = randn(3 * hs, dtype=dtype, seed=3), randn(n, hs, dtype=dtype, seed=4)
    args = [f64(a) for a in (gx, w, b if bias else np.zeros_like(b), h0)]
    want = np_gru(*args, reverse)
    y, saved = backend.gru(backend.asarray(gx), backend.asarray(w),
                           backend.asarray(b) if bias else None, backend.asarray(h0), reverse)
    check(backend, y, want.astype(dtype), loose=True)
    g = randn(*want.shape, dtype=dtype, seed=5)
    dgx, dw, db, dh0 = backend.gru_vjp(backend.asarray(g), saved, reverse)
    wants = fd_vjp(lambda *a: np_gru(*a, reverse), args, f64(g))
    tol = 1e-4 if dtype == np.float32 else 1e-7
    for got, ref in zip((dgx, dw, db, dh0), wants):
        if got is None:
            assert not bias
            continue
        check(backend, got, ref.astype(dtype), rtol=tol, atol=tol)


# ---- batch normalisation in training -------------------------------------------------------------


@dtype_params
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (7, 2), (3, 5, 1), (2, 1, 3, 3)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_and_batch_norm_vjp(backend, shape, affine, dtype):
    """cpu and reference compute training-mode batch normalisation in one call; OpenCL has no
    such function and runs the composite (minigrad.functional.batch_norm)."""
    if not hasattr(backend, "batch_norm"):
        assert backend.name == "opencl"
        return
    x = randn(*shape, dtype=dtype, seed=1) * 3 + 2
    w, b = randn(shape[1], dtype=dtype, seed=2), randn(shape[1], dtype=dtype, seed=3)
    axes = (0, *range(2, len(shape)))
    bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
    x64 = f64(x)
    mean, var = x64.mean(axes), x64.var(axes)

    def fwd(x, w, b):
        xh = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
        return xh * w.reshape(bshape) + b.reshape(bshape)
    w64, b64 = (f64(w), f64(b)) if affine else (np.ones(shape[1]), np.zeros(shape[1]))
    y, m, v, saved = backend.batch_norm(backend.asarray(x), backend.asarray(w) if affine else None,
                                        backend.asarray(b) if affine else None, 1e-5)
    check(backend, y, fwd(x64, w64, b64).astype(dtype), loose=True)
    check(backend, m, mean.astype(dtype), loose=True)
    check(backend, v, var.astype(dtype), loose=True)
    g = randn(*shape, dtype=dtype, seed=4)
    dx, dw, db = backend.batch_norm_vjp(backend.asarray(g), saved, True, True, True)
    want = fd_vjp(fwd, [x64, w64, b64], f64(g))
    tol = 1e-4 if dtype == np.float32 else 1e-7
    check(backend, dx, want[0].astype(dtype), rtol=tol, atol=tol)
    check(backend, db, want[2].astype(dtype), rtol=tol, atol=tol)
    if affine:
        check(backend, dw, want[1].astype(dtype), rtol=tol, atol=tol)
    else:
        assert dw is None
    assert backend.batch_norm_vjp(backend.asarray(g), saved, False, False, False) == \
        (None, None, None)
