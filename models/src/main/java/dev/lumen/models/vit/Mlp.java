package dev.lumen.models.vit;

import dev.lumen.nn.Dropout;
import dev.lumen.nn.GELU;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Tensor;

/** The transformer block's feed-forward net, as timm's layers.Mlp: fc1, exact GELU, dropout, fc2, dropout. */
final class Mlp extends Module implements Layer {
    private final Linear fc1, fc2;
    private final GELU act;
    private final Dropout drop1, drop2;

    Mlp(int dim, int hidden, double drop) {
        fc1 = registerModule("fc1", new Linear(dim, hidden));
        act = registerModule("act", new GELU());
        drop1 = registerModule("drop1", new Dropout(drop));
        fc2 = registerModule("fc2", new Linear(hidden, dim));
        drop2 = registerModule("drop2", new Dropout(drop));
    }

    @Override
    public Tensor forward(Tensor x) { return drop2.forward(fc2.forward(drop1.forward(act.forward(fc1.forward(x))))); }
}
