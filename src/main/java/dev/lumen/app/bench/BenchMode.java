package dev.lumen.app.bench;

import java.util.List;
import java.util.Locale;

/**
 * What a benchmark step is, as timm's benchmark.py: TRAIN is forward, cross-entropy, backward
 * and an AdamW step; INFERENCE is the forward pass in eval mode without autograd.
 */
public enum BenchMode {
    TRAIN, INFERENCE;

    /** The name in the CSV and on the command line. */
    public String label() { return name().toLowerCase(Locale.ROOT); }

    /** --bench train, inference (or infer) or both. */
    public static List<BenchMode> parse(String s) {
        return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
            case "train" -> List.of(TRAIN);
            case "inference", "infer" -> List.of(INFERENCE);
            case "both" -> List.of(TRAIN, INFERENCE);
            default -> throw new IllegalArgumentException("--bench must be train, inference or both, got '" + s + "'");
        };
    }
}
