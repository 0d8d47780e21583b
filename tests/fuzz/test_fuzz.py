"""Fuzzing the tensor engine's boundary: odd shapes (0-size dims, 0-d), every dtype (float16,
int64, uint8 and bool included), NaN and inf, non-contiguous and read-only arrays through
``from_numpy``, convolution and pooling geometry (kernels larger than the input, large padding
and strides) and loss labels (negative, too large, huge, float, the wrong length).

Each case runs in one long-lived child process (``worker.py``, restarted if it dies), once on the
"cpu" device (the Cython kernels) and once on the "reference" device (plain numpy): a case must
either give the reference's result (NaN where it has NaN) or raise a clear error (ValueError,
TypeError, IndexError, ... from the tensor engine's checks, not from inside a kernel). A crash
fails the test and names the input that caused it.

Hypothesis generates the cases, derandomized and without a database, so every run (and CI) sees
the same ones; ``MINIGRAD_FUZZ_SCALE=10`` runs ten times as many. A category's test does not stop
at the first problem: it collects every distinct one (the smallest input seen for each) and lists
them all. Known library bugs, listed in ``KNOWN``, turn the test into an expected failure while
any other problem still fails it.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import select
import subprocess
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import minigrad

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
SCALE = float(os.environ.get("MINIGRAD_FUZZ_SCALE", "1"))
NAN, INF = math.nan, math.inf

ALL_DTYPES = ["float32", "float64", "int64", "uint8", "bool", "float16"]
FLOATS = ["float32", "float64"]
LAYOUTS = ["c", "T", "step", "rev", "ro"]


def fuzz_settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=True,
                    database=None, phases=[Phase.explicit, Phase.generate], print_blob=False,
                    suppress_health_check=list(HealthCheck))


# ---- the worker process -------------------------------------------------------------------------


class Worker:
    """The child process running the cases; restarted after it dies."""

    def __init__(self):
        self.proc = None
        self.crashes = 0
        self.start()

    def start(self):
        self.err = tempfile.TemporaryFile()
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        self.proc = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env,
                                     cwd=tempfile.gettempdir())
        self.buf = b""
        line = self._readline(120)
        if line is None:
            raise RuntimeError("the fuzz worker did not start:\n" + self._stderr())
        self.hello = json.loads(line)

    def _readline(self, timeout):
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None  # the worker died
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def _stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace")[-4000:]

    def run(self, case: dict) -> dict:
        try:
            self.proc.stdin.write((json.dumps(case) + "\n").encode())
            self.proc.stdin.flush()
            line = self._readline(90)
        except (BrokenPipeError, OSError):
            line = None
        if line is not None:
            return json.loads(line)
        # dead (a crash) or hung: record how, with its stack dump, and start a fresh one
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        self.crashes += 1
        how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        detail = f"the worker died ({how}); its stderr:\n{self._stderr()}"
        self.start()
        return {"status": "crash", "problems": [{"sig": f"{op_name(case)} | CRASH | {how}",
                                                 "op": op_name(case), "detail": detail}]}

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def op_name(case):
    return case["op"] + ("." + case["name"] if "name" in case else "")


# Known library bugs, found by this fuzz and reported (fix them in the library, not here): a
# category ("*": any) whose problems all match one of these is an expected failure (like
# xfail(strict=False)); any other problem fails it. (category, substring of the signature, bug)
KNOWN: list[tuple[str, str, str]] = [
    # empty: the twelve bugs this fuzz found first (from_numpy of 0-d arrays, relu's dtype on
    # integers, uint8 with out-of-range Python ints, clip bounds, softmax over an empty dim,
    # conv2d with no output channels, im2col past a row's end, NaN in max_pool2d, the
    # reference's empty max_pool2d backward and cross-entropy, read-only and non-contiguous
    # parameters in the optimizers) are fixed; tests/tensor/test_reliability.py keeps each one
]


def fuzz(worker, category: str, strategy, n: int, examples=()):
    """Run ``n`` cases drawn from ``strategy`` (plus the explicit ``examples``) through the
    worker; fail listing every distinct problem, with the smallest case that showed it."""
    found: dict[str, tuple[tuple, dict, str]] = {}
    ops: dict[str, set] = {}
    count = [0, 0]  # cases, cases that raised (on either device)
    errors: collections.Counter = collections.Counter()

    def one(case):
        res = worker.run(case)
        count[0] += 1
        count[1] += res.get("status") != "ok"
        errors.update(re.sub(r"\d+", "#", e)[:90] for e in set(res.get("errors", {}).values()))
        size = (sum(math.prod(a["shape"]) for a in case["arrays"].values()), len(json.dumps(case)))
        for p in res["problems"]:
            ops.setdefault(p["sig"], set()).add(p.get("op", op_name(case)))
            if p["sig"] not in found or size < found[p["sig"]][0]:
                found[p["sig"]] = (size, case, p["detail"])

    run = given(strategy)(one)
    for ex in examples:
        run = example(ex)(run)
    fuzz_settings(n)(run)()
    print(f"{category}: {count[0]} cases, {count[1]} raised, {len(found)} distinct problems; "
          f"most common errors: {errors.most_common(6)}")
    if not found:
        return
    known = [k for k in KNOWN if k[0] in (category, "*")]
    unknown = {s: v for s, v in found.items() if not any(k[1] in s for k in known)}
    lines = []
    for sig, (_, case, detail) in sorted(found.items()):
        tag = "" if sig in unknown else "[known] "
        lines.append(f"- {tag}{sig}\n    ops: {', '.join(sorted(ops[sig]))}\n    {detail}\n"
                     f"    smallest case: {json.dumps(case)}")
    report = f"{len(found)} distinct problem(s) in {category}:\n" + "\n".join(lines)
    if unknown:
        pytest.fail(report, pytrace=False)
    reasons = sorted({k[2] for k in known if any(k[1] in s for s in found)})
    print(report)
    pytest.xfail("known bug(s): " + "; ".join(reasons))


# ---- strategies ---------------------------------------------------------------------------------


def elements(dtype: str):
    if dtype == "bool":
        return st.booleans()
    if dtype == "uint8":
        return st.integers(0, 255)
    if dtype == "int64":
        return st.one_of(st.integers(-10, 10), st.integers(-2**63, 2**63 - 1))
    width = {"float16": 16, "float32": 32, "float64": 64}[dtype]
    return st.one_of(st.floats(-10, 10, width=width),
                     st.sampled_from([0.0, -0.0, NAN, INF, -INF]),
                     st.floats(width=width))


MAX_SIDE = {0: 1, 1: 6, 2: 5, 3: 3, 4: 2}


@st.composite
def shapes(draw, min_dims=0, max_dims=4):
    # 0-d, 0-size and 4-d shapes all come up, but most cases are 1- to 3-d
    nd = draw(st.sampled_from([d for d in (0, 1, 1, 2, 2, 2, 3, 3, 4)
                               if min_dims <= d <= max_dims]))
    return [draw(st.integers(0, MAX_SIDE[nd])) for _ in range(nd)]


@st.composite
def arrays(draw, dtypes=ALL_DTYPES, shape=None, min_dims=0, max_dims=4):
    """A small array given by its values (so hypothesis's edge cases reach them)."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes(min_dims, max_dims)) if shape is None else list(shape)
    n = math.prod(shape)
    return {"dtype": dtype, "shape": shape,
            "values": draw(st.lists(elements(dtype), min_size=n, max_size=n)),
            "layout": draw(st.sampled_from(LAYOUTS)),
            "make": draw(st.sampled_from(["from_numpy", "tensor"]))}


@st.composite
def seeded(draw, dtype, shape, specials=True, scale=(1.0,)):
    """A (possibly larger) array given by a seed, with a few NaN / inf / huge values placed."""
    spec = {"dtype": dtype, "shape": list(shape), "seed": draw(st.integers(0, 2**16)),
            "scale": draw(st.sampled_from(list(scale))),
            "layout": draw(st.sampled_from(LAYOUTS)),
            "make": draw(st.sampled_from(["from_numpy", "tensor"]))}
    if specials:
        spec["specials"] = draw(st.lists(
            st.tuples(st.integers(0, 10**4), st.sampled_from([NAN, INF, -INF, 1e30, -1e30])),
            max_size=2))
    return spec


UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg", "log1p",
         "expm1", "softplus"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]


