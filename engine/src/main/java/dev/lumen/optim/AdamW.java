package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.AdamW: Adam with decoupled weight decay, param *= 1 - lr * weight_decay before
 * the moment update instead of adding the decay to the gradient. Same options and state as
 * {@link Adam}.
 */
public final class AdamW extends Adam {
    public AdamW(List<ParamGroup> groups, Map<String, Object> defaults) { super("AdamW", groups, defaults, true); }

    /** One group, torch's defaults: betas (0.9, 0.999), eps 1e-8, no AMSGrad. */
    public AdamW(List<Tensor> params, double lr, double weightDecay) {
        this(List.of(ParamGroup.of(params)), defaults(lr, 0.9, 0.999, 1e-8, weightDecay, false));
    }
}
