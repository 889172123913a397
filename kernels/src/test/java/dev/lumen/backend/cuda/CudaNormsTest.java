package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.NormKernels;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Layer norm (rows and channels-first), group norm and dropout on the device against the CPU
 * backend, every floating dtype, with and without the affine, with each gradient output absent in
 * turn, into NaN-poisoned outputs. Backward runs from the CPU's saved statistics, so each
 * comparison checks one kernel.
 */
class CudaNormsTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static NormKernels cpu() { return Backends.cpu().norms(); }

    static NormKernels gpu() { return CudaBackend.get().norms(); }

    /**
     * Relative tolerance (against max(1, |expected|)) per dtype. The kernels sum in a different
     * order than the CPU: F64 differs in the last bits; F32 statistics accumulate per thread in
     * float and combine in double (the CPU flushes float lanes to double), a few float ulps; half
     * types compute in float where the CPU computes in double, then both round to the dtype, so
     * results may differ by one ulp of the dtype (2^-10 for F16, 2^-7 for BF16), twice over where a
     * rounded statistic feeds an output.
     */
    static double tol(DType t) {
        return switch (t) {
            case F64 -> 1e-11;
            case F32 -> 2e-5;
            case F16 -> 4e-3;
            case BF16 -> 3e-2;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    static Tensor random(DType t, long seed, int... shape) { return scaled(t, seed, 1, 0, shape); }

    /** N(shift, scale^2) values drawn in F64, then rounded to t. */
    static Tensor scaled(DType t, long seed, double scale, double shift, int... shape) {
        return Tensor.randn(new Generator(seed), DType.F64, shape).mul(scale).add(shift).to(t);
    }

    static Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, CUDA, shape); }

    static Tensor up(Tensor t) { return t == null ? null : t.to(CUDA); }

    static void assertClose(Tensor expect, Tensor got, double tol, String what) {
        double[] e = expect.toDoubles(), g = got.to(Device.CPU).toDoubles();
        assertEquals(e.length, g.length, what);
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs(e[i] - g[i]);
            assertTrue(err <= tol * Math.max(1, Math.abs(e[i])), what + " at " + i + ": expected " + e[i] + ", got " + g[i]);
        }
    }

    // ---------------------------------------------------------------- layer norm

    /** [n, c, s] shapes: rows wider and narrower than a block, channels-first. */
    static final int[][] LAYER_SHAPES = {{37, 65, 1}, {5, 300, 1}, {3, 1, 1}, {3, 7, 33}, {2, 19, 5}};

    @Test
    void layerNormForwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] sh : LAYER_SHAPES) {
                for (boolean affine : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        int n = sh[0], c = sh[1], sp = sh[2];
                        Tensor x = scaled(t, 1, 3.0, 1.5, sh);
                        Tensor w = affine ? random(t, 2, c) : null, b = affine ? random(t, 3, c) : null;
                        Tensor out = Tensor.empty(t, Device.CPU, sh), mean = Tensor.empty(t, Device.CPU, n, sp), rstd = Tensor.empty(t, Device.CPU, n, sp);
                        cpu().layerNormForward(x, w, b, 1e-5, out, mean, rstd);
                        Tensor dOut = poisoned(t, sh), dMean = poisoned(t, n, sp), dRstd = poisoned(t, n, sp);
                        gpu().layerNormForward(up(x), up(w), up(b), 1e-5, dOut, dMean, dRstd);
                        String what = t + " " + java.util.Arrays.toString(sh) + (affine ? " affine" : " plain");
                        assertClose(mean, dMean, tol(t), what + " mean");
                        assertClose(rstd, dRstd, tol(t), what + " rstd");
                        assertClose(out, dOut, tol(t), what + " out");
                    }
                }
            }
        }
    }

    /** Which gradients a backward call asks for: x, weight, bias. */
    static final boolean[][] WANTED = {{true, true, true}, {true, false, false}, {false, true, false}, {false, false, true}};

    @Test
    void layerNormBackwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] sh : LAYER_SHAPES) {
                for (boolean affine : new boolean[] {true, false}) {
                    for (boolean[] want : WANTED) {
                        try (Scope s = Scope.open()) {
                            int n = sh[0], c = sh[1], sp = sh[2];
                            Tensor x = scaled(t, 4, 2.0, -0.5, sh), g = random(t, 5, sh);
                            Tensor w = affine ? random(t, 6, c) : null, b = affine ? random(t, 7, c) : null;
                            Tensor mean = Tensor.empty(t, Device.CPU, n, sp), rstd = Tensor.empty(t, Device.CPU, n, sp);
                            cpu().layerNormForward(x, w, b, 1e-5, Tensor.empty(t, Device.CPU, sh), mean, rstd);
                            Tensor gx = want[0] ? Tensor.empty(t, Device.CPU, sh) : null;
                            Tensor gw = want[1] ? Tensor.empty(t, Device.CPU, c) : null, gb = want[2] ? Tensor.empty(t, Device.CPU, c) : null;
                            cpu().layerNormBackward(g, x, w, mean, rstd, gx, gw, gb);
                            Tensor dgx = want[0] ? poisoned(t, sh) : null, dgw = want[1] ? poisoned(t, c) : null, dgb = want[2] ? poisoned(t, c) : null;
                            gpu().layerNormBackward(up(g), up(x), up(w), up(mean), up(rstd), dgx, dgw, dgb);
                            String what = t + " " + java.util.Arrays.toString(sh) + (affine ? " affine" : " plain");
                            // Weight and bias gradients sum over all n*s positions: the error grows with the count.
                            double sumTol = tol(t) * (t == DType.F16 || t == DType.BF16 ? 2 : Math.sqrt(n * sp));
                            if (want[0]) assertClose(gx, dgx, tol(t) * 2, what + " gradX");
                            if (want[1]) assertClose(gw, dgw, sumTol, what + " gradWeight");
                            if (want[2]) assertClose(gb, dgb, sumTol, what + " gradBias");
                        }
                    }
                }
            }
        }
    }

    @Test
    void layerNormAndGroupNormGradientsAreTheSameBitsRunToRun() {
        try (Scope s = Scope.open()) {
            int[] rows = {300, 65, 1}, chans = {3, 12, 33};
            for (int[] sh : new int[][] {rows, chans}) {
                Tensor x = random(DType.F32, 8, sh).to(CUDA), g = random(DType.F32, 9, sh).to(CUDA), w = random(DType.F32, 10, sh[1]).to(CUDA);
                Tensor mean = poisoned(DType.F32, sh[0], sh[2]), rstd = poisoned(DType.F32, sh[0], sh[2]);
                gpu().layerNormForward(x, w, null, 1e-5, poisoned(DType.F32, sh), mean, rstd);
                double[][] first = null;
                for (int run = 0; run < 2; run++) {
                    Tensor gx = poisoned(DType.F32, sh), gw = poisoned(DType.F32, sh[1]), gb = poisoned(DType.F32, sh[1]);
                    gpu().layerNormBackward(g, x, w, mean, rstd, gx, gw, gb);
                    double[][] got = {gx.to(Device.CPU).toDoubles(), gw.to(Device.CPU).toDoubles(), gb.to(Device.CPU).toDoubles()};
                    if (first == null) first = got;
                    else for (int k = 0; k < 3; k++) assertArrayEquals(first[k], got[k], 0.0, "layer norm " + java.util.Arrays.toString(sh) + " output " + k);
                }
            }
            Tensor x = random(DType.F32, 11, chans).to(CUDA), g = random(DType.F32, 12, chans).to(CUDA);
            Tensor mean = poisoned(DType.F32, 3, 4), rstd = poisoned(DType.F32, 3, 4);
            gpu().groupNormForward(x, 4, null, null, 1e-5, poisoned(DType.F32, chans), mean, rstd);
            double[][] first = null;
            for (int run = 0; run < 2; run++) {
                Tensor gx = poisoned(DType.F32, chans), gw = poisoned(DType.F32, 12), gb = poisoned(DType.F32, 12);
                gpu().groupNormBackward(g, x, 4, null, mean, rstd, gx, gw, gb);
                double[][] got = {gx.to(Device.CPU).toDoubles(), gw.to(Device.CPU).toDoubles(), gb.to(Device.CPU).toDoubles()};
                if (first == null) first = got;
                else for (int k = 0; k < 3; k++) assertArrayEquals(first[k], got[k], 0.0, "group norm output " + k);
            }
        }
    }

    // ---------------------------------------------------------------- group norm

    /** [n, c, s, groups]. */
    static final int[][] GROUP_SHAPES = {{3, 12, 17, 4}, {2, 6, 33, 1}, {3, 5, 7, 5}, {2, 8, 1, 2}};

    @Test
    void groupNormForwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] gs : GROUP_SHAPES) {
                for (boolean affine : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        int n = gs[0], c = gs[1], groups = gs[3];
                        int[] sh = {n, c, gs[2]};
                        Tensor x = scaled(t, 13, 2.0, 3.0, sh);
                        Tensor w = affine ? random(t, 14, c) : null, b = affine ? random(t, 15, c) : null;
                        Tensor out = Tensor.empty(t, Device.CPU, sh), mean = Tensor.empty(t, Device.CPU, n, groups), rstd = Tensor.empty(t, Device.CPU, n, groups);
                        cpu().groupNormForward(x, groups, w, b, 1e-5, out, mean, rstd);
                        Tensor dOut = poisoned(t, sh), dMean = poisoned(t, n, groups), dRstd = poisoned(t, n, groups);
                        gpu().groupNormForward(up(x), groups, up(w), up(b), 1e-5, dOut, dMean, dRstd);
                        String what = t + " " + java.util.Arrays.toString(gs) + (affine ? " affine" : " plain");
                        assertClose(mean, dMean, tol(t), what + " mean");
                        assertClose(rstd, dRstd, tol(t), what + " rstd");
                        assertClose(out, dOut, tol(t) * 2, what + " out");
                    }
                }
            }
        }
    }

    @Test
    void groupNormBackwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] gs : GROUP_SHAPES) {
                for (boolean affine : new boolean[] {true, false}) {
                    for (boolean[] want : WANTED) {
                        try (Scope s = Scope.open()) {
                            int n = gs[0], c = gs[1], groups = gs[3];
                            int[] sh = {n, c, gs[2]};
                            Tensor x = scaled(t, 16, 2.0, 0, sh), g = random(t, 17, sh);
                            Tensor w = affine ? random(t, 18, c) : null;
                            Tensor mean = Tensor.empty(t, Device.CPU, n, groups), rstd = Tensor.empty(t, Device.CPU, n, groups);
                            cpu().groupNormForward(x, groups, w, null, 1e-5, Tensor.empty(t, Device.CPU, sh), mean, rstd);
                            Tensor gx = want[0] ? Tensor.empty(t, Device.CPU, sh) : null;
                            Tensor gw = want[1] ? Tensor.empty(t, Device.CPU, c) : null, gb = want[2] ? Tensor.empty(t, Device.CPU, c) : null;
                            cpu().groupNormBackward(g, x, groups, w, mean, rstd, gx, gw, gb);
                            Tensor dgx = want[0] ? poisoned(t, sh) : null, dgw = want[1] ? poisoned(t, c) : null, dgb = want[2] ? poisoned(t, c) : null;
                            gpu().groupNormBackward(up(g), up(x), groups, up(w), up(mean), up(rstd), dgx, dgw, dgb);
                            String what = t + " " + java.util.Arrays.toString(gs) + (affine ? " affine" : " plain");
                            double sumTol = tol(t) * (t == DType.F16 || t == DType.BF16 ? 2 : Math.sqrt(n * gs[2]));
                            // gradX subtracts group means from g*w*rstd: absolute error scales with the group's size.
                            if (want[0]) assertClose(gx, dgx, tol(t) * 4, what + " gradX");
                            if (want[1]) assertClose(gw, dgw, sumTol, what + " gradWeight");
                            if (want[2]) assertClose(gb, dgb, sumTol, what + " gradBias");
                        }
                    }
                }
            }
        }
    }

    @Test
    void groupsThatDoNotDivideTheChannelsAreRejected() {
        try (Scope s = Scope.open()) {
            Tensor x = poisoned(DType.F32, 2, 6, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu().groupNormForward(x, 4, null, null, 1e-5, poisoned(DType.F32, 2, 6, 3), poisoned(DType.F32, 2, 4), poisoned(DType.F32, 2, 4)));
            assertTrue(e.getMessage().contains("groups"), e.getMessage());
        }
    }

    @Test
    void batchNormGoesThroughCudnnLikeTheCpu() {
        try (Scope s = Scope.open()) {
            Tensor xh = Tensor.randn(new dev.lumen.tensor.Generator(3), DType.F32, 2, 3, 4);
            Tensor mean = poisoned(DType.F32, 3), var = poisoned(DType.F32, 3), out = poisoned(DType.F32, 2, 3, 4);
            gpu().batchNormForward(xh.to(dev.lumen.tensor.Device.cuda(0)), null, null, 1e-5, true, mean, var, out);
            Tensor cm = Tensor.empty(3), cv = Tensor.empty(3), co = Tensor.empty(2, 3, 4);
            dev.lumen.backend.Backends.cpu().norms().batchNormForward(xh, null, null, 1e-5, true, cm, cv, co);
            // The CPU and cuDNN's emulation sum the batch in double: F32 results agree to rounding.
            org.junit.jupiter.api.Assertions.assertArrayEquals(co.toFloats(), out.to(dev.lumen.tensor.Device.CPU).toFloats(), 1e-5f);
            org.junit.jupiter.api.Assertions.assertArrayEquals(cv.toFloats(), var.to(dev.lumen.tensor.Device.CPU).toFloats(), 1e-5f);
        }
    }

    // ---------------------------------------------------------------- dropout

    @Test
    void dropoutMasksAreBitIdenticalToTheCpusAndAdvanceTheGeneratorAlike() {
        for (DType t : FLOATS) {
            for (double p : new double[] {0.3, 0.9, 0.0, 1.0}) {
                for (boolean withOut : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        int[] sh = {7, 149};
                        Tensor x = random(t, 19, sh);
                        Generator gc = new Generator(0xD40F), gd = new Generator(0xD40F);
                        // A used generator: the first counter is not 0.
                        gc.reserve(1001);
                        gd.reserve(1001);
                        Tensor mask = Tensor.empty(t, Device.CPU, sh), out = withOut ? Tensor.empty(t, Device.CPU, sh) : null;
                        cpu().dropoutForward(x, p, gc, mask, out);
                        Tensor dMask = poisoned(t, sh), dOut = withOut ? poisoned(t, sh) : null;
                        gpu().dropoutForward(up(x), p, gd, dMask, dOut);
                        String what = t + " p=" + p + (withOut ? "" : " mask only");
                        assertArrayEquals(bits(mask), bits(dMask.to(Device.CPU)), what + " mask");
                        if (withOut) assertArrayEquals(bits(out), bits(dOut.to(Device.CPU)), what + " out");
                        assertArrayEquals(gc.state(), gd.state(), what + " generator state");
                    }
                }
            }
        }
    }

    @Test
    void dropoutKeepsAboutOneMinusPOfTheElements() {
        try (Scope s = Scope.open()) {
            Tensor mask = poisoned(DType.F32, 4099);
            gpu().dropoutForward(null, 0.25, new Generator(3), mask, null);
            double kept = 0;
            for (double v : mask.to(Device.CPU).toDoubles()) {
                assertTrue(v == 0 || Math.abs(v - 1 / 0.75) < 1e-6, "mask value " + v);
                if (v != 0) kept++;
            }
            assertEquals(0.75, kept / 4099, 0.03);
        }
    }

    /** Raw bits of every element, so the sign of zero and every last bit count. */
    static long[] bits(Tensor t) {
        double[] d = t.toDoubles();
        long[] b = new long[d.length];
        for (int i = 0; i < d.length; i++) b[i] = Double.doubleToRawLongBits(d[i]);
        return b;
    }
}
