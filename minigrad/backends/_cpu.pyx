# cython: language_level=3
"""Compiled kernels of the tensor engine (CPU).

Only what numpy would do in several passes or with temporaries lives here: fused activation
backwards, softmax / cross-entropy, im2col / col2im and the Winograd transforms for convolutions
(those in C: winograd.h), pooling, and the optimizers' in-place updates. Matmul is numpy's BLAS.

Every kernel trusts its inputs: shapes, dtypes and index ranges are validated by the Python caller
(``minigrad/backends/cpu.py``) before the GIL is released. Directives (no bounds checks, no
wraparound) are set once in setup.py; build with ``MINIGRAD_DEBUG=1`` to turn the checks back on.
"""

cimport openmp
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from libc.math cimport exp, log, sqrt, fabs, expf, logf, sqrtf, tanh, tanhf

ctypedef fused floating:
    float
    double

# Arg-max indices: 32-bit where a plane has fewer than 2^31 elements (twice the vector width,
# measured: max_pool2d ran twice the instructions with 64-bit indices), 64-bit beyond.
ctypedef fused index_t:
    int
    int64_t

# When a parallel region pays. Elementwise and optimizer kernels are memory-bound: a second
# thread gains little below ~1M elements, while the idle OpenMP threads it leaves behind keep
# spinning (libgomp's default when another library, e.g. torch, loaded it first) and slow the next
# BLAS call. Measured: an MLP step went from 0.8 ms to 8 ms with torch imported. Gathers and
# scatters (im2col, col2im, pooling) do more work per element and go parallel earlier.
cdef enum:
    PAR_MIN_ELEMENTWISE = 1048576
    PAR_MIN_GATHER = 131072


# One thread by default. numpy's OpenBLAS keeps its worker threads spinning for a while after
# every call; a parallel region that starts then must wait for a core the spinner holds, and on
# this project's 2-core machines the CNN step was as fast on one thread as on two, and twice as
# fast next to torch. set_num_threads(n) opts in where more cores make it pay.
cdef int _nthreads = 1


def set_num_threads(int n):
    """Threads for the parallel kernels (0: OpenMP's default, OMP_NUM_THREADS or all cores)."""
    global _nthreads
    _nthreads = n if n > 0 else 0


def get_num_threads():
    return _nthreads if _nthreads > 0 else openmp.omp_get_max_threads()


cdef inline int _threads(Py_ssize_t n) noexcept nogil:
    if n < PAR_MIN_ELEMENTWISE:
        return 1
    return _nthreads if _nthreads > 0 else openmp.omp_get_max_threads()


cdef inline int _gthreads(Py_ssize_t n) noexcept nogil:
    if n < PAR_MIN_GATHER:
        return 1
    return _nthreads if _nthreads > 0 else openmp.omp_get_max_threads()


# ---- activations -----------------------------------------------------------------------------

def sigmoid(const floating[::1] x, floating[::1] out):
    """out = 1 / (1 + e^-x) as s = 1/(1 + e^-|x|), then s or 1 - s by the sign: e^-|x| never
    overflows, and both sides are computed so the choice is a select, not a branch (random signs
    would mispredict half the time)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating z, s
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        z = exp(-fabs(x[i])) if floating is double else expf(-fabs(x[i]))
        s = 1 / (1 + z)
        out[i] = s if x[i] >= 0 else z * s


def relu_vjp(const floating[::1] x, const floating[::1] g, floating[::1] out):
    """out = g * [x > 0]  (the relu rule's local derivative times the upstream
    gradient; checked against the rule in tests/backends). A multiply by the
    comparison, not a branch: the loop vectorises and random signs cost nothing."""
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        out[i] = g[i] * (x[i] > 0)


def sigmoid_vjp(const floating[::1] y, const floating[::1] g, floating[::1] out):
    """out = g * y (1 - y)  (the sigmoid rule, fused)"""
    cdef Py_ssize_t i, n = y.shape[0]
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        out[i] = g[i] * y[i] * (1 - y[i])


def tanh_vjp(const floating[::1] y, const floating[::1] g, floating[::1] out):
    """out = g * (1 - y^2)  (the tanh rule, fused)"""
    cdef Py_ssize_t i, n = y.shape[0]
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        out[i] = g[i] * (1 - y[i] * y[i])


# ---- softmax and cross-entropy (rows of a 2-D array) ----------------------------------------

cdef inline floating _row_max(const floating[:, ::1] x, Py_ssize_t i) noexcept nogil:
    # Subtracting the row max before exp keeps e^x finite for logits of any size.
    cdef Py_ssize_t j
    cdef floating m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = x[i, j] if x[i, j] > m else m
    return m


cdef inline double _row_softmax(const floating[:, ::1] x, Py_ssize_t i,
                                floating[:, ::1] out) noexcept nogil:
    # out[i] = e^(x[i] - max) / sum, the sum accumulated in double (a float32 running sum
    # stalls at 2^24); returns the sum, for the log-sum-exp of cross_entropy.
    cdef Py_ssize_t j
    cdef floating m = _row_max(x, i), e
    cdef double s = 0
    for j in range(x.shape[1]):
        e = exp(x[i, j] - m) if floating is double else expf(x[i, j] - m)
        out[i, j] = e
        s = s + e
    for j in range(x.shape[1]):
        out[i, j] = <floating>(out[i, j] / s)
    return s


def log_softmax(const floating[:, ::1] x, floating[:, ::1] out):
    """out = (x - max) - log sum e^(x - max): the subtraction of the max comes first, so large
    logits keep full precision."""
    cdef Py_ssize_t i, j, n = x.shape[0], c = x.shape[1]
    cdef floating m, ls
    cdef double s  # a float32 running sum stalls at 2^24: over 2^25 classes it summed to 2.0
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        m = _row_max(x, i)
        s = 0
        for j in range(c):
            s = s + (exp(x[i, j] - m) if floating is double else expf(x[i, j] - m))
        ls = <floating>log(s)
        for j in range(c):
            out[i, j] = (x[i, j] - m) - ls


def softmax(const floating[:, ::1] x, floating[:, ::1] out):
    """out = e^(x - max) / sum e^(x - max), dividing by the sum rather than subtracting its log
    from a large number."""
    cdef Py_ssize_t i, n = x.shape[0], c = x.shape[1]
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        _row_softmax(x, i, out)


def softmax_vjp(const floating[:, ::1] y, const floating[:, ::1] g, floating[:, ::1] out):
    """out = y * (g - sum_j g_j y_j): the softmax Jacobian applied without forming it."""
    cdef Py_ssize_t i, j, n = y.shape[0], c = y.shape[1]
    cdef double d
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        d = 0
        for j in range(c):
            d = d + g[i, j] * y[i, j]
        for j in range(c):
            out[i, j] = <floating>(y[i, j] * (g[i, j] - d))


def log_softmax_vjp(const floating[:, ::1] ly, const floating[:, ::1] g,
                     floating[:, ::1] out):
    """out = g - softmax * sum_j g_j"""
    cdef Py_ssize_t i, j, n = ly.shape[0], c = ly.shape[1]
    cdef double s
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        s = 0
        for j in range(c):
            s = s + g[i, j]
        for j in range(c):
            out[i, j] = <floating>(g[i, j] - s * (exp(ly[i, j]) if floating is double
                                                  else expf(ly[i, j])))


def cross_entropy(const floating[:, ::1] x, const long long[::1] t, floating[::1] loss,
                  floating[:, ::1] probs):
    """loss_i = (max_i - x_i[t_i]) + log sum_j e^(x_ij - max_i); probs = softmax(x) (kept for
    the backward). Written so that no large number is subtracted from another: with logits of
    1e4, lse - x[t] would lose the small difference to float32 rounding."""
    cdef Py_ssize_t i, n = x.shape[0], c = x.shape[1]
    cdef double s
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        s = _row_softmax(x, i, probs)
        loss[i] = (_row_max(x, i) - x[i, t[i]]) + <floating>log(s)


def cross_entropy_vjp(const floating[:, ::1] probs, const long long[::1] t,
                       const floating[::1] g, floating[:, ::1] out):
    """out_i = (softmax(x_i) - onehot(t_i)) * g_i: the lecture's (softmax(c) - t)."""
    cdef Py_ssize_t i, j, n = probs.shape[0], c = probs.shape[1]
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n * c)):
        for j in range(c):
            out[i, j] = probs[i, j] * g[i]
        out[i, t[i]] = out[i, t[i]] - g[i]


