/* Matrix multiplication C = op(A) @ op(B), batched: three kernels for three kinds of device.
 *
 * Layout. C is a contiguous row-major (batch, M, N) array. A and B are read through element
 * strides, which is how transposes cost nothing: element (i, k) of op(A) in batch b lives at
 *     A[b * a_batch + i * a_row + k * a_col]
 * (for A itself a_row = lda, a_col = 1; for A^T they swap), and element (k, j) of op(B) at
 *     B[b * b_batch + k * b_row + j * b_col].
 * A batch stride of 0 broadcasts one matrix over the batch (conv2d's weights).
 * In every kernel get_global_id(2) (or get_group_id(2)) is the batch index.
 *
 *   matmul_naive    one work-item per C element; the reference the others are tested against.
 *                   gid0 = column j, gid1 = row i.
 *   matmul_tiled    for GPUs: a work-group stages TILE_M x TILE_K of A and TILE_K x TILE_N of B
 *                   in local memory, and each work-item accumulates WORK_M x WORK_N elements of C
 *                   in registers. Local size (TILE_N / WORK_N, TILE_M / WORK_M).
 *   matmul_blocked  for CPUs (PoCL): no local memory (on a CPU it is just more cache traffic);
 *                   each work-item keeps a BLOCK_M x 2 VEC block of C in VEC-wide vector
 *                   registers, reads A in place and B in 2 VEC-column panels (packed by pack_b unless B can
 *                   be read as it is), so no bounds check is needed in the inner loop.
 *                   gid0 = BLOCK_M-row block of C, gid1 = PANEL_N-column panel of C.
 *
 * Sizes need not be multiples of anything: the tiled kernel zero-fills out-of-range tile
 * elements, pack_b zero-pads B's panels, the blocked kernel clamps A's rows, and every store
 * is masked.
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE; integer types build
 * matmul_naive alone (sums wrap around, as numpy's integer matmul).
 */
#include "real.h"

#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef WORK_M
#define WORK_M 4
#endif
#ifndef WORK_N
#define WORK_N 4
#endif

/* matmul_blocked: each work-item computes a BLOCK_M x PANEL_N block of C, PANEL_N = 2 VEC (see
 * there). The host picks them from the device's preferred vector width: VEC 16, BLOCK_M 8 where
 * it is 16 (AVX-512: 16 accumulators + 3 in its 32 vector registers), VEC 8, BLOCK_M 6 below
 * (AVX2: 12 + 3 in its 16; 16-wide vectors there are split in two and 8 rows of them spill). */
#ifndef VEC
#define VEC 16
#endif
#ifndef BLOCK_M
#define BLOCK_M 8
#endif
#define PANEL_N (2 * VEC)

/* ---- naive -------------------------------------------------------------------------------- */

__kernel void matmul_naive(__global real *C, __global const real *A, __global const real *B,
                           const int M, const int N, const int K,
                           const int a_batch, const int a_row, const int a_col,
                           const int b_batch, const int b_row, const int b_col)
{
    const int j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
    if (i >= M || j >= N) return;
    __global const real *a = A + (long)b * a_batch + (long)i * a_row;
    __global const real *bb = B + (long)b * b_batch + (long)j * b_col;
    real acc = 0;
    for (int k = 0; k < K; ++k)
        acc += a[(long)k * a_col] * bb[(long)k * b_row];
    C[((long)b * M + i) * N + j] = acc;
}

#ifndef REAL_IS_INT   /* integer builds (-DREAL_TYPE=...): the naive kernel only, wrapping */
/* ---- tiled (GPU) -------------------------------------------------------------------------- */

#define THREADS_N (TILE_N / WORK_N)
#define THREADS_M (TILE_M / WORK_M)

