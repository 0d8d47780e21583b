"""The lecture's models and a training loop, shared by ``minigrad train``, the demo and the tests.

The worksheet-4 CNN (seed 001, slide 94; Keras)::

    Conv2D(16, 3x3, relu) -> Conv2D(32, 3x3, relu) -> MaxPool 2x2 -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10, softmax)     (Adam, batch 32)

For the 8x8 digits the convolutions get padding 1 so the small images keep their size
(8 -> 8 -> 8 -> pool 4). The softmax is folded into the loss (``F.cross_entropy`` on logits),
which is the same model, computed stably.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import functional as F
from . import nn, optim
from .tensor.tensor import Tensor, manual_seed, no_grad


def worksheet4_cnn(image_size: int = 8, channels: tuple[int, int] = (16, 32), hidden: int = 128,
                   padding: int | None = None) -> nn.Sequential:
    """The worksheet-4 CNN for 1-channel ``image_size`` x ``image_size`` images, 10 classes.

    ``padding`` defaults to 1 for images smaller than 16 pixels (the digits) and to 0 otherwise
    (the worksheet's 28x28 MNIST model).
    """
    if padding is None:
        padding = 1 if image_size < 16 else 0
    c1, c2 = channels
    side = image_size + 2 * padding - 2          # first conv, 3x3
    side = side + 2 * padding - 2                # second conv
    side //= 2                                   # max-pool 2x2
    if side < 1:
        raise ValueError(f"images of {image_size}x{image_size} are too small for this CNN")
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=padding), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=padding), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(c2 * side * side, hidden), nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(hidden, 10),
    )


def mlp(n_inputs: int = 64, hidden: tuple[int, ...] = (128, 64), n_classes: int = 10,
        dropout: float = 0.0) -> nn.Sequential:
    """A ReLU MLP over flat inputs."""
    layers: list[nn.Module] = [nn.Flatten()]
    d = n_inputs
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = h
    layers.append(nn.Linear(d, n_classes))
    return nn.Sequential(*layers)


@dataclass
class History:
    """What a training run measured, epoch by epoch (and the loss of every step)."""

    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, device: str = "cpu",
             batch_size: int = 512) -> float:
    """Fraction of ``X`` classified as ``y`` (eval mode, no graph)."""
    was = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(X), batch_size):
            logits = model(Tensor(X[i:i + batch_size], device=device))
            correct += int((logits.numpy().argmax(1) == y[i:i + batch_size]).sum())
    model.train(was)
    return correct / max(len(X), 1)


def fit(model: nn.Module, train, test, epochs: int = 10, batch_size: int = 32, lr: float = 1e-3,
        optimizer: str = "adam", seed: int = 0, device: str = "cpu", progress: bool = True,
        log=print) -> History:
    """Train with minibatches and report test accuracy after each epoch.

    ``train``/``test`` are ArrayDatasets (``minigrad.data``). A tqdm progress bar shows each
    epoch unless ``progress`` is False.
    """
    from .data import DataLoader

    if optimizer not in optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from "
                         f"{', '.join(optim.OPTIMIZERS)}")
    kw = {"momentum": 0.9} if optimizer == "sgd" else {}
    opt = optim.OPTIMIZERS[optimizer](model.parameters(), lr=lr, **kw)
    hist = History()
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed + epoch,
                            as_numpy=True)
        bar = _progress(loader, f"epoch {epoch}/{epochs}", progress)
        total, count = 0.0, 0
        for X, y in bar:
            opt.zero_grad()
            loss = F.cross_entropy(model(Tensor(X, device=device)), y)
            loss.backward()
            opt.step()
            lv = loss.item()
            hist.step_loss.append(lv)
            total += lv * len(y)
            count += len(y)
            if progress:
                bar.set_postfix(loss=f"{lv:.4f}")
        hist.epoch_loss.append(total / max(count, 1))
        acc = accuracy(model, test.X, test.y, device=device)
        hist.test_accuracy.append(acc)
        log(f"epoch {epoch:2d}  loss {hist.epoch_loss[-1]:.4f}  test accuracy {acc:.2%}")
    hist.seconds = time.perf_counter() - t0
    return hist


def _progress(it, desc, enabled):
    if not enabled:
        return it
    from tqdm import tqdm
    return tqdm(it, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


def train_digits(model: str = "cnn", epochs: int | None = None, batch_size: int = 32,
                 lr: float = 1e-3, optimizer: str = "adam", seed: int = 0, device: str = "cpu",
                 progress: bool = True, log=print):
    """Train the CNN (or the MLP) on scikit-learn's 8x8 digits; returns (model, history)."""
    from .data import load_digits

    manual_seed(seed)
    flat = model == "mlp"
    train, test = load_digits(seed=seed, flat=flat)
    if model == "cnn":
        net = worksheet4_cnn(8)
        epochs = 10 if epochs is None else epochs
    elif model == "mlp":
        net = mlp(64, (128, 64))
        epochs = 20 if epochs is None else epochs
    else:
        raise ValueError(f"model must be 'cnn' or 'mlp', got {model!r}")
    if device != "cpu":
        net.to(device)
    hist = fit(net, train, test, epochs=epochs, batch_size=batch_size, lr=lr,
               optimizer=optimizer, seed=seed, device=device, progress=progress, log=log)
    return net, hist
