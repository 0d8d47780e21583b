/* Elementwise ops: unary maps, broadcasting binary maps, where, and the strided copy that
 * transpose and broadcast_to are made of.
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
 * Precision: `real` is float, or double when built with -DREAL_IS_DOUBLE (needs cl_khr_fp64).
 */
#ifdef REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
#else
typedef float real;
#endif

/* Flat output index -> element offset of one operand. Dimension 0 needs no division: whatever
 * is left of the index after peeling the inner dimensions is its coordinate. */
inline int offset_of(int i, const int ndim, const int8 shape8, const int8 stride8)
{
    int shape[8], stride[8];
    vstore8(shape8, 0, shape);
    vstore8(stride8, 0, stride);
    int off = 0;
    for (int d = ndim - 1; d > 0; --d) {
        const int c = i % shape[d];
        i /= shape[d];
        off += c * stride[d];
    }
    return off + i * stride[0];
}

/* ---- unary: out[i] = f(a[i]), contiguous, same shape ------------------------------------ */

#define UNARY(name, expr)                                                                      \
__kernel void name##_kernel(__global real *out, __global const real *a, const int n)           \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a[i];                                                                       \
    out[i] = (expr);                                                                           \
}

UNARY(neg, -x)
UNARY(exp, exp(x))
UNARY(log, log(x))
UNARY(sqrt, sqrt(x))
UNARY(sin, sin(x))
UNARY(cos, cos(x))
UNARY(tanh, tanh(x))
/* exp of a non-positive number only, so no overflow for large |x|. */
UNARY(sigmoid, x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)))
UNARY(relu, x > 0 ? x : (real)0)
UNARY(abs, fabs(x))
/* Not OpenCL's sign(): numpy's sign keeps NaN as NaN. */
UNARY(sign, x > 0 ? (real)1 : (x < 0 ? (real)-1 : x))

__kernel void clip_kernel(__global real *out, __global const real *a, const int n,
                          const real lo, const real hi)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = fmin(fmax(a[i], lo), hi);     /* np.clip = minimum(maximum(a, lo), hi) */
}

__kernel void clip_back_kernel(__global real *out, __global const real *x, __global const real *g,
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

BINARY(add, x + y)
BINARY(sub, x - y)
BINARY(mul, x * y)
BINARY(div, x / y)
BINARY(pow, pow(x, y))
/* np.maximum / np.minimum propagate NaN, fmax / fmin would drop it. */
BINARY(maximum, (x > y || isnan(x)) ? x : y)
BINARY(minimum, (x < y || isnan(x)) ? x : y)
BINARY(gt, x > y ? (real)1 : (real)0)
BINARY(ge, x >= y ? (real)1 : (real)0)
BINARY(eq, x == y ? (real)1 : (real)0)
/* The local derivatives times the upstream gradient (x: input or output, y: gradient). */
BINARY(relu_back, x > 0 ? y : (real)0)
BINARY(sigmoid_back, y * x * (1 - x))
BINARY(tanh_back, y * (1 - x * x))

__kernel void where_kernel(__global real *out, __global const real *cond,
                           __global const real *a, const real a_scalar,
                           __global const real *b, const real b_scalar,
                           const int n, const int ndim, const int8 shape,
                           const int8 stride_c, const int8 stride_a, const int8 stride_b)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    if (cond[offset_of(i, ndim, shape, stride_c)] != 0)
        out[i] = a ? a[offset_of(i, ndim, shape, stride_a)] : a_scalar;
    else
        out[i] = b ? b[offset_of(i, ndim, shape, stride_b)] : b_scalar;
}

/* ---- strided copy: transpose and broadcast_to materialised contiguously ----------------- */

__kernel void copy_strided(__global real *out, __global const real *a, const int n,
                           const int ndim, const int8 shape, const int8 stride_a)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = a[offset_of(i, ndim, shape, stride_a)];
}
