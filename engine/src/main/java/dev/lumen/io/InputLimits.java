package dev.lumen.io;

/**
 * Limits on what a file may make Lumen allocate or nest, so a hostile or broken input ends in a
 * one-line error instead of an OutOfMemoryError or a StackOverflowError. The two a user may
 * legitimately need to raise are settable (lumen's --max-image-pixels and --max-entry-bytes);
 * the nesting limits are far beyond any real checkpoint.
 */
public final class InputLimits {
    private InputLimits() {}

    /** PIL's Image.MAX_IMAGE_PIXELS: (1024 * 1024 * 1024 // 4 // 3) pixels. */
    public static final long DEFAULT_MAX_IMAGE_PIXELS = 1024L * 1024 * 1024 / 4 / 3;
    /** The largest decompressed zip entry of a .pth file (torch.save stores entries uncompressed; they are bounded by the file). */
    public static final long DEFAULT_MAX_ENTRY_BYTES = 1L << 30;
    /** How deep a pickle may nest containers. */
    public static final int MAX_PICKLE_DEPTH = 1000;
    /** How many objects a pickle may memoize (a real state dict memoizes some ten per tensor). */
    public static final int MAX_PICKLE_MEMO = 1_000_000;

    private static volatile long maxImagePixels = DEFAULT_MAX_IMAGE_PIXELS;
    private static volatile long maxEntryBytes = DEFAULT_MAX_ENTRY_BYTES;

    public static long maxImagePixels() { return maxImagePixels; }

    public static long maxEntryBytes() { return maxEntryBytes; }

    /** Sets the image pixel limit (width x height); values <= 0 are refused. */
    public static void setMaxImagePixels(long pixels) {
        if (pixels <= 0) throw new IllegalArgumentException("--max-image-pixels must be > 0, got " + pixels);
        maxImagePixels = pixels;
    }

    /** Sets the limit on a decompressed .pth entry in bytes; values <= 0 are refused. */
    public static void setMaxEntryBytes(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("--max-entry-bytes must be > 0, got " + bytes);
        maxEntryBytes = bytes;
    }
}
