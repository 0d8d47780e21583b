"""Pooling and conv3d at PyTorch parity, on every device: max_pool1d/2d and avg_pool1d/2d with
padding, dilation, ceil_mode, return_indices, count_include_pad and divisor_override;
max_unpool1d/2d; adaptive_max_pool1d/2d; conv3d; their nn modules. Forward values, indices
(int64, flat in each input plane) and gradients against torch, on random geometries, in float32
and float64; finite differences for each op; the Scalar engine where it pools; the fused kernels
still serve the default case."""

import numpy as np
import pytest
from nn_torch_twin import compare

import minigrad
import minigrad.functional as F
from minigrad import nn
from minigrad.testing import assert_engines_agree, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DEVICES = ["cpu", "reference", pytest.param("opencl", marks=pytest.mark.opencl)]
DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def _distinct(shape, seed):
    """Values without ties, so every window has one arg-max (torch's and ours agree)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) - n / 2) * 0.013


def _out_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _geometries(nd, count, seed, dilation=True):
    """Random valid pooling geometries (kwargs and an input shape), odd sizes included."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        p = tuple(int(rng.integers(0, ki // 2 + 1)) for ki in k)
        d = tuple(int(v) for v in rng.integers(1, 4, nd)) if dilation else (1,) * nd
        ceil_mode = bool(rng.integers(0, 2))
        size = tuple(int(v) for v in rng.integers(3, 10, nd))
        if min(_out_size(*a, ceil_mode) for a in zip(size, k, s, p, d)) < 1:
            continue
        kw = dict(kernel_size=k if nd > 1 else k[0], stride=s if nd > 1 else s[0],
                  padding=p if nd > 1 else p[0], ceil_mode=ceil_mode)
        if dilation:
            kw["dilation"] = d if nd > 1 else d[0]
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size
        cases.append(pytest.param(kw, shape, id=f"{nd}d-{len(cases)}"))
    return cases


def _run(fn, x, device, dtype, seed=3, tfn=None):
    """fn on minigrad and on torch (tfn, else fn with torch's F): outputs (and indices) and the
    gradients of a random weighting of the output."""
    t = minigrad.tensor(x, dtype=dtype, requires_grad=True, device=device)
    tx = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    out, tout = fn(F, t), (tfn or fn)(TF, tx)
    y, idx = out if isinstance(out, tuple) else (out, None)
    ty, tidx = tout if isinstance(tout, tuple) else (tout, None)
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL[dtype])
    if tidx is not None:
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    g = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(minigrad.tensor(g, dtype=dtype, device=device))
    ty.backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    np.testing.assert_allclose(t.grad.numpy(), tx.grad.numpy(), **TOL[dtype])
    return y, idx


