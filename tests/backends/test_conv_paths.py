"""The CPU backend's convolution paths (minigrad/backends/cpu.py), each forced in turn and checked
against the others, the reference backend (numpy's einsum over sliding windows) and PyTorch:

* ``keep``: the whole batch's im2col columns kept from the forward for the weight gradient;
* ``chunked``: images a few at a time, the columns recomputed in the backward;
* ``threads``: the chunks shared among worker threads, each with a one-threaded BLAS;
* ``winograd``: Winograd F(2x2, 3x3) for 3x3 unit-stride layers (forward, input gradient and
  weight gradient), one image per chunk; ``winograd-threads``: its chunks over the threads.

Geometries are random (stride, padding, channels, odd sizes, kernels up to the padded input;
for the Winograd paths 3x3 kernels at stride 1, odd and even sizes, padding 0 to 2), float32
and float64; all three gradients are compared, with and without a bias.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minigrad.backends import blas, cpu, reference

# The path fixture's settings are the same for every example hypothesis draws: sharing it is fine.
FIXTURE = HealthCheck.function_scoped_fixture

NEVER = 1 << 40
PATHS = {
    # path: (IM2COL_KEEP_BYTES, IM2COL_CHUNK_BYTES, PARALLEL_MIN_FLOPS, WINOGRAD_MIN_CHANNELS,
    #        the Winograd chunk budgets)
    "keep": (1 << 40, 1 << 40, float("inf"), NEVER, NEVER),
    "chunked": (0, 1, float("inf"), NEVER, NEVER),     # one image per chunk, columns recomputed
    "threads": (0, 1, 0, NEVER, NEVER),                # and the chunks over the BLAS's threads
    "winograd": (0, 1, float("inf"), 0, 1),            # every 3x3 stride-1 layer, image by image
    "winograd-threads": (0, 1, 0, 0, 1),
}
WINOGRAD_PATHS = ("winograd", "winograd-threads")


def _set_path(monkeypatch, name):
    keep, chunk, par, wino_channels, wino_chunk = PATHS[name]
    monkeypatch.setattr(cpu, "IM2COL_KEEP_BYTES", keep)
    monkeypatch.setattr(cpu, "IM2COL_CHUNK_BYTES", chunk)
    monkeypatch.setattr(cpu, "PARALLEL_MIN_FLOPS", par)
    monkeypatch.setattr(cpu, "WINOGRAD_MIN_CHANNELS", wino_channels)
    monkeypatch.setattr(cpu, "WINOGRAD_MIN_TILES", 0 if wino_channels == 0 else NEVER)
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", wino_chunk)
    monkeypatch.setattr(cpu, "WINOGRAD_GRAD_CHUNK_BYTES", wino_chunk)


@pytest.fixture(params=list(PATHS))
def path(request, monkeypatch):
    _set_path(monkeypatch, request.param)
    return request.param


def _run(backend, x, w, b, g, stride, padding):
    y, saved = backend.conv2d(x, w, b, stride, padding)
    gx, gw = backend.conv2d_vjp(g, w, saved, x.shape, stride, padding, True, True)
    return y, gx, gw


# 3x3 kernels at stride 1 (what the Winograd paths take), the rest as above
geometry3 = st.fixed_dictionaries({
    "n": st.integers(1, 4), "c": st.integers(1, 12), "o": st.integers(1, 9),
    "kh": st.just(3), "kw": st.just(3), "sh": st.just(1), "sw": st.just(1),
    "ph": st.integers(0, 2), "pw": st.integers(0, 2),
    "dh": st.integers(0, 9), "dw": st.integers(0, 9),
    "bias": st.booleans(), "seed": st.integers(0, 2**16),
})


def _geometry_for(path):
    return geometry3 if path in WINOGRAD_PATHS else geometry


geometry = st.fixed_dictionaries({
    "n": st.integers(1, 5), "c": st.integers(1, 6), "o": st.integers(1, 7),
    "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "ph": st.integers(0, 2), "pw": st.integers(0, 2),
    "dh": st.integers(0, 6), "dw": st.integers(0, 6),   # input size beyond the smallest valid
    "bias": st.booleans(), "seed": st.integers(0, 2**16),
})


def _arrays(gm, dtype):
    rng = np.random.default_rng(gm["seed"])
    h = max(1, gm["kh"] - 2 * gm["ph"]) + gm["dh"]
    wd = max(1, gm["kw"] - 2 * gm["pw"]) + gm["dw"]
    x = rng.standard_normal((gm["n"], gm["c"], h, wd)).astype(dtype)
    w = rng.standard_normal((gm["o"], gm["c"], gm["kh"], gm["kw"])).astype(dtype)
    b = rng.standard_normal(gm["o"]).astype(dtype) if gm["bias"] else None
    stride, padding = (gm["sh"], gm["sw"]), (gm["ph"], gm["pw"])
    oh = cpu.conv_out_size(h, gm["kh"], stride[0], padding[0])
    ow = cpu.conv_out_size(wd, gm["kw"], stride[1], padding[1])
    g = rng.standard_normal((gm["n"], gm["o"], oh, ow)).astype(dtype)
    return x, w, b, g, stride, padding


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE])
@given(data=st.data())
def test_each_path_matches_the_reference_backend(path, dtype, data):
    gm = data.draw(_geometry_for(path))
    x, w, b, g, stride, padding = _arrays(gm, dtype)
    got = _run(cpu, x, w, b, g, stride, padding)
    want = _run(reference, x, w, b, g, stride, padding)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for name, a, e in zip(("y", "dx", "dw"), got, want):
        assert a.dtype == dtype and a.shape == e.shape, (name, a.shape, e.shape)
        np.testing.assert_allclose(a, e, **tol, err_msg=f"{path} {name} {gm}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_paths_agree_on_a_worksheet_layer(dtype, monkeypatch):
    """The shapes the benchmark times (the worksheet-4 CNN's second layer, a smaller batch):
    the three paths give the same numbers as one another, to rounding."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 16, 26, 26)).astype(dtype)
    w = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(dtype)
    b = rng.standard_normal(32).astype(dtype)
    g = rng.standard_normal((6, 32, 24, 24)).astype(dtype)
    results = {}
    for name in PATHS:
        _set_path(monkeypatch, name)
        results[name] = _run(cpu, x, w, b, g, (1, 1), (0, 0))
    # dW sums 6 * 24 * 24 products per entry, in a different order per path (and through
    # Winograd's transforms): float32 rounding
    tol = dict(rtol=1e-4, atol=5e-4) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    for name in ("chunked", "threads", *WINOGRAD_PATHS):
        for a, e in zip(results[name], results["keep"]):
            np.testing.assert_allclose(a, e, **tol, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE])
