/**
 * TLS for NBD connections (NBD_OPT_STARTTLS): the server's mode and the PEM files both a server
 * and a forwarding client read.
 */
package io.hablock.nbd.tls;
