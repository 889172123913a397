package dev.lumen.reference;

/**
 * Depth-wise 2-D convolution written to be obviously right: NCHW, weight [C, 1, K, K], plain
 * loops over every output and tap, double accumulation. For tests only.
 */
public final class DepthwiseConvReference {
    private DepthwiseConvReference() {}

    public static int outSize(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

    public static double[] forward(float[] x, float[] w, float[] bias, int n, int c, int h, int wd, int k, int stride, int pad) {
        int oh = outSize(h, k, stride, pad), ow = outSize(wd, k, stride, pad);
        double[] y = new double[n * c * oh * ow];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        double acc = bias == null ? 0 : bias[ch];
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                acc += (double) x[((b * c + ch) * h + iy) * wd + ix] * w[(ch * k + ky) * k + kx];
                            }
                        }
                        y[((b * c + ch) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        return y;
    }

    /** Gradients {dx, dw, dbias} for the upstream gradient go. */
    public static double[][] backward(float[] x, float[] w, float[] go, int n, int c, int h, int wd, int k, int stride, int pad) {
        int oh = outSize(h, k, stride, pad), ow = outSize(wd, k, stride, pad);
        double[] dx = new double[x.length], dw = new double[w.length], db = new double[c];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        double g = go[((b * c + ch) * oh + oy) * ow + ox];
                        db[ch] += g;
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                int xi = ((b * c + ch) * h + iy) * wd + ix, wi = (ch * k + ky) * k + kx;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                        }
                    }
                }
            }
        }
        return new double[][] {dx, dw, db};
    }
}
