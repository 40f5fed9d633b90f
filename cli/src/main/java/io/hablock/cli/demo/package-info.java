/**
 * {@code hablock demo}: the failover story told on a local cluster (a node killed, its volume
 * served elsewhere, the lost copy rebuilt, the node back, every byte checked).
 */
package io.hablock.cli.demo;
