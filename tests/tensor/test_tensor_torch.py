"""PyTorch as a witness: forward values and gradients of every op, float64, random inputs.

Skipped cleanly when PyTorch is not installed.
"""

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pos(r, s):
    return r.uniform(0.3, 2.0, s)


def _nonzero(r, s):
    return r.uniform(0.3, 2.0, s) * r.choice([-1.0, 1.0], s)


def _normal(r, s):
    return r.standard_normal(s)


def _distinct(r, s):
    n = int(np.prod(s))
    return (r.permutation(n) * 0.1).reshape(s) - 0.05 * n


def _clip_safe(r, s):
    return _nonzero(r, s) * 1.5 + np.where(r.random(s) > 0.5, 0.6, -0.6)


# name: (minigrad fn, torch fn, [input generator and shape], extra integer inputs)
T = torch
LABELS = np.array([2, 0, 1, 1])
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [(_normal, (3, 1, 4)), (_normal, (2, 1))]),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, [(_normal, (2, 3)), (_normal, (3,))]),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, [(_normal, (4, 1)), (_normal, (1, 3))]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [(_normal, (2, 3)), (_nonzero, (2, 1))]),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, [(_pos, (2, 3)), (_normal, (3,))]),
    "pow_number": (lambda a: a ** 3, lambda a: a ** 3, [(_normal, (2, 3))]),
    "rpow": (lambda a: 2.0 ** a, lambda a: 2.0 ** a, [(_normal, (2, 3))]),
    "rsub_rdiv": (lambda a: (1.0 - a) + 2.0 / a, lambda a: (1.0 - a) + 2.0 / a,
                  [(_nonzero, (3,))]),
    "neg": (lambda a: -a, lambda a: -a, [(_normal, (2, 3))]),
    "exp": (lambda a: a.exp(), T.exp, [(_normal, (2, 3))]),
    "log": (lambda a: a.log(), T.log, [(_pos, (2, 3))]),
    "sqrt": (lambda a: a.sqrt(), T.sqrt, [(_pos, (2, 3))]),
    "sin": (lambda a: a.sin(), T.sin, [(_normal, (2, 3))]),
    "cos": (lambda a: a.cos(), T.cos, [(_normal, (2, 3))]),
    "tanh": (lambda a: a.tanh(), T.tanh, [(_normal, (2, 3))]),
    "sigmoid": (lambda a: a.sigmoid(), T.sigmoid, [(_normal, (2, 3))]),
    "relu": (lambda a: a.relu(), T.relu, [(_nonzero, (2, 3))]),
    "abs": (lambda a: a.abs(), T.abs, [(_nonzero, (2, 3))]),
    "clip": (lambda a: a.clip(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [(_clip_safe, (3, 4))]),
    "maximum": (mg.maximum, T.maximum, [(_distinct, (3, 4)), (_normal, (4,))]),
    "sum": (lambda a: a.sum(), T.sum, [(_normal, (2, 3))]),
    "sum_dim": (lambda a: a.sum((0, 2), keepdim=True), lambda a: a.sum((0, 2), keepdim=True),
                [(_normal, (2, 3, 4))]),
    "mean": (lambda a: a.mean(1), lambda a: a.mean(1), [(_normal, (2, 3, 4))]),
    "mean_all": (lambda a: a.mean(), T.mean, [(_normal, (2, 3))]),
    "max_dim": (lambda a: a.max(1).values, lambda a: a.max(1).values, [(_distinct, (3, 4))]),
    "max_keepdim": (lambda a: a.max(-1, keepdim=True).values, lambda a: a.amax(-1, keepdim=True),
                    [(_distinct, (2, 3, 4))]),
    "max_all": (lambda a: a.max(), T.max, [(_distinct, (3, 4))]),
    "min_dim": (lambda a: a.min(0).values, lambda a: a.min(0).values, [(_distinct, (3, 4))]),
    "matmul": (lambda a, b: a @ b, T.matmul, [(_normal, (3, 4)), (_normal, (4, 2))]),
    "matmul_batched": (lambda a, b: a @ b, T.matmul,
                       [(_normal, (2, 1, 3, 4)), (_normal, (5, 4, 2))]),
    "matmul_vec_mat": (lambda a, b: a @ b, T.matmul, [(_normal, (4,)), (_normal, (2, 4, 3))]),
    "matmul_mat_vec": (lambda a, b: a @ b, T.matmul, [(_normal, (2, 3, 4)), (_normal, (4,))]),
    "matmul_dot": (lambda a, b: a @ b, T.matmul, [(_normal, (4,)), (_normal, (4,))]),
    "reshape": (lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [(_normal, (2, 3, 4))]),
    "view": (lambda a: a.view(6, 4), lambda a: a.reshape(6, 4), [(_normal, (2, 3, 4))]),
    "flatten": (lambda a: a.flatten(1), lambda a: a.flatten(1), [(_normal, (2, 3, 4))]),
    "transpose": (lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2),
                  [(_normal, (2, 3, 4))]),
    "permute": (lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1),
                [(_normal, (2, 3, 4))]),
    "T": (lambda a: a.T, lambda a: a.T, [(_normal, (3, 4))]),
    "squeeze": (lambda a: a.squeeze(), lambda a: a.squeeze(), [(_normal, (1, 3, 1, 2))]),
    "squeeze_dim": (lambda a: a.squeeze(2), lambda a: a.squeeze(2), [(_normal, (1, 3, 1, 2))]),
    "unsqueeze": (lambda a: a.unsqueeze(-2), lambda a: a.unsqueeze(-2), [(_normal, (3, 2))]),
    "expand": (lambda a: a.expand(4, 3, 2), lambda a: a.expand(4, 3, 2), [(_normal, (3, 1))]),
    "getitem_slices": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [(_normal, (3, 5))]),
    "getitem_int": (lambda a: a[-1, 2], lambda a: a[-1, 2], [(_normal, (3, 5))]),
    "getitem_repeated": (lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]],
                         [(_normal, (3, 5))]),
    "getitem_arrays": (lambda a: a[np.array([1, 1, 0]), np.array([4, 4, 2])],
                       lambda a: a[[1, 1, 0], [4, 4, 2]], [(_normal, (3, 5))]),
    "getitem_mask": (lambda a: a[np.array([True, False, True])],
                     lambda a: a[torch.tensor([True, False, True])], [(_normal, (3, 5))]),
    "cat": (lambda a, b: mg.cat([a, b, a], 1), lambda a, b: T.cat([a, b, a], 1),
            [(_normal, (2, 3)), (_normal, (2, 1))]),
    "stack": (lambda a, b: mg.stack([a, b], 1), lambda a, b: T.stack([a, b], 1),
              [(_normal, (2, 3)), (_normal, (2, 3))]),
    "where": (lambda a, b: mg.where(mg.tensor([[True], [False]]), a, b),
              lambda a, b: T.where(T.tensor([[True], [False]]), a, b),
              [(_normal, (2, 3)), (_normal, (3,))]),
    "F.relu": (F.relu, TF.relu, [(_nonzero, (2, 3))]),
    "F.sigmoid": (F.sigmoid, T.sigmoid, [(_normal, (2, 3))]),
    "F.tanh": (F.tanh, T.tanh, [(_normal, (2, 3))]),
    "F.softmax": (lambda a: F.softmax(a, -1), lambda a: TF.softmax(a, -1),
                  [(_normal, (3, 4))]),
    "F.softmax_dim1": (lambda a: F.softmax(a, 1), lambda a: TF.softmax(a, 1),
                       [(_normal, (2, 3, 4))]),
    "F.log_softmax": (lambda a: F.log_softmax(a, 0), lambda a: TF.log_softmax(a, 0),
                      [(_normal, (3, 4))]),
    "F.linear": (F.linear, TF.linear, [(_normal, (5, 3)), (_normal, (2, 3)), (_normal, (2,))]),
    "F.linear_3d": (F.linear, TF.linear,
                    [(_normal, (2, 5, 3)), (_normal, (2, 3)), (_normal, (2,))]),
    "F.cross_entropy": (lambda a: F.cross_entropy(a, LABELS),
                        lambda a: TF.cross_entropy(a, torch.tensor(LABELS)),
                        [(_normal, (4, 3))]),
    "F.cross_entropy_sum": (lambda a: F.cross_entropy(a, LABELS, reduction="sum"),
                            lambda a: TF.cross_entropy(a, torch.tensor(LABELS), reduction="sum"),
                            [(_normal, (4, 3))]),
    "F.cross_entropy_none": (
        lambda a: F.cross_entropy(a, LABELS, reduction="none"),
        lambda a: TF.cross_entropy(a, torch.tensor(LABELS), reduction="none"),
        [(_normal, (4, 3))]),
    "F.nll_loss": (lambda a: F.nll_loss(F.log_softmax(a, -1), LABELS),
                   lambda a: TF.nll_loss(TF.log_softmax(a, -1), torch.tensor(LABELS)),
                   [(_normal, (4, 3))]),
    "F.mse_loss": (F.mse_loss, TF.mse_loss, [(_normal, (3, 4)), (_normal, (3, 4))]),
    "F.mse_loss_sum": (lambda a, b: F.mse_loss(a, b, "sum"),
                       lambda a, b: TF.mse_loss(a, b, reduction="sum"),
                       [(_normal, (3, 4)), (_normal, (3, 4))]),
    "F.conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                 lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1),
                 [(_normal, (2, 3, 7, 6)), (_normal, (4, 3, 3, 2)), (_normal, (4,))]),
    "F.conv2d_plain": (F.conv2d, TF.conv2d, [(_normal, (1, 2, 5, 5)), (_normal, (3, 2, 2, 2))]),
    "F.max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
                     [(_distinct, (2, 3, 6, 5))]),
    "F.max_pool2d_overlap": (lambda x: F.max_pool2d(x, 3, 1), lambda x: TF.max_pool2d(x, 3, 1),
                             [(_distinct, (1, 2, 5, 5))]),
    "F.avg_pool2d": (lambda x: F.avg_pool2d(x, (2, 3), 1),
                     lambda x: TF.avg_pool2d(x, (2, 3), 1), [(_normal, (2, 3, 5, 6))]),
    "F.conv1d": (lambda x, w: F.conv1d(x, w, padding=1), lambda x, w: TF.conv1d(x, w, padding=1),
                 [(_normal, (2, 3, 7)), (_normal, (4, 3, 3))]),
}


