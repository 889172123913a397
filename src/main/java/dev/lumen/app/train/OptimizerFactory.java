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
        double[] b = betas != null ? betas : DEFAULT_BETAS;
        double e = eps != null ? eps : hasEps(name) ? defaultEps(name) : 0;
        return switch (name) {
            case "sgd" -> new SGD(groups, SGD.defaults(lr, momentum, 0, 0, true));
            case "momentum" -> new SGD(groups, SGD.defaults(lr, momentum, 0, 0, false));
            case "adam" -> new Adam(groups, Adam.defaults(lr, b[0], b[1], e, 0, false));
            case "adamw" -> new AdamW(groups, Adam.defaults(lr, b[0], b[1], e, 0, false));
            case "nadam" -> new NAdam(groups, NAdam.defaults(lr, b[0], b[1], e, 0));
            case "radam" -> new RAdam(groups, RAdam.defaults(lr, b[0], b[1], e, 0));
            case "rmsprop" -> new RMSprop(groups, RMSprop.defaults(lr, 0.9, e, 0, momentum));
            case "rmsproptf" -> new RMSpropTF(groups, RMSpropTF.defaults(lr, 0.9, e, 0, momentum));
            case "lamb" -> new Lamb(groups, Lamb.defaults(lr, b[0], b[1], e, 0), 1.0);
            case "lars" -> new Lars(groups, Lars.defaults(lr, momentum, 0, false, e));
            case "adabelief" -> new AdaBelief(groups, AdaBelief.defaults(lr, b[0], b[1], e, 0));
            default -> throw new TrainException("--opt must be one of " + String.join(", ", NAMES) + ", got '" + name + "'");
        };
    }

    /** The betas of every optimizer that has them, unless --opt-betas: timm's and torch's (0.9, 0.999). */
    static final double[] DEFAULT_BETAS = {0.9, 0.999};

    /** Whether the optimizer has an eps (SGD has none). */
    static boolean hasEps(String name) { return !name.equals("sgd") && !name.equals("momentum"); }

    /** The optimizer class's own eps, which timm keeps unless --opt-eps is given. */
    static double defaultEps(String name) {
        return switch (name) {
            case "rmsproptf" -> 1e-10;
            case "lamb" -> 1e-6;
            case "adabelief" -> 1e-16;
            default -> 1e-8;
        };
    }

    /** timm's choice when --lr-base-scale is not given: sqrt for the adaptive optimizers (a name containing "ada", or "lamb"), else linear. */
    static String defaultLrBaseScale(String opt) { return opt.contains("ada") || opt.contains("lamb") ? "sqrt" : "linear"; }

    /** Whether the optimizer uses betas (timm's has_betas): --opt-betas with another one is an error. */
    static boolean hasBetas(String name) { return !List.of("sgd", "momentum", "rmsprop", "rmsproptf", "lars").contains(name); }

    /**
     * timm's train.py without --lr: lr = lrBase * (batch * accumSteps / lrBaseSize), the ratio
     * square-rooted when scale is "sqrt"; scale null means {@link #defaultLrBaseScale}.
     */
    static double baseLr(String opt, double lrBase, int lrBaseSize, String scale, int batchSize, int accumSteps) {
        double ratio = (double) batchSize * accumSteps / lrBaseSize;
        String s = scale != null ? scale : defaultLrBaseScale(opt);
        return lrBase * ("sqrt".equals(s) ? Math.sqrt(ratio) : ratio);
    }
}
