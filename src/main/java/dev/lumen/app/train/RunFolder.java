package dev.lumen.app.train;

import dev.lumen.io.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A run folder held by one training process. The lock file {@value #LOCK} carries an OS file
 * lock and the holder's pid: a second run into the same folder is refused naming that pid,
 * and a lock left by a killed run (the OS released it, the pid is still written) is taken over
 * with a note. A folder that already holds a run is refused unless the run resumes or was told
 * to overwrite; leftover temporary files of killed checkpoint writes are removed once the lock
 * is held.
 */
final class RunFolder implements AutoCloseable {
    static final String LOCK = ".lumen.lock";
    /** The files a run writes; any of them means the folder holds a run, --overwrite removes them. */
    static final List<String> ARTIFACTS = List.of("config.json", "metrics.csv", "last.safetensors", "best.safetensors", "ema.safetensors",
            "curves.png", "report.md", "report.json", "lumen.log");
    private static final String EVENTS = "events.out.tfevents.";
    /** --checkpoint-hist's copies, checkpoint-EPOCH.safetensors. */
    private static final java.util.regex.Pattern HISTORY = java.util.regex.Pattern.compile("checkpoint-\\d+\\.safetensors");

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;

    private RunFolder(Path dir, FileChannel channel, FileLock lock) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
    }

    Path dir() { return dir; }

    /**
     * Creates (if needed) and locks dir. resuming allows a folder that holds a run; overwrite
     * removes that run's files first. Errors are {@link TrainException}s naming --output.
     */
    static RunFolder open(Path dir, boolean resuming, boolean overwrite, PrintStream out) {
        String opt = "--output " + dir + ": ";
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new TrainException(opt + "is a file, not a folder");
        try {
            Files.createDirectories(dir);
        } catch (AccessDeniedException e) {
            throw new TrainException(opt + "cannot create the folder: permission denied (" + e.getFile() + ")");
        } catch (FileSystemException e) {
            throw new TrainException(opt + "cannot create the folder: " + (e.getReason() != null ? e.getReason() : e.getMessage()));
        } catch (IOException e) {
            throw new TrainException(opt + "cannot create the folder: " + e.getMessage());
        }
        if (!Files.isWritable(dir)) throw new TrainException(opt + "the folder is not writable");
        FileChannel ch;
        try {
            ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new TrainException(opt + "cannot create the lock file " + LOCK + ": " + e.getMessage());
        }
        RunFolder held = null;
        try {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this JVM holds it already
            }
            String holder = readPid(ch);
            if (lock == null) {
                throw new TrainException(opt + "another lumen train is running in this folder (pid " + (holder.isEmpty() ? "unknown" : holder)
                        + ", lock file " + dir.resolve(LOCK) + "); wait for it to finish or choose another --output");
            }
            held = new RunFolder(dir, ch, lock);
            if (!holder.isEmpty()) out.println("note: taking over the lock of a run that ended without releasing it (pid " + holder + ")");
            writePid(ch);
            List<String> existing = runFiles(dir);
            if (!existing.isEmpty() && !resuming) {
                if (!overwrite) {
                    throw new TrainException(opt + "already holds a run (" + String.join(", ", existing) + "); continue it with --resume "
                            + dir.resolve("last.safetensors") + ", replace it with --overwrite, or choose another --output");
                }
                for (String f : existing) Files.deleteIfExists(dir.resolve(f));
                out.println("overwrite: removed the previous run's " + String.join(", ", existing) + " from " + dir);
            }
            removeLeftoverTemporaries(dir);
            return held;
        } catch (IOException e) {
            closeQuietly(held, ch);
            throw new TrainException(opt + e.getMessage());
        } catch (RuntimeException e) {
            closeQuietly(held, ch);
            throw e;
        }
    }

    private static void closeQuietly(RunFolder held, FileChannel ch) {
        try {
            if (held != null) held.close();
            else ch.close();
        } catch (IOException ignored) {
            // the original error is the one to report
        }
    }

    /** The run artifacts present in dir, by name. */
    static List<String> runFiles(Path dir) throws IOException {
        List<String> found = new ArrayList<>();
        for (String f : ARTIFACTS) if (Files.exists(dir.resolve(f))) found.add(f);
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(EVENTS) || HISTORY.matcher(n).matches()).sorted().forEach(found::add);
        }
        return found;
    }

    /** Temporary files of {@link AtomicFiles} writes into this folder that a kill left behind. */
    private static void removeLeftoverTemporaries(Path dir) throws IOException {
        List<Path> stale;
        try (Stream<Path> s = Files.list(dir)) {
            stale = s.filter(p -> {
                String n = p.getFileName().toString();
                if (!n.endsWith(AtomicFiles.TMP_SUFFIX) || !Files.isRegularFile(p)) return false;
                String target = n.substring(0, n.length() - AtomicFiles.TMP_SUFFIX.length());
                return ARTIFACTS.stream().anyMatch(target::startsWith) || HISTORY.matcher(target).lookingAt();
            }).toList();
        }
        for (Path p : stale) Files.deleteIfExists(p);
    }

    private static String readPid(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        ch.read(b, 0);
        return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).strip().replaceAll("[^0-9]", "");
    }

    private static void writePid(FileChannel ch) throws IOException {
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        ch.force(true);
    }

    /** Clears the pid (a later run sees a clean release) and releases the lock. */
    @Override
    public void close() throws IOException {
        try {
            channel.truncate(0);
            lock.release();
        } finally {
            channel.close();
        }
    }
}
