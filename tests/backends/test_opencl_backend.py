"""The OpenCL backend against the numpy semantics of docs/backend_protocol.md, op by op.

Awkward sizes (1, 7, 33, 129, primes) on purpose: they are not multiples of any tile, local size
or vector width, so they exercise every padded launch and masked store.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from minigrad.backends.opencl import runtime

if not runtime.available():
    if os.environ.get("MINIGRAD_REQUIRE_OPENCL") == "1":
        raise RuntimeError(
            "MINIGRAD_REQUIRE_OPENCL=1 but no OpenCL device: " + runtime.why_unavailable()
        )
    pytest.skip("no OpenCL device", allow_module_level=True)

from minigrad.backends import opencl as B  # noqa: E402 - only importable usefully with a device

pytestmark = pytest.mark.opencl

ROOT = Path(__file__).resolve().parents[2]
DTYPES = [np.float32] + ([np.float64] if runtime.has_fp64() else [])


def rng(seed=0):
    return np.random.default_rng(seed)


def randn(*shape, dtype=np.float32, seed=0):
    return rng(seed).standard_normal(shape).astype(dtype)


def close(dev, ref, rtol=None, atol=None):
    got = B.to_numpy(dev)
    ref = np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != {ref.shape}"
    assert got.dtype == ref.dtype, f"dtype {got.dtype} != {ref.dtype}"
    f32 = ref.dtype == np.float32
    rtol = rtol if rtol is not None else (1e-5 if f32 else 1e-12)
    atol = atol if atol is not None else (1e-5 if f32 else 1e-12)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)


# ---- runtime --------------------------------------------------------------------------------

def test_devices_listed_and_formatted():
    infos = runtime.devices()
    assert infos and all(info.device for info in infos)
    assert "*" in runtime.format_devices()
    assert runtime.why_unavailable() == ""


def test_build_error_carries_the_build_log():
    with pytest.raises(runtime.KernelBuildError) as e:
        runtime.build_source("__kernel void broken(__global float *x) { x[0] = undefined_name; }",
                             name="broken.cl")
    assert "broken.cl" in str(e.value)
    assert "undefined_name" in str(e.value)          # the compiler's diagnostic, from the log


def _run_python(code, **env):
    # Run outside the source tree, so the child imports the same minigrad as this process (the
    # installed wheel under ./run test; PYTHONPATH, if the caller set one, is inherited).
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=60, cwd=tempfile.gettempdir())


def test_nonexistent_device_gives_a_clear_error():
    code = (
        "from minigrad.backends.opencl import runtime\n"
        "assert not runtime.available()\n"
        "print(runtime.why_unavailable())\n"
        "try:\n"
        "    runtime.get_context()\n"
        "except runtime.OpenCLUnavailable as e:\n"
        "    assert isinstance(e, RuntimeError)\n"
        "    print('RAISED', e)\n"
    )
    out = _run_python(code, MINIGRAD_OPENCL_DEVICE="nonexistent")
    assert out.returncode == 0, out.stderr
    assert "MINIGRAD_OPENCL_DEVICE='nonexistent' matches no OpenCL device" in out.stdout
    assert "RAISED" in out.stdout


def test_device_selected_by_index_and_substring():
    name = runtime.devices()[0].device
    for want in ("0", name[:6]):
        out = _run_python("from minigrad.backends.opencl import runtime\n"
                          "print(runtime.get_device().name)", MINIGRAD_OPENCL_DEVICE=want)
        assert out.returncode == 0, out.stderr
        assert name in out.stdout


def test_kernel_objects_are_reused():
    a = B.asarray(randn(5))
    B.exp(a)
    k1 = runtime.kernel("elementwise.cl", "exp_kernel")
    B.exp(a)
    assert runtime.kernel("elementwise.cl", "exp_kernel") is k1


# ---- transfer and creation ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES + [np.int32, np.int64])
def test_asarray_to_numpy_roundtrip(dtype):
    x = (randn(7, 33) * 10).astype(dtype)
    a = B.asarray(x)
    assert B.to_numpy(a).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(B.to_numpy(a), x)
    assert B.to_numpy(B.asarray(randn(3, 3), np.float32)).dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_full(dtype):
    np.testing.assert_array_equal(B.to_numpy(B.zeros((7, 33), dtype)), np.zeros((7, 33), dtype))
    np.testing.assert_array_equal(B.to_numpy(B.full((129,), 2.5, dtype)), np.full(129, 2.5, dtype))
    assert B.to_numpy(B.zeros((0, 3), dtype)).shape == (0, 3)


# ---- elementwise ----------------------------------------------------------------------------

UNARY = {
    "neg": (np.negative, None),
    "exp": (np.exp, None),
    "log": (np.log, "positive"),
    "sqrt": (np.sqrt, "positive"),
    "sin": (np.sin, None),
    "cos": (np.cos, None),
    "tanh": (np.tanh, None),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), None),
    "relu": (lambda x: np.maximum(x, 0), None),
    "abs": (np.abs, None),
    "sign": (np.sign, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [(1,), (7,), (33, 129), (2, 3, 5)])
def test_unary(op, shape, dtype):
    ref, domain = UNARY[op]
    x = randn(*shape, dtype=dtype) * 3
    if domain == "positive":
        x = np.abs(x) + 0.1
    close(getattr(B, op)(B.asarray(x)), ref(x).astype(dtype), rtol=2e-6 if dtype == np.float32
          else None)


def test_sigmoid_does_not_overflow():
    x = np.array([-1000, -100, 0, 100, 1000], np.float32)
    with np.errstate(over="ignore"):
        ref = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    close(B.sigmoid(B.asarray(x)), ref)


BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
    "gt": np.greater, "ge": np.greater_equal, "eq": np.equal,
}
SHAPE_PAIRS = [
    ((7,), (7,)),
    ((1,), (129,)),
    ((33, 1), (1, 129)),
    ((7, 33), (33,)),
    ((2, 3, 4, 5, 6, 7), (3, 1, 5, 1, 7)),
    ((5, 1, 3, 1, 2, 1), (1, 4, 1, 6, 1, 3)),
]


def _binary_ref(op, x, y):
    out = BINARY[op](x, y)
    dtype = x.dtype if isinstance(x, np.ndarray) else y.dtype
    return out.astype(dtype)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
def test_binary_broadcasting(op, shapes):
    x, y = randn(*shapes[0], seed=1), randn(*shapes[1], seed=2)
    if op == "div":
        y = np.where(np.abs(y) < 0.1, 1.0, y).astype(np.float32)
    if op == "eq":
        y = np.broadcast_to(x, np.broadcast_shapes(x.shape, y.shape)).copy()
        y[..., ::2] += 1
    close(getattr(B, op)(B.asarray(x), B.asarray(y)), _binary_ref(op, x, y))
    close(getattr(B, op)(B.asarray(y), B.asarray(x)), _binary_ref(op, y, x))


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_python_scalars(op):
    x = randn(7, 33)
    close(getattr(B, op)(B.asarray(x), 0.5), _binary_ref(op, x, np.float32(0.5)))
    close(getattr(B, op)(0.5, B.asarray(x)), _binary_ref(op, np.float32(0.5), x))


def test_pow():
    x = np.abs(randn(7, 33)) + 0.1
    y = randn(33)
    close(B.pow(B.asarray(x), B.asarray(y)), np.power(x, y), rtol=1e-5)
    close(B.pow(B.asarray(x), 2.0), x ** 2)
    neg = -x
    close(B.pow(B.asarray(neg), 3.0), neg ** 3, rtol=1e-5)    # negative base, integer power
    close(B.pow(2.0, B.asarray(y)), np.power(np.float32(2), y), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(dtype):
    c = (randn(7, 1, 33, seed=3) > 0).astype(dtype)
    a, b = randn(1, 5, 33, dtype=dtype, seed=4), randn(33, dtype=dtype, seed=5)
    close(B.where(B.asarray(c), B.asarray(a), B.asarray(b)), np.where(c != 0, a, b))
    close(B.where(B.asarray(c), B.asarray(a), 0.0), np.where(c != 0, a, 0).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_backs(dtype):
    x, g = randn(7, 33, dtype=dtype, seed=1), randn(7, 33, dtype=dtype, seed=2)
    y = (1 / (1 + np.exp(-x))).astype(dtype)
    t = np.tanh(x)
    close(B.relu_back(B.asarray(x), B.asarray(g)), g * (x > 0))
    close(B.sigmoid_back(B.asarray(y), B.asarray(g)), g * y * (1 - y))
    close(B.tanh_back(B.asarray(t), B.asarray(g)), g * (1 - t * t))


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_and_back(dtype):
    x, g = randn(129, dtype=dtype, seed=1), randn(129, dtype=dtype, seed=2)
    x[:3] = [-0.5, 0.5, 0.0]                                  # the boundaries count as inside
    close(B.clip(B.asarray(x), -0.5, 0.5), np.clip(x, -0.5, 0.5))
    close(B.clip_back(B.asarray(x), B.asarray(g), -0.5, 0.5), g * ((x >= -0.5) & (x <= 0.5)))


def test_accumulate_in_place():
    d, s = randn(7, 33, seed=1), randn(7, 33, seed=2)
    dst = B.asarray(d)
    out = B.accumulate(dst, B.asarray(s))
    assert out is dst
    close(dst, d + s)
    with pytest.raises(ValueError, match=r"\(7, 33\)"):
        B.accumulate(dst, B.asarray(randn(33)))


def test_shape_and_dtype_errors_name_them():
    with pytest.raises(ValueError, match=r"\(7,\).*\(3,\)"):
        B.add(B.asarray(randn(7)), B.asarray(randn(3)))
    with pytest.raises(TypeError, match="float64"):
        B.add(B.asarray(randn(7)), B.asarray(randn(7, dtype=np.float64)))


# ---- shapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axes", [((7, 33), (1, 0)), ((2, 3, 5), (2, 0, 1)),
                                        ((1, 7, 1, 33), (3, 1, 2, 0)), ((129,), (0,))])
def test_transpose(shape, axes):
    x = randn(*shape)
    close(B.transpose(B.asarray(x), axes), np.transpose(x, axes))


@pytest.mark.parametrize("shape,target", [((33,), (7, 33)), ((7, 1), (7, 129)),
                                          ((1, 3, 1), (2, 3, 5)), ((1,), (1,))])
def test_broadcast_to(shape, target):
    x = randn(*shape)
    close(B.broadcast_to(B.asarray(x), target), np.broadcast_to(x, target))


def test_reshape():
    x = randn(7, 33)
    close(B.reshape(B.asarray(x), (33, 7)), x.reshape(33, 7))
    close(B.reshape(B.asarray(x), (-1,)), x.reshape(-1))


# ---- reductions -----------------------------------------------------------------------------

REDUCE_CASES = [
    ((1,), None), ((7,), (0,)), ((129,), None), ((7, 33), (0,)), ((7, 33), (1,)),
    ((7, 33, 129), (0, 2)), ((7, 33, 129), (1,)), ((2, 3, 4, 5), (0, 2, 3)), ((33, 129), None),
    ((5, 7), ()),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
@pytest.mark.parametrize("shape,axis", REDUCE_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(op, shape, axis, keepdims, dtype):
    x = randn(*shape, dtype=dtype)
    ref = getattr(np, op)(x, axis=axis, keepdims=keepdims)
    close(getattr(B, op)(B.asarray(x), axis, keepdims), np.asarray(ref, dtype=dtype),
          rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


def test_sum_of_a_long_row_uses_chunks():
    x = rng(1).random(1_000_003).astype(np.float32)
    close(B.sum(B.asarray(x)), np.asarray(x.astype(np.float64).sum(), np.float32), rtol=1e-5)
    close(B.max(B.asarray(x), (0,)), np.asarray(x.max()))


@pytest.mark.parametrize("gshape,shape", [((7, 33), (33,)), ((7, 33), (7, 1)), ((7, 33), (1, 1)),
                                          ((2, 7, 33), (7, 33)), ((2, 3, 5), (3, 1)),
                                          ((7, 33), (7, 33))])
def test_sum_to(gshape, shape):
    g = randn(*gshape)
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, s in enumerate(shape)
                                       if s == 1 and gshape[extra + i] != 1)
    ref = g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g
    close(B.sum_to(B.asarray(g), shape), ref, rtol=1e-5)


# ---- matmul ---------------------------------------------------------------------------------

MATMUL_SHAPES = [(1, 1, 1), (7, 33, 129), (129, 7, 33), (65, 130, 97), (4, 32, 64)]


def _op(x, trans):
    return np.swapaxes(x, -1, -2) if trans else x


@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked", None])
@pytest.mark.parametrize("mnk", MATMUL_SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_2d(kernel, mnk, trans_a, trans_b):
    M, N, K = mnk
    a = randn(*((K, M) if trans_a else (M, K)), seed=1)
    b = randn(*((N, K) if trans_b else (K, N)), seed=2)
    ref = (_op(a, trans_a).astype(np.float64) @ _op(b, trans_b)).astype(np.float32)
    got = B.matmul(B.asarray(a), B.asarray(b), trans_a, trans_b, kernel=kernel)
    close(got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(K))


@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked"])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_matmul_batched(kernel, trans_a, trans_b):
    M, N, K, batch = 7, 33, 17, 3
    a = randn(*((batch, K, M) if trans_a else (batch, M, K)), seed=1)
    b = randn(*((batch, N, K) if trans_b else (batch, K, N)), seed=2)
    ref = _op(a, trans_a) @ _op(b, trans_b)
    close(B.matmul(B.asarray(a), B.asarray(b), trans_a, trans_b, kernel=kernel), ref, rtol=1e-4,
          atol=1e-4)
    shared = randn(K, N, seed=3)                                # a 2-D operand is broadcast
    close(B.matmul(B.asarray(_op(a, trans_a).copy()), B.asarray(shared), kernel=kernel),
          _op(a, trans_a) @ shared, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not runtime.has_fp64(), reason="device without cl_khr_fp64")
@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked", None])
def test_matmul_float64(kernel):
    a, b = randn(33, 7, dtype=np.float64, seed=1), randn(33, 129, dtype=np.float64, seed=2)
    close(B.matmul(B.asarray(a), B.asarray(b), trans_a=True, kernel=kernel), a.T @ b,
          rtol=1e-12, atol=1e-12)


def test_matmul_tiled_small_work_groups(monkeypatch):
    """The 32 x 32 tiles a GPU with small work-groups gets, exercised here on whatever we have."""
    monkeypatch.setattr(B, "_tiled_options",
                        lambda dtype: B._options(dtype) + ("-DTILE_M=32", "-DTILE_N=32"))
    a, b = randn(65, 33, seed=1), randn(130, 33, seed=2)
    close(B.matmul(B.asarray(a), B.asarray(b), trans_b=True, kernel="tiled"), a @ b.T,
          rtol=1e-4, atol=1e-4)


def test_matmul_kernel_for_device_type():
    expected = "blocked" if runtime.device_is_cpu() else "tiled"
    assert B.matmul_kernel_for() == expected


def test_matmul_errors():
    with pytest.raises(ValueError, match="inner sizes"):
        B.matmul(B.asarray(randn(3, 4)), B.asarray(randn(5, 6)))
    with pytest.raises(ValueError, match="kernel"):
        B.matmul(B.asarray(randn(3, 4)), B.asarray(randn(4, 6)), kernel="magic")


# ---- softmax family -------------------------------------------------------------------------

def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_log_softmax(x):
    s = x - x.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (129, 10), (3, 129)])
def test_softmax_family(shape, dtype):
    x, g = randn(*shape, dtype=dtype, seed=1) * 5, randn(*shape, dtype=dtype, seed=2)
    y, ly = np_softmax(x), np_log_softmax(x)
    close(B.softmax(B.asarray(x)), y)
    close(B.log_softmax(B.asarray(x)), ly)
    close(B.softmax_back(B.asarray(y), B.asarray(g)), y * (g - (g * y).sum(-1, keepdims=True)))
    close(B.log_softmax_back(B.asarray(ly), B.asarray(g)),
          g - np.exp(ly) * g.sum(-1, keepdims=True))


def test_softmax_is_stable():
    x = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    close(B.softmax(B.asarray(x)), np.array([[1.0, 0.0, 0.0]], np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tdtype", [np.int32, np.int64])
@pytest.mark.parametrize("N,C", [(1, 1), (7, 10), (129, 33)])
def test_cross_entropy(N, C, tdtype, dtype):
    x = randn(N, C, dtype=dtype, seed=1) * 4
    t = rng(2).integers(0, C, N).astype(tdtype)
    g = randn(N, dtype=dtype, seed=3)
    loss, probs = B.cross_entropy(B.asarray(x), B.asarray(t))
    close(loss, -np_log_softmax(x)[np.arange(N), t])
    close(probs, np_softmax(x))
    onehot = np.eye(C, dtype=dtype)[t]
    close(B.cross_entropy_back(probs, B.asarray(t), B.asarray(g)),
          (np_softmax(x) - onehot) * g[:, None])


def test_cross_entropy_extreme_logits_finite():
    x = np.array([[0.0, 200.0]], np.float32)
    loss, _ = B.cross_entropy(B.asarray(x), B.asarray(np.array([0], np.int64)))
    close(loss, np.array([200.0], np.float32))


# ---- convolution ----------------------------------------------------------------------------

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


def np_conv2d_back_weight(g, x, w_shape, s, p):
    pt, _ = _patches(x, w_shape[2], w_shape[3], s, p)
    return np.einsum("nohw,ncijhw->ocij", g, pt)


def np_conv2d_back_input(g, w, x_shape, s, p):
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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,s,p", CONV_CASES)
def test_conv2d_forward_and_backward(xs, ws, s, p, dtype):
    N, C = xs[:2]
    O, kh, kw = ws
    x, w = randn(*xs, dtype=dtype, seed=1), randn(O, C, kh, kw, dtype=dtype, seed=2)
    b = randn(O, dtype=dtype, seed=3)
    y = np_conv2d(x, w, b, s, p)
    g = randn(*y.shape, dtype=dtype, seed=4)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else {}
    close(B.conv2d(B.asarray(x), B.asarray(w), B.asarray(b), s, p), y.astype(dtype), **tol)
    close(B.conv2d(B.asarray(x), B.asarray(w), None, s, p),
          np_conv2d(x, w, None, s, p).astype(dtype), **tol)
    close(B.conv2d_back_input(B.asarray(g), B.asarray(w), xs, s, p),
          np_conv2d_back_input(g, w, xs, s, p).astype(dtype), **tol)
    close(B.conv2d_back_weight(B.asarray(g), B.asarray(x), w.shape, s, p),
          np_conv2d_back_weight(g, x, w.shape, s, p).astype(dtype), **tol)


def test_conv2d_channel_mismatch_is_reported():
    with pytest.raises(ValueError, match="channels"):
        B.conv2d(B.asarray(randn(1, 3, 5, 5)), B.asarray(randn(2, 4, 3, 3)), None, (1, 1), (0, 0))


# ---- pooling --------------------------------------------------------------------------------

def np_max_pool2d(x, k, s):
    N, C, H, W = x.shape
    OH, OW = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    y = np.empty((N, C, OH, OW), x.dtype)
    idx = np.empty((N, C, OH, OW), np.int32)
    for oh in range(OH):
        for ow in range(OW):
            win = x[:, :, oh * s[0]:oh * s[0] + k[0], ow * s[1]:ow * s[1] + k[1]]
            flat = win.reshape(N, C, -1)
            a = flat.argmax(-1)                        # first max wins, like the kernel
            y[:, :, oh, ow] = flat.max(-1)
            idx[:, :, oh, ow] = (oh * s[0] + a // k[1]) * W + ow * s[1] + a % k[1]
    return y, idx


def np_max_pool2d_back(g, idx, x_shape):
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


def np_avg_pool2d_back(g, x_shape, k, s):
    dx = np.zeros(x_shape, g.dtype)
    OH, OW = g.shape[2:]
    for oh in range(OH):
        for ow in range(OW):
            dx[:, :, oh * s[0]:oh * s[0] + k[0], ow * s[1]:ow * s[1] + k[1]] += \
                g[:, :, oh:oh + 1, ow:ow + 1] / (k[0] * k[1])
    return dx


POOL_CASES = [((2, 3, 8, 8), (2, 2), (2, 2)), ((2, 3, 7, 9), (2, 2), (2, 2)),
              ((1, 2, 7, 7), (3, 3), (2, 2)), ((2, 1, 6, 5), (3, 3), (1, 1)),
              ((1, 3, 9, 9), (2, 2), (1, 1)), ((1, 1, 1, 1), (1, 1), (1, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,k,s", POOL_CASES)
def test_max_pool2d(xs, k, s, dtype):
    x = randn(*xs, dtype=dtype)
    y, idx = np_max_pool2d(x, k, s)
    dy, didx = B.max_pool2d(B.asarray(x), k, s)
    close(dy, y)
    assert B.to_numpy(didx).dtype == np.int32
    np.testing.assert_array_equal(B.to_numpy(didx), idx)
    g = randn(*y.shape, dtype=dtype, seed=5)
    close(B.max_pool2d_back(B.asarray(g), didx, xs), np_max_pool2d_back(g, idx, xs))


def test_max_pool2d_first_max_wins():
    x = np.zeros((1, 1, 2, 2), np.float32)
    _, idx = B.max_pool2d(B.asarray(x), (2, 2), (2, 2))
    assert B.to_numpy(idx).ravel().tolist() == [0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,k,s", POOL_CASES)
def test_avg_pool2d(xs, k, s, dtype):
    x = randn(*xs, dtype=dtype)
    y = np_avg_pool2d(x, k, s)
    close(B.avg_pool2d(B.asarray(x), k, s), y)
    g = randn(*y.shape, dtype=dtype, seed=5)
    close(B.avg_pool2d_back(B.asarray(g), xs, k, s), np_avg_pool2d_back(g, xs, k, s))


# ---- optimizers: PyTorch's rules, written out in numpy --------------------------------------

def _steps(step_dev, step_ref, n_state, steps=3, shape=(7, 33), dtype=np.float32):
    p = randn(*shape, dtype=dtype, seed=1)
    state = [np.zeros(shape, dtype) for _ in range(n_state)]
    dp, dstate = B.asarray(p), [B.asarray(s) for s in state]
    for t in range(1, steps + 1):
        g = randn(*shape, dtype=dtype, seed=10 + t)
        dg = B.asarray(g)
        assert step_dev(dp, dg, dstate, t) is dp
        step_ref(p, g, state, t)
        np.testing.assert_array_equal(B.to_numpy(dg), g)        # the gradient is not modified
    close(dp, p, rtol=1e-5, atol=1e-6)
    for d, s in zip(dstate, state):
        close(d, s, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.9, False, 0.01),
                                                   (0.9, True, 0.0)])
def test_sgd_step(momentum, nesterov, wd):
    lr = 0.1

    def ref(p, g, state, t):
        g = g + wd * p
        if momentum:
            state[0][...] = momentum * state[0] + g
            g = g + momentum * state[0] if nesterov else state[0]
        p -= lr * g

    def dev(p, g, state, t):
        return B.sgd_step(p, g, state[0] if momentum else None, lr, momentum, nesterov, wd)

    _steps(dev, ref, 1)


def test_sgd_first_step_ignores_stale_buf():
    p, g = randn(33, seed=1), randn(33, seed=2)
    dp, buf = B.asarray(p), B.full((33,), 123.0, np.float32)    # garbage, as if uninitialised
    B.sgd_step(dp, B.asarray(g), buf, 0.1, 0.9, False, 0.0, True)
    close(buf, g)
    close(dp, p - 0.1 * g)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_step(wd, dtype):
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8

    def ref(p, g, state, t):
        m, v = state
        g = g + wd * p
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
        p -= (lr / (1 - b1 ** t)) * m / denom

    def dev(p, g, state, t):
        return B.adam_step(p, g, state[0], state[1], lr, b1, b2, eps, wd, t)

    _steps(dev, ref, 2, dtype=dtype)


def test_adagrad_step():
    lr, eps, wd = 0.1, 1e-10, 0.01

    def ref(p, g, state, t):
        g = g + wd * p
        state[0] += g * g
        p -= lr * g / (np.sqrt(state[0]) + eps)

    _steps(lambda p, g, s, t: B.adagrad_step(p, g, s[0], lr, eps, wd), ref, 1)


def test_rmsprop_step():
    lr, alpha, eps, wd = 0.01, 0.99, 1e-8, 0.01

    def ref(p, g, state, t):
        g = g + wd * p
        state[0][...] = alpha * state[0] + (1 - alpha) * g * g
        p -= lr * g / (np.sqrt(state[0]) + eps)

    _steps(lambda p, g, s, t: B.rmsprop_step(p, g, s[0], lr, alpha, eps, wd), ref, 1)


def test_backend_name():
    assert B.name == "opencl"
