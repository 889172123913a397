package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ReductionsTest extends DeviceTest {
    private static final Golden G = Golden.load("reductions");
    // Sums of up to ~3300 f32 terms accumulated in float blocks then double: ~1e-7 relative; var/std/logsumexp add a few roundings.
    private static final double TOL = 1e-5;

    private void golden(String name, Function<Tensor, Tensor> op) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            G.check("reductions", name, op.apply(x), new Tensor[] {x}, TOL, TOL);
        }
    }

    private static int[] d(int... dims) { return dims; }

    private static Tensor perm(Tensor t) { return t.permute(2, 1, 0); }

    @Test void sumOverOneDimMatchesTorch() { golden("sum_d1", x -> Reductions.sum(x, d(1), false)); }
    @Test void sumOverTwoDimsKeepdimMatchesTorch() { golden("sum_d02_keep", x -> Reductions.sum(x, d(0, 2), true)); }
    @Test void sumOfAllMatchesTorch() { golden("sum_all", Reductions::sum); }
    @Test void sumOverNegativeDimMatchesTorch() { golden("sum_neg", x -> Reductions.sum(x, d(-1), false)); }
    @Test void sumOverAlternatingDimsMatchesTorch() { golden("sum_d023", x -> Reductions.sum(x, d(0, 2, 3), false)); }
    @Test void sumOfLongRowsMatchesTorch() { golden("sum_wide", x -> Reductions.sum(x, d(-1), false)); }
    @Test void sumOverOuterDimMatchesTorch() { golden("sum_tall", x -> Reductions.sum(x, d(0), false)); }
    @Test void sumOfPermutedViewMatchesTorch() { golden("sum_perm", x -> Reductions.sum(perm(x), d(0, 2), false)); }
    @Test void meanMatchesTorch() { golden("mean_d13", x -> Reductions.mean(x, d(1, 3), false)); }
    @Test void meanOfAllMatchesTorch() { golden("mean_all", Reductions::mean); }
    @Test void meanOfLongRowsMatchesTorch() { golden("mean_wide_all", Reductions::mean); }
    @Test void unbiasedVarMatchesTorch() { golden("var_d1", x -> Reductions.var(x, d(1), 1, false)); }
    @Test void populationVarKeepdimMatchesTorch() { golden("var_d23_pop_keep", x -> Reductions.var(x, d(2, 3), 0, true)); }
    // Inputs near 100 carry f32 rounding of 7.6e-6 in x - mean, so the gradient agrees to ~7e-6: still inside 1e-5.
    @Test void varWithLargeMeanMatchesTorch() { golden("var_tall", x -> Reductions.var(x, d(0), 1, false)); }
    @Test void stdMatchesTorch() { golden("std_d0", x -> Reductions.std(x, d(0), 1, false)); }
    @Test void stdOfAllMatchesTorch() { golden("std_all", Reductions::std); }
    @Test void stdOfPermutedViewMatchesTorch() { golden("std_perm_keep", x -> Reductions.std(perm(x), d(1), 1, true)); }
    @Test void logsumexpMatchesTorch() { golden("logsumexp_d3", x -> Reductions.logsumexp(x, d(3), false)); }
    @Test void logsumexpKeepdimMatchesTorch() { golden("logsumexp_d02_keep", x -> Reductions.logsumexp(x, d(0, 2), true)); }
    @Test void logsumexpOfLargeLongRowsMatchesTorch() { golden("logsumexp_wide", x -> Reductions.logsumexp(x.mul(30), d(-1), false)); }
    @Test void logsumexpOverOuterDimMatchesTorch() { golden("logsumexp_tall", x -> Reductions.logsumexp(x.mul(30), d(0), false)); }
    @Test void amaxSplitsTiesLikeTorch() { golden("amax_d1", x -> Reductions.amax(x, d(1), false)); }
    @Test void aminKeepdimSplitsTiesLikeTorch() { golden("amin_d02_keep", x -> Reductions.amin(x, d(0, 2), true)); }
    @Test void amaxOfAllMatchesTorch() { golden("amax_all", x -> Reductions.amax(x, null, false)); }

    @Test
    void reductionsOverNoElementsGiveTheirIdentityAsTorch() {
        try (Scope s = Scope.open()) {
            Tensor empty = Tensor.zeros(DType.F32, device, 3, 0);
            assertArrayEquals(new float[] {0}, Reductions.sum(empty).toFloats());
            assertArrayEquals(new float[] {0, 0, 0}, Reductions.sum(empty, d(1), false).toFloats());
            assertTrue(Float.isNaN(Reductions.mean(empty).toFloats()[0]), "mean of nothing is nan");
            assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY},
                    Reductions.logsumexp(empty, d(1), false).toFloats());
            assertArrayEquals(new float[0], Reductions.sum(empty, d(0), false).toFloats());
            String msg = assertThrows(IllegalArgumentException.class, () -> Reductions.amax(empty, d(1), false)).getMessage();
            assertTrue(msg.contains("amax") && msg.contains("[3, 0]"), msg);
            assertThrows(IllegalArgumentException.class, () -> Reductions.amin(empty, null, false));
        }
    }

    private void selection(String name, Function<Tensor, Reductions.ValuesIndices> op) {
        try (Scope s = Scope.open()) {
            Tensor x = G.input(name, 0, device);
            Reductions.ValuesIndices r = op.apply(x);
            assertEquals(DType.I64, r.indices().dtype());
            assertArrayEquals(G.get(name + ".idx").shape(), r.indices().shape());
            assertArrayEquals(G.get(name + ".idx").toLongs(), r.indices().toLongs(), name + " indices");
            G.check("reductions", name, r.values(), new Tensor[] {x}, 0, 0);
        }
    }

    @Test void maxAlongDimMatchesTorch() { selection("max_d1", x -> Reductions.max(x, 1, false)); }
    @Test void maxAlongDimKeepdimMatchesTorch() { selection("max_d2_keep", x -> Reductions.max(x, 2, true)); }
    @Test void minAlongDimMatchesTorch() { selection("min_d0", x -> Reductions.min(x, 0, false)); }
    @Test void minAlongNegativeDimKeepdimMatchesTorch() { selection("min_neg_keep", x -> Reductions.min(x, -1, true)); }
    @Test void topkLargestAlongLastDimMatchesTorch() { selection("topk_last", x -> Reductions.topk(x, 3, -1, true, true)); }
    @Test void topkSmallestAlongMiddleDimMatchesTorch() { selection("topk_d1_small", x -> Reductions.topk(x, 4, 1, false, true)); }
    @Test void topkAlongFirstDimMatchesTorch() { selection("topk_d0", x -> Reductions.topk(x, 2, 0, true, true)); }

    @Test
    void argmaxAndArgminMatchTorch() {
        try (Scope s = Scope.open()) {
            Tensor x = G.get("in").to(device);
            assertArrayEquals(G.get("argmax_d1.out").toLongs(), Reductions.argmax(x, 1, false).toLongs());
            Tensor amin = Reductions.argmin(x, 2, true);
            assertArrayEquals(G.get("argmin_d2_keep.out").shape(), amin.shape());
            assertArrayEquals(G.get("argmin_d2_keep.out").toLongs(), amin.toLongs());
            Tensor all = Reductions.argmax(x.transpose(0, 2).contiguous().transpose(0, 2));
            assertEquals(0, all.dim());
            assertEquals(G.get("argmax_all.out").toLongs()[0], all.toLongs()[0]);
        }
    }

    @Test
    void maxTakesTheFirstOfTiesAndPropagatesNaN() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.fromFloats(new float[] {1, 3, 3, 2, 2, 1, 0, Float.NaN, 5}, 3, 3));
            Reductions.ValuesIndices r = Reductions.max(x, 1, false);
            assertArrayEquals(new long[] {1, 0, 1}, r.indices().toLongs());
            assertTrue(Double.isNaN(r.values().toDoubles()[2]));
            assertTrue(Double.isNaN(Reductions.amax(x, null, false).item()), "amax propagates NaN");
            Tensor wide = on(Tensor.zeros(3, 100));
            wide.backend().fill(wide.narrow(1, 57, 1), Double.NaN);
            assertTrue(Double.isNaN(Reductions.amax(wide, null, false).item()), "vector amax propagates NaN");
            assertTrue(Double.isNaN(Reductions.amin(wide, d(1), false).toDoubles()[1]), "vector amin propagates NaN");
        }
    }

    @Test
    void integerSumsAreI64AndExact() {
        try (Scope s = Scope.open()) {
            Tensor b = Elementwise.gt(on(Tensor.fromFloats(new float[] {1, -1, 2, 3}, 4)), 0);
            Tensor n = Reductions.sum(b);
            assertEquals(DType.I64, n.dtype());
            assertEquals(3, n.toLongs()[0]);
        }
    }

    @Test
    void largeReductionsAgreeWithF64() {
        // Exercise the threaded paths: few outputs with many elements each, and many outputs.
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.randn(new Generator(12), DType.F32, 6, 130, 257));
            Tensor x64 = x.to(DType.F64);
            int[][] dimsList = {null, {0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1}};
            for (int[] dims : dimsList) {
                Golden.assertClose("reductions", "sum_vs_f64", Reductions.sum(x, dims, false), Reductions.sum(x64, dims, false).to(DType.F32), 1e-6);
                Golden.assertClose("reductions", "var_vs_f64", Reductions.var(x, dims, 1, false), Reductions.var(x64, dims, 1, false).to(DType.F32), 1e-6);
                Golden.assertClose("reductions", "lse_vs_f64", Reductions.logsumexp(x, dims, false), Reductions.logsumexp(x64, dims, false).to(DType.F32), 1e-6);
                Golden.assertClose("reductions", "amin_vs_f64", Reductions.amin(x, dims, false), Reductions.amin(x64, dims, false).to(DType.F32), 0);
            }
        }
    }

    @Test
    void badArgumentsNameTheOp() {
        try (Scope s = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reductions.topk(on(Tensor.zeros(2, 3)), 4, 1, true, true));
            assertTrue(e.getMessage().contains("topk") && e.getMessage().contains("[2, 3]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Reductions.mean(on(Tensor.arange(4))));
            assertThrows(IndexOutOfBoundsException.class, () -> Reductions.sum(on(Tensor.zeros(2, 3)), d(2), false));
        }
    }

    @Test
    void reductionsPassFiniteDifferences() {
        Generator g = new Generator(21);
        Tensor x = on(Tensor.randn(g, DType.F64, 3, 4, 5));
        GradCheck.check(device, "sum", t -> Reductions.sum(t[0], d(0, 2), false), x);
        GradCheck.check(device, "mean", t -> Reductions.mean(t[0], d(-1), true), x);
        GradCheck.check(device, "var", t -> Reductions.var(t[0], d(1), 1, false), x);
        GradCheck.check(device, "var population", t -> Reductions.var(t[0], d(0, 2), 0, true), x);
        GradCheck.check(device, "std", t -> Reductions.std(t[0], d(2), 1, false), x);
        GradCheck.check(device, "std all", t -> Reductions.std(t[0]), x);
        GradCheck.check(device, "logsumexp", t -> Reductions.logsumexp(t[0], d(0, 1), false), x);
        GradCheck.check(device, "amax", t -> Reductions.amax(t[0], d(1), false), x);
        GradCheck.check(device, "amin", t -> Reductions.amin(t[0], d(0, 2), true), x);
        GradCheck.check(device, "max along dim", t -> Reductions.max(t[0], 2, false).values(), x);
        GradCheck.check(device, "min along dim", t -> Reductions.min(t[0], 0, true).values(), x);
        GradCheck.check(device, "topk", t -> Reductions.topk(t[0], 2, 1, true, true).values(), x);
        GradCheck.check(device, "sum of a transposed view", t -> Reductions.sum(t[0].transpose(0, 2), d(1), false), x);
    }
}
