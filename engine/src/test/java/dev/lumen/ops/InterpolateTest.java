package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.ResizeKernels.Mode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

class InterpolateTest extends DeviceTest {
    private static final Golden G = Golden.load("resize");
    // At most 16 weighted taps per element, weights equal to PyTorch's to ~1 ulp: ~1e-7 relative.
    private static final double TOL = 1e-5;

    private void golden(String name, int outH, int outW, Mode mode, boolean align) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("interpolate", name, Resize.interpolate(x, outH, outW, mode, align), new Tensor[] {x}, TOL, TOL);
        }
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            Tensor out = Resize.interpolate(ShapingTest.nonContiguous(x), outH, outW, mode, align);
            Golden.assertClose("interpolate", name + ".out[strided]", out, G.get(name + ".out"), TOL);
        }
    }

    @Test void nearestUpMatchesTorch() { golden("nearest_up", 11, 9, Mode.NEAREST, false); }
    @Test void nearestDownMatchesTorch() { golden("nearest_down", 3, 4, Mode.NEAREST, false); }
    @Test void nearestDoubleMatchesTorch() { golden("nearest_double", 10, 14, Mode.NEAREST, false); }
    @Test void nearestOddScaleMatchesTorch() { golden("nearest_odd", 16, 14, Mode.NEAREST, false); }
    @Test void bilinearUpMatchesTorch() { golden("bilinear_up", 8, 10, Mode.BILINEAR, false); }
    @Test void bilinearDownMatchesTorch() { golden("bilinear_down", 3, 4, Mode.BILINEAR, false); }
    @Test void bilinearAlignCornersMatchesTorch() { golden("bilinear_align", 8, 10, Mode.BILINEAR, true); }
    @Test void bilinearAlignCornersToOneRowMatchesTorch() { golden("bilinear_align_one", 1, 3, Mode.BILINEAR, true); }
    @Test void bicubicUpMatchesTorch() { golden("bicubic_up", 9, 11, Mode.BICUBIC, false); }
    @Test void bicubicAlignCornersMatchesTorch() { golden("bicubic_align", 9, 11, Mode.BICUBIC, true); }
    @Test void bicubicDownMatchesTorch() { golden("bicubic_down", 3, 4, Mode.BICUBIC, false); }
    @Test void positionEmbeddingResizeMatchesTorch() { golden("bicubic_posembed", 12, 12, Mode.BICUBIC, false); }

    @Test
    void passesFiniteDifferences() {
        Tensor x = on(Tensor.randn(new Generator(51), DType.F64, 1, 2, 4, 5));
        for (Mode m : Mode.values()) {
            for (boolean align : new boolean[] {false, true}) {
                if (m == Mode.NEAREST && align) continue;
                GradCheck.check(device, "interpolate " + m + " up", v -> Resize.interpolate(v[0], 7, 6, m, align), x);
                GradCheck.check(device, "interpolate " + m + " down", v -> Resize.interpolate(v[0], 3, 2, m, align), x);
            }
        }
    }

    @Test
    void sameSizeIsIdentity() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(52), DType.F32, 1, 3, 5, 6));
            for (Mode m : Mode.values()) assertArrayEquals(x.toFloats(), Resize.interpolate(x, 5, 6, m, false).toFloats(), 1e-6f, m.name());
        }
    }

    @Test
    void badArgumentsAreNamed() {
        String m = assertThrows(IllegalArgumentException.class, () -> Resize.interpolate(on(Tensor.ones(3, 4, 5)), 2, 2, Mode.BILINEAR, false)).getMessage();
        assertTrue(m.contains("interpolate") && m.contains("[3, 4, 5]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Resize.interpolate(on(Tensor.ones(1, 1, 2, 2)), 2, 2, Mode.NEAREST, true)).getMessage();
        assertTrue(m.contains("alignCorners"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Resize.interpolate(on(Tensor.ones(1, 1, 2, 2)), 0, 2, Mode.BICUBIC, true)).getMessage();
        assertTrue(m.contains("positive"), m);
    }
}