__kernel __attribute__((reqd_work_group_size(THREADS_N, THREADS_M, 1)))
void matmul_tiled(__global real *C, __global const real *A, __global const real *B,
                  const int M, const int N, const int K,
                  const int a_batch, const int a_row, const int a_col,
                  const int b_batch, const int b_row, const int b_col)
{
    __local real As[TILE_K][TILE_M];
    __local real Bs[TILE_K][TILE_N];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int tid = ty * THREADS_N + tx;
    const int row0 = get_group_id(1) * TILE_M, col0 = get_group_id(0) * TILE_N;
    const int b = get_group_id(2);
    A += (long)b * a_batch;
    B += (long)b * b_batch;

    real acc[WORK_M][WORK_N];
    for (int m = 0; m < WORK_M; ++m)
        for (int n = 0; n < WORK_N; ++n)
            acc[m][n] = 0;

    for (int k0 = 0; k0 < K; k0 += TILE_K) {
        /* Consecutive work-items load consecutive k of A and consecutive columns of B: the
         * contiguous direction of untransposed operands, so those loads coalesce. */
        for (int e = tid; e < TILE_M * TILE_K; e += THREADS_M * THREADS_N) {
            const int r = e / TILE_K, kk = e % TILE_K;
            const int i = row0 + r, k = k0 + kk;
            As[kk][r] = (i < M && k < K) ? A[(long)i * a_row + (long)k * a_col] : (real)0;
        }
        for (int e = tid; e < TILE_K * TILE_N; e += THREADS_M * THREADS_N) {
            const int kk = e / TILE_N, c = e % TILE_N;
            const int k = k0 + kk, j = col0 + c;
            Bs[kk][c] = (k < K && j < N) ? B[(long)k * b_row + (long)j * b_col] : (real)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TILE_K; ++kk) {
            real a[WORK_M], bv[WORK_N];
            /* Work-item (tx, ty) owns rows ty + m * THREADS_M and columns tx + n * THREADS_N:
             * interleaved, so neighbouring work-items read neighbouring local-memory words. */
            for (int m = 0; m < WORK_M; ++m) a[m] = As[kk][ty + m * THREADS_M];
            for (int n = 0; n < WORK_N; ++n) bv[n] = Bs[kk][tx + n * THREADS_N];
            for (int m = 0; m < WORK_M; ++m)
                for (int n = 0; n < WORK_N; ++n)
                    acc[m][n] = mad(a[m], bv[n], acc[m][n]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int m = 0; m < WORK_M; ++m) {
        const int i = row0 + ty + m * THREADS_M;
        if (i >= M) continue;
        for (int n = 0; n < WORK_N; ++n) {
            const int j = col0 + tx + n * THREADS_N;
            if (j < N) C[((long)b * M + i) * N + j] = acc[m][n];
        }
    }
}

/* ---- blocked (CPU) ------------------------------------------------------------------------ */

#if VEC == 8
typedef real8 realv;
#define VLOAD vload8
#define VSTORE vstore8
#else
typedef real16 realv;
#define VLOAD vload16
#define VSTORE vstore16
#endif

/* Bp[b][p][k][c] = op(B)[b][k][p * PANEL_N + c], zero for columns >= N.
 * gid0 = k, gid1 = panel p, gid2 = batch; a work-item writes one contiguous PANEL_N-row of the
 * panel (one work-item per element spent more time on its index arithmetic than on copying). */
__kernel void pack_b(__global real *Bp, __global const real *B, const int N, const int K,
                     const int b_batch, const int b_row, const int b_col)
{
    const int k = get_global_id(0), p = get_global_id(1), b = get_global_id(2);
    if (k >= K) return;
    const int panels = get_global_size(1);
    __global const real *src = B + (long)b * b_batch + (long)k * b_row;
    __global real *dst = Bp + (((long)b * panels + p) * K + k) * PANEL_N;
    const int j0 = p * PANEL_N;
    for (int c = 0; c < PANEL_N; ++c)
        dst[c] = j0 + c < N ? src[(long)(j0 + c) * b_col] : (real)0;
}

/* One work-item: C[b][BLOCK_M q .. BLOCK_M q + BLOCK_M-1][PANEL_N p .. PANEL_N p + PANEL_N-1]
 * = op(A) rows (x) B panel.
 *
 * A is read in place through its strides: each step of k broadcasts one scalar per row, and a
 * broadcast load costs the same from any address, so packing A (a whole extra pass over it)
 * bought nothing. Rows past M are clamped to row M-1 (valid memory; their results are never
 * stored), so the inner loop has no bounds checks.
 *
 * B is a "panel source": row k of panel p of batch b starts at
 *     Bs[b * bs_batch + p * bs_panel + k * bs_row]
 * and holds PANEL_N contiguous values. The host points it either at a packed copy (pack_b:
 * bs_row = PANEL_N) or, when op(B) is untransposed and N is a multiple of PANEL_N, straight at B
 * (bs_panel = PANEL_N, bs_row = ldb): no packing pass at all.
 *
 * gid0 = row block q, gid1 = panel p: consecutive work-items (run back to back on one core by
 * PoCL) share the B panel, which then stays in cache while the small A blocks stream; with the
 * other order every work-item streamed a different panel and all of B went through the cache
 * once per row block.
 *
 * BLOCK_M = 8, VEC = 16: 16 accumulators of 16 lanes + 2 B vectors + a broadcast fit the 32
 * AVX-512 registers, and each B vector loaded feeds 8 FMAs (4 before), halving cache traffic per
 * flop; on AVX2, BLOCK_M = 6 and VEC = 8 fit its 16 (the top of this file). */
__kernel void matmul_blocked(__global real *C, __global const real *A, __global const real *Bs,
                             const int M, const int N, const int K,
                             const int a_batch, const int a_row, const int a_col,
                             const int bs_batch, const int bs_panel, const int bs_row,
                             const int a_blocks, const int b_panels, const int batch_sum)
{
    const int q = get_global_id(0), p = get_global_id(1), b = get_global_id(2);
    if (p >= b_panels || q >= a_blocks) return;
    const int i0 = q * BLOCK_M;
    realv acc0[BLOCK_M], acc1[BLOCK_M];
    for (int r = 0; r < BLOCK_M; ++r) {
        acc0[r] = 0;
        acc1[r] = 0;
    }
    /* C batch b = the sum over batch_sum consecutive operand batches (1: a plain product).
     * conv2d's weight gradient sums its per-image products here, in registers, instead of
     * writing a (batch, M, N) array and reducing it in a second pass. */
    for (int bb = b * batch_sum; bb < (b + 1) * batch_sum; ++bb) {
        __global const real *ar[BLOCK_M];
        for (int r = 0; r < BLOCK_M; ++r)
            ar[r] = A + (long)bb * a_batch + (long)min(i0 + r, M - 1) * a_row;
        __global const real *bs = Bs + (long)bb * bs_batch + (long)p * bs_panel;
        for (int k = 0; k < K; ++k) {
            __global const real *brow = bs + (long)k * bs_row;
            const realv b0 = VLOAD(0, brow), b1 = VLOAD(1, brow);
            const long ko = (long)k * a_col;
#pragma unroll
            for (int r = 0; r < BLOCK_M; ++r) {
                const real av = ar[r][ko];
                /* fma, not mad: PoCL compiles mad to a separate multiply and add (it may),
                 * which halves the peak of an FMA unit; fma is one vfmadd on AVX-512 / AVX2. */
                acc0[r] = fma((realv)av, b0, acc0[r]);
                acc1[r] = fma((realv)av, b1, acc1[r]);
            }
        }
    }
    const int j0 = p * PANEL_N;
    __global real *c = C + ((long)b * M + i0) * N + j0;
    for (int r = 0; r < BLOCK_M && i0 + r < M; ++r) {
        if (j0 + PANEL_N <= N) {
            VSTORE(acc0[r], 0, c + (long)r * N);
            VSTORE(acc1[r], 0, c + (long)r * N + VEC);
        } else {
            real tmp[PANEL_N];
            VSTORE(acc0[r], 0, tmp);
            VSTORE(acc1[r], 1, tmp);
            for (int jj = 0; j0 + jj < N; ++jj) c[(long)r * N + jj] = tmp[jj];
        }
    }
}
#endif
