package dev.lumen.optim;

import dev.lumen.backend.Backend;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** torch.nn.utils.clip_grad_norm_ and clip_grad_value_, in place on the parameters' .grad. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient by max_norm / (total + 1e-6) when that is below 1, where total is
     * the normType-norm of all gradients together (the norm of the per-parameter norms;
     * infinity takes the largest magnitude). Returns total; parameters without a gradient are
     * skipped, and with none at all the result is 0. The gradients must share one device: the
     * whole list is one call of its backend's OptimizerKernels.clipGradNorm.
     */
    public static double clipGradNorm(Collection<Tensor> params, double maxNorm, double normType) {
        if (!(normType > 0)) throw new IllegalArgumentException("clip_grad_norm: norm_type must be > 0, got " + normType);
        List<Tensor> grads = new ArrayList<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) grads.add(g);
        }
        if (grads.isEmpty()) return 0;
        // One backend call for the whole list: on a device it is one host wait, not one per tensor.
        Backend backend = grads.get(0).backend();
        for (Tensor g : grads) {
            if (g.backend() != backend) {
                throw new IllegalArgumentException("clip_grad_norm: gradients on " + grads.get(0).device() + " and " + g.device()
                        + "; clip each device's parameters separately");
            }
        }
        return backend.optimizer().clipGradNorm(grads, maxNorm, normType);
    }

    /** clipGradNorm with the 2-norm. */
    public static double clipGradNorm(Collection<Tensor> params, double maxNorm) { return clipGradNorm(params, maxNorm, 2); }

    /** Clamps every gradient element into [-clipValue, clipValue]: one multi-tensor call per backend the gradients live on. */
    public static void clipGradValue(Collection<Tensor> params, double clipValue) {
        if (!(clipValue >= 0)) throw new IllegalArgumentException("clip_grad_value: clip_value must be >= 0, got " + clipValue);
        Map<Backend, List<Tensor>> byBackend = new LinkedHashMap<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) byBackend.computeIfAbsent(g.backend(), b -> new ArrayList<>()).add(g);
        }
        byBackend.forEach((backend, grads) -> backend.optimizer().clampMulti(grads, -clipValue, clipValue));
    }

    /**
     * timm's adaptive_clip_grad (AGC, NFNets): each unit's gradient (a row along dim 0; the whole
     * tensor for 1-d parameters) whose 2-norm reaches clipFactor * max(its weight norm, eps) is
     * scaled to that norm (its own norm floored at 1e-6); the others are kept. One call of
     * OptimizerKernels.adaptiveClipGrad per backend the parameters live on.
     */
    public static void adaptiveClipGrad(Collection<Tensor> params, double clipFactor, double eps) {
        if (!(clipFactor > 0)) throw new IllegalArgumentException("adaptive_clip_grad: clip_factor must be > 0, got " + clipFactor);
        Map<Backend, List<Tensor>> ps = new LinkedHashMap<>(), gs = new LinkedHashMap<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            ps.computeIfAbsent(g.backend(), b -> new ArrayList<>()).add(p);
            gs.computeIfAbsent(g.backend(), b -> new ArrayList<>()).add(g);
        }
        ps.forEach((backend, list) -> backend.optimizer().adaptiveClipGrad(list, gs.get(backend), clipFactor, eps));
    }
}
