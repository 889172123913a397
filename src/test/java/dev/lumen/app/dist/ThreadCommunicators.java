package dev.lumen.app.dist;

import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.CommunicatorFailure;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A test double of NCCL for the launch's tests: the ranks of one world are threads of this JVM
 * on CPU tensors, and every collective meets at a barrier and reduces in rank order 0..n-1 (in
 * double). abort() breaks the barrier, so a rank waiting for a dead one gets a
 * {@link CommunicatorFailure} instead of hanging. failAt makes one rank's n-th all-reduce throw,
 * as a rank that crashes mid-run.
 */
public final class ThreadCommunicators implements Communicators {
    private volatile int failRank = -1;
    private volatile int failAtCall;

    /** Rank rank's all-reduce number call (from 1) throws, as a crash of that rank. */
    public ThreadCommunicators failAt(int rank, int call) {
        failRank = rank;
        failAtCall = call;
        return this;
    }

    @Override public byte[] uniqueId() { return new byte[128]; }

    @Override
    public List<Comm> initAll(List<Device> devices) {
        Hub hub = new Hub(devices.size());
        List<Comm> out = new ArrayList<>();
        for (int r = 0; r < devices.size(); r++) out.add(new Comm(hub, r));
        return out;
    }

    @Override
    public Communicator initRank(byte[] uniqueId, int worldSize, int rank, Device device) {
        throw new UnsupportedOperationException("ThreadCommunicators serve one process (initAll)");
    }

    @Override public String unavailableReason() { return null; }

    /** What the ranks of one world share. */
    static final class Hub {
        final int world;
        final CyclicBarrier barrier;
        final double[][] slots;
        volatile boolean aborted;

        Hub(int world) {
            this.world = world;
            this.barrier = new CyclicBarrier(world);
            this.slots = new double[world][];
        }
    }

    /** One rank's handle. */
    public final class Comm implements Communicator {
        private final Hub hub;
        private final int rank;
        private int allReduces;

        Comm(Hub hub, int rank) {
            this.hub = hub;
            this.rank = rank;
        }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return hub.world; }
        @Override public Device device() { return Device.CPU; }

        /** Publishes this rank's values, waits for all, and returns every rank's. */
        private double[][] exchange(double[] mine) {
            checkHealth();
            hub.slots[rank] = mine;
            await();
            double[][] all = new double[hub.world][];
            for (int r = 0; r < hub.world; r++) all[r] = hub.slots[r].clone();
            for (int r = 0; r < hub.world; r++) {
                // NCCL would pair these silently: the ranks issued different collectives
                if (all[r].length != mine.length) throw new IllegalStateException("rank " + rank + " reduces " + mine.length + " values, rank " + r + " " + all[r].length);
            }
            await(); // nobody overwrites a slot before every rank has read it
            return all;
        }

        private void await() {
            try {
                hub.barrier.await(60, TimeUnit.SECONDS);
            } catch (BrokenBarrierException | TimeoutException e) {
                throw new CommunicatorFailure("rank " + rank + ": the collective was aborted");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CommunicatorFailure("rank " + rank + ": interrupted");
            }
        }

        private static void write(Tensor t, double[] v) {
            try (Tensor src = Tensor.fromDoubles(v, t.dtype(), t.shape())) {
                t.backend().copy(src, t);
            }
        }

        @Override
        public void allReduce(Tensor t, ReduceOp op) {
            if (rank == failRank && ++allReduces == failAtCall) throw new IllegalStateException("injected crash of rank " + rank);
            double[][] all = exchange(t.toDoubles());
            double[] r = all[0].clone();
            for (int k = 1; k < all.length; k++) {
                for (int i = 0; i < r.length; i++) {
                    double v = all[k][i];
                    r[i] = switch (op) {
                        case SUM, AVG -> r[i] + v;
                        case PROD -> r[i] * v;
                        case MAX -> Math.max(r[i], v);
                        case MIN -> Math.min(r[i], v);
                    };
                }
            }
            if (op == ReduceOp.AVG) for (int i = 0; i < r.length; i++) r[i] /= hub.world;
            write(t, r);
        }

        @Override
        public void broadcast(Tensor t, int root) {
            write(t, exchange(t.toDoubles())[root]);
        }

        @Override
        public void allGather(Tensor in, Tensor out) {
            double[][] all = exchange(in.toDoubles());
            int n = all[0].length;
            double[] r = new double[n * hub.world];
            for (int k = 0; k < all.length; k++) System.arraycopy(all[k], 0, r, k * n, n);
            write(out, r);
        }

        @Override
        public void reduceScatter(Tensor in, Tensor out, ReduceOp op) {
            double[][] all = exchange(in.toDoubles());
            int n = (int) out.numel();
            double[] r = new double[n];
            for (double[] a : all) for (int i = 0; i < n; i++) r[i] += a[rank * n + i];
            if (op == ReduceOp.AVG) for (int i = 0; i < n; i++) r[i] /= hub.world;
            write(out, r);
        }

        @Override public void joinCompute() {}

        @Override public Group group() { return () -> {}; }

        @Override
        public void checkHealth() {
            if (hub.aborted) throw new CommunicatorFailure("rank " + rank + ": the communicator was aborted");
        }

        @Override
        public void abort() {
            hub.aborted = true;
            hub.barrier.reset();
        }

        @Override public void close() {}
    }
}