@st.composite
def unary_cases(draw):
    return {"op": "unary", "name": draw(st.sampled_from(UNARY)), "arrays": {"x": draw(arrays())},
            "grad": draw(st.booleans())}


@st.composite
def broadcastable(draw, shape):
    """A shape that broadcasts with ``shape`` (usually) or not (sometimes)."""
    if draw(st.integers(0, 5)) == 0:
        return draw(shapes())
    keep = draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - keep:]
    return [1 if draw(st.booleans()) else s for s in tail]


@st.composite
def binary_cases(draw):
    x = draw(arrays())
    case = {"op": "binary", "name": draw(st.sampled_from(BINARY)), "arrays": {"x": x},
            "grad": draw(st.booleans()), "reflected": draw(st.booleans())}
    if draw(st.integers(0, 3)) == 0:
        case["scalar"] = draw(st.one_of(st.floats(), st.integers(-3, 3), st.booleans()))
    else:
        same = draw(st.booleans())
        case["arrays"]["y"] = draw(arrays(dtypes=[x["dtype"]] if same else ALL_DTYPES,
                                          shape=draw(broadcastable(x["shape"]))))
    return case


@st.composite
def clip_cases(draw):
    bound = st.one_of(st.none(), st.floats(-5, 5), st.sampled_from([NAN, INF, -INF]),
                      st.integers(-3, 3))
    return {"op": "clip", "arrays": {"x": draw(arrays())}, "lo": draw(bound),
            "hi": draw(bound), "grad": draw(st.booleans())}


