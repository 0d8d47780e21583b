"""Tensor engine (numpy + Cython) against numpy and PyTorch: matmul, an MLP step, per-op cost."""

from __future__ import annotations

import numpy as np

from .common import compare, import_torch, ratio_of, row, run_case, torch_train_step


def bench_matmul(repeats: int, quick: bool) -> list[dict]:
    """float32 ``a @ b`` (no grad) at n x n: GFLOPS; target minigrad >= 0.9x numpy."""
    import minigrad
    torch = import_torch()
    sizes = (256, 512) if quick else (256, 512, 1024)
    rows = []
    for n in sizes:
        def case(n=n):
            rng = np.random.default_rng(n)
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            ta, tb = minigrad.tensor(a), minigrad.tensor(b)
            fns = {"minigrad": lambda: ta @ tb, "numpy": lambda: np.matmul(a, b)}
            if torch is not None:
                pa, pb = torch.from_numpy(a), torch.from_numpy(b)
                fns["torch"] = lambda: torch.matmul(pa, pb)
            # Small products are timed over several calls per repeat.
            number = max(1, int(2e8 // (2 * n**3)))
            sec = compare(fns, repeats, warmup=2, number=number)
            gf = {k: 2.0 * n**3 / s / 1e9 for k, s in sec.items()}
            r = ratio_of(gf.get("minigrad"), gf.get("numpy"))
            return row("matmul", f"matmul {n}x{n} f32", "GFLOPS", gf.get("minigrad"),
                       gf.get("numpy"), gf.get("torch"), r, "mg/numpy GFLOPS",
                       ">= 0.9x numpy", None if r is None else r >= 0.9,
                       mg_vs_torch_gflops=ratio_of(gf.get("minigrad"), gf.get("torch")))
        rows.append(run_case("matmul", f"matmul {n}x{n} f32", "GFLOPS", case, ">= 0.9x numpy"))
    return rows


def bench_mlp(repeats: int, quick: bool) -> list[dict]:
    """One training step of a 784-256-10 ReLU MLP, batch 64, float32, SGD; vs torch."""
    def case():
        import minigrad
        import minigrad.functional as F
        from minigrad import nn, optim
        torch = import_torch()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64, 784), dtype=np.float32)
        y = rng.integers(0, 10, 64).astype(np.int64)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        opt = optim.SGD(model.parameters(), lr=0.01)
        tx = minigrad.tensor(x)

        def mg_step():
            opt.zero_grad()
            loss = F.cross_entropy(model(tx), y)
            loss.backward()
            opt.step()
            return loss

        fns = {"minigrad": mg_step}
        if torch is not None:
            tmodel = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                         torch.nn.Linear(256, 10))
            with torch.no_grad():
                for tp, mp in zip(tmodel.parameters(), model.parameters()):
                    tp.copy_(torch.from_numpy(mp.numpy().copy()))
            topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
            fns["torch"] = torch_train_step(torch, tmodel, topt, x, y)
        sec = compare(fns, repeats, warmup=3, number=5)
        ms = {k: v * 1e3 for k, v in sec.items()}
        r = ratio_of(ms.get("minigrad"), ms.get("torch"))
        return row("mlp", "MLP 784-256-10 step, batch 64", "ms", ms.get("minigrad"), None,
                   ms.get("torch"), r, "mg/torch time", "<= 1.5x torch",
                   None if r is None else r <= 1.5)

    return [run_case("mlp", "MLP 784-256-10 step, batch 64", "ms", case, "<= 1.5x torch")]


def bench_overhead(repeats: int, quick: bool) -> list[dict]:
    """(a + b).backward() on 1-element tensors, graph building included: microseconds."""
    def case():
        import minigrad
        torch = import_torch()
        a = minigrad.tensor(np.array([1.5], np.float32), requires_grad=True)
        b = minigrad.tensor(np.array([2.5], np.float32), requires_grad=True)
        fns = {"minigrad": lambda: (a + b).backward()}
        if torch is not None:
            pa = torch.tensor([1.5], requires_grad=True)
            pb = torch.tensor([2.5], requires_grad=True)
            fns["torch"] = lambda: (pa + pb).backward()
        sec = compare(fns, repeats, warmup=200, number=500 if quick else 2000)
        us = {k: v * 1e6 for k, v in sec.items()}
        r = ratio_of(us.get("minigrad"), us.get("torch"))
        mg = us.get("minigrad")
        met = None if r is None else (r <= 3.0 and mg <= 20.0)
        return row("overhead", "(a + b).backward(), 1 element", "us", mg, None, us.get("torch"),
                   r, "mg/torch time", "<= 3x torch, <= ~20 us", met)

    return [run_case("overhead", "(a + b).backward(), 1 element", "us", case,
                     "<= 3x torch, <= ~20 us")]
