package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class SoftmaxTest extends DeviceTest {
    private static final Golden G = Golden.load("softmax");
    // exp/log in f32 lanes (~1 ulp) and a row sum of up to 1001 terms: ~1e-7 relative.
    private static final double TOL = 1e-5;

    private void golden(String name, Function<Tensor, Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("softmax", name, op.apply(x), new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void softmaxOverLastDimMatchesTorch() { golden("softmax_last", x -> Softmax.softmax(x, -1)); }
    @Test void softmaxOverMiddleDimMatchesTorch() { golden("softmax_mid", x -> Softmax.softmax(x, 1)); }
    @Test void softmaxOverFirstDimMatchesTorch() { golden("softmax_first", x -> Softmax.softmax(x, 0)); }
    @Test void logSoftmaxOverLastDimMatchesTorch() { golden("log_softmax_last", x -> Softmax.logSoftmax(x, 2)); }
    @Test void logSoftmaxOverMiddleDimMatchesTorch() { golden("log_softmax_mid", x -> Softmax.logSoftmax(x, -2)); }
    @Test void logSoftmaxOverFirstDimMatchesTorch() { golden("log_softmax_first", x -> Softmax.logSoftmax(x, 0)); }
    @Test void softmaxOfLongRowsMatchesTorch() { golden("softmax_long", x -> Softmax.softmax(x, -1)); }
    @Test void logSoftmaxOfLongRowsMatchesTorch() { golden("log_softmax_long", x -> Softmax.logSoftmax(x, -1)); }
    @Test void softmaxOfTransposedViewMatchesTorch() { golden("softmax_t", x -> Softmax.softmax(x.transpose(0, 1), -1)); }

    @Test
    void largeF32RowsAgreeWithF64() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(2), DType.F32, 300, 77)).mul(5);
            Tensor x64 = x.to(DType.F64);
            for (int dim : new int[] {-1, 0}) {
                Golden.assertClose("softmax", "softmax_vs_f64", Softmax.softmax(x, dim), Softmax.softmax(x64, dim).to(DType.F32), 1e-6);
                Golden.assertClose("softmax", "log_softmax_vs_f64", Softmax.logSoftmax(x, dim), Softmax.logSoftmax(x64, dim).to(DType.F32), 1e-6);
            }
        }
    }

    @Test
    void rowsSumToOneEvenWithHugeLogits() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {1000, 1001, 999, -1000, 0, 1000}, 2, 3));
            float[] y = Softmax.softmax(x, 1).toFloats();
            assertEquals(1.0, y[0] + y[1] + y[2], 1e-6);
            assertEquals(1.0, y[5], 1e-6);
            assertEquals(-1000.0, Softmax.logSoftmax(x, 1).toFloats()[4], 1e-3);
            assertThrows(IllegalArgumentException.class, () -> Softmax.softmax(on(Tensor.arange(3)), 0));
        }
    }

    @Test
    void softmaxPassesFiniteDifferences() {
        Tensor x = on(Tensor.randn(new Generator(8), DType.F64, 3, 4, 5));
        for (int dim : new int[] {-1, 1, 0}) {
            GradCheck.check(device, "softmax dim " + dim, t -> Softmax.softmax(t[0], dim), x);
            GradCheck.check(device, "log_softmax dim " + dim, t -> Softmax.logSoftmax(t[0], dim), x);
        }
        GradCheck.check(device, "softmax of a transposed view", t -> Softmax.softmax(t[0].transpose(0, 2), -1), x);
    }
}
