/* Elementwise kernels that are not rules of the rule book (those are generated from the rules:
 * see rules.cl): comparisons into masks, clip, the in-place add of gradients, and the
 * strided copies and gathers that transpose, broadcast_to, indexing and cat are made of.
 *
 * Layout: every output is a C-contiguous (row-major) array of n elements; get_global_id(0) is
 * the flat output index i (the host pads the global size up to the local size, so each kernel
 * checks i < n). Inputs are read through element strides: for an output of shape
 * (d0, ..., d_{ndim-1}), input element (c0, ..., c_{ndim-1}) lives at sum_k c_k * stride_k, and a
 * stretched (broadcast) dimension has stride 0. Shapes and strides travel as int8 kernel
 * arguments (at most 8 dims); the host first merges dimensions that are contiguous for every
 * operand, so the common same-shape case is ndim == 1 and costs no index arithmetic.
 *
 * A NULL input pointer means "this operand is the scalar argument instead" (x + 1.0 needs no
 * device buffer for the 1.0).
 *
 * Names: the kernel of the library's op X is X_kernel, in every file (exp, log, pow, max, ...
 * are OpenCL C built-in functions, and a kernel named like one is silently dropped by PoCL).
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE; the copies, gathers
 * and clip are also built for integer types (-DREAL_TYPE=..., -DREAL_IS_INT).
 */
#include "real.h"
#include "index.h"

__kernel void clip_kernel(__global real *out, __global const real *a, const int n,
                          const real lo, const real hi)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    const real x = a[i];
#ifdef REAL_IS_INT
    out[i] = min(max(x, lo), hi);
#else
    /* np.clip = minimum(maximum(a, lo), hi), which keeps NaN (fmin / fmax would drop it) */
    out[i] = isnan(x) ? x : fmin(fmax(x, lo), hi);
#endif
}

__kernel void clip_vjp_kernel(__global real *out, __global const real *x, __global const real *g,
                               const int n, const real lo, const real hi)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = (x[i] >= lo && x[i] <= hi) ? g[i] : (real)0;
}

/* ---- binary with broadcasting: out[i] = f(a[..], b[..]) --------------------------------- */

#define BINARY(name, expr)                                                                     \
__kernel void name##_kernel(__global real *out,                                                 \
                   __global const real *a, const real a_scalar,                                \
                   __global const real *b, const real b_scalar,                                \
                   const int n, const int ndim, const int8 shape,                              \
                   const int8 stride_a, const int8 stride_b)                                   \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a ? a[offset_of(i, ndim, shape, stride_a)] : a_scalar;                      \
    const real y = b ? b[offset_of(i, ndim, shape, stride_b)] : b_scalar;                      \
    out[i] = (expr);                                                                           \
}                                                                                              \
/* Contiguous same-shape operands (the common case): no index decoding and no NULL tests, so  \
 * PoCL vectorises the work-item loop; the general kernel above ran 10x slower on a CPU.      \
 * vv: two arrays, vs: array and scalar, sv: scalar and array. */                              \
__kernel void name##_vv_kernel(__global real *out, __global const real *a,                     \
                               __global const real *b, const int n)                            \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a[i], y = b[i];                                                             \
    out[i] = (expr);                                                                           \
}                                                                                              \
__kernel void name##_vs_kernel(__global real *out, __global const real *a, const real y,       \
                               const int n)                                                    \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a[i];                                                                       \
    out[i] = (expr);                                                                           \
}                                                                                              \
__kernel void name##_sv_kernel(__global real *out, const real x, __global const real *b,       \
                               const int n)                                                    \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real y = b[i];                                                                       \
    out[i] = (expr);                                                                           \
}

/* 0/1 masks in the operands' dtype, for the backward passes of max/min. */
BINARY(gt, x > y ? (real)1 : (real)0)
BINARY(ge, x >= y ? (real)1 : (real)0)
BINARY(eq, x == y ? (real)1 : (real)0)

/* ---- strided copies: transpose, broadcast_to, basic indexing and cat ------------------- */

/* out[i] = a[off + strided(i)]: gather a strided view of a into a contiguous array */
__kernel void copy_strided(__global real *out, __global const real *a, const int n,
                           const int off, const int ndim, const int8 shape, const int8 stride_a)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = a[off + offset_of(i, ndim, shape, stride_a)];
}

/* out[off + strided(i)] = a[i]: write a contiguous array into a strided view of out (the view
 * never repeats an element: basic slices, or a block of cat's output) */
__kernel void copy_into(__global real *out, __global const real *a, const int n,
                        const int off, const int ndim, const int8 shape, const int8 stride_out)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[off + offset_of(i, ndim, shape, stride_out)] = a[i];
}

/* ---- gather / scatter by an index array (advanced indexing) ---------------------------- */

__kernel void gather_kernel(__global real *out, __global const real *a,
                            __global const long *idx, const int n)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = a[idx[i]];
}

/* torch.gather: out (contiguous, the index's shape)[c] = a[c with c[axis] = idx[c]], a read
 * through its element strides (the index is validated and non-negative). */
__kernel void gather_along_kernel(__global real *out, __global const real *a,
                                  __global const long *idx, const int n, const int ndim,
                                  const int8 shape8, const int8 stride8, const int axis)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    int shape[8], stride[8];
    vstore8(shape8, 0, shape);
    vstore8(stride8, 0, stride);
    int rest = i;
    long off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        const int c = rest % shape[d];
        rest /= shape[d];
        off += (d == axis ? idx[i] : (long)c) * stride[d];
    }
    out[i] = a[off];
}

/* out[target[j]] = sum of g[order[k]] for k in [start[j], start[j + 1]): the gradient of a
 * gather, summed where an index repeats, without atomics (the host sorts the indices). */
__kernel void scatter_add_kernel(__global real *out, __global const real *g,
                                 __global const long *order, __global const long *start,
                                 __global const long *target, const int m)
{
    const int j = get_global_id(0);
    if (j >= m) return;
    real s = 0;
    for (long k = start[j]; k < start[j + 1]; ++k) s += g[order[k]];
    out[target[j]] = s;
}
