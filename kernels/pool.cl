/* 2-D max and average pooling (no padding) and their gradients.
 *
 * Layout: NCHW row-major; a "plane" is one (n, c) image of H x W, flattened. Forward kernels:
 * gid0 = output pixel oh * OW + ow (max_pool2d: output row oh), gid1 = plane. Backward
 * kernels gather instead of scatter-adding (overlapping windows would need float atomics):
 * gid0 = input pixel h * W + w, gid1 = plane, and each input pixel sums over the windows that
 * contain it, which are
 *   oh in [ceil((h - KH + 1) / SH), floor(h / SH)] clipped to [0, OH)
 * (max_pool2d_back is the exception, see there).
 *
 * Names: the kernel of the library's op X is X_kernel, in every file (exp, log, pow, max, ...
 * are OpenCL C built-in functions, and a kernel named like one is silently dropped by PoCL).
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE.
 */
#include "real.h"

inline int first_window(const int h, const int K, const int S)
{
    return h >= K - 1 ? (h - K + 1 + S - 1) / S : 0;
}

/* idx = arg-max as a flat index h * W + w into the plane (64-bit: a plane may pass 2^31
 * elements); the first maximum wins.
 * gid0 = output row oh, gid1 = plane: a work-item does a whole output row, so no division per
 * output pixel (those dominated on a CPU: 1.2 ms for a (64, 32, 24, 24) input). */
__kernel void max_pool2d_kernel(__global real *y, __global long *idx, __global const real *x,
                                const int H, const int W, const int KH, const int KW,
                                const int SH, const int SW, const int OH, const int OW)
{
    const int oh = get_global_id(0), plane = get_global_id(1);
    if (oh >= OH) return;
    const int h0 = oh * SH;
    __global const real *xp = x + (long)plane * H * W;
    const long o = ((long)plane * OH + oh) * OW;
    for (int ow = 0; ow < OW; ++ow) {
        const int w0 = ow * SW;
        long best = (long)h0 * W + w0;
        real m = xp[best];
        for (int ki = 0; ki < KH; ++ki)
            for (int kj = 0; kj < KW; ++kj) {
                const long at = (long)(h0 + ki) * W + w0 + kj;
                if (xp[at] > m || (isnan(xp[at]) && !isnan(m))) { m = xp[at]; best = at; }
            }
        y[o + ow] = m;
        idx[o + ow] = best;
    }
}

/* dx[idx] += g, window by window. Scatter, but race-free without atomics: one work-item owns a
 * whole plane (gid0 = plane) and walks its windows in order, so overlapping windows (stride <
 * kernel) add up deterministically and the window geometry is not needed. dx arrives zeroed. */
__kernel void max_pool2d_vjp_kernel(__global real *dx, __global const real *g,
                                     __global const long *idx, const long HW, const int OHW,
                                     const int planes)
{
    const int plane = get_global_id(0);
    if (plane >= planes) return;
    __global real *d = dx + (long)plane * HW;
    const long o = (long)plane * OHW;
    for (int p = 0; p < OHW; ++p) d[idx[o + p]] += g[o + p];
}

__kernel void avg_pool2d_kernel(__global real *y, __global const real *x,
                                const int H, const int W, const int KH, const int KW,
                                const int SH, const int SW, const int OH, const int OW)
{
    const int p = get_global_id(0), plane = get_global_id(1);
    if (p >= OH * OW) return;
    const int h0 = (p / OW) * SH, w0 = (p % OW) * SW;
    __global const real *xp = x + (long)plane * H * W;
    real s = 0;
    for (int ki = 0; ki < KH; ++ki)
        for (int kj = 0; kj < KW; ++kj) s += xp[(h0 + ki) * W + w0 + kj];
    y[(long)plane * OH * OW + p] = s / (KH * KW);
}

/* dx[h, w] = sum of g / (KH * KW) over the windows containing (h, w). */
__kernel void avg_pool2d_vjp_kernel(__global real *dx, __global const real *g,
                                     const int H, const int W, const int KH, const int KW,
                                     const int SH, const int SW, const int OH, const int OW)
{
    const int hw = get_global_id(0), plane = get_global_id(1);
    if (hw >= H * W) return;
    const int h = hw / W, w = hw % W;
    const long o = (long)plane * OH * OW;
    real acc = 0;
    for (int oh = first_window(h, KH, SH); oh <= min(h / SH, OH - 1); ++oh)
        for (int ow = first_window(w, KW, SW); ow <= min(w / SW, OW - 1); ++ow)
            acc += g[o + oh * OW + ow];
    dx[(long)plane * H * W + hw] = acc / (KH * KW);
}
