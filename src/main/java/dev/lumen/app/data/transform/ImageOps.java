package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;

/** The geometric primitives the transforms share: crop with zero padding, flip, and resampling. */
public final class ImageOps {
    private ImageOps() {}

    /** The h x w window at (top, left); parts outside the image are 0 (so negative offsets pad). */
    public static Image crop(Image src, int top, int left, int h, int w) {
        if (h < 1 || w < 1) throw new IllegalArgumentException("crop: empty window " + h + "x" + w);
        if (top == 0 && left == 0 && h == src.height() && w == src.width()) return src;
        int c = src.channels(), sh = src.height(), sw = src.width();
        float[] out = new float[c * h * w];
        int x0 = Math.max(0, -left), x1 = Math.min(w, sw - left);
        if (x1 > x0) {
            for (int ch = 0; ch < c; ch++) {
                for (int y = Math.max(0, -top); y < Math.min(h, sh - top); y++) {
                    System.arraycopy(src.data(), (ch * sh + y + top) * sw + left + x0, out, (ch * h + y) * w + x0, x1 - x0);
                }
            }
        }
        return new Image(c, h, w, out);
    }

    /** Zero padding of p pixels on every side. */
    public static Image pad(Image src, int p) {
        return p == 0 ? src : crop(src, -p, -p, src.height() + 2 * p, src.width() + 2 * p);
    }

    public static Image hflip(Image src) {
        int c = src.channels(), h = src.height(), w = src.width();
        float[] in = src.data(), out = new float[in.length];
        for (int row = 0; row < c * h; row++) {
            int base = row * w;
            for (int x = 0; x < w; x++) out[base + x] = in[base + w - 1 - x];
        }
        return new Image(c, h, w, out);
    }

