/* Row reductions: sum, max, min of each row of an (M, L) row-major array.
 *
 * The host turns any axis tuple into this shape by permuting the reduced axes last (a
 * contiguous copy), so one kernel serves every `axis`.
 *
 * Work split: a row may be cut into `nchunks` chunks of `chunk` elements so a long row (sum of
 * everything: M == 1) still keeps every compute unit busy; the host then reduces the (M, nchunks)
 * partial results with a second launch. One work-group handles one (row, chunk):
 *   get_group_id(0) = chunk, get_global_id(1) = row, get_local_id(0) = lane.
 * The lanes stride through the chunk (neighbouring lanes read neighbouring elements, which is
 * what a GPU wants) and then combine their partial results in local memory as a tree. The local
 * size must be a power of two in dimension 0. A work-group may hold several rows (local size
 * in dimension 1 > 1, each with its own `width` of scratch): on a CPU, PoCL's per-group cost
 * dominated one short row per group. Rows >= M (padding of the global size) store nothing.
 *
 * Names: the kernel of the library's op X is X_kernel, in every file (exp, log, pow, max, ...
 * are OpenCL C built-in functions, and a kernel named like one is silently dropped by PoCL).
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE, or an integer type.
 */
#include "real.h"

/* max / min propagate NaN like numpy does. Integer builds (REAL_IS_INT) wrap around as numpy's
 * integer sums and products do, and start max / min from the type's range. */
#define ADD(x, y) ((x) + (y))
#define MUL(x, y) ((x) * (y))
#ifdef REAL_IS_INT
#define MAX(x, y) ((x) > (y) ? (x) : (y))
#define MIN(x, y) ((x) < (y) ? (x) : (y))
#define LOWEST REAL_LOWEST
#define HIGHEST REAL_HIGHEST
#else
#define MAX(x, y) (((x) > (y) || isnan(x)) ? (x) : (y))
#define MIN(x, y) (((x) < (y) || isnan(x)) ? (x) : (y))
#define LOWEST -INFINITY
#define HIGHEST INFINITY
#endif

#define REDUCE(name, COMBINE, IDENTITY)                                                        \
__kernel void name##_kernel(__global real *out, __global const real *in, const int L,           \
                   const int chunk, const int nchunks, __local real *scratch, const int M)     \
{                                                                                              \
    const int lane = get_local_id(0);                                                          \
    const int width = get_local_size(0);                                                       \
    const int c = get_group_id(0);                                                             \
    const int row = get_global_id(1);                                                          \
    __local real *s = scratch + get_local_id(1) * width;                                       \
    const int start = c * chunk;                                                               \
    const int stop = row < M ? min(start + chunk, L) : start;   /* padding rows: no reads */   \
    __global const real *x = in + (long)row * L;                                               \
    real acc = (IDENTITY);                                                                     \
    for (int k = start + lane; k < stop; k += width)                                           \
        acc = COMBINE(acc, x[k]);                                                              \
    s[lane] = acc;                                                                             \
    barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    for (int step = width / 2; step > 0; step /= 2) {                                          \
        if (lane < step)                                                                       \
            s[lane] = COMBINE(s[lane], s[lane + step]);                                        \
        barrier(CLK_LOCAL_MEM_FENCE);                                                          \
    }                                                                                          \
    if (lane == 0 && row < M)                                                                  \
        out[(long)row * nchunks + c] = s[0];                                                   \
}

REDUCE(sum, ADD, 0)
REDUCE(max, MAX, LOWEST)
REDUCE(min, MIN, HIGHEST)
REDUCE(prod, MUL, 1)

/* Cumulative sums along rows of an (M, L) array, one work-item per row, in order (reverse:
 * from the end), so float sums round exactly as numpy's sequential cumsum. */
__kernel void cumsum_rows_kernel(__global real *out, __global const real *in, const int L,
                                 const int M, const int reverse)
{
    const int row = get_global_id(0);
    if (row >= M) return;
    __global const real *x = in + (long)row * L;
    __global real *y = out + (long)row * L;
    real acc = 0;
    if (!reverse)
        for (int k = 0; k < L; ++k) { acc += x[k]; y[k] = acc; }
    else
        for (int k = L - 1; k >= 0; --k) { acc += x[k]; y[k] = acc; }
}
