package dev.lumen.app.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    @TempDir Path dir;

    private void idx(String name, int magic, int[] dims, byte[] data) throws IOException {
        try (var d = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(dir.resolve(name))))) {
            d.writeInt(magic);
            for (int x : dims) d.writeInt(x);
            d.write(data);
        }
    }

    @Test
    void readsImagesAndLabelsFromIdxFiles() throws IOException {
        byte[] px = new byte[3 * 2 * 4];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 10);
        idx("t10k-images-idx3-ubyte.gz", 0x0803, new int[] {3, 2, 4}, px);
        idx("t10k-labels-idx1-ubyte.gz", 0x0801, new int[] {3}, new byte[] {9, 0, 4});
        FashionMnist ds = new FashionMnist(dir, FashionMnist.Split.TEST, 1);
        assertEquals(3, ds.size());
        assertEquals(10, ds.numClasses());
        assertEquals("Ankle boot", ds.classNames().get(ds.label(0)));
        Sample s = ds.get(1);
        assertEquals(0, s.label());
        assertEquals("1x2x4", s.image().sizeString());
        assertEquals(80 / 255f, s.image().get(0, 0, 0));
        assertEquals(150 / 255f, s.image().get(0, 1, 3));
        Image rgb = new FashionMnist(dir, FashionMnist.Split.TEST, 3).get(2).image();
        assertEquals("3x2x4", rgb.sizeString());
        assertEquals(rgb.get(0, 1, 1), rgb.get(2, 1, 1));
    }

    @Test
    void missingFilesNameThePathAndMakeTrain() {
        var e = assertThrows(IllegalArgumentException.class, () -> new FashionMnist(dir, FashionMnist.Split.TRAIN, 1));
        assertTrue(e.getMessage().startsWith(dir.resolve("train-images-idx3-ubyte.gz") + ": Fashion-MNIST not found"), e.getMessage());
        assertTrue(e.getMessage().contains("make train") && e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
    }

    @Test
    void installedTestSplitHasTenThousandImages() {
        Assumptions.assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR), "dataset-fashion-mnist is not installed");
        FashionMnist ds = new FashionMnist(FashionMnist.Split.TEST);
        assertEquals(10000, ds.size());
        assertEquals("1x28x28", ds.get(0).image().sizeString());
        int[] counts = new int[10];
        for (int i = 0; i < ds.size(); i++) counts[ds.label(i)]++;
        for (int c : counts) assertEquals(1000, c);
    }
}
