package dev.lumen.nn;

import dev.lumen.ops.LinearAlgebra;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * y = x W^T + b over the last dim, as torch's nn.Linear: weight [out, in], bias [out].
 * Default init is torch's: kaiming_uniform(a = sqrt(5)) for the weight, which is
 * uniform(+-1/sqrt(in)), and the same bound for the bias.
 */
public class Linear extends Module implements Layer {
    private final int inFeatures, outFeatures;

    public Linear(int inFeatures, int outFeatures) { this(inFeatures, outFeatures, true, Generator.global()); }

    public Linear(int inFeatures, int outFeatures, boolean bias) { this(inFeatures, outFeatures, bias, Generator.global()); }

    public Linear(int inFeatures, int outFeatures, boolean bias, Generator gen) {
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException("Linear: features must be positive, got in " + inFeatures + ", out " + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        Tensor w = Tensor.empty(DType.F32, Device.CPU, outFeatures, inFeatures);
        Init.kaimingUniform(w, Math.sqrt(5), Init.FanMode.FAN_IN, Init.Nonlinearity.LEAKY_RELU, gen);
        registerParameter("weight", w);
        if (bias) {
            double bound = 1 / Math.sqrt(inFeatures);
            registerParameter("bias", Init.uniform(Tensor.empty(DType.F32, Device.CPU, outFeatures), -bound, bound, gen));
        }
    }

    public Tensor weight() { return param("weight"); }

    /** The bias, or null for a layer without one. */
    public Tensor bias() { return paramOrNull("bias"); }

    public int inFeatures() { return inFeatures; }

    public int outFeatures() { return outFeatures; }

    @Override
    public Tensor forward(Tensor x) { return LinearAlgebra.linear(x, weight(), bias()); }

    @Override
    public String toString() { return "Linear(" + inFeatures + ", " + outFeatures + (bias() != null ? "" : ", bias=false") + ")"; }
}
