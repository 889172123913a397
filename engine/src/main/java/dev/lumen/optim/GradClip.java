package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.Collection;

/** torch.nn.utils.clip_grad_norm_ and clip_grad_value_, in place on the parameters' .grad. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient by max_norm / (total + 1e-6) when that is below 1, where total is
     * the normType-norm of all gradients together (the norm of the per-parameter norms;
     * infinity takes the largest magnitude). Returns total; parameters without a gradient are
     * skipped, and with none at all the result is 0.
     */
    public static double clipGradNorm(Collection<Tensor> params, double maxNorm, double normType) {
        if (!(normType > 0)) throw new IllegalArgumentException("clip_grad_norm: norm_type must be > 0, got " + normType);
        boolean inf = Double.isInfinite(normType);
        double acc = 0;
        boolean any = false;
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            any = true;
            double n = g.backend().optimizer().vectorNorm(g, normType);
            acc = inf ? Math.max(acc, n) : acc + Math.pow(n, normType);
        }
        if (!any) return 0;
        double total = inf ? acc : normType == 2 ? Math.sqrt(acc) : Math.pow(acc, 1 / normType);
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1) {
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g != null) g.backend().optimizer().scaleInPlace(g, coef);
            }
        }
        return total;
    }

    /** clipGradNorm with the 2-norm. */
    public static double clipGradNorm(Collection<Tensor> params, double maxNorm) { return clipGradNorm(params, maxNorm, 2); }

    /** Clamps every gradient element into [-clipValue, clipValue]. */
    public static void clipGradValue(Collection<Tensor> params, double clipValue) {
        if (!(clipValue >= 0)) throw new IllegalArgumentException("clip_grad_value: clip_value must be >= 0, got " + clipValue);
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) g.backend().optimizer().clampInPlace(g, -clipValue, clipValue);
        }
    }
}
