"""The OpenCL engine as users meet it: tensors and modules on the device, agreeing with the other
two engines, training steps included."""

import subprocess
import sys
import tempfile

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad import optim
from minigrad.backends.opencl import runtime
from minigrad.testing import assert_engines_agree

pytestmark = pytest.mark.opencl  # conftest skips (or, in CI, fails) without a device
THREE = ("scalar", "tensor", "opencl")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 33, 5), (33, 7, 9), (2, 129, 3)])
def test_matmul_three_engines_awkward_shapes(rng, m, k, n):
    assert_engines_agree(lambda a, b: F.tanh(a @ b), [rng.standard_normal((m, k)),
                                                      rng.standard_normal((k, n))],
                         engines=THREE)


@pytest.mark.parametrize("size", [1, 7, 33])
def test_elementwise_broadcast_reductions_three_engines(rng, size):
    a, b = rng.standard_normal((3, size)), rng.uniform(0.5, 2, (size,))
    assert_engines_agree(lambda a, b: F.sum(F.sigmoid(a) * b - a / b, 0) ** 2.0, [a, b],
                         engines=THREE)
    assert_engines_agree(lambda a: F.mean(F.exp(a) + F.log(F.relu(a) + 1.0)), [a],
                         engines=THREE)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 2)])
def test_conv_pool_cross_entropy_three_engines(rng, stride, padding):
    x, w, b = rng.standard_normal((2, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)

    def f(x, w, b):
        return F.max_pool2d(F.relu(F.conv2d(x, w, b, stride, padding)), 2)
    assert_engines_agree(f, [x, w, b], engines=THREE)
    assert_engines_agree(lambda z, t: F.cross_entropy(z, t), [rng.standard_normal((7, 5)),
                                                               np.array([0, 4, 2, 1, 3, 0, 4])],
                         engines=THREE)


def _step(model, X, y, device):
    model = model.to(device)
    model.zero_grad()
    loss = F.cross_entropy(model(minigrad.tensor(X, device=device)), y)
    loss.backward()
    return loss.item(), {n: p.grad.numpy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_whole_training_step_agrees_with_cpu(rng, kind):
    minigrad.manual_seed(0)
    model = minigrad.train.mlp(64, (32,)) if kind == "mlp" else minigrad.train.worksheet4_cnn(8)
    model.eval()  # no dropout: the same function on both devices
    X = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    l_cpu, g_cpu = _step(model, X, y, "cpu")
    l_cl, g_cl = _step(model, X, y, "opencl")
    assert l_cl == pytest.approx(l_cpu, rel=1e-5)
    for n in g_cpu:
        np.testing.assert_allclose(g_cl[n], g_cpu[n], atol=1e-5, rtol=1e-3, err_msg=n)


def test_optimizer_steps_on_device_match_cpu(rng):
    w0 = rng.standard_normal((5, 4)).astype(np.float32)
    g = rng.standard_normal((5, 4)).astype(np.float32)
    out = {}
    for dev in ("cpu", "opencl"):
        p = minigrad.tensor(w0, requires_grad=True, device=dev)
        opt = optim.Adam([p], lr=0.01)
        for _ in range(3):
            p.grad = minigrad.tensor(g, device=dev)
            opt.step()
        out[dev] = p.numpy()
    np.testing.assert_allclose(out["opencl"], out["cpu"], atol=1e-6)


def test_data_stays_on_device_and_mixing_devices_is_an_error():
    a = minigrad.ones(3, device="opencl")
    assert a.device == "opencl" and "device='opencl'" in repr(a)
    b = minigrad.ones(3)
    with pytest.raises(ValueError, match="different devices"):
        a + b
    with pytest.raises(ValueError, match="different devices"):
        minigrad.ones(2, 3, device="opencl") @ minigrad.ones(3, 2)
    assert np.array_equal((a * 2).to("cpu").numpy(), [2, 2, 2])


def test_minigrad_check_passes_on_all_three():
    r = subprocess.run([sys.executable, "-m", "minigrad.cli", "check"], capture_output=True,
                       text=True, timeout=300, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "opencl" in r.stdout and " NO" not in r.stdout


def test_installed_package_finds_its_kernels():
    # Under ./run test minigrad is an installed wheel: the .cl files must ship inside it.
    d = runtime.kernel_dir()
    assert (d / "matmul.cl").exists()
    if "site-packages" in minigrad.__file__:
        assert "site-packages" in str(d)
