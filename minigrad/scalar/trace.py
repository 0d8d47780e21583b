"""Learning aids: the backward pass as data (:func:`trace`), in the lecture's symbols (each
step's local derivative as a formula, ``dc/db = cos(b)``), as a picture (:func:`to_dot`,
:mod:`.graph`) or a page to step through in a browser (:meth:`Trace.to_html`), and central finite
differences (:func:`numeric_grad`)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .. import symbolic
from . import graph
from .engine import Scalar
from .graph import node_names
from .ops import ConstOp


@dataclass(frozen=True)
class Step:
    """One edge of the backward pass: ``node`` passes gradient back to its input ``input``.

    ``contribution = upstream * local`` is added into the input's gradient; ``total`` is the
    input's gradient after that addition (the running sum over paths). ``local_formula`` is the
    rule's local derivative d node / d input in the graph's names (``cos(b)``), ``arg`` which
    input of the module this is (0 for the first).
    """

    index: int
    node: Scalar
    op: str
    module: str
    input: Scalar
    upstream: float
    local: float
    contribution: float
    total: float
    node_name: str = ""
    input_name: str = ""
    local_formula: str = ""
    arg: int = 0

    @property
    def derivative(self) -> str:
        """The local derivative's name in the lecture's notation, e.g. ``dc/db``."""
        return f"d{self.node_name}/d{self.input_name}"

    def local_text(self) -> str:
        """The local derivative with its formula and value: ``dc/db = cos(b) = -0.377``."""
        return f"{self.derivative} = {_with_value(self.local_formula, self.local)}"

    def __str__(self) -> str:
        i = self.input_name
        return (f"step {self.index}: {self.local_text()} of [{self.node_name} = {self.module}]; "
                f"{self.upstream:.6g} * {self.local:.6g} = {self.contribution:.6g} "
                f"-> grad {i} = {self.total:.6g}")


def _with_value(formula: str, value: float) -> str:
    v = f"{value:.6g}"
    return v if formula in ("", v) else f"{formula} = {v}"


class Trace:
    """The backward pass of a graph, step by step: iterate it, index it, print it as a table,
    draw it (:meth:`to_svg`) or step through it in a browser (:meth:`to_html`).

    Made by :func:`trace`; the graph's ``.grad`` fields and labels are not touched. Unlabeled
    nodes are named a, b, c, ... in forward order (:meth:`name`).
    """

    def __init__(self, root: Scalar, nodes: list[Scalar], steps: list[Step], grads: dict,
                 names: dict[int, str] | None = None):
        self.root = root
        self.nodes = nodes  # forward order
        self.steps = steps
        self._grads = grads
        self._names = node_names(root, nodes) if names is None else names

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def grad(self, node: Scalar) -> float:
        """d root / d node as this pass computed it."""
        return self._grads[id(node)]

    def name(self, node: Scalar) -> str:
        """The node's name in this trace: its label, or the letter it was given."""
        return self._names[id(node)]

    def module(self, node: Scalar) -> str:
        """The node's module in this trace's names (``sin b``), or ``leaf``."""
        return node.module(self.name)

    def forward_table(self) -> str:
        rows = [("node", "module", "value")]
        for n in self.nodes:
            rows.append((self.name(n), self.module(n), f"{n.data:.6g}"))
        return _table(rows)

    def backward_table(self) -> str:
        rows = [("step", "node", "module", "input", "upstream", "local", "contribution", "grad")]
        for s in self.steps:
            rows.append((str(s.index), s.node_name, s.module, s.input_name, f"{s.upstream:.6g}",
                         s.local_text(), f"{s.contribution:.6g}", f"{s.total:.6g}"))
        return _table(rows)

    def __str__(self) -> str:
        r = self.name(self.root)
        return (f"forward pass\n{self.forward_table()}\n\n"
                f"backward pass from {r} (d{r}/d{r} = 1)\n{self.backward_table()}")

    def __repr__(self) -> str:
        return f"<Trace of {len(self.nodes)} nodes, {len(self.steps)} steps>"

    # ---- pictures ------------------------------------------------------------------------------

    def to_dot(self, rankdir: str = "LR") -> str:
        """The graph as Graphviz DOT text, with this trace's gradients on the nodes."""
        return graph.to_dot(self.root, rankdir, grads=self._grads, names=self._names)

    def to_svg(self, rankdir: str = "LR") -> str:
        """The graph as SVG (Graphviz), with this trace's gradients on the nodes."""
        return graph.render(self.to_dot(rankdir), "svg").decode()

    def write(self, path, title: str | None = None) -> str:
        """Write the graph (.svg .png .pdf .dot, with this trace's gradients) or the
        step-through page (.html) to ``path``, the format from its extension; returns it."""
        if str(path).lower().endswith((".html", ".htm")):
            self.to_html(path, title)
        else:
            graph.write(self.root, path, grads=self._grads, names=self._names)
        return str(path)

    def to_html(self, path=None, title: str | None = None) -> str:
        """One self-contained HTML page that steps through the backward pass: the graph, the
        forward table, and Next/Previous (buttons, arrow keys) walking the edges one at a time.

        Writes it to ``path`` if given; returns the HTML text. Needs Graphviz (for the graph).
        """
        from .html import page
        text = page(self, title)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- the local derivative as a formula in the graph's names -----------------------------------

