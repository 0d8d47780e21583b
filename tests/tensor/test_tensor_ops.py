"""Every tensor op against finite differences (float64), over random broadcasting shapes and dims.

Finite differences are the ground truth: ``gradcheck`` compares each analytic input gradient with
central differences. Inputs stay away from kinks (relu/abs at 0, clip bounds, max ties) and outside
the domains' edges (log, sqrt, division by ~0), where finite differences mean nothing.

Each loss is ``(op(...) * w).sum()`` with a fixed random ``w``: with a plain ``sum()`` every
upstream gradient would be 1 and a backward that ignores its incoming gradient would still pass.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minigrad as mg
import minigrad.functional as F
from minigrad.testing import gradcheck

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def t64(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype="float64", requires_grad=True)


def weighted(out, seed=0):
    """(out * w).sum() with a fixed random w of out's shape."""
    w = np.random.default_rng(seed).standard_normal(out.shape)
    return (out * mg.tensor(w, dtype=out.dtype)).sum()


def away_from_zero(r, shape, lo=0.3, hi=2.0):
    return r.uniform(lo, hi, shape) * r.choice([-1.0, 1.0], shape)


def distinct(r, shape):
    """Values with gaps of at least 0.1: no ties for max/min."""
    n = int(np.prod(shape))
    return (r.permutation(n) * 0.1 - 0.05 * n).reshape(shape) + r.uniform(0, 0.01, shape)


# ---- binary ops, every broadcasting pattern --------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),
}


def binary_inputs(name, r, sa, sb):
    if name == "pow":
        return r.uniform(0.5, 2.0, sa), r.uniform(-2.0, 2.0, sb)
    if name == "div":
        return r.standard_normal(sa), away_from_zero(r, sb)
    return r.standard_normal(sa), r.standard_normal(sb)


@pytest.mark.parametrize("name", sorted(BINARY))
@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=seeds)
def test_binary_broadcasting(name, shapes, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    r = np.random.default_rng(seed)
    a, b = binary_inputs(name, r, sa, sb)
    op, ref = BINARY[name]
    out = op(t64(a), t64(b))
    assert out.shape == out_shape
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-12)
    assert gradcheck(lambda x, y: weighted(op(x, y), seed), [t64(a), t64(b)])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_only_one_side_requires_grad(name, rng):
    a, b = binary_inputs(name, rng, (3, 1), (4,))
    op = BINARY[name][0]
    x = t64(a)
    weighted(op(x, mg.tensor(b, dtype="float64"))).backward()
    assert x.grad.shape == (3, 1)
    y = t64(b)
    weighted(op(mg.tensor(a, dtype="float64"), y)).backward()
    assert y.grad.shape == (4,)


@pytest.mark.parametrize("fn,ref", [
    (lambda x: x + 2.0, lambda a: a + 2.0),
    (lambda x: 2.0 + x, lambda a: 2.0 + a),
    (lambda x: x - 2.0, lambda a: a - 2.0),
    (lambda x: 2.0 - x, lambda a: 2.0 - a),
    (lambda x: x * 3.0, lambda a: a * 3.0),
    (lambda x: 3.0 * x, lambda a: 3.0 * a),
    (lambda x: x / 4.0, lambda a: a / 4.0),
    (lambda x: 4.0 / x, lambda a: 4.0 / a),
    (lambda x: x ** 3, lambda a: a ** 3),
    (lambda x: x ** 0.5, lambda a: a ** 0.5),
    (lambda x: 2.0 ** x, lambda a: 2.0 ** a),
    (lambda x: -x, lambda a: -a),
    (lambda x: x.neg(), lambda a: -a),
    (lambda x: x + np.full((2, 3), 0.5), lambda a: a + 0.5),
    (lambda x: np.full((2, 3), 0.5) * x, lambda a: 0.5 * a),
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow3", "pow_half",
        "rpow", "neg", "neg_method", "add_ndarray", "rmul_ndarray"])
