/* conv2d as im2col + GEMM, and col2im for its input gradient.
 *
 * Layout: images are NCHW row-major; weights (O, C, KH, KW). The column matrix of image n is
 *   cols[n][r][p],  r = (c * KH + ki) * KW + kj  (C*KH*KW rows),  p = oh * OW + ow  (OH*OW cols)
 * so that y[n] = W.reshape(O, C*KH*KW) @ cols[n] is already y's (O, OH, OW) plane in NCHW: no
 * transpose after the GEMM. Padding is implicit (out-of-image taps read 0); PyTorch's
 * cross-correlation: input row = oh * SH - PH + ki.
 *
 * Precision: `real` is float, or double when built with -DREAL_IS_DOUBLE (needs cl_khr_fp64).
 */
#ifdef REAL_IS_DOUBLE
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
#else
typedef float real;
#endif

/* gid0 = output pixel p, gid1 = column-matrix row r, gid2 = image n (consecutive work-items
 * write consecutive columns). */
__kernel void im2col(__global real *cols, __global const real *x,
                     const int C, const int H, const int W, const int KH, const int KW,
                     const int SH, const int SW, const int PH, const int PW,
                     const int OH, const int OW)
{
    const int p = get_global_id(0), r = get_global_id(1), n = get_global_id(2);
    if (p >= OH * OW || r >= C * KH * KW) return;
    const int kj = r % KW, ki = (r / KW) % KH, c = r / (KW * KH);
    const int h = (p / OW) * SH - PH + ki, w = (p % OW) * SW - PW + kj;
    const real v = (h >= 0 && h < H && w >= 0 && w < W)
        ? x[(((long)n * C + c) * H + h) * W + w] : (real)0;
    cols[((long)n * C * KH * KW + r) * OH * OW + p] = v;
}

/* The adjoint of im2col: dx[n][c][h][w] = sum of the dcols entries im2col copied x[n][c][h][w]
 * into. A gather (each work-item owns one input pixel) rather than a scatter, so no atomics and
 * a deterministic order of summation.
 * gid0 = input pixel h * W + w, gid1 = channel c, gid2 = image n. */
__kernel void col2im(__global real *dx, __global const real *dcols,
                     const int C, const int H, const int W, const int KH, const int KW,
                     const int SH, const int SW, const int PH, const int PW,
                     const int OH, const int OW)
{
    const int hw = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (hw >= H * W) return;
    const int h = hw / W, w = hw % W;
    __global const real *d = dcols + ((long)n * C + c) * KH * KW * OH * OW;
    real acc = 0;
    for (int ki = 0; ki < KH; ++ki) {
        const int hs = h + PH - ki;           /* = oh * SH for the output row that used it */
        if (hs < 0 || hs % SH != 0 || hs / SH >= OH) continue;
        const int oh = hs / SH;
        for (int kj = 0; kj < KW; ++kj) {
            const int ws = w + PW - kj;
            if (ws < 0 || ws % SW != 0 || ws / SW >= OW) continue;
            acc += d[(long)(ki * KW + kj) * OH * OW + oh * OW + ws / SW];
        }
    }
    dx[(((long)n * C + c) * H + h) * W + w] = acc;
}
