package dev.lumen.optim;

import dev.lumen.autograd.GradMode;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * timm's Lamb ("lamb", the NVLAMB variant): before each step every gradient is divided by
 * max(1, global grad norm / max_grad_norm); then the bias-corrected Adam direction plus L2 weight
 * decay is scaled by the trust ratio ||param|| / ||update|| (1 when either norm is 0) for the
 * groups with weight decay, and applied with lr. Options: lr, beta1, beta2, eps, weight_decay.
 * State: "exp_avg", "exp_avg_sq". After the clip, a step is one multi-tensor
 * OptimizerKernels.lambMulti call per device and dtype.
 */
public final class Lamb extends Optimizer {
    private final double maxGradNorm;

    public static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return OptimizerOptions.adamFamily(lr, beta1, beta2, eps, weightDecay);
    }

    /** maxGradNorm: the global gradient clip (timm's default 1.0); 0 turns it off. */
    public Lamb(List<ParamGroup> groups, Map<String, Object> defaults, double maxGradNorm) {
        super("Lamb", groups, defaults);
        if (!(maxGradNorm >= 0)) throw new IllegalArgumentException("Lamb: invalid max_grad_norm " + maxGradNorm);
        this.maxGradNorm = maxGradNorm;
    }

    @Override
    protected void validate(ParamGroup g) { OptimizerOptions.validateAdamFamily(name(), g); }

    @Override
    public void step() {
        if (maxGradNorm > 0) {
            List<Tensor> grads = new ArrayList<>();
            for (Tensor p : params()) {
                if (p.grad() == null) continue;
                if (!grads.isEmpty() && !p.grad().device().equals(grads.get(0).device())) {
                    throw new IllegalStateException("Lamb: the global gradient clip needs every gradient on one device, got "
                            + grads.get(0).device() + " and " + p.grad().device());
                }
                grads.add(p.grad());
            }
            // timm's global clip: grads / max(1, ||all grads|| / max_grad_norm)
            if (!grads.isEmpty()) {
                try (GradMode off = GradMode.noGrad()) {
                    grads.get(0).backend().optimizer().lambClipGradNorm(grads, maxGradNorm);
                }
            }
        }
        super.step();
    }

    @Override
    protected void update(ParamGroup g, List<Tensor> params, List<Tensor> grads, List<State> states) {
        Moments m = Moments.of(params, states, "exp_avg", "exp_avg_sq");
        params.get(0).backend().optimizer().lambMulti(params, grads, m.first(), m.second(), g.lr(), g.getDouble("beta1"),
                g.getDouble("beta2"), g.getDouble("eps"), g.weightDecay(), m.steps());
    }
}
