package io.hablock.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A node's identity: 8 hex digits, made once and kept in {@code DATA_DIR/node.id}. */
final class NodeIds {
    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}");

    private NodeIds() {
    }

    static String loadOrCreate(Path dataDir) throws IOException {
        Path file = dataDir.resolve("node.id");
        if (Files.exists(file)) {
            String id = Files.readString(file, StandardCharsets.US_ASCII).strip();
            if (!ID.matcher(id).matches()) {
                throw new ClusterException(file + " is corrupt: expected 8 hex digits, found '" + id + "'");
            }
            return id;
        }
        byte[] b = new byte[4];
        new SecureRandom().nextBytes(b);
        String id = HexFormat.of().formatHex(b);
        Files.createDirectories(dataDir);
        Path tmp = dataDir.resolve("node.id.tmp");
        Files.writeString(tmp, id + "\n", StandardCharsets.US_ASCII);
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        return id;
    }
}
