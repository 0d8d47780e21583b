"""The layers of issue 11 against PyTorch with copied weights: outputs, input and parameter
gradients, and buffers. BatchNorm over several steps in train and eval mode, normalisation,
embedding, convolutions with dilation/groups and transposed, resampling, adaptive pooling,
activations, multi-head attention."""

import numpy as np
import pytest
from nn_torch_twin import compare

import minigrad
import minigrad.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")


def twins(ours, theirs, *args, **kw):
    torch.manual_seed(0)
    return ours(*args, **kw).double(), theirs(*args, **kw).double()


# ---- BatchNorm -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.3}, {"momentum": None}, {"affine": False},
                                {"track_running_stats": False}, {"eps": 1e-3}])
@pytest.mark.parametrize("kind,shape", [("1d", (6, 3)), ("1d", (4, 3, 5)), ("2d", (4, 3, 5, 2))])
def test_batchnorm_train_then_eval_over_steps(rng, kw, kind, shape):
    ours, theirs = (nn.BatchNorm1d, torch.nn.BatchNorm1d) if kind == "1d" else \
        (nn.BatchNorm2d, torch.nn.BatchNorm2d)
    m, tm = twins(ours, theirs, 3, **kw)
    if m.affine:  # something other than ones and zeros
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-1, 1)
    for step in range(4):  # running statistics accumulate over the steps
        x = rng.standard_normal(shape) * (step + 1) + step
        compare(m, tm, [x], load=step == 0, seed=step)
    if m.track_running_stats:
        assert m.num_batches_tracked.item() == 4
    m.eval()
    tm.eval()
    for step in range(2):  # evaluation: the running statistics, unchanged
        compare(m, tm, [rng.standard_normal(shape)], load=False, seed=10 + step)