DIMS = st.one_of(st.none(), st.integers(-5, 4),
                 st.lists(st.integers(-4, 4), min_size=0, max_size=3))


@st.composite
def reduce_cases(draw):
    name = draw(st.sampled_from(["sum", "mean", "max", "min", "var", "logsumexp", "argmax",
                                 "softmax", "log_softmax"]))
    dim = draw(st.one_of(st.none(), st.integers(-5, 4))) if name in (
        "softmax", "log_softmax", "argmax") else draw(DIMS)
    return {"op": "reduce", "name": name, "arrays": {"x": draw(arrays())}, "dim": dim,
            "keepdim": draw(st.booleans()), "grad": draw(st.booleans())}


@st.composite
def index_keys(draw, shape):
    def one():
        return st.one_of(
            st.integers(-7, 7),
            st.builds(lambda a, b, c: {"s": [a, b, c]}, st.none() | st.integers(-6, 6),
                      st.none() | st.integers(-6, 6), st.none() | st.integers(-3, 3)
                      .filter(lambda v: v != 0)),
            st.builds(lambda a: {"a": a}, st.lists(st.integers(-7, 7), max_size=4)),
            st.just("..."), st.none())
    if shape and draw(st.integers(0, 4)) == 0:
        return {"m": draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0]))}
    return draw(st.lists(one(), max_size=3)) if draw(st.booleans()) else draw(one())


@st.composite
def shape_cases(draw):
    x = draw(arrays())
    name = draw(st.sampled_from(["reshape", "T", "transpose", "flatten", "unsqueeze", "squeeze",
                                 "cat", "stack", "getitem", "getitem"]))
    small = st.integers(-5, 4)
    arg = {"reshape": st.lists(st.integers(-1, 6), max_size=4),
           "T": st.none(), "transpose": st.lists(small, min_size=2, max_size=2),
           "flatten": st.lists(small, min_size=0, max_size=2), "unsqueeze": small,
           "squeeze": st.none() | small, "cat": small, "stack": small,
           "getitem": index_keys(x["shape"])}[name]
    return {"op": "shape", "name": name, "arrays": {"x": x}, "arg": draw(arg),
            "grad": draw(st.booleans())}


@st.composite
def matmul_cases(draw):
    dt = st.sampled_from(FLOATS * 4 + ["float16", "int64"])
    a_shape = draw(shapes(0 if draw(st.integers(0, 9)) == 0 else 1, 3))
    if a_shape and draw(st.integers(0, 4)):  # usually aligned
        k = a_shape[-1]
        lead = draw(st.lists(st.integers(0, 3), max_size=2))
        b_shape = lead + [k] if not lead else lead[:-1] + [k, lead[-1]]
    else:
        b_shape = draw(shapes(0, 3))
    return {"op": "matmul", "grad": draw(st.booleans()),
            "arrays": {"a": draw(arrays(dtypes=[draw(dt)], shape=a_shape)),
                       "b": draw(arrays(dtypes=[draw(dt)], shape=b_shape))}}