# ---- max and average pooling against torch -------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw,shape", _geometries(2, 10, 0) + _geometries(1, 6, 1))
def test_max_pool_against_torch(kw, shape, dtype, device):
    name = "max_pool2d" if len(shape) == 4 else "max_pool1d"
    x = _distinct(shape, 7)
    _run(lambda lib, t: getattr(lib, name)(t, **kw), x, device, dtype)
    _run(lambda lib, t: getattr(lib, name)(t, **kw, return_indices=True), x, device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw,shape", _geometries(2, 8, 2, dilation=False)
                         + _geometries(1, 5, 3, dilation=False))
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_against_torch(kw, shape, count_include_pad, dtype, device):
    name = "avg_pool2d" if len(shape) == 4 else "avg_pool1d"
    x = np.random.default_rng(8).standard_normal(shape)
    _run(lambda lib, t: getattr(lib, name)(t, **kw, count_include_pad=count_include_pad), x,
         device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("divisor", [1, 3, 7])
def test_avg_pool2d_divisor_override(divisor, device):
    x = np.random.default_rng(9).standard_normal((2, 3, 7, 6))
    _run(lambda lib, t: lib.avg_pool2d(t, (3, 2), (2, 1), 1, ceil_mode=True,
                                       divisor_override=divisor), x, device, "float64")


@pytest.mark.parametrize("device", DEVICES)
def test_unbatched_and_tuple_arguments(device):
    x = _distinct((3, 7, 8), 4)
    _run(lambda lib, t: lib.max_pool2d(t, (3, 2), (2, 3), (1, 0), (1, 2), True, True), x, device,
         "float64")
    _run(lambda lib, t: lib.avg_pool2d(t, (3, 2), (2, 1), (1, 1), True, False), x, device,
         "float64")
    _run(lambda lib, t: lib.max_pool1d(t[0], 3, 2, 1, return_indices=True), x, device, "float64")
    _run(lambda lib, t: lib.avg_pool1d(t[0], 4, 3, 2, True), x, device, "float64")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d", "adaptive_max_pool2d"])
def test_an_empty_batch_pools_as_torch(op, device):
    arg = 3 if op.startswith("adaptive") else 2
    x = minigrad.zeros(0, 3, 5, 5, requires_grad=True, device=device)
    y = getattr(F, op)(x, arg)
    assert y.shape == tuple(getattr(TF, op)(torch.zeros(0, 3, 5, 5), arg).shape)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 5, 5)
    y, i = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert y.shape == i.shape == (0, 3, 3, 3) and i.dtype == np.int64
    assert F.avg_pool1d(minigrad.zeros(0, 2, 6, device=device), 4, 3, 2, True).shape == (0, 2, 3)


def test_nan_propagates_with_padding_and_dilation():
    for kw in ({"padding": 1}, {"dilation": 2}):
        a = np.arange(25.0).reshape(1, 1, 5, 5)
        a[0, 0, 1, 2] = np.nan
        ty, ti = TF.max_pool2d(torch.tensor(a), 3, 1, return_indices=True, **kw)
        y, i = F.max_pool2d(minigrad.tensor(a), 3, 1, return_indices=True, **kw)
        np.testing.assert_array_equal(np.isnan(y.numpy()), np.isnan(ty.numpy()))
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=1, dilation=2),
                                dict(padding=(1, 0), ceil_mode=True)])
def test_a_window_of_minus_infinity_names_its_first_input(kw, device):
    a = _distinct((1, 2, 5, 6), 16)
    a[:, :, :3, :3] = -np.inf          # windows in the corner see only -inf and padding
    _run(lambda lib, t: lib.max_pool2d(t, 3, 2, return_indices=True, **kw), a, device, "float64")


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.max_pool2d(x, 3, 1, 2),                 # padding above half the kernel
    lambda lib, x: lib.avg_pool2d(x, 2, 1, 2),
    lambda lib, x: lib.max_pool1d(x[:, :, 0], 3, 1, 2),
    lambda lib, x: lib.max_pool2d(x, 3, 0),                    # stride 0
    lambda lib, x: lib.max_pool2d(x, 3, dilation=0),
    lambda lib, x: lib.max_pool2d(x, 3, 1, -1),
    lambda lib, x: lib.max_pool2d(x, 6),                       # no window fits
    lambda lib, x: lib.avg_pool2d(x, 2, 1, 0, True, True, 0),  # divisor_override 0
    lambda lib, x: lib.max_pool2d(x[:, :0], 2),                # only the batch may be empty
    lambda lib, x: lib.avg_pool2d(x[:, :, :0], 2),
    lambda lib, x: lib.max_unpool2d(x, x.long() * 0 + 100, 2),  # an index past the output
], ids=["pad", "avg-pad", "pad-1d", "stride0", "dilation0", "negative-pad", "too-small",
        "divisor0", "no-channels", "no-rows", "bad-index"])
