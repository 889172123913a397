package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.RMSprop, uncentered (timm's "rmsprop", which sets alpha 0.9): the squared-gradient
 * average starts at 0 and eps is added outside the square root; momentum, when not 0, buffers
 * grad / avg. Weight decay is L2 added to the gradient. Options: lr, alpha, eps, weight_decay,
 * momentum. State: "square_avg", and "momentum_buffer" with momentum.
 */
public final class RMSprop extends CompositeOptimizer {
    public static Map<String, Object> defaults(double lr, double alpha, double eps, double weightDecay, double momentum) {
        return rmspropFamily(lr, alpha, eps, weightDecay, momentum);
    }

    public RMSprop(List<ParamGroup> groups, Map<String, Object> defaults) { super("RMSprop", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { validateRmspropFamily(g); }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), alpha = g.getDouble("alpha"), eps = g.getDouble("eps"), wd = g.weightDecay(), momentum = g.getDouble("momentum");
        Tensor gr = wd != 0 ? grad.add(p.mul(wd)) : grad;
        Tensor sq = s.getOrZeros("square_avg", p);
        assign(sq, sq.mul(alpha).add(gr.mul(gr).mul(1 - alpha)));
        Tensor avg = sq.sqrt().add(eps);
        if (momentum > 0) {
            Tensor buf = s.getOrZeros("momentum_buffer", p);
            assign(buf, buf.mul(momentum).add(gr.div(avg)));
            assign(p, p.sub(buf.mul(lr)));
        } else {
            assign(p, p.add(gr.div(avg).mul(-lr)));
        }
    }
}
