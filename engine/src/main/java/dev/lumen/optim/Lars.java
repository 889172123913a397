package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * timm's Lars ("lars"): for groups with weight decay, the gradient plus L2 decay is scaled by the
 * trust ratio trust_coeff * ||p|| / (||g|| + weight_decay * ||p|| + eps) (1 when either norm is
 * 0), then torch SGD's momentum (buffer started at the first gradient, optional Nesterov).
 * Options: lr, momentum, dampening, weight_decay, nesterov, trust_coeff, eps. State:
 * "momentum_buffer" with momentum.
 */
public final class Lars extends CompositeOptimizer {
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
        requireNonNegative(name(), g, "lr", "momentum", "dampening", "weight_decay", "trust_coeff", "eps");
        if (g.getBoolean("nesterov") && (g.getDouble("momentum") <= 0 || g.getDouble("dampening") != 0)) {
            throw new IllegalArgumentException("Lars: nesterov needs momentum > 0 and dampening 0");
        }
    }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), momentum = g.getDouble("momentum"), wd = g.weightDecay();
        Tensor d = grad;
        if (wd != 0) {
            Tensor w = norm(p), gn = norm(grad);
            Tensor trust = trustRatio(w.mul(g.getDouble("trust_coeff")), gn.add(w.mul(wd)).add(g.getDouble("eps")), w, gn);
            d = d.add(p.mul(wd)).mul(trust);
        }
        if (momentum != 0) {
            boolean first = s.get("momentum_buffer") == null;
            Tensor buf = s.getOrCopy("momentum_buffer", d);
            if (!first) assign(buf, buf.mul(momentum).add(d.mul(1 - g.getDouble("dampening"))));
            d = g.getBoolean("nesterov") ? d.add(buf.mul(momentum)) : buf;
        }
        assign(p, p.sub(d.mul(lr)));
    }
}
