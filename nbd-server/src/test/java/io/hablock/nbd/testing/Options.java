package io.hablock.nbd.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Builders for option data, laid out as doc/proto.md says. */
public final class Options {
    private Options() {
    }

    /** NBD_OPT_INFO / NBD_OPT_GO: name length, name, number of requests, requests. */
    public static byte[] infoRequest(String export, int... infoRequests) {
        return build(out -> {
            byte[] name = utf8(export);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(infoRequests.length);
            for (int info : infoRequests) {
                out.writeShort(info);
            }
        });
    }

    /** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT: export, number of queries, queries. */
    public static byte[] metaContext(String export, String... queries) {
        return build(out -> {
            byte[] name = utf8(export);
            out.writeInt(name.length);
            out.write(name);
            out.writeInt(queries.length);
            for (String query : queries) {
                byte[] q = utf8(query);
                out.writeInt(q.length);
                out.write(q);
            }
        });
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Writes fields into a byte array. */
    public interface Fields {
        void write(DataOutputStream out) throws IOException;
    }

    public static byte[] build(Fields fields) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            fields.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