def test_errors_as_torch(call):
    with pytest.raises(RuntimeError):
        call(TF, torch.zeros(2, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"\S"):
        call(F, minigrad.zeros(2, 3, 5, 5))


# ---- adaptive max pooling and unpooling ----------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), 2),
                                       ((2, 2, 6, 8), (3, 4)), ((1, 3, 7, 5), (None, 3)),
                                       ((2, 3, 4, 3), (6, 5)), ((2, 3, 11), 4), ((1, 2, 9), 3),
                                       ((3, 7), 5), ((2, 5, 6), (4, 4))])
def test_adaptive_max_pool_against_torch(shape, out, dtype, device):
    name = "adaptive_max_pool2d" if len(shape) == 4 or isinstance(out, tuple) else \
        "adaptive_max_pool1d"
    x = _distinct(shape, 5)
    _run(lambda lib, t: getattr(lib, name)(t, out, return_indices=True), x, device, dtype)
    _run(lambda lib, t: getattr(lib, name)(t, out), x, device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p,shape,sized", [
    (2, None, 0, (2, 3, 6, 8), False), (3, 2, 1, (2, 3, 7, 8), True), ((3, 2), (2, 1), (1, 0),
                                                                       (1, 2, 5, 6), True),
    (3, 1, 1, (1, 2, 5, 5), False),         # overlapping windows: one position picked twice
    (3, 2, 1, (2, 3, 9), True), (2, None, 0, (2, 3, 8), False)])
def test_max_unpool_against_torch(k, s, p, shape, sized, dtype, device):
    nd = len(shape) - 2
    pool, unpool = (f"max_pool{nd}d", f"max_unpool{nd}d")

    def fn(lib, t):
        y, i = getattr(lib, pool)(t, k, s, p, return_indices=True)
        y = y * 1.5 + 0.25          # the unpooled values differ from the input's
        return getattr(lib, unpool)(y, i, k, s, p, output_size=t.shape[2:] if sized else None)

    _run(fn, _distinct(shape, 6), device, dtype)


def test_max_unpool_checks_output_size_as_torch():
    y, i = F.max_pool2d(minigrad.zeros(1, 1, 4, 4), 2, return_indices=True)
    assert F.max_unpool2d(y, i, 2, output_size=(1, 1, 5, 5)).shape == (1, 1, 5, 5)
    with pytest.raises(ValueError, match="between 2 and 6"):
        F.max_unpool2d(y, i, 2, output_size=(7, 5))
    with pytest.raises(ValueError):
        TF.max_unpool2d(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.long), 2,
                        output_size=(7, 5))


# ---- conv3d --------------------------------------------------------------------------------------


CONV3D = [
    (dict(), (2, 3, 5, 6, 4), (4, 3, 2, 3, 2), True),
    (dict(stride=2, padding=1), (2, 2, 6, 5, 7), (3, 2, 3, 3, 3), True),
    (dict(stride=(2, 1, 3), padding=(1, 0, 2), dilation=(2, 1, 1)), (1, 3, 7, 5, 8),
     (2, 3, 2, 2, 3), False),
    (dict(groups=3, dilation=(1, 2, 2), padding=(0, 2, 1)), (2, 6, 4, 6, 5), (9, 2, 2, 3, 2),
     True),
    (dict(padding="same", dilation=(1, 2, 1)), (1, 2, 5, 6, 4), (2, 2, 2, 3, 4), True),
    (dict(padding="valid", groups=2), (1, 4, 3, 4, 5), (2, 2, 3, 1, 2), False),
    (dict(padding=1), (2, 6, 4), (3, 2, 3, 3, 1), True),  # unbatched (C, D, H, W) below
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw,xshape,wshape,bias", CONV3D)
def test_conv3d_against_torch(kw, xshape, wshape, bias, dtype, device):
    rng = np.random.default_rng(11)
    if len(xshape) == 3:
        xshape = (wshape[1],) + xshape
    x, w, b = rng.standard_normal(xshape), rng.standard_normal(wshape), rng.standard_normal(
        wshape[0])
    ws = [minigrad.tensor(w, dtype=dtype, requires_grad=True, device=device),
          minigrad.tensor(b, dtype=dtype, requires_grad=True, device=device) if bias else None]
    tws = [torch.tensor(w, dtype=getattr(torch, dtype), requires_grad=True),
           torch.tensor(b, dtype=getattr(torch, dtype), requires_grad=True) if bias else None]
    _run(lambda lib, t: lib.conv3d(t, *(ws if lib is F else tws), **kw), x, device, dtype)
    for p, tp in zip(ws, tws):
        if p is not None:
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(),
                                       **{k: v * 10 for k, v in TOL[dtype].items()})


