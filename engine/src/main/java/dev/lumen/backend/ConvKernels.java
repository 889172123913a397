package dev.lumen.backend;

/** 2-D convolution (stride, padding, dilation, groups) forward and backward, and im2col/col2im. */
public interface ConvKernels {
}
