package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/** Mirrors the image left-right with probability p. */
public record RandomHorizontalFlip(double p) implements Transform {
    public RandomHorizontalFlip {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("RandomHorizontalFlip: p must be in [0, 1], got " + p);
    }

    @Override
    public Image apply(Image img, Generator rng) { return rng.nextUniform() < p ? ImageOps.hflip(img) : img; }
}
