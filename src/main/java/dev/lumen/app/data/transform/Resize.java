package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * Resize (antialiased when shrinking, as PIL; bilinear unless told), as torchvision's Resize:
 * either to an exact height x width, or with the shorter side to {@code size} keeping the aspect
 * ratio. RANDOM picks bilinear or bicubic per image, as timm.
 */
public record Resize(int height, int width, boolean shorterSide, Interpolation filter) implements Transform {
    public Resize {
        if (height < 1 || width < 1) throw new IllegalArgumentException("Resize: bad size " + height + "x" + width);
    }

    public static Resize to(int height, int width) { return new Resize(height, width, false, Interpolation.BILINEAR); }

    /** Shorter side to size; the longer becomes int(size * long / short), as torchvision. */
    public static Resize shorterSide(int size) { return new Resize(size, size, true, Interpolation.BILINEAR); }

    public Resize with(Interpolation f) { return new Resize(height, width, shorterSide, f); }

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
        return oh == h && ow == w ? img : ImageOps.resize(img, oh, ow, filter.pick(rng));
    }

    @Override
    public String toString() {
        String f = filter == Interpolation.BILINEAR ? "" : ", " + filter.timmName();
        return shorterSide ? "Resize(shorter side " + height + f + ")" : "Resize(" + height + "x" + width + f + ")";
    }
}
