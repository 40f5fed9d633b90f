/**
 * Helpers for the acceptance tests: running real external commands and a real server process,
 * and mounting exports through FUSE and loop devices, always with cleanup and timeouts.
 */
package io.hablock.cli.acceptance.support;
