"""Scans (cumprod, cummax/cummin, logcumsumexp), order statistics (median, nanmedian, quantile,
nanquantile), scatters (scatter, scatter_reduce, index_fill, index_copy, put, masked_scatter and
the in-place forms) and einsum: what the op table (test_opinfo.py) cannot say: pairs of outputs,
index tensors, ties and NaN, torch's errors and messages, equations against torch.einsum, and
every backend in float32 and float64.
"""

import numpy as np
import pytest

import minigrad
from minigrad.testing import gradcheck

torch = pytest.importorskip("torch")

DEVICES = ["cpu", "reference", pytest.param("opencl", marks=pytest.mark.opencl)]
NAN = np.nan


def _pair(x, dtype="float64", device="cpu"):
    """x as a minigrad tensor and a torch tensor, both requiring gradients."""
    t = minigrad.tensor(x, dtype=dtype, requires_grad=True, device=device)
    tt = torch.tensor(np.asarray(x, dtype=dtype), requires_grad=True)
    return t, tt


def _same(y, ty, rtol=1e-10, atol=1e-12):
    a, b = np.asarray(y.numpy()), ty.detach().numpy()
    assert a.shape == b.shape, f"shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _backward_same(t, tt, y, ty, seed=3, rtol=1e-9, atol=1e-12):
    g = np.random.default_rng(seed).standard_normal(tuple(ty.shape))
    y.backward(minigrad.tensor(g, dtype=str(t.dtype), device=t.device))
    ty.backward(torch.tensor(g, dtype=tt.dtype))
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=rtol, atol=atol)


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)


# ---- scans ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumprod_gradient_with_zeros_as_torch(device, dtype):
    x = np.array([[1.5, 0.0, -2.0, 3.0, 0.0], [0.0, 0.0, 2.0, 1.0, 1.5],
                  [0.7, -1.2, 1.1, 2.0, 0.0], [0.5, 2.0, -1.0, 0.3, 1.5]])
    for dim in (0, 1, -1):
        t, tt = _pair(x, dtype, device)
        y, ty = t.cumprod(dim), tt.cumprod(dim)
        _same(y, ty, **_tol(dtype))
        _backward_same(t, tt, y, ty, **_tol(dtype))
    t = minigrad.tensor(x, requires_grad=True, dtype="float64")
    assert gradcheck(lambda t: (t.cumprod(1) ** 2).sum(), [t])


def test_cumprod_dtypes_and_free_function():
    assert minigrad.tensor([1, 2, 3], dtype="int32").cumprod(0).dtype == np.int64
    assert minigrad.tensor([True, True]).cumprod(0).tolist() == [1, 1]
    y = minigrad.cumprod(minigrad.tensor([1, 2, 3]), 0, dtype="float64")
    assert y.dtype == np.float64 and y.tolist() == [1.0, 2.0, 6.0]
    with pytest.raises(IndexError):
        minigrad.tensor([1.0, 2.0]).cumprod(1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_pairs_ties_and_nan_as_torch(device, name):
    x = np.array([[1.0, 3.0, 2.0, 3.0, 0.0, 5.0, 5.0], [2.0, NAN, 4.0, NAN, 1.0, 9.0, -1.0],
                  [0.0, 0.0, -1.0, -1.0, 2.0, 2.0, -3.0]])
    for dim in (0, 1):
        t, tt = _pair(x, "float32", device)
        out, tout = getattr(t, name)(dim), getattr(tt, name)(dim)
        values, indices = out                        # unpacks as a pair
        assert out.values is values and out.indices is indices
        assert type(out).__name__ == name
        _same(values, tout.values)
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.numpy(), tout.indices.numpy())
    # the gradient flows to the positions the indices name (ties: the latest), as torch
    x = np.nan_to_num(x)
    t, tt = _pair(x, "float64", device)
    y, ty = getattr(t, name)(1).values, getattr(tt, name)(1).values
    _backward_same(t, tt, y, ty)
    fn = getattr(minigrad, name)
    v, i = fn(minigrad.tensor(2.5), 0)
    assert v.shape == () and v.item() == 2.5 and i.item() == 0 and i.dtype == np.int64
    v, i = fn(minigrad.zeros(0, 3), 0)
    assert v.shape == (0, 3) and i.shape == (0, 3)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logcumsumexp_is_stable_as_torch(device, dtype):
    x = np.array([[1e4, 1e4, -np.inf, 1e4 + 1.0, -1e4], [-50.0, 3.0, 2.0, 700.0, 1.0],
                  [0.1, -0.2, 0.3, -0.4, 0.5]])
    for dim in (0, 1):
        t, tt = _pair(x, dtype, device)
        y, ty = t.logcumsumexp(dim), tt.logcumsumexp(dim)
        assert np.isfinite(y.numpy()).all() or dim == 0      # dim 0 starts with -inf
        _same(y, ty, **_tol(dtype))
        _backward_same(t, tt, y, ty, **_tol(dtype))
    t = minigrad.tensor(x[2:] * 40, requires_grad=True, dtype="float64")
    assert gradcheck(lambda t: (t.logcumsumexp(1) ** 2).sum(), [t])
    with pytest.raises(TypeError):
        minigrad.tensor([1, 2]).logcumsumexp(0)


