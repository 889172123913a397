package dev.lumen.backend.cpu;

import dev.lumen.tensor.Tensor;

/**
 * The shapes of one outlook attention call and the index arithmetic of its windows, shared by
 * the F32 kernels ({@link CpuOutlookF32}) and the double ones ({@link CpuOutlook}).
 */
record CpuOutlookGeometry(int batch, int height, int width, int channels, int h, int w, int heads, int k, int p, int s,
                          long vBase, long lBase) {
    static CpuOutlookGeometry of(Tensor v, Tensor logits, int k, int p, int s) {
        int[] vs = v.shape(), ls = logits.shape();
        return new CpuOutlookGeometry(vs[0], vs[1], vs[2], vs[3], ls[1], ls[2], ls[3], k, p, s, v.offset(), logits.offset());
    }

    int kk() { return k * k; }

    int hd() { return channels / heads; }

    /** Element index of pixel (y, x) of image b in a [B,H,W,C] tensor, without its offset. */
    long pixel(int b, int y, int x) { return (((long) b * height + y) * width + x) * channels; }

    /** Element index of logits[b, ny, nx, head, i, 0], without its offset. */
    long row(int b, int ny, int nx, int head, int i) {
        return ((((long) b * h + ny) * w + nx) * heads + head) * kk() * kk() + (long) i * kk();
    }

    /** First anchor (along an axis of n anchors) whose window covers coordinate y. */
    int first(int y) { return Math.max(0, Math.ceilDiv(y + p - k + 1, s)); }

    int last(int y, int n) { return Math.min(n - 1, Math.floorDiv(y + p, s)); }

    /**
     * Window positions of anchor (ny, nx) that fall inside the image: their indices into idx and
     * the pixel index (offset base added) of each into off; returns how many.
     */
    int window(int b, int ny, int nx, long base, int[] idx, long[] off) {
        int n = 0;
        for (int jy = 0; jy < k; jy++) {
            int y = ny * s - p + jy;
            if (y < 0 || y >= height) continue;
            for (int jx = 0; jx < k; jx++) {
                int x = nx * s - p + jx;
                if (x < 0 || x >= width) continue;
                idx[n] = jy * k + jx;
                off[n++] = base + pixel(b, y, x);
            }
        }
        return n;
    }
}
