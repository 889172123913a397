package dev.lumen.nn;

import dev.lumen.ops.Regularization;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/** Zeroes each element with probability p in training and scales the rest by 1 / (1 - p); identity in eval. */
public class Dropout extends Module implements Layer {
    private final double p;
    private final Generator gen;

    public Dropout(double p) { this(p, Generator.global()); }

    public Dropout(double p, Generator gen) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("Dropout: p must be in [0, 1], got " + p);
        this.p = p;
        this.gen = gen;
    }

    public double p() { return p; }

    @Override
    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0) return x;
        return Regularization.dropout(x, p, true, gen);
    }

    @Override
    public String toString() { return "Dropout(p=" + p + ")"; }
}
