# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 07 - A recurrent network: counting bits
#
# A feedforward network takes a fixed-size input. For **sequences**, seed 003 introduces the
# **Elman RNN**: the same cell is applied at every time step, and it carries a **hidden state**
# $h_t$ from one step to the next:
#
# $$h_t = \tanh(W_{ih} x_t + W_{hh} h_{t-1} + b), \qquad h_0 = 0.$$
#
# The state is the network's memory of everything it has seen so far. Training unrolls the
# loop into one long computation graph and backpropagates through all of it
# ("backpropagation through time"); the weights are shared by all time steps, so their
# gradients are summed over the steps (the multivariate chain rule again).
#
# The task is seed 004's toy problem: **adding up the bits in a binary sequence**
# ("2: 0 1 0 0 1", "3: 1 0 0 1 1", ...). We use sequences of 8 bits, read one bit per step,
# and classify the final state into the count 0..8 (9 classes).

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import minigrad
import minigrad.functional as F
from minigrad import nn, optim

try:
    FIG = Path(__file__).parent / "figures"
except NameError:  # inside a notebook
    FIG = Path("tutorials/figures")
FIG.mkdir(parents=True, exist_ok=True)
minigrad.manual_seed(0)
rng = np.random.default_rng(0)
T = 8  # sequence length


def make_batch(n, length=T):
    bits = rng.integers(0, 2, (n, length))
    return bits[:, :, None].astype(np.float32), bits.sum(1)  # (batch, seq, 1), counts


# %% [markdown]
# ## The model
#
# `nn.RNN(1, 32)`: input size 1 (one bit per step), 32 hidden units. It returns all hidden
# states and the last one; a `Linear(32, 9)` turns the last state into 9 class scores.

# %%
class BitCounter(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.rnn = nn.RNN(1, hidden)
        self.out = nn.Linear(hidden, T + 1)

    def forward(self, x):
        _, h_last = self.rnn(x)
        return self.out(h_last)


model = BitCounter()
print(model.rnn, "+", model.out)
print("parameters:", sum(p.numel() for p in model.parameters()))

# all 256 sequences of 8 bits: the test set
all_bits = ((np.arange(2**T)[:, None] >> np.arange(T)[::-1]) & 1)
X_all, y_all = all_bits[:, :, None].astype(np.float32), all_bits.sum(1)


def accuracy(x, y):
    with minigrad.no_grad():
        return float((model(minigrad.tensor(x)).numpy().argmax(1) == y).mean())


# A hand check of the recurrence against nn.RNN for one sequence:
x0 = X_all[77:78]
states, last = model.rnn(minigrad.tensor(x0))
h = np.zeros(32)
r = model.rnn
for t in range(T):
    h = np.tanh(r.weight_ih.numpy() @ x0[0, t] + r.bias_ih.numpy()
                + r.weight_hh.numpy() @ h + r.bias_hh.numpy())
assert np.allclose(h, last.numpy()[0], atol=1e-5)
assert np.allclose(states.numpy()[0, -1], last.numpy()[0])

acc_before = accuracy(X_all, y_all)
print(f"accuracy before training (all 256 sequences): {acc_before:.1%}")

# %% [markdown]
# ## Training
#
# Adam, learning rate 0.01, 600 minibatches of 64 random sequences, cross-entropy loss.

# %%
opt = optim.Adam(model.parameters(), lr=1e-2)
losses, accs = [], []
for step in range(600):
    x, y = make_batch(64)
    opt.zero_grad()
    loss = F.cross_entropy(model(minigrad.tensor(x)), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
    if step % 25 == 0 or step == 599:
        accs.append((step, accuracy(X_all, y_all)))

acc_after = accuracy(X_all, y_all)
print(f"accuracy after training (all 256 sequences): {acc_after:.1%}")
assert acc_before < 0.5
assert acc_after > 0.9

# %% [markdown]
# The cell is the same at every step, so the trained network also runs on sequences of another
# length. Seed 004's examples have 5 bits. The network never saw length 5, and nothing forced
# it to count in a way that works for other lengths (it only ever had to be right after exactly
# 8 steps), so expect mistakes here; training on sequences of mixed lengths would fix that.

# %%
for s in ["01001", "10011", "11111", "00000"]:
    xs = np.array([[[float(c)] for c in s]], dtype=np.float32)
    with minigrad.no_grad():
        pred = int(model(minigrad.tensor(xs)).numpy().argmax())
    print(f"{s}: true count {s.count('1')}, predicted {pred}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
k = 20
axes[0].plot(losses, alpha=0.3, label="minibatch loss")
axes[0].plot(np.arange(k - 1, len(losses)), np.convolve(losses, np.ones(k) / k, "valid"),
             label=f"moving average of {k}")
axes[0].set_yscale("log")
axes[0].set_xlabel("step")
axes[0].set_ylabel("cross-entropy loss")
axes[0].set_title("Elman RNN counting the bits of 8-bit sequences")
axes[0].legend()
s, a = zip(*accs)
axes[1].plot(s, a, "o-")
axes[1].set_ylim(0, 1.02)
axes[1].set_xlabel("step")
axes[1].set_ylabel("accuracy on all 256 sequences")
fig.tight_layout()
fig.savefig(FIG / "07_rnn_training.png", dpi=100)
plt.close(fig)
print("saved", FIG / "07_rnn_training.png")
