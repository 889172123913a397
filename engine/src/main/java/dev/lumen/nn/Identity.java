package dev.lumen.nn;

import dev.lumen.tensor.Tensor;

/** Returns its input: a placeholder where a layer is optional (no head, no norm). */
public class Identity extends Module implements Layer {
    @Override
    public Tensor forward(Tensor x) { return x; }
}
