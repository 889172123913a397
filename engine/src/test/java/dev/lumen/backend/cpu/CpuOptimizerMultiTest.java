package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.backend.OptimizerKernels;
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
 * a scalar float loop of the same formulas, bit for bit, at one thread and at three; and the
 * one-pass gradient-norm clip, RMSprop(TF) and AdaBelief against the interface's per-tensor
 * defaults (norms and scaling, tensor ops), bit for bit.
 */
class CpuOptimizerMultiTest {
    /** Sizes that put chunk boundaries inside tensors and tensors inside chunks; the last tensor is a transposed (strided) view. */
    private static final int[][] SHAPES = {{1}, {7}, {33}, {40_000}, {3, 0}, {100_003}, {257}, {129, 513}};

    private static final CpuOptimizer KERNELS = new CpuOptimizer();

    private static List<Tensor> tensors(long seed, boolean positive) {
        Generator g = new Generator(seed);
        List<Tensor> ts = new ArrayList<>();
        for (int i = 0; i < SHAPES.length; i++) {
            Tensor t = Tensor.randn(g, DType.F32, SHAPES[i]);
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
