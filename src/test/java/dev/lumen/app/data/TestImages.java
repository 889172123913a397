package dev.lumen.app.data;

import dev.lumen.tensor.Generator;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Small images and in-memory datasets for the data tests. */
public final class TestImages {
    private TestImages() {}

    /** RGB pixel (x, y) = (10x + y, 100 + x, 200 - y). */
    public static BufferedImage rgb(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, ((10 * x + y) << 16) | ((100 + x) << 8) | (200 - y));
        return img;
    }

    /** Grey pixel (x, y) = 20x + 5y. */
    public static BufferedImage grey(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, 20 * x + 5 * y);
        return img;
    }

    public static BufferedImage constant(int w, int h, int rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, rgb);
        return img;
    }

    public static Path write(BufferedImage img, String format, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        if (!ImageIO.write(img, format, file.toFile())) throw new IOException("no ImageIO writer for " + format + " " + img.getType());
        return file;
    }

    /** Random bytes under an image name: a corrupt file. */
    public static Path corrupt(Path file, long seed) throws IOException {
        Files.createDirectories(file.getParent());
        byte[] b = new byte[300];
        new java.util.Random(seed).nextBytes(b);
        return Files.write(file, b);
    }

    /** An image whose every pixel is v. */
    public static Image filled(int c, int h, int w, float v) {
        float[] d = new float[c * h * w];
        java.util.Arrays.fill(d, v);
        return new Image(c, h, w, d);
    }

    /** Pixel i = i (distinct values, so crops and flips are recognisable). */
    public static Image ramp(int c, int h, int w) {
        float[] d = new float[c * h * w];
        for (int i = 0; i < d.length; i++) d[i] = i;
        return new Image(c, h, w, d);
    }

    /**
     * n samples of c x h x w whose pixels all equal index / n, label index % classes; the indices
     * in {@code unreadable} throw as a corrupt file would.
     */
    public static Dataset synthetic(int n, int classes, int c, int h, int w, List<Integer> unreadable) {
        return new Dataset() {
            @Override public int size() { return n; }

            @Override public List<String> classNames() {
                return java.util.stream.IntStream.range(0, classes).mapToObj(i -> "c" + i).toList();
            }

            @Override public int label(int index) { return index % classes; }

            @Override public Sample get(int index) {
                if (unreadable.contains(index)) throw new UnreadableImageException(describe(index), "corrupt", null);
                return new Sample(filled(c, h, w, index / (float) n), label(index));
            }

            @Override public String describe(int index) { return "mem/" + index + ".png"; }
        };
    }

    public static Generator rng(long seed) { return new Generator(seed); }
}
