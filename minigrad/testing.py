"""Cross-checking gradients: finite differences and the engines against each other.

Use these in your own tests:

>>> import minigrad, minigrad.functional as F
>>> from minigrad.testing import gradcheck, assert_engines_agree
>>> x = minigrad.randn(3, 4, dtype="float64", requires_grad=True)
>>> gradcheck(lambda x: F.softmax(x, -1).log().sum(), [x])
True
>>> assert_engines_agree(lambda x, w: F.tanh(x @ w).sum(), [np.ones((2, 3)), np.ones((3, 2))])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .scalar import Scalar
from .tensor.tensor import Tensor, no_grad

ENGINES = ("scalar", "tensor", "opencl")


class GradcheckError(AssertionError):
    """The analytic gradient of an input disagrees with finite differences."""


def _scalar_out(out) -> float:
    if isinstance(out, Tensor):
        if out.numel() != 1:
            raise ValueError(f"the function must return one number, got shape {out.shape}")
        return float(out.item())
    return float(out)


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """Compare the analytic gradient of every input with central finite differences in float64.

    ``fn(*inputs)`` must return a one-element Tensor. Inputs are cast to float64 copies, so the
    check is not limited by float32 rounding. Returns True, or raises :class:`GradcheckError`
    naming the input, the worst element's index, and both values.
    """
    xs = []
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"input {i} is a {type(t).__name__}, not a Tensor")
        xs.append(Tensor(t.numpy().astype(np.float64), requires_grad=t.requires_grad,
                         device=t.device))
    out = fn(*xs)
    if not isinstance(out, Tensor) or out.numel() != 1:
        raise ValueError("gradcheck: fn must return a one-element Tensor")
    out.backward()
    for i, x in enumerate(xs):
        if not x.requires_grad:
            continue
        analytic = x.grad.numpy() if x.grad is not None else np.zeros(x.shape)
        base = x.numpy().copy()
        numeric = np.zeros_like(base)
        with no_grad():
            for idx in np.ndindex(*base.shape):
                vals = []
                for sign in (1.0, -1.0):
                    pert = base.copy()
                    pert[idx] += sign * eps
                    xp = [Tensor(pert, device=x.device) if j == i else
                          Tensor(xx.numpy(), device=xx.device) for j, xx in enumerate(xs)]
                    vals.append(_scalar_out(fn(*xp)))
                numeric[idx] = (vals[0] - vals[1]) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and (err.max() > 0 or not np.isfinite(analytic).all()):
            bad = np.unravel_index(np.nanargmax(np.where(np.isfinite(err), err, np.inf)),
                                   err.shape)
            raise GradcheckError(
                f"gradient of input {i} (shape {x.shape}) disagrees with finite differences at "
                f"index {tuple(int(b) for b in bad)}: analytic {analytic[bad]!r}, numeric "
                f"{numeric[bad]!r} (atol {atol}, rtol {rtol}, eps {eps})")
    return True


def to_scalars(a) -> np.ndarray:
    """A numpy object array of :class:`Scalar` leaves with the values of ``a``."""
    arr = np.asarray(a.numpy() if isinstance(a, Tensor) else a, dtype=np.float64)
    out = np.empty(arr.shape, dtype=object)
    for idx in np.ndindex(*arr.shape):
        out[idx] = Scalar(float(arr[idx]))
    return out


def _run_scalar(fn, values, needs):
    leaves = [to_scalars(v) if n else np.asarray(v) for v, n in zip(values, needs)]
    out = fn(*leaves)
    if isinstance(out, np.ndarray):
        if out.size != 1:
            out = out.sum()
        else:
            out = out.reshape(-1)[0]
    if not isinstance(out, Scalar):
        raise TypeError("fn returned no Scalar on the scalar engine (no input reached it?)")
    out.backward()
    grads = []
    for leaf, n in zip(leaves, needs):
        if not n:
            grads.append(None)
            continue
        g = np.empty(leaf.shape)
        for idx in np.ndindex(*leaf.shape):
            g[idx] = leaf[idx].grad
        grads.append(g)
    return out.data, grads


def _run_tensor(fn, values, needs, device, dtype):
    ts = []
    for v, n in zip(values, needs):
        arr = np.asarray(v)
        if arr.dtype.kind == "f":
            ts.append(Tensor(arr.astype(dtype), requires_grad=n, device=device))
        else:
            ts.append(arr)  # integer labels stay numpy arrays, as the scalar engine sees them
    out = fn(*ts)
    if out.numel() != 1:
        out = out.sum()
    out.backward()
    grads = [t.grad.numpy().astype(np.float64) if n else None for t, n in zip(ts, needs)]
    return float(out.item()), grads


def assert_engines_agree(fn: Callable, inputs: Sequence, engines: Sequence[str] = ("scalar",
                         "tensor"), atol: float | None = None, rtol: float | None = None,
                         dtype=None) -> dict:
    """Run ``fn`` on each engine and assert the outputs and every input gradient agree.

    ``fn`` is written once, with operators and :mod:`minigrad.functional` (``F.*``); it is given
    numpy object arrays of Scalars on the "scalar" engine, float64 Tensors on "tensor" (or
    ``dtype``), and Tensors on the device on "opencl" (float32 unless ``dtype``). A non-scalar
    output is summed. Float inputs get gradients; integer inputs (class labels) are passed as they
    are. Returns ``{engine: (value, [grads])}``; raises AssertionError naming the engine pair,
    the input and the largest difference.
    """
    for e in engines:
        if e not in ENGINES:
            raise ValueError(f"unknown engine {e!r}; choose from {ENGINES}")
    values = [np.asarray(v.numpy() if isinstance(v, Tensor) else v) for v in inputs]
    needs = [v.dtype.kind == "f" for v in values]
    values = [v.astype(np.float64) if n else v for v, n in zip(values, needs)]
    results = {}
    for e in engines:
        if e == "scalar":
            results[e] = _run_scalar(fn, values, needs)
        elif e == "tensor":
            results[e] = _run_tensor(fn, values, needs, "cpu", dtype or np.float64)
        else:
            results[e] = _run_tensor(fn, values, needs, "opencl", dtype or np.float32)
    low_precision = any(e == "opencl" for e in engines) and (dtype in (None, np.float32,
                                                                       "float32"))
    at = atol if atol is not None else (1e-4 if low_precision else 1e-8)
    rt = rtol if rtol is not None else (1e-3 if low_precision else 1e-6)
    ref_name = engines[0]
    ref_val, ref_grads = results[ref_name]
    for e in engines[1:]:
        val, grads = results[e]
        if not np.isclose(val, ref_val, atol=at, rtol=rt):
            raise AssertionError(f"{ref_name} and {e} disagree on the output: {ref_val!r} vs "
                                 f"{val!r}")
        for i, (g0, g1) in enumerate(zip(ref_grads, grads)):
            if g0 is None:
                continue
            if g0.shape != g1.shape:
                raise AssertionError(f"input {i}: gradient shapes {g0.shape} ({ref_name}) and "
                                     f"{g1.shape} ({e}) differ")
            if not np.allclose(g0, g1, atol=at, rtol=rt):
                d = np.abs(g0 - g1)
                idx = np.unravel_index(np.argmax(d), d.shape)
                raise AssertionError(
                    f"{ref_name} and {e} disagree on the gradient of input {i} at "
                    f"{tuple(int(k) for k in idx)}: {g0[idx]!r} vs {g1[idx]!r} "
                    f"(max abs diff {d.max():.3g})")
    return results


def max_diffs(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(max absolute difference, max relative difference) of two arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = np.abs(a - b)
    if d.size == 0:
        return 0.0, 0.0
    return float(d.max()), float((d / np.maximum(np.abs(b), 1e-12)).max())
