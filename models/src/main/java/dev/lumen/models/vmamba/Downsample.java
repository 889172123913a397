package dev.lumen.models.vmamba;

import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm2d;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * The v2 models' downsample between stages ("v3" in the official code): a 3x3 stride-2 conv
 * (padding 1) to the next width, then LayerNorm; named "1" and "3" as in the official
 * nn.Sequential (permute, conv, permute, norm).
 */
final class Downsample extends Module implements Layer {
    private final Conv2d conv;
    private final LayerNorm2d norm;

    Downsample(int dim, int outDim, Generator gen) {
        conv = registerModule("1", new Conv2d(dim, outDim, new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 1}, 1, true, gen));
        norm = registerModule("3", new LayerNorm2d(outDim, 1e-5));
    }

    @Override
    public Tensor forward(Tensor x) { return norm.forward(conv.forward(x)); }
}
