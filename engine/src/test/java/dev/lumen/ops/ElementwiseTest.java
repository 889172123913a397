package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ElementwiseTest extends DeviceTest {
    private static final Golden G = Golden.load("elementwise");
    // One rounding per element (or a few, in float math functions): f32 results agree with PyTorch to ~1e-7 relative.
    private static final double TOL = 1e-6;

    private void golden(String name, int arity, Function<Tensor[], Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor[] in = new Tensor[arity];
            for (int i = 0; i < arity; i++) in[i] = G.input(name, i, device);
            G.check("elementwise", name, op.apply(in), in, TOL, TOL);
        }
    }

    private void binary(String name, java.util.function.BinaryOperator<Tensor> op) { golden(name, 2, x -> op.apply(x[0], x[1])); }

    private void unary(String name, Function<Tensor, Tensor> op) { golden(name, 1, x -> op.apply(x[0])); }

    @Test void addMatchesTorch() { binary("add", Elementwise::add); }
    @Test void subMatchesTorch() { binary("sub", Elementwise::sub); }
    @Test void mulMatchesTorch() { binary("mul", Elementwise::mul); }
    @Test void divMatchesTorch() { binary("div", Elementwise::div); }
    @Test void mulOfTransposedViewMatchesTorch() { binary("mul_t", (a, b) -> a.transpose(0, 1).mul(b)); }
    @Test void addBroadcastingRowsMatchesTorch() { binary("add_row", Elementwise::add); }
    @Test void powOfTensorsMatchesTorch() { binary("pow_tensor", Elementwise::pow); }
    @Test void maximumSplitsTiesLikeTorch() { binary("maximum", Elementwise::maximum); }
    @Test void minimumSplitsTiesLikeTorch() { binary("minimum", Elementwise::minimum); }

    @Test void affineMatchesTorch() { unary("affine", a -> Elementwise.affine(a, 2.5, -0.75)); }
    @Test void scalarArithmeticMatchesTorch() { unary("scalar_ops", a -> Elementwise.div(Elementwise.sub(Elementwise.mul(Elementwise.add(a, 1.5), 3), 2), 4)); }
    @Test void reverseSubMatchesTorch() { unary("rsub", a -> Elementwise.sub(2, a)); }
    @Test void expMatchesTorch() { unary("exp", Elementwise::exp); }
    @Test void expOfTransposedViewMatchesTorch() { unary("exp_t", a -> Elementwise.exp(a.transpose(0, 1))); }
    @Test void logMatchesTorch() { unary("log", Elementwise::log); }
    @Test void sqrtMatchesTorch() { unary("sqrt", Elementwise::sqrt); }
    @Test void rsqrtMatchesTorch() { unary("rsqrt", Elementwise::rsqrt); }
    @Test void absMatchesTorch() { unary("abs", Elementwise::abs); }
    @Test void squareMatchesTorch() { unary("square", Elementwise::square); }
    @Test void reciprocalMatchesTorch() { unary("reciprocal", Elementwise::reciprocal); }
    @Test void negMatchesTorch() { unary("neg", Elementwise::neg); }
    @Test void powOfScalarMatchesTorch() { unary("pow_scalar", a -> Elementwise.pow(a, 2.7)); }
    @Test void powSquareMatchesTorch() { unary("pow_square", a -> Elementwise.pow(a, 2)); }
    @Test void powCubeOfNegativesMatchesTorch() { unary("pow_cube", a -> Elementwise.pow(a, 3)); }
    @Test void clampMatchesTorchWithGradientOneOnTheBounds() { unary("clamp", a -> Elementwise.clamp(a, -0.5, 0.5)); }
    @Test void clampMinMatchesTorch() { unary("clamp_min", a -> Elementwise.clampMin(a, 0.25)); }
    @Test void clampMaxMatchesTorch() { unary("clamp_max", a -> Elementwise.clampMax(a, -0.5)); }
    @Test void whereMatchesTorch() { golden("where", 3, x -> Elementwise.where(x[0], x[1], x[2])); }
    @Test void maskedFillMatchesTorch() { golden("masked_fill", 2, x -> Elementwise.maskedFill(x[0], x[1], -3.5)); }

    @Test
    void comparisonsMatchTorchExactly() {
        String[] names = {"eq", "ne", "lt", "le", "gt", "ge"};
        java.util.List<java.util.function.BinaryOperator<Tensor>> tt = java.util.List.of(
                Elementwise::eq, Elementwise::ne, Elementwise::lt, Elementwise::le, Elementwise::gt, Elementwise::ge);
        java.util.List<java.util.function.BiFunction<Tensor, Double, Tensor>> ts = java.util.List.of(
                Elementwise::eq, Elementwise::ne, Elementwise::lt, Elementwise::le, Elementwise::gt, Elementwise::ge);
        try (Scope s = Scope.open()) {
            for (int k = 0; k < names.length; k++) {
                Tensor out = tt.get(k).apply(G.input(names[k], 0, device), G.input(names[k], 1, device));
                assertEquals(DType.BOOL, out.dtype());
                Golden.assertClose("elementwise", names[k], out, G.get(names[k] + ".out"), 0);
                Tensor outS = ts.get(k).apply(G.input(names[k] + "_scalar", 0, device), 0.0);
                Golden.assertClose("elementwise", names[k] + "_scalar", outS, G.get(names[k] + "_scalar.out"), 0);
            }
        }
    }

    @Test
    void comparisonsOfNaNFollowIeee() {
        try (Scope s = Scope.open()) {
            Tensor a = on(Tensor.fromFloats(new float[] {Float.NaN, 1}, 2)), b = on(Tensor.fromFloats(new float[] {Float.NaN, 1}, 2));
            assertArrayEquals(new double[] {0, 1}, Elementwise.eq(a, b).toDoubles());
            assertArrayEquals(new double[] {1, 0}, Elementwise.ne(a, b).toDoubles());
            assertArrayEquals(new double[] {0, 1}, Elementwise.ge(a, 1).toDoubles());
        }
    }

    @Test
    void integerComparisonsAreExactBeyondDoublePrecision() {
        try (Scope s = Scope.open()) {
            long big = (1L << 60) + 1;
            Tensor a = on(Tensor.fromLongs(new long[] {big, 3}, 2)), b = on(Tensor.fromLongs(new long[] {big - 1, 3}, 2));
            assertArrayEquals(new double[] {1, 0}, Elementwise.gt(a, b).toDoubles());
        }
    }

    @Test
    void integerDivisionIsTrueDivisionAsInTorch() {
        try (Scope s = Scope.open()) {
            Tensor a = on(Tensor.fromLongs(new long[] {7, -7}, 2)), b = on(Tensor.fromLongs(new long[] {2, 2}, 2));
            Tensor q = Elementwise.div(a, b);
            assertEquals(DType.F32, q.dtype());
            assertArrayEquals(new double[] {3.5, -3.5}, q.toDoubles());
        }
    }

    @Test
    void largeContiguousAndStridedF32AgreeWithF64() {
        // The dense path splits across threads and uses vector lanes; the strided path is scalar.
        try (Scope s = Scope.open()) {
            Generator g = new Generator(5);
            Tensor a = on(Tensor.randn(g, DType.F32, 301, 257)), b = on(Tensor.rand(g, DType.F32, 301, 257)).add(0.5);
            Tensor a64 = a.to(DType.F64), b64 = b.to(DType.F64);
            for (var op : java.util.List.<java.util.function.BinaryOperator<Tensor>>of(Elementwise::add, Elementwise::mul, Elementwise::div,
                    Elementwise::maximum, (x, y) -> Elementwise.pow(y, x))) {
                Golden.assertClose("elementwise", "dense_vs_f64", op.apply(a, b), op.apply(a64, b64).to(DType.F32), 1e-6);
                Tensor at = a.transpose(0, 1).contiguous().transpose(0, 1);
                Golden.assertClose("elementwise", "strided_vs_f64", op.apply(at, b), op.apply(a64, b64).to(DType.F32), 1e-6);
            }
            for (var op : java.util.List.<Function<Tensor, Tensor>>of(Elementwise::exp, Elementwise::sqrt, Elementwise::rsqrt,
                    Elementwise::reciprocal, Elementwise::abs, x -> Elementwise.pow(x, 1.7), x -> Elementwise.clamp(x, 0.7, 1.2))) {
                Golden.assertClose("elementwise", "unary_dense_vs_f64", op.apply(b), op.apply(b64).to(DType.F32), 1e-6);
            }
        }
    }

    @Test
    void inPlaceHelpersUpdateTheirTarget() {
        try (Scope s = Scope.open()) {
            Tensor d = on(Tensor.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
            Elementwise.addInPlace(d, on(Tensor.fromFloats(new float[] {1, 1, 2}, 3)), 0.5);
            assertArrayEquals(new float[] {1.5f, 2.5f, 4, 4.5f, 5.5f, 7}, d.toFloats());
            Elementwise.mulInPlace(d, 2);
            assertArrayEquals(new float[] {3, 5, 8, 9, 11, 14}, d.toFloats());
            Tensor w = on(Tensor.zeros(3)).requiresGrad(true);
            assertThrows(IllegalStateException.class, () -> Elementwise.mulInPlace(w, 2));
        }
    }

    @Test
    void badArgumentsNameTheOpAndShapes() {
        try (Scope s = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Elementwise.maskedFill(on(Tensor.zeros(2, 3)), on(Tensor.zeros(DType.BOOL, dev.lumen.tensor.Device.CPU, 4, 3)), 1));
            assertEquals(true, e.getMessage().contains("maskedFill") && e.getMessage().contains("[4, 3]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Elementwise.where(on(Tensor.zeros(3)), on(Tensor.zeros(3)), on(Tensor.zeros(3))));
        }
    }

    @Test
    void binaryOpsPassFiniteDifferences() {
        Generator g = new Generator(3);
        Tensor a = on(Tensor.randn(g, DType.F64, 3, 4)), b = on(Tensor.rand(g, DType.F64, 4)).add(0.5);
        GradCheck.check(device, "add", x -> x[0].add(x[1]), a, b);
        GradCheck.check(device, "sub", x -> x[0].sub(x[1]), a, b);
        GradCheck.check(device, "mul", x -> x[0].mul(x[1]), a, b);
        GradCheck.check(device, "div", x -> x[0].div(x[1]), a, b);
        GradCheck.check(device, "affine", x -> Elementwise.affine(x[0], -1.5, 2), a);
        GradCheck.check(device, "maximum", x -> Elementwise.maximum(x[0], x[1]), a, b);
        GradCheck.check(device, "minimum", x -> Elementwise.minimum(x[0], x[1]), a, b);
        Tensor base = on(Tensor.rand(g, DType.F64, 3, 4)).add(0.3);
        GradCheck.check(device, "pow", x -> Elementwise.pow(x[0], x[1]), base, on(Tensor.randn(g, DType.F64, 4)));
        Tensor cond = Elementwise.gt(on(Tensor.randn(g, DType.F64, 3, 1)), 0);
        GradCheck.check(device, "where", x -> Elementwise.where(cond, x[0], x[1]), a, b);
        Tensor mask = Elementwise.gt(on(Tensor.randn(g, DType.F64, 4)), 0);
        GradCheck.check(device, "masked_fill", x -> Elementwise.maskedFill(x[0], mask, 2), a);
        GradCheck.check(device, "rsub", x -> Elementwise.sub(2, x[0]), a);
    }

    @Test
    void unaryOpsPassFiniteDifferences() {
        Generator g = new Generator(4);
        Tensor pos = on(Tensor.rand(g, DType.F64, 3, 5)).add(0.2);
        Tensor any = on(Tensor.randn(g, DType.F64, 2, 7));
        GradCheck.check(device, "exp", x -> Elementwise.exp(x[0]), any);
        GradCheck.check(device, "log", x -> Elementwise.log(x[0]), pos);
        GradCheck.check(device, "sqrt", x -> Elementwise.sqrt(x[0]), pos);
        GradCheck.check(device, "rsqrt", x -> Elementwise.rsqrt(x[0]), pos);
        GradCheck.check(device, "abs", x -> Elementwise.abs(x[0]), any);
        GradCheck.check(device, "square", x -> Elementwise.square(x[0]), any);
        GradCheck.check(device, "reciprocal", x -> Elementwise.reciprocal(x[0]), pos);
        GradCheck.check(device, "pow", x -> Elementwise.pow(x[0], -1.3), pos);
        GradCheck.check(device, "pow3", x -> Elementwise.pow(x[0], 3), any);
        GradCheck.check(device, "clamp", x -> Elementwise.clamp(x[0], -0.3, 0.4), any);
        GradCheck.check(device, "clamp_min", x -> Elementwise.clampMin(x[0], 0.1), any);
        GradCheck.check(device, "exp of a transposed view", x -> Elementwise.exp(x[0].transpose(0, 1)), any);
    }
}
