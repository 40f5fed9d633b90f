package io.hablock.nbd.server;

import io.netty.channel.ChannelHandlerContext;
import java.util.List;

/**
 * What a request served in pieces ({@link StreamedWrite}, {@link StreamedRead}) needs from its
 * connection. Called on the connection's event loop only.
 */
interface PieceConnection {

    ChannelHandlerContext ctx();

    /**
     * {@code bytes} of a READ piece are about to be held: they are taken from the server's
     * {@linkplain MemoryBudget memory budget} whatever it says (a WRITE piece was admitted before
     * it was received).
     */
    void reserve(long bytes);

    /** {@code bytes} of a piece are now held: they count toward the in-flight limits. */
    void held(long bytes);

    /** {@code bytes} of a piece are no longer held: also given back to the memory budget. */
    void released(long bytes);

    /** The request is done; {@code reply} (possibly empty) is what is left to send for it. */
    void finished(List<Object> reply);

    /** Runs {@code work} on the event loop: at once when already there. */
    default void onLoop(Runnable work) {
        if (ctx().executor().inEventLoop()) {
            work.run();
        } else {
            ctx().executor().execute(work);
        }
    }
}
