"""The OpenCL engine: matmul kernels vs numpy (benchmarks/opencl_matmul.py, owned separately),
conv2d forward+backward on the device and the worksheet-4 CNN step on the device, each against
the Cython (CPU) engine measured in the same run."""

from __future__ import annotations

import traceback

import numpy as np

from .bench_conv import CONV_CASES, cnn_step_fns, conv_arrays
from .common import compare, ratio_of, row, run_case

# Target for the "auto" kernel's GFLOPS over numpy's, including the download of C.
MATMUL_TARGETS = {512: 0.5, 1024: 0.75, 2048: 0.75}


def _matmul_rows(repeats: int, quick: bool) -> list[dict]:
    try:
        from . import opencl_matmul
    except Exception:                           # noqa: BLE001 - another engineer's file
        print("  !! benchmarks/opencl_matmul.py could not be imported, matmul skipped:")
        print("     " + traceback.format_exc().replace("\n", "\n     ").rstrip())
        return []
    if not hasattr(opencl_matmul, "run"):
        print("  !! benchmarks/opencl_matmul.py has no run(): matmul skipped")
        return []
    sizes = (256, 512, 1024) if quick else (256, 512, 1024, 2048)
    try:
        got = opencl_matmul.run(sizes=sizes, repeats=max(3, repeats))
    except Exception:                           # noqa: BLE001
        print("  !! benchmarks/opencl_matmul.run() failed, matmul skipped:")
        print("     " + traceback.format_exc().replace("\n", "\n     ").rstrip())
        return []
    if hasattr(opencl_matmul, "format_table"):
        print("opencl_matmul.run():")
        print("  " + opencl_matmul.format_table(got).replace("\n", "\n  "))
    rows = []
    for r in got:
        n = r.get("n")
        auto = r.get("auto", "?")
        best = r.get(auto) if auto in r else None
        ratio = r.get("auto_vs_numpy", ratio_of(best, r.get("numpy")))
        t = MATMUL_TARGETS.get(n)
        kernels = ", ".join(f"{k} {r[k]:.1f}" for k in ("naive", "tiled", "blocked")
                            if r.get(k) is not None)
        rows.append(row("opencl", f"matmul {n}x{n} f32, kernel {auto} (incl. download)",
                        "GFLOPS", best, r.get("numpy"), None, ratio, "mg/numpy GFLOPS",
                        f">= {t}x numpy" if t else "-",
                        None if t is None or ratio is None else ratio >= t,
                        note=f"GFLOPS: {kernels}", kernels={k: r.get(k) for k in
                                                           ("naive", "tiled", "blocked")}))
    return rows


def _device_tensor(minigrad, arr, requires_grad=False):
    """``arr`` as a tensor on the OpenCL device, made there directly (a leaf)."""
    return minigrad.tensor(arr, requires_grad=requires_grad, device="opencl")


def _conv_row(name, shape, out_ch, x_grad, repeats):
    import minigrad
    import minigrad.functional as F
    x, w, b, g = conv_arrays(shape, out_ch)
    fns = {}
    for dev in ("opencl", "cpu"):
        mk = (lambda a, rg=False: _device_tensor(minigrad, a, rg)) if dev == "opencl" else \
            (lambda a, rg=False: minigrad.tensor(a, requires_grad=rg))
        tx, tw, tb, tg = mk(x, x_grad), mk(w, True), mk(b, True), mk(g)

        def step(tx=tx, tw=tw, tb=tb, tg=tg):
            tw.grad = tb.grad = tx.grad = None
            F.conv2d(tx, tw, tb).backward(tg)
            # Read the results back to the host: this waits for the device.
            out = [tw.grad.numpy(), tb.grad.numpy()]
            if x_grad:
                out.append(tx.grad.numpy())
            return out

        fns[dev] = step
    # The two engines must agree before their times mean anything.
    got_dev, got_cpu = fns["opencl"](), fns["cpu"]()
    for a, c in zip(got_dev, got_cpu):
        err = float(np.abs(a - c).max() / max(np.abs(c).max(), 1e-30))
        if err > 1e-3:
            raise AssertionError(f"{name}: device and CPU gradients differ (rel. err {err:.2e})")
    sec = compare(fns, repeats, warmup=2)
    ms = {k: v * 1e3 for k, v in sec.items()}
    r = ratio_of(ms.get("opencl"), ms.get("cpu"))
    return row("opencl", f"{name} on device", "ms", ms.get("opencl"), None, None, r,
               "device/cpu time", "-", None, note=f"Cython engine {ms.get('cpu', 0):.1f} ms",
               cpu=ms.get("cpu"))


def bench_opencl(repeats: int, quick: bool) -> list[dict]:
    from minigrad.backends.opencl import runtime
    if not runtime.available():
        print("  OpenCL is not available on this machine: group skipped")
        return [row("opencl", "OpenCL unavailable", "ms", note="skipped")]
    print(f"device: {runtime.get_device().name.strip()}")
    rows = _matmul_rows(repeats, quick)
    for name, shape, out_ch, x_grad in CONV_CASES:
        rows.append(run_case("opencl", f"{name} on device", "ms",
                             lambda n=name, s=shape, o=out_ch, xg=x_grad:
                             _conv_row(n, s, o, xg, repeats)))

    cnn_name = "worksheet-4 CNN step, batch 64, 1x28x28, on device"

    def cnn_case():
        fns = {"opencl": cnn_step_fns(28, 64, "opencl", with_torch=False)["minigrad"],
               "cpu": cnn_step_fns(28, 64, "cpu", with_torch=False)["minigrad"]}
        sec = compare(fns, repeats, warmup=2)
        ms = {k: v * 1e3 for k, v in sec.items()}
        r = ratio_of(ms.get("opencl"), ms.get("cpu"))
        return row("opencl", cnn_name, "ms", ms.get("opencl"), None, None, r, "device/cpu time",
                   "<= 2x Cython engine", None if r is None else r <= 2.0,
                   note=f"Cython engine {ms.get('cpu', 0):.1f} ms", cpu=ms.get("cpu"))

    rows.append(run_case("opencl", cnn_name, "ms", cnn_case, "<= 2x Cython engine"))
    return rows
