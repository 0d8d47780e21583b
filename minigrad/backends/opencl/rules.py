"""The host side of ``kernels/rules.cl``: every rule of the rule book as generated kernels.

The device namespace of the OpenCL backend is :mod:`minigrad.symbolic`: a rule's forward and its
local derivatives, evaluated on symbols, print as OpenCL C. This module wraps each in a kernel
(``out = f(x...)`` for the forward, ``out = g * local_i(x..., y)`` for the vector-Jacobian
product of input i), builds it once per rule, operand kinds and dtype, and launches it. So a rule
registered at run time runs on the device with no code of its own, and the generated vjp kernels
are fused (one pass, no temporaries) for every rule.

>>> import numpy as np
>>> from minigrad import rules
>>> from minigrad.backends.opencl import rules as R, device
>>> x = device.asarray(np.array([-1.0, 2.0], np.float32))                  # doctest: +SKIP
>>> device.to_numpy(R.elementwise(rules.get("relu"), x))                   # doctest: +SKIP
array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ... import symbolic
from . import runtime
from .device import (
    _FLOATS,
    _broadcast_strides,
    _check_any,
    _collapse,
    _empty,
    _i,
    _int8,
    _is_scalar,
    _options_any,
    _run1d,
    _same_dtype,
)

_exprs: dict = {}      # (rule, "fwd" | vjp input index) -> C expression text (None: constant 1)
_kernels: dict = {}    # (context, rule, which, kinds, strided, dtype) -> cl.Kernel


def _expr(rule, which):
    """The C expression of the forward (which = "fwd") or of g * local_which, traced once."""
    key = (rule, which)
    e = _exprs.get(key, False)
    if e is not False:
        return e
    ns, xs = symbolic.namespace, [symbolic.Var(f"x{k}") for k in range(rule.arity)]
    if which == "fwd":
        text = symbolic.to_c(rule.forward(ns, *xs))
    else:
        local = rule.local[which](ns, *xs, symbolic.Var("y"))
        if symbolic.is_constant(local) and float(local) == 1.0:
            text = None                   # d/dx_i is 1: the vjp is g itself (add, sub)
        else:
            text = symbolic.to_c(symbolic.Var("g") * local)
    _exprs[key] = text
    return text


def _source(kname, names, kinds, strided, expr):
    """One kernel: ``out[i] = expr`` over operands ``names``; kinds[k] is "s" for a scalar
    argument, "a" for a device array (read at i, or through strides when ``strided``)."""
    params, loads = ["__global real *out"], []
    for nm, kind in zip(names, kinds):
        if kind == "s":
            params.append(f"const real {nm}")
        elif strided:
            params += [f"__global const real *{nm}_p", f"const int8 {nm}_st"]
            loads.append(f"    const real {nm} = {nm}_p[offset_of(i, ndim, shape, {nm}_st)];")
        else:
            params.append(f"__global const real *{nm}_p")
            loads.append(f"    const real {nm} = {nm}_p[i];")
    params.append("const int n")
    if strided:
        params += ["const int ndim", "const int8 shape"]
    return (f"__kernel void {kname}({', '.join(params)})\n{{\n"
            f"    const int i = get_global_id(0);\n    if (i >= n) return;\n"
            + "\n".join(loads) + f"\n    out[i] = MG_STORE({expr});\n}}\n")


def _kernel_name(rule, which, kinds, strided) -> str:
    part = "fwd" if which == "fwd" else f"vjp{which}"
    return f"{rule.name}_{part}_{''.join(kinds)}_{'s' if strided else 'c'}_kernel"


def _variants(rule, forward_only=False):
    """Every kernel of a rule: forward and each vjp, for each scalar/array mix of its inputs
    (at least one array) and both layouts. One program per rule: a build costs ~0.2 s on PoCL,
    so building the variants one by one as they were first used made a test run compile
    hundreds of programs. ``forward_only``: integer builds (integers have no gradient)."""
    n = rule.arity
    mixes = [tuple("s" if (m >> k) & 1 else "a" for k in range(n)) for m in range(2 ** n)]
    names = tuple(f"x{k}" for k in range(n))
    out = []
    for strided in (False, True):
        for kinds in mixes:
            if "a" in kinds:
                out.append((_kernel_name(rule, "fwd", kinds, strided), names, kinds, strided,
                            _expr(rule, "fwd")))
            for i in range(0 if forward_only else n):
                expr = _expr(rule, i)
                if expr is not None:
                    out.append((_kernel_name(rule, i, kinds + ("a", "a"), strided),
                                names + ("y", "g"), kinds + ("a", "a"), strided, expr))
    return out


def _kernel(rule, which, kinds, strided, dtype):
    ctx = runtime.get_context()
    key = (id(ctx), rule, which, kinds, strided, dtype)
    k = _kernels.get(key)
    if k is None:
        integer = dtype not in _FLOATS
        src = "".join(_source(*v) for v in _variants(rule, integer))
        # built once per rule and dtype; integer and bool arrays only by the rules closed over
        # integers (add, mul, maximum, ...): the tensor engine computes the others in float
        prog = runtime.program("rules.cl", _options_any(dtype), src)
        k = _kernels[key] = getattr(prog, _kernel_name(rule, which, kinds, strided))
    return k


def _integer_operands(rule, dtype, operands):
    """Refuse what numpy refuses for integer and bool arrays (the cpu engine's errors): rules
    not closed over integers, bool subtraction and negation, negative integer powers."""
    if not rule.integer:
        raise TypeError(f"{rule.name}: integer and bool arrays are computed as floats by the "
                        f"tensor engine; the kernel takes float32 or float64, got {dtype}")
    if dtype.kind == "b" and rule.name in ("sub", "neg"):
        raise TypeError(f"{rule.name}: numpy boolean {rule.name} is not supported: use "
                        f"logical_xor or logical_not")
    if rule.name == "pow" and dtype.kind == "i":
        b = operands[1]
        if _is_scalar(b):
            negative = b < 0
        else:
            from .reduce import min as rmin
            negative = b.size and rmin(_check_any(b, "pow")).get() < 0
        if negative:
            raise ValueError("Integers to negative integer powers are not allowed.")


def _launch(rule, which, operands, shape=None, out=None):
    arrays = [x for x in operands if not _is_scalar(x)]
    if not arrays:
        raise TypeError(f"{rule.name}: at least one operand must be a device array")
    arrays = [_check_any(x, rule.name) for x in arrays]
    if any(x.dtype not in _FLOATS for x in arrays) and which == "fwd" and out is None:
        # integer and bool arrays of different dtypes, or bool with a Python int: numpy's
        # result dtype (the cpu engine's), cast to on the device
        want = np.result_type(*[x if _is_scalar(x) else x.dtype for x in operands])
        if want.kind in "biu" and any(x.dtype != want for x in arrays):
            from .typed import astype
            operands = tuple(x if _is_scalar(x) else astype(x, want) for x in operands)
            arrays = [x for x in operands if not _is_scalar(x)]
    _same_dtype(rule.name, *arrays)
    dtype = arrays[0].dtype
    if dtype not in _FLOATS:
        _integer_operands(rule, dtype, operands)
    if shape is None:
        try:
            shape = tuple(np.broadcast_shapes(*[x.shape for x in arrays]))
        except ValueError:
            raise ValueError(f"{rule.name}: shapes {' and '.join(str(x.shape) for x in arrays)} "
                             f"do not broadcast") from None
    kinds = tuple("s" if _is_scalar(x) else "a" for x in operands)
    strided = any(x.shape != shape for x in arrays)
    if out is None:
        out = _empty(shape, dtype)
    n = out.size
    args = []
    if strided:
        shapes = [x.shape for x in operands if not _is_scalar(x)]
        dims, strides = _collapse(shape, *[_broadcast_strides(s, shape) for s in shapes])
        strides = iter(strides)
    it = iter(arrays)
    for x, kind in zip(operands, kinds):
        if kind == "s":
            args.append(dtype.type(x))
        else:
            args.append(next(it).data)
            if strided:
                args.append(_int8(next(strides)))
    args.append(_i(n))
    if strided:
        args += [_i(len(dims)), _int8(dims)]
    _run1d(_kernel(rule, which, kinds, strided, dtype), n, out.data, *args)
    return out


def elementwise(rule, *xs, out=None):
    """``rule.forward`` over device arrays (broadcasting) and Python numbers, in one kernel;
    ``out``: write into this array of the output's shape (it may be an operand: in place)."""
    return _launch(rule, "fwd", xs, None if out is None else tuple(out.shape), out)


def elementwise_vjp(rule, i, g, xs, y):
    """``g * rule.local[i](*xs, y)`` in the output's shape, in one kernel."""
    if _expr(rule, i) is None:
        return g
    return _launch(rule, i, tuple(xs) + (y, g), shape=tuple(g.shape))
