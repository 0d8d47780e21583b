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
        log=print, distributed: bool = False) -> History:
    """Train with minibatches and report test accuracy after each epoch.

    ``train``/``test`` are ArrayDatasets (``minigrad.data``). A tqdm progress bar shows each
    epoch unless ``progress`` is False.

    ``distributed``: data parallelism over the ranks of ``minigrad.distributed`` (initialized
    by the caller, under ``mpiexec``). ``batch_size`` is then per rank, as in PyTorch: each
    step takes n * batch_size samples, rank r the r-th of every n (``DistributedSampler``), and
    the model (in ``DistributedDataParallel``) moves by the gradient of the mean loss over all
    of them: the same steps as one process with ``batch_size=n * batch_size``, to float rounding
    (for a model without dropout, whose masks each rank draws itself). Rank 0 alone shows
    progress, logs and computes the test accuracy (which it sends to the others).
    """
    from .data import DataLoader

    if optimizer not in optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from "
                         f"{', '.join(optim.OPTIMIZERS)}")
    rank, world, net = 0, 1, model
    if distributed:
        from . import distributed as dist
        rank, world = dist.get_rank(), dist.get_world_size()
        from .nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
        progress = progress and rank == 0
    kw = {"momentum": 0.9} if optimizer == "sgd" else {}
    opt = optim.OPTIMIZERS[optimizer](net.parameters(), lr=lr, **kw)
    hist = History()
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        net.train()
        if distributed:
            loader, step_weights = _shard(train, batch_size, seed, epoch, rank, world)
        else:
            loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed + epoch,
                                as_numpy=True)
            step_weights = None
        bar = _progress(loader, f"epoch {epoch}/{epochs}", progress)
        total, count = 0.0, 0
        for k, (X, y) in enumerate(bar):
            opt.zero_grad()
            logits = net(Tensor(X, device=device))
            w = None if step_weights is None else step_weights(k, len(y))
            if w is None:
                loss = F.cross_entropy(logits, y)
                lv, n = loss.item(), len(y)
            else:
                # The last step of an epoch: the sampler padded it with repeated samples (weight
                # 0); the rest are weighted so that the average over the ranks is the mean loss
                # over the real samples of the whole step.
                loss = (F.cross_entropy(logits, y, reduction="none")
                        * Tensor(w, device=device)).sum()
                n = int((w > 0).sum())
                lv = loss.item() / float(w.sum()) if n else 0.0      # this rank's mean
            loss.backward()
            opt.step()
            hist.step_loss.append(lv)
            total += lv * n
            count += n
            if progress:
                bar.set_postfix(loss=f"{lv:.4f}")
        if distributed:
            sums = Tensor(np.array([total, count], dtype=np.float64))
            dist.all_reduce(sums)
            total, count = sums.tolist()
        hist.epoch_loss.append(total / max(count, 1))
        acc = accuracy(model, test.X, test.y, device=device) if rank == 0 else 0.0
        if distributed:
            shared = Tensor(np.array([acc]))
            dist.broadcast(shared, src=0)
            acc = shared.item()
        hist.test_accuracy.append(acc)
        if rank == 0:
            log(f"epoch {epoch:2d}  loss {hist.epoch_loss[-1]:.4f}  test accuracy {acc:.2%}")
    hist.seconds = time.perf_counter() - t0
    return hist


def _shard(train, batch_size: int, seed: int, epoch: int, rank: int, world: int):
    """This rank's loader for one epoch, and the loss weights of its padded last step.

    The sampler's permutation is the one a single process draws (``seed + epoch``), and step
    k of all ranks together is its slice [k nB, (k+1) nB): the single process's step k with
    batch nB. Only the last step can hold padding (positions >= len(train)); for it the
    weights give each real sample n / (real samples of the step), so that DDP's mean over the
    ranks is the mean over the step's real samples.
    """
    from .data import DataLoader, DistributedSampler

    sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    loader = DataLoader(train, batch_size=batch_size, sampler=sampler, as_numpy=True)
    n_real, per_step = len(train), batch_size * world

    def step_weights(k: int, b: int):
        first, last = k * per_step, min((k + 1) * per_step, sampler.total_size)
        if last <= n_real and b * world == last - first:
            return None                              # a full step: the plain mean
        positions = rank + world * (k * batch_size + np.arange(b))
        real = positions < n_real
        return real.astype(np.float32) * (world / max(min(last, n_real) - first, 1))

    return loader, step_weights