def test_number_operands(fn, ref, rng):
    a = rng.uniform(0.5, 2.0, (2, 3))
    np.testing.assert_allclose(fn(t64(a)).numpy(), ref(a), rtol=1e-12)
    assert gradcheck(lambda x: weighted(fn(x)), [t64(a)])


# ---- unary ops ---------------------------------------------------------------------------------

UNARY = {
    # name: (op, numpy reference, input generator)
    "exp": (lambda x: x.exp(), np.exp, lambda r, s: r.uniform(-2, 2, s)),
    "log": (lambda x: x.log(), np.log, lambda r, s: r.uniform(0.2, 3, s)),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, lambda r, s: r.uniform(0.2, 3, s)),
    "sin": (lambda x: x.sin(), np.sin, lambda r, s: r.uniform(-3, 3, s)),
    "cos": (lambda x: x.cos(), np.cos, lambda r, s: r.uniform(-3, 3, s)),
    "tanh": (lambda x: x.tanh(), np.tanh, lambda r, s: r.uniform(-3, 3, s)),
    "sigmoid": (lambda x: x.sigmoid(), lambda a: 1 / (1 + np.exp(-a)),
                lambda r, s: r.uniform(-5, 5, s)),
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), away_from_zero),
    "abs": (lambda x: x.abs(), np.abs, away_from_zero),
    "abs_builtin": (abs, np.abs, away_from_zero),
    "neg": (lambda x: -x, np.negative, lambda r, s: r.standard_normal(s)),
    "clip": (lambda x: x.clip(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
             lambda r, s: away_from_zero(r, s, 0.05, 1.5) + 0.5 * np.sign(r.standard_normal(s))),
    "clip_min": (lambda x: x.clip(min=0.2), lambda a: np.clip(a, 0.2, None),
                 lambda r, s: away_from_zero(r, s, 0.05, 1.5) + 0.2),
    "clamp_max": (lambda x: x.clamp(max=-0.1), lambda a: np.clip(a, None, -0.1),
                  lambda r, s: away_from_zero(r, s, 0.05, 1.5) - 0.1),
    "F.relu": (F.relu, lambda a: np.maximum(a, 0), away_from_zero),
    "F.sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a)), lambda r, s: r.uniform(-5, 5, s)),
    "F.tanh": (F.tanh, np.tanh, lambda r, s: r.uniform(-3, 3, s)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FAST
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=seeds)
def test_unary(name, shape, seed):
    op, ref, gen = UNARY[name]
    r = np.random.default_rng(seed)
    a = gen(r, shape)
    out = op(t64(a))
    assert out.shape == shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), ref(a), rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda x: weighted(op(x), seed), [t64(a)])


def test_clip_gradient_is_zero_outside_the_bounds():
    x = t64([-2.0, -0.3, 0.4, 3.0])
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 0.0])


# ---- reductions -------------------------------------------------------------------------------


@st.composite
def shape_and_dim(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, max_side=4))
    kind = draw(st.sampled_from(["none", "int", "neg", "tuple"]))
    nd = len(shape)
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = draw(st.integers(0, nd - 1))
    elif kind == "neg":
        dim = draw(st.integers(-nd, -1))
    else:
        dim = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
    return shape, dim, draw(st.booleans())


def np_dim(dim):
    return dim if dim is None or isinstance(dim, tuple) else (dim,)


@pytest.mark.parametrize("name,ref", [("sum", np.sum), ("mean", np.mean), ("amax", np.max),
                                      ("amin", np.min)])
@FAST
@given(sdk=shape_and_dim(), seed=seeds)
def test_reductions(name, ref, sdk, seed):
    shape, dim, keepdim = sdk
    a = distinct(np.random.default_rng(seed), shape)
    x = t64(a)
    out = getattr(x, name)(dim, keepdim)
    expected = ref(a, axis=np_dim(dim), keepdims=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: weighted(getattr(x, name)(dim, keepdim), seed), [t64(a)])


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions_keyword_arguments(name, rng):
    a = distinct(rng, (2, 3, 4))
    out = getattr(t64(a), name)(dim=1, keepdim=True)
    out = out.values if name in ("max", "min") else out   # (values, indices), as torch
    np.testing.assert_allclose(out.numpy(), getattr(np, name)(a, axis=1, keepdims=True))


