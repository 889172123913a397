package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each layer against torch with the same weights (loaded by name), forward and gradients
 * of the input and of every parameter. Tolerances: 1e-5 relative in f32 as for ops; the
 * few looser ones say why.
 */
class LayersTest extends DeviceTest {
    private static final double TOL = 1e-5;

    @Test void linear() { NnGolden.check(device, "linear", new Linear(5, 7), TOL, TOL); }

    @Test
    void linearWithoutBias() {
        Linear l = new Linear(6, 3, false);
        assertNull(l.bias());
        NnGolden.check(device, "linear_nobias", l, TOL, TOL);
    }

    @Test void conv2d() { NnGolden.check(device, "conv2d", new Conv2d(4, 6, 3, 2, 1), TOL, TOL); }

    @Test void conv2dGroupedDilated() { NnGolden.check(device, "conv2d_grouped", new Conv2d(6, 4, 3, 1, 2, 2, 2, false), TOL, TOL); }

    @Test void conv2dDepthwise() { NnGolden.check(device, "conv2d_depthwise", new Conv2d(4, 4, 5, 1, 2, 1, 4, true), TOL, TOL); }

    @Test
    void batchNormTrainingUpdatesRunningStatistics() {
        BatchNorm2d bn = new BatchNorm2d(3, 1e-4, 0.2);
        NnGolden.check(device, "batchnorm2d_train", bn, TOL, TOL);
        assertEquals(1, bn.namedBuffers().get("num_batches_tracked").item());
    }

    @Test
    void batchNormEvalUsesRunningStatistics() {
        BatchNorm2d bn = new BatchNorm2d(3, 1e-4, 0.2);
        bn.eval();
        NnGolden.check(device, "batchnorm2d_eval", bn, TOL, TOL);
        assertEquals(7, bn.namedBuffers().get("num_batches_tracked").item(), "eval does not count batches");
    }

    @Test void layerNorm() { NnGolden.check(device, "layernorm", new LayerNorm(7), TOL, TOL); }

    @Test void layerNorm2d() { NnGolden.check(device, "layernorm2d", new LayerNorm2d(5), TOL, TOL); }

    @Test void groupNorm() { NnGolden.check(device, "groupnorm", new GroupNorm(2, 6), TOL, TOL); }

    @Test
    void activations() {
        NnGolden.check(device, "relu", new ReLU(), TOL, TOL);
        NnGolden.check(device, "gelu", new GELU(), TOL, TOL);
        NnGolden.check(device, "gelu_tanh", new GELU(true), TOL, TOL);
        NnGolden.check(device, "silu", new SiLU(), TOL, TOL);
        NnGolden.check(device, "sigmoid", new Sigmoid(), TOL, TOL);
        NnGolden.check(device, "tanh", new Tanh(), TOL, TOL);
        NnGolden.check(device, "softplus", new Softplus(), TOL, TOL);
    }

    @Test
    void defaultInitMatchesTorchBounds() {
        Linear l = new Linear(400, 300, true, new Generator(1));
        checkUniform(l.weight(), 1 / Math.sqrt(400));
        checkUniform(l.bias(), 1 / Math.sqrt(400));
        Conv2d c = new Conv2d(16, 512, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 2, true, new Generator(2));
        assertArrayEquals(new int[] {512, 8, 3, 3}, c.weight().shape());
        checkUniform(c.weight(), 1 / Math.sqrt(8 * 9));
        checkUniform(c.bias(), 1 / Math.sqrt(8 * 9));
        BatchNorm2d bn = new BatchNorm2d(3);
        assertArrayEquals(new float[] {1, 1, 1}, bn.weight().toFloats());
        assertArrayEquals(new float[] {0, 0, 0}, bn.bias().toFloats());
        assertArrayEquals(new float[] {1, 1, 1}, bn.runningVar().toFloats());
    }

