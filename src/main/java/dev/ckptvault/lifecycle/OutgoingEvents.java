package dev.ckptvault.lifecycle;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.json.Json;
import java.util.Optional;
import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.ContainerStore;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import dev.ckptvault.events.OutgoingEvent;
import dev.ckptvault.events.OutgoingEventPublisher;

/**
 * Publishes CheckpointCommitted / CheckpointDeleted and records in storage that it did: metadata
 * {@value #COMMITTED_MARK}=true on {@code _commit.json}, {@value #DELETED_MARK}=true on
 * {@code _tombstone.json}. A blob without its mark is an event still owed; the sweep finds and
 * sends it, so a failed publish, a crash or a restart loses nothing (at least once delivery).
 */
public final class OutgoingEvents {
    public static final String COMMITTED_MARK = "committedEventPublished";
    public static final String DELETED_MARK = "deletedEventPublished";
    private static final Logger LOG = Logger.getLogger(OutgoingEvents.class.getName());

    private final OutgoingEventPublisher publisher;
    private final ContainerStore store;
    private final String container;
    private final String blobServiceUrl;
    /** Marks seen in storage by this process; a mark is never removed, so caching it is safe. */
    private final Set<String> knownPublished = ConcurrentHashMap.newKeySet();

    public OutgoingEvents(OutgoingEventPublisher publisher, ContainerStore store, String container,
                          String blobServiceUrl) {
        this.publisher = publisher;
        this.store = store;
        this.container = container;
        this.blobServiceUrl = blobServiceUrl.endsWith("/") ? blobServiceUrl.substring(0, blobServiceUrl.length() - 1)
                : blobServiceUrl;
    }

    public boolean enabled() {
        return publisher.enabled();
    }

    /** The payload of a checkpoint's events (no SAS: location only). */
    public OutgoingEvent.Data data(Checkpoint c, Instant deletedAt, String reason) {
        CheckpointId id = CheckpointId.of(c.runId(), c.step());
        return new OutgoingEvent.Data(c.runId(), c.step(),
                c.files().stream().map(f -> new OutgoingEvent.File(f.path(), f.size(), f.etag(), f.sha256())).toList(),
                c.bytes(), c.metrics(), c.committedAt(), deletedAt, reason, container, id.prefix(), blobServiceUrl);
    }

    /**
     * Sends CheckpointCommitted for a COMMITTED checkpoint unless its mark says it went out. Its
     * id derives from the commit record's id (blob metadata {@value CommitRecord#RECORD_ID_METADATA},
     * read with the properties the mark needs anyway).
     *
     * @return true when the event is (now) published, false when it is still owed
     */
    public boolean committed(Checkpoint c) {
        if (!publisher.enabled()) {
            return false;
        }
        String cacheKey = cacheKey(c, OutgoingEvent.COMMITTED);
        if (knownPublished.contains(cacheKey)) {
            return true;
        }
        CheckpointId id = CheckpointId.of(c.runId(), c.step());
        Optional<String> recordId = commitRecordId(id);
        if (recordId.isEmpty()) {
            // The record is gone (deleted meanwhile): there is no commit left to announce.
            return false;
        }
        return send(id.commitBlob(), COMMITTED_MARK, cacheKey,
                OutgoingEvent.of(OutgoingEvent.COMMITTED, c.committedAt() == null ? Instant.now() : c.committedAt(),
                        data(c, null, null), recordId.get()));
    }

    /** The commit record's id: from its metadata, else (a record from before the metadata) from the record itself. */
    private Optional<String> commitRecordId(CheckpointId id) {
        Optional<Map<String, String>> metadata = store.metadata(id.commitBlob());
        if (metadata.isEmpty()) {
            return Optional.empty();
        }
        for (Map.Entry<String, String> e : metadata.get().entrySet()) {
            if (e.getKey().equalsIgnoreCase(CommitRecord.RECORD_ID_METADATA)) {
                return Optional.of(e.getValue());
            }
        }
        return store.download(id.commitBlob()).map(b -> Json.read(b, CommitRecord.class))
                .map(r -> r.recordId() != null ? r.recordId() : "committedAt/" + r.committedAt());
    }

