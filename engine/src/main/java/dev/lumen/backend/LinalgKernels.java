package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/** Matrix products: batched GEMM with broadcasting batch dims. */
public interface LinalgKernels {
    /**
     * out = a @ b, or out += a @ b when accumulate, for every batch index. a is [..., M, K],
     * b is [..., K, N] and out is [..., M, N], all of one rank (at least 2) and one
     * floating dtype, with equal batch dims; broadcast batch dims have stride 0. Any
     * strides: an operand whose last two dims have unit stride in one of them reaches the
     * GEMM as a (transposed) view, without a copy.
     */
    void matmul(Tensor a, Tensor b, Tensor out, boolean accumulate);
}
