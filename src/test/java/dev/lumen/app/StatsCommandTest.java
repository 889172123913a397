package dev.lumen.app;

import static dev.lumen.app.SplitCommandTest.lumen;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.SplitCommandTest.Run;
import dev.lumen.app.data.TestImages;
import dev.lumen.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatsCommandTest {
    @TempDir Path dir;

    /** Two flat images per class: pixel values known exactly. */
    private Path data() throws IOException {
        Path data = dir.resolve("data");
        TestImages.write(TestImages.constant(4, 4, 0x000000), "png", data.resolve("a/0.png"));
        TestImages.write(TestImages.constant(4, 4, 0xFF8000), "png", data.resolve("a/1.png"));
        TestImages.write(TestImages.constant(8, 2, 0x33CCFF), "bmp", data.resolve("b/2.bmp"));
        TestImages.write(TestImages.constant(2, 8, 0xFFFFFF), "png", data.resolve("b/3.png"));
        return data;
    }

    /** Population mean and std of four equally large images of the given channel values. */
    private static double[] meanStd(double... v) {
        double m = 0, s = 0;
        for (double x : v) m += x / v.length;
        for (double x : v) s += (x - m) * (x - m) / v.length;
        return new double[] {m, Math.sqrt(s)};
    }

    @Test
    void printsMeanAndStdPerChannel() throws IOException {
        Run r = lumen("stats", "--data", data().toString());
        assertEquals(0, r.rc(), r.err());
        double[] red = meanStd(0, 1, 0x33 / 255.0, 1), green = meanStd(0, 0x80 / 255.0, 0xCC / 255.0, 1), blue = meanStd(0, 0, 1, 1);
        String expected = String.format(Locale.ROOT, "mean: %.4f, %.4f, %.4f%nstd:  %.4f, %.4f, %.4f%n--mean %.4f,%.4f,%.4f --std %.4f,%.4f,%.4f%n",
                red[0], green[0], blue[0], red[1], green[1], blue[1], red[0], green[0], blue[0], red[1], green[1], blue[1]);
        assertEquals(expected, r.out());
        // The last line is what lumen train takes.
        String paste = r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        dev.lumen.app.train.TrainConfig cfg = new dev.lumen.app.train.TrainConfig();
        new picocli.CommandLine(cfg).parseArgs(paste.split(" "));
        assertEquals(red[0], cfg.mean[0], 5e-5);
        assertEquals(blue[1], cfg.std[2], 5e-5);
    }

    @Test
    void jsonResizedAndGrey() throws IOException {
        Path data = data();
        Run r = lumen("stats", "--data", data.toString(), "--json", "--img-size", "3", "--channels", "1");
        assertEquals(0, r.rc(), r.err());
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) Json.parse(r.out());
        assertEquals(1L, m.get("channels"));
        assertEquals(4L, m.get("images"));
        assertEquals(36L, m.get("pixels")); // four 3x3 images after the resize
        double l1 = (0.299f * 1 + 0.587f * (0x80 / 255f)), l2 = 0.299f * (0x33 / 255f) + 0.587f * (0xCC / 255f) + 0.114f;
        double[] grey = meanStd(0, l1, l2, 1);
        assertEquals(grey[0], ((Number) ((List<?>) m.get("mean")).get(0)).doubleValue(), 2e-6);
        assertEquals(grey[1], ((Number) ((List<?>) m.get("std")).get(0)).doubleValue(), 2e-6);
        assertEquals(List.of(), m.get("unreadable"));
    }

    @Test
    void readsTheTrainSplitAndSkipsCorruptImages() throws IOException {
        Path data = data();
        Path split = dir.resolve("split");
        assertEquals(0, lumen("split", "--data", data.toString(), "--out", split.toString(), "--ratio", "0.5").rc());
        Path bad = TestImages.corrupt(split.resolve("train/a/zz.jpg"), 3);
        Run r = lumen("stats", "--data", split.toString(), "--json");
        assertEquals(0, r.rc(), r.err());
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) Json.parse(r.out());
        assertEquals(2L, m.get("images"));
        assertEquals(List.of(bad.toString()), m.get("unreadable"));
        assertTrue(r.err().contains("using the training split " + split.resolve("train")), r.err());
        assertTrue(r.err().contains("warning: skipping " + bad + ": unreadable image"), r.err());
    }

    @Test
    void badFoldersGetOneLineErrors() throws IOException {
        Path missing = dir.resolve("missing");
        Run r = lumen("stats", "--data", missing.toString());
        assertEquals(1, r.rc());
        assertEquals("lumen stats: " + missing + ": no such folder", r.err().strip());
        Path data = data();
        Files.createDirectories(data.resolve("c"));
        r = lumen("stats", "--data", data.toString());
        assertEquals(1, r.rc());
        assertTrue(r.err().strip().startsWith("lumen stats: " + data.resolve("c") + ": class folder has no images"), r.err());
        assertEquals(1, r.err().strip().lines().count());
    }
}
