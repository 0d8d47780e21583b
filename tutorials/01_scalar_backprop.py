# %% [markdown]
# # 01 - Backpropagation on scalars
#
# The lecture's first example (seed 001, slides 3-9): backpropagation on one input number,
#
# $$f(x) = \frac{2}{\sin(e^{-x})}, \qquad x = -4.499.$$
#
# The recipe of the slides:
#
# 1. Break your computation down into a chain of **modules**.
# 2. Work out the derivative of each module with respect to its input **symbolically**
#    (the *local* derivatives).
# 3. Do a **forward pass** for a given input $x$: compute $f(x)$ and remember the intermediate
#    values.
# 4. Fill the intermediate values into the local derivatives and multiply them: the
#    **global** derivative $\partial f / \partial x$.
#
# minigrad's scalar engine (`minigrad.Scalar`) does exactly this, one number per node.

# %%
import math

import matplotlib.pyplot as plt
from plotting import FIG, save  # tutorials/plotting.py: readable figures

import minigrad
from minigrad import Scalar
from minigrad.scalar import (GraphvizNotFound, iter_backward, numeric_grad, to_dot, to_png,
                             trace)


# %% [markdown]
# ## The modules
#
# $$f(x) = d(c(b(a(x)))), \quad a(x) = -x, \quad b(a) = e^a, \quad c(b) = \sin b,
# \quad d(c) = \frac{2}{c}.$$
#
# We build them one at a time, and give each node a label so the printouts can name it.

# %%
x = Scalar(-4.499, label="x")
a = -x
a.label = "a"
b = a.exp()
b.label = "b"
c = b.sin()
c.label = "c"
d = 2 / c
d.label = "d"

for node in (x, a, b, c, d):
    print(f"{node.label} = {node.module():8s} = {node.data:.6g}")

# %% [markdown]
# ## The forward pass, in radians
#
# The slides (slide 8) say $b = e^{4.499} = 90$, $c = \sin 90 = 1$, $f = 2$. But $e^{4.499}$ is
# 89.927, and $\sin$ of **89.927 radians** is 0.9242, not 1. Every math library (and minigrad)
# works in radians.

# %%
assert abs(a.data - 4.499) < 1e-12
assert abs(b.data - 89.93) < 0.005 and abs(b.data - 89.927) < 0.001
assert abs(c.data - 0.9242) < 1e-4
assert abs(d.data - 2.1640) < 1e-4
print(f"a = {a.data:.4f}, b = {b.data:.3f}, c = {c.data:.4f}, d = f(x) = {d.data:.4f}")

# %% [markdown]
# ## The local derivatives, symbolically
#
# $$\frac{\partial d}{\partial c} = -\frac{2}{c^2}, \quad
# \frac{\partial c}{\partial b} = \cos b, \quad
# \frac{\partial b}{\partial a} = e^a, \quad
# \frac{\partial a}{\partial x} = -1$$
#
# and the chain rule multiplies them:
#
# $$\frac{\partial f}{\partial x} = -\frac{2}{c^2} \cdot \cos b \cdot e^a \cdot -1.$$

# %%
local = {
    "dd/dc": -2 / c.data**2,
    "dc/db": math.cos(b.data),
    "db/da": math.exp(a.data),
    "da/dx": -1.0,
}
for k, v in local.items():
    print(f"{k} = {v:.6g}")
closed_form = local["dd/dc"] * local["dc/db"] * local["db/da"] * local["da/dx"]
print(f"closed form df/dx = {closed_form:.6f}")

# %% [markdown]
# ## The backward pass, one edge at a time
#
# `iter_backward(root)` runs the same arithmetic as `root.backward()`, but yields one step per
# edge of the graph: the upstream gradient (d root / d node) times the local derivative is
# *added* to the input's gradient.

# %%
for step in iter_backward(d):
    print(step)

# %% [markdown]
# The whole pass as a table (forward values, then the backward steps):

# %%
print(trace(d))

# %%
d.backward()
print(f"x.grad = {x.grad:.6f}")
assert abs(x.grad - (-80.393)) < 1e-3
assert abs(x.grad - closed_form) < 1e-9 * abs(closed_form)
num = numeric_grad(lambda v: 2 / (-v).exp().sin(), -4.499)
print(f"numeric (central differences) = {num:.6f}")
assert abs(num - x.grad) < 1e-4 * abs(x.grad)

# %% [markdown]
# ## The slip on the slides: degrees
#
# Slide 9 computes $\partial f/\partial x = -\frac{2}{2^2} \cdot \cos 90 \cdot e^{4.499}
# \cdot -1 = 0$: they took $e^{4.499} \approx 90$ and then $\sin 90 = 1$ and $\cos 90 = 0$,
# which are the values for 90 **degrees**. In degrees we do get the slides' numbers:

