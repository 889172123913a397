package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * oneDNN's SGEMM inside Lumen's parallel regions, where every pool thread calls dnnl_sgemm on
 * its own (one OpenMP thread each, no lock) while another thread runs a multi-threaded call
 * outside any region, as data-parallel replicas on the CPU do. Each product is checked against
 * a double reference, with C poisoned first where beta is 0, and must come out with the same
 * bits as the same single-threaded call made alone. (A call outside a region may split k over
 * its OpenMP threads, so its bits differ from the single-threaded ones.)
 */
class OneDnnGemmConcurrencyTest {
    private record Problem(boolean ta, boolean tb, int m, int n, int k, float alpha, float beta, int lda, int ldb, int ldc,
                           MemorySegment a, MemorySegment b, MemorySegment c0, MemorySegment c) {
        String describe() {
            return m + "x" + n + "x" + k + (ta ? " A^T" : "") + (tb ? " B^T" : "") + " alpha " + alpha + " beta " + beta + " ld " + lda + "/" + ldb + "/" + ldc;
        }

        void reset() { MemorySegment.copy(c0, 0, c, 0, c0.byteSize()); }

        void run(Gemm g) { g.sgemm(ta, tb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc); }

        void runOnCaller() throws Throwable { OneDnn.instance().sgemmOnCaller(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); }

        float at(MemorySegment s, int ld, boolean t, int row, int col) {
            return s.getAtIndex(ValueLayout.JAVA_FLOAT, t ? (long) col * ld + row : (long) row * ld + col);
        }

        /** The largest error against alpha op(A) op(B) + beta C0 in double, relative to sum |terms| (or 1). */
        double error() {
            double worst = 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < k; p++) {
                        double v = (double) at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                        sum += v;
                        mag += Math.abs(v);
                    }
                    double c0v = beta == 0 ? 0 : c0.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * ldc + j);
                    double want = alpha * sum + beta * c0v;
                    double got = c.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * ldc + j);
                    worst = Math.max(worst, Math.abs(got - want) / Math.max(1, Math.abs(alpha) * mag + Math.abs(beta * c0v)));
                }
            }
            return worst;
        }
    }

    private static MemorySegment random(Arena arena, SplittableRandom r, long count) {
        MemorySegment s = arena.allocate(count * 4, 64);
        for (long i = 0; i < count; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (r.nextDouble() * 2 - 1));
        return s;
    }

    private static Problem problem(Arena arena, SplittableRandom r) {
        boolean ta = r.nextBoolean(), tb = r.nextBoolean();
        int m = 1 + r.nextInt(200), n = 1 + r.nextInt(200), k = 1 + r.nextInt(200);
        int lda = (ta ? m : k) + r.nextInt(3), ldb = (tb ? k : n) + r.nextInt(3), ldc = n + r.nextInt(3);
        float beta = r.nextBoolean() ? 0f : 1f;
        MemorySegment a = random(arena, r, (long) (ta ? k : m) * lda), b = random(arena, r, (long) (tb ? n : k) * ldb);
        MemorySegment c0 = random(arena, r, (long) m * ldc);
        // Where beta is 0, C's old contents must not reach the result: NaN would show through.
        if (beta == 0) c0.fill((byte) 0xff);
        return new Problem(ta, tb, m, n, k, 0.5f + (float) r.nextDouble(), beta, lda, ldb, ldc, a, b, c0, arena.allocate(c0.byteSize(), 64));
    }

    @Test
    void callsInsideARegionRunSideBySideWithAMultiThreadedOne() throws Throwable {
        Gemm g = Gemm.oneDnn();
        assumeTrue(g != null, "oneDNN is not installed");
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom r = new SplittableRandom(7);
            List<Problem> problems = new ArrayList<>();
            for (int i = 0; i < 48; i++) problems.add(problem(arena, r));
            // Alone, one at a time, on one thread: the bits every run in the region must give.
            List<float[]> alone = new ArrayList<>();
            for (Problem p : problems) {
                p.reset();
                p.runOnCaller();
                assertTrue(p.error() < 1e-5, "alone " + p.describe() + ": " + p.error());
                alone.add(p.c().toArray(ValueLayout.JAVA_FLOAT));
            }
            // Large enough that OneDnnGemm gives it every OpenMP thread while the region runs.
            Problem large = new Problem(false, true, 384, 384, 384, 1f, 0f, 384, 384, 384, random(arena, r, 384 * 384),
                    random(arena, r, 384 * 384), arena.allocate(384L * 384 * 4, 64), arena.allocate(384L * 384 * 4, 64));
            large.run(g);
            float[] largeAlone = large.c().toArray(ValueLayout.JAVA_FLOAT);
            AtomicInteger outside = new AtomicInteger();
            Thread other = new Thread(() -> {
                for (int i = 0; i < 20; i++) {
                    large.run(g);
                    outside.incrementAndGet();
                }
            });
            other.start();
            AtomicInteger inRegion = new AtomicInteger();
            try {
                for (int round = 0; round < 3; round++) {
                    for (Problem p : problems) p.reset();
                    Parallel.forRange(problems.size(), 1, (lo, hi) -> {
                        for (long i = lo; i < hi; i++) {
                            if (Parallel.inRegion()) inRegion.incrementAndGet();
                            problems.get((int) i).run(g);
                        }
                    });
                    for (int i = 0; i < problems.size(); i++) {
                        Problem p = problems.get(i);
                        assertTrue(Arrays.equals(alone.get(i), p.c().toArray(ValueLayout.JAVA_FLOAT)), "round " + round + ", " + p.describe());
                    }
                }
            } finally {
                other.join();
            }
            assertEquals(20, outside.get());
            assertTrue(Arrays.equals(largeAlone, large.c().toArray(ValueLayout.JAVA_FLOAT)), "the call outside the region");
            assertTrue(inRegion.get() == 3 * problems.size() || Parallel.threads() == 1, "calls inside the region: " + inRegion.get());
        }
    }
}
