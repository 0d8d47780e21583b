/* Softmax family and the fused softmax + cross-entropy, over the last axis of (N, C) arrays.
 *
 * Layout: row-major (N, C); get_global_id(0) = row n, and one work-item walks its whole row
 * (class counts are small next to batch sizes, so rows are the parallelism). Every row is
 * shifted by its maximum before exp, so no exp overflows.
 *
 * Targets are class indices, int32 or int64: `targets_are_long` says which, so one build serves
 * both label dtypes. The caller has validated them (0 <= t < C).
 *
 * Names: the kernel of the library's op X is X_kernel, in every file (exp, log, pow, max, ...
 * are OpenCL C built-in functions, and a kernel named like one is silently dropped by PoCL).
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE.
 */
#include "real.h"

inline real row_max(__global const real *x, const int C)
{
    real m = x[0];
    for (int c = 1; c < C; ++c) m = fmax(m, x[c]);
    return m;
}

/* Compensated (Kahan) summation: a plain float running sum stalls at 2^24 (over 2^25 classes a
 * softmax summed to 2), and not every device has doubles to accumulate in. */
#define KAHAN_ADD(s, comp, v) { const real y_ = (v) - comp; const real t_ = s + y_;            \
                                 comp = (t_ - s) - y_; s = t_; }

inline int target_of(__global const int *targets, const int targets_are_long, const int n)
{
    return targets_are_long ? (int)((__global const long *)targets)[n] : targets[n];
}

/* y = exp(x - max) / sum exp(x - max) */
__kernel void softmax_kernel(__global real *y, __global const real *x, const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    __global const real *xr = x + (long)n * C;
    __global real *yr = y + (long)n * C;
    const real m = row_max(xr, C);
    real s = 0, comp = 0;
    for (int c = 0; c < C; ++c) { yr[c] = exp(xr[c] - m); KAHAN_ADD(s, comp, yr[c]); }
    for (int c = 0; c < C; ++c) yr[c] /= s;
}

/* ly = (x - max) - log(sum exp(x - max)): the max is subtracted first, so that large logits
 * keep their precision (m + log(s) would round away log(s) next to a logit of 1e30). */
__kernel void log_softmax_kernel(__global real *ly, __global const real *x,
                                 const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    __global const real *xr = x + (long)n * C;
    const real m = row_max(xr, C);
    real s = 0, comp = 0;
    for (int c = 0; c < C; ++c) KAHAN_ADD(s, comp, exp(xr[c] - m));
    const real ls = log(s);
    for (int c = 0; c < C; ++c) ly[(long)n * C + c] = (xr[c] - m) - ls;
}

/* dx = y * (g - sum(g * y)) */
__kernel void softmax_vjp_kernel(__global real *dx, __global const real *y, __global const real *g,
                                  const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    const long o = (long)n * C;
    real dot = 0;
    for (int c = 0; c < C; ++c) dot += g[o + c] * y[o + c];
    for (int c = 0; c < C; ++c) dx[o + c] = y[o + c] * (g[o + c] - dot);
}

/* dx = g - exp(ly) * sum(g) */
__kernel void log_softmax_vjp_kernel(__global real *dx, __global const real *ly,
                                      __global const real *g, const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    const long o = (long)n * C;
    real s = 0;
    for (int c = 0; c < C; ++c) s += g[o + c];
    for (int c = 0; c < C; ++c) dx[o + c] = g[o + c] - exp(ly[o + c]) * s;
}

/* loss[n] = -log softmax(x[n])[t_n] = (max - x[t_n]) + log(sum exp(x - max)); probs = softmax(x).
 * The two large numbers are subtracted first: with logits of -1e4 in float32, log(s) + max
 * would lose the small difference to rounding.
 * Computed from the log-sum-exp rather than as -log(probs[t]), which would be -log(0) = inf
 * once a probability underflows. */
__kernel void cross_entropy_kernel(__global real *loss, __global real *probs,
                                   __global const real *x, __global const int *targets,
                                   const int targets_are_long, const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    __global const real *xr = x + (long)n * C;
    __global real *pr = probs + (long)n * C;
    const real m = row_max(xr, C);
    real s = 0, comp = 0;
    for (int c = 0; c < C; ++c) { pr[c] = exp(xr[c] - m); KAHAN_ADD(s, comp, pr[c]); }
    for (int c = 0; c < C; ++c) pr[c] /= s;
    loss[n] = (m - xr[target_of(targets, targets_are_long, n)]) + log(s);
}

/* dx = (probs - onehot(t)) * g[n] */
__kernel void cross_entropy_vjp_kernel(__global real *dx, __global const real *probs,
                                        __global const int *targets, const int targets_are_long,
                                        __global const real *g, const int N, const int C)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    const int t = target_of(targets, targets_are_long, n);
    const long o = (long)n * C;
    const real gn = g[n];
    for (int c = 0; c < C; ++c)
        dx[o + c] = (probs[o + c] - (c == t ? (real)1 : (real)0)) * gn;
}
