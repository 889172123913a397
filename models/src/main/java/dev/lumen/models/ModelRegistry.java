package dev.lumen.models;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Every variant of every {@link ModelFamily} on the class path, by name. Unknown names fail
 * with the closest known ones (by edit distance), so typos are quick to fix.
 */
public final class ModelRegistry {
    private ModelRegistry() {}

    /** A variant and the family that builds it. */
    public record Entry(ModelFamily family, ModelFamily.Variant variant) {
        public String name() { return variant.name(); }
    }

    private static final class Holder {
        static final Map<String, Entry> ENTRIES = discover(ServiceLoader.load(ModelFamily.class, ModelRegistry.class.getClassLoader()));
    }

    static Map<String, Entry> discover(Iterable<ModelFamily> families) {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (ModelFamily f : families) {
            for (ModelFamily.Variant v : f.variants()) {
                Entry prev = out.putIfAbsent(v.name(), new Entry(f, v));
                if (prev != null) {
                    throw new IllegalStateException("model '" + v.name() + "' is declared by two families: "
                            + prev.family().name() + " and " + f.name());
                }
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /** All model names, family by family, in declaration order. */
    public static List<String> names() { return List.copyOf(Holder.ENTRIES.keySet()); }

    public static List<Entry> entries() { return List.copyOf(Holder.ENTRIES.values()); }

    public static boolean contains(String name) { return Holder.ENTRIES.containsKey(name); }

    /** The entry for name; an unknown name is an IllegalArgumentException naming the nearest ones. */
    public static Entry entry(String name) {
        Entry e = Holder.ENTRIES.get(name);
        if (e == null) throw unknown(name, Holder.ENTRIES.keySet());
        return e;
    }

    public static ImageClassifier create(String name, ModelOptions options) {
        Entry e = entry(name);
        return e.family().create(e.name(), options);
    }

    public static ImageClassifier create(String name) { return create(name, ModelOptions.defaults()); }

    /** The options of name fitted to a checkpoint's keys ({@link ModelFamily#fitTo}). */
    public static ModelOptions fitTo(String name, java.util.Set<String> stateKeys, ModelOptions options) {
        return entry(name).family().fitTo(stateKeys, options);
    }

    static IllegalArgumentException unknown(String name, java.util.Collection<String> known) {
        List<String> near = nearest(name, known);
        String hint = near.isEmpty() ? "; `lumen models` lists them" : "; did you mean " + String.join(", ", near) + "?";
        return new IllegalArgumentException("unknown model '" + name + "'" + hint);
    }

    /**
     * Known names within edit distance best+2 of name (best: the smallest distance), closest
     * first, at most five; none when even the best is further than half the name's length.
     */
    static List<String> nearest(String name, java.util.Collection<String> known) {
        List<Map.Entry<String, Integer>> scored = new ArrayList<>();
        for (String k : known) scored.add(Map.entry(k, editDistance(name.toLowerCase(), k.toLowerCase())));
        scored.sort(Comparator.comparingInt((Map.Entry<String, Integer> e) -> e.getValue()).thenComparing(Map.Entry::getKey));
        List<String> out = new ArrayList<>();
        if (scored.isEmpty()) return out;
        int best = scored.get(0).getValue();
        if (best > Math.max(3, name.length() / 2)) return out;
        for (var e : scored) {
            if (e.getValue() > best + 2 || out.size() == 5) break;
            out.add(e.getKey());
        }
        return out;
    }

    /** Levenshtein distance: insertions, deletions and substitutions of one character. */
    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** "25.56M" -> 25.56 (millions); "3.2K" and plain counts also parse. */
    static BigDecimal parsePublished(String published) {
        if (published == null || published.isBlank()) throw new IllegalArgumentException("published parameter count is empty");
        String s = published.trim();
        char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        try {
            return switch (unit) {
                case 'M' -> new BigDecimal(s.substring(0, s.length() - 1));
                case 'K' -> new BigDecimal(s.substring(0, s.length() - 1)).movePointLeft(3);
                case 'B', 'G' -> new BigDecimal(s.substring(0, s.length() - 1)).movePointRight(3);
                default -> new BigDecimal(s).movePointLeft(6);
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("published parameter count '" + published + "' is not a number like 25.56M");
        }
    }

    /** True if count, in millions rounded half-up to the published precision, equals the published number. */
    public static boolean agreesWithPublished(long count, String published) {
        BigDecimal p = parsePublished(published);
        BigDecimal c = BigDecimal.valueOf(count).movePointLeft(6).setScale(Math.max(p.scale(), 0), RoundingMode.HALF_UP);
        return c.compareTo(p) == 0;
    }

    /** A parameter count the way papers print it: 25.56M, 296.0M, 3.20M. */
    public static String formatParams(long count) {
        return BigDecimal.valueOf(count).movePointLeft(6).setScale(2, RoundingMode.HALF_UP).toPlainString() + "M";
    }
}
