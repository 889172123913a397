package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Gathers and scatters along a dim: index_select, gather, scatter_add, and index_add (the
 * gradient of index_select). Tensors may have any strides; index tensors are I32 or I64.
 * An index outside [0, size of dim) is an IllegalArgumentException naming the op, the index
 * and the size, raised before anything is written (the in-place adds leave dst untouched). On
 * the CPU the call itself throws; a device backend checks through
 * {@link Backend#checkIndices} and may raise the error at its next host read instead, as CUDA
 * devices report errors asynchronously, with the same message naming the op that failed. The
 * scatters are race-free: each thread owns a disjoint set of output positions.
 */
public interface IndexKernels {
    /** out = x.index_select(dim, index): index 1-D of length out.shape[dim]. */
    void indexSelect(Tensor x, int dim, Tensor index, Tensor out);

    /** dst.index_add_(dim, index, src), in place: dst[.., index[j], ..] += src[.., j, ..]. */
    void indexAdd(Tensor dst, int dim, Tensor index, Tensor src);

    /** out = x.gather(dim, index): out[.., j, ..] = x[.., index[.., j, ..], ..]; out has index's shape. */
    void gather(Tensor x, int dim, Tensor index, Tensor out);

    /** dst.scatter_add_(dim, index, src), in place: dst[.., index[.., j, ..], ..] += src[.., j, ..] over index's shape. */
    void scatterAdd(Tensor dst, int dim, Tensor index, Tensor src);
}