# %%
b_deg = math.radians(round(b.data))  # "90", read as degrees
f_deg = 2 / math.sin(b_deg)
dfdx_deg = -2 / math.sin(b_deg) ** 2 * math.cos(b_deg) * round(b.data) * -1
print(f"with degrees: f = {f_deg:.4f}, df/dx = {dfdx_deg:.2e}  (the slides' 2 and 0)")
assert abs(f_deg - 2) < 1e-9 and abs(dfdx_deg) < 1e-12
print(f"with radians: f = {d.data:.4f}, df/dx = {x.grad:.3f}")

# %% [markdown]
# In radians $\cos(89.927) = -0.38$, not 0, and $e^a = 89.9$ is large, so the gradient is
# large: $f$ changes by about $-80$ per unit of $x$ here. The method on the slides is right;
# only the numbers were computed in the wrong unit.
#
# ## The graph
#
# `to_dot` writes the graph as Graphviz DOT text (render it with `dot -Tpng graph.dot`);
# `to_svg` and `to_png` render it through Graphviz (`./run setup` installs it), and in a
# notebook a `Scalar` shows itself as that picture, values and gradients on the nodes.

# %%
dot = to_dot(d)
(FIG / "01_graph.dot").write_text(dot)
print(dot)

# %%
try:
    (FIG / "01_graph_graphviz.png").write_bytes(to_png(d))
    print("saved", FIG / "01_graph_graphviz.png")
except GraphvizNotFound as e:
    print("no Graphviz here:", e)
d  # noqa: B018 (in a notebook, a cell's last value is shown: for a Scalar, its graph)

# %% [markdown]
# Graphviz may be missing, so we also draw the graph with matplotlib: each box holds a node's
# value and gradient, and each arrow is labelled with the module.


# %%
def draw_graph(root, name, title):
    """Boxes for the values (label, data, grad), arrows labelled with the module."""
    nodes = root.topo()
    depth = {}
    for n in nodes:  # parents come first, so their depth is known
        depth[id(n)] = 1 + max((depth[id(p)] for p in n.parents), default=-1)
    columns = {}
    for n in nodes:
        columns.setdefault(depth[id(n)], []).append(n)
    pos = {}
    for dep, col in columns.items():
        for i, n in enumerate(col):
            pos[id(n)] = (dep * 3.0, (len(col) - 1) / 2 - i * 1.6)
    rows = max(map(len, columns.values()))
    fig, ax = plt.subplots(layout="constrained", figsize=(2.6 * len(columns) + 1, 1.3 * rows + 0.8))
    for n in nodes:
        x0, y0 = pos[id(n)]
        for p in n.parents:
            xp, yp = pos[id(p)]
            ax.annotate("", xy=(x0 - 0.6, y0), xytext=(xp + 0.6, yp),
                        arrowprops=dict(arrowstyle="->", color="gray", lw=1.5))
            ax.text((x0 + xp) / 2, (y0 + yp) / 2 + 0.15, n.module(), ha="center", fontsize=9,
                    color="tab:blue")
        ax.text(x0, y0, f"{n.label or ''}\ndata {n.data:.4g}\ngrad {n.grad:.4g}", ha="center",
                va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="round", fc="lightyellow", ec="black"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_title(title)
    ax.axis("off")
    save(fig, name)


draw_graph(d, "01_graph.png", "f(x) = 2 / sin(exp(-x)) at x = -4.499")

# %% [markdown]
# ## The multivariate chain rule: a diamond
#
# When a value is used on **several paths** to the output, its gradient is the **sum** of the
# gradients over the paths. Take
#
# $$a = x^2, \quad b = \sin x, \quad c = a \cdot b.$$
#
# $x$ reaches $c$ through $a$ and through $b$:
#
# $$\frac{dc}{dx} = \frac{\partial c}{\partial a}\frac{da}{dx} +
# \frac{\partial c}{\partial b}\frac{db}{dx} = b \cdot 2x + a \cdot \cos x.$$
#
# In the backward pass this is the `+=` into `x.grad`: two steps end at `x`.

# %%
xv = 1.3
x2 = Scalar(xv, label="x")
a2 = x2**2
a2.label = "a"
b2 = x2.sin()
b2.label = "b"
c2 = a2 * b2
c2.label = "c"
steps = list(iter_backward(c2))
for step in steps:
    print(step)
c2.backward()
expected = math.sin(xv) * 2 * xv + xv**2 * math.cos(xv)
print(f"dc/dx = {x2.grad:.6f}, b*2x + a*cos x = {expected:.6f}")
assert abs(x2.grad - expected) < 1e-12
assert sum(s.input is x2 for s in steps) == 2  # two paths end at x
assert abs(numeric_grad(lambda v: v**2 * v.sin(), xv) - expected) < 1e-6
draw_graph(c2, "01_diamond.png", "c = x^2 * sin x: two paths from x to c")

# %% [markdown]
# The same graph from a formula string, with `minigrad.scalar.parse` (it labels the modules
# a, b, c, d in forward order, as the lecture does):

# %%
root, leaves = minigrad.scalar.parse("2/sin(exp(-x))", {"x": -4.499})
print([n.label for n in root.topo()])
root.backward()
assert [n.label for n in root.topo()] == ["x", "a", "b", "c", "d"]
assert abs(leaves["x"].grad - x.grad) < 1e-9
