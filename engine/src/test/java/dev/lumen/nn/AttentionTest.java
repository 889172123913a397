package dev.lumen.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Multi-head self-attention against a torch reference written as timm's Attention. */
class AttentionTest extends DeviceTest {
    // A chain of linear, two batched matmuls, softmax and linear agrees with torch to ~1e-7.
    private static final double TOL = 1e-5;

    @Test
    void matchesTimmWithQkvBias() {
        Attention a = new Attention(12, 3, true, 0, 0);
        assertEquals(List.of("qkv.weight", "qkv.bias", "proj.weight", "proj.bias"), List.copyOf(a.stateDict().keySet()));
        assertEquals(0.5, a.scale(), 1e-15, "headDim 4 -> 4^-0.5");
        NnGolden.check(device, "attention", a, TOL, TOL);
    }

    @Test
    void matchesTimmWithoutQkvBias() {
        Attention a = new Attention(8, 2);
        assertEquals(List.of("qkv.weight", "proj.weight", "proj.bias"), List.copyOf(a.stateDict().keySet()));
        NnGolden.check(device, "attention_nobias", a, TOL, TOL);
    }

    @Test
    void moduleGradientPassesFiniteDifferences() {
        Attention a = new Attention(6, 2, true, 0, 0);
        a.to(DType.F64).to(device);
        Tensor x = on(Tensor.randn(new Generator(1), DType.F64, 2, 3, 6));
        GradCheck.check(device, "attention", xs -> a.forward(xs[0]), x);
    }

    @Test
    void coreGradientPassesFiniteDifferences() {
        Generator g = new Generator(2);
        Tensor q = on(Tensor.randn(g, DType.F64, 2, 4, 3)), k = on(Tensor.randn(g, DType.F64, 2, 5, 3)), v = on(Tensor.randn(g, DType.F64, 2, 5, 2));
        GradCheck.check(device, "attend", xs -> Attention.attend(xs[0], xs[1], xs[2], 0.7, null), q, k, v);
    }

    @Test
    void headsMustDivideTheDim() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new Attention(10, 3));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("10") && e.getMessage().contains("3"), e.getMessage());
    }

    @Test
    void coreOfOneKeyReturnsItsValue() {
        try (Scope s = Scope.open()) {
            Tensor q = on(Tensor.randn(new Generator(3), DType.F32, 1, 2, 4, 3));
            Tensor k = on(Tensor.randn(new Generator(4), DType.F32, 1, 2, 1, 3));
            Tensor v = on(Tensor.randn(new Generator(5), DType.F32, 1, 2, 1, 5));
            Tensor out = Attention.attend(q, k, v, 0.5, null);
            assertArrayEquals(new int[] {1, 2, 4, 5}, out.shape());
            float[] o = out.toFloats(), vv = v.toFloats();
            for (int h = 0; h < 2; h++) {
                for (int i = 0; i < 4; i++) {
                    for (int d = 0; d < 5; d++) assertEquals(vv[h * 5 + d], o[(h * 4 + i) * 5 + d], 1e-6f, "softmax over one key is 1");
                }
            }
        }
    }
}
