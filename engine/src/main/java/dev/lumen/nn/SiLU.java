package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** x * sigmoid(x) (swish), as torch's nn.SiLU. */
public class SiLU extends Module implements Layer {
    @Override
    public Tensor forward(Tensor x) { return Activations.silu(x); }
}
