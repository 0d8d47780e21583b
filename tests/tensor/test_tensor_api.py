"""The Tensor API, error messages on bad input, the seed-004 worked examples, and the compiled
kernels on awkward input (non-contiguous views, huge values)."""

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def t64(a, requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype="float64",
                     requires_grad=requires_grad)


# ---- seed-004 worked examples --------------------------------------------------------------------


def test_seed004_two_by_two_layer():
    f = mg.tensor([1.0, 2.0])
    W = mg.tensor([[3.0, 4.0], [7.0, 1.0]], requires_grad=True)
    b = mg.tensor([0.5, 0.3], requires_grad=True)
    c = W @ f + b
    np.testing.assert_allclose(c.numpy(), [11.5, 9.3], rtol=1e-6)
    np.testing.assert_allclose(F.linear(f, W, b).numpy(), [11.5, 9.3], rtol=1e-6)
    c.sum().backward()
    np.testing.assert_array_equal(W.grad.numpy(), [[1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("f1,expected", [(4, 0.6444), (5, 0.2873), (6, 0.1155), (10, 0.0022)])
def test_seed004_cross_entropy_table(f1, expected):
    f = np.array([f1, 2.0, 1.9])
    logits = mg.tensor([[f[0], f[1] + f[2]]])  # c1 = f1, c2 = f2 + f3
    loss = F.cross_entropy(logits, mg.tensor([0]))
    assert round(loss.item(), 4) == expected
    loss64 = F.cross_entropy(t64([[f[0], f[1] + f[2]]]), [0])
    assert round(loss64.item(), 4) == expected


def test_seed004_softmax_backward_exercise():
    h = t64([-10.0, 20.0], requires_grad=False)
    W = t64([[1.0, 2.0], [2.0, 1.0]])
    b = t64([0.0, 0.0])
    c = h @ W + b
    c.retain_grad()
    np.testing.assert_array_equal(c.numpy(), [30.0, 0.0])
    loss = F.cross_entropy(c.reshape(1, 2), [1])
    assert loss.item() == pytest.approx(30.0, abs=1e-6)
    loss.backward()
    np.testing.assert_allclose(c.grad.numpy(), [1.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(W.grad.numpy(), [[-10.0, 10.0], [20.0, -20.0]], atol=1e-9)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, -1.0], atol=1e-9)


# ---- dtypes --------------------------------------------------------------------------------------


def test_float32_is_the_default():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(1.5).dtype == np.float32
    assert mg.tensor([[1, 2]]).dtype == np.int64
    for make in (mg.zeros, mg.ones, mg.randn, mg.rand):
        assert make(2, 3).dtype == np.float32
    assert mg.arange(4).dtype == np.int64
    assert mg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert mg.full((2,), 3.0).dtype == np.float32


def _every_op(x, w, t):
    """A graph touching every kind of op, for dtype checks."""
    h = F.linear(x, w) + x[:, :2].sum(1, keepdim=True) * 0.5
    h = (h.exp() + h.sigmoid() + h.tanh() + h.relu() + h.abs().sqrt() + (h * h + 1.0).log()) / 3
    h = (h - h.mean(0)) ** 2 - h.amax(1, keepdim=True) + h.min()
    h = mg.cat([h, h.T.T], 1)[:, :3].clip(-5, 5)
    img = h.reshape(1, 1, 3, 3).expand(2, 1, 3, 3)
    img = F.avg_pool2d(F.max_pool2d(img, 2, 1), 1)
    k = w[:1, :1].reshape(1, 1, 1, 1)
    h = F.conv2d(img, k).flatten(1)[:, :3] + mg.stack([h[0], h[1]]).softmax(-1)
    return F.cross_entropy(h, t) + F.mse_loss(h, h.detach() * 0.5) + F.nll_loss(
        h.log_softmax(-1), t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_ops_and_gradients(dtype, rng):
    x = mg.tensor(rng.standard_normal((3, 3)), dtype=dtype, requires_grad=True)
    w = mg.tensor(rng.standard_normal((3, 3)), dtype=dtype, requires_grad=True)
    loss = _every_op(x, w, np.array([0, 2]))
    assert loss.dtype == dtype
    loss.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_of_each_op(dtype, rng):
    x = mg.tensor(rng.uniform(0.5, 1.5, (2, 3)), dtype=dtype, requires_grad=True)
    outs = [x + 1, 1 - x, x * 2, 2 / x, x ** 2, 2 ** x, -x, x.exp(), x.log(), x.sqrt(),
            x.tanh(), x.sigmoid(), x.relu(), x.abs(), x.clip(0.6, 1.2), x.sum(), x.mean(1),
            x.max(0).values, x @ x.T, x.softmax(-1), x.log_softmax(0), x[0], x.reshape(6)]
    for out in outs:
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad.dtype == dtype
        x.grad = None


def test_to_and_double_cast_differentiably():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert y.float().dtype == np.float32


# ---- properties and methods ----------------------------------------------------------------------


def test_properties():
    x = mg.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float32
    assert x.requires_grad and x.grad is None and x.is_leaf
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    assert x.numel() == 6 and len(x) == 2 and x.size() == (2, 3) and x.size(1) == 3
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert not mg.tensor([1.0]).requires_grad


def test_item():
    v = mg.tensor([[2.5]]).item()
    assert v == 2.5 and type(v) is float
    assert type(mg.tensor([3]).item()) is int
    assert mg.tensor([1.0, 2.0]).sum().item() == 3.0
    with pytest.raises(ValueError, match=r"\(2,\)"):
        mg.tensor([1.0, 2.0]).item()


def test_numpy_of_a_reduction_is_an_array():
    s = mg.tensor([1.0, 2.0]).sum()
    assert s.shape == ()
    assert isinstance(s.numpy(), np.ndarray) and s.numpy().shape == ()


def test_detach():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).detach()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [3.0, 6.0])
    z = (y * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])  # no gradient through y


def test_no_grad():
    w = mg.ones(2, requires_grad=True)
    with mg.no_grad():
        y = w * 2
        assert not mg.is_grad_enabled()
        with mg.no_grad():
            pass
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [2.0, 2.0])
    assert (w * 2).requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError), mg.no_grad():
        raise ZeroDivisionError
    assert mg.is_grad_enabled()


