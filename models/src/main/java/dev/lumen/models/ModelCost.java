package dev.lumen.models;

import dev.lumen.tensor.ShapeOnly;

/**
 * A registered model's parameter count and the MACs of one forward (batch 1), measured on a
 * shape-only build ({@link ShapeOnly}): no weight is allocated or initialized and the forward
 * computes nothing, so the largest model takes milliseconds. The counts are those of the built
 * model (ModelCostTest checks it).
 *
 * @param macs the MACs, or -1 when not asked for
 */
public record ModelCost(String name, long parameters, long macs, int imgSize) {
    /** The cost of name with its default options at its default input size; macs false skips the forward. */
    public static ModelCost of(String name, boolean macs) {
        return of(name, ModelOptions.defaults(), macs);
    }

    /** The cost of name built with options (its input size: options' imgSize, else the model's default). */
    public static ModelCost of(String name, ModelOptions options, boolean macs) {
        try (ShapeOnly shapes = ShapeOnly.enter()) {
            return measure(name, options, macs);
        }
    }

    /** The same counts from a model built with its weights (slow for large models; for tests). */
    static ModelCost measure(String name, ModelOptions options, boolean macs) {
        int size = options.imgSize() > 0 ? options.imgSize() : ModelRegistry.entry(name).variant().defaultImgSize();
        try (ImageClassifier m = ModelRegistry.create(name, options)) {
            long params = m.numParameters();
            long n = macs ? MacCounter.count(m, 1, options.inChannels(), size, size) : -1;
            return new ModelCost(name, params, n, size);
        }
    }
}
