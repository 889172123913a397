package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

class BatchNormTest extends DeviceTest {
    private static final Golden G = Golden.load("norm");
    // Sums over a channel differ from PyTorch's only in summation order: ~1e-6 relative.
    private static final double TOL = 1e-5;

    private void golden(String name, boolean affine, boolean training, boolean running) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            Tensor w = affine ? G.input(name, 1, device) : null, b = affine ? G.input(name, 2, device) : null;
            Tensor rm = running ? G.get(name + ".rm").to(device).copy() : null, rv = running ? G.get(name + ".rv").to(device).copy() : null;
            Tensor out = Normalization.batchNorm(x, rm, rv, w, b, training, 0.1, 1e-5);
            G.check("batch_norm", name, out, affine ? new Tensor[] {x, w, b} : new Tensor[] {x}, TOL, TOL);
            if (running) {
                Golden.assertClose("batch_norm", name + ".running_mean", rm, G.get(name + ".rm_after"), TOL);
                Golden.assertClose("batch_norm", name + ".running_var", rv, G.get(name + ".rv_after"), TOL);
            }
        }
    }

    @Test void trainingMatchesTorch() { golden("bn_train", true, true, true); }
    @Test void evalMatchesTorch() { golden("bn_eval", true, false, true); }
    @Test void batchNorm1dWithoutAffineMatchesTorch() { golden("bn_1d", false, true, false); }
    @Test void longChannelsMatchTorch() { golden("bn_long", true, true, true); }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(5);
        Tensor x = on(Tensor.randn(g, DType.F64, 3, 4, 2, 3)), w = on(Tensor.randn(g, DType.F64, 4)), b = on(Tensor.randn(g, DType.F64, 4));
        Tensor rm = on(Tensor.randn(g, DType.F64, 4)), rv = on(Tensor.rand(g, DType.F64, 4)).add(0.5);
        GradCheck.check(device, "batch_norm train", v -> Normalization.batchNorm(v[0], null, null, v[1], v[2], true, 0.1, 1e-5), x, w, b);
        GradCheck.check(device, "batch_norm eval", v -> Normalization.batchNorm(v[0], rm, rv, v[1], v[2], false, 0.1, 1e-5), x, w, b);
        GradCheck.check(device, "batch_norm no affine", v -> Normalization.batchNorm(v[0], null, null, null, null, true, 0.1, 1e-5), x);
        Tensor x2 = on(Tensor.randn(g, DType.F64, 5, 3));
        GradCheck.check(device, "batch_norm 1d", v -> Normalization.batchNorm(v[0], null, null, v[1], null, true, 0.1, 1e-5), x2, w.narrow(0, 0, 3));
    }

    @Test
    void vectorPathMatchesDoubleOnLargeChannels() {
        Generator g = new Generator(6);
        Tensor x = on(Tensor.randn(g, DType.F32, 8, 6, 33, 35)), w = on(Tensor.randn(g, DType.F32, 6)), b = on(Tensor.randn(g, DType.F32, 6));
        PrecisionCheck.f32MatchesF64(device, "batch_norm", v -> Normalization.batchNorm(v[0], null, null, v[1], v[2], true, 0.1, 1e-5), 1e-5, x, w, b);
    }

    @Test
    void nonContiguousInputGivesTheSameResult() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(7);
            Tensor base = on(Tensor.randn(g, DType.F32, 3, 5, 6, 4));
            Tensor x = base.permute(0, 3, 2, 1);
            Tensor w = on(Tensor.randn(g, DType.F32, 4)), b = on(Tensor.randn(g, DType.F32, 4));
            Tensor a = Normalization.batchNorm(x, null, null, w, b, true, 0.1, 1e-5);
            Tensor c = Normalization.batchNorm(x.contiguous(), null, null, w, b, true, 0.1, 1e-5);
            assertArrayEquals(c.toFloats(), a.toFloats(), 0f);
        }
    }

    @Test
    void evalLeavesRunningStatsAlone() {
        try (Scope s = Scope.open()) {
            Tensor rm = on(Tensor.fromFloats(new float[] {1, 2}, 2)), rv = on(Tensor.fromFloats(new float[] {4, 9}, 2));
            Tensor x = on(Tensor.fromFloats(new float[] {3, 5, 1, 8}, 2, 2));
            Tensor out = Normalization.batchNorm(x, rm, rv, null, null, false, 0.1, 0);
            assertArrayEquals(new float[] {1, 1, 0, 2}, out.toFloats(), 1e-6f);
            assertArrayEquals(new float[] {1, 2}, rm.toFloats());
            assertArrayEquals(new float[] {4, 9}, rv.toFloats());
        }
    }

    @Test
    void rejectsOneValuePerChannelInTraining() {
        Tensor x = on(Tensor.ones(1, 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Normalization.batchNorm(x, null, null, null, null, true, 0.1, 1e-5));
        assertTrue(e.getMessage().contains("batchNorm") && e.getMessage().contains("[1, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Normalization.batchNorm(on(Tensor.ones(2, 3)), null, null, on(Tensor.ones(4)), null, true, 0.1, 1e-5));
    }
}
