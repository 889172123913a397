package dev.lumen.optim;

import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An optimizer whose update is written with tensor ops (add, mul, div, sqrt ...) instead of a
 * fused OptimizerKernels call, so it runs unchanged on every backend, the CUDA one included.
 * Each parameter's update runs in its own Scope, which frees its temporaries; results are
 * written back into the parameter and the state tensors with {@link #assign}.
 */
abstract class CompositeOptimizer extends Optimizer {
    protected CompositeOptimizer(String name, List<ParamGroup> groups, Map<String, Object> defaults) {
        super(name, groups, defaults);
    }

    /** Updates one parameter in place from its gradient; s.step() is already incremented. */
    protected abstract void updateOne(ParamGroup g, Tensor param, Tensor grad, State s);

    @Override
    protected final void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        for (int i = 0; i < params.size(); i++) {
            try (Scope scope = Scope.open()) {
                updateOne(g, params.get(i), grads.get(i), states.get(i));
            }
        }
    }

    /** dst = value, in place (dst keeps its storage, so the parameter and the state stay the same tensors). */
    static void assign(Tensor dst, Tensor value) { dst.backend().copy(value, dst); }

    /** a + w * (b - a), torch's lerp for the weights optimizers use (w < 0.5). */
    static Tensor lerp(Tensor a, Tensor b, double w) { return a.add(b.sub(a).mul(w)); }


    /** The Adam family's options (lr, beta1, beta2, eps, weight_decay), in the order torch's state dicts list them. */
    static Map<String, Object> adamFamily(double lr, double beta1, double beta2, double eps, double weightDecay) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("beta1", beta1);
        d.put("beta2", beta2);
        d.put("eps", eps);
        d.put("weight_decay", weightDecay);
        return d;
    }

    /** The RMSprop family's options (lr, alpha, eps, weight_decay, momentum). */
    static Map<String, Object> rmspropFamily(double lr, double alpha, double eps, double weightDecay, double momentum) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("alpha", alpha);
        d.put("eps", eps);
        d.put("weight_decay", weightDecay);
        d.put("momentum", momentum);
        return d;
    }

    /** lr, eps, weight_decay (and the extra keys) non-negative; beta1, beta2 in [0, 1). */
    static void validateAdamFamily(String opt, ParamGroup g, String... extraNonNegative) {
        requireNonNegative(opt, g, "lr", "eps", "weight_decay");
        requireNonNegative(opt, g, extraNonNegative);
        requireBeta(opt, g, "beta1", "beta2");
    }

    static void validateRmspropFamily(String opt, ParamGroup g) { requireNonNegative(opt, g, "lr", "alpha", "eps", "weight_decay", "momentum"); }

    /**
     * The 2-norm of every element as a 0-d tensor on t's device: trust ratios and clip factors
     * are computed from it on the device, so a step needs no host read per parameter.
     */
    static Tensor norm(Tensor t) { return t.mul(t).sum().sqrt(); }

    /** num / den where the norms a and b are both > 0, else 1 (LAMB's and LARS's trust ratio rule), on the device. */
    static Tensor trustRatio(Tensor num, Tensor den, Tensor a, Tensor b) {
        Tensor one = a.mul(0).add(1);
        return Elementwise.where(a.gt(0), Elementwise.where(b.gt(0), num.div(den), one), one);
    }

    static void requireNonNegative(String opt, ParamGroup g, String... keys) {
        for (String k : keys) {
            double v = g.getDouble(k);
            if (!(v >= 0)) throw new IllegalArgumentException(opt + ": invalid " + k + " " + v);
        }
    }

    static void requireBeta(String opt, ParamGroup g, String... keys) {
        for (String k : keys) {
            double v = g.getDouble(k);
            if (!(v >= 0 && v < 1)) throw new IllegalArgumentException(opt + ": invalid " + k + " " + v + " (needs 0 <= beta < 1)");
        }
    }
}
