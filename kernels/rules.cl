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
