package dev.lumen.app.data;

/**
 * One rank's share of an epoch's sample order, as PyTorch's DistributedSampler with
 * drop_last=False: every rank takes the same seed-determined permutation of the whole dataset,
 * padded by wrapping around to a multiple of the world size, and keeps positions rank,
 * rank + world, ... So the shards are disjoint (apart from the padding, at most world - 1 repeats)
 * and together cover every sample. Without padding (validation) the shards differ by at most one
 * sample and cover the dataset exactly once.
 */
public record DistributedSampler(int rank, int worldSize, boolean pad) {
    public DistributedSampler {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new IllegalArgumentException("sampler: rank " + rank + " outside a world of " + worldSize);
    }

    /** The samples of this rank per epoch for a dataset of n. */
    public int shardSize(int n) {
        return pad ? (n + worldSize - 1) / worldSize : (n - rank + worldSize - 1) / worldSize;
    }

    /** This rank's part of order (the whole epoch's permutation, the same on every rank). */
    public int[] shard(int[] order) {
        int n = order.length;
        int[] out = new int[shardSize(n)];
        for (int i = 0; i < out.length; i++) out[i] = order[(rank + i * worldSize) % n];
        return out;
    }
}
