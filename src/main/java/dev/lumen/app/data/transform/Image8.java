package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;

/**
 * An image as 8-bit values (0..255) in CHW order: what PIL's "L" and "RGB" modes hold. The
 * AutoAugment / RandAugment ops work here so that their rounding and clipping are PIL's.
 */
public record Image8(int channels, int height, int width, int[] v) {
    public Image8 {
        if (v.length != channels * height * width) throw new IllegalArgumentException("Image8: " + v.length + " values for "
                + channels + "x" + height + "x" + width);
    }

    /** Each value clamped to [0, 1] and rounded to the nearest of 256 levels (as a uint8 photo holds it). */
    public static Image8 of(Image img) {
        float[] in = img.data();
        int[] out = new int[in.length];
        for (int i = 0; i < in.length; i++) out[i] = (int) Math.rint(Math.max(0f, Math.min(1f, in[i])) * 255.0);
        return new Image8(img.channels(), img.height(), img.width(), out);
    }

    /** Back to floats in [0, 1], as torchvision's ToTensor (v / 255). */
    public Image toImage() {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] / 255f;
        return new Image(channels, height, width, out);
    }

    public int planeSize() { return height * width; }

    public Image8 withValues(int[] values) { return new Image8(channels, height, width, values); }
}
