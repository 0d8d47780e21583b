/* One precision of the Winograd transforms: included by winograd.h with MG_T (the element
 * type) and MG_F (the name suffix) defined. */

/* One row of tiles: the 16 transformed values of tile tx go to o[xi][tx]. r0..r3 are the four
 * input rows of the tile row (already padded), tile tx starts at column 2 tx. */
static inline void MG_F(mg_wino_in_row)(
    ptrdiff_t tw, const MG_T *restrict r0, const MG_T *restrict r1, const MG_T *restrict r2,
    const MG_T *restrict r3,
    MG_T *restrict o0, MG_T *restrict o1, MG_T *restrict o2, MG_T *restrict o3,
    MG_T *restrict o4, MG_T *restrict o5, MG_T *restrict o6, MG_T *restrict o7,
    MG_T *restrict o8, MG_T *restrict o9, MG_T *restrict o10, MG_T *restrict o11,
    MG_T *restrict o12, MG_T *restrict o13, MG_T *restrict o14, MG_T *restrict o15)
{
    for (ptrdiff_t tx = 0; tx < tw; tx++) {
        const ptrdiff_t c = 2 * tx;
        MG_T t[4][4];                       /* t = B^T d, row by row */
        for (int b = 0; b < 4; b++) {
            t[0][b] = r0[c + b] - r2[c + b];
            t[1][b] = r1[c + b] + r2[c + b];
            t[2][b] = r2[c + b] - r1[c + b];
            t[3][b] = r1[c + b] - r3[c + b];
        }
        o0[tx] = t[0][0] - t[0][2];  o1[tx] = t[0][1] + t[0][2];     /* then t B */
        o2[tx] = t[0][2] - t[0][1];  o3[tx] = t[0][1] - t[0][3];
        o4[tx] = t[1][0] - t[1][2];  o5[tx] = t[1][1] + t[1][2];
        o6[tx] = t[1][2] - t[1][1];  o7[tx] = t[1][1] - t[1][3];
        o8[tx] = t[2][0] - t[2][2];  o9[tx] = t[2][1] + t[2][2];
        o10[tx] = t[2][2] - t[2][1]; o11[tx] = t[2][1] - t[2][3];
        o12[tx] = t[3][0] - t[3][2]; o13[tx] = t[3][1] + t[3][2];
        o14[tx] = t[3][2] - t[3][1]; o15[tx] = t[3][1] - t[3][3];
    }
}

/* One (H, W) plane into its th x tw tiles: v[xi * xs + ty * tw + tx], the tile at
 * (2 ty - ph, 2 tx - pw), zero off the plane. buf holds 4 rows of 2 tw + 2. */
static void MG_F(mg_wino_in_plane)(const MG_T *x, ptrdiff_t H, ptrdiff_t W, ptrdiff_t ph,
                                   ptrdiff_t pw, ptrdiff_t th, ptrdiff_t tw, MG_T *v,
                                   ptrdiff_t xs, MG_T *buf)
{
    const ptrdiff_t wp = 2 * tw + 2;
    const ptrdiff_t lo = pw < wp ? pw : wp;                  /* columns from x: [lo, hi) */
    const ptrdiff_t hi = W + pw < wp ? W + pw : wp;
    for (ptrdiff_t ty = 0; ty < th; ty++) {
        const MG_T *r[4];
        for (int a = 0; a < 4; a++) {
            const ptrdiff_t y = 2 * ty + a - ph;
            if (y >= 0 && y < H && pw == 0 && wp <= W) {
                r[a] = x + y * W;                              /* inside: read x in place */
                continue;
            }
            MG_T *row = buf + a * wp;
            memset(row, 0, (size_t)wp * sizeof(MG_T));
            if (y >= 0 && y < H && hi > lo)
                memcpy(row + lo, x + y * W, (size_t)(hi - lo) * sizeof(MG_T));
            r[a] = row;
        }
        MG_T *o = v + ty * tw;
        MG_F(mg_wino_in_row)(tw, r[0], r[1], r[2], r[3],
                             o, o + xs, o + 2 * xs, o + 3 * xs, o + 4 * xs, o + 5 * xs,
                             o + 6 * xs, o + 7 * xs, o + 8 * xs, o + 9 * xs, o + 10 * xs,
                             o + 11 * xs, o + 12 * xs, o + 13 * xs, o + 14 * xs, o + 15 * xs);
    }
}

/* One row of tiles back: e0/e1 get output row 0/1 of the tile row (2 tw wide, interleaved
 * even/odd columns), + bias. */
