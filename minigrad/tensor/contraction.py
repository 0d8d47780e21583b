"""``einsum`` with PyTorch's equations, as a composite: repeated subscripts of an operand become
a ``diagonal``, subscripts needed nowhere else are summed away early, and the operands are
contracted left to right, each pair by one (batched) ``matmul`` after a ``permute`` and a
``reshape``. Every step is a differentiable op, so gradients come for free and it runs on every
backend.
"""

from __future__ import annotations

from .scans import ArgumentError


def _T():
    from .tensor import Tensor
    return Tensor


class _Op:
    """An operand and the label of each of its dims (letters; ellipsis dims are ``.0``, ``.1``,
    ... counted from the left of the widest ellipsis)."""

    def __init__(self, t, labels):
        self.t, self.labels = t, list(labels)

    def size(self, label):
        return self.t.shape[self.labels.index(label)]

    def sum(self, labels):
        dims = tuple(i for i, lab in enumerate(self.labels) if lab in labels)
        if dims:
            self.t = self.t.sum(dims)
            self.labels = [lab for lab in self.labels if lab not in labels]

    def permute(self, order):
        if order != self.labels:
            self.t = self.t.permute(*[self.labels.index(lab) for lab in order])
            self.labels = list(order)


def _parse_term(term, pos, who):
    """A term's labels: letters, and '...' at most once (as None)."""
    labels, i = [], 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if None in labels:
                raise ArgumentError(f"einsum(): found '.' for {who} for which an ellipsis was "
                                    f"already found")
            if term[i:i + 3] != "...":
                raise ArgumentError(f"einsum(): found '.' for {who} that is not part of any "
                                    f"ellipsis")
            labels.append(None)
            i += 3
            continue
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            raise ArgumentError(f"einsum(): invalid subscript given at index {pos + i} in the "
                                f"equation string, subscripts must be in [a-zA-Z]")
        labels.append(c)
        i += 1
    return labels


def _sublist(sub) -> str:
    out = []
    for n in sub:
        if n is Ellipsis:
            out.append("...")
        elif isinstance(n, int) and 0 <= n < 52:
            out.append(chr(ord("A") + n) if n < 26 else chr(ord("a") + n - 26))
        else:
            raise ValueError("einsum(): subscript in subscript list is not within the valid "
                             "range [0, 52)")
    return "".join(out)


def _from_sublists(args):
    """torch's sublist form as an equation and the operands (ints 0-25 are A-Z, 26-51 a-z)."""
    ops, terms = list(args[0::2]), [_sublist(s) for s in args[1::2]]
    out = _sublist(ops.pop()) if len(args) % 2 == 1 else None   # op, sub, ..., out_sub
    return ",".join(terms) + ("" if out is None else "->" + out), tuple(ops)


