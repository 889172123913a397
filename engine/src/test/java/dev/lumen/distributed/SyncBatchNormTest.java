package dev.lumen.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** SyncBatchNorm over in-JVM ranks against BatchNorm2d on the global batch. */
class SyncBatchNormTest {
    // The global statistics combine per-rank ones (another summation order than one pass over the
    // global batch) and the input gradient adds a correction term: fp32 rounding, ~1e-6 relative.
    private static final double TOL = 1e-5;
    private static final int C = 4;

    /** What one rank (or the reference) saw: output, gradients, running stats after training forward, eval output. */
    record Seen(float[] out, float[] gx, float[] gw, float[] gb, float[] rm, float[] rv, long batches, float[] evalOut, List<String> events) {}

    /**
     * Ranks hold unequal shards (so the per-rank counts weigh in) of an input whose mean is far
     * from zero (where sums of squares would cancel); loss = sum(out * r) for a fixed random r.
     */
    @ParameterizedTest(name = "shards {0}, affine {1}, track {2}")
    @CsvSource({"'3,2,1', true, true", "'2,2', true, true", "'4,1,2,1', false, false"})
    void matchesBatchNormOnTheGlobalBatch(String shardList, boolean affine, boolean track) {
        int[] shards = java.util.Arrays.stream(shardList.split(",")).mapToInt(Integer::parseInt).toArray();
        int total = java.util.Arrays.stream(shards).sum();
        Generator gen = new Generator(11);
        Tensor x = Tensor.randn(gen, DType.F32, total, C, 3, 5).mul(2).add(3);
        Tensor r = Tensor.randn(gen, DType.F32, total, C, 3, 5);
        Tensor w = Tensor.randn(gen, DType.F32, C), b = Tensor.randn(gen, DType.F32, C);
        Seen ref = run(null, x, r, w, b, affine, track);
        List<Seen> ranks = InJvmCommunicator.run(shards.length, comm -> {
            int start = 0;
            for (int i = 0; i < comm.rank(); i++) start += shards[i];
            return run(comm, x.narrow(0, start, shards[comm.rank()]).contiguous(), r.narrow(0, start, shards[comm.rank()]).contiguous(), w, b, affine, track);
        });
        int start = 0;
        float[] gwSum = new float[C], gbSum = new float[C];
        for (int k = 0; k < shards.length; k++) {
            Seen s = ranks.get(k);
            int from = start * C * 15, to = (start + shards[k]) * C * 15;
            assertClose("output of rank " + k, java.util.Arrays.copyOfRange(ref.out, from, to), s.out);
            assertClose("input gradient of rank " + k, java.util.Arrays.copyOfRange(ref.gx, from, to), s.gx);
            if (affine) {
                for (int c = 0; c < C; c++) {
                    gwSum[c] += s.gw[c];
                    gbSum[c] += s.gb[c];
                }
            } else {
                assertNull(s.gw);
            }
            if (track) {
                assertClose("running mean of rank " + k, ref.rm, s.rm);
                assertClose("running var of rank " + k, ref.rv, s.rv);
                assertEquals(1, s.batches);
                // Every rank combines the same gathered bits in the same order.
                assertTrue(java.util.Arrays.equals(ranks.get(0).rm, s.rm) && java.util.Arrays.equals(ranks.get(0).rv, s.rv));
                assertClose("eval output of rank " + k, java.util.Arrays.copyOfRange(ref.evalOut, from, to), s.evalOut);
                // Eval is plain BatchNorm: nothing issued after the training backward.
                assertEquals(List.of("allGather F32 x" + (2 * C + 1), "join", "allReduce SUM F32 x" + (2 * C), "join"), s.events);
            }
            start += shards[k];
        }
        // Each rank's weight and bias gradients are its own shard's sums (DDP averages them); together the global ones.
        if (affine) {
            assertClose("weight gradient summed over ranks", ref.gw, gwSum);
            assertClose("bias gradient summed over ranks", ref.gb, gbSum);
        }
    }