# ---- median and quantile -------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_median_of_all_splits_the_gradient_among_ties_as_torch(device):
    for x in ([3.0, 1.0, 2.0, 2.0, 5.0, 2.0], [4.0, 1.0, 3.0, 2.0], [[1.0, NAN], [NAN, 0.0]],
              [7.5]):
        t, tt = _pair(x, "float64", device)
        y, ty = t.median(), tt.median()
        assert y.shape == ()
        _same(y, ty)
        _backward_same(t, tt, y, ty)
    y = minigrad.tensor([], dtype="float32").median()
    assert y.shape == () and np.isnan(y.item())
    assert minigrad.tensor([5, 1, 3, 2]).median().item() == 2


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_along_a_dim_values_indices_and_gradient(device, keepdim):
    rng = np.random.default_rng(0)
    x = rng.permutation(24).reshape(4, 6) * 0.5 - 3.0
    for dim in (0, 1, -1):
        t, tt = _pair(x, "float64", device)
        out, tout = t.median(dim, keepdim=keepdim), tt.median(dim, keepdim=keepdim)
        assert type(out).__name__ == "median"
        _same(out.values, tout.values)
        np.testing.assert_array_equal(out.indices.numpy(), tout.indices.numpy())
        _backward_same(t, tt, out.values, tout.values)
    # NaN: the median is NaN, its index the first NaN (as torch)
    x = np.array([[1.0, NAN, 3.0, NAN], [4.0, 2.0, 3.0, 1.0]])
    out, tout = minigrad.tensor(x).median(1), torch.tensor(x).median(1)
    _same(out.values, tout.values)
    np.testing.assert_array_equal(out.indices.numpy(), tout.indices.numpy())
    v, i = minigrad.tensor(3.0).median(0)
    assert v.item() == 3.0 and i.item() == 0
    with pytest.raises(IndexError, match="Expected reduction dim 1 to have non-zero size"):
        minigrad.zeros(2, 0).median(1)


