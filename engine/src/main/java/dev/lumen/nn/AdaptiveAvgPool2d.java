package dev.lumen.nn;

import dev.lumen.ops.Pooling;
import dev.lumen.tensor.Tensor;

/** Average pooling to a fixed output size, as torch's nn.AdaptiveAvgPool2d ((1, 1) is global average pooling). */
public class AdaptiveAvgPool2d extends Module implements Layer {
    private final int outH, outW;

    public AdaptiveAvgPool2d(int size) { this(size, size); }

    public AdaptiveAvgPool2d(int outH, int outW) {
        if (outH <= 0 || outW <= 0) throw new IllegalArgumentException("AdaptiveAvgPool2d: output size must be positive, got " + outH + "x" + outW);
        this.outH = outH;
        this.outW = outW;
    }

    @Override
    public Tensor forward(Tensor x) { return Pooling.adaptiveAvgPool2d(x, outH, outW); }
}