    private static Seen run(InJvmCommunicator comm, Tensor x, Tensor r, Tensor w, Tensor b, boolean affine, boolean track) {
        try (Scope s = Scope.open()) {
            Sequential model = new Sequential(new BatchNorm2d(C, 1e-5, 0.2, affine, track));
            BatchNorm2d bn = (BatchNorm2d) model.get(0);
            if (affine) {
                bn.weight().backend().copy(w, bn.weight());
                bn.bias().backend().copy(b, bn.bias());
            }
            if (comm != null) assertEquals(1, SyncBatchNorm.convert(model, comm));
            Tensor in = x.detach().requiresGrad(true);
            Tensor out = model.forward(in);
            out.mul(r).sum().backward();
            float[] evalOut = null;
            if (track) {
                model.eval();
                evalOut = model.forward(x).toFloats();
            }
            return new Seen(out.toFloats(), in.grad().toFloats(), affine ? bn.weight().grad().toFloats() : null,
                    affine ? bn.bias().grad().toFloats() : null, track ? bn.runningMean().toFloats() : null,
                    track ? bn.runningVar().toFloats() : null, track ? model.namedBuffers().get("0.num_batches_tracked").toLongs()[0] : 0,
                    evalOut, comm == null ? null : List.copyOf(comm.events()));
        }
    }

    @Test
    void convertKeepsTheLayersTheirNamesAndState() {
        InJvmCommunicator.run(1, comm -> {
            BatchNorm2d bn1 = new BatchNorm2d(3, 1e-3, 0.3, false, false);
            Sequential model = new Sequential(bn1, new Conv2d(3, 4, 1), new Sequential(new BatchNorm2d(4)));
            model.freeze("2.0.bias");
            Map<String, Tensor> before = model.stateDict();
            Tensor weight = model.namedParameters().get("2.0.weight");
            assertEquals(2, SyncBatchNorm.convert(model, comm));
            assertSame(bn1, model.get(0));
            assertSame(comm, SyncBatchNorm.of(bn1));
            assertSame(weight, model.namedParameters().get("2.0.weight"));
            assertEquals(before.keySet(), model.stateDict().keySet());
            assertEquals(1e-3, bn1.eps());
            assertEquals(0.3, bn1.momentum());
            assertNull(bn1.weight());
            assertNull(bn1.runningMean());
            assertTrue(!model.namedParameters().get("2.0.bias").requiresGrad());
            assertNull(SyncBatchNorm.of(new BatchNorm2d(2)));
            return null;
        });
    }

    @Test
    void oneRankIsPlainBatchNormBitForBit() {
        Generator gen = new Generator(3);
        Tensor x = Tensor.randn(gen, DType.F32, 4, C, 3, 3), r = Tensor.randn(gen, DType.F32, 4, C, 3, 3);
        Tensor w = Tensor.randn(gen, DType.F32, C), b = Tensor.randn(gen, DType.F32, C);
        Seen ref = run(null, x, r, w, b, true, true);
        Seen one = InJvmCommunicator.run(1, comm -> run(comm, x, r, w, b, true, true)).get(0);
        assertTrue(java.util.Arrays.equals(ref.out, one.out) && java.util.Arrays.equals(ref.gx, one.gx) && java.util.Arrays.equals(ref.rv, one.rv));
        assertEquals(List.of(), one.events);
    }

    /** A 16-bit input normalizes in F32 and rounds back, as BatchNorm2d does: equal within half-precision rounding. */
    @Test
    void halfPrecisionInputMatchesBatchNorm() {
        Generator gen = new Generator(5);
        Tensor x = Tensor.randn(gen, DType.F32, 4, C, 3, 3).to(DType.F16), r = Tensor.randn(gen, DType.F32, 4, C, 3, 3).to(DType.F16);
        Tensor w = Tensor.randn(gen, DType.F32, C), b = Tensor.randn(gen, DType.F32, C);
        Seen ref = run(null, x, r, w, b, true, true);
        List<Seen> ranks = InJvmCommunicator.run(2, comm -> run(comm, x.narrow(0, 2 * comm.rank(), 2).contiguous(),
                r.narrow(0, 2 * comm.rank(), 2).contiguous(), w, b, true, true));
        int half = 2 * C * 9;
        for (int k = 0; k < 2; k++) {
            // One F16 rounding of values of order 1: 2^-11 relative.
            assertClose(java.util.Arrays.copyOfRange(ref.out, k * half, (k + 1) * half), ranks.get(k).out, 1e-3, "F16 output of rank " + k);
            assertClose(java.util.Arrays.copyOfRange(ref.gx, k * half, (k + 1) * half), ranks.get(k).gx, 1e-3, "F16 input gradient of rank " + k);
        }
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            num += (actual[i] - expected[i]) * (double) (actual[i] - expected[i]);
            den += (double) expected[i] * expected[i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        assertClose(expected, actual, TOL, what);
    }
}
