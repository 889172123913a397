package dev.lumen.nn;

import dev.lumen.ops.Pooling;
import dev.lumen.tensor.Tensor;

/** 2-D max pooling, as torch's nn.MaxPool2d (stride defaults to the kernel size). */
public class MaxPool2d extends Module implements Layer {
    private final int[] kernel, stride, padding;
    private final boolean ceilMode;

    public MaxPool2d(int kernel) { this(kernel, kernel, 0, false); }

    public MaxPool2d(int kernel, int stride, int padding) { this(kernel, stride, padding, false); }

    public MaxPool2d(int kernel, int stride, int padding, boolean ceilMode) {
        this(new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding}, ceilMode);
    }

    public MaxPool2d(int[] kernel, int[] stride, int[] padding, boolean ceilMode) {
        this.kernel = kernel.clone();
        this.stride = stride.clone();
        this.padding = padding.clone();
        this.ceilMode = ceilMode;
    }

    @Override
    public Tensor forward(Tensor x) { return Pooling.maxPool2d(x, kernel, stride, padding, ceilMode); }
}
