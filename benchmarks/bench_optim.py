"""Optimizer steps against PyTorch: AdamW on 1M parameters (issue 11)."""

from __future__ import annotations

import numpy as np

from .common import compare, import_torch, ratio_of, row, run_case

CASE = "AdamW step, 1M float32 parameters"
TARGET = "<= 1.5x torch"


def bench_optim(repeats: int, quick: bool) -> list[dict]:
    """``opt.step()`` of AdamW (lr 1e-3, weight_decay 0.01) on a 1024x1024 weight and a 1024 bias
    with fixed gradients; torch.optim.AdamW with its CPU default (the per-tensor loop)."""
    def case():
        import minigrad
        from minigrad import optim
        torch = import_torch()
        rng = np.random.default_rng(0)
        shapes = [(1024, 1024), (1024,)]
        ws = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        gs = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        params = [minigrad.tensor(w, requires_grad=True) for w in ws]
        for p, g in zip(params, gs):
            p.grad = minigrad.tensor(g)
        opt = optim.AdamW(params, lr=1e-3, weight_decay=0.01)
        fns = {"minigrad": opt.step}
        if torch is not None:
            tparams = [torch.tensor(w, requires_grad=True) for w in ws]
            for p, g in zip(tparams, gs):
                p.grad = torch.from_numpy(g.copy())
            fns["torch"] = torch.optim.AdamW(tparams, lr=1e-3, weight_decay=0.01).step
        sec = compare(fns, repeats, warmup=3, number=5 if quick else 20)
        ms = {k: v * 1e3 for k, v in sec.items()}
        r = ratio_of(ms.get("minigrad"), ms.get("torch"))
        return row("optim", CASE, "ms", ms.get("minigrad"), None, ms.get("torch"), r,
                   "mg/torch time", TARGET, None if r is None else r <= 1.5,
                   parameters=sum(w.size for w in ws))

    return [run_case("optim", CASE, "ms", case, TARGET)]
