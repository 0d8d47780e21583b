/* conv2d as im2col + GEMM, and col2im for its input gradient.
 *
 * Layout: images are NCHW row-major; weights (O, C, KH, KW). The column matrix of image n is
 *   cols[n][r][p],  r = (c * KH + ki) * KW + kj  (C*KH*KW rows),  p = oh * OW + ow  (OH*OW cols)
 * so that y[n] = W.reshape(O, C*KH*KW) @ cols[n] is already y's (O, OH, OW) plane in NCHW: no
 * transpose after the GEMM. Padding is implicit (out-of-image taps read 0); PyTorch's
 * cross-correlation: input row = oh * SH - PH + ki.
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE.
 */
#include "real.h"

/* One work-item per row of the column matrix's (oh) block: cols[n][r][oh * OW .. oh * OW + OW-1].
 * gid0 = output row oh, gid1 = column-matrix row r, gid2 = image n.
 * A work-item per element spent most of its time in the six integer divisions that decode
 * (r, p) (CPUs have no vector integer division): 23 ms for the (64,16,26,26) 3x3 case. Per row,
 * the decoding is paid once per OW elements, and the inner loop is a contiguous copy. */
__kernel void im2col(__global real *cols, __global const real *x,
                     const int C, const int H, const int W, const int KH, const int KW,
                     const int SH, const int SW, const int PH, const int PW,
                     const int OH, const int OW)
{
    const int oh = get_global_id(0), r = get_global_id(1), n = get_global_id(2);
    if (oh >= OH || r >= C * KH * KW) return;
    const int kj = r % KW, ki = (r / KW) % KH, c = r / (KW * KH);
    const int h = oh * SH - PH + ki;
    __global real *out = cols + ((long)n * C * KH * KW + r) * OH * OW + (long)oh * OW;
    if (h < 0 || h >= H) {
        for (int ow = 0; ow < OW; ++ow) out[ow] = 0;
        return;
    }
    __global const real *row = x + (((long)n * C + c) * H + h) * W;
    for (int ow = 0; ow < OW; ++ow) {
        const int w = ow * SW - PW + kj;
        out[ow] = (w >= 0 && w < W) ? row[w] : (real)0;
    }
}

/* The adjoint of im2col: dx[n][c][h][w] = sum of the dcols entries im2col copied x[n][c][h][w]
 * into. A gather (each work-item owns input pixels) rather than a scatter, so no atomics and
 * a deterministic order of summation.
 * gid0 = input row h, gid1 = channel c, gid2 = image n; the work-item does the W pixels of its
 * row, so the row-dependent tests (which output row oh each ki maps to) are paid once per row. */
__kernel void col2im(__global real *dx, __global const real *dcols,
                     const int C, const int H, const int W, const int KH, const int KW,
                     const int SH, const int SW, const int PH, const int PW,
                     const int OH, const int OW)
{
    const int h = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (h >= H) return;
    const long plane = (long)OH * OW;
    __global const real *d = dcols + ((long)n * C + c) * KH * KW * plane;
    __global real *out = dx + (((long)n * C + c) * H + h) * W;
    for (int w = 0; w < W; ++w) out[w] = 0;
    for (int ki = 0; ki < KH; ++ki) {
        const int hs = h + PH - ki;           /* = oh * SH for the output row that used it */
        if (hs < 0 || hs % SH != 0 || hs / SH >= OH) continue;
        const int oh = hs / SH;
        for (int kj = 0; kj < KW; ++kj) {
            __global const real *drow = d + (ki * KW + kj) * plane + (long)oh * OW;
            if (SW == 1) {
                /* ow = w + PW - kj: a shifted contiguous add, no division */
                const int lo = max(0, kj - PW), hi = min(W, OW + kj - PW);
                for (int w = lo; w < hi; ++w) out[w] += drow[w + PW - kj];
            } else {
                for (int w = 0; w < W; ++w) {
                    const int ws = w + PW - kj;
                    if (ws >= 0 && ws % SW == 0 && ws / SW < OW) out[w] += drow[ws / SW];
                }
            }
        }
    }
}

/* y[n][o][p] += b[o]: conv2d's bias. gid0 = o, gid1 = n; a work-item adds one scalar to one
 * contiguous plane (the broadcasting add decoded three dims per element: 6 ms here). */
__kernel void add_channel_bias(__global real *y, __global const real *b, const int O,
                               const int P)
{
    const int o = get_global_id(0), n = get_global_id(1);
    if (o >= O) return;
    __global real *row = y + ((long)n * O + o) * P;
    const real v = b[o];
    for (int p = 0; p < P; ++p) row[p] += v;
}
