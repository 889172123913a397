package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.Nccl;
import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.CommunicatorFailure;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * NcclCommunicator over the emulated NCCL (the real one under `make gpu-test`): four ranks as
 * threads of this JVM for every collective, reduction op and dtype against a CPU reference; the
 * same bits whatever order the ranks arrive in; one thread driving every rank through groups;
 * two processes of two ranks over loopback; a killed peer process and an abort from another
 * thread ending a waiting all-reduce with the rank named; bad tensors refused in one line.
 */
class NcclCommunicatorTest {
    static final Device CUDA = NcclRanks.CUDA;
    static final int WORLD = 4;
    static final DType[] DTYPES = {DType.F32, DType.F16, DType.BF16, DType.F64, DType.I32, DType.I64};

    @BeforeAll
    static void cuda() {
        DeviceCheck.requireCuda();
        String why = NcclCommunicator.unavailableReason();
        if (Boolean.getBoolean("lumen.cuda.required")) assertNull(why, "NCCL must load where the emulator was built");
        Assumptions.assumeTrue(why == null, why);
    }

    /** Real NCCL wants one GPU per rank; the emulated one also takes several ranks per device. */
    static void requireRanksOnOneDevice(int ranks) {
        Assumptions.assumeTrue(ranks <= CudaContext.deviceCount() || CudaContext.get().driver().isEmulated(),
                "real NCCL needs one GPU per rank: " + ranks + " ranks, " + CudaContext.deviceCount() + " GPUs");
    }

    /**
     * The peer-process tests run in the plain emulator run only: the ASan run instruments the
     * driver and kernels, which a collective does not reach, and each JVM start costs seconds.
     */
    static void requireSeparateProcesses() {
        String driver = System.getProperty("lumen.cuda.driver", "");
        Assumptions.assumeFalse(driver.endsWith("_asan.so"), "peer-process tests run in the plain emulator run only (driver " + driver + ")");
        requireRanksOnOneDevice(2);
    }

    /** Every rank's communicator, made by ranks on threads through one unique id. */
    static NcclCommunicator[] initRanks(int n) {
        requireRanksOnOneDevice(n);
        byte[] id = NcclCommunicator.uniqueId();
        NcclCommunicator[] comms = new NcclCommunicator[n];
        NcclRanks.onThreads(n, 60, r -> comms[r] = NcclCommunicator.initRank(id, n, r, NcclRanks.device(r)));
        return comms;
    }

    static void closeAll(Communicator... comms) {
        for (Communicator c : comms) c.close();
    }

    /** The reduction of every rank's input, in double (exact for these inputs), rounded like dtype. */
    static double[] reference(int count, DType dtype, ReduceOp op, int world) {
        double[] acc = NcclRanks.input(0, count, dtype);
        for (int r = 1; r < world; r++) {
            double[] in = NcclRanks.input(r, count, dtype);
            for (int i = 0; i < count; i++) {
                acc[i] = switch (op) {
                    case SUM, AVG -> acc[i] + in[i];
                    case PROD -> acc[i] * in[i];
                    case MAX -> Math.max(acc[i], in[i]);
                    case MIN -> Math.min(acc[i], in[i]);
                };
            }
        }
        if (op == ReduceOp.AVG) {
            boolean integral = !dtype.isFloating();
            for (int i = 0; i < count; i++) acc[i] = integral ? (long) acc[i] / world : acc[i] / world;
        }
        return acc;
    }

    static double[] host(Tensor t) { return t.to(Device.CPU).toDoubles(); }