def run_minigrad(fn, arrays, w):
    xs = [mg.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    out = fn(*xs)
    (out * mg.tensor(w, dtype="float64")).sum().backward()
    return out.numpy(), [x.grad.numpy() for x in xs]


def run_torch(fn, arrays, w):
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*xs)
    (out * torch.tensor(w, dtype=torch.float64)).sum().backward()
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(OPS))
def test_against_torch(name, seed):
    ours, theirs, gens = OPS[name]
    r = np.random.default_rng(seed)
    arrays = [gen(r, shape) for gen, shape in gens]
    with torch.no_grad():
        shape = theirs(*[torch.tensor(a) for a in arrays]).shape
    w = r.standard_normal(tuple(shape))
    out, grads = run_minigrad(ours, arrays, w)
    t_out, t_grads = run_torch(theirs, arrays, w)
    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        assert g.shape == tg.shape, f"input {i}"
        np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12, err_msg=f"input {i}")


def test_every_listed_op_is_compared():
    listed = " ".join(OPS)
    for op in ["add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "tanh",
               "sigmoid", "relu", "abs", "clip", "sum", "mean", "max", "min", "reshape", "view",
               "flatten", "transpose", "permute", "T", "squeeze", "unsqueeze", "getitem", "cat",
               "stack", "where", "F.softmax", "F.log_softmax", "F.linear", "F.cross_entropy",
               "F.mse_loss", "F.nll_loss", "F.conv2d", "F.max_pool2d", "F.avg_pool2d"]:
        assert op in listed, op


