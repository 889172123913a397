package dev.lumen.backend;

import dev.lumen.memory.Storage;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.function.LongFunction;

/**
 * The storage-level primitives a device provides. Ops (dev.lumen.ops) are written once
 * above it, with their gradient rules; a backend only moves and computes bytes. Kernels are
 * grouped by family so that each family is one small interface. Every kernel writes into an
 * output tensor the op allocated, of the dtype and shape the op chose.
 */
public interface Backend {
    Device.Kind kind();

    /** Fresh uninitialized storage of at least bytes. */
    Storage allocate(long bytes, Device device);

    /** dst = src, element-wise over equal shapes, any strides, converting the dtype. */
    void copy(Tensor src, Tensor dst);

    /** dst[...] = value. */
    void fill(Tensor dst, double value);

    /** dst = uniform [lo, hi) from the generator. */
    void randomUniform(Tensor dst, Generator gen, double lo, double hi);

    /** dst = normal(mean, std) from the generator. */
    void randomNormal(Tensor dst, Generator gen, double mean, double std);

    /** dst = normal(mean, std) truncated to [lo, hi], by inverting the normal CDF (as timm's trunc_normal_). */
    void randomTruncatedNormal(Tensor dst, Generator gen, double mean, double std, double lo, double hi);

    /** Copies between this device and the host: dst and src have equal shapes, one of them on the CPU. */
    void transfer(Tensor src, Tensor dst);

    /**
     * A new tensor on device holding host's values, for input batches: ops may use it at once,
     * and the copy overlaps with work already queued where the device can (CUDA stages it through
     * pinned memory on a second stream). The result belongs to no scope; the caller closes it.
     */
    default Tensor upload(Tensor host, Device device) {
        Tensor t = dev.lumen.memory.Scope.detachFromScopes(Tensor.empty(host.dtype(), device, host.shape()));
        transfer(host.contiguous(), t);
        return t;
    }

    /**
     * Requires every value of the integer tensor indices to lie in [0, size); otherwise an
     * IllegalArgumentException whose message is outOfRange of the first bad value in logical
     * order (the caller's message names the op, the value and the size). This default checks the
     * values on the host at once. A device backend may instead queue the check and throw at its
     * next host read (a copy to the host, a synchronize), as CUDA devices report errors
     * asynchronously: the message then names the op that failed, and the values of tensors
     * computed after it up to that read are unspecified. Kernels that take checked indices stay
     * inside their tensors even when the check fails.
     */
    default void checkIndices(Tensor indices, long size, LongFunction<String> outOfRange) {
        for (long v : indices.toLongs()) {
            if (v < 0 || v >= size) throw new IllegalArgumentException(outOfRange.apply(v));
        }
    }

    ElementwiseKernels elementwise();

    ReductionKernels reductions();

    LinalgKernels linalg();

    ConvKernels conv();

    PoolKernels pool();

    NormKernels norms();

    IndexKernels indexing();

    ResizeKernels resize();

    OptimizerKernels optimizer();

    OutlookKernels outlook();

    SelectiveScanKernels selectiveScan();

    AdditiveAttentionKernels additiveAttention();

    /** Self-attention's core; by default composed from this backend's matmul and softmax kernels. */
    default AttentionKernels attention() { return AttentionKernels.COMPOSED; }
}
