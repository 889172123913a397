package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Guarded run folders: one run at a time, no silent replacement of a finished run, no leftovers of killed writes. */
class RunFolderTest {
    @TempDir Path tmp;

    @Test
    void aSecondRunIntoAHeldFolderIsRefusedNamingTheHoldersPid() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path run = tmp.resolve("run");
        try (RunFolder held = RunFolder.open(run, false, false, new PrintStream(new ByteArrayOutputStream()))) {
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(run.resolve(RunFolder.LOCK)));
            TrainFixtures.Run r = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 1));
            assertEquals(1, r.code());
            assertEquals("lumen train: --output " + run + ": another lumen train is running in this folder (pid " + ProcessHandle.current().pid()
                    + ", lock file " + run.resolve(RunFolder.LOCK) + "); wait for it to finish or choose another --output", r.err().strip());
            assertFalse(Files.exists(run.resolve("metrics.csv")), "the refused run wrote nothing");
        }
        assertEquals("", Files.readString(run.resolve(RunFolder.LOCK)), "a clean release clears the pid");
    }

    @Test
    void aFinishedRunIsKeptUnlessResumedOrOverwrittenAndStaleLocksAndTemporariesAreCleared() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path run = Files.createDirectories(tmp.resolve("run"));
        // what a killed run leaves: its pid in the lock file and half-written checkpoints; a user's own .tmp file stays
        Files.writeString(run.resolve(RunFolder.LOCK), "999999999\n");
        Files.write(run.resolve("last.safetensors.8123456.tmp"), new byte[100]);
        Files.write(run.resolve("best.safetensors.tmp"), new byte[10]);
        Files.writeString(run.resolve("notes.tmp"), "mine");
        TrainFixtures.Run first = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 1));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("note: taking over the lock of a run that ended without releasing it (pid 999999999)"), first.out());
        assertFalse(Files.exists(run.resolve("last.safetensors.8123456.tmp")));
        assertFalse(Files.exists(run.resolve("best.safetensors.tmp")));
        assertTrue(Files.exists(run.resolve("notes.tmp")));
        byte[] best = Files.readAllBytes(run.resolve("best.safetensors"));

        TrainFixtures.Run again = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, run, 1));
        assertEquals(1, again.code());
        String err = again.err().strip();
        assertTrue(err.startsWith("lumen train: --output " + run + ": already holds a run (config.json, metrics.csv, last.safetensors, best.safetensors,"), err);
        assertTrue(err.endsWith("continue it with --resume " + run.resolve("last.safetensors") + ", replace it with --overwrite, or choose another --output"), err);
        assertArrayEquals(best, Files.readAllBytes(run.resolve("best.safetensors")), "the finished run's best checkpoint is untouched");
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size());

        List<String> overwrite = TrainFixtures.tinyArgs(data, run, 1);
        overwrite.add("--overwrite");
        TrainFixtures.Run replaced = TrainFixtures.lumenTrain(overwrite);
        assertEquals(0, replaced.code(), replaced.err());
        assertTrue(replaced.out().contains("overwrite: removed the previous run's config.json, metrics.csv, last.safetensors, best.safetensors"),
                replaced.out());
        assertEquals(2, Files.readAllLines(run.resolve("metrics.csv")).size(), "one run's rows, not two interleaved");
        try (var s = Files.list(run)) {
            assertEquals(1, s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).count());
        }

        TrainFixtures.Run resumed = TrainFixtures.lumenTrain(List.of("--resume", run.resolve("last.safetensors").toString(), "--epochs", "2", "--quiet"));
        assertEquals(0, resumed.code(), resumed.err());
        assertEquals(3, Files.readAllLines(run.resolve("metrics.csv")).size());
    }

    @Test
    void anOutputThatIsAFileIsOneLine() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 2, 1);
        Path file = Files.writeString(tmp.resolve("taken"), "x");
        TrainFixtures.Run r = TrainFixtures.lumenTrain(TrainFixtures.tinyArgs(data, file, 1));
        assertEquals(1, r.code());
        assertEquals("lumen train: --output " + file + ": is a file, not a folder", r.err().strip());
    }
}