# ---- parity details found by benchmarks/torch_parity.py: dtypes, result types, errors ---------

_I23 = np.array([[1, 2, 3], [4, -5, 6]])
_F23 = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -3.0]])

# name: function of (library, int64 tensor, float32 tensor); compared with torch in dtype,
# shape and value
SEMANTICS = {
    "float32 + 0-d float64 stays float32": lambda T, i, f: f + T.tensor(2.5, dtype=T.float64),
    "int32 + 0-d int64 stays int32": lambda T, i, f: i.int() + T.tensor(7),
    "int + 0-d float is float32": lambda T, i, f: i * T.tensor(1.5),
    "int * True stays int": lambda T, i, f: i * True,
    "where(int, float) is float32": lambda T, i, f: T.where(f > 0, i, f),
    "where of two numbers": lambda T, i, f: (T.where(f > 0, 1.0, 0.0), T.where(f > 0, 1, 0)),
    "where(cond) alone": lambda T, i, f: T.where(f > 0),
    "cat promotes": lambda T, i, f: T.cat([i.int(), i]),
    "int prod and cumsum are int64": lambda T, i, f: (i.int().prod(), i.int().cumsum(1)),
    "int div rounding stays int": lambda T, i, f: (i.div(-4, rounding_mode="floor"),
                                                   i.div(-4, rounding_mode="trunc")),
    "int matmul": lambda T, i, f: i @ i.t(),
    "casts to int carry no gradient": lambda T, i, f: (f.int().requires_grad,
                                                       f.long().requires_grad,
                                                       f.bool().requires_grad),
    "to(dtype) positionally": lambda T, i, f: f.to(T.int32),
    "max along a dim": lambda T, i, f: tuple(f.max(1)) + tuple(f.min(dim=0, keepdim=True)),
    "sort and topk values": lambda T, i, f: (f.sort(1).values, f.topk(2).indices),
    "torch.exp and friends": lambda T, i, f: (T.exp(f), T.sum(f, 1), T.clamp(f, max=0.5),
                                              T.flatten(f), T.argmax(f, dim=1)),
    "dtype names": lambda T, i, f: (i.dtype == T.int64, f.dtype == T.float32,
                                    T.zeros(2, dtype=T.uint8).dtype == T.uint8),
    "randint(high, size)": lambda T, i, f: T.randint(3, (50,)).shape,
    "index: integers before arrays": lambda T, i, f: T.arange(24.0).reshape(2, 3, 4)[0, :, [0, 2]],
    "binary_cross_entropy at 0 and 1": lambda T, i, f: T.nn.functional.binary_cross_entropy(
        T.tensor([0.0, 1.0, 0.5]), T.tensor([1.0, 0.0, 1.0])),
    "softmax of a 0-d tensor": lambda T, i, f: T.tensor(3.0).softmax(0),
    "var(unbiased=False)": lambda T, i, f: f.var(1, unbiased=False),
    "new_* and type_as": lambda T, i, f: (f.new_zeros(2, 3), i.new_ones((2,)), f.new_full((2,), 7),
                                          f.new_tensor([1, 2]), i.type_as(f)),
    "clamp_min and clamp_max": lambda T, i, f: (f.clamp_min(0.1), i.clamp_max(2)),
    "descending sort of uint8": lambda T, i, f: (i + 5).to(T.uint8).sort(1, descending=True),
    "descending sort of int64 ties": lambda T, i, f: (i % 3).sort(descending=True, stable=True),
    "squeeze of a tuple of dims": lambda T, i, f: f.reshape(1, 2, 1, 3).squeeze((0, 2)),
    "logsumexp of -inf rows": lambda T, i, f: T.tensor([[-float("inf")] * 2, [0.0, 1.0]])
    .logsumexp(1),
    "sum(dtype=int32) stays int32": lambda T, i, f: i.sum(dtype=T.int32),
    "sum(axis=, keepdims=)": lambda T, i, f: f.sum(axis=1, keepdims=True),
    "softmax(dtype=)": lambda T, i, f: (T.nn.functional.softmax(f, 1, dtype=T.float64),
                                        T.nn.functional.log_softmax(f, dim=0, dtype=T.float64)),
    "relu(inplace=True)": lambda T, i, f: T.nn.functional.relu(f * 1.0, inplace=True),
    "mse_loss broadcasts": lambda T, i, f: T.nn.functional.mse_loss(f, f[0]),
    "logsumexp over an empty dim": lambda T, i, f: f[:, :0].logsumexp(1),
    "amax/argmax over a full dim of an empty tensor": lambda T, i, f: (f[:0].amax(1),
                                                                       f[:0].argmax(1)),
    "take_along_dim without dim": lambda T, i, f: T.take_along_dim(f, T.tensor([0, 5, 2])),
    "NaN sorts as the largest": lambda T, i, f: (
        T.tensor([[1.0, float("nan"), 3.0, -1.0]]).sort(1, descending=True),
        T.tensor([1.0, float("nan"), 3.0]).topk(2)),
    "isclose of infinities": lambda T, i, f: T.tensor([float("inf"), -float("inf")]).isclose(
        T.tensor([float("inf"), float("inf")])),
    "sign of NaN is 0": lambda T, i, f: T.tensor([float("nan"), -2.0, 0.0]).sign(),
}


