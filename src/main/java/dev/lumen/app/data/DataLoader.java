package dev.lumen.app.data;

import dev.lumen.app.data.transform.ToTensor;
import dev.lumen.app.data.transform.Transform;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Batches of a dataset through a transform, decoded on worker threads.
 *
 * <p><b>Order.</b> Each epoch visits every sample once, in a permutation that is a pure function
 * of (seed, epoch) when shuffling (identity order otherwise), cut into consecutive batches; with
 * dropLast the last partial batch is left out. Each sample's augmentation draws from a generator
 * seeded by (seed, epoch, index). So the batches of an epoch are identical for any worker count.
 *
 * <p><b>Threads.</b> With workers &gt; 0, whole batches (decoding, augmentation, the batch tensor)
 * are built on a pool of that many daemon threads, at most {@code prefetch} batches ahead of the
 * consumer (default 2 per worker), and handed over in order, so the consumer (the training
 * thread) only computes. With workers = 0 the consumer thread builds each batch when asked.
 * {@link #close} returns once the pool's threads have ended.
 *
 * <p><b>Memory.</b> Batch tensors are made outside every {@link Scope}, so no scope of a worker or
 * of the consumer frees them: the consumer closes each batch after its step. Closing an epoch
 * early (break out of the loop inside try-with-resources) cancels and frees the batches in flight;
 * {@link #close} stops the workers.
 *
 * <p><b>Unreadable images.</b> A sample whose image cannot be decoded is reported once per file
 * (to the onUnreadable callback, on the consumer thread when it takes that batch, so reports come
 * in batch order whatever the worker count; by default a warning line on stderr) and counted; in
 * its batch the slot takes a copy of the next readable sample of the same batch (cyclically), so
 * batches keep their size. A batch with no readable sample is dropped. The epoch never ends early.
 *
 * <p><b>Errors.</b> Any other exception while loading a sample reaches the consumer from
 * {@code next()}, naming the sample's file: an IllegalArgumentException stays one (a bad option,
 * e.g. a crop larger than the image), anything else becomes an IllegalStateException. The epoch is
 * closed then: its batches in flight are freed.
 */
public final class DataLoader implements AutoCloseable {
    private final Dataset dataset;
    private final Transform transform;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final int workers;
    private final int prefetch;
    private final long seed;
    private final Consumer<UnreadableImageException> onUnreadable;
    /** This rank's share of each epoch, or null for the whole dataset. */
    private final DistributedSampler sampler;
    private final ConcurrentHashMap<String, String> unreadable = new ConcurrentHashMap<>();
    private final AtomicLong substituted = new AtomicLong();
    private ExecutorService pool;
    /** The pool's threads: an executor counts as terminated just before its last thread ends, so close joins them too. */
    private final List<Thread> poolThreads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private boolean shutDown;

    /** How long {@link #close} waits for a worker to finish the sample it is decoding. */
    private static final long SHUTDOWN_WAIT_SECONDS = 30;

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        this.transform = b.transform;
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.dropLast = b.dropLast;
        this.workers = b.workers;
        this.prefetch = b.prefetch > 0 ? b.prefetch : Math.max(2, 2 * b.workers);
        this.seed = b.seed;
        this.onUnreadable = b.onUnreadable;
        this.sampler = b.sampler;
    }

    public static Builder builder(Dataset dataset, Transform transform) { return new Builder(dataset, transform); }

    public static final class Builder {
        private final Dataset dataset;
        private final Transform transform;
        private int batchSize = 32;
        private boolean shuffle = true;
        private boolean dropLast;
        private int workers = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        private int prefetch;
        private long seed;
        private Consumer<UnreadableImageException> onUnreadable = e -> System.err.println("warning: skipping " + e.getMessage());
        private DistributedSampler sampler;

        private Builder(Dataset dataset, Transform transform) {
            this.dataset = dataset;
            this.transform = transform;
        }

        public Builder batchSize(int v) { batchSize = v; return this; }

        public Builder shuffle(boolean v) { shuffle = v; return this; }

        public Builder dropLast(boolean v) { dropLast = v; return this; }

        /** Decoding threads; 0 decodes on the consumer thread. */
        public Builder workers(int v) { workers = v; return this; }

        /** Batches built ahead of the consumer (default 2 per worker). */
        public Builder prefetch(int v) { prefetch = v; return this; }

        public Builder seed(long v) { seed = v; return this; }

        /** Called once per unreadable file, on the thread that takes the batch holding it. */
        public Builder onUnreadable(Consumer<UnreadableImageException> v) { onUnreadable = v; return this; }

        /** Yields only this rank's share of each epoch (data-parallel training); the permutation stays the whole dataset's. */
        public Builder sampler(DistributedSampler v) { sampler = v; return this; }

        public DataLoader build() {
            if (batchSize < 1) throw new IllegalArgumentException("loader: batch size must be >= 1, got " + batchSize);
            if (workers < 0) throw new IllegalArgumentException("loader: workers must be >= 0, got " + workers);
            if (prefetch < 0) throw new IllegalArgumentException("loader: prefetch must be >= 0, got " + prefetch);
            if (dataset.size() == 0) throw new IllegalArgumentException("loader: the dataset is empty");
            return new DataLoader(this);
        }
    }

    public Dataset dataset() { return dataset; }

    public int batchSize() { return batchSize; }

    public int batchesPerEpoch() {
        int n = samplesPerEpoch();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** The samples one epoch visits: the dataset's size, or this rank's share of it. */
    public int samplesPerEpoch() { return sampler == null ? dataset.size() : sampler.shardSize(dataset.size()); }

    /** The sample order of an epoch: a seeded permutation (or 0..n-1 without shuffling), then this rank's share of it. */
    public int[] order(int epoch) {
        int[] all = fullOrder(epoch);
        return sampler == null ? all : sampler.shard(all);
    }

    private int[] fullOrder(int epoch) {
        int n = dataset.size();
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        if (!shuffle) return p;
        Generator g = Draws.forEpoch(seed, epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = Draws.randint(g, 0, i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** The batches of one epoch, in order. */
    public Epoch epoch(int epoch) { return new Epoch(epoch); }

    /** Files found unreadable so far, sorted. */
    public List<String> unreadableFiles() { return unreadable.keySet().stream().sorted().toList(); }

    /** Batch slots filled with a copy of another sample because their image was unreadable. */
    public long substitutedSamples() { return substituted.get(); }

    /** Stops the workers and waits until their threads have ended (they finish the sample in hand). */
    @Override
    public synchronized void close() {
        shutDown = true;
        if (pool == null) return;
        ExecutorService p = pool;
        pool = null;
        // Batches never started: their futures fail at once rather than leave a consumer waiting.
        for (Runnable r : p.shutdownNow()) if (r instanceof Future<?> f) f.cancel(false);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SHUTDOWN_WAIT_SECONDS);
            boolean stopped = p.awaitTermination(SHUTDOWN_WAIT_SECONDS, TimeUnit.SECONDS);
            for (Thread t : poolThreads) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left > 0) t.join(left);
                stopped &= !t.isAlive();
            }
            if (!stopped) {
                throw new IllegalStateException("loader: a worker thread did not stop within " + SHUTDOWN_WAIT_SECONDS + " s of close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized boolean isClosed() { return shutDown; }

    private synchronized ExecutorService pool() {
        if (shutDown) throw new IllegalStateException("loader: closed while an epoch was being read");
        if (pool == null) {
            AtomicInteger n = new AtomicInteger();
            pool = Executors.newFixedThreadPool(workers, r -> {
                Thread t = new Thread(r, "lumen-loader-" + n.incrementAndGet());
                t.setDaemon(true);
                poolThreads.add(t);
                return t;
            });
        }
        return pool;
    }

    /** A built batch (null when none of its samples is readable) and the files first found unreadable in it. */
    private record Loaded(Batch batch, List<UnreadableImageException> newlyUnreadable) {}

    /** Builds the batch of the given dataset indices. */
    private Loaded load(int epoch, int[] idx) {
        int n = idx.length;
        Image[] images = new Image[n];
        List<UnreadableImageException> reports = new ArrayList<>(0);
        for (int k = 0; k < n; k++) {
            // close() interrupts the workers: stop between samples instead of finishing a batch no one takes.
            if (workers > 0 && Thread.currentThread().isInterrupted()) throw new CancellationException("loader: closed while building a batch");
            try {
                Sample s = dataset.get(idx[k]);
                images[k] = transform.apply(s.image(), Draws.forSample(seed, epoch, idx[k]));
            } catch (UnreadableImageException e) {
                if (unreadable.putIfAbsent(e.path(), e.getMessage()) == null) reports.add(e);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(sampleError(idx[k], e), e);
            } catch (RuntimeException e) {
                throw new IllegalStateException(sampleError(idx[k], e), e);
            }
        }
        return new Loaded(assemble(idx, images), reports);
    }

    private String sampleError(int index, RuntimeException e) {
        String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return "loader: " + dataset.describe(index) + ": " + what;
    }

    /** The batch of the decoded images, unreadable slots (null) filled from their batch; null when none is readable. */
    private Batch assemble(int[] idx, Image[] images) {
        int n = idx.length;
        int[] rows = idx.clone();
        for (int k = 0; k < n; k++) {
            if (images[k] != null) continue;
            int j = (k + 1) % n;
            while (j != k && (images[j] == null || rows[j] != idx[j])) j = (j + 1) % n;
            if (j == k) return null;
            images[k] = images[j];
            rows[k] = idx[j];
            substituted.incrementAndGet();
        }
        Image first = images[0];
        long[] labels = new long[n];
        for (int k = 0; k < n; k++) {
            Image img = images[k];
            if (img.channels() != first.channels() || img.height() != first.height() || img.width() != first.width()) {
                throw new IllegalArgumentException("loader: " + dataset.describe(rows[k]) + " is " + img.sizeString()
                        + " after the transform but " + dataset.describe(rows[0]) + " is " + first.sizeString()
                        + "; resize or crop every image to one size");
            }
            labels[k] = dataset.label(rows[k]);
        }
        Tensor x = ToTensor.batch(Arrays.asList(images));
        Tensor y = Scope.detachFromScopes(Tensor.fromLongs(labels, n));
        return new Batch(x, y, rows);
    }

    /** One pass over the data; iterate it once, and close it when leaving the loop early. */
    public final class Epoch implements Iterator<Batch>, Iterable<Batch>, AutoCloseable {
        private final int epoch;
        private final List<int[]> batches = new ArrayList<>();
        private final ArrayDeque<Future<Loaded>> inFlight = new ArrayDeque<>();
        private int nextToBuild;
        private int nextToTake;
        private Batch pending;
        private boolean closed;

        private Epoch(int epoch) {
            this.epoch = epoch;
            int[] order = order(epoch);
            for (int start = 0; start < order.length; start += batchSize) {
                int end = Math.min(order.length, start + batchSize);
                if (end - start < batchSize && dropLast) break;
                batches.add(Arrays.copyOfRange(order, start, end));
            }
            if (workers > 0) {
                while (nextToBuild < batches.size() && inFlight.size() < prefetch) submit();
            }
        }

        private void submit() {
            int[] idx = batches.get(nextToBuild++);
            inFlight.add(pool().submit(() -> load(epoch, idx)));
        }

        /** The number of batches this epoch yields at most (fewer only if a whole batch is unreadable). */
        public int size() { return batches.size(); }

        @Override
        public Iterator<Batch> iterator() { return this; }

        @Override
        public boolean hasNext() {
            while (pending == null && !closed && nextToTake < batches.size()) pending = take();
            return pending != null;
        }

        @Override
        public Batch next() {
            if (!hasNext()) throw new NoSuchElementException("loader: the epoch has no more batches");
            Batch b = pending;
            pending = null;
            return b;
        }

        private Batch take() {
            Loaded l = workers == 0 ? loadHere() : await();
            try {
                for (UnreadableImageException e : l.newlyUnreadable()) onUnreadable.accept(e);
            } catch (RuntimeException | Error e) {
                if (l.batch() != null) l.batch().close();
                close();
                throw e;
            }
            return l.batch();
        }

        private Loaded loadHere() {
            try {
                return load(epoch, batches.get(nextToTake++));
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private Loaded await() {
            if (isClosed()) {
                close();
                throw new IllegalStateException("loader: closed while an epoch was being read");
            }
            nextToTake++;
            Future<Loaded> f = inFlight.poll();
            if (nextToBuild < batches.size()) submit();
            try {
                return f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new IllegalStateException("loader: interrupted while waiting for a batch", e);
            } catch (CancellationException e) {
                close();
                throw new IllegalStateException("loader: closed while an epoch was being read", e);
            } catch (ExecutionException e) {
                close();
                if (e.getCause() instanceof RuntimeException r) throw r;
                if (e.getCause() instanceof Error err) throw err;
                throw new IllegalStateException("loader: " + e.getCause(), e.getCause());
            }
        }

        /** Cancels the batches still in flight and frees those already built. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (pending != null) {
                pending.close();
                pending = null;
            }
            for (Future<Loaded> f : inFlight) {
                if (f.cancel(false)) continue;
                try {
                    Loaded l = f.get();
                    if (l.batch() != null) l.batch().close();
                    // Never reported: a later epoch that meets these files reports them.
                    for (UnreadableImageException e : l.newlyUnreadable()) unreadable.remove(e.path());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | CancellationException ignored) {
                    // Its error was not asked for: the consumer left the epoch.
                }
            }
            inFlight.clear();
        }
    }
}
