package io.hablock.cluster;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The JSON of every znode: unknown fields are ignored, so newer nodes may add some. */
final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private Json() {
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static <T> T read(byte[] data, Class<T> type, String path) throws ClusterException {
        try {
            return MAPPER.readValue(data, type);
        } catch (IOException e) {
            throw new ClusterException("unreadable znode " + path + ": " + e.getMessage(), e);
        }
    }
}
