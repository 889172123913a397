package dev.lumen.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON that Lumen reads and writes itself (safetensors headers, run configs):
 * objects become LinkedHashMap, arrays ArrayList, numbers Long or Double. Parsing rejects
 * duplicate keys and nesting deeper than {@value #MAX_DEPTH} (serde_json's limit, which the
 * safetensors reference reader uses), so a hostile header gets an error, not a stack overflow.
 */
public final class Json {
    /** The deepest nesting of objects and arrays that parse accepts. */
    public static final int MAX_DEPTH = 128;

    private final String s;
    private int i;
    private int depth;

    private Json(String s) { this.s = s; }

    public static Object parse(String text) {
        Json p = new Json(text);
        p.ws();
        Object v = p.value();
        p.ws();
        if (p.i != text.length()) throw p.error("trailing characters");
        return v;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("bad JSON at offset " + i + ": " + what);
    }

    private void ws() {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private Object value() {
        if (i >= s.length()) throw error("unexpected end");
        char c = s.charAt(i);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': expect("true"); return Boolean.TRUE;
            case 'f': expect("false"); return Boolean.FALSE;
            case 'n': expect("null"); return null;
            default: return number();
        }
    }

    /** The character at the cursor, which must exist. */
    private char peek() {
        if (i >= s.length()) throw error("unexpected end");
        return s.charAt(i);
    }

    private char next() {
        char c = peek();
        i++;
        return c;
    }

    private void enter() {
        if (++depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
    }

    private void expect(String word) {
        if (!s.startsWith(word, i)) throw error("expected " + word);
        i += word.length();
    }

    private Map<String, Object> object() {
        Map<String, Object> m = new LinkedHashMap<>();
        enter();
        i++;
        ws();
        if (peek() == '}') { i++; depth--; return m; }
        while (true) {
            ws();
            if (peek() != '"') throw error("expected a key");
            int at = i;
            String k = string();
            ws();
            if (next() != ':') throw error("expected ':'");
            ws();
            if (m.containsKey(k)) {
                i = at;
                throw error("duplicate key \"" + k + "\"");
            }
            m.put(k, value());
            ws();
            char c = next();
            if (c == '}') { depth--; return m; }
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array() {
        List<Object> l = new ArrayList<>();
        enter();
        i++;
        ws();
        if (peek() == ']') { i++; depth--; return l; }
        while (true) {
            ws();
            l.add(value());
            ws();
            char c = next();
            if (c == ']') { depth--; return l; }
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        StringBuilder b = new StringBuilder();
        i++;
        while (true) {
            if (i >= s.length()) throw error("unterminated string");
            char c = s.charAt(i++);
            if (c == '"') return b.toString();
            if (c == '\\') {
                char e = next();
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> b.append(unicodeEscape());
                    default -> b.append(e);
                }
            } else {
                b.append(c);
            }
        }
    }

    private char unicodeEscape() {
        if (i + 4 > s.length()) throw error("truncated \\u escape");
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int d = Character.digit(s.charAt(i + k), 16);
            if (d < 0) throw error("bad \\u escape");
            v = v * 16 + d;
        }
        i += 4;
        return (char) v;
    }

    private Object number() {
        int start = i;
        while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
        String t = s.substring(start, i);
        if (t.isEmpty()) throw error("unexpected character '" + s.charAt(start) + "'");
        try {
            if (t.contains(".") || t.contains("e") || t.contains("E")) return Double.parseDouble(t);
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw error("bad number '" + t + "'");
        }
    }

    /** Serializes maps, lists, strings, numbers, booleans and null; pretty-printed when indent is true. */
    public static String write(Object v, boolean indent) {
        StringBuilder b = new StringBuilder();
        write(b, v, indent, 0);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, boolean indent, int depth) {
        if (v == null) b.append("null");
        else if (v instanceof String str) quote(b, str);
        else if (v instanceof Double d && (d.isNaN() || d.isInfinite())) b.append("null");
        else if (v instanceof Float f && (f.isNaN() || f.isInfinite())) b.append("null");
        else if (v instanceof Number || v instanceof Boolean) b.append(v);
        else if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                newline(b, indent, depth + 1);
                quote(b, String.valueOf(e.getKey()));
                b.append(indent ? ": " : ":");
                write(b, e.getValue(), indent, depth + 1);
            }
            if (!m.isEmpty()) newline(b, indent, depth);
            b.append('}');
        } else if (v instanceof Iterable<?> it) {
            b.append('[');
            boolean first = true;
            for (Object o : it) {
                if (!first) b.append(indent ? ", " : ",");
                first = false;
                write(b, o, indent, depth + 1);
            }
            b.append(']');
        } else if (v instanceof int[] a) {
            write(b, java.util.Arrays.stream(a).boxed().toList(), indent, depth);
        } else if (v instanceof long[] a) {
            write(b, java.util.Arrays.stream(a).boxed().toList(), indent, depth);
        } else if (v instanceof double[] a) {
            write(b, java.util.Arrays.stream(a).boxed().toList(), indent, depth);
        } else {
            quote(b, v.toString());
        }
    }

    private static void newline(StringBuilder b, boolean indent, int depth) {
        if (!indent) return;
        b.append('\n');
        b.append("  ".repeat(depth));
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }
}
