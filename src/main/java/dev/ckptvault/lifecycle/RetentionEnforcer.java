package dev.ckptvault.lifecycle;

import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.BatchSubRequestException;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.logging.Logger;
import dev.ckptvault.retention.RetentionPlan;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * Carries out removals: delete (tombstone first, then the blobs with the Blob Batch API, then
 * the index) or cool (Cool tier for the files). Every step is idempotent and re-checks storage, so
 * a crash anywhere is finished by the next sweep, and a checkpoint that changed since it was
 * planned (pinned, committed, written to) is left alone.
 */
public final class RetentionEnforcer {
    private static final Logger LOG = Logger.getLogger(RetentionEnforcer.class.getName());

    public enum Outcome { DELETED, COOLED, UNCHANGED, SKIPPED }

    /** What happened to one checkpoint. */
    public record Result(long step, Outcome outcome, String detail) {
    }

    /** Points where tests inject crashes; production uses {@link #NONE}. */
    public interface Faults {
        void reached(String point, CheckpointId id);
    }

    public static final Faults NONE = (point, id) -> { };
    /** After the checkpoint was re-read and found unchanged since planning, before its tombstone is written. */
    public static final String BEFORE_TOMBSTONE = "beforeTombstone";
    /** Right after this instance wrote the tombstone, before it is settled (the pin re-checked). */
    public static final String TOMBSTONE_WRITTEN = "tombstoneWritten";
    /** The tombstone is settled; nothing is deleted yet. */
    public static final String AFTER_TOMBSTONE = "afterTombstone";
    public static final String AFTER_FILES = "afterFiles";

    private final ContainerStore store;
    private final CheckpointIndex index;
    private final OutgoingEvents events;
    private final Clock clock;
    private final Faults faults;

    public RetentionEnforcer(ContainerStore store, CheckpointIndex index, OutgoingEvents events, Clock clock,
                             Faults faults) {
        this.store = store;
        this.index = index;
        this.events = events;
        this.clock = clock;
        this.faults = faults;
    }

    /** Applies one removal the planner decided from {@code seen} (the index row it planned with). */
    public Result apply(Checkpoint seen, RetentionPlan.Removed removal) {
        CheckpointId id = CheckpointId.of(seen.runId(), seen.step());
        if (seen.state() == CheckpointState.DELETING) {
            return finish(id);
        }
        if (seen.state() == CheckpointState.COMMITTED && RetentionPolicy.Action.COOL.json().equals(removal.action())) {
            return cool(seen);
        }
        return delete(seen, removal.reason(), false);
    }

    /**
     * Deletes one checkpoint. Unless {@code force}, a checkpoint that changed since {@code seen}
     * was read, or got pinned meanwhile, is left alone.
     *
     * <p>One listing of the prefix serves the whole deletion: it re-checks the plan against storage
     * (a sync), names the blobs in the tombstone, and, once the tombstone is settled, says which
     * files to delete. What was written after it (only a write URL issued before the tombstone
     * can) is found by the listing after the files went, which then holds little more than the
     * app's records.
     */
    public Result delete(Checkpoint seen, String reason, boolean force) {
        CheckpointId id = CheckpointId.of(seen.runId(), seen.step());
        CheckpointIndex.Synced synced = index.refreshListed(id);
        if (names(synced.listed()).contains(id.tombstoneBlob())) {
            // Already being deleted (by this instance before a crash, or another): finish it.
            return finish(id, force, synced, null);
        }
        Checkpoint fresh = synced.checkpoint();
        if (fresh == null) {
            return new Result(seen.step(), Outcome.SKIPPED, "nothing of it is stored any more");
        }
        if (!force && !sameAsPlanned(seen, fresh)) {
            return new Result(seen.step(), Outcome.SKIPPED, "changed since it was planned (now " + fresh.state()
                    + (fresh.pinned() ? ", pinned" : "") + "); the next sweep plans again");
        }
        List<String> blobs = names(synced.listed());
        boolean hadCommit = blobs.contains(id.commitBlob());
        Instant now = Instant.now(clock);
        Tombstone t = new Tombstone(id.run().value(), id.step().value(), now, reason, fresh.state(), hadCommit, blobs,
                hadCommit ? events.data(fresh, now, reason) : null);
        faults.reached(BEFORE_TOMBSTONE, id);
        // A forced deletion overrides pins and needs no re-check: its tombstone is settled from the start.
        Optional<StoredBlob> written = store.create(id.tombstoneBlob(), Json.bytes(t),
                Map.of(Tombstone.SETTLED_METADATA, Boolean.toString(force)));
        if (written.isEmpty()) {
            // Another instance wrote one first: carry out that one, from a listing of its own.
            return finish(id, force, null, null);
        }
        faults.reached(TOMBSTONE_WRITTEN, id);
        return finish(id, force, synced, new Written(t, written.get()));
    }

