package dev.lumen.app.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The built-in Fashion-MNIST dataset, read from the IDX files of the Debian package
 * dataset-fashion-mnist: 28x28 grey images in 10 classes, 60000 train and 10000 test.
 */
public final class FashionMnist implements Dataset {
    /** Where the Debian package installs the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** Mean and std of the training images' pixels in [0, 1], for Normalize. */
    public static final float[] MEAN = {0.2860f};
    public static final float[] STD = {0.3530f};

    public enum Split {
        TRAIN("train"), TEST("t10k");

        private final String prefix;

        Split(String prefix) { this.prefix = prefix; }
    }

    private final Split split;
    private final int channels;
    private final int height;
    private final int width;
    private final byte[] pixels;
    private final byte[] labels;

    /** The split from {@link #DEFAULT_DIR}, with 1 channel. */
    public FashionMnist(Split split) { this(DEFAULT_DIR, split, 1); }

    /**
     * @param channels 1, or 3 to replicate the grey channel for RGB models
     * @throws IllegalArgumentException when the files are missing (naming the path and {@code make train})
     * @throws UncheckedIOException     when a file is not a valid IDX file
     */
    public FashionMnist(Path dir, Split split, int channels) {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("fashion-mnist: channels must be 1 or 3, got " + channels);
        }
        Path images = dir.resolve(split.prefix + "-images-idx3-ubyte.gz");
        Path labelFile = dir.resolve(split.prefix + "-labels-idx1-ubyte.gz");
        for (Path p : new Path[] {images, labelFile}) {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException(p + ": Fashion-MNIST not found; `make train` installs it"
                        + " (Debian package dataset-fashion-mnist)");
            }
        }
        try {
            IdxReader.UByteArray img = IdxReader.read(images);
            IdxReader.UByteArray lab = IdxReader.read(labelFile);
            if (img.shape().length != 3 || lab.shape().length != 1 || img.count() != lab.count()) {
                throw new IOException(dir + ": Fashion-MNIST files disagree: images " + java.util.Arrays.toString(img.shape())
                        + ", labels " + java.util.Arrays.toString(lab.shape()));
            }
            for (byte b : lab.data()) {
                if ((b & 0xff) >= CLASS_NAMES.size()) throw new IOException(labelFile + ": label " + (b & 0xff) + " out of range");
            }
            this.split = split;
            this.channels = channels;
            this.height = img.shape()[1];
            this.width = img.shape()[2];
            this.pixels = img.data();
            this.labels = lab.data();
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    public Split split() { return split; }

    public int channels() { return channels; }

    @Override
    public int size() { return labels.length; }

    @Override
    public List<String> classNames() { return CLASS_NAMES; }

    @Override
    public int label(int index) { return labels[index] & 0xff; }

    @Override
    public Sample get(int index) {
        int n = height * width;
        float[] out = new float[channels * n];
        int base = index * n;
        for (int i = 0; i < n; i++) out[i] = (pixels[base + i] & 0xff) / 255f;
        for (int c = 1; c < channels; c++) System.arraycopy(out, 0, out, c * n, n);
        return new Sample(new Image(channels, height, width, out), label(index));
    }

    @Override
    public String describe(int index) { return "fashion-mnist " + split.prefix + "[" + index + "]"; }
}
