package dev.lumen.app.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/** The world layout from options, SLURM's variables and torchrun's, and the global ranks it gives. */
class LaunchPlanTest {
    static final IntSupplier FOUR_GPUS = () -> 4;
    static final IntSupplier NO_DRIVER = () -> {
        throw new IllegalStateException("CUDA driver unavailable: libcuda.so.1 not found");
    };

    static DistOptions opts(String devices, Integer nnodes, Integer nodeRank, String master) {
        DistOptions o = new DistOptions();
        o.devices = devices;
        o.nnodes = nnodes;
        o.nodeRank = nodeRank;
        o.masterAddr = master;
        return o;
    }

    @Test
    void noOptionAndNoMultiNodeSrunMeansOneDevice() {
        assertNull(LaunchPlan.resolve(new DistOptions(), Map.of(), NO_DRIVER));
        // an srun step on one node with no --devices: a plain run
        assertNull(LaunchPlan.resolve(new DistOptions(), Map.of("SLURM_STEP_ID", "0", "SLURM_NODEID", "0", "SLURM_NNODES", "1"), NO_DRIVER));
    }

    @Test
    void optionsGiveTheLayout() {
        LaunchPlan p = LaunchPlan.resolve(opts("0,1,3", 2, 1, "10.0.0.5:6000"), Map.of(), NO_DRIVER);
        assertEquals(new LaunchPlan(2, 1, "10.0.0.5", 6000, List.of(0, 1, 3), 120, false), p);
        assertEquals(6, p.expectedWorldSize());
        assertEquals(List.of(0, 1, 2, 3), LaunchPlan.resolve(opts("all", null, null, null), Map.of(), FOUR_GPUS).devices());
        // CUDA_VISIBLE_DEVICES renumbers: its 2 GPUs are 0 and 1 to the driver
        assertEquals(List.of(0, 1), LaunchPlan.resolve(opts("all", null, null, null), Map.of("CUDA_VISIBLE_DEVICES", "4,6"), NO_DRIVER).devices());
        assertEquals(List.of(0, 1, 2), LaunchPlan.resolve(opts("all", null, null, null), Map.of("SLURM_GPUS_ON_NODE", "3"), NO_DRIVER).devices());
        assertEquals("::1", LaunchPlan.resolve(opts("0", 2, 0, "[::1]:29400"), Map.of(), NO_DRIVER).masterHost());
    }

    @Test
    void torchrunVariablesGiveTheMasterAndNodeRank() {
        LaunchPlan p = LaunchPlan.resolve(opts("0,1", 2, null, null), Map.of("MASTER_ADDR", "head", "MASTER_PORT", "1234", "NODE_RANK", "1"), NO_DRIVER);
        assertEquals(new LaunchPlan(2, 1, "head", 1234, List.of(0, 1), 120, false), p);
    }

    @Test
    void aMultiNodeSrunStepNeedsNoOption() {
        Map<String, String> env = Map.of("SLURM_JOB_ID", "77", "SLURM_STEP_ID", "0", "SLURM_NNODES", "4", "SLURM_STEP_NUM_NODES", "4", "SLURM_NODEID", "2",
                "SLURM_JOB_NODELIST", "gpu[07-09,12]", "SLURM_STEP_NUM_TASKS", "4", "CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6,7");
        LaunchPlan p = LaunchPlan.resolve(new DistOptions(), env, NO_DRIVER);
        assertEquals(new LaunchPlan(4, 2, "gpu07", LaunchPlan.DEFAULT_PORT, List.of(0, 1, 2, 3, 4, 5, 6, 7), 120, false), p);
        // options still win over the variables
        assertEquals(1, LaunchPlan.resolve(opts("0", null, 1, "x:1"), env, NO_DRIVER).nodeRank());
    }

    @Test
    void srunWithSeveralTasksPerNodeIsRefused() {
        Map<String, String> env = Map.of("SLURM_STEP_ID", "0", "SLURM_NNODES", "2", "SLURM_NODEID", "0", "SLURM_JOB_NODELIST", "n[1-2]", "SLURM_NTASKS", "8");
        String m = assertThrows(IllegalArgumentException.class, () -> LaunchPlan.resolve(opts("0", null, null, null), env, FOUR_GPUS)).getMessage();
        assertTrue(m.contains("SLURM_NTASKS=8 on 2 nodes") && m.contains("--ntasks-per-node=1"), m);
    }

    @Test
    void badOptionsFailInOneLineNamingTheOption() {
        assertMessage("--node-rank is needed with --nnodes 2", opts("0", 2, null, "h:1"), Map.of(), FOUR_GPUS);
        assertMessage("--node-rank must be in [0, 1] for --nnodes 2, got 2", opts("0", 2, 2, "h:1"), Map.of(), FOUR_GPUS);
        assertMessage("--master-addr HOST:PORT is needed with --nnodes 2", opts("0", 2, 1, null), Map.of(), FOUR_GPUS);
        assertMessage("--master-addr must be HOST:PORT, got 'head'", opts("0", 2, 1, "head"), Map.of(), FOUR_GPUS);
        assertMessage("--master-addr: the port must be in [1, 65535], got '70000'", opts("0", 2, 1, "head:70000"), Map.of(), FOUR_GPUS);
        assertMessage("--devices must be a comma-separated list of GPU indices (0,1,2,3) or all, got '0,x'", opts("0,x", null, null, null), Map.of(), FOUR_GPUS);
        assertMessage("--devices names GPU 1 twice", opts("1,1", null, null, null), Map.of(), FOUR_GPUS);
        assertMessage("--devices all: CUDA driver unavailable: libcuda.so.1 not found", opts("all", null, null, null), Map.of(), NO_DRIVER);
        assertMessage("--devices all: CUDA_VISIBLE_DEVICES='' hides every GPU", opts("all", null, null, null), Map.of("CUDA_VISIBLE_DEVICES", ""), FOUR_GPUS);
        assertMessage("MASTER_PORT: the port must be in [1, 65535], got 'abc'", opts("0", 2, 1, null), Map.of("MASTER_ADDR", "h", "MASTER_PORT", "abc"), FOUR_GPUS);
        DistOptions t = opts("0", null, null, null);
        t.distTimeout = 0;
        assertMessage("--dist-timeout must be in (0, 86400] seconds, got 0.0", t, Map.of(), FOUR_GPUS);
    }

    @Test
    void globalRanksAreTheNodeOffsetPlusTheLocalIndex() {
        World w = new World(List.of(new World.Node("a", 4), new World.Node("b", 4), new World.Node("c", 4)), 2);
        assertEquals(12, w.worldSize());
        assertEquals(8, w.globalRank(0));
        assertEquals(11, w.globalRank(3));
        assertEquals("ranks 4-7 on b (node 1)", w.describeNode(1));
        assertEquals("rank 0 on solo (node 0)", new World(List.of(new World.Node("solo", 1)), 0).describeNode(0));
        assertThrows(IllegalArgumentException.class, () -> w.globalRank(4));
    }

    private static void assertMessage(String expected, DistOptions o, Map<String, String> env, IntSupplier count) {
        String m = assertThrows(IllegalArgumentException.class, () -> LaunchPlan.resolve(o, env, count)).getMessage();
        assertTrue(m.startsWith(expected), () -> "expected '" + expected + "...', got '" + m + "'");
        assertTrue(!m.contains("\n"), m);
    }
}
