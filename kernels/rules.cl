/* The rules of the rule book as kernels. Nothing in this file restates a derivative: the host
 * (minigrad/backends/opencl/rules.py) evaluates each rule's forward and local derivatives with a
 * symbolic namespace (minigrad/symbolic.py), prints them as OpenCL C and appends one kernel per
 * (rule, forward or vjp of input i, operand kinds) to this file's helpers, then builds that.
 *
 * A generated kernel computes out[i] for i < n over a C-contiguous output:
 *     forward:        out[i] = f(x0[..], x1[..])
 *     vjp of input k: out[i] = g[i] * local_k(x0[..], x1[..], y[i])
 * where each operand is either a device array (read at i, or through strides when it is
 * broadcast: index.h) or a scalar kernel argument (x + 1.0 needs no buffer for the 1.0).
 *
 * The helpers give the rules numpy's and PyTorch's semantics where OpenCL C's built-ins differ.
 */
#include "real.h"
#include "index.h"

/* No fused multiply-adds: a rule evaluates as numpy evaluates it (remainder's a - floor(a/b) b
 * of a = 1e4, b = 1e-30 is 0, not the 2e-4 a contracted fma leaves). */
#pragma OPENCL FP_CONTRACT OFF

#ifdef REAL_IS_INT
/* Integer and bool builds (forward kernels only: integers have no gradient): the rules' float
 * functions on integers as numpy computes them, wrapping around on overflow. floor, ceil, rint
 * and trunc are the identity; fabs wraps at the type's minimum as numpy's abs. */
#define fabs(x) ((real)abs(x))
#define floor(x) (x)
#define ceil(x) (x)
#define rint(x) (x)
#define trunc(x) (x)
#define fmod(a, b) mg_fmod(a, b)
inline real mg_maximum(const real a, const real b) { return a > b ? a : b; }
inline real mg_minimum(const real a, const real b) { return a < b ? a : b; }
inline real mg_sign(const real x) { return x > 0 ? (real)1 : (x < 0 ? (real)-1 : (real)0); }
/* C's %: the sign of a; numpy gives 0 for a divisor of 0, and x % -1 must not trap. */
inline real mg_fmod(const real a, const real b) { return (b == 0 || b == (real)-1) ? 0 : a % b; }
/* Powers by squaring (the host refuses negative exponents, as numpy does). */
inline real mg_pow(real a, real b)
{
    real r = 1;
    while (b > 0) {
        if (b & 1) r = (real)(r * a);
        a = (real)(a * a);
        b >>= 1;
    }
    return r;
}
#ifdef REAL_IS_BOOL
#define MG_STORE(v) ((real)((v) != 0))   /* bool + bool is or: stays 0/1 */
#endif
#else
/* np.maximum / np.minimum propagate NaN; fmax / fmin would drop it. */
inline real mg_maximum(const real a, const real b) { return (a > b || isnan(a)) ? a : b; }
inline real mg_minimum(const real a, const real b) { return (a < b || isnan(a)) ? a : b; }

/* numpy's sign keeps NaN as NaN (OpenCL's sign() too, but returns -0 for -0). */
inline real mg_sign(const real x) { return x > 0 ? (real)1 : (x < 0 ? (real)-1 : x); }

/* pow with numpy's and PyTorch's results for a negative base: an integral exponent gives the
 * signed power (OpenCL's pow may return NaN there on some devices), any other exponent NaN
 * (C's pow gives +inf for pow(-inf, 0.5)). */
inline real mg_pow(const real a, const real b)
{
    if (a < 0) {
        if (b != floor(b)) return NAN;
        const real r = pow(-a, b);
        return fmod(b, (real)2) == 0 ? r : -r;
    }
    return pow(a, b);
}
#endif

#ifndef MG_STORE
#define MG_STORE(v) ((real)(v))
#endif
