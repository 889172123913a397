package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * Bilinear resize (antialiased when shrinking, as PIL), as torchvision's Resize: either to an
 * exact height x width, or with the shorter side to {@code size} keeping the aspect ratio.
 */
public record Resize(int height, int width, boolean shorterSide) implements Transform {
    public Resize {
        if (height < 1 || width < 1) throw new IllegalArgumentException("Resize: bad size " + height + "x" + width);
    }

    public static Resize to(int height, int width) { return new Resize(height, width, false); }

    /** Shorter side to size; the longer becomes int(size * long / short), as torchvision. */
    public static Resize shorterSide(int size) { return new Resize(size, size, true); }

    @Override
    public Image apply(Image img, Generator rng) {
        int h = img.height(), w = img.width(), oh = height, ow = width;
        if (shorterSide) {
            int size = height;
            if ((w <= h && w == size) || (h <= w && h == size)) return img;
            if (w < h) {
                ow = size;
                oh = (int) ((long) size * h / w);
            } else {
                oh = size;
                ow = (int) ((long) size * w / h);
            }
        }
        return oh == h && ow == w ? img : ImageOps.resize(img, oh, ow);
    }

    @Override
    public String toString() { return shorterSide ? "Resize(shorter side " + height + ")" : "Resize(" + height + "x" + width + ")"; }
}
