"""Training steps of models built from issue 11's layers, against PyTorch with the same weights:
a CNN with BatchNorm, and an LSTM. On the cpu backend both run fused Functions (BatchNorm in
training: one pass for the statistics, one for the output, a closed-form backward; LSTM: one
GEMM for every step's input projection, then the recurrence in one Function), each tested
against the per-step composite it replaces."""

from __future__ import annotations

import numpy as np

from .common import compare, import_torch, ratio_of, row, run_case, torch_train_step

TARGET = "<= 1.5x torch"
LSTM_SHAPE = (32, 32, 64, 128)  # seq, batch, input size, hidden size


def _bn_cnn(nn):
    """The worksheet-4 CNN with BatchNorm after each convolution and the hidden layer (the same
    code builds the minigrad model and its torch twin)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 12 * 12, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def _lstm_classifier(nn, base):
    seq, batch, inp, hidden = LSTM_SHAPE

    class LSTMClassifier(base):
        """A one-layer LSTM over the sequence, a linear layer on its last hidden state."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(inp, hidden)
            self.head = nn.Linear(hidden, 10)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.head(h[0])
    return LSTMClassifier()


def _step_fns(make, x, y):
    """minigrad's and torch's training steps (forward, cross-entropy, backward, Adam) on the
    same weights: the torch model's, loaded through state_dict."""
    import minigrad
    import minigrad.functional as F
    from minigrad import nn, optim
    torch = import_torch()
    minigrad.manual_seed(0)
    model = make(nn, nn.Module)
    fns = {}
    if torch is not None:
        torch.manual_seed(0)
        tmodel = make(torch.nn, torch.nn.Module)
        model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        fns["torch"] = torch_train_step(torch, tmodel, topt, x, y)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    tx = minigrad.tensor(x)

    def mg_step():
        opt.zero_grad()
        loss = F.cross_entropy(model(tx), y)
        loss.backward()
        opt.step()
        return loss.item()
    fns = {"minigrad": mg_step, **fns}
    return fns


def _vs_torch(name, fns, repeats):
    sec = compare(fns, repeats, warmup=2)
    ms = {k: v * 1e3 for k, v in sec.items()}
    r = ratio_of(ms.get("minigrad"), ms.get("torch"))
    return row("nn", name, "ms", ms.get("minigrad"), None, ms.get("torch"), r, "mg/torch time",
               TARGET, None if r is None else r <= 1.5)


def bench_nn(repeats: int, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []

    cnn_name = "BatchNorm CNN step, batch 64, 1x28x28, Adam"

    def cnn_case():
        x = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, 64).astype(np.int64)
        return _vs_torch(cnn_name, _step_fns(lambda nn, base: _bn_cnn(nn), x, y), repeats)
    rows.append(run_case("nn", cnn_name, "ms", cnn_case, TARGET))

    seq, batch, inp, hidden = LSTM_SHAPE
    lstm_name = f"LSTM step, seq {seq}, batch {batch}, input {inp}, hidden {hidden}, Adam"

    def lstm_case():
        x = rng.standard_normal((seq, batch, inp), dtype=np.float32)
        y = rng.integers(0, 10, batch).astype(np.int64)
        return _vs_torch(lstm_name, _step_fns(_lstm_classifier, x, y), repeats)
    rows.append(run_case("nn", lstm_name, "ms", lstm_case, TARGET))
    return rows
