package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.NAdam (timm's "nadam"): Adam with Nesterov momentum whose coefficient mu_t =
 * beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)) warms up over the steps. Weight decay is L2 added
 * to the gradient. Options: lr, beta1, beta2, eps, weight_decay, momentum_decay. State per
 * parameter: "exp_avg", "exp_avg_sq"; the running product of the mu_t is recomputed from the step
 * count when it is not cached (after a resume), so the state dict holds no extra scalar.
 */
public final class NAdam extends CompositeOptimizer {
    /** step -> product of mu_1..mu_step, per parameter state. */
    private final Map<State, double[]> muProducts = new IdentityHashMap<>();

    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        Map<String, Object> d = adamFamily(lr, beta1, beta2, eps, weightDecay);
        d.put("momentum_decay", 4e-3);
        return d;
    }

    public NAdam(List<ParamGroup> groups, Map<String, Object> defaults) { super("NAdam", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { validateAdamFamily(name(), g, "momentum_decay"); }

    private static double mu(double beta1, double md, long t) { return beta1 * (1 - 0.5 * Math.pow(0.96, t * md)); }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), b1 = g.getDouble("beta1"), b2 = g.getDouble("beta2"), eps = g.getDouble("eps"), wd = g.weightDecay();
        double md = g.getDouble("momentum_decay");
        long step = s.step();
        double[] cached = muProducts.get(s);
        double muProduct;
        if (cached != null && cached[0] == step - 1) {
            muProduct = cached[1] * mu(b1, md, step);
        } else {
            muProduct = 1;
            for (long t = 1; t <= step; t++) muProduct *= mu(b1, md, t);
        }
        muProducts.put(s, new double[] {step, muProduct});
        double mu = mu(b1, md, step), muNext = mu(b1, md, step + 1);
        Tensor gr = wd != 0 ? grad.add(p.mul(wd)) : grad;
        Tensor m = s.getOrZeros("exp_avg", p), v = s.getOrZeros("exp_avg_sq", p);
        assign(m, lerp(m, gr, 1 - b1));
        assign(v, v.mul(b2).add(gr.mul(gr).mul(1 - b2)));
        Tensor denom = v.div(1 - Math.pow(b2, step)).sqrt().add(eps);
        Tensor next = p.add(gr.div(denom).mul(-lr * (1 - mu) / (1 - muProduct)));
        assign(p, next.add(m.div(denom).mul(-lr * muNext / (1 - muProduct * muNext))));
    }
}
