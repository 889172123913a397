package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/** Mirrors the image top-bottom with probability p (timm's --vflip). */
public record RandomVerticalFlip(double p) implements Transform {
    public RandomVerticalFlip {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("RandomVerticalFlip: p must be in [0, 1], got " + p);
    }

    @Override
    public Image apply(Image img, Generator rng) { return rng.nextUniform() < p ? ImageOps.vflip(img) : img; }
}
