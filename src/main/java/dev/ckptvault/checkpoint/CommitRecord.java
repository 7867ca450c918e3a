package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * {runId}/step-{step}/_commit.json, written once when a checkpoint commits. Blob metadata
 * {@code pinned} ("true"/"false") on this blob is the pin, so reindex keeps pins.
 *
 * @param leaseId the infinite lease taken on every file at commit; retention releases it before
 *                deleting or cooling (never printed in answers or logs)
 */
public record CommitRecord(String runId, long step, Instant committedAt, String leaseId, List<File> files,
                           Map<String, Double> metrics, Map<String, String> metadata) {
    public static final String PINNED_METADATA = "pinned";

    public CommitRecord {
        files = List.copyOf(files);
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    /** @param sha256 as given by the manifest, or null */
    public record File(String path, long size, String etag, Instant lastModified, String sha256) {
    }

    public long bytes() {
        return files.stream().mapToLong(File::size).sum();
    }
}
