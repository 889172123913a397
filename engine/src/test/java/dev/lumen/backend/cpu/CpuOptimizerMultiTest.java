package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.NAdamStep;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.backend.RAdamStep;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The multi-tensor SGD, Adam/AdamW and EMA updates and value clipping, which run every
 * parameter of a call in one parallel region cut by elements across tensor boundaries, against
 * a scalar float loop of the same formulas, bit for bit, at one thread and at three; the
 * one-pass gradient-norm clip, RMSprop(TF), AdaBelief, NAdam and RAdam against the interface's
 * per-tensor defaults (norms and scaling, tensor ops), bit for bit; and LAMB and LARS against
 * them to rounding where a trust ratio enters, bit for bit where none does; AGC against them to
 * rounding (its unit norms sum in double).
 */
class CpuOptimizerMultiTest {
    /** Sizes that put chunk boundaries inside tensors and tensors inside chunks; the last tensor is a transposed (strided) view. */
    private static final int[][] SHAPES = {{1}, {7}, {33}, {40_000}, {3, 0}, {100_003}, {257}, {129, 513}};

    private static final CpuOptimizer KERNELS = new CpuOptimizer();

    private static List<Tensor> tensors(long seed, boolean positive) { return tensors(seed, positive, DType.F32); }

    private static List<Tensor> tensors(long seed, boolean positive, DType dtype) {
        Generator g = new Generator(seed);
        List<Tensor> ts = new ArrayList<>();
        for (int i = 0; i < SHAPES.length; i++) {
            Tensor t = Tensor.randn(g, DType.F32, SHAPES[i]).to(dtype);
            if (positive) t = t.mul(t);
            // Made contiguous as [513, 129], then viewed transposed: the kernel sees a strided [129, 513].
            ts.add(i == SHAPES.length - 1 ? t.transpose(0, 1).contiguous().transpose(0, 1) : t.contiguous());
        }
        return ts;
    }

    private static float[][] floats(List<Tensor> ts) {
        float[][] out = new float[ts.size()][];
        for (int i = 0; i < ts.size(); i++) out[i] = ts.get(i).toFloats();
        return out;
    }

    private static void assertSame(float[][] expected, List<Tensor> actual, String what) {
        for (int i = 0; i < expected.length; i++) assertArrayEquals(expected[i], actual.get(i).toFloats(), what + " tensor " + i);
    }

    /** Runs body at the given thread count, restoring the previous one. */
    private static void at(int threads, Runnable body) {
        int before = Parallel.threads();
        Parallel.setThreads(threads);
        try {
            body.run();
        } finally {
            Parallel.setThreads(before);
        }
    }

