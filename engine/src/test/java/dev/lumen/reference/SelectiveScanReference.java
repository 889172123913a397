package dev.lumen.reference;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;

/**
 * The selective 2-D scan (VMamba SS2D core) in plain loops with double accumulation, written
 * to be obviously right; the fast CPU op and the CUDA kernels are tested against it.
 * Semantics as in {@link dev.lumen.backend.SelectiveScanKernels}: for each batch b, route k
 * and channel d, a sequential scan over l = 0..L-1 of the route's positions, keeping every
 * state so that the backward is a plain reverse sweep.
 */
public final class SelectiveScanReference {
    private SelectiveScanReference() {}

    public static final int K = 4;

    /** Gradients of every input, F64, in the inputs' shapes. */
    public record Grads(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias) {}

    /** The flat (h*W + w) position visited at step l of route k. */
    public static int position(int k, int l, int h, int w) {
        int len = h * w;
        int m = k >= 2 ? len - 1 - l : l;
        if (k % 2 == 0) return m;
        int row = m % h, col = m / h;
        return row * w + col;
    }

    /** torch.nn.functional.softplus with its default threshold 20. */
    public static double softplus(double z) { return z > 20 ? z : Math.log1p(Math.exp(z)); }

    private static double softplusGrad(double z) { return z > 20 ? 1 : 1 / (1 + Math.exp(-z)); }

    /** Output [B,D,H,W] in F64. */
    public static Tensor forward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias) {
        return run(x, delta, a, b, c, dSkip, deltaBias, null).out;
    }

    /** All input gradients for the upstream gradient gradOut [B,D,H,W]. */
    public static Grads backward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor deltaBias,
                                 Tensor gradOut) {
        return run(x, delta, a, b, c, dSkip, deltaBias, gradOut).grads;
    }

    private record Result(Tensor out, Grads grads) {}

    private static Result run(Tensor xt, Tensor deltat, Tensor at, Tensor bt, Tensor ct, Tensor dt, Tensor biast, Tensor got) {
        int nb = xt.shape(0), nd = xt.shape(1), h = xt.shape(2), w = xt.shape(3), len = h * w, n = bt.shape(2);
        double[] x = xt.toDoubles(), delta = deltat.toDoubles(), a = at.toDoubles(), bm = bt.toDoubles(), cm = ct.toDoubles();
        double[] dskip = dt.toDoubles(), bias = biast.toDoubles();
        double[] out = new double[nb * nd * len];
        double[] go = got == null ? null : got.toDoubles();
        double[] gx = new double[x.length], gdelta = new double[delta.length], ga = new double[a.length];
        double[] gb = new double[bm.length], gc = new double[cm.length], gd = new double[dskip.length], gbias = new double[bias.length];
        double[][] s = new double[len + 1][n]; // s[l + 1] = state after step l; s[0] = 0
        for (int bi = 0; bi < nb; bi++) {
            for (int k = 0; k < K; k++) {
                for (int d = 0; d < nd; d++) {
                    int kd = k * nd + d;
                    int xRow = (bi * nd + d) * len;
                    int dRow = ((bi * K + k) * nd + d) * len;
                    int bcRow = (bi * K + k) * n * len;
                    for (int l = 0; l < len; l++) {
                        double z = delta[dRow + l] + bias[kd];
                        double step = softplus(z);
                        double u = x[xRow + position(k, l, h, w)];
                        double y = dskip[kd] * u;
                        for (int j = 0; j < n; j++) {
                            s[l + 1][j] = Math.exp(step * a[kd * n + j]) * s[l][j] + step * bm[bcRow + j * len + l] * u;
                            y += cm[bcRow + j * len + l] * s[l + 1][j];
                        }
                        out[xRow + position(k, l, h, w)] += y;
                    }
                    if (go == null) continue;
                    double[] gs = new double[n]; // dL/d(state after step l), summed from later steps
                    for (int l = len - 1; l >= 0; l--) {
                        int pos = position(k, l, h, w);
                        double gy = go[xRow + pos];
                        double z = delta[dRow + l] + bias[kd];
                        double step = softplus(z);
                        double u = x[xRow + pos];
                        double gstep = 0, gu = gy * dskip[kd];
                        gd[kd] += gy * u;
                        for (int j = 0; j < n; j++) {
                            double decay = Math.exp(step * a[kd * n + j]);
                            double bj = bm[bcRow + j * len + l];
                            gc[bcRow + j * len + l] += gy * s[l + 1][j];
                            gs[j] += gy * cm[bcRow + j * len + l];
                            // s[l+1] = decay * s[l] + step * bj * u
                            gstep += gs[j] * (a[kd * n + j] * decay * s[l][j] + bj * u);
                            ga[kd * n + j] += gs[j] * step * decay * s[l][j];
                            gb[bcRow + j * len + l] += gs[j] * step * u;
                            gu += gs[j] * step * bj;
                            gs[j] *= decay;
                        }
                        double gz = gstep * softplusGrad(z);
                        gdelta[dRow + l] = gz;
                        gbias[kd] += gz;
                        gx[xRow + pos] += gu;
                    }
                }
            }
        }
        Tensor outT = Tensor.fromDoubles(out, DType.F64, xt.shape());
        if (go == null) return new Result(outT, null);
        return new Result(outT, new Grads(Tensor.fromDoubles(gx, DType.F64, xt.shape()),
                Tensor.fromDoubles(gdelta, DType.F64, deltat.shape()), Tensor.fromDoubles(ga, DType.F64, at.shape()),
                Tensor.fromDoubles(gb, DType.F64, bt.shape()), Tensor.fromDoubles(gc, DType.F64, ct.shape()),
                Tensor.fromDoubles(gd, DType.F64, dt.shape()), Tensor.fromDoubles(gbias, DType.F64, biast.shape())));
    }
}
