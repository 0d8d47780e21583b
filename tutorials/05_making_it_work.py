# %% [markdown]
# # 05 - Making it work
#
# The lecture's "making it work" part (seed 000/001): what goes wrong when networks get deep,
# and the standard fixes:
#
# 1. **vanishing gradients**, and ReLU as the fix;
# 2. **initialization** (Glorot, He/Kaiming): keep the signal's scale through depth;
# 3. **minibatches**;
# 4. **optimizers**: momentum, Nesterov, Adam;
# 5. **regularization**: L1 and L2 penalties;
# 6. **dropout**.

# %%
import matplotlib.pyplot as plt
import numpy as np
from plotting import FIG, save  # tutorials/plotting.py: readable figures

import minigrad
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.data import DataLoader, load_digits

minigrad.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Vanishing gradients
#
# Backpropagation multiplies local derivatives along the path. The derivative of the sigmoid is
# at most $\sigma'(0) = 1/4$, so through 20 sigmoid layers the gradient that reaches the first
# layer is multiplied by (at most) $0.25$ twenty times: it **vanishes**, and the first layers
# do not learn. The ReLU's derivative is 1 for every positive input, so the gradient passes
# through unchanged (with He/Kaiming init to keep the scale right).
#
# We build two 20-layer MLPs (width 32): sigmoid with Glorot init, ReLU with Kaiming init,
# run one batch through each and look at the norm of each layer's weight gradient.

# %%
def deep_mlp(act, init, depth=20, width=32):
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width)
        init(lin.weight)
        layers += [lin, act()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


Xr = minigrad.tensor(rng.standard_normal((64, 32)).astype(np.float32))
yr = rng.integers(0, 10, 64)
grad_norms = {}
for name, act, init in [("sigmoid + Glorot", nn.Sigmoid, nn.init.glorot_uniform_),
                        ("ReLU + Kaiming", nn.ReLU, nn.init.kaiming_uniform_)]:
    net = deep_mlp(act, init)
    F.cross_entropy(net(Xr), yr).backward()
    grad_norms[name] = [float(np.linalg.norm(m.weight.grad.numpy()))
                        for m in net if isinstance(m, nn.Linear)]
    g = grad_norms[name]
    print(f"{name:17s} |dL/dW| first layer {g[0]:.2e}, last layer {g[-1]:.2e}")

sig, rel = grad_norms["sigmoid + Glorot"], grad_norms["ReLU + Kaiming"]
assert sig[0] * 100 <= sig[-1]  # orders of magnitude smaller than at the output
assert sig[0] * 100 <= rel[0]  # and than the ReLU network's first layer
assert 0.01 < rel[0] / rel[-1] < 100  # the ReLU network's gradients keep their scale

fig, ax = plt.subplots(layout="constrained", figsize=(7, 4))
for name, g in grad_norms.items():
    ax.plot(range(1, len(g) + 1), g, "o-", label=name)
ax.set_yscale("log")
ax.set_xlabel("layer (1 = input side)")
ax.set_ylabel("norm of dL/dW")
ax.set_title("gradient norms through a 20-layer MLP")
ax.legend()
save(fig, "05_vanishing_gradients.png")

# %% [markdown]
# ## 2. Initialization: Glorot vs naive
#
# If each layer's input has mean 0 and variance 1, we want its output to have variance 1 too.
# A weight matrix with entries $N(0, 1)$ multiplies the variance by about $n_{in}$ (here 256):
# the pre-activations are huge, every tanh unit **saturates** at $\pm 1$, where its derivative
# is 0. Glorot's init, $w \sim U(-\sqrt{6/(n_{in}+n_{out})}, +\sqrt{6/(n_{in}+n_{out})})$,
# has variance $2/(n_{in}+n_{out})$, which keeps the signal in the tanh's useful range.

# %%
act_std = {}
saturated = {}
for name, init in [("N(0, 1)", lambda w: nn.init.normal_(w, 0.0, 1.0)),
                   ("Glorot uniform", nn.init.glorot_uniform_)]:
    h = minigrad.tensor(rng.standard_normal((256, 256)).astype(np.float32))
    stds = []
    with minigrad.no_grad():
        for _ in range(20):
            lin = nn.Linear(256, 256)
            init(lin.weight)
            h = F.tanh(lin(h))
            stds.append(float(h.numpy().std()))
    act_std[name] = stds
    saturated[name] = float((np.abs(h.numpy()) > 0.99).mean())
    print(f"{name:15s} activation std per layer: {np.round(stds[:5], 3)} ... {stds[-1]:.3f}; "
          f"saturated (|h| > 0.99) at layer 20: {saturated[name]:.0%}")
assert saturated["N(0, 1)"] > 0.5 and saturated["Glorot uniform"] < 0.01

fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(11, 3.8))
for name, stds in act_std.items():
    axes[0].plot(range(1, 21), stds, "o-", label=name)
