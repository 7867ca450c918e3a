package dev.ckptvault.commit;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.Derivation;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.checkpoint.StepListing;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.Manifest;

/**
 * The one place where a checkpoint's index rows are brought in line with storage and where a
 * checkpoint becomes COMMITTED. Reached from the commit call, from events of late shards and
 * records, from the sweep and from reindex. Each call reads the checkpoint's index row, lists the
 * checkpoint's prefix and derives everything from that listing; the row is written only if it is
 * still the version read, else the call reads and lists again. So any number of calls on any
 * number of instances converge, and an older view never replaces a newer one (docs/design.md,
 * "Index").
 */
public final class CheckpointSync implements CheckpointIndex {
    private static final Logger LOG = Logger.getLogger(CheckpointSync.class.getName());

    private final ContainerStore store;
    private final IndexStore index;
    private final CommitLeases leases;
    private final Clock clock;
    private final Function<RunId, Duration> incompleteTtl;
    private final List<CommitListener> listeners = new CopyOnWriteArrayList<>();
    /*
     * Manifests and commit records are written once; an eTag names one version's content. Late
     * shards of a manifest-first checkpoint each sync it, so without these every shard event
     * would download the whole manifest again.
     */
    private final ByETag<Optional<Manifest>> manifests = new ByETag<>(256);
    private final ByETag<Optional<CommitRecord>> records = new ByETag<>(256);

    public CheckpointSync(ContainerStore store, IndexStore index, CommitLeases leases, Clock clock,
                          Function<RunId, Duration> incompleteTtl) {
        this.store = store;
        this.index = index;
        this.leases = leases;
        this.clock = clock;
        this.incompleteTtl = incompleteTtl;
    }

    public void addListener(CommitListener listener) {
        listeners.add(listener);
    }

    @Override
    public Checkpoint refresh(CheckpointId id) {
        awaitOpened(id);
        return sync(id, null, null).checkpoint();
    }

    @Override
    public Synced refreshListed(CheckpointId id) {
        awaitOpened(id);
        Pass p = sync(id, null, null);
        return new Synced(p.checkpoint(), p.listing().listed(), p.record(), p.rowEtag());
    }

    /**
     * Marks a step DELETING right after its caller wrote the step's tombstone, without listing the
     * prefix again: a step with a tombstone is DELETING whatever else its listing shows, so the row
     * is derived from {@code before} (this caller's sync, whose listing was made after the row it
     * left was read) plus the tombstone, and written only over the version {@code before} left. Any
     * other write since falls back to a full sync. The details (files, bytes) are those of the
     * listing before the tombstone; the sync after the deletion writes the last word.
     *
     * @return the checkpoint as now indexed
     */
    @Override
    public Checkpoint deleting(CheckpointId id, Synced before, StoredBlob tombstone) {
        if (before.rowEtag() == null || before.checkpoint() == null) {
            return refresh(id);
        }
        List<StoredBlob> listed = new ArrayList<>(before.listed());
        listed.removeIf(b -> b.name().equals(id.tombstoneBlob()));
        listed.add(tombstone);
        StepListing listing = StepListing.of(id, listed);
        Checkpoint c = Derivation.derive(listing, manifestIfDeciding(id, listing, before.record()), before.record(),
                Instant.now(clock), incompleteTtl.apply(id.run())).checkpoint();
        IndexStore.CheckpointRow row = new IndexStore.CheckpointRow(before.checkpoint(),
                before.checkpoint().files().size(), before.rowEtag());
        if (c.state() != CheckpointState.DELETING || !index.putCheckpoint(c, row, before.record())) {
            return refresh(id);
        }
        return c;
    }

    /**
     * The index rows of one checkpoint as read before a listing was made: what a write derived
     * from that listing is conditional on.
     *
     * @param row   the checkpoint row, or null when there was none
     * @param files its file rows by path (read only when the file rows are rebuilt)
     */
    record RowsSeen(IndexStore.CheckpointRow row, Map<String, IndexStore.FileRow> files) {
        RowsSeen {
            files = files == null ? Map.of() : Map.copyOf(files);
        }