GEOM_DTYPES = FLOATS * 4 + ["float16", "int64"]


@st.composite
def conv_cases(draw):
    n, c, o = draw(st.integers(0, 2)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h, w = draw(st.integers(0, 7)), draw(st.integers(0, 7))
    ph, pw = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    # usually a kernel that fits the padded input (often wider than the input itself)
    extra = 1 if draw(st.integers(0, 9)) == 0 else 0
    kh = draw(st.integers(1, max(1, h + 2 * ph + extra)))
    kw = draw(st.integers(1, max(1, w + 2 * pw + extra)))
    stride = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    padding = [ph, pw]
    if draw(st.integers(0, 9)) == 0:  # sometimes an invalid stride or padding
        stride[draw(st.integers(0, 1))] = draw(st.integers(-1, 0))
    if draw(st.integers(0, 9)) == 0:
        padding[draw(st.integers(0, 1))] = -1
    dtype = draw(st.sampled_from(GEOM_DTYPES))
    wc = c if draw(st.integers(0, 9)) else draw(st.integers(0, 3))  # sometimes mismatched
    arrs = {"x": draw(seeded(dtype, [n, c, h, w])),
            "w": draw(seeded(dtype, [o, wc, kh, kw], specials=False))}
    if draw(st.booleans()):
        arrs["b"] = draw(seeded(dtype, [o], specials=False))
    return {"op": "conv2d", "arrays": arrs, "stride": stride, "padding": padding,
            "grad": draw(st.booleans())}


@st.composite
def pool_cases(draw):
    n, c = draw(st.integers(0, 2)), draw(st.integers(0, 3))
    h, w = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 7)), draw(st.integers(1, 7))
    if draw(st.integers(0, 5)):  # usually a kernel that fits
        kernel = [draw(st.integers(1, max(h, 1))), draw(st.integers(1, w))]
    else:
        kernel = [draw(st.integers(0, h + 2)), draw(st.integers(0, w + 2))]
    lo = 0 if draw(st.integers(0, 9)) == 0 else 1
    stride = draw(st.none() | st.lists(st.integers(lo, 4), min_size=2, max_size=2))
    dtype = draw(st.sampled_from(GEOM_DTYPES))
    return {"op": "pool", "name": draw(st.sampled_from(["max_pool2d", "avg_pool2d"])),
            "arrays": {"x": draw(seeded(dtype, [n, c, h, w]))}, "kernel": kernel,
            "stride": stride, "grad": draw(st.booleans())}


LABEL_DTYPES = {"int64": (-2**63, 2**63 - 1), "int32": (-2**31, 2**31 - 1), "uint8": (0, 255),
                "uint64": (0, 2**64 - 1), "int8": (-128, 127)}


@st.composite
def labels(draw, n, c):
    count = n if draw(st.integers(0, 11)) else draw(st.integers(0, n + 2))
    dtype = draw(st.sampled_from(["int64"] * 6 + list(LABEL_DTYPES) + ["float64", "float32",
                                                                       "bool"]))
    if dtype in LABEL_DTYPES:
        lo, hi = LABEL_DTYPES[dtype]
        good = st.integers(max(lo, 0), min(hi, c - 1)) if c > 0 else st.nothing()
        bad = st.one_of(st.integers(max(lo, -3), min(hi, c + 3)), st.sampled_from([lo, hi]),
                        st.integers(lo, hi))
        elem = (good if draw(st.integers(0, 3)) else st.one_of(good, bad)) if c > 0 else bad
    elif dtype == "bool":
        elem = st.booleans()
    else:
        elem = st.one_of(st.integers(0, max(c - 1, 0)).map(float), st.floats(-2, c + 2),
                         st.sampled_from([NAN, INF, -INF, 1e30]))
    return {"dtype": dtype, "values": draw(st.lists(elem, min_size=count, max_size=count)),
            "as": draw(st.sampled_from(["numpy", "numpy", "tensor", "list"]))}


