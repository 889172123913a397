package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CPU unary kernels that run in two stages per block of 512 (GELU in both forms, tanh,
 * softplus, log) as rows: the two loops per block and the scalar tail. Random inputs of sizes
 * around the vector length, the block and the threads' split, outputs poisoned with NaN first:
 * every element must match the double reference (GeluMathTest and VecMathTest bound the
 * formulas' errors; here a NaN or a skipped or shifted element fails), and every vector lane
 * must be bit-identical to the one-stage formula in UnaryMath, which the stages split up.
 */
class StagedUnaryKernelTest {
    private static final CpuElementwise K = new CpuElementwise();
    /** softplus's beta and threshold (torch's defaults); the other ops ignore them. */
    private static final float BETA = 1, THRESHOLD = 20;

    private static double reference(Unary op, boolean grad, double x) {
        return grad ? UnaryMath.derivative(op, x, BETA, THRESHOLD) : UnaryMath.apply(op, x, BETA, THRESHOLD);
    }

    private static FloatVector oneStage(Unary op, boolean grad, FloatVector x) {
        return switch (op) {
            case GELU -> grad ? UnaryMath.geluGrad(x, 0, 0) : UnaryMath.gelu(x, 0, 0);
            case GELU_TANH -> grad ? UnaryMath.geluTanhGrad(x, 0, 0) : UnaryMath.geluTanh(x, 0, 0);
            case TANH -> grad ? UnaryMath.tanhGrad(x, 0, 0) : UnaryMath.tanh(x, 0, 0);
            case SOFTPLUS -> grad ? UnaryMath.softplusGrad(x, BETA, THRESHOLD) : UnaryMath.softplus(x, BETA, THRESHOLD);
            case LOG -> grad ? UnaryMath.logGrad(x, 0, 0) : UnaryMath.log(x, 0, 0);
            default -> throw new IllegalArgumentException(op + " does not run in two stages");
        };
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 15, 16, 17, 511, 512, 513, 1000, 40_000, 70_001})
    void rowsMatchTheReferenceAndTheOneStageFormula(int n) {
        for (Unary op : new Unary[] {Unary.GELU, Unary.GELU_TANH, Unary.TANH, Unary.SOFTPLUS, Unary.LOG}) {
            for (boolean grad : new boolean[] {false, true}) check(op, grad, n);
        }
    }

    private static void check(Unary op, boolean grad, int n) {
        Generator gen = new Generator(n);
        // log on |x| + 1e-3: its domain, down to a thousandth
        try (Tensor x = op == Unary.LOG ? Elementwise.abs(Tensor.randn(gen, DType.F32, n)).mul(4.0).add(1e-3) : Tensor.randn(gen, DType.F32, n).mul(4.0);
             Tensor g = Tensor.randn(gen, DType.F32, n);
             Tensor out = Tensor.full(Double.NaN, DType.F32, Device.CPU, n)) {
            if (grad) K.unaryBackward(op, x, BETA, THRESHOLD, g, out);
            else K.unary(op, x, BETA, THRESHOLD, out);
            float[] xs = x.toFloats(), gs = g.toFloats(), ys = out.toFloats();
            String what = op + (grad ? "'" : "") + " n=" + n;
            for (int i = 0; i < n; i++) {
                double want = (grad ? gs[i] : 1) * reference(op, grad, xs[i]);
                assertEquals(want, ys[i], 2e-6 + 1e-6 * Math.abs(want), what + " at " + i + " x=" + xs[i]);
            }
            // One thread's range (up to ElementLoop.GRAIN), whose whole vectors start at 0: each lane
            // bit-identical to the one-stage formula.
            if (n > ElementLoop.GRAIN) return;
            for (int i = 0; i + Vec.L <= n; i += Vec.L) {
                float[] want = oneStage(op, grad, FloatVector.fromArray(Vec.S, xs, i)).toArray();
                for (int l = 0; l < Vec.L; l++) {
                    float w = grad ? gs[i + l] * want[l] : want[l];
                    assertTrue(Float.compare(w, ys[i + l]) == 0, what + " lane " + (i + l) + ": " + ys[i + l] + " vs " + w);
                }
            }
        }
    }
}
