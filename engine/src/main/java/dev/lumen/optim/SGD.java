package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.SGD: weight decay added to the gradient, then momentum (the buffer starts at the
 * first gradient), optionally Nesterov. Options: lr, momentum, dampening, weight_decay, nesterov.
 * State per parameter: "momentum_buffer" when momentum is not 0.
 */
public final class SGD extends Optimizer {
    /** Defaults for every group that does not set its own. */
    public static Map<String, Object> defaults(double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("momentum", momentum);
        d.put("dampening", dampening);
        d.put("weight_decay", weightDecay);
        d.put("nesterov", nesterov);
        return d;
    }

    public SGD(List<ParamGroup> groups, Map<String, Object> defaults) { super("SGD", groups, defaults); }

    /** One group of params. */
    public SGD(List<Tensor> params, double lr, double momentum, double weightDecay, boolean nesterov) {
        this(List.of(ParamGroup.of(params)), defaults(lr, momentum, 0, weightDecay, nesterov));
    }

    @Override
    protected void validate(ParamGroup g) {
        if (g.lr() < 0) throw new IllegalArgumentException("SGD: invalid lr " + g.lr());
        if (g.getDouble("momentum") < 0) throw new IllegalArgumentException("SGD: invalid momentum " + g.getDouble("momentum"));
        if (g.weightDecay() < 0) throw new IllegalArgumentException("SGD: invalid weight_decay " + g.weightDecay());
        if (g.getBoolean("nesterov") && (g.getDouble("momentum") <= 0 || g.getDouble("dampening") != 0)) {
            throw new IllegalArgumentException("SGD: nesterov needs momentum > 0 and dampening 0, got momentum "
                    + g.getDouble("momentum") + ", dampening " + g.getDouble("dampening"));
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
        params.get(0).backend().optimizer().sgdMulti(params, grads, bufs, g.lr(), momentum, g.getDouble("dampening"),
                g.weightDecay(), g.getBoolean("nesterov"), init);
    }
}