@st.composite
def loss_cases(draw):
    n, c = draw(st.integers(0, 4)), draw(st.integers(0 if draw(st.integers(0, 5)) == 0 else 1, 5))
    shape = [n, c] if draw(st.integers(0, 9)) else draw(shapes())
    dtype = draw(st.sampled_from(GEOM_DTYPES + FLOATS * 2))
    x = draw(seeded(dtype, shape, scale=(1.0, 1.0, 1e4)))
    return {"op": "loss", "name": draw(st.sampled_from(["cross_entropy", "nll_loss"])),
            "arrays": {"x": x}, "labels": draw(labels(n, c)), "grad": draw(st.booleans()),
            "reduction": draw(st.sampled_from(["mean"] * 6 + ["sum"] * 2 + ["none"] * 2 + ["avg"]))}


@st.composite
def optim_cases(draw):
    name = draw(st.sampled_from(["sgd", "sgd", "adam", "adagrad", "rmsprop"]))
    hyper = {"lr": draw(st.sampled_from([1e-3, 0.1])),
             "weight_decay": draw(st.sampled_from([0.0, 0.1]))}
    if name == "sgd":
        hyper["momentum"] = draw(st.sampled_from([0.0, 0.9]))
        hyper["nesterov"] = hyper["momentum"] > 0 and draw(st.booleans())
    dtype = draw(st.sampled_from(FLOATS * 3 + ["float16"]))
    p = draw(seeded(dtype, draw(shapes(0, 3)), specials=draw(st.integers(0, 4)) == 0))
    return {"op": "optim", "name": name, "hyper": hyper, "arrays": {"p": p}}


def _seeded(dtype, shape, seed=0, layout="c", make="tensor", specials=()):
    return {"dtype": dtype, "shape": list(shape), "seed": seed, "scale": 1.0, "layout": layout,
            "make": make, "specials": [list(s) for s in specials]}


# ---- the tests ----------------------------------------------------------------------------------


def test_worker_imports_the_minigrad_under_test(worker):
    """The child imports the same minigrad as this process (the installed wheel, or the
    bounds-checked build that CI puts first on PYTHONPATH and names in MINIGRAD_EXPECT_BUILD)."""
    from minigrad.backends import cpu
    assert os.path.realpath(worker.hello["hello"]) == os.path.realpath(minigrad.__file__)
    assert os.path.realpath(worker.hello["kernels"]) == os.path.realpath(cpu._cpu.__file__)
    expect = os.environ.get("MINIGRAD_EXPECT_BUILD")
    if expect:
        for f in (minigrad.__file__, cpu._cpu.__file__):
            assert os.path.realpath(f).startswith(os.path.realpath(expect) + os.sep), f


def test_a_crash_is_reported_with_its_input_and_the_worker_restarted():
    w = Worker()
    try:
        case = {"op": "selftest_crash", "arrays": {}}
        res = w.run(case)
        assert res["status"] == "crash" and w.crashes == 1
        detail = res["problems"][0]["detail"]
        assert "signal 11" in res["problems"][0]["sig"] and "op_selftest_crash" in detail
        ok = w.run({"op": "unary", "name": "exp", "arrays": {"x": _seeded("float64", [2])}})
        assert ok["status"] == "ok" and not ok["problems"]
    finally:
        w.close()


def test_unary(worker):
    fuzz(worker, "unary", unary_cases(), 250, examples=[
        {"op": "unary", "name": "sigmoid", "grad": True,
         "arrays": {"x": {"dtype": "float32", "shape": [2, 3], "layout": "T",
                          "make": "from_numpy", "values": [0, -1e30, NAN, INF, -INF, 88.8]}}},
        {"op": "unary", "name": "relu", "grad": True,
         "arrays": {"x": _seeded("float64", [3, 4], layout="step", make="from_numpy")}},
        {"op": "unary", "name": "relu", "grad": False,
         "arrays": {"x": _seeded("int64", [3], make="tensor")}},
        {"op": "unary", "name": "exp", "grad": True,
         "arrays": {"x": _seeded("float32", [], make="from_numpy")}},
    ])


def test_binary(worker):
    fuzz(worker, "binary", binary_cases(), 250, examples=[
        {"op": "binary", "name": "mul", "grad": False, "reflected": True, "scalar": -1,
         "arrays": {"x": _seeded("uint8", [2], make="tensor")}},
    ])


def test_clip(worker):
    fuzz(worker, "clip", clip_cases(), 80, examples=[
        {"op": "clip", "lo": -2, "hi": -1, "grad": False,
         "arrays": {"x": _seeded("uint8", [3], make="tensor")}},
    ])


