package dev.lumen.distributed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.Autograd;
import dev.lumen.memory.Scope;
import dev.lumen.nn.AdaptiveAvgPool2d;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Flatten;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Linear;
import dev.lumen.nn.Module;
import dev.lumen.nn.ReLU;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.Losses;
import dev.lumen.optim.AdamW;
import dev.lumen.optim.Optimizer;
import dev.lumen.optim.SGD;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** DistributedDataParallel over in-JVM ranks (threads over CPU tensors) against training on one rank. */
class DistributedDataParallelTest {
    private static final int GLOBAL_BATCH = 8, CLASSES = 5, STEPS = 3;

    /**
     * Conv, BN, conv, BN, pool, linear: 8 parameters, so a small cap makes several buckets. The
     * convolutions have no bias, as before BatchNorm in real models: BN cancels such a bias, its
     * gradient is rounding noise, and AdamW would turn that noise into lr-sized steps.
     */
    private static Sequential convNet() {
        return new Sequential(new Conv2d(3, 6, 3, 1, 1, 1, 1, false), new BatchNorm2d(6), new ReLU(), new Conv2d(6, 8, 3, 2, 1, 1, 1, false), new BatchNorm2d(8),
                new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, CLASSES));
    }

    /** Copies of every parameter and buffer, by name, as doubles. */
    private static Map<String, double[]> snapshot(Module m) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (var e : m.namedParameters().entrySet()) out.put(e.getKey(), e.getValue().toDoubles());
        for (var e : m.namedBuffers().entrySet()) out.put(e.getKey(), e.getValue().toDoubles());
        return out;
    }

    private static void load(Module m, Map<String, double[]> state) {
        for (var e : m.stateDict().entrySet()) {
            Tensor src = Tensor.fromDoubles(state.get(e.getKey()), e.getValue().dtype(), e.getValue().shape());
            e.getValue().backend().copy(src, e.getValue());
        }
    }

    private static Optimizer optimizer(String name, Module m) {
        return name.equals("sgd") ? new SGD(m.trainableParameters(), 0.1, 0.9, 1e-4, false) : new AdamW(m.trainableParameters(), 1e-2, 0.05);
    }

    /** Step s's global batch: images and labels. */
    private static Tensor[] batch(int step) {
        Generator g = new Generator(100 + step);
        Tensor x = Tensor.randn(g, DType.F32, GLOBAL_BATCH, 3, 6, 6).add(0.5);
        long[] y = new long[GLOBAL_BATCH];
        for (int i = 0; i < y.length; i++) y[i] = (i * 3L + step) % CLASSES;
        return new Tensor[] {x, Tensor.fromLongs(y, GLOBAL_BATCH)};
    }

    /** STEPS updates on this rank's shard of each global batch (the whole batch without comm); returns the final state. */
    private static Map<String, double[]> train(InJvmCommunicator comm, Map<String, double[]> init, String opt, long bucketBytes) {
        Sequential model = convNet();
        int ranks = comm == null ? 1 : comm.worldSize(), rank = comm == null ? 0 : comm.rank();
        if (rank == 0) load(model, init);
        DistributedDataParallel ddp = null;
        if (comm != null) {
            SyncBatchNorm.convert(model, comm);
            ddp = new DistributedDataParallel(model, comm, bucketBytes);
        }
        Optimizer optimizer = optimizer(opt, model);
        int shard = GLOBAL_BATCH / ranks;
        for (int step = 0; step < STEPS; step++) {
            try (Scope s = Scope.open()) {
                Tensor[] b = batch(step);
                Tensor x = b[0].narrow(0, rank * shard, shard).contiguous(), y = b[1].narrow(0, rank * shard, shard).contiguous();
                Tensor loss = Losses.crossEntropy(model.forward(x), y);
                if (ddp != null) ddp.backward(loss);
                else loss.backward();
                optimizer.step();
                optimizer.zeroGrad();
            }
        }
        if (ddp != null) ddp.close();
        return snapshot(model);
    }

    /**
     * (a) 2 and 4 ranks, each on its shard with SyncBatchNorm, end where 1 rank on the global
     * batch ends. Not bit for bit: each rank's loss is a mean over its shard and the ranks' means
     * are averaged, so the gradient sums run in another order (and the BN statistics combine
     * per-rank ones), ~1e-7 relative per step; AdamW's normalized update lets such differences
     * through at lr scale where a gradient is near zero, hence 1e-5 over three steps. The ranks
     * agree with each other bit for bit (they apply the same averaged gradients), and one rank
     * under DDP is plain training bit for bit.
     */
    @ParameterizedTest(name = "{0} ranks, {1}")
    @CsvSource({"1, sgd", "2, sgd", "4, sgd", "2, adamw", "4, adamw"})
    void ranksOnShardsEndWhereOneRankOnTheGlobalBatchEnds(int ranks, String opt) {
        Map<String, double[]> init = snapshot(convNet());
        Map<String, double[]> reference = train(null, init, opt, 0);
        List<Map<String, double[]>> ends = InJvmCommunicator.run(ranks, comm -> train(comm, init, opt, 600));
        for (int r = 0; r < ranks; r++) {
            for (var e : reference.entrySet()) {
                double[] got = ends.get(r).get(e.getKey());
                if (r > 0) assertArrayEquals(ends.get(0).get(e.getKey()), got, 0.0, "rank " + r + " differs from rank 0 at " + e.getKey());
                if (ranks == 1) assertArrayEquals(e.getValue(), got, 0.0, "1-rank DDP differs from plain training at " + e.getKey());
                else assertRelative(e.getKey(), e.getValue(), got, 1e-5);
            }
        }
        assertNotEquals(init.get("8.weight")[0], reference.get("8.weight")[0], "training moved nothing");
    }

    /** (e) Ranks start from rank 0's parameters and buffers, whatever their own init. */
    @Test
    void everyRankStartsFromRankZerosState() {
        List<Map<String, double[]>[]> seen = InJvmCommunicator.run(3, comm -> {
            Sequential model = convNet();
            model.namedBuffers().get("1.running_mean").backend().fill(model.namedBuffers().get("1.running_mean"), comm.rank() + 1);
            Map<String, double[]> before = snapshot(model);
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, DistributedDataParallel.DEFAULT_BUCKET_BYTES)) {
                @SuppressWarnings("unchecked")
                Map<String, double[]>[] pair = new Map[] {before, snapshot(model)};
                return pair;
            }
        });
        Map<String, double[]> rank0 = seen.get(0)[0];
        for (int r = 0; r < 3; r++) {
            for (var e : rank0.entrySet()) assertArrayEquals(e.getValue(), seen.get(r)[1].get(e.getKey()), 0.0, "rank " + r + " " + e.getKey());
        }
        assertNotEquals(rank0.get("0.weight")[0], seen.get(1)[0].get("0.weight")[0], "ranks should start from different inits");
    }

    /** A linear layer on 2 ranks whose input is a probe that notes when backward reaches it. */
    private static Sequential probed(InJvmCommunicator comm) {
        return new Sequential(new Probe(comm, "probe:input"), new Linear(4, 8), new ReLU(), new Probe(comm, "probe:middle"), new Linear(8, 8),
                new ReLU(), new Linear(8, 2));
    }

    /** Identity whose gradient rule writes an event into the rank's log. */
    static final class Probe extends Module implements Layer {
        private final InJvmCommunicator comm;
        private final String name;

        Probe(InJvmCommunicator comm, String name) {
            this.comm = comm;
            this.name = name;
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor out = x.detach().copy();
            return Autograd.record("probe", out, g -> {
                comm.note(name);
                return new Tensor[] {g.copy()};
            }, x);
        }
    }

    /**
     * (d) Buckets: reverse registration order, closed at the cap, and each issued during backward
     * as soon as its gradients are final: the first before the middle layer's backward ran,
     * every one before the input's backward ran.
     */
    @Test
    void bucketsFollowReverseOrderAndStartDuringBackward() {
        List<List<String>> logs = InJvmCommunicator.run(2, comm -> {
            Sequential model = probed(comm);
            // 4.bias 32 B, 4.weight 256 B: >= 100 closes the bucket; then 6.*, 1.* as below.
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, 100); Scope s = Scope.open()) {
                List<DistributedDataParallel.BucketInfo> buckets = ddp.buckets();
                assertEquals(List.of(List.of("6.bias", "6.weight", "4.bias"), List.of("4.weight"), List.of("1.bias", "1.weight")),
                        buckets.stream().map(DistributedDataParallel.BucketInfo::parameters).toList());
                assertEquals(List.of(4L * (2 + 16 + 8), 4L * 64, 4L * (8 + 32)), buckets.stream().map(DistributedDataParallel.BucketInfo::bytes).toList());
                comm.events().clear();
                Tensor x = Tensor.randn(new Generator(comm.rank()), DType.F32, 5, 4).requiresGrad(true);
                ddp.backward(model.forward(x).sum());
                assertEquals(new DistributedDataParallel.Overlap(3, 3, 4L * (26 + 64 + 40)), ddp.lastOverlap());
                DistributedDataParallel.IssueTimes times = ddp.lastIssueTimes();
                assertEquals(3, times.bucketIssuedAtNanos().size());
                assertTrue(times.bucketIssuedAtNanos().get(2) <= times.backwardNanos(), "issued within backward: " + times);
                return List.copyOf(comm.events());
            }
        });
        for (List<String> log : logs) {
            List<String> reduces = log.stream().filter(e -> e.startsWith("allReduce")).toList();
            assertEquals(List.of("allReduce AVG F32 x26", "allReduce AVG F32 x64", "allReduce AVG F32 x40"), reduces);
            int middle = log.indexOf("probe:middle"), input = log.indexOf("probe:input");
            assertTrue(log.indexOf(reduces.get(0)) < middle, "the last layer's bucket should start before the middle of backward: " + log);
            assertTrue(log.lastIndexOf(reduces.get(2)) < input, "every bucket should start before backward's last node: " + log);
        }
    }

    /** With the default cap a dtype's first bucket closes at 1 MiB, as PyTorch's, so its all-reduce starts early. */
    @Test
    void firstBucketClosesAtOneMebibyte() {
        InJvmCommunicator.run(1, comm -> {
            // 1.weight is 600 x 512 x 4 B = 1.17 MiB: the first bucket ends with it; the rest, far below 25 MiB, make the second.
            Sequential model = new Sequential(new Linear(64, 600), new Linear(600, 512), new Linear(512, 10));
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, DistributedDataParallel.DEFAULT_BUCKET_BYTES)) {
                assertEquals(List.of(List.of("2.bias", "2.weight", "1.bias", "1.weight"), List.of("0.bias", "0.weight")),
                        ddp.buckets().stream().map(DistributedDataParallel.BucketInfo::parameters).toList());
            }
            return null;
        });
    }

    /** One open bucket per dtype; frozen parameters are left out. */
    @Test
    void bucketsHoldOneDtypeAndSkipFrozenParameters() {
        InJvmCommunicator.run(2, comm -> {
            Sequential model = new Sequential(new Linear(4, 8), new Scale(8), new Linear(8, 2));
            model.freeze("0.bias");
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, 100); Scope s = Scope.open()) {
                List<DistributedDataParallel.BucketInfo> buckets = ddp.buckets();
                assertEquals(List.of(List.of("2.bias", "2.weight", "0.weight"), List.of("1.scale")),
                        buckets.stream().map(DistributedDataParallel.BucketInfo::parameters).toList());
                assertEquals(List.of(DType.F32, DType.F64), buckets.stream().map(DistributedDataParallel.BucketInfo::dtype).toList());
                comm.events().clear();
                Tensor x = Tensor.randn(new Generator(comm.rank()), DType.F32, 3, 4);
                ddp.backward(model.forward(x).sum());
                assertEquals(List.of("allReduce AVG F32 x50", "allReduce AVG F64 x8"),
                        comm.events().stream().filter(e -> e.startsWith("allReduce")).toList());
                assertEquals(null, model.namedParameters().get("0.bias").grad());
                model.unfreeze("0.bias");
                Tensor loss = model.forward(x).sum();
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> ddp.backward(loss));
                assertTrue(e.getMessage().contains("'0.bias' started requiring grad"), e.getMessage());
            }
            return null;
        });
    }

    /** x * scale with an F64 scale [n]: a parameter of another dtype than its neighbours. */
    static final class Scale extends Module implements Layer {
        Scale(int n) { registerParameter("scale", Tensor.full(1.5, DType.F64, Device.CPU, n)); }

        @Override
        public Tensor forward(Tensor x) { return x.mul(param("scale").to(DType.F32)); }
    }

    /** Two heads; rank 0 uses both, rank 1 only the first; the third is never used. */
    static final class Branchy extends Module implements Layer {
        private final int rank;

        Branchy(int rank) {
            this.rank = rank;
            registerModule("a", new Linear(4, 3));
            registerModule("b", new Linear(4, 3));
            registerModule("c", new Linear(4, 3));
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor y = ((Linear) child("a")).forward(x);
            return rank == 0 ? y.add(((Linear) child("b")).forward(x)) : y;
        }
    }

    /**
     * (d) A parameter a rank did not use counts as zero there: every rank still issues every
     * bucket (the one waiting on it once backward returns), and ends with the ranks' mean, bit
     * for bit (x + y) / 2 for two ranks; a parameter no rank used ends with a zero gradient.
     */
    @Test
    void unusedParametersCountAsZero() {
        Map<String, double[]> init = snapshot(new Branchy(0));
        List<Map<String, double[]>[]> seen = InJvmCommunicator.run(2, comm -> {
            Branchy local = new Branchy(comm.rank()), synced = new Branchy(comm.rank());
            load(local, init);
            load(synced, init);
            Tensor x = Tensor.randn(new Generator(7 + comm.rank()), DType.F32, 5, 4);
            Map<String, double[]> localGrads = new LinkedHashMap<>(), syncedGrads = new LinkedHashMap<>();
            try (Scope s = Scope.open(); DistributedDataParallel ddp = new DistributedDataParallel(synced, comm, 1)) {
                local.forward(x).sum().backward();
                ddp.backward(synced.forward(x).sum());
                // Buckets of one parameter each, in order c, b, a (reversed, bias first): c's waits for the end, and so the rest.
                assertEquals(new DistributedDataParallel.Overlap(6, 0, 4L * 3 * 5 * 3), ddp.lastOverlap());
                for (var e : local.namedParameters().entrySet()) {
                    localGrads.put(e.getKey(), e.getValue().grad() == null ? new double[(int) e.getValue().numel()] : e.getValue().grad().toDoubles());
                }
                for (var e : synced.namedParameters().entrySet()) syncedGrads.put(e.getKey(), e.getValue().grad().toDoubles());
            }
            @SuppressWarnings("unchecked")
            Map<String, double[]>[] pair = new Map[] {localGrads, syncedGrads};
            return pair;
        });
        for (String name : init.keySet()) {
            double[] a = seen.get(0)[0].get(name), b = seen.get(1)[0].get(name), mean = new double[a.length];
            for (int i = 0; i < a.length; i++) mean[i] = (float) ((float) a[i] + (float) b[i]) * 0.5f;
            for (int r = 0; r < 2; r++) assertArrayEquals(mean, seen.get(r)[1].get(name), 0.0, "rank " + r + " " + name);
        }
        assertTrue(java.util.Arrays.stream(seen.get(0)[1].get("b.weight")).anyMatch(v -> v != 0), "b is used by rank 0");
        assertTrue(java.util.Arrays.stream(seen.get(1)[1].get("c.weight")).allMatch(v -> v == 0), "c is used by nobody");
    }

    /**
     * (c) Two micro-batches, the first under noSync: no collective for it, and the synced
     * backward of the second reduces the accumulated sums: the gradients (and the step) of one
     * synced backward on the concatenated micro-batches. Not bit for bit: the sums over the two
     * halves are added in another order, fp32 rounding, 1e-6 relative.
     */
    @Test
    void noSyncAccumulationEqualsOneSyncedStepOnTheConcatenatedBatch() {
        Function<Integer, Sequential> net = seed -> new Sequential(new Conv2d(3, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 16, CLASSES));
        Map<String, double[]> init = snapshot(net.apply(0));
        List<Map<String, double[]>[]> seen = InJvmCommunicator.run(2, comm -> {
            Sequential accumulated = net.apply(1), whole = net.apply(2);
            load(accumulated, init);
            load(whole, init);
            Tensor[] b = batch(comm.rank());
            int half = GLOBAL_BATCH / 2;
            try (Scope s = Scope.open(); DistributedDataParallel accDdp = new DistributedDataParallel(accumulated, comm, 256);
                 DistributedDataParallel wholeDdp = new DistributedDataParallel(whole, comm, 256)) {
                int before = comm.events().size();
                try (DistributedDataParallel.NoSync ns = accDdp.noSync()) {
                    accDdp.backward(Losses.crossEntropy(accumulated.forward(b[0].narrow(0, 0, half)), b[1].narrow(0, 0, half)).div(2));
                }
                assertEquals(before, comm.events().size(), "noSync backward issued collectives: " + comm.events().subList(before, comm.events().size()));
                accDdp.backward(Losses.crossEntropy(accumulated.forward(b[0].narrow(0, half, half)), b[1].narrow(0, half, half)).div(2));
                assertEquals(accDdp.buckets().size(), accDdp.lastOverlap().buckets());
                wholeDdp.backward(Losses.crossEntropy(whole.forward(b[0]), b[1]));
                Map<String, double[]> g1 = new LinkedHashMap<>(), g2 = new LinkedHashMap<>();
                for (var e : accumulated.namedParameters().entrySet()) g1.put(e.getKey(), e.getValue().grad().toDoubles());
                for (var e : whole.namedParameters().entrySet()) g2.put(e.getKey(), e.getValue().grad().toDoubles());
                @SuppressWarnings("unchecked")
                Map<String, double[]>[] pair = new Map[] {g1, g2};
                return pair;
            }
        });
        for (int r = 0; r < 2; r++) {
            for (String name : init.keySet()) assertRelative("rank " + r + " " + name, seen.get(r)[1].get(name), seen.get(r)[0].get(name), 1e-6);
        }
        for (String name : init.keySet()) assertArrayEquals(seen.get(0)[0].get(name), seen.get(1)[0].get(name), 0.0, "ranks differ at " + name);
    }

    /**
     * Bucket buffers are made once and SyncBatchNorm's temporaries live in the step's scope: after
     * warm-up, steps of 2 ranks leave the live native bytes flat (measured while both ranks wait
     * between steps, so neither is mid-step).
     */
    @Test
    void stepsKeepLiveNativeBytesFlat() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        java.util.concurrent.CyclicBarrier between = new java.util.concurrent.CyclicBarrier(2);
        dev.lumen.memory.CachingAllocator alloc = dev.lumen.memory.CachingAllocator.host();
        long[] live = new long[40];
        InJvmCommunicator.run(2, comm -> {
            Sequential model = convNet();
            SyncBatchNorm.convert(model, comm);
            Optimizer optimizer = optimizer("sgd", model);
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, 600)) {
                for (int step = 0; step < live.length; step++) {
                    try (Scope s = Scope.open()) {
                        Tensor[] b = batch(step);
                        Tensor x = b[0].narrow(0, comm.rank() * 4, 4).contiguous(), y = b[1].narrow(0, comm.rank() * 4, 4).contiguous();
                        ddp.backward(Losses.crossEntropy(model.forward(x), y));
                        optimizer.step();
                        optimizer.zeroGrad();
                    }
                    try {
                        between.await();
                        if (comm.rank() == 0) live[step] = alloc.liveBytes();
                        between.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            return null;
        });
        for (int step = 11; step < live.length; step++) {
            assertTrue(Math.abs(live[step] - live[10]) <= 0.01 * live[10], "step " + step + ": " + live[step] + " live bytes vs " + live[10] + " after step 10");
        }
    }

    @Test
    void rejectsBadArguments() {
        InJvmCommunicator.run(1, comm -> {
            Sequential model = convNet();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DistributedDataParallel(model, comm, 0));
            assertTrue(e.getMessage().contains("bucketBytes must be positive"), e.getMessage());
            DistributedDataParallel ddp = new DistributedDataParallel(model, comm, 1);
            ddp.close();
            assertThrows(IllegalStateException.class, ddp::broadcastBuffers);
            return null;
        });
    }

    @Test
    void broadcastBuffersCopiesRankZerosRunningStatistics() {
        List<double[]> means = InJvmCommunicator.run(2, comm -> {
            Sequential model = convNet();
            try (DistributedDataParallel ddp = new DistributedDataParallel(model, comm, DistributedDataParallel.DEFAULT_BUCKET_BYTES)) {
                Tensor rm = model.namedBuffers().get("4.running_mean");
                rm.backend().fill(rm, 10 + comm.rank());
                ddp.broadcastBuffers();
                return rm.toDoubles();
            }
        });
        assertTrue(java.util.Arrays.stream(means.get(1)).allMatch(v -> v == 10));
    }

    private static void assertRelative(String what, double[] expected, double[] actual, double tol) {
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            num += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        double err = den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }
}
