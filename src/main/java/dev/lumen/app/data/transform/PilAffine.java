package dev.lumen.app.data.transform;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * PIL's Image.transform(size, AFFINE, a, resample, fillcolor) and Image.rotate on 8-bit images:
 * output pixel (x, y) samples the input at (a0 (x+.5) + a1 (y+.5) + a2, a3 (x+.5) + a4 (y+.5) + a5);
 * samples that fall outside the input take the fill colour. Bilinear and bicubic truncate to
 * 8 bits as PIL's C filters do (bicubic clips first); nearest uses PIL's 16.16 fixed point.
 */
public final class PilAffine {
    private PilAffine() {}

    public static Image8 shearX(Image8 img, double factor, Interpolation resample, int[] fill) {
        return transform(img, new double[] {1, factor, 0, 0, 1, 0}, resample, fill);
    }

    public static Image8 shearY(Image8 img, double factor, Interpolation resample, int[] fill) {
        return transform(img, new double[] {1, 0, 0, factor, 1, 0}, resample, fill);
    }

    /** Samples from x + pixels: a positive shift moves the content left, as PIL. */
    public static Image8 translateX(Image8 img, double pixels, Interpolation resample, int[] fill) {
        return transform(img, new double[] {1, 0, pixels, 0, 1, 0}, resample, fill);
    }

    public static Image8 translateY(Image8 img, double pixels, Interpolation resample, int[] fill) {
        return transform(img, new double[] {1, 0, 0, 0, 1, pixels}, resample, fill);
    }

    /** Image.rotate(degrees) about the centre, counter-clockwise, same size; 0 degrees is a copy. */
    public static Image8 rotate(Image8 img, double degrees, Interpolation resample, int[] fill) {
        double angle = degrees % 360.0;
        if (angle < 0) angle += 360.0; // Python's modulo takes the divisor's sign
        if (angle == 0) return img.withValues(img.v().clone());
        double cx = img.width() / 2.0, cy = img.height() / 2.0, rad = -Math.toRadians(angle);
        double[] m = {round15(Math.cos(rad)), round15(Math.sin(rad)), 0, round15(-Math.sin(rad)), round15(Math.cos(rad)), 0};
        m[2] = m[0] * -cx + m[1] * -cy + m[2] + cx;
        m[5] = m[3] * -cx + m[4] * -cy + m[5] + cy;
        return transform(img, m, resample, fill);
    }

    /** Python's round(v, 15), which Image.rotate applies to the matrix. */
    private static double round15(double v) { return new BigDecimal(v).setScale(15, RoundingMode.HALF_EVEN).doubleValue(); }

    public static Image8 transform(Image8 img, double[] a, Interpolation resample, int[] fill) {
        if (fill.length != img.channels()) throw new IllegalArgumentException("affine: " + fill.length + " fill values for "
                + img.channels() + " channels");
        int c = img.channels(), h = img.height(), w = img.width(), n = img.planeSize();
        int[] out = new int[img.v().length];
        for (int b = 0; b < c; b++) java.util.Arrays.fill(out, b * n, (b + 1) * n, fill[b]);
        switch (resample) {
            case NEAREST -> nearest(img, a, out);
            case BILINEAR, BICUBIC -> {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        double xin = a[0] * (x + 0.5) + a[1] * (y + 0.5) + a[2];
                        double yin = a[3] * (x + 0.5) + a[4] * (y + 0.5) + a[5];
                        if (xin < 0 || xin >= w || yin < 0 || yin >= h) continue;
                        for (int b = 0; b < c; b++) {
                            out[b * n + y * w + x] = resample == Interpolation.BILINEAR ? bilinear(img, b, xin, yin) : bicubic(img, b, xin, yin);
                        }
                    }
                }
            }
            default -> throw new IllegalArgumentException("affine: pick a concrete filter, not " + resample);
        }
        return img.withValues(out);
    }

    /** PIL's nearest paths: per-axis scaling (no shear) in doubles, otherwise 16.16 fixed point. */
    private static void nearest(Image8 img, double[] a, int[] out) {
        int c = img.channels(), h = img.height(), w = img.width(), n = img.planeSize();
        int[] in = img.v();
        if (a[1] == 0 && a[3] == 0) {
            int[] xin = new int[w];
            double xo = a[2] + a[0] * 0.5;
            for (int x = 0; x < w; x++, xo += a[0]) xin[x] = coord(xo);
            double yo = a[5] + a[4] * 0.5;
            for (int y = 0; y < h; y++, yo += a[4]) {
                int yi = coord(yo);
                if (yi < 0 || yi >= h) continue;
                for (int x = 0; x < w; x++) {
                    if (xin[x] < 0 || xin[x] >= w) continue;
                    for (int b = 0; b < c; b++) out[b * n + y * w + x] = in[b * n + yi * w + xin[x]];
                }
            }
            return;
        }
        int a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
        int a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
        for (int y = 0; y < h; y++, a2 += a1, a5 += a4) {
            int xx = a2, yy = a5;
            for (int x = 0; x < w; x++, xx += a0, yy += a3) {
                int xi = xx >> 16, yi = yy >> 16;
                if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
                for (int b = 0; b < c; b++) out[b * n + y * w + x] = in[b * n + yi * w + xi];
            }
        }
    }

    private static int coord(double v) { return v < 0 ? -1 : (int) v; }

    private static int fix(double v) { return (int) Math.floor(v * 65536.0 + 0.5); }

    private static int at(Image8 img, int b, int y, int x) {
        int h = img.height(), w = img.width();
        x = x < 0 ? 0 : Math.min(x, w - 1);
        y = y < 0 ? 0 : Math.min(y, h - 1);
        return img.v()[(b * h + y) * w + x];
    }

    private static int bilinear(Image8 img, int b, double xin, double yin) {
        xin -= 0.5;
        yin -= 0.5;
        int x = (int) Math.floor(xin), y = (int) Math.floor(yin);
        double dx = xin - x, dy = yin - y;
        double v1 = lerp(at(img, b, y, x), at(img, b, y, x + 1), dx);
        double v2 = y + 1 < img.height() ? lerp(at(img, b, y + 1, x), at(img, b, y + 1, x + 1), dx) : v1;
        return (int) lerp(v1, v2, dy);
    }

    private static double lerp(double a, double b, double d) { return a + (b - a) * d; }

    private static int bicubic(Image8 img, int b, double xin, double yin) {
        xin -= 0.5;
        yin -= 0.5;
        int x = (int) Math.floor(xin) - 1, y = (int) Math.floor(yin) - 1;
        double dx = xin - (x + 1), dy = yin - (y + 1);
        double[] rows = new double[4];
        for (int k = 0; k < 4; k++) {
            int yy = y + k;
            // PIL clamps the first row to the image and repeats the previous row past the bottom edge.
            if (k > 0 && (yy < 0 || yy >= img.height())) {
                rows[k] = rows[k - 1];
                continue;
            }
            rows[k] = cubic(at(img, b, yy, x), at(img, b, yy, x + 1), at(img, b, yy, x + 2), at(img, b, yy, x + 3), dx);
        }
        double v = cubic(rows[0], rows[1], rows[2], rows[3], dy);
        return v <= 0 ? 0 : v >= 255 ? 255 : (int) v;
    }

    /** PIL's cubic through four samples at offsets -1, 0, 1, 2 (the a = -1 convolution kernel). */
    private static double cubic(double v1, double v2, double v3, double v4, double d) {
        double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
        return p1 + d * (p2 + d * (p3 + d * p4));
    }
}