    private static List<String> names(List<StoredBlob> blobs) {
        return blobs.stream().map(StoredBlob::name).toList();
    }

    /** The tombstone this call wrote, as written: no need to read it back. */
    private record Written(Tombstone tombstone, StoredBlob blob) {
    }

    /** A tombstone that may be carried out, or why there is none to carry out. */
    private record Settled(Tombstone tombstone, String notDeleted) {
    }

    /**
     * Settles the tombstone, or undoes it when a pin or a commit raced in. The re-read of the pin
     * happens after the tombstone exists, and pinning checks for a tombstone after writing the
     * pin, so one side always sees the other. Settling and undoing are both conditional on the
     * unsettled version: once one instance settled, no one undoes (and the reverse), so a pin
     * acknowledged before the tombstone is seen by whoever settles, whichever instance that is.
     *
     * @param written the tombstone as this call wrote it, or null: it is read
     */
    private Settled settle(CheckpointId id, boolean force, Written written) {
        for (int attempt = 0; attempt < 8; attempt++) {
            Tombstone t;
            String etag;
            Map<String, String> metadata;
            if (attempt == 0 && written != null) {
                t = written.tombstone();
                etag = written.blob().etag();
                metadata = written.blob().metadata();
            } else {
                Optional<ContainerStore.Content> read = store.read(id.tombstoneBlob());
                if (read.isEmpty()) {
                    return new Settled(null, "no tombstone: nothing to finish");
                }
                t = Json.read(read.get().data(), Tombstone.class);
                etag = read.get().etag();
                metadata = read.get().metadata();
            }
            if ("true".equals(metadata.get(Tombstone.SETTLED_METADATA))) {
                return new Settled(t, null);
            }
            Optional<String> abort = force ? Optional.empty() : changedUnderTombstone(id, t.committed());
            if (abort.isPresent()) {
                if (store.deleteIfMatch(id.tombstoneBlob(), etag)) {
                    index.refresh(id);
                    return new Settled(null, abort.get());
                }
            } else {
                Map<String, String> settled = new HashMap<>(metadata);
                settled.put(Tombstone.SETTLED_METADATA, "true");
                if (store.setMetadataIfMatch(id.tombstoneBlob(), etag, settled)) {
                    return new Settled(t, null);
                }
            }
            // Another instance settled or undid it first: look again.
        }
        throw new StorageUnavailableException("the tombstone of " + id + " kept changing; the next sweep finishes it",
                null);
    }

    private Optional<String> changedUnderTombstone(CheckpointId id, boolean hadCommit) {
        // One listing of the records, metadata included: the pin is the commit record's metadata.
        Map<BlobName.Kind, StoredBlob> records = store.records(id);
        if (!hadCommit && records.containsKey(BlobName.Kind.COMMIT)) {
            return Optional.of("committed while its deletion began; deletion undone");
        }
        StoredBlob commit = records.get(BlobName.Kind.COMMIT);
        if (hadCommit && commit != null && "true".equals(commit.metadataValue(CommitRecord.PINNED_METADATA))) {
            return Optional.of("pinned while its deletion began; deletion undone");
        }
        return Optional.empty();
    }

    /** The inputs of the plan's decision are unchanged: state, pin, commit time, last activity. */
    static boolean sameAsPlanned(Checkpoint seen, Checkpoint fresh) {
        return seen.state() == fresh.state() && seen.pinned() == fresh.pinned()
                && Objects.equals(seen.committedAt(), fresh.committedAt())
                && (seen.state() == CheckpointState.COMMITTED
                        || Objects.equals(seen.lastActivityAt(), fresh.lastActivityAt()));
    }

    /**
     * Finishes a deletion whose tombstone exists: settles it first (see {@link Tombstone}), then
     * files, then the app's records (the commit record last, as it holds the lease id), then the
     * index. Missing blobs are fine.
     */
    public Result finish(CheckpointId id) {
        return finish(id, false, null, null);
    }

