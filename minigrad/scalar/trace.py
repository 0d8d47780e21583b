"""Learning aids: the backward pass as data (:func:`trace`), the graph as Graphviz DOT
(:func:`to_dot`), and central finite differences (:func:`numeric_grad`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .engine import Scalar


@dataclass(frozen=True)
class Step:
    """One edge of the backward pass: ``node`` passes gradient back to its input ``input``.

    ``contribution = upstream * local`` is added into the input's gradient; ``total`` is the
    input's gradient after that addition (the running sum over paths).
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

    def __str__(self) -> str:
        n, i = self.node.name_for_display(), self.input.name_for_display()
        return (f"step {self.index}: d{n}/d{i} of [{self.module}] = {self.local:.6g}; "
                f"{self.upstream:.6g} * {self.local:.6g} = {self.contribution:.6g} "
                f"-> grad {i} = {self.total:.6g}")


class Trace:
    """The backward pass of a graph, step by step: iterate it, index it, or print it as a table.

    Made by :func:`trace`; the graph's ``.grad`` fields are not touched.
    """

    def __init__(self, root: Scalar, nodes: list[Scalar], steps: list[Step], grads: dict):
        self.root = root
        self.nodes = nodes  # forward order
        self.steps = steps
        self._grads = grads

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def grad(self, node: Scalar) -> float:
        """d root / d node as this pass computed it."""
        return self._grads[id(node)]

    def forward_table(self) -> str:
        rows = [("node", "module", "value")]
        for n in self.nodes:
            rows.append((n.name_for_display(), n.module(), f"{n.data:.6g}"))
        return _table(rows)

    def backward_table(self) -> str:
        rows = [("step", "node", "module", "input", "upstream", "local", "contribution", "grad")]
        for s in self.steps:
            rows.append((str(s.index), s.node.name_for_display(), s.module,
                         s.input.name_for_display(), f"{s.upstream:.6g}", f"{s.local:.6g}",
                         f"{s.contribution:.6g}", f"{s.total:.6g}"))
        return _table(rows)

    def __str__(self) -> str:
        r = self.root.name_for_display()
        return (f"forward pass\n{self.forward_table()}\n\n"
                f"backward pass from {r} (d{r}/d{r} = 1)\n{self.backward_table()}")

    def __repr__(self) -> str:
        return f"<Trace of {len(self.nodes)} nodes, {len(self.steps)} steps>"


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def iter_backward(root: Scalar) -> Iterator[Step]:
    """Run the backward pass lazily, one edge at a time (the same arithmetic as
    :meth:`Scalar.backward`, but recorded, and without touching ``.grad``)."""
    nodes = root.topo()
    grads = {id(n): 0.0 for n in nodes}
    grads[id(root)] = 1.0
    k = 0
    for node in reversed(nodes):
        op = node._op
        if op is None:
            continue
        up = grads[id(node)]
        for parent, local in zip(node._parents, op.local(node)):
            c = local * up
            grads[id(parent)] += c
            yield Step(k, node, op.name, node.module(), parent, up, local, c, grads[id(parent)])
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
    """Graphviz DOT text of ``root``'s graph: value nodes (label, data, grad) as records, modules
    as ellipses between them. Render with ``dot -Tpng`` or the ``graphviz`` package."""
    nodes = root.topo()
    lines = ["digraph minigrad {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    for n in nodes:
        nid = f"n{id(n)}"
        lab = n.label if n.label is not None else ""
        lines.append(f'  {nid} [shape=record, label="{{ {_esc(lab)} | data {n.data:.4g} | '
                     f'grad {n.grad:.4g} }}"];')
        if n._op is not None:
            oid = f"op{id(n)}"
            lines.append(f'  {oid} [shape=ellipse, label="{_esc(_op_label(n))}"];')
            lines.append(f"  {oid} -> {nid};")
            for p in n._parents:
                lines.append(f"  n{id(p)} -> {oid};")
    lines.append("}")
    return "\n".join(lines)


def _op_label(n: Scalar) -> str:
    op = n._op
    return op.describe(n._k) if getattr(op, "side", None) is not None else op.symbol


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace(
        "}", "\\}").replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")


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
