package dev.lumen.models.vmamba;

import dev.lumen.nn.Layer;
import dev.lumen.nn.LayerNorm2d;
import dev.lumen.nn.Module;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * The v0 downsample (Swin's patch merging) on a channel-first map: odd sides are zero-padded
 * at the end, the four 2x2 phases (h, w) = (even, even), (odd, even), (even, odd), (odd, odd)
 * are stacked on the channels (4C), then LayerNorm(4C) and a bias-free Linear to out
 * channels. Names as the official PatchMerging2D: reduction, norm.
 */
final class PatchMerging2D extends Module implements Layer {
    private final Linear2d reduction;
    private final LayerNorm2d norm;

    PatchMerging2D(int dim, int outDim, Generator gen) {
        reduction = registerModule("reduction", VMamba.linear(4 * dim, outDim, false, gen));
        norm = registerModule("norm", new LayerNorm2d(4 * dim, 1e-5));
    }

    @Override
    public Tensor forward(Tensor x) {
        int h = x.shape(2), w = x.shape(3);
        if (h % 2 != 0 || w % 2 != 0) x = Shaping.pad(x, new int[] {0, w % 2, 0, h % 2}, 0);
        int hp = x.shape(2), wp = x.shape(3);
        Tensor x0 = x.slice(2, 0, hp, 2).slice(3, 0, wp, 2), x1 = x.slice(2, 1, hp, 2).slice(3, 0, wp, 2);
        Tensor x2 = x.slice(2, 0, hp, 2).slice(3, 1, wp, 2), x3 = x.slice(2, 1, hp, 2).slice(3, 1, wp, 2);
        return reduction.forward(norm.forward(Shaping.cat(List.of(x0, x1, x2, x3), 1)));
    }
}
