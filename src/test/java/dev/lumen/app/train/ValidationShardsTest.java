package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.app.data.DistributedSampler;
import dev.lumen.app.dist.ThreadCommunicators;
import dev.lumen.distributed.Communicator;
import dev.lumen.tensor.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Validation sharded over ranks and made whole: the sums and the gathered predictions equal one
 * device's, over the test double of NCCL (threads as ranks, CPU tensors).
 */
class ValidationShardsTest {
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
        List<ThreadCommunicators.Comm> comms = new ThreadCommunicators().initAll(List.of(Device.CPU, Device.CPU, Device.CPU));
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
                Communicator comm = comms.get(rank);
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