def test_batchnorm_buffers_in_state_dict_and_errors():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                  "num_batches_tracked"]
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    with pytest.raises(ValueError, match="4-D"):
        bn(minigrad.randn(2, 3, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(minigrad.randn(1, 3))
    with pytest.raises(ValueError, match="3 channels"):
        nn.BatchNorm1d(4)(minigrad.randn(2, 3))
    assert list(nn.BatchNorm1d(2, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_batchnorm_running_stats_are_not_in_the_graph(rng):
    bn = nn.BatchNorm1d(3)
    x = minigrad.tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    y = bn(x)
    assert not bn.running_mean.requires_grad and bn.running_mean.grad_fn is None
    bn(x)        # a second step updates the buffers in place before the first backward
    (y * y).sum().backward()  # still fine: training used the batch statistics
    assert x.grad is not None


def test_functional_batch_norm_matches_torch(rng):
    x = rng.standard_normal((4, 3, 2))
    rm, rv = np.zeros(3), np.ones(3)
    ours_rm, ours_rv = minigrad.tensor(rm), minigrad.tensor(rv)
    y = F.batch_norm(minigrad.tensor(x), ours_rm, ours_rv, training=True, momentum=0.2)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours_rm.numpy(), trm.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours_rv.numpy(), trv.numpy(), atol=1e-12)


@pytest.mark.parametrize("device", ["cpu", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,shape,affine", [("2d", (4, 3, 5, 2), True), ("1d", (6, 3), True),
                                               ("1d", (4, 3, 5), False)])
def test_fused_batch_norm_equals_the_composite(rng, device, dtype, kind, shape, affine):
    """One op, one rule: training-mode batch norm as one Function (the backends' batch_norm
    kernels) gives the composite's outputs, gradients (input, weight, bias) and running
    statistics, over two steps."""
    results = []
    for fused in (True, False):
        F._BATCH_NORM_FUSED = fused
        try:
            m = (nn.BatchNorm2d if kind == "2d" else nn.BatchNorm1d)(3, affine=affine)
            m = m.to(device).to(dtype=dtype)
            if affine:
                m.weight.data = m.weight.backend.asarray(np.array([0.5, 1.5, 2.0], dtype))
                m.bias.data = m.bias.backend.asarray(np.array([-1.0, 0.0, 1.0], dtype))
            got = []
            for step in range(2):
                m.zero_grad()
                r = np.random.default_rng(step)
                x = minigrad.tensor((r.standard_normal(shape) * 3 + 1).astype(dtype),
                                    requires_grad=True, device=device)
                y = m(x)
                (y * minigrad.tensor(r.standard_normal(shape).astype(dtype), device=device)
                 ).sum().backward()
                got += [y.numpy(), x.grad.numpy(), m.running_mean.numpy(),
                        m.running_var.numpy()]
                got += [m.weight.grad.numpy(), m.bias.grad.numpy()] if affine else []
            results.append(got)
        finally:
            F._BATCH_NORM_FUSED = True
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(*results):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)


def test_fused_batch_norm_matches_torch_at_the_benchmark_size(rng):
    """float32 BatchNorm2d(32) on (64, 32, 24, 24), the benchmark CNN's second layer."""
    m, tm = nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-1, 1)
    compare(m, tm, [(rng.standard_normal((64, 32, 24, 24)) * 2 + 1).astype(np.float32)],
            atol=1e-5, rtol=1e-4)


# ---- LayerNorm, GroupNorm ------------------------------------------------------------------------


@pytest.mark.parametrize("shape,ns,kw", [((4, 6), 6, {}), ((2, 3, 4, 5), (4, 5), {}),
                                         ((2, 3, 4), 4, {"elementwise_affine": False}),
                                         ((2, 3, 4), 4, {"bias": False, "eps": 1e-3})])
def test_layernorm(rng, shape, ns, kw):
    m, tm = twins(nn.LayerNorm, torch.nn.LayerNorm, ns, **kw)
    if tm.weight is not None:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            if tm.bias is not None:
                tm.bias.uniform_(-1, 1)
    compare(m, tm, [rng.standard_normal(shape)])


@pytest.mark.parametrize("groups,shape,affine", [(1, (2, 4, 3), True), (2, (3, 4, 2, 2), True),
                                                 (4, (2, 4, 5), False)])
def test_groupnorm(rng, groups, shape, affine):
    m, tm = twins(nn.GroupNorm, torch.nn.GroupNorm, groups, 4, affine=affine)
    if affine:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            tm.bias.uniform_(-1, 1)
    compare(m, tm, [rng.standard_normal(shape)])


# ---- Embedding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding(rng, padding_idx):
    m, tm = twins(nn.Embedding, torch.nn.Embedding, 7, 3, padding_idx=padding_idx)
    idx = np.array([[0, 2, 6, 2], [6, 6, 1, 0]])
    compare(m, tm, [idx])
    if padding_idx is not None:
        assert not np.any(m.weight.grad.numpy()[padding_idx % 7])
        assert not np.any(m.weight.numpy()[padding_idx % 7])


def test_embedding_max_norm_and_from_pretrained(rng):
    m, tm = twins(nn.Embedding, torch.nn.Embedding, 5, 4, max_norm=1.0)
    compare(m, tm, [np.array([[0, 1, 1], [3, 0, 4]])])   # renormalises rows 0, 1, 3, 4 in place
    w = rng.standard_normal((4, 3))
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(np.array([3, 0])).numpy(), w[[3, 0]])
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        e(np.array([4]))
    with pytest.raises(TypeError, match="integers"):
        e(minigrad.tensor([1.0]))


# ---- convolutions --------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"dilation": 2}, {"groups": 2}, {"groups": 4, "dilation": (1, 2), "padding": 2},
    {"padding": "same", "dilation": 2}, {"padding": "same"}, {"padding": "valid", "stride": 2},
    {"kernel_size": (2, 3), "padding": "same"}, {"stride": 2, "groups": 2, "bias": False}])
def test_conv2d_dilation_groups_padding(rng, kw):
    kw = {"kernel_size": 3, **kw}
    m, tm = twins(nn.Conv2d, torch.nn.Conv2d, 4, 8, **kw)
    compare(m, tm, [rng.standard_normal((2, 4, 7, 6))])


@pytest.mark.parametrize("kw", [{"dilation": 3, "padding": 1}, {"groups": 2},
                                {"padding": "same", "kernel_size": 4}])
def test_conv1d_dilation_groups(rng, kw):
    kw = {"kernel_size": 3, **kw}
    m, tm = twins(nn.Conv1d, torch.nn.Conv1d, 4, 6, **kw)
    compare(m, tm, [rng.standard_normal((2, 4, 11))])


@pytest.mark.parametrize("kw", [
    {}, {"stride": 2}, {"stride": 2, "padding": 1, "output_padding": 1},
    {"stride": (2, 3), "padding": (0, 2), "kernel_size": (3, 4)}, {"groups": 2, "stride": 2},
    {"dilation": 2, "padding": 3}, {"padding": 2, "bias": False},
    {"stride": 3, "dilation": 2, "output_padding": 1, "groups": 2}])