# ---- convolution: im2col / col2im --------------------------------------------------------------
# cols has shape (C*kh*kw, N*OH*OW): row r = (c, i, j) holds, for every output position of every
# image, the input pixel that filter tap (c, i, j) sees there (0 in the padding). Then
# conv = W(O, C*kh*kw) @ cols, one large GEMM. x may be any strided view (no copy needed).

cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # b > 0; C division truncates toward zero, so negative a needs its own case.
    return (a + b - 1) // b if a >= 0 else -((-a) // b)


cdef inline Py_ssize_t _lo(int j, int sw, int pw) noexcept nogil:
    # first output column whose input column b*sw + j - pw is >= 0
    cdef Py_ssize_t v = _ceil_div(pw - j, sw)
    return v if v > 0 else 0


cdef inline Py_ssize_t _hi(int j, int sw, int pw, Py_ssize_t W, Py_ssize_t ow) noexcept nogil:
    # one past the last output column whose input column is < W
    cdef Py_ssize_t v = _ceil_div(W - j + pw, sw)
    return v if v < ow else ow


def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, int kh, int kw, int sh,
           int sw, int ph, int pw, int oh, int ow):
    """cols[n, (c, i, j), (a, b)] = x[n, c, a*sh + i - ph, b*sw + j - pw], 0 in the padding.

    One (C*kh*kw, OH*OW) matrix per image, so that W (O, C*kh*kw) @ cols[n] is y[n] in NCHW
    with no transpose. The valid column range of each tap is computed once per row, so the inner
    loop is a plain (for stride 1, contiguous) copy with no per-element bounds test."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t R = C * kh * kw, q, r, c, i, j, n, a, b, col, hi, lo, up, off
    for q in prange(N * R, nogil=True, schedule="static",
                    num_threads=_gthreads(R * N * oh * ow)):
        n = q // R
        r = q % R
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        lo = _lo(j, sw, pw)
        up = _hi(j, sw, pw, W, ow)
        if lo > ow:   # a kernel wider than input + padding: no valid column in this tap
            lo = ow
        if up < lo:
            up = lo
        col = 0
        for a in range(oh):
            hi = a * sh + i - ph
            if hi < 0 or hi >= H:
                for b in range(ow):
                    cols[n, r, col + b] = 0
            else:
                for b in range(lo):
                    cols[n, r, col + b] = 0
                if sw == 1:
                    # unit stride: a contiguous row copy the compiler vectorises
                    off = j - pw
                    for b in range(lo, up):
                        cols[n, r, col + b] = x[n, c, hi, b + off]
                else:
                    for b in range(lo, up):
                        cols[n, r, col + b] = x[n, c, hi, b * sw + j - pw]
                for b in range(up, ow):
                    cols[n, r, col + b] = 0
            col = col + ow


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] dx, int kh, int kw, int sh,
           int sw, int ph, int pw, int oh, int ow):
    """dx (zeroed by the caller) += the columns (per image, as im2col writes them) scattered back
    to the pixels they came from.

    Parallel over (image, channel) planes: different taps of one channel land on the same pixel,
    so each thread owns whole planes and no two threads write the same element."""
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t p, n, c, i, j, r, a, b, col, hi, lo, up, off
    for p in prange(N * C, nogil=True, schedule="static",
                    num_threads=_gthreads(N * C * kh * kw * oh * ow)):
        n = p // C
        c = p % C
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                lo = _lo(j, sw, pw)
                up = _hi(j, sw, pw, W, ow)
                col = 0
                for a in range(oh):
                    hi = a * sh + i - ph
                    if hi >= 0 and hi < H:
                        if sw == 1:
                            off = j - pw
                            for b in range(lo, up):
                                dx[n, c, hi, b + off] += cols[n, r, col + b]
                        else:
                            for b in range(lo, up):
                                dx[n, c, hi, b * sw + j - pw] += cols[n, r, col + b]
                    col = col + ow


# Winograd F(2x2, 3x3) for 3x3, unit-stride layers (Lavin and Gray, "Fast Algorithms for
# Convolutional Neural Networks", 2015): a 2x2 output tile from a 4x4 input tile is
# A^T [(G w G^T) . (B^T d B)] A, 16 multiplies per input channel instead of 36. The elementwise
# products over channels become 16 GEMMs, U[xi] (O x C) @ V[xi] (C x tiles), the transforms below
# run before and after them. The weights' transform U is the caller's (numpy, once per call).

cdef extern from "winograd.h" nogil:
    void mg_wino_in_plane_f(const float* x, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw, float* v, Py_ssize_t xs,
                            float* buf)
    void mg_wino_in_plane_d(const double* x, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t th, Py_ssize_t tw, double* v,
                            Py_ssize_t xs, double* buf)
    void mg_wino_out_plane_f(const float* m, Py_ssize_t ms, float* y, Py_ssize_t OH,
                             Py_ssize_t OW, Py_ssize_t th, Py_ssize_t tw, float bias, float* buf)
    void mg_wino_grad_plane_f(const float* g, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t th,
                              Py_ssize_t tw, float* o, Py_ssize_t xs, float* buf)
    void mg_wino_grad_plane_d(const double* g, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t th,
                              Py_ssize_t tw, double* o, Py_ssize_t xs, double* buf)
    void mg_wino_in_adjoint_plane_f(const float* dv, Py_ssize_t xs, float* dx, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th,
                                    Py_ssize_t tw, float* acc)
    void mg_wino_in_adjoint_plane_d(const double* dv, Py_ssize_t xs, double* dx, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t th,
                                    Py_ssize_t tw, double* acc)
    void mg_wino_out_plane_d(const double* m, Py_ssize_t ms, double* y, Py_ssize_t OH,
                             Py_ssize_t OW, Py_ssize_t th, Py_ssize_t tw, double bias,
                             double* buf)


def winograd_input(const floating[:, :, :, ::1] x, floating[:, :, :] v, Py_ssize_t th,
                   Py_ssize_t tw, Py_ssize_t ph, Py_ssize_t pw):
    """v[xi, c, n*T + ty*tw + tx] = (B^T d B)[xi] for d the 4x4 patch of x[n, c] at
    (2 ty - ph, 2 tx - pw), zero off the plane (the padding); T = th * tw tiles an image.
    v's last axis must be unit-stride; v[xi] may be padded apart (any stride of its first axis):
    16 streams written a whole multiple of 4 KiB apart share a handful of L1 sets and evict each
    other (measured 4x slower)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t T = th * tw, xs = v.strides[0] // sizeof(floating), p, n, c
    cdef Py_ssize_t size = 8 * tw + 8                      # 4 padded rows of 2 tw + 2
    cdef int nt = _gthreads(N * C * T * 16)
    cdef floating* bufs
    if N == 0 or C == 0 or T == 0:
        return
    bufs = <floating*> malloc(nt * size * sizeof(floating))
    if bufs == NULL:
        raise MemoryError()
    try:
        for p in prange(N * C, nogil=True, schedule="static", num_threads=nt):
            n = p // C
            c = p % C
            if floating is float:
                mg_wino_in_plane_f(&x[n, c, 0, 0], H, W, ph, pw, th, tw, &v[0, c, n * T], xs,
                                   bufs + threadid() * size)
            else:
                mg_wino_in_plane_d(&x[n, c, 0, 0], H, W, ph, pw, th, tw, &v[0, c, n * T], xs,
                                   bufs + threadid() * size)
    finally:
        free(bufs)


