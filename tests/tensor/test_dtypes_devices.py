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
