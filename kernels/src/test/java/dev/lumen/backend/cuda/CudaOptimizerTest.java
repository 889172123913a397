package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.OptimizerKernels;
import dev.lumen.cuda.CallCounts;
import dev.lumen.memory.Scope;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.GradClip;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA optimizer kernels against CpuOptimizer: multi-step SGD and Adam/AdamW trajectories
 * (momentum, dampening, nesterov, weight decay, amsgrad), norms of every order, the small in-place
 * maps, and gradient-norm clipping over one and many tensors with its single host wait.
 *
 * <p>Tolerances: the updates perform the CPU's float or double operations in the CPU's order
 * without FMA contraction, so they agree to a few float ulps in F32 (4 allowed, for the
 * hardware's sqrt and division being the only non-elementary steps) and to 1e-12 relative in F64.
 * Norms sum in a different order than the CPU (and the CPU's F32 2-norm sums float lanes), so
 * they agree to 1e-6 relative in F32 and 1e-12 in F64. The multi-tensor updates run the per-tensor
 * element code, so they are compared with the per-tensor launches bit for bit.
 */
class CudaOptimizerTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] DTYPES = {DType.F32, DType.F64};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static OptimizerKernels cpu() { return Backends.cpu().optimizer(); }

    static OptimizerKernels gpu() { return CudaBackend.get().optimizer(); }

    static Tensor random(Generator g, DType t, int... shape) { return Tensor.randn(g, DType.F64, shape).to(t); }

    /** Elementwise closeness: F32 within 4 ulps (of the larger magnitude), F64 within 1e-12 relative. */
    static void assertUlps(Tensor expected, Tensor actual, String what) {
        double[] e = expected.to(Device.CPU).toDoubles(), a = actual.to(Device.CPU).toDoubles();
        assertEquals(e.length, a.length, what);
        boolean f32 = expected.dtype() == DType.F32;
        for (int i = 0; i < e.length; i++) {
            if (Double.isNaN(e[i]) && Double.isNaN(a[i])) continue;
            double m = Math.max(Math.abs(e[i]), Math.abs(a[i]));
            double tol = f32 ? 4 * Math.ulp((float) m) : 1e-12 * m + Double.MIN_NORMAL;
            if (!(Math.abs(e[i] - a[i]) <= tol)) throw new AssertionError(what + " at " + i + ": expected " + e[i] + ", got " + a[i]);
        }
    }

    /** A CPU tensor and its device copy; every third case the device one is a transposed (strided) view. */
    record Pair(Tensor cpu, Tensor dev) {
        static Pair of(Tensor host, boolean strided) {
            if (!strided) return new Pair(host, host.to(CUDA));
            int[] s = host.shape();
            Tensor d = host.transpose(0, 1).contiguous().to(CUDA).transpose(0, 1);
            assertTrue(!d.isContiguous() || s[0] == 1 || s[1] == 1);
            return new Pair(host, d);
        }
    }

    @Test
    void sgdTrajectoriesMatchTheCpuOverSeveralSteps() {
        // momentum, dampening, weight decay, nesterov
        double[][] configs = {{0, 0, 0, 0}, {0, 0, 0.01, 0}, {0.9, 0, 0, 0}, {0.9, 0.1, 0.05, 0}, {0.8, 0, 0.01, 1}};
        int c = 0;
        for (DType t : DTYPES) {
            for (double[] cfg : configs) {
                boolean strided = c++ % 3 == 2;
                try (Scope s = Scope.open()) {
                    Generator gen = new Generator(11 + c);
                    Pair p = Pair.of(random(gen, t, 7, 37), strided);
                    boolean hasBuf = cfg[0] != 0;
                    Pair b = hasBuf ? Pair.of(Tensor.full(Double.NaN, t, Device.CPU, 7, 37), strided) : null;
                    for (int step = 0; step < 4; step++) {
                        Tensor g = random(gen, t, 7, 37);
                        Pair gp = Pair.of(g, false);
                        cpu().sgd(p.cpu, gp.cpu, hasBuf ? b.cpu : null, 0.1, cfg[0], cfg[1], cfg[2], cfg[3] != 0, step == 0);
                        gpu().sgd(p.dev, gp.dev, hasBuf ? b.dev : null, 0.1, cfg[0], cfg[1], cfg[2], cfg[3] != 0, step == 0);
                        String what = "sgd " + t + " " + java.util.Arrays.toString(cfg) + (strided ? " strided" : "") + " step " + step;
                        assertUlps(p.cpu, p.dev, what + " param");
                        if (hasBuf) assertUlps(b.cpu, b.dev, what + " buffer");
                    }
                }
            }
        }
    }

    @Test
    void adamAndAdamWTrajectoriesMatchTheCpuWithAmsgradAndWeightDecay() {
        int c = 0;
        for (DType t : DTYPES) {
            for (boolean decoupled : new boolean[] {false, true}) {
                for (boolean amsgrad : new boolean[] {false, true}) {
                    for (double wd : new double[] {0, 0.05}) {
                        boolean strided = c++ % 3 == 1;
                        try (Scope s = Scope.open()) {
                            Generator gen = new Generator(100 + c);
                            Pair p = Pair.of(random(gen, t, 5, 33), strided);
                            Pair m1 = Pair.of(Tensor.zeros(t, Device.CPU, 5, 33), strided);
                            Pair m2 = Pair.of(Tensor.zeros(t, Device.CPU, 5, 33), false);
                            Pair mx = amsgrad ? Pair.of(Tensor.zeros(t, Device.CPU, 5, 33), strided) : null;
                            for (int step = 1; step <= 5; step++) {
                                Pair g = Pair.of(random(gen, t, 5, 33).mul(step % 2 == 0 ? 0.1 : 1.0), false);
                                cpu().adam(p.cpu, g.cpu, m1.cpu, m2.cpu, amsgrad ? mx.cpu : null, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled, step);
                                gpu().adam(p.dev, g.dev, m1.dev, m2.dev, amsgrad ? mx.dev : null, 1e-2, 0.9, 0.999, 1e-8, wd, decoupled, step);
                                String what = (decoupled ? "adamw " : "adam ") + t + (amsgrad ? " amsgrad" : "") + " wd " + wd
                                        + (strided ? " strided" : "") + " step " + step;
                                assertUlps(p.cpu, p.dev, what + " param");
                                assertUlps(m1.cpu, m1.dev, what + " exp_avg");
                                assertUlps(m2.cpu, m2.dev, what + " exp_avg_sq");
                                if (amsgrad) assertUlps(mx.cpu, mx.dev, what + " max_exp_avg_sq");
                            }
                        }
                    }
                }
            }
        }
    }

    static void assertNormClose(double expected, double actual, DType t, String what) {
        double tol = (t == DType.F32 ? 1e-6 : 1e-12) * Math.abs(expected);
        assertEquals(expected, actual, tol, what);
    }

    @Test
    void vectorNormOfEveryOrderMatchesTheCpu() {
        int big = 3 * CudaOptimizer.CHUNK + 5;
        for (DType t : DTYPES) {
            for (int n : new int[] {1, 257, big}) {
                try (Scope s = Scope.open()) {
                    Tensor h = random(new Generator(n), t, n);
                    Tensor d = h.to(CUDA);
                    for (double ord : new double[] {2, 1, Double.POSITIVE_INFINITY, 3, 0.5}) {
                        assertNormClose(cpu().vectorNorm(h, ord), gpu().vectorNorm(d, ord), t, t + " n " + n + " ord " + ord);
                    }
                }
            }
            try (Scope s = Scope.open()) {
                Tensor h = random(new Generator(5), t, 9, 13);
                Tensor d = h.transpose(0, 1).contiguous().to(CUDA).transpose(0, 1);
                assertNormClose(cpu().vectorNorm(h, 2), gpu().vectorNorm(d, 2), t, t + " strided");
                assertEquals(0.0, gpu().vectorNorm(Tensor.zeros(t, CUDA, 0), 2), t + " empty");
            }
        }
    }

    @Test
    void vectorNormIsTheSameBitsEveryRun() {
        try (Scope s = Scope.open()) {
            Tensor d = random(new Generator(3), DType.F32, 2 * CudaOptimizer.CHUNK + 77).to(CUDA);
            double first = gpu().vectorNorm(d, 2);
            for (int i = 0; i < 3; i++) assertEquals(Double.doubleToRawLongBits(first), Double.doubleToRawLongBits(gpu().vectorNorm(d, 2)));
        }
    }

    @Test
    void scaleClampAndEmaMatchTheCpu() {
        int c = 0;
        for (DType t : DTYPES) {
            for (boolean strided : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Generator gen = new Generator(40 + c++);
                    Tensor h = random(gen, t, 6, 35);
                    // A NaN and signed zeros check clamp's NaN propagation and zero ordering against Java's max/min.
                    double[] v = h.toDoubles();
                    v[3] = Double.NaN;
                    v[4] = -0.0;
                    v[5] = 0.0;
                    h = Tensor.fromDoubles(v, t, 6, 35);
                    Pair x = Pair.of(h.copy(), strided);
                    cpu().scaleInPlace(x.cpu, -0.37);
                    gpu().scaleInPlace(x.dev, -0.37);
                    assertUlps(x.cpu, x.dev, "scale " + t);
                    Pair y = Pair.of(h.copy(), strided);
                    cpu().clampInPlace(y.cpu, -0.5, 0.0);
                    gpu().clampInPlace(y.dev, -0.5, 0.0);
                    assertUlps(y.cpu, y.dev, "clamp " + t);
                    double[] got = y.dev.to(Device.CPU).toDoubles(), want = y.cpu.toDoubles();
                    for (int i = 0; i < got.length; i++) {
                        assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]), "clamp " + t + " bits at " + i);
                    }
                    Pair e = Pair.of(random(gen, t, 6, 35), strided);
                    Pair src = Pair.of(random(gen, t, 6, 35), false);
                    for (int k = 0; k < 3; k++) {
                        cpu().emaUpdate(e.cpu, src.cpu, 0.999);
                        gpu().emaUpdate(e.dev, src.dev, 0.999);
                    }
                    assertUlps(e.cpu, e.dev, "ema " + t);
                }
            }
        }
    }

    /** Gradients of several odd shapes, one of them empty; the CPU and device copies. */
    static List<Pair> grads(Generator gen, DType t, double scale, int[][] shapes) {
        List<Pair> out = new ArrayList<>();
        for (int[] shape : shapes) out.add(Pair.of(random(gen, t, shape).mul(scale), false));
        return out;
    }

    static final int[][] SHAPES = {{3, 5, 7}, {33}, {0}, {2 * CudaOptimizer.CHUNK + 9}, {1}, {17, 3}};

    @Test
    void clipGradNormMatchesTheCpuForOneAndManyTensorsAndEveryOrder() {
        int c = 0;
        for (DType t : DTYPES) {
            for (double ord : new double[] {2, 1, Double.POSITIVE_INFINITY, 3}) {
                for (int[][] shapes : new int[][][] {{{257}}, SHAPES}) {
                    for (double maxNorm : new double[] {0.5, 1e9}) {
                        try (Scope s = Scope.open()) {
                            List<Pair> gs = grads(new Generator(60 + c++), t, 0.1, shapes);
                            double want = cpu().clipGradNorm(gs.stream().map(Pair::cpu).toList(), maxNorm, ord);
                            double got = gpu().clipGradNorm(gs.stream().map(Pair::dev).toList(), maxNorm, ord);
                            String what = "clip " + t + " ord " + ord + " tensors " + shapes.length + " max " + maxNorm;
                            assertNormClose(want, got, t, what + " total");
                            for (Pair g : gs) {
                                if (maxNorm > 1e8) assertUlps(g.cpu, g.dev, what + " untouched");
                                else assertGradClose(g.cpu, g.dev, what);
                            }
                        }
                    }
                }
            }
        }
    }

    /** Clipped gradients: the coefficient carries the norm's tolerance, 1e-6 (F32) or 1e-12 (F64) relative. */
    static void assertGradClose(Tensor expected, Tensor actual, String what) {
        double rel = expected.dtype() == DType.F32 ? 2e-6 : 1e-12;
        double[] e = expected.to(Device.CPU).toDoubles(), a = actual.to(Device.CPU).toDoubles();
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], rel * Math.abs(e[i]) + Double.MIN_NORMAL, what + " at " + i);
    }

    @Test
    void clipGradNormWaitsOnTheHostOnceForManyTensors() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "the emulated driver counts host waits");
        try (Scope s = Scope.open()) {
            List<Tensor> params = new ArrayList<>();
            Generator gen = new Generator(9);
            for (int i = 0; i < 12; i++) {
                DType t = i % 3 == 0 ? DType.F64 : DType.F32;
                Tensor p = Tensor.zeros(t, CUDA, 3 + i, 5).requiresGrad(true);
                p.setGrad(random(gen, t, 3 + i, 5).to(CUDA));
                params.add(p);
            }
            GradClip.clipGradNorm(params, 1e9);   // warms the allocator's cache with the scratch sizes
            CallCounts before = b.driver().callCounts();
            double total = GradClip.clipGradNorm(params, 0.25);
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(1, d.hostWaits(), "one host wait for 12 gradients: " + d);
            assertEquals(0, d.allocations(), "the scratch comes from the allocator's cache: " + d);
            assertTrue(d.launches() <= 5, "two partial launches, one total, two scales: " + d);
            assertTrue(total > 0.25);
            double after = 0;
            for (Tensor p : params) after += Math.pow(gpu().vectorNorm(p.grad(), 2), 2);
            assertEquals(0.25, Math.sqrt(after), 1e-5, "the clipped gradients have max_norm");
        }
    }

    @Test
    void clipGradNormOfStridedGradientsWritesThemBack() {
        for (DType t : DTYPES) {
            try (Scope s = Scope.open()) {
                Tensor h = random(new Generator(21), t, 9, 14);
                Tensor d = h.transpose(0, 1).contiguous().to(CUDA).transpose(0, 1);
                Tensor hc = h.copy();
                double want = cpu().clipGradNorm(List.of(hc), 0.5, 2);
                double got = gpu().clipGradNorm(List.of(d), 0.5, 2);
                assertNormClose(want, got, t, "strided clip " + t);
                assertGradClose(hc, d, "strided clip " + t);
            }
        }
    }

    /** Parameters of mixed dtypes and odd sizes (one over two chunks, one empty, one strided) for the multi-tensor updates. */
    static final int[][] MULTI_SHAPES = {{3, 5, 7}, {33}, {CudaOptimizer.CHUNK + 3}, {0}, {1}, {9, 14}};

    static DType multiDtype(int i) { return i % 2 == 0 ? DType.F32 : DType.F64; }

    /** Per parameter: `copies` device copies of one random tensor, the last shape's transposed (strided). */
    static List<Tensor[]> deviceCopies(Generator gen, int copies, boolean zeros) {
        List<Tensor[]> out = new ArrayList<>();
        for (int i = 0; i < MULTI_SHAPES.length; i++) {
            DType t = multiDtype(i);
            Tensor h = zeros ? Tensor.zeros(t, Device.CPU, MULTI_SHAPES[i]) : random(gen, t, MULTI_SHAPES[i]);
            Tensor[] c = new Tensor[copies];
            boolean strided = i == MULTI_SHAPES.length - 1;
            for (int k = 0; k < copies; k++) c[k] = Pair.of(h, strided).dev;
            out.add(c);
        }
        return out;
    }

    static List<Tensor> copy(List<Tensor[]> xs, int k) { return xs.stream().map(c -> c[k]).toList(); }

    static void assertSameBits(List<Tensor[]> xs, String what) {
        for (int i = 0; i < xs.size(); i++) {
            double[] e = xs.get(i)[0].to(Device.CPU).toDoubles(), a = xs.get(i)[1].to(Device.CPU).toDoubles();
            for (int j = 0; j < e.length; j++) {
                if (Double.doubleToRawLongBits(e[j]) != Double.doubleToRawLongBits(a[j])) {
                    throw new AssertionError(what + " tensor " + i + " at " + j + ": per-tensor " + e[j] + ", multi " + a[j]);
                }
            }
        }
    }

    @Test
    void adamMultiEqualsPerTensorLaunchesBitForBit() {
        int c = 0;
        for (boolean decoupled : new boolean[] {false, true}) {
            for (boolean amsgrad : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Generator gen = new Generator(300 + c++);
                    List<Tensor[]> p = deviceCopies(gen, 2, false), m1 = deviceCopies(gen, 2, true), m2 = deviceCopies(gen, 2, true);
                    List<Tensor[]> mx = amsgrad ? deviceCopies(gen, 2, true) : null;
                    for (int step = 1; step <= 3; step++) {
                        List<Tensor> g = deviceCopies(gen, 1, false).stream().map(x -> x[0]).toList();
                        // Parameters at different step counts, as after a parameter joined late.
                        long[] steps = new long[MULTI_SHAPES.length];
                        for (int i = 0; i < steps.length; i++) steps[i] = step + i % 3;
                        for (int i = 0; i < steps.length; i++) {
                            gpu().adam(p.get(i)[0], g.get(i), m1.get(i)[0], m2.get(i)[0], amsgrad ? mx.get(i)[0] : null, 1e-2, 0.9,
                                    0.999, 1e-8, 0.05, decoupled, steps[i]);
                        }
                        gpu().adamMulti(copy(p, 1), g, copy(m1, 1), copy(m2, 1), amsgrad ? copy(mx, 1) : null, 1e-2, 0.9, 0.999,
                                1e-8, 0.05, decoupled, steps);
                        String what = (decoupled ? "adamw" : "adam") + (amsgrad ? " amsgrad" : "") + " step " + step;
                        assertSameBits(p, what + " param");
                        assertSameBits(m1, what + " exp_avg");
                        assertSameBits(m2, what + " exp_avg_sq");
                        if (amsgrad) assertSameBits(mx, what + " max_exp_avg_sq");
                    }
                }
            }
        }
    }

    @Test
    void sgdMultiEqualsPerTensorLaunchesBitForBit() {
        // momentum, dampening, weight decay, nesterov
        double[][] configs = {{0, 0, 0, 0}, {0.9, 0.1, 0.05, 0}, {0.8, 0, 0.01, 1}};
        int c = 0;
        for (double[] cfg : configs) {
            try (Scope s = Scope.open()) {
                Generator gen = new Generator(400 + c++);
                boolean hasBuf = cfg[0] != 0;
                List<Tensor[]> p = deviceCopies(gen, 2, false), b = hasBuf ? deviceCopies(gen, 2, true) : null;
                for (int step = 0; step < 3; step++) {
                    List<Tensor> g = deviceCopies(gen, 1, false).stream().map(x -> x[0]).toList();
                    // The buffers start on different steps, as for a parameter that got its first gradient late.
                    boolean[] init = new boolean[MULTI_SHAPES.length];
                    for (int i = 0; i < init.length; i++) init[i] = step == i % 2;
                    for (int i = 0; i < init.length; i++) {
                        gpu().sgd(p.get(i)[0], g.get(i), hasBuf ? b.get(i)[0] : null, 0.1, cfg[0], cfg[1], cfg[2], cfg[3] != 0, init[i]);
                    }
                    gpu().sgdMulti(copy(p, 1), g, hasBuf ? copy(b, 1) : null, 0.1, cfg[0], cfg[1], cfg[2], cfg[3] != 0, init);
                    String what = "sgd " + java.util.Arrays.toString(cfg) + " step " + step;
                    assertSameBits(p, what + " param");
                    if (hasBuf) assertSameBits(b, what + " buffer");
                }
            }
        }
    }

    @Test
    void adamWStepOverTwentyParametersIsOneLaunchPerDtypeWithoutHostWaits() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "the emulated driver counts launches and host waits");
        try (Scope s = Scope.open()) {
            List<Tensor> params = new ArrayList<>();
            Generator gen = new Generator(17);
            for (int i = 0; i < 20; i++) {
                DType t = i % 4 == 0 ? DType.F64 : DType.F32;
                Tensor p = random(gen, t, 2 + i, 3).to(CUDA).requiresGrad(true);
                p.setGrad(random(gen, t, 2 + i, 3).to(CUDA));
                params.add(p);
            }
            AdamW opt = new AdamW(params, 1e-3, 0.01);
            opt.step();   // makes the state
            CallCounts before = b.driver().callCounts();
            opt.step();
            CallCounts d = b.driver().callCounts().since(before);
            assertEquals(2, d.launches(), "one launch for the 15 F32 and one for the 5 F64 parameters: " + d);
            assertEquals(2, d.copiesHtoD(), "one table upload per dtype batch: " + d);
            assertEquals(0, d.hostWaits(), "no host wait: " + d);
        }
    }

    @Test
    void lambAndLarsTakeTheirTrustRatiosAndGlobalClipWithoutHostWaits() {
        CudaBackend b = CudaBackend.get();
        Assumptions.assumeTrue(b.driver().isEmulated(), "the emulated driver counts host waits");
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(23);
            List<dev.lumen.optim.Optimizer> opts = new ArrayList<>();
            for (int k = 0; k < 2; k++) {
                List<Tensor> params = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    Tensor p = random(gen, DType.F32, 3 + i, 5).to(CUDA).requiresGrad(true);
                    p.setGrad(random(gen, DType.F32, 3 + i, 5).mul(10).to(CUDA));
                    params.add(p);
                }
                List<dev.lumen.optim.ParamGroup> g = List.of(dev.lumen.optim.ParamGroup.of(params));
                opts.add(k == 0 ? new dev.lumen.optim.Lamb(g, dev.lumen.optim.Lamb.defaults(1e-3, 0.9, 0.999, 1e-6, 0.01), 1.0)
                        : new dev.lumen.optim.Lars(g, dev.lumen.optim.Lars.defaults(0.1, 0.9, 1e-4, false, 1e-8)));
            }
            for (dev.lumen.optim.Optimizer opt : opts) {
                opt.step();   // makes the state
                CallCounts before = b.driver().callCounts();
                opt.step();
                CallCounts d = b.driver().callCounts().since(before);
                assertEquals(0, d.hostWaits(), opt.getClass().getSimpleName() + ": norms stay on the device: " + d);
            }
        }
    }

    @Test
    void multiTensorUpdatesRejectMismatchedLists() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(DType.F32, CUDA, 4), y = Tensor.zeros(DType.F32, CUDA, 5);
            List<Tensor> one = List.of(x);
            assertThrows(IllegalArgumentException.class,
                    () -> gpu().adamMulti(one, List.of(x, x), one, one, null, 1, 0.9, 0.99, 1e-8, 0, true, new long[] {1}));
            assertThrows(IllegalArgumentException.class,
                    () -> gpu().adamMulti(one, List.of(y), one, one, null, 1, 0.9, 0.99, 1e-8, 0, true, new long[] {1}));
            assertThrows(IllegalArgumentException.class,
                    () -> gpu().adamMulti(one, one, one, one, null, 1, 0.9, 0.99, 1e-8, 0, true, new long[] {0}));
            assertThrows(IllegalArgumentException.class,
                    () -> gpu().sgdMulti(one, one, null, 0.1, 0.9, 0, 0, false, new boolean[] {true}));
        }
    }

    @Test
    void unsupportedInputsFailWithTheReason() {
        try (Scope s = Scope.open()) {
            Tensor h = Tensor.zeros(DType.F16, CUDA, 4);
            assertThrows(IllegalArgumentException.class, () -> gpu().vectorNorm(h, 2));
            assertThrows(IllegalArgumentException.class, () -> gpu().scaleInPlace(h, 2));
            Tensor x = Tensor.zeros(DType.F32, CUDA, 4);
            assertThrows(IllegalArgumentException.class, () -> gpu().vectorNorm(x, 0));
            assertThrows(IllegalArgumentException.class, () -> gpu().adam(x, x, x, x, null, 1, 0.9, 0.99, 1e-8, 0, true, 0));
            Tensor onCpu = Tensor.zeros(4).requiresGrad(true), onGpu = Tensor.zeros(DType.F32, CUDA, 4).requiresGrad(true);
            onCpu.setGrad(Tensor.zeros(4));
            onGpu.setGrad(Tensor.zeros(DType.F32, CUDA, 4));
            assertThrows(IllegalArgumentException.class, () -> GradClip.clipGradNorm(List.of(onCpu, onGpu), 1.0));
        }
    }
}
