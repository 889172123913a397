package dev.lumen.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.cpu.Parallel;
import dev.lumen.memory.Scope;
import org.junit.jupiter.api.Test;

class CreationTest {
    @Test
    void constantsAndRanges() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[] {0, 0, 0}, Tensor.zeros(3).toFloats());
            assertArrayEquals(new float[] {1, 1}, Tensor.ones(2).toFloats());
            assertArrayEquals(new double[] {2.5, 2.5}, Tensor.full(2.5, DType.F64, Device.CPU, 2).toDoubles());
            assertArrayEquals(new long[] {0, 1, 2, 3}, Tensor.arange(4).toLongs());
            assertArrayEquals(new float[] {1, 1.5f, 2, 2.5f}, Tensor.arange(1, 3, 0.5, DType.F32).toFloats());
            assertEquals(0, Tensor.scalar(0).dim());
            assertThrows(IllegalArgumentException.class, () -> Tensor.fromFloats(new float[5], 2, 3));
        }
    }

    @Test
    void randomTensorsAreReproducibleAndThreadIndependent() {
        try (Scope s = Scope.open()) {
            float[] a = Tensor.randn(new Generator(42), DType.F32, 1000).toFloats();
            int before = Parallel.threads();
            Parallel.setThreads(1);
            float[] b;
            try {
                b = Tensor.randn(new Generator(42), DType.F32, 1000).toFloats();
            } finally {
                Parallel.setThreads(before);
            }
            assertArrayEquals(a, b);
            Generator g = new Generator(42);
            float[] first = Tensor.rand(g, DType.F32, 10).toFloats();
            float[] second = Tensor.rand(g, DType.F32, 10).toFloats();
            assertNotEquals(first[0], second[0]);
        }
    }

    @Test
    void distributionsHaveTheirMoments() {
        try (Scope s = Scope.open()) {
            int n = 200_000;
            double[] u = Tensor.rand(new Generator(1), DType.F64, n).toDoubles();
            double[] z = Tensor.randn(new Generator(2), DType.F64, n).toDoubles();
            double[] t = Tensor.truncNormal(new Generator(3), DType.F64, 0, 1, -2, 2, n).toDoubles();
            double mu = 0, mz = 0, vz = 0, mt = 0, vt = 0;
            for (int i = 0; i < n; i++) {
                assertTrue(u[i] >= 0 && u[i] < 1);
                assertTrue(t[i] >= -2 && t[i] <= 2);
                mu += u[i] / n;
                mz += z[i] / n;
                vz += z[i] * z[i] / n;
                mt += t[i] / n;
                vt += t[i] * t[i] / n;
            }
            // Standard errors at n = 2e5 are ~0.002; 0.01 is five of them.
            assertEquals(0.5, mu, 0.01);
            assertEquals(0.0, mz, 0.01);
            assertEquals(1.0, vz, 0.01);
            assertEquals(0.0, mt, 0.01);
            // Variance of N(0,1) truncated to [-2, 2]: 1 - 4 phi(2) / (Phi(2) - Phi(-2)) = 0.7737.
            assertEquals(0.7737, vt, 0.01);
        }
    }
}