def test_conv_transpose2d(rng, kw):
    kw = {"kernel_size": 3, **kw}
    m, tm = twins(nn.ConvTranspose2d, torch.nn.ConvTranspose2d, 4, 6, **kw)
    compare(m, tm, [rng.standard_normal((2, 4, 5, 4))])


def test_conv_transpose1d(rng):
    m, tm = twins(nn.ConvTranspose1d, torch.nn.ConvTranspose1d, 3, 2, 4, stride=2, padding=1)
    compare(m, tm, [rng.standard_normal((2, 3, 6))])


def test_conv_transpose_is_the_gradient_of_conv(rng):
    """conv_transpose2d(g, W) is d<conv2d(x, W), g>/dx: the definition, checked directly."""
    x = minigrad.tensor(rng.standard_normal((1, 2, 7, 7)), requires_grad=True)
    w = minigrad.tensor(rng.standard_normal((3, 2, 3, 3)))
    y = F.conv2d(x, w, stride=2, padding=1)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(F.conv_transpose2d(minigrad.tensor(g), w, stride=2,
                                                  padding=1).numpy(), x.grad.numpy(), atol=1e-12)


def test_conv_errors():
    with pytest.raises(ValueError, match="groups=3"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(minigrad.randn(1, 2, 5, 5), minigrad.randn(2, 2, 3, 3), stride=2,
                 padding="same")
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(minigrad.randn(1, 2, 5, 5), minigrad.randn(2, 2, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(NotImplementedError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="reflect")


# ---- resampling, pooling, small modules ----------------------------------------------------------


@pytest.mark.parametrize("kw,shape", [
    ({"scale_factor": 2}, (2, 3, 4, 5)), ({"scale_factor": (2, 3)}, (1, 2, 3, 3)),
    ({"size": (7, 9)}, (2, 3, 4, 5)), ({"size": (3, 2)}, (2, 1, 7, 5)),
    ({"scale_factor": 1.7}, (1, 2, 5, 4)),
    ({"scale_factor": 2, "mode": "bilinear"}, (2, 3, 4, 5)),
    ({"size": (7, 3), "mode": "bilinear"}, (1, 2, 4, 5)),
    ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}, (1, 2, 4, 5)),
    ({"size": (6, 1), "mode": "bilinear", "align_corners": True}, (1, 2, 4, 5)),
    ({"size": (5, 7), "mode": "nearest-exact"}, (1, 2, 4, 3)),
    ({"scale_factor": 3}, (2, 3, 5)), ({"size": 9, "mode": "linear"}, (2, 3, 5)),
])
def test_upsample(rng, kw, shape):
    m, tm = nn.Upsample(**kw), torch.nn.Upsample(**kw)
    compare(m, tm, [rng.standard_normal(shape)])


@pytest.mark.parametrize("out,shape", [(1, (2, 3, 5, 4)), ((2, 3), (2, 3, 4, 6)),
                                       ((3, 5), (1, 2, 7, 6)), ((None, 2), (1, 2, 5, 5)),
                                       (4, (2, 5, 5))])
def test_adaptive_avg_pool2d(rng, out, shape):
    compare(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out),
            [rng.standard_normal(shape)])


def test_adaptive_avg_pool1d_and_area(rng):
    compare(nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3),
            [rng.standard_normal((2, 3, 7))])
    x = rng.standard_normal((1, 2, 7, 5))
    y = F.interpolate(minigrad.tensor(x), size=(3, 2), mode="area")
    ty = torch.nn.functional.interpolate(torch.tensor(x), size=(3, 2), mode="area")
    np.testing.assert_allclose(y.numpy(), ty.numpy(), atol=1e-12)


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("Sigmoid", ()), ("Tanh", ()),
                                       ("Softmax", (1,)), ("LogSoftmax", (-1,)),
                                       ("Softplus", ()), ("Softplus", (2.0, 1.0)), ("GELU", ()),
                                       ("GELU", ("tanh",)), ("Mish", ()), ("Identity", ()),
                                       ("SiLU", ()), ("Softsign", ()), ("LogSigmoid", ()),
                                       ("Hardsigmoid", ()), ("Hardswish", ()), ("LeakyReLU", ()),
                                       ("LeakyReLU", (0.2,)), ("ELU", ()), ("ELU", (0.5,)),
                                       ("CELU", (0.7,)), ("SELU", ()), ("Hardtanh", (-2.0, 0.5)),
                                       ("ReLU6", ()), ("Tanhshrink", ()), ("Softmin", (1,))])
