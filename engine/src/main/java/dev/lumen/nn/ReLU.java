package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** max(x, 0), as torch's nn.ReLU. */
public class ReLU extends Module implements Layer {
    @Override
    public Tensor forward(Tensor x) { return Activations.relu(x); }
}
