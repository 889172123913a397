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

class GroupNormTest extends DeviceTest {
    private static final Golden G = Golden.load("norm");
    // Group sums differ from PyTorch's only in summation order: ~1e-7 relative.
    private static final double TOL = 1e-5;

    private void golden(String name, int groups, boolean affine) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            Tensor w = affine ? G.input(name, 1, device) : null, b = affine ? G.input(name, 2, device) : null;
            Tensor out = Normalization.groupNorm(x, groups, w, b, 1e-5);
            G.check("group_norm", name, out, affine ? new Tensor[] {x, w, b} : new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void matchesTorch() { golden("gn", 3, true); }
    @Test void oneGroupWithoutAffineMatchesTorch() { golden("gn_plain", 1, false); }
    @Test void longGroupsMatchTorch() { golden("gn_long", 2, true); }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(21);
        Tensor x = on(Tensor.randn(g, DType.F64, 2, 6, 3, 2)), w = on(Tensor.randn(g, DType.F64, 6)), b = on(Tensor.randn(g, DType.F64, 6));
        GradCheck.check(device, "group_norm", v -> Normalization.groupNorm(v[0], 2, v[1], v[2], 1e-5), x, w, b);
        GradCheck.check(device, "group_norm no affine", v -> Normalization.groupNorm(v[0], 3, null, null, 1e-5), x);
    }

    @Test
    void vectorPathMatchesDouble() {
        Generator g = new Generator(22);
        Tensor x = on(Tensor.randn(g, DType.F32, 3, 8, 17, 19)).add(2), w = on(Tensor.randn(g, DType.F32, 8)), b = on(Tensor.randn(g, DType.F32, 8));
        PrecisionCheck.f32MatchesF64(device, "group_norm", v -> Normalization.groupNorm(v[0], 4, v[1], v[2], 1e-5), 1e-5, x, w, b);
    }

    @Test
    void nonContiguousInputGivesTheSameResult() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(23);
            Tensor x = on(Tensor.randn(g, DType.F32, 5, 4, 6)).permute(2, 1, 0);
            assertArrayEquals(Normalization.groupNorm(x.contiguous(), 2, null, null, 1e-5).toFloats(),
                    Normalization.groupNorm(x, 2, null, null, 1e-5).toFloats(), 0f);
        }
    }

    @Test
    void rejectsGroupsThatDoNotDivideChannels() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Normalization.groupNorm(on(Tensor.ones(2, 6, 3)), 4, null, null, 1e-5));
        assertTrue(e.getMessage().contains("groupNorm") && e.getMessage().contains("4 groups"), e.getMessage());
    }
}