static inline void MG_F(mg_wino_out_row)(
    ptrdiff_t tw, MG_T bias,
    const MG_T *restrict m0, const MG_T *restrict m1, const MG_T *restrict m2,
    const MG_T *restrict m3, const MG_T *restrict m4, const MG_T *restrict m5,
    const MG_T *restrict m6, const MG_T *restrict m7, const MG_T *restrict m8,
    const MG_T *restrict m9, const MG_T *restrict m10, const MG_T *restrict m11,
    const MG_T *restrict m12, const MG_T *restrict m13, const MG_T *restrict m14,
    const MG_T *restrict m15, MG_T *restrict e0, MG_T *restrict e1)
{
    for (ptrdiff_t tx = 0; tx < tw; tx++) {
        /* s = A^T m: row 0 = m_0j + m_1j + m_2j, row 1 = m_1j - m_2j - m_3j */
        const MG_T s00 = m0[tx] + m4[tx] + m8[tx], s01 = m1[tx] + m5[tx] + m9[tx];
        const MG_T s02 = m2[tx] + m6[tx] + m10[tx], s03 = m3[tx] + m7[tx] + m11[tx];
        const MG_T s10 = m4[tx] - m8[tx] - m12[tx], s11 = m5[tx] - m9[tx] - m13[tx];
        const MG_T s12 = m6[tx] - m10[tx] - m14[tx], s13 = m7[tx] - m11[tx] - m15[tx];
        e0[2 * tx] = s00 + s01 + s02 + bias;                          /* then s A */
        e0[2 * tx + 1] = s01 - s02 - s03 + bias;
        e1[2 * tx] = s10 + s11 + s12 + bias;
        e1[2 * tx + 1] = s11 - s12 - s13 + bias;
    }
}

/* One output plane (OH, OW) from its tiles m[xi * ms + ty * tw + tx]. buf holds 2 rows of
 * 2 tw. */
static void MG_F(mg_wino_out_plane)(const MG_T *m, ptrdiff_t ms, MG_T *y, ptrdiff_t OH,
                                    ptrdiff_t OW, ptrdiff_t th, ptrdiff_t tw, MG_T bias,
                                    MG_T *buf)
{
    MG_T *e0 = buf, *e1 = buf + 2 * tw;
    for (ptrdiff_t ty = 0; ty < th; ty++) {
        const MG_T *q = m + ty * tw;
        MG_F(mg_wino_out_row)(tw, bias, q, q + ms, q + 2 * ms, q + 3 * ms, q + 4 * ms,
                              q + 5 * ms, q + 6 * ms, q + 7 * ms, q + 8 * ms, q + 9 * ms,
                              q + 10 * ms, q + 11 * ms, q + 12 * ms, q + 13 * ms, q + 14 * ms,
                              q + 15 * ms, e0, e1);
        memcpy(y + 2 * ty * OW, e0, (size_t)OW * sizeof(MG_T));
        if (2 * ty + 1 < OH)
            memcpy(y + (2 * ty + 1) * OW, e1, (size_t)OW * sizeof(MG_T));
    }
}

/* One row of tiles of the upstream gradient: rows r0, r1 (2 tw wide) into o0..o15 (A g A^T,
 * A = [[1, 0], [1, 1], [1, -1], [0, -1]]: additions only). */
static inline void MG_F(mg_wino_grad_row)(
    ptrdiff_t tw, const MG_T *restrict r0, const MG_T *restrict r1,
    MG_T *restrict o0, MG_T *restrict o1, MG_T *restrict o2, MG_T *restrict o3,
    MG_T *restrict o4, MG_T *restrict o5, MG_T *restrict o6, MG_T *restrict o7,
    MG_T *restrict o8, MG_T *restrict o9, MG_T *restrict o10, MG_T *restrict o11,
    MG_T *restrict o12, MG_T *restrict o13, MG_T *restrict o14, MG_T *restrict o15)
{
    for (ptrdiff_t tx = 0; tx < tw; tx++) {
        const MG_T a = r0[2 * tx], b = r0[2 * tx + 1], c = r1[2 * tx], d = r1[2 * tx + 1];
        /* rows of A g: (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); each row (p, q)
         * times A^T: (p, p + q, p - q, -q) */
        const MG_T p1 = a + c, q1 = b + d, p2 = a - c, q2 = b - d;
        o0[tx] = a;   o1[tx] = a + b;    o2[tx] = a - b;    o3[tx] = -b;
        o4[tx] = p1;  o5[tx] = p1 + q1;  o6[tx] = p1 - q1;  o7[tx] = -q1;
        o8[tx] = p2;  o9[tx] = p2 + q2;  o10[tx] = p2 - q2; o11[tx] = -q2;
        o12[tx] = -c; o13[tx] = -c - d;  o14[tx] = d - c;   o15[tx] = d;
    }
}

