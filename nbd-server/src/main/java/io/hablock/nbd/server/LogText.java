package io.hablock.nbd.server;

/**
 * Text a client chose, made safe for a log line: an export name such as {@code "v2\nINJECT"}
 * must not start a line of its own, nor a 4096-character name fill the log.
 */
final class LogText {
    /** Longest client-chosen text put in a log line, in characters. */
    static final int MAX = 256;

    private LogText() {
    }

    /** {@code text} in single quotes, with quotes, backslashes and control characters escaped, cut to {@link #MAX}. */
    static String quoted(String text) {
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX) + 2).append('\'');
        int n = Math.min(text.length(), MAX);
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c == '\'' || c == '\\') {
                b.append('\\').append(c);
            } else {
                appendEscaped(b, c);
            }
        }
        b.append('\'');
        if (text.length() > MAX) {
            b.append("... (").append(text.length()).append(" characters)");
        }
        return b.toString();
    }

    /** {@code text} with control characters (line breaks above all) escaped, the rest as it is. */
    static String oneLine(String text) {
        StringBuilder b = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (isControl(c) && b == null) {
                b = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            if (b != null) {
                appendEscaped(b, c);
            }
        }
        return b == null ? text : b.toString();
    }

    private static void appendEscaped(StringBuilder b, char c) {
        switch (c) {
            case '\n' -> b.append("\\n");
            case '\r' -> b.append("\\r");
            case '\t' -> b.append("\\t");
            default -> {
                if (isControl(c)) {
                    b.append(String.format("\\u%04x", (int) c));
                } else {
                    b.append(c);
                }
            }
        }
    }

    /** C0 and C1 controls, DEL, and the Unicode line and paragraph separators. */
    private static boolean isControl(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';
    }
}
