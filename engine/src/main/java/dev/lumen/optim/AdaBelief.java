package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * timm's AdaBelief ("adabelief", unrectified as timm's registry makes it): Adam whose second
 * moment tracks (grad - exp_avg)^2, the "belief" in the gradient, with eps added to that moment
 * each step (kept in the state, as timm does) and again outside the square root, and decoupled
 * weight decay param *= 1 - lr * weight_decay. Options: lr, beta1, beta2, eps, weight_decay.
 * State: "exp_avg", "exp_avg_var". A step is one multi-tensor OptimizerKernels.adaBeliefMulti
 * call per device and dtype.
 */
public final class AdaBelief extends Optimizer {
    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return OptimizerOptions.adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    public AdaBelief(List<ParamGroup> groups, Map<String, Object> defaults) { super("AdaBelief", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { OptimizerOptions.validateAdamFamily(name(), g); }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        Moments m = Moments.of(params, states, "exp_avg", "exp_avg_var");
        params.get(0).backend().optimizer().adaBeliefMulti(params, grads, m.first(), m.second(), g.lr(), g.getDouble("beta1"),
                g.getDouble("beta2"), g.getDouble("eps"), g.weightDecay(), m.steps());
    }
}
