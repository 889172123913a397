package dev.lumen.reference;

/**
 * The outlook attention core written the way VOLO defines it, with plain loops in double:
 * unfold v, softmax each row, multiply, fold. Obviously right rather than fast; for tests of
 * the CPU op and of the CUDA kernels.
 *
 * <p>v and out are [B,H,W,C] flat, logits [B,h,w,heads,k*k,k*k] flat, h = (H+2p-k)/s+1.
 */
public final class OutlookReference {
    private OutlookReference() {}

    /** The problem's sizes. */
    public record Shape(int batch, int height, int width, int channels, int heads, int k, int p, int s) {
        public int h() { return (height + 2 * p - k) / s + 1; }

        public int w() { return (width + 2 * p - k) / s + 1; }

        public int vSize() { return batch * height * width * channels; }

        public int logitsSize() { return batch * h() * w() * heads * k * k * k * k; }
    }

    /** Output, and the gradients for one upstream gradient (null when none was given). */
    public record Result(double[] out, double[] gradV, double[] gradLogits) {}

    public static Result run(Shape sh, double[] v, double[] logits, double scale, double[] gradOut) {
        int kk = sh.k * sh.k, hd = sh.channels / sh.heads;
        double[] out = new double[sh.vSize()];
        double[] gv = gradOut == null ? null : new double[sh.vSize()];
        double[] gl = gradOut == null ? null : new double[sh.logitsSize()];
        double[] vu = new double[kk * hd];   // unfolded window of one head: [j][c]
        double[] prob = new double[kk * kk]; // [i][j]
        for (int b = 0; b < sh.batch; b++)
            for (int ny = 0; ny < sh.h(); ny++)
                for (int nx = 0; nx < sh.w(); nx++)
                    for (int head = 0; head < sh.heads; head++) {
                        // unfold: window position j of anchor (ny, nx), zero outside the image
                        for (int j = 0; j < kk; j++) {
                            int y = ny * sh.s - sh.p + j / sh.k, x = nx * sh.s - sh.p + j % sh.k;
                            for (int c = 0; c < hd; c++) vu[j * hd + c] = inside(sh, y, x) ? v[pix(sh, b, y, x) + head * hd + c] : 0;
                        }
                        int row0 = ((((b * sh.h() + ny) * sh.w() + nx) * sh.heads) + head) * kk * kk;
                        for (int i = 0; i < kk; i++) {
                            double max = Double.NEGATIVE_INFINITY, sum = 0;
                            for (int j = 0; j < kk; j++) max = Math.max(max, scale * logits[row0 + i * kk + j]);
                            for (int j = 0; j < kk; j++) sum += Math.exp(scale * logits[row0 + i * kk + j] - max);
                            for (int j = 0; j < kk; j++) prob[i * kk + j] = Math.exp(scale * logits[row0 + i * kk + j] - max) / sum;
                        }
                        // (prob @ vu), folded: window position i goes to pixel anchor*s - p + i
                        for (int i = 0; i < kk; i++) {
                            int y = ny * sh.s - sh.p + i / sh.k, x = nx * sh.s - sh.p + i % sh.k;
                            if (!inside(sh, y, x)) continue;
                            int o = pix(sh, b, y, x) + head * hd;
                            for (int c = 0; c < hd; c++) {
                                double acc = 0;
                                for (int j = 0; j < kk; j++) acc += prob[i * kk + j] * vu[j * hd + c];
                                out[o + c] += acc;
                            }
                        }
                        if (gradOut == null) continue;
                        for (int i = 0; i < kk; i++) {
                            int y = ny * sh.s - sh.p + i / sh.k, x = nx * sh.s - sh.p + i % sh.k;
                            if (!inside(sh, y, x)) continue; // folded nowhere: zero gradient
                            int o = pix(sh, b, y, x) + head * hd;
                            double[] dp = new double[kk];
                            double dot = 0;
                            for (int j = 0; j < kk; j++) {
                                for (int c = 0; c < hd; c++) dp[j] += gradOut[o + c] * vu[j * hd + c];
                                dot += prob[i * kk + j] * dp[j];
                            }
                            for (int j = 0; j < kk; j++) {
                                gl[row0 + i * kk + j] = scale * prob[i * kk + j] * (dp[j] - dot);
                                int vy = ny * sh.s - sh.p + j / sh.k, vx = nx * sh.s - sh.p + j % sh.k;
                                if (!inside(sh, vy, vx)) continue;
                                for (int c = 0; c < hd; c++) gv[pix(sh, b, vy, vx) + head * hd + c] += prob[i * kk + j] * gradOut[o + c];
                            }
                        }
                    }
        return new Result(out, gv, gl);
    }

    private static boolean inside(Shape sh, int y, int x) { return y >= 0 && y < sh.height && x >= 0 && x < sh.width; }

    private static int pix(Shape sh, int b, int y, int x) { return ((b * sh.height + y) * sh.width + x) * sh.channels; }
}
