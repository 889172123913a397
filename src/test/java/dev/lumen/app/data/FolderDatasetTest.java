package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.data.transform.Resize;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FolderDatasetTest {
    @TempDir Path dir;

    /** A palette GIF: pixel (x, y) has palette entry (x + y) % 4. */
    private static BufferedImage paletteImage(int w, int h) {
        byte[] r = {0, (byte) 255, 0, 10}, g = {0, 0, (byte) 255, 20}, b = {0, 0, 0, 30};
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(2, 4, r, g, b));
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, (x + y) % 4);
        return img;
    }

    private Path makeDataset() throws IOException {
        Path dir = this.dir.resolve("mixed");
        TestImages.write(TestImages.rgb(4, 3), "png", dir.resolve("cat/a.png"));
        TestImages.write(TestImages.rgb(4, 3), "bmp", dir.resolve("cat/b.bmp"));
        TestImages.write(TestImages.constant(8, 8, 0x336699), "jpg", dir.resolve("dog/c.JPG"));
        TestImages.write(paletteImage(5, 6), "gif", dir.resolve("dog/d.gif"));
        TestImages.write(TestImages.grey(4, 3), "png", dir.resolve("dog/e.png"));
        Files.writeString(dir.resolve("dog/notes.txt"), "not an image");
        Files.writeString(dir.resolve("cat/.DS_Store"), "junk");
        Files.createDirectories(dir.resolve(".hidden"));
        Files.writeString(dir.resolve("README"), "a file next to the classes");
        return dir;
    }

    @Test
    void readsEveryFormatIntoSortedClasses() throws IOException {
        FolderDataset ds = new FolderDataset(makeDataset());
        assertEquals(List.of("cat", "dog"), ds.classNames());
        assertEquals(5, ds.size());
        assertEquals(List.of("a.png", "b.bmp", "c.JPG", "d.gif", "e.png"),
                java.util.stream.IntStream.range(0, 5).mapToObj(i -> ds.path(i).getFileName().toString()).toList());
        assertArrayEquals(new int[] {0, 0, 1, 1, 1}, java.util.stream.IntStream.range(0, 5).map(ds::label).toArray());

        for (int i : new int[] {0, 1}) { // lossless RGB: PNG and BMP
            Sample s = ds.get(i);
            assertEquals(0, s.label());
            Image img = s.image();
            assertEquals("3x3x4", img.sizeString());
            assertEquals((10 * 2 + 1) / 255f, img.get(0, 1, 2));
            assertEquals((100 + 3) / 255f, img.get(1, 2, 3));
            assertEquals((200 - 2) / 255f, img.get(2, 2, 0));
        }
        Image jpg = ds.get(2).image();
        assertEquals("3x8x8", jpg.sizeString());
        assertEquals(0x33 / 255f, jpg.get(0, 4, 4), 3 / 255f); // JPEG is lossy, but a flat colour survives closely
        assertEquals(0x99 / 255f, jpg.get(2, 4, 4), 3 / 255f);
        Image gif = ds.get(3).image();
        assertEquals(1f, gif.get(0, 0, 1)); // palette entry 1 is red
        assertEquals(0f, gif.get(1, 0, 1));
        assertEquals(20 / 255f, gif.get(1, 1, 2)); // entry 3
        Image grey = ds.get(4).image(); // grey replicated to RGB
        for (int c = 0; c < 3; c++) assertEquals((20 * 3 + 5 * 2) / 255f, grey.get(c, 2, 3));
    }

    @Test
    void convertsRgbToGreyByLuma() throws IOException {
        FolderDataset ds = new FolderDataset(makeDataset(), 1);
        Image img = ds.get(0).image();
        assertEquals("1x3x4", img.sizeString());
        float r = 21 / 255f, g = 102 / 255f, b = 199 / 255f;
        assertEquals(0.299f * r + 0.587f * g + 0.114f * b, img.get(0, 1, 2), 1e-6);
        assertEquals((20 * 3 + 5 * 2) / 255f, ds.get(4).image().get(0, 2, 3)); // grey stays exact
    }

    @Test
    void choosesOneChannelOnlyForGreyDatasets() throws IOException {
        TestImages.write(TestImages.grey(4, 3), "png", dir.resolve("g/a/x.png"));
        TestImages.write(TestImages.grey(4, 3), "png", dir.resolve("g/b/y.png"));
        assertEquals(1, new FolderDataset(dir.resolve("g"), 0).channels());
        assertEquals(3, new FolderDataset(makeDataset(), 0).channels());
    }

    @Test
    void twelveMonkeysJpegReaderIsRegistered() {
        List<String> readers = new ArrayList<>();
        ImageIO.getImageReadersByFormatName("jpeg").forEachRemaining(r -> readers.add(r.getClass().getName()));
        assertTrue(readers.stream().anyMatch(n -> n.startsWith("com.twelvemonkeys")), readers.toString());
    }

    @Test
    void badFoldersGetOneLineErrorsNamingThePath() throws IOException {
        Path missing = dir.resolve("nope");
        var e = assertThrows(IllegalArgumentException.class, () -> new FolderDataset(missing));
        assertEquals(missing + ": no such folder", e.getMessage());

        Path flat = Files.createDirectories(dir.resolve("flat"));
        TestImages.write(TestImages.rgb(2, 2), "png", flat.resolve("x.png"));
        e = assertThrows(IllegalArgumentException.class, () -> new FolderDataset(flat));
        assertTrue(e.getMessage().startsWith(flat + ": no class folders"), e.getMessage());

        Path ds = dir.resolve("ds");
        TestImages.write(TestImages.rgb(2, 2), "png", ds.resolve("a/x.png"));
        Files.createDirectories(ds.resolve("b"));
        Files.writeString(ds.resolve("b/readme.txt"), "no images here");
        e = assertThrows(IllegalArgumentException.class, () -> new FolderDataset(ds));
        assertTrue(e.getMessage().startsWith(ds.resolve("b") + ": class folder has no images"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }

    @Test
    void corruptImageIsReportedSkippedAndCounted() throws IOException {
        for (int i = 0; i < 6; i++) TestImages.write(TestImages.constant(6, 5, 0x102030 * (i + 1)), "png", dir.resolve("a/" + i + ".png"));
        Path bad = TestImages.corrupt(dir.resolve("a/3bad.jpg"), 7);
        FolderDataset ds = new FolderDataset(dir);
        assertEquals(7, ds.size());
        int badIndex = ds.describe(4).endsWith("3bad.jpg") ? 4 : -1;
        assertEquals(4, badIndex);
        var e = assertThrows(UnreadableImageException.class, () -> ds.get(badIndex));
        assertEquals(bad.toString(), e.path());
        assertTrue(e.getMessage().startsWith(bad + ": unreadable image"), e.getMessage());

        List<String> reports = new ArrayList<>();
        try (DataLoader loader = DataLoader.builder(ds, Resize.to(5, 6)).batchSize(4).workers(2).seed(3)
                .onUnreadable(x -> { synchronized (reports) { reports.add(x.path()); } }).build()) {
            for (int epoch = 0; epoch < 2; epoch++) {
                List<Integer> sizes = new ArrayList<>();
                List<Integer> seen = new ArrayList<>();
                for (Batch b : loader.epoch(epoch)) {
                    try (b) {
                        sizes.add(b.size());
                        for (int i : b.indices()) seen.add(i);
                    }
                }
                assertEquals(List.of(4, 3), sizes); // the epoch goes on, batches keep their size
                assertTrue(!seen.contains(badIndex));
            }
            assertEquals(List.of(bad.toString()), reports); // reported once over two epochs
            assertEquals(List.of(bad.toString()), loader.unreadableFiles());
            assertEquals(2, loader.substitutedSamples()); // skipped once per epoch
        }
    }

    @Test
    void loaderBatchesAFolderDataset() throws IOException {
        FolderDataset ds = new FolderDataset(makeDataset());
        try (DataLoader loader = DataLoader.builder(ds, Resize.to(6, 6)).batchSize(5).shuffle(false).workers(1).build()) {
            var batches = StreamSupport.stream(loader.epoch(0).spliterator(), false).toList();
            assertEquals(1, batches.size());
            assertArrayEquals(new int[] {5, 3, 6, 6}, batches.getFirst().images().shape());
            assertArrayEquals(new long[] {0, 0, 1, 1, 1}, batches.getFirst().labels().toLongs());
            batches.getFirst().close();
        }
    }
}