def test_amax_ties_split_the_gradient():
    x = t64([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


def test_max_along_a_dim_is_values_and_indices_and_the_gradient_goes_to_the_index():
    x = t64([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    values, indices = x.max(dim=1)
    assert indices.tolist() == [1, 0] and x.max(1).indices.dtype == np.int64
    values.sum().backward()             # torch: to the index returned, not split among ties
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    assert x.min(0, keepdim=True).values.shape == (1, 3)


def test_max_of_everything_and_0d_tensors():
    x = t64([[1.0, 5.0], [2.0, 0.0]])
    m = x.max()
    assert m.shape == () and m.item() == 5.0
    m.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1], [0, 0]])
    s = t64(3.0)
    assert s.sum().item() == 3.0 and s.mean().item() == 3.0


# ---- shape ops ---------------------------------------------------------------------------------

SHAPE_OPS = {
    "reshape": (lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6)),
    "reshape_tuple": (lambda x: x.reshape((3, -1)), lambda a: a.reshape(3, -1)),
    "view": (lambda x: x.view(-1), lambda a: a.reshape(-1)),
    "flatten": (lambda x: x.flatten(), lambda a: a.reshape(-1)),
    "flatten_1": (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    "flatten_0_1": (lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4)),
    "transpose": (lambda x: x.transpose(0, 2), lambda a: a.transpose(2, 1, 0)),
    "transpose_default": (lambda x: x.transpose(), lambda a: np.swapaxes(a, -1, -2)),
    "permute": (lambda x: x.permute(1, 2, 0), lambda a: a.transpose(1, 2, 0)),
    "permute_tuple": (lambda x: x.permute((2, 0, 1)), lambda a: a.transpose(2, 0, 1)),
    "T": (lambda x: x.T, lambda a: a.T),
    "unsqueeze": (lambda x: x.unsqueeze(1), lambda a: a[:, None]),
    "unsqueeze_neg": (lambda x: x.unsqueeze(-1), lambda a: a[..., None]),
    "squeeze": (lambda x: x.unsqueeze(0).unsqueeze(3).squeeze(), lambda a: a),
    "squeeze_dim": (lambda x: x.unsqueeze(2).squeeze(2), lambda a: a),
    "expand": (lambda x: x[:, :1].expand(2, 5, 4), lambda a: np.broadcast_to(a[:, :1], (2, 5, 4))),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_ops(name, rng):
    a = rng.standard_normal((2, 3, 4))
    op, ref = SHAPE_OPS[name]
    out = op(t64(a))
    np.testing.assert_array_equal(out.numpy(), ref(a))
    assert gradcheck(lambda x: weighted(op(x)), [t64(a)])


def test_transpose_of_a_matrix_and_a_vector(rng):
    a = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(t64(a).T.numpy(), a.T)
    v = rng.standard_normal(4)
    np.testing.assert_array_equal(t64(v).T.numpy(), v)
    assert gradcheck(lambda x: weighted(x.T @ x), [t64(a)])


# ---- indexing ------------------------------------------------------------------------------------

INDICES = {
    "int": 1,
    "neg_int": -1,
    "int_int": (1, 2),
    "slice": slice(1, None),
    "step": (slice(None), slice(None, None, 2)),
    "neg_step": (slice(None, None, -1), slice(3, 0, -2)),
    "ellipsis": (Ellipsis, 0),
    "none": (None, 1),
    "int_array": np.array([2, 0]),
    "repeated": np.array([0, 0, 2, 0]),
    "list_repeated": [1, 1, 1],
    "pair_arrays": (np.array([0, 2, 0]), np.array([1, 1, 1])),
    "bool_mask": np.array([True, False, True]),
    "mixed": (slice(0, 2), np.array([3, 3, 0])),
}


@pytest.mark.parametrize("name", sorted(INDICES))
def test_getitem(name, rng):
    a = rng.standard_normal((3, 4))
    idx = INDICES[name]
    out = t64(a)[idx]
    np.testing.assert_array_equal(out.numpy(), a[idx])
    assert gradcheck(lambda x: weighted(x[idx]), [t64(a)])


def test_getitem_repeated_indices_add_up():
    x = t64([1.0, 2.0, 3.0])
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_getitem_with_tensor_index(rng):
    a = rng.standard_normal((5, 2))
    idx = mg.tensor([4, 4, 1])
    out = t64(a)[idx]
    np.testing.assert_array_equal(out.numpy(), a[[4, 4, 1]])


# ---- cat, stack, where ---------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim, rng):
    along_1 = [(2, 1), (2, 2), (2, 4)]
    shapes = {0: [(1, 3), (2, 3), (3, 3)], 1: along_1, -1: along_1}
    arrays = [rng.standard_normal(s) for s in shapes[dim]]
    out = mg.cat([t64(a) for a in arrays], dim)
    np.testing.assert_array_equal(out.numpy(), np.concatenate(arrays, dim))
    assert gradcheck(lambda *xs: weighted(mg.cat(xs, dim)), [t64(a) for a in arrays])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim, rng):
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    out = mg.stack([t64(a) for a in arrays], dim)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays, dim))
    assert gradcheck(lambda *xs: weighted(mg.stack(xs, dim)), [t64(a) for a in arrays])


