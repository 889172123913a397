package dev.lumen.app.train;

import dev.lumen.distributed.Communicator;

/**
 * What makes a {@link Trainer} one rank of a data-parallel run: its global rank among worldSize,
 * the host it runs on (for messages) and its communicator on its own device. Rank 0 alone writes
 * the run folder; every rank runs the same collectives in the same order.
 */
public record DistributedRank(int rank, int worldSize, String host, Communicator comm, boolean syncBn) {
    public DistributedRank {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new IllegalArgumentException("rank " + rank + " outside a world of " + worldSize);
    }

    /** Rank 0 writes the run folder, logs, curves and checkpoints; the others write nothing. */
    public boolean writes() { return rank == 0; }
}
