package dev.lumen.backend.cpu;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code threads - 1} worker threads of {@link Parallel}; the thread that opens a region
 * is the remaining one. A worker that runs out of chunks spins for a short while before it
 * parks, as OpenMP's threads do: the next region of a training step usually starts within
 * microseconds, and waking a parked thread costs more than the chunk it would run. Regions
 * opened by several threads at once (data loaders, one thread per rank) share the workers; a
 * caller that finds every slot taken runs its region alone.
 */
final class WorkerPool {
    /** How long an idle worker, or a caller waiting for the last chunks, spins before it parks. */
    static final long SPIN_NANOS = spinNanos();
    private static final int SLOTS = 8;

    private final Worker[] workers;
    private final AtomicReferenceArray<Parallel.Region> open = new AtomicReferenceArray<>(SLOTS);
    /** Bumped on every new region, so that an idle worker sees there is work without scanning. */
    private final AtomicLong signal = new AtomicLong();
    private volatile boolean stopped;

    private WorkerPool(int threads) {
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) workers[i] = new Worker(i + 1);
    }

    static WorkerPool start(int threads) {
        WorkerPool p = new WorkerPool(threads);
        for (Worker w : p.workers) w.start();
        return p;
    }

    private static long spinNanos() {
        String v = System.getProperty("lumen.parallel.spin.us", "50");
        try {
            long us = Long.parseLong(v.trim());
            if (us >= 0) return us * 1000;
        } catch (NumberFormatException ignored) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("lumen.parallel.spin.us must be a count of microseconds >= 0, not '" + v + "'");
    }

    /** Runs every chunk of region on the calling thread and whichever workers are free, and waits for the last one. */
    void run(Parallel.Region region) {
        int slot = -1;
        for (int i = 0; i < SLOTS && slot < 0; i++) {
            if (open.compareAndSet(i, null, region)) slot = i;
        }
        if (slot >= 0) {
            signal.incrementAndGet();
            for (Worker w : workers) {
                if (w.sleeping) LockSupport.unpark(w);
            }
        }
        region.work();
        if (slot >= 0) open.set(slot, null);
        awaitFinished(region);
        region.rethrow();
    }

    private static void awaitFinished(Parallel.Region region) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (!region.finished()) {
            if (System.nanoTime() < spinUntil) {
                pause();
                continue;
            }
            region.waiter = Thread.currentThread();
            while (!region.finished()) LockSupport.park(region);
            region.waiter = null;
        }
    }

    /**
     * One turn of a spin-wait. It yields the core: on a quiet machine the call returns at once,
     * and where more threads are runnable than there are cores (other processes, a build) the
     * thread that holds the awaited chunk, or the caller with the next region, gets the core
     * instead of a spinner.
     */
    private static void pause() {
        Thread.yield();
    }

    /** Lets the workers end; a region still open finishes on its caller. */
    void stop() {
        stopped = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    final class Worker extends Thread {
        /** Set while parked, so that a new region knows to unpark it. */
        volatile boolean sleeping;

        Worker(int index) {
            super("lumen-cpu-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = signal.get();
            long idleSince = System.nanoTime();
            while (!stopped) {
                if (workOnOpenRegions()) {
                    idleSince = System.nanoTime();
                    continue;
                }
                long s = signal.get();
                if (s != seen) {
                    seen = s;
                    continue;
                }
                if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    pause();
                    continue;
                }
                // Sleeping is set before the signal is read again, and a caller bumps the signal
                // before it reads sleeping: one of the two always sees the other.
                sleeping = true;
                if (signal.get() == seen && !stopped) LockSupport.park(this);
                sleeping = false;
                idleSince = System.nanoTime();
            }
        }

        private boolean workOnOpenRegions() {
            boolean ran = false;
            for (int i = 0; i < SLOTS; i++) {
                Parallel.Region r = open.get(i);
                if (r != null && r.open()) ran |= r.work();
            }
            return ran;
        }
    }
}