def winograd_output(const floating[:, :, :] m, floating[:, :, :, ::1] y,
                    const floating[::1] bias, Py_ssize_t th, Py_ssize_t tw):
    """y[n, o] = the 2x2 tiles A^T m[:, o, n*T + t] A (A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]),
    + bias[o] (bias may be empty), cut to y's height and width. m's last axis unit-stride."""
    cdef Py_ssize_t N = y.shape[0], O = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t T = th * tw, ms = m.strides[0] // sizeof(floating), p, n, o
    cdef Py_ssize_t size = 4 * tw + 4                      # 2 output rows of 2 tw
    cdef int nt = _gthreads(N * O * T * 16)
    cdef floating bv
    cdef floating* bufs
    if N == 0 or O == 0 or T == 0:
        return
    bufs = <floating*> malloc(nt * size * sizeof(floating))
    if bufs == NULL:
        raise MemoryError()
    try:
        for p in prange(N * O, nogil=True, schedule="static", num_threads=nt):
            n = p // O
            o = p % O
            bv = bias[o] if bias.shape[0] > 0 else 0
            if floating is float:
                mg_wino_out_plane_f(&m[0, o, n * T], ms, &y[n, o, 0, 0], OH, OW, th, tw, bv,
                                    bufs + threadid() * size)
            else:
                mg_wino_out_plane_d(&m[0, o, n * T], ms, &y[n, o, 0, 0], OH, OW, th, tw, bv,
                                    bufs + threadid() * size)
    finally:
        free(bufs)


def winograd_input_vjp(const floating[:, :, :] dv, floating[:, :, :, ::1] dx, Py_ssize_t th,
                       Py_ssize_t tw, Py_ssize_t ph, Py_ssize_t pw):
    """dx[n, c] = the adjoint of winograd_input: every tile's gradient dv[:, c, n*T + t] through
    B dV B^T, added back over the 4x4 patch it came from (padding dropped). dx is overwritten.
    dv's last axis unit-stride, any stride between its xi."""
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t T = th * tw, xs = dv.strides[0] // sizeof(floating), p, n, c
    cdef Py_ssize_t size = (2 * th + 2) * (2 * tw + 2)
    cdef int nt = _gthreads(N * C * T * 16)
    cdef floating* bufs
    if N == 0 or C == 0 or H == 0 or W == 0:
        return
    if T == 0:      # no tiles: nothing reached the output, nothing comes back
        dx[:, :, :, :] = 0
        return
    bufs = <floating*> malloc(nt * size * sizeof(floating))
    if bufs == NULL:
        raise MemoryError()
    try:
        for p in prange(N * C, nogil=True, schedule="static", num_threads=nt):
            n = p // C
            c = p % C
            if floating is float:
                mg_wino_in_adjoint_plane_f(&dv[0, c, n * T], xs, &dx[n, c, 0, 0], H, W, ph, pw,
                                           th, tw, bufs + threadid() * size)
            else:
                mg_wino_in_adjoint_plane_d(&dv[0, c, n * T], xs, &dx[n, c, 0, 0], H, W, ph, pw,
                                           th, tw, bufs + threadid() * size)
    finally:
        free(bufs)


