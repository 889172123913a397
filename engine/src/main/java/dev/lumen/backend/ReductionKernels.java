package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/** Reductions over dims (sum, mean, var, max, min, argmax, top-k, logsumexp) and softmax. */
public interface ReductionKernels {
    /** out = sum of x over dims (sorted, distinct); out has x's rank with size 1 in those dims. */
    void sum(Tensor x, int[] dims, Tensor out);
}