@given(data=st.data())
def test_each_path_matches_pytorch(path, dtype, data):
    torch = pytest.importorskip("torch")
    gm = data.draw(_geometry_for(path))
    x, w, b, g, stride, padding = _arrays(gm, dtype)
    y, gx, gw = _run(cpu, x, w, b, g, stride, padding)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b) if b is not None else None
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(gw, tw.grad.numpy(), **tol)


def test_an_empty_batch_gives_empty_results_and_zero_weight_gradient():
    x = np.zeros((0, 3, 6, 6), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    y, saved = cpu.conv2d(x, w, None, (1, 1), (1, 1))
    gx, gw = cpu.conv2d_vjp(np.zeros(y.shape, np.float32), w, saved, x.shape, (1, 1), (1, 1))
    assert y.shape == (0, 4, 6, 6) and gx.shape == x.shape
    np.testing.assert_array_equal(gw, np.zeros(w.shape, np.float32))


def test_a_worker_error_reaches_the_caller_and_restores_the_blas_threads(monkeypatch):
    before = blas.threads()
    monkeypatch.setattr(cpu, "IM2COL_KEEP_BYTES", 0)
    monkeypatch.setattr(cpu, "IM2COL_CHUNK_BYTES", 1)
    monkeypatch.setattr(cpu, "PARALLEL_MIN_FLOPS", 0)

    def boom(*args):
        raise RuntimeError("im2col failed")

    monkeypatch.setattr(cpu._cpu, "im2col", boom)
    with pytest.raises(RuntimeError, match="im2col failed"):
        cpu.conv2d(np.ones((4, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32), None,
                   (1, 1), (0, 0))
    assert blas.threads() == before


def test_blas_single_threaded_nests_and_restores():
    before = blas.threads()
    with blas.single_threaded():
        with blas.single_threaded():
            assert blas.threads() == 1
        assert blas.threads() == 1
    assert blas.threads() == before


def test_a_forked_child_convolves_with_threads_of_its_own(monkeypatch):
    """The worker pool is per process: a child forked after the parent used it (a data loader's
    worker, say) must not hand chunks to threads that exist only in the parent."""
    import multiprocessing
    monkeypatch.setattr(cpu, "IM2COL_KEEP_BYTES", 0)
    monkeypatch.setattr(cpu, "IM2COL_CHUNK_BYTES", 1)
    monkeypatch.setattr(cpu, "PARALLEL_MIN_FLOPS", 0)
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6)).astype(np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    want = cpu.conv2d(x, w, None, (1, 1), (0, 0))[0]      # the parent's pool now exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_conv_in_child, (x, w)).get(timeout=30)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _conv_in_child(x, w):
    cpu.IM2COL_KEEP_BYTES, cpu.IM2COL_CHUNK_BYTES, cpu.PARALLEL_MIN_FLOPS = 0, 1, 0
    return cpu.conv2d(x, w, None, (1, 1), (0, 0))[0]


@pytest.mark.parametrize("name", WINOGRAD_PATHS)
def test_winograd_on_an_empty_batch_and_on_one_pixel(name, monkeypatch):
    _set_path(monkeypatch, name)
    w = np.ones((4, 3, 3, 3), np.float32)
    y, saved = cpu.conv2d(np.zeros((0, 3, 6, 6), np.float32), w, None, (1, 1), (1, 1))
    gx, gw = cpu.conv2d_vjp(np.zeros(y.shape, np.float32), w, saved, (0, 3, 6, 6), (1, 1), (1, 1))
    assert y.shape == (0, 4, 6, 6) and gx.shape == (0, 3, 6, 6)
    np.testing.assert_array_equal(gw, np.zeros(w.shape, np.float32))
    # a 1x1 image padded by 1: one 2x2 tile, three quarters of it outside the output
    x = np.full((1, 3, 1, 1), 2.0, np.float32)
    y, saved = cpu.conv2d(x, w, None, (1, 1), (1, 1))
    np.testing.assert_allclose(y, np.full((1, 4, 1, 1), 6.0, np.float32))
    gx, gw = cpu.conv2d_vjp(np.ones(y.shape, np.float32), w, saved, x.shape, (1, 1), (1, 1))
    np.testing.assert_allclose(gx, np.full(x.shape, 4.0, np.float32))
    want_gw = np.zeros(w.shape, np.float32)
    want_gw[:, :, 1, 1] = 2.0                      # only the centre tap ever sees the pixel
    np.testing.assert_allclose(gw, want_gw)


def test_the_default_thresholds_route_the_worksheet_layers(monkeypatch):
    """What the benchmark times is what these tests check: with the default thresholds the
    worksheet-4 CNN's second layer (16 channels, 26x26) takes the Winograd path for the forward
    and both gradients; its first layer (1 channel) and the digits CNN's 8x8 layers im2col."""
    calls = []
    real_fwd, real_vjp = cpu._winograd, cpu._winograd_vjp
    monkeypatch.setattr(cpu, "_winograd", lambda *a: calls.append("fwd") or real_fwd(*a))
    monkeypatch.setattr(cpu, "_winograd_vjp", lambda *a: calls.append("vjp") or real_vjp(*a))

    def step(shape, o, padding, need_x=True):
        x = np.ones(shape, np.float32)
        w = np.ones((o, shape[1], 3, 3), np.float32)
        y, saved = cpu.conv2d(x, w, None, (1, 1), padding)
        cpu.conv2d_vjp(np.ones(y.shape, np.float32), w, saved, shape, (1, 1), padding, need_x)
        got = list(calls)
        calls.clear()
        return got

    assert step((2, 16, 26, 26), 32, (0, 0)) == ["fwd", "vjp"]
    assert step((2, 1, 28, 28), 16, (0, 0), need_x=False) == []
    assert step((2, 1, 28, 28), 16, (0, 0)) == []
    assert step((2, 16, 8, 8), 32, (1, 1)) == []
