package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.backend.Backends;
import dev.lumen.backend.ResizeKernels;
import dev.lumen.backend.ResizeKernels.Mode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA interpolation kernels against CpuResize: every mode with and without alignCorners,
 * upsampling, downsampling, mixed and identity sizes, every floating dtype, strided inputs,
 * outputs poisoned with NaN first, and a backward that gives the same bits on every run.
 *
 * <p>Tolerances: the forward computes the CPU's taps and sums in the CPU's order in double, so
 * only the final rounding could differ: one ulp of the dtype (2^-10 F16, 2^-7 BF16, 1e-6 F32
 * relative, 1e-12 F64). The backward gathers per input pixel where the CPU scatters per output
 * pixel, so its double sums differ in order; the stored values still agree to those tolerances.
 */
class CudaResizeTest {
    static final Device CUDA = Device.cuda(0);
    static final DType[] DTYPES = {DType.F32, DType.F64, DType.F16, DType.BF16};
    /** {H, W, outH, outW}: up, down, mixed, identity, one pixel to many and many to one. */
    static final int[][] SIZES = {{5, 7, 9, 13}, {11, 9, 4, 5}, {6, 5, 6, 11}, {4, 6, 4, 6}, {1, 3, 5, 1}, {7, 2, 1, 3}};

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    static ResizeKernels cpu() { return Backends.cpu().resize(); }

    static ResizeKernels gpu() { return CudaBackend.get().resize(); }

    static double tolerance(DType t) {
        return switch (t) {
            case F64 -> 1e-12;
            case F32 -> 1e-6;
            case F16 -> 1.0 / 1024;
            case BF16 -> 1.0 / 128;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    static void assertClose(Tensor expected, Tensor actual, double scale, String what) {
        double[] e = expected.toDoubles(), a = actual.to(Device.CPU).toDoubles();
        double tol = tolerance(expected.dtype());
        assertEquals(e.length, a.length, what);
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], tol * (Math.abs(e[i]) + scale), what + " at " + i);
    }

    /** A device copy of h that is a strided view (channels-last storage) when strided. */
    static Tensor toDevice(Tensor h, boolean strided) {
        if (!strided) return h.to(CUDA);
        return h.permute(0, 2, 3, 1).contiguous().to(CUDA).permute(0, 3, 1, 2);
    }

    @Test
    void forwardMatchesTheCpuForEveryModeSizeAndDtype() {
        int c = 0;
        for (DType t : DTYPES) {
            for (Mode mode : Mode.values()) {
                for (boolean ac : new boolean[] {false, true}) {
                    for (int[] sz : SIZES) {
                        try (Scope s = Scope.open()) {
                            boolean strided = c++ % 2 == 1;
                            Tensor x = Tensor.randn(new Generator(c), DType.F64, 2, 3, sz[0], sz[1]).to(t);
                            Tensor want = Tensor.empty(t, Device.CPU, 2, 3, sz[2], sz[3]);
                            cpu().interpolateForward(x, mode, ac, want);
                            Tensor out = Tensor.full(Double.NaN, t, CUDA, 2, 3, sz[2], sz[3]);
                            gpu().interpolateForward(toDevice(x, strided), mode, ac, out);
                            assertClose(want, out, 0, "forward " + t + " " + mode + " alignCorners " + ac + " "
                                    + java.util.Arrays.toString(sz) + (strided ? " strided" : ""));
                        }
                    }
                }
            }
        }
    }

    @Test
    void backwardMatchesTheCpuForEveryModeSizeAndDtype() {
        int c = 0;
        for (DType t : DTYPES) {
            for (Mode mode : Mode.values()) {
                for (boolean ac : new boolean[] {false, true}) {
                    for (int[] sz : SIZES) {
                        try (Scope s = Scope.open()) {
                            boolean strided = c++ % 2 == 0;
                            Tensor g = Tensor.randn(new Generator(500 + c), DType.F64, 2, 3, sz[2], sz[3]).to(t);
                            Tensor want = Tensor.empty(t, Device.CPU, 2, 3, sz[0], sz[1]);
                            cpu().interpolateBackward(g, mode, ac, want);
                            Tensor gx = Tensor.full(Double.NaN, t, CUDA, 2, 3, sz[0], sz[1]);
                            gpu().interpolateBackward(toDevice(g, strided), mode, ac, gx);
                            // Cancellation in the sums: the scale of the terms, not of the result, bounds the error.
                            assertClose(want, gx, 4, "backward " + t + " " + mode + " alignCorners " + ac + " "
                                    + java.util.Arrays.toString(sz) + (strided ? " strided" : ""));
                        }
                    }
                }
            }
        }
    }

    @Test
    void backwardIsTheAdjointOfTheForward() {
        // <forward(x), g> = <x, backward(g)> in F64 on the device alone.
        for (Mode mode : Mode.values()) {
            for (boolean ac : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randn(new Generator(8), DType.F64, 1, 2, 5, 8).to(CUDA);
                    Tensor g = Tensor.randn(new Generator(9), DType.F64, 1, 2, 7, 3).to(CUDA);
                    Tensor y = Tensor.empty(DType.F64, CUDA, 1, 2, 7, 3), gx = Tensor.empty(DType.F64, CUDA, 1, 2, 5, 8);
                    gpu().interpolateForward(x, mode, ac, y);
                    gpu().interpolateBackward(g, mode, ac, gx);
                    assertEquals(dot(y, g), dot(x, gx), 1e-12 * 40, mode + " alignCorners " + ac);
                }
            }
        }
    }

    static double dot(Tensor a, Tensor b) {
        double[] x = a.to(Device.CPU).toDoubles(), y = b.to(Device.CPU).toDoubles();
        double s = 0;
        for (int i = 0; i < x.length; i++) s += x[i] * y[i];
        return s;
    }

    @Test
    void backwardGivesTheSameBitsEveryRun() {
        try (Scope s = Scope.open()) {
            Tensor g = Tensor.randn(new Generator(4), DType.F32, 2, 3, 4, 5).to(CUDA);
            Tensor first = Tensor.empty(DType.F32, CUDA, 2, 3, 9, 11);
            gpu().interpolateBackward(g, Mode.BICUBIC, false, first);
            float[] want = first.to(Device.CPU).toFloats();
            for (int i = 0; i < 3; i++) {
                Tensor again = Tensor.full(Double.NaN, DType.F32, CUDA, 2, 3, 9, 11);
                gpu().interpolateBackward(g, Mode.BICUBIC, false, again);
                assertArrayEquals(want, again.to(Device.CPU).toFloats());
            }
        }
    }

    @Test
    void mismatchedShapesAndDtypesFailWithTheReason() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(DType.F32, CUDA, 1, 2, 3, 3);
            assertThrows(IllegalArgumentException.class, () -> gpu().interpolateForward(x, Mode.NEAREST, false, Tensor.zeros(DType.F32, CUDA, 1, 3, 6, 6)));
            assertThrows(IllegalArgumentException.class, () -> gpu().interpolateForward(x, Mode.NEAREST, false, Tensor.zeros(DType.F64, CUDA, 1, 2, 6, 6)));
            assertThrows(IllegalArgumentException.class, () -> gpu().interpolateForward(x, Mode.NEAREST, false, Tensor.zeros(DType.F32, CUDA, 2, 6, 6)));
        }
    }
}
