/**
 * Per-node metrics: a Dropwizard registry whose keys carry Prometheus labels
 * ({@link io.hablock.cluster.metrics.MetricName}), a block device decorator that counts and times
 * I/O per volume ({@link io.hablock.cluster.metrics.MeteredBlockDevice}), and an HTTP endpoint
 * serving it all in the Prometheus text format ({@link io.hablock.cluster.metrics.PrometheusEndpoint}).
 */
package io.hablock.cluster.metrics;
