package dev.lumen.app.dist;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;

/**
 * What this process must do in a data-parallel job, before it has met the other nodes: how many
 * nodes, which one it is, where node 0 listens, and which local GPUs it drives. Options win over
 * the environment; the environment is SLURM's (an srun step: SLURM_STEP_NUM_NODES or
 * SLURM_NNODES, SLURM_NODEID, SLURM_STEP_NODELIST or SLURM_JOB_NODELIST) or torchrun's
 * (MASTER_ADDR, MASTER_PORT, NODE_RANK). One process per node: its threads are the node's ranks.
 */
public record LaunchPlan(int nnodes, int nodeRank, String masterHost, int masterPort, List<Integer> devices, double timeoutSeconds, boolean syncBn) {
    /** torchrun's default port. */
    public static final int DEFAULT_PORT = 29500;

    public LaunchPlan {
        devices = List.copyOf(devices);
    }

    /** The ranks of the whole job if every node drives as many GPUs as this one. */
    public int expectedWorldSize() { return nnodes * devices.size(); }

    public String master() { return masterHost + ":" + masterPort; }

    /**
     * The plan, or null when nothing asks for data-parallel training (no option, not in a
     * multi-node srun step). deviceCount is asked only for "all" without CUDA_VISIBLE_DEVICES,
     * and may throw an IllegalStateException whose message says why there are no GPUs.
     * Errors are IllegalArgumentExceptions naming the option or variable.
     */
    public static LaunchPlan resolve(DistOptions o, Map<String, String> env, IntSupplier deviceCount) {
        boolean srun = env.containsKey("SLURM_STEP_ID") && env.containsKey("SLURM_NODEID");
        int slurmNodes = srun ? envInt(env, env.containsKey("SLURM_STEP_NUM_NODES") ? "SLURM_STEP_NUM_NODES" : "SLURM_NNODES", 1) : 1;
        if (!o.given() && slurmNodes <= 1) return null;
        if (!(o.distTimeout > 0) || o.distTimeout > 86400) throw new IllegalArgumentException("--dist-timeout must be in (0, 86400] seconds, got " + o.distTimeout);

        int nnodes = o.nnodes != null ? o.nnodes : srun ? slurmNodes : 1;
        if (nnodes < 1) throw new IllegalArgumentException("--nnodes must be >= 1, got " + nnodes);
        Integer rank = o.nodeRank;
        if (rank == null && srun) rank = envInt(env, "SLURM_NODEID", 0);
        if (rank == null && env.containsKey("NODE_RANK")) rank = envInt(env, "NODE_RANK", 0);
        if (rank == null) {
            if (nnodes > 1) throw new IllegalArgumentException("--node-rank is needed with --nnodes " + nnodes + " (0 on the machine of --master-addr), or run under srun");
            rank = 0;
        }
        if (rank < 0 || rank >= nnodes) throw new IllegalArgumentException("--node-rank must be in [0, " + (nnodes - 1) + "] for --nnodes " + nnodes + ", got " + rank);
        if (srun && o.nnodes == null) checkOneTaskPerNode(env, nnodes);

        String host = null;
        int port = DEFAULT_PORT;
        if (o.masterAddr != null) {
            int colon = o.masterAddr.lastIndexOf(':');
            if (colon <= 0 || colon == o.masterAddr.length() - 1) throw new IllegalArgumentException("--master-addr must be HOST:PORT, got '" + o.masterAddr + "'");
            host = o.masterAddr.substring(0, colon);
            port = parsePort("--master-addr", o.masterAddr.substring(colon + 1));
        } else if (env.containsKey("MASTER_ADDR")) {
            host = env.get("MASTER_ADDR");
            if (env.containsKey("MASTER_PORT")) port = parsePort("MASTER_PORT", env.get("MASTER_PORT"));
        } else if (srun) {
            String list = env.getOrDefault("SLURM_STEP_NODELIST", env.get("SLURM_JOB_NODELIST"));
            if (list == null) throw new IllegalArgumentException("SLURM_JOB_NODELIST is not set; give --master-addr HOST:PORT");
            try {
                host = SlurmHostList.expand(list).get(0);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("SLURM_JOB_NODELIST: " + e.getMessage());
            }
            if (env.containsKey("MASTER_PORT")) port = parsePort("MASTER_PORT", env.get("MASTER_PORT"));
        } else if (nnodes > 1) {
            throw new IllegalArgumentException("--master-addr HOST:PORT is needed with --nnodes " + nnodes + " (or MASTER_ADDR and MASTER_PORT)");
        } else {
            host = "127.0.0.1";
        }
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        List<Integer> devices = devices(o.devices == null ? "all" : o.devices, env, deviceCount);
        return new LaunchPlan(nnodes, rank, host, port, devices, o.distTimeout, o.syncBn);
    }

