"""``minigrad check``: run every shared op on every available engine and print how far apart
they are (max absolute and relative difference of outputs and gradients, per engine pair)."""

from __future__ import annotations

import numpy as np

from . import functional as F
from . import rules
from .testing import _run_scalar, _run_tensor, max_diffs


def _rule_cases(rng):
    """One case per rule of the rule book, registered ones included, on inputs from the rule's
    domain (binary rules broadcast a row against a matrix)."""
    cases = []
    for name in rules.names():
        rule = rules.get(name)
        shapes = [(3, 4)] + [(4,)] * (rule.arity - 1)
        xs = [rng.uniform(lo, hi, s) for (lo, hi), s in zip(rule.domain, shapes)]
        cases.append((name, lambda *a, name=name: F.apply_rule(name, *a), xs))
    return cases


def _cases(rng):
    r = rng.standard_normal
    lab = np.array([0, 2, 1, 2])
    return _rule_cases(rng) + [
        ("pow, constant exponent", lambda a: a ** 3.0, [r((3, 4))]),
        ("sum", lambda a: F.sum(a * a, 1), [r((3, 4))]),
        ("mean", lambda a: F.mean(a * a, 0), [r((3, 4))]),
        ("matmul", lambda a, b: a @ b, [r((7, 5)), r((5, 3))]),
        ("linear", lambda x, w, b: F.linear(x, w, b), [r((4, 6)), r((3, 6)), r((3,))]),
        ("softmax", lambda a, w: F.softmax(a, -1) * w, [r((4, 5)), r((4, 5))]),
        ("log_softmax", lambda a, w: F.log_softmax(a, -1) * w, [r((4, 5)), r((4, 5))]),
        ("cross_entropy", lambda a, t: F.cross_entropy(a, t), [r((4, 3)), lab]),
        ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1) ** 2.0,
         [r((2, 2, 5, 5)), r((3, 2, 3, 3)), r((3,))]),
        ("conv2d stride 2", lambda x, w: F.conv2d(x, w, stride=2, padding=0) ** 2.0,
         [r((1, 2, 7, 7)), r((2, 2, 3, 3))]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 2) ** 2.0, [r((2, 2, 6, 6))]),
        ("avg_pool2d", lambda x: F.avg_pool2d(x, 2) ** 2.0, [r((2, 2, 6, 6))]),
        ("cnn step", _cnn_step, [r((2, 1, 6, 6)), r((2, 1, 3, 3)) * 0.5, r((2,)) * 0.1,
                                 r((3, 18)) * 0.3, r((3,)) * 0.1, np.array([0, 2])]),
    ]


def _cnn_step(x, w1, b1, w2, b2, t):
    """A whole small CNN: conv -> relu -> max-pool -> flatten -> linear -> cross-entropy."""
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    h = h.reshape(h.shape[0], -1)
    return F.cross_entropy(F.linear(h, w2, b2), t)


def engines_available() -> list[str]:
    engines = ["scalar", "tensor"]
    try:
        from .backends.opencl import runtime
        if runtime.available():
            engines.append("opencl")
    except Exception:  # pragma: no cover - no pyopencl at all
        pass
    return engines


def agreement_table(seed: int = 0, engines=None, cases=None):
    """Rows of (op, pair, max abs diff, max rel diff, ok) over outputs and all gradients."""
    rng = np.random.default_rng(seed)
    engines = engines or engines_available()
    rows = []
    for name, fn, inputs in cases or _cases(rng):
        values = [np.asarray(v) for v in inputs]
        needs = [v.dtype.kind == "f" for v in values]
        res = {}
        for e in engines:
            if e == "scalar":
                res[e] = _run_scalar(fn, values, needs)
            elif e == "tensor":
                res[e] = _run_tensor(fn, values, needs, "cpu", np.float64)
            else:
                res[e] = _run_tensor(fn, values, needs, "opencl", np.float32)
        for i, a in enumerate(engines):
            for b in engines[i + 1:]:
                va, ga = res[a]
                vb, gb = res[b]
                ab, rel = max_diffs([va], [vb])
                for x, y in zip(ga, gb):
                    if x is not None:
                        d = max_diffs(x, y)
                        ab, rel = max(ab, d[0]), max(rel, d[1])
                tol = tolerance(f"{a}/{b}")
                rows.append((name, f"{a}/{b}", ab, rel, ab <= tol or rel <= tol))
    return rows


def tolerance(pair: str) -> float:
    """The bound a pair of engines ("scalar/opencl") must meet, on the max abs or rel diff:
    1e-3 with OpenCL (float32), 1e-8 otherwise (float64)."""
    return 1e-3 if "opencl" in pair.split("/") else 1e-8


def format_table(rows) -> str:
    out = [f"{'op':<16} {'engines':<15} {'max abs diff':>13} {'max rel diff':>13} "
           f"{'tolerance':>10}  pass"]
    out.append("-" * len(out[0]))
    for name, pair, ab, rel, ok in rows:
        out.append(f"{name:<16} {pair:<15} {ab:>13.3g} {rel:>13.3g} {tolerance(pair):>10.0e}  "
                   f"{'yes' if ok else 'NO'}")
    return "\n".join(out)


def summary(rows) -> str:
    """One line: how many comparisons agree within tolerance, and which do not."""
    bad = [f"{name} ({pair})" for name, pair, _, _, ok in rows if not ok]
    if not bad:
        return f"PASS: all {len(rows)} comparisons agree within tolerance"
    return (f"FAIL: {len(bad)} of {len(rows)} comparisons disagree beyond tolerance: "
            + ", ".join(bad))
