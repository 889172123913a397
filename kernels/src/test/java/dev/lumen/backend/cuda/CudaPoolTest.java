package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.PoolKernels;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Max, average and adaptive average pooling on the device against the CPU backend: odd planes,
 * padding, strides, dilation (max), ceil-mode output sizes, count_include_pad, into poisoned
 * outputs. The CPU pools F32 and F64; F16 and BF16 are checked against the CPU in F32 on the same
 * (rounded) values.
 */
class CudaPoolTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] FLOATS = {DType.F32, DType.F64, DType.F16, DType.BF16};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static PoolKernels cpu() { return Backends.cpu().pool(); }

    static PoolKernels gpu() { return CudaBackend.get().pool(); }

    /** The dtype the CPU reference runs in. */
    static DType reference(DType t) { return t.isCompute() ? t : DType.F32; }

    /**
     * Relative tolerance per dtype (against max(1, |expected|)). Max pooling is exact. Averages and
     * gathered gradients add the same terms in the same order as the CPU, which adds in double: F64
     * is exact up to the division, F32 differs by float rounding of a few-term sum; half types are
     * one rounding to the dtype away from the F32 reference (2^-11 and 2^-8 relative).
     */
    static double tol(DType t) {
        return switch (t) {
            case F64 -> 1e-14;
            case F32 -> 1e-6;
            case F16 -> 1e-3;
            case BF16 -> 8e-3;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    /** Values on a grid of 1/4 in [-4, 4]: exact in every dtype, with ties for max pooling's first-wins rule. */
    static Tensor grid(DType t, long seed, int... shape) {
        Generator g = new Generator(seed);
        double[] v = new double[Math.toIntExact(dev.lumen.tensor.Shapes.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = Math.floor(Generator.uniform(g.seed(), g.reserve(1)) * 32) / 4 - 4;
        return Tensor.fromDoubles(v, t, shape);
    }

    static Tensor poisoned(DType t, int... shape) { return Tensor.full(Double.NaN, t, CUDA, shape); }

    static void assertClose(Tensor expect, Tensor got, double tol, String what) {
        double[] e = expect.toDoubles(), g = got.to(Device.CPU).toDoubles();
        assertEquals(e.length, g.length, what);
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs(e[i] - g[i]);
            assertTrue(err <= tol * Math.max(1, Math.abs(e[i])), what + " at " + i + ": expected " + e[i] + ", got " + g[i]);
        }
    }

    /** torch's pooling output size (ops.Pooling.outputSize), with dilation. */
    static int outSize(int in, int k, int pad, int stride, int dilation, boolean ceil) {
        int span = in + 2 * pad - dilation * (k - 1) - 1 + (ceil ? stride - 1 : 0);
        int out = Math.floorDiv(span, stride) + 1;
        if (ceil && (long) (out - 1) * stride >= in + pad) out--;
        return out;
    }

    record Case(Window w, boolean ceil) {
        int[] out(int[] in) {
            return new int[] {in[0], in[1], outSize(in[2], w.kh(), w.ph(), w.sh(), w.dh(), ceil), outSize(in[3], w.kw(), w.pw(), w.sw(), w.dw(), ceil)};
        }

        @Override
        public String toString() { return w + (ceil ? " ceil" : " floor"); }
    }

    static final int[] IN = {2, 3, 9, 11};

    static final Case[] MAX_CASES = {
        new Case(new Window(3, 3, 2, 2, 1, 1, 1, 1), false),
        new Case(new Window(3, 3, 2, 2, 1, 1, 1, 1), true),
        new Case(new Window(2, 2, 2, 2, 0, 0, 1, 1), true),
        new Case(new Window(3, 2, 2, 1, 1, 0, 1, 1), false),
        new Case(new Window(3, 3, 1, 1, 1, 1, 2, 2), false),
        new Case(new Window(2, 3, 3, 2, 1, 1, 2, 1), true),
    };

    static final Case[] AVG_CASES = {
        new Case(new Window(3, 3, 2, 2, 1, 1, 1, 1), false),
        new Case(new Window(3, 3, 2, 2, 1, 1, 1, 1), true),
        new Case(new Window(2, 2, 2, 2, 0, 0, 1, 1), true),
        new Case(new Window(3, 2, 2, 1, 1, 1, 1, 1), false),
        new Case(new Window(5, 4, 3, 3, 2, 2, 1, 1), true),
    };

    @Test
    void maxPoolMatchesTheCpuValuesAndIndices() {
        for (DType t : FLOATS) {
            for (Case c : MAX_CASES) {
                try (Scope s = Scope.open()) {
                    int[] o = c.out(IN);
                    Tensor x = grid(t, 1, IN);
                    Tensor out = Tensor.empty(reference(t), Device.CPU, o), idx = Tensor.empty(DType.I64, Device.CPU, o);
                    cpu().maxPool2d(x.to(reference(t)), c.w(), out, idx);
                    Tensor dOut = poisoned(t, o), dIdx = Tensor.full(-7, DType.I64, CUDA, o);
                    gpu().maxPool2d(x.to(CUDA), c.w(), dOut, dIdx);
                    assertArrayEquals(out.toDoubles(), dOut.to(Device.CPU).toDoubles(), 0.0, t + " " + c + " values");
                    assertArrayEquals(idx.toDoubles(), dIdx.to(Device.CPU).toDoubles(), 0.0, t + " " + c + " indices");
                }
            }
        }
    }

    @Test
    void maxPoolLetsNanWinLikeTheCpu() {
        try (Scope s = Scope.open()) {
            double[] v = grid(DType.F64, 2, IN).toDoubles();
            v[5] = v[40] = v[41] = Double.NaN;
            Tensor x = Tensor.fromDoubles(v, DType.F32, IN);
            Case c = MAX_CASES[0];
            int[] o = c.out(IN);
            Tensor out = Tensor.empty(DType.F32, Device.CPU, o), idx = Tensor.empty(DType.I64, Device.CPU, o);
            cpu().maxPool2d(x, c.w(), out, idx);
            Tensor dOut = poisoned(DType.F32, o), dIdx = Tensor.full(-7, DType.I64, CUDA, o);
            gpu().maxPool2d(x.to(CUDA), c.w(), dOut, dIdx);
            assertArrayEquals(out.toDoubles(), dOut.to(Device.CPU).toDoubles(), 0.0);
            assertArrayEquals(idx.toDoubles(), dIdx.to(Device.CPU).toDoubles(), 0.0);
        }
    }

    @Test
    void maxPoolBackwardGathersWhatTheCpuScatters() {
        for (DType t : FLOATS) {
            for (Case c : MAX_CASES) {
                try (Scope s = Scope.open()) {
                    int[] o = c.out(IN);
                    DType r = reference(t);
                    Tensor x = grid(r, 3, IN);
                    Tensor idx = Tensor.empty(DType.I64, Device.CPU, o);
                    cpu().maxPool2d(x, c.w(), Tensor.empty(r, Device.CPU, o), idx);
                    Tensor g = Tensor.randn(new Generator(4), DType.F64, o).to(t);
                    Tensor gin = Tensor.empty(r, Device.CPU, IN);
                    cpu().maxPool2dBackward(g.to(r), idx, c.w(), gin);
                    Tensor dGin = poisoned(t, IN);
                    gpu().maxPool2dBackward(g.to(CUDA), idx.to(CUDA), c.w(), dGin);
                    assertClose(gin, dGin, tol(t), t + " " + c);
                }
            }
        }
    }

    @Test
    void avgPoolMatchesTheCpuWithAndWithoutPaddingInTheDivisor() {
        for (DType t : FLOATS) {
            for (Case c : AVG_CASES) {
                for (boolean includePad : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        int[] o = c.out(IN);
                        DType r = reference(t);
                        Tensor x = Tensor.randn(new Generator(5), DType.F64, IN).to(t);
                        Tensor out = Tensor.empty(r, Device.CPU, o);
                        cpu().avgPool2d(x.to(r), c.w(), includePad, out);
                        Tensor dOut = poisoned(t, o);
                        gpu().avgPool2d(x.to(CUDA), c.w(), includePad, dOut);
                        assertClose(out, dOut, tol(t), t + " " + c + (includePad ? " include pad" : " exclude pad"));
                    }
                }
            }
        }
    }

    @Test
    void avgPoolBackwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (Case c : AVG_CASES) {
                for (boolean includePad : new boolean[] {true, false}) {
                    try (Scope s = Scope.open()) {
                        int[] o = c.out(IN);
                        DType r = reference(t);
                        Tensor g = Tensor.randn(new Generator(6), DType.F64, o).to(t);
                        Tensor gin = Tensor.empty(r, Device.CPU, IN);
                        cpu().avgPool2dBackward(g.to(r), c.w(), includePad, gin);
                        Tensor dGin = poisoned(t, IN);
                        gpu().avgPool2dBackward(g.to(CUDA), c.w(), includePad, dGin);
                        assertClose(gin, dGin, tol(t), t + " " + c + (includePad ? " include pad" : " exclude pad"));
                    }
                }
            }
        }
    }

    @Test
    void avgPoolRejectsDilation() {
        try (Scope s = Scope.open()) {
            Window w = new Window(3, 3, 1, 1, 1, 1, 2, 2);
            assertThrows(IllegalArgumentException.class, () -> gpu().avgPool2d(poisoned(DType.F32, IN), w, true, poisoned(DType.F32, 2, 3, 5, 7)));
        }
    }

    /** Output planes: shrinking, global, identity, growing (windows overlap). */
    static final int[][] ADAPTIVE_OUT = {{4, 5}, {1, 1}, {9, 11}, {13, 17}, {3, 1}};

    @Test
    void adaptiveAvgPoolMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] os : ADAPTIVE_OUT) {
                try (Scope s = Scope.open()) {
                    int[] o = {IN[0], IN[1], os[0], os[1]};
                    DType r = reference(t);
                    Tensor x = Tensor.randn(new Generator(7), DType.F64, IN).to(t);
                    Tensor out = Tensor.empty(r, Device.CPU, o);
                    cpu().adaptiveAvgPool2d(x.to(r), out);
                    Tensor dOut = poisoned(t, o);
                    gpu().adaptiveAvgPool2d(x.to(CUDA), dOut);
                    // The CPU's global pool sums F32 in vector lanes: a different order than the kernel's.
                    assertClose(out, dOut, tol(t) * (os[0] == 1 && os[1] == 1 ? 4 : 1), t + " to " + Arrays.toString(os));
                }
            }
        }
    }

    @Test
    void adaptiveAvgPoolBackwardMatchesTheCpu() {
        for (DType t : FLOATS) {
            for (int[] os : ADAPTIVE_OUT) {
                try (Scope s = Scope.open()) {
                    int[] o = {IN[0], IN[1], os[0], os[1]};
                    DType r = reference(t);
                    Tensor g = Tensor.randn(new Generator(8), DType.F64, o).to(t);
                    Tensor gin = Tensor.empty(r, Device.CPU, IN);
                    cpu().adaptiveAvgPool2dBackward(g.to(r), gin);
                    Tensor dGin = poisoned(t, IN);
                    gpu().adaptiveAvgPool2dBackward(g.to(CUDA), dGin);
                    assertClose(gin, dGin, tol(t), t + " from " + Arrays.toString(os));
                }
            }
        }
    }
}
