package dev.lumen.models.volo;

import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** Between VOLO's stages: a patchSize x patchSize conv with the same stride (proj) on channels-last maps. */
final class Downsample extends Module implements Layer {
    private final Conv2d proj;

    Downsample(int in, int out, int patchSize, Generator gen) {
        proj = registerModule("proj", new Conv2d(in, out, new int[] {patchSize, patchSize}, new int[] {patchSize, patchSize},
                new int[] {0, 0}, new int[] {1, 1}, 1, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) { return proj.forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1); }
}
