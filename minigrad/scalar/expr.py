"""A safe parser for expressions like ``2/sin(exp(-x))``: builds a Scalar graph, never ``eval``s.

Python's own parser turns the text into a syntax tree; we then accept only names, numbers, the
operators ``+ - * / **`` (and unary ``-``/``+``) and calls of the rule book's ops (``exp(x)``,
``maximum(x, y)``, and any op registered with :func:`minigrad.rules.register`). Anything else
raises :class:`ExpressionError` naming what was not understood.
"""

from __future__ import annotations

import ast
import string

from .. import rules
from . import ops as _ops
from .engine import Scalar


def functions() -> tuple[str, ...]:
    """The functions an expression may call: every rule of the rule book, registered ones too."""
    return rules.names()

_BINOPS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__",
           ast.Pow: "__pow__"}


_TOO_DEEP = ("the expression is nested too deeply to parse (Python's recursion limit): split it "
             "into parts, or build the graph with Scalar operations in Python")


class ExpressionError(ValueError):
    """The expression uses something outside the small language minigrad understands."""


def parse(text: str, variables: dict[str, float]) -> tuple[Scalar, dict[str, Scalar]]:
    """Build the graph of ``text`` with the given variable values.

    Returns the root and the leaf Scalar of each variable. Intermediate nodes are labelled
    a, b, c, ... in the order the forward pass computes them, as the lecture names its modules.

    >>> root, leaves = parse("2/sin(exp(-x))", {"x": -4.499})
    >>> [n.label for n in root.topo()]
    ['x', 'a', 'b', 'c', 'd']
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"cannot parse {text!r:.80}: {e.msg} at column {e.offset}") \
            from None
    except (RecursionError, MemoryError):
        raise ExpressionError(_TOO_DEEP) from None
    leaves = {name: Scalar(v, label=name) for name, v in variables.items()}
    used: set[str] = set()

    def build(node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(f"not a number: {node.value!r}")
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in rules.names():
                raise ExpressionError(f"{node.id} is a function: write {node.id}(...)")
            if node.id not in leaves:
                raise ExpressionError(
                    f"unknown name {node.id!r}: give its value as {node.id}=VALUE"
                    + (f" (known: {', '.join(sorted(leaves))})" if leaves else ""))
            used.add(node.id)
            return leaves[node.id]
        if isinstance(node, ast.BinOp):
            meth = _BINOPS.get(type(node.op))
            if meth is None:
                raise ExpressionError(f"operator {_src(node)!r} is not supported "
                                      "(use + - * / **)")
            a, b = build(node.left), build(node.right)
            if not isinstance(a, Scalar) and not isinstance(b, Scalar):
                return float(getattr(a, meth)(b))
            if isinstance(a, Scalar):
                return getattr(a, meth)(b)
            return getattr(b, meth.replace("__", "__r", 1))(a)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return v
            return -v
        if isinstance(node, ast.Call):
            known = functions()
            if not isinstance(node.func, ast.Name) or node.func.id not in known:
                raise ExpressionError(f"unknown function {_src(node.func)!r}; known: "
                                      + ", ".join(known))
            rule = rules.get(node.func.id)
            if len(node.args) != rule.arity or node.keywords:
                n = rule.arity
                raise ExpressionError(f"{rule.name}() takes exactly {n} argument"
                                      + ("s" if n > 1 else ""))
            args = [build(a) for a in node.args]
            first = next((i for i, a in enumerate(args) if isinstance(a, Scalar)), None)
            if first is None:
                return Scalar(args[0]).apply(rule, *args[1:]).data
            if first == 0 or rule.arity != 2:
                head = args[0] if isinstance(args[0], Scalar) else Scalar(args[0])
                return head.apply(rule, *args[1:])
            # maximum(2, x): the constant on the left, kept inside the module as for 2 / x
            return args[1]._binary(args[0], _ops.op(rule.name), "left")
        raise ExpressionError(f"not understood: {_src(node)!r} "
                              f"({type(node).__name__} is not part of the expression language)")

    try:
        root = build(tree.body)
    except RecursionError:
        raise ExpressionError(_TOO_DEEP) from None
    if not isinstance(root, Scalar):
        raise ExpressionError(f"{text!r} has no variable: nothing to differentiate")
    unused = set(leaves) - used
    if unused:
        raise ExpressionError(f"variable(s) not in the expression: {', '.join(sorted(unused))}")
    names = iter(c for c in string.ascii_lowercase if c not in leaves)
    for n in root.topo():
        if n.label is None:
            n.label = next(names, None)
    return root, leaves


def _src(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node we meet
        return type(node).__name__


def parse_assignments(items: list[str]) -> dict[str, float]:
    """``["x=-4.499", "y=2"]`` -> ``{"x": -4.499, "y": 2.0}`` with clear errors."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ExpressionError(f"expected VAR=VALUE, got {item!r}")
        name, _, val = item.partition("=")
        name = name.strip()
        if not name.isidentifier():
            raise ExpressionError(f"not a variable name: {name!r}")
        try:
            out[name] = float(val)
        except ValueError:
            raise ExpressionError(f"value of {name} is not a number: {val!r}") from None
    return out
