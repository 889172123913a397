package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** tanh(x), as torch's nn.Tanh. */
public class Tanh extends Module implements Layer {
    @Override
    public Tensor forward(Tensor x) { return Activations.tanh(x); }
}
