package dev.lumen.backend.cuda;

import static dev.lumen.backend.cuda.DeviceOpCheck.assertClose;
import static dev.lumen.backend.cuda.DeviceOpCheck.hostPoisoned;
import static dev.lumen.backend.cuda.DeviceCheck.poisoned;
import static dev.lumen.backend.cuda.DeviceOpCheck.randn;
import static dev.lumen.backend.cuda.DeviceOpCheck.up;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.lumen.backend.Backends;
import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The fused selective 2-D scan device op (CudaSelectiveScan) against the CPU backend: output and all seven gradients. */
class CudaSelectiveScanTest {
    private static final int K = SelectiveScanKernels.ROUTES;
    private static final String[] NAMES = {"dx", "ddelta", "dA", "dB", "dC", "dD", "dbias"};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * F32, F16, BF16: both sides compute in float from the same stored inputs, but in another
     * order (the device sums B/C gradients over channels as a butterfly, then over blocks): last-bit
     * noise through a recurrence (measured 2.5e-7 under the emulator). F64: both compute in double
     * (4e-16).
     */
    static double tolerance(DType t) { return t == DType.F64 ? 1e-13 : 2e-6; }

    /** x, delta, a, b, c, dSkip, deltaBias on the host: storage dtype t, the rest F32 (or F64). */
    static Tensor[] inputs(Generator gen, DType t, int nb, int nd, int h, int w, int n) {
        DType wide = t == DType.F64 ? DType.F64 : DType.F32;
        int len = h * w;
        double[] a = Tensor.randn(gen, DType.F64, K * nd, n).toDoubles();
        for (int i = 0; i < a.length; i++) a[i] = -Math.exp(0.5 * a[i]);
        return new Tensor[] {randn(gen, t, 1, 0, nb, nd, h, w), randn(gen, t, 0.5, 0, nb, K, nd, len),
            Tensor.fromDoubles(a, wide, K * nd, n), randn(gen, t, 1, 0, nb, K, n, len), randn(gen, t, 1, 0, nb, K, n, len),
            randn(gen, wide, 1, 0, K * nd), randn(gen, wide, 0.3, -1.5, K * nd)};
    }

