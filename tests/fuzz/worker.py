"""The fuzz worker: one long-lived process that runs fuzz cases for tests/fuzz/test_fuzz.py.

Protocol: one JSON case per line on stdin, one JSON answer per line on stdout (the first line it
writes is a hello naming the minigrad it imported). A case describes numpy inputs (dtype, shape,
values or a seed, memory layout) and an op; the worker runs the op once on the "cpu" device and
once on the "reference" device (plain numpy) and answers with the problems it saw:

- an exception that is not one of the expected types, or whose message is an internal one (a
  Cython signature or buffer error), or that was raised inside a backend rather than by the
  tensor engine's validation at the boundary;
- a result where the other device raised, or a value, NaN, shape or dtype difference;
- an "unraisable" exception (a compiled kernel that could not raise, e.g. an index error in a
  noexcept helper of a bounds-checked build).

A crash (segfault, abort) kills the worker: faulthandler prints the Python stack to stderr,
where the test reads it together with the case it sent. A case that runs for more than
``CASE_TIMEOUT`` seconds also ends the worker (with a stack dump).
"""

from __future__ import annotations

import faulthandler
import json
import math
import os
import re
import sys
import traceback
import warnings

import numpy as np

CASE_TIMEOUT = 30

EXPECTED = (ValueError, TypeError, IndexError, NotImplementedError, RuntimeError,
            FloatingPointError, ZeroDivisionError)
# Messages that mean a check is missing: a compiled kernel or numpy refused what the tensor engine
# should have refused (or converted) first.
INTERNAL = ("No matching signature", "Buffer dtype mismatch", "'NoneType' object",
            "Out of bounds on buffer access", "Buffer has wrong number of dimensions",
            "ndarray is not C-contiguous", "ndarray is not Fortran contiguous",
            "buffer source array is read-only", "Cannot assign to read-only",
            "Invalid index", "memoryview", "Expected ", "zero-size array to reduction")
_BACKEND_FILE = re.compile(r"(^|[/\\])minigrad[/\\]backends[/\\]")
_MINIGRAD_FILE = re.compile(r"(^|[/\\])minigrad[/\\]")

RTOL = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-9}


# ---- inputs -------------------------------------------------------------------------------------


def build(spec: dict) -> np.ndarray:
    """The numpy array a spec describes: dtype, shape, then either ``values`` (flat, C order) or
    ``seed`` (+ ``scale``, ``specials``: [[flat index, value]]), in a ``layout``: "c"
    (contiguous), "T" (a transposed view), "step" (every other element of a wider array), "rev"
    (reversed first axis), "ro" (contiguous, read-only)."""
    dt = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    n = math.prod(shape)
    if "values" in spec:
        vals = np.array(spec["values"], dtype=np.float64 if dt.kind == "f" else dt)
    else:
        rng = np.random.default_rng(spec["seed"])
        if dt.kind == "f":
            vals = rng.standard_normal(n) * spec.get("scale", 1.0)
        elif dt.kind == "b":
            vals = rng.random(n) < 0.5
        else:
            vals = rng.integers(0, 5, n)
        for i, v in spec.get("specials", []):
            if n and dt.kind == "f":
                vals[i % n] = v
    vals = vals.astype(dt).reshape(-1)
    layout = spec.get("layout", "c")
    if layout == "T" and len(shape) >= 2:
        return vals.reshape(shape[::-1]).T
    if layout == "step" and shape:
        base = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dt)
        base[..., ::2] = vals.reshape(shape)
        return base[..., ::2]
    if layout == "rev" and shape:
        return vals.reshape(shape)[::-1]
    a = vals.reshape(shape)
    if layout == "ro":
        a.flags.writeable = False
    return a


def make(spec: dict, device: str, grad: bool):
    """A Tensor of the spec on ``device``: on the CPU through from_numpy (sharing the array's
    memory and strides) or minigrad.tensor, as the spec says; on the reference, a copy."""
    import minigrad
    a = build(spec)
    rg = bool(grad) and a.dtype in (np.float32, np.float64)
    if device == "cpu" and spec.get("make") == "from_numpy":
        return minigrad.from_numpy(a, requires_grad=rg)
    return minigrad.tensor(a, requires_grad=rg, device=device)


