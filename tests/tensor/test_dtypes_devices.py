"""Dtypes and devices as PyTorch has them: batched matmul of any rank with broadcasting, integer and
bool tensors computed by kernels on OpenCL, float16 storage, casts and arithmetic.

Each case runs on the cpu engine and on OpenCL; values are compared with PyTorch (an oracle for
the tests only) and the two engines with each other (bit for bit for integers).
"""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.opencl)]


def _t(x, device, requires_grad=False):
    return mg.tensor(x, device=device, requires_grad=requires_grad)


# ---- matmul of any batch rank, broadcasting ------------------------------------------------------

MATMUL_SHAPES = [
    ((5,), (5,)),                    # 1-D x 1-D: a 0-d dot product
    ((5,), (2, 3, 5, 4)),            # 1-D x N-D
    ((2, 3, 4, 5), (5,)),            # N-D x 1-D
    ((2, 3, 4, 5), (5, 6)),          # (B1, B2, m, k) @ (k, n)
    ((4, 5), (2, 3, 5, 6)),          # (m, k) @ (B1, B2, k, n)
    ((2, 1, 4, 5), (1, 3, 5, 6)),    # both broadcast
    ((3, 1, 4, 5), (2, 5, 6)),       # different ranks, broadcast
    ((1, 1, 4, 5), (5, 6)),          # batch dims all 1
    ((2, 3, 2, 4, 5), (3, 1, 5, 2)),  # five dims
    ((2, 0, 4, 5), (5, 6)),          # an empty batch
    ((2, 3, 4, 0), (0, 6)),          # k = 0: zeros
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_batched_broadcast_vs_torch(device, sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    want = torch.matmul(ta, tb)
    want.backward(torch.ones_like(want) if want.ndim else None)
    ma, mb = _t(a, device, True), _t(b, device, True)
    got = ma @ mb
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    got.sum().backward()
    assert ma.grad.shape == sa and mb.grad.shape == sb
    np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.opencl
@pytest.mark.parametrize("sa,sb", [((2, 1, 4, 5), (1, 3, 5, 6)), ((3, 4, 5), (2, 1, 5, 6)),
                                   ((7,), (2, 3, 7, 2))], ids=str)
def test_matmul_batched_opencl_agrees_with_cpu_gradient_weighted(sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    w = rng.standard_normal(np.broadcast_shapes(
        np.matmul(np.zeros(sa), np.zeros(sb)).shape))
    out = {}
    for device in ("cpu", "opencl"):
        ma, mb = _t(a, device, True), _t(b, device, True)
        y = ma @ mb
        (y * _t(w, device)).sum().backward()
        out[device] = (y.numpy(), ma.grad.numpy(), mb.grad.numpy())
    for got, want in zip(out["opencl"], out["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.opencl
def test_matmul_batch_mismatch_names_shapes():
    a, b = mg.ones(2, 3, 4, device="opencl"), mg.ones(5, 4, 2, device="opencl")
    with pytest.raises(RuntimeError, match=r"\(2, 3, 4\).*\(5, 4, 2\)"):
        a @ b


# ---- integer and bool tensors: kernels on OpenCL, the cpu engine's results bit for bit ---------

INTS = ["int8", "uint8", "int16", "int32", "int64"]


def _ints(rng, dtype, shape, lo=-50, hi=50):
    info = np.iinfo(dtype)
    return rng.integers(max(lo, info.min), min(hi, info.max) + 1, shape).astype(dtype)


def _both(fn, *arrays):
    """fn on the cpu engine and on OpenCL (tensors made from ``arrays``), as numpy arrays; the
    OpenCL result must equal the cpu one exactly, in value and dtype."""
    got = []
    for device in ("cpu", "opencl"):
        out = fn(*[mg.tensor(a, device=device) for a in arrays])
        got.append(out.numpy() if isinstance(out, mg.Tensor) else out)
    cpu, cl = got
    assert cl.dtype == cpu.dtype and cl.shape == cpu.shape, (cl.dtype, cpu.dtype, cl.shape)
    np.testing.assert_array_equal(cl, cpu)
    return cpu


def _where(c, a, b):
    return (torch.where if isinstance(c, torch.Tensor) else mg.where)(c, a, b)


def _cat(xs, dim):
    return (torch.cat if isinstance(xs[0], torch.Tensor) else mg.cat)(xs, dim)


def _stack(xs):
    return (torch.stack if isinstance(xs[0], torch.Tensor) else mg.stack)(xs)


INT_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "neg_abs": lambda a, b: -a + abs(b),
    "scalar": lambda a, b: 3 * a - b * 2 + 7,
    "pow": lambda a, b: a ** 3,
    "maximum_minimum": lambda a, b: a.maximum(b) - a.minimum(b),
    "floordiv": lambda a, b: a // b,
    "remainder": lambda a, b: a % b,
    "floordiv_scalar": lambda a, b: (a // 7) + (a % -3),
    "eq_ne": lambda a, b: (a == b) | (a != 3),
    "lt_le_gt_ge": lambda a, b: (a < b) ^ (a <= 2) & (b > a) | (b >= 0),
    "bits": lambda a, b: (a & b) | (a ^ 5) & ~b,
    "shifts": lambda a, b: (a << 2) >> 1,
    "logical": lambda a, b: a.logical_and(b).logical_or(a.logical_xor(b)).logical_not(),
    "where": lambda a, b: _where(a > b, a, b),
    "clip": lambda a, b: a.clip(2, 10),
    "sum": lambda a, b: a.sum(1),
    "prod": lambda a, b: (a % 3 + 1).prod(0),
    "max_min": lambda a, b: a.max(1).values + b.min(0).values.reshape(-1)[:1],
    "argmax_argmin": lambda a, b: a.argmax(1) * 100 + b.argmin(),
    "any_all": lambda a, b: (a > 10).any(1).logical_and((b < 40).all(0)[0]),
    "index_cat": lambda a, b: _cat([a[1:, ::2], b[[0, 2]][:, 1::2]], 0).T,
    "broadcast": lambda a, b: a[:, :1] * b[:1, :],
}


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", list(INT_OPS), ids=str)
def test_int_ops_opencl_equal_cpu_and_torch(op, dtype, rng):
    a = _ints(rng, dtype, (3, 4))
    b = _ints(rng, dtype, (3, 4))
    if op in ("floordiv", "remainder"):
        b[b == 0] = 7                      # torch raises on integer division by zero
    if dtype == "uint8" and op in ("neg_abs", "remainder", "floordiv_scalar"):
        a, b = np.abs(a.astype(np.int16)).astype(dtype), np.abs(b.astype(np.int16)).astype(dtype)
        b[b == 0] = 7
        if op == "floordiv_scalar":
            return                         # % -3 of a uint8 wraps -3 to 253 in torch too
    want = _both(INT_OPS[op], a, b)
    tw = INT_OPS[op](torch.tensor(a), torch.tensor(b))
    np.testing.assert_array_equal(want, tw.numpy())
    assert str(want.dtype) == str(tw.dtype).replace("torch.", "")


@pytest.mark.opencl
def test_int_semantics_edges():
    i64 = np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, -7, 7, 0], np.int64)
    d = np.array([1, -1, 2, -2, 3], np.int64)
    _both(lambda a: a + 1, i64)                       # int64 overflow wraps
    _both(lambda a: a * 3, i64)
    _both(lambda a, b: a // b, i64, d)                # int64 min // -1 wraps, no trap
    _both(lambda a, b: a % b, i64, d)
    for device in ("cpu", "opencl"):                  # a zero divisor raises, as torch's CPU
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            mg.tensor(i64, device=device) // mg.tensor(np.zeros(5, np.int64), device=device)
    _both(lambda a: a.sum(), i64)                     # the sum wraps
    _both(lambda a: abs(a), i64)                      # abs(min) wraps to min, as numpy
    i8 = np.array([127, -128, 100, -100, 5], np.int8)
    _both(lambda a: a + a, i8)
    _both(lambda a: a * 3, i8)
    _both(lambda a: a ** 3, i8)
    _both(lambda a: a << 7, i8)
    _both(lambda a, b: a >> b, i8, np.array([1, 7, 8, 9, -1], np.int8))   # counts >= 8
    _both(lambda a, b: a << b, i64, np.array([1, 63, 64, 70, -1], np.int64))
    _both(lambda a: a.max(), i8)
    _both(lambda a: a.prod(), i64)
    # floor division and remainder of negatives: toward -inf, the divisor's sign (torch)
    a = np.array([-7, 7, -7, 7, -6, 0], np.int32)
    b = np.array([2, -2, -2, 2, 3, -5], np.int32)
    got = _both(lambda x, y: _stack([x // y, x % y]), a, b)
    t = torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal(got, torch.stack([t[0] // t[1], t[0] % t[1]]).numpy())


@pytest.mark.opencl
def test_int_negative_power_raises_on_both():
    for device in ("cpu", "opencl"):
        a = mg.tensor([1, 2, 3], device=device)
        with pytest.raises(ValueError, match="negative integer powers"):
            a ** -2
        with pytest.raises(ValueError, match="negative integer powers"):
            a ** mg.tensor([1, -1, 2], device=device)


@pytest.mark.opencl
def test_bool_and_mixed_int_dtypes():
    rng = np.random.default_rng(3)
    t, f = rng.random((3, 4)) > 0.5, rng.random((3, 4)) > 0.3
    for fn in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a & b, lambda a, b: ~a,
               lambda a, b: a ^ b, lambda a, b: a == b, lambda a, b: a.sum(0),
               lambda a, b: a.any(), lambda a, b: a.all(1),
               lambda a, b: a.long() * 3 + b, lambda a, b: a.float() - b.double(),
               lambda a, b: _where(a, 1, 2), lambda a, b: _cat([a, b], 1)[:, ::3],
               lambda a, b: a + 1):
        want = _both(fn, t, f)
        tw = fn(torch.tensor(t), torch.tensor(f))
        np.testing.assert_array_equal(want, tw.numpy())
        assert str(want.dtype) == str(tw.dtype).replace("torch.", "")
    i32 = rng.integers(-9, 9, (3, 4)).astype(np.int32)
    u8 = rng.integers(0, 255, (3, 4)).astype(np.uint8)
    i8 = rng.integers(-100, 100, (3, 4)).astype(np.int8)
    for x, y in ((i32, i32.astype(np.int64)), (u8, i8), (i8, i32), (t, i8)):
        for fn in (lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a < b,
                   lambda a, b: a.maximum(b)):
            want = _both(fn, x, y)
            tw = fn(torch.tensor(x), torch.tensor(y))
            np.testing.assert_array_equal(want, tw.numpy())
            assert str(want.dtype) == str(tw.dtype).replace("torch.", "")


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", INTS + ["bool"])
def test_int_casts_on_the_device(dtype):
    x = np.array([-3.7, -0.5, 0.0, 0.5, 2.9, 100.2, 1e3], np.float32)
    _both(lambda a: a.to(dtype=dtype), x)
    i = np.array([-3, 0, 1, 120, 7], np.int64)
    _both(lambda a: a.to(dtype=dtype).float() * 0.5, i)
    _both(lambda a: a.to(dtype=dtype).double(), i)


@pytest.mark.opencl
def test_int_float_comparisons_and_isnan():
    i = np.array([1, 2, 3, 4], np.int64)
    x = np.array([1.0, 2.5, np.nan, 4.0], np.float32)
    _both(lambda a, b: (a == b) | (a < b), i, x)
    _both(lambda a, b: a > 2.5, i, x)
    _both(lambda a, b: a.isnan() | b.isnan() | b.isinf() | a.isfinite(), i, x)
    _both(lambda a, b: b.argmax() + b.argmin(), i, x)       # the first NaN wins, as numpy
    _both(lambda a, b: b.max(), i, x)


# ---- float16: storage, casts, arithmetic (computed in float32, rounded per op), gradients -------

HALF_OPS = {
    "add_mul": lambda a, b: a + b * a,
    "sub_div": lambda a, b: (a - b) / (b.abs() + 1),
    "python_float": lambda a, b: a * 0.1 + 2.5,
    "exp_tanh": lambda a, b: a.exp() + b.tanh(),
    "sigmoid_relu": lambda a, b: a.sigmoid() * b.relu(),
    "sum_mean": lambda a, b: a.sum(1) + b.mean(1),
    "max_min": lambda a, b: a.max(0).values if hasattr(a.max(0), "values") else a.max(0),
    "matmul": lambda a, b: a @ b.T,
    "broadcast": lambda a, b: a[:, :1] * b,
    "where_clip": lambda a, b: _where(a > b, a, b).clamp(-0.5, 0.5),
}


def _half_inputs(rng, shape=(4, 5)):
    return [rng.uniform(-2, 2, shape).astype(np.float16) for _ in range(2)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", list(HALF_OPS), ids=str)
def test_float16_forward_and_gradient_vs_torch(op, device, rng):
    a, b = _half_inputs(rng)
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    want = HALF_OPS[op](ta, tb)
    ma, mb = (mg.tensor(v, device=device, requires_grad=True) for v in (a, b))
    got = HALF_OPS[op](ma, mb)
    assert got.dtype == np.float16 and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy().astype(np.float32),
                               want.detach().numpy().astype(np.float32), rtol=4e-3, atol=4e-3)
    want.float().sum().backward()
    got.sum().backward()
    for m, t in ((ma, ta), (mb, tb)):
        if t.grad is None:
            assert m.grad is None or not np.any(m.grad.numpy())
            continue
        assert m.grad.dtype == np.float16
        np.testing.assert_allclose(m.grad.numpy().astype(np.float32),
                                   t.grad.numpy().astype(np.float32), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_float16_casts_and_storage(device):
    x = np.array([0.1, -2.5, 65504.0, 1e5, 3e-8, np.nan], np.float32)
    want = torch.tensor(x).half().numpy()
    for got in (mg.tensor(x, device=device).half(),
                mg.tensor(x, dtype=mg.float16, device=device),
                mg.tensor(x, dtype="float16", device=device),
                mg.tensor(x, device=device).to(dtype=np.float16),
                mg.tensor(x.astype(np.float16), device=device)):
        assert got.dtype == np.float16
        np.testing.assert_array_equal(np.asarray(got), want)       # numpy interop, bit for bit
    h = mg.tensor(x, device=device).half()
    np.testing.assert_array_equal(h.float().numpy(), want.astype(np.float32))
    np.testing.assert_array_equal(h.double().numpy(), want.astype(np.float64))
    np.testing.assert_array_equal(mg.tensor([1, -3, 70000], device=device).half().numpy(),
                                  torch.tensor([1, -3, 70000]).half().numpy())
    np.testing.assert_array_equal(h[h.isnan().logical_not()].long().numpy()[:3], [0, -2, 65504])
    np.testing.assert_array_equal(mg.cat([h, h])[::2].numpy(), np.concatenate([want, want])[::2])
    assert (h == h).numpy().tolist() == [True] * 5 + [False]


@pytest.mark.parametrize("device", DEVICES)
def test_float16_promotion_as_torch(device):
    h = mg.tensor([1.5, 2.0], dtype="float16", device=device)
    f = mg.tensor([1.0, 1.0], device=device)
    i = mg.tensor([1, 2], device=device)
    assert (h + f).dtype == np.float32 and (f * h).dtype == np.float32
    assert (h + i).dtype == np.float16 and (i * h).dtype == np.float16
    assert (h * 0.1).dtype == np.float16 and (2.5 - h).dtype == np.float16
    assert (h @ f).dtype == np.float32
    th = torch.tensor([1.5, 2.0], dtype=torch.float16)
    np.testing.assert_array_equal((h * 0.1).numpy(), (th * 0.1).numpy())
    np.testing.assert_array_equal((h + i).numpy(), (th + torch.tensor([1, 2])).numpy())


@pytest.mark.opencl
def test_float16_opencl_agrees_with_cpu(rng):
    a, b = _half_inputs(rng, (6, 7))
    for fn in (lambda x, y: x + y, lambda x, y: x * y - y / 3, lambda x, y: x.sum(0),
               lambda x, y: x.max(1) if not hasattr(x.max(1), "values") else x.max(1).values,
               lambda x, y: x.T @ y, lambda x, y: x.argmax(1), lambda x, y: x < y):
        cpu = fn(mg.tensor(a), mg.tensor(b)).numpy()
        cl = fn(mg.tensor(a, device="opencl"), mg.tensor(b, device="opencl")).numpy()
        assert cl.dtype == cpu.dtype
        np.testing.assert_allclose(cl.astype(np.float64), cpu.astype(np.float64), rtol=2e-3,
                                   atol=2e-3)


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", ["int64", "int8", "bool", "float16", "float32"])
def test_gather_on_the_device_any_dtype(dtype, rng):
    x = (rng.standard_normal((3, 4, 5)) * 10).astype(dtype)
    idx = rng.integers(0, 4, (3, 6, 5))
    got = _both(lambda a, i: a.gather(1, i), x, idx)
    np.testing.assert_array_equal(got, torch.gather(torch.tensor(x), 1, torch.tensor(idx)).numpy())
    _both(lambda a, i: a.sort(2)[0], x, idx)
    if dtype.startswith("float"):
        grads = []
        for device in ("cpu", "opencl"):
            a = mg.tensor(x.astype(np.float32), device=device, requires_grad=True)
            (a.gather(1, mg.tensor(idx, device=device)) * 2).sum().backward()
            grads.append(a.grad.numpy())
        np.testing.assert_array_equal(grads[1], grads[0])    # repeated indices add up


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "bool"])
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
                                   ((2, 1, 3, 4), (1, 2, 4, 5)), ((4,), (4,))], ids=str)
def test_integer_matmul_on_the_device(dtype, sa, sb, rng):
    def make(shape):
        v = rng.random(shape) > 0.5 if dtype == "bool" else rng.integers(-100, 100, shape)
        return v.astype(dtype)
    a, b = make(sa), make(sb)
    got = _both(lambda x, y: x @ y, a, b)               # int8 sums wrap, as torch's
    if dtype != "bool":
        want = torch.tensor(a) @ torch.tensor(b)
        np.testing.assert_array_equal(got, want.numpy())
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", ["int8", "int64", "float32", "float64"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_on_the_device_as_cpu(dtype, dim, rng):
    x = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    got = _both(lambda a: a.cumsum(dim), x)              # in order: floats round as numpy's
    if dtype.startswith("int"):
        want = torch.cumsum(torch.tensor(x), dim)          # small integers sum as int64
        np.testing.assert_array_equal(got, want.numpy())
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        return
    grads = []
    for device in ("cpu", "opencl"):
        a = mg.tensor(x, device=device, requires_grad=True)
        (a.cumsum(dim) * mg.tensor(np.arange(60.0).reshape(3, 4, 5).astype(dtype),
                                   device=device)).sum().backward()
        grads.append(a.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.opencl
@pytest.mark.parametrize("dtype", ["int16", "float32"])
@pytest.mark.parametrize("dim", [None, 0, 1, 2])
def test_argmax_argmin_any_axis_as_cpu(dtype, dim, rng):
    x = rng.integers(-3, 4, (5, 300, 7)).astype(dtype)    # many ties: the first one wins
    if dtype == "float32":
        x[2, 100, 3] = x[4, 7, 0] = np.nan                  # the first NaN wins, as numpy
    for keepdim in (False, True):
        _both(lambda a, k=keepdim: a.argmax(dim, keepdim=k), x)
        _both(lambda a, k=keepdim: a.argmin(dim, keepdim=k), x)
