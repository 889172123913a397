package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.RAdam (timm's "radam"): Adam whose adaptive step is used only once the variance
 * of the adaptive lr is tractable (rho_t > 5), scaled by the rectification term; before that the
 * update is plain momentum SGD with the bias-corrected first moment. Weight decay is L2 added
 * to the gradient. Options: lr, beta1, beta2, eps, weight_decay. State: "exp_avg", "exp_avg_sq".
 */
public final class RAdam extends CompositeOptimizer {
    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    public RAdam(List<ParamGroup> groups, Map<String, Object> defaults) { super("RAdam", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { validateAdamFamily(name(), g); }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), b1 = g.getDouble("beta1"), b2 = g.getDouble("beta2"), eps = g.getDouble("eps"), wd = g.weightDecay();
        long step = s.step();
        Tensor gr = wd != 0 ? grad.add(p.mul(wd)) : grad;
        Tensor m = s.getOrZeros("exp_avg", p), v = s.getOrZeros("exp_avg_sq", p);
        assign(m, lerp(m, gr, 1 - b1));
        assign(v, v.mul(b2).add(gr.mul(gr).mul(1 - b2)));
        double bc1 = 1 - Math.pow(b1, step), bc2 = 1 - Math.pow(b2, step);
        Tensor corrected = m.div(bc1);
        double rhoInf = 2 / (1 - b2) - 1;
        double rhoT = rhoInf - 2 * step * Math.pow(b2, step) / bc2;
        if (rhoT > 5) {
            double rect = Math.sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
            Tensor adaptive = v.sqrt().add(eps).pow(-1).mul(Math.sqrt(bc2));
            assign(p, p.sub(corrected.mul(lr).mul(adaptive).mul(rect)));
        } else {
            assign(p, p.sub(corrected.mul(lr)));
        }
    }
}
