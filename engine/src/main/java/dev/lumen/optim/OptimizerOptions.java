package dev.lumen.optim;

import java.util.LinkedHashMap;
import java.util.Map;

/** The option sets the optimizers share and their checks, each failing with the optimizer's and the option's names. */
final class OptimizerOptions {
    private OptimizerOptions() {}

    /** The Adam family's options (lr, beta1, beta2, eps, weight_decay), in the order torch's state dicts list them. */
    static Map<String, Object> adamFamily(double lr, double beta1, double beta2, double eps, double weightDecay) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("beta1", beta1);
        d.put("beta2", beta2);
        d.put("eps", eps);
        d.put("weight_decay", weightDecay);
        return d;
    }

    /** The RMSprop family's options (lr, alpha, eps, weight_decay, momentum). */
    static Map<String, Object> rmspropFamily(double lr, double alpha, double eps, double weightDecay, double momentum) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lr", lr);
        d.put("alpha", alpha);
        d.put("eps", eps);
        d.put("weight_decay", weightDecay);
        d.put("momentum", momentum);
        return d;
    }

    /** lr, eps, weight_decay (and the extra keys) non-negative; beta1, beta2 in [0, 1). */
    static void validateAdamFamily(String opt, ParamGroup g, String... extraNonNegative) {
        requireNonNegative(opt, g, "lr", "eps", "weight_decay");
        requireNonNegative(opt, g, extraNonNegative);
        requireBeta(opt, g, "beta1", "beta2");
    }

    static void validateRmspropFamily(String opt, ParamGroup g) { requireNonNegative(opt, g, "lr", "alpha", "eps", "weight_decay", "momentum"); }

    static void requireNonNegative(String opt, ParamGroup g, String... keys) {
        for (String k : keys) {
            double v = g.getDouble(k);
            if (!(v >= 0)) throw new IllegalArgumentException(opt + ": invalid " + k + " " + v);
        }
    }

    static void requireBeta(String opt, ParamGroup g, String... keys) {
        for (String k : keys) {
            double v = g.getDouble(k);
            if (!(v >= 0 && v < 1)) throw new IllegalArgumentException(opt + ": invalid " + k + " " + v + " (needs 0 <= beta < 1)");
        }
    }
}