        String rowEtag() {
            return row == null ? null : row.rowEtag();
        }
    }

    /**
     * Like refresh, and also rebuilds the file rows (reindex).
     *
     * @param listed the checkpoint's blobs, with metadata, from the reindex's own listing
     * @param seen   the checkpoint's rows as read before that listing was made
     */
    Checkpoint rebuild(CheckpointId id, List<StoredBlob> listed, RowsSeen seen) {
        awaitOpened(id);
        return sync(id, StepListing.of(id, listed), seen).checkpoint();
    }

    /**
     * A step's first attempt, opened beside the request that found the step empty (so that the
     * request answers after one listing, not after four round trips): writes the attempt record,
     * then the step's rows. The step held no app record ({@code WriteGate}: FRESH), so no write URL
     * for it existed and nothing under it is committable: the listing a refresh would make differs
     * from "the attempt record alone" at most by blobs written out of band, or by files of this
     * attempt written since, neither of which changes an UPLOADING row but for its activity time.
     * So the row is derived from that record and created only where none exists (never over
     * another writer's, which is at least as new); a row that exists already (an event got there
     * first, or one left from before) is brought in line by a full refresh instead.
     *
     * <p>Until this is done, this instance's own reads and syncs of the step wait for it (read your
     * writes). Should it fail or the process stop first, nothing is lost but time: the first
     * attempt starts at the epoch, so files written without the record are its files; the next
     * request of the step writes the record; the first shard's event (a shard of a step without a
     * row refreshes it) and the commit index the step from storage.
     */
    @Override
    public void opened(CheckpointId id, java.util.function.Supplier<Optional<StoredBlob>> open, Executor worker) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        pendingOpened.put(id, done);
        try {
            worker.execute(() -> {
                try {
                    open.get().ifPresent(attempt -> writeOpened(id, attempt));
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "opening the fresh step " + id + " failed; its next request, events and"
                            + " commit make up for it", e);
                } finally {
                    pendingOpened.remove(id, done);
                    done.complete(null);
                }
            });
        } catch (RuntimeException e) {
            pendingOpened.remove(id, done);
            done.complete(null);
            throw e;
        }
    }

    private void writeOpened(CheckpointId id, StoredBlob attempt) {
        Checkpoint c = Derivation.derive(StepListing.of(id, List.of(attempt)), null, null, Instant.now(clock),
                incompleteTtl.apply(id.run())).checkpoint();
        if (c.state() != CheckpointState.UPLOADING || !index.putCheckpoint(c, null, null)) {
            sync(id, null, null);
            return;
        }
        index.setOpen(id, true);
    }

    /** Fresh steps whose rows this instance is writing right now. */
    private final Map<CheckpointId, CompletableFuture<Void>> pendingOpened = new ConcurrentHashMap<>();

    /** Waits (bounded) for this instance's own write of a fresh step's rows, so reads after an uploads answer see them. */
    private void awaitOpened(CheckpointId id) {
        CompletableFuture<Void> pending = pendingOpened.get(id);
        if (pending != null) {
            try {
                pending.get(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                // Reads go on without it: the row is a view that later syncs complete.
            }
        }
    }

    /** One listing of the prefix with metadata and, where the account keeps them, current version ids. */
    private StepListing list(CheckpointId id) {
        return StepListing.of(id, store.list(id.prefix(), true, true));
    }

    @Override
    public Checkpoint inspect(CheckpointId id) {
        awaitOpened(id);
        StepListing listing = list(id);
        return Derivation.derive(listing, manifestOf(id, listing), recordOf(id, listing), Instant.now(clock),
                incompleteTtl.apply(id.run())).checkpoint();
    }

    private CommitRecord recordOf(CheckpointId id, StepListing listing) {
        return listing.commit() == null ? null
                : records.get(id.commitBlob() + listing.commit().etag(), () -> readRecord(id)).orElse(null);
    }

    /**
     * The manifest where the derivation reads it: a step with a commit record or a tombstone is
     * derived from those alone, so deleting or re-checking a large committed checkpoint does not
     * download and parse its manifest.
     */
    private Optional<Manifest> manifestIfDeciding(CheckpointId id, StepListing listing, CommitRecord record) {
        return record == null && listing.tombstone() == null ? manifestOf(id, listing) : null;
    }

    /** @return null when no manifest blob exists; empty when it exists but is invalid */
    private Optional<Manifest> manifestOf(CheckpointId id, StepListing listing) {
        return listing.manifest() == null ? null
                : manifests.get(id.manifestBlob() + listing.manifest().etag(), () -> store.download(id.manifestBlob())
                        .flatMap(b -> Manifest.parseStored(b, id.step().value())));
    }

    /** What one pass of a sync did: its rows written, or a newer writer got there first. */
    private record Pass(Checkpoint checkpoint, boolean written, boolean createdRecord, RowsSeen current,
                        StepListing listing, CommitRecord record, String rowEtag) {
        Pass(Checkpoint checkpoint, boolean written, boolean createdRecord, RowsSeen current, StepListing listing,
             CommitRecord record) {
            this(checkpoint, written, createdRecord, current, listing, record, null);
        }
    }

    /**
     * Reads the rows, lists, derives, writes conditionally on the rows read; when another writer
     * changed the rows in between, its view may be older or newer than this one, so this goes
     * again with the rows as they are now and a fresh listing.
     *
     * @param given a listing made elsewhere (reindex) and the rows read before it; null: read and list here
     */
    private Pass sync(CheckpointId id, StepListing given, RowsSeen seenBeforeGiven) {
        boolean rebuildFiles = given != null;
        StepListing listing = given;
        RowsSeen seen = seenBeforeGiven;
        boolean createdRecord = false;
        for (int attempt = 1; ; attempt++) {
            if (seen == null) {
                // Read before listing: the write below is conditional on exactly this version.
                seen = new RowsSeen(index.checkpoint(id).orElse(null), rebuildFiles ? filesByPath(id) : Map.of());
            }
            boolean fresh = listing == null;
            if (fresh) {
                listing = list(id);
            }
            Pass pass = pass(id, listing, fresh, seen, rebuildFiles);
            createdRecord |= pass.createdRecord();
            if (pass.written()) {
                Checkpoint c = pass.checkpoint();
                if (createdRecord && c != null && c.state() == CheckpointState.COMMITTED) {
                    notifyCommitted(c);
                }
                return pass;
            }
            if (attempt >= SYNC_ATTEMPTS) {
                throw new StorageUnavailableException("the index rows of " + id + " kept changing while syncing it;"
                        + " a later sync brings them in line", null);
            }
            seen = pass.current();
            listing = null;
        }
    }

    private static final int SYNC_ATTEMPTS = 8;

    private Map<String, IndexStore.FileRow> filesByPath(CheckpointId id) {
        Map<String, IndexStore.FileRow> out = new java.util.TreeMap<>();
        index.files(id).forEach(f -> out.put(f.path(), f));
        return out;
    }

    /** @param fresh whether {@code listing} was made by this call, after {@code seen} was read */
    private Pass pass(CheckpointId id, StepListing listing, boolean fresh, RowsSeen seen, boolean rebuildFiles) {
        if (listing.isEmpty()) {
            index.setOpen(id, false);
            return new Pass(seen.row() == null ? null : seen.row().summary(), true, false, null, listing, null);
        }
        CommitRecord record = recordOf(id, listing);
        Optional<Manifest> manifest = manifestIfDeciding(id, listing, record);
        Instant now = Instant.now(clock);
        Derivation.Result derived = Derivation.derive(listing, manifest, record, now, incompleteTtl.apply(id.run()));
        if (derived.ready() && listing.tombstone() == null && !fresh) {
            // A listing made before this call (reindex lists a whole run first, without version ids)
            // may name versions replaced since: a commit decision is taken from a listing of its own.
            listing = list(id);
            record = recordOf(id, listing);
            manifest = manifestIfDeciding(id, listing, record);
            derived = Derivation.derive(listing, manifest, record, now, incompleteTtl.apply(id.run()));
        }
        boolean committedNow = false;
        if (derived.ready() && listing.tombstone() == null) {
            Written w = writeRecord(id, listing, manifest.orElseThrow(), now);
            record = w.record();
            committedNow = w.created();
        }
        boolean recordKnown = record != null && !committedNow && !rebuildFiles && knowsRecord(seen.row());
        if (record != null && listing.tombstone() == null) {
            // Reindex re-leases only what has no lease: taking every lease again would cost a call per file.
            boolean firstSync = committedNow || (!recordKnown && !rebuildFiles);
            boolean relisted = ensureLeased(id, listing, record, firstSync);
            if (relisted) {
                // Re-list: what the derivation calls intact is the files as they are under our leases.
                listing = list(id);
            }
            if (relisted || committedNow) {
                derived = Derivation.derive(listing, manifest, record, now, incompleteTtl.apply(id.run()));
            }
        }
        Checkpoint c = derived.checkpoint();
        if (rebuildFiles) {
            if (!index.replaceFiles(id, listing, record, seen.files())) {
                return new Pass(c, false, committedNow, null, listing, record);
            }
        } else if (record != null && !recordKnown) {
            index.markRecorded(id, record);
        }
        if (!rebuildFiles && seen.row() != null && IndexStore.sameRow(c, seen.row())) {
            // The row already says exactly this (a late event of a settled checkpoint, a re-check):
            // rewriting it would change nothing but its ETag.
            index.setOpen(id, c.state().isOpen());
            return new Pass(c, true, committedNow, null, listing, record, seen.rowEtag());
        }
        if (!index.putCheckpoint(c, seen.row(), record)) {
            Optional<IndexStore.CheckpointRow> current = index.checkpoint(id);
            // Another writer's row already says the same: nothing of this view is missing.
            if (!rebuildFiles && current.isPresent() && IndexStore.sameRow(c, current.get())) {
                return new Pass(c, true, committedNow, null, listing, record);
            }
            return new Pass(c, false, committedNow, rebuildFiles ? null : new RowsSeen(current.orElse(null), null),
                    listing, record);
        }
        index.setOpen(id, c.state().isOpen());
        return new Pass(c, true, committedNow, null, listing, record);
    }

    /** Whether the row already held the commit record's file view (written once per record). */
    private static boolean knowsRecord(IndexStore.CheckpointRow row) {
        return row != null && row.summary().committedAt() != null;
    }

    private Optional<CommitRecord> readRecord(CheckpointId id) {
        return store.download(id.commitBlob()).map(b -> Json.read(b, CommitRecord.class));
    }

    private record Written(CommitRecord record, boolean created) {
    }

    /** Writes the commit record once; when another writer won the race, theirs is the record. */
    private Written writeRecord(CheckpointId id, StepListing listing, Manifest manifest, Instant now) {
        List<CommitRecord.File> files = new ArrayList<>();
        for (Manifest.File f : manifest.files()) {
            // The version id comes from the same listing entry as the eTag and size just checked.
            StoredBlob b = listing.files().get(f.path());
            files.add(new CommitRecord.File(f.path(), b.size(), b.etag(), b.lastModified(), f.sha256(), b.versionId()));
        }
        CommitRecord record = new CommitRecord(id.run().value(), id.step().value(), now,
                UUID.randomUUID().toString(), files, manifest.metrics(), manifest.metadata(),
                UUID.randomUUID().toString());
        if (store.createIfAbsent(id.commitBlob(), Json.bytes(record),
                Map.of(CommitRecord.PINNED_METADATA, "false", CommitRecord.RECORD_ID_METADATA, record.recordId()))) {
            return new Written(record, true);
        }
        return new Written(readRecord(id).orElseThrow(
                () -> new IllegalStateException("commit record vanished: " + id)), false);
    }

    /**
     * Takes the commit's lease on the recorded files. On the first sync of a record every file is
     * leased under the record's id whatever the listing shows, since a lease seen there before the
     * commit is someone else's (a write URL may take one); later syncs only re-lease files whose
     * lease is gone, so a settled checkpoint costs no lease call.
     *
     * @return true when leases were (re)taken: the caller re-lists before deriving
     */
    private boolean ensureLeased(CheckpointId id, StepListing listing, CommitRecord record, boolean all) {
        List<String> paths = record.files().stream().map(CommitRecord.File::path)
                .filter(p -> listing.files().containsKey(p) && (all || !listing.files().get(p).leased())).toList();
        if (paths.isEmpty()) {
            return false;
        }
        Map<String, String> underLease = leases.acquire(id, paths, record.leaseId());
        for (CommitRecord.File f : record.files()) {
            String now = underLease.get(f.path());
            if (now != null && !now.equals(f.etag())) {
                // Changed between the listing and the lease: the re-listed derivation says TAMPERED.
                LOG.warning(id + ": " + f.path() + " changed before its commit lease was taken");
            }
        }
        return true;
    }

    private void notifyCommitted(Checkpoint c) {
        for (CommitListener l : listeners) {
            try {
                l.onCommitted(c);
            } catch (RuntimeException e) {
                // The commit stands; retention and event publication catch up on the next sweep.
                LOG.log(Level.WARNING, "after-commit step failed for " + c.runId() + "@" + c.step(), e);
            }
        }
    }

    // ---- reads --------------------------------------------------------------------------------

    @Override
    public Optional<Checkpoint> get(CheckpointId id) {
        awaitOpened(id);
        return index.checkpoint(id).map(row -> withFiles(id, row.summary()));
    }

    /** The checkpoint with its file list from the file rows. */
    public Checkpoint withFiles(CheckpointId id, Checkpoint c) {
        List<FileEntry> files = new ArrayList<>();
        boolean recorded = c.state() == CheckpointState.COMMITTED || c.state() == CheckpointState.TAMPERED
                || (c.committedAt() != null && c.state().isGone());
        long bytes = 0;
        List<IndexStore.FileRow> rows = index.files(id);
        if (recorded) {
            files.addAll(IndexStore.recorded(rows));
        } else {
            for (IndexStore.FileRow r : rows) {
                if (!r.deleted()) {
                    files.add(new FileEntry(r.path(), r.size(), r.etag(), null, null));
                    bytes += r.size();
                }
            }
        }
        return new Checkpoint(c.runId(), c.step(), c.state(), c.tier(), files, c.missing(), c.extra(),
                recorded ? c.bytes() : bytes, c.metrics(), c.pinned(), c.createdAt(), c.committedAt(),
                c.lastActivityAt());
    }

    @Override
    public List<Checkpoint> allOfRun(RunId run) {
        List<Checkpoint> out = new ArrayList<>();
        Long after = null;
        while (true) {
            List<IndexStore.CheckpointRow> page = index.checkpoints(run, null, after, 1000);
            page.forEach(r -> out.add(r.summary()));
            if (page.size() < 1000) {
                return out;
            }
            after = page.get(page.size() - 1).summary().step();
        }
    }

    @Override
    public List<CheckpointId> open() {
        return index.open();
    }

    /** A small LRU of parsed app records by blob name and eTag: one key names one version's content. */
    private static final class ByETag<T> {
        private final Map<String, T> entries;

        ByETag(int capacity) {
            this.entries = java.util.Collections.synchronizedMap(new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, T> eldest) {
                    return size() > capacity;
                }
            });
        }

        T get(String key, java.util.function.Supplier<T> load) {
            T cached = entries.get(key);
            if (cached != null) {
                return cached;
            }
            T loaded = load.get();
            entries.put(key, loaded);
            return loaded;
        }
    }
}
