package dev.lumen.app.data.transform;

import dev.lumen.tensor.Generator;

/**
 * One op of a policy, as timm's AugmentOp: applied with probability {@code prob} at magnitude
 * {@code magnitude}, plus Gaussian noise of std hp.magnitudeStd (uniform in [0, m] when the std is
 * infinite), clamped to [0, hp.magnitudeMax].
 */
public record AugmentOp(AugmentKind kind, double prob, double magnitude, AugmentParams hp) {
    public AugmentOp {
        if (!(prob >= 0 && prob <= 1) || !(magnitude >= 0)) {
            throw new IllegalArgumentException("augment op " + kind + ": probability must be in [0, 1] and magnitude >= 0, got "
                    + prob + ", " + magnitude);
        }
    }

    /** The magnitude this call uses. */
    public double sampleMagnitude(Generator rng) {
        double m = magnitude;
        if (hp.magnitudeStd() == Double.POSITIVE_INFINITY) m = magnitude * rng.nextUniform();
        else if (hp.magnitudeStd() > 0) m = magnitude + hp.magnitudeStd() * rng.nextNormal();
        return Math.max(0, Math.min(m, hp.magnitudeMax()));
    }

    public Image8 apply(Image8 img, Generator rng) {
        if (prob < 1 && rng.nextUniform() > prob) return img;
        double level = sampleMagnitude(rng);
        return kind.apply(img, kind.argument(level, hp, rng), hp, rng);
    }

    @Override
    public String toString() { return kind + "(p=" + prob + ", m=" + magnitude + ")"; }
}
