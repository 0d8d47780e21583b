"""The scalar engine against karpathy's micrograd: build + backward of a ~120k-node graph.

Both build an MLP(10, [32, 32, 1]) with ReLU hidden layers (micrograd's MLP; minigrad's with
``activation="relu"``), evaluate it on enough samples, sum the squared errors and backpropagate.
The garbage collector stays ENABLED, as users run it (micrograd's closures make reference
cycles, so it matters); the previous graph is freed and collected before each timed run.
"""

from __future__ import annotations

import gc
import random
import time

import numpy as np

from .common import ratio_of, row, run_case

TARGET_NODES = 120_000
REPEATS = 3
NAME = "MLP(10,[32,32,1]) squared loss, build + backward"


def _data(n_samples: int):
    rng = random.Random(0)
    xs = [[rng.uniform(-1, 1) for _ in range(10)] for _ in range(n_samples)]
    ys = [rng.uniform(-1, 1) for _ in range(n_samples)]
    return xs, ys


def _loss(model, xs, ys, zero):
    loss = zero
    for x, y in zip(xs, ys):
        d = model(x) - y
        loss = loss + d * d
    return loss


def _micrograd_nodes(root) -> int:
    seen, stack = {id(root)}, [root]
    while stack:
        v = stack.pop()
        for p in v._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def bench_scalar(repeats: int, quick: bool) -> list[dict]:
    def case():
        from micrograd.engine import Value
        from micrograd.nn import MLP as MicroMLP

        from minigrad import Scalar
        from minigrad.scalar.nn import MLP

        random.seed(0)
        mg_model = MLP(10, [32, 32, 1], activation="relu", seed=0)
        mc_model = MicroMLP(10, [32, 32, 1])

        # Choose the number of samples that gives ~TARGET_NODES minigrad nodes.
        xs1, ys1 = _data(2)
        n1 = len(_loss(mg_model, xs1[:1], ys1[:1], Scalar(0.0)).topo())
        n2 = len(_loss(mg_model, xs1, ys1, Scalar(0.0)).topo())
        n_samples = max(1, round((TARGET_NODES - n1) / (n2 - n1)) + 1)
        xs, ys = _data(n_samples)

        def mg_run():
            loss = _loss(mg_model, xs, ys, Scalar(0.0))
            loss.backward()
            return loss

        def mc_run():
            loss = _loss(mc_model, xs, ys, Value(0.0))
            loss.backward()
            return loss

        assert gc.isenabled()
        counts = {"minigrad": len(mg_run().topo()), "micrograd": _micrograd_nodes(mc_run())}
        times: dict[str, list[float]] = {"minigrad": [], "micrograd": []}
        for _ in range(REPEATS):
            for name, fn in (("minigrad", mg_run), ("micrograd", mc_run)):
                gc.collect()                    # the last graph's garbage is not this run's
                t0 = time.perf_counter()
                out = fn()
                times[name].append(time.perf_counter() - t0)
                del out
        ms = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        r = ratio_of(ms["minigrad"], ms["micrograd"])
        return row("scalar", NAME, "ms", ms["minigrad"], None, None, r,
                   "mg/micrograd time", "<= 0.5x micrograd", r <= 0.5,
                   note=f"micrograd {ms['micrograd']:.0f} ms; nodes: minigrad "
                        f"{counts['minigrad']:,}, micrograd {counts['micrograd']:,}; "
                        f"{n_samples} samples; gc on; median of {REPEATS}",
                   micrograd=ms["micrograd"], nodes_minigrad=counts["minigrad"],
                   nodes_micrograd=counts["micrograd"], samples=n_samples)

    return [run_case("scalar", NAME, "ms", case, "<= 0.5x micrograd")]
