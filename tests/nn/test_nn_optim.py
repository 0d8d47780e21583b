"""Convolutions, pooling, modules, init, optimizers, regularisers and training (issue 4)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.testing import assert_engines_agree, gradcheck


def t64(rng, *shape):
    return minigrad.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=True)


# ---- conv / pool gradients ----------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("size", [5, 6])
def test_conv2d_gradcheck(rng, stride, padding, size):
    x, w, b = t64(rng, 2, 3, size, size), t64(rng, 2, 3, 3, 3), t64(rng, 2)
    assert gradcheck(lambda x, w, b: (F.conv2d(x, w, b, stride, padding) ** 2).sum(), [x, w, b])


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_conv1d_gradcheck(rng, stride, padding):
    x, w, b = t64(rng, 2, 2, 7), t64(rng, 3, 2, 3), t64(rng, 3)
    assert gradcheck(lambda x, w, b: (F.conv1d(x, w, b, stride, padding) ** 2).sum(), [x, w, b])


def test_conv2d_rectangular_stride_and_padding(rng):
    x, w = t64(rng, 1, 2, 7, 6), t64(rng, 3, 2, 3, 2)
    y = F.conv2d(x, w, stride=(2, 1), padding=(1, 0))
    assert y.shape == (1, 3, 4, 5)
    assert gradcheck(lambda x, w: (F.conv2d(x, w, None, (2, 1), (1, 0)) ** 2).sum(), [x, w])


@pytest.mark.parametrize("k,s", [(2, 2), (3, 1), (3, 2), (2, 1)])
@pytest.mark.parametrize("size", [6, 7])
def test_pool_gradcheck(rng, k, s, size):
    # distinct values: no ties, so max has a derivative
    x = minigrad.tensor(rng.permutation(2 * 2 * size * size).reshape(2, 2, size, size) * 0.1,
                        dtype="float64", requires_grad=True)
    assert gradcheck(lambda x: (F.max_pool2d(x, k, s) ** 2).sum(), [x])
    assert gradcheck(lambda x: (F.avg_pool2d(x, k, s) ** 2).sum(), [x])


def test_max_pool1d(rng):
    x = minigrad.tensor(rng.permutation(14).reshape(1, 2, 7) * 1.0, dtype="float64",
                        requires_grad=True)
    assert gradcheck(lambda x: (F.max_pool1d(x, 3, 2) ** 2).sum(), [x])
    y = F.max_pool1d(minigrad.tensor([[[2.0, 3, 1, 3, 2, 1]]]), 3, 1)
    assert y.numpy().ravel().tolist() == [3, 3, 3, 3]


def test_max_pool_routes_whole_gradient_to_argmax():
    x = minigrad.tensor([[[[1.0, 5.0], [2.0, 3.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.numpy().ravel().tolist() == [0, 1, 0, 0]


def test_conv_and_pool_scalar_engine_agrees(rng):
    assert_engines_agree(lambda x, w, b: F.relu(F.conv2d(x, w, b, 1, 1)),
                         [rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3)),
                          rng.standard_normal(2)])
    assert_engines_agree(lambda x, w: F.conv2d(x, w, stride=2) * F.conv2d(x, w, stride=2),
                         [rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((2, 1, 3, 3))])
    assert_engines_agree(lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2),
                         [rng.standard_normal((1, 2, 4, 4))])
    assert_engines_agree(lambda x, w: F.conv1d(x, w, padding=1),
                         [rng.standard_normal((1, 2, 6)), rng.standard_normal((3, 2, 3))])


def test_conv1d_lecture_example():
    # seed 003: the vector [2,3,1,3,2,1] with the filter [1,2,1]
    y = F.conv1d(minigrad.tensor([[[2.0, 3, 1, 3, 2, 1]]]), minigrad.tensor([[[1.0, 2, 1]]]))
    assert y.numpy().ravel().tolist() == [9, 8, 9, 8]


def test_lecture_conv_exercise_6x6():
    conv = nn.Conv2d(1, 3, 3, stride=1, padding=1)
    y = conv(minigrad.randn(1, 1, 6, 6))
    assert y.shape == (1, 3, 6, 6)
    assert conv.weight.numel() == 27 and conv.bias.numel() == 3
    assert conv.num_parameters() == 30
    assert "30 parameters" in repr(conv)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2))
def test_conv_output_shape_formula(size, k, s, p):
    x = minigrad.zeros(1, 1, size, size)
    w = minigrad.zeros(2, 1, k, k)
    if k > size + 2 * p:
        with pytest.raises(ValueError, match="larger than the padded input"):
            F.conv2d(x, w, stride=s, padding=p)
        return
    y = F.conv2d(x, w, stride=s, padding=p)
    expect = (size + 2 * p - k) // s + 1
    assert y.shape == (1, 2, expect, expect)
    assert F.conv_output_size(size, k, s, p) == expect


def test_conv_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"3 channels.*expects 2"):
        F.conv2d(minigrad.zeros(1, 3, 5, 5), minigrad.zeros(4, 2, 3, 3))
    with pytest.raises(ValueError, match="N, C, H, W"):
        F.conv2d(minigrad.zeros(5, 5), minigrad.zeros(4, 3, 3, 3))
    # unbatched (C, H, W) is an input, as in torch: the batched result without its batch axis
    x, w = minigrad.randn(3, 5, 5), minigrad.randn(4, 3, 3, 3)
    assert np.allclose(F.conv2d(x, w, padding=1).numpy(),
                       F.conv2d(x.unsqueeze(0), w, padding=1).numpy()[0])
    with pytest.raises(ValueError,   # torch's message, which names both sizes
                       match=r"input size \(1, 2, 2\).*output size \(1, 0, 0\) is too small"):
        F.max_pool2d(minigrad.zeros(1, 1, 2, 2), 3)


# ---- modules -------------------------------------------------------------------------------------


def test_module_parameters_state_dict_and_repr(tmp_path):
    minigrad.manual_seed(0)
    net = minigrad.train.worksheet4_cnn(8)
    names = [n for n, _ in net.named_parameters()]
    assert names[:2] == ["0.weight", "0.bias"]
    assert net.num_parameters() == sum(p.numel() for p in net.parameters())
    assert "parameters in total" in repr(net)
    sd = net.state_dict()
    path = tmp_path / "cnn.npz"
    minigrad.save(sd, path)
    other = minigrad.train.worksheet4_cnn(8)
    other.load_state_dict(minigrad.load(path))
    for (n, a), (_, b) in zip(net.named_parameters(), other.named_parameters()):
        assert np.array_equal(a.numpy(), b.numpy()), n
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict({**sd, "0.weight": np.zeros((1, 1))})
    with pytest.raises(KeyError, match='Missing key.*"0.weight"'):
        other.load_state_dict({})


def test_train_eval_switches_dropout():
    minigrad.manual_seed(1)
    drop = nn.Dropout(0.5)
    x = minigrad.ones(1000)
    y = drop(x).numpy()
    frac_zero = (y == 0).mean()
    assert 0.4 < frac_zero < 0.6
    assert set(np.unique(y)) <= {0.0, 2.0}        # survivors scaled by 1/(1-p)
    assert abs(y.mean() - 1.0) < 0.1               # the expectation is kept
    drop.eval()
    assert np.array_equal(drop(x).numpy(), x.numpy())


def test_dropout_gradient_uses_the_same_mask():
    x = minigrad.ones(200, requires_grad=True)
    y = F.dropout(x, 0.3, training=True)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.numpy())


def test_init_glorot_bounds_and_orthogonal():
    minigrad.manual_seed(0)
    w = nn.Parameter(np.zeros((300, 200), dtype=np.float32))
    nn.init.glorot_uniform_(w)
    bound = np.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound + 1e-7
    assert np.abs(w.numpy()).max() > 0.9 * bound
    assert nn.init.xavier_uniform_ is nn.init.glorot_uniform_
    q = nn.Parameter(np.zeros((50, 50), dtype=np.float64))
    nn.init.orthogonal_(q)
    assert np.allclose(q.numpy() @ q.numpy().T, np.eye(50), atol=1e-10)


def test_rnn_shapes_and_gradcheck(rng):
    minigrad.manual_seed(0)
    rnn = nn.ElmanRNN(2, 3)
    x = minigrad.tensor(rng.standard_normal((2, 4, 2)), dtype="float64", requires_grad=True)
    w_hh = minigrad.tensor(rnn.weight_hh.numpy(), dtype="float64", requires_grad=True)
    hs, h = rnn(x.float())
    assert hs.shape == (2, 4, 3) and h.shape == (2, 3)
    assert np.allclose(hs.numpy()[:, -1], h.numpy())

    def run(x, w_hh):
        # swap float64 copies of the weights in, bypassing Module.__setattr__'s bookkeeping
        for name in ("weight_ih", "bias_ih", "bias_hh"):
            object.__setattr__(rnn, name, minigrad.tensor(getattr(rnn, name).numpy(),
                                                          dtype="float64"))
        object.__setattr__(rnn, "weight_hh", w_hh)
        return (rnn(x)[0] ** 2.0).sum()
    assert gradcheck(run, [x, w_hh])


def test_penalties():
    a = minigrad.tensor([[1.0, -2.0]], requires_grad=True)
    b = minigrad.tensor([3.0], requires_grad=True)
    assert nn.l1_penalty([a, b]).item() == 6.0
    assert nn.l2_penalty([a, b]).item() == 14.0
    nn.l1_penalty([a, b]).backward()
    assert a.grad.numpy().tolist() == [[1.0, -1.0]]


def test_vanishing_gradients_sigmoid_vs_relu():
    """The lecture's claim: deep sigmoid nets' early layers get orders smaller gradients."""
    def first_layer_grad_norm(act, init):
        minigrad.manual_seed(0)
        layers = []
        for _ in range(20):
            lin = nn.Linear(32, 32)
            init(lin.weight)
            layers += [lin, act()]
        net = nn.Sequential(*layers, nn.Linear(32, 1))
        x = minigrad.randn(16, 32)
        net(x).sum().backward()
        return float(np.linalg.norm(net[0].weight.grad.numpy()))
    sig = first_layer_grad_norm(nn.Sigmoid, nn.init.glorot_uniform_)
    relu = first_layer_grad_norm(nn.ReLU, nn.init.kaiming_uniform_)
    assert relu / sig > 1e3, (sig, relu)


# ---- optimizers ----------------------------------------------------------------------------------


def _param(v):
    return minigrad.tensor(np.array(v, dtype=np.float64), requires_grad=True)


def test_sgd_momentum_nesterov_by_hand():
    p = _param([1.0, -2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    grads = [np.array([0.5, 1.0]), np.array([1.0, -1.0])]
    v = np.zeros(2)
    w = np.array([1.0, -2.0])
    for i, g in enumerate(grads):
        p.grad = minigrad.tensor(g, dtype="float64")
        opt.step()
        v = g if i == 0 else 0.9 * v + g
        w = w - 0.1 * v
        assert np.allclose(p.numpy(), w)
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1)
    p.grad = minigrad.tensor([2.0], dtype="float64")
    opt.step()
    d = 2.0 + 0.1 * 1.0
    assert np.allclose(p.numpy(), [1.0 - 0.1 * (d + 0.5 * d)])


def test_adam_first_step_moves_by_lr():
    p = _param([1.0, 1.0])
    opt = optim.Adam([p], lr=0.01)
    p.grad = minigrad.tensor([3.0, -0.001], dtype="float64")
    opt.step()
    # bias correction makes the first step lr * sign(g)
    assert np.allclose(p.numpy(), [0.99, 1.01], atol=1e-6)


def test_adagrad_rmsprop_by_hand():
    p = _param([1.0])
    opt = optim.AdaGrad([p], lr=0.5, eps=0.0)
    p.grad = minigrad.tensor([2.0], dtype="float64")
    opt.step()
    assert np.allclose(p.numpy(), [1.0 - 0.5 * 2 / 2])
    p = _param([1.0])
    opt = optim.RMSprop([p], lr=0.1, alpha=0.9, eps=0.0)
    p.grad = minigrad.tensor([2.0], dtype="float64")
    opt.step()
    s = 0.1 * 4
    assert np.allclose(p.numpy(), [1.0 - 0.1 * 2 / np.sqrt(s)])


OPTS = [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}), ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}), ("AdaGrad", {"lr": 0.1}),
]


@pytest.mark.parametrize("name,kw", OPTS)
def test_optimizers_match_torch_for_10_steps(rng, name, kw):
    torch = pytest.importorskip("torch")
    w0 = rng.standard_normal((4, 3))
    targets = rng.standard_normal((10, 4, 3))
    p = minigrad.tensor(w0, dtype="float64", requires_grad=True)
    tp = torch.tensor(w0, requires_grad=True)
    ours = getattr(optim, name)([p], **kw)
    tname = "Adagrad" if name == "AdaGrad" else name
    tkw = dict(kw)
    if name == "AdaGrad":
        tkw["eps"] = 1e-10
    theirs = getattr(torch.optim, tname)([tp], **tkw)
    for t in targets:
        ours.zero_grad()
        ((p - t) ** 2.0).sum().backward()
        ours.step()
        theirs.zero_grad()
        ((tp - torch.tensor(t)) ** 2).sum().backward()
        theirs.step()
    assert np.allclose(p.numpy(), tp.detach().numpy(), atol=1e-10, rtol=1e-8)


def test_optimizer_errors():
    p = _param([1.0])
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])


# ---- training ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cnn_reaches_97_percent_on_digits():
    net, hist = minigrad.train.train_digits("cnn", seed=0, progress=False, log=lambda *a: None)
    assert hist.test_accuracy[-1] >= 0.97, hist.test_accuracy


@pytest.mark.slow
def test_mlp_reaches_95_percent_on_digits():
    net, hist = minigrad.train.train_digits("mlp", seed=0, progress=False, log=lambda *a: None)
    assert hist.test_accuracy[-1] >= 0.95, hist.test_accuracy
