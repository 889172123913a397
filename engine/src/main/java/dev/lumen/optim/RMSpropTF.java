package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * timm's RMSpropTF ("rmsproptf"), TensorFlow's RMSprop: the squared-gradient average starts at
 * 1, eps is inside the square root, and the lr is applied inside the momentum buffer
 * (lr_in_momentum). Weight decay is L2 added to the gradient. Options: lr, alpha, eps,
 * weight_decay, momentum. State: "square_avg", and "momentum_buffer" with momentum.
 */
public final class RMSpropTF extends CompositeOptimizer {
    public static Map<String, Object> defaults(double lr, double alpha, double eps, double weightDecay, double momentum) {
        return rmspropFamily(lr, alpha, eps, weightDecay, momentum);
    }

    public RMSpropTF(List<ParamGroup> groups, Map<String, Object> defaults) { super("RMSpropTF", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { validateRmspropFamily(g); }

    @Override
    protected void updateOne(ParamGroup g, Tensor p, Tensor grad, State s) {
        double lr = g.lr(), alpha = g.getDouble("alpha"), eps = g.getDouble("eps"), wd = g.weightDecay(), momentum = g.getDouble("momentum");
        Tensor gr = wd != 0 ? grad.add(p.mul(wd)) : grad;
        Tensor sq = s.getOrFull("square_avg", p, 1);
        assign(sq, sq.add(gr.mul(gr).sub(sq).mul(1 - alpha)));
        Tensor avg = sq.add(eps).sqrt();
        if (momentum > 0) {
            Tensor buf = s.getOrZeros("momentum_buffer", p);
            assign(buf, buf.mul(momentum).add(gr.div(avg).mul(lr)));
            assign(p, p.sub(buf));
        } else {
            assign(p, p.add(gr.div(avg).mul(-lr)));
        }
    }
}
