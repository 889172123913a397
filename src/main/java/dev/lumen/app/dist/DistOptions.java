package dev.lumen.app.dist;

import picocli.CommandLine.Option;

/**
 * The options of data-parallel training (a mixin of {@code lumen train}). They are not part of
 * the run's config (config.json, checkpoints): a run resumes on any number of GPUs.
 */
public final class DistOptions {
    @Option(names = "--devices", paramLabel = "LIST",
            description = "Train data-parallel on these GPUs of this machine, one thread each: 0,1,2,3 or all (CUDA_VISIBLE_DEVICES, else every GPU"
                    + " the driver sees). -b is per GPU: the global batch is GPUs x -b. Default: one device (--device), or all under a multi-node srun.")
    public String devices;

    @Option(names = "--nnodes", paramLabel = "N", description = "Machines in the job, one lumen process each. Default: SLURM_NNODES, else 1.")
    public Integer nnodes;

    @Option(names = "--node-rank", paramLabel = "R", description = "This machine's index, 0 .. nnodes-1 (0 hosts the rendezvous). Default: SLURM_NODEID, else NODE_RANK.")
    public Integer nodeRank;

    @Option(names = "--master-addr", paramLabel = "HOST:PORT",
            description = "Where node 0 listens for the rendezvous. Default: MASTER_ADDR and MASTER_PORT, else the first host of SLURM_JOB_NODELIST, port 29500.")
    public String masterAddr;

    @Option(names = "--sync-bn", description = "BatchNorm statistics over the global batch (every GPU), as timm's --sync-bn.")
    public boolean syncBn;

    @Option(names = "--dist-timeout", paramLabel = "SECONDS",
            description = "How long the rendezvous waits for every node, and how soon a silent node counts as dead. Default: ${DEFAULT-VALUE}.",
            defaultValue = "120")
    public double distTimeout = 120;

    /** True when any option asks for data-parallel training. */
    public boolean given() { return devices != null || nnodes != null || nodeRank != null || masterAddr != null || syncBn; }
}
