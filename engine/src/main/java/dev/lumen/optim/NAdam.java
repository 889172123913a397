package dev.lumen.optim;

import dev.lumen.backend.NAdamStep;
import dev.lumen.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.NAdam (timm's "nadam"): Adam with Nesterov momentum whose coefficient mu_t =
 * beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)) warms up over the steps. Weight decay is L2 added
 * to the gradient. Options: lr, beta1, beta2, eps, weight_decay, momentum_decay. State per
 * parameter: "exp_avg", "exp_avg_sq"; the running product of the mu_t is recomputed from the step
 * count when it is not cached (after a resume), so the state dict holds no extra scalar. A step
 * is one multi-tensor OptimizerKernels.nadamMulti call per device and dtype.
 */
public final class NAdam extends Optimizer {
    /** step -> product of mu_1..mu_step, per parameter state. */
    private final Map<State, double[]> muProducts = new IdentityHashMap<>();

    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        Map<String, Object> d = OptimizerOptions.adamFamily(lr, beta1, beta2, eps, weightDecay);
        d.put("momentum_decay", 4e-3);
        return d;
    }

    public NAdam(List<ParamGroup> groups, Map<String, Object> defaults) { super("NAdam", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { OptimizerOptions.validateAdamFamily(name(), g, "momentum_decay"); }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        double b1 = g.getDouble("beta1"), md = g.getDouble("momentum_decay");
        Moments m = Moments.of(params, states, "exp_avg", "exp_avg_sq");
        double[] products = new double[params.size()];
        for (int i = 0; i < products.length; i++) products[i] = muProduct(states.get(i), b1, md);
        params.get(0).backend().optimizer().nadamMulti(params, grads, m.first(), m.second(), g.lr(), b1, g.getDouble("beta2"),
                g.getDouble("eps"), g.weightDecay(), md, m.steps(), products);
    }

    /** mu_1 * ... * mu_step for s's (already incremented) step, from the cache or recomputed. */
    private double muProduct(State s, double beta1, double md) {
        long step = s.step();
        double[] cached = muProducts.get(s);
        double product;
        if (cached != null && cached[0] == step - 1) {
            product = cached[1] * NAdamStep.mu(beta1, md, step);
        } else {
            product = 1;
            for (long t = 1; t <= step; t++) product *= NAdamStep.mu(beta1, md, t);
        }
        muProducts.put(s, new double[] {step, product});
        return product;
    }
}
