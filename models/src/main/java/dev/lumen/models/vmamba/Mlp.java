package dev.lumen.models.vmamba;

import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.ops.Activations;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** The VSS block's channel MLP on a channel-first map: fc1, GELU (erf), fc2, as the official Mlp. */
final class Mlp extends Module implements Layer {
    private final Linear2d fc1, fc2;

    Mlp(int dim, int hidden, Generator gen) {
        fc1 = registerModule("fc1", VMamba.linear(dim, hidden, true, gen));
        fc2 = registerModule("fc2", VMamba.linear(hidden, dim, true, gen));
    }

    @Override
    public Tensor forward(Tensor x) { return fc2.forward(Activations.gelu(fc1.forward(x))); }
}