    @Test
    void everyCollectiveOpAndDtypeMatchesTheCpuReference() {
        NcclCommunicator[] comms = initRanks(WORLD);
        int n = 37;  // odd: no rank's share is a round number of bytes
        NcclRanks.onThreads(WORLD, 120, r -> {
            NcclCommunicator c = comms[r];
            assertEquals(r, c.rank());
            assertEquals(WORLD, c.worldSize());
            for (DType dtype : DTYPES) {
                for (ReduceOp op : ReduceOp.values()) {
                    Tensor t = NcclRanks.deviceInput(r, n, dtype);
                    c.allReduce(t, op);
                    c.joinCompute();
                    assertArrayEquals(reference(n, dtype, op, WORLD), host(t), 0.0, "allReduce " + op + " " + dtype);

                    Tensor in = NcclRanks.deviceInput(r, n * WORLD, dtype);
                    Tensor out = Tensor.full(-5, dtype, NcclRanks.device(r), n);
                    c.reduceScatter(in, out, op);
                    c.joinCompute();
                    double[] whole = reference(n * WORLD, dtype, op, WORLD);
                    assertArrayEquals(Arrays.copyOfRange(whole, r * n, (r + 1) * n), host(out), 0.0, "reduceScatter " + op + " " + dtype);
                }
                Tensor b = NcclRanks.deviceInput(r, n, dtype);
                c.broadcast(b, 2);
                Tensor gathered = Tensor.full(-7, dtype, NcclRanks.device(r), WORLD, n);
                c.allGather(NcclRanks.deviceInput(r, n, dtype), gathered);
                c.joinCompute();
                assertArrayEquals(NcclRanks.input(2, n, dtype), host(b), 0.0, "broadcast " + dtype);
                double[] g = host(gathered);
                for (int k = 0; k < WORLD; k++) {
                    assertArrayEquals(NcclRanks.input(k, n, dtype), Arrays.copyOfRange(g, k * n, (k + 1) * n), 0.0, "allGather " + dtype);
                }
            }
            Tensor flags = NcclRanks.deviceInput(r, n, DType.BOOL);
            c.allReduce(flags, ReduceOp.MAX);
            c.joinCompute();
            assertArrayEquals(reference(n, DType.BOOL, ReduceOp.MAX, WORLD), host(flags), 0.0, "allReduce MAX BOOL");
        });
        closeAll(comms);
    }

    @Test
    void resultsAreTheSameBitsWhateverOrderTheRanksArriveIn() {
        NcclCommunicator[] comms = initRanks(WORLD);
        int n = 4099;
        float[][] inputs = new float[WORLD][];
        for (int r = 0; r < WORLD; r++) inputs[r] = Tensor.randn(new Generator(100 + r), DType.F32, n).toFloats();
        int[][] arrival = {{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2}};
        List<float[]> sums = new ArrayList<>();
        List<double[]> halves = new ArrayList<>();
        for (int[] order : arrival) {
            float[][] sum = new float[WORLD][];
            double[][] bf16 = new double[WORLD][];
            NcclRanks.onThreads(WORLD, 60, r -> {
                Tensor t = Tensor.fromFloats(inputs[r], n).to(NcclRanks.device(r));
                Tensor h = Tensor.fromFloats(inputs[r], n).to(DType.BF16).to(NcclRanks.device(r));
                sleep(order[r] * 40L);  // rank order[r]-th to arrive
                comms[r].allReduce(t, ReduceOp.SUM);
                comms[r].allReduce(h, ReduceOp.AVG);
                comms[r].joinCompute();
                sum[r] = t.to(Device.CPU).toFloats();
                bf16[r] = host(h);
            });
            for (int r = 1; r < WORLD; r++) {
                assertArrayEquals(sum[0], sum[r], 0f, "every rank ends with the same sums");
                assertArrayEquals(bf16[0], bf16[r], 0.0);
            }
            sums.add(sum[0]);
            halves.add(bf16[0]);
        }
        for (int k = 1; k < arrival.length; k++) {
            assertTrue(Arrays.equals(sums.getFirst(), sums.get(k)), "F32 sums differ between arrival orders " + Arrays.toString(arrival[k]));
            assertArrayEquals(halves.getFirst(), halves.get(k), 0.0, "BF16 averages differ between arrival orders");
        }
        if (CudaContext.get().driver().isEmulated()) {
            // The emulated NCCL reduces in rank order 0..n-1: F32 step by step, 16-bit types in F32, rounded once.
            float[] want = inputs[0].clone();
            for (int r = 1; r < WORLD; r++) for (int i = 0; i < n; i++) want[i] += inputs[r][i];
            assertTrue(Arrays.equals(want, sums.getFirst()), "F32 sums are not the rank-order sums");
            float[] avg = new float[n];
            for (int i = 0; i < n; i++) {
                float acc = 0;
                for (int r = 0; r < WORLD; r++) acc += bf16(inputs[r][i]);
                avg[i] = acc / WORLD;
            }
            assertArrayEquals(Tensor.fromFloats(avg, n).to(DType.BF16).toDoubles(), halves.getFirst(), 0.0);
        }
        closeAll(comms);
    }

