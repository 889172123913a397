package dev.lumen.app.data;

import dev.lumen.tensor.Generator;

/** Random draws on a {@link Generator} with numpy / Python random semantics. */
public final class Draws {
    private Draws() {}

    /** Uniform in [lo, hi), as random.uniform / np.random.uniform. */
    public static double uniform(Generator g, double lo, double hi) { return lo + (hi - lo) * g.nextUniform(); }

    /** Integer in [lo, hiExclusive), as np.random.randint / torch.randint; lo when the range is empty. */
    public static int randint(Generator g, int lo, int hiExclusive) {
        if (hiExclusive <= lo) return lo;
        return lo + Math.min(g.nextInt(hiExclusive - lo), hiExclusive - lo - 1);
    }

    /** Gamma(shape, 1) by Marsaglia and Tsang, boosted for shape &lt; 1. */
    public static double gamma(Generator g, double shape) {
        if (!(shape > 0)) throw new IllegalArgumentException("gamma: shape must be > 0, got " + shape);
        if (shape < 1) return gamma(g, shape + 1) * Math.pow(1.0 - g.nextUniform(), 1.0 / shape);
        double d = shape - 1.0 / 3, c = 1.0 / Math.sqrt(9 * d);
        while (true) {
            double x = g.nextNormal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1.0 - g.nextUniform();
            if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
        }
    }

    /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
    public static double beta(Generator g, double a, double b) {
        double x = gamma(g, a), y = gamma(g, b);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /**
     * A generator for one sample's augmentation, a pure function of (seed, epoch, index): the same
     * sample gets the same random view in the same epoch whichever thread or order decodes it.
     */
    public static Generator forSample(long seed, int epoch, int index) {
        return new Generator(Generator.bits(Generator.bits(seed ^ 0x6C756D656E4C4FL, epoch), index));
    }

    /** A generator for epoch-level draws (the shuffle), a pure function of (seed, epoch). */
    public static Generator forEpoch(long seed, int epoch) {
        return new Generator(Generator.bits(seed ^ 0x5348554646L, epoch));
    }
}
