package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.dist.Communicators;
import dev.lumen.app.dist.DataParallelRun;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** `lumen train --devices ...` where it cannot run: one line naming the option and the reason, exit code 1, nothing written. */
class DataParallelCliTest {
    @TempDir Path tmp;

    record Run(int code, String out, String err) {}

    Run train(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        TrainCommand cmd = new TrainCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        cmd.env = env;
        CommandLine cl = new CommandLine(cmd);
        cl.setErr(new java.io.PrintWriter(cmd.err, true));
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--output", tmp.resolve("run").toString(), "--quiet"));
        int code = cl.execute(all.toArray(String[]::new));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    void assertOneLine(Run r, String expectedStart) {
        assertEquals(1, r.code(), r.out() + r.err());
        String e = r.err().strip();
        assertFalse(e.contains("\n"), e);
        assertTrue(e.startsWith(expectedStart), () -> "expected '" + expectedStart + "...', got '" + e + "'");
        assertFalse(Files.exists(tmp.resolve("run")), "nothing is written before the run can start");
    }

    @Test
    void devicesOnAMachineWithoutGpusOrNcclSayWhyInOneLine() {
        String why = DataParallelRun.unavailableReason(List.of(0, 1), Communicators.NCCL);
        Assumptions.assumeTrue(why != null, "this machine can train on GPUs 0 and 1 with NCCL");
        Run r = train(Map.of(), "--devices", "0,1");
        assertOneLine(r, "lumen train: --devices 0,1: ");
        assertTrue(r.err().contains("unavailable") || r.err().contains("there is no GPU"), r.err());
        assertTrue(r.err().strip().endsWith(why), r.err());
    }

    /** The same wherever this test runs: a child JVM whose CUDA driver library does not exist, as on a machine without GPUs. */
    @Test
    void devicesWithoutAGpuDriverSayWhyInOneLine() throws Exception {
        List<String> cmd = List.of(ProcessHandle.current().info().command().orElseThrow(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "-Dlumen.cuda.driver=/nonexistent/libcuda.so.1", LumenCli.class.getName(), "train", "--devices", "0,1",
                "--output", tmp.resolve("run").toString(), "--quiet");
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the child JVM did not end");
        assertEquals(1, p.exitValue(), err);
        // The JVM itself warns about the incubator module on stderr; Lumen's own output is one line.
        List<String> lines = err.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        assertEquals(1, lines.size(), err);
        assertTrue(lines.getFirst().startsWith("lumen train: --devices 0,1: CUDA backend unavailable: "), err);
        assertTrue(lines.getFirst().contains("/nonexistent/libcuda.so.1"), err);
        assertFalse(Files.exists(tmp.resolve("run")), "nothing is written before the run can start");
    }

    @Test
    void badDataParallelOptionsFailInOneLine() {
        assertOneLine(train(Map.of(), "--devices", "0,1", "--device", "cpu"), "lumen train: --device and --devices: give one");
        assertOneLine(train(Map.of(), "--devices", "zero"), "lumen train: --devices must be a comma-separated list of GPU indices (0,1,2,3) or all, got 'zero'");
        assertOneLine(train(Map.of(), "--devices", "0", "--nnodes", "2", "--master-addr", "head:29500"), "lumen train: --node-rank is needed with --nnodes 2");
        assertOneLine(train(Map.of(), "--devices", "0", "--nnodes", "2", "--node-rank", "1"), "lumen train: --master-addr HOST:PORT is needed with --nnodes 2");
        assertOneLine(train(Map.of("CUDA_VISIBLE_DEVICES", ""), "--devices", "all"), "lumen train: --devices all: CUDA_VISIBLE_DEVICES='' hides every GPU");
        assertOneLine(train(Map.of(), "--devices", "0", "--dist-timeout", "-1"), "lumen train: --dist-timeout must be in (0, 86400] seconds, got -1.0");
        Map<String, String> srun = Map.of("SLURM_STEP_ID", "0", "SLURM_NODEID", "0", "SLURM_NNODES", "2", "SLURM_JOB_NODELIST", "n[1-2]", "SLURM_NTASKS", "16");
        assertOneLine(train(srun, "--devices", "0"), "lumen train: SLURM_NTASKS=16 on 2 nodes: Lumen runs one process per node");
    }
}
