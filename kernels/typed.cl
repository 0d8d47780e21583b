/* Kernels over any dtype (opencl/typed.py): casts between dtypes (float16 included, as storage),
 * the elementwise ops without a gradient (comparisons, logic, bits, integer division), where with
 * a mask of its own dtype, and argmax / argmin.
 *
 * `real` (real.h) is the operands' type: float or double, or an integer type with REAL_IS_INT
 * (-DREAL_TYPE=long ...; bool is uchar holding 0/1). Results follow numpy, which the cpu engine
 * computes with, bit for bit: integer arithmetic wraps, x // 0 and x % 0 are 0, floor division
 * rounds toward -inf and the remainder has the divisor's sign, shifts by a count outside
 * [0, bits) give 0 (or -1 for a negative number shifted right).
 *
 * Layout and strides as elementwise.cl: a NULL operand pointer means its scalar argument.
 */
#include "real.h"
#include "index.h"

/* ---- casts: out[i] = (CAST_TO) in[i] ---------------------------------------------------------
 * CAST_TO is the C type of the result; CAST_FROM_HALF / CAST_TO_HALF read / write float16
 * storage with vload_half / vstore_half (no cl_khr_fp16 needed), CAST_TO_BOOL stores x != 0. */
#ifdef CAST_TO
#ifdef CAST_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifdef CAST_TO_HALF
#define OUT_PTR __global half *
#else
#define OUT_PTR __global CAST_TO *
#endif
__kernel void cast_kernel(OUT_PTR out, __global const real *in, const int n)
{
    const int i = get_global_id(0);
    if (i >= n) return;
#ifdef CAST_FROM_HALF
    const float x = vload_half(i, (__global const half *)in);
#else
    const real x = in[i];
#endif
#if defined(CAST_TO_HALF) && defined(REAL_IS_DOUBLE)
    vstore_half_rte(x, i, out);
#elif defined(CAST_TO_HALF)
    vstore_half_rte((float)x, i, out);   /* integers beyond 2^24 are beyond float16's range */
#elif defined(CAST_TO_BOOL)
    out[i] = x != 0;
#else
    out[i] = (CAST_TO)x;
#endif
}
#endif

/* ---- integer helpers ------------------------------------------------------------------------ */
#ifdef REAL_IS_INT
#define BITS ((int)sizeof(real) * 8)

inline real mg_floor_divide(const real a, const real b)
{
    if (b == 0) return 0;
#ifdef REAL_IS_SIGNED
    if (b == -1) return (real)(0 - (ulong)a);  /* LONG_MIN / -1 traps in hardware: wrap */
    const real q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? (real)(q - 1) : q;
#else
    return a / b;
#endif
}

inline real mg_remainder(const real a, const real b)
{
    if (b == 0) return 0;
#ifdef REAL_IS_SIGNED
    if (b == -1) return 0;
    const real r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? (real)(r + b) : r;
#else
    return a % b;
#endif
}

inline real mg_left_shift(const real a, const real b)
{
    return (b < 0 || b >= BITS) ? (real)0 : (real)(a << b);
}

inline real mg_right_shift(const real a, const real b)
{
    if (b < 0 || b >= BITS) return a < 0 ? (real)-1 : (real)0;
    return (real)(a >> b);
}
#endif

/* ---- elementwise without a gradient: out[i] = f(a[..], b[..]) ------------------------------- */

#define UFUNC(name, OUT, expr)                                                                 \
__kernel void name##_kernel(__global OUT *out,                                                 \
                   __global const real *a, const real a_scalar,                                \
                   __global const real *b, const real b_scalar,                                \
                   const int n, const int ndim, const int8 shape,                              \
                   const int8 stride_a, const int8 stride_b)                                   \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a ? a[offset_of(i, ndim, shape, stride_a)] : a_scalar;                      \
    const real y = b ? b[offset_of(i, ndim, shape, stride_b)] : b_scalar;                      \
    out[i] = (OUT)(expr);                                                                      \
}                                                                                              \
/* Contiguous operands of the output's shape or scalars: no index decoding, no NULL tests     \
 * (vv: two arrays, vs: array and scalar, sv: scalar and array), as elementwise.cl's. */        \
__kernel void name##_vv_kernel(__global OUT *out, __global const real *a,                      \
                               __global const real *b, const int n)                            \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a[i], y = b[i];                                                             \
    out[i] = (OUT)(expr);                                                                      \
}                                                                                              \
__kernel void name##_vs_kernel(__global OUT *out, __global const real *a, const real y,        \
                               const int n)                                                    \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real x = a[i];                                                                       \
    out[i] = (OUT)(expr);                                                                      \
}                                                                                              \
__kernel void name##_sv_kernel(__global OUT *out, const real x, __global const real *b,        \
                               const int n)                                                    \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (i >= n) return;                                                                        \
    const real y = b[i];                                                                       \
    out[i] = (OUT)(expr);                                                                      \
}

/* Comparisons of contiguous arrays, 8 elements a work-item in vector registers: PoCL did not
 * vectorise the uchar stores of the one-element kernels (1M int64 ==: 3.3 -> 1.4 ms). A vector
 * comparison gives -1 / 0, negated to bool's 1 / 0. */
