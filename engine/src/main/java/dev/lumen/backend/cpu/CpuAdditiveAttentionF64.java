package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.Stencil3x3.conv;
import static dev.lumen.backend.cpu.Stencil3x3.convTranspose;
import static dev.lumen.backend.cpu.Stencil3x3.load;
import static dev.lumen.backend.cpu.Stencil3x3.loadPadded;
import static dev.lumen.backend.cpu.Stencil3x3.store;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * The double path of {@link CpuAdditiveAttention}, for F64 (the finite-difference checks) and the
 * 16-bit dtypes. Planes are staged in double arrays with a zero border ({@link Stencil3x3}), so
 * every dtype shares one code path, sums are in double, and the 3x3 convs of values made on the
 * fly (u of each gate, dwc of the gated sum) never go to memory.
 *
 * <p>Where the passes split: the spatial gate sums over channels at each pixel, the channel
 * mean sums over pixels of each channel, and BatchNorm sums over the batch, so each of them
 * ends a pass. Forward: [batch statistics, per channel] -> pass 1 [gates, per image row,
 * across channels] -> pass 2 [per (image, channel) plane]. Backward: B1 [per channel: dwc
 * backward, dv, dS = dPhi, the channel-gate sums] -> the tiny [B,C] channel-gate backward ->
 * B2 [per image row, across channels: the spatial-gate gradient dz] -> B3 [per channel, both
 * gates: BatchNorm backward with its batch sums, the dw conv backward, dq and dk]. Work that is
 * per channel runs over channels with the batch inside, so weight gradients need no second
 * reduction.
 */
final class CpuAdditiveAttentionF64 implements AdditiveAttentionKernels {

    /** Sizes of a [B,C,H,W] problem. */
    private record Dims(int b, int c, int h, int w) {
        static Dims of(Tensor t) {
            int[] s = t.shape();
            return new Dims(s[0], s[1], s[2], s[3]);
        }

        int hw() { return h * w; }

        /** Element index of plane (bi, ci), without the tensor's offset. */
        long plane(int bi, int ci) { return ((long) bi * c + ci) * hw(); }
    }

    /** A gate's parameters as double arrays, with BatchNorm folded to scale and shift. */
    private record GateParams(double[] dw, double[] dwBias, double[] gamma, double[] beta, double[] mean, double[] invStd,
                              double[] w1, double[] wc, double[] scale, double[] shift) {
        static GateParams of(Gate g) {
            double[] gamma = g.bnWeight().toDoubles(), beta = g.bnBias().toDoubles();
            double[] mean = g.bnMean().toDoubles(), inv = g.bnInvStd().toDoubles();
            double[] scale = new double[gamma.length], shift = new double[gamma.length];
            for (int c = 0; c < gamma.length; c++) {
                scale[c] = gamma[c] * inv[c];
                shift[c] = beta[c] - mean[c] * scale[c];
            }
            return new GateParams(g.dwWeight().toDoubles(), g.dwBias().toDoubles(), gamma, beta, mean, inv,
                    g.spatialWeight().toDoubles(), g.channelWeight().toDoubles(), scale, shift);
        }
    }

    private static double sigmoid(double z) { return 1 / (1 + Math.exp(-z)); }

    private static MemorySegment seg(Tensor t) { return t.storage().segment(); }

    private static void write(Tensor t, double[] values) {
        MemorySegment s = seg(t);
        for (int i = 0; i < values.length; i++) HostAccess.set(s, t.dtype(), t.offset() + i, values[i]);
    }

    // ------------------------------------------------------------------ forward

    @Override
    public void catmNormalization(Tensor batchMean, Tensor batchVar, Tensor runningMean, Tensor runningVar, double momentum,
                                  double varianceCorrection, double eps, Tensor mean, Tensor invStd) {
        double[] rm = runningMean.toDoubles(), rv = runningVar.toDoubles();
        double[] m = batchMean != null ? batchMean.toDoubles() : rm, v = batchMean != null ? batchVar.toDoubles() : rv;
        double[] inv = new double[v.length];
        for (int i = 0; i < v.length; i++) inv[i] = 1 / Math.sqrt(v[i] + eps);
        write(mean, m);
        write(invStd, inv);
        if (batchMean == null) return;
        double[] nm = new double[rm.length], nv = new double[rv.length];
        for (int i = 0; i < rm.length; i++) {
            nm[i] = (1 - momentum) * rm[i] + momentum * m[i];
            nv[i] = (1 - momentum) * rv[i] + momentum * varianceCorrection * v[i];
        }
        write(runningMean, nm);
        write(runningVar, nv);
    }

