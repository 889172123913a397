package dev.lumen.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.backend.ConvKernels.Window;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * oneDNN under signals, as JFR's sampler sends them (SIGUSR2 to a thread in native code):
 * libdnnl2's f32 GEMM kernels run with the stack register in the heap, and before
 * {@link SignalMask} a few thousand signals corrupted the C heap within seconds (3 runs of 3
 * aborted with "corrupted size vs. prev_size"; rcvit_xs under JFR crashed 2 runs of 3). The
 * storm runs in a child JVM, whose crash is the failure.
 */
class OneDnnSignalTest {
    private static final int SIGUSR2 = 12, SIGINT = 2, SIGTERM = 15;
    private static final String WORKER = "onednn-storm";

    /** Child: GEMMs and a convolution on a worker while this thread signals it; prints what it saw. */
    public static void main(String[] args) throws Throwable {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MethodHandle gettid = linker.downcallHandle(libc.find("gettid").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
        MethodHandle self = linker.downcallHandle(libc.find("pthread_self").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        MethodHandle kill = linker.downcallHandle(libc.find("pthread_kill").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        OneDnn dnn = OneDnn.instance();
        long millis = Long.parseLong(args[0]);
        int n = 256;
        Arena arena = Arena.ofShared();
        MemorySegment a = arena.allocate(4L * n * n, 64), b = arena.allocate(4L * n * n, 64), c = arena.allocate(4L * n * n, 64);
        OneDnnConv conv = new OneDnnConv(dnn, OneDnnConv.Layouts.BY_WINDOW);
        OneDnnConv.Shape shape = new OneDnnConv.Shape(2, 24, 28, 28, 56, 14, 14, 1, new Window(3, 3, 2, 2, 1, 1, 1, 1));
        MemorySegment x = arena.allocate(4L * 2 * 24 * 28 * 28, 64), w = arena.allocate(4L * 56 * 24 * 9, 64);
        MemorySegment y = arena.allocate(4L * 2 * 56 * 14 * 14, 64), gw = arena.allocate(4L * 56 * 24 * 9, 64);
        long[] handle = new long[1];
        int[] tid = new int[1];
        long[] calls = new long[1];
        // The worker stays alive until its threads are read: its OpenMP workers end with it.
        CountDownLatch stormOver = new CountDownLatch(1), inspected = new CountDownLatch(1);
        Thread worker = new Thread(() -> {
            try {
                tid[0] = (int) gettid.invokeExact();
                handle[0] = (long) self.invokeExact();
                long end = System.nanoTime() + millis * 1_000_000L;
                while (System.nanoTime() < end) {
                    dnn.sgemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n);
                    conv.forward(shape, x, w, null, y);
                    conv.backwardWeights(shape, y, x, gw);
                    calls[0]++;
                    try (Arena churn = Arena.ofConfined()) { // frees and allocations that a corrupted heap fails on
                        for (int i = 0; i < 16; i++) churn.allocate(1000 + 37L * i);
                    }
                }
                stormOver.countDown();
                inspected.await();
            } catch (Throwable e) {
                e.printStackTrace();
                System.exit(3);
            }
        }, WORKER);
        worker.start();
        while (handle[0] == 0 && worker.isAlive()) Thread.onSpinWait();
        long sent = 0;
        while (stormOver.getCount() > 0 && worker.isAlive()) {
            int status = (int) kill.invokeExact(handle[0], SIGUSR2);
            if (status == 0) sent++;
            Thread.sleep(0, 200_000);
        }
        stormOver.await();
        // OpenMP workers inherit the name and the signal mask of the thread that started them.
        List<String> unprotected = new ArrayList<>();
        int workers = 0;
        for (Path task : tasks()) {
            String status = Files.readString(task.resolve("status"));
            if (!status.contains("Name:\t" + WORKER)) continue;
            long blocked = Long.parseUnsignedLong(field(status, "SigBlk:"), 16);
            if (task.getFileName().toString().equals(Integer.toString(tid[0]))) {
                if ((blocked & (1L << (SIGUSR2 - 1))) != 0) unprotected.add("the caller's mask was not restored");
                continue;
            }
            workers++;
            for (int s : new int[] {SIGUSR2, SIGINT, SIGTERM}) {
                if ((blocked & (1L << (s - 1))) == 0) unprotected.add(task.getFileName() + " takes signal " + s);
            }
        }
        inspected.countDown();
        worker.join();
        System.out.println("calls " + calls[0] + " signals " + sent + " openmp-workers " + workers + " unprotected " + unprotected);
    }

    private static List<Path> tasks() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/task"))) {
            return s.toList();
        }
    }

    private static String field(String status, String name) {
        return status.lines().filter(l -> l.startsWith(name)).findFirst().orElseThrow().substring(name.length()).strip();
    }

    @Test
    void gemmsAndConvolutionsSurviveASignalStorm(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("child.log");
        assertNotNull(OneDnn.instance(), "libdnnl2 is installed here (make deps) but did not load: " + OneDnn.failure());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Dlumen.threads=2", "-cp", System.getProperty("java.class.path"), OneDnnSignalTest.class.getName(), "3000"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean finished = p.waitFor(120, TimeUnit.SECONDS);
        if (!finished) p.destroyForcibly().waitFor();
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(finished, "the child JVM finished:\n" + text);
        assertEquals(0, p.exitValue(), "the child JVM died under signals:\n" + text);
        String line = text.lines().filter(l -> l.startsWith("calls ")).findFirst().orElseThrow(() -> new AssertionError(text));
        String[] f = line.split(" ");
        assertTrue(Long.parseLong(f[1]) > 100 && Long.parseLong(f[3]) > 1000, "enough calls and signals to hit the kernels: " + line);
        assertTrue(Integer.parseInt(f[5]) >= 1, "oneDNN ran on OpenMP workers (2 threads): " + line);
        assertTrue(line.endsWith("unprotected []"), "every OpenMP worker blocks asynchronous signals: " + line);
    }
}
