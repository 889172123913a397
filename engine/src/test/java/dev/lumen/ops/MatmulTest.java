package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.cpu.Gemm;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class MatmulTest extends DeviceTest {
    private static final Golden G = Golden.load("linalg");
    // Reduction order differs from torch's: ~sqrt(K) roundings of 6e-8; K <= 129 here.
    private static final double TOL = 1e-5;
    // K = 2000: the per-output error grows like sqrt(K) * 6e-8 ~ 3e-6, and with only 4 outputs
    // the norm does not average it out; 2e-5 leaves room for a different blocking.
    private static final double TOL_LONG_K = 2e-5;

    /** Runs every golden case once per GEMM implementation. */
    private void eachGemm(Runnable body) {
        Gemm saved = Gemm.active();
        try {
            for (Gemm g : GemmTest.gemmsOn(device)) {
                Gemm.setActive(g);
                body.run();
            }
        } finally {
            Gemm.setActive(saved);
        }
    }

    private void binary(String name, BinaryOperator<Tensor> op, double tol) {
        eachGemm(() -> {
            try (Scope s = Scope.open()) {
                Tensor a = G.input(name, 0, device), b = G.input(name, 1, device);
                G.check("linalg", name, op.apply(a, b), new Tensor[] {a, b}, tol, tol);
            }
        });
    }

    @Test void mm1x1x1() { binary("mm_1x1x1", LinearAlgebra::matmul, TOL); }
    @Test void mm7x13x5() { binary("mm_7x13x5", LinearAlgebra::matmul, TOL); }
    @Test void mm65x33x129() { binary("mm_65x33x129", LinearAlgebra::matmul, TOL); }
    @Test void mmBothTransposed() { binary("mm_tt", (a, b) -> LinearAlgebra.matmul(a.transpose(0, 1), b.transpose(0, 1)), TOL); }
    @Test void mmLeftTransposed() { binary("mm_tn", (a, b) -> LinearAlgebra.matmul(a.transpose(0, 1), b), TOL); }
    @Test void mmLongK() { binary("mm_longk", LinearAlgebra::matmul, TOL_LONG_K); }
    @Test void dot() { binary("dot", LinearAlgebra::matmul, TOL); }
    @Test void vectorMatrix() { binary("vecmat", LinearAlgebra::matmul, TOL); }
    @Test void matrixVector() { binary("matvec", LinearAlgebra::matmul, TOL); }
    @Test void batchVector() { binary("batchvec", LinearAlgebra::matmul, TOL); }
    @Test void vectorBatch() { binary("vecbatch", LinearAlgebra::matmul, TOL); }
    @Test void batchMatrix() { binary("batch_mat", LinearAlgebra::matmul, TOL); }
    @Test void matrixBatch() { binary("mat_batch", LinearAlgebra::matmul, TOL); }
    @Test void broadcastBatchDims() { binary("broadcast", LinearAlgebra::matmul, TOL); }
    @Test void batchTransposed() { binary("batch_t", (a, b) -> LinearAlgebra.matmul(a, b.transpose(-1, -2)), TOL); }
    @Test void bmm() { binary("bmm", LinearAlgebra::bmm, TOL); }

    @Test
    void linearWithBias() {
        eachGemm(() -> {
            try (Scope s = Scope.open()) {
                Tensor x = G.input("linear_bias", 0, device), w = G.input("linear_bias", 1, device), b = G.input("linear_bias", 2, device);
                G.check("linalg", "linear_bias", LinearAlgebra.linear(x, w, b), new Tensor[] {x, w, b}, TOL, TOL);
            }
        });
    }

    @Test void linearWithoutBias() { binary("linear_nobias", (x, w) -> LinearAlgebra.linear(x, w, null), TOL); }

    @Test
    void linearOfNonContiguousInput() {
        eachGemm(() -> {
            try (Scope s = Scope.open()) {
                Tensor x = G.input("linear_noncontig", 0, device), w = G.input("linear_noncontig", 1, device), b = G.input("linear_noncontig", 2, device);
                G.check("linalg", "linear_noncontig", LinearAlgebra.linear(x.transpose(0, 1), w, b), new Tensor[] {x, w, b}, TOL, TOL);
            }
        });
    }

    @Test
    void productsPassFiniteDifferences() {
        Generator g = new Generator(11);
        Function<int[], Tensor> r = s -> on(Tensor.randn(g, DType.F64, s));
        eachGemm(() -> {
            GradCheck.check(device, "matmul 2d", x -> LinearAlgebra.matmul(x[0], x[1]), r.apply(new int[] {3, 4}), r.apply(new int[] {4, 5}));
            GradCheck.check(device, "matmul transposed", x -> LinearAlgebra.matmul(x[0].transpose(0, 1), x[1].transpose(0, 1)),
                    r.apply(new int[] {4, 3}), r.apply(new int[] {2, 4}));
            GradCheck.check(device, "matmul broadcast", x -> LinearAlgebra.matmul(x[0], x[1]), r.apply(new int[] {2, 1, 3, 4}), r.apply(new int[] {3, 4, 2}));
            GradCheck.check(device, "matmul 1d", x -> LinearAlgebra.matmul(x[0], x[1]), r.apply(new int[] {4}), r.apply(new int[] {2, 4, 3}));
            GradCheck.check(device, "dot", x -> LinearAlgebra.matmul(x[0], x[1]), r.apply(new int[] {5}), r.apply(new int[] {5}));
            GradCheck.check(device, "bmm", x -> LinearAlgebra.bmm(x[0], x[1]), r.apply(new int[] {2, 3, 4}), r.apply(new int[] {2, 4, 2}));
            GradCheck.check(device, "linear", x -> LinearAlgebra.linear(x[0], x[1], x[2]), r.apply(new int[] {2, 3, 4}), r.apply(new int[] {5, 4}), r.apply(new int[] {5}));
        });
    }

    @Test
    void shapesAreCheckedWithClearMessages() {
        Tensor a = on(Tensor.zeros(2, 3)), b = on(Tensor.zeros(4, 5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LinearAlgebra.matmul(a, b));
        assertTrue(e.getMessage().contains("matmul") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 5]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LinearAlgebra.bmm(on(Tensor.zeros(2, 3, 4)), on(Tensor.zeros(3, 4, 5))));
        assertThrows(IllegalArgumentException.class, () -> LinearAlgebra.linear(on(Tensor.zeros(2, 3)), on(Tensor.zeros(4, 5)), null));
    }

    @Test
    void largeProductAgreesBetweenGemms() {
        // Many blocks in every direction, including the batch fold of [B, M, K] @ [K, N].
        Generator g = new Generator(5);
        Tensor a = on(Tensor.randn(g, DType.F32, 2, 100, 300)), b = on(Tensor.randn(g, DType.F32, 300, 130));
        Gemm saved = Gemm.active();
        try {
            Gemm.setActive(Gemm.java());
            Tensor j = LinearAlgebra.matmul(a, b);
            Tensor ref = LinearAlgebra.matmul(a.to(DType.F64), b.to(DType.F64));
            assertArrayEquals(new int[] {2, 100, 130}, j.shape());
            assertTrue(Golden.relativeError(j.to(DType.F64), ref) < 2e-6, "java gemm vs f64");
            if (Gemm.openBlas() != null) {
                Gemm.setActive(Gemm.openBlas());
                assertTrue(Golden.relativeError(LinearAlgebra.matmul(a, b).to(DType.F64), ref) < 2e-6, "openblas vs f64");
            }
        } finally {
            Gemm.setActive(saved);
        }
    }
}