    /** Sends CheckpointDeleted with the payload saved in the tombstone, unless its mark says it went out. */
    public boolean deleted(CheckpointId id, Tombstone tombstone) {
        OutgoingEvent.Data data = tombstone.event();
        return send(id.tombstoneBlob(), DELETED_MARK, id.tombstoneBlob() + "@" + tombstone.eventRecordId(),
                OutgoingEvent.of(OutgoingEvent.DELETED, data.deletedAt(), data, tombstone.eventRecordId()));
    }

    /**
     * Sends the CheckpointDeleted a tombstone still owes, before the tombstone is removed (a new
     * attempt at a deleted step removes it; with it would go the only record of the owed event).
     *
     * @param tombstone the tombstone as listed, with its metadata
     * @return true when nothing is owed any more (sent now, sent before, or never owed); false
     *         when the topic did not take it, and the tombstone must stay
     */
    public boolean settleDeleted(CheckpointId id, StoredBlob tombstone) {
        if (!publisher.enabled() || "true".equals(tombstone.metadataValue(DELETED_MARK))) {
            return true;
        }
        Optional<Tombstone> t = store.download(id.tombstoneBlob()).map(b -> Json.read(b, Tombstone.class));
        if (t.isEmpty() || !t.get().committed() || t.get().event() == null) {
            return true;
        }
        return deleted(id, t.get());
    }

    /** True when storage (or this process's memory of it) says the event of that record went out. */
    public boolean isMarked(String recordBlob, String mark, String cacheKey) {
        if (knownPublished.contains(cacheKey)) {
            return true;
        }
        Map<String, String> metadata = store.metadata(recordBlob).orElse(Map.of());
        if ("true".equals(metadata.get(mark))) {
            knownPublished.add(cacheKey);
            return true;
        }
        return false;
    }

    /**
     * The CheckpointCommitted events a run still owes, sent now. Only COMMITTED checkpoints: one
     * changed after its commit (TAMPERED) is not announced late.
     *
     * @param ofRun summaries of the run's checkpoints (no file lists)
     * @param index where an owed event's checkpoint is read whole, files included, before it is sent
     * @return how many were sent
     */
    public int republishCommitted(List<Checkpoint> ofRun, CheckpointIndex index) {
        if (!publisher.enabled()) {
            return 0;
        }
        int sent = 0;
        for (Checkpoint c : ofRun) {
            if (c.state() != CheckpointState.COMMITTED) {
                continue;
            }
            CheckpointId id = CheckpointId.of(c.runId(), c.step());
            if (!isMarked(id.commitBlob(), COMMITTED_MARK, cacheKey(c, OutgoingEvent.COMMITTED))
                    && committed(index.get(id).orElse(c))) {
                sent++;
            }
        }
        return sent;
    }

    /**
     * The in-process memory key of a checkpoint's event: createdAt and committedAt tell apart two
     * lives of one step (deleted, then written and committed again).
     */
    public static String cacheKey(Checkpoint c, String type) {
        return c.runId() + "@" + c.step() + "/" + type + "/" + c.createdAt() + "/" + c.committedAt();
    }

    private boolean send(String recordBlob, String mark, String cacheKey, OutgoingEvent event) {
        if (!publisher.enabled()) {
            return false;
        }
        if (knownPublished.contains(cacheKey)) {
            return true;
        }
        try {
            publisher.publish(List.of(event));
        } catch (RuntimeException e) {
            // Never a reason to fail the caller: the missing mark makes the sweep send it again.
            LOG.log(Level.WARNING, "publishing " + event.type() + " for " + event.subject() + " failed; the sweep retries: "
                    + e.getMessage());
            return false;
        }
        try {
            store.mergeMetadata(recordBlob, Map.of(mark, "true"));
            knownPublished.add(cacheKey);
        } catch (RuntimeException e) {
            // Sent but not marked: the sweep sends it again with the same id, which subscribers can drop.
            LOG.log(Level.WARNING, "marking " + recordBlob + " as published failed: " + e.getMessage());
        }
        return true;
    }
}