    static float bf16(float v) { return (float) Tensor.fromFloats(new float[] {v}, 1).to(DType.BF16).toDoubles()[0]; }

    @Test
    void oneThreadDrivesEveryRankThroughGroups() {
        requireRanksOnOneDevice(WORLD);
        List<NcclCommunicator> comms = NcclCommunicator.initAll(NcclRanks.devices(WORLD));
        assertEquals(WORLD, comms.size());
        int n = 513;
        List<Tensor> sums = new ArrayList<>(), bcast = new ArrayList<>(), gathered = new ArrayList<>();
        try (Communicator.Group g = comms.getFirst().group()) {
            for (NcclCommunicator c : comms) {
                assertEquals(comms.indexOf(c), c.rank());
                Tensor t = NcclRanks.deviceInput(c.rank(), n, DType.F32);
                c.allReduce(t, ReduceOp.SUM);
                sums.add(t);
                Tensor b = NcclRanks.deviceInput(c.rank(), n, DType.F16);
                c.broadcast(b, 3);
                bcast.add(b);
                Tensor out = Tensor.zeros(DType.BF16, c.device(), WORLD * 2);
                c.allGather(Tensor.full(c.rank(), DType.BF16, c.device(), 2), out);
                gathered.add(out);
            }
        }
        double[] gatherWant = {0, 0, 1, 1, 2, 2, 3, 3};
        for (NcclCommunicator c : comms) {
            c.joinCompute();
            assertArrayEquals(reference(n, DType.F32, ReduceOp.SUM, WORLD), host(sums.get(c.rank())), 0.0);
            assertArrayEquals(NcclRanks.input(3, n, DType.F16), host(bcast.get(c.rank())), 0.0);
            assertArrayEquals(gatherWant, host(gathered.get(c.rank())), 0.0);
            c.checkHealth();
        }
        for (NcclCommunicator c : comms) c.close();
    }

