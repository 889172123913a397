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

class LayerNormTest extends DeviceTest {
    private static final Golden G = Golden.load("norm");
    // Row sums differ from PyTorch's only in summation order: ~1e-7 relative.
    private static final double TOL = 1e-5;

    private void golden(String name, boolean affine, boolean channelsFirst, double eps) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            Tensor w = affine ? G.input(name, 1, device) : null, b = affine ? G.input(name, 2, device) : null;
            Tensor out = channelsFirst ? Normalization.layerNormChannelsFirst(x, w, b, eps) : Normalization.layerNorm(x, w, b, eps);
            G.check("layer_norm", name, out, affine ? new Tensor[] {x, w, b} : new Tensor[] {x}, TOL, TOL);
        }
    }

    @Test void oddRowMatchesTorch() { golden("ln", true, false, 1e-5); }
    @Test void wideRowMatchesTorch() { golden("ln_wide", true, false, 1e-6); }
    @Test void noAffineMatchesTorch() { golden("ln_plain", false, false, 1e-5); }
    @Test void channelsFirstMatchesTorch() { golden("ln_cf", true, true, 1e-6); }
    @Test void channelsFirstWithSeveralColumnsMatchesTorch() { golden("ln_cf_wide", true, true, 1e-6); }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(11);
        Tensor x = on(Tensor.randn(g, DType.F64, 3, 2, 7)), w = on(Tensor.randn(g, DType.F64, 7)), b = on(Tensor.randn(g, DType.F64, 7));
        GradCheck.check(device, "layer_norm", v -> Normalization.layerNorm(v[0], v[1], v[2], 1e-5), x, w, b);
        GradCheck.check(device, "layer_norm no affine", v -> Normalization.layerNorm(v[0], null, null, 1e-5), x);
        Tensor xc = on(Tensor.randn(g, DType.F64, 2, 5, 3, 2)), wc = on(Tensor.randn(g, DType.F64, 5)), bc = on(Tensor.randn(g, DType.F64, 5));
        GradCheck.check(device, "layer_norm channels first", v -> Normalization.layerNormChannelsFirst(v[0], v[1], v[2], 1e-6), xc, wc, bc);
    }

    @Test
    void vectorPathsMatchDoubleOnManyRows() {
        Generator g = new Generator(12);
        // 300 rows > the partial-sum chunks; 100 = 6 vectors + a tail.
        Tensor x = on(Tensor.randn(g, DType.F32, 3, 100, 100)).add(3), w = on(Tensor.randn(g, DType.F32, 100)), b = on(Tensor.randn(g, DType.F32, 100));
        PrecisionCheck.f32MatchesF64(device, "layer_norm", v -> Normalization.layerNorm(v[0], v[1], v[2], 1e-5), 1e-5, x, w, b);
        Tensor xc = on(Tensor.randn(g, DType.F32, 4, 24, 13, 11)), wc = on(Tensor.randn(g, DType.F32, 24)), bc = on(Tensor.randn(g, DType.F32, 24));
        PrecisionCheck.f32MatchesF64(device, "layer_norm_channels_first",
                v -> Normalization.layerNormChannelsFirst(v[0], v[1], v[2], 1e-6), 1e-5, xc, wc, bc);
        // 1155 positions: two blocks of the channels-first kernel, the second ending in a partial vector.
        Tensor xl = on(Tensor.randn(g, DType.F32, 2, 5, 33, 35)).add(1), wl = on(Tensor.randn(g, DType.F32, 5)), bl = on(Tensor.randn(g, DType.F32, 5));
        PrecisionCheck.f32MatchesF64(device, "layer_norm_channels_first two blocks",
                v -> Normalization.layerNormChannelsFirst(v[0], v[1], v[2], 1e-6), 1e-5, xl, wl, bl);
        PrecisionCheck.f32MatchesF64(device, "layer_norm_channels_first no affine",
                v -> Normalization.layerNormChannelsFirst(v[0], null, null, 1e-6), 1e-5, xc);
    }

    @Test
    void channelsFirstEqualsPermutedLayerNorm() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(13);
            Tensor x = on(Tensor.randn(g, DType.F32, 2, 16, 5, 7)).requiresGrad(true), w = on(Tensor.randn(g, DType.F32, 16)), b = on(Tensor.randn(g, DType.F32, 16));
            Tensor a = Normalization.layerNormChannelsFirst(x, w, b, 1e-6);
            Tensor ref = Normalization.layerNorm(x.permute(0, 2, 3, 1), w, b, 1e-6).permute(0, 3, 1, 2);
            Golden.assertClose("layer_norm", "channels_first_vs_permute", a, ref, 1e-6);
        }
    }

    @Test
    void nonContiguousInputGivesTheSameResult() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(14);
            Tensor x = on(Tensor.randn(g, DType.F32, 9, 4, 6)).transpose(0, 2);
            Tensor w = on(Tensor.randn(g, DType.F32, 9));
            assertArrayEquals(Normalization.layerNorm(x.contiguous(), w, null, 1e-5).toFloats(),
                    Normalization.layerNorm(x, w, null, 1e-5).toFloats(), 0f);
        }
    }

    @Test
    void bf16InputComputesInF32AndCastsBack() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(15);
            Tensor x = on(Tensor.randn(g, DType.F32, 4, 40)).to(DType.BF16).requiresGrad(true);
            Tensor w = on(Tensor.randn(g, DType.F32, 40));
            Tensor out = Normalization.layerNorm(x, w, null, 1e-5);
            assertTrue(out.dtype() == DType.BF16);
            // bf16 keeps 8 significant bits: the result is the F32 one rounded, ~4e-3 relative.
            Golden.assertClose("layer_norm", "bf16", out.to(DType.F32), Normalization.layerNorm(x.detach().to(DType.F32), w, null, 1e-5), 1e-2);
            out.sum().backward();
            assertTrue(x.grad() != null && x.grad().dtype() == DType.BF16);
        }
    }

    @Test
    void rejectsWrongWeightSize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Normalization.layerNorm(on(Tensor.ones(2, 5)), on(Tensor.ones(4)), null, 1e-5));
        assertTrue(e.getMessage().contains("layerNorm") && e.getMessage().contains("weight [4]"), e.getMessage());
    }
}
