package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.AdditiveAttentionKernels.GateGrads;
import dev.lumen.backend.AdditiveAttentionKernels.GateState;
import dev.lumen.backend.cpu.Parallel;
import dev.lumen.memory.Scope;
import dev.lumen.reference.AdditiveAttentionReference;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class AdditiveAttentionTest extends DeviceTest {
    private static final Golden G = Golden.load("additive_attention");
    private static final double EPS = 1e-5, MOMENTUM = 0.1;
    // The F32 kernels compute in float (sums over a plane in float lanes, added in double across
    // planes and the batch) against a double reference; each rounding is ~6e-8 relative, and the
    // BatchNorm backward subtracts batch means (mild cancellation): errors stay near 1e-6.
    private static final double TOL_F32 = 1e-5;
    // F64 throughout: only the order of the sums differs from the reference.
    private static final double TOL_F64 = 1e-11;
    private static final String[] GRAD_NAMES = {"q", "k", "v", "q.dwWeight", "q.dwBias", "q.bnWeight", "q.bnBias",
        "q.spatialWeight", "q.channelWeight", "k.dwWeight", "k.dwBias", "k.bnWeight", "k.bnBias", "k.spatialWeight",
        "k.channelWeight", "dwcWeight", "dwcBias"};

    @Test
    void matchesTorchGoldens() {
        for (String name : new String[] {"train_7x7", "train_6x9", "train_1x8x8", "eval_5x5"}) {
            try (Scope s = Scope.open()) {
                Tensor[] in = new Tensor[17];
                for (int i = 0; i < in.length; i++) in[i] = G.input(name, i, device);
                Tensor[] running = new Tensor[4];
                for (int i = 0; i < 2; i++) {
                    running[2 * i] = G.get(name + ".running_mean" + i).to(device).copy();
                    running[2 * i + 1] = G.get(name + ".running_var" + i).to(device).copy();
                }
                var gq = new AdditiveAttention.Gate(in[3], in[4], in[5], in[6], running[0], running[1], in[7], in[8]);
                var gk = new AdditiveAttention.Gate(in[9], in[10], in[11], in[12], running[2], running[3], in[13], in[14]);
                Tensor out = AdditiveAttention.additiveAttention(in[0], in[1], in[2], gq, gk, in[15], in[16],
                        name.startsWith("train"), MOMENTUM, EPS);
                boolean training = name.startsWith("train");
                Golden.assertClose("additive_attention", name + ".out", out, G.get(name + ".out"), TOL_F32);
                out.backward(G.get(name + ".gout").to(device));
                for (int i = 0; i < in.length; i++) {
                    checkGradient("additive_attention", name + " grad " + GRAD_NAMES[i], i, training, in[i].grad(),
                            G.get(name + ".grad" + i), G.get(name + ".grad" + (i < 9 ? 3 : 9)), TOL_F32);
                }
                for (int i = 0; i < 2; i++) {
                    // One f32 rounding of a momentum blend of the (double) batch statistics.
                    Golden.assertClose("additive_attention", name + ".running_mean" + i, running[2 * i], G.get(name + ".running_mean" + i + ".after"), 1e-6);
                    Golden.assertClose("additive_attention", name + ".running_var" + i, running[2 * i + 1], G.get(name + ".running_var" + i + ".after"), 1e-6);
                }
            }
        }
    }

    /** B, C, H, W, training: the CAS-ViT map sizes 7, 13 (odd), 14, 28, a non-square map, and eval mode. */
    private static final int[][] SHAPES = {
        {2, 5, 7, 7, 1},
        {1, 6, 13, 13, 1},
        {2, 8, 14, 14, 1},
        {1, 4, 28, 28, 1},
        {3, 3, 5, 9, 1},
        {2, 4, 13, 13, 0},
    };

    @Test
    void cpuKernelsMatchReferenceInF32() { compareWithReference(DType.F32, TOL_F32); }

    @Test
    void cpuKernelsMatchReferenceInF64() { compareWithReference(DType.F64, TOL_F64); }

    /** Runs the kernels as the op does, every output poisoned with NaN first, against the reference. */
    private void compareWithReference(DType dtype, double tol) {
        long seed = System.nanoTime();
        Generator gen = new Generator(seed);
        for (int[] d : SHAPES) {
            try (Scope s = Scope.open()) {
                int B = d[0], C = d[1], H = d[2], W = d[3];
                boolean training = d[4] == 1;
                String what = dtype + " " + Arrays.toString(d) + " seed " + seed;
                Tensor q = on(Tensor.randn(gen, dtype, B, C, H, W)), k = on(Tensor.randn(gen, dtype, B, C, H, W)), v = on(Tensor.randn(gen, dtype, B, C, H, W));
                Tensor gout = on(Tensor.randn(gen, dtype, B, C, H, W));
                Tensor[] pq = randomGate(gen, dtype, C), pk = randomGate(gen, dtype, C);
                Tensor dwcW = on(Tensor.randn(gen, dtype, C, 1, 3, 3)).mul(0.4), dwcB = on(Tensor.randn(gen, dtype, C)).mul(0.1);
                var ref = AdditiveAttentionReference.run(new AdditiveAttentionReference.Shape(B, C, H, W), q.toDoubles(), k.toDoubles(),
                        v.toDoubles(), refGate(pq), refGate(pk), dwcW.toDoubles(), dwcB.toDoubles(), training, EPS, gout.toDoubles());

                AdditiveAttentionKernels kern = q.backend().additiveAttention();
                AdditiveAttentionKernels.Gate kq = kernelGate(kern, q, pq, training, ref.batchMean()[0], ref.batchVar()[0], what + " q", tol);
                AdditiveAttentionKernels.Gate kk = kernelGate(kern, k, pk, training, ref.batchMean()[1], ref.batchVar()[1], what + " k", tol);
                GateState sq = new GateState(nan(dtype, B, H, W), nan(dtype, B, C), nan(dtype, B, C));
                GateState sk = new GateState(nan(dtype, B, H, W), nan(dtype, B, C), nan(dtype, B, C));
                Tensor out = nan(dtype, B, C, H, W);
                kern.catmForward(q, k, v, kq, kk, sq, sk, dwcW, dwcB, out);
                Golden.assertClose("additive_attention-ref", what + " out", out, f64(ref.out(), B, C, H, W), tol);

                Tensor[] grads = new Tensor[17];
                Tensor[] like = {q, k, v, pq[0], pq[1], pq[2], pq[3], pq[6], pq[7], pk[0], pk[1], pk[2], pk[3], pk[6], pk[7], dwcW, dwcB};
                for (int i = 0; i < grads.length; i++) grads[i] = nan(dtype, like[i].shape());
                kern.catmBackward(q, k, v, kq, kk, sq, sk, dwcW, dwcB, training, gout, grads[2], grads[15], grads[16],
                        new GateGrads(grads[0], grads[3], grads[4], grads[5], grads[6], grads[7], grads[8]),
                        new GateGrads(grads[1], grads[9], grads[10], grads[11], grads[12], grads[13], grads[14]));
                var rq = ref.gradQ();
                var rk = ref.gradK();
                double[][] expected = {rq.input(), rk.input(), ref.gradV(), rq.dwWeight(), rq.dwBias(), rq.bnWeight(), rq.bnBias(),
                    rq.spatialWeight(), rq.channelWeight(), rk.dwWeight(), rk.dwBias(), rk.bnWeight(), rk.bnBias(),
                    rk.spatialWeight(), rk.channelWeight(), ref.gradDwcWeight(), ref.gradDwcBias()};
                for (int i = 0; i < grads.length; i++) {
                    checkGradient("additive_attention-ref", what + " grad " + GRAD_NAMES[i], i, training, grads[i],
                            f64(expected[i], like[i].shape()), f64(expected[i < 9 ? 3 : 9], 9 * C), tol);
                }
            }
        }
    }

    /**
     * With batch statistics, BatchNorm cancels any per-channel shift of its input, so the gate's
     * dw-conv bias has zero gradient: both sides hold rounding noise there, which is compared
     * against the size of the same gate's dw weight gradient instead of itself.
     */
    private void checkGradient(String family, String what, int index, boolean training, Tensor actual, Tensor expected,
                                      Tensor weightGrad, double tol) {
        if (actual == null) throw new AssertionError(what + ": no gradient");
        if (!training || (index != 4 && index != 10)) {
            Golden.assertClose(family, what, actual, expected, tol);
            return;
        }
        double scale = Math.sqrt(Arrays.stream(weightGrad.toDoubles()).map(x -> x * x).sum());
        double norm = Math.sqrt(Arrays.stream(actual.toDoubles()).map(x -> x * x).sum());
        assertTrue(norm <= tol * scale, what + ": " + norm + " should be ~0 next to the dw weight gradient " + scale);
    }

    /** dwWeight, dwBias, bnWeight, bnBias, runningMean, runningVar, spatialWeight, channelWeight. */
    private Tensor[] randomGate(Generator gen, DType dtype, int c) {
        return new Tensor[] {
            on(Tensor.randn(gen, dtype, c, 1, 3, 3)).mul(0.4), on(Tensor.randn(gen, dtype, c)).mul(0.1),
            on(Tensor.randn(gen, dtype, c)).mul(0.2).add(1), on(Tensor.randn(gen, dtype, c)).mul(0.2),
            on(Tensor.randn(gen, dtype, c)).mul(0.1), on(Tensor.rand(gen, dtype, c)).add(1),
            on(Tensor.randn(gen, dtype, 1, c, 1, 1)).mul(0.5), on(Tensor.randn(gen, dtype, c, c, 1, 1)).mul(0.5)};
    }

    private AdditiveAttentionReference.Gate refGate(Tensor[] p) {
        return new AdditiveAttentionReference.Gate(p[0].toDoubles(), p[1].toDoubles(), p[2].toDoubles(), p[3].toDoubles(),
                p[4].toDoubles(), p[5].toDoubles(), p[6].toDoubles(), p[7].toDoubles());
    }

    /** The kernels' gate, with the batch statistics from catmBatchStats (checked against the reference's) in training. */
    private AdditiveAttentionKernels.Gate kernelGate(AdditiveAttentionKernels kern, Tensor t, Tensor[] p, boolean training,
                                                             double[] refMean, double[] refVar, String what, double tol) {
        int c = t.shape(1);
        Tensor mean = p[4], var = p[5];
        if (training) {
            mean = nan(t.dtype(), c);
            var = nan(t.dtype(), c);
            kern.catmBatchStats(t, p[0], p[1], mean, var);
            Golden.assertClose("additive_attention-ref", what + " batch mean", mean, f64(refMean, c), tol);
            Golden.assertClose("additive_attention-ref", what + " batch var", var, f64(refVar, c), tol);
        }
        double[] vr = var.toDoubles(), inv = new double[c];
        for (int i = 0; i < c; i++) inv[i] = 1 / Math.sqrt(vr[i] + EPS);
        return new AdditiveAttentionKernels.Gate(p[0], p[1], p[2], p[3], mean, on(Tensor.fromDoubles(inv, t.dtype(), c)), p[6], p[7]);
    }

    @Test
    void gradientsPassFiniteDifferences() {
        Generator gen = new Generator(5);
        for (int[] d : new int[][] {{1, 2, 3, 3, 1}, {2, 3, 4, 3, 1}, {2, 2, 3, 4, 0}}) {
            int B = d[0], C = d[1], H = d[2], W = d[3];
            boolean training = d[4] == 1;
            Tensor[] pq = randomGate(gen, DType.F64, C), pk = randomGate(gen, DType.F64, C);
            Tensor[] in = {on(Tensor.randn(gen, DType.F64, B, C, H, W)), on(Tensor.randn(gen, DType.F64, B, C, H, W)),
                on(Tensor.randn(gen, DType.F64, B, C, H, W)), pq[0], pq[1], pq[2], pq[3], pq[6], pq[7],
                pk[0], pk[1], pk[2], pk[3], pk[6], pk[7], on(Tensor.randn(gen, DType.F64, C, 1, 3, 3)).mul(0.4),
                on(Tensor.randn(gen, DType.F64, C)).mul(0.1)};
            GradCheck.check(device, "additiveAttention " + Arrays.toString(d), x -> AdditiveAttention.additiveAttention(x[0], x[1], x[2],
                    new AdditiveAttention.Gate(x[3], x[4], x[5], x[6], pq[4].copy(), pq[5].copy(), x[7], x[8]),
                    new AdditiveAttention.Gate(x[9], x[10], x[11], x[12], pk[4].copy(), pk[5].copy(), x[13], x[14]),
                    x[15], x[16], training, MOMENTUM, EPS), in);
        }
    }

    /** Tasks are images and channels and every sum has a fixed order, so the thread count changes no bit. */
    @Test
    void resultsDoNotDependOnTheThreadCount() {
        int before = Parallel.threads();
        try {
            Parallel.setThreads(1);
            float[][] one = outputsAndGradients();
            Parallel.setThreads(3);
            float[][] three = outputsAndGradients();
            for (int i = 0; i < one.length; i++) assertArrayEquals(one[i], three[i], "output " + i);
        } finally {
            Parallel.setThreads(before);
        }
    }

    /** out and every gradient of a [3,5,19,21] training step (rows wider than a vector and odd sizes). */
    private float[][] outputsAndGradients() {
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(11);
            int B = 3, C = 5, H = 19, W = 21;
            Tensor[] pq = randomGate(gen, DType.F32, C), pk = randomGate(gen, DType.F32, C);
            Tensor[] in = {on(Tensor.randn(gen, DType.F32, B, C, H, W)), on(Tensor.randn(gen, DType.F32, B, C, H, W)),
                on(Tensor.randn(gen, DType.F32, B, C, H, W)), pq[0], pq[1], pq[2], pq[3], pq[6], pq[7], pk[0], pk[1], pk[2], pk[3], pk[6],
                pk[7], on(Tensor.randn(gen, DType.F32, C, 1, 3, 3)).mul(0.4), on(Tensor.randn(gen, DType.F32, C)).mul(0.1)};
            for (Tensor t : in) t.requiresGrad(true);
            Tensor out = AdditiveAttention.additiveAttention(in[0], in[1], in[2],
                    new AdditiveAttention.Gate(in[3], in[4], in[5], in[6], pq[4], pq[5], in[7], in[8]),
                    new AdditiveAttention.Gate(in[9], in[10], in[11], in[12], pk[4], pk[5], in[13], in[14]), in[15], in[16], true,
                    MOMENTUM, EPS);
            out.backward(on(Tensor.randn(gen, DType.F32, B, C, H, W)));
            float[][] r = new float[in.length + 1][];
            r[0] = out.toFloats();
            for (int i = 0; i < in.length; i++) r[i + 1] = in[i].grad().toFloats();
            return r;
        }
    }

    @Test
    void underAutocastSixteenBitActivationsComputeInTheGatesType() {
        Generator gen = new Generator(13);
        int C = 3;
        Tensor[] pq = randomGate(gen, DType.F32, C), pk = randomGate(gen, DType.F32, C);
        var gq = new AdditiveAttention.Gate(pq[0], pq[1], pq[2], pq[3], pq[4], pq[5], pq[6], pq[7]);
        var gk = new AdditiveAttention.Gate(pk[0], pk[1], pk[2], pk[3], pk[4], pk[5], pk[6], pk[7]);
        Tensor dwcW = on(Tensor.randn(gen, DType.F32, C, 1, 3, 3)), dwcB = on(Tensor.randn(gen, DType.F32, C));
        Tensor q = on(Tensor.randn(gen, DType.F32, 2, C, 5, 4).to(DType.BF16)).requiresGrad(true);
        Tensor kv = on(Tensor.randn(gen, DType.F32, 2, C, 5, 4).to(DType.BF16));
        Tensor out;
        try (var ac = dev.lumen.autograd.Autocast.enable(DType.BF16)) {
            out = AdditiveAttention.additiveAttention(q, kv, kv, gq, gk, dwcW, dwcB, false, MOMENTUM, EPS);
        }
        Tensor want = AdditiveAttention.additiveAttention(q.detach().to(DType.F32), kv.to(DType.F32), kv.to(DType.F32), gq, gk, dwcW, dwcB,
                false, MOMENTUM, EPS);
        assertArrayEquals(want.toFloats(), out.toFloats());
        out.sum().backward();
        assertTrue(q.grad().dtype() == DType.BF16, "q's gradient takes q's type, got " + q.grad().dtype());
    }

    @Test
    void rejectsMisshapenParametersByName() {
        Tensor q = on(Tensor.zeros(1, 4, 5, 5));
        Tensor[] p = randomGate(new Generator(1), DType.F32, 4);
        var good = new AdditiveAttention.Gate(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
        var bad = new AdditiveAttention.Gate(p[0], p[1], p[2], p[3], p[4], p[5], on(Tensor.zeros(4, 1, 1, 1)), p[7]);
        var e = assertThrows(IllegalArgumentException.class, () -> AdditiveAttention.additiveAttention(q, q, q, good, bad,
                on(Tensor.zeros(4, 1, 3, 3)), on(Tensor.zeros(4)), true, MOMENTUM, EPS));
        assertTrue(e.getMessage().equals("additiveAttention: gate k spatialWeight must be [1, 4, 1, 1], got [4, 1, 1, 1]"), e.getMessage());
        var v = assertThrows(IllegalArgumentException.class, () -> AdditiveAttention.additiveAttention(q, q, on(Tensor.zeros(1, 4, 5, 6)),
                good, good, on(Tensor.zeros(4, 1, 3, 3)), on(Tensor.zeros(4)), true, MOMENTUM, EPS));
        assertTrue(v.getMessage().contains("v must be [1, 4, 5, 5]"), v.getMessage());
    }

    private Tensor nan(DType dtype, int... shape) { return Tensor.full(Double.NaN, dtype, device, shape); }

    private Tensor f64(double[] data, int... shape) { return on(Tensor.fromDoubles(data, DType.F64, shape)); }
}
