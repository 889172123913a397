package dev.lumen.app.dist;

import dev.lumen.backend.cuda.NcclCommunicator;
import dev.lumen.distributed.Communicator;
import dev.lumen.tensor.Device;
import java.util.List;

/** Where the ranks' communicators come from: NCCL in every real run; tests may pass their own. */
public interface Communicators {
    /** Made on global rank 0 and handed to every node through the rendezvous. */
    byte[] uniqueId();

    /** One process, one rank per device (a single node). */
    List<? extends Communicator> initAll(List<Device> devices);

    /** One rank of a multi-node world; blocks until every rank has joined. */
    Communicator initRank(byte[] uniqueId, int worldSize, int rank, Device device);

    /** Null when usable, else the one-line reason. */
    String unavailableReason();

    /** NVIDIA's NCCL, through Lumen's binding. */
    Communicators NCCL = new Communicators() {
        @Override public byte[] uniqueId() { return NcclCommunicator.uniqueId(); }

        @Override public List<? extends Communicator> initAll(List<Device> devices) { return NcclCommunicator.initAll(devices); }

        @Override public Communicator initRank(byte[] uniqueId, int worldSize, int rank, Device device) {
            return NcclCommunicator.initRank(uniqueId, worldSize, rank, device);
        }

        @Override public String unavailableReason() {
            try {
                return NcclCommunicator.unavailableReason();
            } catch (RuntimeException | LinkageError e) {
                return "NCCL unavailable: " + e.getMessage();
            }
        }
    };
}
