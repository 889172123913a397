package dev.lumen.models.casvit;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** The downsampling between two stages: a 3x3 stride-2 conv (proj) then BatchNorm (norm). */
final class Embedding extends Module implements Layer {
    private final Conv2d proj;
    private final BatchNorm2d norm;

    Embedding(int in, int out, Generator gen) {
        proj = registerModule("proj", Layers.conv(in, out, 3, 2, 1, 1, true, gen));
        norm = registerModule("norm", new BatchNorm2d(out));
    }

    @Override
    public Tensor forward(Tensor x) { return norm.forward(proj.forward(x)); }
}