def winograd_grad(const floating[:, :, :, ::1] g, floating[:, :, :] out, Py_ssize_t th,
                  Py_ssize_t tw):
    """out[xi, o, n*T + t] = (A g_t A^T)[xi] for g_t the 2x2 tile t of g[n, o] (zero past its
    edge): the upstream gradient's side of the Winograd weight gradient, dL/dU[xi] =
    out[xi] @ V[xi]^T summed over the batch. out's last axis unit-stride."""
    cdef Py_ssize_t N = g.shape[0], O = g.shape[1], OH = g.shape[2], OW = g.shape[3]
    cdef Py_ssize_t T = th * tw, xs = out.strides[0] // sizeof(floating), p, n, o
    cdef Py_ssize_t size = 4 * tw + 4
    cdef int nt = _gthreads(N * O * T * 16)
    cdef floating* bufs
    if N == 0 or O == 0 or T == 0:
        return
    bufs = <floating*> malloc(nt * size * sizeof(floating))
    if bufs == NULL:
        raise MemoryError()
    try:
        for p in prange(N * O, nogil=True, schedule="static", num_threads=nt):
            n = p // O
            o = p % O
            if floating is float:
                mg_wino_grad_plane_f(&g[n, o, 0, 0], OH, OW, th, tw, &out[0, o, n * T], xs,
                                     bufs + threadid() * size)
            else:
                mg_wino_grad_plane_d(&g[n, o, 0, 0], OH, OW, th, tw, &out[0, o, n * T], xs,
                                     bufs + threadid() * size)
    finally:
        free(bufs)


# ---- pooling -----------------------------------------------------------------------------------

