package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * timm's AdaBelief ("adabelief", unrectified as timm's registry makes it): Adam whose second
 * moment tracks (grad - exp_avg)^2, the "belief" in the gradient, with eps added to that moment
 * each step (kept in the state, as timm does) and again outside the square root, and decoupled
 * weight decay param *= 1 - lr * weight_decay. Options: lr, beta1, beta2, eps, weight_decay.
 * State: "exp_avg", "exp_avg_var".
 */
public final class AdaBelief extends CompositeOptimizer {
    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    public AdaBelief(List<ParamGroup> groups, Map<String, Object> defaults) { super("AdaBelief", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { validateAdamFamily(g); }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), b1 = g.getDouble("beta1"), b2 = g.getDouble("beta2"), eps = g.getDouble("eps"), wd = g.weightDecay();
        long step = s.step();
        Tensor m = s.getOrZeros("exp_avg", p), v = s.getOrZeros("exp_avg_var", p);
        assign(p, p.mul(1 - lr * wd));
        assign(m, m.mul(b1).add(grad.mul(1 - b1)));
        Tensor residual = grad.sub(m);
        assign(v, v.mul(b2).add(residual.mul(residual).mul(1 - b2)).add(eps));
        Tensor denom = v.sqrt().div(Math.sqrt(1 - Math.pow(b2, step))).add(eps);
        assign(p, p.add(m.div(denom).mul(-lr / (1 - Math.pow(b1, step)))));
    }
}