    /** srun must start one lumen per node: its threads are that node's ranks. */
    private static void checkOneTaskPerNode(Map<String, String> env, int nnodes) {
        String key = env.containsKey("SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
        if (!env.containsKey(key)) return;
        int tasks = envInt(env, key, nnodes);
        if (tasks != nnodes) {
            throw new IllegalArgumentException(key + "=" + tasks + " on " + nnodes + " nodes: Lumen runs one process per node (its threads drive the GPUs);"
                    + " start it with srun --ntasks-per-node=1");
        }
    }

    /** "0,1,3" or "all" (CUDA_VISIBLE_DEVICES, else SLURM_GPUS_ON_NODE, else the driver's count): local ordinals, as the driver numbers them. */
    static List<Integer> devices(String spec, Map<String, String> env, IntSupplier deviceCount) {
        String s = spec.trim();
        if (s.equalsIgnoreCase("all")) {
            int n;
            String visible = env.get("CUDA_VISIBLE_DEVICES");
            if (visible != null) {
                // The driver numbers the visible devices 0..k-1; an empty list or -1 hides them all.
                n = visible.isBlank() || visible.trim().startsWith("-1") ? 0 : visible.split(",").length;
                if (n == 0) throw new IllegalArgumentException("--devices all: CUDA_VISIBLE_DEVICES='" + visible + "' hides every GPU");
            } else if (env.containsKey("SLURM_GPUS_ON_NODE")) {
                n = envInt(env, "SLURM_GPUS_ON_NODE", 0); // SLURM's GPU allocation of this node
                if (n < 1) throw new IllegalArgumentException("--devices all: SLURM_GPUS_ON_NODE=" + n + ": SLURM gave this node no GPU (srun --gpus-per-node)");
            } else {
                try {
                    n = deviceCount.getAsInt();
                } catch (IllegalStateException e) {
                    throw new IllegalArgumentException("--devices all: " + e.getMessage());
                }
                if (n < 1) throw new IllegalArgumentException("--devices all: the CUDA driver finds no GPU");
            }
            List<Integer> all = new ArrayList<>();
            for (int i = 0; i < n; i++) all.add(i);
            return all;
        }
        Set<Integer> out = new LinkedHashSet<>();
        for (String part : s.split(",", -1)) {
            String p = part.trim();
            if (p.startsWith("cuda:")) p = p.substring(5);
            int d;
            try {
                d = Integer.parseInt(p);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--devices must be a comma-separated list of GPU indices (0,1,2,3) or all, got '" + spec + "'");
            }
            if (d < 0) throw new IllegalArgumentException("--devices: GPU indices are >= 0, got " + d);
            if (!out.add(d)) throw new IllegalArgumentException("--devices names GPU " + d + " twice: '" + spec + "'");
        }
        return List.copyOf(out);
    }

    private static int parsePort(String what, String v) {
        try {
            int p = Integer.parseInt(v.trim());
            if (p >= 1 && p <= 65535) return p;
        } catch (NumberFormatException ignored) {
            // reported below with the value
        }
        throw new IllegalArgumentException(what + ": the port must be in [1, 65535], got '" + v + "'");
    }

    private static int envInt(Map<String, String> env, String key, int dflt) {
        String v = env.get(key);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be an integer, got '" + v + "'");
        }
    }
}
