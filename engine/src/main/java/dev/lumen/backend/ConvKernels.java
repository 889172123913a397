package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * 2-D convolution (stride, padding, dilation, groups) forward and backward, and
 * im2col/col2im (nn.Unfold / F.fold). Tensors are NCHW; x, weight and gradOut must be
 * contiguous, and every output is a contiguous tensor that the kernel overwrites.
 */
public interface ConvKernels {
    /** A 2-D sliding window: kernel size, stride, zero padding and dilation per spatial dim. */
    record Window(int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        public Window {
            if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1) {
                throw new IllegalArgumentException("window: kernel " + kh + "x" + kw + ", stride " + sh + "x" + sw + ", padding " + ph + "x" + pw
                        + ", dilation " + dh + "x" + dw + " (kernel, stride and dilation must be >= 1, padding >= 0)");
            }
        }

        /** Output rows for h input rows: floor((h + 2p - d(k-1) - 1) / s) + 1. */
        public int outH(int h) { return Math.floorDiv(h + 2 * ph - dh * (kh - 1) - 1, sh) + 1; }

        public int outW(int w) { return Math.floorDiv(w + 2 * pw - dw * (kw - 1) - 1, sw) + 1; }

        public int area() { return kh * kw; }
    }

    /** cols[n] = im2col(x[n]): x [N, C, H, W] -> cols [N, C*kh*kw, OH*OW], rows ordered (c, i, j) as nn.Unfold. */
    void im2col(Tensor x, Window w, Tensor cols);

    /** x[n] = col2im(cols[n]), overlapping windows summed (F.fold): cols [N, C*kh*kw, OH*OW] -> x [N, C, H, W]. */
    void col2im(Tensor cols, Window w, Tensor x);

    /** out = conv2d(x, weight) + bias: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or null, out [N, O, OH, OW]. */
    void conv2d(Tensor x, Tensor weight, Tensor bias, Window w, int groups, Tensor out);

    /**
     * Whether {@link #conv2dInference} runs here for x and weight (dtype, device, library):
     * false where this backend has no such kernel, and the caller then runs conv2d and its
     * epilogue as separate steps.
     */
    default boolean hasConv2dInference(Tensor x, Tensor weight, int groups) { return false; }

    /**
     * Whether {@link #conv2dInference} also reads x and writes out channels-last
     * ({@link dev.lumen.tensor.ChannelsLast}), where its kernel computes in that layout: a chain
     * of such layers then passes activations on without reordering them. Otherwise x and out
     * are contiguous NCHW.
     */
    default boolean channelsLastInference() { return false; }

    /**
     * out = conv2d(x, weight) + bias, then max(., 0) when relu, as one kernel without a backward
     * (inference; bias [O] required). Only where {@link #hasConv2dInference} said so. x and out
     * are contiguous, or channels-last where {@link #channelsLastInference} says so.
     */
    default void conv2dInference(Tensor x, Tensor weight, Tensor bias, Window w, int groups, boolean relu, Tensor out) {
        throw new UnsupportedOperationException("conv2dInference: this backend has no fused inference convolution (ask hasConv2dInference first)");
    }

    /** gradIn [N, C, H, W] = d(conv2d)/dx applied to gradOut [N, O, OH, OW]. */
    void conv2dBackwardInput(Tensor gradOut, Tensor weight, Window w, int groups, Tensor gradIn);

    /** gradWeight [O, C/groups, kh, kw] = d(conv2d)/dweight applied to gradOut. */
    void conv2dBackwardWeight(Tensor gradOut, Tensor x, Window w, int groups, Tensor gradWeight);

    /**
     * Both gradients of one convolution from one gradOut: gradIn as {@link #conv2dBackwardInput},
     * gradWeight as {@link #conv2dBackwardWeight}; either may be null (not wanted). This default
     * makes the two calls; a backend that converts gradOut for each (oneDNN's blocked layout on
     * the CPU) overrides it to convert gradOut once.
     */
    default void conv2dBackward(Tensor gradOut, Tensor x, Tensor weight, Window w, int groups, Tensor gradIn, Tensor gradWeight) {
        if (gradIn != null) conv2dBackwardInput(gradOut, weight, w, groups, gradIn);
        if (gradWeight != null) conv2dBackwardWeight(gradOut, x, w, groups, gradWeight);
    }

    /** gradBias [O] = gradOut summed over N, OH, OW. */
    void conv2dBackwardBias(Tensor gradOut, Tensor gradBias);
}