def test_nanmedian_ignores_nan_as_torch():
    x = np.array([[1.0, NAN, 3.0, NAN, 2.0], [NAN, NAN, NAN, NAN, NAN], [4.0, 2.0, 3.0, 1.0, 0.0]])
    out, tout = minigrad.tensor(x).nanmedian(1), torch.tensor(x).nanmedian(1)
    assert type(out).__name__ == "nanmedian"
    _same(out.values, tout.values)
    # an all-NaN row's index is unspecified in torch (nth_element among NaNs): rows 0 and 2
    np.testing.assert_array_equal(out.indices.numpy()[[0, 2]], tout.indices.numpy()[[0, 2]])
    assert 0 <= out.indices.numpy()[1] < 5
    t, tt = _pair(x)
    y, ty = minigrad.nanmedian(t), torch.nanmedian(tt)
    _same(y, ty)
    _backward_same(t, tt, y, ty)
    t, tt = _pair(x[2:])
    y, ty = t.nanmedian(1, keepdim=True).values, tt.nanmedian(1, keepdim=True).values
    _backward_same(t, tt, y, ty)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_as_torch(device, interpolation):
    rng = np.random.default_rng(1)
    x = rng.permutation(30).reshape(5, 6) * 0.25 - 2.0
    cases = [(0.5, None, False), (0.25, 0, False), (0.9, 1, True), (0.0, -1, False),
             (1.0, None, True), ([0.1, 0.5, 0.95], 1, False), ([0.3, 0.7], None, True),
             ([0.2], 0, True)]
    for q, dim, keepdim in cases:
        t, tt = _pair(x, "float64", device)
        qm = minigrad.tensor(q, dtype="float64", device=device) if isinstance(q, list) else q
        qt = torch.tensor(q, dtype=torch.float64) if isinstance(q, list) else q
        y = t.quantile(qm, dim, keepdim, interpolation=interpolation)
        ty = tt.quantile(qt, dim, keepdim, interpolation=interpolation)
        _same(y, ty)
        _backward_same(t, tt, y, ty)


def test_quantile_nan_0d_and_nanquantile_as_torch():
    x = np.array([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [4.0, 2.0, 3.0, 1.0]])
    for name in ("quantile", "nanquantile"):
        for q, dim in ((0.4, 1), (0.5, None), (0.75, 0)):
            t, tt = _pair(x)
            y, ty = getattr(t, name)(q, dim), getattr(tt, name)(q, dim)
            _same(y, ty)
    t, tt = _pair(np.array([[1.0, NAN, 3.0, 2.0], [4.0, 2.0, 3.0, 1.0]]))
    y, ty = minigrad.nanquantile(t, 0.3, 1), torch.nanquantile(tt, 0.3, 1)
    _backward_same(t, tt, y, ty)
    _same(minigrad.tensor(2.5).quantile(0.3), torch.tensor(2.5).quantile(0.3))
    _same(minigrad.tensor(2.5).quantile(0.3, 0, keepdim=True),
          torch.tensor(2.5).quantile(0.3, 0, keepdim=True))


def test_quantile_errors_as_torch():
    x = minigrad.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"q must be in the range \[0, 1\] but got 1.5"):
        x.quantile(1.5)
    with pytest.raises(RuntimeError, match="q values must be in the range"):
        x.quantile(minigrad.tensor([0.5, -0.1]))
    with pytest.raises(RuntimeError, match="input tensor must be either float or double"):
        minigrad.tensor([1, 2]).quantile(0.5)
    with pytest.raises(RuntimeError, match="input tensor must be non-empty"):
        minigrad.tensor([], dtype="float32").quantile(0.5)
    with pytest.raises(RuntimeError, match="interpolation must be one of"):
        x.quantile(0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="same dtype"):
        x.quantile(minigrad.tensor([0.5], dtype="float64"))
    with pytest.raises(ValueError):                  # also a ValueError
        x.quantile(-0.5)


# ---- scatter and friends -------------------------------------------------------------------------


