package io.hablock.cli.acceptance.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The first job of fio's {@code --output-format=json} report. fio's nbd engine prints
 * {@code fio: connected to NBD server} first, so the JSON starts at the first '{'.
 */
public record FioResult(int error, long bytesWritten, long bytesRead) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static FioResult parse(String stdout) {
        int start = stdout.indexOf('{');
        if (start < 0) {
            throw new IllegalArgumentException("no JSON in fio's output");
        }
        try {
            JsonNode job = JSON.readTree(stdout.substring(start)).path("jobs").path(0);
            if (job.isMissingNode()) {
                throw new IllegalArgumentException("fio's JSON has no job");
            }
            return new FioResult(job.path("error").asInt(-1), job.path("write").path("io_bytes").asLong(),
                    job.path("read").path("io_bytes").asLong());
        } catch (IOException e) {
            throw new UncheckedIOException("fio's output is not valid JSON", e);
        }
    }
}
