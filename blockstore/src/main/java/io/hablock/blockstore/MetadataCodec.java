package io.hablock.blockstore;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.UUID;

/**
 * {@code volume.json} to and from {@link VolumeMetadata}. Written by hand over Jackson's tree so
 * the file format is explicit and every bad field gets its own one-line message.
 */
final class MetadataCodec {
    private static final ObjectMapper JSON = new ObjectMapper();

    private MetadataCodec() {}

    /** What {@code volume.json} holds: the volume's identity and its fencing epoch. */
    record Stored(VolumeMetadata metadata, Generation generation) {}

    static byte[] toJson(VolumeMetadata m) throws IOException {
        return toJson(m, Generation.ZERO);
    }

    /**
     * The file with {@code epoch} and {@code generation} (the sequence within the epoch) fields.
     * Readers of the same format version without them ignore them; files without them read as
     * {@link Generation#ZERO}.
     */
    static byte[] toJson(VolumeMetadata m, Generation generation) throws IOException {
        ObjectNode node = JSON.createObjectNode();
        node.put("name", m.name());
        node.put("uuid", m.uuid().toString());
        node.put("sizeBytes", m.sizeBytes());
        node.put("created", m.created().toString()); // ISO-8601, UTC
        node.put("formatVersion", m.formatVersion());
        node.put("epoch", generation.epoch());
        node.put("generation", generation.seq());
        String text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n";
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Parses and validates; the exception message is one line, fit for a warning log. */
    static VolumeMetadata fromJson(byte[] bytes) throws IOException {
        return decode(bytes).metadata();
    }

    /** Like {@link #fromJson}, with the generation ({@link Generation#ZERO} when absent). */
    static Stored decode(byte[] bytes) throws IOException {
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new IOException("not valid JSON: " + oneLine(e.getOriginalMessage()));
        }
        if (node == null || !node.isObject()) {
            throw new IOException("not a JSON object");
        }
        int format =
                field(node, "formatVersion").isInt() ? node.get("formatVersion").intValue() : -1;
        if (format != VolumeMetadata.CURRENT_FORMAT) {
            throw new IOException("unsupported formatVersion " + node.get("formatVersion"));
        }
        String name = text(node, "name");
        if (!VolumeNames.isValid(name)) {
            throw new IOException("invalid name '" + name + "'");
        }
        JsonNode size = field(node, "sizeBytes");
        String sizeProblem =
                size.canConvertToExactIntegral() && size.canConvertToLong()
                        ? VolumeNames.sizeProblem(size.longValue())
                        : "not an integer";
        if (sizeProblem != null) {
            throw new IOException("bad sizeBytes: " + sizeProblem);
        }
        long epochValue = counter(node, "epoch");
        long seqValue = counter(node, "generation");
        try {
            VolumeMetadata m =
                    new VolumeMetadata(
                            name,
                            UUID.fromString(text(node, "uuid")),
                            size.longValue(),
                            Instant.parse(text(node, "created")),
                            format);
            return new Stored(m, new Generation(epochValue, seqValue));
        } catch (IllegalArgumentException | DateTimeParseException e) {
            throw new IOException("bad uuid or created: " + oneLine(e.getMessage()));
        }
    }

    /** An optional non-negative integer field, 0 when absent. */
    private static long counter(JsonNode node, String name) throws IOException {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            return 0;
        }
        if (!value.canConvertToExactIntegral() || !value.canConvertToLong() || value.longValue() < 0) {
            throw new IOException("bad " + name + ": not a non-negative integer");
        }
        return value.longValue();
    }

    private static JsonNode field(JsonNode node, String name) throws IOException {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            throw new IOException("missing field '" + name + "'");
        }
        return value;
    }

    private static String text(JsonNode node, String name) throws IOException {
        JsonNode value = field(node, name);
        if (!value.isTextual()) {
            throw new IOException("field '" + name + "' is not a string");
        }
        return value.textValue();
    }

    private static String oneLine(String s) {
        return String.valueOf(s).replaceAll("\\s*\\R\\s*", " ");
    }
}
