package dev.lumen.distributed;

import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;

/**
 * One rank's handle on a group of ranks that reduce tensors together, as a NCCL communicator:
 * one per device, used by the one thread that drives that device. Every rank must issue the
 * same collectives in the same order. A collective returns without waiting for the host: it is
 * enqueued on the communicator's own stream, after the compute work already issued on the
 * device, so it overlaps with compute issued after it (DDP's gradient buckets during backward).
 * {@link #joinCompute()} orders later compute after it; until then the caller must neither read
 * nor free the tensors a collective uses.
 *
 * <p>Tensors are contiguous, on {@link #device()}, and of the same dtype and element count on
 * every rank. A failure of a peer (a dead process, a lost connection) surfaces as a
 * {@link CommunicatorFailure} from the next call or from {@link #checkHealth()}, never as a hang.
 */
public interface Communicator extends AutoCloseable {
    /** This rank, 0 .. worldSize-1. */
    int rank();

    int worldSize();

    /** The device whose tensors this communicator reduces. */
    Device device();

    /** In place over all ranks: every rank ends with the same reduced values. */
    void allReduce(Tensor t, ReduceOp op);

    /** Copies root's t into every rank's t. */
    void broadcast(Tensor t, int root);

    /** out holds worldSize x in.numel() elements: rank r's in lands at slot r. */
    void allGather(Tensor in, Tensor out);

    /** in holds worldSize x out.numel() elements; rank r gets slot r of the reduction. */
    void reduceScatter(Tensor in, Tensor out, ReduceOp op);

    /** Makes the device's compute stream wait for every collective issued so far (an event, not a host wait). */
    void joinCompute();

    /**
     * Collectives issued until the returned group closes are launched together (ncclGroupStart /
     * ncclGroupEnd): the way one thread drives several communicators without deadlock, and the
     * way many small reductions become one launch.
     */
    Group group();

    /** Throws {@link CommunicatorFailure} if the communicator saw an asynchronous error. */
    void checkHealth();

    /**
     * Abandons pending and future collectives (a peer died): calls in flight return with an
     * error instead of waiting for the dead rank. The communicator is unusable afterwards.
     */
    void abort();

    /** Frees the communicator once its work is done (ncclCommDestroy). */
    @Override
    void close();

    /** A group of collectives, launched when it closes. */
    interface Group extends AutoCloseable {
        @Override
        void close();
    }
}
