/* Strided addressing shared by the elementwise kernels (elementwise.cl, rules.cl).
 *
 * For an output of shape (d0, ..., d_{ndim-1}), input element (c0, ..., c_{ndim-1}) lives at
 * sum_k c_k * stride_k, and a stretched (broadcast) dimension has stride 0. Shapes and strides
 * travel as int8 kernel arguments (at most 8 dims); the host first merges dimensions that are
 * contiguous for every operand, so the common case is ndim == 1.
 */
/* Flat output index -> element offset of one operand. Dimension 0 needs no division: whatever
 * is left of the index after peeling the inner dimensions is its coordinate. */
inline int offset_of(int i, const int ndim, const int8 shape8, const int8 stride8)
{
    int shape[8], stride[8];
    vstore8(shape8, 0, shape);
    vstore8(stride8, 0, stride);
    int off = 0;
    for (int d = ndim - 1; d > 0; --d) {
        const int c = i % shape[d];
        i /= shape[d];
        off += c * stride[d];
    }
    return off + i * stride[0];
}