@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=seeds)
def test_where_broadcasting(shapes, seed):
    sc, sa, sb = shapes.input_shapes
    r = np.random.default_rng(seed)
    cond = r.random(sc) > 0.5
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    out = mg.where(cond, t64(a), t64(b))
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
    assert gradcheck(lambda x, y: weighted(mg.where(mg.tensor(cond), x, y), seed),
                     [t64(a), t64(b)])


def test_where_with_a_number(rng):
    a = rng.standard_normal((3, 4))
    assert gradcheck(lambda x: weighted(mg.where(a > 0, x, 0.0)), [t64(a)])


# ---- matmul --------------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 2)),
    ((1, 4), (4, 1)),
    ((4,), (4, 2)),            # vector @ matrix
    ((3, 4), (4,)),            # matrix @ vector
    ((4,), (4,)),              # dot product: a 0-d result
    ((2, 3, 4), (2, 4, 5)),    # batched
    ((2, 3, 4), (4, 5)),       # batch broadcast on the left
    ((3, 4), (2, 4, 5)),       # batch broadcast on the right
    ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast against each other
    ((4,), (2, 4, 3)),         # vector @ batch
    ((2, 3, 4), (4,)),         # batch @ vector
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul(sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = t64(a) @ t64(b)
    assert out.shape == np.matmul(a, b).shape
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12)
    np.testing.assert_allclose(mg.matmul(t64(a), t64(b)).numpy(), np.matmul(a, b), rtol=1e-12)
    assert gradcheck(lambda x, y: weighted(x @ y), [t64(a), t64(b)])


def test_matmul_with_ndarray_operands(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    np.testing.assert_allclose((t64(a) @ b).numpy(), a @ b)
    np.testing.assert_allclose((a @ t64(b)).numpy(), a @ b)
    assert gradcheck(lambda y: weighted(a @ y), [t64(b)])


# ---- functional ----------------------------------------------------------------------------------


def np_softmax(a, dim):
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                                       ((2, 3, 4), 0), ((2, 3, 4), 2)])
def test_softmax_and_log_softmax(shape, dim, rng):
    a = rng.standard_normal(shape) * 3
    np.testing.assert_allclose(F.softmax(t64(a), dim).numpy(), np_softmax(a, dim), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(t64(a), dim).numpy(), np.log(np_softmax(a, dim)),
                               rtol=1e-12)
    np.testing.assert_allclose(t64(a).softmax(dim).numpy(), np_softmax(a, dim), rtol=1e-12)
    assert gradcheck(lambda x: weighted(F.softmax(x, dim)), [t64(a)])
    assert gradcheck(lambda x: weighted(F.log_softmax(x, dim)), [t64(a)])
    assert gradcheck(lambda x: weighted(x.log_softmax(dim)), [t64(a)])


