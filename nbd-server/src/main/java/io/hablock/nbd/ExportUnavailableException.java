package io.hablock.nbd;

/** The export a client asked for cannot be served here; the message is for the client. */
public class ExportUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;

    public ExportUnavailableException(String message) {
        super(message);
    }

    public ExportUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
