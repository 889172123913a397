package dev.lumen.models.replknet;

import dev.lumen.nn.Chain;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.ModuleList;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** One resolution: numBlocks pairs of RepLKBlock and ConvFFN, as "blocks.0", "blocks.1", ... */
final class RepLKNetStage extends Module implements Layer {
    private final ModuleList<Module> blocks;

    /** dropPaths: one rate per pair (the block and its FFN share it, as in the official code). */
    RepLKNetStage(int channels, double[] dropPaths, int kernel, int smallKernel, double dwRatio, double ffnRatio, boolean merged,
                  Generator gen) {
        blocks = registerModule("blocks", new ModuleList<>());
        for (double dp : dropPaths) {
            blocks.add(new RepLKBlock(channels, (int) (channels * dwRatio), kernel, smallKernel, dp, merged, gen));
            blocks.add(new ConvFFN(channels, (int) (channels * ffnRatio), dp, gen));
        }
    }

    @Override
    public Tensor forward(Tensor x) {
        List<Layer> steps = new ArrayList<>();
        for (Module b : blocks) steps.add((Layer) b);
        return Chain.forward(x, steps);
    }
}
