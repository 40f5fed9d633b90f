package io.hablock.cli.host;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The local addresses of a process's TCP sockets, read from {@code /proc}: how a client
 * connection is matched with the session the server published for it.
 */
public final class ProcSockets {
    private ProcSockets() {
    }

    /** {@code ip:port} ({@code [ip6]:port}) of every TCP socket process {@code pid} has open. */
    public static Set<String> localAddresses(long pid) throws IOException {
        Map<String, String> byInode = tcpSockets();
        Set<String> out = new LinkedHashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", String.valueOf(pid), "fd"))) {
            for (Path fd : fds) {
                socketInode(fd).map(byInode::get).ifPresent(out::add);
            }
        }
        return out;
    }

    /** The local address of this process's file descriptor {@code fd}, if it is a TCP socket. */
    public static Optional<String> localAddressOfFd(int fd) throws IOException {
        Optional<String> inode = socketInode(Path.of("/proc/self/fd", String.valueOf(fd)));
        return inode.isEmpty() ? Optional.empty() : Optional.ofNullable(tcpSockets().get(inode.get()));
    }

    /** Socket inode to local address, over {@code /proc/net/tcp} and {@code tcp6}. */
    private static Map<String, String> tcpSockets() throws IOException {
        Map<String, String> out = new HashMap<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(table);
            if (!Files.exists(p)) {
                continue;
            }
            List<String> lines = Files.readAllLines(p);
            for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9) {
                    out.put(f[9], address(f[1]));
                }
            }
        }
        return out;
    }

    private static Optional<String> socketInode(Path fd) {
        try {
            String target = Files.readSymbolicLink(fd).toString();
            if (target.startsWith("socket:[") && target.endsWith("]")) {
                return Optional.of(target.substring(8, target.length() - 1));
            }
        } catch (IOException e) {
            // closed meanwhile
        }
        return Optional.empty();
    }

    /**
     * {@code 0100007F:1F91} → {@code 127.0.0.1:8081}. The kernel prints the address as 32-bit
     * words in its own byte order (little-endian here), the port in plain hex.
     */
    static String address(String hex) {
        int colon = hex.indexOf(':');
        String ip = hex.substring(0, colon);
        int port = Integer.parseInt(hex.substring(colon + 1), 16);
        byte[] raw = new byte[ip.length() / 2];
        for (int word = 0; word < raw.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                int at = word * 8 + (3 - b) * 2;
                raw[word * 4 + b] = (byte) Integer.parseInt(ip.substring(at, at + 2), 16);
            }
        }
        try {
            if (raw.length == 16 && isV4Mapped(raw)) {
                raw = Arrays.copyOfRange(raw, 12, 16);
            }
            InetAddress a = InetAddress.getByAddress(raw);
            return (a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress()) + ":" + port;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an address: " + hex, e);
        }
    }

    private static boolean isV4Mapped(byte[] raw) {
        for (int i = 0; i < 10; i++) {
            if (raw[i] != 0) {
                return false;
            }
        }
        return raw[10] == (byte) 0xff && raw[11] == (byte) 0xff;
    }
}
