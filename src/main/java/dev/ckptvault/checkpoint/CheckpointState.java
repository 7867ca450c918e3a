package dev.ckptvault.checkpoint;

/** Checkpoint states, derived from storage (docs/design.md "Checkpoint states"). Upper case in the API. */
public enum CheckpointState {
    /** Files, no manifest; last activity younger than the TTL. */
    UPLOADING,
    /** Manifest, some listed files missing or not yet in the meant version. */
    COMMITTING,
    /** Commit record, every file as recorded. */
    COMMITTED,
    /** Manifest present but invalid (only possible when written out of band). */
    FAILED,
    /** Commit record, but a file changed or vanished afterwards. */
    TAMPERED,
    /** UPLOADING or COMMITTING, last activity older than the TTL. */
    ABANDONED,
    /** Tombstone, other blobs still present. */
    DELETING,
    /** Tombstone only. */
    DELETED;

    /** States a new upload attempt may start from. */
    public boolean acceptsNewAttempt() {
        return this == UPLOADING || this == ABANDONED || this == DELETED;
    }

    /** States that end with the checkpoint's files gone or going. */
    public boolean isGone() {
        return this == DELETING || this == DELETED;
    }

    /** Still being written or committed: what the sweep and the local event watcher look at. */
    public boolean isOpen() {
        return this == UPLOADING || this == COMMITTING;
    }
}
