"""The scalar engine's graph as a picture, drawn as the lecture draws it: value nodes are boxes
holding a name, the value and the gradient; computations are diamonds labelled with the module
(``sin b``); arrows follow the forward pass.

:func:`to_dot` needs nothing; :func:`to_svg`, :func:`to_png` and :func:`write` run Graphviz (the
``dot`` program and the ``graphviz`` Python package: ``pip install "minigrad[graph]"``).

>>> from minigrad import Scalar
>>> x = Scalar(-4.499, label="x")
>>> d = 2 / (-x).exp().sin()
>>> names = node_names(d)
>>> names[id(d)], op_label(d, lambda n: names[id(n)])
('d', '2 / c')
>>> svg = to_svg(d)                                     # doctest: +SKIP
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from pathlib import Path

from .engine import Scalar

# File extensions the graph can be written as, and the Graphviz format of each. "dot" is the DOT
# text itself (no Graphviz needed).
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

# Graphviz draws PNGs at 72 dpi by default: too small to read on today's screens.
PNG_DPI = 144

# Past this many nodes a drawing is unreadable and Graphviz slow: draw a smaller graph instead.
MAX_NODES = 1000

_INSTALL_DOT = ("the Graphviz program `dot` (Debian/Ubuntu: apt-get install graphviz; "
                "macOS: brew install graphviz; minigrad's ./run setup installs it)")
_INSTALL_PY = 'the Python package graphviz (pip install "minigrad[graph]", or pip install graphviz)'


class GraphvizNotFound(RuntimeError):
    """Graphviz (the ``dot`` program or its Python package) is not installed; the message says
    what to install."""


def node_names(root: Scalar, nodes: list[Scalar] | None = None) -> dict[int, str]:
    """A name for every node of ``root``'s graph, by ``id``: its label, or else the next free
    letter (a, b, c, ...) in forward order, as the lecture names its modules. Nothing is changed
    on the nodes.

    >>> from minigrad import Scalar
    >>> x = Scalar(3.0, label="x"); y = (x * x).sin()
    >>> [node_names(y)[id(n)] for n in y.topo()]
    ['x', 'a', 'b']
    """
    nodes = root.topo() if nodes is None else nodes
    taken = {n.label for n in nodes if n.label is not None}
    free = (f"{c}{k or ''}" for k in range(len(nodes) + 1) for c in string.ascii_lowercase)
    free = (c for c in free if c not in taken)
    return {id(n): n.label if n.label is not None else next(free) for n in nodes}


def op_label(node: Scalar, name) -> str:
    """What the diamond of ``node``'s module says: the module with its inputs' names (``sin b``,
    ``2 / c``, ``a * b``)."""
    return node.module(name)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def to_dot(root: Scalar, rankdir: str = "LR", grads: Mapping[int, float] | None = None,
           names: Mapping[int, str] | None = None, grad_text: Mapping[int, str] | None = None,
           max_nodes: int = MAX_NODES, dpi: int | None = None) -> str:
    """Graphviz DOT text of ``root``'s graph.

    Each value is a box (name, value, gradient); each module a diamond. ``grads`` maps
    ``id(node)`` to the gradient to show (default: each node's ``.grad``; a :class:`Trace`
    passes its own). Elements carry stable ids for scripts: ``v3`` is the box of the fourth node
    in forward order, ``op3`` its module, ``in3_0`` the arrow of its first input, ``out3`` the
    arrow from the module to the box. ``grad_text`` replaces the shown gradients by text;
    ``dpi`` sets the resolution of PNG output.
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    nodes = root.topo()
    if len(nodes) > max_nodes:
        raise ValueError(f"the graph has {len(nodes)} nodes, more than max_nodes={max_nodes} "
                         f"can show readably: draw a smaller part of it, or raise max_nodes")
    names = node_names(root, nodes) if names is None else names
    index = {id(n): i for i, n in enumerate(nodes)}

    def name(n):
        return names[id(n)]

    lines = [
        "digraph minigrad {",
        f'  rankdir={rankdir}; bgcolor="white"; nodesep=0.3; ranksep=0.35;',
        '  node [fontname="Helvetica", fontsize=12];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    if dpi is not None:
        lines.insert(2, f"  dpi={int(dpi)};")
    for n in nodes:
        i = index[id(n)]
        g = grads.get(id(n), 0.0) if grads is not None else n.grad
        gtext = grad_text[id(n)] if grad_text is not None else _fmt(g)
        fill = "#e8f0fe" if n._op is None else "#ffffff"
        width = ' BORDER="2"' if n is root else ' BORDER="1"'
        lines.append(
            f'  v{i} [id="v{i}", shape=plain, tooltip="{_attr(name(n))} = {n.data!r}", label=<'
            f'<TABLE{width} CELLBORDER="0" CELLSPACING="0" CELLPADDING="4" BGCOLOR="{fill}">'
            f'<TR><TD><B>{_html(name(n))}</B></TD></TR>'
            f'<TR><TD>value {_html(_fmt(n.data))}</TD></TR>'
            f'<TR><TD><FONT COLOR="#b3261e">grad {_html(gtext)}</FONT></TD></TR>'
            f'</TABLE>>];')
        if n._op is None:
            continue
        lines.append(f'  op{i} [id="op{i}", shape=diamond, style=filled, fillcolor="#fff4d6", '
                     f'margin="0.02,0.02", label="{_attr(op_label(n, name))}", '
                     f'tooltip="{_attr(name(n))} = {_attr(op_label(n, name))}"];')
        lines.append(f'  op{i} -> v{i} [id="out{i}"];')
        for j, p in enumerate(n._parents):
            lines.append(f'  v{index[id(p)]} -> op{i} [id="in{i}_{j}", '
                         f'tooltip="{_attr(name(p))} into {_attr(op_label(n, name))}"];')
    lines.append("}")
    return "\n".join(lines)


def _html(s: str) -> str:
    return html.escape(s, quote=False)


def _attr(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def render(dot: str, fmt: str) -> bytes:
    """Run Graphviz's ``dot`` on DOT text: the image in format ``fmt`` (svg, png, pdf)."""
    try:
        import graphviz
    except ImportError:
        raise GraphvizNotFound(f"drawing the graph needs {_INSTALL_PY}, and {_INSTALL_DOT}; "
                               f"without them, to_dot() gives the DOT text") from None
    try:
        return graphviz.pipe("dot", fmt, dot.encode())
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(f"drawing the graph needs {_INSTALL_DOT}: it is not on PATH; "
                               f"without it, to_dot() gives the DOT text") from None


def to_svg(root: Scalar, rankdir: str = "LR", **kw) -> str:
    """The graph of ``root`` as SVG text (values and ``.grad`` on the nodes), through Graphviz.

    Raises :class:`GraphvizNotFound`, naming what to install, when Graphviz is missing.
    """
    return render(to_dot(root, rankdir, **kw), "svg").decode()


def to_png(root: Scalar, rankdir: str = "LR", **kw) -> bytes:
    """The graph of ``root`` as PNG bytes, through Graphviz (144 dpi unless ``dpi`` is given)."""
    kw.setdefault("dpi", PNG_DPI)
    return render(to_dot(root, rankdir, **kw), "png")


def format_of(path) -> str:
    """The format a graph file is written in, from its extension (``g.png`` -> ``png``);
    ValueError for an extension that is not one of :data:`FORMATS`."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the image format of {str(path)!r} from its extension: use "
                         + ", ".join(FORMATS))
    return FORMATS[ext]


def write(root: Scalar, path, **kw) -> Path:
    """Write the graph to ``path`` in the format its extension names (.svg .png .pdf .dot)."""
    fmt = format_of(path)
    if fmt == "png":
        kw.setdefault("dpi", PNG_DPI)
    dot = to_dot(root, **kw)
    data = dot.encode() if fmt == "dot" else render(dot, fmt)
    path = Path(path)
    path.write_bytes(data)
    return path


def to_html_svg(root: Scalar, **kw) -> str:
    """The SVG element alone (no XML prolog), to put inline in an HTML page."""
    svg = to_svg(root, **kw)
    return svg[svg.index("<svg"):]


def _repr_svg(node: Scalar, limit: int = 200) -> str | None:
    # For notebooks: a large graph, or a machine without Graphviz, falls back to the text repr
    # (with a warning naming what to install) rather than failing every time a Scalar is shown.
    if len(node.topo()) > limit:
        return None
    try:
        return to_svg(node)
    except GraphvizNotFound as e:
        import warnings
        warnings.warn(str(e), RuntimeWarning, stacklevel=3)
        return None
