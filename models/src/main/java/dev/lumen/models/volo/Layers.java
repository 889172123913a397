package dev.lumen.models.volo;

import dev.lumen.nn.Init;
import dev.lumen.nn.Linear;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** Linear layers as VOLO's _init_weights leaves them: weights trunc_normal(std 0.02), biases 0. */
final class Layers {
    private Layers() {}

    /**
     * timm's trunc_normal_(t, std=0.02) as VOLO calls it: its bounds are absolute (+-2), i.e.
     * 100 standard deviations, so it never truncates and is exactly a normal draw (the
     * Box-Muller draws reach at most ~8.6 sigma). Init.normal is ~12x cheaper than the
     * inverse-CDF sampler of Init.truncNormal, which matters at 300M parameters.
     */
    static Tensor truncNormal02(Tensor t, Generator gen) { return Init.normal(t, 0, 0.02, gen); }

    static Linear linear(int in, int out, boolean bias, Generator gen) {
        return init(new Linear(in, out, bias, gen), gen);
    }

    static Linear init(Linear l, Generator gen) {
        truncNormal02(l.weight(), gen);
        if (l.bias() != null) Init.zeros(l.bias());
        return l;
    }
}