axes[0].set_xlabel("layer")
axes[0].set_ylabel("std of tanh activations")
axes[0].set_title("activation scale through 20 tanh layers (width 256)")
axes[0].legend()
bars = axes[1].bar(list(saturated), list(saturated.values()), color=["tab:blue", "tab:orange"])
axes[1].bar_label(bars, labels=[f"{v:.0%}" for v in saturated.values()])  # 0% shows too
axes[1].set_ylim(0, 1.05)
axes[1].set_ylabel("fraction |h| > 0.99 at layer 20")
axes[1].set_title("saturated units (derivative ~ 0)")
save(fig, "05_init.png")

# %% [markdown]
# ## 3. Minibatches
#
# The loss is an average over the data; a **minibatch** estimates its gradient from a few
# instances. Small batches: many cheap, noisy steps. Large batches: few, accurate, expensive
# steps. Below, each run sees the same number of samples (3 epochs of the digits, ~4300
# images) with Adam, lr $10^{-3}$, and we measure the loss on the whole training set as it goes.

# %%
train, test = load_digits(seed=0, flat=True)
Xtr, ytr = minigrad.tensor(train.X), train.y


def digits_mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def full_loss(net):
    with minigrad.no_grad():
        return F.cross_entropy(net(Xtr), ytr).item()


def accuracy(net, ds):
    with minigrad.no_grad():
        return float((net(minigrad.tensor(ds.X)).numpy().argmax(1) == ds.y).mean())


n_samples = 3 * len(train)
batch_curves = {}
for bs in (8, 32, 256):
    minigrad.manual_seed(1)
    net = digits_mlp()
    opt = optim.Adam(net.parameters(), lr=1e-3)
    seen, curve, epoch = 0, [(0, full_loss(net))], 0
    next_eval = n_samples / 20
    while seen < n_samples:
        for xb, yb in DataLoader(train, batch_size=bs, shuffle=True, seed=epoch, as_numpy=True):
            opt.zero_grad()
            F.cross_entropy(net(minigrad.tensor(xb)), yb).backward()
            opt.step()
            seen += len(yb)
            if seen >= next_eval:
                curve.append((seen, full_loss(net)))
                next_eval += n_samples / 20
            if seen >= n_samples:
                break
        epoch += 1
    batch_curves[bs] = curve
    print(f"batch {bs:3d}: {n_samples // bs} steps, final training loss {curve[-1][1]:.4f}")
# For a fixed budget of samples, small batches make more updates and get further.
assert batch_curves[8][-1][1] < batch_curves[256][-1][1]

# %% [markdown]
# ## 4. Optimizers
#
# * **SGD**: $w \leftarrow w - \eta \nabla L$.
# * **Momentum**: keep a running velocity $v \leftarrow \mu v - \eta\nabla L$,
#   $w \leftarrow w + v$; like a ball rolling downhill, it speeds up along consistent
#   directions and damps oscillations.
# * **Nesterov momentum**: take the gradient where the momentum is about to carry you.
# * **Adam**: momentum plus a per-weight step size, divided by a running estimate of the
#   gradient's magnitude.
#
# Same network, same batches (32), 3 epochs each.

# %%
opt_curves = {}
for name, make in [("SGD", lambda p: optim.SGD(p, lr=0.01)),
                   ("momentum", lambda p: optim.SGD(p, lr=0.01, momentum=0.9)),
                   ("Nesterov", lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)),
                   ("Adam", lambda p: optim.Adam(p, lr=1e-3))]:
    minigrad.manual_seed(2)
    net = digits_mlp()
    opt = make(net.parameters())
    losses = []
    for epoch in range(3):
        for xb, yb in DataLoader(train, batch_size=32, shuffle=True, seed=epoch, as_numpy=True):
            opt.zero_grad()
            loss = F.cross_entropy(net(minigrad.tensor(xb)), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    opt_curves[name] = losses
    print(f"{name:9s} final training loss {full_loss(net):.4f}, test accuracy "
          f"{accuracy(net, test):.1%}")
final = {k: np.mean(v[-20:]) for k, v in opt_curves.items()}
assert final["momentum"] < final["SGD"] and final["Nesterov"] < final["SGD"]
assert final["Adam"] < final["SGD"]

fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(12, 4))
for bs, curve in batch_curves.items():
    s, l = zip(*curve)
    axes[0].plot(s, l, "o-", ms=3, label=f"batch {bs}")
