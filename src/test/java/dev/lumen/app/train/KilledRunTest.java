package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs in other processes, as users meet them: a run in another JVM holds its folder (a run into
 * it is refused naming that JVM's pid); SIGKILLed while it writes a checkpoint, it leaves every
 * checkpoint loadable, and the resumed run takes over its stale lock, removes its temporary
 * files and finishes.
 */
class KilledRunTest {
    @TempDir Path tmp;

    @Test
    void aRunKilledDuringACheckpointWriteResumesAndItsLockIsTakenOver() throws Exception {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path run = tmp.resolve("run");
        Path log = tmp.resolve("child.log");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "dev.lumen.app.LumenCli", "train"));
        cmd.addAll(TrainFixtures.tinyArgs(data, run, 50));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Path lock = run.resolve(RunFolder.LOCK);
            while (child.isAlive() && !(Files.exists(lock) && Files.readString(lock).strip().equals(String.valueOf(child.pid())))) Thread.sleep(5);
            assertTrue(child.isAlive(), () -> read(log));

            TrainFixtures.Run second = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 1));
            assertEquals(1, second.code());
            assertTrue(second.err().strip().contains("another lumen train is running in this folder (pid " + child.pid() + ","), second.err());

            // kill at the moment a checkpoint's temporary file appears (from the second epoch on, a checkpoint already exists)
            try (WatchService ws = FileSystems.getDefault().newWatchService()) {
                run.register(ws, StandardWatchEventKinds.ENTRY_CREATE);
                boolean killed = false;
                while (!killed && child.isAlive()) {
                    WatchKey k = ws.poll(100, TimeUnit.MILLISECONDS);
                    if (k == null) continue;
                    for (var ev : k.pollEvents()) {
                        String name = String.valueOf(ev.context());
                        if (name.startsWith("last.safetensors.") && name.endsWith(".tmp") && Files.exists(run.resolve("last.safetensors"))) {
                            child.destroyForcibly();
                            killed = true;
                            break;
                        }
                    }
                    k.reset();
                }
            }
            assertTrue(child.waitFor(1, TimeUnit.MINUTES));
            assertTrue(child.exitValue() != 0, () -> "the run ended before it could be killed: " + read(log));
        } finally {
            child.destroyForcibly();
        }

        // every checkpoint the kill left is whole
        int saved = 0;
        for (String f : List.of("best.safetensors", "last.safetensors")) {
            try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(run.resolve(f))) {
                saved = ((Number) l.info().get("epoch")).intValue();
                assertTrue(saved >= 1, f);
            }
        }
        // a kill a moment later would have left this half-written file
        Files.write(run.resolve("last.safetensors.4242.tmp"), new byte[4096]);
        TrainFixtures.Run resumed = TrainFixtures.lumenTrain(List.of("--resume", run.resolve("last.safetensors").toString(), "--epochs", String.valueOf(saved + 1), "--quiet"));
        assertEquals(0, resumed.code(), resumed.out() + resumed.err());
        // the kernel released the dead JVM's lock; its pid is still written, so the takeover is reported
        assertTrue(resumed.out().contains("taking over the lock of a run that ended without releasing it"), resumed.out());
        try (Stream<Path> s = Files.list(run)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file is left");
        }
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(run.resolve("last.safetensors"))) {
            assertEquals(saved + 1, ((Number) l.info().get("epoch")).intValue());
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log)";
        }
    }
}
