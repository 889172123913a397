package dev.lumen.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import dev.lumen.testing.GradCheck;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class IndexingTest extends DeviceTest {
    private static final Golden G = Golden.load("indexing");
    // Gathers copy exactly; scatter sums of a few terms may round differently from PyTorch's order: ~1e-7.
    private static final double TOL = 1e-6;

    /** Checks a golden case on contiguous inputs and with x (input 0) in a non-contiguous layout. */
    private void golden(String name, int inputs, Function<Tensor[], Tensor> fn) {
        for (boolean strided : new boolean[] {false, true}) {
            try (Scope s = Scope.open()) {
                Tensor[] in = new Tensor[inputs], used = new Tensor[inputs];
                for (int i = 0; i < inputs; i++) in[i] = used[i] = G.input(name, i, device);
                if (!strided) {
                    G.check("indexing", name, fn.apply(used), in, TOL, TOL);
                    continue;
                }
                used[0] = ShapingTest.nonContiguous(in[0]);
                Tensor out = fn.apply(used);
                Golden.assertClose("indexing", name + ".out[strided]", out, G.get(name + ".out"), TOL);
                out.backward(G.get(name + ".gout").to(device));
                for (int i = 0; i < inputs; i++) {
                    if (!G.has(name + ".grad" + i)) continue;
                    Golden.assertClose("indexing", name + ".grad" + i + "[strided]", in[i].grad(), G.get(name + ".grad" + i), TOL);
                }
            }
        }
    }

    @Test void indexSelectDim0MatchesTorch() { golden("select0", 2, v -> Indexing.indexSelect(v[0], 0, v[1])); }
    @Test void indexSelectLastDimWithI32MatchesTorch() { golden("select_last", 2, v -> Indexing.indexSelect(v[0], -1, v[1])); }
    @Test void indexSelectMiddleDimMatchesTorch() { golden("select_mid", 2, v -> Indexing.indexSelect(v[0], 1, v[1])); }
    @Test void gatherMatchesTorch() { golden("gather1", 2, v -> Indexing.gather(v[0], 1, v[1])); }
    @Test void gatherWithSmallerIndexMatchesTorch() { golden("gather0", 2, v -> Indexing.gather(v[0], 0, v[1])); }
    @Test void gatherNegativeDimMatchesTorch() { golden("gather_last", 2, v -> Indexing.gather(v[0], -1, v[1])); }
    @Test void scatterAddMatchesTorch() { golden("scatter0", 3, v -> Indexing.scatterAdd(v[0], 0, v[1], v[2])); }
    @Test void scatterAddNegativeDimMatchesTorch() { golden("scatter_last", 3, v -> Indexing.scatterAdd(v[0], -1, v[1], v[2])); }
    @Test void scatterAddSmallIndexMatchesTorch() { golden("scatter_small", 3, v -> Indexing.scatterAdd(v[0], 1, v[1], v[2])); }

    @Test
    void passesFiniteDifferences() {
        Generator g = new Generator(41);
        Tensor x = on(Tensor.randn(g, DType.F64, 3, 4, 2));
        Tensor sel = on(Tensor.fromLongs(new long[] {3, 1, 1, 0, 2}, 5));
        GradCheck.check(device, "index_select", v -> Indexing.indexSelect(v[0], 1, sel), x);
        Tensor gi = on(Tensor.fromLongs(new long[] {0, 2, 2, 1, 1, 0, 2, 2, 0, 1, 1, 1}, 2, 3, 2));
        GradCheck.check(device, "gather", v -> Indexing.gather(v[0], 0, gi), x);
        Tensor src = on(Tensor.randn(g, DType.F64, 2, 4, 2));
        GradCheck.check(device, "scatter_add", v -> Indexing.scatterAdd(v[0], 0, gi, v[1]), x, src);
    }

    @Test
    void srcBeyondTheIndexGetsZeroGradient() {
        try (Scope s = Scope.open()) {
            Tensor x = on(Tensor.zeros(2, 3));
            Tensor src = on(Tensor.ones(2, 4)).requiresGrad(true);
            Tensor idx = on(Tensor.fromLongs(new long[] {2, 0}, 2, 1));
            Tensor out = Indexing.scatterAdd(x, 1, idx, src);
            assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0}, out.toFloats(), 0f);
            out.backward(on(Tensor.fromFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)));
            assertArrayEquals(new float[] {3, 0, 0, 0, 4, 0, 0, 0}, src.grad().toFloats(), 0f);
        }
    }

    @Test
    void parallelScattersMatchASerialSum() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(42);
            int rows = 3, k = 64, cols = 2048;
            Tensor src = on(Tensor.randn(g, DType.F32, k, cols));
            long[] iv = new long[k * cols];
            for (int i = 0; i < iv.length; i++) iv[i] = g.nextInt(rows);
            Tensor idx = on(Tensor.fromLongs(iv, k, cols));
            float[] out = Indexing.scatterAdd(on(Tensor.zeros(rows, cols)), 0, idx, src).toFloats();
            float[] sv = src.toFloats();
            double[] ref = new double[rows * cols];
            for (int i = 0; i < iv.length; i++) ref[(int) iv[i] * cols + i % cols] += sv[i];
            for (int i = 0; i < ref.length; i++) if (Math.abs(ref[i] - out[i]) > 1e-3) assertEquals(ref[i], out[i], 1e-3, "scatter_add element " + i);

            // index_select's gradient is index_add: many repeats of few rows, split across threads by column.
            Tensor table = on(Tensor.randn(g, DType.F32, 7, 1100)).requiresGrad(true);
            long[] rowsIdx = new long[200];
            for (int i = 0; i < rowsIdx.length; i++) rowsIdx[i] = g.nextInt(7);
            Tensor picked = Indexing.indexSelect(table, 0, on(Tensor.fromLongs(rowsIdx, 200)));
            picked.sum().backward();
            float[] grad = table.grad().toFloats();
            int[] counts = new int[7];
            for (long r : rowsIdx) counts[(int) r]++;
            for (int i = 0; i < grad.length; i++) if (counts[i / 1100] != grad[i]) assertEquals(counts[i / 1100], grad[i], 0f, "index_add element " + i);
        }
    }

    @Test
    void outOfRangeIndicesNameTheOpTheIndexAndTheSize() {
        Tensor x = on(Tensor.zeros(3, 4));
        // A device checks indices in its kernels and reports at the next host read (toDoubles), the CPU at once.
        String m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.indexSelect(x, 1, on(Tensor.fromLongs(new long[] {0, 4}, 2))).toDoubles()).getMessage();
        assertTrue(m.contains("indexSelect") && m.contains("index 4") && m.contains("size 4"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.gather(x, 0, on(Tensor.fromLongs(new long[] {-1}, 1, 1))).toDoubles()).getMessage();
        assertTrue(m.contains("gather") && m.contains("index -1") && m.contains("size 3"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.scatterAdd(x, 1, on(Tensor.fromLongs(new long[] {9}, 1, 1)), on(Tensor.ones(1, 1))).toDoubles()).getMessage();
        assertTrue(m.contains("scatterAdd") && m.contains("index 9") && m.contains("size 4"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.gather(x, 0, on(Tensor.zeros(DType.I64, Device.CPU, 2, 5)))).getMessage();
        assertTrue(m.contains("gather") && m.contains("[2, 5]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Indexing.indexSelect(x, 0, on(Tensor.zeros(2)))).getMessage();
        assertTrue(m.contains("indexSelect") && m.contains("F32"), m);
    }
}
