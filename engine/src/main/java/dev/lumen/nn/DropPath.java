package dev.lumen.nn;

import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * Stochastic depth, as timm's DropPath: in training, drops a residual branch for a whole
 * sample with probability p and (scaleByKeep) scales kept samples by 1 / (1 - p); identity in eval.
 */
public class DropPath extends Module implements Layer {
    private final double p;
    private final boolean scaleByKeep;
    private final Generator gen;

    public DropPath(double p) { this(p, true, Generator.global()); }

    public DropPath(double p, boolean scaleByKeep, Generator gen) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("DropPath: p must be in [0, 1), got " + p);
        this.p = p;
        this.scaleByKeep = scaleByKeep;
        this.gen = gen;
    }

    public double p() { return p; }

    @Override
    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) return x;
        return Regularization.dropPath(x, p, true, gen, scaleByKeep);
    }

    @Override
    public String toString() { return "DropPath(p=" + p + ")"; }
}