    /** A sanity figure of the transport (not a GPU number where emulated): 4 ranks of 4 MiB, all-reduced AVG in groups. */
    @Test
    void allReduceBandwidthOfOneProcess() {
        requireRanksOnOneDevice(WORLD);
        Assumptions.assumeFalse(System.getProperty("lumen.cuda.driver", "").endsWith("_asan.so"), "timed in the plain run only");
        List<NcclCommunicator> comms = NcclCommunicator.initAll(NcclRanks.devices(WORLD));
        int big = 1 << 20, reps = 5;
        List<Tensor> bufs = new ArrayList<>();
        for (int r = 0; r < WORLD; r++) bufs.add(Tensor.full(r, DType.F32, NcclRanks.device(r), big));
        long t0 = 0;
        for (int k = -1; k < reps; k++) {  // k = -1 warms up (first touch of the buffers, JIT)
            if (k == 0) t0 = System.nanoTime();
            try (Communicator.Group g = comms.getFirst().group()) {
                for (NcclCommunicator c : comms) c.allReduce(bufs.get(c.rank()), ReduceOp.AVG);
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9 / reps, bytes = 4.0 * big;
        System.out.printf("NCCL all-reduce (%s), %d ranks in one process, %.0f MiB: %.2f ms, bus bandwidth %.2f GB/s%n",
                Nccl.get().library(), WORLD, bytes / (1 << 20), seconds * 1e3, bytes * 2 * (WORLD - 1) / WORLD / seconds / 1e9);
        for (NcclCommunicator c : comms) {
            c.joinCompute();
            float[] v = bufs.get(c.rank()).to(Device.CPU).toFloats();
            assertEquals(1.5f, v[0]);  // the mean of 0..3, unchanged by repeating it
            assertEquals(1.5f, v[big - 1]);
            c.close();
        }
    }

    @Test
    void twoProcessesOfTwoRanksEachOverLoopback() throws Exception {
        requireSeparateProcesses();
        byte[] id = NcclCommunicator.uniqueId();
        Process peer = NcclRanks.startPeer(id, "4", "2", "2", "collectives");
        try {
            NcclRanks.onThreads(2, 90, r -> {
                try (NcclCommunicator c = NcclCommunicator.initRank(id, 4, r, NcclRanks.device(r))) {
                    NcclPeerProcess.collectives(c);
                    c.checkHealth();
                }
            });
            assertTrue(peer.waitFor(60, TimeUnit.SECONDS), "the peer process did not finish");
            assertEquals(0, peer.exitValue(), "the peer process (ranks 2 and 3) failed; its stderr is above");
        } finally {
            peer.destroyForcibly();
        }
    }

    @Test
    void aKilledPeerProcessFailsThePendingAllReduceNamingTheRank() throws Exception {
        requireSeparateProcesses();
        byte[] id = NcclCommunicator.uniqueId();
        Process peer = NcclRanks.startPeer(id, "2", "1", "1", "hang");
        try {
            CompletableFuture<NcclCommunicator> init = CompletableFuture.supplyAsync(() -> NcclCommunicator.initRank(id, 2, 0, CUDA));
            BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("joined 1", out.readLine());
            NcclCommunicator c = init.get(60, TimeUnit.SECONDS);
            CompletableFuture<Void> pending = CompletableFuture.runAsync(() -> c.allReduce(Tensor.full(1, DType.F32, CUDA, 1000), ReduceOp.SUM));
            Thread.sleep(300);
            assertTrue(!pending.isDone(), "the all-reduce must wait for rank 1");
            long killed = System.nanoTime();
            peer.destroyForcibly();
            ExecutionException e = assertThrows(ExecutionException.class, () -> pending.get(30, TimeUnit.SECONDS));
            double waited = (System.nanoTime() - killed) / 1e9;
            assertTrue(e.getCause() instanceof CommunicatorFailure, "expected a CommunicatorFailure, got " + e.getCause());
            String msg = e.getCause().getMessage();
            assertTrue(msg.contains("rank 1 (pid " + peer.pid()), msg);
            assertTrue(msg.contains("ncclRemoteError"), msg);
            assertTrue(!msg.contains("\n"), "one line: " + msg);
            assertTrue(waited < 10, "the failure took " + waited + " s");
            CommunicatorFailure health = assertThrows(CommunicatorFailure.class, c::checkHealth);
            assertTrue(health.getMessage().contains("rank 1"), health.getMessage());
            c.close();
        } finally {
            peer.destroyForcibly();
        }
    }

    @Test
    void aFrozenPeerProcessFailsThePendingAllReduceAfterTheHeartbeatTimeout() throws Exception {
        requireSeparateProcesses();
        Map<String, String> env = Map.of("NCCL_EMU_TIMEOUT_MS", "2500");  // short, yet long enough for a busy CI machine
        Process root = NcclRanks.startPeer(env, "new", "2", "0", "1", "expect-failure");
        Process frozen = null;
        try {
            BufferedReader rootOut = new BufferedReader(new InputStreamReader(root.getInputStream(), StandardCharsets.UTF_8));
            String idLine = rootOut.readLine();
            assertTrue(idLine != null && idLine.startsWith("id "), "the root process printed " + idLine);
            frozen = NcclRanks.startPeer(env, idLine.substring(3), "2", "1", "1", "hang");
            BufferedReader frozenOut = new BufferedReader(new InputStreamReader(frozen.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("joined 1", frozenOut.readLine());
            assertEquals("joined 0", rootOut.readLine());
            // SIGSTOP: the process lives on, its connection stays open, but its heartbeats stop.
            assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(frozen.pid())).start().waitFor());
            long stopped = System.nanoTime();
            String failed = rootOut.readLine();
            double waited = (System.nanoTime() - stopped) / 1e9;
            assertTrue(failed != null && failed.startsWith("failed: "), "the root process printed " + failed);
            assertTrue(failed.contains("rank 1 (pid " + frozen.pid()) && failed.contains("stopped responding (no heartbeat for"), failed);
            assertTrue(waited >= 1.0 && waited < 10, "the failure came after " + waited + " s with a 2.5 s timeout");
            assertTrue(root.waitFor(30, TimeUnit.SECONDS) && root.exitValue() == 0, "the root process did not end cleanly");
        } finally {
            root.destroyForcibly();
            if (frozen != null) frozen.destroyForcibly();
        }
    }

    @Test
    void abortFromAnotherThreadUnblocksAWaitingAllReduce() throws Exception {
        NcclCommunicator[] comms = initRanks(2);
        CompletableFuture<Void> pending = CompletableFuture.runAsync(() -> comms[0].allReduce(Tensor.full(1, DType.F32, CUDA, 10), ReduceOp.SUM));
        Thread.sleep(200);
        assertTrue(!pending.isDone(), "the all-reduce must wait for rank 1");
        comms[0].abort();
        ExecutionException e = assertThrows(ExecutionException.class, () -> pending.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof CommunicatorFailure, "expected a CommunicatorFailure, got " + e.getCause());
        assertTrue(e.getCause().getMessage().contains("aborted"), e.getCause().getMessage());
        assertThrows(CommunicatorFailure.class, () -> comms[0].allReduce(Tensor.full(1, DType.F32, CUDA, 10), ReduceOp.SUM));
        // The other rank learns of it: its next call and its health check fail, naming rank 0.
        CommunicatorFailure peer = assertThrows(CommunicatorFailure.class, comms[1]::checkHealth);
        assertTrue(peer.getMessage().contains("rank 0"), peer.getMessage());
        CommunicatorFailure next = assertThrows(CommunicatorFailure.class,
                () -> comms[1].allReduce(Tensor.full(1, DType.F32, NcclRanks.device(1), 10), ReduceOp.SUM));
        assertTrue(next.getMessage().contains("rank 0") && next.getMessage().contains("aborted"), next.getMessage());
        closeAll(comms);
    }

    @Test
    void badTensorsAreRefusedInOneLine() {
        List<NcclCommunicator> comms = NcclCommunicator.initAll(List.of(CUDA));
        NcclCommunicator c = comms.getFirst();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> c.allReduce(Tensor.zeros(DType.F32, CUDA, 4, 6).transpose(0, 1), ReduceOp.SUM));
        assertTrue(e.getMessage().contains("allReduce: tensor must be contiguous"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.broadcast(Tensor.zeros(4), 0));
        assertTrue(e.getMessage().contains("tensor is on cpu, but the communicator of rank 0 is on cuda:0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.allGather(Tensor.zeros(DType.F32, CUDA, 3), Tensor.zeros(DType.F32, CUDA, 4)));
        assertTrue(e.getMessage().contains("out has 4 elements, expected world size 1 x 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.allReduce(Tensor.zeros(DType.BOOL, CUDA, 3), ReduceOp.SUM));
        assertTrue(e.getMessage().contains("SUM over BOOL"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.broadcast(Tensor.zeros(DType.F32, CUDA, 3), 1));
        assertTrue(e.getMessage().contains("root 1 outside 0..0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> NcclCommunicator.initRank(new byte[128], 2, 2, CUDA));
        assertTrue(e.getMessage().contains("rank 2 of world size 2"), e.getMessage());
        c.close();
        assertThrows(IllegalStateException.class, () -> c.allReduce(Tensor.zeros(DType.F32, CUDA, 3), ReduceOp.SUM));
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
