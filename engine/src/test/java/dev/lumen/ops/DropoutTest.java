package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DropoutTest extends DeviceTest {
    @Test
    void keepsAboutOneMinusPAndScalesKeptValues() {
        try (Scope s = Scope.open()) {
            int n = 200_000;
            float[] out = Regularization.dropout(on(Tensor.ones(n)), 0.3, true, new Generator(1)).toFloats();
            int kept = 0;
            for (float v : out) {
                if (v != 0) {
                    kept++;
                    assertEquals((float) (1 / 0.7), v, 0f);
                }
            }
            // Binomial std of the kept fraction is sqrt(0.21 / n) ~ 0.001; 5 sigma.
            assertEquals(0.7, kept / (double) n, 0.005);
        }
    }

    @Test
    void gradientIsTheMaskTimesTheScale() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(2);
            Tensor x = on(Tensor.rand(g, DType.F32, 7, 33)).add(1).requiresGrad(true);
            Tensor out = Regularization.dropout(x, 0.45, true, new Generator(9));
            Tensor gout = on(Tensor.randn(g, DType.F32, 7, 33));
            out.backward(gout);
            float[] o = out.toFloats(), gx = x.grad().toFloats(), go = gout.toFloats(), xv = x.toFloats();
            float scale = (float) (1 / 0.55);
            for (int i = 0; i < o.length; i++) {
                float m = o[i] != 0 ? scale : 0f;
                assertEquals(xv[i] * m, o[i], 0f);
                assertEquals(go[i] * m, gx[i], 0f);
            }
            GradCheck.check(device, "dropout", v -> Regularization.dropout(v[0], 0.45, true, new Generator(9)), x);
        }
    }

    @Test
    void evalAndZeroPAreIdentity() {
        Tensor x = on(Tensor.randn(3, 4));
        assertSame(x, Regularization.dropout(x, 0.5, false, new Generator(1)));
        assertSame(x, Regularization.dropout(x, 0, true, new Generator(1)));
    }

    @Test
    void pOneGivesZeros() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(5, 6)).requiresGrad(true);
            Tensor out = Regularization.dropout(x, 1, true, new Generator(1));
            assertArrayEquals(new float[30], out.toFloats(), 0f);
            out.sum().backward();
            assertArrayEquals(new float[30], x.grad().toFloats(), 0f);
        }
    }

    @Test
    void aSeedReproducesTheMask() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(4, 1000));
            float[] a = Regularization.dropout(x, 0.5, true, new Generator(42)).toFloats();
            float[] b = Regularization.dropout(x, 0.5, true, new Generator(42)).toFloats();
            float[] c = Regularization.dropout(x, 0.5, true, new Generator(43)).toFloats();
            assertArrayEquals(a, b, 0f);
            assertFalse(Arrays.equals(a, c));
            // Successive draws from one generator differ.
            Generator g = new Generator(42);
            assertFalse(Arrays.equals(Regularization.dropout(x, 0.5, true, g).toFloats(), Regularization.dropout(x, 0.5, true, g).toFloats()));
        }
    }

    @Test
    void elementIKeptExactlyWhenDrawIIsBelowKeep() {
        try (Scope s = Scope.open()) {
            // Odd length: the vectorized F32 path, its scalar tail and the F64 path must all follow the same rule.
            int n = 1003;
            float[] f = Regularization.dropout(on(Tensor.ones(n)), 0.35, true, new Generator(77)).toFloats();
            double[] d = Regularization.dropout(Tensor.full(1, DType.F64, device, n), 0.35, true, new Generator(77)).toDoubles();
            for (int i = 0; i < n; i++) {
                boolean keep = Generator.uniform(77, i) < 0.65;
                assertEquals(keep ? (float) (1 / 0.65) : 0f, f[i], 0f, "F32 element " + i);
                assertEquals(keep ? 1 / 0.65 : 0, d[i], 0, "F64 element " + i);
            }
        }
    }

    @Test
    void nonContiguousInputIsMaskedInLogicalOrder() {
        try (Scope s = Scope.open()) {
            Tensor base = on(Tensor.randn(new Generator(3), DType.F32, 6, 5));
            Tensor x = base.transpose(0, 1);
            assertArrayEquals(Regularization.dropout(x.contiguous(), 0.3, true, new Generator(8)).toFloats(),
                    Regularization.dropout(x, 0.3, true, new Generator(8)).toFloats(), 0f);
        }
    }

    @Test
    void rejectsProbabilityOutsideUnitInterval() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Regularization.dropout(on(Tensor.ones(2)), 1.5, true, new Generator(1)));
        assertTrue(e.getMessage().contains("dropout") && e.getMessage().contains("1.5"), e.getMessage());
    }
}
