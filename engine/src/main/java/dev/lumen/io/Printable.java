package dev.lumen.io;

/**
 * Text from files (class names, tensor keys, paths) made safe for a terminal or a report:
 * control characters (C0, DEL, C1) and the bidirectional overrides are escaped as
 * {@code \xNN} / {@code \}{@code uNNNN}, so an ANSI escape in a checkpoint cannot rewrite the
 * screen and a newline cannot forge an extra output line. Backslashes are doubled, so the
 * escaped text still tells every original apart.
 */
public final class Printable {
    private Printable() {}

    public static String of(Object value) {
        String s = String.valueOf(value);
        if (isClean(s)) return s;
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '\\') b.append("\\\\");
            else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) b.append(String.format("\\x%02x", (int) c));
            else if (isBidiControl(c)) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.toString();
    }

    private static boolean isClean(String s) {
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '\\' || c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || isBidiControl(c)) return false;
        }
        return true;
    }

    private static boolean isBidiControl(char c) {
        return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f;
    }
}
