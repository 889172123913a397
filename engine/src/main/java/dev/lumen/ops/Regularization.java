package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * Stochastic regularizers: dropout (per element) and drop path / stochastic depth (per
 * sample). Masks come from a counter-based {@link Generator}, so a seed reproduces them
 * exactly whatever the thread count.
 */
public final class Regularization {
    private Regularization() {}

    /**
     * Inverted dropout, as torch.nn.functional.dropout: each element is kept with
     * probability 1 - p and scaled by 1/(1 - p). Identity (x itself) in eval or for p = 0;
     * zeros for p = 1. The gradient is gradOut * mask.
     */
    public static Tensor dropout(Tensor x, double p, boolean training, Generator gen) {
        checkP("dropout", p);
        if (!training || p == 0) return x;
        Tensor xc = x.contiguous();
        Tensor mask = Tensor.empty(x.dtype(), x.device(), x.shape());
        Tensor out = Tensor.empty(x.dtype(), x.device(), x.shape());
        x.backend().norms().dropoutForward(xc, p, gen, mask, out);
        return Autograd.record("dropout", out, g -> new Tensor[] {g.mul(mask)}, xc);
    }

    /**
     * timm's drop_path (stochastic depth): one Bernoulli(1 - p) draw per sample along dim 0
     * zeroes that sample's whole slice; kept samples are scaled by 1/(1 - p) when
     * scaleByKeep. Identity in eval or for p = 0.
     */
    public static Tensor dropPath(Tensor x, double p, boolean training, Generator gen, boolean scaleByKeep) {
        checkP("dropPath", p);
        if (!training || p == 0) return x;
        if (x.dim() < 1) throw new IllegalArgumentException("dropPath: input must have a batch dim, got a scalar");
        int n = x.shape(0);
        double keep = 1 - p;
        double scale = scaleByKeep && keep > 0 ? 1 / keep : 1;
        long first = gen.reserve(n);
        double[] m = new double[n];
        for (int i = 0; i < n; i++) m[i] = Generator.uniform(gen.seed(), first + i) < keep ? scale : 0;
        int[] shape = new int[x.dim()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = n;
        Tensor mask = Tensor.fromDoubles(m, x.dtype(), shape);
        if (!mask.device().equals(x.device())) mask = mask.to(x.device());
        return x.mul(mask);
    }

    private static void checkP(String op, double p) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException(op + ": probability p must be in [0, 1], got " + p);
    }
}
