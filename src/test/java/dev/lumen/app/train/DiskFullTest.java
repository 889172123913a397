package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk that fills up during a run: a tmpfs sized for two checkpoints (last and best of epoch 1)
 * but not a third. The run stops with one line naming the file, and the epoch-1 checkpoints stay
 * whole. Mounting needs root; elsewhere the test is skipped and says so.
 */
class DiskFullTest {
    @TempDir Path tmp;

    @Test
    void aFullDiskStopsTheRunAndKeepsThePreviousCheckpoint() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a small tmpfs needs root; running as " + System.getProperty("user.name"));
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        // the size of one checkpoint, from a run on the ordinary disk
        Path probe = tmp.resolve("probe");
        assertEquals(0, TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, probe, 1)).code());
        long checkpoint = Files.size(probe.resolve("last.safetensors"));
        long size = (2 * checkpoint + checkpoint / 2 + 64 * 1024) / 4096 * 4096;

        Path disk = Files.createDirectories(tmp.resolve("disk"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", disk.toString()).redirectErrorStream(true).start();
        assumeTrue(mount.waitFor(30, TimeUnit.SECONDS) && mount.exitValue() == 0,
                "cannot mount a tmpfs here: " + new String(mount.getInputStream().readAllBytes()).strip());
        try {
            Path run = disk.resolve("run");
            TrainFixtures.Run r = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 3));
            assertEquals(1, r.code(), r.out());
            String err = r.err().strip();
            assertFalse(err.contains("\n"), err);
            assertTrue(err.startsWith("lumen train: cannot write " + run.resolve("last.safetensors") + " after epoch 2: No space left on device;"), err);
            assertTrue(err.endsWith("the previous checkpoint with finite weights, " + run.resolve("last.safetensors") + " (epoch 1), is kept"), err);
            for (String f : List.of("last.safetensors", "best.safetensors")) {
                try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(run.resolve(f))) {
                    assertEquals(1, ((Number) l.info().get("epoch")).intValue(), f);
                }
            }
            try (Stream<Path> s = Files.list(run)) {
                assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "the failed write removed its temporary file");
            }
        } finally {
            // lazy: the test still maps the checkpoints it read (they unmap when collected)
            new ProcessBuilder("umount", "-l", disk.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