def einsum(equation: str, *operands):
    """Sum of products over the subscripts of ``equation`` (torch.einsum): ``'ij,jk->ik'``
    (matmul), implicit output (``'ij,jk'``: the subscripts that appear once, in alphabetical
    order), repeated subscripts for diagonals and traces (``'ii->i'``, ``'ii'``), ``...`` for
    broadcast batch dims, any number of operands (or one list of them), or torch's sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

    >>> import minigrad
    >>> a = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> minigrad.einsum("ij,jk->ik", a, a).tolist()
    [[7.0, 10.0], [15.0, 22.0]]
    >>> minigrad.einsum("ii", a).item()
    5.0
    """
    T = _T()
    if isinstance(equation, T):                  # sublist form: op, [0, 1], op, [1, 2], [0, 2]
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got "
                        f"{type(equation).__name__}")
    if not operands:
        raise ArgumentError("einsum(): must provide at least one operand")
    for op in operands:
        if not isinstance(op, T):
            raise TypeError(f"einsum(): operands must be Tensors, got {type(op).__name__}")
    # positions in the equation as written, for the error messages; spaces are allowed
    eq = equation
    arrow = eq.find("->")
    lhs = eq if arrow < 0 else eq[:arrow]
    terms, pos, start = [], [], 0
    for part in lhs.split(","):
        stripped = part.replace(" ", "")
        terms.append(stripped)
        pos.append(start + (len(part) - len(part.lstrip(" "))))
        start += len(part) + 1
    if len(terms) > len(operands):
        raise ArgumentError("einsum(): fewer operands were provided than specified in the "
                            "equation")
    if len(terms) < len(operands):
        raise ArgumentError("einsum(): more operands were provided than specified in the "
                            "equation")
    parsed = [_parse_term(t, p, f"operand {k}") for k, (t, p) in enumerate(zip(terms, pos))]

    # ellipsis dims: right-aligned, named from the left of the widest one
    ell = 0
    for k, (labels, op) in enumerate(zip(parsed, operands)):
        n = len([lab for lab in labels if lab is not None])
        if None in labels:
            if n > op.ndim:
                raise ArgumentError(f"einsum(): the number of subscripts in the equation ({n}) "
                                    f"is more than the number of dimensions ({op.ndim}) for "
                                    f"operand {k}")
            ell = max(ell, op.ndim - n)
        elif n != op.ndim:
            raise ArgumentError(f"einsum(): the number of subscripts in the equation ({n}) does "
                                f"not match the number of dimensions ({op.ndim}) for operand "
                                f"{k} and no ellipsis was given")
    ell_labels = [f".{i}" for i in range(ell)]
    ops = []
    for labels, op in zip(parsed, operands):
        full = []
        for lab in labels:
            if lab is None:
                m = op.ndim - (len(labels) - 1)
                full.extend(ell_labels[ell - m:])
            else:
                full.append(lab)
        ops.append(_Op(op, full))

    # the output's labels
    counts: dict = {}
    for labels in parsed:
        for lab in labels:
            if lab is not None:
                counts[lab] = counts.get(lab, 0) + 1
    if arrow < 0:
        out = ell_labels + sorted(lab for lab, c in counts.items() if c == 1)
    else:
        rhs = eq[arrow + 2:]
        out_parsed = _parse_term(rhs.replace(" ", ""), arrow + 2, "output")
        out = []
        for lab in out_parsed:
            if lab is None:
                out.extend(ell_labels)
                continue
            if lab in out:
                raise ArgumentError(f"einsum(): output subscript {lab} appears more than once "
                                    f"in the output")
            if lab not in counts:
                raise ArgumentError(f"einsum(): output subscript {lab} does not appear in the "
                                    f"equation for any input operand")
            out.append(lab)

    # repeated labels within an operand: take the diagonal
    for k, op in enumerate(ops):
        while True:
            seen = [lab for i, lab in enumerate(op.labels) if lab in op.labels[:i]]
            if not seen:
                break
            lab = seen[0]
            i = op.labels.index(lab)
            j = op.labels.index(lab, i + 1)
            if op.t.shape[i] != op.t.shape[j]:
                raise ArgumentError(f"einsum(): subscript {lab} is repeated for operand {k} but "
                                    f"the sizes don't match, {op.t.shape[j]} != "
                                    f"{op.t.shape[i]}")
            op.t = op.t.diagonal(0, i, j)
            op.labels = [x for n, x in enumerate(op.labels) if n not in (i, j)] + [lab]

    # every label's size: equal across operands, or 1 (broadcast)
    sizes: dict = {}
    for k, op in enumerate(ops):
        for lab, s in zip(op.labels, op.t.shape):
            prev = sizes.get(lab)
            if prev is None or prev == 1:
                sizes[lab] = s
            elif s != 1 and s != prev:
                name = f"subscript {lab}" if not lab.startswith(".") else \
                    f"dimension {int(lab[1:]) - ell} of ellipsis"
                raise ArgumentError(f"einsum(): {name} has size {s} for operand {k} which does "
                                    f"not broadcast with previously seen size {prev}")

    # contract left to right
    acc = ops[0]
    for n in range(len(ops)):
        later = set(out)
        for op in ops[n + 1:]:
            later.update(op.labels)
        if n == 0:
            acc.sum([lab for lab in acc.labels if lab not in later])
            continue
        b = ops[n]
        b.sum([lab for lab in b.labels if lab not in later and lab not in acc.labels])
        acc.sum([lab for lab in acc.labels if lab not in later and lab not in b.labels])
        acc = _contract(acc, b, later)
    # the result: only the output's labels, in its order, broadcast where an operand had size 1
    acc.sum([lab for lab in acc.labels if lab not in out])
    missing = [lab for lab in out if lab not in acc.labels]
    if missing:  # a label every operand summed away is impossible; this is ellipsis width 0
        raise ArgumentError(f"einsum(): internal error, labels {missing} lost")
    acc.permute(out)
    shape = tuple(sizes[lab] for lab in out)
    return acc.t if acc.t.shape == shape else acc.t.expand(*shape)


def _contract(a: _Op, b: _Op, keep) -> _Op:
    """a and b combined: labels in both and kept are batch dims, in both and not kept are
    summed by the matmul, the others are the rows (a) and columns (b)."""
    both = [lab for lab in a.labels if lab in b.labels]
    batch = [lab for lab in both if lab in keep]
    summed = [lab for lab in both if lab not in keep]
    # a summed label of size 1 on one side only: sum the other side, drop it from this one
    for lab in list(summed):
        sa, sb = a.size(lab), b.size(lab)
        if sa != sb:
            one, other = (a, b) if sa == 1 else (b, a)
            other.sum([lab])
            one.t = one.t.squeeze(one.labels.index(lab))
            one.labels.remove(lab)
            summed.remove(lab)
    rows = [lab for lab in a.labels if lab not in both]
    cols = [lab for lab in b.labels if lab not in both]
    a.permute(batch + rows + summed)
    b.permute(batch + summed + cols)
    nb = len(batch)

    def prod(shape):
        p = 1
        for s in shape:
            p *= s
        return p

    ab, ar, ak = a.t.shape[:nb], a.t.shape[nb:nb + len(rows)], a.t.shape[nb + len(rows):]
    bb, bk, bc = b.t.shape[:nb], b.t.shape[nb:nb + len(summed)], b.t.shape[nb + len(summed):]
    if not rows and not cols and not summed:     # a plain broadcast product
        return _Op(a.t * b.t, batch)
    am, bm = _reshaped(a.t, (*ab, prod(ar), prod(ak))), _reshaped(b.t, (*bb, prod(bk), prod(bc)))
    y = am @ bm
    return _Op(_reshaped(y, (*y.shape[:-2], *ar, *bc)), batch + rows + cols)


def _reshaped(t, shape):
    return t if t.shape == tuple(shape) else t.reshape(*shape)
