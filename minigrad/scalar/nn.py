"""Neurons, layers and MLPs made of Scalars: every weight is one node you can inspect.

>>> from minigrad.scalar.nn import MLP
>>> net = MLP(2, [4, 1], seed=0)
>>> len(net.parameters())  # (2*4 + 4) + (4*1 + 1)
17
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from .engine import Scalar

_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class Module:
    """Something with parameters."""

    def parameters(self) -> list[Scalar]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """y = act(w . x + b), with Glorot-uniform weights (bound sqrt(6 / (n_in + 1)))."""

    def __init__(self, n_inputs: int, activation: str = "tanh", rng: random.Random | None = None,
                 name: str = "n"):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        rng = rng or random.Random()
        bound = math.sqrt(6.0 / (n_inputs + 1))
        self.w = [Scalar(rng.uniform(-bound, bound), label=f"{name}.w{i}")
                  for i in range(n_inputs)]
        self.b = Scalar(0.0, label=f"{name}.b")
        self.activation = activation

    def __call__(self, x: Sequence) -> Scalar:
        if len(x) != len(self.w):
            raise ValueError(f"neuron has {len(self.w)} inputs, got {len(x)} values")
        act = self.b
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        if self.activation == "linear":
            return act
        return getattr(act, self.activation)()

    def parameters(self) -> list[Scalar]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self.activation})"


class Layer(Module):
    """``n_outputs`` neurons over the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str = "tanh",
                 rng: random.Random | None = None, name: str = "L"):
        self.neurons = [Neuron(n_inputs, activation, rng, name=f"{name}.n{j}")
                        for j in range(n_outputs)]

    def __call__(self, x: Sequence):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Scalar]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        n = self.neurons[0]
        return f"Layer({len(n.w)} -> {len(self.neurons)}, {n.activation})"


class MLP(Module):
    """A multilayer perceptron: ``MLP(n_inputs, [sizes...])``; hidden layers use ``activation``,
    the last layer is linear (its outputs are scores or logits)."""

    def __init__(self, n_inputs: int, sizes: Sequence[int], activation: str = "tanh",
                 seed: int | None = None):
        if not sizes:
            raise ValueError("MLP needs at least one layer size")
        rng = random.Random(seed)
        dims = [n_inputs, *sizes]
        self.layers = [Layer(dims[i], dims[i + 1],
                             activation if i < len(sizes) - 1 else "linear", rng, name=f"L{i}")
                       for i in range(len(sizes))]

    def __call__(self, x: Sequence):
        for layer in self.layers:
            x = layer(x)
            if isinstance(x, Scalar):
                x = [x]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Scalar]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"MLP([{inner}], {len(self.parameters())} parameters)"


def sgd_step(params: Sequence[Scalar], lr: float) -> None:
    """w <- w - lr * dloss/dw for each parameter."""
    for p in params:
        p.data -= lr * p.grad
