package io.hablock.nbd.tls;

/**
 * Whether an NBD server offers TLS (NBD_OPT_STARTTLS), as nbdkit's and qemu-nbd's {@code --tls}:
 * the spec's NOTLS, SELECTIVETLS with no TLS-only export, and FORCEDTLS modes.
 */
public enum TlsMode {
    /** STARTTLS is refused (NBD_REP_ERR_UNSUP): plain connections only. */
    OFF,
    /** STARTTLS is accepted; clients that do not ask for it are served in the clear. */
    ON,
    /** Every option but STARTTLS and ABORT before TLS gets NBD_REP_ERR_TLS_REQD (EXPORT_NAME closes). */
    REQUIRE
}
