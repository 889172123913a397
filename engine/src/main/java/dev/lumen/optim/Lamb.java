package dev.lumen.optim;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * timm's Lamb ("lamb", the NVLAMB variant): before each step every gradient is divided by
 * max(1, global grad norm / max_grad_norm); then the bias-corrected Adam direction plus L2 weight
 * decay is scaled by the trust ratio ||param|| / ||update|| (1 when either norm is 0) for the
 * groups with weight decay, and applied with lr. Options: lr, beta1, beta2, eps, weight_decay.
 * State: "exp_avg", "exp_avg_sq".
 */
public final class Lamb extends CompositeOptimizer {
    private final double maxGradNorm;

    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    /** maxGradNorm: the global gradient clip (timm's default 1.0); 0 turns it off. */
    public Lamb(List<ParamGroup> groups, Map<String, Object> defaults, double maxGradNorm) {
        super("Lamb", groups, defaults);
        if (!(maxGradNorm >= 0)) throw new IllegalArgumentException("Lamb: invalid max_grad_norm " + maxGradNorm);
        this.maxGradNorm = maxGradNorm;
    }

    @Override
    protected void validate(ParamGroup g) { validateAdamFamily(name(), g); }

    @Override
    public void step() {
        if (maxGradNorm > 0) {
            // timm's global clip: grads / max(1, ||all grads|| / max_grad_norm), computed on the device
            try (GradMode off = GradMode.noGrad(); Scope scope = Scope.open()) {
                Tensor sq = null;
                for (Tensor p : params()) {
                    if (p.grad() == null) continue;
                    Tensor n = p.grad().mul(p.grad()).sum();
                    sq = sq == null ? n : sq.add(n);
                }
                if (sq != null) {
                    Tensor total = sq.sqrt(), one = total.mul(0).add(1);
                    Tensor clip = Elementwise.where(total.gt(maxGradNorm), total.div(maxGradNorm), one);
                    for (Tensor p : params()) if (p.grad() != null) assign(p.grad(), p.grad().div(clip));
                }
            }
        }
        super.step();
    }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), b1 = g.getDouble("beta1"), b2 = g.getDouble("beta2"), eps = g.getDouble("eps"), wd = g.weightDecay();
        long step = s.step();
        Tensor m = s.getOrZeros("exp_avg", p), v = s.getOrZeros("exp_avg_sq", p);
        assign(m, m.mul(b1).add(grad.mul(1 - b1)));
        assign(v, v.mul(b2).add(grad.mul(grad).mul(1 - b2)));
        Tensor denom = v.sqrt().div(Math.sqrt(1 - Math.pow(b2, step))).add(eps);
        Tensor update = m.div(1 - Math.pow(b1, step)).div(denom);
        if (wd != 0) {
            update = update.add(p.mul(wd));
            Tensor w = norm(p), u = norm(update);
            update = update.mul(trustRatio(w, u, w, u));
        }
        assign(p, p.sub(update.mul(lr)));
    }
}
