package dev.ckptvault.upload;

import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * Decides from storage itself whether a step accepts writes for the given paths, and opens a new
 * attempt when the step is fresh, abandoned or deleted. One listing of the step's '_' records
 * answers the common case; the manifest is read only while a commit is pending.
 *
 * <p>The attempt record {@code _attempt.json} marks when the current attempt began: the commit
 * check never accepts a file written before it, so a crashed attempt's leftovers cannot be
 * committed into the next one.
 */
public final class WriteGate {
    private final ContainerStore store;
    private final CheckpointIndex checkpoints;
    private final Clock clock;

    /** @param checkpoints the commit side, asked which listed files a committing checkpoint still misses */
    public WriteGate(ContainerStore store, CheckpointIndex checkpoints, Clock clock) {
        this.store = store;
        this.checkpoints = checkpoints;
        this.clock = clock;
    }

    /** How a request was admitted. */
    public enum Admission {
        /** First attempt at a step that had nothing: no file can be stale. */
        FRESH,
        /** A new attempt replacing an abandoned or deleted one. */
        NEW_ATTEMPT,
        /** Joined the open attempt. */
        JOINED,
        /** Manifest written, asked only for listed files still missing. */
        COMMITTING;

        public boolean startedAttempt() {
            return this == FRESH || this == NEW_ATTEMPT;
        }
    }

    /**
     * Throws {@link ConflictException} unless every path may be written now.
     *
     * @param incompleteTtl how long an uncommitted attempt stays open after its last activity
     */
    public Admission admit(CheckpointId id, List<RelativePath> paths, Duration incompleteTtl) {
        Map<BlobName.Kind, StoredBlob> records = store.records(id);
        if (records.containsKey(BlobName.Kind.COMMIT)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_COMMITTED,
                    "checkpoint " + id.step() + " of run " + id.run() + " is committed and immutable", "step");
        }
        if (records.containsKey(BlobName.Kind.TOMBSTONE)) {
            reopenDeleted(id, records.get(BlobName.Kind.TOMBSTONE));
            startAttempt(id, null);
            return Admission.NEW_ATTEMPT;
        }
        if (records.containsKey(BlobName.Kind.MANIFEST)) {
            requireStillMissing(id, paths);
            return Admission.COMMITTING;
        }
        StoredBlob attempt = records.get(BlobName.Kind.ATTEMPT);
        if (attempt == null) {
            return startAttempt(id, null) ? Admission.FRESH : Admission.JOINED;
        }
        if (isAbandoned(id, attempt, incompleteTtl)) {
            startAttempt(id, attempt.etag());
            return Admission.NEW_ATTEMPT;
        }
        return Admission.JOINED;
    }

    private void reopenDeleted(CheckpointId id, StoredBlob tombstone) {
        boolean othersLeft = store.list(id.prefix(), false).stream()
                .anyMatch(b -> !b.name().equals(id.tombstoneBlob()));
        if (othersLeft) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " is being deleted; retry when it is DELETED",
                    "step");
        }
        // A deleted step may be written again; its tombstone would otherwise mark the new files as DELETING.
        store.deleteIfMatch(id.tombstoneBlob(), tombstone.etag());
    }

    private void requireStillMissing(CheckpointId id, List<RelativePath> paths) {
        Checkpoint now = checkpoints.inspect(id);
        if (now.state() == CheckpointState.FAILED) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " has an invalid manifest (FAILED)", "step");
        }
        Set<String> missing = new HashSet<>(now.missing());
        Set<String> listed = new HashSet<>(now.missing());
        now.files().forEach(f -> listed.add(f.path()));
        for (int i = 0; i < paths.size(); i++) {
            String path = paths.get(i).value();
            if (!missing.contains(path)) {
                throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE, listed.contains(path)
                        ? "checkpoint " + id.step() + " is committing and already has '" + path + "' as its manifest names it"
                        : "checkpoint " + id.step() + " is committing; its manifest does not list '" + path + "'",
                        "files[" + i + "].path");
            }
        }
    }

    /** Abandoned: no activity (attempt start, file written) for longer than the TTL. */
    private boolean isAbandoned(CheckpointId id, StoredBlob attempt, Duration ttl) {
        Instant cutoff = Instant.now(clock).minus(ttl);
        if (!attempt.lastModified().isBefore(cutoff)) {
            return false;
        }
        return store.list(id.prefix(), false).stream().allMatch(b -> b.lastModified().isBefore(cutoff));
    }

    /** @return false when another rank created or replaced the attempt record first (then join it) */
    private boolean startAttempt(CheckpointId id, String replacingETag) {
        byte[] record = Json.bytes(Map.of("startedAt", Instant.now(clock).toString()));
        return replacingETag == null
                ? store.createIfAbsent(id.attemptBlob(), record, Map.of())
                : store.replaceIfMatch(id.attemptBlob(), replacingETag, record, Map.of());
    }
}
