package io.hablock.cluster.replication;

import io.netty.util.concurrent.ScheduledFuture;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * A client request from submission to completion; touched only on the client's event loop.
 *
 * <p>Its future completes only when both the outcome is known (reply, refusal, failure) and the
 * channel is done with the request's bytes (its write promise finished, or it was never handed to
 * the channel). So the caller may release a WRITE's buffer as soon as the future completes.
 */
final class PendingRequest<T> {
    private final InetSocketAddress peer;
    private final ReplicationRequest request;
    private final Function<ReplicationReply, T> onOk;
    private final CompletableFuture<T> future;

    private boolean sent; // handed to the channel
    private boolean writeDone; // the channel's write promise finished
    private boolean settled; // outcome known
    private T value;
    private Throwable failure;
    private ScheduledFuture<?> timeout;

    PendingRequest(
            InetSocketAddress peer,
            ReplicationRequest request,
            Function<ReplicationReply, T> onOk,
            CompletableFuture<T> future) {
        this.peer = peer;
        this.request = request;
        this.onOk = onOk;
        this.future = future;
    }

    InetSocketAddress peer() {
        return peer;
    }

    ReplicationRequest request() {
        return request;
    }

    boolean isSettled() {
        return settled;
    }

    boolean isSent() {
        return sent;
    }

    void timeout(ScheduledFuture<?> timeout) {
        this.timeout = timeout;
    }

    /** The request (with its id) goes to the channel now; it owns the payload from here. */
    void markSent() {
        sent = true;
    }

    void writeFinished() {
        writeDone = true;
        maybeComplete();
    }

    void replied(ReplicationReply reply) {
        if (reply.status() == ReplyStatus.OK) {
            T result;
            try {
                result = onOk.apply(reply);
            } catch (RuntimeException e) {
                settle(null, e);
                return;
            }
            settle(result, null);
        } else {
            settle(null, new ReplicaRefusedException(peer, reply.status().reason, reply.message()));
        }
    }

    void failed(Throwable cause) {
        settle(null, cause);
    }

    private void settle(T result, Throwable cause) {
        if (settled) {
            return;
        }
        settled = true;
        value = result;
        failure = cause;
        if (timeout != null) {
            timeout.cancel(false);
        }
        if (!sent) {
            request.payload().release(); // never given to the channel: nobody read it
        }
        maybeComplete();
    }

    private void maybeComplete() {
        if (!settled || (sent && !writeDone)) {
            return;
        }
        if (failure != null) {
            future.completeExceptionally(failure);
        } else {
            future.complete(value);
        }
    }
}
