package dev.lumen.backend.cuda;

import dev.lumen.distributed.CommunicatorFailure;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The other process of NcclCommunicatorTest's multi-process cases, started on the test class
 * path: {@code <unique id hex | new> <world size> <first rank> <ranks here> <mode>}. With "new" the
 * peer makes the unique id itself and prints it ("id <hex>"). Mode "collectives" runs the same
 * collectives as the parent and checks its own results (exit 0, or 1 with the reason on
 * stderr); mode "hang" joins, says "joined <rank>" and waits to be killed; mode "expect-failure"
 * joins, says "joined <rank>", and prints "failed: <message>" once an all-reduce fails (exit 0;
 * exit 1 if it succeeds).
 */
public final class NcclPeerProcess {
    private NcclPeerProcess() {}

    public static void main(String[] args) {
        byte[] id = args[0].equals("new") ? NcclCommunicator.uniqueId() : HexFormat.of().parseHex(args[0]);
        if (args[0].equals("new")) {
            System.out.println("id " + HexFormat.of().formatHex(id));
            System.out.flush();
        }
        int world = Integer.parseInt(args[1]), first = Integer.parseInt(args[2]), here = Integer.parseInt(args[3]);
        String mode = args[4];
        try {
            NcclRanks.onThreads(here, 60, i -> {
                int rank = first + i;
                try (NcclCommunicator c = NcclCommunicator.initRank(id, world, rank, NcclRanks.device(rank))) {
                    if (!mode.equals("collectives")) {
                        System.out.println("joined " + rank);
                        System.out.flush();
                    }
                    switch (mode) {
                        case "hang" -> sleepForever();
                        case "expect-failure" -> {
                            try {
                                c.allReduce(Tensor.zeros(DType.F32, c.device(), 10), ReduceOp.SUM);
                            } catch (CommunicatorFailure e) {
                                System.out.println("failed: " + e.getMessage());
                                System.out.flush();
                                return;
                            }
                            throw new AssertionError("the all-reduce succeeded");
                        }
                        default -> collectives(c);
                    }
                }
            });
        } catch (Throwable t) {
            System.err.println("peer process: " + t);
            System.exit(1);
        }
        System.exit(0);
    }

    /** The collectives of the multi-process test, each checked against what every rank must get. */
    static void collectives(NcclCommunicator c) {
        int n = 1001, world = c.worldSize();
        Tensor t = NcclRanks.deviceInput(c.rank(), n, DType.F32);
        c.allReduce(t, ReduceOp.SUM);
        Tensor gathered = Tensor.zeros(DType.F32, c.device(), world * 3);
        c.allGather(Tensor.full(c.rank() + 1, DType.F32, c.device(), 3), gathered);
        Tensor b = Tensor.full(c.rank() == 1 ? 42 : -1, DType.F32, c.device(), 5);
        c.broadcast(b, 1);
        c.joinCompute();
        double[] want = new double[n];
        for (int r = 0; r < world; r++) {
            double[] in = NcclRanks.input(r, n, DType.F32);
            for (int i = 0; i < n; i++) want[i] += in[i];
        }
        expect("allReduce", want, t.to(dev.lumen.tensor.Device.CPU).toDoubles());
        double[] g = new double[world * 3];
        for (int i = 0; i < g.length; i++) g[i] = i / 3 + 1;
        expect("allGather", g, gathered.to(dev.lumen.tensor.Device.CPU).toDoubles());
        double[] bw = new double[5];
        Arrays.fill(bw, 42);
        expect("broadcast", bw, b.to(dev.lumen.tensor.Device.CPU).toDoubles());
    }

    private static void expect(String what, double[] want, double[] got) {
        if (!Arrays.equals(want, got)) {
            throw new AssertionError(what + ": expected " + Arrays.toString(Arrays.copyOf(want, Math.min(8, want.length)))
                    + "..., got " + Arrays.toString(Arrays.copyOf(got, Math.min(8, got.length))) + "...");
        }
    }

    private static void sleepForever() {
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
