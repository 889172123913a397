package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.tensor.Tensor;

/** log(1 + exp(beta * x)) / beta, linear above threshold, as torch's nn.Softplus (defaults beta 1, threshold 20). */
public class Softplus extends Module implements Layer {
    private final double beta, threshold;

    public Softplus() { this(1, 20); }

    public Softplus(double beta, double threshold) {
        this.beta = beta;
        this.threshold = threshold;
    }

    @Override
    public Tensor forward(Tensor x) { return Activations.softplus(x, beta, threshold); }
}
