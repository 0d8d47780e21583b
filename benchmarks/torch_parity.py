"""PyTorch parity: about 400 op cases, each run on PyTorch and on minigrad, and compared.

Written as an outside tester would: every case is one piece of torch-style code, a function of
the library module ``T`` (``torch`` or ``minigrad``) and of input tensors made from numpy arrays,
so the same code runs on both. For each case the harness compares the results (shapes, dtypes,
values; python scalars, tuples, bools, lists too) and, where torch's outputs carry a gradient,
the gradients of every float input (a random-weighted sum of the outputs is backpropagated).

Each case ends in one class:

- PASS     everything agrees;
- MISSING  minigrad raises AttributeError, NotImplementedError or TypeError (an op, method,
           attribute or argument it does not have);
- ERROR    minigrad raises anything else (or the wrong exception type where torch raises);
- WRONG    values, shapes, dtypes, requires_grad or gradients differ, or minigrad returns where
           torch raises (the worst class: code ported from PyTorch silently computes something
           else).

Usage (from the repository root)::

    .venv/bin/python benchmarks/torch_parity.py                     # cpu and opencl
    .venv/bin/python benchmarks/torch_parity.py --device cpu -k loss --list-failures

A report, not a test: it prints a summary per device (pass rate, counts by class, by section)
and the failures with a one-line reason. ``tests/tensor/test_parity_harness.py`` keeps it working.
"""

import argparse
import inspect
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

# ---- inputs --------------------------------------------------------------------------------------

_RNG = np.random.default_rng(20240610)


@dataclass
class In:
    """An input tensor: a numpy array, the dtype to make it with (None: float arrays become
    float32, others keep numpy's dtype) and whether it requires grad (None: float inputs do
    when the case has gradients)."""
    array: np.ndarray
    dtype: str = None
    grad: bool = None


def R(*shape, lo=-2.0, hi=2.0):
    """Uniform floats."""
    return In(_RNG.uniform(lo, hi, shape))


def P(*shape):
    """Positive floats, away from 0."""
    return R(*shape, lo=0.3, hi=2.0)


def U(*shape):
    """Floats inside (-1, 1), away from the ends."""
    return R(*shape, lo=-0.9, hi=0.9)


def NZ(*shape):
    """Floats away from 0, both signs."""
    return In(_RNG.uniform(0.3, 2.0, shape) * _RNG.choice([-1.0, 1.0], shape))


def D(*shape, scale=0.37):
    """Distinct floats (no ties: max, sort, pooling have one winner)."""
    n = int(np.prod(shape))
    return In((_RNG.permutation(n) * scale - n * scale / 2).reshape(shape))


def A(values, dtype=None, grad=None):
    """Given values."""
    return In(np.array(values), dtype, grad)


def IT(values, dtype="int64"):
    """Integer tensor from given values."""
    return In(np.array(values), dtype, False)


def RI(lo, hi, *shape, dtype="int64"):
    """Random integers in [lo, hi)."""
    return In(_RNG.integers(lo, hi, shape), dtype, False)


def B(*shape):
    """Random bools."""
    return In(_RNG.random(shape) > 0.5, "bool", False)


def f64(x):
    """The same input in float64."""
    return In(x.array, "float64", x.grad)


def nograd(x):
    return In(x.array, x.dtype, False)


def F(T):
    """``T.nn.functional`` (torch.nn.functional / minigrad.nn.functional)."""
    return T.nn.functional


# ---- cases ---------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    fn: object
    inputs: tuple
    grad: bool = True
    values: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4
    gatol: float = 1e-4
    grtol: float = 1e-3
    raises: type = None
    wants_dev: bool = field(default=False, repr=False)


CASES = []


def add(name, fn, *inputs, **options):
    assert name not in {c.name for c in CASES}, name
    inputs = tuple(x if isinstance(x, In) else In(np.asarray(x)) for x in inputs)
    wants_dev = "dev" in inspect.signature(fn).parameters
    CASES.append(Case(name, fn, inputs, wants_dev=wants_dev, **options))


# -- operators and their method forms
add("op.add_broadcast", lambda T, a, b: a + b, R(3, 1, 4), R(2, 1))
add("op.sub", lambda T, a, b: a - b, R(2, 3), R(3))
add("op.mul_broadcast", lambda T, a, b: a * b, R(4, 1), R(1, 3))
add("op.truediv", lambda T, a, b: a / b, R(2, 3), NZ(2, 1))
add("op.pow_tensor", lambda T, a, b: a ** b, P(2, 3), R(3))
add("op.pow_int_scalar", lambda T, a: a ** 3, R(2, 3))
add("op.pow_half", lambda T, a: a ** 0.5, P(2, 3))
add("op.pow_neg", lambda T, a: a ** -1.5, P(2, 3))
add("op.rpow", lambda T, a: 2.0 ** a, R(2, 3))
add("op.radd_rsub", lambda T, a: 1.0 - a + 2, R(3))
add("op.rtruediv", lambda T, a: 2.0 / a, NZ(3))
add("op.rmul_int", lambda T, a: 3 * a, R(3))
add("op.neg", lambda T, a: -a, R(2, 3))
add("op.pos", lambda T, a: +a, R(2, 3))
add("op.abs_builtin", lambda T, a: abs(a), NZ(2, 3))
add("op.matmul", lambda T, a, b: a @ b, R(3, 4), R(4, 2))
add("op.iadd_chain", lambda T, a, b: (a * 2 + b) * (a - b) / 3.0, R(4), R(4))
CMP_A = np.array([[1.0, 2.0, 3.0], [4.0, 2.0, 0.0]])
CMP_B = np.array([1.0, 2.0, 5.0])
for _n, _op in [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"),
                ("ge", ">=")]:
    add(f"op.{_n}_tensor", eval(f"lambda T, a, b: a {_op} b"), A(CMP_A), A(CMP_B))
    add(f"op.{_n}_scalar", eval(f"lambda T, a: a {_op} 2.0"), A(CMP_A))
    add(f"method.{_n}", eval(f"lambda T, a, b: a.{_n}(b)"), A(CMP_A), A(CMP_B))
add("op.eq_int_tensors", lambda T, a, b: a == b, IT([1, 2, 3, 4]), IT([1, 0, 3, 0]))
add("op.accuracy_idiom", lambda T, x, y: (x.argmax(1) == y).float().mean(), D(4, 3),
    IT([2, 0, 1, 1]))
