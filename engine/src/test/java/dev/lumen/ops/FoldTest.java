package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

/** nn.Unfold and F.fold, each the other's gradient. */
class FoldTest extends DeviceTest {
    private static final Golden G = Golden.load("conv");
    // Pure data movement forward; fold sums at most kh*kw values per pixel.
    private static final double TOL = 1e-6;

    private static int[] i(int... v) { return v; }

    @Test
    void unfoldMatchesTorch() {
        try (Scope s = Scope.open()) {
            Tensor x = G.input("unfold", 0, device);
            G.check("fold", "unfold", Convolution.unfold(x, i(3, 2), i(1, 2), i(1, 0), i(2, 1)), new Tensor[] {x}, TOL, TOL);
            Tensor y = G.input("unfold_basic", 0, device);
            G.check("fold", "unfold_basic", Convolution.unfold(y, i(2), i(1), i(0), i(1)), new Tensor[] {y}, TOL, TOL);
        }
    }

    @Test
    void foldMatchesTorch() {
        try (Scope s = Scope.open()) {
            Tensor x = G.input("fold", 0, device);
            G.check("fold", "fold", Convolution.fold(x, i(6, 7), i(2), i(1), i(0), i(1)), new Tensor[] {x}, TOL, TOL);
            Tensor y = G.input("fold_strided", 0, device);
            G.check("fold", "fold_strided", Convolution.fold(y, i(7, 8), i(3, 2), i(1, 2), i(1, 0), i(2, 1)), new Tensor[] {y}, TOL, TOL);
        }
    }

    @Test
    void unfoldOfNonContiguousInput() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(2);
            Tensor base = on(Tensor.randn(g, DType.F32, 2, 7, 8, 3));
            Tensor a = Convolution.unfold(base.permute(0, 3, 1, 2), i(3, 2), i(1, 2), i(1, 0), i(2, 1));
            Tensor b = Convolution.unfold(base.permute(0, 3, 1, 2).contiguous(), i(3, 2), i(1, 2), i(1, 0), i(2, 1));
            Golden.assertClose("fold", "unfold_noncontig", a, b, 0);
        }
    }

    @Test
    void passFiniteDifferences() {
        Generator g = new Generator(9);
        GradCheck.check(device, "unfold", x -> Convolution.unfold(x[0], i(2, 3), i(2, 1), i(1), i(1, 2)), on(Tensor.randn(g, DType.F64, 2, 2, 5, 6)));
        GradCheck.check(device, "fold", x -> Convolution.fold(x[0], i(5, 6), i(2, 3), i(2, 1), i(1), i(1, 2)), on(Tensor.randn(g, DType.F64, 2, 12, 15)));
    }

    @Test
    void foldChecksTheBlockCount() {
        assertThrows(IllegalArgumentException.class, () -> Convolution.fold(on(Tensor.zeros(1, 12, 29)), i(6, 7), i(2), i(1), i(0), i(1)));
        assertThrows(IllegalArgumentException.class, () -> Convolution.fold(on(Tensor.zeros(1, 13, 30)), i(6, 7), i(2), i(1), i(0), i(1)));
    }
}
