package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.GradCheck;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DropPathTest extends DeviceTest {
    /** Per sample: the factor out/x (0, 1 or 1/keep), asserting the whole sample shares it. */
    private static float[] sampleFactors(Tensor x, Tensor out) {
        int n = x.shape(0), per = (int) (x.numel() / n);
        float[] xv = x.toFloats(), ov = out.toFloats(), f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = ov[i * per] / xv[i * per];
            for (int j = 0; j < per; j++) assertEquals(xv[i * per + j] * f[i], ov[i * per + j], 1e-6f * Math.abs(ov[i * per + j]));
        }
        return f;
    }

    @Test
    void dropsWholeSamplesAndScalesTheRest() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.rand(new Generator(1), DType.F32, 20_000, 3)).add(1);
            float[] f = sampleFactors(x, Regularization.dropPath(x, 0.2, true, new Generator(5), true));
            int kept = 0;
            for (float v : f) {
                if (v != 0) {
                    kept++;
                    assertEquals(1 / 0.8f, v, 1e-6f);
                }
            }
            // Binomial std of the kept fraction is sqrt(0.16 / 20000) ~ 0.0028; 5 sigma.
            assertEquals(0.8, kept / 20_000.0, 0.015);
        }
    }

    @Test
    void withoutScaleByKeepKeptSamplesAreUnchanged() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.rand(new Generator(2), DType.F32, 50, 2, 3)).add(1);
            float[] f = sampleFactors(x, Regularization.dropPath(x, 0.5, true, new Generator(6), false));
            for (float v : f) assertTrue(v == 0f || v == 1f, "factor " + v);
        }
    }

    @Test
    void gradientIsThePerSampleMask() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(3);
            Tensor x = on(Tensor.rand(g, DType.F32, 16, 5, 3)).add(1).requiresGrad(true);
            Tensor out = Regularization.dropPath(x, 0.4, true, new Generator(7), true);
            float[] f = sampleFactors(x, out);
            Tensor gout = on(Tensor.randn(g, DType.F32, 16, 5, 3));
            out.backward(gout);
            float[] gx = x.grad().toFloats(), go = gout.toFloats();
            for (int i = 0; i < gx.length; i++) assertEquals(go[i] * f[i / 15], gx[i], 1e-6f * Math.abs(go[i]) + 1e-7f);
            GradCheck.check(device, "drop_path", v -> Regularization.dropPath(v[0], 0.4, true, new Generator(7), true), x);
        }
    }

    @Test
    void evalZeroPAndOnePBehaveAsTimm() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(4, 3));
            assertSame(x, Regularization.dropPath(x, 0.3, false, new Generator(1), true));
            assertSame(x, Regularization.dropPath(x, 0, true, new Generator(1), true));
            assertArrayEquals(new float[12], Regularization.dropPath(x, 1, true, new Generator(1), true).toFloats(), 0f);
        }
    }

    @Test
    void aSeedReproducesTheMask() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.ones(200, 2));
            float[] a = Regularization.dropPath(x, 0.5, true, new Generator(42), true).toFloats();
            float[] b = Regularization.dropPath(x, 0.5, true, new Generator(42), true).toFloats();
            float[] c = Regularization.dropPath(x, 0.5, true, new Generator(41), true).toFloats();
            assertArrayEquals(a, b, 0f);
            assertFalse(Arrays.equals(a, c));
        }
    }
}
