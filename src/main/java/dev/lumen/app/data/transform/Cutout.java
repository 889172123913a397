package dev.lumen.app.data.transform;

import dev.lumen.app.data.Draws;
import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * Cutout (DeVries and Taylor, 2017): zeroes {@code holes} squares of side {@code length} whose
 * centres are uniform over the image; squares are clipped at the border, so they may be smaller.
 * Placed after Normalize, as in the paper's code, zero is the mean colour.
 */
public record Cutout(int holes, int length) implements Transform {
    public Cutout {
        if (holes < 0 || length < 0) throw new IllegalArgumentException("Cutout: holes and length must be >= 0, got " + holes + ", " + length);
    }

    @Override
    public Image apply(Image img, Generator rng) {
        if (holes == 0 || length == 0) return img;
        int c = img.channels(), h = img.height(), w = img.width();
        float[] out = img.data().clone();
        for (int k = 0; k < holes; k++) {
            int cy = Draws.randint(rng, 0, h), cx = Draws.randint(rng, 0, w);
            int y1 = clamp(cy - length / 2, h), y2 = clamp(cy + length / 2, h);
            int x1 = clamp(cx - length / 2, w), x2 = clamp(cx + length / 2, w);
            for (int ch = 0; ch < c; ch++) {
                for (int y = y1; y < y2; y++) java.util.Arrays.fill(out, (ch * h + y) * w + x1, (ch * h + y) * w + x2, 0f);
            }
        }
        return new Image(c, h, w, out);
    }

    private static int clamp(int v, int hi) { return Math.max(0, Math.min(v, hi)); }
}
