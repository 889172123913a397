package dev.lumen.backend.cuda;

import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.List;

/** CONTRACT SKELETON (replaced before it lands): a {@link Communicator} over NCCL. */
public final class NcclCommunicator implements Communicator {
    private NcclCommunicator() {}

    /** ncclGetUniqueId: made once (global rank 0) and passed to every rank through the rendezvous. */
    public static byte[] uniqueId() { throw new UnsupportedOperationException("contract skeleton"); }

    /** ncclCommInitRank on device's context; blocks until all worldSize ranks have joined. */
    public static NcclCommunicator initRank(byte[] uniqueId, int worldSize, int rank, Device device) {
        throw new UnsupportedOperationException("contract skeleton");
    }

    /** ncclCommInitAll: one process, one rank per device, ranks in list order. */
    public static List<NcclCommunicator> initAll(List<Device> devices) {
        throw new UnsupportedOperationException("contract skeleton");
    }

    /** null when NCCL loads, else the one-line reason ("NCCL unavailable: libnccl.so.2 not found"). */
    public static String unavailableReason() { throw new UnsupportedOperationException("contract skeleton"); }

    @Override public int rank() { throw new UnsupportedOperationException(); }
    @Override public int worldSize() { throw new UnsupportedOperationException(); }
    @Override public Device device() { throw new UnsupportedOperationException(); }
    @Override public void allReduce(Tensor t, ReduceOp op) { throw new UnsupportedOperationException(); }
    @Override public void broadcast(Tensor t, int root) { throw new UnsupportedOperationException(); }
    @Override public void allGather(Tensor in, Tensor out) { throw new UnsupportedOperationException(); }
    @Override public void reduceScatter(Tensor in, Tensor out, ReduceOp op) { throw new UnsupportedOperationException(); }
    @Override public void joinCompute() { throw new UnsupportedOperationException(); }
    @Override public Group group() { throw new UnsupportedOperationException(); }
    @Override public void checkHealth() { throw new UnsupportedOperationException(); }
    @Override public void abort() { throw new UnsupportedOperationException(); }
    @Override public void close() { throw new UnsupportedOperationException(); }
}
