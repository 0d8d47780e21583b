# %% [markdown]
# # 04 - Convolutions and pooling
#
# A convolution slides a small **filter** over the input and, at every position, takes the dot
# product of the filter with the window under it (seed 003: "The filter moves across the
# matrix"). The same few weights are reused everywhere, so a convolution detects a feature
# *wherever* it occurs. Pooling then aggregates windows of the result into a smaller one.

# %%
import numpy as np
from plotting import Panels, image_panels, save  # tutorials/plotting.py: readable figures

import minigrad
import minigrad.functional as F
from minigrad import nn
from minigrad.data import load_digits
from minigrad.train import train_digits

# %% [markdown]
# ## 1-D convolution by example
#
# Vector $(2, 3, 1, 3, 2, 1)$, filter $(1, 2, 1)$. The filter fits at 4 positions:
#
# * $2 \cdot 1 + 3 \cdot 2 + 1 \cdot 1 = 9$
# * $3 \cdot 1 + 1 \cdot 2 + 3 \cdot 1 = 8$
# * $1 \cdot 1 + 3 \cdot 2 + 2 \cdot 1 = 9$
# * $3 \cdot 1 + 2 \cdot 2 + 1 \cdot 1 = 8$

# %%
v = np.array([2.0, 3.0, 1.0, 3.0, 2.0, 1.0])
u = np.array([1.0, 2.0, 1.0])
by_hand = np.array([v[i:i + 3] @ u for i in range(len(v) - len(u) + 1)])
# minigrad wants (batch, channels, length) and a weight (out_channels, in_channels, k)
y = F.conv1d(minigrad.tensor(v[None, None]), minigrad.tensor(u[None, None]))
print("by hand:", by_hand, " F.conv1d:", y.numpy().ravel())
assert by_hand.tolist() == [9, 8, 9, 8]
assert np.allclose(y.numpy().ravel(), [9, 8, 9, 8])

# %% [markdown]
# ## Pooling: max and average, window size 3
#
# Seed 003's examples slide a window of size 3 along a vector and keep the **maximum**
# (example 1) or the **average** (example 2) of each window; example 3 uses a window as long
# as the vector (a *global* pooling: one number). (The slide text does not include the numbers
# in the figures, so we do both the input vector and the convolution's output.) Here the window
# moves one step at a time (stride 1).

# %%
for name, vec in [("vector", v), ("conv output", by_hand)]:
    t = minigrad.tensor(vec[None, None])
    mx = F.max_pool1d(t, 3, stride=1).numpy().ravel()
    av = F.avg_pool1d(t, 3, stride=1).numpy().ravel()
    gl = F.max_pool1d(t, len(vec)).numpy().ravel()
    hand_mx = [vec[i:i + 3].max() for i in range(len(vec) - 2)]
    hand_av = [vec[i:i + 3].mean() for i in range(len(vec) - 2)]
    print(f"{name:12s} {vec.tolist()}: max {mx.round(3).tolist()}, average "
          f"{av.round(3).tolist()}, global max {gl.tolist()}")
    assert np.allclose(mx, hand_mx) and np.allclose(av, hand_av, atol=1e-6)
    assert gl.tolist() == [vec.max()]
conv_t = minigrad.tensor(by_hand[None, None])
assert np.allclose(F.max_pool1d(conv_t, 3, stride=1).numpy().ravel(), [9, 9])
assert np.allclose(F.avg_pool1d(conv_t, 3, stride=1).numpy().ravel(), [26 / 3, 25 / 3])

# %% [markdown]
# ## Padding, stride, channels
#
# * **padding** $p$ adds $p$ zeros at each border, so the filter also fits at the edges;
# * **stride** $s$ moves the filter $s$ steps at a time;
# * an input with $C_{in}$ **channels** (e.g. RGB) gets filters of depth $C_{in}$, and each of
#   the $C_{out}$ filters makes one output channel.
#
# The output size along one axis is
# $$\left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1.$$

# %%
for n, k, s, p in [(6, 3, 1, 0), (6, 3, 1, 1), (7, 3, 2, 0), (28, 5, 1, 2), (8, 3, 2, 1)]:
    out = F.conv_output_size(n, k, s, p)
    real = F.conv2d(minigrad.zeros(1, 1, n, n), minigrad.zeros(1, 1, k, k), stride=s,
                    padding=p).shape[-1]
    print(f"n={n:2d} k={k} stride={s} padding={p} -> {out}")
    assert out == real == (n + 2 * p - k) // s + 1
