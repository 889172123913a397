package dev.lumen.app.data;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import dev.lumen.io.InputLimits;
import java.nio.file.NoSuchFileException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Image files on disk: which files count as images, and decoding one into an {@link Image} with
 * a requested channel count. Decoding uses javax.imageio; the TwelveMonkeys plugins on the class
 * path add the JPEGs (CMYK, YCCK, odd progressive files) and BMPs the JDK rejects.
 */
public final class ImageFiles {
    private ImageFiles() {}

    /** The extensions a folder dataset reads, lower case. */
    public static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif");

    static {
        // Registers plugins found on the class path after ImageIO first initialised (harmless if none).
        ImageIO.scanForPlugins();
        ImageIO.setUseCache(false);
    }

    /** A regular, non-hidden file with an image extension. */
    public static boolean isImage(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return !name.startsWith(".") && dot > 0 && Files.isRegularFile(file)
                && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** Decodes file; channels 1 or 3, or 0 to keep the file's own (grey: 1, colour: 3). */
    public static Image read(Path file, int channels) {
        return fromBuffered(decode(file), channels);
    }

    /**
     * Decodes file, refusing (before decoding) an image whose header declares more pixels than
     * {@link InputLimits#maxImagePixels()}: a small PNG can declare 20000x20000 and would take
     * gigabytes once decoded. Every failure is an {@link UnreadableImageException} naming the file.
     */
    public static BufferedImage decode(Path file) {
        try (ImageInputStream in = ImageIO.createImageInputStream(Files.newInputStream(file))) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) throw new UnreadableImageException(file.toString(), NOT_AN_IMAGE, null);
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0), h = reader.getHeight(0), limit = InputLimits.maxImagePixels();
                if (w * h > limit) {
                    throw new UnreadableImageException(file.toString(), w + "x" + h + " = " + w * h + " pixels is over the limit of " + limit
                            + " (a decompression bomb?); raise it with --max-image-pixels", null);
                }
                BufferedImage img = reader.read(0);
                if (img == null) throw new UnreadableImageException(file.toString(), NOT_AN_IMAGE, null);
                return img;
            } finally {
                reader.dispose();
            }
        } catch (UnreadableImageException e) {
            throw e;
        } catch (NoSuchFileException e) {
            throw new UnreadableImageException(file.toString(), "no such file", e);
        } catch (IOException | RuntimeException e) {
            // Decoders signal corrupt data with IOExceptions and, now and then, with runtime exceptions.
            throw new UnreadableImageException(file.toString(), String.valueOf(e.getMessage()), e);
        } catch (OutOfMemoryError e) {
            // within the pixel limit but still too large for this heap: this image is skipped, the run goes on
            throw new UnreadableImageException(file.toString(), "out of memory while decoding it", null);
        }
    }

    private static final String NOT_AN_IMAGE = "not a PNG, JPEG, BMP or GIF image";

    /** True for images with one colour component (8- or 16-bit grey). */
    public static boolean isGrey(BufferedImage img) {
        return img.getColorModel().getNumColorComponents() == 1 && !(img.getColorModel() instanceof java.awt.image.IndexColorModel);
    }

    /**
     * Converts to float CHW in [0, 1]: grey to RGB by replication, RGB to grey by ITU-R 601 luma
     * (0.299 R + 0.587 G + 0.114 B, as PIL's convert("L")). Alpha is dropped, as PIL's convert("RGB").
     */
    public static Image fromBuffered(BufferedImage img, int channels) {
        if (channels != 0 && channels != 1 && channels != 3) {
            throw new IllegalArgumentException("image: channels must be 1 or 3, got " + channels);
        }
        int h = img.getHeight(), w = img.getWidth(), n = h * w;
        boolean grey = isGrey(img);
        int c = channels == 0 ? (grey ? 1 : 3) : channels;
        float[] out = new float[c * n];
        if (grey) {
            Raster r = img.getRaster();
            int[] v = r.getSamples(0, 0, w, h, 0, (int[]) null);
            float max = (1 << img.getColorModel().getComponentSize(0)) - 1;
            for (int i = 0; i < n; i++) out[i] = v[i] / max; // divided, as torchvision's ToTensor, for exact values
            for (int k = 1; k < c; k++) System.arraycopy(out, 0, out, k * n, n);
            return new Image(c, h, w, out);
        }
        float[] rgb = rgbPlanes(img);
        if (c == 3) return new Image(3, h, w, rgb);
        for (int i = 0; i < n; i++) out[i] = 0.299f * rgb[i] + 0.587f * rgb[n + i] + 0.114f * rgb[2 * n + i];
        return new Image(1, h, w, out);
    }

    private static float[] rgbPlanes(BufferedImage img) {
        int h = img.getHeight(), w = img.getWidth(), n = h * w;
        float[] out = new float[3 * n];
        final float s = 255f;
        if (img.getType() == BufferedImage.TYPE_3BYTE_BGR && img.getRaster().getDataBuffer() instanceof DataBufferByte db
                && img.getRaster().getParent() == null) {
            // The usual JPEG decode: read the bytes directly instead of going through getRGB.
            byte[] b = db.getData();
            for (int i = 0; i < n; i++) {
                out[i] = (b[3 * i + 2] & 0xff) / s;
                out[n + i] = (b[3 * i + 1] & 0xff) / s;
                out[2 * n + i] = (b[3 * i] & 0xff) / s;
            }
            return out;
        }
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int p = row[x], i = y * w + x;
                out[i] = ((p >> 16) & 0xff) / s;
                out[n + i] = ((p >> 8) & 0xff) / s;
                out[2 * n + i] = (p & 0xff) / s;
            }
        }
        return out;
    }
}
