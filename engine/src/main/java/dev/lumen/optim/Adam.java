package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.Adam: weight decay as L2 added to the gradient, bias-corrected moments, eps
 * outside the square root, AMSGrad optional. Options: lr, beta1, beta2, eps, weight_decay,
 * amsgrad. State per parameter: "exp_avg", "exp_avg_sq" (and "max_exp_avg_sq" with amsgrad).
 */
public class Adam extends Optimizer {
    private final boolean decoupled;

    /** Defaults for every group that does not set its own. */
    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        Map<String, Object> d = OptimizerOptions.adamFamily(lr, beta1, beta2, eps, weightDecay);
        d.put("amsgrad", amsgrad);
        return d;
    }

    public Adam(List<ParamGroup> groups, Map<String, Object> defaults) { this("Adam", groups, defaults, false); }

    /** One group, torch's defaults: betas (0.9, 0.999), eps 1e-8, no AMSGrad. */
    public Adam(List<Tensor> params, double lr, double weightDecay) {
        this(List.of(ParamGroup.of(params)), defaults(lr, 0.9, 0.999, 1e-8, weightDecay, false));
    }

    Adam(String name, List<ParamGroup> groups, Map<String, Object> defaults, boolean decoupled) {
        super(name, groups, defaults);
        this.decoupled = decoupled;
    }

    @Override
    protected void validate(ParamGroup g) {
        String n = name();
        if (g.lr() < 0) throw new IllegalArgumentException(n + ": invalid lr " + g.lr());
        if (g.getDouble("eps") < 0) throw new IllegalArgumentException(n + ": invalid eps " + g.getDouble("eps"));
        for (String b : new String[] {"beta1", "beta2"}) {
            double v = g.getDouble(b);
            if (v < 0 || v >= 1) throw new IllegalArgumentException(n + ": invalid " + b + " " + v + " (needs 0 <= beta < 1)");
        }
        if (g.weightDecay() < 0) throw new IllegalArgumentException(n + ": invalid weight_decay " + g.weightDecay());
    }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        int n = params.size();
        boolean amsgrad = g.getBoolean("amsgrad");
        List<Tensor> m = new ArrayList<>(n), v = new ArrayList<>(n), vmax = amsgrad ? new ArrayList<>(n) : null;
        long[] steps = new long[n];
        for (int i = 0; i < n; i++) {
            Tensor p = params.get(i);
            State s = states.get(i);
            m.add(s.getOrZeros("exp_avg", p));
            v.add(s.getOrZeros("exp_avg_sq", p));
            if (amsgrad) vmax.add(s.getOrZeros("max_exp_avg_sq", p));
            steps[i] = s.step();
        }
        params.get(0).backend().optimizer().adamMulti(params, grads, m, v, vmax, g.lr(), g.getDouble("beta1"),
                g.getDouble("beta2"), g.getDouble("eps"), g.weightDecay(), decoupled, steps);
    }
}
