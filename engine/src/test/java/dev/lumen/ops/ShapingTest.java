package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ShapingTest extends DeviceTest {
    private static final Golden G = Golden.load("shaping");
    // Pure data movement: results are bit-exact.
    private static final double TOL = 0;

    /** The same values as x in a non-contiguous layout (dims 0 and 1 swapped in memory); differentiable. */
    static Tensor nonContiguous(Tensor x) {
        Tensor t = x.transpose(0, 1).contiguous().transpose(0, 1);
        assertFalse(t.isContiguous());
        return t;
    }

    /** Checks a golden case twice: on contiguous inputs and on non-contiguous copies of them. */
    private void golden(String name, int inputs, Function<Tensor[], Tensor> fn) {
        for (boolean strided : new boolean[] {false, true}) {
            try (Scope s = Scope.open()) {
                Tensor[] in = new Tensor[inputs], used = new Tensor[inputs];
                for (int i = 0; i < inputs; i++) {
                    in[i] = G.input(name, i, device);
                    used[i] = strided ? nonContiguous(in[i]) : in[i];
                }
                if (!strided) {
                    G.check("shaping", name, fn.apply(used), in, TOL, TOL);
                    continue;
                }
                // Golden.check keys the file by case name, so the strided run compares by hand.
                Tensor out = fn.apply(used);
                Golden.assertClose("shaping", name + ".out[strided]", out, G.get(name + ".out"), TOL);
                out.backward(G.get(name + ".gout").to(device));
                for (int i = 0; i < inputs; i++) {
                    Golden.assertClose("shaping", name + ".grad" + i + "[strided]", in[i].grad(), G.get(name + ".grad" + i), TOL);
                }
            }
        }
    }

    @Test void catNegativeDimMatchesTorch() { golden("cat", 3, v -> Shaping.cat(List.of(v), -2)); }
    @Test void catDim0MatchesTorch() { golden("cat0", 2, v -> Shaping.cat(List.of(v), 0)); }
    @Test void stackLastMatchesTorch() { golden("stack", 3, v -> Shaping.stack(List.of(v), -1)); }
    @Test void stackFirstMatchesTorch() { golden("stack0", 2, v -> Shaping.stack(List.of(v), 0)); }

    @Test
    void splitBySizeMatchesTorch() {
        for (int k = 0; k < 3; k++) {
            int part = k;
            golden("split" + k, 1, v -> Shaping.split(v[0], 3, 0).get(part));
        }
    }

    @Test
    void splitBySizesMatchesTorch() {
        for (int k = 0; k < 3; k++) {
            int part = k;
            golden("splits" + k, 1, v -> Shaping.split(v[0], new int[] {2, 4, 1}, -1).get(part));
        }
    }

    @Test
    void chunkSizesMatchTorch() {
        int[][] cases = {{10, 4}, {6, 4}, {5, 5}};
        for (int[] c : cases) {
            List<Tensor> parts = Shaping.chunk(on(Tensor.zeros(2, c[0])), c[1], -1);
            long[] want = G.get("chunk.sizes_" + c[0] + "_" + c[1]).toLongs();
            long[] got = parts.stream().mapToLong(t -> t.shape(1)).toArray();
            assertArrayEquals(want, got, "chunk(" + c[0] + ", " + c[1] + ")");
        }
    }

    @Test void padMatchesTorch() { golden("pad", 1, v -> Shaping.pad(v[0], new int[] {1, 2, 0, 3}, 0.5)); }
    @Test void negativePadCropsAsTorch() { golden("pad_crop", 1, v -> Shaping.pad(v[0], new int[] {-1, 2, 1, -2}, 0)); }
    @Test void padThreeDimsMatchesTorch() { golden("pad3", 1, v -> Shaping.pad(v[0], new int[] {1, 1, 2, 0, 1, 1}, -1)); }
    @Test void flipMatchesTorch() { golden("flip", 1, v -> Shaping.flip(v[0], 0, 2)); }
    @Test void flipNegativeDimMatchesTorch() { golden("flip_last", 1, v -> Shaping.flip(v[0], -1)); }
    @Test void rollMatchesTorch() { golden("roll", 1, v -> Shaping.roll(v[0], new int[] {1, -2}, new int[] {0, 1})); }
    @Test void rollFlattenedMatchesTorch() { golden("roll_flat", 1, v -> Shaping.roll(v[0], new int[] {3}, null)); }
    @Test void rollBeyondSizeMatchesTorch() { golden("roll_big", 1, v -> Shaping.roll(v[0], new int[] {7}, new int[] {-2})); }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(31);
        Tensor a = on(Tensor.randn(g, DType.F64, 2, 3, 3)), b = on(Tensor.randn(g, DType.F64, 2, 2, 3));
        GradCheck.check(device, "cat", v -> Shaping.cat(List.of(v[0], v[1]), 1), a, b);
        GradCheck.check(device, "stack", v -> Shaping.stack(List.of(v[0], v[1].narrow(1, 0, 2).add(0)), 1), a.narrow(1, 0, 2), b);
        GradCheck.check(device, "split", v -> Shaping.split(v[0], 2, 1).get(1).mul(Shaping.split(v[0], 2, 1).get(0).narrow(1, 0, 1)), a);
        GradCheck.check(device, "chunk", v -> Shaping.chunk(v[0], 2, -1).get(1), a);
        GradCheck.check(device, "pad", v -> Shaping.pad(v[0], new int[] {2, -1, -1, 1}, 3), a);
        GradCheck.check(device, "flip", v -> Shaping.flip(v[0], 1, -1).mul(v[0]), a);
        GradCheck.check(device, "roll", v -> Shaping.roll(v[0], new int[] {-4, 1}, new int[] {2, 0}).mul(v[0]), a);
    }

    @Test
    void catPromotesDtypesAndReturnsGradientsInEachDtype() {
        try (Scope s = Scope.open()) {
            Tensor a = on(Tensor.fromFloats(new float[] {1, 2}, 1, 2)).requiresGrad(true);
            Tensor b = on(Tensor.fromDoubles(new double[] {3, 4}, DType.F64, 1, 2)).requiresGrad(true);
            Tensor c = Shaping.cat(List.of(a, b), 0);
            assertEquals(DType.F64, c.dtype());
            assertArrayEquals(new double[] {1, 2, 3, 4}, c.toDoubles());
            c.sum().backward();
            assertEquals(DType.F32, a.grad().dtype());
            assertEquals(DType.F64, b.grad().dtype());
        }
    }

    @Test
    void catSkipsLegacyEmptyVectors() {
        Tensor c = Shaping.cat(List.of(on(Tensor.ones(2, 3)), on(Tensor.zeros(0)), on(Tensor.ones(1, 3))), 0);
        assertArrayEquals(new int[] {3, 3}, c.shape());
    }

    @Test
    void padOfEverythingCroppedIsAllValue() {
        Tensor p = Shaping.pad(on(Tensor.ones(2, 3)), new int[] {-3, 2}, 7);
        assertArrayEquals(new int[] {2, 2}, p.shape());
        assertArrayEquals(new float[] {7, 7, 7, 7}, p.toFloats(), 0f);
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor x = on(Tensor.ones(2, 3));
        String m = assertThrows(IllegalArgumentException.class, () -> Shaping.cat(List.of(x, on(Tensor.ones(2, 4))), 0)).getMessage();
        assertTrue(m.contains("cat") && m.contains("[2, 4]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.stack(List.of(x, on(Tensor.ones(3, 2))), 0)).getMessage();
        assertTrue(m.contains("stack") && m.contains("[3, 2]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.split(x, new int[] {1, 1}, 1)).getMessage();
        assertTrue(m.contains("split") && m.contains("add up to 2"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.pad(x, new int[] {1, 2, 3}, 0)).getMessage();
        assertTrue(m.contains("pad"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.pad(x, new int[] {-2, -2}, 0)).getMessage();
        assertTrue(m.contains("pad") && m.contains("negative size"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.flip(x, 1, -1)).getMessage();
        assertTrue(m.contains("flip") && m.contains("more than once"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Shaping.roll(x, new int[] {1, 2}, new int[] {0})).getMessage();
        assertTrue(m.contains("roll"), m);
        assertThrows(IllegalArgumentException.class, () -> Shaping.chunk(x, 0, 0));
    }
}
