package dev.lumen.distributed;

import dev.lumen.autograd.GradMode;
import dev.lumen.ops.Elementwise;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;

/**
 * A test-only communicator for one thread on any device: rank 0 of a world whose other ranks
 * hold exactly what this one holds, so a collective needs no peer (SUM multiplies by the world
 * size, AVG, MAX and MIN leave values as they are, a gather repeats). Training on it is training
 * on the local batch repeated worldSize times: what lets the device paths of DDP and
 * SyncBatchNorm run on the CUDA backend without a second thread or NCCL.
 */
final class MirrorCommunicator implements Communicator {
    private final int worldSize;
    private final Device device;
    int collectives;

    MirrorCommunicator(int worldSize, Device device) {
        this.worldSize = worldSize;
        this.device = device;
    }

    @Override
    public int rank() { return 0; }

    @Override
    public int worldSize() { return worldSize; }

    @Override
    public Device device() { return device; }

    @Override
    public void allReduce(Tensor t, ReduceOp op) {
        collectives++;
        if (op == ReduceOp.PROD) throw new UnsupportedOperationException("MirrorCommunicator: PROD");
        if (op == ReduceOp.SUM) {
            try (GradMode ng = GradMode.noGrad()) {
                Elementwise.mulInPlace(t, worldSize);
            }
        }
    }

    @Override
    public void broadcast(Tensor t, int root) { collectives++; }

    @Override
    public void allGather(Tensor in, Tensor out) {
        collectives++;
        int n = (int) in.numel();
        for (int r = 0; r < worldSize; r++) {
            try (Tensor src = in.viewOf(new int[] {n}, new int[] {1}, in.offset());
                 Tensor slot = out.viewOf(new int[] {n}, new int[] {1}, out.offset() + (long) r * n)) {
                slot.backend().copy(src, slot);
            }
        }
    }

    @Override
    public void reduceScatter(Tensor in, Tensor out, ReduceOp op) {
        throw new UnsupportedOperationException("MirrorCommunicator: reduceScatter");
    }

    @Override
    public void joinCompute() {}

    @Override
    public Group group() { return () -> {}; }

    @Override
    public void checkHealth() {}

    @Override
    public void abort() {}

    @Override
    public void close() {}
}
