/* Winograd F(2x2, 3x3) tile transforms of the CPU engine (used by _cpu.pyx; see
 * "Fast Algorithms for Convolutional Neural Networks", Lavin and Gray, 2015).
 *
 * A 2x2 output tile of a 3x3 convolution is A^T [U . V] A, with V = B^T d B the transform of
 * the 4x4 input tile d (overlapping its neighbours by 2) and U = G w G^T the filter's: 16
 * products per input channel where direct convolution has 36. Summed over channels, the
 * products are 16 GEMMs (done by BLAS); these are the transforms before and after them.
 *
 *   B^T = [1  0 -1  0]      A^T = [1  1  1  0]
 *         [0  1  1  0]            [0  1 -1 -1]
 *         [0 -1  1  0]
 *         [0  1  0 -1]
 *
 * Written in C rather than Cython for `restrict`: every inner loop runs along a row of tiles
 * with one pointer per stream, which the compiler vectorises across tiles only when it knows
 * the 16 streams do not overlap. Both precisions from one template (winograd_t.h).
 */
#ifndef MINIGRAD_WINOGRAD_H
#define MINIGRAD_WINOGRAD_H

#include <stddef.h>
#include <string.h>

#define MG_T float
#define MG_F(name) name##_f
#include "winograd_t.h"
#undef MG_T
#undef MG_F

#define MG_T double
#define MG_F(name) name##_d
#include "winograd_t.h"
#undef MG_T
#undef MG_F

#endif
