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

    /** Bilinear resize of the whole image (see {@link #resizedCrop}). */
    public static Image resize(Image src, int outH, int outW) {
        return resizedCrop(src, 0, 0, src.height(), src.width(), outH, outW);
    }

    /**
     * The h x w window at (top, left), which must lie inside the image, resized to outH x outW
     * with PIL's bilinear filter: a triangle kernel over half-pixel centres (align_corners=False)
     * whose support widens by the scale factor when shrinking, so downscaling averages every
     * source pixel (antialias) instead of skipping rows. Upscaling is plain bilinear interpolation.
     */
    public static Image resizedCrop(Image src, int top, int left, int h, int w, int outH, int outW) {
        if (outH < 1 || outW < 1) throw new IllegalArgumentException("resize: bad output size " + outH + "x" + outW);
        if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > src.height() || left + w > src.width()) {
            throw new IllegalArgumentException("resize: window " + h + "x" + w + " at (" + top + ", " + left
                    + ") is outside the " + src.height() + "x" + src.width() + " image");
        }
        if (h == outH && w == outW) return crop(src, top, left, h, w);
        int c = src.channels(), sw = src.width(), sh = src.height();
        Kernel kx = Kernel.of(w, outW), ky = Kernel.of(h, outH);
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
        return new Image(c, outH, outW, out);
    }

    /** Per output index: the first input index, the tap count, and normalised weights. */
    private record Kernel(int[] start, int[] count, float[] w, int stride) {
        static Kernel of(int inLen, int outLen) {
            double scale = (double) inLen / outLen;
            double filterScale = Math.max(scale, 1.0);
            double support = filterScale; // the triangle filter's support is 1, widened when shrinking
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
                    tap[k] = t < 1 ? 1 - t : 0;
                    total += tap[k];
                }
                for (int k = 0; k < n; k++) w[i * stride + k] = (float) (tap[k] / total);
                start[i] = lo;
                count[i] = n;
            }
            return new Kernel(start, count, w, stride);
        }
    }
}
