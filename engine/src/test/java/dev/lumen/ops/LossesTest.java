package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import org.junit.jupiter.api.Test;

class LossesTest extends DeviceTest {
    private static final Golden G = Golden.load("losses");
    // A reduction over N * C terms of log-softmax values: f32 rounding stays near 1e-7 relative.
    private static final double TOL = 1e-5;

    private void check(String name, java.util.function.BinaryOperator<Tensor> loss) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device), t = G.input(name, 1, device);
            G.check("losses", name, loss.apply(x, t), new Tensor[] {x, t}, TOL, TOL);
        }
    }

    @Test void crossEntropy() { check("cross_entropy", Losses::crossEntropy); }

    @Test void crossEntropyWithLabelSmoothing() { check("cross_entropy_smooth", (x, t) -> Losses.crossEntropy(x, t, 0.1)); }

    @Test void crossEntropyOfLargeLogits() { check("cross_entropy_large", (x, t) -> Losses.crossEntropy(x, t, 0.2)); }

    @Test void softTargetCrossEntropy() { check("soft_target_cross_entropy", Losses::softTargetCrossEntropy); }

    @Test void bceWithLogits() { check("bce_with_logits", Losses::bceWithLogits); }

    @Test void bceWithLogitsOfLargeLogits() { check("bce_with_logits_large", Losses::bceWithLogits); }

    @Test
    void lossesPassFiniteDifferences() {
        Generator g = new Generator(5);
        Tensor x = on(Tensor.randn(g, DType.F64, 4, 5)).mul(2);
        Tensor labels = on(Tensor.fromLongs(new long[] {1, 0, 4, 4}, 4));
        GradCheck.check(device, "crossEntropy", xs -> Losses.crossEntropy(xs[0], xs[1], 0), x, labels);
        GradCheck.check(device, "crossEntropy smoothed", xs -> Losses.crossEntropy(xs[0], xs[1], 0.15), x, labels);
        // Targets that do not sum to one per row, so the rowsum term of the gradient is exercised.
        Tensor soft = on(Tensor.rand(g, DType.F64, 4, 5));
        GradCheck.check(device, "softTargetCrossEntropy", xs -> Losses.softTargetCrossEntropy(xs[0], xs[1]), x, soft);
        GradCheck.check(device, "bceWithLogits", xs -> Losses.bceWithLogits(xs[0], xs[1]), x, soft);
    }

    @Test
    void smoothingOfOneIsTheUniformCrossEntropy() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(6), DType.F64, 3, 4));
            double[] v = x.toDoubles();
            double expected = 0;
            for (int r = 0; r < 3; r++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0, mean = 0;
                for (int c = 0; c < 4; c++) max = Math.max(max, v[r * 4 + c]);
                for (int c = 0; c < 4; c++) {
                    sum += Math.exp(v[r * 4 + c] - max);
                    mean += v[r * 4 + c] / 4;
                }
                expected += (max + Math.log(sum) - mean) / 3;
            }
            assertEquals(expected, Losses.crossEntropy(x, on(Tensor.fromLongs(new long[] {0, 1, 2}, 3)), 1).item(), 1e-12);
        }
    }

    @Test
    void badArgumentsAreNamed() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.zeros(2, 3));
            // A device checks the targets in its kernels and reports at the next host read (item), the CPU at once.
            var e = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(x, on(Tensor.fromLongs(new long[] {0, 3}, 2))).item());
            assertTrue(e.getMessage().contains("crossEntropy") && e.getMessage().contains("3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(x, on(Tensor.fromLongs(new long[] {0, 1, 2}, 3))));
            assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropy(x, on(Tensor.zeros(2))));
            assertThrows(IllegalArgumentException.class, () -> Losses.softTargetCrossEntropy(x, on(Tensor.zeros(2, 4))));
            assertThrows(IllegalArgumentException.class, () -> Losses.bceWithLogits(x, on(Tensor.zeros(3, 2))));
        }
    }
}
