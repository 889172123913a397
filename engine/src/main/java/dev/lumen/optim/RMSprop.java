package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.RMSprop, uncentered (timm's "rmsprop", which sets alpha 0.9): the squared-gradient
 * average starts at 0 and eps is added outside the square root; momentum, when not 0, buffers
 * grad / avg. Weight decay is L2 added to the gradient. Options: lr, alpha, eps, weight_decay,
 * momentum. State: "square_avg", and "momentum_buffer" with momentum. A step is one
 * multi-tensor OptimizerKernels.rmspropMulti call per device and dtype.
 */
public class RMSprop extends Optimizer {
    private final boolean tf;

    public static Map<String, Object> defaults(double lr, double alpha, double eps, double weightDecay, double momentum) {
        return OptimizerOptions.rmspropFamily(lr, alpha, eps, weightDecay, momentum);
    }

    public RMSprop(List<ParamGroup> groups, Map<String, Object> defaults) { this("RMSprop", groups, defaults, false); }

    /** tf: TensorFlow's variant (RMSpropTF's formulas). */
    RMSprop(String name, List<ParamGroup> groups, Map<String, Object> defaults, boolean tf) {
        super(name, groups, defaults);
        this.tf = tf;
    }

    @Override
    protected void validate(ParamGroup g) { OptimizerOptions.validateRmspropFamily(name(), g); }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        double momentum = g.getDouble("momentum");
        List<Tensor> squareAvgs = new ArrayList<>(params.size()), buffers = momentum > 0 ? new ArrayList<>(params.size()) : null;
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            // TF starts the average at 1, torch at 0.
            squareAvgs.add(states.get(i).getOrFull("square_avg", p, tf ? 1 : 0));
            if (buffers != null) buffers.add(states.get(i).getOrZeros("momentum_buffer", p));
        }
        params.get(0).backend().optimizer().rmspropMulti(params, grads, squareAvgs, buffers, g.lr(), g.getDouble("alpha"),
                g.getDouble("eps"), g.weightDecay(), momentum, tf);
    }
}
