package dev.lumen.models.volo;

import dev.lumen.nn.Init;
import dev.lumen.nn.Linear;
import dev.lumen.tensor.Generator;

/** Linear layers as VOLO's _init_weights leaves them: weights trunc_normal(std 0.02), biases 0. */
final class Layers {
    private Layers() {}

    static Linear linear(int in, int out, boolean bias, Generator gen) {
        return init(new Linear(in, out, bias, gen), gen);
    }

    static Linear init(Linear l, Generator gen) {
        Init.truncNormal(l.weight(), 0.02, gen);
        if (l.bias() != null) Init.zeros(l.bias());
        return l;
    }
}
