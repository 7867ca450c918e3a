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
 * @param state     the state the checkpoint had when its deletion began
 * @param committed true when it had a commit record (a CheckpointDeleted event is owed then)
 * @param blobs     every blob name under the checkpoint's prefix when the tombstone was written
 * @param event     the CheckpointDeleted payload, saved so the event can be sent after the blobs are gone
 * @param id        a random id of this tombstone, which the CheckpointDeleted event's id derives
 *                  from; null in tombstones written before it existed
 */
public record Tombstone(String runId, long step, Instant deletedAt, String reason, CheckpointState state,
                        boolean committed, List<String> blobs, OutgoingEvent.Data event, String id) {
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
