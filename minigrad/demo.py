"""``minigrad demo``: the lecture's scalar example traced, the worksheet-4 CNN trained on the
digits, one CNN step through all three engines, and a loss curve."""

from __future__ import annotations

import time
from pathlib import Path


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def run_demo(epochs: int = 10, out: str = "minigrad_out", progress: bool = True) -> int:
    t0 = time.perf_counter()
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []

    _section("1. scalar engine: f(x) = 2 / sin(e^-x) at x = -4.499 (lecture example)")
    from .scalar import to_dot, trace
    from .scalar.expr import parse
    root, leaves = parse("2/sin(exp(-x))", {"x": -4.499})
    t = trace(root)
    print(t)
    print(f"\ndf/dx = {t.grad(leaves['x']):.4f}   (closed form -2/c^2 cos(b) e^a (-1))")
    print("The slides say f = 2 and df/dx = 0 using sin 90 = 1, cos 90 = 0: those are degrees.\n"
          "In radians, as every math library computes, b = e^4.499 = 89.93, so f = 2.1640.")
    root.backward()
    dot = outdir / "scalar_graph.dot"
    dot.write_text(to_dot(root))
    written.append(dot)

    _section("2. tensor engine: the worksheet-4 CNN on the 8x8 digits")
    from .train import train_digits
    net, hist = train_digits("cnn", epochs=epochs, progress=progress)
    print(net)
    print(f"test accuracy {hist.test_accuracy[-1]:.2%} after {epochs} epochs "
          f"({hist.seconds:.1f} s)")
    from .io import save
    ckpt = outdir / "cnn_digits.npz"
    save(net.state_dict(), ckpt)
    written.append(ckpt)

    _section("3. three engines, one CNN step (conv, relu, pool, linear, cross-entropy)")
    import numpy as np

    from .check import _cnn_step, agreement_table, engines_available, format_table
    from .data import load_digits
    engines = engines_available()
    if "opencl" not in engines:
        print("(no OpenCL device: comparing scalar and tensor only; `minigrad devices` says why)")
    train, _ = load_digits(seed=0)
    rng = np.random.default_rng(0)
    batch = [train.X[:2, :, 1:7, 1:7].astype(np.float64), rng.standard_normal((2, 1, 3, 3)) * .5,
             np.zeros(2), rng.standard_normal((3, 18)) * .3, np.zeros(3),
             np.array([0, 2])]
    rows = agreement_table(engines=engines, cases=[("cnn step (digits)", _cnn_step, batch)])
    print(format_table(rows))

    _section("4. loss curve")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(hist.step_loss, lw=0.8, label="minibatch loss")
        per = len(hist.step_loss) // max(len(hist.epoch_loss), 1)
        ax.plot([per * (i + 1) for i in range(len(hist.epoch_loss))], hist.epoch_loss, "o-",
                label="epoch mean")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.set_title("worksheet-4 CNN on the 8x8 digits")
        ax.legend()
        png = outdir / "loss_curve.png"
        fig.savefig(png, dpi=120, bbox_inches="tight")
        written.append(png)
    except ImportError:
        print("(matplotlib not installed: pip install matplotlib for the loss curve)")

    _section("done")
    print(f"in {time.perf_counter() - t0:.1f} s. Wrote:")
    for w in written:
        print(f"  {w}")
    print("Tutorials: tutorials/*.py (jupytext percent format). Run one as a script,\n"
          "  .venv/bin/python tutorials/01_scalar_backprop.py\n"
          "or open it as a notebook: jupytext --to notebook tutorials/01_scalar_backprop.py")
    ok = all(r[-1] for r in rows)
    return 0 if ok else 1
