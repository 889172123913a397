package dev.lumen.app.train;

import dev.lumen.optim.AdaBelief;
import dev.lumen.optim.Adam;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.Lamb;
import dev.lumen.optim.Lars;
import dev.lumen.optim.NAdam;
import dev.lumen.optim.Optimizer;
import dev.lumen.optim.ParamGroup;
import dev.lumen.optim.RAdam;
import dev.lumen.optim.RMSprop;
import dev.lumen.optim.RMSpropTF;
import dev.lumen.optim.SGD;
import java.util.List;

/**
 * timm's create_optimizer_v2 for the names `--opt` takes: the same class and defaults that timm's
 * registry binds to each name, with --momentum, --opt-eps and --opt-betas passed where the
 * optimizer has them, and the weight decay carried by the parameter groups. Also timm's rule
 * for the lr when --lr is not given.
 */
final class OptimizerFactory {
    static final List<String> NAMES = List.of("sgd", "momentum", "adam", "adamw", "nadam", "radam", "rmsprop", "rmsproptf", "lamb", "lars",
            "adabelief");

    private OptimizerFactory() {}

    /** groups carry their own weight_decay (timm's param groups); eps and betas null mean the optimizer's defaults. */
    static Optimizer create(String name, List<ParamGroup> groups, double lr, double momentum, Double eps, double[] betas) {
        double b1 = betas == null ? 0.9 : betas[0], b2 = betas == null ? 0.999 : betas[1];
        return switch (name) {
            case "sgd" -> new SGD(groups, SGD.defaults(lr, momentum, 0, 0, true));
            case "momentum" -> new SGD(groups, SGD.defaults(lr, momentum, 0, 0, false));
            case "adam" -> new Adam(groups, Adam.defaults(lr, b1, b2, or(eps, 1e-8), 0, false));
            case "adamw" -> new AdamW(groups, Adam.defaults(lr, b1, b2, or(eps, 1e-8), 0, false));
            case "nadam" -> new NAdam(groups, NAdam.defaults(lr, b1, b2, or(eps, 1e-8), 0));
            case "radam" -> new RAdam(groups, RAdam.defaults(lr, b1, b2, or(eps, 1e-8), 0));
            case "rmsprop" -> new RMSprop(groups, RMSprop.defaults(lr, 0.9, or(eps, 1e-8), 0, momentum));
            case "rmsproptf" -> new RMSpropTF(groups, RMSpropTF.defaults(lr, 0.9, or(eps, 1e-10), 0, momentum));
            case "lamb" -> new Lamb(groups, Lamb.defaults(lr, b1, b2, or(eps, 1e-6), 0), 1.0);
            case "lars" -> new Lars(groups, Lars.defaults(lr, momentum, 0, false, or(eps, 1e-8)));
            case "adabelief" -> new AdaBelief(groups, AdaBelief.defaults(lr, b1, b2, or(eps, 1e-16), 0));
            default -> throw new TrainException("--opt must be one of " + String.join(", ", NAMES) + ", got '" + name + "'");
        };
    }

    /** Whether the optimizer uses betas (timm's has_betas): --opt-betas with another one is an error. */
    static boolean hasBetas(String name) { return !List.of("sgd", "momentum", "rmsprop", "rmsproptf", "lars").contains(name); }

    /**
     * timm's train.py without --lr: lr = lrBase * (batch * accumSteps / lrBaseSize), the ratio
     * square-rooted when scale is "sqrt"; scale null means sqrt for the adaptive optimizers (a
     * name containing "ada", or "lamb") and linear otherwise.
     */
    static double baseLr(String opt, double lrBase, int lrBaseSize, String scale, int batchSize, int accumSteps) {
        double ratio = (double) batchSize * accumSteps / lrBaseSize;
        String s = scale != null ? scale : (opt.contains("ada") || opt.contains("lamb") ? "sqrt" : "linear");
        return lrBase * ("sqrt".equals(s) ? Math.sqrt(ratio) : ratio);
    }

    private static double or(Double v, double fallback) { return v != null ? v : fallback; }
}
