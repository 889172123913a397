package dev.lumen.app.train;

import dev.lumen.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    /** --eval-metric loss ranks the lowest first (timm's decreasing=True); accuracies the highest. */
    private final boolean lowerIsBetter;
    private final List<Entry> kept = new ArrayList<>();

    CheckpointHistory(int size, Path dir) { this(size, dir, false); }

    CheckpointHistory(int size, Path dir, boolean lowerIsBetter) {
        if (size < 0) throw new IllegalArgumentException("checkpoint history size must be >= 0, got " + size);
        this.size = size;
        this.dir = dir;
        this.lowerIsBetter = lowerIsBetter;
    }

    private boolean beats(double metric, double other) { return lowerIsBetter ? metric < other : metric > other; }

    static Path file(Path dir, int epoch) { return dir.resolve("checkpoint-" + epoch + ".safetensors"); }

    /**
     * Enters the epoch when its metric makes the N best: returns the epochs it pushed out (their
     * files are to be deleted once its own is written, {@link #write}), or null when it does not enter.
     */
    List<Integer> admit(int epoch, double metric) {
        if (size <= 0 || Double.isNaN(metric) || (kept.size() >= size && !beats(metric, kept.getLast().metric()))) return null;
        kept.add(new Entry(epoch, metric));
        Comparator<Entry> byMetric = Comparator.comparingDouble(Entry::metric);
        kept.sort((lowerIsBetter ? byMetric : byMetric.reversed()).thenComparingInt(Entry::epoch));
        List<Integer> out = new ArrayList<>();
        while (kept.size() > size) out.add(kept.removeLast().epoch());
        return out;
    }

    /** Writes an admitted epoch's file as a copy of its training checkpoint, then deletes the files of the evicted epochs. */
    void write(int epoch, Path lastCheckpoint, List<Integer> evicted) throws IOException {
        AtomicFiles.copy(lastCheckpoint, file(dir, epoch));
        for (int e : evicted) Files.deleteIfExists(file(dir, e));
    }

    /** [[epoch, metric], ...], best first. */
    List<Object> toList() { return kept.stream().map(e -> (Object) List.of(e.epoch(), e.metric())).toList(); }

    /** The list a checkpoint holds; a malformed one is an IllegalArgumentException naming the entry. */
    void restore(Object list) {
        kept.clear();
        if (list == null) return;
        if (!(list instanceof List<?> l)) throw new IllegalArgumentException("checkpoint_hist must be a list of [epoch, metric], got " + list.getClass().getSimpleName());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof List<?> e) || e.size() != 2 || !(e.get(0) instanceof Number epoch) || !(e.get(1) instanceof Number metric)) {
                throw new IllegalArgumentException("checkpoint_hist[" + i + "] must be [epoch, metric]");
            }
            kept.add(new Entry(epoch.intValue(), metric.doubleValue()));
        }
    }

    List<Entry> kept() { return List.copyOf(kept); }
}
