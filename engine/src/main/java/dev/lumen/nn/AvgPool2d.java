package dev.lumen.nn;

import dev.lumen.ops.Pooling;
import dev.lumen.tensor.Tensor;

/** 2-D average pooling, as torch's nn.AvgPool2d (stride defaults to the kernel size, count_include_pad to true). */
public class AvgPool2d extends Module implements Layer {
    private final int[] kernel, stride, padding;
    private final boolean ceilMode, countIncludePad;

    public AvgPool2d(int kernel) { this(kernel, kernel, 0, false, true); }

    public AvgPool2d(int kernel, int stride, int padding) { this(kernel, stride, padding, false, true); }

    public AvgPool2d(int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
        this(new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding}, ceilMode, countIncludePad);
    }

    public AvgPool2d(int[] kernel, int[] stride, int[] padding, boolean ceilMode, boolean countIncludePad) {
        this.kernel = kernel.clone();
        this.stride = stride.clone();
        this.padding = padding.clone();
        this.ceilMode = ceilMode;
        this.countIncludePad = countIncludePad;
    }

    @Override
    public Tensor forward(Tensor x) { return Pooling.avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad); }
}
