package dev.lumen.app.dist;

import java.util.ArrayList;
import java.util.List;

/**
 * Expands SLURM's compressed host lists (SLURM_JOB_NODELIST, as `scontrol show hostnames` does):
 * "node[01-04,07],gpu-a[1-2]-x,login" -> node01 .. node04, node07, gpu-a1-x, gpu-a2-x, login.
 * A range keeps the zero padding of its lower bound, and several bracket groups in one name
 * multiply out ("r[1-2]n[1-2]" -> r1n1, r1n2, r2n1, r2n2).
 */
public final class SlurmHostList {
    /** More hosts than any cluster has: a typo such as node[1-100000000] fails instead of filling memory. */
    static final int MAX_HOSTS = 1 << 20;

    private SlurmHostList() {}

    public static List<String> expand(String list) {
        if (list == null || list.isBlank()) throw new IllegalArgumentException("empty host list");
        List<String> hosts = new ArrayList<>();
        for (String item : topLevelItems(list)) {
            if (item.isEmpty()) throw new IllegalArgumentException("empty host name in '" + list + "'");
            List<String> names = List.of("");
            int i = 0;
            while (i < item.length()) {
                int open = item.indexOf('[', i);
                if (open < 0) {
                    names = append(names, List.of(item.substring(i)));
                    break;
                }
                int close = item.indexOf(']', open);
                if (close < 0) throw new IllegalArgumentException("unclosed '[' in '" + item + "'");
                names = append(names, List.of(item.substring(i, open)));
                names = append(names, ranges(item.substring(open + 1, close), item));
                i = close + 1;
            }
            hosts.addAll(names);
            if (hosts.size() > MAX_HOSTS) throw new IllegalArgumentException("'" + list + "' names more than " + MAX_HOSTS + " hosts");
        }
        return hosts;
    }

    /** Splits at the commas outside brackets. */
    private static List<String> topLevelItems(String list) {
        List<String> items = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            if (c == '[') {
                if (++depth > 1) throw new IllegalArgumentException("nested '[' in '" + list + "'");
            } else if (c == ']') {
                if (--depth < 0) throw new IllegalArgumentException("']' without '[' in '" + list + "'");
            } else if (c == ',' && depth == 0) {
                items.add(list.substring(start, i).trim());
                start = i + 1;
            }
        }
        if (depth != 0) throw new IllegalArgumentException("unclosed '[' in '" + list + "'");
        items.add(list.substring(start).trim());
        return items;
    }

    /** "01-04,07" -> 01 02 03 04 07. */
    private static List<String> ranges(String spec, String item) {
        List<String> out = new ArrayList<>();
        for (String part : spec.split(",", -1)) {
            String p = part.trim();
            int dash = p.indexOf('-');
            String lo = dash < 0 ? p : p.substring(0, dash), hi = dash < 0 ? p : p.substring(dash + 1);
            if (!lo.matches("\\d{1,18}") || !hi.matches("\\d{1,18}")) {
                throw new IllegalArgumentException("bad range '" + p + "' in '" + item + "' (expected N or N-M)");
            }
            long a = Long.parseLong(lo), b = Long.parseLong(hi);
            if (b < a) throw new IllegalArgumentException("descending range '" + p + "' in '" + item + "'");
            if (b - a >= MAX_HOSTS) throw new IllegalArgumentException("range '" + p + "' in '" + item + "' names more than " + MAX_HOSTS + " hosts");
            for (long v = a; v <= b; v++) {
                String s = Long.toString(v);
                out.add(s.length() < lo.length() ? "0".repeat(lo.length() - s.length()) + s : s);
            }
        }
        return out;
    }

    private static List<String> append(List<String> prefixes, List<String> suffixes) {
        List<String> out = new ArrayList<>(prefixes.size() * suffixes.size());
        for (String p : prefixes) for (String s : suffixes) out.add(p + s);
        return out;
    }
}
