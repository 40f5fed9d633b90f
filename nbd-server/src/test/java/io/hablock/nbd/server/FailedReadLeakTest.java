package io.hablock.nbd.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.hablock.nbd.testing.RawNbdClient;
import io.hablock.nbd.testing.ServerTest;
import io.hablock.nbd.testing.Wire;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Failed READs without structured replies once left their reply header unreleased (issue 14):
 * Netty's leak detector, at its strictest, watches every buffer of many failed READs, inline and
 * on the I/O workers, and must report nothing.
 */
class FailedReadLeakTest extends ServerTest {
    private final ListAppender<ILoggingEvent> leaks = new ListAppender<>();
    private final Logger detectorLog = (Logger) LoggerFactory.getLogger(ResourceLeakDetector.class);
    private ResourceLeakDetector.Level level;

    @BeforeEach
    void watchEveryBuffer() {
        level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        leaks.start();
        detectorLog.addAppender(leaks);
    }

    @AfterEach
    void restore() {
        detectorLog.detachAppender(leaks);
        ResourceLeakDetector.setLevel(level);
    }

    @Test
    void failedReadsWithSimpleRepliesLeakNothing() throws IOException {
        try (RawNbdClient client = fixture.transmission(false, false)) {
            for (int i = 0; i < 200; i++) {
                // 4 KiB reads run inline on the event loop, 1 MiB reads on the I/O workers.
                int length = i % 2 == 0 ? 4096 : 1 << 20;
                fixture.exports().failNextRead(new IOException("test: bad sector"));
                assertThat(client.read((long) i * 4096, length).error()).isEqualTo(Wire.EIO);
            }
            client.disconnect();
        }
        // Leaks are reported when a buffer is tracked after the leaked one was collected.
        for (int round = 0; round < 10 && leaks.list.isEmpty(); round++) {
            System.gc();
            for (int i = 0; i < 100; i++) {
                ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(64);
                b.release();
            }
        }
        assertThat(leaks.list).extracting(ILoggingEvent::getFormattedMessage).as("leak reports").isEmpty();
    }
}
