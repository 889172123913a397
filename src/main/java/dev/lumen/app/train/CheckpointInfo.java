package dev.lumen.app.train;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of a training checkpoint's JSON metadata ({@link TrainCheckpoint.Loaded#info()}):
 * a missing key or a value of the wrong kind (a hostile or hand-edited file) is a
 * {@link TrainException} naming the file and the key, never a ClassCast or NullPointer trace.
 */
final class CheckpointInfo {
    private final Path file;
    private final Map<String, Object> info;

    CheckpointInfo(Path file, Map<String, Object> info) {
        this.file = file;
        this.info = info;
    }

    private TrainException bad(String key, String want, Object got) {
        return new TrainException("--resume " + file + ": checkpoint metadata '" + key + "' must be " + want + ", got "
                + (got == null ? "nothing" : got instanceof String ? "a string" : got.getClass().getSimpleName()));
    }

    /** A whole number in [min, max]. */
    long integer(String key, long min, long max) {
        Object v = info.get(key);
        if (!(v instanceof Long n)) throw bad(key, "an integer", v);
        if (n < min || n > max) throw new TrainException("--resume " + file + ": checkpoint metadata '" + key + "' is " + n + ", outside [" + min + ", " + max + "]");
        return n;
    }

    /** A list of exactly count integers under map key. */
    long[] longs(String key, Object value, int count) {
        if (!(value instanceof List<?> l) || l.size() != count || !l.stream().allMatch(o -> o instanceof Long)) {
            throw bad(key, "a list of " + count + " integers", value);
        }
        return l.stream().mapToLong(o -> (Long) o).toArray();
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> map(String key) {
        Object v = info.get(key);
        if (!(v instanceof Map<?, ?> m)) throw bad(key, "an object", v);
        return (Map<String, Object>) m;
    }

    List<?> list(String key) {
        Object v = info.get(key);
        if (!(v instanceof List<?> l)) throw bad(key, "a list", v);
        return l;
    }

    /** A history row; a row of the wrong shape names its index. */
    EpochRecord epochRecord(int index, Object row) {
        try {
            if (!(row instanceof Map<?, ?> m)) throw new ClassCastException();
            return EpochRecord.fromMap(m);
        } catch (ClassCastException | NullPointerException e) {
            throw new TrainException("--resume " + file + ": checkpoint metadata 'history' row " + index + " is malformed");
        }
    }
}
