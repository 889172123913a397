package dev.lumen.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU backend's threads. All cores by default; LUMEN_NUM_THREADS or
 * {@link #setThreads(int)} change it. A region of {@code threads} runs on the calling thread
 * and {@code threads - 1} workers, so there are never more runnable threads than the count
 * (a pool of {@code threads} workers beside a caller that also works had one too many, and a
 * worker parked between regions woke too late to take its share of short ones).
 *
 * <p>Work is cut into at most two chunks per thread (never finer than a grain, so small tensors
 * stay on the caller). The chunks depend only on the size, the grain and the thread count;
 * whichever thread is free claims the next one, so a slow or descheduled thread holds back at
 * most one chunk, and a body that writes results per chunk gives the same bits on every run.
 */
public final class Parallel {
    /** Body over the half-open range [lo, hi). */
    @FunctionalInterface
    public interface Range {
        void run(long lo, long hi);
    }

    private static volatile int threads = initialThreads();
    /** Set while the calling thread runs chunks of its own region, so nested regions run inline there too. */
    private static final ThreadLocal<Boolean> IN_REGION = ThreadLocal.withInitial(() -> false);
    private static volatile WorkerPool pool = WorkerPool.start(threads);

    private Parallel() {}

    private static int initialThreads() {
        String env = System.getenv("LUMEN_NUM_THREADS");
        String prop = System.getProperty("lumen.threads", env);
        if (prop != null && !prop.isBlank()) {
            try {
                int n = Integer.parseInt(prop.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below, as for a count below 1
            }
            throw new IllegalArgumentException("LUMEN_NUM_THREADS / lumen.threads must be a positive integer, not '" + prop + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public static int threads() { return threads; }

    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("thread count must be >= 1, not " + n);
        if (n == threads) return;
        WorkerPool old = pool;
        threads = n;
        pool = WorkerPool.start(n);
        old.stop();
    }

    /** Whether the calling thread is inside a parallel region (a worker, or a caller running its chunks). */
    public static boolean inRegion() { return Thread.currentThread() instanceof WorkerPool.Worker || IN_REGION.get(); }

    /** The number of chunks forRange cuts n iterations into at this grain and thread count. */
    static long chunks(long n, long grain, int t) { return Math.min(t * 2L, Math.max(1, n / Math.max(grain, 1))); }

    /**
     * Runs body over [0, n) in chunks of at least grain iterations. Inside a region it runs
     * inline: the outer split already uses every thread, and a nested one would only add waits.
     * The first exception a chunk throws is rethrown here once every started chunk has ended.
     */
    public static void forRange(long n, long grain, Range body) {
        if (n <= 0) return;
        int t = threads;
        long chunks = chunks(n, grain, t);
        if (chunks <= 1 || t == 1 || inRegion()) {
            body.run(0, n);
            return;
        }
        Region region = new Region(n, (n + chunks - 1) / chunks, body);
        IN_REGION.set(true);
        try {
            pool.run(region);
        } finally {
            IN_REGION.set(false);
        }
    }

    /** One forRange call: its chunks, which of them are claimed and which have ended. */
    static final class Region {
        private final long n, step;
        private final int count;
        private final Range body;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger unfinished;
        private volatile Throwable failure;
        /** The caller, when it parks waiting for the last chunk. */
        volatile Thread waiter;

        Region(long n, long step, Range body) {
            this.n = n;
            this.step = step;
            this.count = (int) ((n + step - 1) / step);
            this.body = body;
            this.unfinished = new AtomicInteger(count);
        }

        /** Whether chunks are left to claim. */
        boolean open() { return next.get() < count; }

        boolean finished() { return unfinished.get() == 0; }

        /** Claims and runs chunks until none is left; returns whether it ran any. */
        boolean work() {
            boolean ran = false;
            int c;
            while ((c = next.getAndIncrement()) < count) {
                ran = true;
                try {
                    if (failure == null) body.run(c * step, Math.min(n, (c + 1) * step));
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                } finally {
                    if (unfinished.decrementAndGet() == 0) {
                        Thread w = waiter;
                        if (w != null) LockSupport.unpark(w);
                    }
                }
            }
            return ran;
        }

        void rethrow() {
            Throwable e = failure;
            if (e instanceof RuntimeException r) throw r;
            if (e instanceof Error err) throw err;
            if (e != null) throw new IllegalStateException(e);
        }
    }
}
