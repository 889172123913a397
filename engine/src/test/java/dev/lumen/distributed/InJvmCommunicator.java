package dev.lumen.distributed;

import dev.lumen.autograd.GradMode;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * A test-only communicator: the ranks are threads of this JVM over CPU tensors. Each collective
 * is a rendezvous of every rank; rank 0 reduces in rank order 0..n-1 (so results are the same
 * bits whatever the arrival order, as the NCCL test double promises), then each rank copies its
 * result. Collectives complete when issued, so group() and joinCompute() have nothing to do.
 * Every call is written to the rank's event log, and ranks that issue different collectives at
 * the same point fail the call with the two descriptions instead of mixing data.
 */
final class InJvmCommunicator implements Communicator {
    /** What the ranks of one world share. */
    static final class World {
        final int size;
        final CyclicBarrier barrier;
        final Tensor[] slots;
        final String[] calls;
        Tensor result;
        String mismatch;

        World(int size) {
            this.size = size;
            this.barrier = new CyclicBarrier(size);
            this.slots = new Tensor[size];
            this.calls = new String[size];
        }
    }

    private final World world;
    private final int rank;
    private final List<String> events = Collections.synchronizedList(new ArrayList<>());

    private InJvmCommunicator(World world, int rank) {
        this.world = world;
        this.rank = rank;
    }

    /** Runs body on size threads, one per rank, and returns each rank's result in rank order (rethrowing the first failure). */
    static <T> List<T> run(int size, Function<InJvmCommunicator, T> body) {
        World world = new World(size);
        ExecutorService pool = Executors.newFixedThreadPool(size);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                InJvmCommunicator comm = new InJvmCommunicator(world, r);
                futures.add(pool.submit(() -> body.apply(comm)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) out.add(f.get(120, TimeUnit.SECONDS));
            return out;
        } catch (ExecutionException e) {
            world.barrier.reset();
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            world.barrier.reset();
            throw new IllegalStateException("ranks did not finish: " + e, e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** This rank's calls ("allReduce AVG F32 x120", "broadcast ...") and the notes tests add, in order. */
    List<String> events() { return events; }

    /** Adds a test's own event (an autograd rule that ran) to the log, between the collectives. */
    void note(String event) { events.add(event); }

    @Override
    public int rank() { return rank; }

    @Override
    public int worldSize() { return world.size; }

    @Override
    public Device device() { return Device.CPU; }

    @Override
    public void allReduce(Tensor t, ReduceOp op) {
        collective("allReduce " + op + " " + t.dtype() + " x" + t.numel(), t,
                () -> world.result = reduce(op), () -> copy(world.result, t));
    }

    @Override
    public void broadcast(Tensor t, int root) {
        collective("broadcast " + root + " " + t.dtype() + " x" + t.numel(), t,
                () -> {}, () -> { if (rank != root) copy(world.slots[root], t); });
    }

    @Override
    public void allGather(Tensor in, Tensor out) {
        collective("allGather " + in.dtype() + " x" + in.numel(), in, () -> {}, () -> {
            int n = (int) in.numel();
            for (int r = 0; r < world.size; r++) {
                try (Tensor slot = out.viewOf(new int[] {n}, new int[] {1}, out.offset() + (long) r * n)) {
                    copy(world.slots[r], slot);
                }
            }
        });
    }

    @Override
    public void reduceScatter(Tensor in, Tensor out, ReduceOp op) {
        collective("reduceScatter " + op + " " + in.dtype() + " x" + in.numel(), in, () -> world.result = reduce(op), () -> {
            int n = (int) out.numel();
            try (Tensor mine = world.result.viewOf(new int[] {n}, new int[] {1}, world.result.offset() + (long) rank * n)) {
                copy(mine, out);
            }
        });
    }

    /** Rank order 0..n-1, in the tensors' dtype, as a fixed-order NCCL ring would. */
    private Tensor reduce(ReduceOp op) {
        try (GradMode ng = GradMode.noGrad()) {
            Tensor acc = world.slots[0].contiguous().copy();
            for (int r = 1; r < world.size; r++) {
                Tensor next = world.slots[r];
                switch (op) {
                    case SUM, AVG -> Elementwise.addInPlace(acc, next, 1.0);
                    default -> {
                        Tensor combined = switch (op) {
                            case MAX -> Elementwise.maximum(acc, next);
                            case MIN -> Elementwise.minimum(acc, next);
                            default -> Elementwise.mul(acc, next);
                        };
                        acc.close();
                        acc = combined;
                    }
                }
            }
            if (op == ReduceOp.AVG) Elementwise.mulInPlace(acc, 1.0 / world.size);
            return acc;
        }
    }

    private static void copy(Tensor src, Tensor dst) {
        try (GradMode ng = GradMode.noGrad(); Tensor flat = src.viewOf(dst.shape(), dst.strides(), src.offset())) {
            dst.backend().copy(flat, dst);
        }
    }

    /** Deposit, let rank 0 combine, let every rank read, then free the slots for the next call. */
    private void collective(String call, Tensor t, Runnable combine, Runnable read) {
        events.add(call);
        world.slots[rank] = t;
        world.calls[rank] = call;
        await();
        if (rank == 0) {
            world.mismatch = null;
            for (int r = 1; r < world.size; r++) {
                if (!world.calls[r].equals(call)) world.mismatch = "rank 0 issued '" + call + "' while rank " + r + " issued '" + world.calls[r] + "'";
            }
            if (world.mismatch == null) combine.run();
        }
        await();
        String mismatch = world.mismatch;
        if (mismatch == null) read.run();
        await();
        if (rank == 0 && world.result != null) {
            world.result.close();
            world.result = null;
        }
        if (mismatch != null) throw new CommunicatorFailure(mismatch);
    }

    private void await() {
        try {
            world.barrier.await(30, TimeUnit.SECONDS);
        } catch (TimeoutException | BrokenBarrierException e) {
            throw new CommunicatorFailure("rank " + rank + ": a peer did not reach the collective (" + e.getClass().getSimpleName() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommunicatorFailure("rank " + rank + ": interrupted");
        }
    }

    @Override
    public void joinCompute() { events.add("join"); }

    @Override
    public Group group() { return () -> {}; }

    @Override
    public void checkHealth() {}

    @Override
    public void abort() { world.barrier.reset(); }

    @Override
    public void close() {}
}
