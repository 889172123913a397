package dev.lumen.models.casvit;

import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** The channel MLP on feature maps: fc1 (1x1 conv to hidden), GELU, fc2 (1x1 conv back), dropout after each. */
final class Mlp extends Module implements Layer {
    private final Conv2d fc1, fc2;
    private final double drop;
    private final Generator gen;

    Mlp(int dim, int hidden, double drop, Generator gen) {
        this.drop = drop;
        this.gen = gen;
        fc1 = registerModule("fc1", Layers.conv(dim, hidden, 1, 1, 0, 1, true, gen));
        fc2 = registerModule("fc2", Layers.conv(hidden, dim, 1, 1, 0, 1, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = Layers.dropout(Activations.gelu(fc1.forward(x)), drop, isTraining(), gen);
        return Layers.dropout(fc2.forward(y), drop, isTraining(), gen);
    }
}