def test_factories():
    np.testing.assert_array_equal(mg.zeros(2, 3).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(mg.ones((3,)).numpy(), np.ones(3))
    np.testing.assert_array_equal(mg.arange(5).numpy(), np.arange(5))
    np.testing.assert_array_equal(mg.arange(2, 8, 3).numpy(), [2, 5])
    assert mg.zeros(2, dtype=np.float64).dtype == np.float64
    assert mg.randn(4, 5).shape == (4, 5)
    r = mg.rand(1000).numpy()
    assert r.min() >= 0.0 and r.max() < 1.0
    assert mg.ones(2, requires_grad=True).requires_grad
    np.testing.assert_array_equal(mg.zeros_like(mg.ones(2, 2)).numpy(), np.zeros((2, 2)))


def test_from_numpy_keeps_dtype_and_shares_memory():
    a = np.arange(4.0)
    t = mg.from_numpy(a)
    assert t.dtype == np.float64
    a[0] = 7.0
    assert t.numpy()[0] == 7.0
    with pytest.raises(TypeError):
        mg.from_numpy([1.0, 2.0])


def test_manual_seed_reproduces_the_numbers():
    mg.manual_seed(42)
    a, b = mg.randn(3, 4).numpy(), mg.rand(5).numpy()
    mg.manual_seed(42)
    np.testing.assert_array_equal(mg.randn(3, 4).numpy(), a)
    np.testing.assert_array_equal(mg.rand(5).numpy(), b)
    mg.manual_seed(43)
    assert not np.array_equal(mg.randn(3, 4).numpy(), a)


# ---- backpropagation -----------------------------------------------------------------------------


def test_gradients_accumulate_over_two_backward_calls():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_gradients_accumulate_on_a_0d_leaf():
    x = mg.tensor(2.0, requires_grad=True)
    (x * 3).backward()
    (x * 3).backward()
    assert x.grad.shape == ()
    assert x.grad.item() == 6.0


def test_backward_with_an_explicit_gradient():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(mg.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, -6.0])


