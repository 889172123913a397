package dev.lumen.backend.cuda;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntConsumer;

/**
 * What the NCCL tests share with the peer processes they start: the ranks' inputs, ranks run as
 * threads, and child JVMs on the test class path. Rank r sits on cuda:(r mod the device count):
 * one GPU per rank on a machine with enough GPUs, as real NCCL wants; the emulated NCCL also takes
 * several ranks per emulated device (the tests run with 2).
 */
final class NcclRanks {
    static final Device CUDA = Device.cuda(0);

    /** The device of rank r of this process. */
    static Device device(int rank) { return Device.cuda(rank % dev.lumen.cuda.CudaContext.deviceCount()); }

    /** The devices of ranks 0..n-1 of this process. */
    static java.util.List<Device> devices(int n) {
        java.util.List<Device> d = new ArrayList<>();
        for (int r = 0; r < n; r++) d.add(device(r));
        return d;
    }

    private NcclRanks() {}

    /** Rank r's input: small integers (exact in every dtype and in any sum or product of 4 ranks), or 0/1 for BOOL. */
    static double[] input(int rank, int n, DType dtype) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            int k = (i * 7 + rank * 5 + 3) % 7;
            v[i] = dtype == DType.BOOL ? (k % 3 == 0 ? 1 : 0) : k - 3;  // -3 .. 3
        }
        return v;
    }

    static Tensor deviceInput(int rank, int n, DType dtype) {
        return Tensor.fromDoubles(input(rank, n, dtype), DType.F64, n).to(dtype).to(device(rank));
    }

    /** Runs body(rank) for ranks 0..n-1, each on its own thread; rethrows the first failure. */
    static void onThreads(int n, long timeoutSeconds, IntConsumer body) {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                futures.add(pool.submit(() -> body.accept(rank)));
            }
            for (Future<?> f : futures) {
                try {
                    f.get(timeoutSeconds, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException re) throw re;
                    if (e.getCause() instanceof Error err) throw err;
                    throw new IllegalStateException(e.getCause());
                } catch (TimeoutException e) {
                    throw new AssertionError("a rank did not finish within " + timeoutSeconds + " s (a hang)");
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** A JVM running NcclPeerProcess with the unique id and args, on this JVM's class path and Lumen system properties. */
    static Process startPeer(byte[] uniqueId, String... args) throws java.io.IOException {
        List<String> all = new ArrayList<>();
        all.add(HexFormat.of().formatHex(uniqueId));
        all.addAll(List.of(args));
        return startPeer(Map.of(), all.toArray(String[]::new));
    }

    /** The same with extra environment variables; args start with the id in hex, or "new" for one the peer makes. */
    static Process startPeer(Map<String, String> env, String... args) throws java.io.IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:TieredStopAtLevel=1", "-Xmx512m", "-cp", System.getProperty("java.class.path")));
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith("lumen.")) cmd.add("-D" + key + "=" + System.getProperty(key));
        }
        cmd.add(NcclPeerProcess.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).directory(new File("."));
        pb.environment().putAll(env);
        return pb.start();
    }
}
