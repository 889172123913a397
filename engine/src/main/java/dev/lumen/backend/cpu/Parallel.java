package dev.lumen.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPU backend's threads. All cores by default; LUMEN_NUM_THREADS or
 * {@link #setThreads(int)} change it. Work is split into at most one chunk per thread
 * (plus a little slack), never finer than a grain, so small tensors stay on the caller.
 */
public final class Parallel {
    /** Body over the half-open range [lo, hi). */
    @FunctionalInterface
    public interface Range {
        void run(long lo, long hi);
    }

    private static volatile int threads = initialThreads();
    /** Set while the calling thread runs its own chunk of a region, so nested regions run inline there too. */
    private static final ThreadLocal<Boolean> IN_REGION = ThreadLocal.withInitial(() -> false);
    private static volatile ForkJoinPool pool = new ForkJoinPool(threads);

    private Parallel() {}

    private static int initialThreads() {
        String env = System.getenv("LUMEN_NUM_THREADS");
        String prop = System.getProperty("lumen.threads", env);
        if (prop != null && !prop.isBlank()) {
            try {
                int n = Integer.parseInt(prop.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the default, as an unset value would
            }
            throw new IllegalArgumentException("LUMEN_NUM_THREADS / lumen.threads must be a positive integer, not '" + prop + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public static int threads() { return threads; }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, not " + n);
        if (n == threads) return;
        ForkJoinPool old = pool;
        threads = n;
        pool = new ForkJoinPool(n);
        old.shutdown();
    }

    /** Whether the calling thread is inside a parallel region (a worker, or the caller running its chunk). */
    public static boolean inRegion() { return ForkJoinTask.inForkJoinPool() || IN_REGION.get(); }

    /**
     * Runs body over [0, n) in chunks of at least grain iterations. Inside a region it runs
     * inline: the outer split already uses every thread, and a nested one would only add waits.
     */
    public static void forRange(long n, long grain, Range body) {
        if (n <= 0) return;
        int t = threads;
        long chunks = Math.min(t * 2L, Math.max(1, n / Math.max(grain, 1)));
        if (chunks <= 1 || t == 1 || inRegion()) {
            body.run(0, n);
            return;
        }
        long step = (n + chunks - 1) / chunks;
        List<ForkJoinTask<?>> tasks = new ArrayList<>();
        for (long lo = step; lo < n; lo += step) {
            final long a = lo;
            final long b = Math.min(n, lo + step);
            tasks.add(pool.submit(() -> body.run(a, b)));
        }
        IN_REGION.set(true);
        try {
            body.run(0, Math.min(n, step));
        } finally {
            IN_REGION.set(false);
        }
        for (ForkJoinTask<?> task : tasks) task.join();
    }
}