@pytest.mark.parametrize("xshape", [(4, 3), (3,), (2, 5, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias, rng):
    x, w, b = rng.standard_normal(xshape), rng.standard_normal((2, 3)), rng.standard_normal(2)
    expected = x @ w.T + (b if bias else 0)
    out = F.linear(t64(x), t64(w), t64(b) if bias else None)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    ins = [t64(x), t64(w)] + ([t64(b)] if bias else [])
    assert gradcheck(lambda *xs: weighted(F.linear(*xs)), ins)


def np_cross_entropy(a, t):
    return -np.log(np_softmax(a, 1))[np.arange(len(t)), t]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@FAST
@given(n=st.integers(1, 5), c=st.integers(1, 5), seed=seeds)
def test_cross_entropy(reduction, n, c, seed):
    r = np.random.default_rng(seed)
    a, t = r.standard_normal((n, c)) * 2, r.integers(0, c, n)
    losses = np_cross_entropy(a, t)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    out = F.cross_entropy(t64(a), mg.tensor(t), reduction=reduction)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: weighted(F.cross_entropy(x, t, reduction=reduction), seed),
                     [t64(a)])


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    a, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    x = t64(a)
    F.cross_entropy(x, t).backward()
    onehot = np.eye(3)[t]
    np.testing.assert_allclose(x.grad.numpy(), (np_softmax(a, 1) - onehot) / 4, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction, rng):
    a, t = rng.standard_normal((5, 3)), np.array([0, 2, 2, 1, 0])
    picked = -a[np.arange(5), t]
    expected = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    np.testing.assert_allclose(F.nll_loss(t64(a), t, reduction).numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: weighted(F.nll_loss(x, t, reduction)), [t64(a)])
    # nll_loss(log_softmax) is cross_entropy
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(t64(a), 1), t, reduction).numpy(),
                               F.cross_entropy(t64(a), t, reduction).numpy(), rtol=1e-12)
    assert gradcheck(lambda x: weighted(F.nll_loss(F.log_softmax(x, -1), t, reduction)),
                     [t64(a)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    sq = (a - b) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(F.mse_loss(t64(a), t64(b), reduction).numpy(), expected,
                               rtol=1e-12)
    assert gradcheck(lambda x, y: weighted(F.mse_loss(x, y, reduction)), [t64(a), t64(b)])


# ---- convolution and pooling (the Cython kernels) ------------------------------------------------


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
def test_conv2d(stride, padding, rng):
    x, w, b = (rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2)),
               rng.standard_normal(4))
    assert gradcheck(lambda *a: weighted(F.conv2d(*a, stride=stride, padding=padding)),
                     [t64(x), t64(w), t64(b)])


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_pooling(kernel, stride, rng):
    a = distinct(rng, (2, 2, 5, 6))
    assert gradcheck(lambda x: weighted(F.max_pool2d(x, kernel, stride)), [t64(a)])
    assert gradcheck(lambda x: weighted(F.avg_pool2d(x, kernel, stride)), [t64(a)])


# ---- graphs made of several ops ------------------------------------------------------------------


def test_mlp_end_to_end(rng):
    x, t = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    w1, b1 = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w2, b2 = rng.standard_normal((3, 6)), rng.standard_normal(3)

    def loss(w1, b1, w2, b2):
        h = F.sigmoid(F.linear(mg.tensor(x, dtype="float64"), w1, b1))
        return F.cross_entropy(F.linear(h, w2, b2), t)

    assert gradcheck(loss, [t64(w1), t64(b1), t64(w2), t64(b2)])


def test_residual_path_reuses_a_tensor(rng):
    # y = a + f(a): a is reached by a short and a long path; both must reach x.
    a = rng.standard_normal(3)

    def fn(x):
        h = x * 2.0
        return weighted(h + (h * 3.0).tanh())

    assert gradcheck(fn, [t64(a)])
