package dev.lumen.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replacing a file so that a kill or a power loss leaves either the old or the new content:
 * the bytes go to a temporary file beside the target ({@code <name>.<random>.tmp}), which is
 * fsynced, renamed over the target, and the folder fsynced so the rename itself is durable.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file through a channel. */
    @FunctionalInterface
    public interface Writer {
        void write(FileChannel ch) throws IOException;
    }

    /** The suffix of the temporary files; a run folder's leftovers end with it. */
    public static final String TMP_SUFFIX = ".tmp";

    public static void replace(Path file, Writer writer) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString() + ".", TMP_SUFFIX);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            syncFolder(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Copies source over target the same way (best.safetensors from last.safetensors). */
    public static void copy(Path source, Path target) throws IOException {
        replace(target, ch -> {
            try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
                long size = in.size();
                for (long done = 0; done < size; ) done += in.transferTo(done, size - done, ch);
            }
        });
    }

    /** fsync of a folder: makes a rename in it durable (POSIX; a no-op where folders cannot be opened). */
    public static void syncFolder(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (UnsupportedOperationException | java.nio.file.AccessDeniedException e) {
            // Windows cannot open a folder as a channel; its rename is already journaled
        }
    }
}