def upstream(shape, dtype) -> np.ndarray:
    """A fixed, non-uniform upstream gradient (ones would hide mistakes, e.g. in softmax)."""
    return np.random.default_rng(7).standard_normal(shape).astype(dtype)


# ---- the ops ------------------------------------------------------------------------------------


def op_unary(T, c):
    import minigrad.functional as F
    x = T["x"]
    if c["name"] == "softplus":
        return F.softplus(x)
    return getattr(x, c["name"])()


def op_binary(T, c):
    import operator
    x = T["x"]
    y = T["y"] if "y" in T else c["scalar"]
    fn = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "div": operator.truediv, "pow": operator.pow,
          "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else b.maximum(a),
          "minimum": lambda a, b: a.minimum(b) if hasattr(a, "minimum") else b.minimum(a)}
    f = fn[c["name"]]
    return f(y, x) if c.get("reflected") else f(x, y)


def op_clip(T, c):
    return T["x"].clip(c.get("lo"), c.get("hi"))


def op_reduce(T, c):
    x, dim, keep = T["x"], c.get("dim"), c.get("keepdim", False)
    name = c["name"]
    if name in ("softmax", "log_softmax"):
        return getattr(x, name)(-1 if dim is None else dim)
    if name == "logsumexp":
        return x.logsumexp(0 if dim is None else dim, keep)
    if name == "argmax":
        return x.argmax(dim, keep)
    if name in ("max", "min") and dim is not None:   # (values, indices), as torch
        return getattr(x, name)(dim, keepdim=keep).values
    return getattr(x, name)(dim, keepdim=keep)


def op_shape(T, c):
    import minigrad
    x, name, arg = T["x"], c["name"], c.get("arg")
    if name == "reshape":
        return x.reshape(*arg)
    if name == "T":
        return x.T
    if name == "transpose":
        return x.transpose(*arg)
    if name == "flatten":
        return x.flatten(*arg)
    if name == "unsqueeze":
        return x.unsqueeze(arg)
    if name == "squeeze":
        return x.squeeze(arg)
    if name == "cat":
        return minigrad.cat([x, x], arg)
    if name == "stack":
        return minigrad.stack([x, x], arg)
    if name == "getitem":
        return x[_key(arg)]
    raise AssertionError(name)


def _key(k):
    """A JSON index -> a Python one: {"s": [a, b, c]} a slice, {"a": [...]} an int array,
    {"m": [...]} a bool mask, "..." Ellipsis, null None, lists a tuple."""
    if isinstance(k, list):
        return tuple(_key(i) for i in k)
    if isinstance(k, dict):
        if "s" in k:
            return slice(*k["s"])
        if "a" in k:
            return np.array(k["a"], dtype=np.int64)
        return np.array(k["m"], dtype=bool)
    if k == "...":
        return Ellipsis
    return k


def op_matmul(T, c):
    return T["a"] @ T["b"]


def op_conv2d(T, c):
    import minigrad.functional as F
    return F.conv2d(T["x"], T["w"], T.get("b"), tuple(c["stride"]), tuple(c["padding"]))


def op_pool(T, c):
    import minigrad.functional as F
    fn = F.max_pool2d if c["name"] == "max_pool2d" else F.avg_pool2d
    stride = c.get("stride")
    return fn(T["x"], tuple(c["kernel"]), None if stride is None else tuple(stride))


def op_loss(T, c):
    import minigrad
    import minigrad.functional as F
    lab = c["labels"]
    t = np.array(lab["values"], dtype=lab["dtype"])
    if lab.get("as") == "tensor":
        t = minigrad.tensor(t, device=T["x"].device)
    elif lab.get("as") == "list":
        t = t.tolist()
    fn = F.cross_entropy if c["name"] == "cross_entropy" else F.nll_loss
    return fn(T["x"], t, reduction=c.get("reduction", "mean"))


