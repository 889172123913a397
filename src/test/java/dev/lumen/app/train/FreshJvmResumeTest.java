package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --resume across processes, as a user meets it: the unbroken run, the run killed (SIGKILL)
 * after epoch 2 and its resumption each run in a JVM of their own. The unbroken run has C2
 * compiling after 50 calls, the other two stay on C1, so a kernel whose rounding depends on the
 * JIT tier (Vector API lane sums or transcendentals, say) shows up here as differing bits.
 */
class FreshJvmResumeTest {
    @TempDir Path tmp;

    private static final List<String> EARLY_C2 = List.of("-XX:-TieredCompilation", "-XX:CompileThreshold=50");
    private static final List<String> C1_ONLY = List.of("-XX:TieredStopAtLevel=1");

    private static Process lumenTrain(List<String> jvmFlags, List<String> args, Path log) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.lumen.app.LumenCli", "train"));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static int finish(Process p, Path log) throws Exception {
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "lumen train did not finish; log: " + Files.readString(log));
        return p.exitValue();
    }

    @Test
    void runKilledAfterTwoEpochsAndResumedInAnotherJvmEndsBitIdentical() throws Exception {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 6, 2);
        Path full = tmp.resolve("full"), cut = tmp.resolve("cut");

        Path fullLog = tmp.resolve("full.log");
        assertEquals(0, finish(lumenTrain(EARLY_C2, TrainFixtures.resumeRecipe(data, full, 0), fullLog), fullLog), () -> read(fullLog));

        Path cutLog = tmp.resolve("cut.log");
        Process killed = lumenTrain(C1_ONLY, TrainFixtures.resumeRecipe(data, cut, 2), cutLog);
        Path metrics = cut.resolve("metrics.csv");
        // metrics.csv gets its row after the epoch's checkpoint: header + 2 rows means epoch 2 is saved.
        while (killed.isAlive() && !(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3)) Thread.sleep(5);
        killed.destroyForcibly();
        assertNotEquals(0, finish(killed, cutLog), "the run ended before it could be killed: " + read(cutLog));

        Path resumeLog = tmp.resolve("resume.log");
        assertEquals(0, finish(lumenTrain(C1_ONLY, List.of("--resume", cut.resolve("last.safetensors").toString(), "--quiet"), resumeLog),
                resumeLog), () -> read(resumeLog));
        // The kill lands after epoch 2's checkpoint, and before the last one (the exit code says it was a kill).
        Matcher m = Pattern.compile("after epoch (\\d+) of 4").matcher(read(resumeLog));
        assertTrue(m.find() && Set.of("2", "3").contains(m.group(1)), read(resumeLog));

        TrainFixtures.assertSameBits(full.resolve("last.safetensors"), cut.resolve("last.safetensors"));
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