    @Override
    public void catmBatchStats(Tensor t, Tensor dwWeight, Tensor dwBias, Tensor mean, Tensor var) {
        Dims d = Dims.of(t);
        DType dt = t.dtype();
        MemorySegment st = seg(t);
        double[] w = dwWeight.toDoubles(), bias = dwBias.toDoubles();
        double[] mu = new double[d.c], vr = new double[d.c];
        Parallel.forRange(d.c, 1, (lo, hi) -> {
            double[] pad = new double[Stencil3x3.paddedSize(d.h, d.w)], u = new double[d.hw()];
            for (int c = (int) lo; c < hi; c++) {
                // Per plane mean and squared deviations, merged across the batch (Chan et al.).
                double m = 0, m2 = 0;
                long n = 0;
                for (int b = 0; b < d.b; b++) {
                    loadPadded(st, dt, t.offset() + d.plane(b, c), d.h, d.w, pad);
                    conv(pad, d.h, d.w, w, c * 9, bias[c], u);
                    double pm = DoubleSums.sum(u, 0, u.length) / u.length;
                    double pm2 = DoubleSums.sumSquaredDeviation(u, u.length, pm);
                    long tot = n + u.length;
                    double delta = pm - m;
                    m += delta * u.length / tot;
                    m2 += pm2 + delta * delta * n * u.length / tot;
                    n = tot;
                }
                mu[c] = m;
                vr[c] = m2 / n;
            }
        });
        write(mean, mu);
        write(var, vr);
    }

