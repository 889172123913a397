package dev.lumen.app.data.transform;

/**
 * PIL's ImageEnhance (Color, Contrast, Brightness, Sharpness) on 8-bit images: each blends the
 * image with a degenerate version by Image.blend(degenerate, image, factor), in single precision
 * and truncating as PIL's C code does.
 */
public final class PilEnhance {
    private PilEnhance() {}

    /** factor 0: grey, 1: unchanged. */
    public static Image8 color(Image8 img, double factor) {
        if (img.channels() == 1) return blend(img, img, factor);
        int[] grey = luma(img);
        int n = img.planeSize();
        int[] deg = new int[img.v().length];
        for (int b = 0; b < img.channels(); b++) System.arraycopy(grey, 0, deg, b * n, n);
        return blend(img.withValues(deg), img, factor);
    }

    /** factor 0: flat at the rounded mean grey level, 1: unchanged. */
    public static Image8 contrast(Image8 img, double factor) {
        int[] grey = img.channels() == 1 ? img.v() : luma(img);
        long sum = 0;
        for (int g : grey) sum += g;
        int mean = (int) ((double) sum / grey.length + 0.5);
        int[] deg = new int[img.v().length];
        java.util.Arrays.fill(deg, mean);
        return blend(img.withValues(deg), img, factor);
    }

    /** factor 0: black, 1: unchanged. */
    public static Image8 brightness(Image8 img, double factor) { return blend(img.withValues(new int[img.v().length]), img, factor); }

    /** factor 0: ImageFilter.SMOOTH, 1: unchanged, above 1: sharper. */
    public static Image8 sharpness(Image8 img, double factor) { return blend(smooth(img), img, factor); }

    /**
     * Image.blend(a, b, alpha): a + alpha (b - a) in float, truncated; outside [0, 1] alpha
     * extrapolates and the result is clipped to [0, 255].
     */
    static Image8 blend(Image8 a, Image8 b, double alpha) {
        float al = (float) alpha;
        int[] x = a.v(), y = b.v(), out = new int[x.length];
        boolean inside = al >= 0 && al <= 1;
        for (int i = 0; i < x.length; i++) {
            float t = (float) x[i] + al * (float) (y[i] - x[i]);
            out[i] = inside ? (int) t : t <= 0f ? 0 : t >= 255f ? 255 : (int) t;
        }
        return b.withValues(out);
    }

    /** PIL's RGB to L conversion: (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
    static int[] luma(Image8 img) {
        int n = img.planeSize();
        int[] v = img.v(), out = new int[n];
        for (int i = 0; i < n; i++) out[i] = (v[i] * 19595 + v[n + i] * 38470 + v[2 * n + i] * 7471 + 0x8000) >> 16;
        return out;
    }

    /**
     * ImageFilter.SMOOTH: the 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 in float, rounded; the
     * border pixels are copied unchanged, as PIL's 3x3 filter does.
     */
    static Image8 smooth(Image8 img) {
        int h = img.height(), w = img.width(), n = img.planeSize();
        int[] in = img.v(), out = in.clone();
        if (h < 3 || w < 3) return img.withValues(out);
        float k = 1f / 13f, c = 5f / 13f;
        for (int b = 0; b < img.channels(); b++) {
            int o = b * n;
            for (int y = 1; y < h - 1; y++) {
                for (int x = 1; x < w - 1; x++) {
                    int up = o + (y + 1) * w + x, mid = o + y * w + x, dn = o + (y - 1) * w + x;
                    float ss = 0f;
                    ss += (float) in[up - 1] * k + (float) in[up] * k + (float) in[up + 1] * k;
                    ss += (float) in[mid - 1] * k + (float) in[mid] * c + (float) in[mid + 1] * k;
                    ss += (float) in[dn - 1] * k + (float) in[dn] * k + (float) in[dn + 1] * k;
                    out[mid] = ss <= 0f ? 0 : ss >= 255f ? 255 : (int) (ss + 0.5f);
                }
            }
        }
        return img.withValues(out);
    }
}
