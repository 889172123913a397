package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** max(x, 0), as torch's nn.ReLU; inplace writes over the input where autograd allows it (its input is then consumed). */
public class ReLU extends Module implements Layer {
    private final boolean inplace;

    public ReLU() { this(false); }

    public ReLU(boolean inplace) { this.inplace = inplace; }

    public boolean inplace() { return inplace; }

    @Override
    public Tensor forward(Tensor x) { return inplace ? Activations.reluInplace(x) : Activations.relu(x); }

    @Override
    public String toString() { return inplace ? "ReLU(inplace=True)" : "ReLU()"; }
}
