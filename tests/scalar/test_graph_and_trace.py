"""The trace in the lecture's symbols, the graph through Graphviz, and `minigrad trace`'s outputs.

Tests that render need Graphviz (the `dot` program and the graphviz package): they skip without
it, unless MINIGRAD_REQUIRE_BROWSER=1 (CI), where a missing Graphviz is a failure.
"""

import math
import os
import subprocess
import sys
import tempfile

import pytest

from minigrad import Scalar, rules, symbolic
from minigrad.scalar import GraphvizNotFound, to_png, to_svg, trace
from minigrad.scalar import graph as G
from minigrad.scalar.trace import local_formula


def lecture():
    x = Scalar(-4.499, label="x")
    d = 2 / (-x).exp().sin()   # a = -x, b = e^a, c = sin b, d = 2 / c: no labels given
    return x, d


@pytest.fixture
def graphviz():
    try:
        to_svg(Scalar(1.0))
    except GraphvizNotFound as e:
        if os.environ.get("MINIGRAD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MINIGRAD_REQUIRE_BROWSER=1 but {e}", pytrace=False)
        pytest.skip(str(e))


# ---- the trace speaks the lecture's symbols ----------------------------------------------------


def test_unlabeled_nodes_are_named_like_the_lecture_without_changing_them():
    x, d = lecture()
    t = trace(d)
    assert [t.name(n) for n in t.nodes] == ["x", "a", "b", "c", "d"]
    assert [n.label for n in t.nodes] == ["x", None, None, None, None]
    assert [t.module(n) for n in t.nodes] == ["leaf", "-x", "exp a", "sin b", "2 / c"]
    text = str(t)
    assert "backward pass from d (dd/dd = 1)" in text
    assert "#" not in text  # no id-based names


def test_names_skip_labels_already_taken():
    a = Scalar(1.0, label="a")
    y = (a * 2).exp()
    y.label = "c"
    assert [G.node_names(y)[id(n)] for n in y.topo()] == ["a", "b", "c"]


def test_local_column_shows_the_rule_as_a_formula_with_its_value():
    x, d = lecture()
    t = trace(d)
    assert [s.local_formula for s in t] == ["-d / c", "cos(b)", "b", "-1"]
    assert [s.derivative for s in t] == ["dd/dc", "dc/db", "db/da", "da/dx"]
    c = t.nodes[3]
    assert t[1].local_text() == f"dc/db = cos(b) = {t[1].local:.6g}"
    assert t[1].local == pytest.approx(math.cos(t.nodes[2].data))
    assert t[3].local_text() == "da/dx = -1"          # a constant: no "-1 = -1"
    table = t.backward_table()
    assert f"dc/db = cos(b) = {t[1].local:.6g}" in table
    assert f"dd/dc = -d / c = {-d.data / c.data:.6g}" in table
    assert "dc/db = cos(b)" in str(t[1])


def test_formulas_come_from_the_rule_book():
    # every one-input rule: the formula is the rule's own local derivative in the node's names
    for name in rules.names(arity=1):
        x = Scalar(0.3, label="x")
        try:
            y = x.apply(name)
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        y.label = "y"
        want = rules.get(name).local[0](symbolic.namespace, symbolic.Var("x"), symbolic.Var("y"))
        got = local_formula(y, 0, lambda n: n.label)
        assert got == symbolic.to_text(want) or not isinstance(want, symbolic.Expr), name


def test_constants_inside_a_module_are_folded():
    x = Scalar(1.5, label="x")
    t = trace(x ** 3 + 2 ** x + x * 3)
    by_module = {s.module: s.local_formula for s in t}
    assert by_module["x ** 3"] == "3 * pow(x, 2)"     # where(3 == 0, 1, 3 - 1) folded
    assert by_module["2 ** x"] == "b * log(2)"        # log(2) stays a name
    assert by_module["x * 3"] == "3"
    for s in t:
        assert s.contribution == pytest.approx(s.upstream * s.local)


def test_binary_module_on_one_node_twice():
    x = Scalar(3.0, label="x")
    t = trace(x * x)
    assert [(s.arg, s.local_formula, s.local) for s in t] == [(0, "x", 3.0), (1, "x", 3.0)]
    assert t.grad(x) == 6.0


# ---- the graph ---------------------------------------------------------------------------------


def test_dot_draws_values_as_boxes_and_modules_as_diamonds():
    x, d = lecture()
    d.backward()
    dot = G.to_dot(d)
    assert dot.count("shape=plain") == 5 and dot.count("shape=diamond") == 4
    for text in ('label="-x"', 'label="exp a"', 'label="sin b"', 'label="2 / c"'):
        assert text in dot
    assert "value -4.499" in dot and f"grad {x.grad:.4g}" in dot
    assert 'id="in4_0"' in dot and 'id="out4"' in dot and 'id="v0"' in dot
    assert G.to_dot(d) == dot  # deterministic: ids by position, not by memory address
    # the trace shows its own gradients without touching .grad
    y = Scalar(2.0, label="y")
    z = y * y
    assert "grad 4" in trace(z).to_dot() and "grad 0" in G.to_dot(z)


