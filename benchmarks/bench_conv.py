"""Convolution, max-pooling and the worksheet-4 CNN's training step: minigrad vs PyTorch."""

from __future__ import annotations

import numpy as np

from .common import compare, import_torch, ratio_of, row, run_case, torch_train_step

# (name, input shape, out channels, needs input grad): the worksheet-4 CNN's two convolutions.
CONV_CASES = (
    ("conv2d (64,1,28,28)->16 3x3 fwd+bwd", (64, 1, 28, 28), 16, False),
    ("conv2d (64,16,26,26)->32 3x3 fwd+bwd", (64, 16, 26, 26), 32, True),
)
POOL_SHAPE = (64, 32, 24, 24)


def conv_arrays(shape, out_ch, seed=0):
    """Input, weight, bias and an upstream gradient for a 3x3 convolution without padding."""
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    x = rng.standard_normal(shape, dtype=np.float32)
    wt = (rng.standard_normal((out_ch, c, 3, 3), dtype=np.float32) * 0.1).astype(np.float32)
    b = rng.standard_normal(out_ch, dtype=np.float32)
    g = rng.standard_normal((n, out_ch, h - 2, w - 2), dtype=np.float32)
    return x, wt, b, g


def torch_cnn(torch, image_size: int):
    """PyTorch's twin of ``minigrad.train.worksheet4_cnn(image_size)``."""
    nn = torch.nn
    pad = 1 if image_size < 16 else 0
    side = (image_size + 4 * pad - 4) // 2
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=pad), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=pad), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(32 * side * side, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def copy_params(torch, mg_model, t_model):
    with torch.no_grad():
        for tp, mp in zip(t_model.parameters(), mg_model.parameters(), strict=True):
            arr = mp.numpy()
            assert tuple(tp.shape) == arr.shape, (tuple(tp.shape), arr.shape)
            tp.copy_(torch.from_numpy(arr.copy()))


def cnn_step_fns(image_size: int, batch: int, device: str = "cpu", with_torch: bool = True):
    """Step functions (forward, cross-entropy, backward, Adam; dropout active), each returning
    the loss as a Python float (which on a device waits for the result)."""
    import minigrad
    import minigrad.functional as F
    from minigrad import optim
    from minigrad.train import worksheet4_cnn
    minigrad.manual_seed(0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 1, image_size, image_size), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    model = worksheet4_cnn(image_size)
    model.train()
    torch = import_torch() if with_torch else None
    tmodel = None
    if torch is not None:
        tmodel = torch_cnn(torch, image_size)
        copy_params(torch, model, tmodel)
        tmodel.train()
    if device != "cpu":
        model.to(device)
    tx = minigrad.tensor(x, device=device)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def mg_step():
        opt.zero_grad()
        loss = F.cross_entropy(model(tx), y)
        loss.backward()
        opt.step()
        return loss.item()

    fns = {"minigrad": mg_step}
    if tmodel is not None:
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        fns["torch"] = torch_train_step(torch, tmodel, topt, x, y)
    return fns


def _vs_torch(case_name, fns, repeats, warmup, number, target, limit):
    sec = compare(fns, repeats, warmup=warmup, number=number)
    ms = {k: v * 1e3 for k, v in sec.items()}
    r = ratio_of(ms.get("minigrad"), ms.get("torch"))
    return row("conv", case_name, "ms", ms.get("minigrad"), None, ms.get("torch"), r,
               "mg/torch time", target, None if r is None or limit is None else r <= limit)


def bench_conv(repeats: int, quick: bool) -> list[dict]:
    import minigrad
    import minigrad.functional as F
    torch = import_torch()
    rows = []

    for name, shape, out_ch, x_grad in CONV_CASES:
        def case(name=name, shape=shape, out_ch=out_ch, x_grad=x_grad):
            x, w, b, g = conv_arrays(shape, out_ch)
            mx = minigrad.tensor(x, requires_grad=x_grad)
            mw = minigrad.tensor(w, requires_grad=True)
            mb = minigrad.tensor(b, requires_grad=True)
            mg_g = minigrad.tensor(g)

            def mg():
                mw.grad = mb.grad = mx.grad = None
                F.conv2d(mx, mw, mb).backward(mg_g)

            fns = {"minigrad": mg}
            if torch is not None:
                px = torch.from_numpy(x).requires_grad_(x_grad)
                pw = torch.from_numpy(w).requires_grad_(True)
                pb = torch.from_numpy(b).requires_grad_(True)
                pg = torch.from_numpy(g)

                def tc():
                    pw.grad = pb.grad = px.grad = None
                    torch.nn.functional.conv2d(px, pw, pb).backward(pg)

                fns["torch"] = tc
            return _vs_torch(name, fns, repeats, 2, 1, "<= 1.2x torch", 1.2)
        rows.append(run_case("conv", name, "ms", case, "<= 1.2x torch"))

    pool_name = "max_pool2d 2x2 (64,32,24,24) fwd+bwd"

    def pool_case():
        rng = np.random.default_rng(2)
        x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
        n, c, h, w = POOL_SHAPE
        g = rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32)
        mx, mg_g = minigrad.tensor(x, requires_grad=True), minigrad.tensor(g)

        def mg():
            mx.grad = None
            F.max_pool2d(mx, 2).backward(mg_g)

        fns = {"minigrad": mg}
        if torch is not None:
            px, pg = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)

            def tc():
                px.grad = None
                torch.nn.functional.max_pool2d(px, 2).backward(pg)

            fns["torch"] = tc
        return _vs_torch(pool_name, fns, repeats, 2, 3, "< 1x torch (faster)", None)

    r = run_case("conv", pool_name, "ms", pool_case, "< 1x torch (faster)")
    if r["ratio"] is not None:
        r["met"] = r["ratio"] < 1.0
    rows.append(r)

    cnn_name = "worksheet-4 CNN step, batch 64, 1x28x28, Adam"

    def cnn_case():
        return _vs_torch(cnn_name, cnn_step_fns(28, 64), repeats, 2, 1, "<= 1.0x torch", 1.0)

    rows.append(run_case("conv", cnn_name, "ms", cnn_case, "<= 1.0x torch"))

    digits_name = "worksheet-4 CNN step, batch 32, 1x8x8 (digits), Adam"
    rows.append(run_case(
        "conv", digits_name, "ms",
        lambda: _vs_torch(digits_name, cnn_step_fns(8, 32), repeats, 3, 5, "<= 1.0x torch",
                          1.0),
        "<= 1.0x torch"))
    return rows
