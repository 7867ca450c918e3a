package dev.ckptvault.lifecycle;

import dev.ckptvault.events.OutgoingEvent;
import dev.ckptvault.checkpoint.CheckpointState;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * {runId}/step-{step}/_tombstone.json, written (create-once) before anything of a checkpoint is
 * deleted, and kept afterwards: when, why, what. While it exists with other blobs beside it the
 * checkpoint is DELETING, and every sweep finishes the deletion.
 *
 * <p>A tombstone is written unsettled (blob metadata {@value #SETTLED_METADATA}=false). No file is
 * deleted until someone, after the tombstone was written, re-read the pin and the commit record
 * and then settled it, or undid it when a pin or a commit had raced in; both are conditional on
 * the unsettled version, so exactly one of them happens. Its writer does this, and so does any
 * instance that finds it unsettled (the writer may have stopped).
 *
 * @param state     the state the checkpoint had when its deletion began
 * @param committed true when it had a commit record (a CheckpointDeleted event is owed then)
 * @param blobs     every blob name under the checkpoint's prefix when the tombstone was written
 * @param event     the CheckpointDeleted payload, saved so the event can be sent after the blobs are gone
 * @param id        a random id of this tombstone, which the CheckpointDeleted event's id derives
 *                  from; null in tombstones written before it existed
 */
public record Tombstone(String runId, long step, Instant deletedAt, String reason, CheckpointState state,
                        boolean committed, List<String> blobs, OutgoingEvent.Data event, String id) {
    /** Blob metadata: "true" once the deletion may go on; absent (older tombstones) counts as not settled. */
    public static final String SETTLED_METADATA = "settled";

    public Tombstone {
        blobs = blobs == null ? List.of() : List.copyOf(blobs);
    }

    /** A new tombstone, with an id of its own. */
    public Tombstone(String runId, long step, Instant deletedAt, String reason, CheckpointState state,
                     boolean committed, List<String> blobs, OutgoingEvent.Data event) {
        this(runId, step, deletedAt, reason, state, committed, blobs, event, UUID.randomUUID().toString());
    }

    /** What the CheckpointDeleted event's id derives from: the id, or for an older tombstone its time. */
    public String eventRecordId() {
        return id != null ? id : "deletedAt/" + deletedAt;
    }
}
