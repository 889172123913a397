package dev.lumen.nn;

import dev.lumen.ops.Normalization;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/** Layer normalization over the last dim, as torch's nn.LayerNorm(dim): weight (ones) and bias (zeros). */
public class LayerNorm extends Module implements Layer {
    private final int dim;
    private final double eps;

    public LayerNorm(int dim) { this(dim, 1e-5, true); }

    public LayerNorm(int dim, double eps) { this(dim, eps, true); }

    public LayerNorm(int dim, double eps, boolean elementwiseAffine) {
        if (dim <= 0) throw new IllegalArgumentException("LayerNorm: dim must be positive, got " + dim);
        this.dim = dim;
        this.eps = eps;
        if (elementwiseAffine) {
            registerParameter("weight", Tensor.ones(dim));
            registerParameter("bias", Tensor.zeros(dim));
        }
    }

    public Tensor weight() { return paramOrNull("weight"); }

    public Tensor bias() { return paramOrNull("bias"); }

    public double eps() { return eps; }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() < 1 || x.shape(-1) != dim) {
            throw new IllegalArgumentException("LayerNorm(" + dim + "): expects input [..., " + dim + "], got " + Arrays.toString(x.shape()));
        }
        return Normalization.layerNorm(x, weight(), bias(), eps);
    }

    @Override
    public String toString() { return "LayerNorm(" + dim + ", eps=" + eps + ")"; }
}
