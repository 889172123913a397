package dev.lumen.models.volo;

import dev.lumen.ops.Elementwise;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * MixToken (Jiang et al., "All Tokens Matter: Token Labeling for Training Better Vision
 * Transformers", 2021): a CutMix done on the patch embeddings instead of the pixels. A box
 * of the token grid takes the embeddings of the batch in reverse order (sample i gets
 * sample B-1-i's tokens there); after the network the same box of the per-token logits is
 * flipped back, so every token's prediction lines up with its own sample's token labels.
 * The box follows the official rand_bbox: area fraction 1 - lam, lam ~ Beta(1, 1).
 */
public final class TokenMix {
    private TokenMix() {}

    /**
     * A box [x1, x2) x [y1, y2) on the token grid; x runs along the map's height (dim 1 of
     * [B, H, W, C]) and y along its width, as in the official code. Empty boxes mix nothing.
     */
    public record Box(int x1, int y1, int x2, int y2) {
        public Box {
            if (x1 < 0 || y1 < 0 || x2 < x1 || y2 < y1) throw new IllegalArgumentException("TokenMix.Box: bad box " + x1 + ", " + y1 + ", " + x2 + ", " + y2);
        }

        public boolean isEmpty() { return x2 == x1 || y2 == y1; }

        /** The fraction of a h x w grid the box covers (what the labels are mixed by). */
        public double area(int h, int w) { return (double) (x2 - x1) * (y2 - y1) / ((double) h * w); }
    }

    /**
     * The official rand_bbox on a grid of gridH x gridW tokens: cut sides int(side *
     * sqrt(1 - lam)), a uniform center, and the box clipped to the grid.
     */
    public static Box randomBox(Generator gen, double lam, int gridH, int gridW) {
        double cutRatio = Math.sqrt(1 - lam);
        int cutH = (int) (gridH * cutRatio), cutW = (int) (gridW * cutRatio);
        int cx = gen.nextInt(gridH), cy = gen.nextInt(gridW);
        return new Box(clip(cx - cutH / 2, gridH), clip(cy - cutW / 2, gridW), clip(cx + cutH / 2, gridH), clip(cy + cutW / 2, gridW));
    }

    /** A box with lam drawn from Beta(1, 1) (uniform), as VOLO's beta = 1. */
    public static Box randomBox(Generator gen, int gridH, int gridW) { return randomBox(gen, gen.nextUniform(), gridH, gridW); }

    private static int clip(int v, int hi) { return Math.max(0, Math.min(hi, v)); }

    /**
     * x [B, H, W, C] with the box, scaled by scale (token grid to this map), taken from the
     * batch in reverse order.
     */
    public static Tensor mix(Tensor x, Box box, int scale) {
        if (box.isEmpty()) return x;
        int h = x.shape(1), w = x.shape(2);
        float[] m = new float[h * w];
        for (int i = Math.min(h, scale * box.x1()); i < Math.min(h, scale * box.x2()); i++) {
            for (int j = Math.min(w, scale * box.y1()); j < Math.min(w, scale * box.y2()); j++) m[i * w + j] = 1;
        }
        Tensor mask = Elementwise.gt(Tensor.fromFloats(m, 1, h, w, 1).to(x.device()), 0.5);
        // where() rather than x + m * (flip - x): the copied values stay bit-exact, as the official slice assignment
        return Elementwise.where(mask, Shaping.flip(x, 0), x);
    }
}