def test_conv3d_errors():
    x = minigrad.zeros(1, 2, 3, 3, 3)
    with pytest.raises(RuntimeError, match="channels"):
        F.conv3d(x, minigrad.zeros(4, 3, 2, 2, 2))
    with pytest.raises(RuntimeError, match="kernel"):
        F.conv3d(x, minigrad.zeros(4, 2, 4, 2, 2))
    with pytest.raises(ValueError, match="stride 1"):
        F.conv3d(x, minigrad.zeros(4, 2, 2, 2, 2), stride=2, padding="same")


# ---- nn modules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make,shape", [
    (lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 7, 8)),
    (lambda m: m.MaxPool2d((2, 3), dilation=2, return_indices=True), (1, 2, 8, 9)),
    (lambda m: m.MaxPool1d(3, 2, 1, 2, True, True), (2, 3, 9)),
    (lambda m: m.AvgPool2d(3, 2, 1, True, False), (2, 3, 7, 8)),
    (lambda m: m.AvgPool2d(2, divisor_override=3), (2, 3, 6, 6)),
    (lambda m: m.AvgPool1d(4, 3, 2, True), (2, 3, 10)),
    (lambda m: m.AdaptiveMaxPool2d((3, None), return_indices=True), (2, 3, 7, 5)),
    (lambda m: m.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (lambda m: m.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 1), padding=1, dilation=(2, 1, 1),
                        groups=2), (2, 4, 5, 6, 5)),
    (lambda m: m.Conv3d(2, 3, 3, padding="same", bias=False), (1, 2, 4, 4, 5)),
], ids=["MaxPool2d", "MaxPool2d-indices", "MaxPool1d", "AvgPool2d", "AvgPool2d-divisor",
        "AvgPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool1d", "Conv3d", "Conv3d-same"])
def test_modules_against_torch(make, shape, device):
    torch.manual_seed(0)
    m, tm = make(nn).double(), make(torch.nn).double()
    compare(m, tm, [_distinct(shape, 2)], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("nd", [1, 2])
def test_max_unpool_module_against_torch(nd, device):
    shape = (2, 3, 7, 8)[:nd + 2]
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d}[nd](3, 2, 1, return_indices=True)
    unpool = {1: nn.MaxUnpool1d, 2: nn.MaxUnpool2d}[nd](3, 2, 1)
    tpool = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d}[nd](3, 2, 1, return_indices=True)
    tunpool = {1: torch.nn.MaxUnpool1d, 2: torch.nn.MaxUnpool2d}[nd](3, 2, 1)
    x = _distinct(shape, 3)
    _run(lambda lib, t: (unpool(*pool(t), output_size=t.shape) if lib is F
                         else tunpool(*tpool(t), output_size=t.shape)), x, device, "float64")


def test_module_reprs_as_torch():
    for make in (lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), lambda m: m.AvgPool2d(2),
                 lambda m: m.MaxUnpool2d(2), lambda m: m.AdaptiveMaxPool2d((2, 3))):
        assert repr(make(nn)) == repr(make(torch.nn))


# ---- finite differences, the Scalar engine, the fused kernels ------------------------------------


def _weighted(y, seed=1):
    w = np.random.default_rng(seed).standard_normal(y.shape)
    return (y * minigrad.tensor(w, dtype=y.dtype, device=y.device)).sum()


