package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.ClassMap;
import dev.lumen.io.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * timm's training-loop options of lumen train, each by what it changes in a tiny run (3 updates
 * of 4 images per epoch): --input-size, --train-split/--val-split, --class-map, --bn-momentum/--bn-eps,
 * --mixup-off-epoch, --checkpoint-hist, --log-interval, --val-interval.
 */
class TrainLoopOptionsTest {
    @TempDir static Path shared;
    static Path data;

    @TempDir Path dir;

    @BeforeAll
    static void dataset() throws IOException { data = TrainFixtures.folderDataset(shared.resolve("data"), 4, 2); }

    private List<String> args(Path out, int epochs, String... extra) {
        List<String> a = TrainFixtures.tinyArgs(data, out, epochs);
        a.addAll(List.of(extra));
        return a;
    }

    private static TrainFixtures.Run ok(List<String> args) {
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args);
        assertEquals(0, r.code(), r.err());
        return r;
    }

    private static String error(List<String> args) {
        TrainFixtures.Run r = TrainFixtures.lumenTrain(args);
        assertEquals(1, r.code(), r.out());
        return r.err().strip();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> info(Path run) throws IOException {
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(run.resolve("last.safetensors"))) {
            return l.info();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void inputSizeSetsChannelsAndSide() throws IOException {
        Path out = dir.resolve("in");
        List<String> a = args(out, 1, "--input-size", "3", "8", "8");
        a.remove(a.indexOf("--img-size") + 1);
        a.remove("--img-size");
        ok(a);
        Map<String, Object> cfg = (Map<String, Object>) Json.parse(Files.readString(out.resolve("config.json")));
        assertEquals(3, ((Number) cfg.get("in-chans")).intValue());
        assertEquals(8, ((Number) cfg.get("img-size")).intValue());
        assertEquals("lumen train: --input-size 3 8 8 contradicts --img-size 16",
                error(withImgSize16(args(dir.resolve("x"), 1, "--input-size", "3", "8", "8"))));
        assertTrue(error(args(dir.resolve("y"), 1, "--input-size", "3", "8", "6")).startsWith("lumen train: --input-size: height and width must be equal"));
    }

    private static List<String> withImgSize16(List<String> a) {
        a.set(a.indexOf("--img-size") + 1, "16");
        return a;
    }

    @Test
    void splitFoldersByName() throws IOException {
        Path other = dir.resolve("renamed");
        for (String[] m : new String[][] {{"train", "training"}, {"val", "validation"}}) copyTree(data.resolve(m[0]), other.resolve(m[1]));
        List<String> a = args(dir.resolve("run"), 1, "--train-split", "training", "--val-split", "validation");
        a.set(a.indexOf("--data") + 1, other.toString());
        TrainFixtures.Run r = ok(a);
        assertTrue(r.out().contains("12 training, 6 val images"), r.out());
        List<String> bad = args(dir.resolve("run2"), 1, "--val-split", "holdout");
        assertTrue(error(bad).contains("no holdout/ folder"));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void classMapGivesLabelsByLineAndSkipsOtherFolders() throws IOException {
        Path map = Files.writeString(dir.resolve("classes.txt"), "rows\nchecks\n", StandardCharsets.UTF_8);
        Path out = dir.resolve("run");
        TrainFixtures.Run r = ok(args(out, 1, "--class-map", map.toString()));
        assertTrue(r.out().contains("8 training, 4 val images, 2 classes"), r.out());
        assertEquals(List.of("rows", "checks"), info(out).get("class_names"));
        Files.writeString(map, "rows\n\nchecks\n");
        assertEquals("lumen train: " + map + ":2: empty class name", error(args(dir.resolve("r2"), 1, "--class-map", map.toString())));
        Files.writeString(map, "rows\nrows\n");
        assertEquals(map + ":2: class 'rows' is listed twice", assertThrowsIae(map));
    }

    private static String assertThrowsIae(Path map) {
        return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> ClassMap.read(map)).getMessage();
    }

    @Test
    void bnMomentumZeroKeepsTheRunningStatistics() throws IOException {
        Path free = dir.resolve("free"), frozen = dir.resolve("frozen");
        ok(args(free, 1));
        TrainFixtures.Run r = ok(args(frozen, 1, "--bn-momentum", "0", "--bn-eps", "1e-3"));
        assertTrue(r.out().contains("BatchNorm layers set to momentum 0.0 eps 0.001"), r.out());
        // resnet_micro's stem BatchNorm: its running mean starts at 0 and moves only with momentum > 0.
        float[] moved = TrainCheckpoint.readModelState(free.resolve("last.safetensors"), false).get("bn1.running_mean").toFloats();
        float[] kept = TrainCheckpoint.readModelState(frozen.resolve("last.safetensors"), false).get("bn1.running_mean").toFloats();
        assertArrayEquals(new float[kept.length], kept);
        assertNotEquals(0f, moved[0]);
        assertTrue(error(args(dir.resolve("bad"), 1, "--bn-eps", "0")).startsWith("lumen train: --bn-eps must be > 0"));
    }

    @Test
    void mixupOffEpochStopsDrawingMixes() throws IOException {
        Path one = dir.resolve("one"), two = dir.resolve("two"), on = dir.resolve("on");
        ok(args(one, 1, "--mixup", "0.4"));
        ok(args(two, 2, "--mixup", "0.4", "--mixup-off-epoch", "1"));
        ok(args(on, 2, "--mixup", "0.4"));
        // The MixUp generator moves only while mixing: off from epoch 1 (the second), it ends where the 1-epoch run ended.
        assertEquals(rng(one), rng(two));
        assertNotEquals(rng(one), rng(on));
    }

    private static Object rng(Path run) throws IOException { return ((Map<?, ?>) info(run).get("rng")).get("mixup"); }

    @Test
    @SuppressWarnings("unchecked")
    void checkpointHistKeepsTheBestEpochs() throws IOException {
        Path out = dir.resolve("run");
        ok(args(out, 3, "--checkpoint-hist", "2"));
        List<List<Number>> kept = (List<List<Number>>) info(out).get("checkpoint_hist");
        assertEquals(2, kept.size());
        assertTrue(kept.get(0).get(1).doubleValue() >= kept.get(1).get(1).doubleValue(), "best first: " + kept);
        try (Stream<Path> s = Files.list(out)) {
            List<String> files = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted().toList();
            assertEquals(kept.stream().map(e -> "checkpoint-" + e.get(0).intValue() + ".safetensors").sorted().toList(), files);
        }
    }

    @Test
    void checkpointHistoryEvictsTheWorstAndKeepsTheEarlierOnTies() throws IOException {
        CheckpointHistory h = new CheckpointHistory(2, dir);
        Path last = Files.writeString(dir.resolve("last.safetensors"), "x");
        for (double[] em : new double[][] {{1, 50}, {2, 70}, {3, 60}, {4, 60}, {5, 40}}) {
            List<Integer> evicted = h.admit((int) em[0], em[1]);
            if (evicted != null) h.write((int) em[0], last, evicted);
        }
        assertEquals(List.of(new CheckpointHistory.Entry(2, 70), new CheckpointHistory.Entry(3, 60)), h.kept());
        assertTrue(Files.exists(CheckpointHistory.file(dir, 2)) && Files.exists(CheckpointHistory.file(dir, 3)));
        assertFalse(Files.exists(CheckpointHistory.file(dir, 1)) || Files.exists(CheckpointHistory.file(dir, 4)));
        assertNull(h.admit(6, Double.NaN));
    }

    @Test
    void logIntervalSetsTheStepCurveRows() throws IOException {
        Path every = dir.resolve("every"), none = dir.resolve("none");
        ok(args(every, 2, "--log-interval", "2"));
        ok(args(none, 2));
        // 6 updates: rows at updates 2, 4, 6 with --log-interval 2; none at the default 50.
        assertEquals(3, stepRows(every));
        assertEquals(0, stepRows(none));
    }

    private static int stepRows(Path run) throws IOException {
        try (Stream<Path> s = Files.list(run)) {
            Path events = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents")).findFirst().orElseThrow();
            String bytes = new String(Files.readAllBytes(events), StandardCharsets.ISO_8859_1);
            return bytes.split("step/loss", -1).length - 1;
        }
    }

    @Test
    void valIntervalValidatesEveryNthAndTheLastEpoch() throws IOException {
        Path out = dir.resolve("run");
        TrainFixtures.Run r = ok(args(out, 3, "--val-interval", "2"));
        assertTrue(r.out().contains("epoch 1/3  train loss") && r.out().contains("val skipped (--val-interval 2)"), r.out());
        List<String> rows = Files.readAllLines(out.resolve("metrics.csv"));
        assertEquals("", rows.get(1).split(",", -1)[4], "epoch 1 has no val top-1");
        assertFalse(rows.get(2).split(",", -1)[4].isEmpty(), "epoch 2 is validated");
        assertFalse(rows.get(3).split(",", -1)[4].isEmpty(), "the last epoch is validated");
    }
}
