/**
 * Test doubles for {@link io.hablock.nativeio.PosixFs}, shipped in main so other modules' tests can
 * use them.
 */
package io.hablock.nativeio.testing;
