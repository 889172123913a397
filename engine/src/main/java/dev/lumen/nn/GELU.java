package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** x * Phi(x), as torch's nn.GELU; approximate = true uses the tanh form (approximate='tanh'). */
public class GELU extends Module implements Layer {
    private final boolean approximate;

    public GELU() { this(false); }

    public GELU(boolean approximate) { this.approximate = approximate; }

    public boolean approximate() { return approximate; }

    @Override
    public Tensor forward(Tensor x) { return approximate ? Activations.geluTanh(x) : Activations.gelu(x); }

    @Override
    public String toString() { return approximate ? "GELU(approximate=tanh)" : "GELU"; }
}