    @Override
    public void catmForward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                            Tensor dwcBias, Tensor out) {
        gates(q, gq, sq);
        gates(k, gk, sk);
        apply(q, k, v, sq, sk, dwcWeight, dwcBias, out);
    }

    /** Pass 1 for one of q, k: the gate's spatial gate, channel means and channel gate into out. */
    private void gates(Tensor t, Gate gate, GateState out) {
        Dims d = Dims.of(t);
        DType dt = t.dtype();
        MemorySegment st = seg(t), ss = seg(out.spatial());
        GateParams p = GateParams.of(gate);
        double[] partial = new double[d.b * d.h * d.c];
        // Tasks are blocks of image rows: each channel's rows (with a one-row halo) are staged once per block.
        int block = Math.min(d.h, 8), blocks = (d.h + block - 1) / block, pw = Stencil3x3.pitch(d.w);
        Parallel.forRange((long) d.b * blocks, 1, (lo, hi) -> {
            double[] rows = new double[(block + 2) * pw], u = new double[block * d.w], z = new double[block * d.w];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / blocks), y0 = (int) (r % blocks) * block, nr = Math.min(block, d.h - y0), n = nr * d.w;
                java.util.Arrays.fill(z, 0);
                for (int c = 0; c < d.c; c++) {
                    Stencil3x3.loadRowBlock(st, dt, t.offset() + d.plane(b, c), d.h, d.w, y0, nr, rows);
                    conv(rows, nr, d.w, p.dw, c * 9, p.dwBias[c], u);
                    double sc = p.scale[c], sh = p.shift[c], w1 = p.w1[c];
                    for (int i = 0; i < n; i++) z[i] += w1 * Math.max(0, sc * u[i] + sh);
                }
                for (int i = 0; i < n; i++) z[i] = sigmoid(z[i]);
                store(z, 0, ss, dt, out.spatial().offset() + ((long) b * d.h + y0) * d.w, n);
                for (int c = 0; c < d.c; c++) {
                    Stencil3x3.loadRowBlock(st, dt, t.offset() + d.plane(b, c), d.h, d.w, y0, nr, rows);
                    for (int yy = 0; yy < nr; yy++) {
                        int o = (yy + 1) * pw + 1, zo = yy * d.w;
                        partial[((b * d.h) + y0 + yy) * d.c + c] = DoubleSums.dot(rows, o, z, zo, d.w);
                    }
                }
            }
        });
        double[] pooled = new double[d.b * d.c], gates = new double[d.b * d.c];
        for (int b = 0; b < d.b; b++) {
            for (int y = 0; y < d.h; y++) {
                for (int c = 0; c < d.c; c++) pooled[b * d.c + c] += partial[(b * d.h + y) * d.c + c];
            }
            for (int c = 0; c < d.c; c++) pooled[b * d.c + c] /= d.hw();
            for (int co = 0; co < d.c; co++) {
                double z = 0;
                for (int ci = 0; ci < d.c; ci++) z += p.wc[co * d.c + ci] * pooled[b * d.c + ci];
                gates[b * d.c + co] = sigmoid(z);
            }
        }
        write(out.pooled(), pooled);
        write(out.channel(), gates);
    }

    /** pad's interior = q*s_q*g_q + k*s_k*g_k of plane (b, c): the gated sum S that dwc reads; planeQ, planeK get the planes of q and k. */
    private static void gatedSum(Dims d, Tensor q, Tensor k, double[] sq, double[] sk, double gq, double gk, int b, int c,
                                 double[] planeQ, double[] planeK, double[] pad) {
        int pw = Stencil3x3.pitch(d.w);
        Stencil3x3.clearBorder(pad, d.h, d.w);
        long pq = q.offset() + d.plane(b, c), pk = k.offset() + d.plane(b, c);
        load(seg(q), q.dtype(), pq, planeQ, 0, d.hw());
        load(seg(k), k.dtype(), pk, planeK, 0, d.hw());
        for (int y = 0; y < d.h; y++) {
            int o = (y + 1) * pw + 1, so = b * d.hw() + y * d.w, ro = y * d.w;
            for (int x = 0; x < d.w; x++) pad[o + x] = planeQ[ro + x] * sq[so + x] * gq + planeK[ro + x] * sk[so + x] * gk;
        }
    }

    /** Pass 2: out = dwc(q*s_q*g_q + k*s_k*g_k) * v. */
    private void apply(Tensor q, Tensor k, Tensor v, GateState sq, GateState sk, Tensor dwcWeight, Tensor dwcBias, Tensor out) {
        Dims d = Dims.of(q);
        DType dt = q.dtype();
        double[] spq = sq.spatial().toDoubles(), spk = sk.spatial().toDoubles();
        double[] gq = sq.channel().toDoubles(), gk = sk.channel().toDoubles();
        double[] w = dwcWeight.toDoubles(), bias = dwcBias.toDoubles();
        Parallel.forRange((long) d.b * d.c, 1, (lo, hi) -> {
            double[] pad = new double[Stencil3x3.paddedSize(d.h, d.w)], dd = new double[d.hw()], vv = new double[d.hw()];
            double[] planeQ = new double[d.hw()], planeK = new double[d.hw()];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / d.c), c = (int) (r % d.c);
                gatedSum(d, q, k, spq, spk, gq[(int) r], gk[(int) r], b, c, planeQ, planeK, pad);
                conv(pad, d.h, d.w, w, c * 9, bias[c], dd);
                load(seg(v), dt, v.offset() + d.plane(b, c), vv, 0, d.hw());
                for (int i = 0; i < dd.length; i++) dd[i] *= vv[i];
                store(dd, 0, seg(out), dt, out.offset() + d.plane(b, c), d.hw());
            }
        });
    }

    // ------------------------------------------------------------------ backward

    @Override
    public void catmBackward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                             Tensor dwcBias, boolean batchStats, Tensor gradOut, Tensor gradV, Tensor gradDwcWeight,
                             Tensor gradDwcBias, GateGrads gradQ, GateGrads gradK) {
        Dims d = Dims.of(q);
        DType dt = q.dtype();
        GateParams pq = GateParams.of(gq), pk = GateParams.of(gk);
        double[] spq = sq.spatial().toDoubles(), spk = sk.spatial().toDoubles();
        double[] chq = sq.channel().toDoubles(), chk = sk.channel().toDoubles();
        double[] w = dwcWeight.toDoubles(), bias = dwcBias.toDoubles();
        double[] dgq = new double[d.b * d.c], dgk = new double[d.b * d.c];
        double[] dwcW = new double[d.c * 9], dwcB = new double[d.c];
        try (Tensor dS = Tensor.empty(dt, Device.CPU, q.shape())) {
            // B1: per channel. dD = gradOut*v; dv = gradOut*dwc(S); dS = dwc^T(dD); sums of dS*x for the channel gates.
            Parallel.forRange(d.c, 1, (lo, hi) -> {
                double[] padS = new double[Stencil3x3.paddedSize(d.h, d.w)], padD = new double[padS.length];
                double[] go = new double[d.hw()], vv = new double[d.hw()], dd = new double[d.hw()];
                double[] planeQ = new double[d.hw()], planeK = new double[d.hw()];
                for (int c = (int) lo; c < hi; c++) {
                    double[] acc9 = new double[9];
                    for (int b = 0; b < d.b; b++) {
                        int bc = b * d.c + c;
                        long plane = d.plane(b, c);
                        gatedSum(d, q, k, spq, spk, chq[bc], chk[bc], b, c, planeQ, planeK, padS);
                        load(seg(gradOut), dt, gradOut.offset() + plane, go, 0, d.hw());
                        load(seg(v), dt, v.offset() + plane, vv, 0, d.hw());
                        conv(padS, d.h, d.w, w, c * 9, bias[c], dd);
                        for (int i = 0; i < dd.length; i++) dd[i] *= go[i];
                        store(dd, 0, seg(gradV), dt, gradV.offset() + plane, d.hw());
                        Stencil3x3.clearBorder(padD, d.h, d.w);
                        int pw = Stencil3x3.pitch(d.w);
                        double db = 0;
                        for (int y = 0; y < d.h; y++) {
                            for (int x = 0; x < d.w; x++) {
                                double g = go[y * d.w + x] * vv[y * d.w + x];
                                go[y * d.w + x] = g;
                                padD[(y + 1) * pw + x + 1] = g;
                                db += g;
                            }
                        }
                        dwcB[c] += db;
                        Stencil3x3.accumulateWeightGrad(go, padS, d.h, d.w, acc9);
                        convTranspose(padD, d.h, d.w, w, c * 9, dd);
                        store(dd, 0, seg(dS), dt, dS.offset() + plane, d.hw());
                        int so = b * d.hw();
                        dgq[bc] = DoubleSums.dot3(dd, 0, planeQ, 0, spq, so, dd.length);
                        dgk[bc] = DoubleSums.dot3(dd, 0, planeK, 0, spk, so, dd.length);
                    }
                    System.arraycopy(acc9, 0, dwcW, c * 9, 9);
                }
            });
            write(gradDwcWeight, dwcW);
            write(gradDwcBias, dwcB);
            // The channel gates, [B,C]: dm = Wc^T (dg * g(1-g)), dWc = sum_b (dg * g(1-g)) m^T.
            double[] dmq = channelGateBackward(d, pq, sq, chq, dgq, gradQ.channelWeight());
            double[] dmk = channelGateBackward(d, pk, sk, chk, dgk, gradK.channelWeight());
            // B2: per image row, across channels: dz = s(1-s) * sum_c t_c * (dS_c*g_c + dm_c/HW), for both gates.
            double[] dzq = new double[d.b * d.hw()], dzk = new double[d.b * d.hw()];
            Parallel.forRange((long) d.b * d.h, 1, (lo, hi) -> {
                double[] rs = new double[d.w], rq = new double[d.w], rk = new double[d.w];
                for (long r = lo; r < hi; r++) {
                    int b = (int) (r / d.h), y = (int) (r % d.h), o = (int) r * d.w;
                    for (int c = 0; c < d.c; c++) {
                        long at = d.plane(b, c) + (long) y * d.w;
                        load(seg(dS), dt, dS.offset() + at, rs, 0, d.w);
                        load(seg(q), dt, q.offset() + at, rq, 0, d.w);
                        load(seg(k), dt, k.offset() + at, rk, 0, d.w);
                        int bc = b * d.c + c;
                        double gQ = chq[bc], gK = chk[bc], mQ = dmq[bc] / d.hw(), mK = dmk[bc] / d.hw();
                        for (int x = 0; x < d.w; x++) {
                            dzq[o + x] += rq[x] * (rs[x] * gQ + mQ);
                            dzk[o + x] += rk[x] * (rs[x] * gK + mK);
                        }
                    }
                    for (int x = 0; x < d.w; x++) {
                        dzq[o + x] *= spq[o + x] * (1 - spq[o + x]);
                        dzk[o + x] *= spk[o + x] * (1 - spk[o + x]);
                    }
                }
            });
            // B3: per channel, each gate: BatchNorm, ReLU and the dw conv backward, and the input gradient.
            spatialGateBackward(d, q, pq, spq, chq, dmq, dzq, dS, batchStats, gradQ);
            spatialGateBackward(d, k, pk, spk, chk, dmk, dzk, dS, batchStats, gradK);
        }
    }

    private static double[] channelGateBackward(Dims d, GateParams p, GateState st, double[] g, double[] dg, Tensor gradWc) {
        double[] m = st.pooled().toDoubles();
        double[] dpre = new double[d.b * d.c], dm = new double[d.b * d.c], dwc = new double[d.c * d.c];
        for (int i = 0; i < dpre.length; i++) dpre[i] = dg[i] * g[i] * (1 - g[i]);
        for (int b = 0; b < d.b; b++) {
            for (int co = 0; co < d.c; co++) {
                double dp = dpre[b * d.c + co];
                for (int ci = 0; ci < d.c; ci++) {
                    dwc[co * d.c + ci] += dp * m[b * d.c + ci];
                    dm[b * d.c + ci] += p.wc[co * d.c + ci] * dp;
                }
            }
        }
        write(gradWc, dwc);
        return dm;
    }

    /**
     * With dz the gradient of the spatial gate's logit: dw1, the BatchNorm affine gradients and,
     * through BatchNorm (with the batch statistics' own gradient when batchStats), the dw conv's
     * gradients; dt = dx*s + dwconv^T(du) with dx = dS*g + dm/HW the gradient of x = t*s.
     */
    private static void spatialGateBackward(Dims d, Tensor t, GateParams p, double[] s, double[] g, double[] dm, double[] dz,
                                            Tensor dS, boolean batchStats, GateGrads out) {
        DType dt = t.dtype();
        double n = (double) d.b * d.hw();
        double[] dw = new double[d.c * 9], dbias = new double[d.c], dgamma = new double[d.c], dbeta = new double[d.c], dw1 = new double[d.c];
        int hw = d.hw();
        Parallel.forRange(d.c, 1, (lo, hi) -> {
            // Each image's padded input plane and its BatchNorm terms are kept from the first pass
            // over the batch to the second, so the gate's dw conv runs once per plane.
            double[][] pads = new double[d.b][Stencil3x3.paddedSize(d.h, d.w)];
            double[] padU = new double[Stencil3x3.paddedSize(d.h, d.w)];
            double[] u = new double[hw], uhAll = new double[d.b * hw], daAll = new double[d.b * hw];
            double[] du = new double[hw], ds = new double[hw], res = new double[hw];
            int pw = Stencil3x3.pitch(d.w);
            for (int c = (int) lo; c < hi; c++) {
                double mean = p.mean[c], inv = p.invStd[c], gamma = p.gamma[c], beta = p.beta[c], w1 = p.w1[c];
                double[] sums = new double[3];
                for (int b = 0; b < d.b; b++) {
                    double[] pad = pads[b];
                    loadPadded(seg(t), dt, t.offset() + d.plane(b, c), d.h, d.w, pad);
                    conv(pad, d.h, d.w, p.dw, c * 9, p.dwBias[c], u);
                    GateBatchNorm.forwardTerms(u, dz, b * hw, hw, mean, inv, gamma, beta, w1, uhAll, daAll, sums);
                }
                double sumDa = sums[0], sumDau = sums[1];
                dw1[c] = sums[2];
                dgamma[c] = sumDau;
                dbeta[c] = sumDa;
                double meanDa = batchStats ? sumDa / n : 0, meanDau = batchStats ? sumDau / n : 0;
                double[] acc9 = new double[9];
                double db = 0;
                for (int b = 0; b < d.b; b++) {
                    long plane = d.plane(b, c);
                    int so = b * hw;
                    Stencil3x3.clearBorder(padU, d.h, d.w);
                    db += GateBatchNorm.inputGrad(uhAll, daAll, so, hw, gamma * inv, meanDa, meanDau, du);
                    for (int y = 0; y < d.h; y++) System.arraycopy(du, y * d.w, padU, (y + 1) * pw + 1, d.w);
                    Stencil3x3.accumulateWeightGrad(du, pads[b], d.h, d.w, acc9);
                    convTranspose(padU, d.h, d.w, p.dw, c * 9, res);
                    load(seg(dS), dt, dS.offset() + plane, ds, 0, hw);
                    int bc = b * d.c + c;
                    double gc = g[bc], mc = dm[bc] / hw;
                    for (int i = 0; i < res.length; i++) res[i] += (ds[i] * gc + mc) * s[so + i];
                    store(res, 0, seg(out.input()), dt, out.input().offset() + plane, hw);
                }
                System.arraycopy(acc9, 0, dw, c * 9, 9);
                dbias[c] = db;
            }
        });
        write(out.dwWeight(), dw);
        write(out.dwBias(), dbias);
        write(out.bnWeight(), dgamma);
        write(out.bnBias(), dbeta);
        write(out.spatialWeight(), dw1);
    }
}
