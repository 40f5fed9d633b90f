package io.hablock.nbd.protocol;

/** A violation of the protocol that ends the connection (the spec's "hard disconnect"). */
public final class NbdProtocolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NbdProtocolException(String message) {
        super(message, null, false, false);
    }
}