def test_dot_escapes_labels_and_limits_size():
    x = Scalar(1.0, label='<b>&"')
    dot = G.to_dot(x.exp())
    assert "&lt;b&gt;&amp;" in dot and '\\"' in dot
    big = Scalar(0.0)
    for _ in range(30):
        big = big + 1
    with pytest.raises(ValueError, match="max_nodes"):
        G.to_dot(big, max_nodes=10)
    with pytest.raises(ValueError, match="rankdir"):
        G.to_dot(x, rankdir="XY")


def test_svg_and_png(graphviz, tmp_path):
    x, d = lecture()
    d.backward()
    svg = to_svg(d)
    assert "<svg" in svg and "sin b" in svg and "grad &#45;80.39" in svg
    png = to_png(d)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert d._repr_svg_().count("<svg") == 1        # a notebook shows the graph
    t = trace(d)
    for name in ("g.svg", "g.png", "g.pdf", "g.dot", "g.html"):
        t.write(tmp_path / name)
    assert (tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(ValueError, match="extension"):
        t.write(tmp_path / "g.jpeg")
    if os.environ.get("MINIGRAD_SCREENSHOTS"):   # to look at
        (tmp_path / "g.png").replace(os.path.join(os.environ["MINIGRAD_SCREENSHOTS"],
                                                  "graph.png"))


def test_repr_svg_of_a_large_graph_falls_back_to_text():
    big = Scalar(0.0)
    for _ in range(300):
        big = big + 1
    assert big._repr_svg_() is None


def test_missing_graphviz_names_what_to_install(monkeypatch, tmp_path):
    x, d = lecture()
    monkeypatch.setenv("PATH", str(tmp_path))             # no `dot` program
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        to_svg(d)
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        assert d._repr_svg_() is None                    # the notebook shows the text repr
    assert G.to_dot(d).startswith("digraph")             # DOT text needs nothing
    monkeypatch.setitem(sys.modules, "graphviz", None)   # no Python package
    with pytest.raises(GraphvizNotFound, match=r'pip install "minigrad\[graph\]"'):
        to_png(d)
    with pytest.raises(GraphvizNotFound):
        trace(d).to_html()


def test_html_page_is_self_contained(graphviz, tmp_path):
    x, d = lecture()
    text = trace(d).to_html(tmp_path / "p.html", title="f <at> x")
    assert (tmp_path / "p.html").read_text(encoding="utf-8") == text
    assert text.count("<svg") == 1 and "<?xml" not in text and "<!DOCTYPE svg" not in text
    assert "f &lt;at&gt; x" in text
    low = text.lower()
    for ref in ("src=", "<link", "@import", "url(", "http-equiv"):
        assert ref not in low, ref
    assert '"formula": "cos(b)"' in text and '"rootName": "d"' in text
    assert "Backward pass (0 steps)" in trace(Scalar(2.0)).to_html()  # a lone leaf


# ---- the command line ------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "minigrad.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=tempfile.gettempdir(), env=env)


def test_cli_writes_images_and_the_page(graphviz, tmp_path):
    out = {ext: str(tmp_path / f"f.{ext}") for ext in ("svg", "png", "html", "dot", "pdf")}
    r = _cli("trace", "2/sin(exp(-x))", "x=-4.499", "--svg", out["svg"], "--png", out["png"],
             "--html", out["html"], "--dot", out["dot"], "-o", out["pdf"])
    assert r.returncode == 0, r.stderr
    assert "dc/db = cos(b) = -0.381824" in r.stdout
    assert f"wrote the step-through page to {out['html']}" in r.stdout
    assert open(out["png"], "rb").read(4) == b"\x89PNG"
    assert "<svg" in open(out["svg"]).read()
    assert open(out["pdf"], "rb").read(4) == b"%PDF"
    assert open(out["dot"]).read().startswith("digraph")
    page = open(out["html"], encoding="utf-8").read()
    assert "f = 2/sin(exp(-x)) at x = -4.499" in page


@pytest.mark.parametrize("args, message", [
    (["--svg", "g.txt"], "cannot tell the format from the extension .txt"),
    (["-o", "graph"], "extension (none)"),
    (["--svg", "g.png"], "the file's extension says png"),
    (["--html", "g.svg"], "--svg g.svg"),
    (["--png", "/no/such/folder/g.png"], "does not exist"),
    (["x=1", "x=2"], "x is given twice"),
    (["x=abc"], "not a number"),
    (["x=inf"], "finite"),
    (["x"], "expected VAR=VALUE"),
    (["=1"], "expected VAR=VALUE"),
])
def test_cli_usage_errors(args, message):
    values = [] if any(a.startswith("x=") or a in ("x", "=1") for a in args) else ["x=1"]
    r = _cli("trace", "x * x", *values, *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "usage: minigrad trace" in r.stderr and message in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_without_graphviz_says_what_to_install(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    r = _cli("trace", "x * x", "x=2", "--svg", str(tmp_path / "g.svg"), env=env)
    assert r.returncode == 1
    assert "apt-get install graphviz" in r.stderr and "Traceback" not in r.stderr
    assert "dy/dx" not in r.stderr and "df/dx = 4" in r.stdout  # the trace still printed
