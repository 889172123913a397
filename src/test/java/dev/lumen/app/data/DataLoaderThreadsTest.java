package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.transform.Compose;
import dev.lumen.app.data.transform.RandomCrop;
import dev.lumen.app.data.transform.RandomHorizontalFlip;
import dev.lumen.app.data.transform.Transform;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The loader's worker threads: prefetch order and determinism, where samples are decoded, errors, shutdown. */
class DataLoaderThreadsTest {
    /**
     * Distinct pixels per sample (so crops and flips show), the threads that decoded each sample,
     * an optional delay per sample, and an optional failure at one index.
     */
    private static final class Recording implements Dataset {
        final Dataset base;
        final Set<Thread> decoders = ConcurrentHashMap.newKeySet();
        final AtomicInteger decoded = new AtomicInteger();
        final long delayMillis;
        final int failAt;

        Recording(int n, List<Integer> unreadable, long delayMillis, int failAt) {
            this.base = TestImages.synthetic(n, 3, 2, 6, 6, unreadable);
            this.delayMillis = delayMillis;
            this.failAt = failAt;
        }

        @Override public int size() { return base.size(); }

        @Override public List<String> classNames() { return base.classNames(); }

        @Override public int label(int i) { return base.label(i); }

        @Override public String describe(int i) { return base.describe(i); }

        @Override public Sample get(int i) {
            decoders.add(Thread.currentThread());
            decoded.incrementAndGet();
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (i == failAt) throw new ArithmeticException("decoder bug");
            base.get(i); // throws for the unreadable ones
            Image r = TestImages.ramp(2, 6, 6);
            for (int k = 0; k < r.data().length; k++) r.data()[k] += 100 * i;
            return new Sample(r, label(i));
        }
    }

    /** Crop, flip, then noise from the sample's generator: many draws per sample. */
    private static final Transform AUGMENT = Compose.of(RandomCrop.square(6, 2), new RandomHorizontalFlip(0.5), (img, rng) -> {
        for (int k = 0; k < img.data().length; k++) img.data()[k] += (float) rng.nextNormal();
        return img;
    });

    /** Every batch of an epoch: the indices, the image bits and the labels. */
    private static List<Object[]> bits(DataLoader l, int epoch) {
        List<Object[]> out = new ArrayList<>();
        for (Batch b : l.epoch(epoch)) {
            try (b) {
                float[] x = b.images().toFloats();
                int[] raw = new int[x.length];
                for (int i = 0; i < x.length; i++) raw[i] = Float.floatToRawIntBits(x[i]);
                out.add(new Object[] {b.indices(), raw, b.labels().toLongs()});
            }
        }
        return out;
    }

    @Test
    void prefetchKeepsTheBatchesAndTheirAugmentationBitsForAnyWorkerCount() {
        Recording ds = new Recording(53, List.of(), 0, -1);
        List<List<Object[]>> reference = new ArrayList<>();
        try (DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(8).seed(5).workers(0).build()) {
            for (int epoch = 0; epoch < 2; epoch++) reference.add(bits(l, epoch));
        }
        assertEquals(7, reference.get(0).size());
        for (int workers : new int[] {1, 2, 3}) {
            for (int prefetch : new int[] {1, 0, 9}) { // 0: the default, two batches per worker
                try (DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(8).seed(5).workers(workers).prefetch(prefetch).build()) {
                    for (int epoch = 0; epoch < 2; epoch++) {
                        List<Object[]> got = bits(l, epoch);
                        assertEquals(reference.get(epoch).size(), got.size());
                        for (int b = 0; b < got.size(); b++) {
                            String where = workers + " workers, prefetch " + prefetch + ", epoch " + epoch + ", batch " + b;
                            assertArrayEquals((int[]) reference.get(epoch).get(b)[0], (int[]) got.get(b)[0], where);
                            assertArrayEquals((int[]) reference.get(epoch).get(b)[1], (int[]) got.get(b)[1], where);
                            assertArrayEquals((long[]) reference.get(epoch).get(b)[2], (long[]) got.get(b)[2], where);
                        }
                    }
                }
            }
        }
        assertFalse(java.util.Arrays.equals((int[]) reference.get(0).get(0)[1], (int[]) reference.get(1).get(0)[1]), "each epoch draws anew");
    }

