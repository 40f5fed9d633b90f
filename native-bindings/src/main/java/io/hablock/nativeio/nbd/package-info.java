/**
 * Kernel NBD attach without nbd-client: the {@code nbd} generic-netlink family and the NBD ioctls
 * through jnr-ffi ({@link io.hablock.nativeio.nbd.KernelNbd}), with their encodings as pure Java
 * ({@link io.hablock.nativeio.nbd.GenlCodec}, {@link io.hablock.nativeio.nbd.NbdIoctl}).
 */
package io.hablock.nativeio.nbd;