#define COMPARE8(name, OP)                                                                     \
__kernel void name##_vv8_kernel(__global uchar *out, __global const real *a,                   \
                                __global const real *b, const int n)                           \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (8 * i + 8 <= n)                                                                        \
        vstore8(convert_uchar8(-(vload8(i, a) OP vload8(i, b))), i, out);                      \
    else                                                                                       \
        for (int k = 8 * i; k < n; ++k) out[k] = a[k] OP b[k];                                 \
}                                                                                              \
__kernel void name##_vs8_kernel(__global uchar *out, __global const real *a, const real y,     \
                                const int n)                                                   \
{                                                                                              \
    const int i = get_global_id(0);                                                            \
    if (8 * i + 8 <= n)                                                                        \
        vstore8(convert_uchar8(-(vload8(i, a) OP (real8)(y))), i, out);                        \
    else                                                                                       \
        for (int k = 8 * i; k < n; ++k) out[k] = a[k] OP y;                                    \
}

COMPARE8(equal, ==)
COMPARE8(not_equal, !=)
COMPARE8(less, <)
COMPARE8(less_equal, <=)
COMPARE8(greater, >)
COMPARE8(greater_equal, >=)

UFUNC(equal, uchar, x == y)
UFUNC(not_equal, uchar, x != y)
UFUNC(less, uchar, x < y)
UFUNC(less_equal, uchar, x <= y)
UFUNC(greater, uchar, x > y)
UFUNC(greater_equal, uchar, x >= y)
UFUNC(logical_and, uchar, (x != 0) && (y != 0))
UFUNC(logical_or, uchar, (x != 0) || (y != 0))
UFUNC(logical_xor, uchar, (x != 0) != (y != 0))
UFUNC(logical_not, uchar, x == 0)
#ifdef REAL_IS_FLOAT
UFUNC(isnan, uchar, isnan(x))
UFUNC(isinf, uchar, isinf(x))
UFUNC(isfinite, uchar, isfinite(x))
#else
UFUNC(bitwise_and, real, x & y)
UFUNC(bitwise_or, real, x | y)
UFUNC(bitwise_xor, real, x ^ y)
#ifdef REAL_IS_BOOL
UFUNC(invert, real, x == 0)
#else
UFUNC(invert, real, ~x)
#endif
UFUNC(left_shift, real, mg_left_shift(x, y))
UFUNC(right_shift, real, mg_right_shift(x, y))
UFUNC(floor_divide, real, mg_floor_divide(x, y))
UFUNC(remainder, real, mg_remainder(x, y))
#endif

/* ---- where with a mask of any type (COND_TYPE): out[i] = cond[..] != 0 ? a[..] : b[..] ------ */
#ifdef COND_TYPE
__kernel void where_kernel(__global real *out, __global const COND_TYPE *cond,
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

/* cond, a and b contiguous arrays of the output's shape: no index decoding, no NULL tests */
__kernel void where_vvv_kernel(__global real *out, __global const COND_TYPE *cond,
                               __global const real *a, __global const real *b, const int n)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    out[i] = cond[i] != 0 ? a[i] : b[i];
}
#endif

/* ---- argmax / argmin along one axis ---------------------------------------------------------
 * The input is read as (outer, L, inner) with the reduced axis in the middle: row r = (o, i)
 * holds the L elements at o * L * inner + i + k * inner, so no transpose is needed and
 * neighbouring work-items (rows i, i + 1) read neighbouring elements. One work-item per (row,
 * chunk of `chunk` elements): the first maximum of its chunk, NaN winning as numpy's argmax
 * (the first NaN). With idx_in the candidates are a previous pass's (value, index) pairs
 * (inner = 1), reduced the same way: the smallest index wins ties, as chunks are in order.
 * get_global_id(0) = row, get_global_id(1) = chunk. */
#ifdef REAL_IS_FLOAT
#define ISNAN(v) isnan(v)
#else
#define ISNAN(v) 0
#endif

#define ARGREDUCE(name, BETTER)                                                                \
__kernel void name##_kernel(__global real *val_out, __global long *idx_out,                    \
                            __global const real *in, __global const long *idx_in,            \
                            const int L, const int inner, const int chunk, const int nchunks, \
                            const int M)                                                       \
{                                                                                              \
    const int row = get_global_id(0), c = get_global_id(1);                                    \
    if (c >= nchunks || row >= M) return;                                                      \
    const int start = c * chunk, stop = min(start + chunk, L);                                 \
    __global const real *x = in + (long)(row / inner) * L * inner + row % inner;              \
    real best = x[(long)start * inner];                                                        \
    int at = start;                                                                            \
    if (!ISNAN(best))                                                                          \
        for (int k = start + 1; k < stop; ++k) {                                               \
            const real v = x[(long)k * inner];                                                 \
            if (ISNAN(v)) { best = v; at = k; break; }                                         \
            if (BETTER(v, best)) { best = v; at = k; }                                         \
        }                                                                                      \
    val_out[(long)row * nchunks + c] = best;                                                   \
    idx_out[(long)row * nchunks + c] = idx_in ? idx_in[(long)row * L + at] : (long)at;         \
}

#define GREATER(v, best) ((v) > (best))
#define LESS(v, best) ((v) < (best))
ARGREDUCE(argmax, GREATER)
ARGREDUCE(argmin, LESS)
