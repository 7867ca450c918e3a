package dev.ckptvault.storage;

/** A Blob Batch sub-request failed in a way no caller expects (not a lease, not transient); the sweep retries. */
public final class BatchSubRequestException extends RuntimeException {
    public BatchSubRequestException(String blobName, int status) {
        super("batch sub-request for " + blobName + " failed with status " + status);
    }
}
