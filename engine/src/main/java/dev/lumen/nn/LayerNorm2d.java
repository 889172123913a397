package dev.lumen.nn;

import dev.lumen.ops.Normalization;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Layer normalization over the channels of [N, C, H, W] at each position, as timm's
 * LayerNorm2d (and ConvNeXt's channels_first LayerNorm); timm's default eps is 1e-6.
 */
public class LayerNorm2d extends Module implements Layer {
    private final int channels;
    private final double eps;

    public LayerNorm2d(int channels) { this(channels, 1e-6); }

    public LayerNorm2d(int channels, double eps) {
        if (channels <= 0) throw new IllegalArgumentException("LayerNorm2d: channels must be positive, got " + channels);
        this.channels = channels;
        this.eps = eps;
        registerParameter("weight", Tensor.ones(channels));
        registerParameter("bias", Tensor.zeros(channels));
    }

    public Tensor weight() { return param("weight"); }

    public Tensor bias() { return param("bias"); }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() != 4 || x.shape(1) != channels) {
            throw new IllegalArgumentException("LayerNorm2d(" + channels + "): expects input [N, " + channels + ", H, W], got "
                    + Arrays.toString(x.shape()));
        }
        return Normalization.layerNormChannelsFirst(x, weight(), bias(), eps);
    }

    @Override
    public String toString() { return "LayerNorm2d(" + channels + ", eps=" + eps + ")"; }
}