def test_retain_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * h + k).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [6.0, 12.0])
    assert k.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [18 * 1 + 4, 18 * 2 + 4])


def test_diamond_graph_sums_the_paths():
    x = mg.tensor([3.0], requires_grad=True)
    a, b = x * 2, x * x                   # x feeds two branches that meet again
    (a * b).sum().backward()              # 2x^3 -> 6x^2
    np.testing.assert_allclose(x.grad.numpy(), [54.0])
    y = mg.tensor([3.0], requires_grad=True)
    (y * y + y).sum().backward()          # y used three times -> 2y + 1
    np.testing.assert_allclose(y.grad.numpy(), [7.0])


@pytest.mark.parametrize("order", ["short_first", "long_first"])
def test_a_tensor_reached_by_a_short_and_a_long_path(order):
    # r = a + 3a with a = 2x, so dr/dx = 8, whichever operand comes first.
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    r = a + a * 3 if order == "short_first" else a * 3 + a
    r.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 8.0])


def test_residual_block():
    x = mg.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    h = x * 1.0
    out = h + (h * 2.0).tanh() + (h + (h * 2.0).tanh()).sigmoid()
    out.sum().backward()
    a = x.numpy()
    t = np.tanh(2 * a)
    s = 1 / (1 + np.exp(-(a + t)))
    dt = 2 * (1 - t * t)
    np.testing.assert_allclose(x.grad.numpy(), 1 + dt + s * (1 - s) * (1 + dt), rtol=1e-12)


def test_deep_chain_does_not_hit_the_recursion_limit():
    x = mg.tensor([1.0], dtype="float64", requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000], rtol=1e-9)


def test_deep_chain_of_mixed_ops():
    x = mg.tensor([0.3], dtype="float64", requires_grad=True)
    y = x
    for _ in range(2500):
        y = (y + 0.0).tanh()
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_no_graph_for_constants():
    x = mg.tensor([1.0, 2.0])
    assert not (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


# ---- errors on bad input -------------------------------------------------------------------------


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError) as e:
        mg.ones(2, 3) @ mg.ones(4, 5)
    assert "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        mg.ones(3) @ mg.ones(4)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        mg.ones(2, 3, 4) @ mg.ones(3, 4, 5)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_broadcast_error_names_both_shapes(op):
    a, b = mg.ones(2, 3), mg.ones(4, 5)
    fn = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
          "div": lambda: a / b, "pow": lambda: a ** b}[op]
    with pytest.raises(ValueError) as e:
        fn()
    assert "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)


def test_broadcast_error_with_gradients_and_ndarray():
    a = mg.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        a + np.ones(2)


