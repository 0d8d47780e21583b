"""An op table in the spirit of PyTorch's OpInfo: each op is written once as a function of a
tensor (the same call works on a minigrad and a torch tensor, since minigrad has PyTorch's
names), run on sample inputs (0-d, empty, broadcasting, non-contiguous views), and compared with
torch, forward and backward, when torch is installed, and with finite differences always.
"""

import numpy as np
import pytest

import minigrad
from minigrad.testing import gradcheck


def _rand(*shape, lo=-2.0, hi=2.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def _distinct(*shape, seed=0):
    """Values with no ties (sort, topk, max: gradients are then unique)."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.37 - n * 0.1


POS = dict(lo=0.3, hi=2.0)
UNIT = dict(lo=-0.9, hi=0.9)

# name -> (function of one tensor, sample arrays, differentiable?)
OPS = {
    "sign": (lambda x: x.sign(), [_rand(3, 4)], True),
    "floor": (lambda x: x.floor(), [_rand(3, 4)], True),
    "ceil": (lambda x: x.ceil(), [_rand(3, 4)], True),
    "round": (lambda x: x.round(), [_rand(3, 4)], True),
    "trunc": (lambda x: x.trunc(), [_rand(3, 4)], True),
    "frac": (lambda x: x.frac(), [_rand(3, 4)], True),
    "square": (lambda x: x.square(), [_rand(3, 4), _rand()], True),
    "rsqrt": (lambda x: x.rsqrt(), [_rand(3, 4, **POS)], True),
    "log2": (lambda x: x.log2(), [_rand(3, 4, **POS)], True),
    "log10": (lambda x: x.log10(), [_rand(3, 4, **POS)], True),
    "log1p": (lambda x: x.log1p(), [_rand(3, 4, **POS)], True),
    "expm1": (lambda x: x.expm1(), [_rand(3, 4)], True),
    "exp2": (lambda x: x.exp2(), [_rand(3, 4)], True),
    "tan": (lambda x: x.tan(), [_rand(3, 4, **UNIT)], True),
    "asin": (lambda x: x.asin(), [_rand(3, 4, **UNIT)], True),
    "acos": (lambda x: x.acos(), [_rand(3, 4, **UNIT)], True),
    "atan": (lambda x: x.atan(), [_rand(3, 4)], True),
    "sinh": (lambda x: x.sinh(), [_rand(3, 4)], True),
    "cosh": (lambda x: x.cosh(), [_rand(3, 4)], True),
    "asinh": (lambda x: x.asinh(), [_rand(3, 4)], True),
    "acosh": (lambda x: x.acosh(), [_rand(3, 4, lo=1.1, hi=3.0)], True),
    "atanh": (lambda x: x.atanh(), [_rand(3, 4, **UNIT)], True),
    "erf": (lambda x: x.erf(), [_rand(3, 4)], True),
    "erfc": (lambda x: x.erfc(), [_rand(3, 4)], True),
    "atan2": (lambda x: x.atan2(x.flip(0) + 0.5), [_rand(3, 4)], True),
    "logaddexp": (lambda x: x.logaddexp(x * 0.5 + 1.0), [_rand(3, 4)], True),
    "copysign": (lambda x: x.copysign(x.flip(1)), [_rand(3, 4)], True),
    "fmod": (lambda x: x.fmod(0.7), [_rand(3, 4, lo=-3, hi=3)], True),
    "remainder": (lambda x: x.remainder(0.7), [_rand(3, 4, lo=-3, hi=3)], True),
    "maximum": (lambda x: x.maximum(x.flip(1)), [_distinct(3, 4)], True),
    "minimum": (lambda x: x.minimum(x.flip(0)), [_distinct(3, 4)], True),
    "amax": (lambda x: x.amax(1), [_distinct(3, 4)], True),
    "amin": (lambda x: x.amin(0, keepdim=True), [_distinct(3, 4)], True),
    "prod": (lambda x: x.prod(1), [_rand(3, 4), np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])],
             True),
    "prod_all": (lambda x: x.prod(), [_rand(2, 3)], True),
    "cumsum": (lambda x: x.cumsum(1), [_rand(3, 4), _rand(3, 0)], True),
    "cumsum_dim0": (lambda x: x.cumsum(0), [_rand(3, 4).T], True),      # a non-contiguous view
    "sort": (lambda x: x.sort(1)[0], [_distinct(3, 5)], True),
    "sort_desc": (lambda x: x.sort(0, descending=True)[0], [_distinct(4, 3)], True),
    "topk": (lambda x: x.topk(2, 1)[0], [_distinct(3, 5)], True),
    "topk_smallest": (lambda x: x.topk(3, 0, largest=False)[0], [_distinct(4, 3)], True),
    "gather": (lambda x: x.gather(1, _index(x)), [_rand(3, 4)], True),
    "flip": (lambda x: x.flip(0, 1), [_rand(3, 4)], True),
    "roll": (lambda x: x.roll(1, 1), [_rand(3, 4)], True),
    "roll_flat": (lambda x: x.roll(-2), [_rand(3, 4)], True),
    "repeat": (lambda x: x.repeat(2, 1, 3), [_rand(3, 4)], True),
    "split": (lambda x: x.split([1, 3], 1)[1], [_rand(3, 4)], True),
    "chunk": (lambda x: x.chunk(2, 0)[1], [_rand(3, 4)], True),
    "unbind": (lambda x: x.unbind(1)[2], [_rand(3, 4)], True),
    "tril": (lambda x: x.tril(), [_rand(3, 4)], True),
    "triu": (lambda x: x.triu(1), [_rand(4, 3)], True),
    "masked_fill": (lambda x: x.masked_fill(x > 0.5, 0.0), [_rand(3, 4)], True),
    "clone": (lambda x: x.clone() * 2, [_rand(3, 4), _rand()], True),
    "add_alpha": (lambda x: x.add(x.flip(0), alpha=2.5), [_rand(3, 4)], True),
    "sub_alpha": (lambda x: x.sub(x * x, alpha=0.5), [_rand(3, 4)], True),
    "div_floor": (lambda x: x.div(0.3, rounding_mode="floor"), [_rand(3, 4)], True),
    "var": (lambda x: x.var(1), [_rand(3, 4)], True),
    "std": (lambda x: x.std(), [_rand(3, 4)], True),
    "logsumexp": (lambda x: x.logsumexp(1), [_rand(3, 4) * 30], True),
    "expand_as": (lambda x: x.sum(0).expand_as(x), [_rand(3, 4)], True),
    "index_select": (lambda x: x.index_select(1, _like(x, [3, 0, 3])), [_rand(3, 4)], True),
    "masked_select": (lambda x: x.masked_select(x > 0.0), [_rand(3, 4)], True),
    "diagonal": (lambda x: x.diagonal(1), [_rand(3, 4)], True),
    "diag_1d": (lambda x: x.diag(-1), [_rand(3)], True),
    "unflatten": (lambda x: x.unflatten(1, (2, 2)), [_rand(3, 4)], True),
    "var_mean": (lambda x: sum(_lib(x).var_mean(x, 1)), [_rand(3, 4)], True),
    "std_mean": (lambda x: _lib(x).std_mean(x, 0, keepdim=True)[0] * 2, [_rand(3, 4)], True),
    "sum_dtype": (lambda x: x.sum(1, dtype=_f64(x)), [_rand(3, 4)], True),
    "scatter_add": (lambda x: x.scatter_add(1, _like(x, [[0, 0, 3, 1], [2, 2, 2, 0],
                                                          [1, 0, 3, 3]]), x * 2),
                    [_rand(3, 4)], True),
    "index_add": (lambda x: x.index_add(0, _like(x, [2, 0, 2]), x * 0.5), [_rand(3, 4)], True),
    "meshgrid": (lambda x: _mesh(x)[0] * _mesh(x)[1], [_rand(4)], True),
    # pooling and conv3d (functional.py): padding, dilation, ceil mode, divisors, indices
    "max_pool2d_pad_ceil": (lambda x: _nnf(x).max_pool2d(x, 3, 2, 1, ceil_mode=True),
                            [_distinct(2, 3, 5, 6), _rand(0, 2, 4, 4)], True),
    "max_pool2d_dilation": (lambda x: _nnf(x).max_pool2d(x, (2, 3), 1, 1, dilation=(2, 1)),
                            [_distinct(1, 2, 5, 6)], True),
    "max_pool1d": (lambda x: _nnf(x).max_pool1d(x, 3, 2, 1, 2, True), [_distinct(2, 3, 8)], True),
    "avg_pool2d_pad_ceil": (lambda x: _nnf(x).avg_pool2d(x, 3, 2, 1, True, False),
                            [_rand(2, 3, 5, 6), _rand(0, 2, 4, 4)], True),
    "avg_pool2d_divisor": (lambda x: _nnf(x).avg_pool2d(x, 2, 1, 1, divisor_override=3),
                           [_rand(1, 2, 4, 5)], True),
    "avg_pool1d": (lambda x: _nnf(x).avg_pool1d(x, 4, 3, 2, True), [_rand(2, 3, 9)], True),
    "adaptive_max_pool2d": (lambda x: _nnf(x).adaptive_max_pool2d(x, (2, 4)),
                            [_distinct(2, 3, 5, 7)], True),
    "adaptive_max_pool1d": (lambda x: _nnf(x).adaptive_max_pool1d(x, 3), [_distinct(2, 3, 7)],
                            True),
    # windows that do not overlap: a repeated index gets PyTorch's gather gradient twice
    "max_unpool2d": (lambda x: _nnf(x).max_unpool2d(
        *_nnf(x).max_pool2d(x, 3, 3, 1, return_indices=True), 3, 3, 1, output_size=x.shape),
        [_distinct(2, 2, 5, 6)], True),
    "conv3d": (lambda x: _nnf(x).conv3d(x, _const(x, _rand(4, 1, 2, 3, 2, seed=3)), None,
                                        (1, 2, 1), (1, 0, 1), (2, 1, 1), 2),
               [_rand(1, 2, 4, 5, 4)], True),
    # scans, order statistics, scatters, einsum (tensor/scans.py, scatters.py, contraction.py)
    "cumprod": (lambda x: x.cumprod(1), [_rand(3, 4), _rand(3, 0),
                                         np.array([[1.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.5]])],
                True),
    "cumprod_dim0": (lambda x: x.cumprod(0), [_rand(3, 4).T, _rand()], True),
    "cummax": (lambda x: x.cummax(1)[0], [_distinct(3, 5), _rand(2, 0)], True),
    "cummin": (lambda x: x.cummin(0).values, [_distinct(4, 3), _rand()], True),
    "logcumsumexp": (lambda x: x.logcumsumexp(1), [_rand(3, 4) * 30, _rand(3, 0)], True),
    "logcumsumexp_dim0": (lambda x: x.logcumsumexp(-1), [_rand(4), _rand()], True),
    "median_all": (lambda x: x.median(), [_distinct(3, 5), _distinct(2, 3), _rand()], True),
    "median_dim": (lambda x: x.median(1)[0], [_distinct(3, 5), _distinct(3, 4)], True),
    "median_keepdim": (lambda x: x.median(0, keepdim=True).values, [_distinct(4, 3)], True),
    "nanmedian": (lambda x: x.nanmedian(1)[0] + x.nanmedian(), [_distinct(3, 4)], True),
    "quantile": (lambda x: x.quantile(0.3, 1), [_distinct(3, 5), _rand(1, 1)], True),
    "quantile_all": (lambda x: x.quantile(0.75), [_distinct(3, 5), _rand()], True),
    "quantile_q": (lambda x: x.quantile(_lib(x).tensor([0.1, 0.5, 1.0], dtype=x.dtype), 0,
                                        keepdim=True), [_distinct(4, 3)], True),
    "quantile_modes": (lambda x: sum(x.quantile(0.4, 1, interpolation=m) for m in
                                     ("lower", "higher", "midpoint", "nearest")),
                       [_distinct(3, 6)], True),
    "nanquantile": (lambda x: x.nanquantile(0.6, 0), [_distinct(4, 3)], True),
    "scatter": (lambda x: x.scatter(1, _like(x, [[0, 2], [3, 1], [1, 0]]), x[:, 1:3] * 2),
                [_rand(3, 4)], True),
    "scatter_value": (lambda x: x.scatter(0, _like(x, [[2, 0, 1]]), 0.5), [_rand(3, 4)], True),
    "scatter_reduce_sum": (lambda x: x.scatter_reduce(0, _like(x, [[0, 2, 2], [0, 0, 1]]),
                                                      x[1:] * 2, "sum"), [_rand(3, 3)], True),
    "scatter_reduce_mean": (lambda x: x.scatter_reduce(0, _like(x, [[0, 2, 2], [0, 0, 1]]),
                                                       x[1:] * 2, "mean", include_self=False),
                            [_rand(3, 3)], True),
    "scatter_reduce_prod": (lambda x: x.scatter_reduce(1, _like(x, [[0, 0], [2, 2], [1, 0]]),
                                                       x[:, :2] + 1, "prod"),
                            [_rand(3, 3), np.array([[0.0, 1, 2], [3, 0, -1], [0.5, 0, 2]])],
                            True),
    "scatter_reduce_amax": (lambda x: x.scatter_reduce(0, _like(x, [[0, 2, 2], [0, 0, 1]]),
                                                       x[1:] * 2, "amax"), [_distinct(3, 3)],
                            True),
    "scatter_reduce_amin": (lambda x: x.scatter_reduce(0, _like(x, [[0, 2, 2], [0, 0, 1]]),
                                                       x[1:] * 2, "amin", include_self=False),
                            [_distinct(3, 3)], True),
    "scatter_reduce_view": (lambda x: x.T.scatter_reduce(0, _like(x, [[3, 0, 3], [3, 1, 0]]),
                                                       x.T[1:3] * 2, "prod"),
                            [_rand(3, 4)], True),                  # a non-contiguous self
    "index_fill": (lambda x: x.index_fill(1, _like(x, [0, 3]), -1.5), [_rand(3, 4)], True),
    "index_copy": (lambda x: x.index_copy(0, _like(x, [2, 0]), x[:2] * 3), [_rand(3, 4)], True),
    "put": (lambda x: x.put(_like(x, [0, -1, 5]), x[0, :3] * 2), [_rand(3, 4)], True),
    "masked_scatter": (lambda x: x.masked_scatter(x > 0, x.flip(0) * 2), [_rand(3, 4)], True),
    "einsum_matmul": (lambda x: _lib(x).einsum("ij,kj->ik", x, x * 2), [_rand(3, 4)], True),
    "einsum_trace": (lambda x: _lib(x).einsum("ii", x) + _lib(x).einsum("ii->i", x).sum(),
                     [_rand(3, 3)], True),
    "einsum_ellipsis": (lambda x: _lib(x).einsum("...ij,...jk", x.reshape(2, 2, 3),
                                                 x.reshape(2, 3, 2)), [_rand(3, 4)], True),
    "einsum_three": (lambda x: _lib(x).einsum("i,ij,j->", x[:, 0], x, x[0]), [_rand(3, 4)],
                     True),
    # torch parity (benchmarks/torch_parity.py found these missing or different)
    "max_dim_values": (lambda x: x.max(1).values * 2 + x.min(0, keepdim=True).values.sum(),
                       [_distinct(3, 4)], True),
    "max_binary": (lambda x: _lib(x).max(x, x.flip(1)), [_distinct(3, 4)], True),
    "index_int_then_list": (lambda x: x[0, :, [0, 2]][:2] * x[1, [1, 2], 1:3], [_rand(2, 3, 4)],
                            True),
    "setitem_in_graph": (lambda x: _setitem_in_graph(x), [_rand(3, 4)], True),
    "inplace_in_graph": (lambda x: (x * 2).add_(x.flip(0), alpha=0.5).mul_(x).clamp_(-1, 1),
                         [_rand(3, 4)], True),
    "pad_constant": (lambda x: _nnf(x).pad(x, (1, 2, -1, 0), value=0.5), [_rand(1, 3, 4)], True),
    "pad_reflect": (lambda x: _nnf(x).pad(x, (2, 1, 1, 2), mode="reflect"), [_rand(1, 1, 3, 4)],
                    True),
    "pad_replicate": (lambda x: _nnf(x).pad(x, (2, 3), mode="replicate"), [_rand(1, 2, 3)],
                      True),
    "pad_circular": (lambda x: _nnf(x).pad(x, (1, 2, 2, 0), mode="circular"),
                     [_rand(1, 1, 3, 4)], True),
    "glu": (lambda x: _nnf(x).glu(x, 1), [_rand(3, 4)], True),
    "shrinks": (lambda x: _nnf(x).softshrink(x, 0.5) + _nnf(x).hardshrink(x, 0.7)
                + _nnf(x).tanhshrink(x), [_rand(3, 4)], True),
    "cosine_similarity": (lambda x: _nnf(x).cosine_similarity(x, x.flip(0) + 0.5),
                          [_rand(3, 4)], True),
    "clamp_tensor_bounds": (lambda x: x.clamp(_const(x, [-0.5, -1.0, 0.0, -2.0]),
                                              _const(x, [[0.5], [1.0], [2.0]])),
                            [_rand(3, 4)], True),
    "lerp": (lambda x: x.lerp(x.flip(0), 0.3) + x.lerp(x * 2, x.sigmoid()), [_rand(3, 4)], True),
    "nan_to_num": (lambda x: x.log().nan_to_num(nan=-1.0), [_rand(3, 4)], True),
    "norm": (lambda x: x.norm(dim=1) + x.norm(p=1) + x.norm(p=3), [_rand(3, 4)], True),
    "unfold": (lambda x: x.unfold(1, 2, 2), [_rand(3, 5)], True),
    "repeat_interleave": (lambda x: x.repeat_interleave(_like(x, [1, 0, 2]), dim=0),
                          [_rand(3, 4)], True),
    "movedim_tile": (lambda x: x.movedim(0, -1).tile((2, 1)), [_rand(2, 3, 4)], True),
    "narrow_select_trace": (lambda x: x.narrow(1, 1, 3).select(0, 2) * x[:, :3].trace(),
                            [_rand(3, 4)], True),
    "mm_mv_dot_outer": (lambda x: x.mm(x.t()).mv(x[:, 0]).dot(x[:, 1]) * x[0].outer(x[1]),
                        [_rand(3, 4)], True),
    "var_std_unbiased": (lambda x: x.std(1, unbiased=False) + x.var(0, False).sum(),
                         [_rand(3, 4)], True),
    "cat_promotes": (lambda x: _lib(x).cat([x, _like(x, [[1, 2, 3, 4]]).to(x.device)]),
                     [_rand(3, 4)], True),
    "unfold_im2col": (lambda x: _nnf(x).unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=2),
                      [_rand(1, 2, 4, 5)], True),
    "softmax_0d": (lambda x: x.sum().softmax(0) * x.sum() + x.sum().log_softmax(0),
                   [_rand(3, 4)], True),
    # no gradient: compared as values
    "eq": (lambda x: x == x.round(), [np.array([[1.0, 1.5], [2.0, -0.5]])], False),
    "lt_gt": (lambda x: (x < 0.5) & (x > -1.0), [_rand(3, 4)], False),
    "ne_or_not": (lambda x: (x != 0.0) | ~(x >= 1.0), [_rand(3, 4)], False),
    "isnan_isinf": (lambda x: (x / x).isnan() | (1.0 / x).isinf(), [np.array([0.0, 1.0, -2.0])],
                    False),
    "argmax": (lambda x: x.argmax(1), [_distinct(3, 4)], False),
    "argmin": (lambda x: x.argmin(), [_distinct(3, 4)], False),
    "any_all": (lambda x: (x > 0).any(1) & (x > -1.9).all(1), [_rand(3, 4)], False),
    "argsort": (lambda x: x.argsort(1, descending=True), [_distinct(3, 5)], False),
    "max_pool2d_indices": (lambda x: _nnf(x).max_pool2d(x, 3, 2, 1, 1, True, True)[1],
                           [_distinct(2, 2, 5, 6)], False),
}


def _setitem_in_graph(x):
    y = x * 2
    y[0] = x[1] * 3        # the value carries a gradient too
    y[:, 1] = 0.0
    return y


def _index(x):
    idx = np.array([[0, 3, 3, 1], [2, 2, 0, 1], [1, 0, 0, 0]])
    if type(x).__module__.startswith("torch"):
        import torch
        return torch.tensor(idx)
    return minigrad.tensor(idx)


def _like(x, values):
    """An integer index as a tensor of x's library."""
    if type(x).__module__.startswith("torch"):
        import torch
        return torch.tensor(values)
    return minigrad.tensor(values)


def _f64(x):
    if type(x).__module__.startswith("torch"):
        import torch
        return torch.float64
    return "float64"


def _lib(x):
    return __import__("torch") if type(x).__module__.startswith("torch") else minigrad


def _mesh(x):
    return _lib(x).meshgrid(x, x[:3] * 2, indexing="xy")


def _nnf(x):
    """torch.nn.functional or minigrad.functional, for x's library."""
    if type(x).__module__.startswith("torch"):
        return __import__("torch").nn.functional
    return minigrad.functional


def _const(x, values):
    """A constant of x's library, dtype and device (a weight)."""
    if type(x).__module__.startswith("torch"):
        import torch
        return torch.tensor(values, dtype=x.dtype)
    return minigrad.tensor(values, dtype=x.dtype, device=x.device)


def _cases():
    for name, (fn, samples, diff) in OPS.items():
        for k, x in enumerate(samples):
            yield pytest.param(name, fn, x, diff, id=f"{name}-{k}")


CASES = list(_cases())


def _run_minigrad(fn, x, device, dtype="float64"):
    t = minigrad.tensor(x, dtype=dtype, requires_grad=True, device=device)
    y = fn(t)
    grad = None
    if y.requires_grad:
        g = np.random.default_rng(5).standard_normal(y.shape)
        y.backward(minigrad.tensor(g, dtype=dtype, device=device))
        grad = t.grad.numpy() if t.grad is not None else np.zeros(x.shape)
    return y.numpy(), grad


@pytest.mark.parametrize("name,fn,x,diff", CASES)
def test_op_against_torch(name, fn, x, diff):
    torch = pytest.importorskip("torch")
    y, gx = _run_minigrad(fn, x, "cpu")
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = fn(tx)
    assert y.shape == tuple(ty.shape), f"{name}: shape {y.shape} vs torch {tuple(ty.shape)}"
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    if diff:
        g = np.random.default_rng(5).standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(g))
        tg = tx.grad.numpy() if tx.grad is not None else np.zeros(x.shape)
        np.testing.assert_allclose(gx, tg, rtol=1e-9, atol=1e-12, err_msg=f"{name} gradient")


# Piecewise-constant ops have gradient 0 wherever it exists: torch is their witness, not
# finite differences (which would only repeat the zero).
STEPS = ("sign", "floor", "ceil", "round", "trunc", "div_floor")


@pytest.mark.parametrize("name,fn,x,diff",
                         [c for c in CASES if c.values[3] and c.values[0] not in STEPS])
def test_op_gradient_against_finite_differences(name, fn, x, diff):
    t = minigrad.tensor(x, dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: (fn(t) * fn(t)).sum() if fn(t).numel() else t.sum() * 0.0, [t])


@pytest.mark.parametrize("device", ["reference", pytest.param("opencl", marks=pytest.mark.opencl)])
@pytest.mark.parametrize("name,fn,x,diff", CASES)
def test_op_on_every_backend(name, fn, x, diff, device):
    want = _run_minigrad(fn, x, "cpu", "float32")
    got = _run_minigrad(fn, x, device, "float32")
    for a, b in zip(want, got):
        if a is None:
            assert b is None
            continue
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-5, err_msg=name)
