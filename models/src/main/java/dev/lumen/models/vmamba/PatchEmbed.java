package dev.lumen.models.vmamba;

import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm2d;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * VMamba's stem, images to a channel-first map at 1/4 resolution (stride = stemStride).
 *
 * <p>v1 (the v0 models): a 4x4 stride-4 patch conv and LayerNorm, named "0" and "2" as in
 * the official nn.Sequential (conv, permute, norm). v2: two 3x3 stride-2 convs (to dim/2,
 * then dim) with LayerNorm + GELU between and LayerNorm after, named "0", "2", "5", "7"
 * (the official sequence's permutes and GELU take the other indices).
 *
 * <p>Smaller strides for small images keep every weight's shape: v2 runs its convs at
 * strides (2, 1) or (1, 1); v1 runs the 4x4 conv at stride 2 (padding 1) or stride 1
 * (zero padding 1 before and 2 after each side, as an even kernel needs).
 */
final class PatchEmbed extends Module implements Layer {
    private final boolean v2;
    private final int stride;
    private final Conv2d conv0, conv5;
    private final LayerNorm2d norm2, norm7;

    PatchEmbed(boolean v2, int inChans, int dim, int stemStride, Generator gen) {
        if (stemStride != 1 && stemStride != 2 && stemStride != 4) {
            throw new IllegalArgumentException("PatchEmbed: stem_stride must be 1, 2 or 4, got " + stemStride);
        }
        this.v2 = v2;
        this.stride = stemStride;
        if (v2) {
            int half = dim / 2;
            conv0 = registerModule("0", conv(inChans, half, 3, stemStride == 1 ? 1 : 2, 1, gen));
            norm2 = registerModule("2", new LayerNorm2d(half, 1e-5));
            conv5 = registerModule("5", conv(half, dim, 3, stemStride == 4 ? 2 : 1, 1, gen));
            norm7 = registerModule("7", new LayerNorm2d(dim, 1e-5));
        } else {
            conv0 = registerModule("0", conv(inChans, dim, 4, stemStride, stemStride == 2 ? 1 : 0, gen));
            norm2 = registerModule("2", new LayerNorm2d(dim, 1e-5));
            conv5 = null;
            norm7 = null;
        }
    }

    private static Conv2d conv(int in, int out, int k, int s, int p, Generator gen) {
        return new Conv2d(in, out, new int[] {k, k}, new int[] {s, s}, new int[] {p, p}, new int[] {1, 1}, 1, true, gen);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (v2) return norm7.forward(conv5.forward(Activations.gelu(norm2.forward(conv0.forward(x)))));
        if (stride == 1) x = Shaping.pad(x, new int[] {1, 2, 1, 2}, 0);
        return norm2.forward(conv0.forward(x));
    }
}
