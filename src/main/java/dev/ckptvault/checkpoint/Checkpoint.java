package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint as the API, the retention planner and outgoing events see it (docs/design.md
 * "checkpoint" shape).
 *
 * @param tier           "hot" or "cool"
 * @param missing        manifest paths not (yet) present in the meant version
 * @param extra          stored files the manifest does not list
 * @param committedAt    null unless a commit record exists
 * @param lastActivityAt newest of: attempt start, file written, manifest written
 */
public record Checkpoint(String runId, long step, CheckpointState state, String tier, List<FileEntry> files,
                         List<String> missing, List<String> extra, long bytes, Map<String, Double> metrics,
                         boolean pinned, Instant createdAt, Instant committedAt, Instant lastActivityAt) {
    public Checkpoint {
        files = List.copyOf(files);
        missing = List.copyOf(missing);
        extra = List.copyOf(extra);
        metrics = Map.copyOf(metrics);
    }
}
