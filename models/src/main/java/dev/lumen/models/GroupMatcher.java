package dev.lumen.models;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * timm's group_matcher(coarse=False) and group_parameters(reverse=True): each parameter name
 * gets a sort key (the rule's group ordinal, the numbers its regex captures, the rule's
 * suffix); the sorted distinct keys number the layers from 0, except that a key ending in
 * {@link #MATCH_PREV_GROUP} joins the layer before it (a final norm joins the last block).
 * Names no rule matches (the head) sort last, in a layer of their own. Rules are tried in the
 * order given and the first match wins, as re.match in timm.
 */
public final class GroupMatcher {
    /** timm's MATCH_PREV_GROUP suffix. */
    public static final double MATCH_PREV_GROUP = 99999;

    private record Rule(int ordinal, Pattern pattern, double[] suffix) {}

    private final List<Rule> rules = new ArrayList<>();
    private int ordinal = -1;

    /** Starts the next group of timm's matcher dict ("stem", "blocks" ...): the rules added after it share its ordinal. */
    public GroupMatcher group() {
        ordinal++;
        return this;
    }

    /** A rule of the current group: regex matched at the start of a name, then suffix appended to its key. */
    public GroupMatcher rule(String regex, double... suffix) {
        if (ordinal < 0) throw new IllegalStateException("GroupMatcher: rule before the first group()");
        rules.add(new Rule(ordinal, Pattern.compile(regex), suffix));
        return this;
    }

    /** The layer id of every name, as timm's group_parameters(model, matcher, reverse=True). */
    public Map<String, Integer> layerIds(Collection<String> names) {
        TreeMap<double[], List<String>> byKey = new TreeMap<>(GroupMatcher::compareKeys);
        for (String n : names) byKey.computeIfAbsent(key(n), k -> new ArrayList<>()).add(n);
        Map<String, Integer> out = new LinkedHashMap<>();
        int lid = -1;
        for (Map.Entry<double[], List<String>> e : byKey.entrySet()) {
            double[] k = e.getKey();
            if (lid < 0 || k[k.length - 1] != MATCH_PREV_GROUP) lid++;
            for (String n : e.getValue()) out.put(n, lid);
        }
        return out;
    }

    private double[] key(String name) {
        for (Rule r : rules) {
            Matcher m = r.pattern.matcher(name);
            if (!m.lookingAt()) continue;
            double[] k = new double[1 + m.groupCount() + r.suffix.length];
            k[0] = r.ordinal;
            for (int g = 1; g <= m.groupCount(); g++) k[g] = Double.parseDouble(m.group(g));
            System.arraycopy(r.suffix, 0, k, 1 + m.groupCount(), r.suffix.length);
            return k;
        }
        return new double[] {Double.POSITIVE_INFINITY};
    }

    /** Python's tuple order: element by element, a prefix first. */
    private static int compareKeys(double[] a, double[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            int c = Double.compare(a[i], b[i]);
            if (c != 0) return c;
        }
        return Integer.compare(a.length, b.length);
    }
}
