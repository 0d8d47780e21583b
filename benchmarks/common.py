"""Shared helpers of the benchmark runner: interleaved timing, result rows, tables.

Timing is interleaved: every repeat times each contender once, in turn, so a slow phase of the
(noisy, 2-core) machine hits all of them alike; the figure is the median over the repeats, after
warm-up calls that are not timed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

import numpy as np

TORCH_THREADS = 2
SETTLE_SECONDS = 0.1   # OpenBLAS threads spin ~2^28 cycles (~0.1 s) before they sleep


def import_torch():
    """torch set to TORCH_THREADS threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(TORCH_THREADS)
    return torch


def compare(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
            number: int = 1) -> dict[str, float]:
    """Median seconds per call of each function (``number`` calls per timed repeat).

    Interleaved: each repeat times every function once (after a pause and one untimed call),
    so a slow phase of the machine hits all of them alike.

    A function that raises is reported (traceback printed) and left out of the result; the
    others go on being timed.
    """
    live = dict(fns)
    for name, fn in list(live.items()):
        try:
            for _ in range(warmup):
                fn()
        except Exception:                       # noqa: BLE001 - report and go on
            print(f"  !! {name} failed, skipped:")
            print("     " + traceback.format_exc().replace("\n", "\n     ").rstrip())
            del live[name]
    times: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name, fn in live.items():
            # Switching libraries is not free: numpy's OpenBLAS threads and torch's OpenMP
            # threads spin for a while after their last call and steal the 2 cores from the
            # next contender (measured: torch's 512 matmul 6x slower right after numpy's). A
            # pause lets them park, an untimed call wakes this contender's own threads.
            time.sleep(SETTLE_SECONDS)
            fn()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - t0) / number)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def torch_train_step(torch, model, opt, x: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """A PyTorch training step (forward, cross-entropy, backward, update) on fixed numpy data,
    the twin of the minigrad step each case times beside it."""
    px, py = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(px), py)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def row(group: str, case: str, unit: str, minigrad=None, numpy=None, torch=None, ratio=None,
        ratio_kind: str = "", target: str = "-", met=None, note: str = "", **extra) -> dict:
    """One result: values in ``unit`` ("ms", "us" or "GFLOPS"); ``met`` True/False/None."""
    r = {"group": group, "case": case, "unit": unit, "minigrad": minigrad, "numpy": numpy,
         "torch": torch, "ratio": ratio, "ratio_kind": ratio_kind, "target": target,
         "met": met, "note": note}
    r.update(extra)
    return r


def ratio_of(a, b):
    return None if a is None or b is None or b == 0 else a / b


def failed_row(group: str, case: str, unit: str, target: str = "-") -> dict:
    """A row for a case that raised (the traceback is printed by the caller)."""
    return row(group, case, unit, target=target, met=None, note="error: see traceback above")


def run_case(group: str, case: str, unit: str, fn: Callable[[], dict],
             target: str = "-") -> dict:
    """Run one case; on an exception print the traceback and return an error row."""
    try:
        return fn()
    except Exception:                           # noqa: BLE001 - the runner reports, never stops
        print(f"  !! {group} / {case} failed, skipped:")
        print("     " + traceback.format_exc().replace("\n", "\n     ").rstrip())
        return failed_row(group, case, unit, target)


def _fmt(v, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "GFLOPS":
        return f"{v:.1f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def format_table(title: str, rows: list[dict]) -> str:
    """Columns: case, minigrad, numpy, torch, ratio, target, met?"""
    units = sorted({r["unit"] for r in rows})
    kinds = sorted({r["ratio_kind"] for r in rows if r["ratio_kind"]})
    head = ["case", f"minigrad ({'/'.join(units)})", "numpy", "torch",
            f"ratio ({'; '.join(kinds)})" if kinds else "ratio", "target", "met?"]
    body = []
    for r in rows:
        met = {True: "yes", False: "no", None: "-"}[r["met"]]
        body.append([r["case"], _fmt(r["minigrad"], r["unit"]), _fmt(r["numpy"], r["unit"]),
                     _fmt(r["torch"], r["unit"]),
                     "-" if r["ratio"] is None else f"{r['ratio']:.2f}x", r["target"], met])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = [f"== {title} ==",
             "  ".join(h.ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    for b, r in zip(body, rows):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(b, widths)))
        if r["note"]:
            line += f"   ({r['note']})"
        lines.append(line)
    return "\n".join(lines)