    @Test
    void adamMultiEqualsTheScalarFormulaBitForBitAtAnyThreadCount() {
        for (boolean decoupled : new boolean[] {false, true}) {
            for (boolean ams : new boolean[] {false, true}) {
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = tensors(1, false), g = tensors(2, false), m = tensors(3, false), v = tensors(4, true);
                        List<Tensor> mx = ams ? tensors(5, true) : null;
                        long[] steps = new long[SHAPES.length];
                        for (int i = 0; i < steps.length; i++) steps[i] = 1 + 3L * i;
                        double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.05;
                        float[][] ep = floats(p), eg = floats(g), em = floats(m), ev = floats(v), emx = ams ? floats(mx) : null;
                        for (int i = 0; i < ep.length; i++) {
                            adamReference(ep[i], eg[i], em[i], ev[i], ams ? emx[i] : null, lr, b1, b2, eps, wd, decoupled, steps[i]);
                        }
                        at(threads, () -> KERNELS.adamMulti(p, g, m, v, mx, lr, b1, b2, eps, wd, decoupled, steps));
                        String what = (decoupled ? "adamw" : "adam") + (ams ? " amsgrad" : "") + " at " + threads + " threads";
                        assertSame(ep, p, what + " param");
                        assertSame(em, m, what + " exp_avg");
                        assertSame(ev, v, what + " exp_avg_sq");
                        if (ams) assertSame(emx, mx, what + " max_exp_avg_sq");
                        assertSame(eg, g, what + " grad (read only)");
                    }
                }
            }
        }
    }

    @Test
    void sgdMultiEqualsTheScalarFormulaBitForBitAtAnyThreadCount() {
        // {momentum, dampening, weight decay, nesterov}
        double[][] configs = {{0, 0, 0, 0}, {0, 0, 0.01, 0}, {0.9, 0.1, 0.01, 0}, {0.9, 0, 0.001, 1}};
        for (double[] c : configs) {
            boolean hasBuf = c[0] != 0;
            for (int threads : new int[] {1, 3}) {
                try (Scope s = Scope.open()) {
                    List<Tensor> p = tensors(11, false), g = tensors(12, false), b = hasBuf ? tensors(13, false) : null;
                    boolean[] init = new boolean[SHAPES.length];
                    for (int i = 0; i < init.length; i++) init[i] = i % 3 == 0;
                    float[][] ep = floats(p), eb = hasBuf ? floats(b) : null, eg = floats(g);
                    for (int i = 0; i < ep.length; i++) {
                        sgdReference(ep[i], eg[i], hasBuf ? eb[i] : null, 0.1, c[0], c[1], c[2], c[3] != 0, init[i]);
                    }
                    at(threads, () -> KERNELS.sgdMulti(p, g, b, 0.1, c[0], c[1], c[2], c[3] != 0, init));
                    String what = "sgd " + Arrays.toString(c) + " at " + threads + " threads";
                    assertSame(ep, p, what + " param");
                    if (hasBuf) assertSame(eb, b, what + " momentum buffer");
                }
            }
        }
    }

    @Test
    void emaUpdateMultiEqualsTheScalarFormulaBitForBitAtAnyThreadCount() {
        for (int threads : new int[] {1, 3}) {
            try (Scope s = Scope.open()) {
                List<Tensor> e = tensors(21, false), src = tensors(22, false);
                float[][] ee = floats(e), es = floats(src);
                float d = 0.999f, c = (float) (1 - 0.999);
                for (int i = 0; i < ee.length; i++) {
                    for (int j = 0; j < ee[i].length; j++) ee[i][j] = ee[i][j] * d + es[i][j] * c;
                }
                at(threads, () -> KERNELS.emaUpdateMulti(e, src, 0.999));
                assertSame(ee, e, "ema at " + threads + " threads");
                assertSame(es, src, "ema source (read only) at " + threads + " threads");
            }
        }
    }

    /** The interface's defaults over CpuOptimizer's single-tensor kernels: clipping as one call per tensor, the reference. */
    private static final OptimizerKernels PER_TENSOR = new OptimizerKernels() {
        @Override
        public void sgd(Tensor p, Tensor g, Tensor b, double lr, double mom, double damp, double wd, boolean nesterov, boolean init) {
            KERNELS.sgd(p, g, b, lr, mom, damp, wd, nesterov, init);
        }

        @Override
        public void adam(Tensor p, Tensor g, Tensor m, Tensor v, Tensor mx, double lr, double b1, double b2, double eps, double wd,
                         boolean decoupled, long step) {
            KERNELS.adam(p, g, m, v, mx, lr, b1, b2, eps, wd, decoupled, step);
        }

        @Override
        public double vectorNorm(Tensor x, double ord) { return KERNELS.vectorNorm(x, ord); }

        @Override
        public void scaleInPlace(Tensor x, double factor) { KERNELS.scaleInPlace(x, factor); }

        @Override
        public void clampInPlace(Tensor x, double lo, double hi) { KERNELS.clampInPlace(x, lo, hi); }

        @Override
        public void emaUpdate(Tensor ema, Tensor src, double decay) { KERNELS.emaUpdate(ema, src, decay); }
    };

    @Test
    void clipGradNormInOnePassEqualsTheNormOfPerTensorNormsBitForBit() {
        for (double ord : new double[] {2, 1, 3, Double.POSITIVE_INFINITY}) {
            for (double maxNorm : new double[] {0.5, 1e9}) {
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> expected = tensors(31, false), actual = tensors(31, false);
                        double want = PER_TENSOR.clipGradNorm(expected, maxNorm, ord);
                        double[] got = new double[1];
                        at(threads, () -> got[0] = KERNELS.clipGradNorm(actual, maxNorm, ord));
                        String what = "clip ord " + ord + " max " + maxNorm + " at " + threads + " threads";
                        assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(got[0]), what + " total " + want + " vs " + got[0]);
                        assertSame(floats(expected), actual, what);
                    }
                }
            }
        }
    }

    @Test
    void rmspropMultiEqualsTheTensorOpsBitForBit() {
        // {tf, momentum, weight decay}
        double[][] configs = {{0, 0, 0}, {0, 0.9, 0.01}, {1, 0, 0.01}, {1, 0.9, 0}};
        for (double[] c : configs) {
            boolean tf = c[0] != 0, hasBuf = c[1] != 0;
            for (int threads : new int[] {1, 3}) {
                try (Scope s = Scope.open()) {
                    List<Tensor> p = tensors(51, false), g = tensors(52, false), sq = tensors(53, true), b = hasBuf ? tensors(54, false) : null;
                    List<Tensor> ep = tensors(51, false), esq = tensors(53, true), eb = hasBuf ? tensors(54, false) : null;
                    PER_TENSOR.rmspropMulti(ep, g, esq, eb, 0.01, 0.9, 1e-3, c[2], c[1], tf);
                    at(threads, () -> KERNELS.rmspropMulti(p, g, sq, b, 0.01, 0.9, 1e-3, c[2], c[1], tf));
                    String what = (tf ? "rmsproptf " : "rmsprop ") + Arrays.toString(c) + " at " + threads + " threads";
                    assertSame(floats(ep), p, what + " param");
                    assertSame(floats(esq), sq, what + " square_avg");
                    if (hasBuf) assertSame(floats(eb), b, what + " momentum buffer");
                    assertSame(floats(tensors(52, false)), g, what + " grad (read only)");
                }
            }
        }
    }

    @Test
    void adaBeliefMultiEqualsTheTensorOpsBitForBit() {
        for (double wd : new double[] {0, 0.05}) {
            for (int threads : new int[] {1, 3}) {
                try (Scope s = Scope.open()) {
                    List<Tensor> p = tensors(61, false), g = tensors(62, false), m = tensors(63, false), v = tensors(64, true);
                    List<Tensor> ep = tensors(61, false), em = tensors(63, false), ev = tensors(64, true);
                    long[] steps = new long[SHAPES.length];
                    for (int i = 0; i < steps.length; i++) steps[i] = 1 + 2L * i;
                    PER_TENSOR.adaBeliefMulti(ep, g, em, ev, 1e-3, 0.9, 0.999, 1e-8, wd, steps);
                    at(threads, () -> KERNELS.adaBeliefMulti(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, wd, steps));
                    String what = "adabelief wd " + wd + " at " + threads + " threads";
                    assertSame(floats(ep), p, what + " param");
                    assertSame(floats(em), m, what + " exp_avg");
                    assertSame(floats(ev), v, what + " exp_avg_var");
                }
            }
        }
    }

    /** Every element of every tensor of actual has expected's bits (F32 or F64). */
    private static void assertBits(List<Tensor> expected, List<Tensor> actual, String what) {
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i).toDoubles(), actual.get(i).toDoubles(), what + " tensor " + i);
        }
    }

    /** Steps 1, 4, 7 ...: RAdam is unrectified at the first two (rho_t <= 5 for beta2 0.999) and rectified after. */
    private static long[] steps() {
        long[] steps = new long[SHAPES.length];
        for (int i = 0; i < steps.length; i++) steps[i] = 1 + 3L * i;
        return steps;
    }

    @Test
    void nadamMultiEqualsTheTensorOpsBitForBit() {
        long[] steps = steps();
        double[] products = new double[steps.length];
        for (int i = 0; i < steps.length; i++) {
            products[i] = 1;
            for (long t = 1; t <= steps[i]; t++) products[i] *= NAdamStep.mu(0.9, 4e-3, t);
        }
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double wd : new double[] {0, 0.05}) {
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = tensors(71, false, dtype), g = tensors(72, false, dtype), m = tensors(73, false, dtype);
                        List<Tensor> v = tensors(74, true, dtype);
                        List<Tensor> ep = tensors(71, false, dtype), em = tensors(73, false, dtype), ev = tensors(74, true, dtype);
                        PER_TENSOR.nadamMulti(ep, g, em, ev, 1e-3, 0.9, 0.999, 1e-8, wd, 4e-3, steps, products);
                        at(threads, () -> KERNELS.nadamMulti(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, wd, 4e-3, steps, products));
                        String what = "nadam " + dtype + " wd " + wd + " at " + threads + " threads";
                        assertBits(ep, p, what + " param");
                        assertBits(em, m, what + " exp_avg");
                        assertBits(ev, v, what + " exp_avg_sq");
                        assertBits(tensors(72, false, dtype), g, what + " grad (read only)");
                    }
                }
            }
        }
    }

    @Test
    void radamMultiEqualsTheTensorOpsBitForBitBeforeAndAfterRectification() {
        long[] steps = steps();
        assertEquals(false, RAdamStep.of(0.9, 0.999, steps[1]).rectified(), "step " + steps[1] + " is unrectified");
        assertEquals(true, RAdamStep.of(0.9, 0.999, steps[2]).rectified(), "step " + steps[2] + " is rectified");
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double wd : new double[] {0, 0.05}) {
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = tensors(81, false, dtype), g = tensors(82, false, dtype), m = tensors(83, false, dtype);
                        List<Tensor> v = tensors(84, true, dtype);
                        List<Tensor> ep = tensors(81, false, dtype), em = tensors(83, false, dtype), ev = tensors(84, true, dtype);
                        PER_TENSOR.radamMulti(ep, g, em, ev, 1e-3, 0.9, 0.999, 1e-8, wd, steps);
                        at(threads, () -> KERNELS.radamMulti(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, wd, steps));
                        String what = "radam " + dtype + " wd " + wd + " at " + threads + " threads";
                        assertBits(ep, p, what + " param");
                        assertBits(em, m, what + " exp_avg");
                        assertBits(ev, v, what + " exp_avg_sq");
                    }
                }
            }
        }
    }

    /**
     * With weight decay (trust ratios) the one-pass norms sum in another order than the tensor
     * ops' sums, so the parameters agree to rounding (the moments, which need no norm, bit for
     * bit) and the result must not depend on the thread count; without it, bit for bit.
     */
    @Test
    void lambMultiEqualsTheTensorOpsAndDoesNotDependOnTheThreadCount() {
        long[] steps = steps();
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double wd : new double[] {0, 0.05}) {
                List<double[]> first = null;
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = tensors(91, false, dtype), g = tensors(92, false, dtype), m = tensors(93, false, dtype);
                        List<Tensor> v = tensors(94, true, dtype);
                        List<Tensor> ep = tensors(91, false, dtype), em = tensors(93, false, dtype), ev = tensors(94, true, dtype);
                        PER_TENSOR.lambMulti(ep, g, em, ev, 1e-2, 0.9, 0.999, 1e-6, wd, steps);
                        at(threads, () -> KERNELS.lambMulti(p, g, m, v, 1e-2, 0.9, 0.999, 1e-6, wd, steps));
                        String what = "lamb " + dtype + " wd " + wd + " at " + threads + " threads";
                        assertBits(em, m, what + " exp_avg");
                        assertBits(ev, v, what + " exp_avg_sq");
                        if (wd == 0) assertBits(ep, p, what + " param");
                        else assertCloseToTheTensorOps(ep, p, tensors(91, false, dtype), dtype, what + " param");
                        first = assertSameAsFirstRun(first, p, what + " param");
                    }
                }
            }
        }
    }

    @Test
    void lambClipGradNormEqualsTheTensorOpsAndDoesNotDependOnTheThreadCount() {
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            // The gradients' total 2-norm is about 600: 1.0 clips them, 1e9 leaves them as they are.
            for (double maxNorm : new double[] {1.0, 1e9}) {
                List<double[]> first = null;
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> g = tensors(111, false, dtype), eg = tensors(111, false, dtype);
                        PER_TENSOR.lambClipGradNorm(eg, maxNorm);
                        at(threads, () -> KERNELS.lambClipGradNorm(g, maxNorm));
                        String what = "lamb clip " + dtype + " max " + maxNorm + " at " + threads + " threads";
                        if (maxNorm > 1e6) assertBits(tensors(111, false, dtype), g, what);
                        else assertCloseToTheTensorOps(eg, g, tensors(111, false, dtype), dtype, what);
                        first = assertSameAsFirstRun(first, g, what);
                    }
                }
            }
        }
    }

    @Test
    void larsMultiEqualsTheTensorOpsAndDoesNotDependOnTheThreadCount() {
        // {momentum, dampening, weight decay, nesterov}
        double[][] configs = {{0, 0, 0, 0}, {0.9, 0, 0, 0}, {0.9, 0.1, 0.05, 0}, {0.9, 0, 0.05, 1}, {0, 0, 0.05, 0}};
        boolean[] init = new boolean[SHAPES.length];
        for (int i = 0; i < init.length; i++) init[i] = i % 3 == 0;
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double[] c : configs) {
                boolean hasBuf = c[0] != 0;
                List<double[]> first = null;
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = tensors(101, false, dtype), g = tensors(102, false, dtype), b = hasBuf ? tensors(103, false, dtype) : null;
                        List<Tensor> ep = tensors(101, false, dtype), eb = hasBuf ? tensors(103, false, dtype) : null;
                        PER_TENSOR.larsMulti(ep, g, eb, 0.1, c[0], c[1], c[2], c[3] != 0, 1e-3, 1e-8, init);
                        at(threads, () -> KERNELS.larsMulti(p, g, b, 0.1, c[0], c[1], c[2], c[3] != 0, 1e-3, 1e-8, init));
                        String what = "lars " + dtype + " " + Arrays.toString(c) + " at " + threads + " threads";
                        if (c[2] == 0) {
                            assertBits(ep, p, what + " param");
                            if (hasBuf) assertBits(eb, b, what + " momentum buffer");
                        } else {
                            assertCloseToTheTensorOps(ep, p, tensors(101, false, dtype), dtype, what + " param");
                            if (hasBuf) assertCloseToTheTensorOps(eb, b, tensors(103, false, dtype), dtype, what + " momentum buffer");
                        }
                        assertBits(tensors(102, false, dtype), g, what + " grad (read only)");
                        first = assertSameAsFirstRun(first, p, what + " param");
                    }
                }
            }
        }
    }

    /**
     * actual is expected to rounding: every element's change from before (the update) agrees
     * with the tensor ops' within 1e-5 (F32) or 1e-12 (F64) of the largest change in its tensor,
     * plus the last rounding of the element itself (an ulp of it in its dtype), and at least one
     * element changed.
     */
    private static void assertCloseToTheTensorOps(List<Tensor> expected, List<Tensor> actual, List<Tensor> before, DType dtype, String what) {
        double tol = dtype == DType.F32 ? 1e-5 : 1e-12;
        for (int i = 0; i < expected.size(); i++) {
            double[] e = expected.get(i).toDoubles(), a = actual.get(i).toDoubles(), b = before.get(i).toDoubles();
            double scale = 0;
            for (int j = 0; j < e.length; j++) scale = Math.max(scale, Math.abs(e[j] - b[j]));
            if (e.length > 0) assertTrue(scale > 0, what + " tensor " + i + ": the tensor ops changed nothing");
            for (int j = 0; j < e.length; j++) {
                double err = Math.abs((a[j] - b[j]) - (e[j] - b[j]));
                double ulp = dtype == DType.F32 ? Math.ulp((float) e[j]) : Math.ulp(e[j]);
                if (err > tol * scale + ulp) throw new AssertionError(what + " tensor " + i + " element " + j + ": update " + (a[j] - b[j])
                        + " vs the tensor ops' " + (e[j] - b[j]) + " (largest " + scale + ")");
            }
        }
    }

    /** Checks actual against the first thread count's result bit for bit; returns the first result. */
    private static List<double[]> assertSameAsFirstRun(List<double[]> first, List<Tensor> actual, String what) {
        List<double[]> now = new ArrayList<>();
        for (Tensor t : actual) now.add(t.toDoubles());
        if (first == null) return now;
        for (int i = 0; i < now.size(); i++) assertArrayEquals(first.get(i), now.get(i), what + " tensor " + i + " vs one thread");
        return first;
    }

    /** AGC's units: conv and linear rows, 1-d and 0-d tensors (one unit), empty ones, and a transposed (strided) view. */
    private static final int[][] AGC_SHAPES = {{64, 3, 3, 3}, {1000, 17}, {7}, {40_000}, {}, {3, 0}, {0, 5}, {300, 41, 7}, {129, 513}};

    private static List<Tensor> agcTensors(long seed, DType dtype) {
        Generator g = new Generator(seed);
        List<Tensor> ts = new ArrayList<>();
        for (int i = 0; i < AGC_SHAPES.length; i++) {
            Tensor t = Tensor.randn(g, DType.F32, AGC_SHAPES[i]).to(dtype);
            ts.add(i == AGC_SHAPES.length - 1 ? t.transpose(0, 1).contiguous().transpose(0, 1) : t.contiguous());
        }
        return ts;
    }

    @Test
    void adaptiveClipGradInOnePassEqualsTheTensorOpsAndDoesNotDependOnTheThreadCount() {
        // clip factor 1: a row's gradient and weight norms are alike, so about half the units clip; 0.05 clips all, 100 none.
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            for (double clipFactor : new double[] {1, 0.05, 100}) {
                List<double[]> first = null;
                for (int threads : new int[] {1, 3}) {
                    try (Scope s = Scope.open()) {
                        List<Tensor> p = agcTensors(111, dtype), g = agcTensors(112, dtype), eg = agcTensors(112, dtype);
                        PER_TENSOR.adaptiveClipGrad(p, eg, clipFactor, 1e-3);
                        at(threads, () -> KERNELS.adaptiveClipGrad(p, g, clipFactor, 1e-3));
                        String what = "agc " + dtype + " clip factor " + clipFactor + " at " + threads + " threads";
                        List<Tensor> before = agcTensors(112, dtype);
                        int changed = 0;
                        double tol = dtype == DType.F32 ? 1e-6 : 1e-13;
                        for (int i = 0; i < eg.size(); i++) {
                            double[] e = eg.get(i).toDoubles(), a = g.get(i).toDoubles(), b = before.get(i).toDoubles();
                            for (int j = 0; j < e.length; j++) {
                                if (e[j] != b[j]) changed++;
                                if (Math.abs(a[j] - e[j]) > tol * Math.abs(b[j]) + Math.ulp(dtype == DType.F32 ? (float) e[j] : e[j])) {
                                    throw new AssertionError(what + " tensor " + i + " element " + j + ": " + a[j] + " vs the tensor ops' " + e[j]);
                                }
                            }
                        }
                        if (clipFactor == 100) assertEquals(0, changed, what + ": nothing reaches the cap");
                        else assertTrue(changed > 0, what + ": the tensor ops clipped nothing");
                        assertBits(agcTensors(111, dtype), p, what + " param (read only)");
                        first = assertSameAsFirstRun(first, g, what + " grad");
                    }
                }
            }
        }
    }

    @Test
    void clampMultiEqualsTheScalarClampBitForBit() {
        for (int threads : new int[] {1, 3}) {
            try (Scope s = Scope.open()) {
                List<Tensor> x = tensors(41, false);
                float[][] ex = floats(x);
                for (float[] t : ex) for (int j = 0; j < t.length; j++) t[j] = Math.min(Math.max(t[j], -0.3f), 0.7f);
                at(threads, () -> KERNELS.clampMulti(x, -0.3, 0.7));
                assertSame(ex, x, "clamp at " + threads + " threads");
            }
        }
    }

    @Test
    void multiTensorCallsCheckTheirLists() {
        try (Scope s = Scope.open()) {
            List<Tensor> one = List.of(Tensor.zeros(4)), two = List.of(Tensor.zeros(4), Tensor.zeros(4));
            assertThrows(IllegalArgumentException.class, () -> KERNELS.adamMulti(one, two, one, one, null, 1, 0.9, 0.99, 1e-8, 0, true, new long[] {1}));
            assertThrows(IllegalArgumentException.class, () -> KERNELS.adamMulti(one, one, one, one, null, 1, 0.9, 0.99, 1e-8, 0, true, new long[] {0}));
            assertThrows(IllegalArgumentException.class, () -> KERNELS.adamMulti(one, List.of(Tensor.zeros(5)), one, one, null, 1, 0.9, 0.99, 1e-8, 0,
                    true, new long[] {1}));
            assertThrows(IllegalArgumentException.class, () -> KERNELS.sgdMulti(one, one, null, 0.1, 0.9, 0, 0, false, new boolean[] {true}));
            assertThrows(IllegalArgumentException.class, () -> KERNELS.emaUpdateMulti(one, two, 0.9));
        }
    }

    /** torch's Adam/AdamW in float, one element at a time, in the order the kernel rounds. */
    private static void adamReference(float[] p, float[] g, float[] m, float[] v, float[] mx, double lr, double beta1, double beta2,
                                      double eps, double wd, boolean decoupled, long step) {
        double bc1 = 1 - Math.pow(beta1, step), bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
        float b1 = (float) beta1, b2 = (float) beta2, c1 = (float) (1 - beta1), c2 = (float) (1 - beta2);
        float w = (float) wd, dec = (float) (1 - lr * wd), nss = (float) (-lr / bc1), bc = (float) bc2Sqrt, ep = (float) eps;
        for (int i = 0; i < p.length; i++) {
            float pv = p[i], gv = g[i];
            if (!decoupled && wd != 0) gv = gv + pv * w;
            if (decoupled && wd != 0) pv = pv * dec;
            float a = m[i] * b1 + gv * c1;
            float s = v[i] * b2 + gv * c2 * gv;
            m[i] = a;
            v[i] = s;
            if (mx != null) {
                s = Math.max(s, mx[i]);
                mx[i] = s;
            }
            float denom = (float) Math.sqrt(s) / bc + ep;
            p[i] = pv + a * nss / denom;
        }
    }

    /** torch's SGD in float, one element at a time. */
    private static void sgdReference(float[] p, float[] g, float[] b, double lr, double momentum, double dampening, double wd,
                                     boolean nesterov, boolean init) {
        float nlr = (float) -lr, mom = (float) momentum, keep = (float) (1 - dampening), w = (float) wd;
        for (int i = 0; i < p.length; i++) {
            float d = g[i];
            if (wd != 0) d = d + p[i] * w;
            if (b != null) {
                float buf = init ? d : b[i] * mom + d * keep;
                b[i] = buf;
                d = nesterov ? d + buf * mom : buf;
            }
            p[i] = p[i] + d * nlr;
        }
    }
}
