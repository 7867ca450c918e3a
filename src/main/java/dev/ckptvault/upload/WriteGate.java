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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.logging.Level;
import java.util.logging.Logger;
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
    private static final Logger LOG = Logger.getLogger(WriteGate.class.getName());
    /** Renewals closer together than this do not write the attempt record again. */
    static final Duration ACTIVITY_GRANULARITY = Duration.ofMinutes(1);

    /** Sends what a tombstone still owes before it is removed (CheckpointDeleted). */
    public interface OwedEvents {
        /** @return false when something is still owed and could not be sent now */
        boolean settle(CheckpointId id, StoredBlob tombstone);

        OwedEvents NONE = (id, tombstone) -> true;
    }

    private final ContainerStore store;
    private final CheckpointIndex checkpoints;
    private final Clock clock;
    private final OwedEvents owed;
    /** Steps this instance marked active lately: a burst of renewals costs one conditional write. */
    private final Map<CheckpointId, Instant> marked = new ConcurrentHashMap<>();
    /** Steps this instance admitted a request of (see {@link #speculate}). */
    private final Map<CheckpointId, Boolean> known = new ConcurrentHashMap<>();
    /** Steps a request of this instance is opening speculatively right now: one speculation per step at a time. */
    private final Map<CheckpointId, Boolean> opening = new ConcurrentHashMap<>();
    private final Executor beside;

    /**
     * @param checkpoints the commit side, asked which listed files a committing checkpoint still misses
     * @param beside      runs a speculative attempt-record create while the request lists the step
     */
    public WriteGate(ContainerStore store, CheckpointIndex checkpoints, Clock clock, OwedEvents owed, Executor beside) {
        this.store = store;
        this.checkpoints = checkpoints;
        this.clock = clock;
        this.owed = owed;
        this.beside = beside;
    }

    /** Without a second thread: the speculative create runs before the listing (same outcome, one more round trip). */
    public WriteGate(ContainerStore store, CheckpointIndex checkpoints, Clock clock, OwedEvents owed) {
        this(store, checkpoints, clock, owed, Runnable::run);
    }

    public WriteGate(ContainerStore store, CheckpointIndex checkpoints, Clock clock) {
        this(store, checkpoints, clock, OwedEvents.NONE);
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
     * @param attemptStart when the attempt the request belongs to began (storage's clock), or null
     *                     when the step has no attempt record: what was written before it belongs to
     *                     an earlier attempt
     * @param opened       the attempt record as this request created it for a step that had no
     *                     record at all (FRESH), else null
     * @param first        the attempt is the step's first ({@link Attempts#FIRST}): nothing of an
     *                     earlier attempt can lie under its paths
     */
    public record Admitted(Admission admission, Instant attemptStart, StoredBlob opened, boolean first) {
        public Admitted(Admission admission, Instant attemptStart) {
            this(admission, attemptStart, null, false);
        }
    }

    /**
     * Throws {@link ConflictException} unless every path may be written now.
     *
     * @param incompleteTtl how long an uncommitted attempt stays open after its last activity
     */
    public Admitted admit(CheckpointId id, List<RelativePath> paths, Duration incompleteTtl) {
        Map<BlobName.Kind, StoredBlob> records;
        if (!known.containsKey(id) && opening.putIfAbsent(id, Boolean.TRUE) == null) {
            try {
                Speculated s = speculate(id);
                if (s.fresh() != null) {
                    remember(id);
                    return s.fresh();
                }
                records = s.records();
            } finally {
                opening.remove(id);
            }
        } else {
            records = store.records(id);
        }
        remember(id);
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
            return new Admitted(Admission.COMMITTING, attempt == null ? null : Attempts.start(attempt), null,
                    Attempts.first(attempt));
        }
        if (attempt == null) {
            if (records.isEmpty()) {
                // The step's first attempt: the write's answer says when it began, no listing needed.
                Optional<StoredBlob> created = store.create(id.attemptBlob(), attemptRecord(),
                        Map.of(Attempts.FIRST, "true"));
                if (created.isPresent()) {
                    return new Admitted(Admission.FRESH, Attempts.start(created.get()), created.get(), true);
                }
                return started(id, false, Admission.FRESH);
            }
            return started(id, startAttempt(id, null), Admission.FRESH);
        }
        if (isAbandoned(id, attempt, incompleteTtl)) {
            return started(id, startAttempt(id, attempt.etag()), Admission.NEW_ATTEMPT);
        }
        markActive(id, attempt);
        return new Admitted(Admission.JOINED, Attempts.start(attempt), null, Attempts.first(attempt));
    }

    /** What a speculative opening found: the fresh admission, or the step's records to decide from. */
    private record Speculated(Admitted fresh, Map<BlobName.Kind, StoredBlob> records) {
    }

    /**
     * The first request of this instance for a step it knows nothing of: most such steps are
     * fresh, so the attempt record is created (create-once, marked first) at the same time as the
     * step's records are listed, and a fresh step costs one round trip instead of two.
     *
     * <p>The create succeeds on any step without an attempt record, which is not always a fresh
     * one: a step committed or deleted without an attempt record left (files written out of band
     * and committed; a deletion removes the attempt record before the commit record, and DELETED
     * keeps only the tombstone). The listing tells: when it shows any other record, the record
     * just made is removed again (conditional on its eTag) before the decision is taken from the
     * listing as without speculation, and the step is synced, since a sync may have listed it in
     * between. Until then it only ever makes files look older than the attempt (never committable
     * for that), or a DELETED step look DELETING (which the sweep finishes): nothing is committed or
     * deleted because of it.
     */
    private Speculated speculate(CheckpointId id) {
        CompletableFuture<Optional<StoredBlob>> create = CompletableFuture.supplyAsync(
                () -> store.create(id.attemptBlob(), attemptRecord(), Map.of(Attempts.FIRST, "true")), beside);
        Map<BlobName.Kind, StoredBlob> records;
        try {
            records = store.records(id);
        } catch (RuntimeException e) {
            takeBack(id, join(create));
            throw e;
        }
        Optional<StoredBlob> ours = join(create);
        if (ours.isEmpty()) {
            return new Speculated(null, records);
        }
        StoredBlob mine = ours.get();
        // The listing may have been served after the create: the record just made is no earlier attempt.
        Map<BlobName.Kind, StoredBlob> others = new java.util.EnumMap<>(BlobName.Kind.class);
        records.forEach((kind, blob) -> {
            if (kind != BlobName.Kind.ATTEMPT || !mine.etag().equals(blob.etag())) {
                others.put(kind, blob);
            }
        });
        if (others.isEmpty()) {
            return new Speculated(new Admitted(Admission.FRESH, Attempts.start(mine), mine, true), null);
        }
        takeBack(id, ours);
        try {
            checkpoints.refresh(id);
        } catch (RuntimeException e) {
            // The request's answer does not depend on it; the next sync of the step puts the row right.
            LOG.log(Level.WARNING, "re-syncing " + id + " after taking back a speculative attempt record failed", e);
        }
        return new Speculated(null, others);
    }

    private void takeBack(CheckpointId id, Optional<StoredBlob> created) {
        created.ifPresent(b -> store.deleteIfMatch(id.attemptBlob(), b.etag()));
    }

    private static <T> T join(CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /** Steps this instance has seen an attempt of: no speculative create for them. */
    private void remember(CheckpointId id) {
        if (known.size() > 10_000) {
            known.clear();
        }
        known.put(id, Boolean.TRUE);
    }

    /**
     * After trying to write the attempt record: when another rank wrote it first, this request
     * joins that attempt. Either way the attempt's start is read back from storage.
     */
    private Admitted started(CheckpointId id, boolean wrote, Admission ifWrote) {
        StoredBlob now = store.records(id).get(BlobName.Kind.ATTEMPT);
        Instant start = now == null ? null : Attempts.start(now);
        return new Admitted(wrote ? ifWrote : Admission.JOINED, start, null, Attempts.first(now));
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