_FOLD = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
         "**": operator.pow, "<": operator.lt, "<=": operator.le, ">": operator.gt,
         ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


def _const(e) -> bool:
    return isinstance(e, (int, float))  # bools too: a folded comparison


def _fold(e):
    """Fold the parts of an expression that hold no variable: a constant module's ``k`` makes
    ``where(3 == 0, 1, 3 - 1)`` out of pow's rule, which reads ``2``. Functions (``log(2)``)
    stay as they are, since the name says more than the number."""
    if not isinstance(e, symbolic.Expr) or e.op == "var":
        return e
    args = tuple(_fold(a) for a in e.args)
    op = e.op
    if op == "where" and _const(args[0]):
        return args[1] if args[0] else args[2]
    if op == "&" and any(_const(a) and not a for a in args):
        return False
    if op == "|" and any(_const(a) and a for a in args):
        return True
    # x * 1, 1 * x and pow(x, 1) read x
    if op == "*" and 1 in [a for a in args if _const(a)]:
        rest = [a for a in args if not (_const(a) and a == 1)]
        return rest[0] if len(rest) == 1 else 1.0
    if op in ("**", "pow") and _const(args[1]) and args[1] == 1:
        return args[0]
    if all(_const(a) for a in args):
        try:
            if op == "neg":
                return -args[0]
            if op == "~":
                return not args[0]
            if op in _FOLD:
                return _FOLD[op](*args)
        except (ArithmeticError, ValueError):
            pass
    return symbolic.Expr(op, *args)


def local_formula(node: Scalar, i: int, name) -> str:
    """The rule's local derivative d node / d (input ``i``), written in the graph's names:
    ``cos(b)`` for ``c = sin b``. ``name(n)`` names a node. The rule book's own expression,
    evaluated symbolically: no derivative is restated here."""
    op = node._op
    y = symbolic.Var(name(node))
    if isinstance(op, ConstOp):  # the constant stays a number inside the module (2 / c)
        x = symbolic.Var(name(node._parents[0]))
        xs, i = ((node._k, x), 1) if op.side == "left" else ((x, node._k), 0)
    else:
        xs = tuple(symbolic.Var(name(p)) for p in node._parents)
    try:
        return symbolic.to_text(_fold(op.rule.local[i](symbolic.namespace, *xs, y)))
    except TypeError:  # a registered rule that branches on values: no formula, the value stays
        return ""


def iter_backward(root: Scalar) -> Iterator[Step]:
    """Run the backward pass lazily, one edge at a time (the same arithmetic as
    :meth:`Scalar.backward`, but recorded, and without touching ``.grad``)."""
    nodes = root.topo()
    names = node_names(root, nodes)

    def name(n):
        return names[id(n)]

    grads = {id(n): 0.0 for n in nodes}
    grads[id(root)] = 1.0
    k = 0
    for node in reversed(nodes):
        op = node._op
        if op is None:
            continue
        up = grads[id(node)]
        module = node.module(name)
        for j, (parent, local) in enumerate(zip(node._parents, op.local(node))):
            c = local * up
            grads[id(parent)] += c
            yield Step(k, node, op.name, module, parent, up, local, c, grads[id(parent)],
                       name(node), name(parent), local_formula(node, j, name), j)
            k += 1


def trace(root: Scalar) -> Trace:
    """The backward pass from ``root`` as data.

    >>> from minigrad import Scalar
    >>> x = Scalar(3.0, label="x"); y = x * x; y.label = "y"
    >>> t = trace(y)
    >>> [round(s.contribution, 3) for s in t]
    [3.0, 3.0]
    >>> t.grad(x)
    6.0
    >>> print(t[0].local_text())
    dy/dx = x = 3
    """
    nodes = root.topo()
    grads = {id(n): 0.0 for n in nodes}
    grads[id(root)] = 1.0
    steps = []
    for s in iter_backward(root):
        steps.append(s)
        grads[id(s.input)] = s.total
    return Trace(root, nodes, steps, grads)


def to_dot(root: Scalar, rankdir: str = "LR") -> str:
    """Graphviz DOT text of ``root``'s graph (values and ``.grad`` on the nodes); see
    :mod:`minigrad.scalar.graph` for SVG and PNG."""
    return graph.to_dot(root, rankdir)


def numeric_grad(fn: Callable, values, eps: float = 1e-6):
    """Central finite differences: (f(x + eps) - f(x - eps)) / (2 eps) for each input.

    ``fn`` takes as many arguments as ``values`` has (Scalars or numbers) and returns a Scalar or
    a number. Returns one float per value (a float if ``values`` is a single number).

    >>> round(numeric_grad(lambda x: x * x, 3.0), 6)
    6.0
    """
    single = isinstance(values, (int, float))
    vals: Sequence[float] = [float(values)] if single else [float(v) for v in values]

    def f(args):
        out = fn(*[Scalar(a) for a in args])
        return out.data if isinstance(out, Scalar) else float(out)

    grads = []
    for i in range(len(vals)):
        up = list(vals)
        dn = list(vals)
        up[i] += eps
        dn[i] -= eps
        grads.append((f(up) - f(dn)) / (2 * eps))
    return grads[0] if single else grads
