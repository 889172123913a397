package dev.lumen.reference;

/**
 * CAS-ViT's additive token mixer core, dwc(Phi_q(q) + Phi_k(k)) * v, written step by step as
 * the module does it, in double, keeping every intermediate; the backward runs the chain rule
 * back through the same steps (3x3 convs in scatter form). Obviously right rather than fast;
 * for tests of the CPU op and of the CUDA kernels. Arrays are flat NCHW.
 */
public final class AdditiveAttentionReference {
    private AdditiveAttentionReference() {}

    public record Shape(int batch, int channels, int height, int width) {
        public int size() { return batch * channels * height * width; }
    }

    /** One gate's parameters, PyTorch's shapes flattened: dw [C*9], spatial [C], channel [C*C] (out, in). */
    public record Gate(double[] dwWeight, double[] dwBias, double[] bnWeight, double[] bnBias, double[] runningMean,
                       double[] runningVar, double[] spatialWeight, double[] channelWeight) {}

    public record GateGrads(double[] input, double[] dwWeight, double[] dwBias, double[] bnWeight, double[] bnBias,
                            double[] spatialWeight, double[] channelWeight) {}

    /** The output, the batch statistics used (training) and, when an upstream gradient was given, every gradient. */
    public record Result(double[] out, double[][] batchMean, double[][] batchVar, double[] gradV, double[] gradDwcWeight,
                         double[] gradDwcBias, GateGrads gradQ, GateGrads gradK) {}

    public static Result run(Shape sh, double[] q, double[] k, double[] v, Gate gq, Gate gk, double[] dwcWeight,
                             double[] dwcBias, boolean training, double eps, double[] gradOut) {
        Branch bq = new Branch(sh, q, gq, training, eps), bk = new Branch(sh, k, gk, training, eps);
        int n = sh.size();
        double[] sum = new double[n];
        for (int i = 0; i < n; i++) sum[i] = bq.phi[i] + bk.phi[i];
        double[] d = conv(sh, sum, dwcWeight, dwcBias);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = d[i] * v[i];
        double[][] mean = {bq.mean, bk.mean}, var = {bq.var, bk.var};
        if (gradOut == null) return new Result(out, mean, var, null, null, null, null, null);
        double[] gv = new double[n], gd = new double[n];
        for (int i = 0; i < n; i++) {
            gv[i] = gradOut[i] * d[i];
            gd[i] = gradOut[i] * v[i];
        }
        double[] gw = new double[sh.channels * 9], gb = new double[sh.channels];
        double[] gsum = convBackward(sh, sum, dwcWeight, gd, gw, gb);
        return new Result(out, mean, var, gv, gw, gb, bq.backward(gsum), bk.backward(gsum));
    }

    /** Phi(t) = ChannelOperation(SpatialOperation(t)) with its intermediates. */
    private static final class Branch {
        final Shape sh;
        final Gate p;
        final boolean training;
        final double eps;
        final double[] t, u, mean, var, uhat, pre, s, x, m, g, phi;