def _progress(it, desc, enabled):
    if not enabled:
        return it
    import sys

    from tqdm import tqdm
    # Quiet unless both stdout and stderr (the bar's stream) are terminals: in a log or a pipe
    # the bar would write a line per update.
    quiet = not (_isatty(sys.stdout) and _isatty(sys.stderr))
    return tqdm(it, desc=desc, leave=False, unit="batch", dynamic_ncols=True, disable=quiet)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# The models ``train_digits`` builds, by kind: the options of their builder (JSON-able).
DIGITS_MODELS = {"cnn": {"image_size": 8}, "mlp": {"n_inputs": 64, "hidden": [128, 64]}}
DIGITS_EPOCHS = {"cnn": 10, "mlp": 20}
MODEL_KEY = "__minigrad_model__"     # checkpoint entry: the model's kind and options, as JSON


def build_model(kind: str, options: dict | None = None) -> nn.Sequential:
    """The model of ``kind`` ("cnn" or "mlp") built with ``options`` (default: the digits')."""
    if kind not in DIGITS_MODELS:
        raise ValueError(f"model must be 'cnn' or 'mlp', got {kind!r}")
    opts = dict(DIGITS_MODELS[kind] if options is None else options)
    if kind == "cnn":
        if "channels" in opts:
            opts["channels"] = tuple(opts["channels"])
        return worksheet4_cnn(**opts)
    if "hidden" in opts:
        opts["hidden"] = tuple(opts["hidden"])
    return mlp(**opts)


def save_model(net: nn.Module, path, kind: str, options: dict | None = None,
               seed: int = 0) -> None:
    """Save ``net``'s weights with its kind, builder options and the data split's ``seed``
    (one extra entry, ``MODEL_KEY``: JSON as uint8 bytes, no pickle), so that
    :func:`load_model` can rebuild it."""
    import json

    from .io import save
    meta = {"kind": kind, "options": DIGITS_MODELS[kind] if options is None else options,
            "seed": seed}
    state = dict(net.state_dict())
    state[MODEL_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    save(state, path)


def load_model(path):
    """(model, metadata) from a file :func:`save_model` wrote; ValueError when the file does
    not say which model it holds (e.g. weights saved with plain ``minigrad.save``)."""
    import json

    from .io import load
    state = load(path)
    if MODEL_KEY not in state:
        raise ValueError(f"{path} does not record which model it holds (it was not written by "
                         f"'minigrad train --save')")
    meta = json.loads(bytes(np.asarray(state.pop(MODEL_KEY), dtype=np.uint8)).decode())
    net = build_model(meta["kind"], meta.get("options"))
    net.load_state_dict(state)
    return net, meta


def train_digits(model: str = "cnn", epochs: int | None = None, batch_size: int = 32,
                 lr: float = 1e-3, optimizer: str = "adam", seed: int = 0, device: str = "cpu",
                 progress: bool = True, log=print, distributed: bool = False):
    """Train the CNN (or the MLP) on scikit-learn's 8x8 digits; returns (model, history).

    ``distributed``: each rank of ``minigrad.distributed`` trains on its share of every batch
    (``batch_size`` per rank); see :func:`fit`.
    """
    from .data import load_digits

    manual_seed(seed)
    flat = model == "mlp"
    train, test = load_digits(seed=seed, flat=flat)
    net = build_model(model)
    epochs = DIGITS_EPOCHS[model] if epochs is None else epochs
    if device != "cpu":
        net.to(device)
    if distributed:
        from . import distributed as dist
        if dist.get_rank() > 0:
            # Rank 0's weights are broadcast to all; the other ranks draw their own dropout
            # masks (rank 0 keeps the stream of a single process).
            manual_seed(seed + 1_000_003 * dist.get_rank())
    hist = fit(net, train, test, epochs=epochs, batch_size=batch_size, lr=lr,
               optimizer=optimizer, seed=seed, device=device, progress=progress, log=log,
               distributed=distributed)
    return net, hist
