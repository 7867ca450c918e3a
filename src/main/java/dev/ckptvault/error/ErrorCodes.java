package dev.ckptvault.error;

/** The error codes of the HTTP contract (docs/design.md). */
public final class ErrorCodes {
    public static final String INVALID_RUN_ID = "InvalidRunId";
    public static final String INVALID_STEP = "InvalidStep";
    public static final String INVALID_PATH = "InvalidPath";
    public static final String DUPLICATE_PATH = "DuplicatePath";
    public static final String TOO_MANY_FILES = "TooManyFiles";
    public static final String BODY_TOO_LARGE = "BodyTooLarge";
    public static final String INVALID_JSON = "InvalidJson";
    public static final String INVALID_REQUEST = "InvalidRequest";
    public static final String INVALID_MANIFEST = "InvalidManifest";
    public static final String MANIFEST_CONFLICT = "ManifestConflict";
    public static final String CHECKPOINT_COMMITTED = "CheckpointCommitted";
    public static final String CHECKPOINT_NOT_WRITABLE = "CheckpointNotWritable";
    public static final String NOT_FOUND = "NotFound";
    public static final String NO_COMMITTED_CHECKPOINT = "NoCommittedCheckpoint";
    public static final String ONLY_COMMITTED_CHECKPOINT = "OnlyCommittedCheckpoint";
    public static final String INVALID_POLICY = "InvalidPolicy";
    public static final String CHECKPOINT_NOT_COMMITTED = "CheckpointNotCommitted";
    public static final String CHECKPOINT_PINNED = "CheckpointPinned";
    public static final String STORAGE_UNAVAILABLE = "StorageUnavailable";
    public static final String UNAUTHENTICATED = "Unauthenticated";
    public static final String FORBIDDEN = "Forbidden";

    private ErrorCodes() {
    }
}