def test_activation_modules(rng, name, args):
    x = rng.standard_normal((3, 4)) * 3
    atol = 2e-7 if name == "GELU" and not args else 1e-10  # erf composite: |error| < 1.5e-7
    compare(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), [x], atol=atol)


@pytest.mark.parametrize("n", [1, 3])
def test_prelu(rng, n):
    m, tm = twins(nn.PReLU, torch.nn.PReLU, n, 0.1)
    compare(m, tm, [rng.standard_normal((2, 3, 4))])


def test_flatten_unflatten(rng):
    x = rng.standard_normal((2, 12, 3))
    compare(nn.Unflatten(1, (3, 4)), torch.nn.Unflatten(1, (3, 4)), [x])


# ---- multi-head attention ------------------------------------------------------------------------


def _mha(rng, **kw):
    m, tm = twins(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, **kw)
    if tm.in_proj_bias is not None:  # torch starts them at zero: make them count
        with torch.no_grad():
            tm.in_proj_bias.uniform_(-0.5, 0.5)
            tm.out_proj.bias.uniform_(-0.5, 0.5)
    return m, tm


@pytest.mark.parametrize("kw", [{}, {"batch_first": True}, {"bias": False},
                                {"add_bias_kv": True}, {"add_zero_attn": True},
                                {"add_bias_kv": True, "add_zero_attn": True}])
def test_mha_self_and_cross_attention(rng, kw):
    m, tm = _mha(rng, **kw)
    shape = (3, 5, 8) if kw.get("batch_first") else (5, 3, 8)
    x = rng.standard_normal(shape)
    kv_shape = (3, 4, 8) if kw.get("batch_first") else (4, 3, 8)
    compare(m, tm, [x], call=lambda mod, x: mod(x, x, x))                     # self-attention
    compare(m, tm, [x, rng.standard_normal(kv_shape), rng.standard_normal(kv_shape)])


def test_mha_kdim_vdim_and_per_head_weights(rng):
    m, tm = _mha(rng, kdim=5, vdim=3)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    call = lambda mod, q, k, v: mod(q, k, v, average_attn_weights=False)  # noqa: E731
    compare(m, tm, [rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 5)),
                    rng.standard_normal((6, 2, 3))], call=call)


@pytest.mark.parametrize("bias_kv", [False, True])
def test_mha_masks(rng, bias_kv):
    m, tm = _mha(rng, add_bias_kv=bias_kv, add_zero_attn=bias_kv)
    L, S, n = 4, 6, 3
    q, k = rng.standard_normal((L, n, 8)), rng.standard_normal((S, n, 8))
    causal = np.triu(np.ones((L, S), bool), 1)           # True: may not attend
    padding = np.zeros((n, S), bool)
    padding[0, 4:] = padding[2, 5:] = True
    float_mask = rng.standard_normal((n * 2, L, S))
    for kwargs in ({"attn_mask": causal}, {"key_padding_mask": padding},
                   {"attn_mask": causal, "key_padding_mask": padding},
                   {"attn_mask": float_mask}, {"need_weights": False}):
        def call(mod, q, k, v, kwargs=kwargs):
            tw = {key: (torch.tensor(val) if not isinstance(mod, nn.Module) else val)
                  for key, val in kwargs.items() if key != "need_weights"}
            return mod(q, k, v, need_weights=kwargs.get("need_weights", True), **tw)
        compare(m, tm, [q, k, k], call=call)


def test_mha_unbatched_and_errors(rng):
    m, tm = _mha(rng)
    x = rng.standard_normal((5, 8))
    compare(m, tm, [x], call=lambda mod, x: mod(x, x, x))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match="attn_mask"):
        m(minigrad.randn(4, 2, 8), minigrad.randn(4, 2, 8), minigrad.randn(4, 2, 8),
          attn_mask=np.zeros((3, 3), bool))


def test_scaled_dot_product_attention(rng):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)))
    mask = rng.random((4, 6)) > 0.3
    mask[:, 0] = True
    for kw in ({}, {"is_causal": True}, {"attn_mask": mask}, {"scale": 0.5}):
        ours = F.scaled_dot_product_attention(*(minigrad.tensor(a) for a in (q, k, v)), **kw)
        tkw = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val
               for key, val in kw.items()}
        theirs = torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(a) for a in (q, k, v)), **tkw)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)