    /**
     * @param before  this call's sync of the step, made before the tombstone was settled, or null
     * @param written the tombstone this call wrote after {@code before}, or null
     */
    private Result finish(CheckpointId id, boolean force, CheckpointIndex.Synced before, Written written) {
        Settled settled = settle(id, force, written);
        if (settled.tombstone() == null) {
            return new Result(id.step().value(), Outcome.SKIPPED, settled.notDeleted());
        }
        faults.reached(AFTER_TOMBSTONE, id);
        // The index says DELETING before anything goes. When this call listed the step just before
        // (its tombstone on top, or in that listing already) the mark needs no listing of its own,
        // and that listing names the files; otherwise one listing, made now, does both.
        CheckpointIndex.Synced listing = before;
        if (before == null) {
            listing = index.refreshListed(id);
        } else if (written != null) {
            index.deleting(id, before, written.blob());
        }
        List<StoredBlob> files = new ArrayList<>();
        for (StoredBlob b : listing.listed()) {
            if (!isRecord(id, b)) {
                files.add(b);
            }
        }
        String leaseId = leaseIdOf(id, listing);
        deleteAll(files, leaseId);
        faults.reached(AFTER_FILES, id);
        // Whatever was written after that listing, and the app's records.
        List<StoredBlob> left = new ArrayList<>();
        List<StoredBlob> records = new ArrayList<>();
        for (StoredBlob b : store.list(id.prefix(), false)) {
            if (!b.name().equals(id.tombstoneBlob())) {
                (isRecord(id, b) ? records : left).add(b);
            }
        }
        deleteAll(left, leaseId);
        records.sort((a, b) -> Boolean.compare(a.name().equals(id.commitBlob()), b.name().equals(id.commitBlob())));
        deleteAll(records, leaseId);
        Checkpoint after = index.refresh(id);
        if (after.state() != CheckpointState.DELETED) {
            return new Result(id.step().value(), Outcome.SKIPPED, "still " + after.state() + " after deleting; the next sweep finishes it");
        }
        Tombstone t = settled.tombstone();
        if (t.committed() && t.event() != null) {
            events.deleted(id, t);
        }
        LOG.info("deleted " + id + " (" + (files.size() + left.size() + records.size()) + " blobs): " + t.reason());
        return new Result(id.step().value(), Outcome.DELETED, t.reason());
    }

    private static boolean isRecord(CheckpointId id, StoredBlob b) {
        return b.name().substring(id.prefix().length()).startsWith("_");
    }

    /** The commit record's lease id: from the sync's record, read only when the sync had none but a record exists. */
    private String leaseIdOf(CheckpointId id, CheckpointIndex.Synced listing) {
        if (listing.leaseId() != null) {
            return listing.leaseId();
        }
        boolean hasRecord = listing.listed().stream().anyMatch(b -> b.name().equals(id.commitBlob()));
        return hasRecord ? leaseId(id).orElse(null) : null;
    }

    private Optional<String> leaseId(CheckpointId id) {
        return store.download(id.commitBlob()).flatMap(b -> {
            try {
                return Optional.ofNullable(Json.read(b, CommitRecord.class).leaseId());
            } catch (RuntimeException e) {
                return Optional.empty();
            }
        });
    }

    /** Deletes with the Blob Batch API; a blob whose lease the batch could not satisfy is unleased and deleted alone. */
    private void deleteAll(List<StoredBlob> blobs, String leaseId) {
        for (String name : store.deleteAll(targets(blobs, leaseId))) {
            store.breakLease(name);
            store.delete(name);
        }
    }

    private static List<ContainerStore.Target> targets(List<StoredBlob> blobs, String leaseId) {
        return blobs.stream().map(b -> new ContainerStore.Target(b.name(), b.leased() && leaseId != null ? leaseId : null))
                .toList();
    }

    /** Moves a COMMITTED checkpoint's files to the Cool tier, keeping their commit lease. */
    public Result cool(Checkpoint seen) {
        CheckpointId id = CheckpointId.of(seen.runId(), seen.step());
        Checkpoint fresh = index.refresh(id);
        if (!sameAsPlanned(seen, fresh)) {
            return new Result(seen.step(), Outcome.SKIPPED, "changed since it was planned; the next sweep plans again");
        }
        String leaseId = leaseId(id).orElse(null);
        List<StoredBlob> files = store.list(id.prefix(), false).stream()
                .filter(b -> !b.name().substring(id.prefix().length()).startsWith("_"))
                .filter(b -> !b.cool())
                .toList();
        if (files.isEmpty()) {
            return new Result(seen.step(), Outcome.UNCHANGED, "already cool");
        }
        List<String> refused = store.coolAll(targets(files, leaseId));
        if (!refused.isEmpty()) {
            // A lease under another id: the commit lease was replaced, so this is no longer the committed file.
            throw new BatchSubRequestException(refused.get(0), 409);
        }
        index.refresh(id);
        return new Result(seen.step(), Outcome.COOLED, files.size() + " files moved to the Cool tier");
    }
}