GRADCHECKS = {
    "max_pool2d": lambda x: F.max_pool2d(x, 3, 2, 1, dilation=(1, 2), ceil_mode=True),
    "max_pool2d_padded": lambda x: F.max_pool2d(x, (2, 3), 1, (1, 1), ceil_mode=True),
    "max_pool1d": lambda x: F.max_pool1d(x.flatten(2), 3, 2, 1, 2, True),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
    "avg_pool2d_divisor": lambda x: F.avg_pool2d(x, (2, 3), 1, (1, 1), divisor_override=4),
    "avg_pool1d": lambda x: F.avg_pool1d(x.flatten(2), 4, 3, 2, True),
    # windows that do not overlap: where two pick one position, PyTorch's gradient (a gather)
    # reaches both, while only the last write counts (test_max_unpool_against_torch has it)
    "max_unpool2d": lambda x: F.max_unpool2d(*F.max_pool2d(x, 3, 3, 1, return_indices=True),
                                             3, 3, 1, output_size=x.shape),
    "max_unpool1d": lambda x: F.max_unpool1d(*F.max_pool1d(x.flatten(2), 2,
                                                           return_indices=True), 2),
    "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x, (2, 4)),
    "adaptive_max_pool1d": lambda x: F.adaptive_max_pool1d(x.flatten(2), 4),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradient_against_finite_differences(name):
    x = minigrad.tensor(_distinct((2, 2, 5, 6), 12), dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: _weighted(GRADCHECKS[name](t)), [x])


@pytest.mark.parametrize("kw", [dict(stride=(2, 1, 2), padding=1, dilation=(1, 2, 1)),
                                dict(groups=2, padding="same")])
def test_conv3d_gradient_against_finite_differences(kw):
    rng = np.random.default_rng(13)
    x = minigrad.tensor(rng.standard_normal((1, 4, 4, 5, 4)), requires_grad=True)
    w = minigrad.tensor(rng.standard_normal((2, 4 // kw.get("groups", 1), 2, 3, 2)),
                        requires_grad=True)
    b = minigrad.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: _weighted(F.conv3d(x, w, b, **kw)), [x, w, b])


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.max_pool2d(x, 2, 1, dilation=2),
    lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.avg_pool2d(x, 2, 2, 1, divisor_override=3),
    lambda x: F.max_pool1d(x[:, :, 0], 3, 2, 1, ceil_mode=True),
    lambda x: F.avg_pool1d(x[:, :, 1], 2, 1, 1),
])
def test_scalar_engine_pools_as_the_tensor_engine(fn):
    assert_engines_agree(lambda x: fn(x) * fn(x), [_distinct((1, 2, 4, 5), 14)])


def test_scalar_engine_indices_match_torch():
    a = _distinct((1, 2, 5, 5), 15)
    y, idx = F.max_pool2d(minigrad.testing.to_scalars(a), 3, 2, 1, 1, True, True)
    ty, ti = TF.max_pool2d(torch.tensor(a), 3, 2, 1, 1, True, True)
    np.testing.assert_array_equal(idx, ti.numpy())
    np.testing.assert_allclose(np.vectorize(lambda s: s.data)(y), ty.numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_the_default_case_stays_on_the_fused_kernels(device):
    from minigrad.tensor import functions as Fn
    x = minigrad.zeros(2, 3, 8, 8, requires_grad=True, device=device)
    assert isinstance(F.max_pool2d(x, 2)._ctx, Fn.MaxPool2d)
    assert isinstance(F.avg_pool2d(x, 3, 1)._ctx, Fn.AvgPool2d)
    assert isinstance(F.max_pool1d(x[:, :, 0], 2)._ctx.inputs[0]._ctx, Fn.MaxPool2d)
    # padding and ceil mode pad the input and still run the fused kernel
    y = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
    assert isinstance(y._ctx, Fn.MaxPool2d)
