package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {runId}/step-{step}/_commit.json, written once when a checkpoint commits. Blob metadata
 * {@code pinned} ("true"/"false") on this blob is the pin, so reindex keeps pins.
 *
 * @param leaseId  the infinite lease taken on every file at commit; retention releases it before
 *                 deleting or cooling (never printed in answers or logs)
 * @param recordId a random id of this record, which outgoing events derive their ids from (a step
 *                 deleted and committed again has a new record, so new event ids); null in records
 *                 written before it existed
 */
public record CommitRecord(String runId, long step, Instant committedAt, String leaseId, List<File> files,
                           Map<String, Double> metrics, Map<String, String> metadata, String recordId) {
    public static final String PINNED_METADATA = "pinned";
    /** Blob metadata with {@link #recordId}: read with the blob's properties, without downloading the record. */
    public static final String RECORD_ID_METADATA = "recordId";

    public CommitRecord {
        files = List.copyOf(files);
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    /**
     * @param sha256    as given by the manifest, or null
     * @param versionId the blob version the record means, where the account keeps versions (read
     *                  URLs address it); null without versioning
     */
    public record File(String path, long size, String etag, Instant lastModified, String sha256, String versionId) {
    }

    public long bytes() {
        return files.stream().mapToLong(File::size).sum();
    }
}
