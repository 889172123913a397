package dev.lumen.app.train;

import java.util.List;
import java.util.Locale;

/**
 * --eval-metric, as timm's: the validation number that picks the best checkpoint, read from the
 * EMA's columns when an EMA is kept (timm validates the EMA and ranks by it), else the model's.
 * Accuracies rise, the loss falls.
 */
public final class EvalMetric {
    public static final List<String> NAMES = List.of("top1", "top5", "loss");

    private EvalMetric() {}

    /** The metric of an epoch on the weights that rank it. */
    public static double of(EpochRecord r, String name) {
        boolean ema = r.hasEma();
        return switch (name) {
            case "top1" -> ema ? r.emaValTop1() : r.valTop1();
            case "top5" -> ema ? r.emaValTop5() : r.valTop5();
            case "loss" -> ema ? r.emaValLoss() : r.valLoss();
            default -> throw new IllegalArgumentException("--eval-metric must be one of " + String.join(", ", NAMES) + ", got '" + name + "'");
        };
    }

    /** True when value beats best (any number beats NaN, the "none yet"). */
    public static boolean better(String name, double value, double best) {
        if (Double.isNaN(value)) return false;
        if (Double.isNaN(best)) return true;
        return "loss".equals(name) ? value < best : value > best;
    }

    /** "91.23%" for accuracies, "0.2543" for the loss. */
    public static String format(String name, double value) {
        if (Double.isNaN(value)) return "n/a";
        return "loss".equals(name) ? String.format(Locale.ROOT, "%.4f", value) : String.format(Locale.ROOT, "%.2f%%", value);
    }
}