/* The weight gradient's transform of the upstream gradient: tile (ty, tx) of the (OH, OW)
 * plane g (2x2, zero past the edge) becomes A g A^T, its 16 values to o[xi * xs + t]. Then
 * dL/dU[xi] = sum over tiles (A g A^T)[xi] V[xi] (one GEMM per xi, the tiles its inner
 * dimension) and dL/dw = G^T (dL/dU) G. buf holds 2 rows of 2 tw. */
static void MG_F(mg_wino_grad_plane)(const MG_T *g, ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t th,
                                     ptrdiff_t tw, MG_T *o, ptrdiff_t xs, MG_T *buf)
{
    MG_T *b0 = buf, *b1 = buf + 2 * tw;
    for (ptrdiff_t ty = 0; ty < th; ty++) {
        const MG_T *r0 = g + 2 * ty * OW, *r1 = r0 + OW;
        if (OW < 2 * tw) {                       /* an odd width: pad the rows with a zero */
            memcpy(b0, r0, (size_t)OW * sizeof(MG_T));
            b0[OW] = 0;
            r0 = b0;
        }
        if (2 * ty + 1 >= OH) {                  /* an odd height: the tile's second row is 0 */
            memset(b1, 0, (size_t)(2 * tw) * sizeof(MG_T));
            r1 = b1;
        } else if (OW < 2 * tw) {
            memcpy(b1, g + (2 * ty + 1) * OW, (size_t)OW * sizeof(MG_T));
            b1[OW] = 0;
            r1 = b1;
        }
        MG_T *q = o + ty * tw;
        MG_F(mg_wino_grad_row)(tw, r0, r1, q, q + xs, q + 2 * xs, q + 3 * xs, q + 4 * xs,
                               q + 5 * xs, q + 6 * xs, q + 7 * xs, q + 8 * xs, q + 9 * xs,
                               q + 10 * xs, q + 11 * xs, q + 12 * xs, q + 13 * xs, q + 14 * xs,
                               q + 15 * xs);
    }
}

/* The input gradient: the adjoint of mg_wino_in_plane. The tile gradients dV (dv[xi * xs + t],
 * dL/dV = U^T dL/dM summed over the output channels by the caller's GEMMs) go back through
 * B dV B^T, B = [[1, 0, 0, 0], [0, 1, -1, 1], [-1, 1, 1, 0], [0, 0, 0, -1]], and each 4x4 tile is
 * added where its input tile came from (neighbours overlap by 2). acc holds the padded plane,
 * (2 th + 2) x (2 tw + 2); the (H, W) window at (ph, pw) of it is written to dx (overwritten). */
static void MG_F(mg_wino_in_adjoint_plane)(const MG_T *dv, ptrdiff_t xs, MG_T *dx, ptrdiff_t H,
                                           ptrdiff_t W, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t th,
                                           ptrdiff_t tw, MG_T *acc)
{
    const ptrdiff_t wp = 2 * tw + 2, hp = 2 * th + 2;
    memset(acc, 0, (size_t)(wp * hp) * sizeof(MG_T));
    for (ptrdiff_t ty = 0; ty < th; ty++) {
        const MG_T *q = dv + ty * tw;
        MG_T *rows = acc + 2 * ty * wp;
        for (ptrdiff_t tx = 0; tx < tw; tx++) {
            MG_T s[4][4], x[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++)
                    s[i][j] = q[(4 * i + j) * xs + tx];
            for (int j = 0; j < 4; j++) {              /* x = B s */
                x[0][j] = s[0][j];
                x[1][j] = s[1][j] - s[2][j] + s[3][j];
                x[2][j] = s[1][j] + s[2][j] - s[0][j];
                x[3][j] = -s[3][j];
            }
            for (int a = 0; a < 4; a++) {              /* then x B^T, added in place */
                MG_T *r = rows + a * wp + 2 * tx;
                r[0] += x[a][0];
                r[1] += x[a][1] - x[a][2] + x[a][3];
                r[2] += x[a][1] + x[a][2] - x[a][0];
                r[3] -= x[a][3];
            }
        }
    }
    for (ptrdiff_t y = 0; y < H; y++) {             /* the unpadded window, zero beyond acc */
        const ptrdiff_t ya = y + ph;
        MG_T *d = dx + y * W;
        for (ptrdiff_t c = 0; c < W; c++) {
            const ptrdiff_t ca = c + pw;
            d[c] = ya < hp && ca < wp ? acc[ya * wp + ca] : 0;
        }
    }
}