def max_pool2d(const floating[:, :, :, :] x, floating[:, :, :, ::1] out,
               index_t[:, :, :, ::1] idx, int kh, int kw, int sh, int sw):
    """out = max over each window; idx = flat index (h * W + w) of the arg-max (first max wins),
    64-bit: a plane may hold more than 2^31 elements.

    Taps are the outer loops and output columns the inner one: each inner iteration compares one
    window's running max with one new tap, independently of its neighbours, so the comparison
    compiles to selects rather than unpredictable branches."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], W = x.shape[3]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3], p, n, c, a, b, i, j, r
    cdef floating v, m
    cdef index_t cand
    cdef bint take
    for p in prange(N * C, nogil=True, schedule="static", num_threads=_gthreads(N * C * oh * ow)):
        n = p // C
        c = p % C
        for a in range(oh):
            r = a * sh
            for b in range(ow):
                out[n, c, a, b] = x[n, c, r, b * sw]
                idx[n, c, a, b] = <index_t>(r * W + b * sw)
            for i in range(kh):
                r = a * sh + i
                for j in range(kw):
                    if i == 0 and j == 0:
                        continue
                    for b in range(ow):
                        v = x[n, c, r, b * sw + j]
                        m = out[n, c, a, b]
                        cand = <index_t>(r * W + b * sw + j)
                        # NaN wins (as in numpy and PyTorch): v != v is NaN, m == m is not
                        take = (v > m) | ((v != v) & (m == m))   # no branch: a select
                        idx[n, c, a, b] = cand if take else idx[n, c, a, b]
                        out[n, c, a, b] = v if take else m


def max_pool2d_vjp(const floating[:, :, :, :] g, const index_t[:, :, :, ::1] idx,
                    floating[:, :, ::1] dx):
    """dx (zeroed, shape (N*C, H, W) flattened planes) gets each window's whole gradient at its
    arg-max; overlapping windows add up."""
    cdef Py_ssize_t N = g.shape[0], C = g.shape[1], oh = g.shape[2], ow = g.shape[3]
    cdef Py_ssize_t W = dx.shape[2], p, n, c, a, b, k
    for p in prange(N * C, nogil=True, schedule="static", num_threads=_gthreads(N * C * oh * ow)):
        n = p // C
        c = p % C
        for a in range(oh):
            for b in range(ow):
                k = idx[n, c, a, b]
                dx[p, k // W, k % W] += g[n, c, a, b]


def avg_pool2d(const floating[:, :, :, :] x, floating[:, :, :, ::1] out, int kh, int kw, int sh,
               int sw):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t oh = out.shape[2], ow = out.shape[3], p, n, c, a, b, i, j
    cdef floating s, inv = <floating>(1.0 / (<double>kh * kw))  # kh * kw may pass 2^31
    for p in prange(N * C, nogil=True, schedule="static", num_threads=_gthreads(N * C * oh * ow)):
        n = p // C
        c = p % C
        for a in range(oh):
            for b in range(ow):
                s = 0
                for i in range(kh):
                    for j in range(kw):
                        s = s + x[n, c, a * sh + i, b * sw + j]
                out[n, c, a, b] = s * inv


def avg_pool2d_vjp(const floating[:, :, :, :] g, floating[:, :, :, ::1] dx, int kh, int kw,
                    int sh, int sw):
    cdef Py_ssize_t N = g.shape[0], C = g.shape[1], oh = g.shape[2], ow = g.shape[3]
    cdef Py_ssize_t p, n, c, a, b, i, j
    cdef floating v, inv = <floating>(1.0 / (<double>kh * kw))
    for p in prange(N * C, nogil=True, schedule="static", num_threads=_gthreads(N * C * oh * ow)):
        n = p // C
        c = p % C
        for a in range(oh):
            for b in range(ow):
                v = g[n, c, a, b] * inv
                for i in range(kh):
                    for j in range(kw):
                        dx[n, c, a * sh + i, b * sw + j] += v


# ---- optimizers: one pass, in place ----------------------------------------------------------

def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr,
             double momentum, bint nesterov, double wd, bint first):
    """PyTorch's SGD: d = g + wd p; buf = momentum buf + d (buf = d on the first step);
    p -= lr (d + momentum buf if nesterov else buf). With momentum 0, buf is unused."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating d
    if momentum == 0:
        for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
            p[i] = p[i] - <floating>lr * (g[i] + <floating>wd * p[i])
        return
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        d = g[i] + <floating>wd * p[i]
        if first:
            buf[i] = d
        else:
            buf[i] = <floating>momentum * buf[i] + d
        if nesterov:
            p[i] = p[i] - <floating>lr * (d + <floating>momentum * buf[i])
        else:
            p[i] = p[i] - <floating>lr * buf[i]


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              double lr, double beta1, double beta2, double eps, double wd, long step):
    """Adam (Kingma & Ba; PyTorch's form): m, v running moments, bias-corrected,
    p -= lr * mhat / (sqrt(vhat) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef double bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step
    cdef floating d, step_size = <floating>(lr / bc1), isb2 = <floating>(1.0 / sqrt(bc2))
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        d = g[i] + <floating>wd * p[i]
        m[i] = <floating>beta1 * m[i] + <floating>(1 - beta1) * d
        v[i] = <floating>beta2 * v[i] + <floating>(1 - beta2) * d * d
        if floating is double:
            p[i] = p[i] - step_size * m[i] / (sqrt(v[i]) * isb2 + <floating>eps)
        else:
            p[i] = p[i] - step_size * m[i] / (sqrtf(v[i]) * isb2 + <floating>eps)


def adagrad_step(floating[::1] p, const floating[::1] g, floating[::1] s, double lr, double eps,
                 double wd):
    """AdaGrad: s += g^2; p -= lr g / (sqrt(s) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating d
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        d = g[i] + <floating>wd * p[i]
        s[i] = s[i] + d * d
        if floating is double:
            p[i] = p[i] - <floating>lr * d / (sqrt(s[i]) + <floating>eps)
        else:
            p[i] = p[i] - <floating>lr * d / (sqrtf(s[i]) + <floating>eps)


def rmsprop_step(floating[::1] p, const floating[::1] g, floating[::1] s, double lr,
                 double alpha, double eps, double wd):
    """RMSprop: s = alpha s + (1 - alpha) g^2; p -= lr g / (sqrt(s) + eps)."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating d
    for i in prange(n, nogil=True, schedule="static", num_threads=_threads(n)):
        d = g[i] + <floating>wd * p[i]
        s[i] = <floating>alpha * s[i] + <floating>(1 - alpha) * d * d
        if floating is double:
            p[i] = p[i] - <floating>lr * d / (sqrt(s[i]) + <floating>eps)
        else:
            p[i] = p[i] - <floating>lr * d / (sqrtf(s[i]) + <floating>eps)


# ---- recurrent cells: one step of an LSTM layer (cpu.lstm runs the steps) ---------------------
#
# float32 cells run in C below, with an exp that the compiler vectorises (libm's expf and tanhf are
# calls, one element at a time: measured, they made the cell cost more than the step's GEMM, and
# the vectorised cell is 5-7x faster). The pointers are __restrict (the caller passes distinct
# arrays): without it GCC gives up on the alias checks of ten streams and keeps the loop scalar.
# float64 cells use libm's exp and tanh.

cdef extern from *:
    """
    #include <math.h>
    #include <string.h>

    /* e^x for x <= 0 (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n put into the
       exponent bits), branch-free so that loops calling it vectorise; relative error ~2 ulp,
       and e^x for x below -87 is taken as e^-87 (sigmoid and tanh only need it beside 1). */
    static inline float mg_exp_nonpos(float x) {
        x = x < -87.0f ? -87.0f : x;
        int n = (int)(x * 1.44269504088896341f - 0.5f);   /* round to nearest, x <= 0 */
        float fn = (float)n;
        float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int bits = (n + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        return p * scale;
    }

    /* 1 / (1 + e^-x) as the sigmoid kernel: s = 1 / (1 + e^-|x|), s or e^-|x| s by the sign */
    static inline float mg_sigmoid(float x) {
        float z = mg_exp_nonpos(-fabsf(x));
        float s = 1.0f / (1.0f + z);
        return x >= 0.0f ? s : z * s;
    }

    /* tanh x = sign(x) (1 - e) / (1 + e), e = e^-2|x|; below |x| = 1/16, where 1 - e would
       cancel, its Taylor polynomial (error < 1e-12) */
    static inline float mg_tanh(float x) {
        float ax = fabsf(x);
        float e = mg_exp_nonpos(-2.0f * ax);
        float t = (1.0f - e) / (1.0f + e);
        float x2 = x * x;
        float p = ax * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f
                                                            - x2 * 0.0539682540f)));
        return copysignf(ax < 0.0625f ? p : t, x);
    }

    static void mg_lstm_cell_f32(const float *__restrict gx, const float *__restrict gh,
                                 const float *__restrict c, float *__restrict acts,
                                 float *__restrict c_out, float *__restrict h_out,
                                 Py_ssize_t n, Py_ssize_t hs) {
        for (Py_ssize_t b = 0; b < n; b++) {
            const float *__restrict x = gx + b * 4 * hs, *__restrict h = gh + b * 4 * hs;
            const float *__restrict cp = c + b * hs;
            float *__restrict a = acts + b * 4 * hs, *__restrict co = c_out + b * hs;
            float *__restrict ho = h_out + b * hs;
            for (Py_ssize_t j = 0; j < hs; j++) {
                float i = mg_sigmoid(x[j] + h[j]);
                float f = mg_sigmoid(x[hs + j] + h[hs + j]);
                float g = mg_tanh(x[2 * hs + j] + h[2 * hs + j]);
                float o = mg_sigmoid(x[3 * hs + j] + h[3 * hs + j]);
                float cn = f * cp[j] + i * g;
                a[j] = i; a[hs + j] = f; a[2 * hs + j] = g; a[3 * hs + j] = o;
                co[j] = cn;
                ho[j] = o * mg_tanh(cn);
            }
        }
    }

    static void mg_lstm_cell_vjp_f32(const float *__restrict acts, const float *__restrict c_prev,
                                     const float *__restrict c, const float *__restrict dy,
                                     const float *__restrict dh, float *__restrict dc,
                                     float *__restrict da,
                                     Py_ssize_t n, Py_ssize_t hs) {
        for (Py_ssize_t b = 0; b < n; b++) {
            const float *__restrict a = acts + b * 4 * hs, *__restrict cp = c_prev + b * hs;
            const float *__restrict cn = c + b * hs;
            const float *__restrict y = dy + b * hs, *__restrict r = dh + b * hs;
            float *__restrict d = dc + b * hs, *__restrict out = da + b * 4 * hs;
            for (Py_ssize_t j = 0; j < hs; j++) {
                float i = a[j], f = a[hs + j], g = a[2 * hs + j], o = a[3 * hs + j];
                float tc = mg_tanh(cn[j]);
                float dht = y[j] + r[j];
                float dcc = d[j] + dht * o * (1.0f - tc * tc);
                out[j] = dcc * g * i * (1.0f - i);
                out[hs + j] = dcc * cp[j] * f * (1.0f - f);
                out[2 * hs + j] = dcc * i * (1.0f - g * g);
                out[3 * hs + j] = dht * tc * o * (1.0f - o);
                d[j] = dcc * f;
            }
        }
    }
    """
    float mg_sigmoid(float x) noexcept nogil
    float mg_tanh(float x) noexcept nogil
    void mg_lstm_cell_f32(const float *gx, const float *gh, const float *c, float *acts,
                          float *c_out, float *h_out, Py_ssize_t n, Py_ssize_t hs) noexcept nogil
    void mg_lstm_cell_vjp_f32(const float *acts, const float *c_prev, const float *c,
                              const float *dy, const float *dh, float *dc, float *da,
                              Py_ssize_t n, Py_ssize_t hs) noexcept nogil


cdef inline double _sigmoid64(double x) noexcept nogil:
    """sigmoid(x) as in the sigmoid kernel above: e^-|x| never overflows; a select on the sign"""
    cdef double z = exp(-fabs(x))
    cdef double s = 1 / (1 + z)
    return s if x >= 0 else z * s


def lstm_cell(const floating[:, ::1] gx, const floating[:, ::1] gh, const floating[:, ::1] c,
              floating[:, ::1] acts, floating[:, ::1] c_out, floating[:, ::1] h_out):
    """One LSTM step for a batch, the 4H columns in PyTorch's gate order i, f, g, o:
    a = gx + gh;  i, f, o = sigmoid(a_i, a_f, a_o), g = tanh(a_g) (kept in ``acts``);
    c' = f c + i g;  h' = o tanh(c'). Shapes (checked by the caller): gx, gh, acts (N, 4H);
    c, c_out, h_out (N, H)."""
    cdef Py_ssize_t b, j, n = c.shape[0], hs = c.shape[1]
    cdef double i, f, g, o, cn
    if n == 0 or hs == 0:
        return
    if floating is float:
        with nogil:
            mg_lstm_cell_f32(&gx[0, 0], &gh[0, 0], &c[0, 0], &acts[0, 0], &c_out[0, 0],
                             &h_out[0, 0], n, hs)
        return
    with nogil:
        for b in range(n):
            for j in range(hs):
                i = _sigmoid64(gx[b, j] + gh[b, j])
                f = _sigmoid64(gx[b, hs + j] + gh[b, hs + j])
                g = tanh(gx[b, 2 * hs + j] + gh[b, 2 * hs + j])
                o = _sigmoid64(gx[b, 3 * hs + j] + gh[b, 3 * hs + j])
                acts[b, j] = i
                acts[b, hs + j] = f
                acts[b, 2 * hs + j] = g
                acts[b, 3 * hs + j] = o
                cn = f * c[b, j] + i * g
                c_out[b, j] = cn
                h_out[b, j] = o * tanh(cn)


def lstm_cell_vjp(const floating[:, ::1] acts, const floating[:, ::1] c_prev,
                  const floating[:, ::1] c, const floating[:, ::1] dy,
                  const floating[:, ::1] dh, floating[:, ::1] dc, floating[:, ::1] da):
    """The backward of one lstm_cell step: with dh' = dy + dh (the output's gradient and the
    next step's, through W_hh) and dc' = dc + dh' o (1 - tanh^2 c'), the gates' pre-activation
    gradients da = (dc' g i(1-i), dc' c_prev f(1-f), dc' i (1-g^2), dh' tanh(c') o(1-o)), and
    dc <- dc' f (the previous cell state's gradient), in place."""
    cdef Py_ssize_t b, j, n = c.shape[0], hs = c.shape[1]
    cdef double i, f, g, o, tc, dht, dcc
    if n == 0 or hs == 0:
        return
    if floating is float:
        with nogil:
            mg_lstm_cell_vjp_f32(&acts[0, 0], &c_prev[0, 0], &c[0, 0], &dy[0, 0], &dh[0, 0],
                                 &dc[0, 0], &da[0, 0], n, hs)
        return
    with nogil:
        for b in range(n):
            for j in range(hs):
                i = acts[b, j]
                f = acts[b, hs + j]
                g = acts[b, 2 * hs + j]
                o = acts[b, 3 * hs + j]
                tc = tanh(c[b, j])
                dht = dy[b, j] + dh[b, j]
                dcc = dc[b, j] + dht * o * (1 - tc * tc)
                da[b, j] = dcc * g * i * (1 - i)
                da[b, hs + j] = dcc * c_prev[b, j] * f * (1 - f)
                da[b, 2 * hs + j] = dcc * i * (1 - g * g)
                da[b, 3 * hs + j] = dht * tc * o * (1 - o)
                dc[b, j] = dcc * f


def sigmoid_tanh_f32(const float[::1] x, float[::1] sig, float[::1] th):
    """The float32 cells' sigmoid and tanh elementwise, for tests against the rules."""
    cdef Py_ssize_t k
    with nogil:
        for k in range(x.shape[0]):
            sig[k] = mg_sigmoid(x[k])
            th[k] = mg_tanh(x[k])


# ---- recurrent cells: one step of a GRU layer (cpu.gru runs the steps) --------------------------

cdef extern from *:
    """
    static void mg_gru_cell_f32(const float *__restrict gx, const float *__restrict gh,
                                const float *__restrict bias, const float *__restrict h,
                                float *__restrict acts, float *__restrict ghn,
                                float *__restrict h_out, Py_ssize_t n, Py_ssize_t hs) {
        for (Py_ssize_t b = 0; b < n; b++) {
            const float *__restrict x = gx + b * 3 * hs, *__restrict a = gh + b * 3 * hs;
            const float *__restrict hp = h + b * hs;
            float *__restrict s = acts + b * 3 * hs, *__restrict gn = ghn + b * hs;
            float *__restrict ho = h_out + b * hs;
            for (Py_ssize_t j = 0; j < hs; j++) {
                float r = mg_sigmoid(x[j] + a[j] + bias[j]);
                float z = mg_sigmoid(x[hs + j] + a[hs + j] + bias[hs + j]);
                float hn = a[2 * hs + j] + bias[2 * hs + j];
                float nn = mg_tanh(x[2 * hs + j] + r * hn);
                s[j] = r; s[hs + j] = z; s[2 * hs + j] = nn;
                gn[j] = hn;
                ho[j] = nn + z * (hp[j] - nn);
            }
        }
    }

    static void mg_gru_cell_vjp_f32(const float *__restrict acts, const float *__restrict ghn,
                                    const float *__restrict h_prev, const float *__restrict dy,
                                    const float *__restrict dh, float *__restrict dgx,
                                    float *__restrict dgh, float *__restrict dh_direct,
                                    Py_ssize_t n, Py_ssize_t hs) {
        for (Py_ssize_t b = 0; b < n; b++) {
            const float *__restrict s = acts + b * 3 * hs, *__restrict gn = ghn + b * hs;
            const float *__restrict hp = h_prev + b * hs, *__restrict y = dy + b * hs;
            const float *__restrict rh = dh + b * hs;
            float *__restrict ox = dgx + b * 3 * hs, *__restrict oh = dgh + b * 3 * hs;
            float *__restrict od = dh_direct + b * hs;
            for (Py_ssize_t j = 0; j < hs; j++) {
                float r = s[j], z = s[hs + j], nn = s[2 * hs + j];
                float dht = y[j] + rh[j];
                float dn = dht * (1.0f - z) * (1.0f - nn * nn);
                float dz = dht * (hp[j] - nn) * z * (1.0f - z);
                float dr = dn * gn[j] * r * (1.0f - r);
                ox[j] = dr; ox[hs + j] = dz; ox[2 * hs + j] = dn;
                oh[j] = dr; oh[hs + j] = dz; oh[2 * hs + j] = dn * r;
                od[j] = dht * z;
            }
        }
    }
    """
    void mg_gru_cell_f32(const float *gx, const float *gh, const float *bias, const float *h,
                         float *acts, float *ghn, float *h_out, Py_ssize_t n,
                         Py_ssize_t hs) noexcept nogil
    void mg_gru_cell_vjp_f32(const float *acts, const float *ghn, const float *h_prev,
                             const float *dy, const float *dh, float *dgx, float *dgh,
                             float *dh_direct, Py_ssize_t n, Py_ssize_t hs) noexcept nogil


def gru_cell(const floating[:, ::1] gx, const floating[:, ::1] gh, const floating[::1] bias,
             const floating[:, ::1] h, floating[:, ::1] acts, floating[:, ::1] ghn,
             floating[:, ::1] h_out):
    """One GRU step for a batch, the 3H columns in PyTorch's gate order r, z, n: with
    a = gh + bias (h W_hh^T + b_hh), r, z = sigmoid(gx_r + a_r, gx_z + a_z),
    n = tanh(gx_n + r a_n), h' = n + z (h - n); r, z, n kept in ``acts``, a_n in ``ghn``.
    Shapes (checked by the caller): gx, gh, acts (N, 3H); bias (3H,); h, ghn, h_out (N, H)."""
    cdef Py_ssize_t b, j, n = h.shape[0], hs = h.shape[1]
    cdef double r, z, hn, nn
    if n == 0 or hs == 0:
        return
    if floating is float:
        with nogil:
            mg_gru_cell_f32(&gx[0, 0], &gh[0, 0], &bias[0], &h[0, 0], &acts[0, 0], &ghn[0, 0],
                            &h_out[0, 0], n, hs)
        return
    with nogil:
        for b in range(n):
            for j in range(hs):
                r = _sigmoid64(gx[b, j] + gh[b, j] + bias[j])
                z = _sigmoid64(gx[b, hs + j] + gh[b, hs + j] + bias[hs + j])
                hn = gh[b, 2 * hs + j] + bias[2 * hs + j]
                nn = tanh(gx[b, 2 * hs + j] + r * hn)
                acts[b, j] = r
                acts[b, hs + j] = z
                acts[b, 2 * hs + j] = nn
                ghn[b, j] = hn
                h_out[b, j] = nn + z * (h[b, j] - nn)


def gru_cell_vjp(const floating[:, ::1] acts, const floating[:, ::1] ghn,
                 const floating[:, ::1] h_prev, const floating[:, ::1] dy,
                 const floating[:, ::1] dh, floating[:, ::1] dgx, floating[:, ::1] dgh,
                 floating[:, ::1] dh_direct):
    """The backward of one gru_cell step: with dh' = dy + dh, dn = dh' (1 - z)(1 - n^2),
    dz = dh' (h_prev - n) z (1 - z), dr = dn a_n r (1 - r): dgx = (dr, dz, dn),
    dgh = (dr, dz, dn r) (the gradient of h W_hh^T + b_hh), dh_direct = dh' z (the part of
    h_prev's gradient that bypasses W_hh)."""
    cdef Py_ssize_t b, j, n = h_prev.shape[0], hs = h_prev.shape[1]
    cdef double r, z, nn, dht, dn, dz, dr
    if n == 0 or hs == 0:
        return
    if floating is float:
        with nogil:
            mg_gru_cell_vjp_f32(&acts[0, 0], &ghn[0, 0], &h_prev[0, 0], &dy[0, 0], &dh[0, 0],
                                &dgx[0, 0], &dgh[0, 0], &dh_direct[0, 0], n, hs)
        return
    with nogil:
        for b in range(n):
            for j in range(hs):
                r = acts[b, j]
                z = acts[b, hs + j]
                nn = acts[b, 2 * hs + j]
                dht = dy[b, j] + dh[b, j]
                dn = dht * (1 - z) * (1 - nn * nn)
                dz = dht * (h_prev[b, j] - nn) * z * (1 - z)
                dr = dn * ghn[b, j] * r * (1 - r)
                dgx[b, j] = dr
                dgx[b, hs + j] = dz
                dgx[b, 2 * hs + j] = dn
                dgh[b, j] = dr
                dgh[b, hs + j] = dz
                dgh[b, 2 * hs + j] = dn * r
                dh_direct[b, j] = dht * z


# ---- batch normalisation in training (cpu.batch_norm): x as (N, C, S), a channel's values are
# the N rows of S; statistics accumulated in double ------------------------------------------------

# The per-plane sums in C: an OpenMP simd reduction lets the compiler keep several partial sums
# in a vector (a plain loop adds one element after the other, each add waiting for the last: 3x
# slower, measured). Accumulated in double.
cdef extern from *:
    """
    #define MG_BN_SUMS(T)                                                                   \
    static double mg_sum_##T(const T *x, Py_ssize_t n) {                                    \
        double a = 0;                                                                       \
        _Pragma("omp simd reduction(+:a)")                                                  \
        for (Py_ssize_t i = 0; i < n; i++) a += x[i];                                       \
        return a;                                                                           \
    }                                                                                       \
    static double mg_sumsq_##T(const T *x, Py_ssize_t n, double m) {                        \
        double a = 0;                                                                       \
        _Pragma("omp simd reduction(+:a)")                                                  \
        for (Py_ssize_t i = 0; i < n; i++) { double d = x[i] - m; a += d * d; }             \
        return a;                                                                           \
    }                                                                                       \
    static void mg_sum_gx_##T(const T *g, const T *x, Py_ssize_t n, double m, double *sg,   \
                              double *sgx) {                                                \
        double a = 0, b = 0;                                                                \
        _Pragma("omp simd reduction(+:a,b)")                                                \
        for (Py_ssize_t i = 0; i < n; i++) { a += g[i]; b += g[i] * (x[i] - m); }           \
        *sg += a; *sgx += b;                                                                \
    }
    MG_BN_SUMS(float)
    MG_BN_SUMS(double)
    """
    double mg_sum_float(const float *x, Py_ssize_t n) noexcept nogil
    double mg_sum_double(const double *x, Py_ssize_t n) noexcept nogil
    double mg_sumsq_float(const float *x, Py_ssize_t n, double m) noexcept nogil
    double mg_sumsq_double(const double *x, Py_ssize_t n, double m) noexcept nogil
    void mg_sum_gx_float(const float *g, const float *x, Py_ssize_t n, double m, double *sg,
                         double *sgx) noexcept nogil
    void mg_sum_gx_double(const double *g, const double *x, Py_ssize_t n, double m, double *sg,
                          double *sgx) noexcept nogil


def bn_stats(const floating[:, :, ::1] x, floating[::1] mean, floating[::1] var):
    """Per channel c: mean and the biased variance of x[:, c, :] (two passes: the variance
    from the centred values, no cancellation)."""
    cdef Py_ssize_t n = x.shape[0], nc = x.shape[1], s = x.shape[2], i, c
    cdef double acc, m, cnt = <double>(n * s)
    if s == 0:
        mean[:] = float("nan")
        var[:] = float("nan")
        return
    with nogil:
        for c in range(nc):
            acc = 0
            for i in range(n):
                acc = acc + (mg_sum_float(&x[i, c, 0], s) if floating is float
                             else mg_sum_double(&x[i, c, 0], s))
            m = acc / cnt
            acc = 0
            for i in range(n):
                acc = acc + (mg_sumsq_float(&x[i, c, 0], s, m) if floating is float
                             else mg_sumsq_double(&x[i, c, 0], s, m))
            mean[c] = <floating>m
            var[c] = <floating>(acc / cnt)


def bn_apply(const floating[:, :, ::1] x, const floating[::1] mean, const floating[::1] scale,
             const floating[::1] shift, floating[:, :, ::1] y):
    """y = (x - mean) scale + shift, per channel (scale = weight / sqrt(var + eps))."""
    cdef Py_ssize_t n = x.shape[0], nc = x.shape[1], s = x.shape[2], i, c, k
    cdef floating m, a, b
    with nogil:
        for i in range(n):
            for c in range(nc):
                m = mean[c]
                a = scale[c]
                b = shift[c]
                for k in range(s):
                    y[i, c, k] = (x[i, c, k] - m) * a + b


def bn_vjp_sums(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                const floating[::1] mean, const floating[::1] invstd, floating[::1] sum_g,
                floating[::1] sum_gx):
    """Per channel: sum g and sum g xhat, xhat = (x - mean) invstd (recomputed, not stored)."""
    cdef Py_ssize_t n = g.shape[0], nc = g.shape[1], s = g.shape[2], i, c
    cdef double a, b
    if s == 0:
        sum_g[:] = 0
        sum_gx[:] = 0
        return
    with nogil:
        for c in range(nc):
            a = 0
            b = 0
            for i in range(n):
                if floating is float:
                    mg_sum_gx_float(&g[i, c, 0], &x[i, c, 0], s, mean[c], &a, &b)
                else:
                    mg_sum_gx_double(&g[i, c, 0], &x[i, c, 0], s, mean[c], &a, &b)
            sum_g[c] = <floating>a
            sum_gx[c] = <floating>(b * invstd[c])


def bn_vjp(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
           const floating[::1] mean, const floating[::1] invstd, const floating[::1] k_,
           const floating[::1] mg, const floating[::1] mgx, floating[:, :, ::1] dx):
    """dx = k (g - mg - xhat mgx) per channel: k = weight invstd, mg = sum g / n,
    mgx = sum g xhat / n, xhat = (x - mean) invstd."""
    cdef Py_ssize_t n = g.shape[0], nc = g.shape[1], s = g.shape[2], i, c, k
    cdef floating m, a, b, q, r
    with nogil:
        for i in range(n):
            for c in range(nc):
                m = mean[c]
                a = k_[c]
                b = mg[c]
                q = invstd[c] * mgx[c]
                for k in range(s):
                    dx[i, c, k] = a * (g[i, c, k] - b - (x[i, c, k] - m) * q)
