package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;
import java.util.List;

/**
 * RandAugment (Cubuk et al., 2020) as timm: {@code layers} ops drawn uniformly with replacement
 * from {@code ops}, each applied with its own probability, on the 8-bit image.
 */
public record RandAugment(List<AugmentOp> ops, int layers) implements Transform {
    public RandAugment {
        ops = List.copyOf(ops);
        if (ops.isEmpty() || layers < 0) throw new IllegalArgumentException("RandAugment: needs ops and layers >= 0, got " + ops.size() + ", " + layers);
    }

    @Override
    public Image apply(Image img, Generator rng) {
        if (layers == 0) return img;
        Image8 b = Image8.of(img);
        for (int i = 0; i < layers; i++) b = choose(rng).apply(b, rng);
        return b.toImage();
    }

    /** One op, uniform over the list (timm draws the layers with replacement). */
    AugmentOp choose(Generator rng) { return ops.get(rng.nextInt(ops.size())); }

    @Override
    public String toString() {
        AugmentOp first = ops.getFirst();
        return "RandAugment(n=" + layers + ", m=" + first.magnitude() + ", p=" + first.prob() + ", mstd=" + first.hp().magnitudeStd()
                + ", " + ops.size() + " ops)";
    }
}