add("op.reversed_cmp", lambda T, a: 1.0 < a, R(5))
add("op.floordiv_float", lambda T, a: a // 0.7, R(3, 4, lo=-3, hi=3), grad=False)
add("op.floordiv_int", lambda T, a, b: a // b, IT([[7, -7, 9], [-9, 5, 0]]), IT([2, 3, -4]))
add("op.rfloordiv_int", lambda T, a: 7 // a, IT([2, -3, 4]))
add("op.mod_float", lambda T, a: a % 0.7, R(3, 4, lo=-3, hi=3))
add("op.mod_int", lambda T, a, b: a % b, IT([[7, -7, 9], [-9, 5, 0]]), IT([2, 3, -4]))
add("op.rmod", lambda T, a: 5.0 % a, P(4), grad=False)  # torch: no derivative
add("op.and_bool", lambda T, a, b: a & b, B(3, 4), B(3, 4))
add("op.or_bool", lambda T, a, b: a | b, B(3, 4), B(4))
add("op.xor_bool", lambda T, a, b: a ^ b, B(3, 4), B(3, 4))
add("op.invert_bool", lambda T, a: ~a, B(3, 4))
add("op.and_int", lambda T, a, b: a & b, RI(0, 64, 3, 4), RI(0, 64, 3, 4))
add("op.or_int_scalar", lambda T, a: a | 3, RI(0, 64, 5))
add("op.xor_int", lambda T, a, b: a ^ b, RI(-20, 64, 6), RI(0, 64, 6))
add("op.invert_int", lambda T, a: ~a, IT([0, 5, -3]))
add("op.lshift", lambda T, a: a << 2, IT([1, 3, -5]))
add("op.rshift", lambda T, a, b: a >> b, IT([64, 37, -9]), IT([1, 2, 1]))
add("op.mask_combine", lambda T, a: (a > -1.0) & (a < 1.0) | (a == 0.0), R(3, 4))
add("method.add", lambda T, a, b: a.add(b), R(3, 4), R(4))
add("method.add_alpha", lambda T, a, b: a.add(b, alpha=2.5), R(3, 4), R(3, 4))
add("method.add_scalar", lambda T, a: a.add(1.5), R(3, 4))
add("method.sub_alpha", lambda T, a, b: a.sub(b, alpha=0.5), R(3, 4), R(4))
add("method.mul_scalar", lambda T, a: a.mul(-2.0), R(3, 4))
add("method.mul", lambda T, a, b: a.mul(b), R(3, 4), R(3, 1))
add("method.div", lambda T, a, b: a.div(b), R(3, 4), NZ(4))
add("method.div_trunc", lambda T, a: a.div(0.7, rounding_mode="trunc"), R(3, 4), grad=False)
add("method.div_floor", lambda T, a: a.div(0.7, rounding_mode="floor"), R(3, 4), grad=False)
add("method.true_divide", lambda T, a, b: a.true_divide(b), R(3), NZ(3))
add("method.pow", lambda T, a: a.pow(2), R(3, 4))
add("method.pow_tensor", lambda T, a, b: a.pow(b), P(3, 4), R(4))
add("method.matmul", lambda T, a, b: a.matmul(b), R(2, 3), R(3, 4))
add("method.neg", lambda T, a: a.neg(), R(3))
add("method.negative", lambda T, a: a.negative(), R(3))
add("method.reciprocal", lambda T, a: a.reciprocal(), NZ(3, 2))
add("method.floor_divide", lambda T, a, b: a.floor_divide(b), IT([7, -7, 9]), IT([2, 2, -4]))
add("method.mm", lambda T, a, b: a.mm(b), R(2, 3), R(3, 4))
add("method.bmm", lambda T, a, b: a.bmm(b), R(2, 2, 3), R(2, 3, 4), atol=1e-4)
add("method.mv", lambda T, a, b: a.mv(b), R(2, 3), R(3))
add("method.dot", lambda T, a, b: a.dot(b), R(5), R(5))
add("method.outer", lambda T, a, b: a.outer(b), R(3), R(4))
add("func.mm", lambda T, a, b: T.mm(a, b), R(2, 3), R(3, 4))
add("func.matmul", lambda T, a, b: T.matmul(a, b), R(2, 3), R(3))
add("func.add_alpha", lambda T, a, b: T.add(a, b, alpha=2), R(2, 3), R(3))
add("func.mul", lambda T, a, b: T.mul(a, b), R(2, 3), R(3))

# -- conversions and tensor properties
add("conv.np_asarray", lambda T, a: np.asarray(a), R(2, 3), grad=False)
add("conv.np_asarray_int", lambda T, a: np.asarray(a), IT([[1, 2], [3, 4]]))
add("conv.numpy", lambda T, a: a.detach().cpu().numpy(), R(2, 3))
add("conv.clone", lambda T, a: a.clone() * 2, R(3, 4))


def _clone_is_copy(T, a):
    c = a.clone()
    c += 1
    return a, c


add("conv.clone_is_copy", _clone_is_copy, R(3), grad=False)
add("conv.contiguous", lambda T, a: a.t().contiguous(), R(3, 4))
# (not a.t().is_contiguous(): minigrad's transposes are copies, always contiguous; a documented
# difference that changes no value)
add("conv.is_contiguous", lambda T, a: (a.is_contiguous(), a.t().contiguous().is_contiguous()),
    R(3, 4))
add("conv.detach", lambda T, a: a.detach(), R(3, 4))
add("conv.detach_mixed", lambda T, a: a.detach() * a, R(3, 4))
add("conv.item", lambda T, a: a.sum().item(), R(3, 4))
add("conv.item_int", lambda T, a: a.sum().item(), IT([1, 2, 3]))
add("conv.item_bool", lambda T, a: (a > 0).any().item(), R(3))
add("conv.tolist", lambda T, a: a.tolist(), R(2, 3), grad=False)
add("conv.tolist_int", lambda T, a: a.tolist(), IT([[1, 2], [3, 4]]))
add("conv.tolist_bool", lambda T, a: (a > 0).tolist(), R(2, 2))
add("conv.int", lambda T, a: a.int(), R(3, 4, lo=-5, hi=5))
add("conv.long", lambda T, a: a.long(), R(3, 4, lo=-5, hi=5))
add("conv.float_from_int", lambda T, a: a.float(), IT([1, -2, 3]))
add("conv.double", lambda T, a: a.double() * 2, R(3))
add("conv.bool", lambda T, a: a.bool(), A([0.0, 1.5, -2.0, 0.0]))
add("conv.half", lambda T, a: a.half(), R(3, 4))
add("conv.bool_to_float", lambda T, a: a.float(), B(3, 4))
add("conv.type_dtype", lambda T, a: a.type(T.float64), R(3))
add("conv.to_dtype", lambda T, a: a.to(T.int32), R(3, lo=-5, hi=5))
add("conv.to_dtype_kw", lambda T, a: a.to(dtype=T.float64) * 3, R(3))
add("conv.to_device_dtype", lambda T, a, dev: a.to(dev, T.float64), R(3))
add("conv.float_builtin", lambda T, a: float(a.sum()), R(3))
add("conv.int_builtin", lambda T, a: int(a[1]), IT([4, 7]))
add("conv.bool_builtin", lambda T, a: bool(a.sum() > 0), R(3))
add("conv.if_tensor", lambda T, a: 1 if (a > 5).any() else 0, R(3))
add("conv.len", lambda T, a: len(a), R(4, 2))
add("conv.numel_dim", lambda T, a: (a.numel(), a.dim(), a.ndim), R(2, 3, 4))
add("conv.size", lambda T, a: (a.size(), a.size(1), a.size(-1), a.shape), R(2, 3, 4))
add("conv.shape_index", lambda T, a: a.shape[0] * a.shape[-1], R(2, 3, 4))
add("conv.T", lambda T, a: a.T, R(2, 3))
add("conv.mT", lambda T, a: a.mT, R(4, 2, 3))
add("conv.t", lambda T, a: a.t(), R(2, 3))
add("conv.is_floating_point", lambda T, a, b: (a.is_floating_point(), b.is_floating_point()),
    R(2), IT([1]))
add("conv.dtype_attr", lambda T, a, b: (a.dtype, b.dtype, (a > 0).dtype), R(2), IT([1]))
add("conv.dtype_eq", lambda T, a: (a.dtype == T.float32, a.long().dtype == T.int64), R(2))
add("conv.requires_grad_attr", lambda T, a, b: (a.requires_grad, b.requires_grad,
                                                (a * 2).requires_grad), R(2), nograd(R(2)))
add("conv.is_leaf", lambda T, a: (a.is_leaf, (a * 2).is_leaf), R(2))
add("conv.requires_grad_", lambda T, a: a.requires_grad_() * 2, nograd(R(3)))
add("conv.iterate", lambda T, a: [r.sum() for r in a], R(3, 2))
add("conv.unpack", lambda T, a: (lambda u, v: u * v)(*a), R(2, 3))
add("conv.element_size", lambda T, a: (a.element_size(), a.double().element_size()), R(2))

# -- in place
add("inplace.add_", lambda T, a: a.add_(1.5), R(3, 4), grad=False)
add("inplace.mul_", lambda T, a, b: a.mul_(b), R(3, 4), R(4), grad=False)
add("inplace.sub_alpha", lambda T, a, b: a.sub_(b, alpha=2), R(3, 4), R(3, 4), grad=False)
add("inplace.div_", lambda T, a: a.div_(4.0), R(3, 4), grad=False)
add("inplace.zero_", lambda T, a: a.zero_(), R(3, 4), grad=False)
add("inplace.fill_", lambda T, a: a.fill_(3.0), R(3, 4), grad=False)
add("inplace.clamp_", lambda T, a: a.clamp_(min=0.0), R(3, 4), grad=False)
add("inplace.copy_", lambda T, a, b: a.copy_(b), R(3, 4), R(4), grad=False)
add("inplace.masked_fill_", lambda T, a: a.masked_fill_(a > 0, -1.0), R(3, 4), grad=False)


def _augmented(T, a, b):
    a += b
    a *= 2
    a -= 1
    a /= 4
    return a


add("inplace.augmented", _augmented, R(3, 4), R(4), grad=False)
add("inplace.int_div_raises", lambda T, a: a.div_(2), IT([1, 2]), raises=RuntimeError)
add("inplace.leaf_raises", lambda T, a: a.add_(1), R(3), raises=RuntimeError)


def _inplace_then_backward(T, a):
    y = a * 2
    z = y * y           # mul saved y
    y.add_(1)
    z.sum().backward()
    return a.grad


add("inplace.saved_modified_raises", _inplace_then_backward, R(3), raises=RuntimeError)


def _inplace_in_graph(T, a):
    y = a * 2
    y.add_(1)
    y.mul_(a)
    return y


add("inplace.in_graph_grad", _inplace_in_graph, R(3, 4))

# -- dtype promotion (as torch.result_type)
I23 = [[1, 2, 3], [4, 5, 6]]
add("dtype.int_plus_float_scalar", lambda T, a: a + 0.5, IT(I23))
add("dtype.int_times_int_scalar", lambda T, a: a * 2, IT(I23))
add("dtype.int32_plus_int_scalar", lambda T, a: a + 2, IT(I23, "int32"))
add("dtype.int32_plus_int64", lambda T, a, b: a + b, IT(I23, "int32"), IT([1, 2, 3]))
add("dtype.int_div_int", lambda T, a, b: a / b, IT(I23), IT([2, 4, 3]))
add("dtype.int_div_scalar", lambda T, a: a / 2, IT(I23))
add("dtype.int32_div_int32", lambda T, a, b: a / b, IT(I23, "int32"), IT([2, 4, 3], "int32"))
add("dtype.int_pow_int", lambda T, a: a ** 2, IT(I23))
add("dtype.int_pow_int_tensor", lambda T, a, b: a ** b, IT(I23), IT([0, 1, 3]))
add("dtype.int_pow_neg_raises", lambda T, a: a ** -2, IT(I23), raises=RuntimeError)
add("dtype.int_pow_float", lambda T, a: a ** 0.5, IT(I23))
add("dtype.scalar_pow_int", lambda T, a: 2 ** a, IT(I23))
add("dtype.uint8_plus_int8", lambda T, a, b: a + b, IT([1, 200, 3], "uint8"),
    IT([-1, 2, -3], "int8"))
add("dtype.uint8_plus_scalar", lambda T, a: a + 1, IT([1, 200, 3], "uint8"))
add("dtype.int8_times_int16", lambda T, a, b: a * b, IT([1, -2, 3], "int8"),
    IT([100, 2, -300], "int16"))
add("dtype.bool_plus_int_scalar", lambda T, a: a + 1, B(2, 3))
add("dtype.bool_plus_float_scalar", lambda T, a: a + 1.5, B(2, 3))
add("dtype.bool_times_float", lambda T, m, x: m * x, B(2, 3), R(2, 3))
add("dtype.bool_sum", lambda T, a: a.sum(), B(3, 4))
add("dtype.int32_sum", lambda T, a: a.sum(), IT(I23, "int32"))
add("dtype.uint8_sum", lambda T, a: a.sum(0), IT([[200, 100], [100, 1]], "uint8"))
add("dtype.float32_plus_float64", lambda T, a, b: a + b, R(2, 3), f64(R(3)))
add("dtype.float32_plus_0d_float64", lambda T, a, b: a + b, R(2, 3), f64(R()))
add("dtype.int32_plus_0d_int64", lambda T, a, b: a + b, IT(I23, "int32"), IT(7))
add("dtype.int_plus_0d_float", lambda T, a, b: a * b, IT(I23), R())
add("dtype.int32_plus_0d_float64", lambda T, a, b: a + b, IT(I23, "int32"), f64(R()))
add("dtype.float64_plus_float_scalar", lambda T, a: a + 0.1, f64(R(3)))
add("dtype.float32_times_int_tensor", lambda T, a, b: a * b, R(2, 3), IT(I23))
add("dtype.int_lt_float_scalar", lambda T, a: a < 2.5, IT(I23))
add("dtype.int_lt_float_tensor", lambda T, a, b: a < b, IT(I23), R(3, lo=0, hi=6))
add("dtype.where_int_float", lambda T, c, a, b: T.where(c, a, b), B(2, 3), IT(I23), R(2, 3))
add("dtype.where_scalars_float", lambda T, c: T.where(c, 1.0, 0.0), B(2, 3))
add("dtype.where_scalars_int", lambda T, c: T.where(c, 1, 0), B(2, 3))
add("dtype.where_tensor_scalar", lambda T, c, a: T.where(c, a, 0), B(2, 3), IT(I23, "int32"))
add("dtype.cat_int32_int64", lambda T, a, b: T.cat([a, b]), IT([1, 2], "int32"), IT([3]))
add("dtype.cat_float32_float64", lambda T, a, b: T.cat([a, b]), R(2), f64(R(3)))
add("dtype.int_mean_raises", lambda T, a: a.mean(), IT(I23), raises=RuntimeError)
add("dtype.int_mean_dtype", lambda T, a: a.mean(dtype=T.float64), IT(I23))
add("dtype.sum_dtype_float64", lambda T, a: a.sum(1, dtype=T.float64), R(2, 3))
add("dtype.int_prod", lambda T, a: a.prod(), IT(I23, "int32"))
add("dtype.int32_cumsum", lambda T, a: a.cumsum(1), IT(I23, "int32"))
add("dtype.argmax_is_int64", lambda T, a: a.argmax(0), D(3, 4))
add("dtype.int_max", lambda T, a: a.max(), IT(I23, "int32"))
add("dtype.int_abs", lambda T, a: a.abs(), IT([-3, 2, 0]))
add("dtype.int_neg", lambda T, a: -a, IT([-3, 2, 0], "int16"))
add("dtype.int_sqrt", lambda T, a: a.sqrt(), IT(I23))
add("dtype.int_exp", lambda T, a: a.exp(), IT(I23, "int32"))
add("dtype.int_sigmoid", lambda T, a: a.sigmoid(), IT(I23))
add("dtype.int_floor", lambda T, a: a.floor(), IT(I23))
add("dtype.int_clamp", lambda T, a: a.clamp(2, 4), IT(I23))
add("dtype.int_clamp_float_bound", lambda T, a: a.clamp(min=2.5), IT(I23))
add("dtype.int_matmul", lambda T, a, b: a @ b, IT(I23), IT([[1, 0], [2, 1], [-1, 3]]))
add("dtype.int_sum_dim", lambda T, a: a.sum(1, keepdim=True), IT(I23))
add("dtype.float16_add", lambda T, a, b: a + b, In(R(3).array, "float16"),
    In(R(3).array, "float16"), grad=False, atol=2e-3, rtol=2e-3)
add("dtype.float16_plus_float32", lambda T, a, b: a + b, In(R(3).array, "float16", False),
    R(3), atol=2e-3, rtol=2e-3)
add("dtype.float16_roundtrip", lambda T, a: a.half().float(), R(3, 4), atol=2e-3, rtol=2e-3)
add("dtype.float16_sum", lambda T, a: a.sum(), In(R(8).array, "float16"), grad=False,
    atol=1e-2, rtol=1e-2)
add("dtype.uint8_invert", lambda T, a: ~a, IT([0, 5, 255], "uint8"))
add("dtype.int_div_floor_mode", lambda T, a, b: a.div(b, rounding_mode="floor"),
    IT([7, -7, 9]), IT([2, 2, -4]))
add("dtype.int_div_trunc_mode", lambda T, a, b: a.div(b, rounding_mode="trunc"),
    IT([7, -7, 9]), IT([2, 2, -4]))
add("dtype.maximum_int_float", lambda T, a, b: T.maximum(a, b), IT(I23), R(3, lo=0, hi=6))
add("dtype.int_remainder_float", lambda T, a: a % 2.5, IT(I23))
add("dtype.int_floordiv_float", lambda T, a: a // 2.5, IT(I23))
add("dtype.int_plus_bool", lambda T, a, b: a + b, IT(I23, "int32"), B(2, 3))
add("dtype.float64_grad_dtype", lambda T, a: a * 2, f64(R(3)))
add("dtype.int_times_true", lambda T, a: a * True, IT(I23))

# -- 0-d tensors
add("zerod.create", lambda T, dev: T.tensor(1.5, device=dev))
add("zerod.create_int", lambda T, dev: T.tensor(3, device=dev) * 2)
add("zerod.add_1d", lambda T, a, b: a + b, R(), R(3))
add("zerod.mul_matrix", lambda T, a, b: a * b, R(), R(2, 3))
add("zerod.exp", lambda T, a: a.exp(), R())
add("zerod.sum_of_0d", lambda T, a: a.sum(), R())
add("zerod.mean_of_0d", lambda T, a: a.mean(), R())
add("zerod.max_of_0d", lambda T, a: a.max(), R())
add("zerod.item", lambda T, a: a.item(), R())
add("zerod.index_1d", lambda T, a: a[1], R(4))
add("zerod.index_2d", lambda T, a: a[1, 2], R(3, 4))
add("zerod.sum_shape", lambda T, a: a.sum(), R(3, 4))


def _backward_no_arg(T, a):
    y = (a ** 2).sum()
    y.backward()
    return a.grad


add("zerod.backward_no_arg", _backward_no_arg, R(3))
add("zerod.reshape", lambda T, a: a.reshape(1), R())
add("zerod.unsqueeze", lambda T, a: a.unsqueeze(0), R())
add("zerod.expand", lambda T, a: a.expand(3), R())
add("zerod.compare", lambda T, a: a > 0, R())
add("zerod.dot", lambda T, a, b: a @ b, R(4), R(4))
add("zerod.stack", lambda T, a, b: T.stack([a, b]), R(), R())
add("zerod.cat_raises", lambda T, a, b: T.cat([a, b]), R(), R(), raises=RuntimeError)
add("zerod.tolist", lambda T, a: a.tolist(), R())
add("zerod.where", lambda T, a: T.where(a > 0, a, -a), R())
add("zerod.softmax", lambda T, a: F(T).softmax(a, dim=0), R())
add("zerod.float_builtin", lambda T, a: float(a), R())
add("zerod.squeeze", lambda T, a: a.squeeze(), R(1))
add("zerod.clamp", lambda T, a: a.clamp(-0.5, 0.5), A(1.3))
add("zerod.numel_dim", lambda T, a: (a.numel(), a.dim(), a.shape), R())
add("zerod.flatten", lambda T, a: a.flatten(), R())
add("zerod.argmax", lambda T, a: a.argmax(), D(5))
add("zerod.mean_scalar_loss", lambda T, a, b: ((a - b) ** 2).mean(), R(4), R(4))
add("zerod.div_by_0d", lambda T, a, b: a / b.sum(), R(2, 3), P(3))

# -- elementwise
UNARY = [
    ("exp", R), ("log", P), ("sqrt", P), ("sin", R), ("cos", R), ("tanh", R), ("sigmoid", R),
    ("relu", NZ), ("abs", NZ), ("sign", NZ), ("floor", R), ("ceil", R), ("round", R),
    ("trunc", R), ("frac", R), ("rsqrt", P), ("square", R), ("log1p", P), ("expm1", R),
    ("log2", P), ("log10", P), ("exp2", R), ("tan", U), ("asin", U), ("acos", U), ("atan", R),
    ("sinh", R), ("cosh", R), ("asinh", R), ("acosh", lambda *s: R(*s, lo=1.1, hi=3.0)),
    ("atanh", U), ("erf", R), ("erfc", R),
]
for _name, _gen in UNARY:
    add(f"elem.{_name}", eval(f"lambda T, x: x.{_name}()"), _gen(3, 4))
for _name in ["exp", "log", "sqrt", "sin", "abs", "sigmoid", "tanh", "floor", "erf", "log1p",
              "rsqrt", "atan"]:
    _gen = dict(UNARY)[_name]
    add(f"func.{_name}", eval(f"lambda T, x: T.{_name}(x)"), _gen(2, 3))
add("elem.exp_noncontiguous", lambda T, x: x.t().exp(), R(3, 4))
add("elem.round_decimals", lambda T, x: x.round(decimals=2), R(3, 4), grad=False)
add("elem.exp_overflow", lambda T, x: (x * 100).exp(), R(5), grad=False)
add("elem.log_zero_negative", lambda T, x: x.log(), A([0.0, -1.0, 1.0]), grad=False)
add("elem.sqrt_zero_grad", lambda T, x: x.sqrt(), A([0.0, 4.0]))
add("elem.relu_at_zero", lambda T, x: x.relu(), A([0.0, -1.0, 2.0]))
add("elem.abs_at_zero", lambda T, x: x.abs(), A([0.0, -1.0, 2.0]))
add("elem.sigmoid_extreme", lambda T, x: x.sigmoid(), A([-100.0, 0.0, 100.0]))
add("elem.tanh_extreme", lambda T, x: x.tanh(), A([-50.0, 0.0, 50.0]))
add("elem.minimum", lambda T, a, b: T.minimum(a, b), D(3, 4), R(4))
add("elem.maximum_method", lambda T, a, b: a.maximum(b), D(3, 4), R(3, 1))
add("elem.maximum_tie", lambda T, a, b: T.maximum(a, b), A([1.0, 2.0, 3.0]), A([1.0, 0.0, 3.0]))
add("elem.atan2", lambda T, a, b: a.atan2(b), R(3, 4), NZ(4))
add("func.atan2", lambda T, a, b: T.atan2(a, b), R(3), NZ(3))
add("elem.lerp_scalar", lambda T, a, b: a.lerp(b, 0.3), R(3, 4), R(3, 4))
add("elem.lerp_tensor", lambda T, a, b, w: T.lerp(a, b, w), R(3, 4), R(4), R(3, 4, lo=0, hi=1))
add("elem.logaddexp", lambda T, a, b: a.logaddexp(b), R(3, 4), R(4))
add("elem.logaddexp_large", lambda T, a, b: T.logaddexp(a, b), A([100.0, -100.0]),
    A([100.0, -101.0]))
add("elem.copysign", lambda T, a, b: a.copysign(b), R(3, 4), NZ(3, 4))
add("elem.copysign_scalar", lambda T, a: a.copysign(-1.0), R(3, 4))
add("elem.fmod_scalar", lambda T, a: a.fmod(0.7), R(3, 4, lo=-3, hi=3))
add("elem.fmod_tensor", lambda T, a, b: T.fmod(a, b), R(3, 4, lo=-3, hi=3), P(4))
add("elem.remainder_scalar", lambda T, a: a.remainder(0.7), R(3, 4, lo=-3, hi=3))
add("elem.remainder_tensor", lambda T, a, b: T.remainder(a, b), R(3, 4, lo=-3, hi=3), NZ(4))
add("elem.fmod_int", lambda T, a: a.fmod(3), IT([-7, 7, 5]))
add("elem.clamp", lambda T, a: a.clamp(-0.5, 0.5), R(3, 4))
add("elem.clamp_min_only", lambda T, a: a.clamp(min=-0.5), R(3, 4))
add("elem.clamp_max_only", lambda T, a: a.clamp(max=0.5), R(3, 4))
add("elem.clamp_none_min", lambda T, a: a.clamp(None, 0.5), R(3, 4))
add("elem.clip", lambda T, a: a.clip(-1, 1), R(3, 4))
add("func.clamp", lambda T, a: T.clamp(a, min=0.0, max=1.0), R(3, 4))
add("elem.clamp_tensor_bounds", lambda T, a, lo, hi: a.clamp(lo, hi), R(3, 4),
    nograd(R(4, lo=-2, hi=-0.5)), nograd(R(3, 1, lo=0.5, hi=2)))
add("elem.clamp_at_bound", lambda T, a: a.clamp(0.0, 1.0), A([0.0, 1.0, 0.5, 2.0]))
add("elem.isnan", lambda T, a: a.isnan(), A([0.0, np.nan, np.inf, -1.0]))
add("elem.isinf", lambda T, a: a.isinf(), A([0.0, np.nan, np.inf, -np.inf]))
add("elem.isfinite", lambda T, a: a.isfinite(), A([0.0, np.nan, np.inf, -np.inf]))
add("func.isnan", lambda T, a: T.isnan(a).any(), A([0.0, np.nan]))
add("elem.isclose", lambda T, a, b: a.isclose(b), A([1.0, 2.0, 3.0]), A([1.0, 2.1, 3.000001]))
add("elem.isclose_tol", lambda T, a, b: T.isclose(a, b, rtol=0.0, atol=0.2),
    A([1.0, 2.0, 3.0]), A([1.0, 2.1, 3.5]))
add("elem.isclose_nan", lambda T, a, b: a.isclose(b, equal_nan=True), A([np.nan, 1.0]),
    A([np.nan, 1.0]))
add("elem.allclose", lambda T, a, b: (a.allclose(b), T.allclose(a, b + 1)), R(3), R(3))
add("elem.equal", lambda T, a: (T.equal(a, a.clone()), a.equal(a + 1)), R(3))
add("elem.logical_and", lambda T, a, b: a.logical_and(b), B(3, 4), B(3, 4))
add("elem.logical_or_float", lambda T, a, b: T.logical_or(a, b), A([0.0, 1.0, 0.0, 2.0]),
    A([0.0, 0.0, 3.0, 1.0]))
add("elem.logical_xor", lambda T, a, b: a.logical_xor(b), B(3, 4), B(4))
add("elem.logical_not", lambda T, a: a.logical_not(), A([0.0, 1.0, -2.0]))
add("elem.logical_not_bool", lambda T, a: T.logical_not(a), B(5))
add("elem.where", lambda T, c, a, b: T.where(c, a, b), B(3, 4), R(3, 4), R(4))
add("elem.where_method", lambda T, a, b: a.where(a > 0, b), R(3, 4), R(3, 4))
add("elem.where_scalar_other", lambda T, a: T.where(a > 0, a, 0.0), R(3, 4))
add("elem.where_scalar_first", lambda T, a: T.where(a > 0, 1.0, a), R(3, 4))
add("elem.where_one_arg", lambda T, a: T.where(a > 0), A([[1.0, -1.0], [2.0, 3.0]]))
add("elem.nan_to_num", lambda T, a: a.nan_to_num(), A([np.nan, np.inf, -np.inf, 1.0]),
    grad=False)
add("elem.nan_to_num_args", lambda T, a: T.nan_to_num(a, nan=0.5, posinf=9.0, neginf=-9.0),
    A([np.nan, np.inf, -np.inf, 1.0]), grad=False)
add("elem.nan_to_num_grad", lambda T, a: a.nan_to_num(nan=0.0) * 2, R(3))
add("elem.pow_0d_exponent", lambda T, a, b: a ** b, P(3, 4), R())
add("elem.pow_zero_base", lambda T, a: a ** 2.0, A([0.0, 1.0, -2.0]))
add("elem.sign_zero", lambda T, a: a.sign(), A([0.0, -2.0, 3.0]))
add("elem.hypot_free", lambda T, a, b: (a * a + b * b).sqrt(), NZ(3), NZ(3))

# -- activations: functional and nn modules
add("act.relu", lambda T, x: F(T).relu(x), NZ(3, 4))
add("act.gelu", lambda T, x: F(T).gelu(x), R(3, 4))
add("act.gelu_tanh", lambda T, x: F(T).gelu(x, approximate="tanh"), R(3, 4))
add("act.silu", lambda T, x: F(T).silu(x), R(3, 4))
add("act.elu", lambda T, x: F(T).elu(x), NZ(3, 4))
add("act.elu_alpha", lambda T, x: F(T).elu(x, alpha=0.5), NZ(3, 4))
add("act.celu", lambda T, x: F(T).celu(x, alpha=1.5), NZ(3, 4))
add("act.selu", lambda T, x: F(T).selu(x), NZ(3, 4))
add("act.leaky_relu", lambda T, x: F(T).leaky_relu(x), NZ(3, 4))
add("act.leaky_relu_slope", lambda T, x: F(T).leaky_relu(x, negative_slope=0.2), NZ(3, 4))
add("act.relu6", lambda T, x: F(T).relu6(x * 4), NZ(3, 4))
add("act.hardtanh", lambda T, x: F(T).hardtanh(x), NZ(3, 4))
add("act.hardtanh_bounds", lambda T, x: F(T).hardtanh(x, min_val=-0.5, max_val=1.5),
    A([[-1.7, -0.3, 0.2, 1.8], [0.9, -0.8, 1.2, 0.1]]))
add("act.hardswish", lambda T, x: F(T).hardswish(x * 2), NZ(3, 4))
add("act.hardsigmoid", lambda T, x: F(T).hardsigmoid(x * 2), NZ(3, 4))
add("act.softplus", lambda T, x: F(T).softplus(x), R(3, 4))
add("act.softplus_beta", lambda T, x: F(T).softplus(x * 10, beta=2.0, threshold=5.0), R(3, 4))
add("act.mish", lambda T, x: F(T).mish(x), R(3, 4))
add("act.logsigmoid", lambda T, x: F(T).logsigmoid(x * 10), R(3, 4))
add("act.softsign", lambda T, x: F(T).softsign(x), R(3, 4))
add("act.softmin", lambda T, x: F(T).softmin(x, dim=1), R(3, 4))
add("act.softmax", lambda T, x: F(T).softmax(x, dim=-1), R(3, 4))
add("act.softmax_dim0", lambda T, x: F(T).softmax(x, dim=0), R(3, 4, 2))
add("act.log_softmax", lambda T, x: F(T).log_softmax(x, dim=1), R(3, 4))
add("act.softmax_method", lambda T, x: x.softmax(-1), R(2, 5))
add("act.log_softmax_large", lambda T, x: x.log_softmax(1), A([[1000.0, 0.0], [-1000.0, 5.0]]))
add("act.normalize", lambda T, x: F(T).normalize(x), R(3, 4))
add("act.normalize_p1_dim0", lambda T, x: F(T).normalize(x, p=1.0, dim=0), R(3, 4))
add("act.prelu", lambda T, x, w: F(T).prelu(x, w), NZ(2, 3, 4), R(3))
add("act.prelu_single", lambda T, x, w: F(T).prelu(x, w), NZ(2, 3), R(1))
add("act.sigmoid_F", lambda T, x: F(T).sigmoid(x), R(3))
add("act.tanh_F", lambda T, x: F(T).tanh(x), R(3))
add("act.glu", lambda T, x: F(T).glu(x, dim=-1), R(3, 4))
add("act.tanhshrink", lambda T, x: F(T).tanhshrink(x), R(3))
add("act.softshrink", lambda T, x: F(T).softshrink(x, 0.5), NZ(3, 4))
add("act.hardshrink", lambda T, x: F(T).hardshrink(x, 0.5), NZ(3, 4))
for _mod, _args, _gen in [
    ("ReLU", "", NZ), ("GELU", "", R), ("GELU", "approximate='tanh'", R), ("SiLU", "", R),
    ("ELU", "alpha=0.7", NZ), ("CELU", "", NZ), ("SELU", "", NZ), ("LeakyReLU", "0.2", NZ),
    ("ReLU6", "", NZ), ("Hardtanh", "-0.5, 0.5", NZ), ("Hardswish", "", NZ),
    ("Hardsigmoid", "", NZ), ("Softplus", "beta=2.0", R), ("Mish", "", R),
    ("LogSigmoid", "", R), ("Softsign", "", R), ("Softmin", "dim=1", R),
    ("Softmax", "dim=1", R), ("LogSoftmax", "dim=-1", R), ("Sigmoid", "", R), ("Tanh", "", R),
    ("PReLU", "", NZ), ("Identity", "", R), ("Flatten", "", R),
]:
    _key = _mod + ("_" + _args.split("=")[0].strip("'") if "=" in _args else "")
    add(f"act.nn_{_key}", eval(f"lambda T, x, dev: T.nn.{_mod}({_args}).to(dev)(x)"),
        _gen(2, 3, 4))

# -- reductions and scans
add("red.sum", lambda T, x: x.sum(), R(3, 4))
add("red.sum_dims_keepdim", lambda T, x: x.sum((0, 2), keepdim=True), R(2, 3, 4))
add("red.sum_neg_dim", lambda T, x: x.sum(dim=-1), R(2, 3, 4))
add("func.sum", lambda T, x: T.sum(x, 1), R(2, 3))
add("red.mean", lambda T, x: x.mean(1), R(2, 3, 4))
add("red.mean_dims", lambda T, x: x.mean((-2, -1)), R(2, 3, 4))
add("func.mean", lambda T, x: T.mean(x), R(2, 3))
add("red.var", lambda T, x: x.var(), R(3, 4))
add("red.var_dim", lambda T, x: x.var(1, keepdim=True), R(3, 4))
add("red.var_correction0", lambda T, x: x.var(dim=0, correction=0), R(3, 4))
add("red.var_unbiased_false", lambda T, x: x.var(1, unbiased=False), R(3, 4))
add("red.std", lambda T, x: x.std(), R(3, 4))
add("red.std_dim_correction", lambda T, x: x.std(dim=(0, 1), correction=2), R(3, 4, 2))
add("red.var_mean", lambda T, x: T.var_mean(x, 1), R(3, 4))
add("red.var_mean_correction", lambda T, x: T.var_mean(x, dim=0, correction=0, keepdim=True),
    R(3, 4))
add("red.std_mean", lambda T, x: T.std_mean(x), R(3, 4))
add("red.std_mean_dim", lambda T, x: T.std_mean(x, dim=1, correction=0), R(3, 4))
add("red.prod", lambda T, x: x.prod(), R(2, 3))
add("red.prod_dim", lambda T, x: x.prod(1, keepdim=True), R(3, 4))
add("red.prod_with_zero", lambda T, x: x.prod(1), A([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]))
add("red.any", lambda T, x: (x > 1.5).any(), R(3, 4))
add("red.any_dim", lambda T, x: (x > 1.0).any(1), R(3, 4))
add("red.all_dim_keepdim", lambda T, x: (x > -1.5).all(dim=0, keepdim=True), R(3, 4))
add("red.all_float", lambda T, x: x.all(), A([1.0, 2.0, 0.0]))
add("red.any_int", lambda T, x: x.any(0), IT([[0, 1], [0, 0]]))
add("red.argmax", lambda T, x: x.argmax(), D(3, 4))
add("red.argmax_dim", lambda T, x: x.argmax(dim=1), D(3, 4))
add("red.argmax_keepdim", lambda T, x: x.argmax(1, keepdim=True), D(3, 4))
add("red.argmin_dim", lambda T, x: x.argmin(0), D(3, 4))
add("func.argmax", lambda T, x: T.argmax(x, dim=-1), D(3, 4))
add("red.max_all", lambda T, x: x.max(), D(3, 4))
add("red.max_dim", lambda T, x: x.max(1), D(3, 4))
add("red.max_dim_values", lambda T, x: x.max(dim=1).values, D(3, 4))
add("red.max_dim_indices", lambda T, x: x.max(1, keepdim=True).indices, D(3, 4))
add("red.min_dim", lambda T, x: x.min(0), D(3, 4))
add("red.max_unpack", lambda T, x: (lambda v, i: v * 2 + i)(*x.max(1)), D(3, 4))
add("red.max_binary", lambda T, a, b: T.max(a, b), D(3, 4), R(4))
add("red.max_all_tie", lambda T, x: x.max(), A([1.0, 3.0, 3.0, 2.0]))
add("red.amax", lambda T, x: x.amax(1), D(3, 4))
add("red.amax_dims", lambda T, x: x.amax(dim=(0, 2)), D(3, 4, 2))
add("red.amax_tie", lambda T, x: x.amax(1), A([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
add("red.amin_keepdim", lambda T, x: x.amin(0, keepdim=True), D(3, 4))
add("func.amax", lambda T, x: T.amax(x, dim=1), D(3, 4))
add("red.logsumexp", lambda T, x: x.logsumexp(1), R(3, 4))
add("red.logsumexp_large", lambda T, x: T.logsumexp(x * 300, dim=0), R(3, 4))
add("red.logsumexp_dims_keepdim", lambda T, x: x.logsumexp((0, 1), keepdim=True), R(2, 3, 4))
add("red.cumsum", lambda T, x: x.cumsum(1), R(3, 4))
add("red.cumsum_dim0", lambda T, x: T.cumsum(x, dim=0), R(3, 4))
add("red.cumsum_noncontiguous", lambda T, x: x.t().cumsum(0), R(3, 4))
add("red.cumprod", lambda T, x: x.cumprod(1), R(3, 4))
add("red.cumprod_zero", lambda T, x: T.cumprod(x, dim=0), A([2.0, 0.0, 3.0, 0.5]))
add("red.cummax", lambda T, x: x.cummax(1), D(3, 4))
add("red.cummin", lambda T, x: T.cummin(x, dim=0), D(4, 3))
add("red.cummax_values", lambda T, x: x.cummax(dim=0).values, D(5))
add("red.logcumsumexp", lambda T, x: x.logcumsumexp(1), R(3, 4))
add("red.logcumsumexp_large", lambda T, x: T.logcumsumexp(x * 200, dim=0), R(5))
add("red.sort", lambda T, x: x.sort(), D(3, 5))
add("red.sort_desc_dim", lambda T, x: x.sort(dim=0, descending=True), D(4, 3))
add("red.sort_values", lambda T, x: T.sort(x, 1).values, D(3, 5))
add("red.sort_stable_int", lambda T, x: x.sort(stable=True), IT([3, 1, 2, 1, 3, 0]))
add("red.argsort", lambda T, x: x.argsort(), D(3, 5))
add("red.argsort_desc", lambda T, x: T.argsort(x, dim=0, descending=True), D(4, 3))
add("red.topk", lambda T, x: x.topk(2), D(3, 5))
add("red.topk_dim_smallest", lambda T, x: x.topk(3, dim=0, largest=False), D(4, 3))
add("red.topk_values", lambda T, x: T.topk(x, 2).values * 2, D(3, 5))
add("red.median", lambda T, x: x.median(), D(3, 5))
add("red.median_even", lambda T, x: x.median(), D(4))
add("red.median_dim", lambda T, x: x.median(1), D(3, 5))
add("red.median_dim_keepdim", lambda T, x: T.median(x, dim=0, keepdim=True), D(4, 3))
add("red.sum_dtype", lambda T, x: x.sum(dtype=T.float64), R(3, 4))
add("red.mean_dtype", lambda T, x: x.mean(1, dtype=T.float64), R(3, 4))
add("red.sum_empty", lambda T, x: x.sum(), R(0, 3))
add("red.sum_empty_dim", lambda T, x: x.sum(0), R(0, 3))
add("red.mean_empty", lambda T, x: x.mean(), R(0), grad=False)
add("red.mean_empty_dim", lambda T, x: x.mean(1), R(2, 0), grad=False)
add("red.prod_empty", lambda T, x: x.prod(), R(0))
add("red.max_empty_raises", lambda T, x: x.max(), R(0), raises=RuntimeError)
add("red.norm", lambda T, x: x.norm(), R(3, 4))
add("red.norm_dim", lambda T, x: x.norm(dim=1), R(3, 4))
add("red.norm_p1", lambda T, x: x.norm(p=1), NZ(3, 4))
add("red.count_nonzero", lambda T, x: T.count_nonzero(x > 0), R(3, 4))
add("red.var_single", lambda T, x: x.var(), R(1), grad=False)
add("red.sum_int_bool_mask", lambda T, x: (x > 0).sum(1), R(3, 4))
add("red.mean_bool_float", lambda T, x: (x > 0).float().mean(), R(3, 4))

# -- shapes
add("shape.reshape", lambda T, x: x.reshape(4, -1), R(2, 3, 4))
add("shape.reshape_tuple", lambda T, x: x.reshape((3, 8)), R(2, 3, 4))
add("shape.view", lambda T, x: x.view(6, 4), R(2, 3, 4))
add("shape.view_as", lambda T, x, y: x.view_as(y), R(2, 3), R(3, 2))
add("shape.reshape_noncontiguous", lambda T, x: x.t().reshape(-1), R(3, 4))
add("shape.flatten", lambda T, x: x.flatten(1), R(2, 3, 4))
add("shape.flatten_range", lambda T, x: T.flatten(x, 0, 1), R(2, 3, 4))
add("shape.permute", lambda T, x: x.permute(2, 0, 1), R(2, 3, 4))
add("shape.permute_tuple", lambda T, x: x.permute((1, 0, 2)), R(2, 3, 4))
add("shape.permute_negative", lambda T, x: T.permute(x, (-1, 0, 1)), R(2, 3, 4))
add("shape.transpose", lambda T, x: x.transpose(0, 2), R(2, 3, 4))
add("shape.transpose_func", lambda T, x: T.transpose(x, -1, -2), R(2, 3, 4))
add("shape.swapaxes", lambda T, x: x.swapaxes(0, 1), R(2, 3))
add("shape.movedim", lambda T, x: x.movedim(0, -1), R(2, 3, 4))
add("shape.squeeze", lambda T, x: x.squeeze(), R(1, 3, 1, 2))
add("shape.squeeze_dim", lambda T, x: x.squeeze(2), R(1, 3, 1, 2))
add("shape.squeeze_dim_noop", lambda T, x: x.squeeze(1), R(1, 3, 1, 2))
add("shape.unsqueeze", lambda T, x: x.unsqueeze(1), R(2, 3))
add("shape.unsqueeze_neg", lambda T, x: x.unsqueeze(-1), R(2, 3))
add("shape.expand", lambda T, x: x.expand(2, 3, 4), R(3, 1))
add("shape.expand_minus1", lambda T, x: x.expand(-1, 4), R(3, 1))
add("shape.expand_as", lambda T, x, y: x.expand_as(y), R(1, 4), R(3, 4))
add("shape.broadcast_to", lambda T, x: T.broadcast_to(x, (2, 3)), R(3))
add("shape.flip", lambda T, x: x.flip(0), R(3, 4))
add("shape.flip_dims", lambda T, x: T.flip(x, dims=(0, 1)), R(3, 4))
add("shape.fliplr", lambda T, x: T.fliplr(x), R(3, 4))
add("shape.roll", lambda T, x: x.roll(1, 1), R(3, 4))
add("shape.roll_flat", lambda T, x: x.roll(-2), R(3, 4))
add("shape.roll_multi", lambda T, x: T.roll(x, shifts=(1, -1), dims=(0, 1)), R(3, 4))
add("shape.repeat", lambda T, x: x.repeat(2, 1, 3), R(3, 4))
add("shape.repeat_same_rank", lambda T, x: x.repeat(2, 2), R(3, 4))
add("shape.repeat_interleave", lambda T, x: x.repeat_interleave(2), R(3))
add("shape.repeat_interleave_dim", lambda T, x: x.repeat_interleave(3, dim=0), R(2, 3))
add("shape.repeat_interleave_tensor", lambda T, x, r: T.repeat_interleave(x, r, dim=0),
    R(3, 2), IT([1, 0, 2]))
add("shape.tile", lambda T, x: x.tile((2, 1)), R(2, 3))
add("shape.split_int", lambda T, x: x.split(2, 1), R(3, 5))
add("shape.split_list", lambda T, x: T.split(x, [1, 3], dim=1), R(3, 4))
add("shape.chunk", lambda T, x: x.chunk(2, 0), R(3, 4))
add("shape.chunk_uneven", lambda T, x: T.chunk(x, 3, dim=1), R(2, 5))
add("shape.unbind", lambda T, x: x.unbind(1), R(3, 4))
add("shape.unbind_func", lambda T, x: T.unbind(x), R(2, 3))
add("shape.unflatten", lambda T, x: x.unflatten(1, (2, 2)), R(3, 4))
add("shape.unflatten_minus1", lambda T, x: x.unflatten(-1, (2, -1)), R(3, 6))
add("shape.unfold", lambda T, x: x.unfold(1, 2, 1), R(3, 5))
add("shape.unfold_step", lambda T, x: x.unfold(0, 3, 2), R(7, 2))
add("shape.tril", lambda T, x: x.tril(), R(3, 4))
add("shape.tril_diag", lambda T, x: T.tril(x, diagonal=-1), R(4, 4))
add("shape.triu", lambda T, x: x.triu(1), R(4, 3))
add("shape.triu_batched", lambda T, x: T.triu(x), R(2, 3, 3))
add("shape.diag_vector", lambda T, x: T.diag(x), R(3))
add("shape.diag_offset", lambda T, x: x.diag(-1), R(3))
add("shape.diag_matrix", lambda T, x: x.diag(), R(3, 4))
add("shape.diagonal", lambda T, x: x.diagonal(), R(3, 4))
add("shape.diagonal_offset", lambda T, x: x.diagonal(1), R(3, 4))
add("shape.diagonal_dims", lambda T, x: T.diagonal(x, offset=0, dim1=1, dim2=2), R(2, 3, 3))
add("shape.trace", lambda T, x: x.trace(), R(3, 3))
add("shape.meshgrid_ij", lambda T, a, b: T.meshgrid(a, b, indexing="ij"), R(3), R(4))
add("shape.meshgrid_xy", lambda T, a, b: T.meshgrid(a, b, indexing="xy"), R(3), R(4))
add("shape.cat", lambda T, a, b: T.cat([a, b]), R(2, 3), R(4, 3))
add("shape.cat_dim", lambda T, a, b: T.cat((a, b), dim=-1), R(2, 3), R(2, 1))
add("shape.cat_three", lambda T, a, b, c: T.cat([a, b, c], 1), R(2, 1), R(2, 2), R(2, 3))
add("shape.cat_empty", lambda T, a, b: T.cat([a, b]), R(0, 3), R(2, 3))
add("shape.concat", lambda T, a, b: T.concat([a, b], dim=0), R(1, 3), R(2, 3))
add("shape.stack", lambda T, a, b: T.stack([a, b]), R(2, 3), R(2, 3))
add("shape.stack_dim", lambda T, a, b: T.stack((a, b), dim=1), R(2, 3), R(2, 3))
add("shape.stack_last", lambda T, a, b: T.stack([a, b], dim=-1), R(2, 3), R(2, 3))
add("shape.hstack", lambda T, a, b: T.hstack([a, b]), R(2, 3), R(2, 1))
add("shape.vstack", lambda T, a, b: T.vstack([a, b]), R(3), R(3))
add("shape.narrow", lambda T, x: x.narrow(1, 1, 2), R(3, 4))
add("shape.select", lambda T, x: x.select(1, 2), R(3, 4))
add("shape.gather", lambda T, x, i: x.gather(1, i), R(3, 4), IT([[0, 3], [2, 2], [1, 0]]))
add("shape.gather_dim0", lambda T, x, i: T.gather(x, 0, i), R(3, 4),
    IT([[0, 2, 1, 0], [2, 2, 0, 1]]))
add("shape.take_along_dim", lambda T, x: T.take_along_dim(x, x.argsort(1), dim=1), D(3, 4))
add("shape.take_along_dim_max", lambda T, x: x.take_along_dim(x.argmax(1, keepdim=True), 1),
    D(3, 4))
add("shape.scatter", lambda T, x, i, s: x.scatter(1, i, s), R(3, 4), IT([[0, 3], [2, 1], [1, 0]]),
    R(3, 2))
add("shape.scatter_value", lambda T, x, i: x.scatter(0, i, 0.5), R(3, 4),
    IT([[0, 2, 1, 0]]))
add("shape.scatter_add", lambda T, x, i, s: x.scatter_add(1, i, s), R(3, 4),
    IT([[0, 0, 3], [2, 2, 2], [1, 0, 3]]), R(3, 3))
add("shape.scatter_reduce_sum", lambda T, x, i, s: x.scatter_reduce(1, i, s, "sum"), R(3, 4),
    IT([[0, 0, 3], [2, 2, 2], [1, 0, 3]]), R(3, 3))
add("shape.scatter_reduce_amax", lambda T, x, i, s: x.scatter_reduce(0, i, s, reduce="amax",
                                                                     include_self=False),
    nograd(R(3, 4)), IT([[0, 1, 2, 0], [0, 1, 1, 2]]), nograd(D(2, 4)))
add("shape.scatter_reduce_mean", lambda T, x, i, s: T.scatter_reduce(x, 0, i, s, "mean"),
    nograd(R(3, 4)), IT([[0, 1, 2, 0], [0, 1, 1, 2]]), nograd(R(2, 4)))
add("shape.index_select", lambda T, x, i: x.index_select(1, i), R(3, 4), IT([3, 0, 3]))
add("shape.index_select_func", lambda T, x, i: T.index_select(x, 0, i), R(3, 4), IT([2, 0]))
add("shape.index_add", lambda T, x, i, s: x.index_add(0, i, s), R(3, 4), IT([2, 0, 2]), R(3, 4))
add("shape.index_add_alpha", lambda T, x, i, s: x.index_add(1, i, s, alpha=2.0), R(3, 4),
    IT([1, 1]), R(3, 2))
add("shape.masked_fill", lambda T, x: x.masked_fill(x > 0.5, 0.0), R(3, 4))
add("shape.masked_fill_bcast", lambda T, x, m: x.masked_fill(m, -1e9), R(3, 4), B(4))
add("shape.masked_fill_0d_value", lambda T, x: x.masked_fill(x < 0, T.tensor(2.0)), R(3, 4))
add("shape.masked_select", lambda T, x: x.masked_select(x > 0.0), R(3, 4))
add("shape.masked_select_bcast", lambda T, x, m: T.masked_select(x, m), R(3, 4), B(4))
add("shape.nonzero", lambda T, x: (x > 0).nonzero(), R(3, 4))
add("shape.nonzero_tuple", lambda T, x: T.nonzero(x > 0, as_tuple=True), R(3, 4))
add("shape.argwhere", lambda T, x: T.argwhere(x > 0), R(3, 4))
add("shape.one_hot", lambda T, y: F(T).one_hot(y), IT([0, 2, 1, 2]))
add("shape.one_hot_classes", lambda T, y: F(T).one_hot(y, num_classes=5), IT([[0, 2], [4, 1]]))
add("shape.pad_constant", lambda T, x: F(T).pad(x, (1, 2)), R(2, 3))
add("shape.pad_constant_value", lambda T, x: F(T).pad(x, (1, 1, 2, 0), value=0.5), R(2, 3))
add("shape.pad_negative", lambda T, x: F(T).pad(x, (-1, 1)), R(2, 4))
add("shape.pad_reflect", lambda T, x: F(T).pad(x, (2, 1), mode="reflect"), R(1, 2, 5))
add("shape.pad_reflect_2d", lambda T, x: F(T).pad(x, (1, 1, 2, 1), mode="reflect"),
    R(1, 2, 4, 5))
add("shape.pad_replicate", lambda T, x: F(T).pad(x, (2, 1), mode="replicate"), R(1, 2, 4))
add("shape.pad_replicate_2d", lambda T, x: F(T).pad(x, (1, 2, 1, 0), mode="replicate"),
    R(1, 1, 3, 4))
add("shape.pad_circular", lambda T, x: F(T).pad(x, (1, 2), mode="circular"), R(1, 2, 4))
add("shape.pad_circular_2d", lambda T, x: F(T).pad(x, (1, 1, 1, 1), mode="circular"),
    R(1, 1, 3, 4))
add("shape.matmul_batched_bcast", lambda T, a, b: a @ b, R(2, 1, 3, 4), R(5, 4, 2), atol=1e-4)
add("shape.matmul_4d", lambda T, a, b: a @ b, R(2, 3, 4, 5), R(2, 3, 5, 2), atol=1e-4)
add("shape.matmul_nd_2d", lambda T, a, b: T.matmul(a, b), R(2, 3, 4, 5), R(5, 3), atol=1e-4)
add("shape.matmul_2d_nd", lambda T, a, b: a @ b, R(3, 4), R(2, 2, 4, 5), atol=1e-4)
add("shape.matmul_vec_batched", lambda T, a, b: a @ b, R(4), R(2, 4, 3))
add("shape.matmul_batched_vec", lambda T, a, b: a @ b, R(2, 3, 4), R(4))
add("shape.matmul_5d", lambda T, a, b: a @ b, R(2, 1, 2, 2, 3), R(1, 3, 1, 3, 2), atol=1e-4)
add("shape.matmul_int_batched", lambda T, a, b: a @ b, RI(-3, 4, 2, 2, 3), RI(-3, 4, 2, 3, 2))
add("shape.matmul_transposed", lambda T, a, b: a.transpose(-1, -2) @ b, R(2, 4, 3), R(2, 4, 2))
add("shape.einsum_mm", lambda T, a, b: T.einsum("ij,jk->ik", a, b), R(2, 3), R(3, 4))
add("shape.einsum_bmm", lambda T, a, b: T.einsum("bij,bjk->bik", a, b), R(2, 2, 3), R(2, 3, 4))
add("shape.einsum_diag", lambda T, a: T.einsum("ii->i", a), R(3, 3))
add("shape.einsum_trace", lambda T, a: T.einsum("ii", a), R(3, 3))
add("shape.einsum_outer", lambda T, a, b: T.einsum("i,j->ij", a, b), R(3), R(4))
add("shape.einsum_ellipsis", lambda T, a: T.einsum("...ij->...ji", a), R(2, 3, 4))
add("shape.einsum_attention", lambda T, q, k: T.einsum("bhqd,bhkd->bhqk", q, k), R(1, 2, 3, 4),
    R(1, 2, 5, 4))
add("shape.einsum_sum", lambda T, a: T.einsum("ij->", a), R(2, 3))
add("shape.einsum_list_operands", lambda T, a, b: T.einsum("ij,ij->i", [a, b]), R(2, 3), R(2, 3))

# -- indexing: torch's result shapes (integers are basic indices, not advanced ones)
add("index.int", lambda T, x: x[1], R(3, 4))
add("index.negative", lambda T, x: x[-1, -2], R(3, 4))
add("index.slice", lambda T, x: x[1:, :2], R(3, 4))
add("index.slice_step", lambda T, x: x[::2, 1::2], R(5, 4))
add("index.ellipsis", lambda T, x: x[..., 1], R(2, 3, 4))
add("index.none", lambda T, x: x[None, :, None], R(2, 3))
add("index.list", lambda T, x: x[[0, 2]], R(3, 4))
add("index.list_repeat", lambda T, x: x[[2, 0, 2]], R(3, 4))
add("index.tensor", lambda T, x, i: x[i], R(3, 4), IT([2, 0, 2, 1]))
add("index.tensor_2d", lambda T, x, i: x[i], R(3, 4), IT([[0, 1], [2, 2]]))
add("index.tensor_cols", lambda T, x, i: x[:, i], R(3, 4), IT([1, 0, 3]))
add("index.pairs", lambda T, x: x[[0, 1, 2], [1, 2, 0]], R(3, 4))
add("index.pairs_tensor", lambda T, x, i, j: x[i, j], R(3, 4), IT([0, 2]), IT([3, 1]))
add("index.broadcast_adv", lambda T, x, i, j: x[i[:, None], j], R(3, 4), IT([0, 2]),
    IT([3, 1, 0]))
add("index.bool_mask", lambda T, x: x[x > 0], R(3, 4))
add("index.bool_rows", lambda T, x, m: x[m], R(3, 4), A([True, False, True]))
add("index.bool_cols", lambda T, x, m: x[:, m], R(3, 4), A([True, False, True, True]))
add("index.int_and_list", lambda T, x: x[0, :, [0, 2]], R(2, 3, 4))
add("index.int_slice_tensor", lambda T, x, i: x[1, :, i], R(2, 3, 4), IT([3, 0]))
add("index.separated_adv", lambda T, x: x[[0, 1], :, [1, 2]], R(2, 3, 4))
add("index.adjacent_adv", lambda T, x: x[:, [0, 2], [1, 3]], R(2, 3, 4))
add("index.slice_then_list", lambda T, x: x[1:, [0, 2]], R(3, 4))
add("index.ellipsis_list", lambda T, x: x[..., [0, 0, 1]], R(2, 3, 4))
add("index.none_and_list", lambda T, x: x[None, [1, 0]], R(3, 4))
add("index.tensor_0d", lambda T, x, i: x[i], R(3, 4), IT(2))
add("index.mask_2d_on_3d", lambda T, x, m: x[m], R(2, 3, 4), B(2, 3))
add("index.embedding_like", lambda T, w, i: w[i].sum(1), R(5, 3), IT([[0, 4], [4, 4]]))
add("index.out_of_range_raises", lambda T, x: x[5], R(3, 4), raises=IndexError)


def _setitem(key_fn, value_fn=None):
    def fn(T, x, *rest):
        x = x.clone()
        key = key_fn(T, x, *rest)
        x[key] = value_fn(T, x, *rest) if value_fn else 7.0
        return x
    return fn


add("setitem.int", _setitem(lambda T, x: 0), R(3, 4), grad=False)
add("setitem.slice", _setitem(lambda T, x: (slice(None), slice(1, 3)),
                              lambda T, x: T.zeros(3, 2)), R(3, 4), grad=False)
add("setitem.mask", _setitem(lambda T, x: x > 0, lambda T, x: 0.0), R(3, 4), grad=False)
add("setitem.mask_values", _setitem(lambda T, x: x > 0, lambda T, x: x[x > 0] * 10), R(3, 4),
    grad=False)
add("setitem.list", _setitem(lambda T, x: [0, 2], lambda T, x: T.ones(4)), R(3, 4), grad=False)
add("setitem.tensor_index", _setitem(lambda T, x, i: i, lambda T, x, i: -1.0), R(5),
    IT([1, 3]), grad=False)
add("setitem.pairs", _setitem(lambda T, x: ([0, 2], [1, 3]), lambda T, x: T.tensor([5.0, 6.0])),
    R(3, 4), grad=False)
add("setitem.column_bcast", _setitem(lambda T, x: (slice(None), 1),
                                     lambda T, x: T.tensor([1.0, 2.0, 3.0])), R(3, 4),
    grad=False)
add("setitem.ellipsis_0d", _setitem(lambda T, x: (Ellipsis, 0), lambda T, x: T.tensor(4.0)),
    R(2, 3), grad=False)
add("setitem.int_tensor", _setitem(lambda T, x: 1, lambda T, x: 9), IT([[1, 2], [3, 4]]))


def _setitem_iadd(T, x, i):
    x = x.clone()
    x[i] += 1.0
    return x


add("setitem.iadd_duplicates", _setitem_iadd, R(4), IT([0, 0, 2]), grad=False)


def _setitem_in_graph(T, x):
    y = x * 2
    y[0] = 0.0
    return y


add("setitem.in_graph", _setitem_in_graph, R(3, 4))
add("setitem.leaf_raises", lambda T, x: x.__setitem__(0, 1.0), R(3), raises=RuntimeError)

# -- creation
add("create.tensor_int", lambda T, dev: T.tensor([1, 2, 3], device=dev))
add("create.tensor_float", lambda T, dev: T.tensor([1.0, 2, 3], device=dev))
add("create.tensor_bool", lambda T, dev: T.tensor([True, False], device=dev))
add("create.tensor_dtype", lambda T, dev: T.tensor([[1, 2], [3, 4]], dtype=T.float64,
                                                    device=dev))
add("create.tensor_requires_grad", lambda T, dev: T.tensor([1.0, 2.0], requires_grad=True,
                                                           device=dev) * 3)
add("create.tensor_from_np_float64", lambda T, dev: T.tensor(np.array([1.5, 2.5]), device=dev))
add("create.from_numpy", lambda T: T.from_numpy(np.array([1.5, 2.5])))
add("create.as_tensor", lambda T, dev: T.as_tensor([1.0, 2.0], device=dev))
add("create.zeros", lambda T, dev: T.zeros(2, 3, device=dev))
add("create.zeros_tuple", lambda T, dev: T.zeros((2, 3), dtype=T.int64, device=dev))
add("create.ones_dtype", lambda T, dev: T.ones(3, dtype=T.int32, device=dev))
add("create.ones_requires_grad", lambda T, dev: T.ones(2, 2, requires_grad=True, device=dev) * 2)
add("create.full_int", lambda T, dev: T.full((2, 3), 4, device=dev))
add("create.full_float", lambda T, dev: T.full((2, 3), 4.0, device=dev))
add("create.full_bool", lambda T, dev: T.full((2,), True, device=dev))
add("create.full_dtype", lambda T, dev: T.full((2, 2), 1.5, dtype=T.float64, device=dev))
add("create.full_like", lambda T, x: T.full_like(x, 7), R(2, 3))
add("create.full_like_int", lambda T, x: T.full_like(x, 2.7), IT([1, 2]))
add("create.zeros_like", lambda T, x: T.zeros_like(x), R(2, 3))
add("create.zeros_like_dtype", lambda T, x: T.zeros_like(x, dtype=T.int64), R(2, 3))
add("create.ones_like", lambda T, x: T.ones_like(x), IT([[1, 2]]))
add("create.empty", lambda T, dev: T.empty(2, 3, device=dev).shape)
add("create.empty_dtype", lambda T, dev: T.empty((2, 3), dtype=T.int32, device=dev).dtype)
add("create.empty_like", lambda T, x: T.empty_like(x).shape, R(2, 3))
add("create.eye", lambda T, dev: T.eye(3, device=dev))
add("create.eye_rect", lambda T, dev: T.eye(2, 4, dtype=T.float64, device=dev))
add("create.eye_int", lambda T, dev: T.eye(3, dtype=T.int64, device=dev))
add("create.arange", lambda T, dev: T.arange(5, device=dev))
add("create.arange_start_end", lambda T, dev: T.arange(2, 9, 3, device=dev))
add("create.arange_float", lambda T, dev: T.arange(0, 1, 0.25, device=dev))
add("create.arange_dtype", lambda T, dev: T.arange(4, dtype=T.float32, device=dev))
add("create.linspace", lambda T, dev: T.linspace(0, 1, 5, device=dev))
add("create.linspace_steps_kw", lambda T, dev: T.linspace(-1, 1, steps=4, dtype=T.float64,
                                                          device=dev))
add("create.logspace", lambda T, dev: T.logspace(0, 2, 3, device=dev))
add("create.logspace_base", lambda T, dev: T.logspace(0, 3, 4, base=2, device=dev))
add("create.rand_like", lambda T, x: (lambda r: (r.shape, r.dtype, bool(((r >= 0) & (r < 1))
                                                                       .all())))(T.rand_like(x)),
    R(3, 4))
add("create.randn_like", lambda T, x: (lambda r: (r.shape, r.dtype))(T.randn_like(x)), R(3, 4))
add("create.rand", lambda T, dev: (lambda r: (r.shape, r.dtype, bool((r < 1).all())))(
    T.rand(2, 3, device=dev)))
add("create.randn_dtype", lambda T, dev: T.randn(4, dtype=T.float64, device=dev).dtype)
add("create.randint", lambda T, dev: (lambda r: (r.shape, r.dtype, bool(((r >= 2) & (r < 5))
                                                                       .all())))(
    T.randint(2, 5, (3, 4), device=dev)))
add("create.randint_high_only", lambda T, dev: (lambda r: (r.shape, r.dtype,
                                                           bool((r < 3).all())))(
    T.randint(3, (10,), device=dev)))
add("create.randperm", lambda T, dev: (lambda r: (r.dtype, r.sort().values.tolist()))(
    T.randperm(6, device=dev)))
add("create.rand_requires_grad", lambda T, dev: T.rand(3, requires_grad=True,
                                                       device=dev).requires_grad)
add("create.manual_seed_repeat", lambda T, dev: (lambda a, b: bool((a == b).all()))(
    *[(T.manual_seed(3), T.randn(5, device=dev))[1] for _ in range(2)]))
add("create.zeros_like_requires_grad", lambda T, x: T.zeros_like(x, requires_grad=True)
    .requires_grad, R(2))

# -- nn.functional: linear, convolution, pooling, resampling, attention, embedding, dropout
add("nn.linear", lambda T, x, w, b: F(T).linear(x, w, b), R(4, 3), R(5, 3), R(5))
add("nn.linear_nobias", lambda T, x, w: F(T).linear(x, w), R(2, 4, 3), R(5, 3))
add("nn.bilinear_free", lambda T, x, w: (x @ w * x).sum(-1), R(4, 3), R(3, 3))
add("nn.conv1d", lambda T, x, w, b: F(T).conv1d(x, w, b), R(2, 3, 10), R(4, 3, 3), R(4),
    atol=1e-4)
add("nn.conv1d_stride_pad", lambda T, x, w: F(T).conv1d(x, w, stride=2, padding=1), R(2, 3, 10),
    R(4, 3, 3), atol=1e-4)
add("nn.conv1d_dilation", lambda T, x, w: F(T).conv1d(x, w, dilation=2), R(1, 2, 9),
    R(3, 2, 3), atol=1e-4)
add("nn.conv1d_groups", lambda T, x, w: F(T).conv1d(x, w, groups=2, padding=1), R(2, 4, 6),
    R(4, 2, 3), atol=1e-4)
add("nn.conv2d", lambda T, x, w, b: F(T).conv2d(x, w, b), R(2, 3, 6, 6), R(4, 3, 3, 3), R(4),
    atol=1e-4)
add("nn.conv2d_stride_pad", lambda T, x, w: F(T).conv2d(x, w, stride=2, padding=1),
    R(2, 3, 7, 7), R(4, 3, 3, 3), atol=1e-4)
add("nn.conv2d_rect", lambda T, x, w: F(T).conv2d(x, w, stride=(1, 2), padding=(2, 0)),
    R(1, 2, 5, 7), R(3, 2, 3, 2), atol=1e-4)
add("nn.conv2d_same", lambda T, x, w: F(T).conv2d(x, w, padding="same"), R(1, 2, 5, 5),
    R(3, 2, 3, 3), atol=1e-4)
add("nn.conv2d_valid", lambda T, x, w: F(T).conv2d(x, w, padding="valid"), R(1, 2, 5, 5),
    R(3, 2, 3, 3), atol=1e-4)
add("nn.conv2d_dilation", lambda T, x, w: F(T).conv2d(x, w, dilation=2, padding=2),
    R(1, 2, 7, 7), R(3, 2, 3, 3), atol=1e-4)
add("nn.conv2d_groups", lambda T, x, w: F(T).conv2d(x, w, groups=2), R(2, 4, 5, 5),
    R(6, 2, 3, 3), atol=1e-4)
add("nn.conv2d_depthwise", lambda T, x, w, b: F(T).conv2d(x, w, b, padding=1, groups=3),
    R(2, 3, 5, 5), R(3, 1, 3, 3), R(3), atol=1e-4)
add("nn.conv2d_1x1", lambda T, x, w: F(T).conv2d(x, w), R(2, 3, 4, 4), R(5, 3, 1, 1), atol=1e-4)
add("nn.conv2d_noncontig_input", lambda T, x, w: F(T).conv2d(x.transpose(2, 3), w),
    R(1, 2, 5, 6), R(3, 2, 3, 3), atol=1e-4)
add("nn.conv3d", lambda T, x, w, b: F(T).conv3d(x, w, b), R(1, 2, 5, 5, 5), R(3, 2, 3, 3, 3),
    R(3), atol=1e-4)
add("nn.conv3d_stride_pad", lambda T, x, w: F(T).conv3d(x, w, stride=2, padding=1),
    R(1, 2, 5, 6, 4), R(2, 2, 3, 3, 3), atol=1e-4)
add("nn.conv_transpose1d", lambda T, x, w, b: F(T).conv_transpose1d(x, w, b, stride=2),
    R(2, 3, 5), R(3, 4, 3), R(4), atol=1e-4)
add("nn.conv_transpose1d_pad", lambda T, x, w: F(T).conv_transpose1d(
    x, w, stride=2, padding=1, output_padding=1), R(2, 3, 5), R(3, 2, 3), atol=1e-4)
add("nn.conv_transpose2d", lambda T, x, w: F(T).conv_transpose2d(x, w, stride=2),
    R(1, 2, 4, 4), R(2, 3, 3, 3), atol=1e-4)
add("nn.conv_transpose2d_pad", lambda T, x, w, b: F(T).conv_transpose2d(
    x, w, b, stride=2, padding=1, output_padding=1), R(1, 2, 4, 4), R(2, 3, 3, 3), R(3),
    atol=1e-4)
add("nn.conv_transpose2d_groups", lambda T, x, w: F(T).conv_transpose2d(x, w, groups=2),
    R(1, 4, 3, 3), R(4, 1, 2, 2), atol=1e-4)
add("nn.conv_transpose2d_dilation", lambda T, x, w: F(T).conv_transpose2d(x, w, dilation=2),
    R(1, 2, 3, 3), R(2, 2, 3, 3), atol=1e-4)
add("nn.max_pool2d", lambda T, x: F(T).max_pool2d(x, 2), D(2, 3, 6, 6))
add("nn.max_pool2d_stride_pad", lambda T, x: F(T).max_pool2d(x, 3, stride=2, padding=1),
    D(1, 2, 7, 7))
add("nn.max_pool2d_ceil", lambda T, x: F(T).max_pool2d(x, 2, ceil_mode=True), D(1, 2, 5, 5))
add("nn.max_pool2d_dilation", lambda T, x: F(T).max_pool2d(x, 2, dilation=2), D(1, 1, 6, 6))
add("nn.max_pool2d_indices", lambda T, x: F(T).max_pool2d(x, 2, return_indices=True),
    D(1, 2, 4, 4))
add("nn.max_pool2d_rect", lambda T, x: F(T).max_pool2d(x, (2, 3), stride=(2, 1)), D(1, 2, 6, 6))
add("nn.max_pool1d", lambda T, x: F(T).max_pool1d(x, 3, stride=2), D(2, 3, 9))
add("nn.max_pool1d_pad_indices", lambda T, x: F(T).max_pool1d(x, 2, padding=1,
                                                               return_indices=True), D(1, 2, 6))
add("nn.avg_pool2d", lambda T, x: F(T).avg_pool2d(x, 2), R(2, 3, 6, 6))
add("nn.avg_pool2d_pad", lambda T, x: F(T).avg_pool2d(x, 3, stride=2, padding=1), R(1, 2, 7, 7))
add("nn.avg_pool2d_exclude_pad", lambda T, x: F(T).avg_pool2d(x, 3, stride=2, padding=1,
                                                               count_include_pad=False),
    R(1, 2, 7, 7))
add("nn.avg_pool2d_ceil", lambda T, x: F(T).avg_pool2d(x, 2, ceil_mode=True), R(1, 2, 5, 5))
add("nn.avg_pool2d_divisor", lambda T, x: F(T).avg_pool2d(x, 2, divisor_override=3),
    R(1, 1, 4, 4))
add("nn.avg_pool1d", lambda T, x: F(T).avg_pool1d(x, 3, stride=2), R(2, 3, 9))
add("nn.max_unpool2d", lambda T, x: F(T).max_unpool2d(*F(T).max_pool2d(x, 2, return_indices=True),
                                                      2), D(1, 2, 4, 4))
add("nn.max_unpool2d_size", lambda T, x: F(T).max_unpool2d(
    *F(T).max_pool2d(x, 2, return_indices=True), 2, output_size=(5, 5)), D(1, 1, 5, 5))
add("nn.adaptive_avg_pool2d", lambda T, x: F(T).adaptive_avg_pool2d(x, (3, 4)), R(2, 3, 5, 7))
add("nn.adaptive_avg_pool2d_1", lambda T, x: F(T).adaptive_avg_pool2d(x, 1), R(2, 3, 5, 7))
add("nn.adaptive_avg_pool2d_none", lambda T, x: F(T).adaptive_avg_pool2d(x, (None, 2)),
    R(1, 2, 3, 4))
add("nn.adaptive_avg_pool1d", lambda T, x: F(T).adaptive_avg_pool1d(x, 3), R(2, 3, 7))
add("nn.adaptive_max_pool2d", lambda T, x: F(T).adaptive_max_pool2d(x, (3, 4)), D(2, 3, 5, 7))
add("nn.adaptive_max_pool2d_indices", lambda T, x: F(T).adaptive_max_pool2d(
    x, 2, return_indices=True), D(1, 2, 4, 5))
add("nn.interpolate_nearest", lambda T, x: F(T).interpolate(x, scale_factor=2), R(1, 2, 3, 3))
add("nn.interpolate_nearest_size", lambda T, x: F(T).interpolate(x, size=(5, 7),
                                                                  mode="nearest"), R(1, 2, 3, 4))
add("nn.interpolate_bilinear", lambda T, x: F(T).interpolate(x, scale_factor=2, mode="bilinear",
                                                              align_corners=False),
    R(1, 2, 3, 3))
add("nn.interpolate_bilinear_ac", lambda T, x: F(T).interpolate(x, size=(5, 6), mode="bilinear",
                                                                 align_corners=True),
    R(1, 2, 3, 4))
add("nn.interpolate_bilinear_down", lambda T, x: F(T).interpolate(x, size=(3, 2),
                                                                   mode="bilinear"),
    R(1, 1, 6, 5))
add("nn.interpolate_nearest_1d", lambda T, x: F(T).interpolate(x, scale_factor=3), R(2, 3, 4))
add("nn.upsample_module", lambda T, x: T.nn.Upsample(scale_factor=2, mode="nearest")(x),
    R(1, 1, 2, 3))
add("nn.embedding", lambda T, i, w: F(T).embedding(i, w), IT([[0, 2], [4, 2]]), R(5, 3))
add("nn.embedding_padding_idx", lambda T, i, w: F(T).embedding(i, w, padding_idx=0),
    IT([0, 2, 0, 1]), R(4, 3))
add("nn.sdpa", lambda T, q, k, v: F(T).scaled_dot_product_attention(q, k, v), R(2, 3, 4),
    R(2, 5, 4), R(2, 5, 6))
add("nn.sdpa_heads", lambda T, q, k, v: F(T).scaled_dot_product_attention(q, k, v),
    R(2, 2, 3, 4), R(2, 2, 3, 4), R(2, 2, 3, 4))
add("nn.sdpa_causal", lambda T, q, k, v: F(T).scaled_dot_product_attention(q, k, v,
                                                                           is_causal=True),
    R(1, 2, 4, 3), R(1, 2, 4, 3), R(1, 2, 4, 3))
add("nn.sdpa_bool_mask", lambda T, q, k, v, m: F(T).scaled_dot_product_attention(
    q, k, v, attn_mask=m), R(2, 3, 4), R(2, 5, 4), R(2, 5, 2),
    A([[True, True, False, True, False]] * 3))
add("nn.sdpa_float_mask", lambda T, q, k, v, m: F(T).scaled_dot_product_attention(
    q, k, v, attn_mask=m), R(2, 3, 4), R(2, 5, 4), R(2, 5, 2), nograd(R(3, 5)))
add("nn.sdpa_scale", lambda T, q, k, v: F(T).scaled_dot_product_attention(q, k, v, scale=0.3),
    R(1, 3, 4), R(1, 3, 4), R(1, 3, 4))
add("nn.dropout_eval", lambda T, x: F(T).dropout(x, p=0.5, training=False), R(3, 4))
add("nn.dropout_p0", lambda T, x: F(T).dropout(x, p=0.0), R(3, 4))
add("nn.dropout_p1", lambda T, x: F(T).dropout(x, p=1.0), R(3, 4))
add("nn.dropout_scaling", lambda T, x: (lambda y: bool(((y == 0) | ((y - x * 2).abs() < 1e-5))
                                                       .all()))(F(T).dropout(x, 0.5)),
    P(20, 20))
add("nn.dropout_module_eval", lambda T, x: T.nn.Dropout(0.3).eval()(x), R(3, 4))
add("nn.dropout2d_eval", lambda T, x: F(T).dropout2d(x, 0.5, training=False), R(2, 3, 4, 4))
add("nn.dropout2d_channels", lambda T, x: (lambda y: bool(
    ((y == 0).all((2, 3)) | (y != 0).all((2, 3))).all()))(F(T).dropout2d(x, 0.5)),
    P(4, 8, 3, 3))
add("nn.dropout1d_eval", lambda T, x: F(T).dropout1d(x, 0.5, training=False), R(2, 3, 4))
add("nn.alpha_dropout_eval", lambda T, x: F(T).alpha_dropout(x, 0.5, training=False), R(3, 4))
add("nn.layer_norm", lambda T, x, w, b: F(T).layer_norm(x, (4,), w, b), R(3, 4), R(4), R(4))
add("nn.layer_norm_noaffine", lambda T, x: F(T).layer_norm(x, (3, 4)), R(2, 3, 4))
add("nn.batch_norm_train", lambda T, x: F(T).batch_norm(x, None, None, training=True),
    R(4, 3, 2, 2))
add("nn.group_norm", lambda T, x: F(T).group_norm(x, 2), R(2, 4, 3))
add("nn.softmax_cross_dim", lambda T, x: F(T).softmax(x, dim=1).sum(1), R(2, 3, 4))
add("nn.cosine_similarity", lambda T, a, b: F(T).cosine_similarity(a, b, dim=1), R(3, 4),
    R(3, 4))
add("nn.unfold_im2col", lambda T, x: F(T).unfold(x, 2), R(1, 2, 3, 3))

# -- losses
LOGITS = R(4, 5)
TARGETS = IT([2, 0, 4, 1])
PROBS = In(np.random.default_rng(3).dirichlet(np.ones(5), 4))
add("loss.cross_entropy", lambda T, x, y: F(T).cross_entropy(x, y), LOGITS, TARGETS)
add("loss.cross_entropy_sum", lambda T, x, y: F(T).cross_entropy(x, y, reduction="sum"), R(4, 5),
    TARGETS)
add("loss.cross_entropy_none", lambda T, x, y: F(T).cross_entropy(x, y, reduction="none"),
    R(4, 5), TARGETS)
add("loss.cross_entropy_weight", lambda T, x, y, w: F(T).cross_entropy(x, y, weight=w), R(4, 5),
    TARGETS, nograd(P(5)))
add("loss.cross_entropy_ignore", lambda T, x, y: F(T).cross_entropy(x, y, ignore_index=1),
    R(4, 5), IT([2, 1, 4, 1]))
add("loss.cross_entropy_ignore_neg100", lambda T, x, y: F(T).cross_entropy(x, y), R(4, 5),
    IT([2, -100, 4, 1]))
add("loss.cross_entropy_smoothing", lambda T, x, y: F(T).cross_entropy(x, y,
                                                                       label_smoothing=0.1),
    R(4, 5), TARGETS)
add("loss.cross_entropy_smoothing_weight", lambda T, x, y, w: F(T).cross_entropy(
    x, y, weight=w, label_smoothing=0.2), R(4, 5), TARGETS, nograd(P(5)))
add("loss.cross_entropy_probs", lambda T, x, p: F(T).cross_entropy(x, p), R(4, 5), nograd(PROBS))
add("loss.cross_entropy_probs_smoothing", lambda T, x, p: F(T).cross_entropy(
    x, p, label_smoothing=0.1, reduction="sum"), R(4, 5), nograd(PROBS))
add("loss.cross_entropy_nd", lambda T, x, y: F(T).cross_entropy(x, y), R(2, 5, 3, 3),
    RI(0, 5, 2, 3, 3))
add("loss.cross_entropy_nd_none", lambda T, x, y: F(T).cross_entropy(x, y, reduction="none"),
    R(2, 5, 4), RI(0, 5, 2, 4))
add("loss.cross_entropy_nd_weight_ignore", lambda T, x, y, w: F(T).cross_entropy(
    x, y, weight=w, ignore_index=0), R(2, 5, 4), RI(0, 5, 2, 4), nograd(P(5)))
add("loss.cross_entropy_1d_input", lambda T, x, y: F(T).cross_entropy(x, y), R(5), IT(3))
add("loss.cross_entropy_module", lambda T, x, y: T.nn.CrossEntropyLoss(label_smoothing=0.05)(x, y),
    R(4, 5), TARGETS)
add("loss.nll_loss", lambda T, x, y: F(T).nll_loss(F(T).log_softmax(x, 1), y), R(4, 5), TARGETS)
add("loss.nll_loss_weight", lambda T, x, y, w: F(T).nll_loss(x, y, weight=w), R(4, 5), TARGETS,
    nograd(P(5)))
add("loss.nll_loss_ignore_none", lambda T, x, y: F(T).nll_loss(x, y, ignore_index=4,
                                                               reduction="none"), R(4, 5),
    TARGETS)
add("loss.nll_loss_nd", lambda T, x, y: F(T).nll_loss(x, y), R(2, 5, 3, 2), RI(0, 5, 2, 3, 2))
add("loss.nll_loss_sum", lambda T, x, y: F(T).nll_loss(x, y, reduction="sum"), R(4, 5), TARGETS)
add("loss.bce", lambda T, x, y: F(T).binary_cross_entropy(x.sigmoid(), y), R(3, 4),
    nograd(R(3, 4, lo=0, hi=1)))
add("loss.bce_weight_sum", lambda T, x, y, w: F(T).binary_cross_entropy(
    x.sigmoid(), y, weight=w, reduction="sum"), R(3, 4), nograd(R(3, 4, lo=0, hi=1)),
    nograd(P(4)))
add("loss.bce_extreme", lambda T, p, y: F(T).binary_cross_entropy(p, y), A([0.0, 1.0, 0.5]),
    A([1.0, 0.0, 1.0], grad=False), grad=False)
add("loss.bce_logits", lambda T, x, y: F(T).binary_cross_entropy_with_logits(x, y), R(3, 4),
    nograd(R(3, 4, lo=0, hi=1)))
add("loss.bce_logits_pos_weight", lambda T, x, y, pw: F(T).binary_cross_entropy_with_logits(
    x, y, pos_weight=pw), R(3, 4), nograd(R(3, 4, lo=0, hi=1)), nograd(P(4)))
add("loss.bce_logits_weight_none", lambda T, x, y, w: F(T).binary_cross_entropy_with_logits(
    x, y, weight=w, reduction="none"), R(3, 4), nograd(R(3, 4, lo=0, hi=1)), nograd(P(3, 1)))
add("loss.bce_logits_large", lambda T, x, y: F(T).binary_cross_entropy_with_logits(x * 100, y),
    R(6), nograd(R(6, lo=0, hi=1)))
add("loss.bce_logits_module", lambda T, x, y, pw: T.nn.BCEWithLogitsLoss(pos_weight=pw)(x, y),
    R(3, 4), nograd(R(3, 4, lo=0, hi=1)), nograd(P(4)))
add("loss.mse", lambda T, x, y: F(T).mse_loss(x, y), R(3, 4), R(3, 4))
add("loss.mse_sum", lambda T, x, y: F(T).mse_loss(x, y, reduction="sum"), R(3, 4), R(3, 4))
add("loss.mse_none", lambda T, x, y: F(T).mse_loss(x, y, reduction="none"), R(3, 4), R(3, 4))
add("loss.mse_module", lambda T, x, y: T.nn.MSELoss(reduction="sum")(x, y), R(3, 4), R(3, 4))
add("loss.l1", lambda T, x, y: F(T).l1_loss(x, y), R(3, 4), R(3, 4))
add("loss.l1_none", lambda T, x, y: F(T).l1_loss(x, y, reduction="none"), R(3, 4), R(3, 4))
add("loss.smooth_l1", lambda T, x, y: F(T).smooth_l1_loss(x, y), R(3, 4), R(3, 4))
add("loss.smooth_l1_beta", lambda T, x, y: F(T).smooth_l1_loss(x, y, beta=0.5, reduction="sum"),
    R(3, 4), R(3, 4))
add("loss.huber", lambda T, x, y: F(T).huber_loss(x, y), R(3, 4), R(3, 4))
add("loss.huber_delta", lambda T, x, y: F(T).huber_loss(x, y, reduction="none", delta=1.5),
    R(3, 4), R(3, 4))
add("loss.kl_div", lambda T, x, y: F(T).kl_div(F(T).log_softmax(x, 1), F(T).softmax(y, 1),
                                               reduction="batchmean"), R(3, 4), nograd(R(3, 4)))
add("loss.kl_div_log_target", lambda T, x, y: F(T).kl_div(
    F(T).log_softmax(x, 1), F(T).log_softmax(y, 1), reduction="sum", log_target=True),
    R(3, 4), R(3, 4))
add("loss.kl_div_none", lambda T, x, y: F(T).kl_div(x, y, reduction="none"), R(3, 4),
    nograd(R(3, 4, lo=0.01, hi=1)))
add("loss.kl_div_mean", lambda T, x, y: F(T).kl_div(x, y), R(3, 4), nograd(R(3, 4, lo=0.01, hi=1)))
add("loss.mse_broadcast_shape", lambda T, x, y: F(T).mse_loss(x, y.expand_as(x)), R(3, 4), R(4))

# -- exceptions: where torch raises, so does minigrad (RuntimeError, or IndexError as torch)
add("exc.matmul_shapes", lambda T, a, b: a @ b, R(2, 3), R(4, 5), raises=RuntimeError)
add("exc.matmul_batched_shapes", lambda T, a, b: a @ b, R(2, 2, 3), R(3, 3, 4),
    raises=RuntimeError)
add("exc.reshape_invalid", lambda T, a: a.reshape(5, -1), R(2, 3), raises=RuntimeError)
add("exc.view_invalid", lambda T, a: a.view(4, 2), R(2, 3), raises=RuntimeError)
add("exc.permute_wrong_dims", lambda T, a: a.permute(0, 1), R(2, 3, 4), raises=RuntimeError)
add("exc.conv_kernel_too_large", lambda T, x, w: F(T).conv2d(x, w), R(1, 1, 2, 2),
    R(1, 1, 3, 3), raises=RuntimeError)
add("exc.conv_channels", lambda T, x, w: F(T).conv2d(x, w), R(1, 2, 5, 5), R(1, 3, 3, 3),
    raises=RuntimeError)
add("exc.add_broadcast", lambda T, a, b: a + b, R(2, 3), R(4), raises=RuntimeError)
add("exc.cat_shapes", lambda T, a, b: T.cat([a, b]), R(2, 3), R(2, 4), raises=RuntimeError)
add("exc.stack_shapes", lambda T, a, b: T.stack([a, b]), R(2, 3), R(3, 2), raises=RuntimeError)
add("exc.expand_invalid", lambda T, a: a.expand(2, 4), R(3), raises=RuntimeError)
add("exc.backward_nonscalar", lambda T, a: (a * 2).backward(), R(3), raises=RuntimeError)
add("exc.backward_no_grad", lambda T, a: (a * 2).sum().backward(), nograd(R(3)),
    raises=RuntimeError)
add("exc.gather_out_of_range", lambda T, a, i: a.gather(1, i), R(2, 3), IT([[0], [3]]),
    raises=RuntimeError)
add("exc.linear_shapes", lambda T, x, w: F(T).linear(x, w), R(2, 3), R(4, 5), raises=RuntimeError)
add("exc.cross_entropy_shapes", lambda T, x, y: F(T).cross_entropy(x, y), R(4, 5), IT([1, 2]),
    raises=(ValueError, RuntimeError))
add("exc.mse_shapes", lambda T, x, y: F(T).mse_loss(x, y), R(3, 4), R(2, 4), raises=RuntimeError)
add("exc.item_many", lambda T, a: a.item(), R(3), raises=RuntimeError)
add("exc.bool_ambiguous", lambda T, a: bool(a > 0), R(3), raises=RuntimeError)
add("exc.squeeze_dim_range", lambda T, a: a.squeeze(3), R(2, 3), raises=IndexError)
add("exc.index_select_float_index", lambda T, a, i: a.index_select(0, i), R(3), R(2),
    raises=(IndexError, RuntimeError))
add("exc.one_hot_float", lambda T, y: F(T).one_hot(y), R(3), raises=RuntimeError)

# -- idioms of everyday torch code
add("idiom.view_batch", lambda T, x: x.view(x.size(0), -1), R(2, 3, 4))
add("idiom.flatten_all", lambda T, x: x.flatten(), R(2, 3, 4))
add("idiom.sum_list_dims", lambda T, x: x.sum(dim=[0, 2]), R(2, 3, 4))
add("idiom.permute_list", lambda T, x: x.permute([2, 0, 1]), R(2, 3, 4))
add("idiom.reshape_list", lambda T, x: x.reshape([4, 6]), R(2, 3, 4))
add("idiom.transpose_neg", lambda T, x: x.transpose(-1, 0), R(2, 3, 4))
add("idiom.unsqueeze_expand", lambda T, x: x.unsqueeze(0).expand(3, -1, -1), R(2, 4))
add("idiom.type_as", lambda T, x, y: x.type_as(y), IT([1, 2]), f64(R(2)))
add("idiom.new_zeros", lambda T, x: x.new_zeros(2, 3), f64(R(2)))
add("idiom.new_ones", lambda T, x: x.new_ones((2,)), IT([1, 2]))
add("idiom.new_full", lambda T, x: x.new_full((2, 2), 7.0), R(2))
add("idiom.new_tensor", lambda T, x: x.new_tensor([1.0, 2.0]), f64(R(2)))
add("idiom.new_empty", lambda T, x: x.new_empty((2, 3)).shape, R(2))
add("idiom.clamp_min", lambda T, x: x.clamp_min(0.1), R(3, 4))
add("idiom.clamp_max", lambda T, x: x.clamp_max(0.1), R(3, 4))
add("idiom.attention_mask", lambda T, s: s.masked_fill(T.ones(4, 4).triu(1).bool(),
                                                       float("-inf")).softmax(-1), R(2, 4, 4))
add("idiom.mean_keepdim_std", lambda T, x: (x - x.mean(0, keepdim=True))
    / x.std(0, keepdim=True), R(5, 3))
add("idiom.abs_argmax_keepdim", lambda T, x: x.abs().argmax(dim=-1, keepdim=True), D(3, 4))
add("idiom.int_sign", lambda T, x: x.sign(), IT([-3, 0, 2]))
add("idiom.arange_float_mean", lambda T, dev: T.arange(5, device=dev).float().mean())
add("idiom.sort_uint8_desc", lambda T, x: x.sort(descending=True), IT([0, 5, 3, 200], "uint8"))
add("idiom.sort_ties_stable_desc", lambda T, x: x.sort(descending=True, stable=True),
    A([1.0, 3.0, 1.0, 3.0, 2.0]))
add("idiom.argmax_ties", lambda T, x: x.argmax(1), A([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
add("idiom.max_dim_ties", lambda T, x: x.max(1), A([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
add("idiom.clamp_min_gt_max", lambda T, x: x.clamp(1.0, -1.0), R(5))
add("idiom.ones_like_grad_flow", lambda T, x: x * T.ones_like(x), R(3))
add("idiom.detach_numpy_roundtrip", lambda T, x: T.from_numpy(x.detach().cpu().numpy() * 2),
    R(3))
add("idiom.float_tensor_index_list", lambda T, x: x[T.tensor([0, 2])], R(3, 2))
add("idiom.bool_tensor_sum", lambda T, x: (x > 0).sum().item(), R(10))
add("idiom.item_in_python_math", lambda T, x: x.mean().item() * 2 + 1, R(4))
add("idiom.scalar_tensor_compare", lambda T, x: bool((x.sum() > -100).item()), R(4))
add("idiom.chain_methods", lambda T, x: x.exp().log().sqrt().pow(2).neg().abs(), P(3, 4))
add("idiom.softmax_sum_one", lambda T, x: F(T).softmax(x, 1).sum(1), R(3, 5))
add("idiom.log_softmax_gather", lambda T, x, y: -F(T).log_softmax(x, 1).gather(
    1, y.unsqueeze(1)).mean(), R(4, 5), IT([1, 0, 4, 2]))
add("idiom.one_hot_float_mul", lambda T, x, y: (x * F(T).one_hot(y, 5).float()).sum(), R(4, 5),
    IT([1, 0, 4, 2]))
add("idiom.linear_relu_stack", lambda T, x, w1, w2: F(T).relu(x @ w1.t()) @ w2.t(), R(4, 3),
    R(5, 3), R(2, 5), atol=1e-4)
add("idiom.residual", lambda T, x, w: x + F(T).gelu(F(T).linear(x, w)), R(2, 4), R(4, 4))
add("idiom.layer_norm_manual", lambda T, x: (x - x.mean(-1, keepdim=True))
    / (x.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt(), R(3, 6))
add("idiom.float64_matmul_cl", lambda T, a, b: a @ b, f64(R(3, 4)), f64(R(4, 2)))
add("idiom.float64_softmax", lambda T, x: x.softmax(-1), f64(R(3, 4)))
add("idiom.float64_conv2d", lambda T, x, w: F(T).conv2d(x, w, padding=1), f64(R(1, 2, 4, 4)),
    f64(R(3, 2, 3, 3)))
add("idiom.float64_cross_entropy", lambda T, x, y: F(T).cross_entropy(x, y), f64(R(4, 5)),
    IT([1, 0, 4, 2]))
add("idiom.float64_sum_reduce", lambda T, x: x.sum(0).max(), f64(D(3, 4)))
add("idiom.empty_ops", lambda T, x: (x * 2 + 1).exp().reshape(0, 4).sum(1), R(0, 4))
add("idiom.empty_cat", lambda T, a, b: T.cat([a, b], 1), R(2, 0), R(2, 3))
add("idiom.empty_index", lambda T, x, i: x[i], R(3, 4), IT(np.zeros(0, dtype=np.int64)))
add("idiom.module_linear_copy", lambda T, x, w, b, dev: _linear_module(T, x, w, b, dev), R(2, 3),
    nograd(R(4, 3)), nograd(R(4)))
add("idiom.module_conv_copy", lambda T, x, w, dev: _conv_module(T, x, w, dev), R(1, 2, 5, 5),
    nograd(R(3, 2, 3, 3)), atol=1e-4)
add("idiom.sequential", lambda T, x, dev: T.nn.Sequential(T.nn.ReLU(), T.nn.Tanh(),
                                                          T.nn.Flatten()).to(dev)(x), R(2, 3, 4))


# -- argument spellings and edge values an outside suite reaches for
add("edge.sum_axis_alias", lambda T, x: x.sum(axis=1, keepdims=True), R(3, 4))
add("edge.squeeze_dims_tuple", lambda T, x: x.squeeze((0, 2)), R(1, 3, 1, 2))
add("edge.unsqueeze_kw", lambda T, x: x.unsqueeze(dim=-1), R(3))
add("edge.transpose_kw", lambda T, x: x.transpose(dim0=0, dim1=1), R(2, 3))
add("edge.flatten_kw", lambda T, x: T.flatten(x, start_dim=1), R(2, 3, 4))
add("edge.view_size", lambda T, x: x.view(T.Size([4, 6])) if hasattr(T, "Size")
    else x.view((4, 6)), R(2, 3, 4))
add("edge.chunk_default_dim", lambda T, x: x.chunk(3), R(6, 2))
add("edge.argmin_keepdim", lambda T, x: x.argmin(dim=1, keepdim=True), D(3, 4))
add("edge.prod_neg_dim", lambda T, x: x.prod(-1), R(3, 4))
add("edge.cumsum_neg_dim", lambda T, x: x.cumsum(-1), R(3, 4))
add("edge.cumprod_neg_dim", lambda T, x: x.cumprod(dim=-1), R(3, 4))
add("edge.logsumexp_neg_inf", lambda T, x: x.logsumexp(1), A([[-np.inf, -np.inf], [0.0, 1.0]]),
    grad=False)
add("edge.var_correction0_single", lambda T, x: x.var(correction=0), R(1))
add("edge.stack_int", lambda T, a, b: T.stack([a, b], 1), IT([1, 2]), IT([3, 4]))
add("edge.cat_bool", lambda T, a, b: T.cat([a, b]), B(3), B(2))
add("edge.where_bcast_cond", lambda T, c, x, y: T.where(c, x, y), B(3, 1), R(3, 4), R(4))
add("edge.bool_list_index", lambda T, x: x[[True, False, True]], R(3, 2))
add("edge.slice_iadd", lambda T, x: _slice_iadd(T, x), R(4, 3), grad=False)
add("edge.maximum_0d", lambda T, x: T.maximum(x, T.tensor(0.0)), NZ(3, 4))
add("edge.clamp_0d_tensor_bound", lambda T, x: x.clamp(min=T.tensor(-0.5)), R(3, 4))
add("edge.normalize_last", lambda T, x: F(T).normalize(x, dim=-1), R(3, 4))
add("edge.interpolate_down", lambda T, x: F(T).interpolate(x, scale_factor=0.5), R(1, 2, 4, 6))
add("edge.avg_pool_rect", lambda T, x: F(T).avg_pool2d(x, kernel_size=(2, 3)), R(1, 2, 4, 6))
add("edge.max_pool_pad_ceil", lambda T, x: F(T).max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
    D(1, 1, 6, 7))
add("edge.conv2d_everything", lambda T, x, w: F(T).conv2d(x, w, stride=2, padding=(1, 2),
                                                          dilation=(2, 1), groups=2),
    R(1, 4, 7, 6), R(4, 2, 3, 2), atol=1e-4)
add("edge.cross_entropy_all_ignored", lambda T, x, y: F(T).cross_entropy(x, y), R(2, 3),
    IT([-100, -100]), grad=False)
add("edge.nll_1d_input", lambda T, x, y: F(T).nll_loss(x, y), R(5), IT(2))
add("edge.smooth_l1_beta0", lambda T, x, y: F(T).smooth_l1_loss(x, y, beta=0.0), R(3, 4),
    R(3, 4))
add("edge.huber_delta_sum", lambda T, x, y: F(T).huber_loss(x, y, reduction="sum", delta=0.5),
    R(3, 4), R(3, 4))
add("edge.mse_broadcast", lambda T, x, y: F(T).mse_loss(x, y), R(3, 4), R(4))
add("edge.linspace_one", lambda T, dev: T.linspace(0, 1, 1, device=dev))
add("edge.eye_index", lambda T, dev: T.eye(3, device=dev)[[0, 2]])
add("edge.full_like_nan", lambda T, x: T.full_like(x, float("nan")), R(2), grad=False)
add("edge.torch_softmax", lambda T, x: T.softmax(x, dim=1), R(2, 3))
add("edge.relu_inplace_kw", lambda T, x: F(T).relu(x * 1.0, inplace=True), NZ(3, 4))
add("edge.log_softmax_dtype", lambda T, x: F(T).log_softmax(x, dim=1, dtype=T.float64), R(2, 3))
add("edge.softmax_dtype", lambda T, x: F(T).softmax(x, -1, dtype=T.float64), R(2, 3))
add("edge.leaky_relu_positional", lambda T, x: F(T).leaky_relu(x, 0.1), NZ(3, 4))
add("edge.dropout_positional", lambda T, x: F(T).dropout(x, 0.5, False), R(3, 4))
add("edge.int_arange_step_view", lambda T, dev: T.arange(10, device=dev).view(2, 5)[:, ::2])
add("edge.abs_int_func", lambda T, x: T.abs(x), IT([-3, 2]))
add("edge.sum_int32_dtype", lambda T, x: x.sum(dtype=T.int32), IT([1, 2, 3]))
add("edge.mean_dim_tuple_keepdim", lambda T, x: x.mean(dim=(0, 1), keepdim=True), R(2, 3, 4))
add("edge.topk_sorted_false_values", lambda T, x: T.sort(T.topk(x, 3, sorted=False).values)
    .values, D(8))
add("edge.repeat_0d", lambda T, x: x.repeat(3), R())
add("edge.expand_new_dims", lambda T, x: x.expand(2, 3, 4), R(4))
add("edge.index_negative_list", lambda T, x: x[[-1, 0]], R(3, 2))
add("edge.index_tensor_negative", lambda T, x, i: x[:, i], R(3, 4), IT([-1, -4]))
add("edge.gather_negative_dim", lambda T, x, i: x.gather(-1, i), R(3, 4), IT([[0], [3], [1]]))


# -- a third batch: modules, empty dims, integer and float16 details, more options
add("more.var_empty", lambda T, x: x.var(1), R(2, 0), grad=False)
add("more.std_one", lambda T, x: x.std(0), R(1, 3), grad=False)
add("more.logsumexp_empty", lambda T, x: x.logsumexp(1), R(2, 0), grad=False)
add("more.argmax_empty_raises", lambda T, x: x.argmax(), R(0), raises=IndexError)
add("more.amax_empty_raises", lambda T, x: x.amax(0), R(0, 3), raises=IndexError)
add("more.amax_nonempty_dim_of_empty", lambda T, x: x.amax(1), R(0, 3), grad=False)
add("more.argmax_nonempty_dim_of_empty", lambda T, x: x.argmax(1), R(0, 3))
add("more.prod_empty_dim", lambda T, x: x.prod(1), R(2, 0))
add("more.cumprod_empty", lambda T, x: x.cumprod(0), R(0))
add("more.nn_maxpool_indices", lambda T, x, dev: T.nn.MaxPool2d(2, return_indices=True).to(dev)(x),
    D(1, 2, 4, 4))
add("more.nn_avgpool_exclude", lambda T, x, dev: T.nn.AvgPool2d(
    3, stride=2, padding=1, count_include_pad=False).to(dev)(x), R(1, 2, 5, 5))
add("more.nn_adaptive_avg", lambda T, x, dev: T.nn.AdaptiveAvgPool2d((2, 3)).to(dev)(x),
    R(1, 2, 5, 7))
add("more.nn_adaptive_max", lambda T, x, dev: T.nn.AdaptiveMaxPool2d(2).to(dev)(x),
    D(1, 2, 5, 5))
add("more.nn_upsample_bilinear", lambda T, x, dev: T.nn.Upsample(
    scale_factor=2, mode="bilinear", align_corners=True).to(dev)(x), R(1, 1, 3, 3))
add("more.nn_dropout2d_eval", lambda T, x, dev: T.nn.Dropout2d(0.5).to(dev).eval()(x),
    R(1, 2, 3, 3))
add("more.nn_l1loss", lambda T, x, y, dev: T.nn.L1Loss(reduction="sum").to(dev)(x, y), R(3, 4),
    R(3, 4))
add("more.nn_smoothl1", lambda T, x, y, dev: T.nn.SmoothL1Loss(beta=0.5).to(dev)(x, y), R(3, 4),
    R(3, 4))
add("more.nn_huber", lambda T, x, y, dev: T.nn.HuberLoss(delta=0.7).to(dev)(x, y), R(3, 4),
    R(3, 4))
add("more.nn_kldiv", lambda T, x, y, dev: T.nn.KLDivLoss(reduction="batchmean").to(dev)(
    F(T).log_softmax(x, 1), F(T).softmax(y, 1)), R(3, 4), nograd(R(3, 4)))
add("more.nn_nllloss_weight", lambda T, x, y, w, dev: T.nn.NLLLoss(weight=w).to(dev)(x, y),
    R(4, 5), IT([1, 0, 4, 2]), nograd(P(5)))
add("more.nn_bceloss", lambda T, x, y, dev: T.nn.BCELoss().to(dev)(x.sigmoid(), y), R(3, 4),
    nograd(R(3, 4, lo=0, hi=1)))
add("more.nn_ce_weight_ignore", lambda T, x, y, w, dev: T.nn.CrossEntropyLoss(
    weight=w, ignore_index=2).to(dev)(x, y), R(4, 5), IT([1, 2, 4, 2]), nograd(P(5)))
add("more.sdpa_mask_bcast", lambda T, q, k, v, m: F(T).scaled_dot_product_attention(
    q, k, v, attn_mask=m), R(2, 2, 3, 4), R(2, 2, 5, 4), R(2, 2, 5, 4),
    A([[[[True, False, True, True, False]]]] * 2))
add("more.conv_transpose1d_groups_dil", lambda T, x, w: F(T).conv_transpose1d(
    x, w, groups=2, dilation=2, stride=2), R(1, 4, 5), R(4, 1, 3), atol=1e-4)
add("more.adaptive_max_pool1d", lambda T, x: F(T).adaptive_max_pool1d(x, 3), D(2, 3, 7))
add("more.max_pool1d_ceil", lambda T, x: F(T).max_pool1d(x, 2, ceil_mode=True), D(1, 2, 7))
add("more.avg_pool1d_pad", lambda T, x: F(T).avg_pool1d(x, 3, stride=2, padding=1,
                                                         count_include_pad=False), R(1, 2, 7))
add("more.max_unpool1d", lambda T, x: F(T).max_unpool1d(*F(T).max_pool1d(
    x, 2, return_indices=True), 2), D(1, 2, 6))
add("more.interpolate_bilinear_frac", lambda T, x: F(T).interpolate(
    x, scale_factor=1.5, mode="bilinear", align_corners=False), R(1, 1, 4, 4))
add("more.einsum_bmm_t", lambda T, a, b: T.einsum("bij,bkj->bik", a, b), R(2, 3, 4), R(2, 5, 4))
add("more.einsum_bcast_ellipsis", lambda T, a, b: T.einsum("...ij,jk->...ik", a, b),
    R(2, 3, 4), R(4, 2))
add("more.take_along_dim_none", lambda T, x, i: T.take_along_dim(x, i), R(3, 4), IT([0, 5, 11]))
add("more.nonzero_1d", lambda T, x: (x > 0).nonzero(), R(6))
add("more.scatter_reduce_kw", lambda T, x, i, s: x.scatter(1, i, s, reduce="add"),
    nograd(R(3, 4)), IT([[0, 0], [2, 1], [3, 3]]), nograd(R(3, 2)))
add("more.scatter_reduce_prod_self", lambda T, x, i, s: x.scatter_reduce(
    1, i, s, "prod", include_self=True), R(3, 4), IT([[0, 0], [2, 1], [3, 3]]), R(3, 2))
add("more.diagonal_negative", lambda T, x: x.diagonal(-1), R(4, 3))
add("more.tril_rect_neg", lambda T, x: x.tril(-1), R(3, 5))
add("more.meshgrid_three", lambda T, a, b, c: T.meshgrid(a, b, c, indexing="ij"), R(2), R(3),
    R(4))
add("more.one_hot_0d", lambda T, y: F(T).one_hot(y, 4), IT(2))
add("more.arange_neg_step", lambda T, dev: T.arange(1, 0, -0.25, device=dev))
add("more.eye_zero", lambda T, dev: T.eye(0, device=dev))
add("more.full_empty", lambda T, dev: T.full((0, 2), 1.5, device=dev))
add("more.randint_dtype", lambda T, dev: T.randint(0, 5, (3,), dtype=T.int32, device=dev).dtype)
add("more.randn_requires_grad", lambda T, dev: T.randn(2, requires_grad=True, device=dev)
    .requires_grad)
add("more.tensor_bool_from_ints", lambda T, dev: T.tensor([0, 2, 1], dtype=T.bool, device=dev))
add("more.tensor_from_uint8_np", lambda T, dev: T.tensor(np.array([1, 255], dtype=np.uint8),
                                                         device=dev))
add("more.from_numpy_int32", lambda T: T.from_numpy(np.array([1, 2], dtype=np.int32)))
add("more.bool_add_bool", lambda T, a, b: a + b, B(4), B(4))
add("more.bool_mul_bool", lambda T, a, b: a * b, B(4), B(4))
add("more.bool_sub_raises", lambda T, a, b: a - b, B(4), B(4), raises=RuntimeError)
add("more.float_invert_raises", lambda T, a: ~a, R(3), raises=(RuntimeError, TypeError))
add("more.float_and_raises", lambda T, a, b: a & b, R(3), R(3), raises=(RuntimeError, TypeError))
add("more.int_floordiv_zero_raises", lambda T, a: a // 0, IT([1, 2]), raises=RuntimeError)
add("more.int_large_exact", lambda T, a: a + 1, IT([2 ** 53 + 1, -(2 ** 62)]))
add("more.int8_wraps", lambda T, a: a * 3, IT([100, -100], "int8"))
add("more.uint8_sub_wraps", lambda T, a: a - 1, IT([0, 5], "uint8"))
add("more.half_exp", lambda T, a: a.exp(), In(R(4).array, "float16", False), atol=2e-3, rtol=2e-3)
add("more.half_matmul", lambda T, a, b: a @ b, In(R(2, 3).array, "float16", False),
    In(R(3, 2).array, "float16", False), atol=1e-2, rtol=1e-2)
add("more.half_softmax", lambda T, a: a.softmax(-1), In(R(2, 4).array, "float16", False),
    atol=2e-3, rtol=2e-3)
add("more.half_mean", lambda T, a: a.mean(), In(R(8).array, "float16", False), atol=2e-3,
    rtol=2e-3)
add("more.half_grad", lambda T, a: (a.half() * 2).float(), R(3), atol=2e-3, rtol=2e-3)


# -- special values: NaN, inf, ties (where a wrong answer hides most easily)
NANS = A([[1.0, np.nan, 3.0], [-1.0, 2.0, 0.5]])
add("special.sort_nan", lambda T, x: x.sort(1), NANS, grad=False)
add("special.sort_nan_desc", lambda T, x: x.sort(1, descending=True), NANS, grad=False)
add("special.argmax_nan", lambda T, x: x.argmax(1), NANS)
add("special.max_nan", lambda T, x: (x.max(), x.amax(1)), NANS, grad=False)
add("special.max_dim_nan", lambda T, x: x.max(1), NANS, grad=False)
add("special.maximum_nan", lambda T, x, y: T.maximum(x, y), NANS, A([2.0, 2.0, 2.0]), grad=False)
add("special.clamp_nan", lambda T, x: x.clamp(0, 1), NANS, grad=False)
add("special.relu_nan", lambda T, x: x.relu(), NANS, grad=False)
add("special.cumsum_nan", lambda T, x: x.cumsum(1), NANS, grad=False)
add("special.sum_nan", lambda T, x: x.sum(1), NANS, grad=False)
add("special.topk_nan", lambda T, x: x.topk(1), NANS, grad=False)
add("special.cummax_ties", lambda T, x: x.cummax(0), A([1.0, 3.0, 3.0, 2.0, 3.0]), grad=False)
add("special.cummin_ties", lambda T, x: x.cummin(0), A([3.0, 1.0, 1.0, 2.0, 1.0]), grad=False)
add("special.topk_ties", lambda T, x: x.topk(2), A([1.0, 3.0, 3.0, 2.0]), grad=False)
add("special.argmin_ties", lambda T, x: x.argmin(), A([2.0, 1.0, 1.0]))
add("special.round_half_even", lambda T, x: x.round(), A([0.5, 1.5, 2.5, -0.5, -1.5]))
add("special.pow_zero_zero", lambda T, x: x ** 0.0, A([0.0, 2.0]), grad=False)
add("special.pow_neg_frac", lambda T, x: x ** (1.0 / 3.0), A([-8.0, 8.0]), grad=False)
add("special.log1p_minus1", lambda T, x: x.log1p(), A([-1.0, 0.0]), grad=False)
add("special.atan2_zero", lambda T, x, y: T.atan2(x, y), A([0.0, 1.0]), A([0.0, 0.0]),
    grad=False)
add("special.isclose_inf", lambda T, x, y: x.isclose(y), A([np.inf, -np.inf, 1.0]),
    A([np.inf, np.inf, 1.0]))
add("special.softmax_all_neg_inf", lambda T, x: x.softmax(1), A([[-np.inf, -np.inf],
                                                                [0.0, -np.inf]]), grad=False)
add("special.log_softmax_neg_inf", lambda T, x: x.log_softmax(1), A([[0.0, -np.inf, 1.0]]),
    grad=False)
add("special.exp_inf", lambda T, x: x.exp(), A([np.inf, -np.inf, np.nan]), grad=False)
add("special.sigmoid_inf", lambda T, x: x.sigmoid(), A([np.inf, -np.inf]), grad=False)
add("special.int_pow_wrap", lambda T, x: x ** 40, IT([3, -3]))
add("special.median_ties", lambda T, x: x.median(), A([1.0, 2.0, 2.0, 3.0]))
add("special.sign_nan", lambda T, x: x.sign(), NANS, grad=False)
add("special.nan_eq", lambda T, x: (x == x, x != x), NANS)
add("special.mean_inf", lambda T, x: x.mean(), A([np.inf, 1.0]), grad=False)
add("special.var_inf", lambda T, x: x.var(), A([np.inf, 1.0]), grad=False)
add("special.div_by_zero", lambda T, x: x / 0.0, A([1.0, -1.0, 0.0]), grad=False)
add("special.int_true_div_zero", lambda T, x: x / 0, IT([1, -1, 0]))
add("special.fmod_neg", lambda T, x: x.fmod(-0.7), R(3, 4, lo=-3, hi=3))
add("special.remainder_neg", lambda T, x: x.remainder(-0.7), R(3, 4, lo=-3, hi=3))


# -- gradients at special points
EDGES = A([-3.0, -1.0, 0.0, 1.0, 3.0])
add("grad.where_sqrt_negative", lambda T, x: T.where(x > 0, x.sqrt(), 0.0), A([-1.0, 4.0]))
add("grad.norm_at_zero", lambda T, x: x.norm(), A([0.0, 0.0, 0.0]))
add("grad.norm_dim_at_zero", lambda T, x: x.norm(dim=1), A([[0.0, 0.0], [3.0, 4.0]]))
add("grad.std_constant", lambda T, x: x.std(), A([2.0, 2.0, 2.0]))
add("grad.leaky_relu_at_0", lambda T, x: F(T).leaky_relu(x, 0.2), EDGES)
add("grad.elu_at_0", lambda T, x: F(T).elu(x, alpha=0.5), EDGES)
add("grad.hardswish_bounds", lambda T, x: F(T).hardswish(x), EDGES)
add("grad.hardsigmoid_bounds", lambda T, x: F(T).hardsigmoid(x), EDGES)
add("grad.hardtanh_bounds", lambda T, x: F(T).hardtanh(x), EDGES)
add("grad.relu6_bounds", lambda T, x: F(T).relu6(x * 2), EDGES)
add("grad.softplus_threshold", lambda T, x: F(T).softplus(x, beta=1.0, threshold=1.0), EDGES)
add("grad.pow_zero_exponent", lambda T, x: x ** 0, A([0.0, 2.0]))
add("grad.pow_half_at_zero", lambda T, x: x ** 0.5, A([0.0, 4.0]))
add("grad.log_at_zero", lambda T, x: x.log(), A([0.0, 1.0]))
add("grad.kl_div_zero_target", lambda T, x, y: F(T).kl_div(x, y, reduction="sum"), R(2, 3),
    nograd(A([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])))
add("grad.log_softmax_neg_inf", lambda T, x: x.log_softmax(1)[:, 0], A([[0.0, -np.inf, 1.0]]))
add("grad.ce_smoothing_ignore", lambda T, x, y: F(T).cross_entropy(
    x, y, ignore_index=0, label_smoothing=0.2), R(4, 5), IT([0, 1, 4, 0]))
add("grad.median_ties", lambda T, x: x.median(), A([1.0, 2.0, 2.0, 3.0, 2.0]))
add("grad.max_dim_ties", lambda T, x: x.max(1).values, A([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
add("grad.min_all_ties", lambda T, x: x.min(), A([1.0, 0.0, 0.0, 2.0]))
add("grad.clamp_min_equal_max", lambda T, x: x.clamp(0.5, 0.5), A([0.0, 0.5, 1.0]))
add("grad.abs_sign_zero", lambda T, x: x.abs() + x.sign(), A([0.0, -1.0]))
add("grad.sigmoid_saturated", lambda T, x: x.sigmoid(), A([-40.0, 40.0]))
add("grad.logsigmoid_saturated", lambda T, x: F(T).logsigmoid(x), A([-100.0, 100.0]))
add("grad.bce_logits_saturated", lambda T, x, y: F(T).binary_cross_entropy_with_logits(x, y),
    A([-100.0, 100.0]), nograd(A([1.0, 0.0])))
add("grad.cosine_similarity_zero", lambda T, a, b: F(T).cosine_similarity(a, b, dim=0),
    A([0.0, 0.0]), A([1.0, 2.0]))
add("grad.normalize_zero", lambda T, x: F(T).normalize(x, dim=0), A([0.0, 0.0]))
add("grad.gelu_tanh_far", lambda T, x: F(T).gelu(x, approximate="tanh"), A([-20.0, 20.0]))
add("grad.mish_far", lambda T, x: F(T).mish(x), A([-30.0, 30.0]))
add("grad.softmax_large", lambda T, x: x.softmax(0), A([1000.0, 0.0, -1000.0]))


# -- gradients at the kinks of piecewise ops, and at ties
KINKS = A([-1.0, 0.0, 0.5, 1.0, 6.0])
add("kink.relu6", lambda T, x: F(T).relu6(x), KINKS)
add("kink.hardtanh_custom", lambda T, x: F(T).hardtanh(x, 0.0, 1.0), KINKS)
add("kink.selu", lambda T, x: F(T).selu(x), KINKS)
add("kink.celu", lambda T, x: F(T).celu(x, 0.7), KINKS)
add("kink.prelu", lambda T, x, w: F(T).prelu(x, w), KINKS, A([0.25]))
add("kink.l1_zero_diff", lambda T, x, y: F(T).l1_loss(x, y), A([1.0, 2.0]), A([1.0, 0.0]))
add("kink.smooth_l1_at_beta", lambda T, x, y: F(T).smooth_l1_loss(x, y, beta=1.0, reduction="sum"),
    A([1.0, 2.0, 0.5]), A([0.0, 0.0, 0.0]))
add("kink.huber_at_delta", lambda T, x, y: F(T).huber_loss(x, y, delta=1.0, reduction="sum"),
    A([1.0, -1.0, 3.0]), A([0.0, 0.0, 0.0]))
add("kink.max_pool_ties", lambda T, x: F(T).max_pool2d(x, 2), A(np.ones((1, 1, 4, 4))))
add("kink.max_pool_ties_stride1", lambda T, x: F(T).max_pool2d(x, 2, stride=1),
    A([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]]]]))
add("kink.adaptive_max_ties", lambda T, x: F(T).adaptive_max_pool2d(x, 1), A(np.ones((1, 1, 2, 2))))
add("kink.cummax_ties_grad", lambda T, x: x.cummax(0).values, A([1.0, 3.0, 3.0, 2.0, 3.0]))
add("kink.topk_ties_grad", lambda T, x: x.topk(2).values, A([1.0, 3.0, 3.0, 2.0]))
add("kink.sort_ties_grad", lambda T, x, dev: x.sort(descending=True).values
    * T.arange(4.0, device=dev),
    A([1.0, 3.0, 3.0, 2.0]))
add("kink.amin_ties", lambda T, x: x.amin(1), A([[1.0, 1.0, 2.0], [0.0, 3.0, 0.0]]))
add("kink.minimum_tie", lambda T, a, b: T.minimum(a, b), A([1.0, 2.0]), A([1.0, 3.0]))
add("kink.clamp_tensor_tie", lambda T, x, lo: x.clamp(min=lo), A([1.0, 2.0]), A([1.0, 1.0]))
add("kink.frac_floor", lambda T, x: x.frac() + x.floor(), A([-1.5, 0.0, 2.0]))
add("kink.fmod_at_multiple", lambda T, x: x.fmod(1.0), A([2.0, -1.0, 0.5]))
add("kink.logaddexp_equal", lambda T, a, b: T.logaddexp(a, b), A([1.0, -2.0]), A([1.0, -2.0]))


# -- float64 and small integer dtypes through a sample of ops (every device computes them)
for _name in ["exp", "log1p", "tanh", "sigmoid", "erf", "atan", "rsqrt", "expm1"]:
    _gen = dict(UNARY)[_name]
    add(f"f64.{_name}", eval(f"lambda T, x: x.{_name}()"), f64(_gen(3, 4)), atol=1e-9, rtol=1e-9,
        gatol=1e-9, grtol=1e-8)
add("f64.softmax_ce", lambda T, x, y: F(T).cross_entropy(x, y, label_smoothing=0.1), f64(R(4, 5)),
    IT([1, 0, 4, 2]), atol=1e-9, rtol=1e-9, gatol=1e-9, grtol=1e-8)
add("f64.conv_pool", lambda T, x, w: F(T).max_pool2d(F(T).conv2d(x, w, padding=1), 2),
    f64(R(1, 2, 6, 6)), f64(R(3, 2, 3, 3)), atol=1e-9, rtol=1e-9, gatol=1e-9, grtol=1e-8)
add("f64.layer_norm", lambda T, x: F(T).layer_norm(x, (4,)), f64(R(3, 4)), atol=1e-9, rtol=1e-9,
    gatol=1e-8, grtol=1e-7)
add("f64.var_mean", lambda T, x: T.var_mean(x, 1, correction=0), f64(R(3, 4)), atol=1e-9,
    rtol=1e-9, gatol=1e-9, grtol=1e-8)
for _dt in ["int8", "int16", "int32", "uint8"]:
    add(f"ints.{_dt}_arith", lambda T, a, b: (a + b, a * b, a - b, a // (b + 1), a % (b + 1)),
        RI(0, 10, 3, 4, dtype=_dt), RI(0, 10, 4, dtype=_dt))
    add(f"ints.{_dt}_compare", lambda T, a, b: (a < b, a == b, T.maximum(a, b), a.max(1).values),
        RI(0, 10, 3, 4, dtype=_dt), RI(0, 10, 4, dtype=_dt))
    add(f"ints.{_dt}_reduce", lambda T, a: (a.sum(), a.sum(0), a.prod(1), a.cumsum(1), a.amax(0),
                                            a.argmax(1)), RI(0, 5, 3, 4, dtype=_dt))
    add(f"ints.{_dt}_float_mix", lambda T, a, x: (a * x, a / 2, a + 0.5, a.float() / 3),
        RI(0, 10, 3, 4, dtype=_dt), R(4))
    add(f"ints.{_dt}_shape", lambda T, a: (a.t(), a.reshape(-1), a[1:, [0, 2]], T.cat([a, a]),
                                           T.stack([a, a], 2), a.flip(0)),
        RI(0, 10, 3, 4, dtype=_dt))


# -- options of the nn.functional ops and losses, in combinations
add("opt.ce_probs_weight", lambda T, x, p, w: F(T).cross_entropy(x, p, weight=w), R(4, 5),
    nograd(PROBS), nograd(P(5)))
add("opt.ce_probs_nd", lambda T, x: F(T).cross_entropy(x, F(T).softmax(x.detach() * 2, 1)),
    R(2, 5, 3))
add("opt.ce_smoothing_nd_none", lambda T, x, y: F(T).cross_entropy(
    x, y, label_smoothing=0.1, reduction="none"), R(2, 5, 3), RI(0, 5, 2, 3))
add("opt.ce_weight_sum", lambda T, x, y, w: F(T).cross_entropy(x, y, weight=w, reduction="sum"),
    R(4, 5), IT([1, 0, 4, 2]), nograd(P(5)))
add("opt.nll_nd_weight_ignore_none", lambda T, x, y, w: F(T).nll_loss(
    x, y, weight=w, ignore_index=1, reduction="none"), R(2, 5, 3), RI(0, 5, 2, 3), nograd(P(5)))
add("opt.nll_weight_mean_ignore", lambda T, x, y, w: F(T).nll_loss(x, y, weight=w,
                                                                    ignore_index=0),
    R(4, 5), IT([0, 1, 4, 0]), nograd(P(5)))
add("opt.bce_weight_bcast", lambda T, x, y, w: F(T).binary_cross_entropy(x.sigmoid(), y, weight=w),
    R(3, 4), nograd(R(3, 4, lo=0, hi=1)), nograd(P(4)))
add("opt.bce_logits_posw_weight_sum", lambda T, x, y, w, pw: F(T).binary_cross_entropy_with_logits(
    x, y, weight=w, pos_weight=pw, reduction="sum"), R(3, 4), nograd(R(3, 4, lo=0, hi=1)),
    nograd(P(3, 1)), nograd(P(4)))
add("opt.kl_div_log_target_batchmean", lambda T, x, y: F(T).kl_div(
    F(T).log_softmax(x, 1), F(T).log_softmax(y, 1), reduction="batchmean", log_target=True),
    R(3, 4), R(3, 4))
add("opt.l1_sum_smooth_none", lambda T, x, y: (F(T).l1_loss(x, y, reduction="sum"),
                                               F(T).smooth_l1_loss(x, y, reduction="none")),
    R(3, 4), R(3, 4))
add("opt.conv1d_same_even", lambda T, x, w: F(T).conv1d(x, w, padding="same"), R(1, 2, 7),
    R(3, 2, 4), atol=1e-4)
add("opt.conv2d_same_dilation", lambda T, x, w: F(T).conv2d(x, w, padding="same", dilation=2),
    R(1, 2, 6, 6), R(3, 2, 3, 3), atol=1e-4)
add("opt.conv2d_same_even", lambda T, x, w: F(T).conv2d(x, w, padding="same"), R(1, 2, 5, 6),
    R(3, 2, 2, 4), atol=1e-4)
add("opt.conv2d_stride_tuple_groups", lambda T, x, w, b: F(T).conv2d(x, w, b, stride=(2, 1),
                                                                     groups=3),
    R(2, 6, 5, 5), R(6, 2, 3, 3), R(6), atol=1e-4)
add("opt.pool_pad_too_big_raises", lambda T, x: F(T).max_pool2d(x, 2, padding=2), R(1, 1, 5, 5),
    raises=RuntimeError)
add("opt.max_pool_all_options", lambda T, x: F(T).max_pool2d(
    x, 3, stride=2, padding=1, dilation=1, ceil_mode=True, return_indices=True), D(1, 2, 6, 7))
add("opt.avg_pool_all_options", lambda T, x: F(T).avg_pool2d(
    x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), R(1, 2, 6, 7))
add("opt.adaptive_avg_upsample", lambda T, x: F(T).adaptive_avg_pool2d(x, (5, 6)),
    R(1, 2, 3, 4))
add("opt.adaptive_max_upsample", lambda T, x: F(T).adaptive_max_pool2d(x, (5, 6)),
    D(1, 2, 3, 4))
add("opt.interpolate_size_int", lambda T, x: F(T).interpolate(x, size=5), R(1, 2, 3, 3))
add("opt.interpolate_bilinear_3x", lambda T, x: F(T).interpolate(x, scale_factor=3,
                                                                  mode="bilinear"),
    R(2, 1, 2, 3))
add("opt.sdpa_causal_rect", lambda T, q, k, v: F(T).scaled_dot_product_attention(
    q, k, v, is_causal=True), R(1, 3, 4), R(1, 5, 4), R(1, 5, 4))
add("opt.sdpa_float_mask_bcast", lambda T, q, k, v, m: F(T).scaled_dot_product_attention(
    q, k, v, attn_mask=m), R(2, 2, 3, 4), R(2, 2, 5, 4), R(2, 2, 5, 4), nograd(R(1, 1, 3, 5)))
add("opt.embedding_3d_idx", lambda T, i, w: F(T).embedding(i, w), RI(0, 5, 2, 3, 2), R(5, 4))
add("opt.linear_3d_bias", lambda T, x, w, b: F(T).linear(x, w, b), R(2, 3, 4), R(5, 4), R(5))
add("opt.one_hot_2d_classes", lambda T, y: F(T).one_hot(y, num_classes=6).sum(0),
    RI(0, 6, 4, 3))
add("opt.pad_3d_constant", lambda T, x: F(T).pad(x, (1, 0, 0, 2, 1, 1)), R(1, 2, 2, 3))
add("opt.pad_replicate_3pairs", lambda T, x: F(T).pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"),
    R(1, 1, 2, 2, 2))
add("opt.layer_norm_eps_affine", lambda T, x, w, b: F(T).layer_norm(x, (3, 4), w, b, eps=1e-3),
    R(2, 3, 4), R(3, 4), R(3, 4))
add("opt.group_norm_affine", lambda T, x, w, b: F(T).group_norm(x, 3, w, b), R(2, 6, 4), R(6),
    R(6))


# -- the Tensor API around the ops
add("api.data_attr", lambda T, x: x.data * 2, R(3))
add("api.data_sgd_step", lambda T, w: _sgd_step(T, w), R(3))
add("api.device_type", lambda T, x: x.device.type == "cpu" or x.device.type == "opencl", R(2))
add("api.is_tensor", lambda T, x: (T.is_tensor(x), isinstance(x, T.Tensor)), R(2))
add("api.set_grad_enabled", lambda T, x: _set_grad_enabled(T, x), R(2))
add("api.inference_mode", lambda T, x: _inference_mode(T, x), R(2))
add("api.register_hook", lambda T, x: _hook(T, x), R(3))
add("api.nelement", lambda T, x: (x.nelement(), T.numel(x)), R(2, 3))
add("api.requires_grad_setter", lambda T, x: _set_requires_grad(T, x), nograd(R(3)))
add("api.grad_fn_none_leaf", lambda T, x: (x.grad_fn is None, (x * 2).grad_fn is not None), R(2))
add("api.no_grad_decorator", lambda T, x: T.no_grad()(lambda v: v * 2)(x).requires_grad, R(2))
add("api.is_floating_point_func", lambda T, x: T.is_floating_point(x), IT([1]))


def _sgd_step(T, w):
    (w * w).sum().backward()
    w.data -= 0.1 * w.grad.data
    w.grad.data.zero_()
    return w.detach(), w.grad


def _set_grad_enabled(T, x):
    with T.set_grad_enabled(False):
        y = x * 2
    return y.requires_grad


def _inference_mode(T, x):
    with T.inference_mode():
        y = x * 2
    return y.requires_grad


def _hook(T, x):
    y = x * 2
    y.register_hook(lambda g: g * 3)
    y.sum().backward()
    return x.grad


def _set_requires_grad(T, x):
    x.requires_grad = True
    (x * x).sum().backward()
    return x.grad


def _slice_iadd(T, x):
    x[1:3] += 1
    x[:, 0] *= 2
    return x


def _linear_module(T, x, w, b, dev):
    m = T.nn.Linear(3, 4).to(dev)
    with T.no_grad():
        m.weight.copy_(w)
        m.bias.copy_(b)
    return m(x)


def _conv_module(T, x, w, dev):
    m = T.nn.Conv2d(2, 3, 3, padding=1, bias=False).to(dev)
    with T.no_grad():
        m.weight.copy_(w)
    return m(x)


# -- autograd semantics
def _accumulate(T, a):
    (a * 2).sum().backward()
    (a * 3).sum().backward()
    return a.grad


def _retain_grad(T, a):
    y = a * 2
    y.retain_grad()
    (y ** 2).sum().backward()
    return y.grad


def _no_grad(T, a):
    with T.no_grad():
        y = a * 2
    return y.requires_grad, y


def _autograd_grad(T, a):
    y = (a ** 3).sum()
    return T.autograd.grad(y, a)[0]


def _double_backward(T, a):
    y = (a ** 3).sum()
    (g,) = T.autograd.grad(y, a, create_graph=True)
    return T.autograd.grad(g.sum(), a)[0]


def _backward_gradient(T, a):
    y = a * a
    y.backward(gradient=T.ones_like(y) * 2)
    return a.grad


def _grad_none_before(T, a):
    return a.grad is None


def _used_twice(T, a):
    y = a * a + a.exp() * a
    y.sum().backward()
    return a.grad


def _grad_zero(T, a):
    (a * 2).sum().backward()
    a.grad.zero_()
    (a * 5).sum().backward()
    return a.grad


def _enable_grad_inside(T, a):
    with T.no_grad():
        with T.enable_grad():
            y = a * 2
    return y.requires_grad


def _is_grad_enabled(T, a):
    with T.no_grad():
        inside = T.is_grad_enabled()
    return inside, T.is_grad_enabled()


def _set_grad_none(T, a):
    (a * 2).sum().backward()
    a.grad = None
    (a * 3).sum().backward()
    return a.grad


def _retain_graph(T, a):
    y = (a.exp()).sum()
    y.backward(retain_graph=True)
    y.backward()
    return a.grad


def _inference_detach_(T, a):
    y = a * 2
    z = y.detach()
    return z.requires_grad, z.is_leaf, z.grad_fn is None


add("autograd.accumulate", _accumulate, R(3))
add("autograd.retain_grad", _retain_grad, R(3))
add("autograd.no_grad", _no_grad, R(3))
add("autograd.grad_fn", _autograd_grad, R(3))
add("autograd.double_backward", _double_backward, R(3))
add("autograd.backward_gradient", _backward_gradient, R(3))
add("autograd.grad_none_before", _grad_none_before, R(3))
add("autograd.used_twice", _used_twice, R(3))
add("autograd.grad_zero_", _grad_zero, R(3))
add("autograd.enable_grad", _enable_grad_inside, R(3))
add("autograd.is_grad_enabled", _is_grad_enabled, R(3))
add("autograd.set_grad_none", _set_grad_none, R(3))
add("autograd.retain_graph", _retain_graph, R(3))
add("autograd.detach_props", _inference_detach_, R(3))


# ---- running a case ------------------------------------------------------------------------------

PASS, MISSING, ERROR, WRONG, HARNESS = "PASS", "MISSING", "ERROR", "WRONG", "HARNESS"
CLASSES = (PASS, MISSING, ERROR, WRONG)


class Mismatch(Exception):
    """minigrad's result differs from torch's."""


def _is_torch_tensor(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "grad_fn") and hasattr(x, "dtype")


def _is_tensor(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "requires_grad")


def _dtype_name(d):
    return str(d).replace("torch.", "").split(".")[-1]


def _to_numpy(t):
    if _is_torch_tensor(t):
        return t.detach().cpu().numpy()
    try:
        return np.asarray(t.detach().cpu().numpy())
    except Exception:               # the harness's own plumbing must not hide an op's result
        return np.asarray(t.numpy())


def _make(T, x, dev, case):
    dtype = x.dtype or ("float32" if x.array.dtype.kind == "f" else x.array.dtype.name)
    grad = x.grad if x.grad is not None else (case.grad and dtype.startswith("float"))
    array = np.array(x.array).astype(dtype)
    if T.__name__ == "torch":
        t = T.tensor(array)
        return t.requires_grad_() if grad else t
    return T.tensor(array, device=dev, requires_grad=grad)


def _call(case, T, dev):
    inputs = [_make(T, x, dev, case) for x in case.inputs]
    kwargs = {"dev": dev if T.__name__ != "torch" else "cpu"} if case.wants_dev else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = case.fn(T, *inputs, **kwargs)
    return inputs, out


def _leaves(x):
    """The tensors and values of a result, flattened in order."""
    if isinstance(x, (tuple, list)) and not _is_tensor(x):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _compare(t, m, case, where="result"):
    """Raise Mismatch naming the first difference between torch's t and minigrad's m."""
    if _is_torch_tensor(t):
        if not _is_tensor(m) or isinstance(m, np.ndarray):
            raise Mismatch(f"{where}: torch gives a tensor, minigrad {type(m).__name__} {m!r:.60}")
        if tuple(t.shape) != tuple(m.shape):
            raise Mismatch(f"{where}: shape {tuple(m.shape)}, torch {tuple(t.shape)}")
        if _dtype_name(t.dtype) != _dtype_name(m.dtype):
            raise Mismatch(f"{where}: dtype {_dtype_name(m.dtype)}, torch {_dtype_name(t.dtype)}")
        if bool(t.requires_grad) != bool(m.requires_grad):
            raise Mismatch(f"{where}: requires_grad {m.requires_grad}, torch {t.requires_grad}")
        if case.values:
            _compare_arrays(_to_numpy(t), _to_numpy(m), case.atol, case.rtol, where)
    elif isinstance(t, np.ndarray):
        if not isinstance(m, np.ndarray):
            raise Mismatch(f"{where}: torch gives an ndarray, minigrad {type(m).__name__}")
        if t.shape != m.shape or t.dtype != m.dtype:
            raise Mismatch(f"{where}: ndarray {m.shape} {m.dtype}, torch {t.shape} {t.dtype}")
        _compare_arrays(t, m, case.atol, case.rtol, where)
    elif type(t).__name__ == "dtype" and type(t).__module__.startswith("torch"):
        if _dtype_name(t) != _dtype_name(m):
            raise Mismatch(f"{where}: dtype {_dtype_name(m)}, torch {_dtype_name(t)}")
    elif isinstance(t, (tuple, list)):
        if _is_tensor(m) or not isinstance(m, (tuple, list)):
            raise Mismatch(f"{where}: torch gives a {type(t).__name__}, minigrad "
                           f"{type(m).__name__}")
        if len(t) != len(m):
            raise Mismatch(f"{where}: {len(m)} items, torch {len(t)}")
        for k, (a, b) in enumerate(zip(t, m)):
            _compare(a, b, case, f"{where}[{k}]")
    elif isinstance(t, bool):
        if not isinstance(m, (bool, np.bool_)) or bool(m) != t:
            raise Mismatch(f"{where}: {m!r:.60}, torch {t!r}")
    elif isinstance(t, (int, float)):
        if _is_tensor(m) or isinstance(m, (bool, np.bool_)) or \
                not isinstance(m, (int, float, np.integer, np.floating)):
            raise Mismatch(f"{where}: {type(m).__name__} {m!r:.60}, torch {type(t).__name__} {t}")
        if isinstance(t, int) and not isinstance(m, (int, np.integer)):
            raise Mismatch(f"{where}: float {m!r}, torch int {t}")
        if isinstance(t, float) and not isinstance(m, (float, np.floating)):
            raise Mismatch(f"{where}: int {m!r}, torch float {t}")
        _compare_arrays(np.array(t), np.array(m), case.atol, case.rtol, where)
    elif t is None:
        if m is not None:
            raise Mismatch(f"{where}: {type(m).__name__}, torch None")
    else:
        if t != m:
            raise Mismatch(f"{where}: {m!r:.60}, torch {t!r:.60}")


def _compare_arrays(t, m, atol, rtol, where):
    if t.dtype.kind in "biu" or t.dtype == bool:
        if not np.array_equal(t, m):
            bad = np.argwhere(np.asarray(t != m).reshape(t.shape))
            first = tuple(bad[0]) if len(bad) else ()
            raise Mismatch(f"{where}: values differ at {len(bad)} places, first {first}: "
                           f"{m[first]!r} vs torch {t[first]!r}")
        return
    t64, m64 = t.astype(np.float64), np.asarray(m, dtype=np.float64)
    ok = np.isclose(m64, t64, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        bad = np.argwhere(~ok.reshape(t.shape))
        first = tuple(bad[0]) if len(bad) else ()
        err = np.nanmax(np.abs(np.where(ok, 0.0, m64 - t64)))
        raise Mismatch(f"{where}: values differ at {len(bad)}/{t.size} places (max err {err:.3g}),"
                       f" first {first}: {m64[first]:.6g} vs torch {t64[first]:.6g}")


def _weights(shape, k):
    return np.random.default_rng(100 + k).standard_normal(shape)


def _backward(T, inputs, outs, dev):
    """Backpropagate a weighted sum of the float outputs that require grad; the input grads."""
    loss = None
    for k, o in enumerate(outs):
        w = _weights(tuple(o.shape), k).astype(_dtype_name(o.dtype))
        w = T.tensor(w) if T.__name__ == "torch" else T.tensor(w, device=dev)
        term = (o * w).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return [x.grad for x in inputs]


def _exception_class(e):
    if isinstance(e, (AttributeError, NotImplementedError, TypeError)):
        return MISSING
    return ERROR


def _one_line(e):
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:160]}"


def run_case(case, device, mg=None, torch=None):
    """(class, reason) of one case on one minigrad device ("cpu" or "opencl")."""
    if mg is None:
        import minigrad as mg
    if torch is None:
        import torch
    # torch first: the expected result (a case torch rejects is the harness's bug)
    try:
        t_inputs, t_out = _call(case, torch, "cpu")
        if case.raises is not None:
            return HARNESS, f"torch did not raise {case.raises}"
    except Exception as e:                                     # noqa: BLE001
        if case.raises is not None and isinstance(e, case.raises):
            t_out = None
        else:
            return HARNESS, f"torch: {_one_line(e)}"
    try:
        m_inputs, m_out = _call(case, mg, device)
    except Exception as e:                                     # noqa: BLE001
        if case.raises is not None:
            if isinstance(e, case.raises):
                return PASS, ""
            return ERROR, f"raises {type(e).__name__} where torch raises {_names(case.raises)}: " \
                          f"{_one_line(e)}"
        return _exception_class(e), _one_line(e)
    if case.raises is not None:
        return WRONG, f"returns {type(m_out).__name__} where torch raises {_names(case.raises)}"
    try:
        _compare(t_out, m_out, case)
    except Mismatch as e:
        return WRONG, str(e)
    except Exception as e:                                     # noqa: BLE001
        return ERROR, f"comparing: {_one_line(e)}"
    if not case.grad:
        return PASS, ""
    # gradients: the float outputs torch differentiates, weighted alike on both sides
    t_leaves, m_leaves = _leaves(t_out), _leaves(m_out)
    pairs = [(a, b) for a, b in zip(t_leaves, m_leaves)
             if _is_torch_tensor(a) and a.requires_grad and a.dtype.is_floating_point]
    if not pairs:
        return PASS, ""
    try:
        t_grads = _backward(torch, t_inputs, [a for a, _ in pairs], "cpu")
    except Exception as e:                                     # noqa: BLE001
        return HARNESS, f"torch backward: {_one_line(e)}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m_grads = _backward(mg, m_inputs, [b for _, b in pairs], device)
    except Exception as e:                                     # noqa: BLE001
        return _exception_class(e), f"backward: {_one_line(e)}"
    for k, (tg, mg_, x) in enumerate(zip(t_grads, m_grads, t_inputs)):
        if not x.requires_grad:
            continue
        where = f"grad of input {k}"
        if tg is None and mg_ is None:
            continue
        try:
            if tg is None:
                tg = torch.zeros_like(x)
            if mg_ is None:
                raise Mismatch(f"{where}: None, torch has a gradient")
            if tuple(tg.shape) != tuple(mg_.shape):
                raise Mismatch(f"{where}: shape {tuple(mg_.shape)}, torch {tuple(tg.shape)}")
            if _dtype_name(tg.dtype) != _dtype_name(mg_.dtype):
                raise Mismatch(f"{where}: dtype {_dtype_name(mg_.dtype)}, "
                               f"torch {_dtype_name(tg.dtype)}")
            _compare_arrays(_to_numpy(tg), _to_numpy(mg_), case.gatol, case.grtol, where)
        except Mismatch as e:
            return WRONG, str(e)
        except Exception as e:                                 # noqa: BLE001
            return ERROR, f"comparing {where}: {_one_line(e)}"
    return PASS, ""


def _names(types):
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


def select(substring=None):
    return [c for c in CASES if substring is None or substring in c.name]


def run(cases, device):
    """[(case name, class, reason)] for the cases on one device."""
    import torch

    import minigrad as mg
    results = []
    for case in cases:
        try:
            status, reason = run_case(case, device, mg, torch)
        except Exception as e:                                 # noqa: BLE001
            status, reason = ERROR, f"harness: {_one_line(e)}"
        results.append((case.name, status, reason))
    return results


def summary(results, device, seconds=None):
    counts = {c: 0 for c in CLASSES + (HARNESS,)}
    for _, status, _ in results:
        counts[status] += 1
    n = len(results) - counts[HARNESS]
    rate = 100.0 * counts[PASS] / n if n else 0.0
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    lines = [f"== {device}: {counts[PASS]}/{n} pass ({rate:.1f}%){took}: "
             + ", ".join(f"{c} {counts[c]}" for c in CLASSES)
             + (f", HARNESS {counts[HARNESS]} (case bugs)" if counts[HARNESS] else "")]
    sections = {}
    for name, status, _ in results:
        s = sections.setdefault(name.split(".")[0], {c: 0 for c in CLASSES + (HARNESS,)})
        s[status] += 1
    for sec, c in sections.items():
        total = sum(c.values())
        lines.append(f"   {sec:<9} {c[PASS]:>3}/{total:<3} " + " ".join(
            f"{k[0]}{c[k]}" for k in (MISSING, ERROR, WRONG, HARNESS) if c[k]))
    return "\n".join(lines), rate, counts


def failures(results, classes=(WRONG, ERROR, MISSING, HARNESS)):
    lines = []
    for cls in classes:
        for name, status, reason in results:
            if status == cls:
                lines.append(f"  {status:<7} {name}: {reason}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cpu", "opencl", "both"], default="both")
    p.add_argument("-k", dest="substring", help="only the cases whose name contains this")
    p.add_argument("--list-failures", action="store_true",
                   help="every failure with its reason (WRONG and HARNESS are always listed)")
    args = p.parse_args(argv)
    cases = select(args.substring)
    devices = ["cpu", "opencl"] if args.device == "both" else [args.device]
    print(f"{len(cases)} cases" + (f" matching {args.substring!r}" if args.substring else ""))
    worst = 0
    for device in devices:
        start = time.perf_counter()
        results = run(cases, device)
        text, _, counts = summary(results, device, time.perf_counter() - start)
        print(text)
        shown = (WRONG, ERROR, MISSING, HARNESS) if args.list_failures else (WRONG, HARNESS)
        listing = failures(results, shown)
        if listing:
            print(listing)
        worst = max(worst, counts[WRONG] + counts[HARNESS])
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
