package dev.lumen.optim;

import java.util.List;
import java.util.Map;

/**
 * timm's RMSpropTF ("rmsproptf"), TensorFlow's RMSprop: the squared-gradient average starts at
 * 1, eps is inside the square root, and the lr is applied inside the momentum buffer
 * (lr_in_momentum). Weight decay is L2 added to the gradient. Options: lr, alpha, eps,
 * weight_decay, momentum. State: "square_avg", and "momentum_buffer" with momentum. A step is
 * one multi-tensor OptimizerKernels.rmspropMulti call (tf) per device and dtype.
 */
public final class RMSpropTF extends RMSprop {
    public static Map<String, Object> defaults(double lr, double alpha, double eps, double weightDecay, double momentum) {
        return OptimizerOptions.rmspropFamily(lr, alpha, eps, weightDecay, momentum);
    }

    public RMSpropTF(List<ParamGroup> groups, Map<String, Object> defaults) { super("RMSpropTF", groups, defaults, true); }
}
