package io.hablock.cli;

import java.net.InetSocketAddress;

/** Parses "HOST:PORT", "[V6]:PORT", "HOST" or ":PORT" with a default for what is left out. */
public final class HostPort {
    private HostPort() {
    }

    public static InetSocketAddress parse(String text, String defaultHost, int defaultPort) {
        String s = text.strip();
        String host = defaultHost;
        int port = defaultPort;
        int colon = s.lastIndexOf(':');
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("invalid address '" + text + "': missing ']'");
            }
            host = s.substring(1, close);
            if (close + 1 < s.length()) {
                if (s.charAt(close + 1) != ':') {
                    throw new IllegalArgumentException("invalid address '" + text + "'");
                }
                port = port(text, s.substring(close + 2));
            }
        } else if (colon >= 0 && s.indexOf(':') == colon) {
            if (colon > 0) {
                host = s.substring(0, colon);
            }
            port = port(text, s.substring(colon + 1));
        } else if (!s.isEmpty()) {
            host = s;
        }
        return InetSocketAddress.createUnresolved(host, port);
    }

    /** The resolved form, for binding; a one-line error for an unknown host. */
    public static InetSocketAddress resolve(InetSocketAddress a) {
        InetSocketAddress resolved = new InetSocketAddress(a.getHostString(), a.getPort());
        if (resolved.isUnresolved()) {
            throw new IllegalArgumentException("unknown host '" + a.getHostString() + "'");
        }
        return resolved;
    }

    private static int port(String text, String digits) {
        try {
            int port = Integer.parseInt(digits);
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return port;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid port in '" + text + "': expected 0-65535");
        }
    }
}
