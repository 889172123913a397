package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ParallelTest {
    private int before;

    @BeforeEach
    void threads() {
        before = Parallel.threads();
        Parallel.setThreads(3);
    }

    @AfterEach
    void restore() { Parallel.setThreads(before); }

    /** The ranges one forRange call hands to its bodies, as "lo-hi" strings in order. */
    private static Set<String> ranges(long n, long grain) {
        Set<String> seen = ConcurrentHashMap.newKeySet();
        Parallel.forRange(n, grain, (lo, hi) -> seen.add(lo + "-" + hi));
        return new TreeSet<>(seen);
    }

    @Test
    void chunksCoverEveryIterationOnceAtBoundariesThatDependOnlyOnSizeGrainAndThreads() {
        for (long n : new long[] {1, 5, 6, 7, 100, 1001, 65_537}) {
            for (long grain : new long[] {1, 3, 1000}) {
                long[] hits = new long[(int) n];
                Parallel.forRange(n, grain, (lo, hi) -> {
                    for (long i = lo; i < hi; i++) hits[(int) i]++;
                });
                for (long h : hits) assertEquals(1, h, "n " + n + " grain " + grain);
                // Every run cuts the same chunks: ceil(n / chunks) long, chunks = min(2 * threads, n / grain).
                long chunks = Parallel.chunks(n, grain, 3), step = (n + chunks - 1) / chunks;
                Set<String> expected = new TreeSet<>();
                for (long lo = 0; lo < n; lo += step) expected.add(lo + "-" + Math.min(n, lo + step));
                for (int run = 0; run < 5; run++) assertEquals(expected, ranges(n, grain), "n " + n + " grain " + grain);
            }
        }
        assertEquals(6, Parallel.chunks(1000, 1, 3));
        assertEquals(2, Parallel.chunks(1000, 400, 3));
        assertEquals(1, Parallel.chunks(10, 100, 3));
    }

    @Test
    void chunksRunOnAsManyThreadsAtOnceAsTheCountSays() throws Exception {
        // Each chunk waits for the other two: this passes only if three threads run chunks at the same time.
        CyclicBarrier all = new CyclicBarrier(3);
        Set<Thread> ran = ConcurrentHashMap.newKeySet();
        Parallel.forRange(3, 1, (lo, hi) -> {
            ran.add(Thread.currentThread());
            try {
                all.await(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("chunks did not run concurrently", e);
            }
        });
        assertEquals(3, ran.size());
        assertTrue(ran.contains(Thread.currentThread()), "the caller runs chunks of its own region");
        // Never more threads than the count: a fourth concurrent chunk would wait forever.
        Set<Thread> workers = ConcurrentHashMap.newKeySet();
        for (int i = 0; i < 20; i++) Parallel.forRange(60, 1, (lo, hi) -> workers.add(Thread.currentThread()));
        assertTrue(workers.size() <= 3, "threads " + workers);
    }

    @Test
    void nestedRegionsRunInlineOnTheThreadThatOpensThem() {
        AtomicLong sum = new AtomicLong();
        AtomicInteger crossed = new AtomicInteger();
        assertFalse(Parallel.inRegion());
        Parallel.forRange(6, 1, (lo, hi) -> {
            assertTrue(Parallel.inRegion());
            Thread outer = Thread.currentThread();
            Parallel.forRange(1000, 1, (a, b) -> {
                if (Thread.currentThread() != outer) crossed.incrementAndGet();
                sum.addAndGet(b - a);
            });
        });
        assertFalse(Parallel.inRegion());
        assertEquals(6000, sum.get());
        assertEquals(0, crossed.get());
    }

    @Test
    void aChunksExceptionReachesTheCallerAndThePoolKeepsWorking() {
        IllegalArgumentException boom = new IllegalArgumentException("chunk 4 failed");
        IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> Parallel.forRange(6, 1, (lo, hi) -> {
            if (lo == 4) throw boom;
        }));
        assertSame(boom, thrown);
        assertFalse(Parallel.inRegion());
        AtomicLong sum = new AtomicLong();
        Parallel.forRange(600, 1, (lo, hi) -> sum.addAndGet(hi - lo));
        assertEquals(600, sum.get());
    }

    @Test
    void regionsOpenedFromManyThreadsAtOnceAllComplete() throws Exception {
        int callers = 12, regions = 300;
        long[] totals = new long[callers];
        List<Thread> ts = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            int me = c;
            Thread t = new Thread(() -> {
                for (int r = 0; r < regions; r++) {
                    AtomicLong sum = new AtomicLong();
                    Parallel.forRange(1000 + me, 1, (lo, hi) -> {
                        long s = 0;
                        for (long i = lo; i < hi; i++) s += i;
                        sum.addAndGet(s);
                    });
                    totals[me] += sum.get();
                }
            });
            t.setUncaughtExceptionHandler((th, e) -> {
                synchronized (errors) {
                    errors.add(e);
                }
            });
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) t.join(60_000);
        assertTrue(errors.isEmpty(), errors.toString());
        for (int c = 0; c < callers; c++) {
            long n = 1000 + c;
            assertEquals(regions * (n * (n - 1) / 2), totals[c], "caller " + c);
        }
    }

    @Test
    void reductionsGiveTheSameBitsWhicheverThreadRunsWhichChunk() throws Exception {
        try (Scope s = Scope.open()) {
            // Few outputs with much work each (split across threads, partials combined in order),
            // many short rows, the kept-inner layout, and a whole-tensor sum.
            Tensor x = Tensor.randn(new Generator(7), DType.F32, 3, 40_001);
            Tensor y = Tensor.randn(new Generator(8), DType.F32, 32, 40, 33);
            List<float[]> expected = reductions(x, y);
            // Another thread keeps opening regions, so chunks land on different threads from run to run.
            AtomicLong noise = new AtomicLong();
            Thread rival = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    Parallel.forRange(6, 1, (lo, hi) -> {
                        long a = 0;
                        for (long i = 0; i < 2_000 * (lo + 1); i++) a += i ^ lo;
                        noise.addAndGet(a);
                    });
                    Thread.yield();
                }
            });
            rival.start();
            Set<Thread> ran = ConcurrentHashMap.newKeySet();
            try {
                for (int run = 0; run < 6; run++) {
                    List<float[]> got = reductions(x, y);
                    for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), got.get(i), "reduction " + i + ", run " + run);
                    Parallel.forRange(6, 1, (lo, hi) -> joinedByAnotherThread(ran));
                }
            } finally {
                rival.interrupt();
                rival.join(20_000);
            }
            assertTrue(ran.size() > 1, "the regions ran on one thread only");
        }
    }

    /**
     * Records the running thread and holds its chunk (at most 10 s) until a second thread has
     * run one: trivial chunks would all go to the caller before a busy or parked worker
     * arrives, and the check that the workers take part would fail on a loaded machine.
     */
    private static void joinedByAnotherThread(Set<Thread> ran) {
        ran.add(Thread.currentThread());
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ran.size() < 2 && System.nanoTime() < until) Thread.yield();
    }

    private static List<float[]> reductions(Tensor x, Tensor y) {
        return List.of(x.sum(1).toFloats(), x.mean(0).toFloats(), y.sum(2).toFloats(), y.sum(0).toFloats(), y.sum(0, 2).toFloats(),
                new float[] {x.sum().toFloats()[0]}, y.softmax(2).toFloats());
    }

    @Test
    void oneThreadRunsEverythingOnTheCaller() {
        Parallel.setThreads(1);
        Set<Thread> ran = ConcurrentHashMap.newKeySet();
        Parallel.forRange(1 << 20, 1, (lo, hi) -> ran.add(Thread.currentThread()));
        assertEquals(Set.of(Thread.currentThread()), ran);
        assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
    }
}
