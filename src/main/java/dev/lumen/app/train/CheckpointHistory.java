package dev.lumen.app.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * timm's CheckpointSaver history (--checkpoint-hist N): the N best epochs by the validation
 * metric, each kept as checkpoint-EPOCH.safetensors (a copy of that epoch's last.safetensors);
 * an epoch that beats the worst kept one replaces it, whose file is deleted. Ties keep the
 * earlier epoch. The list goes into the training checkpoint, so a resumed run keeps it.
 */
final class CheckpointHistory {
    record Entry(int epoch, double metric) {}

    private final int size;
    private final Path dir;
    private final List<Entry> kept = new ArrayList<>();

    CheckpointHistory(int size, Path dir) {
        if (size < 0) throw new IllegalArgumentException("checkpoint history size must be >= 0, got " + size);
        this.size = size;
        this.dir = dir;
    }

    static Path file(Path dir, int epoch) { return dir.resolve("checkpoint-" + epoch + ".safetensors"); }

    /**
     * Enters the epoch when its metric makes the N best: returns the epochs it pushed out (their
     * files are to be deleted once its own is written, {@link #write}), or null when it does not enter.
     */
    List<Integer> admit(int epoch, double metric) {
        if (size <= 0 || Double.isNaN(metric) || (kept.size() >= size && !(metric > kept.getLast().metric()))) return null;
        kept.add(new Entry(epoch, metric));
        kept.sort(Comparator.comparingDouble(Entry::metric).reversed().thenComparingInt(Entry::epoch));
        List<Integer> out = new ArrayList<>();
        while (kept.size() > size) out.add(kept.removeLast().epoch());
        return out;
    }

    /** Writes an admitted epoch's file as a copy of its training checkpoint, then deletes the files of the evicted epochs. */
    void write(int epoch, Path lastCheckpoint, List<Integer> evicted) throws IOException {
        Path tmp = dir.resolve("checkpoint-" + epoch + ".safetensors.tmp");
        Files.copy(lastCheckpoint, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, file(dir, epoch), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        for (int e : evicted) Files.deleteIfExists(file(dir, e));
    }

    /** [[epoch, metric], ...], best first. */
    List<Object> toList() { return kept.stream().map(e -> (Object) List.of(e.epoch(), e.metric())).toList(); }

    void restore(Object list) {
        kept.clear();
        if (list instanceof List<?> l) {
            for (Object o : l) {
                List<?> e = (List<?>) o;
                kept.add(new Entry(((Number) e.get(0)).intValue(), ((Number) e.get(1)).doubleValue()));
            }
        }
    }

    List<Entry> kept() { return List.copyOf(kept); }
}
