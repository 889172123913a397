package dev.lumen.models.volo;

import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** fc1, GELU, fc2 over the last dim (VOLO's blocks run it without dropout). */
final class Mlp extends Module implements Layer {
    private final Linear fc1, fc2;

    Mlp(int dim, int hidden, Generator gen) {
        fc1 = registerModule("fc1", Layers.linear(dim, hidden, true, gen));
        fc2 = registerModule("fc2", Layers.linear(hidden, dim, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) { return fc2.forward(Activations.gelu(fc1.forward(x))); }
}