def test_cross_entropy_target_errors():
    logits = mg.ones(2, 3)
    with pytest.raises(TypeError, match="float"):
        F.cross_entropy(logits, mg.tensor([0.0, 1.0]))
    with pytest.raises(TypeError):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="NaN"):
        F.cross_entropy(logits, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(logits, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        F.cross_entropy(mg.ones(3), np.array([0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1]), reduction="avg")


def test_nll_loss_target_errors():
    logp = mg.ones(2, 3)
    with pytest.raises(TypeError):
        F.nll_loss(logp, np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        F.nll_loss(logp, np.array([0, 5]))


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = mg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        (x * 2).backward(mg.ones(3))


def test_bad_tensor_data():
    with pytest.raises(TypeError):
        mg.Tensor("abc")
    with pytest.raises(TypeError):
        mg.tensor(["a", "b"])
    with pytest.raises(TypeError):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        mg.tensor([1 + 2j])
    with pytest.raises(TypeError):
        mg.ones(2) + "x"


def test_conv2d_errors():
    x = mg.ones(1, 3, 5, 5)
    with pytest.raises(ValueError, match="channels") as e:
        F.conv2d(x, mg.ones(4, 2, 3, 3))
    assert "(1, 3, 5, 5)" in str(e.value) and "(4, 2, 3, 3)" in str(e.value)
    with pytest.raises(ValueError, match="larger"):
        F.conv2d(x, mg.ones(4, 3, 6, 3))
    with pytest.raises(ValueError, match="larger"):
        F.conv2d(x, mg.ones(4, 3, 3, 8), padding=1)
    F.conv2d(x, mg.ones(4, 3, 7, 7), padding=1)  # just fits
    with pytest.raises(ValueError):   # (C, H, W) is an unbatched input, as torch; (H, W) is not
        F.conv2d(mg.ones(5, 5), mg.ones(4, 3, 3, 3))
    with pytest.raises(ValueError):
        F.conv2d(x, mg.ones(4, 3, 3, 3), bias=mg.ones(3))
    with pytest.raises(ValueError):
        F.conv2d(x, mg.ones(4, 3, 3, 3), stride=0)


def test_pool_errors():
    with pytest.raises(ValueError):
        F.max_pool2d(mg.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError):
        F.avg_pool2d(mg.ones(2, 2), 2)      # (C, H, W) is an unbatched input, as in PyTorch


def test_shape_errors():
    x = mg.ones(2, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError):
        x.permute(0, 0)
    with pytest.raises(IndexError):
        x.sum(2)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        mg.cat([x, mg.ones(2, 2)], 0)
    with pytest.raises(ValueError):
        mg.stack([x, mg.ones(3, 2)])
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(2, 3\)"):
        F.linear(mg.ones(4, 2), mg.ones(3, 2).T)
    with pytest.raises(ValueError):
        F.mse_loss(x, mg.ones(3, 2))


# ---- compiled kernels on non-contiguous input (never a segfault) ---------------------------------


def views(a):
    """Non-contiguous views with the values of ``a``: transposed, and a slice with step."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    wide[..., ::2] = a
    return {"transposed": np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2),
            "stepped": wide[..., ::2]}


def run(fn, a, b=None):
    """fn on a leaf made from ``a`` (possibly a view): output and input gradient(s)."""
    x = mg.from_numpy(a, requires_grad=True)
    ins = [x] if b is None else [x, mg.from_numpy(b, requires_grad=True)]
    out = fn(*ins)
    w = np.random.default_rng(0).standard_normal(out.shape)
    (out * mg.tensor(w, dtype=out.dtype)).sum().backward()
    return [out.numpy()] + [t.grad.numpy() for t in ins]


def np_sigmoid(a):
    return 0.5 * (1 + np.tanh(a / 2))


ELEMENTWISE_KERNELS = {
    "sigmoid": (F.sigmoid, np_sigmoid),
    "relu": (F.relu, lambda a: np.maximum(a, 0)),
    "tanh": (F.tanh, np.tanh),
    "softmax": (lambda x: F.softmax(x, -1),
                lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    "softmax_dim0": (lambda x: F.softmax(x, 0),
                     lambda a: np.exp(a) / np.exp(a).sum(0, keepdims=True)),
    "log_softmax": (lambda x: F.log_softmax(x, -1),
                    lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True))),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["transposed", "stepped"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE_KERNELS))
def test_kernels_on_non_contiguous_input(name, kind, dtype, rng):
    a = rng.standard_normal((5, 7)).astype(dtype)
    v = views(a)[kind]
    assert not v.flags.c_contiguous
    fn, ref = ELEMENTWISE_KERNELS[name]
    out, grad = run(fn, v)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref(a.astype(np.float64)), rtol=tol, atol=tol)
    out_c, grad_c = run(fn, a.copy())
    np.testing.assert_allclose(out, out_c, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, grad_c, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["transposed", "stepped"])
def test_kernel_backward_with_non_contiguous_gradient(kind, rng):
    # The upstream gradient of the fused backwards arrives as a transposed view here.
    a = rng.standard_normal((4, 6))
    for fn, dfn in [(F.sigmoid, lambda y, a: y * (1 - y)), (F.tanh, lambda y, a: 1 - y * y),
                    (F.relu, lambda y, a: (a > 0) * 1.0)]:
        x = mg.from_numpy(views(a)[kind], requires_grad=True)
        g = rng.standard_normal((6, 4))
        (fn(x).T * mg.tensor(g, dtype="float64")).sum().backward()
        y = fn(mg.tensor(a, dtype="float64")).numpy()
        np.testing.assert_allclose(x.grad.numpy(), g.T * dfn(y, a), rtol=1e-12)


@pytest.mark.parametrize("kind", ["transposed", "stepped"])
def test_cross_entropy_on_non_contiguous_logits(kind, rng):
    a = rng.standard_normal((5, 4)) * 3
    t = np.array([3, 0, 1, 1, 2])
    v = views(a)[kind]
    x = mg.from_numpy(v, requires_grad=True)
    loss = F.cross_entropy(x, t[::-1].copy()[::-1])
    p = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    assert loss.item() == pytest.approx(-np.log(p[np.arange(5), t]).mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(4)[t]) / 5, rtol=1e-10)
    stepped_t = np.repeat(t, 2)[::2]
    loss2 = F.cross_entropy(mg.from_numpy(v), stepped_t, reduction="none")
    np.testing.assert_allclose(loss2.numpy(), -np.log(p[np.arange(5), t]), rtol=1e-12)


def np_conv2d(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, o, 1, 1)


def np_pool(x, k, s, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def nchw_views(a):
    """Non-contiguous NCHW views with a's values: channels-last storage, a stepped slice."""
    wide = np.zeros(a.shape[:-1] + (3 * a.shape[-1],), dtype=a.dtype)
    wide[..., ::3] = a
    return {"channels_last": np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
            "stepped": wide[..., ::3], "reversed": a[:, :, ::-1, ::-1].copy()[:, :, ::-1, ::-1]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["channels_last", "stepped", "reversed"])
def test_conv2d_on_non_contiguous_input(kind, dtype, rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    xv, wv = nchw_views(x)[kind], nchw_views(w)[kind]
    assert not xv.flags.c_contiguous and not wv.flags.c_contiguous
    tol = 1e-4 if dtype == np.float32 else 1e-12

    def fn(x, w):
        return F.conv2d(x, w, mg.tensor(b, dtype=dtype), stride=2, padding=1)

    out, gx, gw = run(fn, xv, wv)
    np.testing.assert_allclose(out, np_conv2d(x.astype(float), w.astype(float), b, 2, 1),
                               rtol=tol, atol=tol)
    out_c, gx_c, gw_c = run(fn, x.copy(), w.copy())
    for got, want in ((out, out_c), (gx, gx_c), (gw, gw_c)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["channels_last", "stepped", "reversed"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_on_non_contiguous_input(pool, kind, dtype, rng):
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(dtype) / 10  # no ties
    xv = nchw_views(x)[kind]
    fn = {"max": lambda t: F.max_pool2d(t, 3, 2), "avg": lambda t: F.avg_pool2d(t, 3, 2)}[pool]
    ref = {"max": np.max, "avg": np.mean}[pool]
    out, g = run(fn, xv)
    np.testing.assert_allclose(out, np_pool(x.astype(float), 3, 2, ref), rtol=1e-5)
    out_c, g_c = run(fn, x.copy())
    np.testing.assert_allclose(out, out_c, rtol=1e-6)
    np.testing.assert_allclose(g, g_c, rtol=1e-6)


def test_pooling_after_conv_and_transposed_gradients(rng):
    # conv2d returns a transposed view; the pools and their backwards take it as it is.
    x = mg.tensor(rng.standard_normal((2, 3, 8, 8)), dtype="float64", requires_grad=True)
    w = mg.tensor(rng.standard_normal((4, 3, 3, 3)), dtype="float64", requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2) + F.avg_pool2d(F.conv2d(x, w), 2, 1)[
        :, :, :4, :4]
    (y.permute(0, 2, 3, 1) ** 2).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and np.isfinite(w.grad.numpy()).all()
    assert x.grad.shape == (2, 3, 8, 8) and w.grad.shape == (4, 3, 3, 3)


# ---- fused kernels vs the plain formulas: no overflow --------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_does_not_overflow(dtype):
    a = np.concatenate([np.linspace(-1000, 1000, 2001), [-1000.0, 1000.0, -89.0, 89.0, 0.0]])
    x = mg.tensor(a, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning either
        y = x.sigmoid()
        y.sum().backward()
    yn, gn = y.numpy(), x.grad.numpy()
    assert np.isfinite(yn).all() and np.isfinite(gn).all()
    assert (yn >= 0).all() and (yn <= 1).all()
    assert yn[0] == 0.0 and yn[2000] == 1.0 and yn[1000] == 0.5
    np.testing.assert_allclose(yn, np_sigmoid(a), atol=1e-7 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(gn, np_sigmoid(a) * (1 - np_sigmoid(a)),
                               atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4, 1e4]])
    t = np.array([1, 1, 2])
    x = mg.tensor(logits, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, t, reduction="none")
        loss.sum().backward()
    atol = 1e-5 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(2), np.log(3)], rtol=1e-6, atol=atol)
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [[1, -1, 0], [0, -0.5, 0.5], [1 / 3, 1 / 3, -2 / 3]],
                               atol=1e-6 if dtype == np.float32 else 1e-9)
    for fn in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1)):
        y = fn(mg.tensor(logits, dtype=dtype))
        assert not np.isnan(y.numpy()).any()
    assert np.isfinite(F.log_softmax(mg.tensor(logits, dtype=dtype), 0).numpy()[0, 0])


@pytest.mark.parametrize("fn", ["cross_entropy", "cross_entropy_grad", "log_softmax", "softmax"])
def test_float32_log_softmax_keeps_precision_at_large_logits(fn):
    # x - (max + log sum) would keep only ~1e-3 of precision at 1e4 in float32:
    # the kernels must subtract the max first, (x - max) - log sum (as torch does).
    logits = mg.tensor([[1e4, 1e4], [-1e4, -1e4]], requires_grad=True)
    if fn == "cross_entropy":
        out, want = F.cross_entropy(logits, [0, 1], reduction="none").numpy(), np.log(2)
    elif fn == "cross_entropy_grad":
        F.cross_entropy(logits, [0, 1], reduction="sum").backward()
        out, want = logits.grad.numpy(), np.array([[-0.5, 0.5], [0.5, -0.5]])
    elif fn == "log_softmax":
        out, want = F.log_softmax(logits, -1).numpy(), -np.log(2)
    else:
        out, want = F.softmax(logits, -1).numpy(), 0.5
    np.testing.assert_allclose(out, np.broadcast_to(want, out.shape), rtol=1e-6)


# ---- edge cases found in review -----------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(mg.ones(1, 1, 3, 3, dtype=np.int64), mg.ones(1, 1, 2, 2, dtype=np.int64)),
    lambda: F.softmax(mg.arange(3)),
    lambda: F.log_softmax(mg.arange(3)),
    lambda: F.max_pool2d(mg.ones(1, 1, 4, 4, dtype=np.int64), 2),
    lambda: F.avg_pool2d(mg.ones(1, 1, 4, 4, dtype=np.int64), 2),
])
def test_integer_tensors_to_float_kernels_name_the_dtype(call):
    with pytest.raises(TypeError, match="int64"):
        call()


def test_cross_entropy_of_an_empty_batch_is_nan_like_torch():
    x = mg.zeros(0, 3, requires_grad=True)
    loss = F.cross_entropy(x, np.zeros(0, np.int64))
    assert np.isnan(loss.item())


def test_numpy_scalar_keeps_its_dtype():
    assert mg.tensor(np.float64(1.5)).dtype == np.float64
    assert mg.tensor(1.5).dtype == np.float32


def test_tensor_copies_but_from_numpy_shares():
    a = np.ones(3, np.float32)
    t, s = mg.tensor(a), mg.from_numpy(a)
    a[0] = 7
    assert t.numpy()[0] == 1 and s.numpy()[0] == 7


def test_tensor_of_a_tensor_is_a_copy():
    a = mg.ones(3)
    b = mg.tensor(a)
    b.data[0] = 5
    assert a.numpy()[0] == 1
