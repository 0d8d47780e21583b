# %% [markdown]
# # 03 - Classifiers: by hand, the loss, and why XOR needs a hidden layer
#
# Seed 004 builds classifiers step by step on toy problems:
#
# * **Problem 1**: two features, class $c_1$ if $f_1 > f_2$, else $c_2$.
# * **Problem 2**: three features, class $c_1$ if $f_1 > f_2 + f_3$, else $c_2$.
# * **Problem 3** (XOR): class 1 iff $f_1 f_2 > 0$ (same signs).
#
# A linear layer computes one score per class, $c = fW$, and predicts the class with the
# largest score. For the first two problems we can **set the weights by hand**.

# %%
import matplotlib.pyplot as plt
import numpy as np
from plotting import save  # tutorials/plotting.py: readable figures

import minigrad
import minigrad.functional as F
from minigrad import nn, optim
from minigrad.data import make_problem1, make_problem2, make_xor, xor_points

minigrad.manual_seed(0)

# %% [markdown]
# ## Hand-set weights
#
# Problem 1: $W = I$ gives $c_1 = f_1$, $c_2 = f_2$; the larger score wins exactly when the
# rule says so. Problem 2: with
# $W = \begin{bmatrix} 1 & 0 \\ 0 & 1 \\ 0 & 1 \end{bmatrix}$ (3 features in, 2 scores out),
# $c_1 = f_1$ and $c_2 = f_2 + f_3$.

# %%
W1 = minigrad.tensor([[1.0, 0.0], [0.0, 1.0]])
W2 = minigrad.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
for name, ds, W in [("problem 1", make_problem1(1000, seed=0), W1),
                    ("problem 2", make_problem2(1000, seed=0), W2)]:
    scores = minigrad.tensor(ds.X) @ W
    acc = float((scores.numpy().argmax(1) == ds.y).mean())
    print(f"{name}: hand-set W, accuracy {acc:.1%}")
    assert acc == 1.0

# %% [markdown]
# ## The cross-entropy loss
#
# To *learn* weights we need a loss. Softmax turns the scores into probabilities, and the loss
# is $-\log$ of the probability of the correct class. For Problem 2 with the hand-set $W$ and
# $f = (f_1, 2, 1.9)$, class $c_1$: the closer $f_1$ is to $f_2 + f_3 = 3.9$, the less sure
# the classifier is, and the higher the loss (seed 004's table).

# %%
table = [(4, 0.6444), (5, 0.2873), (6, 0.1155), (10, 0.0022)]
print(" f1  f2   f3   cross entropy")
for f1, expected in table:
    f = minigrad.tensor([[float(f1), 2.0, 1.9]])
    ce = F.cross_entropy(f @ W2, minigrad.tensor([0])).item()
    print(f"{f1:3d}  2   1.9  {ce:.4f}")
    assert round(ce, 4) == expected, (f1, ce, expected)

# %% [markdown]
# ## The softmax backward, by hand (seed 004's exercise)
#
# The slides walk back along loss <- log <- softmax <- c <- W' and arrive at
#
# $$\frac{\partial \text{loss}}{\partial c} = \text{softmax}(c) - t, \qquad
# \frac{\partial \text{loss}}{\partial W'} = h^T (\text{softmax}(c) - t),$$
#
# with $t$ the one-hot target. The exercise: $h = (-10, 20)$, correct class 1, so
# $t = (0, 1)$; $W' = \begin{bmatrix} 1 & 2 \\ 2 & 1 \end{bmatrix}$, $b' = 0$.
# Then $c = hW' = (30, 0)$, the softmax is (almost exactly) $(1, 0)$, loss $\approx 30$.

# %%
h = np.array([[-10.0, 20.0]])
Wp = np.array([[1.0, 2.0], [2.0, 1.0]])
t = np.array([[0.0, 1.0]])
c = h @ Wp
sm = np.exp(c - c.max()) / np.exp(c - c.max()).sum()
loss_by_hand = -np.log(sm[0, 1])
dc_by_hand = sm - t
dW_by_hand = h.T @ dc_by_hand
print("c =", c, " loss =", round(float(loss_by_hand), 6))
print("dL/dc =", dc_by_hand.round(6), "\ndL/dW' (by hand) =\n", dW_by_hand.round(6))
assert np.allclose(c, [[30.0, 0.0]])
assert abs(loss_by_hand - 30) < 1e-6
assert np.allclose(dc_by_hand, [[1.0, -1.0]])
assert np.allclose(dW_by_hand, [[-10.0, 10.0], [20.0, -20.0]])