axes[0].set_xlabel("samples seen")
axes[0].set_ylabel("training loss (whole set)")
axes[0].set_yscale("log")
axes[0].set_title("minibatch size, same number of samples")
axes[0].legend()
k = 10  # moving average over k steps
for name, losses in opt_curves.items():
    axes[1].plot(np.convolve(losses, np.ones(k) / k, mode="valid"), label=name)
axes[1].set_xlabel("step")
axes[1].set_ylabel(f"minibatch loss (moving average of {k})")
axes[1].set_yscale("log")
axes[1].set_title("optimizers")
axes[1].legend()
save(fig, "05_batches_optimizers.png")

# %% [markdown]
# ## 5. L1 vs L2 regularization
#
# Add a penalty on the size of the weights to the loss: $L + \lambda \sum_i |w_i|$ (L1) or
# $L + \lambda \sum_i w_i^2$ (L2). The L2 penalty's gradient $2\lambda w$ shrinks with the
# weight, so weights get small but rarely exactly zero. The L1 penalty's gradient
# $\lambda\, \mathrm{sign}(w)$ stays the same size all the way down, so unimportant weights are
# driven to (near) **exactly zero**: a sparse model. We train with plain SGD, because an
# adaptive optimizer like Adam rescales the penalty's gradient per weight.

# %%
weights = {}
for name, penalty, lam in [("L1", nn.l1_penalty, 5e-3), ("L2", nn.l2_penalty, 5e-2)]:
    minigrad.manual_seed(3)
    net = digits_mlp()
    ws = [net[0].weight, net[2].weight]
    opt = optim.SGD(net.parameters(), lr=0.05)
    for epoch in range(10):
        for xb, yb in DataLoader(train, batch_size=32, shuffle=True, seed=epoch, as_numpy=True):
            opt.zero_grad()
            loss = F.cross_entropy(net(minigrad.tensor(xb)), yb) + lam * penalty(ws)
            loss.backward()
            opt.step()
    weights[name] = np.concatenate([w.numpy().ravel() for w in ws])
    zero = float((np.abs(weights[name]) < 1e-3).mean())
    print(f"{name} (lambda {lam}): fraction of weights with |w| < 1e-3: {zero:.1%}, "
          f"test accuracy {accuracy(net, test):.1%}")
frac = {k: float((np.abs(w) < 1e-3).mean()) for k, w in weights.items()}
assert frac["L1"] > 5 * frac["L2"] and frac["L1"] > 0.15

fig, ax = plt.subplots(layout="constrained", figsize=(7, 4))
bins = np.linspace(-0.4, 0.4, 161)
for name, w in weights.items():
    ax.hist(w, bins=bins, alpha=0.6, label=f"{name}: {frac[name]:.0%} with |w| < 1e-3")
ax.set_yscale("log")
ax.set_xlabel("weight value")
ax.set_ylabel("count")
ax.set_title("weights after training with an L1 or an L2 penalty")
ax.legend()
save(fig, "05_l1_l2.png")

# %% [markdown]
# ## 6. Dropout
#
# During training, dropout sets each unit to 0 with probability $p$ and (inverted dropout)
# scales the others by $1/(1-p)$, so the **expected** value of each unit is unchanged. Every
# forward pass drops a different random set, so the network cannot rely on any single unit.
# At test time (`model.eval()`) dropout does nothing.

# %%
drop = nn.Dropout(0.5)
x = minigrad.ones(1000, 100)
drop.train()
a, b = drop(x).numpy(), drop(x).numpy()
print(f"train mode: two passes differ in {(a != b).mean():.0%} of the units; values "
      f"{sorted(set(a.ravel().tolist()))}; mean {a.mean():.4f} (input mean 1)")
assert (a != b).any()
assert set(np.unique(a).tolist()) <= {0.0, 2.0}
assert abs(a.mean() - 1.0) < 0.01  # expectation preserved
drop.eval()
c, d = drop(x).numpy(), drop(x).numpy()
assert (c == d).all() and (c == 1.0).all()
print("eval mode: identical, and equal to the input")
print("figures saved in", FIG)
