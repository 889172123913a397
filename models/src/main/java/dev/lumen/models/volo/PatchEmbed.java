package dev.lumen.models.volo;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * VOLO's convolutional stem: conv.0..8 = (7x7 conv at the stem stride, BN, ReLU) and twice
 * (3x3 conv, BN, ReLU), all convs without bias, then proj, a conv with kernel = stride =
 * patchSize / 2 to the first embedding width. The published stem stride is 2, so an image is
 * patchSize (8) times smaller after it. firstStride overrides only the stride of conv.0 (the
 * small-input stem), which keeps every weight's shape.
 */
final class PatchEmbed extends Module implements Layer {
    static final int STEM_STRIDE = 2;

    private final Sequential conv;
    private final Conv2d proj;
    private final int firstStride, projKernel;

    PatchEmbed(int inChannels, int hidden, int embedDim, int patchSize, int firstStride, Generator gen) {
        if (patchSize != 4 && patchSize != 8 && patchSize != 16) {
            throw new IllegalArgumentException("PatchEmbed: patch size must be 4, 8 or 16 (as the official code), got " + patchSize);
        }
        this.firstStride = firstStride;
        this.projKernel = patchSize / STEM_STRIDE;
        conv = registerModule("conv", new Sequential(
                conv(inChannels, hidden, 7, firstStride, 3, gen), new BatchNorm2d(hidden), new ReLU(true),
                conv(hidden, hidden, 3, 1, 1, gen), new BatchNorm2d(hidden), new ReLU(true),
                conv(hidden, hidden, 3, 1, 1, gen), new BatchNorm2d(hidden), new ReLU(true)));
        proj = registerModule("proj", new Conv2d(hidden, embedDim, new int[] {projKernel, projKernel}, new int[] {projKernel, projKernel},
                new int[] {0, 0}, new int[] {1, 1}, 1, true, gen));
    }

    private static Conv2d conv(int in, int out, int k, int s, int p, Generator gen) {
        return new Conv2d(in, out, new int[] {k, k}, new int[] {s, s}, new int[] {p, p}, new int[] {1, 1}, 1, false, gen);
    }

    /** Side length of the output map for an input side n. */
    int outSize(int n) {
        int afterStem = (n - 1) / firstStride + 1;
        return afterStem / projKernel;
    }

    @Override
    public Tensor forward(Tensor x) { return proj.forward(conv.forward(x)); }
}
