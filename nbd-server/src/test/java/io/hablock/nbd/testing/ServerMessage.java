package io.hablock.nbd.testing;

/** A message of the transmission phase: a simple reply or one structured reply chunk. */
public sealed interface ServerMessage permits SimpleReply, Chunk {

    long cookie();
}
