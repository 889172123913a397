package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.app.data.DistributedSampler;
import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Validation sharded over ranks and made whole: the sums and the gathered predictions equal one
 * device's, over a test-only communicator of CPU tensors (threads as ranks).
 */
class ValidationShardsTest {
    /** Just the two collectives validation uses, over host arrays shared by the rank threads. */
    static final class ThreadComm implements Communicator {
        final int rank, world;
        final CyclicBarrier barrier;
        final float[][] slots;

        ThreadComm(int rank, int world, CyclicBarrier barrier, float[][] slots) {
            this.rank = rank;
            this.world = world;
            this.barrier = barrier;
            this.slots = slots;
        }

        void await() {
            try {
                barrier.await(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return world; }
        @Override public Device device() { return Device.CPU; }

        @Override
        public void allReduce(Tensor t, ReduceOp op) {
            double[] mine = t.toDoubles();
            synchronized (SUMS) {
                SUMS[rank] = mine;
            }
            await();
            double[] sum = new double[mine.length];
            for (int r = 0; r < world; r++) for (int i = 0; i < sum.length; i++) sum[i] += SUMS[r][i];
            await();
            t.backend().copy(Tensor.fromDoubles(sum, t.dtype(), sum.length), t);
        }

        @Override
        public void allGather(Tensor in, Tensor out) {
            slots[rank] = in.toFloats();
            await();
            float[] all = new float[world * slots[0].length];
            for (int r = 0; r < world; r++) System.arraycopy(slots[r], 0, all, r * slots[r].length, slots[r].length);
            await();
            out.backend().copy(Tensor.fromFloats(all, all.length), out);
        }

        @Override public void broadcast(Tensor t, int root) { throw new UnsupportedOperationException(); }
        @Override public void reduceScatter(Tensor in, Tensor out, ReduceOp op) { throw new UnsupportedOperationException(); }
        @Override public void joinCompute() {}
        @Override public Group group() { throw new UnsupportedOperationException(); }
        @Override public void checkHealth() {}
        @Override public void abort() {}
        @Override public void close() {}
    }

    static final double[][] SUMS = new double[3][];

    @Test
    void shardedPredictionsAndSumsEqualOneDevicesInSampleOrder() throws Exception {
        int n = 7, k = 3, world = 3;
        List<String> classes = List.of("a", "b", "c");
        int[] labels = new int[n];
        float[] probs = new float[n * k];
        for (int i = 0; i < n; i++) {
            labels[i] = (i * 5) % k;
            for (int c = 0; c < k; c++) probs[i * k + c] = (i * 31 + c * 7) % 11 / 11f;
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        CyclicBarrier barrier = new CyclicBarrier(world);
        float[][] slots = new float[world][];
        ExecutorService pool = Executors.newFixedThreadPool(world);
        List<Future<Object[]>> results = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            int rank = r;
            results.add(pool.submit(() -> {
                int[] mine = new DistributedSampler(rank, world, false).shard(order);
                int[] lab = new int[mine.length];
                float[] p = new float[mine.length * k];
                for (int i = 0; i < mine.length; i++) {
                    lab[i] = labels[mine[i]];
                    System.arraycopy(probs, mine[i] * k, p, i * k, k);
                }
                ThreadComm comm = new ThreadComm(rank, world, barrier, slots);
                double[] sums = ValidationShards.sum(comm, new double[] {mine.length, rank + 0.5});
                Predictions all = ValidationShards.gather(comm, new Predictions(classes, mine, lab, p), n);
                return new Object[] {sums, all};
            }));
        }
        for (Future<Object[]> f : results) {
            Object[] o = f.get(30, TimeUnit.SECONDS);
            assertArrayEquals(new double[] {7, 0.5 + 1.5 + 2.5}, (double[]) o[0]);
            Predictions all = (Predictions) o[1];
            assertArrayEquals(order, all.indices());
            assertArrayEquals(labels, all.labels());
            assertArrayEquals(probs, all.probabilities());
            assertEquals(classes, all.classNames());
        }
        pool.shutdownNow();
    }
}