def _idx(values, lib):
    return lib.tensor(values)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scatter_tensor_value_and_reduce_as_torch(device, dtype):
    x = np.random.default_rng(2).uniform(-2, 2, (3, 5))
    index = [[0, 4, 2], [1, 3, 0]]
    t, tt = _pair(x, dtype, device)
    big = np.arange(8.0).reshape(2, 4) - 3.0                     # src larger than index
    _same(t.scatter(1, _idx(index, minigrad), minigrad.tensor(big, dtype=dtype, device=device)),
          tt.scatter(1, _idx(index, torch), torch.tensor(big, dtype=tt.dtype)), **_tol(dtype))
    s, ts = _pair(big[:, :3], dtype, device)   # (torch's backward refuses a larger src)
    y = t.scatter(1, _idx(index, minigrad), s * 2)
    ty = tt.scatter(1, _idx(index, torch), ts * 2)
    _same(y, ty, **_tol(dtype))
    y2, ty2 = y * y, ty * ty
    _backward_same(t, tt, y2, ty2, **_tol(dtype))
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), **_tol(dtype))
    _same(minigrad.scatter(t, 0, _idx([[2, 0]], minigrad), 0.5),
          torch.scatter(tt, 0, _idx([[2, 0]], torch), 0.5), **_tol(dtype))
    _same(t.scatter(0, _idx([[2, 0]], minigrad), value=-1.0),
          tt.scatter(0, _idx([[2, 0]], torch), value=-1.0), **_tol(dtype))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # torch deprecates reduce= with a tensor
        for reduce in ("add", "multiply"):
            _same(t.scatter(0, _idx([[2, 0, 2], [2, 1, 1]], minigrad), s[:, :3], reduce=reduce),
                  tt.scatter(0, _idx([[2, 0, 2], [2, 1, 1]], torch), ts[:, :3], reduce=reduce),
                  **_tol(dtype))
            _same(t.scatter(1, _idx([[0, 0], [4, 1]], minigrad), 2.5, reduce=reduce),
                  tt.scatter(1, _idx([[0, 0], [4, 1]], torch), 2.5, reduce=reduce),
                  **_tol(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_with_ties_and_zeros_as_torch(device, reduce, include_self):
    # ties between self and src and among src (amax/amin split the gradient), zeros (prod)
    x = np.array([[1.0, 0.0, 2.0, 3.0], [2.0, 2.0, -1.0, 0.0], [0.5, 1.0, 1.0, 4.0]])
    src = np.array([[2.0, 0.0, 2.0, 3.0], [2.0, 5.0, 0.0, 1.0], [1.0, 0.0, -1.0, 4.0],
                    [0.5, 2.0, 2.0, 0.0]])
    index = [[0, 0, 1, 2], [0, 1, 1, 2], [2, 0, 1, 2], [2, 1, 2, 0]]
    for dim in (0, 1):
        t, tt = _pair(x[:, :3] if dim == 1 else x, "float64", device)
        s, ts = _pair(src, "float64", device)
        ind = [row[:3] for row in index[:3]] if dim == 1 else index
        ind = [[min(v, 2) for v in row] for row in ind]
        n = len(ind[0])
        y = t.scatter_reduce(dim, _idx(ind, minigrad), s[:len(ind), :n], reduce,
                             include_self=include_self)
        ty = tt.scatter_reduce(dim, _idx(ind, torch), ts[:len(ind), :n], reduce,
                               include_self=include_self)
        _same(y, ty)
        _backward_same(t, tt, y, ty)
        np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)
    y = minigrad.scatter_reduce(minigrad.tensor([1.0, 2.0]), 0, minigrad.tensor([0, 0]),
                                minigrad.tensor([4.0, 3.0]), reduce, include_self=include_self)
    ty = torch.scatter_reduce(torch.tensor([1.0, 2.0]), 0, torch.tensor([0, 0]),
                              torch.tensor([4.0, 3.0]), reduce, include_self=include_self)
    _same(y, ty)


def test_scatter_reduce_on_integers_and_gradcheck():
    x = minigrad.tensor([10, 20, 30])
    y = x.scatter_reduce(0, minigrad.tensor([0, 0, 2]), minigrad.tensor([1, 4, 5]), "mean")
    ty = torch.tensor([10, 20, 30]).scatter_reduce(0, torch.tensor([0, 0, 2]),
                                                   torch.tensor([1, 4, 5]), "mean")
    assert y.dtype == np.int64 and y.tolist() == ty.tolist()
    t = minigrad.tensor(np.random.default_rng(3).uniform(0.5, 2, (3, 4)), requires_grad=True)
    s = minigrad.tensor(np.random.default_rng(4).uniform(0.5, 2, (2, 4)), requires_grad=True)
    index = minigrad.tensor([[0, 2, 2, 1], [0, 0, 2, 1]])
    for reduce in ("sum", "prod", "mean"):
        assert gradcheck(lambda t, s, r=reduce: (t.scatter_reduce(0, index, s, r) ** 2).sum(),
                         [t, s])


def test_scatter_errors_as_torch():
    x = minigrad.ones(2, 2)
    with pytest.raises(RuntimeError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x.scatter(0, minigrad.tensor([[2]]), 1.0)
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        x.scatter(0, minigrad.tensor([[-1]]), 1.0)
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        x.scatter(0, minigrad.tensor([1]), 1.0)
    with pytest.raises(RuntimeError, match=r"Expected index \[1, 3\] to be no larger than self"):
        x.scatter(0, minigrad.tensor([[1, 1, 1]]), 1.0)
    with pytest.raises(RuntimeError, match=r"no larger size than src \[1, 1\]"):
        x.scatter(0, minigrad.tensor([[1, 1]]), minigrad.ones(1, 1))
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, minigrad.tensor([[1, 1]]), minigrad.ones(1, 2, dtype="float64"))
    with pytest.raises(TypeError, match="Expected dtype int64 for index"):
        x.scatter(0, minigrad.tensor([[1.0, 1.0]]), 1.0)
    with pytest.raises(ValueError, match="reduce argument must be"):
        x.scatter_reduce(0, minigrad.tensor([[1, 1]]), minigrad.ones(1, 2), "max")
    with pytest.raises(IndexError):
        x.scatter(2, minigrad.tensor([[1, 1]]), 1.0)


def test_scatter_0d_and_empty_as_torch():
    _same(minigrad.tensor(5.0).scatter(0, minigrad.tensor(0), minigrad.tensor(2.0)),
          torch.tensor(5.0).scatter(0, torch.tensor(0), torch.tensor(2.0)))
    _same(minigrad.tensor([1.0, 2.0]).scatter(0, minigrad.tensor([], dtype="int64"),
                                             minigrad.tensor([])),
          torch.tensor([1.0, 2.0]).scatter(0, torch.tensor([], dtype=torch.int64),
                                           torch.tensor([])))
    t, tt = _pair(np.zeros((0, 3)))
    y = t.scatter_reduce(0, minigrad.zeros(0, 3, dtype="int64"), t * 2, "amax")
    assert y.shape == (0, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_index_fill_copy_put_masked_scatter_as_torch(device):
    x = np.random.default_rng(5).uniform(-2, 2, (3, 4))
    m = x > 0
    cases = [
        (lambda t, L: t.index_fill(1, L.tensor([0, 3, 0]), -1.5)),
        (lambda t, L: L.index_fill(t, 0, L.tensor([2]), t[0, 0] * 3)),  # a 0-d tensor value
        (lambda t, L: t.index_copy(0, L.tensor([2, 0]), t[:2] * 3)),
        (lambda t, L: L.index_copy(t, 1, L.tensor([3, 1]), t[:, :2].exp())),
        (lambda t, L: t.put(L.tensor([0, -1, 5]), t[0, :3] * 2)),
        (lambda t, L: t.put(L.tensor([[0, 0], [5, 11]]), t[1] * 2, accumulate=True)),
        (lambda t, L: t.masked_scatter(L.tensor(m), t.flip(0) * 2)),
        (lambda t, L: L.masked_scatter(t, L.tensor(m[0]), t.flip(1) * 2)),   # mask broadcasts
    ]
    for fn in cases:
        t, tt = _pair(x, "float64", device)
        y, ty = fn(t, minigrad), fn(tt, torch)
        _same(y, ty)
        _backward_same(t, tt, y, ty)


def test_index_fill_copy_put_masked_scatter_errors():
    x = minigrad.ones(2, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_fill(1, minigrad.tensor([3]), 0.0)
    with pytest.raises(ValueError, match="0-dimensional value tensor"):
        x.index_fill(1, minigrad.tensor([0]), minigrad.ones(2))
    with pytest.raises(RuntimeError, match=r"Number of indices \(1\) should be equal"):
        x.index_copy(0, minigrad.tensor([1]), minigrad.ones(2, 3))
    with pytest.raises(RuntimeError, match="same number of elements"):
        x.put(minigrad.tensor([0, 1]), minigrad.ones(3))
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.put(minigrad.tensor([6]), minigrad.ones(1))
    with pytest.raises(RuntimeError, match="at least 6 elements"):
        x.masked_scatter(minigrad.ones(2, 3, dtype="bool"), minigrad.ones(5))
    with pytest.raises(TypeError, match="BoolTensor"):
        x.masked_scatter(minigrad.ones(2, 3), minigrad.ones(6))


def test_in_place_forms_rebind_the_graph_as_torch():
    ops = [
        lambda y, L: y.scatter_(0, L.tensor([[1, 0, 1]]), y[:1] * 10),
        lambda y, L: y.scatter_(1, L.tensor([[2], [0]]), 0.5),
        lambda y, L: y.scatter_add_(0, L.tensor([[1, 1, 0]]), y[1:] * 3),
        lambda y, L: y.scatter_reduce_(1, L.tensor([[0, 0], [2, 2]]), y[:, 1:] * 2, "amax"),
        lambda y, L: y.index_fill_(1, L.tensor([1]), -2.0),
        lambda y, L: y.index_copy_(0, L.tensor([1]), y[:1] * 4),
        lambda y, L: y.index_add_(1, L.tensor([0, 0]), y[:, 1:] * 2, alpha=0.5),
        lambda y, L: y.put_(L.tensor([0, 5]), y[1, :2] * 3, accumulate=True),
        lambda y, L: y.masked_scatter_(y > 0.5, y.flip(0) * 2),
        lambda y, L: y.masked_fill_(y < 0, 7.0),
    ]
    x = np.array([[1.0, -2.0, 0.3], [2.0, 0.7, -0.4]])
    for op in ops:
        t, tt = _pair(x)
        y, ty = t * 1.5, tt * 1.5
        r, tr = op(y, minigrad), op(ty, torch)
        assert r is y and tr is ty
        _same(y, ty)
        _backward_same(t, tt, y, ty)
    # a leaf that requires grad refuses; a graph that used the old value refuses its backward
    w = minigrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        w.index_fill_(0, minigrad.tensor([0]), 0.0)
    a = w * 1.0
    b = a.exp()
    a.index_fill_(0, minigrad.tensor([1]), 0.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        b.sum().backward()
    z = minigrad.zeros(3)                           # no gradients: plain in-place writes
    z.put_(minigrad.tensor([0, 2]), minigrad.tensor([5.0, 6.0]))
    assert z.tolist() == [5.0, 0.0, 6.0] and z.is_leaf and not z.requires_grad
    with minigrad.no_grad():
        w.scatter_(0, minigrad.tensor([2]), 0.0)
    assert w.tolist() == [1.0, 2.0, 0.0] and w.is_leaf


# ---- einsum --------------------------------------------------------------------------------------

EQUATIONS = [
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk->ki", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ji", [(2, 3)]),
    ("i,i->", [(3,), (3,)]),
    ("i,i", [(3,), (1,)]),                                  # size 1 broadcasts
    ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bi,bi->b", [(1, 3), (4, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij,...jk", [(3, 4), (2, 4, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(2, 3, 4)]),
    ("...,...", [(2, 3), (3,)]),
    ("...i,i...->...", [(2, 3), (3, 2)]),
    ("ij...,jk...->ik...", [(2, 3, 5), (3, 4, 1)]),
    ("ijk,jl,lk->i", [(2, 3, 4), (3, 5), (5, 4)]),
    ("a,ab,bc,c->", [(2,), (2, 3), (3, 4), (4,)]),
    ("ab,cd,ef->abcdef", [(2, 1), (1, 2), (2, 2)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("Ab,bA->A", [(2, 3), (3, 2)]),
    ("ij,kl->", [(2, 3), (4, 5)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),        # bilinear
    (" ij , jk -> ik ", [(2, 3), (3, 2)]),
    ("i,->i", [(3,), ()]),
    ("->", [()]),
    ("ij,jk->ik", [(0, 3), (3, 4)]),
    ("ij,jk->ik", [(2, 0), (0, 4)]),                       # a sum over nothing: zeros
]


@pytest.mark.parametrize("equation,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
def test_einsum_against_torch(equation, shapes):
    rng = np.random.default_rng(len(equation))
    arrays = [rng.standard_normal(s) for s in shapes]
    ts = [minigrad.tensor(a, requires_grad=True, dtype="float64") for a in arrays]
    tts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = minigrad.einsum(equation, *ts), torch.einsum(equation, *tts)
    _same(y, ty)
    g = rng.standard_normal(tuple(ty.shape))
    y.backward(minigrad.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(ts, tts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_einsum_list_form_and_gradcheck():
    a = minigrad.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    b = minigrad.tensor(np.random.default_rng(1).standard_normal((3, 3)), requires_grad=True)
    _same(minigrad.einsum("ij,jk->ik", [a, b]), torch.einsum("ij,jk->ik", [torch.tensor(a.numpy()),
                                                                         torch.tensor(b.numpy())]))
    assert gradcheck(lambda a, b: minigrad.einsum("ij,jj,kj->ik", a, b, a).sum(), [a, b])
    ta, tb = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    _same(minigrad.einsum(a, [0, 1], b, [1, 27], [27, 0]),
          torch.einsum(ta, [0, 1], tb, [1, 27], [27, 0]))
    _same(minigrad.einsum(a, [Ellipsis, 1], b, [1, 2]), torch.einsum(ta, [Ellipsis, 1], tb, [1, 2]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_einsum_on_every_backend(device, dtype):
    rng = np.random.default_rng(7)
    for equation, shapes in [("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
                             ("ii->i", [(3, 3)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)])]:
        arrays = [rng.standard_normal(s) for s in shapes]
        ts = [minigrad.tensor(a, dtype=dtype, requires_grad=True, device=device) for a in arrays]
        tts = [torch.tensor(a, requires_grad=True) for a in arrays]
        y, ty = minigrad.einsum(equation, *ts), torch.einsum(equation, *tts)
        _same(y, ty, **_tol(dtype))
        assert y.device == device and y.dtype == np.dtype(dtype)
        y.sum().backward()
        ty.sum().backward()
        for a, b in zip(ts, tts):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **_tol(dtype))


ERRORS = [
    ("ij,jk", [(2, 3), (4, 5)]),
    ("ij,jk->ik", [(2, 3)]),
    ("ij,jk->ik", [(2, 3), (3, 3), (3,)]),
    ("ij->iik", [(2, 3)]),
    ("ii", [(2, 3)]),
    ("ijk", [(2, 3)]),
    ("ij", [(2, 3, 4)]),
    ("i1", [(2, 3)]),
    ("i.j", [(2, 3)]),
    ("ij->k", [(2, 3)]),
    ("ij->ii", [(2, 3)]),
    ("...ijk", [(2, 3)]),
    ("......", [(2, 3)]),
]


@pytest.mark.parametrize("equation,shapes", ERRORS, ids=[e for e, _ in ERRORS])
def test_einsum_errors_carry_torchs_messages(equation, shapes):
    with pytest.raises(RuntimeError) as want:
        torch.einsum(equation, *[torch.ones(s) for s in shapes])
    with pytest.raises(RuntimeError) as got:
        minigrad.einsum(equation, *[minigrad.ones(*s) for s in shapes])
    assert str(got.value) == str(want.value)
    with pytest.raises(RuntimeError, match="at least one operand"):
        minigrad.einsum("ij")


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_of_a_number_with_reduce_has_self_gradients(reduce):
    # torch does not differentiate scatter(reduce=...); ours is scatter_reduce's gradient
    x = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 0.5]])
    t = minigrad.tensor(x, requires_grad=True)
    y = t.scatter(1, minigrad.tensor([[0, 0], [2, 1]]), 2.5, reduce=reduce)
    y.backward(minigrad.ones(2, 3))
    scale = 1.0 if reduce == "add" else 2.5
    want = np.array([[2.5 * 2.5 if reduce == "multiply" else 1.0, 1, 1], [1, scale, scale]])
    np.testing.assert_allclose(t.grad.numpy(), want)
    assert gradcheck(lambda t: (t.scatter(1, minigrad.tensor([[0, 0], [2, 1]]), 2.5,
                                          reduce=reduce) ** 2).sum(), [t])
