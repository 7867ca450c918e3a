package dev.ckptvault.events;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * One event this app publishes to its custom topic (Event Grid schema). The id is derived from
 * the record the event announces (the commit record, or the tombstone), so a republished event
 * has the id of the first delivery and subscribers can drop duplicates, while a step deleted and
 * committed again, a new record, gets new ids.
 */
public record OutgoingEvent(String id, String type, String subject, Instant eventTime, Data data) {
    public static final String COMMITTED = "CheckpointCommitted";
    public static final String DELETED = "CheckpointDeleted";
    public static final String DATA_VERSION = "1.0";

    public OutgoingEvent {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(eventTime, "eventTime");
        Objects.requireNonNull(data, "data");
    }

    /**
     * The event payload: what the checkpoint holds and where, never a SAS. Downstream jobs read
     * the blobs with their own identity, or ask the API for read URLs.
     *
     * @param blobPrefix     every blob of the checkpoint starts with it (ends with '/')
     * @param blobServiceUrl the account's blob endpoint, e.g. https://acct.blob.core.windows.net
     * @param reason         why it was deleted (CheckpointDeleted only)
     */
    public record Data(String runId, long step, List<File> files, long bytes, Map<String, Double> metrics,
                       Instant committedAt, Instant deletedAt, String reason, String container, String blobPrefix,
                       String blobServiceUrl) {
        public Data {
            files = List.copyOf(files);
            metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
        }
    }

    /** @param sha256 as the manifest gave it, or null (omitted) */
    public record File(String path, long size, String etag, String sha256) {
    }

    /** @param recordId the id of the record the event announces (see {@link #idOf}) */
    public static OutgoingEvent of(String type, Instant eventTime, Data data, String recordId) {
        return new OutgoingEvent(idOf(data.runId(), data.step(), type, recordId), type,
                subjectOf(data.runId(), data.step()), eventTime, data);
    }

    /**
     * A UUID v3 of run, step, type and the announced record's id: stable for every delivery of
     * one record's event, different for the next record of the same step.
     */
    public static String idOf(String runId, long step, String type, String recordId) {
        Objects.requireNonNull(recordId, "recordId");
        return UUID.nameUUIDFromBytes((runId + "/" + step + "/" + type + "/" + recordId).getBytes(StandardCharsets.UTF_8))
                .toString();
    }

    public static String subjectOf(String runId, long step) {
        return "runs/" + runId + "/checkpoints/" + step;
    }
}
