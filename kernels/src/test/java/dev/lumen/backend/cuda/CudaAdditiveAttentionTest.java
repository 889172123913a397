package dev.lumen.backend.cuda;

import static dev.lumen.backend.cuda.DeviceOpCheck.assertClose;
import static dev.lumen.backend.cuda.DeviceOpCheck.hostPoisoned;
import static dev.lumen.backend.cuda.DeviceCheck.poisoned;
import static dev.lumen.backend.cuda.DeviceOpCheck.randn;
import static dev.lumen.backend.cuda.DeviceOpCheck.up;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.AdditiveAttentionKernels.Gate;
import dev.lumen.backend.AdditiveAttentionKernels.GateGrads;
import dev.lumen.backend.AdditiveAttentionKernels.GateState;
import dev.lumen.backend.Backends;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.function.BiFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CATM device op (CudaAdditiveAttention) against the CPU backend: batch statistics, the
 * normalization statistics and running-stat updates (bit-identical), the forward with its gate
 * states, and all 17 gradients, in training and eval, every floating dtype.
 */
class CudaAdditiveAttentionTest {
    private static final double EPS = 1e-5, MOMENTUM = 0.1;
    private static final String[] GRADS = {"q", "k", "v", "q.dw", "q.dwBias", "q.bnWeight", "q.bnBias", "q.w1", "q.Wc",
        "k.dw", "k.dwBias", "k.bnWeight", "k.bnBias", "k.w1", "k.Wc", "dwc", "dwcBias"};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * F32: both sides compute in float (sums in double), in another order, and __expf in the
     * gates; the BatchNorm backward subtracts batch means: ~1e-6. F64: both in double. F16/BF16:
     * the same stored inputs, the CPU computes in double and the device in float, and both store
     * the gates in the storage type, which the later passes read: a few storage roundings
     * (2^-11, 2^-8), amplified by the BatchNorm backward's cancellation. Measured under the
     * emulator: 4.4e-7, 5e-16, 1.8e-3, 7.5e-3.
     */
    static double tolerance(DType t) {
        return switch (t) {
            case F32 -> 5e-6;
            case F64 -> 1e-13;
            case F16 -> 1e-2;
            case BF16 -> 5e-2;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    /** dwWeight, dwBias, bnWeight, bnBias, runningMean, runningVar, spatialWeight, channelWeight on the host. */
    static Tensor[] gateParams(Generator gen, DType t, int c) {
        double[] var = Tensor.rand(gen, DType.F64, c).toDoubles();
        for (int i = 0; i < c; i++) var[i] += 1;
        return new Tensor[] {randn(gen, t, 0.4, 0, c, 1, 3, 3), randn(gen, t, 0.1, 0, c), randn(gen, t, 0.2, 1, c),
            randn(gen, t, 0.2, 0, c), randn(gen, t, 0.1, 0, c), Tensor.fromDoubles(var, t, c), randn(gen, t, 0.5, 0, 1, c, 1, 1),
            randn(gen, t, 0.5, 0, c, c, 1, 1)};
    }

    /** The gates' statistics on one backend (p[4], p[5] updated in training); returns {mean, invStd, batchMean, batchVar}. */
    static Tensor[] statistics(AdditiveAttentionKernels kern, Tensor t, Tensor[] p, boolean training,
                               BiFunction<DType, int[], Tensor> empty) {
        int c = t.shape(1);
        DType dt = t.dtype();
        Tensor mean = empty.apply(dt, new int[] {c}), inv = empty.apply(dt, new int[] {c});
        if (!training) {
            kern.catmNormalization(null, null, p[4], p[5], MOMENTUM, 1, EPS, mean, inv);
            return new Tensor[] {mean, inv, null, null};
        }
        Tensor bm = empty.apply(dt, new int[] {c}), bv = empty.apply(dt, new int[] {c});
        kern.catmBatchStats(t, p[0], p[1], bm, bv);
        double n = (double) t.shape(0) * t.shape(2) * t.shape(3);
        kern.catmNormalization(bm, bv, p[4], p[5], MOMENTUM, n / (n - 1), EPS, mean, inv);
        return new Tensor[] {mean, inv, bm, bv};
    }

    @ParameterizedTest(name = "{5} B{0} C{1} {2}x{3} training={4}")
    @CsvSource({
        "2, 5, 7, 7, true, F32",
        "1, 3, 19, 17, true, F32",
        "3, 3, 5, 9, false, F32",
        "2, 5, 7, 7, true, F64",
        "1, 4, 5, 6, false, F64",
        "2, 3, 6, 5, true, F16",
        "2, 3, 6, 5, false, BF16",
    })
    void forwardAndBackwardMatchTheCpu(int b, int c, int h, int w, boolean training, DType t) {
        Generator gen = new Generator(13L * h + c + (training ? 1 : 0));
        double tol = tolerance(t);
        String what = "catm " + t + " B" + b + " C" + c + " " + h + "x" + w + (training ? " training" : " eval");
        try (Scope sc = Scope.open()) {
            Tensor q = randn(gen, t, 1, 0, b, c, h, w), k = randn(gen, t, 1, 0, b, c, h, w), v = randn(gen, t, 1, 0, b, c, h, w);
            Tensor gout = randn(gen, t, 1, 0, b, c, h, w);
            Tensor[] pq = gateParams(gen, t, c), pk = gateParams(gen, t, c);
            Tensor dwc = randn(gen, t, 0.4, 0, c, 1, 3, 3), dwcB = randn(gen, t, 0.1, 0, c);
            Tensor[] dpq = new Tensor[8], dpk = new Tensor[8];
            for (int i = 0; i < 8; i++) {
                dpq[i] = up(pq[i]);
                dpk[i] = up(pk[i]);
            }
            AdditiveAttentionKernels cpu = Backends.cpu().additiveAttention(), dev = CudaBackend.get().additiveAttention();
            Tensor dq = up(q), dk = up(k), dv = up(v), dgout = up(gout), ddwc = up(dwc), ddwcB = up(dwcB);

            Tensor[] sq = statistics(cpu, q, pq, training, (dt, s) -> hostPoisoned(dt, s));
            Tensor[] sk = statistics(cpu, k, pk, training, (dt, s) -> hostPoisoned(dt, s));
            Tensor[] dsq = statistics(dev, dq, dpq, training, (dt, s) -> poisoned(dt, s));
            Tensor[] dsk = statistics(dev, dk, dpk, training, (dt, s) -> poisoned(dt, s));
            String[] statNames = {"mean", "invStd", "batch mean", "batch var"};
            for (int i = 0; i < 4; i++) {
                if (sq[i] == null) continue;
                assertClose(what + " q " + statNames[i], dsq[i], sq[i], tol);
                assertClose(what + " k " + statNames[i], dsk[i], sk[i], tol);
            }
            assertClose(what + " q running mean", dpq[4], pq[4], tol);
            assertClose(what + " q running var", dpq[5], pq[5], tol);

            Gate gq = gate(pq, sq), gk = gate(pk, sk), dgq = gate(dpq, dsq), dgk = gate(dpk, dsk);
            GateState stq = state(t, b, c, h, w, false), stk = state(t, b, c, h, w, false);
            GateState dstq = state(t, b, c, h, w, true), dstk = state(t, b, c, h, w, true);
            Tensor want = hostPoisoned(t, q.shape()), out = poisoned(t, q.shape());
            cpu.catmForward(q, k, v, gq, gk, stq, stk, dwc, dwcB, want);
            dev.catmForward(dq, dk, dv, dgq, dgk, dstq, dstk, ddwc, ddwcB, out);
            assertClose(what + " out", out, want, tol);
            assertClose(what + " q spatial gate", dstq.spatial(), stq.spatial(), tol);
            assertClose(what + " k channel means", dstk.pooled(), stk.pooled(), tol);
            assertClose(what + " k channel gate", dstk.channel(), stk.channel(), tol);

            Tensor[] wantG = grads(q, pq, dwc, false), g = grads(q, pq, dwc, true);
            cpu.catmBackward(q, k, v, gq, gk, stq, stk, dwc, dwcB, training, gout, wantG[2], wantG[15], wantG[16],
                    gateGrads(wantG, 0, 3), gateGrads(wantG, 1, 9));
            dev.catmBackward(dq, dk, dv, dgq, dgk, dstq, dstk, ddwc, ddwcB, training, dgout, g[2], g[15], g[16],
                    gateGrads(g, 0, 3), gateGrads(g, 1, 9));
            for (int i = 0; i < g.length; i++) {
                if (training && (i == 4 || i == 10)) {
                    // BatchNorm with batch statistics cancels the dw conv bias: its gradient is rounding
                    // noise on both sides, bounded against the same gate's dw weight gradient.
                    double noise = norm(g[i]), scale = norm(wantG[i - 1]);
                    assertTrue(noise <= tol * scale, what + ": " + GRADS[i] + " should be ~0, norm " + noise + " against " + scale);
                    continue;
                }
                assertClose(what + " gradient " + GRADS[i], g[i], wantG[i], tol);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32", "F64", "F16"})
    void normalizationRoundsLikeTheCpu(DType t) {
        Generator gen = new Generator(17);
        int c = 37;
        try (Scope sc = Scope.open()) {
            Tensor bm = randn(gen, t, 1, 0, c), bv = randn(gen, t, 0.3, 1, c);
            Tensor rm = randn(gen, t, 1, 0, c), rv = randn(gen, t, 0.3, 1, c);
            Tensor drm = up(rm), drv = up(rv);
            Tensor mean = hostPoisoned(t, c), inv = hostPoisoned(t, c), dmean = poisoned(t, c), dinv = poisoned(t, c);
            Backends.cpu().additiveAttention().catmNormalization(bm, bv, rm, rv, MOMENTUM, 1.0 / 0.97, EPS, mean, inv);
            CudaBackend.get().additiveAttention().catmNormalization(up(bm), up(bv), drm, drv, MOMENTUM, 1.0 / 0.97, EPS, dmean, dinv);
            assertArrayEquals(mean.toDoubles(), dmean.to(Device.CPU).toDoubles(), 0.0, "mean");
            assertArrayEquals(inv.toDoubles(), dinv.to(Device.CPU).toDoubles(), 0.0, "invStd");
            assertArrayEquals(rm.toDoubles(), drm.to(Device.CPU).toDoubles(), 0.0, "running mean");
            assertArrayEquals(rv.toDoubles(), drv.to(Device.CPU).toDoubles(), 0.0, "running var");

            Backends.cpu().additiveAttention().catmNormalization(null, null, rm, rv, MOMENTUM, 1, EPS, mean, inv);
            CudaBackend.get().additiveAttention().catmNormalization(null, null, drm, drv, MOMENTUM, 1, EPS, dmean, dinv);
            assertArrayEquals(mean.toDoubles(), dmean.to(Device.CPU).toDoubles(), 0.0, "eval mean");
            assertArrayEquals(inv.toDoubles(), dinv.to(Device.CPU).toDoubles(), 0.0, "eval invStd");
        }
    }

    @Test
    void steadyTrainingStepAllocatesNothingAndNeverWaits() {
        Generator gen = new Generator(23);
        DType t = DType.F32;
        int b = 2, c = 3, h = 7, w = 6;
        try (Scope sc = Scope.open()) {
            Tensor q = up(randn(gen, t, 1, 0, b, c, h, w)), k = up(randn(gen, t, 1, 0, b, c, h, w));
            Tensor v = up(randn(gen, t, 1, 0, b, c, h, w)), gout = up(randn(gen, t, 1, 0, b, c, h, w));
            Tensor[] pq = gateParams(gen, t, c), pk = gateParams(gen, t, c);
            for (int i = 0; i < 8; i++) {
                pq[i] = up(pq[i]);
                pk[i] = up(pk[i]);
            }
            Tensor dwc = up(randn(gen, t, 0.4, 0, c, 1, 3, 3)), dwcB = up(randn(gen, t, 0.1, 0, c));
            AdditiveAttentionKernels dev = CudaBackend.get().additiveAttention();
            DeviceOpCheck.assertSteadyState("catm", () -> {
                try (Scope step = Scope.open()) {
                    BiFunction<DType, int[], Tensor> empty = (dt, s) -> Tensor.empty(dt, DeviceOpCheck.CUDA, s);
                    Gate gq = gate(pq, statistics(dev, q, pq, true, empty)), gk = gate(pk, statistics(dev, k, pk, true, empty));
                    GateState sq = state(t, b, c, h, w, true), sk = state(t, b, c, h, w, true);
                    Tensor out = Tensor.empty(t, DeviceOpCheck.CUDA, q.shape());
                    dev.catmForward(q, k, v, gq, gk, sq, sk, dwc, dwcB, out);
                    Tensor[] g = grads(q, pq, dwc, true);
                    dev.catmBackward(q, k, v, gq, gk, sq, sk, dwc, dwcB, true, gout, g[2], g[15], g[16], gateGrads(g, 0, 3), gateGrads(g, 1, 9));
                }
            });
        }
    }

    private static Gate gate(Tensor[] p, Tensor[] stats) { return new Gate(p[0], p[1], p[2], p[3], stats[0], stats[1], p[6], p[7]); }

    private static GateState state(DType t, int b, int c, int h, int w, boolean device) {
        BiFunction<DType, int[], Tensor> f = device ? (dt, s) -> poisoned(dt, s) : (dt, s) -> hostPoisoned(dt, s);
        return new GateState(f.apply(t, new int[] {b, h, w}), f.apply(t, new int[] {b, c}), f.apply(t, new int[] {b, c}));
    }

    /** Poisoned gradients in GRADS order, on the device or the host. */
    private static Tensor[] grads(Tensor q, Tensor[] p, Tensor dwc, boolean device) {
        int[][] shapes = {q.shape(), q.shape(), q.shape(), p[0].shape(), p[1].shape(), p[2].shape(), p[3].shape(), p[6].shape(),
            p[7].shape(), p[0].shape(), p[1].shape(), p[2].shape(), p[3].shape(), p[6].shape(), p[7].shape(), dwc.shape(), p[1].shape()};
        Tensor[] g = new Tensor[shapes.length];
        for (int i = 0; i < g.length; i++) g[i] = device ? poisoned(q.dtype(), shapes[i]) : hostPoisoned(q.dtype(), shapes[i]);
        return g;
    }

    private static GateGrads gateGrads(Tensor[] g, int input, int first) {
        return new GateGrads(g[input], g[first], g[first + 1], g[first + 2], g[first + 3], g[first + 4], g[first + 5]);
    }

    private static double norm(Tensor t) {
        double s = 0;
        for (double x : t.to(Device.CPU).toDoubles()) s += x * x;
        return Math.sqrt(s);
    }
}
