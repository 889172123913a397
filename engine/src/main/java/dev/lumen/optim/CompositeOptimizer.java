package dev.lumen.optim;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * An optimizer whose update is written with tensor ops (add, mul, div, sqrt ...) instead of a
 * fused OptimizerKernels call, so it runs unchanged on every backend, the CUDA one included.
 * Each parameter's update runs in its own Scope, which frees its temporaries; results are
 * written back into the parameter and the state tensors with {@link #assign}.
 */
abstract class CompositeOptimizer extends Optimizer {
    protected CompositeOptimizer(String name, List<ParamGroup> groups, java.util.Map<String, Object> defaults) {
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

    /** The 2-norm of every element, as a host value. */
    static double norm(Tensor t) { return t.backend().optimizer().vectorNorm(t, 2); }

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
