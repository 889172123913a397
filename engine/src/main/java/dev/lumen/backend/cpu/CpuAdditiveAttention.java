package dev.lumen.backend.cpu;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link AdditiveAttentionKernels}: F32 here, every other dtype in
 * {@link CpuAdditiveAttentionF64} (the same passes in double).
 *
 * <p>Planes are staged in float arrays with a zero border ({@link PaddedRows}), so the 3x3
 * convs of values made on the fly (u of each gate, dwc of the gated sum and its transpose)
 * never go to memory and every step runs in full float vectors over L1/L2-resident planes.
 * Sums over a plane run in float lanes and are added in double across planes and the batch.
 * The problem's tensors do not fit in the caches together, so the passes are bound by memory
 * as much as by arithmetic: passes that visit a channel across the batch stage several planes
 * at once ({@link PaddedRows#loadMany}), and the work is ordered so that each tensor is read
 * from memory as few times as the data dependencies allow.
 *
 * <p>Where the passes split: the spatial gate sums over channels at each pixel, the channel
 * mean sums over pixels of each channel, and BatchNorm sums over the batch, so each of them
 * ends a pass. Forward: [batch statistics, per channel] -> per image [pass 1: both gates, over
 * the image's channels, keeping its planes of q and k; pass 2: per channel, both gates
 * applied, the sum, dwc and the product with v, from the kept planes]. Backward: per image
 * [B1 over its channels: dwc backward, dv, dS = dPhi, the channel-gate sums and the dS part of
 * the spatial-gate gradient; the channel-gate backward; B2: the rest of the spatial-gate
 * gradient dz, from the image's planes of q and k kept since B1] -> B3 [per channel, both
 * gates: BatchNorm backward with its batch sums, the dw conv backward, dq and dk]. Every sum
 * has one task and a fixed order, so results do not depend on the thread count (images and
 * channels are the tasks).
 */
final class CpuAdditiveAttention implements AdditiveAttentionKernels {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    // No static final vector constants here: C2 does not keep one that starts a loop-carried sum in a
    // register (the loop ran at half speed); constants are made as locals before each loop.

    /** Planes staged together by one {@link PaddedRows#loadMany}: enough streams to keep memory busy, few enough for the prefetchers. */
    private static final int STREAMS = 8;

    private final AdditiveAttentionKernels wide = new CpuAdditiveAttentionF64();

    /** Sizes of a [B,C,H,W] problem. */
    private record Dims(int b, int c, int h, int w) {
        static Dims of(Tensor t) {
            int[] s = t.shape();
            return new Dims(s[0], s[1], s[2], s[3]);
        }

        int hw() { return h * w; }

        /** Element index of plane (bi, ci). */
        long plane(int bi, int ci) { return ((long) bi * c + ci) * hw(); }

    }

    /** A gate's parameters as floats, with BatchNorm folded to scale and shift (in double, then rounded). */
    private record GateParams(float[] dw, float[] dwFlipped, float[] dwBias, float[] gamma, float[] mean, float[] invStd,
                              float[] w1, double[] wc, float[] scale, float[] shift) {
        static GateParams of(Gate g) {
            double[] gamma = g.bnWeight().toDoubles(), beta = g.bnBias().toDoubles();
            double[] mean = g.bnMean().toDoubles(), inv = g.bnInvStd().toDoubles();
            int c = gamma.length;
            float[] scale = new float[c], shift = new float[c];
            for (int i = 0; i < c; i++) {
                double sc = gamma[i] * inv[i];
                scale[i] = (float) sc;
                shift[i] = (float) (beta[i] - mean[i] * sc);
            }
            float[] dw = g.dwWeight().toFloats();
            return new GateParams(dw, PaddedRows.flipped(dw, c), g.dwBias().toFloats(), g.bnWeight().toFloats(),
                    g.bnMean().toFloats(), g.bnInvStd().toFloats(), g.spatialWeight().toFloats(), g.channelWeight().toDoubles(),
                    scale, shift);
        }
    }

    /** The segment of a contiguous F32 tensor, sliced so that element index 0 is its first element. */
    private static MemorySegment base(Tensor t) { return t.storage().segment().asSlice(t.offset() * 4); }

    private static void write(Tensor t, double[] values) {
        MemorySegment s = base(t);
        for (int i = 0; i < values.length; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) values[i]);
    }

    private static double sigmoid(double z) { return 1 / (1 + Math.exp(-z)); }

    // ------------------------------------------------------------------ forward

    @Override
    public void catmNormalization(Tensor batchMean, Tensor batchVar, Tensor runningMean, Tensor runningVar, double momentum,
                                  double varianceCorrection, double eps, Tensor mean, Tensor invStd) {
        wide.catmNormalization(batchMean, batchVar, runningMean, runningVar, momentum, varianceCorrection, eps, mean, invStd);
    }

    @Override
    public void catmBatchStats(Tensor t, Tensor dwWeight, Tensor dwBias, Tensor mean, Tensor var) {
        if (t.dtype() != DType.F32) {
            wide.catmBatchStats(t, dwWeight, dwBias, mean, var);
            return;
        }
        Dims d = Dims.of(t);
        MemorySegment st = base(t);
        float[] w = dwWeight.toFloats(), bias = dwBias.toFloats();
        PaddedRows p = new PaddedRows(d.h, d.w);
        float[] mask = p.mask();
        double[] mu = new double[d.c], vr = new double[d.c];
        Parallel.forRange(d.c, 1, (lo, hi) -> batchStats(d, p, mask, st, w, bias, (int) lo, (int) hi, mu, vr));
        write(mean, mu);
        write(var, vr);
    }

    /** Batch mean and biased variance of u for channels [lo, hi): per plane mean and squared deviations, merged across the batch (Chan et al.). */
    private static void batchStats(Dims d, PaddedRows p, float[] mask, MemorySegment st, float[] w, float[] bias, int lo, int hi,
                                   double[] mu, double[] vr) {
        int group = Math.min(d.b, STREAMS);
        float[][] tp = new float[group][p.size];
        float[] u = p.alloc();
        MemorySegment[] segs = new MemorySegment[group];
        Arrays.fill(segs, st);
        long[] at = new long[group];
        int hw = d.hw();
        for (int c = lo; c < hi; c++) {
            double m = 0, m2 = 0;
            long n = 0;
            for (int b0 = 0; b0 < d.b; b0 += group) {
                int count = Math.min(group, d.b - b0);
                for (int j = 0; j < count; j++) at[j] = d.plane(b0 + j, c);
                PaddedRows.loadMany(count, segs, at, d.h, d.w, tp, p.row(0), p.pitch);
                for (int j = 0; j < count; j++) {
                    double pm = convSum(tp[j], p.start, p.end, p.pitch, w, c * 9, bias[c], mask, u) / hw;
                    double pm2 = squaredDeviation(u, mask, (float) pm, p.start, p.end);
                    long tot = n + hw;
                    double delta = pm - m;
                    m += delta * hw / tot;
                    m2 += pm2 + delta * delta * n * hw / tot;
                    n = tot;
                }
            }
            mu[c] = m;
            vr[c] = m2 / n;
        }
    }

    /** u = dwconv3x3(t) + bias as {@link PaddedRows#conv}; returns sum of mask*u. */
    private static double convSum(float[] t, int from, int to, int pitch, float[] w9, int wAt, float bias, float[] mask, float[] out) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]);
        FloatVector vb = Vec.of(bias), sum = Vec.of(0f);
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector u = FloatVector.fromArray(S, t, r0).fma(k0, vb);
            u = FloatVector.fromArray(S, t, r0 + 1).fma(k1, u);
            u = FloatVector.fromArray(S, t, r0 + 2).fma(k2, u);
            u = FloatVector.fromArray(S, t, r1).fma(k3, u);
            u = FloatVector.fromArray(S, t, r1 + 1).fma(k4, u);
            u = FloatVector.fromArray(S, t, r1 + 2).fma(k5, u);
            u = FloatVector.fromArray(S, t, r2).fma(k6, u);
            u = FloatVector.fromArray(S, t, r2 + 1).fma(k7, u);
            u = FloatVector.fromArray(S, t, r2 + 2).fma(k8, u);
            u.intoArray(out, f);
            sum = u.fma(FloatVector.fromArray(S, mask, f), sum);
        }
        return Vec.sum(sum);
    }

    /** sum of mask*(u - m)^2 over [from, to); m is the plane's mean rounded to float, whose error adds n*err^2, far below f32. */
    private static double squaredDeviation(float[] u, float[] mask, float m, int from, int to) {
        FloatVector s = Vec.of(0f), vm = Vec.of(m);
        for (int f = from; f < to; f += L) {
            FloatVector x = FloatVector.fromArray(S, u, f).sub(vm);
            s = x.mul(FloatVector.fromArray(S, mask, f)).fma(x, s);
        }
        return Vec.sum(s);
    }

    @Override
    public void catmForward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                            Tensor dwcBias, Tensor out) {
        if (q.dtype() != DType.F32) {
            wide.catmForward(q, k, v, gq, gk, sq, sk, dwcWeight, dwcBias, out);
            return;
        }
        Dims d = Dims.of(q);
        PaddedRows p = new PaddedRows(d.h, d.w);
        GateParams pq = GateParams.of(gq), pk = GateParams.of(gk);
        MemorySegment mq = base(q), mk = base(k), mv = base(v), mo = base(out), msq = base(sq.spatial()), msk = base(sk.spatial());
        float[] w = dwcWeight.toFloats(), bias = dwcBias.toFloats();
        int bc = d.b * d.c;
        double[] pooledQ = new double[bc], gateQ = new double[bc], pooledK = new double[bc], gateK = new double[bc];
        Parallel.forRange(d.b, 1, (lo, hi) -> {
            float[][] tq = new float[d.c][p.size], tk = new float[d.c][p.size];
            float[] spq = p.alloc(), spk = p.alloc(), s = p.alloc(), dd = p.alloc(), vp = p.alloc();
            for (int b = (int) lo; b < hi; b++) {
                imageGates(d, p, mq, b, pq, tq, spq, msq, pooledQ, gateQ);
                imageGates(d, p, mk, b, pk, tk, spk, msk, pooledK, gateK);
                for (int c = 0; c < d.c; c++) {
                    int r = b * d.c + c;
                    gatedSum(tq[c], spq, (float) gateQ[r], tk[c], spk, (float) gateK[r], s, p.start, p.end);
                    PaddedRows.load(mv, d.plane(b, c), d.h, d.w, vp, p.row(0), p.pitch);
                    PaddedRows.convTimes(s, p.start, p.end, p.pitch, w, c * 9, bias[c], vp, dd);
                    PaddedRows.store(dd, p.row(0), p.pitch, mo, d.plane(b, c), d.h, d.w);
                }
            }
        });
        write(sq.pooled(), pooledQ);
        write(sq.channel(), gateQ);
        write(sk.pooled(), pooledK);
        write(sk.channel(), gateK);
    }

    /**
     * Pass 1 of one gate for image b: stages the image's planes of t into planes[c], makes the
     * spatial gate into s (p's layout; also stored to ms) and the channel means and gates of
     * the image into pooled and gates.
     */
    private static void imageGates(Dims d, PaddedRows p, MemorySegment mt, int b, GateParams gp, float[][] planes, float[] s,
                                   MemorySegment ms, double[] pooled, double[] gates) {
        Arrays.fill(s, 0);
        for (int c = 0; c < d.c; c++) {
            PaddedRows.load(mt, d.plane(b, c), d.h, d.w, planes[c], p.row(0), p.pitch);
            spatialLogit(planes[c], p.start, p.end, p.pitch, gp.dw, c * 9, gp.dwBias[c], gp.scale[c], gp.shift[c], gp.w1[c], s);
        }
        sigmoid(s, p.start, p.end);
        PaddedRows.store(s, p.row(0), p.pitch, ms, (long) b * d.hw(), d.h, d.w);
        int o = b * d.c;
        for (int c = 0; c < d.c; c++) pooled[o + c] = PaddedRows.dot(planes[c], s, p.start, p.end) / d.hw();
        for (int co = 0; co < d.c; co++) {
            double z = 0;
            for (int ci = 0; ci < d.c; ci++) z += gp.wc[co * d.c + ci] * pooled[o + ci];
            gates[o + co] = sigmoid(z);
        }
    }

    /**
     * z += w1 * relu(scale*u + shift) with u = dwconv3x3(t) + bias: one channel's term of the
     * spatial gate's logit, the conv (as {@link PaddedRows#conv}) kept in registers.
     */
    private static void spatialLogit(float[] t, int from, int to, int pitch, float[] w9, int wAt, float bias, float scale, float shift,
                                     float w1, float[] z) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]);
        FloatVector vb = Vec.of(bias), sc = Vec.of(scale), sh = Vec.of(shift), vw = Vec.of(w1), zero = Vec.of(0f);
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector u = FloatVector.fromArray(S, t, r0).fma(k0, vb);
            u = FloatVector.fromArray(S, t, r0 + 1).fma(k1, u);
            u = FloatVector.fromArray(S, t, r0 + 2).fma(k2, u);
            u = FloatVector.fromArray(S, t, r1).fma(k3, u);
            u = FloatVector.fromArray(S, t, r1 + 1).fma(k4, u);
            u = FloatVector.fromArray(S, t, r1 + 2).fma(k5, u);
            u = FloatVector.fromArray(S, t, r2).fma(k6, u);
            u = FloatVector.fromArray(S, t, r2 + 1).fma(k7, u);
            u = FloatVector.fromArray(S, t, r2 + 2).fma(k8, u);
            u.fma(sc, sh).max(zero).fma(vw, FloatVector.fromArray(S, z, f)).intoArray(z, f);
        }
    }

    private static void sigmoid(float[] z, int from, int to) {
        FloatVector one = Vec.of(1f);
        for (int f = from; f < to; f += L) {
            FloatVector e = VecMath.exp(FloatVector.fromArray(S, z, f).neg());
            one.div(one.add(e)).intoArray(z, f);
        }
    }

    /** s = q*sq*gq + k*sk*gk over [from, to). */
    private static void gatedSum(float[] q, float[] sq, float gq, float[] k, float[] sk, float gk, float[] s, int from, int to) {
        FloatVector vq = Vec.of(gq), vk = Vec.of(gk);
        for (int f = from; f < to; f += L) {
            FloatVector a = FloatVector.fromArray(S, q, f).mul(FloatVector.fromArray(S, sq, f));
            FloatVector c = FloatVector.fromArray(S, k, f).mul(FloatVector.fromArray(S, sk, f));
            a.fma(vq, c.mul(vk)).intoArray(s, f);
        }
    }

    /** {@link #gatedSum} and, in the same run, {@code a *= b}. */
    private static void gatedSumAndProduct(float[] q, float[] sq, float gq, float[] k, float[] sk, float gk, float[] s, float[] a,
                                           float[] b, int from, int to) {
        FloatVector vq = Vec.of(gq), vk = Vec.of(gk);
        for (int f = from; f < to; f += L) {
            FloatVector x = FloatVector.fromArray(S, q, f).mul(FloatVector.fromArray(S, sq, f));
            FloatVector y = FloatVector.fromArray(S, k, f).mul(FloatVector.fromArray(S, sk, f));
            x.fma(vq, y.mul(vk)).intoArray(s, f);
            FloatVector.fromArray(S, a, f).mul(FloatVector.fromArray(S, b, f)).intoArray(a, f);
        }
    }


    // ------------------------------------------------------------------ backward

    @Override
    public void catmBackward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                             Tensor dwcBias, boolean batchStats, Tensor gradOut, Tensor gradV, Tensor gradDwcWeight,
                             Tensor gradDwcBias, GateGrads gradQ, GateGrads gradK) {
        if (q.dtype() != DType.F32) {
            wide.catmBackward(q, k, v, gq, gk, sq, sk, dwcWeight, dwcBias, batchStats, gradOut, gradV, gradDwcWeight, gradDwcBias,
                    gradQ, gradK);
            return;
        }
        Dims d = Dims.of(q);
        PaddedRows p = new PaddedRows(d.h, d.w);
        try (Tensor dS = Tensor.empty(DType.F32, Device.CPU, q.shape())) {
            ImageBackward img = new ImageBackward(d, p, GateParams.of(gq), GateParams.of(gk), base(q), base(k), base(v), base(gradOut),
                    base(gradV), base(dS), base(sq.spatial()), base(sk.spatial()), sq.channel().toFloats(), sk.channel().toFloats(),
                    sq.pooled().toDoubles(), sk.pooled().toDoubles(), dwcWeight.toFloats(), dwcBias.toFloats());
            Parallel.forRange(d.b, 1, (lo, hi) -> {
                ImageScratch x = new ImageScratch(d.c, p);
                for (int b = (int) lo; b < hi; b++) img.run(b, x);
            });
            img.writeParameterGrads(gradDwcWeight, gradDwcBias, gradQ.channelWeight(), gradK.channelWeight());
            // B3: per channel, both gates: BatchNorm, ReLU and the dw conv backward, and the input gradients.
            GateSums sumsQ = new GateSums(d.c), sumsK = new GateSums(d.c);
            float[] mask = p.mask();
            GateSide sideQ = new GateSide(img.q, img.pq, img.sq, img.gq, img.dmq, img.dzq, base(gradQ.input()), sumsQ);
            GateSide sideK = new GateSide(img.k, img.pk, img.sk, img.gk, img.dmk, img.dzk, base(gradK.input()), sumsK);
            Parallel.forRange(d.c, 1, (lo, hi) -> {
                GateScratch xq = new GateScratch(d.b, p), xk = new GateScratch(d.b, p);
                for (int c = (int) lo; c < hi; c++) gatesBackward(d, p, mask, c, sideQ, sideK, xq, xk, img.dS, batchStats);
            });
            sumsQ.write(gradQ);
            sumsK.write(gradK);
        }
    }

    /**
     * One task's planes for {@link ImageBackward}: the image's q and k (every channel, kept for
     * B2), gradOut and v of a channel, the spatial gates, the gated sum, dwc's output and input
     * gradient, and dz's sums.
     */
    private record ImageScratch(float[][] tq, float[][] tk, float[] go, float[] vd, float[] sq, float[] sk, float[] s, float[] dd,
                                float[] ds, float[] accQ, float[] accK) {
        ImageScratch(int c, PaddedRows p) {
            this(new float[c][p.size], new float[c][p.size], p.alloc(), p.alloc(), p.alloc(), p.alloc(), p.alloc(), p.alloc(), p.alloc(),
                    p.alloc(), p.alloc());
        }
    }

    /**
     * The backward up to B3, one image at a time: B1 over the image's channels (dv, dS and the
     * dwc gradients, the channel-gate sums dg = sum dS*x, and sum_c t_c*g_c*dS_c of the
     * spatial-gate gradient), the image's channel-gate backward (dm and its share of dWc), then
     * B2: dz = s(1-s) * (that sum + sum_c t_c*dm_c/HW), whose second read of the image finds
     * it still in cache. Results per image (or per plane), so images may run on any thread.
     */
    private static final class ImageBackward {
        final Dims d;
        final PaddedRows p;
        final GateParams pq, pk;
        final MemorySegment q, k, v, g, dv, dS, sq, sk;
        final float[] gq, gk, w, wT, bias;
        final double[] mq, mk;
        /** Per plane: dg of each gate, the dwc weight (9 each) and bias gradients; per image: dm of each gate and dWc. */
        final double[] dgq, dgk, dwcW, dwcB, dmq, dmk, dWcQ, dWcK;
        /** Per image, in p's layout: dz of each gate. */
        final float[][] dzq, dzk;

        ImageBackward(Dims d, PaddedRows p, GateParams pq, GateParams pk, MemorySegment q, MemorySegment k, MemorySegment v,
                      MemorySegment g, MemorySegment dv, MemorySegment dS, MemorySegment sq, MemorySegment sk, float[] gq, float[] gk,
                      double[] mq, double[] mk, float[] w, float[] bias) {
            this.d = d;
            this.p = p;
            this.pq = pq;
            this.pk = pk;
            this.q = q;
            this.k = k;
            this.v = v;
            this.g = g;
            this.dv = dv;
            this.dS = dS;
            this.sq = sq;
            this.sk = sk;
            this.gq = gq;
            this.gk = gk;
            this.mq = mq;
            this.mk = mk;
            this.w = w;
            this.wT = PaddedRows.flipped(w, d.c);
            this.bias = bias;
            int bc = d.b * d.c;
            dgq = new double[bc];
            dgk = new double[bc];
            dwcW = new double[bc * 9];
            dwcB = new double[bc];
            dmq = new double[bc];
            dmk = new double[bc];
            dWcQ = new double[d.b * d.c * d.c];
            dWcK = new double[d.b * d.c * d.c];
            dzq = new float[d.b][p.size];
            dzk = new float[d.b][p.size];
        }

        void run(int b, ImageScratch x) {
            PaddedRows.load(sq, (long) b * d.hw(), d.h, d.w, x.sq, p.row(0), p.pitch);
            PaddedRows.load(sk, (long) b * d.hw(), d.h, d.w, x.sk, p.row(0), p.pitch);
            Arrays.fill(x.accQ, 0);
            Arrays.fill(x.accK, 0);
            MemorySegment[] in = {q, k, g, v}, out = {dv, dS};
            float[][] dst = {null, null, x.go, x.vd}, outs = {x.dd, x.ds};
            long[] at = new long[4];
            for (int c = 0; c < d.c; c++) {
                int r = b * d.c + c;
                long plane = d.plane(b, c);
                float[] tq = x.tq[c], tk = x.tk[c], go = x.go, dD = x.vd;
                Arrays.fill(at, plane);
                dst[0] = tq;
                dst[1] = tk;
                PaddedRows.loadMany(4, in, at, d.h, d.w, dst, p.row(0), p.pitch);
                gatedSumAndProduct(tq, x.sq, gq[r], tk, x.sk, gk[r], x.s, dD, go, p.start, p.end);
                dwcB[r] = dwcOutputAndWeightGrad(x.s, dD, go, p.start, p.end, p.pitch, w, c * 9, bias[c], x.dd, dwcW, r * 9);
                dwcInputGradAndChannelSums(dD, p.start, p.end, p.pitch, wT, c * 9, x.ds, tq, x.sq, gq[r], x.accQ, tk, x.sk, gk[r],
                        x.accK, dgq, dgk, r);
                PaddedRows.storeMany(2, outs, p.row(0), p.pitch, out, at, d.h, d.w);
            }
            channelGateBackward(b, pq.wc, mq, gq, dgq, dmq, dWcQ);
            channelGateBackward(b, pk.wc, mk, gk, dgk, dmk, dWcK);
            // B2: the dm part of dz, from the image's q and k kept since B1.
            weightedSum(x.tq, dmq, b * d.c, d.c, 1.0 / d.hw(), x.accQ, p.start, p.end);
            weightedSum(x.tk, dmk, b * d.c, d.c, 1.0 / d.hw(), x.accK, p.start, p.end);
            sigmoidGrad(x.accQ, x.sq, dzq[b], p.start, p.end);
            sigmoidGrad(x.accK, x.sk, dzk[b], p.start, p.end);
        }

        /**
         * The tiny [C] channel-gate backward of image b: dpre = dg * g(1-g), dm = Wc^T dpre and
         * the image's term dWc[b] = dpre m^T.
         */
        private void channelGateBackward(int b, double[] wc, double[] m, float[] g, double[] dg, double[] dm, double[] dWc) {
            int c = d.c, o = b * c;
            for (int co = 0; co < c; co++) {
                double gv = g[o + co], dp = dg[o + co] * gv * (1 - gv);
                for (int ci = 0; ci < c; ci++) {
                    dWc[(b * c + co) * c + ci] = dp * m[o + ci];
                    dm[o + ci] += wc[co * c + ci] * dp;
                }
            }
        }

        void writeParameterGrads(Tensor gradDwcWeight, Tensor gradDwcBias, Tensor gradWcQ, Tensor gradWcK) {
            int c = d.c;
            double[] w9 = new double[c * 9], b1 = new double[c], wq = new double[c * c], wk = new double[c * c];
            for (int b = 0; b < d.b; b++) {
                for (int i = 0; i < c * 9; i++) w9[i] += dwcW[b * c * 9 + i];
                for (int i = 0; i < c; i++) b1[i] += dwcB[b * c + i];
                for (int i = 0; i < c * c; i++) {
                    wq[i] += dWcQ[b * c * c + i];
                    wk[i] += dWcK[b * c * c + i];
                }
            }
            write(gradDwcWeight, w9);
            write(gradDwcBias, b1);
            write(gradWcQ, wq);
            write(gradWcK, wk);
        }
    }

    /**
     * B1's dwc of the gated sum s and what shares its reads of s: dv = (dwc(s) + bias) * go into
     * dv, and dwc's weight gradient from dD, acc[accAt + tap] += sum dD * (s at the tap); returns
     * sum dD (the bias gradient). dD is zero outside the interior.
     */
    private static double dwcOutputAndWeightGrad(float[] s, float[] dD, float[] go, int from, int to, int pitch, float[] w9, int wAt,
                                                 float bias, float[] dv, double[] acc, int accAt) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]), vb = Vec.of(bias);
        FloatVector sum = Vec.of(0f), a0 = sum, a1 = sum, a2 = sum, a3 = sum, a4 = sum, a5 = sum, a6 = sum, a7 = sum, a8 = sum;
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector g = FloatVector.fromArray(S, dD, f);
            FloatVector x = FloatVector.fromArray(S, s, r0);
            FloatVector u = x.fma(k0, vb);
            a0 = g.fma(x, a0);
            x = FloatVector.fromArray(S, s, r0 + 1);
            u = x.fma(k1, u);
            a1 = g.fma(x, a1);
            x = FloatVector.fromArray(S, s, r0 + 2);
            u = x.fma(k2, u);
            a2 = g.fma(x, a2);
            x = FloatVector.fromArray(S, s, r1);
            u = x.fma(k3, u);
            a3 = g.fma(x, a3);
            x = FloatVector.fromArray(S, s, r1 + 1);
            u = x.fma(k4, u);
            a4 = g.fma(x, a4);
            x = FloatVector.fromArray(S, s, r1 + 2);
            u = x.fma(k5, u);
            a5 = g.fma(x, a5);
            x = FloatVector.fromArray(S, s, r2);
            u = x.fma(k6, u);
            a6 = g.fma(x, a6);
            x = FloatVector.fromArray(S, s, r2 + 1);
            u = x.fma(k7, u);
            a7 = g.fma(x, a7);
            x = FloatVector.fromArray(S, s, r2 + 2);
            u = x.fma(k8, u);
            a8 = g.fma(x, a8);
            u.mul(FloatVector.fromArray(S, go, f)).intoArray(dv, f);
            sum = sum.add(g);
        }
        acc[accAt] += Vec.sum(a0);
        acc[accAt + 1] += Vec.sum(a1);
        acc[accAt + 2] += Vec.sum(a2);
        acc[accAt + 3] += Vec.sum(a3);
        acc[accAt + 4] += Vec.sum(a4);
        acc[accAt + 5] += Vec.sum(a5);
        acc[accAt + 6] += Vec.sum(a6);
        acc[accAt + 7] += Vec.sum(a7);
        acc[accAt + 8] += Vec.sum(a8);
        return Vec.sum(sum);
    }

    /**
     * B1's dS = dwc^T(dD) (wT9: dwc's weights turned, as {@link PaddedRows#conv}) into ds, with
     * the sums that read it: the channel-gate sums of plane r, dgq[r] = sum dS*q*sq and dgk[r]
     * likewise, and the dS part of the spatial-gate gradients, accQ += q*dS*gq and accK +=
     * k*dS*gk. q and k are zero outside the interior, where dS holds values nobody reads.
     */
    private static void dwcInputGradAndChannelSums(float[] dD, int from, int to, int pitch, float[] wT9, int wAt, float[] ds, float[] q,
                                                   float[] sq, float gq, float[] accQ, float[] k, float[] sk, float gk, float[] accK,
                                                   double[] dgq, double[] dgk, int r) {
        FloatVector k0 = Vec.of(wT9[wAt]), k1 = Vec.of(wT9[wAt + 1]), k2 = Vec.of(wT9[wAt + 2]);
        FloatVector k3 = Vec.of(wT9[wAt + 3]), k4 = Vec.of(wT9[wAt + 4]), k5 = Vec.of(wT9[wAt + 5]);
        FloatVector k6 = Vec.of(wT9[wAt + 6]), k7 = Vec.of(wT9[wAt + 7]), k8 = Vec.of(wT9[wAt + 8]);
        FloatVector vq = Vec.of(gq), vk = Vec.of(gk), sQ = Vec.of(0f), sK = sQ;
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector x = FloatVector.fromArray(S, dD, r0).mul(k0);
            x = FloatVector.fromArray(S, dD, r0 + 1).fma(k1, x);
            x = FloatVector.fromArray(S, dD, r0 + 2).fma(k2, x);
            x = FloatVector.fromArray(S, dD, r1).fma(k3, x);
            x = FloatVector.fromArray(S, dD, r1 + 1).fma(k4, x);
            x = FloatVector.fromArray(S, dD, r1 + 2).fma(k5, x);
            x = FloatVector.fromArray(S, dD, r2).fma(k6, x);
            x = FloatVector.fromArray(S, dD, r2 + 1).fma(k7, x);
            x = FloatVector.fromArray(S, dD, r2 + 2).fma(k8, x);
            x.intoArray(ds, f);
            FloatVector a = FloatVector.fromArray(S, q, f), b = FloatVector.fromArray(S, k, f);
            sQ = a.mul(FloatVector.fromArray(S, sq, f)).fma(x, sQ);
            sK = b.mul(FloatVector.fromArray(S, sk, f)).fma(x, sK);
            a.fma(x.mul(vq), FloatVector.fromArray(S, accQ, f)).intoArray(accQ, f);
            b.fma(x.mul(vk), FloatVector.fromArray(S, accK, f)).intoArray(accK, f);
        }
        dgq[r] = Vec.sum(sQ);
        dgk[r] = Vec.sum(sK);
    }

    /** acc += sum_c planes[c] * (float) (coef[at + c] * scale) over [from, to), four planes per visit of acc. */
    private static void weightedSum(float[][] planes, double[] coef, int at, int n, double scale, float[] acc, int from, int to) {
        int c = 0;
        for (; c + 4 <= n; c += 4) {
            float[] p0 = planes[c], p1 = planes[c + 1], p2 = planes[c + 2], p3 = planes[c + 3];
            FloatVector s0 = Vec.of((float) (coef[at + c] * scale)), s1 = Vec.of((float) (coef[at + c + 1] * scale));
            FloatVector s2 = Vec.of((float) (coef[at + c + 2] * scale)), s3 = Vec.of((float) (coef[at + c + 3] * scale));
            for (int f = from; f < to; f += L) {
                FloatVector a = FloatVector.fromArray(S, p0, f).fma(s0, FloatVector.fromArray(S, acc, f));
                a = FloatVector.fromArray(S, p1, f).fma(s1, a);
                a = FloatVector.fromArray(S, p2, f).fma(s2, a);
                FloatVector.fromArray(S, p3, f).fma(s3, a).intoArray(acc, f);
            }
        }
        for (; c < n; c++) {
            FloatVector s0 = Vec.of((float) (coef[at + c] * scale));
            float[] p0 = planes[c];
            for (int f = from; f < to; f += L) FloatVector.fromArray(S, p0, f).fma(s0, FloatVector.fromArray(S, acc, f)).intoArray(acc, f);
        }
    }

    /** dz = acc * s(1-s) over [from, to). */
    private static void sigmoidGrad(float[] acc, float[] s, float[] dz, int from, int to) {
        FloatVector one = Vec.of(1f);
        for (int f = from; f < to; f += L) {
            FloatVector sv = FloatVector.fromArray(S, s, f);
            FloatVector.fromArray(S, acc, f).mul(sv).mul(one.sub(sv)).intoArray(dz, f);
        }
    }

    /** Per channel parameter gradients of one gate, each written by the task that owns the channel. */
    private record GateSums(double[] dw, double[] dbias, double[] dgamma, double[] dbeta, double[] dw1) {
        GateSums(int c) { this(new double[c * 9], new double[c], new double[c], new double[c], new double[c]); }

        void write(GateGrads g) {
            CpuAdditiveAttention.write(g.dwWeight(), dw);
            CpuAdditiveAttention.write(g.dwBias(), dbias);
            CpuAdditiveAttention.write(g.bnWeight(), dgamma);
            CpuAdditiveAttention.write(g.bnBias(), dbeta);
            CpuAdditiveAttention.write(g.spatialWeight(), dw1);
        }
    }

    /** One gate in B3: its input t, parameters, spatial gate s, channel gate g, dm, dz planes, input gradient and sums. */
    private record GateSide(MemorySegment t, GateParams p, MemorySegment s, float[] g, double[] dm, float[][] dz, MemorySegment out,
                            GateSums sums) {}

    /** One task's planes for one gate in B3: each image's staged input and BatchNorm's uh and da; du and dwconv^T(du). */
    private record GateScratch(float[][] t, float[][] uh, float[][] da, float[] du, float[] res) {
        GateScratch(int b, PaddedRows p) { this(new float[b][p.size], new float[b][p.size], new float[b][p.size], p.alloc(), p.alloc()); }
    }

    /**
     * B3 for channel c of both gates. With dz the gradient of the spatial gate's logit: dw1, the
     * BatchNorm affine gradients and, through BatchNorm (with the batch statistics' own gradient
     * when batchStats), the dw conv's gradients; dt = dx*s + dwconv^T(du) with dx = dS*g + dm/HW
     * the gradient of x = t*s. Both gates at once, so that each plane of dS is read once.
     */
    private static void gatesBackward(Dims d, PaddedRows p, float[] mask, int c, GateSide q, GateSide k, GateScratch xq,
                                      GateScratch xk, MemorySegment mds, boolean batchStats) {
        int hw = d.hw();
        stageChannel(d, p, c, q, xq, k, xk);
        float[] mq = batchNormSums(d, p, c, q, xq, batchStats), mk = batchNormSums(d, p, c, k, xk, batchStats);
        double dbq = 0, dbk = 0;
        for (int b = 0; b < d.b; b++) {
            dbq += dwBackward(p, mask, c, q.p, xq, b, mq, q.sums);
            dbk += dwBackward(p, mask, c, k.p, xk, b, mk, k.sums);
            int i = b * d.c + c;
            storeInputGrads(p, xq.res, xk.res, mds, q.s, k.s, d.plane(b, c), (long) b * hw, q.g[i], (float) (q.dm[i] / hw), k.g[i],
                    (float) (k.dm[i] / hw), q.out, k.out, d.h, d.w);
        }
        q.sums.dbias[c] = dbq;
        k.sums.dbias[c] = dbk;
    }

    /** Stages channel c of both gates' inputs over the batch, several planes at once. */
    private static void stageChannel(Dims d, PaddedRows p, int c, GateSide q, GateScratch xq, GateSide k, GateScratch xk) {
        MemorySegment[] segs = new MemorySegment[STREAMS];
        float[][] dst = new float[STREAMS][];
        long[] at = new long[STREAMS];
        int n = 0;
        for (int b = 0; b < d.b; b++) {
            for (int side = 0; side < 2; side++) {
                segs[n] = side == 0 ? q.t : k.t;
                dst[n] = side == 0 ? xq.t[b] : xk.t[b];
                at[n] = d.plane(b, c);
                if (++n == STREAMS || (b == d.b - 1 && side == 1)) {
                    PaddedRows.loadMany(n, segs, at, d.h, d.w, dst, p.row(0), p.pitch);
                    n = 0;
                }
            }
        }
    }

    /** BatchNorm's terms of channel c of a gate over the batch; returns the batch means of da and da*uh (0 in eval). */
    private static float[] batchNormSums(Dims d, PaddedRows p, int c, GateSide side, GateScratch x, boolean batchStats) {
        GateParams gp = side.p;
        double[] terms = new double[3];
        for (int b = 0; b < d.b; b++) {
            batchNormTerms(x.t[b], p.start, p.end, p.pitch, gp.dw, c * 9, gp.dwBias[c], side.dz[b], gp.mean[c], gp.invStd[c],
                    gp.scale[c], gp.shift[c], gp.w1[c], x.uh[b], x.da[b], terms);
        }
        side.sums.dw1[c] = terms[2];
        side.sums.dgamma[c] = terms[1];
        side.sums.dbeta[c] = terms[0];
        double n = (double) d.b * d.hw();
        return batchStats ? new float[] {(float) (terms[0] / n), (float) (terms[1] / n)} : new float[2];
    }

    /** du of image b through BatchNorm, the dw conv weight gradient, and dwconv^T(du) into x.res; returns sum du (the bias gradient). */
    private static double dwBackward(PaddedRows p, float[] mask, int c, GateParams gp, GateScratch x, int b, float[] means, GateSums sums) {
        double k = (double) gp.gamma[c] * gp.invStd[c];
        double db = inputGrad(x.uh[b], x.da[b], mask, (float) (k * gp.w1[c]), (float) (-k * means[0]), (float) (-k * means[1]), x.du,
                x.t[b], p.start, p.end, p.pitch, sums.dw, c * 9);
        PaddedRows.conv(x.du, p.start, p.end, p.pitch, gp.dwFlipped, c * 9, 0f, x.res);
        return db;
    }

    /**
     * From the dw conv output u = dwconv3x3(t) + bias (kept in registers) and the logit gradient
     * dz of one plane: uh = (u - mean)*inv and e = relu'(a) * dz, a = scale*u + shift =
     * gamma*uh + beta (as the forward computed it), so that da = e * w1; adds sum da, sum da*uh
     * and sum dz*relu(a) = sum e*a (the 1x1 weight's gradient) to terms[0..2], the factor w1
     * applied to the sums. dz is zero outside the interior, and so is e.
     */
    private static void batchNormTerms(float[] t, int from, int to, int pitch, float[] w9, int wAt, float bias, float[] dz, float mean,
                                       float inv, float scale, float shift, float w1, float[] uh, float[] da, double[] terms) {
        FloatVector k0 = Vec.of(w9[wAt]), k1 = Vec.of(w9[wAt + 1]), k2 = Vec.of(w9[wAt + 2]);
        FloatVector k3 = Vec.of(w9[wAt + 3]), k4 = Vec.of(w9[wAt + 4]), k5 = Vec.of(w9[wAt + 5]);
        FloatVector k6 = Vec.of(w9[wAt + 6]), k7 = Vec.of(w9[wAt + 7]), k8 = Vec.of(w9[wAt + 8]), vb = Vec.of(bias);
        FloatVector vm = Vec.of(mean), vi = Vec.of(inv), sc = Vec.of(scale), sh = Vec.of(shift);
        FloatVector zero = Vec.of(0f), sDa = zero, sDau = zero, sW1 = zero;
        for (int f = from; f < to; f += L) {
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            FloatVector u = FloatVector.fromArray(S, t, r0).fma(k0, vb);
            u = FloatVector.fromArray(S, t, r0 + 1).fma(k1, u);
            u = FloatVector.fromArray(S, t, r0 + 2).fma(k2, u);
            u = FloatVector.fromArray(S, t, r1).fma(k3, u);
            u = FloatVector.fromArray(S, t, r1 + 1).fma(k4, u);
            u = FloatVector.fromArray(S, t, r1 + 2).fma(k5, u);
            u = FloatVector.fromArray(S, t, r2).fma(k6, u);
            u = FloatVector.fromArray(S, t, r2 + 1).fma(k7, u);
            u = FloatVector.fromArray(S, t, r2 + 2).fma(k8, u);
            FloatVector h = u.sub(vm).mul(vi);
            FloatVector a = u.fma(sc, sh);
            FloatVector e = zero.blend(FloatVector.fromArray(S, dz, f), a.compare(VectorOperators.GT, zero));
            h.intoArray(uh, f);
            e.intoArray(da, f);
            sDa = sDa.add(e);
            sDau = h.fma(e, sDau);
            sW1 = a.fma(e, sW1);
        }
        terms[0] += (double) w1 * Vec.sum(sDa);
        terms[1] += (double) w1 * Vec.sum(sDau);
        terms[2] += Vec.sum(sW1);
    }

    /**
     * BatchNorm's input gradient du = mask * k * (da - meanDa - uh*meanDau), k = gamma*inv,
     * written as mask * (e*ke + uh*ch + c0) with da = e*w1 (ke = k*w1, ch = -k*meanDau, c0 =
     * -k*meanDa), over [from, to); and with it the dw conv's weight gradient acc[accAt + tap] +=
     * sum du * (t at the tap) (the taps of {@link PaddedRows#conv}); returns sum du (the bias gradient).
     */
    private static double inputGrad(float[] uh, float[] e, float[] mask, float ke, float c0, float ch, float[] du, float[] t,
                                    int from, int to, int pitch, double[] acc, int accAt) {
        FloatVector vke = Vec.of(ke), vc0 = Vec.of(c0), vch = Vec.of(ch), sum = Vec.of(0f);
        FloatVector s0 = sum, s1 = sum, s2 = sum, s3 = sum, s4 = sum, s5 = sum, s6 = sum, s7 = sum, s8 = sum;
        for (int f = from; f < to; f += L) {
            FloatVector g = FloatVector.fromArray(S, e, f).fma(vke, FloatVector.fromArray(S, uh, f).fma(vch, vc0))
                    .mul(FloatVector.fromArray(S, mask, f));
            g.intoArray(du, f);
            sum = sum.add(g);
            int r0 = f - pitch - 1, r1 = f - 1, r2 = f + pitch - 1;
            s0 = g.fma(FloatVector.fromArray(S, t, r0), s0);
            s1 = g.fma(FloatVector.fromArray(S, t, r0 + 1), s1);
            s2 = g.fma(FloatVector.fromArray(S, t, r0 + 2), s2);
            s3 = g.fma(FloatVector.fromArray(S, t, r1), s3);
            s4 = g.fma(FloatVector.fromArray(S, t, r1 + 1), s4);
            s5 = g.fma(FloatVector.fromArray(S, t, r1 + 2), s5);
            s6 = g.fma(FloatVector.fromArray(S, t, r2), s6);
            s7 = g.fma(FloatVector.fromArray(S, t, r2 + 1), s7);
            s8 = g.fma(FloatVector.fromArray(S, t, r2 + 2), s8);
        }
        acc[accAt] += Vec.sum(s0);
        acc[accAt + 1] += Vec.sum(s1);
        acc[accAt + 2] += Vec.sum(s2);
        acc[accAt + 3] += Vec.sum(s3);
        acc[accAt + 4] += Vec.sum(s4);
        acc[accAt + 5] += Vec.sum(s5);
        acc[accAt + 6] += Vec.sum(s6);
        acc[accAt + 7] += Vec.sum(s7);
        acc[accAt + 8] += Vec.sum(s8);
        return Vec.sum(sum);
    }

    /**
     * outQ = resQ + (dS*gq + dmq)*sq and outK likewise over a plane: res in p's layout, dS and the
     * outputs at element index plane, the spatial gates at spatial.
     */
    private static void storeInputGrads(PaddedRows p, float[] resQ, float[] resK, MemorySegment mds, MemorySegment msq,
                                        MemorySegment msk, long plane, long spatial, float gq, float dmq, float gk, float dmk,
                                        MemorySegment outQ, MemorySegment outK, int h, int w) {
        FloatVector vgq = Vec.of(gq), vdq = Vec.of(dmq), vgk = Vec.of(gk), vdk = Vec.of(dmk);
        if (w >= L) {
            int last = w - L;
            for (int y = 0; y < h; y++) {
                long at = plane + (long) y * w, sAt = spatial + (long) y * w;
                int o = p.row(y);
                for (int x = 0; x < w; x += L) {
                    int xx = Math.min(x, last);
                    FloatVector ds = Vec.ld(mds, at + xx);
                    Vec.st(outQ, at + xx, ds.fma(vgq, vdq).fma(Vec.ld(msq, sAt + xx), FloatVector.fromArray(S, resQ, o + xx)));
                    Vec.st(outK, at + xx, ds.fma(vgk, vdk).fma(Vec.ld(msk, sAt + xx), FloatVector.fromArray(S, resK, o + xx)));
                }
            }
        } else {
            VectorMask<Float> m = S.indexInRange(0, w);
            for (int y = 0; y < h; y++) {
                long at = (plane + (long) y * w) * 4, sAt = (spatial + (long) y * w) * 4;
                FloatVector ds = FloatVector.fromMemorySegment(S, mds, at, NATIVE, m);
                ds.fma(vgq, vdq).fma(FloatVector.fromMemorySegment(S, msq, sAt, NATIVE, m), FloatVector.fromArray(S, resQ, p.row(y), m))
                        .intoMemorySegment(outQ, at, NATIVE, m);
                ds.fma(vgk, vdk).fma(FloatVector.fromMemorySegment(S, msk, sAt, NATIVE, m), FloatVector.fromArray(S, resK, p.row(y), m))
                        .intoMemorySegment(outK, at, NATIVE, m);
            }
        }
    }
}
