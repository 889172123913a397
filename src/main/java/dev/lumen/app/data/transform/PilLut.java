package dev.lumen.app.data.transform;

/**
 * PIL's per-band lookup-table ops (ImageOps.autocontrast, equalize, invert, posterize, solarize,
 * and timm's solarize_add) on 8-bit images, with PIL's integer arithmetic.
 */
public final class PilLut {
    private PilLut() {}

    public static Image8 invert(Image8 img) { return perBand(img, (band, i) -> 255 - i); }

    /** Keeps the top {@code bits} bits of every value (0 bits: black). */
    public static Image8 posterize(Image8 img, int bits) {
        if (bits < 0 || bits > 8) throw new IllegalArgumentException("posterize: bits must be in [0, 8], got " + bits);
        int mask = ~((1 << (8 - bits)) - 1);
        return perBand(img, (band, i) -> i & mask);
    }

    /** Inverts every value at or above the threshold. */
    public static Image8 solarize(Image8 img, int threshold) { return perBand(img, (band, i) -> i < threshold ? i : 255 - i); }

    /** timm's solarize_add: adds {@code add} (capped at 255) to every value below the threshold. */
    public static Image8 solarizeAdd(Image8 img, int add, int threshold) {
        return perBand(img, (band, i) -> i < threshold ? Math.min(255, i + add) : i);
    }

    /** Stretches each band's [lowest, highest] present value to [0, 255] (cutoff 0). */
    public static Image8 autocontrast(Image8 img) {
        int[][] hist = histograms(img);
        int[][] lut = new int[img.channels()][];
        for (int b = 0; b < lut.length; b++) {
            int[] h = hist[b];
            int lo = 0, hi = 255;
            while (lo < 255 && h[lo] == 0) lo++;
            while (hi > 0 && h[hi] == 0) hi--;
            lut[b] = identity();
            if (hi > lo) {
                double scale = 255.0 / (hi - lo), offset = -lo * scale;
                for (int i = 0; i < 256; i++) lut[b][i] = clamp8((int) (i * scale + offset));
            }
        }
        return apply(img, lut);
    }

    /** Histogram equalisation per band, as ImageOps.equalize: lut[i] = (step / 2 + count below i) / step. */
    public static Image8 equalize(Image8 img) {
        int[][] hist = histograms(img);
        int[][] lut = new int[img.channels()][];
        for (int b = 0; b < lut.length; b++) {
            int[] h = hist[b];
            lut[b] = identity();
            long total = 0;
            int present = 0, last = 0;
            for (int c : h) {
                if (c != 0) {
                    total += c;
                    present++;
                    last = c;
                }
            }
            if (present <= 1) continue;
            long step = (total - last) / 256;
            if (step == 0) continue;
            long n = step / 2;
            for (int i = 0; i < 256; i++) {
                lut[b][i] = clamp8((int) (n / step));
                n += h[i];
            }
        }
        return apply(img, lut);
    }

    /** 256-bin histograms, one per band. */
    static int[][] histograms(Image8 img) {
        int n = img.planeSize();
        int[][] h = new int[img.channels()][256];
        for (int b = 0; b < img.channels(); b++) for (int i = 0; i < n; i++) h[b][img.v()[b * n + i]]++;
        return h;
    }

    private interface Entry {
        int of(int band, int value);
    }

    private static Image8 perBand(Image8 img, Entry e) {
        int[][] lut = new int[img.channels()][256];
        for (int b = 0; b < lut.length; b++) for (int i = 0; i < 256; i++) lut[b][i] = e.of(b, i);
        return apply(img, lut);
    }

    private static Image8 apply(Image8 img, int[][] lut) {
        int n = img.planeSize();
        int[] in = img.v(), out = new int[in.length];
        for (int b = 0; b < img.channels(); b++) for (int i = b * n; i < (b + 1) * n; i++) out[i] = lut[b][in[i]];
        return img.withValues(out);
    }

    private static int[] identity() {
        int[] l = new int[256];
        for (int i = 0; i < 256; i++) l[i] = i;
        return l;
    }

    static int clamp8(int v) { return v < 0 ? 0 : Math.min(v, 255); }
}
