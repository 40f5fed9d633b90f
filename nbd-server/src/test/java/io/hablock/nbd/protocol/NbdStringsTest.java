package io.hablock.nbd.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NbdStringsTest {

    @Test
    void shortStringsAreKeptWhole() {
        assertThat(Nbd.utf8("volume 'db1'", Nbd.MAX_STRING)).isEqualTo("volume 'db1'".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void longStringsAreCutAtACharacterBoundary() {
        // 4095 ASCII bytes then a 3-byte character: cutting at 4096 would split it.
        String s = "a".repeat(Nbd.MAX_STRING - 1) + "\u20ac" + "tail";
        byte[] cut = Nbd.utf8(s, Nbd.MAX_STRING);
        assertThat(cut).hasSize(Nbd.MAX_STRING - 1);
        assertThat(new String(cut, StandardCharsets.UTF_8)).isEqualTo("a".repeat(Nbd.MAX_STRING - 1));
    }

    @Test
    void aCutRightAfterACharacterKeepsIt() {
        String s = "a".repeat(Nbd.MAX_STRING - 3) + "\u20ac" + "b";
        byte[] cut = Nbd.utf8(s, Nbd.MAX_STRING);
        assertThat(new String(cut, StandardCharsets.UTF_8)).endsWith("\u20ac").hasSize(Nbd.MAX_STRING - 2);
    }
}
