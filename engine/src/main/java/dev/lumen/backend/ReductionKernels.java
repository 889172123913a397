package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Reductions over dims (sum, mean, var, amax/amin, logsumexp), max/min and top-k along a dim
 * with their indices, and softmax. Outputs of reductions over dims keep x's rank with size 1
 * in the reduced dims (the op layer drops them for keepdim = false).
 */
public interface ReductionKernels {
    enum Reduce { SUM, MEAN, AMAX, AMIN, LOGSUMEXP }

    /** out = op(x) over dims (sorted, distinct); amax/amin propagate NaN; logsumexp is shifted by the max. */
    void reduce(Reduce op, Tensor x, int[] dims, Tensor out);

    /** out = sum of x over dims (sorted, distinct). */
    default void sum(Tensor x, int[] dims, Tensor out) { reduce(Reduce.SUM, x, dims, out); }

    /** out = sum((x - mean)^2) / max(N - correction, 0) over dims, two-pass. */
    void variance(Tensor x, int[] dims, double correction, Tensor out);

    /**
     * The max (largest = true) or min of x along dim and its first index (I64), NaN counting
     * as the extreme, as torch.max(dim). values (x's dtype) may be null; both have size 1 at dim.
     */
    void extremeAlongDim(boolean largest, Tensor x, int dim, Tensor values, Tensor indices);

    /** The k largest (or smallest) of x along dim, sorted, with their I64 indices; outputs have size k at dim. */
    void topk(Tensor x, int k, int dim, boolean largest, Tensor values, Tensor indices);

    /** gradIn = 0, then gradIn[..., indices[..., j, ...], ...] += gradValues[..., j, ...] along dim. */
    void selectionBackward(Tensor gradValues, Tensor indices, int dim, Tensor gradIn);

    /** out = softmax(x) along dim, or log_softmax when log. */
    void softmax(Tensor x, int dim, boolean log, Tensor out);

    /** gradIn from out = softmax(x) (or log_softmax when log) and gradOut, along dim. */
    void softmaxBackward(Tensor out, Tensor gradOut, int dim, boolean log, Tensor gradIn);
}
