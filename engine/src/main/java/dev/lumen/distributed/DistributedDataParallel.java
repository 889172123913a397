package dev.lumen.distributed;

import dev.lumen.nn.Module;
import dev.lumen.tensor.Tensor;

/**
 * CONTRACT SKELETON (replaced by the real implementation before it lands): PyTorch's
 * DistributedDataParallel over a {@link Communicator}.
 */
public final class DistributedDataParallel implements AutoCloseable {
    /** PyTorch DDP's default bucket_cap_mb. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    /** What the last synced backward did: buckets, how many were issued before backward ended, bytes reduced. */
    public record Overlap(int buckets, int issuedDuringBackward, long bytes) {}

    /** Scope of --grad-accum-steps micro-batches whose gradients stay local. */
    public interface NoSync extends AutoCloseable {
        @Override
        void close();
    }

    /** Wraps model; broadcasts its parameters and buffers from rank 0 so every rank starts equal. */
    public DistributedDataParallel(Module model, Communicator comm, long bucketBytes) {
        throw new UnsupportedOperationException("contract skeleton");
    }

    public Module module() { throw new UnsupportedOperationException("contract skeleton"); }

    public Communicator communicator() { throw new UnsupportedOperationException("contract skeleton"); }

    /** root.backward() with gradient buckets all-reduced (averaged) as they fill; on return every grad is the ranks' mean. */
    public void backward(Tensor root) { throw new UnsupportedOperationException("contract skeleton"); }

    /** While open, backward() accumulates gradients locally without communication. */
    public NoSync noSync() { throw new UnsupportedOperationException("contract skeleton"); }

    /** Copies rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's broadcast_buffers. */
    public void broadcastBuffers() { throw new UnsupportedOperationException("contract skeleton"); }

    public Overlap lastOverlap() { throw new UnsupportedOperationException("contract skeleton"); }

    @Override
    public void close() { throw new UnsupportedOperationException("contract skeleton"); }
}