assert F.conv_output_size(6, 3, 1, 0) == 4  # the 1-D example above

# %% [markdown]
# ## The exercise: a 6x6 image
#
# A 6x6 image with 1 channel, padding 1, 3 output channels, 3x3 kernels, stride 1. The output
# is $3 \times 6 \times 6$ ($(6 + 2 - 3)/1 + 1 = 6$). Each of the 3 filters has
# $1 \times 3 \times 3 = 9$ weights: 27 weights plus 3 biases = 30 parameters.

# %%
conv = nn.Conv2d(1, 3, 3, padding=1)
out = conv(minigrad.randn(1, 1, 6, 6))
n_weights = conv.weight.numel()
n_bias = conv.bias.numel()
print(conv, "-> output", out.shape, f"; {n_weights} weights + {n_bias} biases")
assert out.shape == (1, 3, 6, 6)
assert (n_weights, n_bias) == (27, 3)
assert sum(p.numel() for p in conv.parameters()) == 30

# %% [markdown]
# ## Filters on a real image
#
# A digit from scikit-learn's 8x8 digits (`load_digits`). Two hand-made filters:
#
# * a **Gaussian blur**: weights $\frac{1}{16}\begin{bmatrix}1&2&1\\2&4&2\\1&2&1\end{bmatrix}$
#   (an average that favours the centre; they sum to 1, so the brightness stays the same);
# * a **vertical edge detector** (Sobel): large where the image changes from left to right.
#
# And pooling the image with 2x2 windows (stride 2): max pooling keeps the strongest pixel of
# each window, average pooling smooths.
#
# In the figure the digit, its blur and both poolings share one grey scale (one colour bar), so
# a grey means the same number in every panel: max pooling is never darker than average pooling.
# The edges are signed: red where the image gets brighter from left to right, blue where it gets
# darker, white where it does not change.

# %%
train, _ = load_digits(seed=0)
img = train.X[:1].astype(np.float64)  # (1, 1, 8, 8)
label = int(train.y[0])
gauss = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64)[None, None] / 16
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)[None, None]
x = minigrad.tensor(img)
blur = F.conv2d(x, minigrad.tensor(gauss), padding=1).numpy()[0, 0]
edges = F.conv2d(x, minigrad.tensor(sobel), padding=1).numpy()[0, 0]
mx = F.max_pool2d(x, 2).numpy()[0, 0]
av = F.avg_pool2d(x, 2).numpy()[0, 0]
# check one pixel of the blur by hand (padded with zeros)
padded = np.pad(img[0, 0], 1)
assert abs(blur[3, 4] - (padded[3:6, 4:7] * gauss[0, 0]).sum()) < 1e-12
assert abs(gauss.sum() - 1) < 1e-12 and blur.std() < img.std()  # blurring smooths
assert mx.shape == av.shape == (4, 4) and (mx >= av).all()
assert np.allclose(av, img[0, 0].reshape(4, 2, 4, 2).mean((1, 3)))
print(f"digit {label}: blur, edges, max-pool, average-pool computed")

fig = image_panels(
    [Panels([(f"digit {label}", img[0, 0]), ("Gaussian blur", blur), ("max pool 2x2", mx),
             ("average pool 2x2", av)], label="pixel value (standardised)"),
     Panels([("vertical edges (Sobel)", edges)], signed=True, label="edge strength")],
    title="one scale for the image, its blur and both poolings; edges are signed (white = 0)")
save(fig, "04_filters_pooling.png")

# %% [markdown]
# ## Learned filters
#
# In a CNN we do not design the filters: they are parameters, learned by backpropagation. We
# train the worksheet-4 CNN (seed 001: two 3x3 convolutions with 16 and 32 filters, max pooling,
# dropout, a dense layer) on the digits for 3 epochs, and show the 16 filters of the first
# layer. Each is a 3x3 image of weights, all 16 on one colour scale centred on zero (white),
# so that a stronger colour is a larger weight in any of them.

# %%
net, hist = train_digits("cnn", epochs=3, progress=False)
print(f"test accuracy after 3 epochs: {hist.test_accuracy[-1]:.1%}")
assert hist.test_accuracy[-1] > 0.85
filters = net[0].weight.numpy()
assert filters.shape == (16, 1, 3, 3)

fig = image_panels([Panels([(f"filter {i}", filters[i, 0]) for i in range(16)], signed=True,
                           label="weight")], ncols=8, panel_size=1.5,
                   title="first-layer filters of the CNN after 3 epochs on the digits")
save(fig, "04_learned_filters.png")
