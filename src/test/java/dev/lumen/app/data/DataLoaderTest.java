package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.transform.Compose;
import dev.lumen.app.data.transform.RandomCrop;
import dev.lumen.app.data.transform.RandomHorizontalFlip;
import dev.lumen.app.data.transform.Transform;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
    private static final Transform IDENTITY = (img, rng) -> img;

    private static DataLoader.Builder loader(Dataset ds) { return DataLoader.builder(ds, IDENTITY).batchSize(7).seed(1); }

    /** All batches of an epoch: indices and the tensors' contents. */
    private static List<Object[]> run(DataLoader l, int epoch) {
        List<Object[]> out = new ArrayList<>();
        try (DataLoader.Epoch e = l.epoch(epoch)) {
            for (Batch b : e) {
                try (b) {
                    out.add(new Object[] {b.indices(), b.images().toFloats(), b.labels().toLongs(), b.images().shape()});
                }
            }
        }
        return out;
    }

    @Test
    void everySampleOncePerEpochInBatchOrder() {
        Dataset ds = TestImages.synthetic(50, 3, 1, 2, 2, List.of());
        try (DataLoader l = loader(ds).workers(3).build()) {
            assertEquals(8, l.batchesPerEpoch());
            List<Object[]> batches = run(l, 0);
            assertEquals(8, batches.size());
            List<Integer> seen = new ArrayList<>();
            for (Object[] b : batches) {
                int[] idx = (int[]) b[0];
                long[] labels = (long[]) b[2];
                float[] x = (float[]) b[1];
                assertArrayEquals(new int[] {idx.length, 1, 2, 2}, (int[]) b[3]);
                for (int k = 0; k < idx.length; k++) {
                    seen.add(idx[k]);
                    assertEquals(idx[k] % 3, labels[k]);
                    assertEquals(idx[k] / 50f, x[4 * k + 3]);
                }
            }
            assertEquals(7, ((int[]) batches.get(6)[0]).length);
            assertEquals(1, ((int[]) batches.get(7)[0]).length); // the last partial batch
            int[] order = seen.stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(l.order(0), order);
            int[] sorted = order.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < 50; i++) assertEquals(i, sorted[i]);
            assertFalse(Arrays.equals(order, sorted), "shuffled");
        }
        try (DataLoader l = loader(ds).dropLast(true).shuffle(false).workers(2).build()) {
            List<Object[]> batches = run(l, 0);
            assertEquals(7, batches.size());
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6}, (int[]) batches.get(0)[0]);
        }
    }

    @Test
    void sameSeedAndEpochGiveTheSameBatchesOnAnyWorkerCount() {
        Dataset ds = new Dataset() { // distinct pixels so crops and flips show
            final Dataset base = TestImages.synthetic(23, 4, 2, 6, 6, List.of());

            @Override public int size() { return base.size(); }

            @Override public List<String> classNames() { return base.classNames(); }

            @Override public int label(int i) { return base.label(i); }

            @Override public Sample get(int i) {
                Image r = TestImages.ramp(2, 6, 6);
                for (int k = 0; k < r.data().length; k++) r.data()[k] += 100 * i;
                return new Sample(r, label(i));
            }

            @Override public String describe(int i) { return base.describe(i); }
        };
        Transform aug = Compose.of(RandomCrop.square(6, 2), new RandomHorizontalFlip(0.5));
        List<List<Object[]>> runs = new ArrayList<>();
        for (int workers : new int[] {0, 1, 4}) {
            try (DataLoader l = DataLoader.builder(ds, aug).batchSize(5).seed(9).workers(workers).prefetch(workers == 4 ? 1 : 0).build()) {
                runs.add(run(l, 3));
            }
        }
        for (List<Object[]> r : runs.subList(1, 3)) {
            assertEquals(runs.get(0).size(), r.size());
            for (int b = 0; b < r.size(); b++) {
                assertArrayEquals((int[]) runs.get(0).get(b)[0], (int[]) r.get(b)[0]);
                assertArrayEquals((float[]) runs.get(0).get(b)[1], (float[]) r.get(b)[1]);
            }
        }
        try (DataLoader a = DataLoader.builder(ds, aug).seed(9).build(); DataLoader b = DataLoader.builder(ds, aug).seed(10).build()) {
            assertArrayEquals(a.order(3), a.order(3));
            assertFalse(Arrays.equals(a.order(3), a.order(4)), "a new order each epoch");
            assertFalse(Arrays.equals(a.order(3), b.order(3)), "a new order for another seed");
        }
    }

    @Test
    void unreadableSamplesAreReplacedWithinTheBatch() {
        Dataset ds = TestImages.synthetic(12, 2, 1, 1, 1, List.of(1, 2, 4, 5, 6, 7));
        List<String> reported = new CopyOnWriteArrayList<>();
        try (DataLoader l = loader(ds).batchSize(4).shuffle(false).workers(2).onUnreadable(e -> reported.add(e.path())).build()) {
            for (int epoch = 0; epoch < 2; epoch++) {
                List<Object[]> batches = run(l, epoch);
                assertEquals(2, batches.size(), "the batch [4..7] has no readable sample and is dropped");
                assertArrayEquals(new int[] {0, 3, 3, 3}, (int[]) batches.get(0)[0]); // 1 and 2 take the next readable, 3
                assertArrayEquals(new long[] {0, 1, 1, 1}, (long[]) batches.get(0)[2]);
                assertArrayEquals(new int[] {8, 9, 10, 11}, (int[]) batches.get(1)[0]);
            }
            assertEquals(6, reported.size(), "each file reported once");
            assertEquals(List.of("mem/1.png", "mem/2.png", "mem/4.png", "mem/5.png", "mem/6.png", "mem/7.png"), l.unreadableFiles());
            assertEquals(4, l.substitutedSamples());
        }
    }

    @Test
    void batchesOutliveTheConsumersScopeAndAreF32AndI64() {
        Dataset ds = TestImages.synthetic(8, 2, 3, 2, 2, List.of());
        for (int workers : new int[] {0, 2}) {
            try (DataLoader l = loader(ds).batchSize(4).workers(workers).build(); DataLoader.Epoch e = l.epoch(0)) {
                Batch b;
                try (Scope step = Scope.open()) {
                    b = e.next();
                }
                assertFalse(b.images().isClosed());
                assertEquals(DType.F32, b.images().dtype());
                assertEquals(DType.I64, b.labels().dtype());
                b.close();
                assertTrue(b.images().isClosed());
            }
        }
    }

    @Test
    void leavingAnEpochEarlyIsClean() {
        Dataset ds = TestImages.synthetic(100, 2, 1, 4, 4, List.of());
        try (DataLoader l = loader(ds).batchSize(2).workers(2).prefetch(6).build()) {
            try (DataLoader.Epoch e = l.epoch(0)) {
                for (Batch b : e) {
                    b.close();
                    break;
                }
            }
            assertEquals(50, run(l, 1).size()); // the loader goes on with the next epoch
        }
    }

    @Test
    void errorsReachTheConsumerWithTheSampleNamed() {
        Dataset ds = TestImages.synthetic(6, 2, 1, 3, 3, List.of());
        Transform bad = (img, rng) -> img.data()[0] == 2 / 6f ? TestImages.filled(1, 4, 4, 0) : img;
        try (DataLoader l = DataLoader.builder(ds, bad).batchSize(3).shuffle(false).workers(2).build()) {
            var ex = assertThrows(IllegalArgumentException.class, () -> run(l, 0));
            assertTrue(ex.getMessage().contains("mem/2.png is 1x4x4") && ex.getMessage().contains("mem/0.png is 1x3x3"), ex.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> loader(ds).batchSize(0).build());
        assertNotEquals(0, loader(ds).build().batchesPerEpoch());
    }
}