def _flat(x):
    return [y for item in x for y in _flat(item)] if isinstance(x, (tuple, list)) else [x]


@pytest.mark.parametrize("name", sorted(SEMANTICS))
def test_semantics_as_torch(name):
    fn = SEMANTICS[name]
    ours = _flat(fn(mg, mg.tensor(_I23), mg.tensor(_F23, dtype="float32", requires_grad=True)))
    theirs = _flat(fn(torch, torch.tensor(_I23),
                      torch.tensor(_F23, dtype=torch.float32, requires_grad=True)))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, torch.Tensor):
            assert tuple(a.shape) == tuple(b.shape), name
            assert str(a.dtype) == str(b.dtype).replace("torch.", ""), name
            if name != "randint(high, size)":
                np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-6,
                                           err_msg=name)
        else:
            assert a == b, name


@pytest.mark.parametrize("fn", [
    lambda T, x: x @ x,                                    # shapes
    lambda T, x: x.reshape(5, -1),
    lambda T, x: x.permute(0),
    lambda T, x: T.nn.functional.conv2d(x.reshape(1, 1, 2, 3), T.ones(1, 1, 3, 3)),
    lambda T, x: T.nn.functional.linear(x, T.ones(4, 5)),
    lambda T, x: T.nn.functional.mse_loss(x, x[:1, :2]),
    lambda T, x: x.long().mean(),                           # dtypes
    lambda T, x: x.long() ** -2,
    lambda T, x: x.item(),
    lambda T, x: bool(x > 0),
    lambda T, x: x.gather(1, T.tensor([[0], [3]])),
    lambda T, x: T.cat([x.sum(), x.sum()]),
    lambda T, x: x.add_(1),                                 # a leaf that requires grad
    lambda T, x: x.max(dim=1)[0][:0].max(),                 # empty
    lambda T, x: x.long() // 0,                             # integer division by zero
    lambda T, x: x.long() % T.tensor([1, 0, 2]),
    lambda T, x: (x > 0) - (x > 1),                         # bool - bool
])
def test_runtime_errors_as_torch(fn):
    """Where torch raises RuntimeError, minigrad raises one too (also its own ValueError or
    TypeError), naming the problem."""
    x = np.arange(6.0).reshape(2, 3) - 2.0
    with pytest.raises(RuntimeError):
        fn(torch, torch.tensor(x, requires_grad=True))
    with pytest.raises(RuntimeError):
        fn(mg, mg.tensor(x, requires_grad=True))


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.opencl)])
def test_inplace_methods_and_setitem_in_the_graph(device):
    x0 = np.random.default_rng(0).standard_normal((3, 4))

    def run(T, dev):
        x = T.tensor(x0, requires_grad=True) if T is torch else \
            T.tensor(x0, requires_grad=True, device=dev)
        y = x * 2
        y.add_(x, alpha=0.5).mul_(x).clamp_(-2, 2).sub_(1)
        y[0] = x[1] * 3
        y[:, 2] = 0.0
        z = T.zeros(2) if T is torch else T.zeros(2, device=dev)
        z.copy_(x[0, :2])
        (y.sum() + (z * z).sum()).backward()
        return y.detach().cpu().numpy(), x.grad.cpu().numpy()

    for a, b in zip(run(mg, device), run(torch, "cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


_EDGES = [-3.0, -1.0, 0.0, 1.0, 3.0]


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.opencl)])
@pytest.mark.parametrize("fn,x0", [
    (lambda T, x: x.norm(), [0.0, 0.0, 0.0]),               # no 0 * inf = NaN
    (lambda T, x: x.reshape(2, 2).norm(dim=1), [0.0, 0.0, 3.0, 4.0]),
    (lambda T, x: x.std(), [2.0, 2.0, 2.0]),
    (lambda T, x: T.nn.functional.normalize(x, dim=0), [0.0, 0.0]),
    (lambda T, x: T.nn.functional.cosine_similarity(x, x * 0 + 1, dim=0), [0.0, 0.0]),
    (lambda T, x: T.nn.functional.hardswish(x), _EDGES),    # torch's open interval (-3, 3)
    (lambda T, x: T.nn.functional.softplus(x, threshold=1.0), _EDGES),  # at the threshold
])
def test_gradients_at_special_points_as_torch(fn, x0, device):
    def grad(T, **kw):
        x = T.tensor(x0, requires_grad=True, **kw)
        fn(T, x).sum().backward()
        return x.grad.cpu().numpy()
    np.testing.assert_allclose(grad(mg, device=device), grad(torch), rtol=1e-5)


