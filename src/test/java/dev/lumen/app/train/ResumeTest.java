package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --resume continues exactly: 4 epochs in one go, and 2 epochs then a kill then a resume, end
 * with bit-identical weights, optimizer state and EMA, with MixUp/CutMix, dropout, EMA, loss
 * scaling and clipping all drawing or carrying state, and with 0 or 2 loader workers.
 * The runs share this JVM; FreshJvmResumeTest runs them in JVMs of their own.
 */
class ResumeTest {
    @TempDir Path tmp;

    @Test
    void killedAfterTwoEpochsThenResumedIsBitIdentical() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 6, 2);
        Path full = tmp.resolve("full"), cut = tmp.resolve("cut");

        TrainFixtures.Run a = TrainFixtures.lumenTrain(TrainFixtures.resumeRecipe(data, full, 0));
        assertEquals(0, a.code(), a.err());

        TrainFixtures.Run killed = TrainFixtures.lumenTrain(TrainFixtures.resumeRecipe(data, cut, 2), new TrainListener() {
            @Override
            public void onEpochEnd(EpochRecord r, List<EpochRecord> h) {
                if (r.epoch() == 2) throw new IllegalStateException("killed after epoch 2");
            }
        });
        assertEquals(1, killed.code());
        assertTrue(killed.err().contains("killed after epoch 2"), killed.err());
        assertEquals(3, Files.readAllLines(cut.resolve("metrics.csv")).size());

        // Only --resume (and the worker count) on the command line: the rest comes from the checkpoint.
        TrainFixtures.Run resumed = TrainFixtures.lumenTrain(List.of("--resume", cut.resolve("last.safetensors").toString(), "--workers", "2", "--quiet"));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resumed " + cut.resolve("last.safetensors") + " after epoch 2 of 4"), resumed.out());
        assertTrue(resumed.out().contains("run folder: " + cut.toAbsolutePath()), resumed.out());

        TrainFixtures.assertSameBits(full.resolve("last.safetensors"), cut.resolve("last.safetensors"));

        List<String> m1 = Files.readAllLines(full.resolve("metrics.csv")), m2 = Files.readAllLines(cut.resolve("metrics.csv"));
        assertEquals(5, m2.size());
        for (int i = 1; i < 5; i++) {
            // Same losses and accuracies; the timing columns differ.
            String[] p = m1.get(i).split(","), q = m2.get(i).split(",");
            for (int c = 0; c < 10; c++) assertEquals(p[c], q[c], "metrics.csv row " + i + " column " + c);
        }
    }
}