    /** Mirrors the image top-bottom. */
    public static Image vflip(Image src) {
        int c = src.channels(), h = src.height(), w = src.width();
        float[] in = src.data(), out = new float[in.length];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) System.arraycopy(in, (ch * h + y) * w, out, (ch * h + h - 1 - y) * w, w);
        }
        return new Image(c, h, w, out);
    }

    /** Bilinear resize of the whole image (see {@link #resizedCrop}). */
    public static Image resize(Image src, int outH, int outW) {
        return resizedCrop(src, 0, 0, src.height(), src.width(), outH, outW);
    }

    /** Resize of the whole image with the given filter (see {@link #resizedCrop}). */
    public static Image resize(Image src, int outH, int outW, Interpolation filter) {
        return resizedCrop(src, 0, 0, src.height(), src.width(), outH, outW, filter);
    }

    public static Image resizedCrop(Image src, int top, int left, int h, int w, int outH, int outW) {
        return resizedCrop(src, top, left, h, w, outH, outW, Interpolation.BILINEAR);
    }

    /**
     * The h x w window at (top, left), which must lie inside the image, resized to outH x outW
     * with PIL's bilinear filter: a triangle kernel over half-pixel centres (align_corners=False)
     * whose support widens by the scale factor when shrinking, so downscaling averages every
     * source pixel (antialias) instead of skipping rows. Upscaling is plain bilinear interpolation.
     * BICUBIC is PIL's cubic (a = -0.5, support 2, widened alike) with the result clipped to
     * [0, 1] as PIL clips 8-bit values; NEAREST takes the pixel under each output centre, as
     * PIL's nearest resize (an affine scale).
     */
    public static Image resizedCrop(Image src, int top, int left, int h, int w, int outH, int outW, Interpolation filter) {
        if (outH < 1 || outW < 1) throw new IllegalArgumentException("resize: bad output size " + outH + "x" + outW);
        if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > src.height() || left + w > src.width()) {
            throw new IllegalArgumentException("resize: window " + h + "x" + w + " at (" + top + ", " + left
                    + ") is outside the " + src.height() + "x" + src.width() + " image");
        }
        if (h == outH && w == outW) return crop(src, top, left, h, w);
        if (filter == Interpolation.NEAREST) return nearest(src, top, left, h, w, outH, outW);
        if (filter != Interpolation.BILINEAR && filter != Interpolation.BICUBIC) {
            throw new IllegalArgumentException("resize: pick a concrete filter, not " + filter);
        }
        boolean cubic = filter == Interpolation.BICUBIC;
        int c = src.channels(), sw = src.width(), sh = src.height();
        Kernel kx = Kernel.of(w, outW, cubic), ky = Kernel.of(h, outH, cubic);
        float[] in = src.data();
        float[] tmp = new float[c * h * outW];
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                int srcRow = (ch * sh + top + y) * sw + left, dstRow = (ch * h + y) * outW;
                for (int ox = 0; ox < outW; ox++) {
                    int s = kx.start[ox], n = kx.count[ox], wo = ox * kx.stride;
                    double acc = 0;
                    for (int k = 0; k < n; k++) acc += kx.w[wo + k] * in[srcRow + s + k];
                    tmp[dstRow + ox] = (float) acc;
                }
            }
        }
        float[] out = new float[c * outH * outW];
        for (int ch = 0; ch < c; ch++) {
            for (int oy = 0; oy < outH; oy++) {
                int s = ky.start[oy], n = ky.count[oy], wo = oy * ky.stride, dstRow = (ch * outH + oy) * outW;
                for (int k = 0; k < n; k++) {
                    float wk = ky.w[wo + k];
                    int srcRow = (ch * h + s + k) * outW;
                    for (int ox = 0; ox < outW; ox++) out[dstRow + ox] += wk * tmp[srcRow + ox];
                }
            }
        }
        if (cubic) for (int i = 0; i < out.length; i++) out[i] = Math.max(0f, Math.min(1f, out[i]));
        return new Image(c, outH, outW, out);
    }

    /** PIL's nearest resize of a box: source index floor(box origin + (i + 0.5) scale), accumulated as PIL does. */
    private static Image nearest(Image src, int top, int left, int h, int w, int outH, int outW) {
        int c = src.channels(), sh = src.height(), sw = src.width();
        double sx = (double) w / outW, sy = (double) h / outH;
        int[] xs = new int[outW], ys = new int[outH];
        double xo = left + sx * 0.5, yo = top + sy * 0.5;
        for (int i = 0; i < outW; i++, xo += sx) xs[i] = Math.min((int) xo, sw - 1);
        for (int i = 0; i < outH; i++, yo += sy) ys[i] = Math.min((int) yo, sh - 1);
        float[] in = src.data(), out = new float[c * outH * outW];
        for (int ch = 0; ch < c; ch++) {
            for (int oy = 0; oy < outH; oy++) {
                int srcRow = (ch * sh + ys[oy]) * sw, dstRow = (ch * outH + oy) * outW;
                for (int ox = 0; ox < outW; ox++) out[dstRow + ox] = in[srcRow + xs[ox]];
            }
        }
        return new Image(c, outH, outW, out);
    }

    /** Per output index: the first input index, the tap count, and normalised weights. */
    private record Kernel(int[] start, int[] count, float[] w, int stride) {
        static Kernel of(int inLen, int outLen, boolean cubic) {
            double scale = (double) inLen / outLen;
            double filterScale = Math.max(scale, 1.0);
            double support = (cubic ? 2 : 1) * filterScale; // the filter's support, widened when shrinking
            int stride = (int) Math.ceil(support) * 2 + 1;
            int[] start = new int[outLen], count = new int[outLen];
            float[] w = new float[outLen * stride];
            for (int i = 0; i < outLen; i++) {
                double center = (i + 0.5) * scale;
                int lo = Math.max((int) (center - support + 0.5), 0);
                int n = Math.min((int) (center + support + 0.5), inLen) - lo;
                double total = 0;
                double[] tap = new double[n];
                for (int k = 0; k < n; k++) {
                    double t = Math.abs((k + lo - center + 0.5) / filterScale);
                    tap[k] = cubic ? cubic(t) : t < 1 ? 1 - t : 0;
                    total += tap[k];
                }
                for (int k = 0; k < n; k++) w[i * stride + k] = (float) (tap[k] / total);
                start[i] = lo;
                count[i] = n;
            }
            return new Kernel(start, count, w, stride);
        }

        /** PIL's bicubic filter, a = -0.5. */
        private static double cubic(double x) {
            double a = -0.5;
            if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
            if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
            return 0;
        }
    }
}