        Branch(Shape sh, double[] t, Gate p, boolean training, double eps) {
            this.sh = sh;
            this.t = t;
            this.p = p;
            this.training = training;
            this.eps = eps;
            int B = sh.batch, C = sh.channels, HW = sh.height * sh.width, n = sh.size();
            u = conv(sh, t, p.dwWeight, p.dwBias);
            mean = new double[C];
            var = new double[C];
            for (int c = 0; c < C; c++) {
                if (training) {
                    for (int b = 0; b < B; b++) for (int i = 0; i < HW; i++) mean[c] += u[(b * C + c) * HW + i];
                    mean[c] /= B * HW;
                    for (int b = 0; b < B; b++) for (int i = 0; i < HW; i++) var[c] += Math.pow(u[(b * C + c) * HW + i] - mean[c], 2);
                    var[c] /= B * HW;
                } else {
                    mean[c] = p.runningMean[c];
                    var[c] = p.runningVar[c];
                }
            }
            uhat = new double[n];
            pre = new double[n];
            s = new double[B * HW];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        uhat[at] = (u[at] - mean[c]) / Math.sqrt(var[c] + eps);
                        pre[at] = p.bnWeight[c] * uhat[at] + p.bnBias[c];
                        s[b * HW + i] += p.spatialWeight[c] * Math.max(0, pre[at]); // the logit, made a gate below
                    }
            for (int i = 0; i < s.length; i++) s[i] = sigmoid(s[i]);
            x = new double[n];
            m = new double[B * C];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        x[at] = t[at] * s[b * HW + i];
                        m[b * C + c] += x[at] / HW;
                    }
            g = new double[B * C];
            for (int b = 0; b < B; b++)
                for (int co = 0; co < C; co++) {
                    double z = 0;
                    for (int ci = 0; ci < C; ci++) z += p.channelWeight[co * C + ci] * m[b * C + ci];
                    g[b * C + co] = sigmoid(z);
                }
            phi = new double[n];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) phi[(b * C + c) * HW + i] = x[(b * C + c) * HW + i] * g[b * C + c];
        }

        GateGrads backward(double[] gphi) {
            int B = sh.batch, C = sh.channels, HW = sh.height * sh.width, n = sh.size();
            double[] gx = new double[n], gg = new double[B * C];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        gx[at] = gphi[at] * g[b * C + c];
                        gg[b * C + c] += gphi[at] * x[at];
                    }
            double[] gWc = new double[C * C], gm = new double[B * C];
            for (int b = 0; b < B; b++)
                for (int co = 0; co < C; co++) {
                    double gz = gg[b * C + co] * g[b * C + co] * (1 - g[b * C + co]);
                    for (int ci = 0; ci < C; ci++) {
                        gWc[co * C + ci] += gz * m[b * C + ci];
                        gm[b * C + ci] += p.channelWeight[co * C + ci] * gz;
                    }
                }
            double[] gt = new double[n], gs = new double[B * HW];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        gx[at] += gm[b * C + c] / HW;
                        gt[at] = gx[at] * s[b * HW + i];
                        gs[b * HW + i] += gx[at] * t[at];
                    }
            double[] gw1 = new double[C], gpre = new double[n], ggamma = new double[C], gbeta = new double[C];
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        double gz = gs[b * HW + i] * s[b * HW + i] * (1 - s[b * HW + i]);
                        gw1[c] += gz * Math.max(0, pre[at]);
                        gpre[at] = pre[at] > 0 ? gz * p.spatialWeight[c] : 0;
                        ggamma[c] += gpre[at] * uhat[at];
                        gbeta[c] += gpre[at];
                    }
            double[] gu = new double[n];
            for (int c = 0; c < C; c++) {
                // BatchNorm: uhat = (u - mean)/std; with batch statistics mean and std depend on u too.
                double std = Math.sqrt(var[c] + eps), meanG = 0, meanGu = 0;
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        meanG += gpre[at] * p.bnWeight[c] / (B * HW);
                        meanGu += gpre[at] * p.bnWeight[c] * uhat[at] / (B * HW);
                    }
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < HW; i++) {
                        int at = (b * C + c) * HW + i;
                        double gh = gpre[at] * p.bnWeight[c];
                        gu[at] = training ? (gh - meanG - uhat[at] * meanGu) / std : gh / std;
                    }
            }
            double[] gdw = new double[C * 9], gdb = new double[C];
            double[] gtConv = convBackward(sh, t, p.dwWeight, gu, gdw, gdb);
            for (int i = 0; i < n; i++) gt[i] += gtConv[i];
            return new GateGrads(gt, gdw, gdb, ggamma, gbeta, gw1, gWc);
        }
    }

    private static double sigmoid(double z) { return 1 / (1 + Math.exp(-z)); }

    /** Depth-wise 3x3 conv, padding 1, with bias: out[b,c,y,x] = bias[c] + sum w[c,ky,kx] * in[b,c,y+ky-1,x+kx-1]. */
    static double[] conv(Shape sh, double[] in, double[] w, double[] bias) {
        int H = sh.height, W = sh.width, C = sh.channels;
        double[] out = new double[sh.size()];
        for (int b = 0; b < sh.batch; b++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        double acc = bias[c];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy >= 0 && yy < H && xx >= 0 && xx < W) acc += w[c * 9 + ky * 3 + kx] * in[((b * C + c) * H + yy) * W + xx];
                            }
                        out[((b * C + c) * H + y) * W + x] = acc;
                    }
        return out;
    }

    /** Backward of {@link #conv} by scattering each output gradient to the inputs and weights it came from; returns the input gradient. */
    static double[] convBackward(Shape sh, double[] in, double[] w, double[] gout, double[] gw, double[] gb) {
        int H = sh.height, W = sh.width, C = sh.channels;
        double[] gin = new double[sh.size()];
        for (int b = 0; b < sh.batch; b++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        double g = gout[((b * C + c) * H + y) * W + x];
                        gb[c] += g;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                int at = ((b * C + c) * H + yy) * W + xx;
                                gin[at] += w[c * 9 + ky * 3 + kx] * g;
                                gw[c * 9 + ky * 3 + kx] += in[at] * g;
                            }
                    }
        return gin;
    }
}
