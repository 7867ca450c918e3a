package dev.ckptvault.upload;

import dev.ckptvault.checkpoint.Attempts;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * committed into the next one. A request for URLs of an open attempt is activity (a long Put Block
 * upload shows nothing in a listing until its Put Block List): it is recorded on the attempt
 * record, at most once a minute per step (see {@link Attempts}).
 */
public final class WriteGate {
    /** Renewals closer together than this do not write the attempt record again. */
    static final Duration ACTIVITY_GRANULARITY = Duration.ofMinutes(1);

    /** Sends what a tombstone still owes before it is removed (CheckpointDeleted). */
    public interface OwedEvents {
        /** @return false when something is still owed and could not be sent now */
        boolean settle(CheckpointId id, StoredBlob tombstone);
    }

    private final ContainerStore store;
    private final CheckpointIndex checkpoints;
    private final Clock clock;
    private final OwedEvents owed;
    /** Steps this instance marked active lately: a burst of renewals costs one conditional write. */
    private final Map<CheckpointId, Instant> marked = new ConcurrentHashMap<>();
    /** Fresh steps whose first attempt record a request of this instance is writing right now. */
    private final Map<CheckpointId, Boolean> opening = new ConcurrentHashMap<>();

    /** @param checkpoints the commit side, asked which listed files a committing checkpoint still misses */
    public WriteGate(ContainerStore store, CheckpointIndex checkpoints, Clock clock, OwedEvents owed) {
        this.store = store;
        this.checkpoints = checkpoints;
        this.clock = clock;
        this.owed = owed;
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
        COMMITTING
    }

    /**
     * @param attemptStart when the attempt the request belongs to began (storage's clock), or null
     *                     when the step has no attempt record: what was written before it belongs to
     *                     an earlier attempt
     * @param first        the attempt is the step's first ({@link Attempts#FIRST}): nothing of an
     *                     earlier attempt can lie under its paths
     * @param opens        this request is to write the first attempt's record
     *                     ({@link #openFirstAttempt}), after answering
     */
    public record Admitted(Admission admission, Instant attemptStart, boolean first, boolean opens) {
    }