# %% [markdown]
# And with minigrad, which computes the same backward automatically:

# %%
hT = minigrad.tensor(h, dtype="float64")
WT = minigrad.tensor(Wp, dtype="float64", requires_grad=True)
bT = minigrad.tensor([0.0, 0.0], dtype="float64", requires_grad=True)
cT = hT @ WT + bT
cT.retain_grad()
loss = F.cross_entropy(cT, minigrad.tensor([1]))
loss.backward()
print("minigrad: loss =", round(loss.item(), 6), " dL/dW' =", WT.grad.numpy().round(6).tolist(),
      " dL/db' =", bT.grad.numpy().round(6).tolist())
assert abs(loss.item() - 30) < 1e-6
assert np.allclose(cT.grad.numpy(), dc_by_hand)
assert np.allclose(WT.grad.numpy(), dW_by_hand)
assert np.allclose(bT.grad.numpy(), dc_by_hand[0])

# %% [markdown]
# ## Problem 3: XOR needs a hidden layer
#
# The four points of the lecture: $(1, -2), (1, 2), (-1, -2), (-1, 2)$ with labels 0, 1, 1, 0.
# No straight line separates the classes, and a linear classifier only draws straight lines.
# Stacking linear layers does not help either: $W'(Wf) = (W'W) f$ is again linear (the slides
# multiply it out). What helps is a **nonlinearity** between the layers, $h = \sigma(Wf + b)$.
#
# We train both on 400 XOR points (`make_xor`): a linear model `Linear(2, 2)` and an MLP
# 2-16-2 with a ReLU, both with Adam on the cross-entropy loss.

# %%
train = make_xor(400, seed=0)
X, y = minigrad.tensor(train.X), train.y


def train_model(model, steps=300, lr=0.05):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def accuracy(model, Xn, yn):
    with minigrad.no_grad():
        return float((model(minigrad.tensor(Xn)).numpy().argmax(1) == yn).mean())


linear = nn.Linear(2, 2)
mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
lin_losses = train_model(linear)
mlp_losses = train_model(mlp)
pts = xor_points()
results = {}
for name, model, losses in [("linear", linear, lin_losses), ("MLP 2-16-2", mlp, mlp_losses)]:
    acc = accuracy(model, train.X, train.y)
    acc4 = accuracy(model, pts.X, pts.y)
    results[name] = (acc, losses[-1])
    print(f"{name:10s}: final loss {losses[-1]:.4f}, accuracy {acc:.1%} "
          f"(lecture's 4 points: {acc4:.0%})")
assert results["linear"][0] < 0.75 and results["linear"][1] > 0.5
assert results["MLP 2-16-2"][0] == 1.0 and results["MLP 2-16-2"][1] < 0.1
assert accuracy(mlp, pts.X, pts.y) == 1.0

# %% [markdown]
# The decision boundaries: the linear model can only cut the plane with a straight line, so it
# gets at most about 3 of the 4 quadrants right; the MLP carves out the two diagonal quadrants.

# %%
g = np.linspace(-1.2, 1.2, 200)
gx, gy = np.meshgrid(g, g)
grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
fig, axes = plt.subplots(1, 3, layout="constrained", figsize=(14, 4.6))
for ax, (name, model) in zip(axes, [("linear", linear), ("MLP 2-16-2", mlp)]):
    with minigrad.no_grad():
        pred = model(minigrad.tensor(grid)).numpy().argmax(1).reshape(gx.shape)
    # the same colour for a class and for the region predicted as that class
    ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fcbba1"])
    for cls, color in ((0, "tab:blue"), (1, "tab:red")):
        ax.scatter(*train.X[train.y == cls].T, color=color, s=10, edgecolors="k",
                   linewidths=0.3, label=f"class {cls}")
    ax.set_title(f"{name}: accuracy {results[name][0]:.0%}")
    ax.set_xlabel("f1")
    ax.set_ylabel("f2")
axes[0].legend(loc="upper center", framealpha=0.9, ncols=2)
axes[2].plot(lin_losses, label="linear")
axes[2].plot(mlp_losses, label="MLP 2-16-2")
axes[2].set_yscale("log")
axes[2].set_xlabel("step")
axes[2].set_ylabel("cross-entropy loss")
axes[2].legend()
axes[2].set_title("training loss")
fig.suptitle("points: the true class; background: the class the model predicts there")
save(fig, "03_xor_boundaries.png")