    @Test
    void workersDecodeAheadOfTheConsumerAndNeverOnItsThread() throws InterruptedException {
        Recording ds = new Recording(64, List.of(), 0, -1);
        int batch = 4, prefetch = 3;
        try (DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(batch).seed(1).workers(2).prefetch(prefetch).build()) {
            try (DataLoader.Epoch e = l.epoch(0)) {
                try (Batch first = e.next()) {
                    // While the consumer holds a batch (its training step), the next `prefetch` are built.
                    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                        while (ds.decoded.get() < (1 + prefetch) * batch) Thread.sleep(1);
                    });
                    Thread.sleep(50);
                    assertEquals((1 + prefetch) * batch, ds.decoded.get(), "at most `prefetch` batches ahead");
                }
                while (e.hasNext()) e.next().close();
            }
            assertEquals(64, ds.decoded.get());
            assertFalse(ds.decoders.contains(Thread.currentThread()), "no sample decoded on the consumer's thread");
            assertTrue(ds.decoders.stream().allMatch(t -> t.getName().startsWith("lumen-loader-")), ds.decoders.toString());
        }
    }

    @Test
    void unreadableFilesAreReportedOnTheConsumersThreadInBatchOrder() {
        Recording ds = new Recording(40, List.of(3, 17, 18, 30, 39), 0, -1);
        for (int workers : new int[] {0, 3}) {
            List<String> reported = new CopyOnWriteArrayList<>();
            List<Thread> on = new CopyOnWriteArrayList<>();
            try (DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(5).shuffle(false).seed(2).workers(workers).prefetch(6)
                    .onUnreadable(e -> {
                        reported.add(e.getMessage());
                        on.add(Thread.currentThread());
                    }).build()) {
                for (int epoch = 0; epoch < 2; epoch++) assertEquals(8, bits(l, epoch).size());
                assertEquals(List.of("mem/17.png", "mem/18.png", "mem/3.png", "mem/30.png", "mem/39.png"), l.unreadableFiles());
            }
            assertEquals(List.of("mem/3.png: unreadable image (corrupt)", "mem/17.png: unreadable image (corrupt)",
                    "mem/18.png: unreadable image (corrupt)", "mem/30.png: unreadable image (corrupt)", "mem/39.png: unreadable image (corrupt)"),
                    reported, workers + " workers: once per file, in batch order");
            assertTrue(on.stream().allMatch(t -> t == Thread.currentThread()), workers + " workers: reported on " + on);
        }
    }

    @Test
    void anErrorInAWorkerReachesTheConsumerNamingTheFile() {
        Recording ds = new Recording(30, List.of(), 0, 13);
        for (int workers : new int[] {0, 2}) {
            try (DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(4).shuffle(false).seed(3).workers(workers).build()) {
                DataLoader.Epoch e = l.epoch(0);
                for (int b = 0; b < 3; b++) e.next().close();
                var ex = assertThrows(IllegalStateException.class, e::next);
                assertEquals("loader: mem/13.png: decoder bug", ex.getMessage());
                assertTrue(ex.getCause() instanceof ArithmeticException);
                assertFalse(e.hasNext(), "the epoch is closed after its error");
                // A bad option in a transform stays an IllegalArgumentException, with the file.
                Transform tooBig = (img, rng) -> {
                    throw new IllegalArgumentException("crop 9x9 is larger than the image 6x6");
                };
                try (DataLoader bad = DataLoader.builder(ds, tooBig).batchSize(4).shuffle(false).workers(workers).build()) {
                    var iae = assertThrows(IllegalArgumentException.class, () -> bad.epoch(0).next());
                    assertEquals("loader: mem/0.png: crop 9x9 is larger than the image 6x6", iae.getMessage());
                }
            }
        }
    }

    @Test
    void closeLeavesNoWorkerThreadBehindAndNoConsumerWaiting() {
        Recording ds = new Recording(400, List.of(), 2, -1);
        DataLoader l = DataLoader.builder(ds, AUGMENT).batchSize(10).seed(4).workers(3).prefetch(8).build();
        DataLoader.Epoch e = l.epoch(0);
        e.next().close();
        assertTimeoutPreemptively(Duration.ofSeconds(20), l::close);
        assertEquals(3, ds.decoders.size());
        for (Thread t : ds.decoders) assertFalse(t.isAlive(), t.getName() + " still runs after close");
        assertTrue(ds.decoded.get() < 400, "close stops the workers instead of finishing the epoch");
        // The consumer of the epoch the loader was closed under fails at once instead of waiting forever.
        var ex = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(RuntimeException.class, () -> {
            while (e.hasNext()) e.next().close();
        }));
        assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
        assertNotEquals(0, ds.decoded.get());
    }
}