    /** All values within +-bound; for large tensors also std ~ bound / sqrt(3) (> 5 sigma bounds). */
    private static void checkUniform(Tensor t, double bound) {
        double[] v = t.toDoubles();
        double mean = Arrays.stream(v).average().orElseThrow();
        double std = Math.sqrt(Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / v.length);
        for (double x : v) assertTrue(Math.abs(x) <= bound, x + " outside +-" + bound);
        assertTrue(Arrays.stream(v).map(Math::abs).max().orElseThrow() > 0.9 * bound, "the range is used");
        if (v.length > 10_000) assertEquals(bound / Math.sqrt(3), std, 0.02 * bound);
    }

    @Test
    void batchNormModeChangesTheStatisticsUsed() {
        BatchNorm2d bn = new BatchNorm2d(2);
        bn.to(device);
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(3), dev.lumen.tensor.DType.F32, 4, 2, 3, 3)).mul(3).add(5);
            bn.eval();
            // Eval with fresh running statistics (0, 1) is nearly the identity and leaves the buffers alone.
            assertArrayEquals(x.toFloats(), bn.forward(x).toFloats(), 1e-3f);
            assertArrayEquals(new float[] {0, 0}, bn.runningMean().toFloats());
            assertEquals(0, bn.namedBuffers().get("num_batches_tracked").item());
            bn.train();
            float[] y = bn.forward(x).toFloats();
            double m = 0;
            for (float f : y) m += f;
            assertEquals(0, m / y.length, 1e-5, "training normalizes with the batch mean");
            assertEquals(1, bn.namedBuffers().get("num_batches_tracked").item());
            for (float r : bn.runningMean().toFloats()) assertTrue(r > 0.3 && r < 0.7, "running mean moved 10% towards ~5: " + r);
        }
    }

    @Test
    void dropoutActsOnlyInTraining() {
        Dropout d = new Dropout(0.25, new Generator(4));
        d.to(device);
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(100, 100));
            float[] y = d.forward(x).toFloats();
            int zeros = 0;
            for (float v : y) {
                if (v == 0) zeros++;
                else assertEquals(1 / 0.75f, v, 1e-6f);
            }
            assertEquals(2500, zeros, 250, "about p of the elements are dropped");
            d.eval();
            assertSame(x, d.forward(x));
        }
    }

    @Test
    void dropPathDropsWholeSamples() {
        DropPath dp = new DropPath(0.5, true, new Generator(5));
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(64, 3, 4));
            float[] y = dp.forward(x).toFloats();
            int dropped = 0;
            for (int b = 0; b < 64; b++) {
                float first = y[b * 12];
                for (int i = 1; i < 12; i++) assertEquals(first, y[b * 12 + i], "one decision per sample");
                assertTrue(first == 0 || first == 2f, "kept samples are scaled by 1 / (1 - p): " + first);
                if (first == 0) dropped++;
            }
            assertTrue(dropped > 12 && dropped < 52, "about half dropped: " + dropped);
            dp.eval();
            assertSame(x, dp.forward(x));
        }
    }

    @Test
    void evalOnAContainerSwitchesItsDropout() {
        Dropout d = new Dropout(0.5, new Generator(6));
        Sequential seq = new Sequential(new Identity(), d);
        seq.eval();
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(10));
            assertSame(x, seq.forward(x));
            seq.train();
            assertNotEquals(10, Arrays.stream(box(seq.forward(x).toFloats())).filter(v -> v == 1f).count());
        }
    }

    private <M extends Module> M onDevice(M m) {
        m.to(device);
        return m;
    }

    private static Float[] box(float[] v) {
        Float[] b = new Float[v.length];
        for (int i = 0; i < v.length; i++) b[i] = v[i];
        return b;
    }

    @Test
    void badShapesNameTheLayer() {
        try (Scope s = Scope.open()) {
            var e = assertThrows(IllegalArgumentException.class, () -> onDevice(new BatchNorm2d(3)).forward(on(Tensor.zeros(2, 4, 3, 3))));
            assertTrue(e.getMessage().contains("BatchNorm2d(3)") && e.getMessage().contains("[2, 4, 3, 3]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> onDevice(new LayerNorm(4)).forward(on(Tensor.zeros(2, 5))));
            assertThrows(IllegalArgumentException.class, () -> new Conv2d(6, 4, 3, 1, 1, 1, 4, true));
            assertThrows(IllegalArgumentException.class, () -> new GroupNorm(4, 6));
        }
    }
}
