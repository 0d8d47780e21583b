"""The new modules are composites, so they run on every backend with no backend code: each is
run here on "reference" and on OpenCL (float32) and compared with the CPU engine, forward and
backward, buffers included."""

import numpy as np
import pytest

import minigrad
import minigrad.functional as F
from minigrad import nn

DEVICES = ["reference", pytest.param("opencl", marks=pytest.mark.opencl)]


def _grads(module, xs):
    out = {f"x{i}": x.grad.numpy() for i, x in enumerate(xs) if x.grad is not None}
    out.update({n: p.grad.numpy() for n, p in module.named_parameters() if p.grad is not None})
    return out


def run_both(device, make, inputs, call=None, steps=1, grad=None):
    """The module on the CPU and its twin on ``device``: same outputs, gradients, state."""
    call = call or (lambda m, *xs: m(*xs))
    minigrad.manual_seed(0)
    cpu = make()
    minigrad.manual_seed(0)
    dev = make().to(device)   # the same initial weights
    for _ in range(steps):
        res = []
        for m, d in ((cpu, "cpu"), (dev, device)):
            m.zero_grad()
            xs = [minigrad.tensor(a, device=d, requires_grad=(a.dtype.kind == "f")
                                  if grad is None else g)
                  for a, g in zip(inputs, grad or [None] * len(inputs))]
            outs = call(m, *xs)
            outs = [o for o in (outs if isinstance(outs, (tuple, list)) else [outs])
                    for o in (o if isinstance(o, (tuple, list)) else [o]) if o is not None]
            loss = None
            for o in outs:
                if o.requires_grad:
                    term = (o * o).sum()
                    loss = term if loss is None else loss + term
            loss.backward()
            res.append(([o.numpy() for o in outs], _grads(m, xs), m.state_dict()))
        (o1, g1, s1), (o2, g2, s2) = res
        for a, b in zip(o1, o2):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        assert g1.keys() == g2.keys()
        for k in g1:
            np.testing.assert_allclose(g2[k], g1[k], rtol=1e-3, atol=1e-4, err_msg=k)
        for k in s1:
            np.testing.assert_allclose(s2[k], s1[k], rtol=1e-4, atol=1e-5, err_msg=k)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_batchnorm_cnn_step(rng, device):
    make = lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4),  # noqa: E731
                                 nn.ReLU(), nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(),
                                 nn.Linear(24, 3))
    run_both(device, make, [f32(rng, 4, 2, 7, 6)], steps=2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent(rng, device, kind):
    make = lambda: getattr(nn, kind)(3, 5, num_layers=2, bidirectional=True)  # noqa: E731
    run_both(device, make, [f32(rng, 6, 2, 3)])


@pytest.mark.parametrize("device", DEVICES)
def test_attention_norms_embedding(rng, device):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 8, padding_idx=0)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.ln = nn.LayerNorm(8)
            self.gn = nn.GroupNorm(2, 4)

        def forward(self, idx):
            x = self.emb(idx)
            mask = np.triu(np.ones((5, 5), bool), 1)
            a, w = self.attn(x, x, x, attn_mask=mask)
            y = self.ln(x + a)
            return self.gn(y.reshape(3, 4, 10)), w
    idx = np.array([[1, 2, 0, 4, 5], [9, 0, 0, 3, 1], [2, 2, 2, 7, 8]])
    run_both(device, Block, [idx])


@pytest.mark.parametrize("device", DEVICES)
def test_convolution_composites_and_resampling(rng, device):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(4, 4, 3, dilation=2, groups=2, padding="same")
            self.b = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x):
            y = self.b(self.a(x))
            return self.up(y), F.interpolate(y, size=(5, 7), mode="bilinear")
    run_both(device, Net, [f32(rng, 2, 4, 5, 4)])


@pytest.mark.parametrize("device", DEVICES)
def test_losses(rng, device):
    x, p = f32(rng, 4, 3), rng.random((4, 3)).astype(np.float32)
    t = np.array([0, 2, -100, 1])

    def call(m, x, p):
        return (F.cross_entropy(x, t, weight=np.array([1.0, 2.0, 0.5], np.float32),
                                label_smoothing=0.1),
                F.binary_cross_entropy_with_logits(x, p, pos_weight=np.ones(3, np.float32) * 2),
                F.binary_cross_entropy(F.sigmoid(x), p), F.smooth_l1_loss(x, p),
                F.huber_loss(x, p), F.l1_loss(x, p),
                F.kl_div(F.log_softmax(x, 1), p, reduction="batchmean"), F.gelu(x))
    run_both(device, nn.Module, [x, p], call=call)
