package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.RAdam (timm's "radam"): Adam whose adaptive step is used only once the variance
 * of the adaptive lr is tractable (rho_t > 5), scaled by the rectification term; before that the
 * update is plain momentum SGD with the bias-corrected first moment. Weight decay is L2 added
 * to the gradient. Options: lr, beta1, beta2, eps, weight_decay. State: "exp_avg", "exp_avg_sq".
 * A step is one multi-tensor OptimizerKernels.radamMulti call per device and dtype.
 */
public final class RAdam extends Optimizer {
    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return OptimizerOptions.adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    public RAdam(List<ParamGroup> groups, Map<String, Object> defaults) { super("RAdam", groups, defaults); }

    @Override
    protected void validate(ParamGroup g) { OptimizerOptions.validateAdamFamily(name(), g); }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        Moments m = Moments.of(params, states, "exp_avg", "exp_avg_sq");
        params.get(0).backend().optimizer().radamMulti(params, grads, m.first(), m.second(), g.lr(), g.getDouble("beta1"),
                g.getDouble("beta2"), g.getDouble("eps"), g.weightDecay(), m.steps());
    }
}