def test_reductions_and_softmax(worker):
    fuzz(worker, "reduce", reduce_cases(), 250, examples=[
        {"op": "reduce", "name": "softmax", "dim": -1, "keepdim": False, "grad": True,
         "arrays": {"x": _seeded("float32", [3, 0])}},
        {"op": "reduce", "name": "log_softmax", "dim": 0, "keepdim": False, "grad": True,
         "arrays": {"x": _seeded("float64", [0, 2])}},
    ])


def test_shape_ops_and_indexing(worker):
    fuzz(worker, "shape", shape_cases(), 250)


def test_matmul(worker):
    fuzz(worker, "matmul", matmul_cases(), 120)


def test_conv2d_geometry(worker):
    fuzz(worker, "conv2d", conv_cases(), 250, examples=[
        # a kernel wider than the input plus one side's padding
        {"op": "conv2d", "stride": [1, 1], "padding": [0, 2], "grad": True,
         "arrays": {"x": _seeded("float32", [1, 1, 1, 1]), "w": _seeded("float32", [1, 1, 1, 5])}},
        {"op": "conv2d", "stride": [3, 2], "padding": [4, 1], "grad": True,
         "arrays": {"x": _seeded("float64", [2, 2, 3, 4], layout="T", make="from_numpy"),
                    "w": _seeded("float64", [3, 2, 7, 2], layout="step", make="from_numpy"),
                    "b": _seeded("float64", [3])}},
        {"op": "conv2d", "stride": [1, 1], "padding": [0, 0], "grad": True,
         "arrays": {"x": _seeded("float32", [1, 1, 3, 3]), "w": _seeded("float32", [0, 1, 2, 2])}},
    ])


def test_pooling_geometry(worker):
    fuzz(worker, "pool", pool_cases(), 250, examples=[
        {"op": "pool", "name": "max_pool2d", "kernel": [2, 2], "stride": None, "grad": True,
         "arrays": {"x": _seeded("float32", [1, 1, 2, 2], specials=[(1, NAN)])}},
        {"op": "pool", "name": "avg_pool2d", "kernel": [3, 1], "stride": [4, 1], "grad": True,
         "arrays": {"x": _seeded("float64", [2, 3, 3, 2], layout="rev", make="from_numpy")}},
        {"op": "pool", "name": "max_pool2d", "kernel": [2, 2], "stride": None, "grad": True,
         "arrays": {"x": _seeded("float32", [0, 1, 2, 2])}},
    ])


def test_loss_labels(worker):
    fuzz(worker, "loss", loss_cases(), 300, examples=[
        {"op": "loss", "name": "cross_entropy", "grad": True, "reduction": "mean",
         "arrays": {"x": _seeded("float32", [2, 3])},
         "labels": {"dtype": "int64", "values": [0, 2**62], "as": "numpy"}},
        {"op": "loss", "name": "nll_loss", "grad": True, "reduction": "sum",
         "arrays": {"x": _seeded("float64", [2, 3], layout="T", make="from_numpy")},
         "labels": {"dtype": "float64", "values": [1.0, 2.5], "as": "tensor"}},
        {"op": "loss", "name": "cross_entropy", "grad": False, "reduction": "mean",
         "arrays": {"x": _seeded("float32", [0, 0])},
         "labels": {"dtype": "int64", "values": [], "as": "numpy"}},
        {"op": "loss", "name": "cross_entropy", "grad": True, "reduction": "none",
         "arrays": {"x": _seeded("float32", [2, 3], specials=[(0, NAN), (4, INF)])},
         "labels": {"dtype": "int64", "values": [-1, 3], "as": "list"}},
    ])


def test_optimizers(worker):
    fuzz(worker, "optim", optim_cases(), 120, examples=[
        {"op": "optim", "name": "adam", "hyper": {"lr": 0.1},
         "arrays": {"p": _seeded("float32", [3, 4], layout="T", make="from_numpy")}},
        {"op": "optim", "name": "sgd", "hyper": {"lr": 0.1, "momentum": 0.9},
         "arrays": {"p": _seeded("float64", [2, 2], layout="ro", make="from_numpy")}},
    ])


def test_the_worker_never_died(worker):
    """Every crash is also a problem of the category that caused it; this names the count."""
    assert worker.crashes == 0, f"the fuzz worker died {worker.crashes} time(s)"
