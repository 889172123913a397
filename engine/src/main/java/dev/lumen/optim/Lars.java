package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * timm's Lars ("lars"): for groups with weight decay, the gradient plus L2 decay is scaled by the
 * trust ratio trust_coeff * ||p|| / (||g|| + weight_decay * ||p|| + eps) (1 when either norm is
 * 0), then torch SGD's momentum (buffer started at the first gradient, optional Nesterov).
 * Options: lr, momentum, dampening, weight_decay, nesterov, trust_coeff, eps. State:
 * "momentum_buffer" with momentum. A step is one multi-tensor OptimizerKernels.larsMulti call per
 * device and dtype.
 */
public final class Lars extends Optimizer {
    public static Map<String, Object> defaults(double lr, double momentum, double weightDecay, boolean nesterov, double eps) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("momentum", momentum);
        d.put("dampening", 0.0);
        d.put("weight_decay", weightDecay);
        d.put("nesterov", nesterov);
        d.put("trust_coeff", 0.001);
        d.put("eps", eps);
        return d;
    }

    public Lars(List<ParamGroup> groups, Map<String, Object> defaults) { super("Lars", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) {
        OptimizerOptions.requireNonNegative(name(), g, "lr", "momentum", "dampening", "weight_decay", "trust_coeff", "eps");
        if (g.getBoolean("nesterov") && (g.getDouble("momentum") <= 0 || g.getDouble("dampening") != 0)) {
            throw new IllegalArgumentException("Lars: nesterov needs momentum > 0 and dampening 0");
        }
    }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        int n = params.size();
        double momentum = g.getDouble("momentum");
        List<Tensor> bufs = momentum != 0 ? new ArrayList<>(n) : null;
        boolean[] init = new boolean[n];
        if (momentum != 0) {
            for (int i = 0; i < n; i++) {
                State s = states.get(i);
                init[i] = s.get("momentum_buffer") == null;
                bufs.add(s.getOrZeros("momentum_buffer", params.get(i)));
            }
        }
        params.get(0).backend().optimizer().larsMulti(params, grads, bufs, g.lr(), momentum, g.getDouble("dampening"), g.weightDecay(),
                g.getBoolean("nesterov"), g.getDouble("trust_coeff"), g.getDouble("eps"), init);
    }
}
