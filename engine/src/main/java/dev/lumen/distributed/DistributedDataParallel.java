package dev.lumen.distributed;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.nn.Module;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PyTorch's DistributedDataParallel over a {@link Communicator}: every rank holds a replica of
 * the model, runs forward and backward on its shard of the global batch, and ends backward with
 * the ranks' mean gradient, so that identical optimizer steps keep the replicas identical.
 *
 * <p>At construction rank 0's parameters and buffers are broadcast to every rank. The
 * parameters that require grad are split into buckets of about bucketBytes, filled in reverse
 * registration order (the order in which backward usually finishes them, as PyTorch's DDP),
 * one dtype per bucket; a bucket closes once it holds bucketBytes or more (a dtype's first one at
 * 1 MiB, as PyTorch's, so the first all-reduce starts early). PyTorch also re-buckets once after
 * the first step in the order gradients actually arrived; here the registration order stays,
 * which is backward's order for models whose layers are registered in forward order. Each
 * bucket owns one contiguous buffer (memory: one more copy of the trainable parameters).
 * During {@link #backward(Tensor)} the autograd tells this wrapper when a parameter's gradient
 * is final; once every gradient of a bucket is, and every earlier bucket was issued (so all
 * ranks issue the same collectives in the same order whatever their graphs finish first), the
 * gradients are copied into the buffer and an all-reduce (AVG) is issued.
 * A parameter that got no gradient on a rank in that pass counts with its accumulated gradient,
 * or zero if it has none: buckets still waiting on such parameters are issued when backward
 * returns. After {@link Communicator#joinCompute()} the means are copied back into every
 * bucketed parameter's .grad; a parameter no rank used thus ends with a zero gradient, not none
 * (PyTorch keeps none only with find_unused_parameters, at the price of a host read per step).
 *
 * <p>Overlap. On a GPU the copy into a bucket runs on the compute stream; the all-reduce runs on
 * the communicator's stream after it (an event), while the compute stream goes on with the rest
 * of backward; joinCompute makes the compute stream wait for the collectives before the
 * copy-back, and the host never waits. Buckets issued before backward ends are those whose
 * transfer can hide behind the remaining backward kernels ({@link #lastOverlap()} counts them);
 * how much of it actually hides depends on the link and on the kernels left. With a host-side
 * communicator (the tests' in-JVM one) a collective completes when it is issued, so the count
 * says only that the bucket was issued while backward still had work to do.
 *
 * <p>Parameters whose requiresGrad changes after construction make the next backward fail:
 * the buckets are fixed, as in PyTorch; wrap the model again after freezing or unfreezing.
 * SyncBatchNorm layers issue their own collectives on the same communicator in forward and
 * backward; every rank runs the same graph, so they interleave with the buckets in the same
 * order on every rank.
 *
 * <p>A training step of one rank (--sync-bn, --grad-accum-steps, a GradScaler):
 * <pre>
 * SyncBatchNorm.convert(model, comm);   // before the optimizer and the wrapper
 * var ddp = new DistributedDataParallel(model, comm, DistributedDataParallel.DEFAULT_BUCKET_BYTES);
 * ...
 * try (var local = update ? null : ddp.noSync()) {
 *     ddp.backward(scaler != null ? scaler.scale(loss) : loss);
 * }
 * if (update) { scaler.unscale(optimizer); ...; optimizer.step(); optimizer.zeroGrad(); }
 * </pre>
 */
public final class DistributedDataParallel implements AutoCloseable {
    /** PyTorch DDP's default bucket_cap_mb. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    /** PyTorch DDP's cap of each dtype's first bucket (dist._DEFAULT_FIRST_BUCKET_BYTES): the first all-reduce starts early. */
    public static final long FIRST_BUCKET_BYTES = 1L << 20;

    /** What the last synced backward did: buckets, how many were issued before backward ended, bytes reduced. */
    public record Overlap(int buckets, int issuedDuringBackward, long bytes) {}

    /**
     * Host times of the last synced backward, from its start: when each bucket's all-reduce was
     * enqueued, and when backward's own work was done (before the buckets still waiting were
     * issued). (backwardNanos - first issue) / backwardNanos is the share of backward that
     * communication can hide behind; on a GPU these are enqueue times, the device's own timeline
     * (a profile) says how much did hide.
     */
    public record IssueTimes(long backwardNanos, List<Long> bucketIssuedAtNanos) {}

    /** One gradient bucket: its dtype, its parameters' dotted names in the order they lie in it, its size. */
    public record BucketInfo(DType dtype, List<String> parameters, long bytes) {}

    /** Scope of --grad-accum-steps micro-batches whose gradients stay local. */
    public interface NoSync extends AutoCloseable {
        @Override
        void close();
    }

    /** A bucket's buffer and, per parameter, a view of its slice. */
    private static final class Bucket {
        final DType dtype;
        final List<Integer> params = new ArrayList<>();
        final List<Tensor> slices = new ArrayList<>();
        long numel;
        Tensor flat;

        Bucket(DType dtype) { this.dtype = dtype; }

        long bytes() { return numel * dtype.byteSize(); }
    }

    private final Module module;
    private final Communicator comm;
    private final List<String> names = new ArrayList<>();
    private final List<Tensor> params = new ArrayList<>();
    private final boolean[] trainable;
    private final Map<Tensor, Integer> bucketedIndex = new IdentityHashMap<>();
    private final int[] bucketOf;
    private final List<Bucket> buckets = new ArrayList<>();
    private int noSyncDepth;
    private boolean closed;
    private Overlap lastOverlap = new Overlap(0, 0, 0);
    private IssueTimes lastIssueTimes = new IssueTimes(0, List.of());

    /** Wraps model; broadcasts its parameters and buffers from rank 0 so every rank starts equal. */
    public DistributedDataParallel(Module model, Communicator comm, long bucketBytes) {
        if (model == null || comm == null) throw new IllegalArgumentException("DistributedDataParallel: model and communicator are required");
        if (bucketBytes <= 0) throw new IllegalArgumentException("DistributedDataParallel: bucketBytes must be positive, got " + bucketBytes);
        this.module = model;
        this.comm = comm;
        for (var e : model.namedParameters().entrySet()) {
            names.add(e.getKey());
            params.add(e.getValue());
        }
        trainable = new boolean[params.size()];
        bucketOf = new int[params.size()];
        Arrays.fill(bucketOf, -1);
        for (int i = 0; i < params.size(); i++) trainable[i] = params.get(i).requiresGrad();
        Map<String, Tensor> state = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) state.put(names.get(i), params.get(i));
        state.putAll(model.namedBuffers());
        for (var e : state.entrySet()) {
            if (!e.getValue().device().equals(comm.device())) {
                throw new IllegalArgumentException("DistributedDataParallel: '" + e.getKey() + "' is on " + e.getValue().device()
                        + " but the communicator of rank " + comm.rank() + " reduces tensors on " + comm.device() + "; move the model first");
            }
        }
        broadcastFromRank0(state.values());
        assignBuckets(bucketBytes);
    }

    /**
     * PyTorch's bucket assignment: reverse registration order, one open bucket per dtype, closed
     * once it holds its cap (the dtype's first bucket: min(cap, FIRST_BUCKET_BYTES)).
     */
    private void assignBuckets(long cap) {
        Map<DType, Bucket> open = new LinkedHashMap<>();
        java.util.Set<DType> closedOne = java.util.EnumSet.noneOf(DType.class);
        List<Bucket> done = new ArrayList<>();
        for (int i = params.size() - 1; i >= 0; i--) {
            if (!trainable[i]) continue;
            Tensor p = params.get(i);
            Bucket b = open.computeIfAbsent(p.dtype(), Bucket::new);
            if (b.params.isEmpty()) done.add(b);
            b.params.add(i);
            b.numel += p.numel();
            long limit = closedOne.contains(p.dtype()) ? cap : Math.min(cap, FIRST_BUCKET_BYTES);
            if (b.bytes() >= limit) {
                open.remove(p.dtype());
                closedOne.add(p.dtype());
            }
        }
        // Buckets were opened in the order their first gradients are expected: the order they are issued in.
        for (Bucket b : done) {
            int index = buckets.size();
            buckets.add(b);
            b.flat = Scope.detachFromScopes(Tensor.empty(b.dtype, comm.device(), Math.toIntExact(b.numel)));
            long offset = b.flat.offset();
            for (int i : b.params) {
                Tensor p = params.get(i);
                int[] shape = p.shape();
                b.slices.add(Scope.detachFromScopes(b.flat.viewOf(shape, Shapes.contiguousStrides(shape), offset)));
                offset += p.numel();
                bucketOf[i] = index;
                bucketedIndex.put(p, i);
            }
        }
    }

    public Module module() { return module; }

    public Communicator communicator() { return comm; }

    /** The gradient buckets in the order their all-reduces are issued. */
    public List<BucketInfo> buckets() {
        List<BucketInfo> out = new ArrayList<>();
        for (Bucket b : buckets) {
            List<String> ns = new ArrayList<>();
            for (int i : b.params) ns.add(names.get(i));
            out.add(new BucketInfo(b.dtype, List.copyOf(ns), b.bytes()));
        }
        return List.copyOf(out);
    }

    /** root.backward() with gradient buckets all-reduced (averaged) as they fill; on return every grad is the ranks' mean. */
    public void backward(Tensor root) {
        if (root.numel() != 1) {
            throw new IllegalArgumentException("DistributedDataParallel.backward: needs a scalar loss, got shape " + Arrays.toString(root.shape()));
        }
        try (Tensor one = Tensor.full(1.0, root.dtype(), root.device(), root.shape())) {
            backward(root, one);
        }
    }

    /** As {@link #backward(Tensor)} from a given gradient of root. */
    public void backward(Tensor root, Tensor gradOutput) {
        checkOpen();
        checkTrainableUnchanged();
        if (noSyncDepth > 0) {
            Autograd.backward(root, gradOutput);
            return;
        }
        Pass pass = new Pass();
        Autograd.backward(root, gradOutput, pass::ready);
        long backwardNanos = System.nanoTime() - pass.start;
        int issuedDuring = pass.next;
        while (pass.next < buckets.size()) pass.issue(pass.next++);
        comm.joinCompute();
        long bytes = 0;
        try (GradMode ng = GradMode.noGrad()) {
            for (Bucket b : buckets) {
                bytes += b.bytes();
                for (int k = 0; k < b.params.size(); k++) {
                    Tensor p = params.get(b.params.get(k)), slice = b.slices.get(k);
                    if (p.grad() == null) p.accumulateGrad(slice);
                    else p.grad().backend().copy(slice, p.grad());
                }
            }
        }
        lastOverlap = new Overlap(buckets.size(), issuedDuring, bytes);
        lastIssueTimes = new IssueTimes(backwardNanos, List.of(pass.issuedAt));
    }

    /** One synced backward's progress: which gradients are final, which bucket goes next. */
    private final class Pass {
        final int[] waiting = new int[buckets.size()];
        final boolean[] seen = new boolean[params.size()];
        final Long[] issuedAt = new Long[buckets.size()];
        final long start = System.nanoTime();
        int next;

        Pass() {
            for (int b = 0; b < buckets.size(); b++) waiting[b] = buckets.get(b).params.size();
        }

        void ready(Tensor leaf) {
            Integer i = bucketedIndex.get(leaf);
            if (i == null || seen[i]) return;
            seen[i] = true;
            waiting[bucketOf[i]]--;
            while (next < buckets.size() && waiting[next] == 0) issue(next++);
        }

        /** Flattens bucket b (gradients final, or missing: zero) and starts its all-reduce. */
        void issue(int b) {
            Bucket bucket = buckets.get(b);
            try (GradMode ng = GradMode.noGrad()) {
                for (int k = 0; k < bucket.params.size(); k++) {
                    Tensor g = params.get(bucket.params.get(k)).grad(), slice = bucket.slices.get(k);
                    if (g != null) slice.backend().copy(g, slice);
                    else slice.backend().fill(slice, 0);
                }
            }
            comm.allReduce(bucket.flat, ReduceOp.AVG);
            issuedAt[b] = System.nanoTime() - start;
        }
    }

    /** While open, backward() accumulates gradients locally without communication. */
    public NoSync noSync() {
        checkOpen();
        noSyncDepth++;
        return new NoSync() {
            private boolean done;

            @Override
            public void close() {
                if (done) return;
                done = true;
                noSyncDepth--;
            }
        };
    }

    /** Copies rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's broadcast_buffers. */
    public void broadcastBuffers() {
        checkOpen();
        broadcastFromRank0(module.namedBuffers().values());
    }

    public Overlap lastOverlap() { return lastOverlap; }

    public IssueTimes lastIssueTimes() { return lastIssueTimes; }

    /** Broadcasts in one group; a non-contiguous tensor goes through a contiguous copy. */
    private void broadcastFromRank0(Iterable<Tensor> tensors) {
        Map<Tensor, Tensor> staged = new IdentityHashMap<>();
        try (GradMode ng = GradMode.noGrad()) {
            try (Communicator.Group g = comm.group()) {
                for (Tensor t : tensors) {
                    Tensor target = t;
                    if (!t.isContiguous()) {
                        target = Tensor.empty(t.dtype(), t.device(), t.shape());
                        t.backend().copy(t, target);
                        staged.put(t, target);
                    }
                    comm.broadcast(target, 0);
                }
            }
            comm.joinCompute();
            for (var e : staged.entrySet()) {
                e.getKey().backend().copy(e.getValue(), e.getKey());
                e.getValue().close();
            }
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("DistributedDataParallel: used after close()");
    }

    private void checkTrainableUnchanged() {
        for (int i = 0; i < params.size(); i++) {
            if (params.get(i).requiresGrad() != trainable[i]) {
                throw new IllegalStateException("DistributedDataParallel: parameter '" + names.get(i) + "' "
                        + (trainable[i] ? "stopped" : "started") + " requiring grad after the model was wrapped;"
                        + " wrap it again after freezing or unfreezing (the gradient buckets are fixed)");
            }
        }
    }

    /** Frees the bucket buffers; the module and the communicator stay the caller's. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Bucket b : buckets) {
            b.slices.forEach(Tensor::close);
            b.flat.close();
        }
    }
}