    @ParameterizedTest(name = "{5} B{0} D{1} {2}x{3} N{4}")
    @CsvSource({
        "2, 5, 7, 7, 16, F32",
        "1, 33, 5, 9, 1, F32",
        "2, 3, 9, 11, 3, F32",
        "1, 3, 1, 97, 5, F32",
        "2, 5, 7, 7, 16, F64",
        "1, 33, 5, 9, 1, F64",
        "1, 3, 1, 67, 3, F64",
        "1, 7, 6, 9, 5, F16",
        "2, 7, 5, 7, 16, BF16",
    })
    void forwardAndBackwardMatchTheCpu(int nb, int nd, int h, int w, int n, DType t) {
        Generator gen = new Generator(977L * h + 31L * w + n);
        DType wide = t == DType.F64 ? DType.F64 : DType.F32;
        String what = "selective_scan_2d " + t + " B" + nb + " D" + nd + " " + h + "x" + w + " N" + n;
        try (Scope sc = Scope.open()) {
            Tensor[] in = inputs(gen, t, nb, nd, h, w, n);
            Tensor gout = randn(gen, wide, 1, 0, nb, nd, h, w);
            int[] statesShape = {nb, K, nd, SelectiveScanKernels.chunks(h * w), n};
            SelectiveScanKernels cpu = Backends.cpu().selectiveScan(), dev = CudaBackend.get().selectiveScan();

            Tensor want = hostPoisoned(wide, nb, nd, h, w);
            Tensor cpuStates = t == DType.F64 ? null : hostPoisoned(DType.F32, statesShape);
            Tensor[] wantG = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) wantG[i] = hostPoisoned(wide, in[i].shape());
            cpu.selectiveScan2dForward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], want, cpuStates);
            cpu.selectiveScan2dBackward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], cpuStates, gout,
                    wantG[0], wantG[1], wantG[2], wantG[3], wantG[4], wantG[5], wantG[6]);

            Tensor[] d = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) d[i] = up(in[i]);
            Tensor out = poisoned(wide, nb, nd, h, w), states = t == DType.F64 ? null : poisoned(DType.F32, statesShape);
            Tensor[] g = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) g[i] = poisoned(wide, in[i].shape());
            dev.selectiveScan2dForward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], out, states);
            dev.selectiveScan2dBackward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], states, up(gout),
                    g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
            assertClose(what + " out", out, want, tolerance(t));
            if (states != null) assertClose(what + " saved states", states, cpuStates, tolerance(t));
            for (int i = 0; i < g.length; i++) assertClose(what + " " + NAMES[i], g[i], wantG[i], tolerance(t));

            // Skipped gradients (null) leave the others as they were.
            Tensor onlyX = poisoned(wide, in[0].shape());
            dev.selectiveScan2dBackward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], states, up(gout),
                    onlyX, null, null, null, null, null, null);
            assertClose(what + " dx alone", onlyX, wantG[0], tolerance(t));
        }
    }

    /**
     * A training step must give the same bits run to run. The emulator runs blocks on several
     * worker threads, so a sum whose order depends on which block finishes first shows here:
     * the backward holds 8 channels per block, so D 9 spreads every B and C gradient over 2
     * blocks, and B 3 spreads every A, D and bias gradient over 3; N 3 sums over states.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"F32", "F64", "BF16"})
    void forwardAndBackwardGiveIdenticalBitsRunToRun(DType t) {
        int nb = 3, nd = 9, h = 5, w = 7, n = 3;
        DType wide = t == DType.F64 ? DType.F64 : DType.F32;
        Generator gen = new Generator(4242);
        try (Scope sc = Scope.open()) {
            Tensor[] in = inputs(gen, t, nb, nd, h, w, n);
            Tensor[] d = new Tensor[in.length];
            for (int i = 0; i < in.length; i++) d[i] = up(in[i]);
            Tensor gout = up(randn(gen, wide, 1, 0, nb, nd, h, w));
            SelectiveScanKernels dev = CudaBackend.get().selectiveScan();
            double[][] first = null;
            for (int run = 0; run < 4; run++) {
                Tensor out = poisoned(wide, nb, nd, h, w);
                Tensor states = t == DType.F64 ? null
                        : poisoned(DType.F32, nb, K, nd, SelectiveScanKernels.chunks(h * w), n);
                Tensor[] g = new Tensor[in.length];
                for (int i = 0; i < in.length; i++) g[i] = poisoned(wide, in[i].shape());
                dev.selectiveScan2dForward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], out, states);
                dev.selectiveScan2dBackward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], states, gout,
                        g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
                double[][] bits = new double[1 + g.length][];
                bits[0] = out.to(Device.CPU).toDoubles();
                for (int i = 0; i < g.length; i++) bits[1 + i] = g[i].to(Device.CPU).toDoubles();
                if (first == null) {
                    first = bits;
                    continue;
                }
                for (int i = 0; i < bits.length; i++) {
                    String what = i == 0 ? "out" : NAMES[i - 1];
                    // Widening to double is exact, so equal doubles are equal stored bits.
                    assertArrayEquals(first[i], bits[i], "selective_scan_2d " + t + " " + what + " differs in run " + run);
                }
            }
        }
    }

    @Test
    void steadyStepAllocatesNothingAndNeverWaits() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            Generator gen = new Generator(11);
            DType wide = t == DType.F64 ? DType.F64 : DType.F32;
            try (Scope sc = Scope.open()) {
                Tensor[] in = inputs(gen, t, 2, 5, 6, 7, 4);
                Tensor[] d = new Tensor[in.length];
                for (int i = 0; i < in.length; i++) d[i] = up(in[i]);
                Tensor gout = up(randn(gen, wide, 1, 0, 2, 5, 6, 7));
                SelectiveScanKernels dev = CudaBackend.get().selectiveScan();
                DeviceOpCheck.assertSteadyState("selective_scan_2d " + t, () -> {
                    try (Scope step = Scope.open()) {
                        Tensor out = Tensor.empty(wide, DeviceOpCheck.CUDA, 2, 5, 6, 7);
                        Tensor states = t == DType.F64 ? null
                                : Tensor.empty(DType.F32, DeviceOpCheck.CUDA, 2, K, 5, SelectiveScanKernels.chunks(42), 4);
                        Tensor[] g = new Tensor[in.length];
                        for (int i = 0; i < in.length; i++) g[i] = Tensor.empty(wide, DeviceOpCheck.CUDA, in[i].shape());
                        dev.selectiveScan2dForward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], out, states);
                        dev.selectiveScan2dBackward(d[0], d[1], d[2], d[3], d[4], d[5], d[6], states, gout,
                                g[0], g[1], g[2], g[3], g[4], g[5], g[6]);
                    }
                });
            }
        }
    }
}
