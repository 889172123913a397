package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;
import java.util.List;

/**
 * RandAugment (Cubuk et al., 2020) as timm: {@code layers} ops drawn uniformly with replacement
 * from {@code ops}, or, with {@code weights}, drawn in proportion to them without replacement
 * (timm's weighted op set); each applied with its own probability, on the 8-bit image.
 */
public record RandAugment(List<AugmentOp> ops, int layers, double[] weights) implements Transform {
    public RandAugment {
        ops = List.copyOf(ops);
        if (ops.isEmpty() || layers < 0) throw new IllegalArgumentException("RandAugment: needs ops and layers >= 0, got " + ops.size() + ", " + layers);
        if (weights != null) {
            weights = weights.clone();
            long positive = java.util.Arrays.stream(weights).filter(w -> w > 0).count();
            if (weights.length != ops.size() || positive < layers) {
                throw new IllegalArgumentException("RandAugment: " + weights.length + " weights (" + positive + " positive) for " + ops.size()
                        + " ops and " + layers + " layers drawn without replacement");
            }
        }
    }

    public RandAugment(List<AugmentOp> ops, int layers) { this(ops, layers, null); }

    @Override
    public Image apply(Image img, Generator rng) {
        if (layers == 0) return img;
        Image8 b = Image8.of(img);
        for (AugmentOp op : choose(rng)) b = op.apply(b, rng);
        return b.toImage();
    }

    /** This image's ops: uniform with replacement, or weighted without replacement (numpy's choice, draw by draw). */
    List<AugmentOp> choose(Generator rng) {
        List<AugmentOp> out = new java.util.ArrayList<>(layers);
        if (weights == null) {
            for (int i = 0; i < layers; i++) out.add(ops.get(rng.nextInt(ops.size())));
            return out;
        }
        double[] w = weights.clone();
        for (int i = 0; i < layers; i++) {
            double total = 0;
            for (double v : w) total += v;
            double u = rng.nextUniform() * total, acc = 0;
            int k = -1;
            for (int j = 0; j < w.length; j++) {
                if (w[j] <= 0) continue;
                k = j; // the last positive weight so far: the pick if rounding leaves u at the top
                acc += w[j];
                if (u < acc) break;
            }
            out.add(ops.get(k));
            w[k] = 0;
        }
        return out;
    }

    @Override
    public String toString() {
        AugmentOp first = ops.getFirst();
        return "RandAugment(n=" + layers + ", m=" + first.magnitude() + ", p=" + first.prob() + ", mstd=" + first.hp().magnitudeStd()
                + ", " + ops.size() + (weights == null ? " ops)" : " weighted ops)");
    }
}
