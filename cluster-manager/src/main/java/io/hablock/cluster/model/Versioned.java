package io.hablock.cluster.model;

/** A value read from a znode with the version to compare-and-set it against. */
public record Versioned<T>(T value, int version) {
}
