# %% [markdown]
# # 02 - From scalars to tensors
#
# A neural network layer is not one number but many: "most of the operations used in neural
# networks can also be written as matrix multiplications" (seed 001). Instead of one graph node
# per number, a **tensor** engine has one node per array, and each module's backward maps
# *the gradient of the loss over its output* to *the gradient of the loss over its inputs*.
#
# The example is the 2x2 linear layer of seed 004: features $f = (1, 2)$,
#
# $$W = \begin{bmatrix} 3 & 4 \\ 7 & 1 \end{bmatrix}, \quad b = (0.5, 0.3), \qquad
# c_1 = 1 \cdot 3 + 2 \cdot 4 + 0.5 = 11.5, \quad c_2 = 1 \cdot 7 + 2 \cdot 1 + 0.3 = 9.3.$$

# %%
import numpy as np
from plotting import Panels, image_panels, save  # tutorials/plotting.py: readable figures

import minigrad
import minigrad.functional as F
from minigrad.testing import assert_engines_agree, gradcheck


# %% [markdown]
# ## The forward pass: k = Wx + b

# %%
W = minigrad.tensor([[3.0, 4.0], [7.0, 1.0]], dtype="float64", requires_grad=True)
x = minigrad.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
b = minigrad.tensor([0.5, 0.3], dtype="float64", requires_grad=True)
k = W @ x + b
k.retain_grad()  # k is not a leaf: ask to keep its gradient so we can look at it
c1, c2 = k.numpy()
print(f"c1 = {c1:.4f}, c2 = {c2:.4f}")
assert abs(c1 - 11.5) < 1e-6
assert abs(c2 - 9.3) < 1e-6

# %% [markdown]
# ## The backward of k = Wx + b
#
# Suppose backprop has already given us $\frac{\partial L}{\partial k}$ (a vector the shape of
# $k$). Writing $k_i = \sum_j W_{ij} x_j + b_i$ and applying the scalar chain rule to each
# element:
#
# * $\frac{\partial L}{\partial W_{ij}} = \frac{\partial L}{\partial k_i} x_j$, so
#   $\frac{\partial L}{\partial W} = \frac{\partial L}{\partial k}\, x^T$ (an **outer product**);
# * $\frac{\partial L}{\partial x_j} = \sum_i \frac{\partial L}{\partial k_i} W_{ij}$, so
#   $\frac{\partial L}{\partial x} = W^T \frac{\partial L}{\partial k}$ (a sum over the paths
#   from $x_j$ through every $k_i$: the multivariate chain rule);
# * $\frac{\partial L}{\partial b} = \frac{\partial L}{\partial k}$.
#
# No element-by-element graph needed: three small matrix operations. We take a loss that makes
# $\partial L / \partial k$ interesting, $L = \sum_i t_i k_i^2 / 2$ with weights $t = (1, -2)$,
# so $\partial L / \partial k = t \odot k$.

# %%
t = minigrad.tensor([1.0, -2.0], dtype="float64")
L = (t * k * k).sum() / 2
L.backward()

dk = k.grad.numpy()
print("dL/dk =", dk)
print("W.grad =\n", W.grad.numpy())
print("outer(dL/dk, x) =\n", np.outer(dk, x.numpy()))
assert np.allclose(dk, t.numpy() * k.numpy())
assert np.allclose(W.grad.numpy(), np.outer(dk, x.numpy()))
assert np.allclose(x.grad.numpy(), W.numpy().T @ dk)
assert np.allclose(b.grad.numpy(), dk)
print("dL/dx = W^T dL/dk =", x.grad.numpy(), "  dL/db = dL/dk =", b.grad.numpy())

# %% [markdown]
# ## Checking the derivation
#
# Two independent checks:
#
# * `gradcheck` compares every gradient with central finite differences
#   $(L(w + \epsilon) - L(w - \epsilon)) / 2\epsilon$;
# * `assert_engines_agree` runs the *same function* on the scalar engine (one `Scalar` per
#   number, tutorial 01) and on the tensor engine, and compares values and gradients. The function
#   is written with operators and `F.*`, so it works on both.


# %%
def loss_fn(W, x, b):
    k = W @ x + b
    return F.sum(k * k * np.array([1.0, -2.0])) / 2.0


Wn, xn, bn = W.numpy(), x.numpy(), b.numpy()
assert gradcheck(loss_fn, [minigrad.tensor(Wn, requires_grad=True),
                           minigrad.tensor(xn, requires_grad=True),
                           minigrad.tensor(bn, requires_grad=True)])
res = assert_engines_agree(loss_fn, [Wn, xn, bn])
for engine, (value, grads) in res.items():
    print(f"{engine:7s} L = {value:.4f}  dL/dW = {grads[0].tolist()}")
assert np.allclose(res["scalar"][1][0], W.grad.numpy())
print("gradcheck and scalar/tensor agreement: OK")

# %% [markdown]
# The same holds for a batch: with rows of $X$ as instances, `F.linear(X, W, b)` computes
# $XW^T + b$ and the gradient over $W$ becomes a sum of outer products, $\frac{\partial L}{\partial
# K}^T X$.

# %%
rng = np.random.default_rng(0)
Xb = rng.standard_normal((5, 2))
res = assert_engines_agree(lambda X, W, b: F.sum(F.tanh(F.linear(X, W, b))), [Xb, Wn, bn])
print("batched linear + tanh, scalar vs tensor: OK; dL/dW =", res["tensor"][1][1].round(4).tolist())

# %% [markdown]
# ## A picture of W.grad
#
# Each entry $\partial L/\partial W_{ij} = \partial L/\partial k_i \cdot x_j$: row $i$ is
# scaled by the output's gradient, column $j$ by the input.

# %%
fig = image_panels(
    [Panels([("dL/dk (column)", dk[:, None])], signed=True, fmt="{:.1f}"),
     Panels([("x^T (row)", xn[None, :])], signed=True, fmt="{:.1f}"),
     Panels([("dL/dW = dL/dk x^T", W.grad.numpy())], signed=True, fmt="{:.1f}")],
    title="dL/dW[i, j] = dL/dk[i] * x[j]   (red > 0, blue < 0, white = 0)", panel_size=2.6)
save(fig, "02_W_grad.png")
