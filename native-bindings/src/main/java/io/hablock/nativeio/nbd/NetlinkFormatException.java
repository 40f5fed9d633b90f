package io.hablock.nativeio.nbd;

import java.io.IOException;

/** A netlink datagram that does not parse: truncated, or a length that overruns its container. */
public final class NetlinkFormatException extends IOException {
    public NetlinkFormatException(String message) {
        super("malformed netlink message: " + message);
    }
}