def op_optim(T, c):
    """Two steps of an optimizer on loss = sum(p * p * k): returns the parameter (the update
    happens in place, in the compiled kernels on the CPU)."""
    from minigrad import optim
    p = T["p"]
    cls = {"sgd": optim.SGD, "adam": optim.Adam, "adagrad": optim.AdaGrad,
           "rmsprop": optim.RMSprop}[c["name"]]
    opt = cls([p], **c.get("hyper", {}))
    k = upstream(p.shape, p.dtype)
    for _ in range(2):
        opt.zero_grad()
        (p * p * k).sum().backward()
        opt.step()
    return p.detach()


def op_selftest_crash(T, c):
    """For the harness's own test: die as a segfaulting kernel would."""
    faulthandler._sigsegv()


OPS = {"unary": op_unary, "binary": op_binary, "clip": op_clip, "reduce": op_reduce,
       "shape": op_shape, "matmul": op_matmul, "conv2d": op_conv2d, "pool": op_pool,
       "loss": op_loss, "optim": op_optim, "selftest_crash": op_selftest_crash}


def run_on(case: dict, device: str) -> dict:
    """The case on one device: {"y": output, "grad_<name>": input gradients}."""
    grad = case.get("grad", False) and case["op"] != "optim"
    T = {k: make(s, device, grad or case["op"] == "optim") for k, s in case["arrays"].items()}
    y = OPS[case["op"]](T, case)
    out = {"y": np.array(y.numpy())}
    if grad and y.requires_grad:
        y.backward(upstream(y.shape, y.dtype))
        for k, t in T.items():
            if t.requires_grad:
                out["grad_" + k] = None if t.grad is None else np.array(t.grad.numpy())
    return out


# ---- judging ------------------------------------------------------------------------------------


def error_info(e: BaseException) -> dict:
    frames = traceback.extract_tb(e.__traceback__)
    inner = [f for f in frames if _MINIGRAD_FILE.search(f.filename)]
    origin = inner[-1] if inner else (frames[-1] if frames else None)
    where = f"{os.path.basename(origin.filename)}:{origin.lineno} ({origin.name})" if origin \
        else "?"
    site = f"{os.path.basename(origin.filename)}:{origin.name.rsplit('.', 1)[-1]}" if origin \
        else "?"
    msg = str(e)
    problems = []
    if not isinstance(e, EXPECTED):
        problems.append("unexpected exception type")
    if any(m in msg for m in INTERNAL):
        problems.append("internal message")
    if origin is not None and _BACKEND_FILE.search(origin.filename):
        problems.append("raised inside a backend, not validated at the boundary")
    return {"type": type(e).__name__, "msg": msg[:300], "where": where, "site": site,
            "problems": problems}


def _norm(msg: str) -> str:
    """A message with its numbers and shapes blurred, to group failures by kind."""
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", msg)[:80]


def compare(name: str, c, r) -> str | None:
    """None if the cpu's array ``c`` matches the reference's ``r``: same shape and dtype, NaN
    exactly where the reference has NaN, the same infinities, finite values within tolerance."""
    if c is None or r is None:
        return None if c is None and r is None else \
            f"{name}: {'None' if c is None else 'an array'} on cpu, " \
            f"{'None' if r is None else 'an array'} on reference"
    if c.shape != r.shape:
        return f"{name}: shape {c.shape} on cpu, {r.shape} on reference"
    if c.dtype != r.dtype:
        return f"{name}: dtype {c.dtype} on cpu, {r.dtype} on reference"
    cf, rf = c.reshape(-1), r.reshape(-1)
    if c.dtype.kind not in "fc":
        bad = np.flatnonzero(cf != rf)[:4]
        return None if not len(bad) else \
            f"{name}: values differ at flat {bad.tolist()}: cpu {cf[bad].tolist()} " \
            f"reference {rf[bad].tolist()}"
    cn, rn = np.isnan(cf), np.isnan(rf)
    bad = np.flatnonzero(cn != rn)[:4]
    if len(bad):
        return (f"{name}: NaN pattern differs at flat {bad.tolist()}: cpu {cf[bad].tolist()} "
                f"reference {rf[bad].tolist()}")
    ok = ~rn
    ci, ri = cf[ok].astype(np.float64), rf[ok].astype(np.float64)
    inf = np.isinf(ri) | np.isinf(ci)
    if (ci[inf] != ri[inf]).any():
        return f"{name}: inf differs: cpu {ci[inf][:4].tolist()} reference {ri[inf][:4].tolist()}"
    fin = ~inf
    if fin.any():
        rtol = RTOL.get(str(c.dtype), 1e-4)
        scale = max(1.0, float(np.max(np.abs(ri[fin]))))
        err = np.abs(ci[fin] - ri[fin])
        if err.max() > rtol * scale:
            i = int(err.argmax())
            return (f"{name}: values differ by {err.max():.3g} (tolerance {rtol * scale:.3g}): "
                    f"cpu {ci[fin][i]!r} reference {ri[fin][i]!r}")
    return None


