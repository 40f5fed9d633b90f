/**
 * Native Linux file calls the JDK lacks (fallocate, fdatasync, lseek SEEK_DATA/SEEK_HOLE) behind
 * the narrow {@link io.hablock.nativeio.PosixFs} interface, errno mapped to typed exceptions.
 */
package io.hablock.nativeio;
