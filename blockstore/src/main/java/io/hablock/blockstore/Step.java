package io.hablock.blockstore;

/**
 * Points in the crash-safe create and delete sequences. Tests stop a {@link BlockStore} at each
 * one, as a crash would, and check that reopening yields exactly the old or the new state.
 */
enum Step {
    CREATE_STAGING_DIR_MADE,
    CREATE_DATA_FILE_MADE,
    METADATA_TMP_WRITTEN,
    CREATE_METADATA_WRITTEN,
    CREATE_RENAMED,
    CREATE_DONE,
    DELETE_RENAMED,
    DELETE_SYNCED,
    DELETE_DONE;

    /** Told when a step has been reached; may throw to simulate a crash there. */
    @FunctionalInterface
    interface Listener {
        Listener NONE = step -> {};

        void reached(Step step);
    }
}
