package io.hablock.cli.acceptance.support;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the acceptance tests whose tests share one in-process node (started once per class,
 * in a temporary data directory; a subclass's own {@code @BeforeAll} runs after it).
 */
public abstract class SharedNodeTest {
    @TempDir
    protected static Path dir;
    protected static InProcessNode node;

    @BeforeAll
    static void startNode() throws IOException {
        node = InProcessNode.start(dir.resolve("data"));
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.close();
            node = null;
        }
    }
}
