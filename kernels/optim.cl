/* Optimizer steps, in place, one work-item per parameter element (get_global_id(0) = flat
 * index into the contiguous parameter, gradient and state buffers, all of n elements).
 *
 * Each follows PyTorch's update rule (torch.optim, default flags): weight decay is L2, added to
 * the gradient; the gradient buffer itself is never modified. Hyper-parameters arrive as `real`
 * so a float32 model does its arithmetic in float32 like PyTorch does.
 *
 * Names: the kernel of the library's op X is X_kernel, in every file (exp, log, pow, max, ...
 * are OpenCL C built-in functions, and a kernel named like one is silently dropped by PoCL).
 *
 * Precision: `real` (real.h) is float, or double with -DREAL_IS_DOUBLE.
 */
#include "real.h"

/* buf = momentum * buf + g;  p -= lr * (nesterov ? g + momentum * buf : buf).
 * With a zero-initialised buf the first step gives buf = g, PyTorch's initialisation. `buf` may
 * be NULL when momentum == 0. */
__kernel void sgd_step_kernel(__global real *p, __global const real *grad, __global real *buf,
                              const int n, const real lr, const real momentum, const int nesterov,
                              const real weight_decay)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    real g = grad[i];
    if (weight_decay != 0) g += weight_decay * p[i];
    if (momentum != 0) {
        const real b = momentum * buf[i] + g;
        buf[i] = b;
        g = nesterov ? g + momentum * b : b;
    }
    p[i] -= lr * g;
}

/* m, v: exponential moving averages of g and g^2; bias-corrected with the 1-based `step`
 * through the precomputed bias_correction1 = 1 - beta1^step and sqrt(1 - beta2^step). */
__kernel void adam_step_kernel(__global real *p, __global const real *grad, __global real *m,
                               __global real *v, const int n, const real lr, const real beta1,
                               const real beta2, const real eps, const real weight_decay,
                               const real bias_correction1, const real bias_correction2_sqrt)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    real g = grad[i];
    if (weight_decay != 0) g += weight_decay * p[i];
    const real mi = beta1 * m[i] + (1 - beta1) * g;
    const real vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const real denom = sqrt(vi) / bias_correction2_sqrt + eps;
    p[i] -= (lr / bias_correction1) * mi / denom;
}

/* s += g^2;  p -= lr * g / (sqrt(s) + eps) */
__kernel void adagrad_step_kernel(__global real *p, __global const real *grad, __global real *s,
                                  const int n, const real lr, const real eps,
                                  const real weight_decay)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    real g = grad[i];
    if (weight_decay != 0) g += weight_decay * p[i];
    const real si = s[i] + g * g;
    s[i] = si;
    p[i] -= lr * g / (sqrt(si) + eps);
}

/* s = alpha * s + (1 - alpha) * g^2;  p -= lr * g / (sqrt(s) + eps) */
__kernel void rmsprop_step_kernel(__global real *p, __global const real *grad, __global real *s,
                                  const int n, const real lr, const real alpha, const real eps,
                                  const real weight_decay)
{
    const int i = get_global_id(0);
    if (i >= n) return;
    real g = grad[i];
    if (weight_decay != 0) g += weight_decay * p[i];
    const real si = alpha * s[i] + (1 - alpha) * g * g;
    s[i] = si;
    p[i] -= lr * g / (sqrt(si) + eps);
}