    /**
     * Throws {@link ConflictException} unless every path may be written now.
     *
     * @param incompleteTtl how long an uncommitted attempt stays open after its last activity
     */
    public Admitted admit(CheckpointId id, List<RelativePath> paths, Duration incompleteTtl) {
        Map<BlobName.Kind, StoredBlob> records = store.records(id);
        if (records.containsKey(BlobName.Kind.COMMIT)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_COMMITTED,
                    "checkpoint " + id.step() + " of run " + id.run() + " is committed and immutable", "step");
        }
        if (records.containsKey(BlobName.Kind.TOMBSTONE)) {
            reopenDeleted(id, records.get(BlobName.Kind.TOMBSTONE));
            return started(id, startAttempt(id, null), Admission.NEW_ATTEMPT);
        }
        StoredBlob attempt = records.get(BlobName.Kind.ATTEMPT);
        if (records.containsKey(BlobName.Kind.MANIFEST)) {
            requireStillMissing(id, paths);
            markActive(id, attempt);
            return new Admitted(Admission.COMMITTING, attempt == null ? null : Attempts.start(attempt),
                    Attempts.first(attempt), false);
        }
        if (attempt == null) {
            if (records.isEmpty()) {
                // The step's first attempt. Its record need not exist before the answer: nothing of an
                // earlier attempt can lie under the step, so the attempt starts at the epoch (no file is
                // too old for it) and the record, marked first, is written beside the request (by
                // exactly one request of this instance at a time; of several instances, one create wins).
                boolean opens = opening.putIfAbsent(id, Boolean.TRUE) == null;
                return new Admitted(Admission.FRESH, Instant.EPOCH, true, opens);
            }
            return started(id, startAttempt(id, null), Admission.FRESH);
        }
        if (isAbandoned(id, attempt, incompleteTtl)) {
            return started(id, startAttempt(id, attempt.etag()), Admission.NEW_ATTEMPT);
        }
        markActive(id, attempt);
        return new Admitted(Admission.JOINED, Attempts.start(attempt), Attempts.first(attempt), false);
    }

    /**
     * Writes the record of a step's first attempt (create-once): marked first, its start the
     * epoch, as {@link #admit} answered. Called once for the request whose admission {@code opens}.
     *
     * @return the record as written, or empty when another request or instance wrote it first
     */
    public Optional<StoredBlob> openFirstAttempt(CheckpointId id) {
        try {
            return store.create(id.attemptBlob(), attemptRecord(),
                    Map.of(Attempts.FIRST, "true", Attempts.START, Instant.EPOCH.toString()));
        } finally {
            opening.remove(id);
        }
    }

    /**
     * After trying to write the attempt record: when another rank wrote it first, this request
     * joins that attempt. Either way the attempt's start is read back from storage.
     */
    private Admitted started(CheckpointId id, boolean wrote, Admission ifWrote) {
        StoredBlob now = store.records(id).get(BlobName.Kind.ATTEMPT);
        Instant start = now == null ? null : Attempts.start(now);
        return new Admitted(wrote ? ifWrote : Admission.JOINED, start, Attempts.first(now), false);
    }

    private void reopenDeleted(CheckpointId id, StoredBlob tombstone) {
        boolean othersLeft = store.list(id.prefix(), false).stream()
                .anyMatch(b -> !b.name().equals(id.tombstoneBlob()));
        if (othersLeft) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " is being deleted; retry when it is DELETED",
                    "step");
        }
        // The tombstone is the only record of a CheckpointDeleted still owed: it goes out first.
        if (!owed.settle(id, tombstone)) {
            throw new StorageUnavailableException("checkpoint " + id.step() + " of run " + id.run()
                    + " was deleted and its CheckpointDeleted event is not sent yet (event topic unavailable); retry", null);
        }
        // A deleted step may be written again; its tombstone would otherwise mark the new files as
        // DELETING. Settling may have marked it (a new eTag): the version to remove is read again.
        StoredBlob current = store.records(id).get(BlobName.Kind.TOMBSTONE);
        if (current != null && !store.deleteIfMatch(id.tombstoneBlob(), current.etag())
                && store.records(id).containsKey(BlobName.Kind.TOMBSTONE)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE, "checkpoint " + id.step() + " of run "
                    + id.run() + " changed while a new attempt was being opened; retry", "step");
        }
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

    /** Abandoned: no activity (attempt start, renewal, file written) for longer than the TTL. */
    private boolean isAbandoned(CheckpointId id, StoredBlob attempt, Duration ttl) {
        Instant cutoff = Instant.now(clock).minus(ttl);
        if (!Attempts.lastActive(attempt).isBefore(cutoff)) {
            return false;
        }
        return store.list(id.prefix(), false).stream().allMatch(b -> b.lastModified().isBefore(cutoff));
    }

    /**
     * Records a URL request as activity of the open attempt: metadata on the attempt record,
     * written only when the last mark is a minute old, conditional on the version listed (of many
     * ranks asking at once, one write wins and the others change nothing), and at most once a
     * minute per step from this instance. The attempt's start moves into metadata with the first
     * mark, since the write moves the record's Last-Modified.
     */
    private void markActive(CheckpointId id, StoredBlob attempt) {
        if (attempt == null) {
            return;
        }
        Instant now = Instant.now(clock);
        Instant last = Attempts.lastActive(attempt);
        if (now.isBefore(last.plus(ACTIVITY_GRANULARITY))) {
            return;
        }
        Instant mine = marked.get(id);
        if (mine != null && now.isBefore(mine.plus(ACTIVITY_GRANULARITY))) {
            return;
        }
        if (mine == null ? marked.putIfAbsent(id, now) != null : !marked.replace(id, mine, now)) {
            return; // another request of this instance is marking it right now
        }
        if (marked.size() > 10_000) {
            marked.clear();
        }
        Map<String, String> metadata = new java.util.HashMap<>(attempt.metadata());
        metadata.keySet().removeIf(k -> k.equalsIgnoreCase(Attempts.START) || k.equalsIgnoreCase(Attempts.ACTIVE));
        metadata.put(Attempts.START, Attempts.start(attempt).toString());
        metadata.put(Attempts.ACTIVE, now.toString());
        store.setMetadataIfMatch(id.attemptBlob(), attempt.etag(), metadata);
    }

    private byte[] attemptRecord() {
        return Json.bytes(Map.of("startedAt", Instant.now(clock).toString()));
    }

    /** @return false when another rank created or replaced the attempt record first (then join it) */
    private boolean startAttempt(CheckpointId id, String replacingETag) {
        byte[] record = attemptRecord();
        return replacingETag == null
                ? store.createIfAbsent(id.attemptBlob(), record, Map.of())
                : store.replaceIfMatch(id.attemptBlob(), replacingETag, record, Map.of());
    }
}