@pytest.mark.parametrize("module,shape", [("Dropout1d", (8, 6, 5)), ("Dropout2d", (8, 6, 4, 4)),
                                          ("Dropout3d", (4, 6, 2, 3, 3))])
def test_channel_dropout_modules_as_torch(module, shape):
    """Whole channels are zeroed or scaled by 1/(1-p) in training, the identity in eval."""
    x = np.random.default_rng(0).uniform(0.5, 1.5, shape)
    m, tm = getattr(mg.nn, module)(0.5), getattr(torch.nn, module)(0.5)
    for y in (m(mg.tensor(x)).numpy(), tm(torch.tensor(x)).numpy()):
        per_channel = y.reshape(shape[0], shape[1], -1)
        dropped = (per_channel == 0).all(-1)
        kept = np.isclose(per_channel, 2 * x.reshape(per_channel.shape)).all(-1)
        assert (dropped | kept).all() and dropped.any() and kept.any()
    np.testing.assert_allclose(m.eval()(mg.tensor(x)).numpy(), x, rtol=1e-6)


def test_alpha_dropout_keeps_mean_and_variance():
    x = np.random.default_rng(0).standard_normal(200_000)
    y = mg.nn.AlphaDropout(0.3)(mg.tensor(x)).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    assert np.array_equal(mg.nn.AlphaDropout(0.3).eval()(mg.tensor(x)).numpy(), x)


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.opencl)])
def test_tensor_api_around_the_ops_as_torch(device):
    def run(T, **kw):
        x = T.tensor([1.0, -2.0, 3.0], requires_grad=True, **kw)
        y = x * 2
        handle = y.register_hook(lambda g: g * 3)       # replaces y's gradient
        seen = []
        x.register_hook(lambda g: seen.append(g.sum().item()))
        y.sum().backward()
        handle.remove()
        with T.set_grad_enabled(False):
            off = (x * 2).requires_grad
        with T.inference_mode():
            inf = (x * 2).requires_grad
        return (x.grad.cpu().numpy(), seen, off, inf, T.is_tensor(x), x.nelement(),
                x.device.type)

    ours, theirs = run(mg, device=device), run(torch)
    np.testing.assert_allclose(ours[0], theirs[0])
    assert ours[1:6] == theirs[1:6]
    assert ours[6] == device and theirs[6] == "cpu"
    assert mg.is_grad_enabled()