def judge(case: dict) -> dict:
    results, errors, unraisable = {}, {}, []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(
        f"{u.exc_type.__name__}: {u.exc_value} ({u.err_msg or ''} {u.object!r:.60})")
    try:
        for device in ("reference", "cpu"):
            try:
                results[device] = run_on(case, device)
            except Exception as e:  # noqa: BLE001 - judged below
                errors[device] = error_info(e)
    finally:
        sys.unraisablehook = hook
    op = case["op"] + ("." + case["name"] if "name" in case else "")
    problems = []

    def add(kind, detail, key="", per_op=False):
        # an error is one problem whichever op showed it; a wrong value is the op's own
        sig = f"{op} | {kind} | {key}" if per_op else f"{kind} | {key}"
        problems.append({"sig": sig, "op": op, "detail": detail})

    for u in unraisable:
        add("unraisable exception in a kernel", u, _norm(u), per_op=True)
    for device, info in errors.items():
        other = "cpu" if device == "reference" else "reference"
        # from_numpy of a read-only array shares it on the cpu (the reference gets a copy):
        # refusing to update it in place, with a clear error, is right there
        refused = device == "cpu" and info["type"] == "ValueError" and "read-only" in info["msg"]
        flags = ([f"raised where the {other} computed"] if other in results and not refused
                 else []) + info["problems"]
        if flags:
            add(f"{device}: " + ", ".join(flags),
                f"{info['type']}: {info['msg']} at {info['where']}",
                f"{info['type']}: {_norm(info['msg'])} @ {info['site']}")
    if "cpu" in results and "reference" in results:
        c, r = results["cpu"], results["reference"]
        for k in sorted(set(c) | set(r)):
            if k not in c or k not in r:
                add("missing output", f"{k} only on {'cpu' if k in c else 'reference'}", k,
                    per_op=True)
                continue
            d = compare(k, c[k], r[k])
            if d is not None:
                kind = "NaN" if "NaN" in d else "inf" if "inf differs" in d else \
                    "shape/dtype" if ("shape" in d or "dtype" in d) else "value"
                add(f"cpu differs from reference ({kind})", d, k, per_op=True)
    status = "error" if errors else "ok"
    return {"status": status, "problems": problems,
            "errors": {k: f"{v['type']}: {v['msg']}" for k, v in errors.items()}}


def main() -> None:
    # The protocol gets its own copy of stdout; anything printed to fd 1 (by the library, a C
    # extension, numpy) goes to stderr instead of corrupting the answers.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.enable(file=sys.stderr, all_threads=True)
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    import minigrad
    from minigrad.backends import cpu as _cpu_backend  # noqa: F401 - load the compiled kernels
    proto.write(json.dumps({"hello": minigrad.__file__,
                            "kernels": _cpu_backend._cpu.__file__, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
        try:
            answer = judge(case)
        except Exception as e:  # noqa: BLE001 - a bug of the worker itself: report it
            answer = {"status": "worker-error", "problems": [{
                "sig": "worker | " + type(e).__name__,
                "detail": "".join(traceback.format_exception(e))[-2000:]}]}
        finally:
            faulthandler.cancel_dump_traceback_later()
        proto.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
